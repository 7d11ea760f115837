"""Large ELF members of zip archives (the shared libraries of wheels and jars) are streamed
through the byte-signature prefilter instead of being held whole: the findings are those of
reading them whole, wherever in the member the signature lies, and a member whose bytes are
not what the archive's directory says is still reported."""

from __future__ import annotations

import random
import zipfile
from pathlib import Path

import pytest

from banscan.catalog.loader import load_catalog
from banscan.catalog.schema import Catalog
from banscan.deep import archives
from banscan.deep.archives import Budget, Limits, ZipView
from banscan.deep.scan import DeepScanner
from banscan.errors import ErrorSink
from banscan.models import InventoryRecord

MiB = 1024 * 1024
SIGNATURE = b"kaspersky-lab-engine"
ELF_HEAD = b"\x7fELF\x02\x01\x01" + b"\x00" * 57
SMALL_SPOOL = Limits(spool=64 * 1024)  # members above 64 KiB count as large


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def elf(size: int, at: int | None) -> bytes:
    """An ELF-looking member of `size` bytes of random filler, the signature at offset `at`."""
    filler = random.Random(size).randbytes(size)
    data = bytearray(ELF_HEAD + filler[len(ELF_HEAD) :])
    if at is not None:
        data[at : at + len(SIGNATURE)] = SIGNATURE
    return bytes(data)


def scan(
    path: Path, catalog: Catalog, limits: Limits | None
) -> tuple[list[InventoryRecord], list[str], DeepScanner]:
    sink = ErrorSink(echo=False)
    scanner = DeepScanner(sink, catalog=catalog, limits=limits, workers=1)
    return list(scanner.scan_paths([path])), list(sink.lines), scanner


def hits(recs: list[InventoryRecord]) -> list[tuple[str, str | None]]:
    return sorted((r.path or "", r.get("byte_signature")) for r in recs if r.get("byte_signature"))


@pytest.mark.parametrize("at", [100, 4 * MiB - 10, 4 * MiB + 64 * 1024 - 7, 5 * MiB - len(SIGNATURE), None])
@pytest.mark.parametrize("how", [zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED])
def test_streamed_members_give_the_findings_of_whole_ones(
    catalog: Catalog, tmp_path: Path, at: int | None, how: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    held: list[str] = []
    slurp = archives._slurp

    def counting(src, name, declared, limits, budget):  # type: ignore[no-untyped-def]
        held.append(name)
        return slurp(src, name, declared, limits, budget)

    monkeypatch.setattr(archives, "_slurp", counting)
    wheel = tmp_path / "pkg-1.0-py3-none-manylinux_2_28_x86_64.whl"
    with zipfile.ZipFile(wheel, "w", how) as z:
        z.writestr("pkg/__init__.py", "print('hi')\n")
        z.writestr("pkg/libengine.so", elf(5 * MiB, at))
        z.writestr("pkg/small.so", elf(4096, None))
    streamed, s_err, s_scan = scan(wheel, catalog, SMALL_SPOOL)
    # Held whole: the small one, and the large one only when a signature is in it.
    assert held == (["pkg/small.so"] if at is None else ["pkg/libengine.so", "pkg/small.so"])
    whole, w_err, w_scan = scan(wheel, catalog, None)  # 5 MiB is below the default spool: held whole
    assert s_err == w_err == []
    assert hits(streamed) == hits(whole)
    expected = [] if at is None else [(f"{wheel}!pkg/libengine.so", SIGNATURE.decode())]
    assert hits(streamed) == expected
    assert s_scan.stats.members == w_scan.stats.members == 2  # both .so files were examined


def test_a_streamed_member_with_a_bad_crc_is_reported(catalog: Catalog, tmp_path: Path) -> None:
    wheel = tmp_path / "bad.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_STORED) as z:
        z.writestr("lib/big.so", elf(512 * 1024, None))
    raw = bytearray(wheel.read_bytes())
    at = raw.index(b"\x7fELF") + 300_000
    raw[at] ^= 0xFF  # the bytes no longer match the CRC in the directory
    wheel.write_bytes(bytes(raw))
    recs, errors, _ = scan(wheel, catalog, SMALL_SPOOL)
    assert recs == []
    assert (
        len(errors) == 1
        and errors[0].startswith(f"{wheel}!lib/big.so: member unreadable")
        and "CRC" in errors[0]
    )


def test_without_a_checker_members_are_held_whole(tmp_path: Path) -> None:
    """Catalogs whose signatures have no exact prefilter (hex or regular expressions) read
    large members whole, as before."""
    path = tmp_path / "a.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("lib/big.so", elf(256 * 1024, 1000))
    zv = ZipView(path.read_bytes())
    try:
        got = list(
            archives.zip_members(zv, SMALL_SPOOL, Budget(SMALL_SPOOL.max_total), lambda *a: None, None)
        )
        assert [(m.name, m.examined, len(memoryview(m.data))) for m in got] == [
            ("lib/big.so", False, 256 * 1024)
        ]
        for m in got:
            m.close()
    finally:
        zv.close()
