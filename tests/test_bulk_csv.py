"""The CSV bulk path (plain chunks checked whole, the rest by the per-record reader) gives the
per-record path's records, hosts, row counts and error lines, on every spelling of an export."""

from __future__ import annotations

import csv
import gzip
import io
import json
import random
from pathlib import Path
from typing import Any, Literal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from banscan.catalog.loader import load_catalog
from banscan.errors import ErrorSink
from banscan.inputs import bulk, bulkcsv
from banscan.inputs.csvexport import IntuneCsvReader
from banscan.inputs.registry import read_target
from banscan.match.matcher import Matcher

INTUNE = [
    "ApplicationKey", "ApplicationName", "ApplicationPublisher", "ApplicationShortVersion", "ApplicationVersion",
    "DeviceId", "DeviceName", "OSDescription", "OSVersion", "Platform", "UserId", "EmailAddress", "UserName",
]  # fmt: skip
CONFIGMGR = [
    "ResourceID",
    "Netbios_Name0",
    "DisplayName0",
    "Publisher0",
    "Version0",
    "InstallDate0",
    "ProdID0",
]
DEFENDER = ["DeviceId", "DeviceName", "SoftwareVendor", "SoftwareName", "SoftwareVersion", "OSPlatform"]
JAMF = ["Computer Name", "Serial Number", "Application Title", "Application Version", "Application Path"]

APPS = [
    ("Google Chrome", "Google LLC"),
    ("Microsoft® Windows® Operating System Update", "Microsoft Corporation"),  # a common word only
    ("Zoom Workplace (64-bit)", "Zoom Video Communications, Inc."),
    ("Aktualisierung für Microsoft Office", "Microsoft Corporation"),
    ("Bitdefender Endpoint Security Tools", "Bitdefender"),
    ("ESET Endpoint Antivirus", "ESET, spol. s r.o."),
    ("7-Zip 23.01 (x64)", "Igor Pavlov"),
]
KASPERSKY = [
    ("Kaspersky Endpoint Security for Windows", "AO Kaspersky Lab"),
    ("Антивирус Касперского", "АО «Лаборатория Касперского»"),
    ("Kaspersky Security Center Network Agent", "AO Kaspersky Lab"),
]
Quoting = Literal[0, 1, 2, 3]  # csv.QUOTE_*
KES_PRODUCT_CODE = "{305A9EC9-294E-4555-A7C5-E1C767E01C11}"  # catalog: KES 11.10


@pytest.fixture(scope="module")
def catalog() -> Any:
    return load_catalog()


def _intune_row(rng: random.Random, host: int) -> list[str]:
    name, publisher = rng.choice(KASPERSKY) if rng.random() < 0.05 else rng.choice(APPS)
    return [
        f"{rng.getrandbits(64):016x}", name, publisher, "1.0", f"1.0.{rng.randint(0, 99)}",
        f"dev-{host}", f"PC-{host:04d}", "Windows 11 Enterprise", "10.0.22631", "Windows",
        f"user-{host}", f"u{host}@example.com", f"User {host}",
    ]  # fmt: skip


def _write(
    rows: list[list[str]], header: list[str], *, quoting: Quoting, delimiter: str = ",", newline: str = "\r\n"
) -> str:
    out = io.StringIO()
    writer = csv.writer(out, quoting=quoting, delimiter=delimiter, lineterminator=newline)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def _both(path: Path, reader: str, catalog: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """(per-record, bulk) outcomes: findings, hosts in order, rows counted, error lines."""

    def outcome(matcher: Matcher, records: int, errors: list[str]) -> dict[str, Any]:
        return {
            "findings": sorted(json.dumps(f.to_json(), sort_keys=True) for f in matcher.findings()),
            "hosts": list(matcher.hosts),
            "records": records,
            "errors": errors,
        }

    sink = ErrorSink(echo=False)
    target, records = read_target(str(path), sink, input_format=reader, forced=False)
    ref = Matcher(catalog)
    ref.add_all(records)
    assert target.format == reader
    sink2 = ErrorSink(echo=False)
    matcher = Matcher(catalog)
    csv_reader = bulk.csv_reader_named(reader)
    assert csv_reader is not None
    got = bulkcsv.bulk_csv_scan(str(path), matcher, sink2, csv_reader, progress=False)
    return outcome(ref, target.records, target.errors), outcome(matcher, got.records, got.errors)


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of a few lines, so that every special row meets a chunk boundary."""
    monkeypatch.setattr(bulk, "READ_BYTES", 700)


def _plain_chunks(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    seen: list[bool] = []
    real = bulkcsv.PlainCheck.check

    def spy(self: bulkcsv.PlainCheck, data: bytes) -> bulkcsv.Plain | None:
        out = real(self, data)
        seen.append(out is not None)
        return out

    monkeypatch.setattr(bulkcsv.PlainCheck, "check", spy)
    return seen


@pytest.mark.parametrize(
    ("quoting", "newline", "delimiter"),
    [
        (csv.QUOTE_ALL, "\r\n", ","),  # as Intune writes its reports
        (csv.QUOTE_ALL, "\n", ","),
        (csv.QUOTE_MINIMAL, "\n", ","),  # only fields with a comma quoted (most exporters)
        (csv.QUOTE_MINIMAL, "\r\n", ";"),
        (csv.QUOTE_NONE, "\n", "\t"),
    ],
)
def test_intune_spellings_agree(
    tmp_path: Path,
    catalog: Any,
    monkeypatch: pytest.MonkeyPatch,
    small_chunks: None,
    quoting: Quoting,
    newline: str,
    delimiter: str,
) -> None:
    rng = random.Random(7)
    rows = [_intune_row(rng, i // 5) for i in range(600)]
    if quoting == csv.QUOTE_NONE:
        rows = [[f.replace(",", " ") for f in r] for r in rows]
    path = tmp_path / "AppInvRawData.csv"
    path.write_text(
        "\ufeff" + _write(rows, INTUNE, quoting=quoting, delimiter=delimiter, newline=newline), "utf-8"
    )
    seen = _plain_chunks(monkeypatch)
    ref, got = _both(path, "intune-csv", catalog)
    assert got == ref
    assert ref["records"] == 600 and len(ref["hosts"]) == 120
    assert any("kaspersky" in f for f in ref["findings"])
    if quoting != csv.QUOTE_MINIMAL:
        assert seen and sum(seen) >= len(seen) - 1  # the fast path took (nearly) every chunk


def test_plain_chunks_make_records_only_for_candidates(tmp_path: Path, catalog: Any) -> None:
    rng = random.Random(3)
    rows = [_intune_row(rng, i // 20) for i in range(4000)]
    path = tmp_path / "apps.csv"
    path.write_text(_write(rows, INTUNE, quoting=csv.QUOTE_ALL), "utf-8")
    matcher = Matcher(catalog)
    target = bulkcsv.bulk_csv_scan(str(path), matcher, ErrorSink(echo=False), IntuneCsvReader())
    kaspersky_rows = sum(1 for r in rows if (r[1], r[2]) in KASPERSKY)
    assert target.records == 4000 and len(matcher.hosts) == 200
    # Only candidate rows became records: the Kaspersky ones, not "Microsoft® Windows® …" (a
    # common word only), nor Bitdefender or ESET "Endpoint" products.
    assert matcher.records == kaspersky_rows
    assert {f.host for f in matcher.findings()} == {r[6] for r in rows if (r[1], r[2]) in KASPERSKY}


SPECIALS = [
    "embedded-newline",
    "escaped-quote",
    "blank-name",
    "blank-host",
    "short-row",
    "long-row",
    "trailing-empty",
    "cp1252",
    "blank-line",
    "spaces",
    "quoted-host",
    "quoted-name",
    "shifted-pair",
]


def _special(kind: str, row: list[str]) -> list[list[str]] | str:
    """Rows (or a raw line) standing in for `row`."""
    r = list(row)
    if kind == "embedded-newline":
        r[1] = "Kaspersky Endpoint\nSecurity for Windows"
    elif kind == "escaped-quote":
        r[1] = 'Kaspersky "Endpoint" Security'
    elif kind == "blank-name":
        r[1] = " "
    elif kind == "blank-host":
        r[6] = ""
    elif kind == "short-row":
        r = r[:5]
    elif kind == "long-row":
        r = [*r, "extra"]
    elif kind == "trailing-empty":
        r = [*r, "", ""]
    elif kind == "cp1252":
        return "CP1252"
    elif kind == "blank-line":
        return ""
    elif kind == "spaces":
        r[6] = f"  {r[6]}  "
        r[1] = f" {r[1]} "
    elif kind == "quoted-host":  # a quote inside a field of a row with no token
        r[6] = f'PC "{r[6]}", lab'
    elif kind == "quoted-name":  # quote-separator-quote inside a field
        r[1] = 'Foo","Bar'
    elif kind == "shifted-pair":  # one field too many, then one too few: the totals still fit
        return [[*r[:6], "x", *r[6:]], r[:-1]]
    return [r]


@pytest.mark.parametrize("seed", range(16))
def test_irregular_rows_anywhere_agree(
    tmp_path: Path, catalog: Any, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    """Random files mixing plain rows with every kind of irregular row, at random chunk sizes."""
    rng = random.Random(seed)
    monkeypatch.setattr(bulk, "READ_BYTES", rng.choice([64, 500, 2000, 9000]))
    quoting: Quoting = rng.choice([csv.QUOTE_ALL, csv.QUOTE_MINIMAL])
    newline = rng.choice(["\n", "\r\n"])
    out = io.BytesIO()
    out.write(_write([], INTUNE, quoting=quoting, newline=newline).encode())
    for i in range(400):
        row = _intune_row(rng, i // 4)
        special = _special(rng.choice(SPECIALS), row) if rng.random() < 0.05 else [row]
        if special == "CP1252":
            out.write(
                b'"k","Caf\xe9 Kaspersky","x","1","1","d","PC-9999","w","1","Windows","u","e","n"'
                + newline.encode()
            )
        elif special == "":
            out.write(newline.encode())
        else:
            assert isinstance(special, list)
            buf = io.StringIO()
            csv.writer(buf, quoting=quoting, lineterminator=newline).writerows(special)
            out.write(buf.getvalue().encode())
    if rng.random() < 0.3:
        out.write(b'"k","Kaspersky Endpoint Security, cut')  # a truncated last row
    path = tmp_path / "apps.csv"
    path.write_bytes(out.getvalue())
    ref, got = _both(path, "intune-csv", catalog)
    assert got == ref


def test_nul_and_over_long_lines_stop_as_the_reader_does(
    tmp_path: Path, catalog: Any, monkeypatch: pytest.MonkeyPatch, small_chunks: None
) -> None:
    rng = random.Random(5)
    head = _write([_intune_row(rng, i) for i in range(50)], INTUNE, quoting=csv.QUOTE_ALL).encode()
    tail = _write([_intune_row(rng, 100 + i) for i in range(50)], INTUNE, quoting=csv.QUOTE_ALL).encode()
    tail = tail[tail.index(b"\n") + 1 :]
    nul = tmp_path / "nul.csv"
    nul.write_bytes(head + b'"a","b\x00"\r\n' + tail)
    ref, got = _both(nul, "intune-csv", catalog)
    assert got == ref and any("binary data" in e for e in ref["errors"])
    from banscan.inputs import csvsniff

    monkeypatch.setattr(csvsniff, "MAX_LINE_BYTES", 3000)
    monkeypatch.setattr(bulkcsv, "MAX_LINE_BYTES", 3000)
    long = tmp_path / "long.csv"
    long.write_bytes(head + b'"k","' + b"x" * 5000 + b'"\r\n' + tail)
    ref, got = _both(long, "intune-csv", catalog)
    assert got == ref and any("longer than" in e for e in ref["errors"])


def test_other_exports_agree(tmp_path: Path, catalog: Any, small_chunks: None) -> None:
    rng = random.Random(11)
    configmgr = []
    for i in range(300):
        name, publisher = rng.choice(APPS)
        code = KES_PRODUCT_CODE if i % 97 == 5 else f"{{00000000-0000-0000-0000-{i:012d}}}"
        host = "NULL" if i % 50 == 7 else f"WS-{i // 6:03d}"  # SQL's NULL: the ResourceID names it
        configmgr.append([str(16777216 + i // 6), host, name, publisher, "1.0", "20240101", code])
    path = tmp_path / "v_GS_ADD_REMOVE_PROGRAMS.csv"
    path.write_text(_write(configmgr, CONFIGMGR, quoting=csv.QUOTE_MINIMAL, newline="\n"), "utf-8")
    ref, got = _both(path, "configmgr-csv", catalog)
    assert got == ref and any("ResourceID-" in h for h in ref["hosts"])
    assert any(KES_PRODUCT_CODE in f for f in ref["findings"])  # found by its product code alone

    defender = []
    for i in range(300):
        vendor, name = (
            ("kaspersky_lab", "endpoint_security_for_windows") if i % 71 == 3 else ("google", "chrome")
        )
        defender.append([f"d{i // 3}", f"host-{i // 3}.corp", vendor, name, "12.5", "Windows11"])
    path = tmp_path / "DeviceTvmSoftwareInventory.csv"
    path.write_text(_write(defender, DEFENDER, quoting=csv.QUOTE_ALL), "utf-8")
    ref, got = _both(path, "defender-tvm-csv", catalog)
    assert got == ref and ref["findings"]

    jamf = []
    for i in range(300):
        title = "Kaspersky Security Cloud.app" if i % 83 == 2 else "Safari.app"
        jamf.append([f"MAC-{i // 4}", f"C02{i:05d}", title, "18.2", f"/Applications/{title}"])
    path = tmp_path / "jamf.csv"
    path.write_text(_write(jamf, JAMF, quoting=csv.QUOTE_NONE, newline="\n"), "utf-8")
    ref, got = _both(path, "jamf-csv", catalog)
    assert got == ref and ref["findings"]


@pytest.mark.parametrize("suffix", [".gz", ".zst"])
def test_compressed_exports_agree(tmp_path: Path, catalog: Any, small_chunks: None, suffix: str) -> None:
    rng = random.Random(13)
    text = _write([_intune_row(rng, i // 3) for i in range(900)], INTUNE, quoting=csv.QUOTE_ALL).encode()
    path = tmp_path / f"AppInvRawData.csv{suffix}"
    if suffix == ".gz":
        path.write_bytes(gzip.compress(text))
    else:
        import zstandard

        path.write_bytes(zstandard.ZstdCompressor().compress(text))
    ref, got = _both(path, "intune-csv", catalog)
    assert got == ref and got["records"] == 900


def test_header_only_and_utf16(tmp_path: Path, catalog: Any) -> None:
    path = tmp_path / "empty.csv"
    path.write_text(",".join(INTUNE) + "\r\n", "utf-8")
    ref, got = _both(path, "intune-csv", catalog)
    assert got == ref and got["records"] == 0
    rng = random.Random(2)
    utf16 = tmp_path / "utf16.csv"
    utf16.write_text(
        _write([_intune_row(rng, i) for i in range(40)], INTUNE, quoting=csv.QUOTE_ALL), "utf-16"
    )
    ref, got = _both(utf16, "intune-csv", catalog)
    assert got == ref and got["records"] == 40


def test_scan_takes_the_csv_bulk_path_for_large_exports(
    tmp_path: Path, catalog: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import date

    from banscan.scan import ScanOptions, run_scan

    rng = random.Random(17)
    path = tmp_path / "AppInvRawData.csv"
    path.write_text(
        _write([_intune_row(rng, i // 4) for i in range(800)], INTUNE, quoting=csv.QUOTE_ALL), "utf-8"
    )
    opts = ScanOptions(as_of=date(2026, 12, 3), echo_errors=False)
    before = run_scan(catalog, opts, inputs=[str(path)])
    calls: list[str] = []
    real = bulkcsv.bulk_csv_scan

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(bulkcsv, "bulk_csv_scan", spy)
    assert not bulk.should_use_bulk(str(path), "intune-csv")  # small: record by record
    monkeypatch.setattr(bulk, "CSV_BULK_MIN_BYTES", 1000)
    assert bulk.should_use_bulk(str(path), "intune-csv")
    after = run_scan(catalog, opts, inputs=[str(path)])
    assert calls == [str(path)]
    assert [f.to_json() for f in after.findings] == [f.to_json() for f in before.findings]
    assert after.hosts == before.hosts and after.targets[0].records == before.targets[0].records == 800


# ---- differential: random byte-level damage --------------------------------------------------

_FRAGMENTS = [
    b'"', b'""', b",", b";", b"\n", b"\r\n", b"\r", b"\x00", b"\xe9", b"\xef\xbb\xbf", b" ", b"\t",
    b"Kaspersky", b"Endpoint Security", b"NULL", b"PC-1", "Касперского".encode(), b"\\u041a", b"x" * 40,
]  # fmt: skip


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(st.integers(min_value=0, max_value=10**6), st.sampled_from(_FRAGMENTS)), max_size=6),
    st.integers(min_value=0, max_value=3),
    st.sampled_from([64, 300, 5000]),
)
def test_damaged_exports_agree(edits: list[tuple[int, bytes]], seed: int, read_bytes: int) -> None:
    """Plain exports with fragments spliced in anywhere (quotes, separators, line breaks, NUL,
    cp1252, BOMs, Cyrillic): the bulk path reads exactly what the per-record reader reads."""
    import tempfile

    rng = random.Random(seed)
    quoting: Quoting = csv.QUOTE_ALL if seed % 2 else csv.QUOTE_NONE
    rows = [_intune_row(rng, i // 3) for i in range(60)]
    if quoting == csv.QUOTE_NONE:
        rows = [[f.replace(",", " ") for f in r] for r in rows]
    data = bytearray(_write(rows, INTUNE, quoting=quoting).encode())
    header_end = data.index(b"\n") + 1
    for at, fragment in edits:
        pos = header_end + at % (len(data) - header_end + 1)
        data[pos:pos] = fragment
    old = bulk.READ_BYTES
    bulk.READ_BYTES = read_bytes
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "AppInvRawData.csv"
            path.write_bytes(bytes(data))
            ref, got = _both(path, "intune-csv", _CATALOG)
    finally:
        bulk.READ_BYTES = old
    assert got == ref


_CATALOG = load_catalog()
