"""Hostile and broken input: one error line each, no hang, nothing expanded that should not be."""

from __future__ import annotations

import io
import os
import time
import zipfile
from pathlib import Path

import pytest

import deep_fixtures as fx
from banscan.catalog.loader import load_catalog
from banscan.catalog.schema import Catalog
from banscan.collect.base import ErrorSink
from banscan.deep import Limits, deep_records
from banscan.deep.filetype import FileType, sniff
from banscan.models import InventoryRecord
from test_deep_scan import time_limit

ELF_HEAD = b"\x7fELF\x02\x01\x01" + b"\x00" * 57


@pytest.fixture(scope="module")
def catalog():  # type: ignore[no-untyped-def]
    return load_catalog()


def run(
    paths: list[Path], catalog: Catalog, limits: Limits | None = None
) -> tuple[list[InventoryRecord], list[str]]:
    sink = ErrorSink(echo=False)
    with time_limit(20):
        recs = list(deep_records([str(p) for p in paths], sink, catalog=catalog, limits=limits))
    return recs, sink.lines


def test_zip_bomb_is_reported_not_expanded(catalog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bomb = fx.zip_bomb(tmp_path / "bomb.zip")
    start = time.monotonic()
    recs, errors = run([bomb], catalog)
    assert time.monotonic() - start < 5
    assert recs == []
    assert len(errors) == 1
    assert errors[0].startswith(f"{bomb}!zeros.bin: compression ratio")
    assert "decompression bomb" in errors[0]


def test_gzip_bomb_is_reported(catalog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import gzip

    path = tmp_path / "agent.gz"
    with gzip.open(path, "wb", compresslevel=1) as fh:
        fh.write(ELF_HEAD)
        for _ in range(16):
            fh.write(b"\x00" * (4 * 1024 * 1024))
    recs, errors = run([path], catalog)
    assert recs == []
    assert len(errors) == 1 and "decompression bomb" in errors[0]


def test_member_names_climbing_out_are_refused(catalog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "evil.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("../evil", ELF_HEAD)
        z.writestr("ok.txt", "fine")
    recs, errors = run([path], catalog)
    assert recs == []
    assert errors == [f"{path}!../evil: member name is absolute or climbs out of the archive ('..'); refused"]


def test_encrypted_member_is_reported_and_skipped(catalog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("secret.exe", b"MZ" + b"\x00" * 200)
        z.writestr("secret2.exe", b"MZ" + b"\x00" * 200)
    data = bytearray(buf.getvalue())
    for sig, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        pos = data.find(sig)
        while pos != -1:
            data[pos + flag_at] |= 0x01
            pos = data.find(sig, pos + 4)
    path = tmp_path / "locked.zip"
    path.write_bytes(bytes(data))
    recs, errors = run([path], catalog)
    assert recs == []
    assert errors == [f"{path}!secret.exe: encrypted member and 1 more not examined"]


def test_truncated_pe(catalog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    if fx.missing(fx.MINGW_GCC, fx.MINGW_WINDRES):
        pytest.skip(fx.missing(fx.MINGW_GCC, fx.MINGW_WINDRES) or "")
    full = fx.build_pe(
        tmp_path / "full.exe", company="AO Kaspersky Lab", product="X", original="x.exe", copyright="c"
    )
    cut = tmp_path / "cut.exe"
    cut.write_bytes(full.read_bytes()[:300])
    recs, errors = run([cut], catalog)
    assert recs == []
    assert len(errors) == 1 and errors[0].startswith(f"{cut}: not a readable PE file")


def test_truncated_zip_and_garbage_elf(catalog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    z = tmp_path / "cut.zip"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("a.exe", b"MZ" * 1000)
    z.write_bytes(buf.getvalue()[:60])
    elf = tmp_path / "bad.so"
    elf.write_bytes(b"\x7fELF" + b"\x09" * 100)
    recs, errors = run([z, elf], catalog)
    assert recs == []
    assert len(errors) == 2
    assert errors[0].startswith(f"{z}: zip archive unreadable")
    assert errors[1].startswith(f"{elf}: ELF header has an unknown class")


def test_fifo_symlink_loop_and_missing(catalog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    loop = tmp_path / "loop"
    os.symlink(loop, loop)
    recs, errors = run([fifo, loop, tmp_path / "absent"], catalog)
    assert recs == []
    assert errors == [
        f"{fifo}: not a regular file (device, FIFO or socket); skipped",
        f"{loop}: symbolic link loop",
        f"{tmp_path / 'absent'}: not found",
    ]


def test_walk_never_follows_links_or_reads_fifos(catalog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "kav").write_bytes(fx.build_macho("com.kaspersky.kav", "2Y8XE5CQ94"))
    tree = tmp_path / "tree"
    tree.mkdir()
    os.symlink(outside, tree / "escape")
    os.symlink(tree, tree / "self")
    os.mkfifo(tree / "pipe")
    recs, errors = run([tree], catalog)
    assert recs == [] and errors == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file; the permission case cannot be built")
def test_unreadable_file(catalog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    p = tmp_path / "secret.exe"
    p.write_bytes(b"MZ" + b"\x00" * 100)
    p.chmod(0)
    recs, errors = run([p], catalog)
    assert recs == [] and len(errors) == 1 and "ermission" in errors[0]


def test_nesting_depth_is_bounded(catalog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = fx.build_macho("com.kaspersky.kav", "2Y8XE5CQ94")
    name = "kav"
    for i in range(5):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr(name, data)
        data, name = buf.getvalue(), f"l{i}.zip"
    path = tmp_path / "deep.zip"
    path.write_bytes(data)
    recs, errors = run([path], catalog)
    assert recs == []
    assert len(errors) == 1 and errors[0].endswith("archive nested more than 3 deep; not opened")
    recs, errors = run([path], catalog, Limits(max_depth=6))
    assert len(recs) == 1 and errors == []
    assert recs[0].path == f"{path}!l3.zip!l2.zip!l1.zip!l0.zip!kav"  # type: ignore[attr-defined]


def test_total_expansion_budget(catalog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "many.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for i in range(4):
            z.writestr(f"b{i}.so", ELF_HEAD + os.urandom(64 * 1024))
    _recs, errors = run([path], catalog, Limits(max_total=150 * 1024))
    assert len(errors) == 1 and "total-size limit" in errors[0]


def test_sniffing() -> None:
    assert sniff(b"MZ" + b"\x00" * 58 + b"\x40\x00\x00\x00" + b"PE\x00\x00") == FileType.PE
    assert sniff(b"\xca\xfe\xba\xbe\x00\x00\x00\x02") == FileType.MACHO_FAT
    assert sniff(b"\xca\xfe\xba\xbe\x00\x00\x00\x34") == FileType.JAVA_CLASS
    assert sniff(b"%PDF-1.7 AO Kaspersky Lab") == FileType.DOCUMENT
    assert sniff(b"avp.exe\nkavtray.exe\n") == FileType.DOCUMENT
    assert sniff("AO Kaspersky Lab".encode("utf-16-le")) == FileType.DOCUMENT
    assert sniff(b"dex\n035\x00" + b"\x00" * 8) == FileType.DEX
