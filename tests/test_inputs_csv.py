"""CSV inventory exports: Intune, Configuration Manager, Jamf Pro, Defender TVM and generic CSV.

Fixtures in tests/data/inputs/csv use the column names documented for each product. Where the
byte-level habits of an export are not documented, the fixture makes a stated assumption:

- Intune report CSV (AppInvRawData, AppInvAggregate): UTF-8 with a BOM, every field quoted,
  CRLF — assumed (no byte-level sample); the aggregate uses the 7-column header a third-party
  importer matches (with `Platform`), and DevicesByAppInv the `DeviceID`/`UserID` spelling.
- ConfigMgr: Windows PowerShell 5.1 `Export-Csv` (`#TYPE System.Data.DataRow` first line, every
  field quoted, ASCII so Cyrillic became `?`); an SSRS-style "Unicode" (UTF-16LE with BOM)
  report with the usual aliases; a raw `v_GS_ADD_REMOVE_PROGRAMS_64` dump with no computer
  name; the GLPI plugin's `ArPd-*` aliases saved with semicolons by a European Excel.
- Jamf Pro Advanced Search CSV: headers `Computer Name, Serial Number, Application Title,
  Application Version, Application Bundle ID` — assumed (no sample found).
- Defender `DeviceTvmSoftwareInventory`: documented columns; the Kaspersky vendor/name tokens
  (`kaspersky_lab`, `endpoint_security_for_windows`) are assumed.
"""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pytest

from banscan.catalog.loader import load_catalog
from banscan.errors import ErrorSink
from banscan.inputs import csvexport, csvsniff
from banscan.inputs.csvexport import (
    ConfigMgrCsvReader,
    CsvReader,
    DefenderTvmCsvReader,
    GenericCsvReader,
    IntuneCsvReader,
    JamfCsvReader,
    parse_column_map,
)
from banscan.inputs.registry import detect, read_target
from banscan.models import InventoryRecord, RecordKind, ScanResult
from banscan.scan import ScanOptions, run_scan

DATA = Path(__file__).parent / "data" / "inputs" / "csv"


def read(path: Path, fmt: str | None = None) -> tuple[list[InventoryRecord], list[str], str]:
    sink = ErrorSink(echo=False)
    target, records = read_target(str(path), sink, input_format=fmt)
    out = list(records)
    assert target.records == len(out)
    return out, target.errors, target.format


def read_bytes(
    reader: CsvReader, data: bytes, tmp_path: Path, name: str = "inv.csv"
) -> tuple[list[InventoryRecord], list[str], str]:
    path = tmp_path / name
    path.write_bytes(data)
    sink = ErrorSink(echo=False)
    with open(path, "rb") as f:
        out = list(reader.read(f, str(path), sink, "default-host"))
    return out, sink.lines, str(path)


def row(r: InventoryRecord) -> tuple[str, str, str | None, str | None, str]:
    return (r.host, r.name, r.version, r.publisher, r.source.location.rsplit("/", 1)[-1])


def scan(path: Path, **kw: object) -> ScanResult:
    opts = ScanOptions(as_of=date(2025, 1, 15), echo_errors=False, **kw)  # type: ignore[arg-type]
    return run_scan(load_catalog(), opts, inputs=[str(path)])


def findings(result: ScanResult) -> dict[tuple[str, str], str]:
    return {(f.host, f.product): f.verdict.value for f in result.findings}


# ---- Intune ---------------------------------------------------------------------------------


def test_intune_appinvrawdata_bom_quoted_crlf() -> None:
    recs, errors, fmt = read(DATA / "intune_appinvrawdata.csv")
    assert fmt == "intune-csv" and errors == []
    assert [row(r) for r in recs] == [
        (
            "PC-FIN-0142",
            "Kaspersky Endpoint Security for Windows",
            "12.5.0.539",
            "AO Kaspersky Lab",
            "intune_appinvrawdata.csv:2",
        ),
        (
            "PC-FIN-0142",
            "Kaspersky Security Center Network Agent",
            "14.2.0.26967",
            "AO Kaspersky Lab",
            "intune_appinvrawdata.csv:3",
        ),
        ("PC-FIN-0142", "Google Chrome", "131.0.6778.140", "Google LLC", "intune_appinvrawdata.csv:4"),
        (
            "PC-FIN-0142",
            "Microsoft Visual C++ 2015-2022 Redistributable (x64) - 14.38.33135",
            "14.38.33135.0",
            "Microsoft Corporation",
            "intune_appinvrawdata.csv:5",
        ),
        ("PC-HR-0007", "7-Zip 23.01 (x64)", "23.01", "Igor Pavlov", "intune_appinvrawdata.csv:6"),
        (
            "PC-HR-0007",
            'Contoso "Field" Tools, Enterprise',
            "4.2.1.0",
            "Contoso, Ltd.",
            "intune_appinvrawdata.csv:7",
        ),
        (
            "PC-ACC-0210",
            "Антивирус Касперского",
            "21.3.10.391",
            "АО «Лаборатория Касперского»",
            "intune_appinvrawdata.csv:8",
        ),
        ("PC-ACC-0210", "Notepad++ (64-bit x64)", "8.6.2", "Notepad++ Team", "intune_appinvrawdata.csv:9"),
    ]
    kes = recs[0]
    assert kes.kind is RecordKind.APP
    assert kes.source.collector == "intune-csv"
    extra = dict(kes.extra)
    assert extra["device_id"] == "3f0c9b1e-7a52-4d8e-9c61-0b7e5a2d4f13"
    assert extra["short_version"] == "12.5"
    assert extra["os_version"] == "10.0.22631.4602"
    assert extra["platform"] == "Windows"  # not the Platform_loc column
    assert "platform_loc" not in extra


def test_intune_aggregate_has_no_device_so_default_host() -> None:
    recs, errors, fmt = read(DATA / "intune_appinvaggregate.csv")
    assert fmt == "intune-csv" and errors == []
    assert {r.host for r in recs} == {"intune_appinvaggregate"}
    assert [(r.name, dict(r.extra)["device_count"]) for r in recs] == [
        ("Kaspersky Endpoint Security for Windows", "212"),
        ("Kaspersky Security Center Network Agent", "214"),
        ("Google Chrome", "1533"),
    ]


def test_intune_deviceid_spelling_and_minimal_quoting() -> None:
    recs, errors, fmt = read(DATA / "intune_devicesbyappinv.csv")
    assert fmt == "intune-csv" and errors == []
    assert [(r.host, dict(r.extra)["device_id"]) for r in recs] == [
        ("PC-FIN-0142", "3f0c9b1e-7a52-4d8e-9c61-0b7e5a2d4f13"),
        ("SRV-FILE-02", "b2c7e9f1-3d58-4a06-8e1b-5f9c0d2a7e63"),
    ]
    assert "user" not in dict(recs[1].extra)  # empty cells are not extras


def test_intune_end_to_end() -> None:
    result = scan(DATA / "intune_appinvrawdata.csv")
    assert findings(result) == {
        ("PC-FIN-0142", "kes-windows"): "covered",
        ("PC-FIN-0142", "ksc-network-agent"): "covered",
        ("PC-ACC-0210", "kaspersky-anti-virus"): "covered",
    }
    assert sorted(result.hosts) == ["PC-ACC-0210", "PC-FIN-0142", "PC-HR-0007"]
    kes = next(f for f in result.findings if f.product == "kes-windows")
    assert kes.version == "12.5.0.539" and kes.confidence.value == "definitive"
    assert {e.location.rsplit("/", 1)[-1] for e in kes.evidence} == {"intune_appinvrawdata.csv:2"}
    assert [(t.format, t.records, t.errors) for t in result.targets] == [("intune-csv", 8, [])]


def test_intune_aggregate_end_to_end_with_host_option() -> None:
    result = scan(DATA / "intune_appinvaggregate.csv", host="tenant-contoso")
    assert findings(result) == {
        ("tenant-contoso", "kes-windows"): "covered",
        ("tenant-contoso", "ksc-network-agent"): "covered",
    }


# ---- Configuration Manager ------------------------------------------------------------------


def test_configmgr_powershell51_export() -> None:
    recs, errors, fmt = read(DATA / "configmgr_arp_ps51.csv")
    assert fmt == "configmgr-csv" and errors == []
    # line 1 is "#TYPE System.Data.DataRow", line 2 the header; line 5 has no DisplayName0
    assert [row(r) for r in recs] == [
        (
            "WS-LAB-17",
            "Kaspersky Endpoint Security for Windows",
            "12.5.0.539",
            "AO Kaspersky Lab",
            "configmgr_arp_ps51.csv:3",
        ),
        (
            "WS-LAB-17",
            "Kaspersky Security Center Network Agent",
            "14.2.0.26967",
            "AO Kaspersky Lab",
            "configmgr_arp_ps51.csv:4",
        ),
        # Windows PowerShell 5.1 writes ASCII: the Cyrillic name arrives as question marks
        (
            "WS-LAB-17",
            "????????? ???????????",
            "21.3.10.391",
            "?? ????????????? ????????????",
            "configmgr_arp_ps51.csv:6",
        ),
        ("WS-LAB-18", "Notepad++ (64-bit x64)", "8.6.2", "Notepad++ Team", "configmgr_arp_ps51.csv:7"),
        ("WS-LAB-18", "Microsoft Edge", "131.0.2903.99", "Microsoft Corporation", "configmgr_arp_ps51.csv:8"),
    ]
    assert dict(recs[0].extra) == {
        "resource_id": "16777220",
        "install_date": "20240611",
        "product_code": "{B9E6C4F1-7D0E-4C2A-9A43-5E1F0C8D2B76}",
    }


def test_configmgr_utf16_report_aliases() -> None:
    assert (DATA / "configmgr_installed_software_utf16.csv").read_bytes()[:2] == b"\xff\xfe"
    recs, errors, fmt = read(DATA / "configmgr_installed_software_utf16.csv")
    assert fmt == "configmgr-csv" and errors == []
    assert [row(r) for r in recs] == [
        (
            "SRV-FILE-02",
            "Kaspersky Security Center Network Agent",
            "14.2.0.26967",
            "AO Kaspersky Lab",
            "configmgr_installed_software_utf16.csv:2",
        ),
        # no ARP display name: the product name stands in
        (
            "SRV-FILE-02",
            "Microsoft SQL Server 2019 (64-bit)",
            "15.0.2000.5",
            "Microsoft Corporation",
            "configmgr_installed_software_utf16.csv:3",
        ),
        (
            "SRV-FILE-02",
            "Adobe Acrobat Reader (64-bit)",
            "24.004.20272",
            "Adobe Systems, Incorporated",
            "configmgr_installed_software_utf16.csv:4",
        ),
        (
            "PC-ACC-0210",
            "Антивирус Касперского",
            "21.3.10.391",
            "АО «Лаборатория Касперского»",
            "configmgr_installed_software_utf16.csv:5",
        ),
    ]
    assert recs[0].path == "C:\\Program Files (x86)\\Kaspersky Lab\\NetworkAgent\\"
    assert dict(recs[0].extra) == {"install_date": "20240305"}


def test_configmgr_raw_view_without_computer_name_uses_resource_id() -> None:
    recs, errors, fmt = read(DATA / "v_GS_ADD_REMOVE_PROGRAMS_64.csv")
    assert fmt == "configmgr-csv" and errors == []
    assert [(r.host, r.name) for r in recs] == [
        ("ResourceID-16777221", "Kaspersky Endpoint Security for Windows"),
        ("ResourceID-16777221", "7-Zip 23.01 (x64 edition)"),
        ("ResourceID-16777234", "Microsoft Office Professional Plus 2016"),
    ]


def test_configmgr_glpi_aliases_semicolon_european_export() -> None:
    recs, errors, fmt = read(DATA / "ws-mkt-0042.csv")
    assert fmt == "configmgr-csv" and errors == []
    assert [row(r) for r in recs] == [
        (
            "ws-mkt-0042",
            "Kaspersky Endpoint Security for Windows",
            "12.5.0.539",
            "AO Kaspersky Lab",
            "ws-mkt-0042.csv:2",
        ),
        ("ws-mkt-0042", "Mozilla Firefox (x64 de)", "133.0", "Mozilla", "ws-mkt-0042.csv:3"),
        ("ws-mkt-0042", "Acme Tools; Professional Edition", "2,5", "Acme GmbH", "ws-mkt-0042.csv:4"),
    ]


def test_configmgr_end_to_end() -> None:
    assert findings(scan(DATA / "configmgr_arp_ps51.csv")) == {
        ("WS-LAB-17", "kes-windows"): "covered",
        ("WS-LAB-17", "ksc-network-agent"): "covered",
    }
    result = scan(DATA / "configmgr_installed_software_utf16.csv")
    assert findings(result) == {
        ("SRV-FILE-02", "ksc-network-agent"): "covered",
        ("PC-ACC-0210", "kaspersky-anti-virus"): "covered",
    }
    assert findings(scan(DATA / "v_GS_ADD_REMOVE_PROGRAMS_64.csv")) == {
        ("ResourceID-16777221", "kes-windows"): "covered"
    }


def test_configmgr_null_text_is_empty(tmp_path: Path) -> None:
    data = b"Name0,DisplayName0,Publisher0,Version0\r\nPC-1,Kaspersky Endpoint Security for Windows,NULL,NULL\r\n"
    recs, errors, _ = read_bytes(ConfigMgrCsvReader(), data, tmp_path)
    assert errors == []
    assert (recs[0].publisher, recs[0].version) == (None, None)


# ---- Jamf Pro and Defender ------------------------------------------------------------------


def test_jamf_advanced_search_csv() -> None:
    recs, errors, fmt = read(DATA / "jamf_advanced_search.csv")
    assert fmt == "jamf-csv" and errors == []
    assert [(r.host, r.name, r.version, r.bundle_id, r.source.location.rsplit("/", 1)[-1]) for r in recs] == [
        (
            "MBP-DESIGN-07",
            "Kaspersky Anti-Virus",
            "21.0.19",
            "com.kaspersky.kav",
            "jamf_advanced_search.csv:2",
        ),
        ("MBP-DESIGN-07", "Safari", "18.2", "com.apple.Safari", "jamf_advanced_search.csv:3"),
        ("MBA-SALES-12", "Microsoft Word", "16.92", "com.microsoft.Word", "jamf_advanced_search.csv:4"),
        ("MBA-SALES-12", "Slack", "4.41.105", "com.tinyspeck.slackmacgap", "jamf_advanced_search.csv:5"),
    ]
    assert dict(recs[0].extra) == {"serial_number": "C02XK1ZZJG5H"}
    assert findings(scan(DATA / "jamf_advanced_search.csv")) == {
        ("MBP-DESIGN-07", "kaspersky-anti-virus"): "covered"
    }


def test_defender_tvm_tokens() -> None:
    recs, errors, fmt = read(DATA / "defender_tvm_software_inventory.csv")
    assert fmt == "defender-tvm-csv" and errors == []
    kes = recs[0]
    assert kes.host == "pc-fin-0142.corp.contoso.com"
    assert kes.name == "kaspersky endpoint security for windows"
    assert kes.publisher == "kaspersky lab"
    assert kes.version == "12.5.0.539"
    assert kes.cpe == "cpe:2.3:a:kaspersky:endpoint_security:-:*:*:*:*:windows:*:*"
    assert dict(kes.extra)["software_name"] == "endpoint_security_for_windows"
    assert dict(kes.extra)["software_vendor"] == "kaspersky_lab"
    assert [(r.name, r.publisher, r.cpe) for r in recs[2:]] == [
        ("7-zip", "7-zip", None),  # "Not available" is no CPE
        ("microsoft .net framework", "microsoft", None),
    ]
    assert findings(scan(DATA / "defender_tvm_software_inventory.csv")) == {
        ("pc-fin-0142.corp.contoso.com", "kes-windows"): "covered"
    }


# ---- generic CSV ----------------------------------------------------------------------------


def test_generic_guesses_lansweeper_headers() -> None:
    recs, errors, fmt = read(DATA / "lansweeper_software.csv")
    assert fmt == "csv" and errors == []
    assert [row(r) for r in recs] == [
        (
            "LT-OPS-0305",
            "Kaspersky Endpoint Security for Windows",
            "12.5.0.539",
            "AO Kaspersky Lab",
            "lansweeper_software.csv:2",
        ),
        (
            "LT-OPS-0305",
            "Zoom Workplace (64-bit)",
            "6.2.11.48437",
            "Zoom Video Communications, Inc.",
            "lansweeper_software.csv:3",
        ),
        (
            "LT-OPS-0306",
            "Microsoft 365 Apps for enterprise - en-us",
            "16.0.18129.20158",
            "Microsoft Corporation",
            "lansweeper_software.csv:4",
        ),
    ]
    assert findings(scan(DATA / "lansweeper_software.csv")) == {("LT-OPS-0305", "kes-windows"): "covered"}


def test_generic_with_column_map_tab_separated() -> None:
    reader = GenericCsvReader(parse_column_map("host=Computer,name=App,publisher=Vendor,version=Ver"))
    sink = ErrorSink(echo=False)
    path = DATA / "custom_inventory.tsv"
    with open(path, "rb") as f:
        recs = list(reader.read(f, str(path), sink, "fallback"))
    assert sink.lines == []
    assert [row(r) for r in recs] == [
        (
            "KIOSK-01",
            "Kaspersky Security Center Network Agent",
            "14.2.0.26967",
            "AO Kaspersky Lab",
            "custom_inventory.tsv:2",
        ),
        ("KIOSK-01", "VLC media player", "3.0.21", "VideoLAN", "custom_inventory.tsv:3"),
        ("KIOSK-02", "Mozilla Firefox", "133.0.3", "Mozilla", "custom_inventory.tsv:4"),
    ]


def test_generic_column_map_missing_column(tmp_path: Path) -> None:
    reader = GenericCsvReader({"name": "Programme", "host": "Rechner"})
    recs, errors, path = read_bytes(reader, b"Rechner,Software\r\nPC-1,Foo\r\n", tmp_path)
    assert recs == []
    assert errors == [f"{path}:1: column 'Programme' (for name) is not in the header"]


def test_generic_kind_column(tmp_path: Path) -> None:
    reader = GenericCsvReader(parse_column_map("name=Item, kind=Type"))
    data = b"Item,Type,Host\nklnagent,service,PC-1\nkesl,Package,PC-2\nx,gadget,PC-3\n"
    recs, errors, path = read_bytes(reader, data, tmp_path)
    assert [(r.host, r.name, r.kind) for r in recs] == [
        ("PC-1", "klnagent", RecordKind.SERVICE),
        ("PC-2", "kesl", RecordKind.PACKAGE),
    ]
    assert len(errors) == 1 and errors[0].startswith(
        f"{path}:4: unknown record kind 'gadget' (known: package, app,"
    )


def test_generic_without_name_column_is_an_error(tmp_path: Path) -> None:
    recs, errors, path = read_bytes(GenericCsvReader(), b"Host,Size\nPC-1,12\n", tmp_path)
    assert recs == []
    assert errors == [
        f"{path}:1: no application-name column in the header (name the column with --columns name=HEADER)"
    ]


def test_parse_column_map() -> None:
    assert parse_column_map(" host = Computer Name , name=App ,bundle_id=Bundle ID") == {
        "host": "Computer Name",
        "name": "App",
        "bundle_id": "Bundle ID",
    }
    with pytest.raises(ValueError, match=r"unknown field 'colour' in column map; fields are: host, name"):
        parse_column_map("name=App,colour=Red")
    with pytest.raises(ValueError, match=r"'name' is not FIELD=HEADER"):
        parse_column_map("name")
    with pytest.raises(ValueError, match=r"names no header"):
        parse_column_map("name=")
    with pytest.raises(ValueError, match=r"mapped twice"):
        parse_column_map("name=A,name=B")
    with pytest.raises(ValueError, match=r"empty column map"):
        parse_column_map(" , ")
    with pytest.raises(ValueError, match=r"unknown field"):
        GenericCsvReader({"colour": "Red"})


# ---- detection --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            b"ApplicationKey,ApplicationName,ApplicationPublisher,ApplicationShortVersion,ApplicationVersion,DeviceCount",
            "intune-csv",
        ),
        (b"DeviceId;ApplicationKey;ApplicationName;ApplicationVersion;DeviceName", "intune-csv"),
        (b'"ResourceID","DisplayName0","Publisher0","Version0"', "configmgr-csv"),
        (b"ARPDisplayName0\tProductName0\tProductVersion0\tPublisher0\tInstalledLocation0", "configmgr-csv"),
        (b"Computer Name,ARP Display Name,Publisher,Version", "configmgr-csv"),
        (b"Computer Name,Serial Number,Application Title,Application Version", "jamf-csv"),
        (b"Computer Name,Serial Number,Application Name,Application Version", "jamf-csv"),
        (b"deviceId,deviceName,osPlatform,softwareVendor,softwareName,softwareVersion", "defender-tvm-csv"),
        (b"Hostname,Software,Vendor,Version", "csv"),
        (b"sep=;\r\nComputer;Product;Manufacturer", "csv"),
    ],
)
def test_detect_by_header(header: bytes, expected: str) -> None:
    reader = detect(header + b"\r\nx,y\r\n", "export.csv")
    assert reader is not None and reader.name == expected


@pytest.mark.parametrize(
    "head",
    [
        b'{"name": "x", "version": "1"}',
        b"<?xml version='1.0'?><name/>",
        b"Host,Size,Owner\r\nPC-1,1,me\r\n",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        b"name\x00,version\r\n",
    ],
)
def test_csv_readers_do_not_claim(head: bytes) -> None:
    assert all(r.sniff(head, "x.csv") == 0 for r in csvexport.READERS)


def test_generic_scores_below_specific_formats() -> None:
    head = b"ApplicationKey,ApplicationName,ApplicationVersion,DeviceName\r\n"
    assert GenericCsvReader().sniff(head, "x.csv") == 25
    assert IntuneCsvReader().sniff(head, "x.csv") > 25
    assert JamfCsvReader().sniff(head, "x.csv") == 0
    assert DefenderTvmCsvReader().sniff(head, "x.csv") == 0


# ---- encodings and delimiters -----------------------------------------------------------------


def test_utf16_be_with_bom_and_tabs(tmp_path: Path) -> None:
    text = "Computer Name\tARP Display Name\tPublisher\tVersion\r\nPC-7\tАгент администрирования Kaspersky Security Center\tАО «Лаборатория Касперского»\t14.2\r\n"
    recs, errors, _path = read_bytes(ConfigMgrCsvReader(), b"\xfe\xff" + text.encode("utf-16-be"), tmp_path)
    assert errors == []
    assert [row(r) for r in recs] == [
        (
            "PC-7",
            "Агент администрирования Kaspersky Security Center",
            "14.2",
            "АО «Лаборатория Касперского»",
            "inv.csv:2",
        )
    ]


def test_excel_sep_line(tmp_path: Path) -> None:
    data = b"sep=;\r\nComputer Name;ARP Display Name;Version\r\nPC-1;Kaspersky Endpoint Security for Windows;12,5\r\n"
    recs, errors, _ = read_bytes(ConfigMgrCsvReader(), data, tmp_path)
    assert errors == []
    assert [row(r) for r in recs] == [
        ("PC-1", "Kaspersky Endpoint Security for Windows", "12,5", None, "inv.csv:3")
    ]


def test_quoted_newline_keeps_line_numbers(tmp_path: Path) -> None:
    data = (
        b'"Computer Name","ARP Display Name","Version"\r\n'
        b'"PC-1","Multi\r\nline ""quoted"" name","1.0"\r\n'
        b'"PC-1","Kaspersky Endpoint Security for Windows","12.5.0.539"\r\n'
    )
    recs, errors, _ = read_bytes(ConfigMgrCsvReader(), data, tmp_path)
    assert errors == []
    assert [(r.name, r.source.location.rsplit(":", 1)[-1]) for r in recs] == [
        ('Multi\r\nline "quoted" name', "2"),
        ("Kaspersky Endpoint Security for Windows", "4"),
    ]


def test_whole_file_cp1252_one_error(tmp_path: Path) -> None:
    text = "Computer Name;ARP Display Name;Publisher;Version\r\nPC-Bäcker;Kaspersky Endpoint Security for Windows;AO Kaspersky Lab;12.5\r\nPC-Bäcker;Müller Werkzeug;Müller GmbH;1.0\r\n"
    recs, errors, path = read_bytes(ConfigMgrCsvReader(), text.encode("cp1252"), tmp_path)
    assert errors == [f"{path}:2: not valid UTF-8; read as Windows-1252 (cp1252) from here"]
    assert [(r.host, r.name, r.publisher) for r in recs] == [
        ("PC-Bäcker", "Kaspersky Endpoint Security for Windows", "AO Kaspersky Lab"),
        ("PC-Bäcker", "Müller Werkzeug", "Müller GmbH"),
    ]


def test_mixed_encodings_names_the_first_bad_line(tmp_path: Path) -> None:
    data = (
        "Computer Name,ARP Display Name,Publisher\r\n"
        "PC-1,Антивирус Касперского,АО «Лаборатория Касперского»\r\n"
        "PC-1,7-Zip,Igor Pavlov\r\n"
    ).encode() + "PC-2,Café Manager,Société Générale\r\nPC-2,Naïve Tool,Zoë\r\n".encode("cp1252")
    recs, errors, path = read_bytes(ConfigMgrCsvReader(), data, tmp_path)
    assert errors == [f"{path}:4: not valid UTF-8; read as Windows-1252 (cp1252) from here"]
    assert [r.name for r in recs] == ["Антивирус Касперского", "7-Zip", "Café Manager", "Naïve Tool"]
    assert recs[3].publisher == "Zoë"


# ---- bad input --------------------------------------------------------------------------------

HEADER = b'"Computer Name","ARP Display Name","Publisher","Version"\r\n'
GOOD = b'"PC-1","Kaspersky Endpoint Security for Windows","AO Kaspersky Lab","12.5.0.539"\r\n'


def test_truncated_mid_quote(tmp_path: Path) -> None:
    data = HEADER + GOOD + b'"PC-2","Kaspersky Security Center Net'
    recs, errors, path = read_bytes(ConfigMgrCsvReader(), data, tmp_path)
    assert [r.host for r in recs] == ["PC-1"]
    assert errors == [
        f"{path}:3: bad CSV row: quoted field not closed before the end of the file (truncated?); row skipped"
    ]


def test_truncated_fewer_fields_and_too_many(tmp_path: Path) -> None:
    data = HEADER + b'"PC-9","Extra","Acme","1","surprise"\r\n' + GOOD + b'"PC-2","Kaspersky Secur'
    data = data.replace(b'"Kaspersky Secur', b'"Kaspersky Security Center Network Agent"')
    data += b"\r\n" + b'"PC-3","Trailing"\r\n'
    recs, errors, path = read_bytes(ConfigMgrCsvReader(), data, tmp_path)
    assert [(r.host, r.name) for r in recs] == [("PC-1", "Kaspersky Endpoint Security for Windows")]
    assert errors == [
        f"{path}:2: row has 5 fields, the header has 4; row skipped",
        f"{path}:4: row has 2 fields, the header has 4; row skipped",
        f"{path}:5: row has 2 fields, the header has 4; row skipped",
    ]


def test_trailing_empty_fields_are_tolerated(tmp_path: Path) -> None:
    data = HEADER + GOOD.replace(b"\r\n", b",,\r\n")
    recs, errors, _ = read_bytes(ConfigMgrCsvReader(), data, tmp_path)
    assert errors == [] and len(recs) == 1


def test_stray_quote_after_closing_quote(tmp_path: Path) -> None:
    data = HEADER + b'"PC-1","Bad"x,"Acme","1"\r\n' + GOOD
    recs, errors, path = read_bytes(ConfigMgrCsvReader(), data, tmp_path)
    assert [r.name for r in recs] == ["Kaspersky Endpoint Security for Windows"]
    assert errors == [f"{path}:2: bad CSV row: ',' expected after '\"'; row skipped"]


def test_binary_file_given_as_csv(tmp_path: Path) -> None:
    path = tmp_path / "disk.img"
    path.write_bytes(b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" * 64)
    recs, errors, fmt = read(path, "configmgr-csv")
    assert fmt == "configmgr-csv"
    assert recs == []
    assert errors == [f"{path}:1: binary data, not CSV; rest of file skipped"]
    recs, errors, _fmt = read(path)  # auto-detection: no CSV reader claims it
    assert errors == [f"{path}: unrecognised input format (use --input-format to name it)"]


def test_binary_data_after_good_rows(tmp_path: Path) -> None:
    data = HEADER + GOOD + b"PK\x03\x04\x14\x00\x00\x00\x08\x00\r\n" + GOOD
    recs, errors, path = read_bytes(ConfigMgrCsvReader(), data, tmp_path)
    assert len(recs) == 1
    assert errors == [f"{path}:3: binary data, not CSV; rest of file skipped"]


def test_invalid_utf16(tmp_path: Path) -> None:
    text = "Computer Name,ARP Display Name\r\nPC-1,Kaspersky Endpoint Security for Windows\r\n"
    bad = b"P\x00C\x00\x00\xd8,\x00x\x00\r\x00\n\x00"  # a lone high surrogate in the host name
    data = b"\xff\xfe" + text.encode("utf-16-le") + bad + bad
    recs, errors, path = read_bytes(ConfigMgrCsvReader(), data, tmp_path)
    assert [r.host for r in recs] == ["PC-1", "PC\ufffd", "PC\ufffd"]
    assert errors == [f"{path}:3: invalid UTF-16 data, shown as U+FFFD"]


def test_overlong_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(csvsniff, "MAX_LINE_BYTES", 200)
    data = HEADER + GOOD + b'"PC-2","' + b"A" * 300 + b'","x","1"\r\n' + GOOD
    recs, errors, path = read_bytes(ConfigMgrCsvReader(), data, tmp_path)
    assert len(recs) == 1
    assert errors == [f"{path}:3: line longer than 200 bytes; rest of file skipped"]


def test_empty_and_header_only_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert read(empty)[1] == [f"{empty}: empty input (0 bytes)"]
    only = tmp_path / "AppInvRawData.csv"
    only.write_bytes((DATA / "intune_appinvrawdata.csv").read_bytes().split(b"\r\n")[0] + b"\r\n")
    recs, errors, fmt = read(only)
    assert (recs, errors, fmt) == ([], [], "intune-csv")
    ps = tmp_path / "ps.csv"
    ps.write_bytes(b'#TYPE System.Data.DataRow\r\n"Name0","DisplayName0"\r\n')
    assert read(ps) == ([], [], "configmgr-csv")
    typeonly = tmp_path / "typeonly.csv"
    typeonly.write_bytes(b"#TYPE System.Data.DataRow\r\n")
    # a format forced with --input-format that reads nothing from a non-empty file is an error
    recs, errors, fmt = read(typeonly, "csv")
    assert (recs, fmt) == ([], "csv")
    assert errors == [
        f"{typeonly}: read as csv (as asked), but no record was found in it; is it that format? "
        "(without --input-format the format is detected)"
    ]


def test_forced_format_that_does_not_fit(tmp_path: Path) -> None:
    recs, errors, _fmt = read(DATA / "jamf_advanced_search.csv", "defender-tvm-csv")
    assert recs == []
    assert errors == [
        f"{DATA / 'jamf_advanced_search.csv'}:1: no DeviceTvmSoftwareInventory application-name column ('softwarename') in the header"
    ]


def test_stream_is_not_closed_by_utf16_reading() -> None:
    data = (
        b"\xff\xfe"
        + "ARPDisplayName0,Publisher0\r\nKaspersky Endpoint Security for Windows,AO Kaspersky Lab\r\n".encode(
            "utf-16-le"
        )
    )
    stream = io.BufferedReader(io.BytesIO(data))  # type: ignore[arg-type]
    recs = list(ConfigMgrCsvReader().read(stream, "mem.csv", ErrorSink(echo=False), "h"))
    assert [r.host for r in recs] == ["h"]
    assert not stream.closed
