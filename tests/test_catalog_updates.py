"""Signed catalog updates (TUF): publish, update over HTTP and from a bundle, and every attack
the client must refuse, each against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import hashlib
import http.server
import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from tuf.api.metadata import Metadata, Root, Targets

from banscan.catalog import installed
from banscan.catalog.loader import default_catalog_dir, load_catalog
from banscan.catalog.origin import INSTALLED
from banscan.updates import CATALOG_TARGET
from banscan.updates.bundle import make_bundle
from banscan.updates.client import UpdateRefused, metadata_dir, update
from banscan.updates.keys import KeySet, init_keys
from banscan.updates.repository import PublishError, publish

# ---- a real HTTP server ----------------------------------------------------------------------


_ENDLESS: set[str] = set()  # paths the server answers with a response that never ends


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        if self.path in _ENDLESS:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            try:
                for _ in range(100_000):  # 6.4 GB at most, should the client never stop
                    self.wfile.write(b" " * 65536)
            except (BrokenPipeError, ConnectionResetError):
                pass
            return
        super().do_GET()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """(base URL, folder it serves)."""
    root = tmp_path / "www"
    root.mkdir()

    class Handler(_Handler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(root), **kwargs)

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    _ENDLESS.clear()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/repo/", root
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(autouse=True)
def _data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test trusts and installs into a folder of its own."""
    folder = tmp_path / "data"
    monkeypatch.setenv("BANSCAN_DATA_DIR", str(folder))
    return folder


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> KeySet:
    return init_keys(tmp_path_factory.mktemp("keys") / "k")


def _catalog_copy(tmp_path: Path, version: str, *, product: str | None = None) -> Path:
    """The built-in catalog with another version (and an extra product)."""
    dst = tmp_path / f"catalog-{version}-{product or ''}"
    if dst.exists():
        return dst
    shutil.copytree(default_catalog_dir(), dst)
    meta_path = dst / "catalog.yaml"
    meta = yaml.safe_load(meta_path.read_text(encoding="utf-8"))
    meta["version"] = version
    meta_path.write_text(yaml.safe_dump(meta, allow_unicode=True), encoding="utf-8")
    if product:
        files = sorted((dst / "products").glob("*.yaml"))
        items = yaml.safe_load(files[0].read_text(encoding="utf-8"))
        extra = dict(items[0])
        extra["id"] = product
        extra["name"] = f"{product} (renamed build)"
        items.append(extra)
        files[0].write_text(yaml.safe_dump(items, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return dst


def _state() -> dict[str, bytes]:
    """Every file the client keeps: catalog and trusted metadata (to prove a refusal left them)."""
    base = installed.data_dir()
    return {str(p.relative_to(base)): p.read_bytes() for p in sorted(base.rglob("*")) if p.is_file()}


def _root_file(repo: Path) -> Path:
    return repo / "metadata" / "1.root.json"


def _refused(url: str, match: str, **kwargs: Any) -> str:
    before = _state()
    with pytest.raises(UpdateRefused, match=match) as info:
        update(url, **kwargs)
    assert _state() == before, "a refused update changed what is installed or trusted"
    message = str(info.value)
    assert "\n" not in message
    return message


# ---- the happy path -----------------------------------------------------------------------------


def test_publish_update_install_and_scan_records_it(
    tmp_path: Path, keys: KeySet, server: tuple[str, Path]
) -> None:
    url, www = server
    repo = www / "repo"
    v1 = _catalog_copy(tmp_path, "2099.1.1")
    done = publish(keys, repo, v1)
    assert done.versions == {"root": 1, "targets": 1, "snapshot": 1, "timestamp": 1}
    target = repo / "targets" / f"{done.sha256}.{CATALOG_TARGET}"
    assert hashlib.sha256(target.read_bytes()).hexdigest() == done.sha256

    got = update(url, root=_root_file(repo))
    assert got.changed and got.new.meta.version == "2099.1.1"
    catalog = load_catalog()
    assert catalog.meta.version == "2099.1.1"
    assert catalog.origin is not None and catalog.origin.source == INSTALLED and catalog.origin.verified
    assert catalog.origin.sha256 == done.sha256 and catalog.origin.repository == url

    # the result of a scan names the catalog that judged, its digest and that it was verified
    from banscan.scan import ScanOptions, run_scan

    result = run_scan(catalog, ScanOptions(as_of=dt.date(2025, 1, 15), echo_errors=False), inputs=[])
    doc = result.to_json()["catalog"]
    assert doc == {
        "version": "2099.1.1",
        "source": "installed",
        "sha256": done.sha256,
        "verified": True,
        "repository": url,
    }

    # nothing new: up to date, same file
    again = update(url)
    assert not again.changed and again.installed.sha256 == done.sha256

    # a new release: a product added
    v2 = _catalog_copy(tmp_path, "2099.2.1", product="kaspersky-test-build")
    done2 = publish(keys, repo, v2)
    assert done2.versions == {"targets": 2, "snapshot": 2, "timestamp": 2}
    got2 = update(url)
    assert got2.changed and got2.old.meta.version == "2099.1.1" and got2.new.meta.version == "2099.2.1"
    assert "kaspersky-test-build" in {p.id for p in load_catalog().products}


def test_built_in_catalog_stays_the_fallback(tmp_path: Path, keys: KeySet, server: tuple[str, Path]) -> None:
    url, www = server
    repo = www / "repo"
    old = _catalog_copy(tmp_path, "2000.1.1")  # older than the built-in one
    publish(keys, repo, old)
    update(url, root=_root_file(repo))
    assert installed.active() is not None
    catalog = load_catalog()
    assert catalog.meta.version != "2000.1.1"
    assert catalog.origin is not None and catalog.origin.source == "built-in" and not catalog.origin.verified


def test_a_changed_installed_file_is_not_used(tmp_path: Path, keys: KeySet, server: tuple[str, Path]) -> None:
    url, www = server
    repo = www / "repo"
    publish(keys, repo, _catalog_copy(tmp_path, "2099.1.1"))
    update(url, root=_root_file(repo))
    got = installed.active()
    assert got is not None
    got.path.write_bytes(got.path.read_bytes().replace(b"2099.1.1", b"2099.1.2"))
    load_catalog.__globals__["_load_installed"].cache_clear()
    assert load_catalog().origin.source == "built-in"  # type: ignore[union-attr]


# ---- what must be refused -----------------------------------------------------------------------


def test_no_trusted_root_and_a_wrong_pin_are_refused(
    tmp_path: Path, keys: KeySet, server: tuple[str, Path]
) -> None:
    url, www = server
    publish(keys, www / "repo", _catalog_copy(tmp_path, "2099.1.1"))
    _refused(url, "no trusted root yet")
    _refused(url, "not the pinned", root_sha256="0" * 64)
    digest = hashlib.sha256(_root_file(www / "repo").read_bytes()).hexdigest()
    assert update(url, root_sha256=digest).changed


def test_tampered_catalog_is_refused(tmp_path: Path, keys: KeySet, server: tuple[str, Path]) -> None:
    url, www = server
    repo = www / "repo"
    publish(keys, repo, _catalog_copy(tmp_path, "2099.1.1"))
    update(url, root=_root_file(repo))
    done = publish(keys, repo, _catalog_copy(tmp_path, "2099.2.1"))
    target = repo / "targets" / f"{done.sha256}.{CATALOG_TARGET}"
    target.write_bytes(target.read_bytes().replace(b"Kaspersky", b"Kaspersk1", 1))
    _refused(url, "length or hash does not match")
    assert load_catalog().meta.version == "2099.1.1"


def test_targets_signed_by_a_wrong_key_are_refused(
    tmp_path: Path, keys: KeySet, server: tuple[str, Path]
) -> None:
    url, www = server
    repo = www / "repo"
    publish(keys, repo, _catalog_copy(tmp_path, "2099.1.1"))
    update(url, root=_root_file(repo))
    publish(keys, repo, _catalog_copy(tmp_path, "2099.2.1"))
    intruder = init_keys(tmp_path / "intruder")
    path = repo / "metadata" / "2.targets.json"
    md = Metadata[Targets].from_bytes(path.read_bytes())
    md.signatures.clear()
    md.sign(intruder.signers["targets"][0])
    path.write_bytes(md.to_bytes())
    _refused(url, "not signed by enough trusted keys")


def test_a_root_signed_by_too_few_keys_is_refused(tmp_path: Path, server: tuple[str, Path]) -> None:
    url, www = server
    repo = www / "repo"
    two = init_keys(tmp_path / "two", root_keys=2, root_threshold=2)
    publish(two, repo, _catalog_copy(tmp_path, "2099.1.1"))
    update(url, root=_root_file(repo))
    # a new root (new timestamp key) signed by one of the two root keys only
    path = repo / "metadata" / "root.json"
    md = Metadata[Root].from_bytes(path.read_bytes())
    md.signed.version = 2
    other = init_keys(tmp_path / "other")
    for keyid in list(md.signed.roles["timestamp"].keyids):
        md.signed.revoke_key(keyid, "timestamp")
    md.signed.add_key(other.signers["timestamp"][0].public_key, "timestamp")
    md.signatures.clear()
    md.sign(two.signers["root"][0])
    (repo / "metadata" / "2.root.json").write_bytes(md.to_bytes())
    _refused(url, "not signed by enough trusted keys")


def test_rollback_is_refused(tmp_path: Path, keys: KeySet, server: tuple[str, Path]) -> None:
    url, www = server
    repo = www / "repo"
    publish(keys, repo, _catalog_copy(tmp_path, "2099.1.1"))
    publish(keys, repo, _catalog_copy(tmp_path, "2099.2.1"))
    old = tmp_path / "old-repo"
    shutil.copytree(repo, old)  # the repository as it was at version 2
    publish(keys, repo, _catalog_copy(tmp_path, "2099.3.1"))
    update(url, root=_root_file(repo))
    assert load_catalog().meta.version == "2099.3.1"
    shutil.rmtree(repo)
    shutil.copytree(old, repo)  # an attacker (or a stale mirror) serves the older repository
    _refused(url, "rolled back")
    assert load_catalog().meta.version == "2099.3.1"


def test_freeze_is_refused(tmp_path: Path, keys: KeySet, server: tuple[str, Path]) -> None:
    url, www = server
    repo = www / "repo"
    publish(keys, repo, _catalog_copy(tmp_path, "2099.1.1"))
    update(url, root=_root_file(repo))
    # signed 8 days ago: the timestamp (7 days) has expired, the snapshot (30) has not
    publish(
        keys, repo, _catalog_copy(tmp_path, "2099.2.1"), now=dt.datetime.now(dt.UTC) - dt.timedelta(days=8)
    )
    message = _refused(url, "expired metadata")
    assert "timestamp" in message
    # and an expired snapshot behind a fresh timestamp
    publish(
        keys,
        repo,
        _catalog_copy(tmp_path, "2099.3.1"),
        expiry_days={"snapshot": 1, "timestamp": 60},
        now=dt.datetime.now(dt.UTC) - dt.timedelta(days=2),
    )
    assert "snapshot" in _refused(url, "expired metadata")


def test_mix_and_match_is_refused(tmp_path: Path, keys: KeySet, server: tuple[str, Path]) -> None:
    url, www = server
    repo = www / "repo"
    publish(keys, repo, _catalog_copy(tmp_path, "2099.1.1"))
    update(url, root=_root_file(repo))
    publish(keys, repo, _catalog_copy(tmp_path, "2099.2.1"))
    # the snapshot names targets version 2; the server hands out version 1 under that name
    meta = repo / "metadata"
    (meta / "2.targets.json").write_bytes((meta / "1.targets.json").read_bytes())
    _refused(url, "not the one the snapshot names|rolled back")


def test_an_endless_response_is_cut_off(tmp_path: Path, keys: KeySet, server: tuple[str, Path]) -> None:
    url, www = server
    repo = www / "repo"
    publish(keys, repo, _catalog_copy(tmp_path, "2099.1.1"))
    update(url, root=_root_file(repo))
    _ENDLESS.add("/repo/metadata/timestamp.json")
    _refused(url, "longer than")


# ---- key rotation -------------------------------------------------------------------------------


def test_a_key_rotation_done_right_is_accepted(
    tmp_path: Path, keys: KeySet, server: tuple[str, Path]
) -> None:
    url, www = server
    repo = www / "repo"
    publish(keys, repo, _catalog_copy(tmp_path, "2099.1.1"))
    update(url, root=_root_file(repo))
    new = init_keys(tmp_path / "new-keys")
    with pytest.raises(PublishError, match="previous key set"):
        publish(new, repo, _catalog_copy(tmp_path, "2099.2.1"))
    done = publish(new, repo, _catalog_copy(tmp_path, "2099.2.1"), previous=keys)
    assert done.rotated and done.versions["root"] == 2
    got = update(url)
    assert got.changed and got.new.meta.version == "2099.2.1"
    trusted = Metadata[Root].from_bytes((metadata_dir() / "root.json").read_bytes()).signed
    assert trusted.version == 2
    assert set(trusted.roles["targets"].keyids) == {s.public_key.keyid for s in new.signers["targets"]}
    # the old targets key no longer counts
    path = repo / "metadata" / "root.json"
    publish(new, repo, _catalog_copy(tmp_path, "2099.3.1"))
    md = Metadata[Targets].from_bytes((repo / "metadata" / "3.targets.json").read_bytes())
    md.signatures.clear()
    md.sign(keys.signers["targets"][0])
    (repo / "metadata" / "3.targets.json").write_bytes(md.to_bytes())
    assert path.exists()
    _refused(url, "not signed by enough trusted keys")


def test_a_root_rotated_by_the_new_keys_alone_is_refused(
    tmp_path: Path, keys: KeySet, server: tuple[str, Path]
) -> None:
    url, www = server
    repo = www / "repo"
    publish(keys, repo, _catalog_copy(tmp_path, "2099.1.1"))
    update(url, root=_root_file(repo))
    thief = init_keys(tmp_path / "thief")
    md = Metadata[Root].from_bytes((repo / "metadata" / "root.json").read_bytes())
    md.signed.version = 2
    for role in ("root", "targets", "snapshot", "timestamp"):
        for keyid in list(md.signed.roles[role].keyids):
            md.signed.revoke_key(keyid, role)
        md.signed.add_key(thief.signers[role][0].public_key, role)
    md.signatures.clear()
    md.sign(thief.signers["root"][0])
    (repo / "metadata" / "2.root.json").write_bytes(md.to_bytes())
    _refused(url, "not signed by enough trusted keys")


# ---- air-gapped: a bundle -----------------------------------------------------------------------


def test_bundle_is_verified_as_the_network(tmp_path: Path, keys: KeySet) -> None:
    repo = tmp_path / "repo"
    publish(keys, repo, _catalog_copy(tmp_path, "2099.1.1"))
    publish(keys, repo, _catalog_copy(tmp_path, "2099.2.1"))
    bundle = tmp_path / "catalog-bundle.tar"
    names = make_bundle(repo, bundle)
    assert "metadata/1.root.json" in names and "metadata/timestamp.json" in names
    assert not any("1.targets" in n for n in names)  # only what the timestamp leads to
    got = update(None, bundle=bundle, root=_root_file(repo))
    assert got.changed and load_catalog().meta.version == "2099.2.1"
    assert installed.active().repository == f"bundle {bundle}"  # type: ignore[union-attr]

    # a bundle whose catalog was changed after signing
    publish(keys, repo, _catalog_copy(tmp_path, "2099.3.1"))
    import tarfile

    bad = tmp_path / "bad.tar"
    make_bundle(repo, bundle)
    with tarfile.open(bundle) as src, tarfile.open(bad, "w") as dst:
        for m in src.getmembers():
            data = src.extractfile(m).read()  # type: ignore[union-attr]
            if m.name.endswith(CATALOG_TARGET):
                data = data.replace(b"Kaspersky", b"Kasperskx", 1)
            dst.addfile(m, __import__("io").BytesIO(data))
    before = _state()
    with pytest.raises(UpdateRefused, match="length or hash"):
        update(None, bundle=bad)
    assert _state() == before
    with pytest.raises(UpdateRefused, match="not a readable bundle"):
        (tmp_path / "junk.tar").write_bytes(b"\x00" * 100 + b"junk")
        update(None, bundle=tmp_path / "junk.tar")


# ---- the commands -------------------------------------------------------------------------------


def test_commands(tmp_path: Path, server: tuple[str, Path]) -> None:
    from typer.testing import CliRunner

    from banscan.cli import app

    url, www = server
    runner = CliRunner()
    keydir = tmp_path / "cli-keys"
    r = runner.invoke(
        app, ["catalog", "keys", "init", str(keydir), "--root-keys", "2", "--root-threshold", "2"]
    )
    assert r.exit_code == 0, r.output
    assert oct((keydir / "root-1.pem").stat().st_mode & 0o777) == "0o600"
    repo = www / "repo"
    r = runner.invoke(
        app,
        [
            "catalog",
            "publish",
            "--keys",
            str(keydir),
            "--out",
            str(repo),
            "--catalog",
            str(_catalog_copy(tmp_path, "2099.1.1")),
        ],
    )
    assert r.exit_code == 0, r.output
    assert "published catalog 2099.1.1" in r.output
    r = runner.invoke(app, ["catalog", "update", "--repo", url])
    assert r.exit_code == 2 and "no trusted root yet" in r.output
    r = runner.invoke(app, ["catalog", "update", "--repo", url, "--root", str(_root_file(repo))])
    assert r.exit_code == 0, r.output
    assert "installed catalog 2099.1.1" in r.output
    r = runner.invoke(app, ["catalog", "status", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["in_use"]["version"] == "2099.1.1" and doc["in_use"]["verified"] is True
    assert (
        doc["trust"]["roles"]["root"]["threshold"] == 2 and len(doc["trust"]["roles"]["root"]["keyids"]) == 2
    )
    assert doc["trust"]["roles"]["timestamp"]["expired"] is False
    r = runner.invoke(app, ["catalog", "status"])
    assert r.exit_code == 0 and "installed" in r.output
    r = runner.invoke(app, ["catalog", "update"])  # the repository remembered
    assert r.exit_code == 0 and "up to date" in r.output
    r = runner.invoke(app, ["catalog", "bundle", "--repo", str(repo), "--out", str(tmp_path / "b.tar")])
    assert r.exit_code == 0, r.output


def test_diff_of_the_installed_catalog(tmp_path: Path, keys: KeySet, server: tuple[str, Path]) -> None:
    from typer.testing import CliRunner

    from banscan.cli import app

    runner = CliRunner()
    r = runner.invoke(app, ["catalog", "diff", "built-in", "installed"])
    assert r.exit_code == 2 and "no catalog is installed" in r.output
    url, www = server
    publish(keys, www / "repo", _catalog_copy(tmp_path, "2099.1.1", product="kaspersky-test-build"))
    update(url, root=_root_file(www / "repo"))
    r = runner.invoke(app, ["catalog", "diff", "built-in", "installed", "--json"])
    assert r.exit_code == 1, r.output
    doc = json.loads(r.output)
    assert doc["new_version"] == "2099.1.1"
    assert [e["id"] for e in doc["products"]["added"]] == ["kaspersky-test-build"]


def test_update_says_when_the_built_in_catalog_stays_in_use(
    tmp_path: Path, keys: KeySet, server: tuple[str, Path]
) -> None:
    from typer.testing import CliRunner

    from banscan.cli import app

    url, www = server
    publish(keys, www / "repo", _catalog_copy(tmp_path, "2000.1.1"))
    r = CliRunner().invoke(app, ["catalog", "update", "--repo", url, "--root", str(_root_file(www / "repo"))])
    assert r.exit_code == 0, r.output
    assert "installed catalog 2000.1.1" in r.output and "stays in use" in r.output
