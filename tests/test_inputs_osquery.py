"""osquery inputs: result logs (event, batch, snapshot), osqueryi arrays, bad lines, scans."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from banscan.catalog.loader import load_catalog
from banscan.errors import ErrorSink
from banscan.inputs import osquery
from banscan.inputs.osquery import OsqueryReader, host_of, numbered_lines, records_from_lines
from banscan.inputs.osquery_tables import SOURCE_KINDS, TABLES, infer_table, row_record
from banscan.inputs.registry import detect
from banscan.models import InventoryRecord, RecordKind, Source
from banscan.scan import ScanOptions, run_scan

DATA = Path(__file__).parent / "data" / "inputs" / "osquery"
RESULTS = DATA / "osqueryd.results.log"
AS_OF = dt.date(2025, 1, 15)


def read(path: Path, default_host: str = "default") -> tuple[list[InventoryRecord], list[str]]:
    sink = ErrorSink(echo=False)
    with open(path, "rb") as stream:
        records = list(OsqueryReader().read(stream, str(path), sink, default_host))
    return records, sink.lines


def summary(records: list[InventoryRecord]) -> set[tuple[str, str, str, str | None]]:
    return {(r.host, r.kind.value, r.name, r.version) for r in records}


def scan(path: Path) -> Any:
    return run_scan(load_catalog(), ScanOptions(as_of=AS_OF, echo_errors=False), inputs=[str(path)])


def findings(result: Any) -> set[tuple[str, str, str]]:
    return {(f.host, f.product, f.verdict.value) for f in result.findings}


def event(
    columns: dict[str, Any], *, host: str = "WS-FIN-01", action: str = "added", name: str = "programs"
) -> str:
    return json.dumps(
        {
            "name": name,
            "hostIdentifier": "4C4C4544-0038-3510-8052-B2C04F4E3732",
            "calendarTime": "Tue Jan  7 09:15:02 2025 UTC",
            "unixTime": 1736241302,
            "epoch": 0,
            "counter": 0,
            "numerics": False,
            "decorations": {"host_uuid": "4C4C4544-0038-3510-8052-B2C04F4E3732", "hostname": host},
            "columns": columns,
            "action": action,
        },
        ensure_ascii=False,
    )


KES = {
    "identifying_number": "{8AF5EE3B-1F2B-4E0D-A07A-12F7B4A19C9B}",
    "install_location": "C:\\Program Files (x86)\\Kaspersky Lab\\KES.12.5.0\\",
    "name": "Kaspersky Endpoint Security for Windows",
    "publisher": "AO Kaspersky Lab",
    "uninstall_string": "MsiExec.exe /I{8AF5EE3B-1F2B-4E0D-A07A-12F7B4A19C9B}",
    "version": "12.5.0.539",
}


# --- the committed result logs ----------------------------------------------------------------


def test_event_log_nets_added_and_removed_rows_per_host() -> None:
    records, errors = read(RESULTS)
    assert summary(records) == {
        ("WS-FIN-01", "app", "Kaspersky Endpoint Security for Windows", "12.5.0.539"),
        ("WS-FIN-01", "app", "7-Zip 23.01 (x64)", "23.01"),
        ("WS-FIN-01", "security-product", "Kaspersky Endpoint Security for Windows", None),
        ("WS-FIN-01", "extension", "Kaspersky Protection", "4.0.98.0"),
        ("web-02", "package", "openssl", "3.0.2-0ubuntu1.15"),
        ("web-02", "package", "kesl", "12.1.0-1508"),  # 11.4.0-5150 was added, then removed
        ("web-02", "process", "kesl", None),
        ("mbp-design-03", "app", "Kaspersky Anti-Virus", "21.8.4.190"),
        ("mbp-design-03", "app", "Safari", "18.2"),
    }  # Kaspersky Safe Kids: added then removed; zoom.us: removed but never seen
    assert errors == [
        f"{RESULTS}:1: unknown osquery table/columns system_info "
        "{computer_name, cpu_brand, hostname, physical_memory} (1 row); 1 rows skipped"
    ]


def test_event_log_fields_follow_the_table() -> None:
    by_name = {(r.host, r.kind, r.name): r for r in read(RESULTS)[0]}
    kes = by_name["WS-FIN-01", RecordKind.APP, "Kaspersky Endpoint Security for Windows"]
    assert kes.publisher == "AO Kaspersky Lab"
    assert kes.path == "C:\\Program Files (x86)\\Kaspersky Lab\\KES.12.5.0\\"
    assert ("identifying_number", "{8AF5EE3B-1F2B-4E0D-A07A-12F7B4A19C9B}") in kes.extra
    assert kes.source == Source("osquery", f"{RESULTS}:2")
    ext = by_name["WS-FIN-01", RecordKind.EXTENSION, "Kaspersky Protection"]
    assert ext.extension_id == "amkpcclbbgegoafihnpgomddadjhcadd"
    assert ("browser_type", "chrome") in ext.extra and ("profile", "Person 1") in ext.extra
    wsp = by_name["WS-FIN-01", RecordKind.SECURITY_PRODUCT, "Kaspersky Endpoint Security for Windows"]
    assert ("signatures_up_to_date", "1") in wsp.extra and ("state", "On") in wsp.extra
    app = by_name["mbp-design-03", RecordKind.APP, "Kaspersky Anti-Virus"]
    assert (app.bundle_id, app.path) == ("com.kaspersky.kav", "/Applications/Kaspersky Anti-Virus.app")
    kesl = by_name["web-02", RecordKind.PACKAGE, "kesl"]
    assert kesl.publisher == "AO Kaspersky Lab <support@kaspersky.com>"
    assert kesl.source.location == f"{RESULTS}:13"
    proc = by_name["web-02", RecordKind.PROCESS, "kesl"]  # logged with numerics: true
    assert proc.path == "/opt/kaspersky/kesl/libexec/kesl" and ("pid", "1187") in proc.extra


def test_batch_format_diff_results() -> None:
    path = DATA / "osqueryd.batch.log"
    records, errors = read(path)
    assert errors == []
    assert summary(records) == {("db-04", "package", "bash", "5.1.8"), ("db-04", "package", "kesl", "12.1.0")}
    kesl = next(r for r in records if r.name == "kesl")
    assert kesl.publisher == "AO Kaspersky Lab" and ("release", "1508") in kesl.extra
    assert kesl.source.location == f"{path}:2"


def test_snapshot_format() -> None:
    path = DATA / "osqueryd.snapshots.log"
    records, errors = read(path)
    assert errors == []
    assert {(r.host, r.kind, r.name, r.path) for r in records} == {
        (
            "WS-FIN-01",
            RecordKind.SERVICE,
            "klnagent",
            "C:\\Program Files (x86)\\Kaspersky Lab\\NetworkAgent\\klnagent.exe",
        ),
        ("WS-FIN-01", RecordKind.SERVICE, "Spooler", "C:\\Windows\\System32\\spoolsv.exe"),
        ("WS-FIN-01", RecordKind.DRIVER, "klif", "C:\\Windows\\system32\\DRIVERS\\klif.sys"),
        ("WS-FIN-01", RecordKind.DRIVER, "disk", "C:\\Windows\\System32\\drivers\\disk.sys"),
    }
    klnagent = next(r for r in records if r.name == "klnagent")
    assert ("display_name", "Kaspersky Security Center Network Agent") in klnagent.extra


def test_osqueryi_json_array_with_cyrillic_names() -> None:
    path = DATA / "kiosk-12.json"
    records, errors = read(path, default_host="kiosk-12")
    assert errors == []
    assert [(r.host, r.name, r.version, r.source.location) for r in records] == [
        ("kiosk-12", "Антивирус Касперского", "21.3.10.391", f"{path}:row 1"),
        ("kiosk-12", "Notepad++ (64-bit x64)", "8.6.9", f"{path}:row 2"),
    ]
    assert records[0].publisher == "АО «Лаборатория Касперского»"


# --- hosts, netting and line subsets ------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "host"),
    [
        ({"decorations": {"hostname": "deco"}, "hostIdentifier": "uuid", "hostname": "top"}, "deco"),
        ({"decorations": {"hostname": ""}, "hostIdentifier": "uuid", "hostname": "top"}, "uuid"),
        ({"decorations": {}, "hostname": "old-style"}, "old-style"),
        ({"decorations": {"host_uuid": "x"}}, "default"),
    ],
)
def test_host_preference(line: dict[str, Any], host: str) -> None:
    assert host_of(line, "default") == host


def lines_of(*texts: str | bytes) -> list[tuple[int, bytes]]:
    return [(i, t if isinstance(t, bytes) else t.encode()) for i, t in enumerate(texts, 1)]


def test_last_action_wins_and_hosts_are_separate() -> None:
    old = dict(KES, version="11.11.0.452")
    lines = lines_of(
        event(KES, action="removed"),  # removed before it was ever added: nothing to take away
        event(KES),
        event(old),
        event(old, action="removed"),
        event(KES, host="WS-FIN-02"),
        event(KES, host="WS-FIN-02", action="removed"),
        event(KES, host="WS-FIN-02"),
        event(KES),  # the same row again: one record
    )
    sink = ErrorSink(echo=False)
    records = list(records_from_lines(lines, "r.log", sink, "default"))
    assert sink.lines == []
    assert [(r.host, r.version, r.source.location) for r in records] == [
        ("WS-FIN-01", "12.5.0.539", "r.log:2"),
        ("WS-FIN-02", "12.5.0.539", "r.log:7"),
    ]


def test_a_subset_of_lines_gives_the_records_of_those_lines() -> None:
    sink = ErrorSink(echo=False)
    with open(RESULTS, "rb") as stream:
        numbered = list(numbered_lines(stream, str(RESULTS), sink))
    everything = list(records_from_lines(numbered, str(RESULTS), sink, "d"))
    chosen = [(no, raw) for no, raw in numbered if b"kaspersky" in raw.lower()]
    assert [no for no, _ in chosen] == [2, 4, 5, 6, 7, 9, 11, 12, 13, 15]
    subset = list(records_from_lines(chosen, str(RESULTS), ErrorSink(echo=False), "d"))
    wanted = {f"{RESULTS}:{no}" for no, _ in chosen}
    assert subset == [r for r in everything if r.source.location in wanted]
    assert len(subset) == 6


# --- table inference -----------------------------------------------------------------------------

SCHEMAS = {
    "programs": "name version install_location install_source language publisher uninstall_string install_date identifying_number",
    "apps": "name path bundle_executable bundle_identifier bundle_name bundle_short_version bundle_version display_name",
    "deb_packages": "name version source size arch revision status maintainer section priority admindir",
    "rpm_packages": "name version release source size sha1 arch epoch install_time vendor package_group",
    "homebrew_packages": "name path version type prefix",
    "npm_packages": "name version description author license homepage path directory",
    "python_packages": "name version summary author license path directory",
    "chrome_extensions": "browser_type uid name profile profile_path identifier version author path permissions",
    "firefox_addons": "uid name identifier creator type version description source_url visible active autoupdate path",
    "safari_extensions": "uid name identifier version sdk update_url author developer_id path",
    "windows_security_products": "type name state state_timestamp remediation_path signatures_up_to_date",
    "services": "name service_type display_name status pid start_type win32_exit_code path module_path",
    "drivers": "device_id device_name image description service service_key version inf class provider signed",
    "kernel_modules": "name size used_by status address",
    "kernel_extensions": "idx refs size name version linked_against path",
    "system_extensions": "path UUID state identifier version category bundle_path team mdm_managed",
    "processes": "pid name path cmdline state cwd root uid gid on_disk parent",
    "authenticode": "path original_program_name serial_number issuer_name subject_name result",
    "signature": "path hash_resources arch signed identifier cdhash team_identifier authority",
    "certificates": "common_name subject issuer ca self_signed not_valid_before not_valid_after sha1 path serial",
    "package_receipts": "package_id package_filename version location install_time installer_name path",
    "launchd": "path name label program run_at_load keep_alive program_arguments",
    "systemd_units": "id description load_state active_state sub_state unit_file_state fragment_path",
}


@pytest.mark.parametrize("table", sorted(SCHEMAS))
def test_each_table_is_recognised_by_its_columns(table: str) -> None:
    assert infer_table(frozenset(SCHEMAS[table].split())) == table


@pytest.mark.parametrize(
    ("columns", "query", "table"),
    [
        ("parent path pid", "process_snapshot", "processes"),  # the osquery docs' snapshot example
        ("name version", "pack_inventory_deb_packages", "deb_packages"),
        ("name version publisher", "pack/Global/Installed programs", "programs"),
        ("name version", "pack/Global/Installed software", None),
        ("cpu_brand hostname physical_memory", "system_info", None),
    ],
)
def test_partial_columns_and_query_name_hints(columns: str, query: str, table: str | None) -> None:
    assert infer_table(frozenset(columns.split()), query) == table


def test_every_table_kind_is_shared_with_fleet_sources() -> None:
    assert all(SOURCE_KINDS[name] == t.kind for name, t in TABLES.items())


@pytest.mark.parametrize(
    ("table", "row", "expected"),
    [
        (
            "authenticode",
            {
                "path": "C:\\Program Files (x86)\\Kaspersky Lab\\KES.12.5.0\\avp.exe",
                "subject_name": "AO Kaspersky Lab",
                "issuer_name": "DigiCert Trusted G4 Code Signing RSA4096 SHA384 2021 CA1",
                "result": "trusted",
                "serial_number": "0c1a3c7f",
            },
            {"kind": RecordKind.FILE, "name": "avp.exe", "signer": "AO Kaspersky Lab", "result": "trusted"},
        ),
        (
            "signature",
            {
                "path": "/Applications/Kaspersky Anti-Virus.app/Contents/MacOS/Kaspersky Anti-Virus",
                "signed": "1",
                "identifier": "com.kaspersky.kav",
                "cdhash": "5d1f",
                "team_identifier": "2Y8XE5CQ94",
                "authority": "Developer ID Application: Kaspersky Lab UK Limited (2Y8XE5CQ94)",
            },
            {
                "kind": RecordKind.FILE,
                "name": "Kaspersky Anti-Virus",
                "team_id": "2Y8XE5CQ94",
                "bundle_id": "com.kaspersky.kav",
                "signer": "Developer ID Application: Kaspersky Lab UK Limited (2Y8XE5CQ94)",
            },
        ),
        (
            "system_extensions",
            {
                "path": "/Applications/Kaspersky Anti-Virus.app/Contents/Library/SystemExtensions/com.kaspersky.kav.sysext.systemextension",
                "UUID": "0C3A",
                "state": "activated_enabled",
                "identifier": "com.kaspersky.kav.sysext",
                "version": "21.8.4",
                "category": "com.apple.system_extension.endpoint_security",
                "bundle_path": "",
                "team": "2Y8XE5CQ94",
                "mdm_managed": "0",
            },
            {
                "kind": RecordKind.DRIVER,
                "name": "com.kaspersky.kav.sysext",
                "bundle_id": "com.kaspersky.kav.sysext",
                "team_id": "2Y8XE5CQ94",
            },
        ),
        (
            "certificates",
            {
                "common_name": "Kaspersky Anti-Virus Personal Root Certificate",
                "subject": "/O=AO Kaspersky Lab/CN=Kaspersky Anti-Virus Personal Root Certificate",
                "self_signed": "1",
                "not_valid_after": "1893456000",
                "sha1": "ab12",
            },
            {
                "kind": RecordKind.CERTIFICATE,
                "name": "Kaspersky Anti-Virus Personal Root Certificate",
                "subject": "/O=AO Kaspersky Lab/CN=Kaspersky Anti-Virus Personal Root Certificate",
            },
        ),
        (
            "kernel_extensions",
            {
                "idx": "212",
                "refs": "0",
                "size": "1",
                "name": "com.kaspersky.kext.klif",
                "version": "3.6.1",
                "linked_against": "<1 3 5>",
                "path": "/Library/Extensions/klif.kext",
            },
            {
                "kind": RecordKind.DRIVER,
                "name": "com.kaspersky.kext.klif",
                "bundle_id": "com.kaspersky.kext.klif",
            },
        ),
        (
            "systemd_units",
            {
                "id": "kesl.service",
                "description": "Kaspersky Endpoint Security for Linux",
                "load_state": "loaded",
                "active_state": "active",
                "fragment_path": "/usr/lib/systemd/system/kesl.service",
            },
            {"kind": RecordKind.SERVICE, "name": "kesl", "path": "/usr/lib/systemd/system/kesl.service"},
        ),
    ],
)
def test_row_mapping(table: str, row: dict[str, str], expected: dict[str, Any]) -> None:
    assert infer_table(frozenset(row)) == table
    rec = row_record(table, row, "h", Source("osquery", "x:1"))
    assert rec is not None
    for key, value in expected.items():
        assert (rec.kind if key == "kind" else rec.get(key)) == value, key


# --- bad input -------------------------------------------------------------------------------------


def test_every_bad_line_gives_one_error_line_and_the_rest_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(osquery, "MAX_LINE", 4096)
    good = event(KES)
    lines: list[bytes] = [
        good.encode(),  # 1
        good[: len(good) // 2].encode(),  # 2 truncated
        b"I0107 09:15:02.123456 osqueryd started",  # 3 not JSON
        b"42",  # 4 a scalar
        event(
            dict(KES, name="Kaspersky Security Center Network Agent", future_column="x"), host="WS-FIN-02"
        ).encode(),  # 5
        event(dict(KES, name="Kaspersky Free", publisher="\x00PUB"), host="WS-FIN-03")
        .encode()
        .replace(b"\\u0000PUB", b"Caf\xe9"),  # 6
        b'{"hostIdentifier":"web-02","calendarTime":"Tue Jan  7 09:15:02 2025 UTC","severity":"0","message":"x"}',  # 7
        b"x" * 10_000,  # 8 longer than MAX_LINE
        b"[1, 2]",  # 9
        b"",  # 10 blank: nothing to say
        b'{"name":"programs","hostIdentifier":"h","calendarTime":"c","snapshot":['
        + b'{"name":"7-Zip","identifying_number":"","uninstall_string":"u"}, 7]}',  # 11
        event(dict(KES, version="12.6.0.438"), host="WS-FIN-04").encode(),  # 12
    ]
    path = tmp_path / "results.log"
    path.write_bytes(b"\n".join(lines) + b"\n")
    records, errors = read(path)
    assert [e.split(": ", 1)[0] for e in errors] == [f"{path}:{n}" for n in (2, 3, 4, 6, 7, 8, 9, 11)]
    assert errors[0].startswith(f"{path}:2: not valid JSON (")
    assert errors[2] == f"{path}:4: a JSON int is not an osquery result; skipped"
    assert errors[3] == f"{path}:6: not valid UTF-8; undecodable bytes replaced"
    assert errors[4] == f"{path}:7: not an osquery result (no columns, diffResults or snapshot); skipped"
    assert errors[5] == f"{path}:8: line longer than 4096 bytes; skipped"
    assert errors[6] == f"{path}:9: a JSON list is not an osquery result; skipped"
    assert errors[7] == f"{path}:11: 1 row(s) are not JSON objects; skipped"
    assert [(r.host, r.name, r.publisher) for r in records] == [
        ("WS-FIN-01", "Kaspersky Endpoint Security for Windows", "AO Kaspersky Lab"),
        ("WS-FIN-02", "Kaspersky Security Center Network Agent", "AO Kaspersky Lab"),
        ("WS-FIN-03", "Kaspersky Free", "Caf\ufffd"),
        ("h", "7-Zip", None),
        ("WS-FIN-04", "Kaspersky Endpoint Security for Windows", "AO Kaspersky Lab"),
    ]


def test_a_huge_line_is_skipped_without_reading_it_whole(tmp_path: Path) -> None:
    path = tmp_path / "big.log"
    with open(path, "wb") as f:
        f.write(event(KES, host="before").encode() + b"\n")
        f.write(b'{"name":"programs","columns":{"name":"' + b"A" * (osquery.MAX_LINE + 1024) + b'"}}\n')
        f.write(event(KES, host="after").encode() + b"\n")
    records, errors = read(path)
    assert errors == [f"{path}:2: line longer than {osquery.MAX_LINE} bytes; skipped"]
    assert [r.host for r in records] == ["before", "after"]


def test_truncated_array_keeps_its_whole_rows(tmp_path: Path) -> None:
    text = json.dumps([KES, dict(KES, name="Kaspersky Free"), "oops", dict(KES, name="Cut")], indent=2)
    path = tmp_path / "pc.json"
    path.write_text(text[: text.rindex("Cut")], encoding="utf-8")
    records, errors = read(path)
    assert [r.name for r in records] == ["Kaspersky Endpoint Security for Windows", "Kaspersky Free"]
    assert errors[0] == f"{path}:row 3: a JSON str is not a result row; skipped"
    assert errors[1].startswith(f"{path}:row 4: not valid JSON (")
    assert len(errors) == 2


def test_unknown_tables_in_an_array_are_one_error_line(tmp_path: Path) -> None:
    path = tmp_path / "info.json"
    path.write_text(
        json.dumps([{"version": "5.14.1", "build_platform": "windows"}] * 3 + [KES]), encoding="utf-8"
    )
    records, errors = read(path)
    assert [r.name for r in records] == ["Kaspersky Endpoint Security for Windows"]
    assert errors == [
        f"{path}:row 1: unknown osquery table/columns {{build_platform, version}} (3 rows); 3 rows skipped"
    ]


# --- detection and whole scans ---------------------------------------------------------------------------


def test_sniff() -> None:
    reader = OsqueryReader()
    for name in ("osqueryd.results.log", "osqueryd.batch.log", "osqueryd.snapshots.log"):
        assert reader.sniff((DATA / name).read_bytes(), name) == 95
    assert reader.sniff((DATA / "kiosk-12.json").read_bytes(), "kiosk-12.json") == 75
    assert reader.sniff(b'[{"a": "1"}]', "x.json") == 25
    assert reader.sniff(b'{"count": 1, "software": []}', "x.json") == 0
    assert reader.sniff(b"name,version\nkesl,12\n", "x.csv") == 0
    for name in ("osqueryd.results.log", "kiosk-12.json"):
        found = detect((DATA / name).read_bytes(), name)
        assert found is not None and found.name == "osquery"


def test_scan_of_a_results_log_gives_per_host_findings() -> None:
    result = scan(RESULTS)
    assert findings(result) == {
        ("WS-FIN-01", "kes-windows", "covered"),
        ("WS-FIN-01", "kaspersky-protection-extension", "covered"),
        ("web-02", "kesl", "covered"),
        ("mbp-design-03", "kaspersky-anti-virus", "covered"),
    }
    kesl = next(f for f in result.findings if f.product == "kesl")
    assert kesl.version == "12.1.0-1508"
    target = result.targets[0]
    assert (target.format, target.records, len(target.errors)) == ("osquery", 9, 1)


def test_scan_of_a_gzipped_log_and_a_folder(tmp_path: Path) -> None:
    gz = tmp_path / "osqueryd.results.log.gz"
    gz.write_bytes(gzip.compress(RESULTS.read_bytes()))
    assert findings(scan(gz)) == findings(scan(RESULTS))
    assert scan(gz).targets[0].errors == [
        f"{gz}:1: unknown osquery table/columns system_info "
        "{computer_name, cpu_brand, hostname, physical_memory} (1 row); 1 rows skipped"
    ]
    result = scan(DATA)
    assert {(t.format, t.records, len(t.errors)) for t in result.targets} == {
        ("osquery", 2, 0),
        ("osquery", 9, 1),
        ("osquery", 4, 0),
    } and len(result.targets) == 4
    assert {f for f in findings(result) if f[0] in ("kiosk-12", "db-04")} == {
        ("kiosk-12", "kaspersky-anti-virus", "covered"),
        ("db-04", "kesl", "covered"),
    }
    assert ("WS-FIN-01", "ksc-network-agent", "covered") in findings(result)


def test_scan_of_bad_input_reports_and_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "mixed.log"
    path.write_bytes(b"\n".join([b"garbage", event(KES).encode(), b'{"truncated": ', b"\xff\xfe"]) + b"\n")
    empty = tmp_path / "empty.log"
    empty.write_bytes(b"")
    result = run_scan(
        load_catalog(), ScanOptions(as_of=AS_OF, echo_errors=False), inputs=[str(path), str(empty)]
    )
    assert findings(result) == {("WS-FIN-01", "kes-windows", "covered")}
    assert [len(t.errors) for t in result.targets] == [3, 1]
    assert [e.split(": ", 1)[0] for e in result.targets[0].errors] == [f"{path}:{n}" for n in (1, 3, 4)]
    assert result.targets[1].errors == [f"{empty}: empty input (0 bytes)"]
