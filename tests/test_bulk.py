"""The bulk path (one-pass prefilter and host count, per-record reader on kept lines) agrees with the
per-record path."""

from __future__ import annotations

import gzip
import json
import os
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from banscan.catalog.loader import load_catalog
from banscan.errors import ErrorSink
from banscan.inputs import bulk
from banscan.inputs.registry import read_target
from banscan.match.matcher import Matcher
from banscan.models import ScanResult
from banscan.scan import ScanOptions, finish, run_scan

AS_OF = date(2025, 1, 15)


def _osquery_ready() -> bool:
    try:
        from banscan.inputs.osquery import READERS, records_from_lines  # noqa: F401
    except ImportError:
        return False
    return True


pytestmark = pytest.mark.skipif(not _osquery_ready(), reason="the osquery reader is not in this tree")

PLAIN = [
    ("programs", {"name": "Google Chrome", "version": "131.0", "publisher": "Google LLC", "identifying_number": "{A}", "uninstall_string": "x"}),
    ("programs", {"name": "Norton 360", "version": "22.24", "publisher": "Gen Digital Inc.", "identifying_number": "{B}", "uninstall_string": "x"}),
    ("programs", {"name": "Microsoft® Visual C++ 2015 Redistributable", "version": "14.0", "publisher": "Microsoft Corporation", "identifying_number": "{C}", "uninstall_string": "x"}),
    ("deb_packages", {"name": "curl", "version": "8.5.0", "maintainer": "Ubuntu Developers", "status": "install ok installed", "arch": "amd64"}),
    ("deb_packages", {"name": "clamav", "version": "1.0.7", "maintainer": "ClamAV Team", "status": "install ok installed", "arch": "amd64"}),
    ("apps", {"name": "Safari.app", "bundle_identifier": "com.apple.Safari", "bundle_executable": "Safari", "bundle_short_version": "18.2"}),
    ("chrome_extensions", {"name": "uBlock Origin", "identifier": "cjpalhdlnbpafiamejdnhcphjbkeiagm", "browser_type": "chrome", "version": "1.61"}),
    ("processes", {"pid": "1", "name": "svchost.exe", "path": "C:\\Windows\\System32\\svchost.exe", "cmdline": "svchost.exe -k netsvcs", "parent": "0"}),
    # decoys: a Kaspersky review open in a PDF reader, a security product from another vendor
    ("processes", {"pid": "7", "name": "Acrobat.exe", "path": "C:\\Program Files\\Adobe\\Acrobat.exe", "cmdline": '"Acrobat.exe" "C:\\Users\\jo\\Kaspersky review.pdf"', "parent": "1"}),
    ("programs", {"name": "Bitdefender Endpoint Security Tools", "version": "7.9", "publisher": "Bitdefender", "identifying_number": "{D}", "uninstall_string": "x"}),
]  # fmt: skip
KASPERSKY = [
    ("programs", {"name": "Kaspersky Endpoint Security for Windows", "version": "12.6.0.438", "publisher": "AO Kaspersky Lab", "identifying_number": "{K1}", "uninstall_string": "x"}),
    ("programs", {"name": "Антивирус Касперского", "version": "21.3.10.391", "publisher": "АО «Лаборатория Касперского»", "identifying_number": "{K2}", "uninstall_string": "x"}),
    ("deb_packages", {"name": "kesl", "version": "12.1.0-1297", "maintainer": "AO Kaspersky Lab", "status": "install ok installed", "arch": "amd64"}),
    ("apps", {"name": "Kaspersky Security Cloud.app", "bundle_identifier": "com.kaspersky.security.cloud", "bundle_executable": "Kaspersky Security Cloud", "bundle_short_version": "21.4"}),
    ("chrome_extensions", {"name": "Kaspersky Protection", "identifier": "amkpcclbbgegoafihnpgomddadjhcadd", "browser_type": "chrome", "version": "4.0"}),
    ("processes", {"pid": "4312", "name": "avp.exe", "path": "C:\\Program Files (x86)\\Kaspersky Lab\\KES.12.6.0\\avp.exe", "cmdline": "avp.exe -r", "parent": "752"}),
]  # fmt: skip


def _event(host: int, counter: int, table: str, cols: dict[str, str], action: str, *, escape: bool) -> str:
    obj = {
        "name": f"pack_inventory_{table}",
        "hostIdentifier": f"uuid-{host:04d}",
        "calendarTime": "Mon Jan 13 10:00:00 2025 UTC",
        "unixTime": 1736762400,
        "epoch": 0,
        "counter": counter,
        "numerics": False,
        "decorations": {"host_uuid": f"UUID-{host:04d}", "hostname": f"host-{host:04d}"},
        "columns": cols,
        "action": action,
    }
    if host % 7 == 3:
        del obj["decorations"]  # named by hostIdentifier
    return json.dumps(obj, ensure_ascii=escape, separators=(",", ":"))


def _fleet(path: Path, hosts: int = 40) -> Path:
    lines: list[str] = []
    counter = 0
    for h in range(hosts):
        rows = [(t, c, "added") for t, c in PLAIN]
        if h % 5 == 1:  # Kaspersky hosts: one or two tables each
            rows += [(t, c, "added") for t, c in KASPERSKY[h % len(KASPERSKY) :][:2]]
        if h % 9 == 2:  # added, then removed: gone by the end of the log
            rows += [
                (KASPERSKY[0][0], KASPERSKY[0][1], "added"),
                (KASPERSKY[0][0], KASPERSKY[0][1], "removed"),
            ]
        for table, cols, action in rows:
            counter += 1
            lines.append(_event(h, counter, table, cols, action, escape=h % 4 == 0))
        if h == 11:
            lines.append("")  # an empty line and a bad one: numbering must not shift
            lines.append(
                '{"name": "broken", "hostIdentifier": "uuid-0011", "columns": {"name": "Kaspersky Free"'
            )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _per_record(path: Path) -> ScanResult:
    return run_scan(load_catalog(), ScanOptions(as_of=AS_OF, echo_errors=False), inputs=[str(path)])


def _bulk(path: Path, workers: int | None = None) -> tuple[ScanResult, ErrorSink]:
    catalog = load_catalog()
    matcher = Matcher(catalog)
    sink = ErrorSink(echo=False)
    target = bulk.bulk_scan(str(path), matcher, sink, "osquery", workers=workers)
    return finish(catalog, matcher, [target], ScanOptions(as_of=AS_OF, echo_errors=False)), sink


def _key(result: ScanResult) -> set[tuple[object, ...]]:
    return {
        (
            f.host,
            f.product,
            f.verdict,
            f.confidence,
            frozenset((e.kind, e.value, e.location, e.confidence, e.identifier) for e in f.evidence),
        )
        for f in result.findings
    }


def _compressed(path: Path, compress: str) -> Path:
    if compress == "gz":
        out = path.with_name(path.name + ".gz")
        out.write_bytes(gzip.compress(path.read_bytes()))
    elif compress == "zst":
        import zstandard

        out = path.with_name(path.name + ".zst")
        out.write_bytes(zstandard.ZstdCompressor().compress(path.read_bytes()))
    else:
        return path
    path.unlink()
    return out


@pytest.mark.parametrize(
    ("compress", "workers", "hyperscan", "read_bytes"),
    [
        ("", 1, True, None),
        ("", 3, True, 4096),  # several processes, many small chunks
        ("", 2, False, 8192),  # without hyperscan
        ("gz", 1, True, 5000),
        ("zst", 1, False, None),
        ("gz", 2, True, 3000),  # two processes, each inflating it all and scanning every other chunk
        ("zst", 3, False, 2000),
    ],
)
def test_bulk_agrees_with_per_record_path(
    tmp_path: Path,
    compress: str,
    workers: int,
    hyperscan: bool,
    read_bytes: int | None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if hyperscan:
        pytest.importorskip("hyperscan")
    else:
        monkeypatch.setitem(sys.modules, "hyperscan", None)  # as if not installed
    if read_bytes:
        monkeypatch.setattr(bulk, "READ_BYTES", read_bytes)
    monkeypatch.setattr(bulk, "_per_record", _no_fallback)
    path = _compressed(_fleet(tmp_path / "results.log"), compress)
    slow = _per_record(path)
    fast, sink = _bulk(path, workers=workers)
    assert slow.findings, "the fixture must produce findings"
    assert _key(fast) == _key(slow)
    assert fast.summary()["hosts"] == slow.summary()["hosts"] == 40
    assert fast.summary() | {"generated_at": 0} == slow.summary() | {"generated_at": 0}
    assert {f.host for f in fast.findings} == {
        f"host-{h:04d}" if h % 7 != 3 else f"uuid-{h:04d}" for h in range(40) if h % 5 == 1
    }
    # The broken line is reported with its own line number, as by the per-record path.
    bad = [e for e in slow.targets[0].errors if "not valid JSON" in e]
    assert bad and bad == [e for e in sink.lines if "not valid JSON" in e]
    if not compress:
        assert fast.targets[0].records == len(path.read_bytes().splitlines())


def _no_fallback(*args: object) -> None:
    raise AssertionError("the bulk path fell back to the per-record path")


def _programs_line(host: dict[str, object], name: str) -> str:
    cols = {
        "name": name,
        "version": "1.0",
        "publisher": "Vendor",
        "identifying_number": "{X}",
        "uninstall_string": "x",
    }
    return json.dumps({"name": "pack_inventory_programs", **host, "calendarTime": "Mon Jan 13 10:00:00 2025 UTC", "columns": cols, "action": "added"}, separators=(",", ":"))  # fmt: skip


# Lines naming their host in every way osquery's reader knows, in runs and interleaved.
ODD_HOSTS: list[dict[str, object]] = [
    {"hostIdentifier": "plain-id"},
    {"hostIdentifier": "id-with-deco", "decorations": {"host_uuid": "U1", "hostname": "deco-name"}},
    {"hostIdentifier": "id-deco-without-name", "decorations": {"host_uuid": "U2"}},
    {"hostIdentifier": "id-empty-name", "decorations": {"hostname": ""}},
    {"hostIdentifier": 'quote"d\\id', "decorations": {"hostname": 'na\\"me'}},
    {"hostIdentifier": "ascii", "decorations": {"hostname": "hôte-été"}},
    {"hostIdentifier": "nested", "decorations": {"hostname": "brace}name", "x": "{"}},
    {"hostIdentifier": ""},
    {"hostname": "old-style-hostname"},
    {},
    {"decorations": {"hostname": 7}, "hostIdentifier": "numeric-deco"},
]


@pytest.mark.parametrize("hyperscan", [True, False])
def test_hosts_are_named_as_the_reader_names_them(
    tmp_path: Path, hyperscan: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if hyperscan:
        pytest.importorskip("hyperscan")
    else:
        monkeypatch.setitem(sys.modules, "hyperscan", None)  # as if not installed
    monkeypatch.setattr(bulk, "READ_BYTES", 3000)
    lines = []
    for i in range(6):
        for h in ODD_HOSTS:  # interleaved
            lines.append(_programs_line(h, f"Tool {i}"))
    for h in ODD_HOSTS:  # in runs
        lines += [_programs_line(h, f"App {i}") for i in range(30)]
    lines.append(_programs_line(ODD_HOSTS[1], "Kaspersky Free"))
    path = tmp_path / "odd.log"
    path.write_text("\n".join(lines), encoding="utf-8")  # no final newline
    slow = _per_record(path)
    catalog = load_catalog()
    matcher = Matcher(catalog)
    target = bulk.bulk_scan(str(path), matcher, ErrorSink(echo=False), "osquery", workers=2)
    assert set(matcher.hosts) == set(slow.hosts) and len(slow.hosts) == len(ODD_HOSTS) - 1
    assert target.records == len(lines)
    assert {f.host for f in slow.findings} == {"deco-name"}


def test_bulk_reads_invalid_utf8_as_the_reader_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bulk, "_per_record", _no_fallback)
    path = _fleet(tmp_path / "results.log", hosts=6)
    path.write_bytes(path.read_bytes() + b'{"hostIdentifier":"h\xff","columns":{"name":"Tool \xfe"}}\n')
    slow = _per_record(path)
    fast, sink = _bulk(path)
    assert _key(fast) == _key(slow)
    assert fast.summary()["hosts"] == slow.summary()["hosts"]
    utf8 = [e for e in slow.targets[0].errors if "UTF-8" in e]
    assert utf8 and utf8 == [e for e in sink.lines if "UTF-8" in e]


def test_bulk_falls_back_for_a_line_over_the_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _fleet(tmp_path / "results.log", hosts=6)
    longest = max(len(line) for line in path.read_bytes().splitlines())
    monkeypatch.setattr(bulk, "MAX_LINE_BYTES", longest)
    monkeypatch.setattr(bulk, "READ_BYTES", longest)
    calls: list[object] = []
    original = bulk._per_record

    def spy(*args: Any) -> Any:
        calls.append(args)
        return original(*args)

    monkeypatch.setattr(bulk, "_per_record", spy)
    slow = _per_record(path)
    fast, _ = _bulk(path)
    assert calls
    assert _key(fast) == _key(slow)


@pytest.mark.skipif(not bulk.hyperscan_available(), reason="hyperscan is not installed")
def test_scanners_agree(tmp_path: Path) -> None:
    """Hyperscan and the plain scanner find the same candidate lines."""
    from banscan.match.prefilter import prefilter_for

    path = _fleet(tmp_path / "results.log", hosts=20)
    data = bytearray(path.read_bytes() + "Kaspersky für ЛАБОРАТОРИЯ \\u041a\n".encode())
    pf = prefilter_for(load_catalog())

    def lines(offsets: list[int]) -> set[int]:
        return {data.rfind(b"\n", 0, o) + 1 for o in offsets}

    hs = bulk.make_scanner(pf, use_hyperscan=True).scan(data, len(data))
    for plain_scanner in (bulk.PlainScanner(pf), bulk.PlainScanner(pf, use_yara=False)):
        plain = plain_scanner.scan(data, len(data))
        assert lines(hs.token) == lines(plain.token) and hs.token
        assert lines(hs.fold) == lines(plain.fold) and hs.fold


def test_plain_scanner_without_yara_limits() -> None:
    """More hits of one token than YARA records: Aho-Corasick takes over for that chunk."""
    from banscan.match.prefilter import prefilter_for

    scanner = bulk.PlainScanner(prefilter_for(load_catalog()))
    data = bytearray(b"kav " * 1_100_000 + b"\n" + b"x" * 10 + b"\n")
    hits = scanner.scan(data, len(data))
    assert len(hits.token) == 1_100_000


def test_should_use_bulk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _fleet(tmp_path / "results.log", hosts=3)
    assert not bulk.should_use_bulk(str(path), "osquery")  # small
    monkeypatch.setattr(bulk, "BULK_MIN_BYTES", 10)
    assert bulk.should_use_bulk(str(path), "osquery")
    assert not bulk.should_use_bulk(str(path), "csv")
    assert not bulk.should_use_bulk("-", "osquery")
    array = tmp_path / "osqueryi.json"
    array.write_text("[" + ",".join(json.dumps(c) for _, c in PLAIN * 3) + "]")
    assert not bulk.should_use_bulk(str(array), "osquery")


def test_scan_takes_the_bulk_path_for_large_logs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _fleet(tmp_path / "results.log", hosts=12)
    slow = _per_record(path)
    taken: list[str] = []
    real = bulk.bulk_scan

    def spy(*args: object, **kw: object) -> object:
        taken.append(str(args[0]))
        return real(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(bulk, "BULK_MIN_BYTES", 10)
    monkeypatch.setattr(bulk, "bulk_scan", spy)
    fast = _per_record(path)
    assert taken == [str(path)]
    assert _key(fast) == _key(slow) and slow.findings


def _respell(path: Path, how: str) -> Path:
    """The same log in another valid spelling of JSON Lines."""
    out: list[str] = []
    for line in path.read_text(encoding="utf-8").split("\n"):
        try:
            obj = json.loads(line)
        except ValueError:
            out.append(line)  # the empty and the broken line stay as they are
            continue
        if how == "spaced":  # json.dumps's own default: a space after ':' and ','
            out.append(json.dumps(obj, ensure_ascii=False))
        elif how == "columns-first":  # hostIdentifier and decorations after the columns
            first = {k: obj[k] for k in ("columns", "action", "name") if k in obj}
            out.append(json.dumps({**first, **obj}, ensure_ascii=False, separators=(",", ":")))
        elif how == "no-decorations":
            obj.pop("decorations", None)
            out.append(json.dumps(obj, ensure_ascii=False, indent=None, separators=(", ", ": ")))
        else:
            raise AssertionError(how)
    text = "\n".join(out)
    respelled = path.with_name(f"{how}.log")
    respelled.write_bytes(text.encode("utf-8"))
    return respelled


@pytest.mark.parametrize("how", ["spaced", "columns-first", "no-decorations", "crlf"])
def test_every_spelling_keeps_the_fast_host_count(
    tmp_path: Path, how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Spaces after ':' and ',', other key orders, CRLF line ends and logs without decorations
    name their hosts from the bytes of each run, as compact osqueryd lines do: only the lines
    that are not JSON objects are parsed one by one."""
    compact = _fleet(tmp_path / "fleet.log")
    if how == "crlf":
        path = tmp_path / "crlf.log"
        path.write_bytes(compact.read_bytes().replace(b"\n", b"\r\n"))
    else:
        path = _respell(compact, how)
    parsed: list[bytes] = []
    slow = bulk._Hosts._slow

    def counting(self: Any, line: bytes) -> str:
        parsed.append(line)
        return slow(self, line)

    monkeypatch.setattr(bulk._Hosts, "_slow", counting)
    monkeypatch.setattr(bulk, "READ_BYTES", 4096)
    monkeypatch.setattr(bulk, "_per_record", _no_fallback)
    result, sink = _bulk(path, workers=1)
    expected = _per_record(path)
    assert _key(result) == _key(expected) and result.findings
    assert result.summary() | {"generated_at": 0} == expected.summary() | {"generated_at": 0}
    assert result.summary()["hosts"] == 40
    bad = [e for e in expected.targets[0].errors if "not valid JSON" in e]
    assert bad and bad == [e for e in sink.lines if "not valid JSON" in e]
    # Parsed one by one: only the empty line and the broken one.
    assert [p.strip()[:18] for p in parsed] == [b"", b'{"name": "broken",'], [p[:80] for p in parsed]


# ---- differential: damaged logs -------------------------------------------------------------

_DAMAGE = [
    "cut",
    "cut-run-on",
    "run-on",
    "nul",
    "nul-tail",
    "blank",
    "crlf",
    "cp1252",
    "prefix",
    "repeat-host",
]


def _damage(lines: list[bytes], how: str, i: int, at: int) -> None:
    """Damage lines[i] as logs get damaged: a writer cut off (with or without its newline), a
    lost newline, a crash's NUL padding, blank lines, CRLF, a cp1252 byte, text before the
    object, a record written twice into one line."""
    line = lines[i]
    cut = at % (len(line) + 1)
    if how == "cut":
        lines[i] = line[:cut]
    elif how == "cut-run-on" and i + 1 < len(lines):
        lines[i : i + 2] = [line[:cut] + lines[i + 1]]
    elif how == "run-on" and i + 1 < len(lines):
        lines[i : i + 2] = [line + lines[i + 1]]
    elif how == "nul":
        lines.insert(i, b"\x00" * (1 + at % 64))
    elif how == "nul-tail":
        lines[i] = line[:cut] + b"\x00" * (len(line) - cut)
    elif how == "blank":
        lines.insert(i, b"")
    elif how == "crlf":
        lines[i] = line + b"\r"
    elif how == "cp1252":
        lines[i] = line.replace(b"Chrome", b"Chr\xf4me")
    elif how == "prefix":
        lines[i] = b"123" + line
    elif how == "repeat-host":
        lines[i] = line[:cut] + line
    else:
        lines[i] = line


@settings(
    max_examples=int(os.environ.get("BANSCAN_EXAMPLES", 60)),
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    st.lists(
        st.tuples(st.sampled_from(_DAMAGE), st.integers(min_value=0, max_value=10**4), st.integers(0, 10**4)),
        min_size=1,
        max_size=6,
    ),
    st.sampled_from([1, 2]),
    st.sampled_from([700, 3000, 100_000]),
    st.booleans() if bulk.hyperscan_available() else st.just(False),
)
def test_damaged_logs_agree(
    edits: list[tuple[str, int, int]], workers: int, read_bytes: int, hyperscan: bool
) -> None:
    """Result logs damaged as logs get damaged: the bulk path finds, names and reports exactly
    what the per-record reader does (every damaged line is one error line, with its number)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = _fleet(Path(tmp) / "results.log", hosts=12)
        lines = path.read_bytes().split(b"\n")[:-1]
        for how, i, at in edits:
            _damage(lines, how, i % len(lines), at)
        path.write_bytes(b"\n".join(lines) + b"\n")
        saved = sys.modules.get("hyperscan")
        if not hyperscan:
            sys.modules["hyperscan"] = None  # type: ignore[assignment]  # as if not installed
        try:
            ref, got = _both(path, workers, read_bytes)
        finally:
            if saved is not None:
                sys.modules["hyperscan"] = saved
            else:
                sys.modules.pop("hyperscan", None)
    assert got == ref


_SPLICES = [
    b"{", b"}", b'"', b",", b":", b"\n", b"\r\n", b"\x00" * 30, b"\xe9", b"\\", b"\\u041a", b" ", b"[", b"]",
    b"123", b'{"name":"x"}', b'"hostIdentifier":"intruder",', b'"decorations":{"hostname":"d"},',
    b"Kaspersky", "Касперского".encode(), b'{"hostIdentifier":"cut-', b"x" * 40,
]  # fmt: skip


@settings(
    max_examples=int(os.environ.get("BANSCAN_EXAMPLES", 40)),
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    st.lists(st.tuples(st.integers(min_value=0, max_value=10**6), st.sampled_from(_SPLICES)), max_size=6),
    st.sampled_from([1, 2]),
    st.sampled_from([700, 100_000]),
)
def test_spliced_logs_keep_findings(edits: list[tuple[int, bytes]], workers: int, read_bytes: int) -> None:
    """Bytes spliced in anywhere (braces, quotes, keys inside strings): the bulk path still finds
    exactly what the reader finds, and every error line it gives the reader gives. (A line
    that keeps the shape of a record, with a stray quote inside a string, say, is counted for
    its host without being parsed: README, "Large osquery logs".)"""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = _fleet(Path(tmp) / "results.log", hosts=12)
        data = bytearray(path.read_bytes())
        first = data.index(b"\n") + 1  # the first line stays whole: a `[` there makes it a JSON array
        for at, fragment in edits:
            pos = first + at % (len(data) - first + 1)
            data[pos:pos] = fragment
        path.write_bytes(bytes(data))
        ref, got = _both(path, workers, read_bytes)
    assert got["findings"] == ref["findings"]
    assert set(got["errors"]) <= set(ref["errors"])


def _both(path: Path, workers: int, read_bytes: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """(per-record, bulk with chunks of `read_bytes`) outcomes: findings, hosts, error lines."""

    def outcome(matcher: Matcher, errors: list[str]) -> dict[str, Any]:
        return {
            "findings": sorted(json.dumps(f.to_json(), sort_keys=True) for f in matcher.findings()),
            "hosts": set(matcher.hosts),
            "errors": sorted(errors),
        }

    sink = ErrorSink(echo=False)
    target, records = read_target(str(path), sink, input_format="osquery", forced=False)
    ref = Matcher(_CATALOG)
    ref.add_all(records)
    matcher = Matcher(_CATALOG)
    old = bulk.READ_BYTES
    bulk.READ_BYTES = read_bytes
    try:
        got = bulk.bulk_scan(
            str(path), matcher, ErrorSink(echo=False), "osquery", workers=workers, progress=False
        )
    finally:
        bulk.READ_BYTES = old
    data = path.read_bytes()
    assert got.records == data.count(b"\n") + (not data.endswith(b"\n"))
    return outcome(ref, target.errors), outcome(matcher, got.errors)


_CATALOG = load_catalog()
