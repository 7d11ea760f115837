"""What the reader fuzzing shares (tests/test_fuzz_readers.py, bench/fuzz_readers.py): the seed
samples of each input reader and deep analyser, one mutator of bytes, and the checks one input
must pass: no exception leaves a reader, every error is one line naming the file, and the records
a reader yields go through the matcher.

The mutator takes a `random.Random`, so hypothesis drives it in the test suite (`st.randoms`,
derandomized) and a plain seeded Random drives the longer bench run.
"""

from __future__ import annotations

import io
import plistlib
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from banscan.catalog.loader import load_catalog
from banscan.errors import ErrorSink
from banscan.inputs.base import SNIFF_BYTES, InputReader
from banscan.inputs.registry import all_readers, reader_named
from banscan.match.index import CatalogIndex
from banscan.match.matcher import Matcher
from banscan.models import InventoryRecord

TESTS = Path(__file__).parent
DATA = TESTS / "data"
NAME = "fuzz-input"  # the file name every error line must start with
MAX_BYTES = 256 * 1024  # mutated inputs are cut here: a fuzz case is about shape, not size

REG_SAMPLE = (
    "Windows Registry Editor Version 5.00\r\n\r\n"
    "[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\{7EC66A95}]\r\n"
    '"DisplayName"="Kaspersky Endpoint Security for Windows"\r\n'
    '"DisplayVersion"="12.5.0.539"\r\n"Publisher"="AO Kaspersky Lab"\r\n'
    '"InstallLocation"=hex(2):43,00,3a,00,5c,00,00,00\r\n'
    '"Multi"=hex(7):61,00,00,00,62,00,00,00,00,00\r\n"EstimatedSize"=dword:00001234\r\n\r\n'
    "[-HKEY_LOCAL_MACHINE\\SOFTWARE\\Gone]\r\n"
)
REGEDIT4_SAMPLE = (
    "REGEDIT4\n\n[HKEY_CURRENT_USER\\Software\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\x]\n"
    '"DisplayName"="Kaspersky Free"\n"Publisher"="Kaspersky"\n@="default"\n'
    '"Long"=hex:01,02,\\\n  03,04\n"Text"="line one\nline two"\n'
)

# Files of tests/data by the reader that reads them (several readers share a family's files:
# a CSV reader is also fuzzed with the other CSV exports, as a forced --input-format would read them).
_FAMILY_FILES: dict[str, tuple[str, ...]] = {
    "osquery": ("inputs/osquery/*", "inputs_real/*.log"),
    "fleet": ("inputs/fleet/*",),
    "csv": ("inputs/csv/*",),
    "mdm": ("inputs/mdm/*",),
    "cyclonedx-json": ("inputs/sbom/*.cdx.json",),
    "cyclonedx-xml": ("inputs/sbom/*.cdx.xml",),
    "spdx-json": ("inputs/sbom/*.spdx.json",),
    "spdx-tag-value": ("inputs/sbom/*.spdx",),
    "spdx3-jsonld": ("inputs_real/*.spdx3.json",),
    "reg": ("inputs_real/*.reg",),
    "mobile": ("../fixtures/mobile/*",),
    "network": ("inputs/network/*",),
}
_FAMILY = {
    "intune-csv": "csv",
    "configmgr-csv": "csv",
    "jamf-csv": "csv",
    "defender-tvm-csv": "csv",
    "intune-json": "mdm",
    "jamf-json": "mdm",
    "android-pm": "mobile",
    "cfgutil-json": "mobile",
    "nmap-xml": "network",
    "snmp-walk": "network",
    "dhcpd-leases": "network",
    "dnsmasq-leases": "network",
    "netbox-csv": "network",
}


def reader_names() -> list[str]:
    return [r.name for r in all_readers()]


@cache
def seeds(reader: str) -> tuple[bytes, ...]:
    """Real samples for `reader`: its test files, and a few built here."""
    family = _FAMILY.get(reader, reader)
    out: list[bytes] = []
    for pattern in _FAMILY_FILES.get(family, ()):
        folder, _, glob = pattern.rpartition("/")
        out += [p.read_bytes() for p in sorted((DATA / folder).glob(glob)) if p.is_file()]
    if reader == "reg":
        out += [
            b"\xff\xfe" + REG_SAMPLE.encode("utf-16-le"),
            REG_SAMPLE.encode(),
            REGEDIT4_SAMPLE.encode("cp1252"),
        ]
    if not out:
        raise AssertionError(f"no seed samples for reader {reader!r}")
    return tuple(out)


# ---- deep analysers -------------------------------------------------------------------------


@cache
def deep_seeds() -> tuple[bytes, ...]:
    """Files the deep scan examines: APK, IPA, Mach-O, plists, .deb, .rpm, .pkg, archives and
    compressed files of them, and (when the build tools are installed) PE, ELF and MSI."""
    import tempfile
    import zipfile

    import deep_fixtures as fx

    elf_head = b"\x7fELF\x02\x01\x01" + b"\x00" * 57
    apk = fx.build_apk("com.kaspersky.who_calls", fx.KASPERSKY_SUBJECT, "KAV")
    macho = fx.build_macho("com.kaspersky.kav", "2Y8XE5CQ94")
    plist = plistlib.dumps({"CFBundleIdentifier": "com.kaspersky.kav", "CFBundleName": "Kaspersky"})
    ipa = io.BytesIO()
    with zipfile.ZipFile(ipa, "w") as z:
        z.writestr("Payload/KAV.app/Info.plist", plist)
        z.writestr("Payload/KAV.app/KAV", macho)
    control = fx.control_text("kesl", "12.0.0-1", "AO Kaspersky Lab", "Kaspersky Endpoint Security")
    deb = fx.build_deb(control, {"./opt/kaspersky/kesl/bin/kesl": elf_head + b"kesl"}, compression="gz")
    rpm = fx.build_rpm({"name": "kesl", "version": "12.0.0", "vendor": "AO Kaspersky Lab"})
    pkg = fx.build_pkg("com.kaspersky.kav", "21.3", "Kaspersky Internet Security")
    tar = fx.tar_bytes({"./bin/avp": elf_head + b"avp", "./etc/readme": b"hello"})
    out = [apk, macho, ipa.getvalue(), deb, rpm, pkg, tar, elf_head + b"\x00" * 200]
    out += [fx.compress(tar, how) for how in ("gz", "xz", "bz2", "zst")]
    out += [fx.compress(macho, "gz")]
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("inner/app.apk", apk)
        z.writestr("bin/avp", elf_head + b"avp")
    out.append(zipped.getvalue())
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        built: list[Path] = []
        try:
            if fx.missing(fx.MINGW_GCC, fx.MINGW_WINDRES) is None:
                built.append(
                    fx.build_pe(
                        d / "kes.exe",
                        company="AO Kaspersky Lab",
                        product="Kaspersky Endpoint Security",
                        original="avp.exe",
                        copyright="(C) AO Kaspersky Lab",
                    )
                )
            if fx.missing("gcc") is None:
                built.append(fx.build_elf(d / "kesl", "AO Kaspersky Lab"))
            if fx.missing("wixl") is None:
                built.append(
                    fx.build_msi_wixl(
                        d / "kes.msi",
                        name="Kaspersky Endpoint Security",
                        manufacturer="AO Kaspersky Lab",
                        version="12.5.0",
                        product_code="{7EC66A95-AC2D-4127-940B-0445A526AB2F}",
                    )
                )
        except Exception:  # noqa: BLE001 - a tool that fails only means fewer seeds
            pass
        out += [p.read_bytes() for p in built]
    return tuple(out)


@cache
def plist_seeds() -> tuple[bytes, ...]:
    value = {
        "CFBundleIdentifier": "com.kaspersky.kav",
        "CFBundleName": "Kaspersky",
        "CFBundleShortVersionString": "21.3",
        "nested": [{"a": [1, 2.5, True, b"\x00"]}],
    }
    return (plistlib.dumps(value), plistlib.dumps(value, fmt=plistlib.FMT_BINARY))


# ---- the mutator -----------------------------------------------------------------------------

TOKENS: tuple[bytes, ...] = (
    b"[" * 5000,
    b"{" * 300,
    b'{"a":' * 2000,
    b"[" * 129 + b"]" * 129,
    b'"',
    b"\\",
    b"\\u",
    b"\\ud800",
    b"\x00",
    b"\xff\xfe",
    b"\xfe\xff",
    b"\xef\xbb\xbf",
    b"\xed\xa0\x80",
    b"\xc3",
    b"\r",
    b"\n",
    b"\r\r\n",
    b",",
    b";",
    b"\t",
    b'"\n"',
    b"NaN",
    b"-Infinity",
    b"1e999999",
    b"-0",
    b"99999999999999999999999999",
    b"4294967295",
    b"-1",
    b"null",
    b"true",
    b"[]",
    b"{}",
    b'{"a":',
    b"<!DOCTYPE x [<!ENTITY a 'b'>]>",
    b"<![CDATA[",
    b"]]>",
    b"&amp;",
    b"&#0;",
    b"<a>" * 200,
    b"\x1f\x8b",
    b"PK\x03\x04",
    b"PK\x01\x02",
    b"\x7fELF",
    b"MZ",
    b"A" * 70_000,
    b"=" * 100,
    b"hex(7):",
    b"dword:",
    b"SPDXVersion: SPDX-2.3\n",
    b"PackageName: ",
    b"<text>",
    b"sep=;\n",
    b"#TYPE System.Data.DataRow\n",
    b"\xff" * 8,
)


def _span(rng: random.Random, size: int) -> tuple[int, int]:
    a = rng.randrange(size + 1)
    b = min(size, a + rng.choice((1, 2, 4, 8, 16, 64, 512, 4096)))
    return a, b


def mutate(rng: random.Random, data: bytes, others: tuple[bytes, ...] = ()) -> bytes:
    """1 to 4 random edits of `data`: bit flips, hostile tokens, deletions, duplications,
    truncation, a splice from another sample, a 32-bit field set to an odd value."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(8)
        size = len(buf)
        if op == 0 and size:
            for _ in range(rng.randint(1, 8)):
                buf[rng.randrange(size)] ^= 1 << rng.randrange(8)
        elif op == 1:
            at = rng.randrange(size + 1)
            buf[at:at] = rng.choice(TOKENS)
        elif op == 2 and size:
            a, b = _span(rng, size)
            del buf[a:b]
        elif op == 3 and size:
            a, b = _span(rng, size)
            at = rng.randrange(size + 1)
            buf[at:at] = bytes(buf[a:b]) * rng.choice((1, 2, 50))
        elif op == 4 and size:
            del buf[rng.randrange(size) :]
        elif op == 5 and others:
            donor = rng.choice(others)
            a, b = _span(rng, len(donor))
            at = rng.randrange(size + 1)
            buf[at:at] = donor[a:b]
        elif op == 6 and size >= 4:
            at = rng.randrange(size - 3)
            value = rng.choice((0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, size, size * 2))
            buf[at : at + 4] = value.to_bytes(4, rng.choice(("little", "big")))
        elif op == 7 and size:
            # a line (or a run of text) repeated: a netting, a header or an entry many times
            a, b = _span(rng, size)
            buf[a:a] = bytes(buf[a:b]) * rng.randint(2, 200)
    return bytes(buf[:MAX_BYTES])


# ---- the checks ------------------------------------------------------------------------------


@dataclass
class Outcome:
    records: list[InventoryRecord] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class BadErrorLine(AssertionError):
    pass


def check_lines(lines: list[str], name: str = NAME) -> None:
    """Every error is one line, and names the input."""
    for line in lines:
        if "\n" in line or "\r" in line or not line.startswith(name):
            raise BadErrorLine(f"not one line naming {name!r}: {line!r}")


@cache
def _index() -> CatalogIndex:
    return CatalogIndex(load_catalog())


def matcher() -> Matcher:
    """A matcher of its own for each input (sharing the compiled catalog): what one input's
    records do to it is that input's alone, and a long run does not keep every host name."""
    index = _index()
    return Matcher(index.catalog, index)


def _match(records: list[InventoryRecord]) -> None:
    m = matcher()
    m.add_all(records)
    m.findings()


def _stream(data: bytes) -> io.BufferedReader:
    return io.BufferedReader(io.BytesIO(data), buffer_size=SNIFF_BYTES)  # peekable, as open_input gives


def read_with(reader: InputReader | str, data: bytes) -> Outcome:
    """One input through one reader (sniff, read, match); any exception propagates."""
    r = reader_named(reader) if isinstance(reader, str) else reader
    r.sniff(data[:SNIFF_BYTES], NAME)
    sink = ErrorSink(echo=False)
    out = Outcome(records=list(r.read(_stream(data), NAME, sink, "fuzz-host")), errors=sink.lines)
    _match(out.records)
    check_lines(out.errors)
    return out


def detect_with(data: bytes) -> None:
    """Format detection (every sniffer, and a JSON object's top-level keys) on one input."""
    from banscan.inputs.registry import detect_in_stream

    reader, stream = detect_in_stream(_stream(data), data[:SNIFF_BYTES], NAME)
    stream.read()
    del reader


_CRASH_WORDS = ("parser failed", "examination failed")


@cache
def deep_scanner_sink() -> tuple[object, ErrorSink]:
    from banscan.deep import DeepScanner

    sink = ErrorSink(echo=False)
    return DeepScanner(sink, host="fuzz-host", catalog=load_catalog(), workers=1), sink


def deep_with(data: bytes) -> Outcome:
    """One input through the deep scan's examination (sniff, analysers, archives, YARA). An
    analyser that fails with anything but its documented BadInput counts as a crash."""
    from banscan.deep import DeepScanner

    scanner, sink = deep_scanner_sink()
    assert isinstance(scanner, DeepScanner)
    start = len(sink.lines)
    recs = scanner.scan_buffer(data, NAME)
    lines = sink.lines[start:]
    del sink.lines[start:]
    check_lines(lines)
    for line in lines:
        if any(w in line for w in _CRASH_WORDS):
            raise AssertionError(f"an analyser crashed: {line}")
    _match(recs)
    return Outcome(records=recs, errors=lines)


def plist_with(data: bytes) -> None:
    from banscan.deep import macho
    from banscan.deep.filetype import BadInput, Facts

    try:
        macho.apply_bundle(Facts(), macho.bundle_info(data), NAME)
    except BadInput as exc:
        check_lines([f"{NAME}: {exc}"])


Target = Callable[[bytes], object]


def _reader_check(name: str) -> Target:
    def check(data: bytes) -> Outcome:
        return read_with(name, data)

    return check


def targets() -> Iterator[tuple[str, Target, tuple[bytes, ...]]]:
    """(name, check, seeds) for everything fuzzed: each reader, detection, the deep scan, plists."""
    for name in reader_names():
        yield name, _reader_check(name), seeds(name)
    every = tuple(s for n in reader_names() for s in seeds(n))
    yield "detect", detect_with, every
    yield "deep", deep_with, deep_seeds()
    yield "plist", plist_with, plist_seeds()
