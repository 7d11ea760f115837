"""What the deep scan reads and what it skips: counts, reasons, and that skipping loses nothing.

A file whose first bytes show it cannot hold code we detect is left unread past its head; an
executable or archive carrying a catalog marker is still found. The Hyperscan prefilter in
front of YARA must agree with YARA; GNU ar long names (static libraries) are members, not
hostile names; a .deb whose first file is large is no decompression bomb.
"""

from __future__ import annotations

import io
import os
import random
import tarfile
import zipfile
from pathlib import Path

import pytest

import deep_fixtures as fx
from banscan.catalog.loader import load_catalog
from banscan.catalog.schema import Catalog
from banscan.deep import DeepScanner, deep_records
from banscan.deep.stats import SKIP_REASONS
from banscan.deep.yarascan import ByteSignatures, literal_patterns, rules_source
from banscan.errors import ErrorSink

MARK = b"Kaspersky Anti-Virus Personal Root Certificate"
# An ELF header (64-bit, little-endian, no section headers) over padding, with a catalog marker.
ELF = b"\x7fELF\x02\x01\x01" + b"\x00" * 57 + b"\x00" * 200 + MARK + b"\x00" * 100
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 56


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def _tree(root: Path) -> dict[str, int]:
    """A small tree: an ELF and a zip carrying the marker, a big PNG, text, an empty file."""
    (root / "bin").mkdir(parents=True)
    (root / "share").mkdir()
    (root / "bin" / "tool").write_bytes(ELF)
    with zipfile.ZipFile(root / "share" / "bundle.zip", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("lib/agent.so", ELF)
        z.writestr("README.txt", "Kaspersky Anti-Virus Personal Root Certificate, mentioned in text")
    big = root / "share" / "photo.png"
    with big.open("wb") as fh:
        fh.write(PNG)
        fh.truncate(64 * 1024 * 1024)  # sparse: 64 MiB that must never be read
    (root / "share" / "notes.txt").write_text("AO Kaspersky Lab was in the news.\n" * 500)
    (root / "share" / "empty").write_bytes(b"")
    return {p.name: p.stat().st_size for p in root.rglob("*") if p.is_file()}


def test_counts_and_skip_reasons(catalog: Catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sizes = _tree(tmp_path / "t")
    mapped: list[int] = []
    real_map = DeepScanner._map

    def spy(fd: int):  # type: ignore[no-untyped-def]
        mapped.append(os.fstat(fd).st_size)
        return real_map(fd)

    monkeypatch.setattr(DeepScanner, "_map", staticmethod(spy))
    sink = ErrorSink(echo=False)
    scanner = DeepScanner(sink, host="h", catalog=catalog, workers=2)
    recs = list(scanner.scan_paths([tmp_path / "t"]))
    assert sink.lines == []
    hits = sorted(str(r.path) for r in recs if r.get("byte_signature"))
    assert hits == [f"{tmp_path}/t/bin/tool", f"{tmp_path}/t/share/bundle.zip!lib/agent.so"]
    # Only the ELF and the zip were read past their head; the 64 MiB PNG never was.
    assert sorted(mapped) == sorted([sizes["tool"], sizes["bundle.zip"]])
    st = scanner.stats
    assert st.files_seen == 5 == scanner.files_seen
    assert st.bytes_seen == sum(sizes.values())
    assert st.files_read == 2
    assert st.bytes_read == sizes["tool"] + sizes["bundle.zip"]
    assert st.members == 1  # lib/agent.so (README.txt is left at its head)
    assert st.skipped == {
        "not-code": [2, sizes["photo.png"] + sizes["notes.txt"]],
        "empty": [1, 0],
    }
    text = "\n".join(st.summary())
    assert "5 files" in text
    assert "read 2 files" in text and "1 archive members" in text
    assert f"{SKIP_REASONS['not-code']}: 2 (" in text
    assert f"{SKIP_REASONS['empty']}: 1 (" in text
    assert "time by kind of work" in text


def test_unreadable_and_oversized_files_are_counted(catalog: Catalog, tmp_path: Path) -> None:
    from banscan.deep.archives import Limits

    (tmp_path / "big").write_bytes(ELF + b"\x00" * 4096)
    (tmp_path / "gone").symlink_to(tmp_path / "nowhere")  # passed over by the walk
    sink = ErrorSink(echo=False)
    scanner = DeepScanner(sink, host="h", catalog=catalog, limits=Limits(max_file=1024), workers=1)
    assert list(scanner.scan_paths([tmp_path])) == []
    assert scanner.stats.skipped == {"too-big": [1, len(ELF) + 4096]}
    assert len(sink.lines) == 1 and "over the 1024-byte limit" in sink.lines[0]
    assert any("over the size limit: 1" in line for line in scanner.stats.summary())


def test_prefilter_agrees_with_yara(catalog: Catalog) -> None:
    patterns = literal_patterns(catalog)
    assert patterns is not None and MARK in patterns
    with_prefilter = ByteSignatures.from_catalog(catalog)
    yara_only = ByteSignatures(rules_source(catalog))
    rng = random.Random(7)
    samples = [
        b"",
        b"nothing here",
        rng.randbytes(100_000),
        b"x" * 10 + MARK,
        "AO Kaspersky Lab".encode("utf-16-le"),
        b"A\x00O\x00 \x00K",  # a cut wide marker
        rng.randbytes(5000) + b"kaspersky-lab-engine" + rng.randbytes(5000),
        b"AO Kaspersky La",  # one byte short
        b"ao kaspersky lab",  # YARA's text strings are case-sensitive
    ]
    for data in samples:
        for buf in (data, memoryview(data), bytearray(data)):
            assert with_prefilter.scan(buf) == yara_only.scan(data), data[:40]


def test_no_prefilter_for_hex_or_regex_signatures(catalog: Catalog) -> None:
    from banscan.catalog.schema import IdentifierKind

    product = next(
        p for p in catalog.products if any(i.kind == IdentifierKind.BYTE_SIGNATURE for i in p.identifiers)
    )
    ident = next(i for i in product.identifiers if i.kind == IdentifierKind.BYTE_SIGNATURE)
    for value in ("{ 4B 61 73 70 }", "/Kasp[e]rsky/"):
        changed = ident.model_copy(update={"value": value})
        p2 = product.model_copy(update={"identifiers": [changed]})
        cat2 = catalog.model_copy(update={"products": [p2]})
        assert literal_patterns(cat2) is None
        sig = ByteSignatures.from_catalog(cat2)
        assert [h.identifier for h in sig.scan(b"..Kaspersky..")] == [value]


def test_static_library_long_names_are_members(catalog: Catalog, tmp_path: Path) -> None:
    long_name = "a_rather_long_object_file_name_for_gnu_ar.o"
    table = f"{long_name}/\n".encode()
    lib = fx.ar_archive([("//", table), ("/0", ELF), ("short.o/", b"plain text\n")])
    path = tmp_path / "libx.a"
    path.write_bytes(lib)
    sink = ErrorSink(echo=False)
    recs = list(deep_records([path], sink, host="h", catalog=catalog))
    assert sink.lines == []
    assert [r.path for r in recs if r.get("byte_signature")] == [f"{path}!{long_name}"]


def test_large_first_member_is_no_bomb(catalog: Catalog, tmp_path: Path) -> None:
    rng = random.Random(3)
    big = ELF + rng.randbytes(20 * 1024 * 1024)  # incompressible: ~1:1
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=1) as t:
        for name, data in (("usr/bin/big", big), ("usr/bin/tool", ELF)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    path = tmp_path / "payload.tar.gz"
    path.write_bytes(buf.getvalue())
    sink = ErrorSink(echo=False)
    recs = list(deep_records([path], sink, host="h", catalog=catalog))
    assert sink.lines == []
    assert sorted(str(r.path) for r in recs if r.get("byte_signature")) == [
        f"{path}!usr/bin/big",
        f"{path}!usr/bin/tool",
    ]
