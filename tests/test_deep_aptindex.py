"""Cached Debian packages that the system's own archive index vouches for are identified by
their control files and not expanded; anything less than a full vouch (another origin, a
non-free area, an index that disagrees with its Release file, a package file not listed, a
path named on the command line) is expanded as before."""

from __future__ import annotations

import hashlib
from pathlib import Path

import lz4.frame
import pytest

import deep_fixtures as fx
from banscan.catalog.loader import load_catalog
from banscan.catalog.schema import Catalog
from banscan.collect.base import CollectContext
from banscan.deep.aptindex import DISTRIBUTION_AREAS, AptIndex
from banscan.deep.scan import DeepScanner
from banscan.errors import ErrorSink
from banscan.models import InventoryRecord

ELF = b"\x7fELF\x02\x01\x01" + b"\x00" * 57 + b"\x00engine=kaspersky-lab-engine\x00"
DEB_NAME = "acme-tools_1.0-1_amd64.deb"
STEM = "deb.debian.org_debian_dists_bookworm"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="module")
def deb() -> bytes:
    """A package whose control file names another vendor, with a binary inside it that
    carries a catalog byte signature."""
    control = fx.control_text("acme-tools", "1.0-1", "Acme <ops@acme.example>", "Acme tools")
    return fx.build_deb(control, {"./usr/bin/acme-scan": ELF, "./usr/share/doc/acme-tools/README": b"hi\n"})


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_root(
    root: Path,
    deb: bytes,
    *,
    origin: str = "Debian",
    area: str = "main",
    suffix: str = "lz4",
    listed: bool = True,
    release_hash: str | None = None,
) -> Path:
    lists = root / "var/lib/apt/lists"
    cache = root / "var/cache/apt/archives"
    lists.mkdir(parents=True)
    cache.mkdir(parents=True)
    (cache / DEB_NAME).write_bytes(deb)
    para = (
        "Package: acme-tools\nVersion: 1.0-1\nArchitecture: amd64\nMaintainer: Acme <ops@acme.example>\n"
        f"Filename: pool/{area}/a/acme-tools/acme-tools_1.0-1_amd64.deb\nSize: {len(deb)}\n"
        f"SHA256: {sha(deb) if listed else sha(b'another file')}\nDescription: Acme tools\n"
    )
    other = "Package: other\nVersion: 2\nFilename: pool/main/o/other_2_all.deb\nSHA256: " + "ab" * 32 + "\n"
    text = (other + "\n" + para).encode()
    release = (
        "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n"
        f"Origin: {origin}\nLabel: {origin}\nSuite: oldstable\nCodename: bookworm\n"
        "Components: main contrib non-free\nSHA256:\n"
        f" {release_hash or sha(text)} {len(text):>8} {area}/binary-amd64/Packages\n"
        f" {'00' * 32} {10:>8} {area}/binary-amd64/Packages.xz\n"
        "-----BEGIN PGP SIGNATURE-----\n\niQ==\n-----END PGP SIGNATURE-----\n"
    )
    (lists / f"{STEM}_InRelease").write_text(release)
    packed = lz4.frame.compress(text) if suffix == "lz4" else fx.compress(text, suffix)
    (lists / f"{STEM}_{area}_binary-amd64_Packages{'.' + suffix if suffix else ''}").write_bytes(packed)
    return root


def scan_root(root: Path, catalog: Catalog) -> tuple[list[InventoryRecord], list[str], DeepScanner]:
    sink = ErrorSink(echo=False)
    scanner = DeepScanner(sink, host="img", catalog=catalog, workers=1)
    ctx = CollectContext(root=root, os="linux", host="img", live=False, errors=sink)
    return list(scanner.scan_root(ctx)), list(sink.lines), scanner


def signature_hits(recs: list[InventoryRecord]) -> list[str]:
    return [r.path or "" for r in recs if r.get("byte_signature")]


def package_record(recs: list[InventoryRecord]) -> InventoryRecord:
    (rec,) = [r for r in recs if r.name == "acme-tools"]
    return rec


@pytest.mark.parametrize("suffix", ["lz4", "xz", "gz", "zst", ""])
def test_a_vouched_package_is_not_expanded(deb: bytes, catalog: Catalog, tmp_path: Path, suffix: str) -> None:
    recs, errors, scanner = scan_root(make_root(tmp_path, deb, suffix=suffix), catalog)
    assert errors == []
    assert signature_hits(recs) == []
    rec = package_record(recs)
    assert rec.get("package_index") == "Debian bookworm main"
    assert rec.sha256 == sha(deb)
    assert scanner.stats.vouched == {"Debian bookworm main": [1, len(deb)]}
    summary = "\n".join(scanner.stats.summary())
    assert "signed index" in summary and "Debian bookworm main: 1 (" in summary


@pytest.mark.parametrize(
    ("how", "error"),
    [
        ({"origin": "Acme"}, None),  # a vendor's own repository: its packages are expanded
        ({"area": "non-free"}, None),
        ({"listed": False}, None),
        ({"release_hash": "00" * 32}, "does not match its Release file"),
    ],
)
def test_anything_less_is_expanded(
    deb: bytes, catalog: Catalog, tmp_path: Path, how: dict[str, object], error: str | None
) -> None:
    recs, errors, scanner = scan_root(make_root(tmp_path, deb, **how), catalog)  # type: ignore[arg-type]
    shown = f"/var/cache/apt/archives/{DEB_NAME}"
    assert signature_hits(recs) == [f"{shown}!data.tar.xz!./usr/bin/acme-scan"]
    assert package_record(recs).get("package_index") is None
    assert scanner.stats.vouched == {}
    if error is None:
        assert errors == []
    else:
        assert len(errors) == 1 and error in errors[0] and "Packages.lz4" in errors[0]


def test_paths_named_on_the_command_line_are_expanded(deb: bytes, catalog: Catalog, tmp_path: Path) -> None:
    root = make_root(tmp_path, deb)
    sink = ErrorSink(echo=False)
    recs = list(DeepScanner(sink, catalog=catalog, workers=1).scan_paths([root / "var/cache/apt/archives"]))
    assert len(signature_hits(recs)) == 1


def test_index_of_this_machine_if_any() -> None:
    """On a Debian machine the real indexes load, match their Release files, and vouch for
    the packages of its cache that they list; elsewhere there is nothing to vouch."""
    index = AptIndex.load(Path("/"))
    assert index.problems == []
    cached = sorted(Path("/var/cache/apt/archives").glob("*.deb"))[:20]
    if not index.known or not cached:
        pytest.skip("no apt package index or package cache on this machine")
    vouched = [p for p in cached if index.vouch(sha(p.read_bytes())) is not None]
    if not vouched:
        pytest.skip("the cached packages are older than the indexes apt holds now")
    for p in vouched:
        v = index.vouch(sha(p.read_bytes()))
        assert v is not None and (v.origin, v.area) in DISTRIBUTION_AREAS
