"""The fleet server hosts a signed catalog repository (`banscan serve --catalog-repo`); its agents
update from it before each scan and report the catalog that judged them; the API and the
dashboard show the hosts judged by a catalog older than the server's current one.

Repositories are published by the tests with keys the tests make (`banscan.updates`); agents run
in-process against the app (`Fleet`) or as `agent_command` against a `banscan serve` process.
Every test with a database runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import re
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import yaml
from sqlalchemy import select
from tuf.api import exceptions as tuf_errors
from typer.testing import CliRunner

from banscan.catalog import installed
from banscan.catalog.loader import built_in_catalog, built_in_version, default_catalog_dir
from banscan.cli import app as cli_app
from banscan.cli.agent import agent_command
from banscan.server import catalog_repo
from banscan.server.agent import Agent, AgentConfig, AgentFetcher, AgentState, run_agent
from banscan.server.state import ServerSettings
from banscan.store.db import make_engine
from banscan.store.migrate import alembic_config, upgrade_db
from banscan.store.models import Report
from banscan.updates import CATALOG_TARGET
from banscan.updates.keys import KeySet, init_keys
from banscan.updates.repository import publish
from linux_root import build_linux_root

from .conftest import ENROLL_SECRET, Fleet, ServerProcess, at

T1 = "2025-03-01T10:00:00+00:00"
T2 = "2025-03-02T10:00:00+00:00"


# ---------------------------------------------------------------- fixtures


@pytest.fixture(autouse=True)
def _data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """What an agent trusts and installs goes to a folder of each test's own."""
    folder = tmp_path / "data"
    monkeypatch.setenv("BANSCAN_DATA_DIR", str(folder))
    return folder


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> KeySet:
    return init_keys(tmp_path_factory.mktemp("keys") / "k")


@pytest.fixture(scope="module")
def catalogs(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """The built-in catalog under another version (a folder per version, made once)."""
    base = tmp_path_factory.mktemp("catalogs")

    def make(version: str) -> Path:
        dst = base / version
        if not dst.exists():
            shutil.copytree(default_catalog_dir(), dst)
            meta_path = dst / "catalog.yaml"
            meta = yaml.safe_load(meta_path.read_text(encoding="utf-8"))
            meta["version"] = version
            meta_path.write_text(yaml.safe_dump(meta, allow_unicode=True), encoding="utf-8")
        return dst

    return make


@pytest.fixture(scope="module")
def linux_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_linux_root(tmp_path_factory.mktemp("root") / "root")


@pytest.fixture
def repo(tmp_path: Path, keys: KeySet, catalogs: Callable[[str], Path]) -> Path:
    folder = tmp_path / "repo"
    publish(keys, folder, catalogs("2099.1.1"))
    return folder


def _fleet(factory: Callable[..., Fleet], repo: Path | None) -> Fleet:
    """A fleet serving `repo` (None: no repository), without rate limits."""
    settings = ServerSettings(
        catalog_repo=str(repo) if repo else None,
        user_rate_limit=None,
        agent_rate_limit=None,
        anon_rate_limit=None,
    )
    return factory(settings)


def _agent_config(tmp_path: Path, root: Path, **more: Any) -> AgentConfig:
    return AgentConfig(
        server="https://testserver",
        enroll_secret=ENROLL_SECRET,
        state_dir=tmp_path / "agent",
        once=True,
        root=root,
        checkin_interval=0,
        **more,
    )


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _stored(fleet: Fleet, report_id: int) -> dict[str, Any]:
    """The body of a stored report, as the server keeps it."""
    r = fleet.client.get(f"/api/v1/reports/{report_id}", headers=fleet.as_admin())
    assert r.status_code == 200, r.text
    doc: dict[str, Any] = r.json()
    return doc


def _report_row(fleet: Fleet, report_id: int) -> tuple[Any, ...]:
    with fleet.app.state.banscan.db.reading() as s:
        row = s.execute(
            select(
                Report.catalog_version, Report.catalog_sha256, Report.catalog_source, Report.catalog_verified
            ).where(Report.id == report_id)
        ).one()
    return tuple(row)


def _rows(html: str) -> dict[int, str]:
    """The host list's rows by host id."""
    return {int(i): row for i, row in re.findall(r'<tr data-host-id="(\d+)">(.*?)</tr>', html, re.S)}


# ---------------------------------------------------------------- serving the repository


def test_the_repository_is_served_read_only_to_agents_and_users(
    fleet_factory: Callable[..., Fleet], repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fleet = _fleet(fleet_factory, repo)
    _, agent = fleet.enroll("repo-host")
    viewer = fleet.api_token("viewer")
    meta = repo / "metadata"
    target = next((repo / "targets").glob(f"*.{CATALOG_TARGET}"))

    for path, file in [
        ("/tuf/metadata/timestamp.json", meta / "timestamp.json"),
        ("/tuf/metadata/1.root.json", meta / "1.root.json"),
        ("/tuf/metadata/1.snapshot.json", meta / "1.snapshot.json"),
        ("/tuf/metadata/1.targets.json", meta / "1.targets.json"),
        (f"/tuf/targets/{target.name}", target),
    ]:
        for token in (agent, viewer):
            r = fleet.client.get(path, headers=_bearer(token))
            assert r.status_code == 200, (path, r.text)
            assert r.content == file.read_bytes()
            assert r.headers["content-type"] == "application/json"
            assert r.headers["x-content-type-options"] == "nosniff"

    # no valid credentials: refused before anything is looked up
    for headers in (
        {},
        _bearer("garbage"),
        _bearer("bsa_" + "x" * 40),
        _bearer("bst_" + "x" * 40),
        {"Authorization": "Basic YWxpY2U6eA=="},
    ):
        for path in (
            "/tuf/metadata/timestamp.json",
            "/tuf/metadata/2.root.json",
            f"/tuf/targets/{target.name}",
        ):
            r = fleet.client.get(path, headers=headers)
            assert r.status_code == 401, (path, headers, r.status_code)
            assert b"signed" not in r.content

    # what is missing is a 404: the TUF client stops walking root versions there
    for path in ("/tuf/metadata/2.root.json", "/tuf/targets/" + "0" * 64 + f".{CATALOG_TARGET}"):
        assert fleet.client.get(path, headers=_bearer(agent)).status_code == 404

    # nothing but regular files directly inside the repository's own folders
    secret = tmp_path / "secret.json"
    secret.write_text('{"secret": "outside the repository"}')
    (meta / "outside.json").symlink_to(secret)
    (meta / "sideways.json").symlink_to(target)
    (meta / "sub").mkdir()
    (meta / "sub" / "inner.json").write_text('{"inner": "a sub-folder"}')
    (meta / ".timestamp.json.partial").write_text('{"partial": "a publish in progress"}')
    if hasattr(os, "mkfifo"):
        os.mkfifo(meta / "fifo.json")
    (repo / "repo-secret.json").write_text('{"secret": "the repository folder itself"}')
    for path in (
        "/tuf/metadata/outside.json",
        "/tuf/metadata/sideways.json",
        "/tuf/metadata/sub",
        "/tuf/metadata/sub%2Finner.json",
        "/tuf/metadata/.timestamp.json.partial",
        "/tuf/metadata/fifo.json",
        "/tuf/metadata/..%2Frepo-secret.json",
        "/tuf/metadata/%2E%2E%2F%2E%2E%2Fsecret.json",
        "/tuf/metadata/..",
        "/tuf/targets/..%2Fmetadata%2Ftimestamp.json",
        "/tuf/metadata/%2Fetc%2Fpasswd",
        "/tuf/metadata/timestamp.json%00",
        "/tuf/keys/timestamp.json",
    ):
        r = fleet.client.get(path, headers=_bearer(agent))
        assert r.status_code in (400, 404), (path, r.status_code)
        assert b"secret" not in r.content and b"inner" not in r.content and b"partial" not in r.content

    # a file over the size limit is not served
    monkeypatch.setitem(catalog_repo.MAX_BYTES, "metadata", 100)
    assert fleet.client.get("/tuf/metadata/timestamp.json", headers=_bearer(agent)).status_code == 404

    # read-only: no method but GET, and the files stay as they were
    before = {p.name: p.read_bytes() for p in meta.glob("*.json") if p.is_file() and not p.is_symlink()}
    for method in ("PUT", "POST", "DELETE", "PATCH"):
        r = fleet.client.request(
            method, "/tuf/metadata/timestamp.json", headers=_bearer(agent), content=b"{}"
        )
        assert r.status_code == 405, method
    assert before == {
        p.name: p.read_bytes() for p in meta.glob("*.json") if p.is_file() and not p.is_symlink()
    }


def test_without_a_repository_the_routes_are_404_and_the_current_catalog_is_the_servers(
    fleet_factory: Callable[..., Fleet],
) -> None:
    fleet = _fleet(fleet_factory, None)
    _, agent = fleet.enroll("plain-host")
    for path in ("/tuf/metadata/timestamp.json", "/tuf/metadata/1.root.json", "/tuf/targets/x.json"):
        assert fleet.client.get(path, headers=_bearer(agent)).status_code == 404
        assert fleet.client.get(path, headers=fleet.as_admin()).status_code == 404
    info = fleet.get("/api/v1/catalog")
    assert info["source"] == "server" and info["repository"] is None
    assert info["version"] == info["judging"] == built_in_version()
    assert info["sha256"] and len(info["sha256"]) == 64
    assert "/tuf/metadata/{name}" not in fleet.client.get("/openapi.json").json()["paths"]


def test_the_current_catalog_is_what_the_repository_offers(
    fleet_factory: Callable[..., Fleet], repo: Path, keys: KeySet, catalogs: Callable[[str], Path]
) -> None:
    fleet = _fleet(fleet_factory, repo)
    first = fleet.get("/api/v1/catalog")
    target = next((repo / "targets").glob(f"*.{CATALOG_TARGET}"))
    assert first["version"] == "2099.1.1" and first["source"] == "repository"
    assert first["sha256"] == target.name.split(".")[0]
    assert first["repository"]["path"] == "/tuf/" and first["repository"]["targets_version"] == 1
    assert first["repository"]["problem"] is None
    assert first["judging"] == "2099.1.1"  # newer than the server's own, so it judges too

    # a new publish is seen without a restart
    done = publish(keys, repo, catalogs("2099.2.1"))
    again = fleet.get("/api/v1/catalog")
    assert again["version"] == "2099.2.1" and again["sha256"] == done.sha256
    assert again["repository"]["targets_version"] == 2
    assert fleet.get("/api/v1/summary")["catalog"]["current"] == "2099.2.1"

    # described in the OpenAPI description; users only (an agent learns it from the repository)
    paths = fleet.client.get("/openapi.json").json()["paths"]
    assert {"/api/v1/catalog", "/tuf/metadata/{name}", "/tuf/targets/{name}"} <= set(paths)
    _, agent = fleet.enroll("curious-agent")
    assert fleet.client.get("/api/v1/catalog", headers=_bearer(agent)).status_code == 401
    assert fleet.client.get("/api/v1/catalog").status_code == 401


# ---------------------------------------------------------------- agents update before scanning


def test_an_agent_updates_from_the_server_and_reports_the_catalog_it_used(
    fleet_factory: Callable[..., Fleet],
    repo: Path,
    keys: KeySet,
    catalogs: Callable[[str], Path],
    linux_root: Path,
    tmp_path: Path,
) -> None:
    fleet = _fleet(fleet_factory, repo)
    cfg = _agent_config(tmp_path, linux_root)
    agent = Agent(cfg, client=fleet.client)
    posted = agent.run_once()
    sha1 = next((repo / "targets").glob(f"*.{CATALOG_TARGET}")).name.split(".")[0]

    # installed, trusted from the server's first root on first use, and said so
    got = installed.active()
    assert got is not None and got.version == "2099.1.1" and got.sha256 == sha1
    trust = AgentState.load(cfg.state_dir).catalog_trust
    root_digest = hashlib.sha256((repo / "metadata" / "1.root.json").read_bytes()).hexdigest()
    assert trust["root"] == "trust-on-first-use" and trust["root_sha256"] == root_digest
    assert trust["repository"] == "https://testserver/tuf/"

    # the report records the catalog that judged the scan: the verified, installed one
    assert _report_row(fleet, posted["report_id"]) == ("2099.1.1", sha1, "installed", True)
    body = _stored(fleet, posted["report_id"])
    assert body["catalog"]["update"] == {
        "outcome": "installed",
        "repository": "https://testserver/tuf/",
        "version": "2099.1.1",
        "trust": "trust-on-first-use",
    }
    host = fleet.get(f"/api/v1/hosts/{posted['host_id']}")
    assert host["catalog"]["version"] == "2099.1.1" and host["catalog"]["outdated"] is False
    assert host["catalog"]["verified"] is True and host["catalog"]["update"]["outcome"] == "installed"

    # a new release: the next run updates from the cached root, the trust record stays
    done = publish(keys, repo, catalogs("2099.2.1"))
    posted = Agent(cfg, client=fleet.client).run_once()
    assert installed.active().version == "2099.2.1"  # type: ignore[union-attr]
    assert AgentState.load(cfg.state_dir).catalog_trust == trust
    assert _report_row(fleet, posted["report_id"]) == ("2099.2.1", done.sha256, "installed", True)
    assert _stored(fleet, posted["report_id"])["catalog"]["update"] == {
        "outcome": "installed",
        "repository": "https://testserver/tuf/",
        "version": "2099.2.1",
    }
    # nothing new: current
    posted = Agent(cfg, client=fleet.client).run_once()
    assert _stored(fleet, posted["report_id"])["catalog"]["update"]["outcome"] == "current"


def test_a_refused_update_lets_the_scan_go_on_and_is_reported(
    fleet_factory: Callable[..., Fleet],
    repo: Path,
    keys: KeySet,
    catalogs: Callable[[str], Path],
    linux_root: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fleet = _fleet(fleet_factory, repo)
    cfg = _agent_config(tmp_path, linux_root)
    assert run_agent(cfg, client=fleet.client) == 0
    assert installed.active().version == "2099.1.1"  # type: ignore[union-attr]

    # the server's repository now serves a changed catalog file under a new signed release
    done = publish(keys, repo, catalogs("2099.2.1"))
    target = repo / "targets" / f"{done.sha256}.{CATALOG_TARGET}"
    target.write_bytes(target.read_bytes().replace(b"Kaspersky", b"Kaspersk1", 1))
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="banscan.agent"):
        posted = Agent(cfg, client=fleet.client).run_once()  # the scan still goes on and posts

    refused = [r.getMessage() for r in caplog.records if "catalog update" in r.getMessage()]
    assert len(refused) == 1 and "\n" not in refused[0]
    assert "length or hash does not match" in refused[0] and "scanning with catalog 2099.1.1" in refused[0]
    assert installed.active().version == "2099.1.1"  # type: ignore[union-attr]

    update = _stored(fleet, posted["report_id"])["catalog"]["update"]
    assert update["outcome"] == "refused" and "length or hash does not match" in update["reason"]
    host = fleet.get(f"/api/v1/hosts/{posted['host_id']}")
    assert host["catalog"]["version"] == "2099.1.1" and host["catalog"]["source"] == "installed"
    assert host["catalog"]["outdated"] is True  # the server offers 2099.2.1
    assert host["catalog"]["update"]["outcome"] == "refused"
    page = fleet.client.get(f"/hosts/{posted['host_id']}", headers=fleet.as_admin()).text
    assert 'id="catalog-outdated"' in page and 'id="catalog-update-refused"' in page
    assert "length or hash does not match" in page
    # the tampered file does not judge on the server either: its own catalog does
    assert fleet.get("/api/v1/catalog")["judging"] == built_in_version()


def test_pinned_roots_and_turning_updates_off(
    fleet_factory: Callable[..., Fleet], repo: Path, linux_root: Path, tmp_path: Path
) -> None:
    fleet = _fleet(fleet_factory, repo)
    # off: nothing fetched, nothing installed, the result says nothing of an update
    off = _agent_config(tmp_path, linux_root, catalog_update=False)
    posted = Agent(off, client=fleet.client).run_once()
    assert installed.active() is None
    assert "update" not in _stored(fleet, posted["report_id"])["catalog"]
    assert _report_row(fleet, posted["report_id"])[2:] == ("built-in", False)

    # a pinned digest that is not the repository's root: refused, scanned anyway
    wrong = _agent_config(tmp_path, linux_root, catalog_root_sha256="0" * 64)
    posted = Agent(wrong, client=fleet.client).run_once()
    assert installed.active() is None
    update = _stored(fleet, posted["report_id"])["catalog"]["update"]
    assert update["outcome"] == "refused" and "not the pinned" in update["reason"]
    assert AgentState.load(wrong.state_dir).catalog_trust == {}

    # the right digest, or the publishers' root.json
    digest = hashlib.sha256((repo / "metadata" / "1.root.json").read_bytes()).hexdigest()
    right = _agent_config(tmp_path, linux_root, catalog_root_sha256=digest)
    posted = Agent(right, client=fleet.client).run_once()
    assert installed.active().version == "2099.1.1"  # type: ignore[union-attr]
    assert AgentState.load(right.state_dir).catalog_trust["root"] == "root-sha256"
    assert _stored(fleet, posted["report_id"])["catalog"]["update"]["trust"] == "root-sha256"

    shutil.rmtree(installed.data_dir())
    pinned = _agent_config(tmp_path, linux_root, catalog_root=repo / "metadata" / "1.root.json")
    Agent(pinned, client=fleet.client).run_once()
    assert installed.active().version == "2099.1.1"  # type: ignore[union-attr]
    assert AgentState.load(pinned.state_dir).catalog_trust["root"] == "root-file"


def test_an_agent_of_a_server_without_a_repository_scans_with_its_catalog(
    fleet_factory: Callable[..., Fleet], linux_root: Path, tmp_path: Path
) -> None:
    fleet = _fleet(fleet_factory, None)
    posted = Agent(_agent_config(tmp_path, linux_root), client=fleet.client).run_once()
    assert installed.active() is None
    assert "update" not in _stored(fleet, posted["report_id"])["catalog"]
    origin = built_in_catalog().origin
    assert origin is not None
    assert _report_row(fleet, posted["report_id"]) == (built_in_version(), origin.sha256, "built-in", False)


def test_trust_on_first_use_needs_verified_tls(tmp_path: Path) -> None:
    """Over plain HTTP to another machine (or with verification off) the server's root is not
    trusted on first use: the update is refused until a root is pinned."""
    seen: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return httpx.Response(200, content=b"{}")

    for server, verify in (("http://fleet.example", True), ("https://fleet.example", False)):
        cfg = AgentConfig(server=server, enroll_secret=None, state_dir=tmp_path / "s", verify=verify)
        agent = Agent(cfg, client=httpx.Client(transport=httpx.MockTransport(handle)))
        agent.state.token = "bsa_x"
        seen.clear()
        out = agent.update_catalog()
        assert out is not None and out["outcome"] == "refused" and "verified TLS" in out["reason"]
        assert seen == ["/tuf/metadata/timestamp.json"]  # no root fetched to trust


def test_the_fetcher_keeps_the_token_in_the_repository_and_limits_time() -> None:
    asked: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        if request.url.path.endswith("missing.json"):
            return httpx.Response(404)
        if request.url.path.endswith("moved.json"):
            return httpx.Response(302, headers={"Location": "https://elsewhere.example/x"})
        return httpx.Response(200, content=b"x" * 300_000)

    client = httpx.Client(transport=httpx.MockTransport(handle))
    fetcher = AgentFetcher(client, "https://fleet.example/tuf/", "bsa_secret", chunk_size=1000)
    assert fetcher.download_bytes("https://fleet.example/tuf/metadata/a.json", 400_000) == b"x" * 300_000
    assert asked[-1].headers["authorization"] == "Bearer bsa_secret"
    with pytest.raises(tuf_errors.DownloadError, match="not in the server's repository"):
        fetcher.download_bytes("https://elsewhere.example/tuf/metadata/a.json", 1000)
    assert len(asked) == 1  # the token never left
    with pytest.raises(tuf_errors.DownloadHTTPError) as info:
        fetcher.download_bytes("https://fleet.example/tuf/metadata/missing.json", 1000)
    assert info.value.status_code == 404
    with pytest.raises(tuf_errors.DownloadHTTPError):  # a redirect is not followed
        fetcher.download_bytes("https://fleet.example/tuf/metadata/moved.json", 1000)
    assert [r.url.host for r in asked] == ["fleet.example"] * 3
    with pytest.raises(tuf_errors.DownloadLengthMismatchError):
        fetcher.download_bytes("https://fleet.example/tuf/metadata/a.json", 1000)
    slow = AgentFetcher(client, "https://fleet.example/tuf/", "bsa_secret", chunk_size=1000, deadline=0)
    with pytest.raises(tuf_errors.SlowRetrievalError):
        slow.download_bytes("https://fleet.example/tuf/metadata/a.json", 400_000)


# ---------------------------------------------------------------- out-of-date hosts


def _result(results: dict[str, Any], when: str, version: str, **catalog: Any) -> dict[str, Any]:
    doc = {"version": version, "sha256": "ab" * 32, "source": "installed", "verified": True, **catalog}
    return at(results["dirty"], when, catalog_version=version, catalog=doc)


def test_hosts_judged_by_an_older_catalog_are_out_of_date(
    fleet_factory: Callable[..., Fleet],
    tmp_path: Path,
    keys: KeySet,
    catalogs: Callable[[str], Path],
    results: dict[str, Any],
) -> None:
    repo = tmp_path / "repo"
    publish(keys, repo, catalogs("2099.10.1"))
    fleet = _fleet(fleet_factory, repo)
    versions = {
        "older": "2099.9.1",  # older part by part, though later as text
        "same": "2099.10.1",
        "newer": "2100.1.1",
        "unknown": "",
    }
    ids: dict[str, int] = {}
    for name, version in versions.items():
        host_id, token = fleet.enroll(f"host-{name}", f"srv-{name}")
        ids[name] = host_id
        r = fleet.report(token, _result(results, T1, version))
        assert r.status_code == 201, r.text
    fleet.enroll("host-never", "srv-never")  # enrolled, no result yet: never out of date

    hosts = {h["id"]: h for h in fleet.get("/api/v1/hosts")["items"]}
    assert {n: hosts[i]["catalog"]["outdated"] for n, i in ids.items()} == {
        "older": True,
        "same": False,
        "newer": False,
        "unknown": False,
    }
    assert hosts[ids["older"]]["catalog"] == {
        "version": "2099.9.1",
        "sha256": "ab" * 32,
        "source": "installed",
        "verified": True,
        "outdated": True,
    }
    assert hosts[ids["unknown"]]["catalog"]["version"] is None
    assert [h["catalog"] for h in hosts.values() if h["identifier"] == "host-never"] == [None]
    listed = fleet.get("/api/v1/hosts", catalog="outdated")
    assert [h["id"] for h in listed["items"]] == [ids["older"]] and listed["total"] == 1
    detail = fleet.get(f"/api/v1/hosts/{ids['older']}")
    assert detail["catalog"]["outdated"] is True and detail["reports"][0]["catalog"]["version"] == "2099.9.1"
    assert fleet.client.get("/api/v1/hosts?catalog=stale", headers=fleet.as_admin()).status_code == 422

    summary = fleet.get("/api/v1/summary")["catalog"]
    assert summary["current"] == "2099.10.1" and summary["hosts_outdated"] == 1
    assert summary["hosts_unknown"] == 1
    assert [(e["version"], e["outdated"]) for e in summary["by_version"]] == [
        ("2100.1.1", False),
        ("2099.10.1", False),
        ("2099.9.1", True),
    ]

    # the dashboard: a badge with the version used on the host list, a filter, the overview's count
    admin = fleet.as_admin()
    rows = _rows(fleet.client.get("/hosts", headers=admin).text)
    assert "out-of-date catalog" in rows[ids["older"]] and "2099.9.1" in rows[ids["older"]]
    assert all("out-of-date catalog" not in rows[ids[n]] for n in ("same", "newer", "unknown"))
    assert "2100.1.1" in rows[ids["newer"]]
    filtered = fleet.client.get("/hosts", params={"catalog": "outdated"}, headers=admin).text
    assert set(_rows(filtered)) == {ids["older"]}
    assert 'name="catalog" value="outdated" checked' in filtered
    overview = fleet.client.get("/", headers=admin).text
    assert re.search(r'id="stat-catalog-outdated">1<', overview)
    assert 'id="current-catalog">2099.10.1<' in overview
    csv = fleet.client.get("/hosts.csv", headers=admin).text.splitlines()
    header = csv[0].split(",")
    by_host = {row.split(",")[0]: row.split(",") for row in csv[1:]}
    col = header.index("catalog_outdated")
    assert by_host[str(ids["older"])][col] == "true" and by_host[str(ids["same"])][col] == "false"
    host_page = fleet.client.get(f"/hosts/{ids['older']}", headers=admin).text
    assert 'id="catalog-outdated"' in host_page and "2099.10.1" in host_page

    # the latest result decides: the host catches up, and a newer release makes others stale
    token = fleet.tokens["host-older"]
    assert fleet.report(token, _result(results, T2, "2099.10.1")).status_code == 201
    assert fleet.get("/api/v1/hosts", catalog="outdated")["total"] == 0
    assert fleet.get("/api/v1/summary")["catalog"]["hosts_outdated"] == 0
    publish(keys, repo, catalogs("2099.11.1"))
    stale = {h["id"] for h in fleet.get("/api/v1/hosts", catalog="outdated")["items"]}
    assert stale == {ids["older"], ids["same"]}
    overview = fleet.client.get("/", headers=admin).text
    assert re.search(r'id="stat-catalog-outdated">2<', overview)


def test_a_hostile_catalog_member_is_stored_as_unknown(
    fleet_factory: Callable[..., Fleet], results: dict[str, Any]
) -> None:
    fleet = _fleet(fleet_factory, None)
    host_id, token = fleet.enroll("odd-host")
    doc = at(
        results["clean"],
        T1,
        catalog_version="2026.²",
        catalog={"sha256": "ZZ" * 32, "source": "<script>", "verified": "yes"},
    )
    r = fleet.report(token, doc)
    assert r.status_code == 201, r.text
    assert _report_row(fleet, r.json()["report_id"]) == ("2026.²", None, None, None)
    host = fleet.get(f"/api/v1/hosts/{host_id}")
    assert host["catalog"]["outdated"] is False  # not comparable: not called older
    assert fleet.get("/api/v1/summary")["catalog"]["hosts_outdated"] == 0
    assert fleet.client.get("/hosts", headers=fleet.as_admin()).status_code == 200


# ---------------------------------------------------------------- the migration


# What the tables hold at revision 0007 (the models are at head).
HOST_COLUMNS = ("id", "identifier", "hostname", "platform", "source", "created_at", "last_report_id")
REPORT_COLUMNS = (
    *("id", "host_id", "idempotency_key", "generated_at", "received_at", "source", "applied"),
    *("findings_count", "banscan_version", "catalog_version", "body"),
)


def test_migration_0008_records_the_catalog_of_reports(db_url: str) -> None:
    """The three columns are added; each host's latest report is filled from its stored body
    when that body names its catalog; a downgrade drops them again."""
    from alembic import command

    def back_to_0007() -> None:
        engine = make_engine(db_url)
        try:
            with engine.begin() as conn:
                cfg = alembic_config()
                cfg.attributes["connection"] = conn
                command.downgrade(cfg, "0007")
        finally:
            engine.dispose()

    upgrade_db(db_url)
    back_to_0007()
    engine = make_engine(db_url)
    named = {"version": "2099.1.1", "sha256": "CD" * 32, "source": "installed", "verified": True}
    try:
        with engine.begin() as conn:
            assert "catalog_sha256" not in {c["name"] for c in sa.inspect(conn).get_columns("reports")}
            hosts = sa.table("hosts", *map(sa.column, HOST_COLUMNS))
            reports = sa.table("reports", *map(sa.column, REPORT_COLUMNS))
            when = dt.datetime(2025, 3, 1, 10)  # naive UTC, as the store keeps times
            for hid in (1, 2):
                conn.execute(
                    hosts.insert().values(
                        id=hid,
                        identifier=f"h{hid}",
                        hostname=f"h{hid}",
                        platform="",
                        source="agent",
                        created_at=when,
                    )
                )
            bodies: dict[int, dict[str, Any]] = {
                1: {"catalog_version": "2026.1.1"},  # host 1's older report
                2: {"catalog_version": "2099.1.1", "catalog": named},  # host 1's latest
                3: {"catalog_version": "2026.1.1"},  # host 2's latest: an older scanner
            }
            for rid, content in bodies.items():
                conn.execute(
                    reports.insert().values(
                        id=rid,
                        host_id=1 if rid < 3 else 2,
                        idempotency_key=f"k{rid}",
                        generated_at=when,
                        received_at=when,
                        source="agent",
                        applied=True,
                        findings_count=0,
                        banscan_version="1",
                        catalog_version=content["catalog_version"],
                        body=json.dumps(content),
                    )
                )
            conn.execute(hosts.update().where(hosts.c.id == 1).values(last_report_id=2))
            conn.execute(hosts.update().where(hosts.c.id == 2).values(last_report_id=3))
            if conn.dialect.name == "postgresql":
                for table in ("hosts", "reports"):
                    conn.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), 10)"))
        upgrade_db(db_url)
        with engine.connect() as conn:
            got = {
                r.id: (r.catalog_sha256, r.catalog_source, r.catalog_verified)
                for r in conn.execute(
                    sa.text("SELECT id, catalog_sha256, catalog_source, catalog_verified FROM reports")
                )
            }
        assert got == {1: (None, None, None), 2: ("cd" * 32, "installed", True), 3: (None, None, None)}
        back_to_0007()
        with engine.connect() as conn:
            assert "catalog_sha256" not in {c["name"] for c in sa.inspect(conn).get_columns("reports")}
    finally:
        engine.dispose()
        upgrade_db(db_url)


# ---------------------------------------------------------------- the command line


def test_serve_and_agent_options(tmp_path: Path) -> None:
    runner = CliRunner()
    serve_help = runner.invoke(cli_app, ["serve", "--help"], env={"COLUMNS": "200"}).output
    assert "--catalog-repo" in serve_help and "BANSCAN_CATALOG_REPO" in serve_help
    agent_help = runner.invoke(cli_app, ["agent", "--help"], env={"COLUMNS": "200"}).output
    for option in ("--no-catalog-update", "--catalog-root ", "--catalog-root-sha256"):
        assert option in agent_help
    missing = runner.invoke(
        cli_app, ["serve", "--catalog-repo", str(tmp_path / "nowhere"), "--db", "sqlite://"]
    )
    assert missing.exit_code == 2
    assert agent_command("https://x", "s", once=True, state_dir=tmp_path, catalog_root_sha256="abc") == 2
    assert (
        agent_command("https://x", "s", once=True, state_dir=tmp_path, catalog_root=tmp_path / "no.json") == 2
    )


@pytest.mark.skipif(sys.platform == "win32", reason="a POSIX server process")
def test_a_served_repository_updates_a_real_agent(
    db_url: str,
    server_process: Callable[[str], ServerProcess],
    repo: Path,
    linux_root: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`banscan serve` given the repository by $BANSCAN_CATALOG_REPO, and `agent_command` over
    real HTTP (streamed with httpx, on loopback): the agent installs the server's catalog."""
    monkeypatch.setenv("BANSCAN_CATALOG_REPO", str(repo))
    url = server_process(db_url).start(timeout=60)
    state_dir = tmp_path / "agent-state"
    code = agent_command(
        url, ENROLL_SECRET, once=True, state_dir=state_dir, root=linux_root, log_level="warning"
    )
    assert code == 0
    got = installed.active()
    assert got is not None and got.version == "2099.1.1"
    assert AgentState.load(state_dir).catalog_trust["repository"] == f"{url}/tuf/"
    from banscan.store.accounts import create_api_token

    headers = _bearer(create_api_token(db_url, "repo-e2e", "viewer"))
    state = AgentState.load(state_dir)
    host = httpx.get(f"{url}/api/v1/hosts/{state.host_id}", headers=headers, timeout=10).json()
    assert host["catalog"]["version"] == "2099.1.1" and host["catalog"]["verified"] is True
    assert host["catalog"]["outdated"] is False
    assert httpx.get(f"{url}/api/v1/catalog", headers=headers, timeout=10).json()["version"] == "2099.1.1"
