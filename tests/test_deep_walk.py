"""Which folders a whole-system deep scan walks first: the folders the catalog's `path`
identifiers name (a vendor's install and data folders), then the system's software locations.
No vendor is written in the walk: a pack with other paths moves its own folders first."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from banscan.catalog.loader import load_catalog
from banscan.catalog.schema import Catalog, Identifier, IdentifierKind, MatchKind
from banscan.collect.base import CollectContext
from banscan.deep import scan as deep_scan
from banscan.deep.scan import DeepScanner
from banscan.deep.walk import SYSTEM_LOCATIONS, known_locations, walk_root
from banscan.errors import ErrorSink
from banscan.models import Confidence


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def test_kaspersky_folders_come_first_in_their_old_order(catalog: Catalog) -> None:
    """The folders once written into the walk, now read from the catalog: same order, plus the
    catalog's two further data folders (ProgramData\\KasperskyLab, /etc/kaspersky)."""
    assert known_locations(catalog, "windows") == (
        "Program Files/Kaspersky Lab",
        "Program Files (x86)/Kaspersky Lab",
        "ProgramData/Kaspersky Lab",
        "ProgramData/KasperskyLab",
        *SYSTEM_LOCATIONS["windows"],
    )
    assert known_locations(catalog, "linux") == (
        "opt/kaspersky",
        "var/opt/kaspersky",
        "etc/kaspersky",
        "etc/opt/kaspersky",
        *SYSTEM_LOCATIONS["linux"],
    )
    assert known_locations(catalog, "macos") == (
        "Library/Application Support/Kaspersky Lab",
        *SYSTEM_LOCATIONS["macos"],
    )


@pytest.mark.parametrize("pack", ["ndaa-889", "gov-apps"])
def test_a_pack_without_paths_walks_the_system_locations(catalog: Catalog, pack: str) -> None:
    narrowed = catalog.with_packs([pack])
    for layout in ("windows", "linux", "macos"):
        assert known_locations(narrowed, layout) == SYSTEM_LOCATIONS[layout]


def _with_paths(catalog: Catalog, product_id: str, *paths: tuple[str, MatchKind, list[str]]) -> Catalog:
    product = catalog.product(product_id)
    src = product.sources[0]
    extra = [
        Identifier(
            kind=IdentifierKind.PATH, value=v, match=m, platforms=p, confidence=Confidence.WEAK, sources=[src]
        )
        for v, m, p in paths
    ]
    changed = product.model_copy(update={"identifiers": [*product.identifiers, *extra]})
    return catalog.model_copy(
        update={"products": [changed if p.id == product_id else p for p in catalog.products]}
    )


def test_another_vendors_paths_give_its_folders(catalog: Catalog) -> None:
    ndaa = catalog.with_packs(["ndaa-889"])
    cat = _with_paths(
        ndaa,
        "huawei-hisuite",
        ("C:\\Program Files (x86)\\HiSuite\\*", MatchKind.GLOB, []),
        ("C:\\ProgramData\\HiSuite\\Logs\\hisuite.log", MatchKind.IEXACT, []),
        ("*\\Huawei\\HiSuite\\*", MatchKind.GLOB, []),  # anywhere: no folder to start from
        ("C:\\Windows\\System32\\hisuite.dll", MatchKind.IEXACT, []),  # System32 holds a system location
        ("/opt/huawei/", MatchKind.PREFIX, ["linux"]),
        ("/opt/huawei/hisuite/bin", MatchKind.PREFIX, ["linux"]),  # inside /opt/huawei, walked with it
        ("/srv/hisuite-data", MatchKind.PREFIX, ["linux"]),  # a name a prefix may continue: its parent
        ("/tmp/hisuite.log", MatchKind.EXACT, ["linux"]),  # shallow: /tmp is no vendor's
        ("/usr/bin/hisuite", MatchKind.EXACT, ["linux"]),  # a system location itself
        ("^/var/lib/hisuite/", MatchKind.REGEX, ["linux"]),  # a regular expression names no folder
        ("/Applications/HiSuite.app/*", MatchKind.GLOB, ["macos"]),  # an app bundle, inside Applications
    )
    assert known_locations(cat, "windows") == (
        "Program Files (x86)/HiSuite",
        "ProgramData/HiSuite/Logs",
        *SYSTEM_LOCATIONS["windows"],
    )
    assert known_locations(cat, "linux") == ("opt/huawei", *SYSTEM_LOCATIONS["linux"])
    assert known_locations(cat, "macos") == ("Applications/HiSuite.app", *SYSTEM_LOCATIONS["macos"])


def _tree(root: Path, files: list[str]) -> None:
    for rel in files:
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")


def test_walk_takes_the_catalogs_folders_first_and_each_file_once(catalog: Catalog, tmp_path: Path) -> None:
    _tree(
        tmp_path,
        [
            "aaa/readme",
            "etc/opt/kaspersky/kav4proxy.conf",
            "opt/aaa/tool",
            "opt/kaspersky/kesl/bin/kesl",
            "usr/bin/ls",
            "var/opt/kaspersky/kesl/bases.dat",
        ],
    )
    errors: list[tuple[str, str]] = []
    locations = known_locations(catalog, "linux")
    shown = [
        e.shown
        for e in walk_root(tmp_path, "linux", False, lambda w, m: errors.append((w, m)), locations=locations)
    ]
    assert shown == [
        "/opt/kaspersky/kesl/bin/kesl",
        "/var/opt/kaspersky/kesl/bases.dat",
        "/etc/opt/kaspersky/kav4proxy.conf",
        "/opt/aaa/tool",
        "/usr/bin/ls",
        "/aaa/readme",
    ]
    assert errors == []
    # without the catalog's folders: the system's locations, then the rest
    plain = [e.shown for e in walk_root(tmp_path, "linux", False, lambda w, m: None)]
    assert plain[:3] == ["/opt/aaa/tool", "/opt/kaspersky/kesl/bin/kesl", "/usr/bin/ls"]
    assert sorted(plain) == sorted(shown)


def test_the_deep_scan_walks_its_own_catalogs_folders(
    catalog: Catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--pack` narrows the catalog the deep scan gets, and with it the folders walked first."""
    seen: list[tuple[str, ...]] = []

    def spy(*args: object, locations: tuple[str, ...] | None = None, **kw: object) -> Iterator[object]:
        seen.append(tuple(locations or ()))
        return walk_root(*args, locations=locations, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(deep_scan, "walk_root", spy)
    _tree(tmp_path, ["opt/kaspersky/kesl/readme"])
    for cat, first in ((catalog, "opt/kaspersky"), (catalog.with_packs(["ndaa-889"]), "opt")):
        seen.clear()
        sink = ErrorSink(echo=False)
        scanner = DeepScanner(sink, host="img", catalog=cat, workers=1)
        list(
            scanner.scan_root(CollectContext(root=tmp_path, os="linux", host="img", live=False, errors=sink))
        )
        assert seen and seen[0][0] == first
