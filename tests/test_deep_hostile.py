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
from banscan.deep import Limits, deep_records
from banscan.deep.filetype import FileType, sniff
from banscan.errors import ErrorSink
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


# -- installer packages -----------------------------------------------------------------------------


def _kesl_control() -> str:
    return fx.control_text("kesl", "12.1.0.1297", "AO Kaspersky Lab <support@kaspersky.com>", "KESL")


def test_truncated_deb_keeps_its_control_record(catalog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    full = fx.build_deb(_kesl_control(), {"./opt/kaspersky/kesl/readme": os.urandom(4096)})
    path = tmp_path / "cut-data.deb"
    path.write_bytes(full[:-100])
    recs, errors = run([path], catalog)
    assert [r.name for r in recs] == ["kesl"]
    assert errors == [f"{path}!data.tar.xz: ar member is cut short"]


def test_deb_cut_inside_its_control_archive(catalog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    full = fx.build_deb(_kesl_control())
    path = tmp_path / "cut-control.deb"
    path.write_bytes(full[: full.index(b"control.tar") + 80])
    recs, errors = run([path], catalog)
    assert recs == []
    assert errors == [f"{path}!control.tar.xz: ar member is cut short"]


def test_deb_with_corrupt_control_archive(catalog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = b"\x1f\x8b\x08\x00" + os.urandom(200)
    path = tmp_path / "corrupt.deb"
    path.write_bytes(fx.build_deb(_kesl_control(), compression="gz", control_tar=bad))
    recs, errors = run([path], catalog)
    assert recs == []
    assert len(errors) == 1 and errors[0].startswith(f"{path}!control.tar.gz: control archive unreadable")


def test_deb_control_archive_bomb(catalog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import gzip

    # 64 MiB of zeros as a member before the control file: a few dozen KiB packed.
    big = fx.tar_bytes({"./md5sums": b"\x00" * (64 * 1024 * 1024), "./control": _kesl_control().encode()})
    path = tmp_path / "bomb.deb"
    path.write_bytes(fx.build_deb(_kesl_control(), compression="gz", control_tar=gzip.compress(big, 9)))
    assert path.stat().st_size < 1024 * 1024
    start = time.monotonic()
    recs, errors = run([path], catalog)
    assert time.monotonic() - start < 5
    assert recs == []
    assert len(errors) == 1
    assert errors[0].startswith(f"{path}!control.tar.gz: control archive expands past")
    assert "decompression bomb" in errors[0]


def test_deb_control_file_declaring_a_huge_size(catalog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import tarfile

    info = tarfile.TarInfo("./control")
    info.size = 3 * 1024 * 1024 * 1024
    header = info.tobuf(format=tarfile.GNU_FORMAT)
    path = tmp_path / "huge.deb"
    path.write_bytes(fx.build_deb(_kesl_control(), compression="", control_tar=header + b"Package: x\n"))
    recs, errors = run([path], catalog)
    assert recs == []
    assert len(errors) == 1 and errors[0].startswith(f"{path}!control.tar: control file declares 3221225472")


def test_ar_member_declaring_a_huge_size(catalog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = bytearray(fx.build_deb(_kesl_control()))
    at = data.index(b"data.tar.xz")
    data[at + 48 : at + 58] = b"9999999999"
    path = tmp_path / "huge-member.deb"
    path.write_bytes(bytes(data))
    recs, errors = run([path], catalog)
    assert [r.name for r in recs] == ["kesl"]
    assert errors == [f"{path}!data.tar.xz: ar member is cut short"]


def _rpm(**fields: str) -> bytes:
    return fx.build_rpm({"name": "kesl", "version": "12.1.0.1297", "release": "1", **fields})


def test_truncated_rpm(catalog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    full = _rpm(vendor="Contoso Ltd")
    path = tmp_path / "cut.rpm"
    path.write_bytes(full[:200])
    recs, errors = run([path], catalog)
    assert recs == []
    assert errors == [f"{path}: rpm header declares more data than the file holds (cut short?)"]


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ((8, b"\x7f\xff\xff\xff"), "declares 2147483647 tags, over the 65535 limit"),
        ((12, b"\x7f\xff\xff\xff"), "declares 2147483647 bytes of data, over the"),
        ((0, b"\x00\x00\x00\x00"), "has no header magic"),
    ],
)
def test_rpm_header_with_absurd_sizes(
    catalog: Catalog, tmp_path: Path, patch: tuple[int, bytes], message: str
) -> None:
    data = bytearray(_rpm(vendor="Contoso Ltd"))
    sig_len = 16 + 16 + 4  # one INT32 tag
    at = 96 + sig_len + (-(96 + sig_len) % 8)  # the header proper
    off, value = patch
    data[at + off : at + off + len(value)] = value
    path = tmp_path / "absurd.rpm"
    path.write_bytes(bytes(data))
    recs, errors = run([path], catalog)
    assert recs == []
    assert len(errors) == 1 and errors[0].startswith(f"{path}: rpm header ") and message in errors[0]


def test_rpm_tag_offsets_outside_the_header(catalog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import struct

    blob = fx.rpm_header_blob([(1000, 6, b"kesl\x00", 1)])
    blob = blob[:16] + struct.pack(">IIII", 1000, 6, 0x7FFFFFF0, 1) + blob[32:]
    sig = fx.rpm_header_blob([])
    lead = b"\xed\xab\xee\xdb\x03\x00" + b"\x00" * 90
    path = tmp_path / "offsets.rpm"
    path.write_bytes(lead + sig + blob)
    recs, errors = run([path], catalog)
    assert recs == []
    assert errors == [f"{path}: rpm header has no package name"]


def test_pkg_toc_bomb(catalog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import struct
    import zlib

    toc = b"<xar><toc>" + b" " * (64 * 1024 * 1024) + b"</toc></xar>"
    packed = zlib.compress(toc, 9)
    path = tmp_path / "bomb.pkg"
    path.write_bytes(struct.pack(">4sHHQQI", b"xar!", 28, 1, len(packed), 500, 1) + packed)
    start = time.monotonic()
    recs, errors = run([path], catalog)
    assert time.monotonic() - start < 5
    assert recs == []
    assert len(errors) == 1 and "likely decompression bomb" in errors[0] and errors[0].startswith(f"{path}: ")


def test_pkg_with_absurd_sizes(catalog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import struct

    good = fx.build_pkg("com.kaspersky.kav.core", "12.1", "Kaspersky Endpoint Security for Mac")
    huge = bytearray(good)
    huge[8:16] = struct.pack(">Q", 1 << 60)
    cut = good[:60]
    paths = []
    for name, data in (("huge.pkg", bytes(huge)), ("cut.pkg", cut)):
        p = tmp_path / name
        p.write_bytes(data)
        paths.append(p)
    recs, errors = run(paths, catalog)
    assert recs == []
    assert errors == [
        f"{paths[0]}: xar table of contents declares {1 << 60} bytes, over the limit",
        f"{paths[1]}: xar table of contents is cut short",
    ]


def test_pkg_member_offset_past_the_end(catalog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import struct
    import zlib

    info = b'<pkg-info identifier="com.kaspersky.kav.core" version="1"/>'
    dist = b"<installer-gui-script><title>Kaspersky Endpoint Security for Mac</title></installer-gui-script>"
    toc = (
        "<xar><toc>"
        '<file id="1"><name>Distribution</name><data><offset>0</offset><length>'
        f"{len(dist)}</length><size>{len(dist)}</size>"
        '<encoding style="application/octet-stream"/></data></file>'
        '<file id="2"><name>PackageInfo</name><data><offset>99999999999</offset><length>'
        f"{len(info)}</length><size>{len(info)}</size>"
        '<encoding style="application/octet-stream"/></data></file>'
        "</toc></xar>"
    ).encode()
    packed = zlib.compress(toc)
    path = tmp_path / "far.pkg"
    path.write_bytes(struct.pack(">4sHHQQI", b"xar!", 28, 1, len(packed), len(toc), 1) + packed + dist + info)
    recs, errors = run([path], catalog)
    assert [(r.kind.value, r.name) for r in recs] == [("app", "Kaspersky Endpoint Security for Mac")]  # type: ignore[attr-defined]
    assert errors == [f"{path}: xar member PackageInfo lies past the end of the file (cut short?)"]


def test_bad_installers_do_not_stop_the_scan(catalog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "a-cut.rpm").write_bytes(_rpm()[:150])
    (tmp_path / "b-cut.pkg").write_bytes(fx.build_pkg("com.kaspersky.kav.core", "1", None)[:40])
    (tmp_path / "c-good.deb").write_bytes(fx.build_deb(_kesl_control()))
    (tmp_path / "d-garbage.deb").write_bytes(b"!<arch>\ndebian-binary   " + os.urandom(300))
    recs, errors = run([tmp_path], catalog)
    assert [r.name for r in recs] == ["kesl"]  # type: ignore[attr-defined]
    assert len(errors) == 3
    assert [e.split(":", 1)[0].rsplit("/", 1)[-1].split("!")[0] for e in errors] == [
        "a-cut.rpm",
        "b-cut.pkg",
        "d-garbage.deb",
    ]
