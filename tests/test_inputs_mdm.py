"""JSON inventories from Intune (Graph detectedApps, managedDevice, report export) and Jamf Pro
(Pro API computers-inventory, Classic API mobile device).

Fixtures in tests/data/inputs/mdm follow the documented shapes: the Graph `detectedApp` keys
in their documented order inside the OData wrapper (the wrapper itself is not confirmed by a
capture); a `managedDevice` with `deviceName` and a `detectedApps` list (the per-device shape
is not confirmed); the report export JSON as Intune writes it (UTF-8 with a BOM, CRLF, one row
per line inside `values`); Jamf `ComputerApplication` objects with `.app` names and real
nulls; a Classic API mobile device. Hosts, versions and ids are made up.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from banscan.catalog.loader import load_catalog
from banscan.errors import ErrorSink
from banscan.inputs import mdm
from banscan.inputs.mdm import IntuneJsonReader, JamfJsonReader, LocatedJson
from banscan.inputs.registry import read_target
from banscan.models import InventoryRecord, RecordKind, ScanResult
from banscan.scan import ScanOptions, run_scan

DATA = Path(__file__).parent / "data" / "inputs" / "mdm"


def read(path: Path, fmt: str | None = None) -> tuple[list[InventoryRecord], list[str], str]:
    sink = ErrorSink(echo=False)
    target, records = read_target(str(path), sink, input_format=fmt)
    out = list(records)
    assert target.records == len(out)
    return out, target.errors, target.format


def write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def loc(r: InventoryRecord) -> str:
    return r.source.location.rsplit("/", 1)[-1]


def scan(path: Path) -> ScanResult:
    return run_scan(
        load_catalog(), ScanOptions(as_of=date(2025, 1, 15), echo_errors=False), inputs=[str(path)]
    )


def findings(result: ScanResult) -> dict[tuple[str, str], str]:
    return {(f.host, f.product): f.verdict.value for f in result.findings}


# ---- Intune ---------------------------------------------------------------------------------


def test_graph_detected_apps() -> None:
    recs, errors, fmt = read(DATA / "intune_detectedapps.json")
    assert fmt == "intune-json" and errors == []
    assert [(r.host, r.name, r.version, r.publisher, loc(r)) for r in recs] == [
        (
            "intune_detectedapps",
            "Kaspersky Endpoint Security for Windows",
            "12.5.0.539",
            "AO Kaspersky Lab",
            "intune_detectedapps.json:4",
        ),
        (
            "intune_detectedapps",
            "Kaspersky Security Center Network Agent",
            "14.2.0.26967",
            "AO Kaspersky Lab",
            "intune_detectedapps.json:14",
        ),
        (
            "intune_detectedapps",
            "Kaspersky Anti-Virus",
            "21.0.19",
            None,
            "intune_detectedapps.json:24",
        ),  # publisher ""
        (
            "intune_detectedapps",
            "Google Chrome",
            "131.0.6778.140",
            "Google LLC",
            "intune_detectedapps.json:34",
        ),
        (
            "intune_detectedapps",
            "Microsoft Teams",
            "24295.605.3225.8804",
            "Microsoft Corporation",
            "intune_detectedapps.json:44",
        ),
    ]
    assert recs[0].kind is RecordKind.APP and recs[0].source.collector == "intune-json"
    assert dict(recs[0].extra)["device_count"] == "212"
    assert dict(recs[2].extra)["platform"] == "macOS"
    result = scan(DATA / "intune_detectedapps.json")
    assert findings(result) == {
        ("intune_detectedapps", "kes-windows"): "covered",
        ("intune_detectedapps", "ksc-network-agent"): "covered",
        ("intune_detectedapps", "kaspersky-anti-virus"): "covered",
    }


def test_managed_device_with_detected_apps() -> None:
    recs, errors, fmt = read(DATA / "intune_manageddevice_detectedapps.json")
    assert fmt == "intune-json" and errors == []
    assert [(r.host, r.name, r.version, loc(r)) for r in recs] == [
        (
            "PC-FIN-0142",
            "Kaspersky Endpoint Security for Windows",
            "12.5.0.539",
            "intune_manageddevice_detectedapps.json:10",
        ),
        (
            "PC-FIN-0142",
            "Kaspersky Security Center Network Agent",
            "14.2.0.26967",
            "intune_manageddevice_detectedapps.json:19",
        ),
        ("PC-FIN-0142", "Google Chrome", "131.0.6778.140", "intune_manageddevice_detectedapps.json:28"),
    ]
    extra = dict(recs[0].extra)
    assert (
        extra["device_id"] == "3f0c9b1e-7a52-4d8e-9c61-0b7e5a2d4f13"
        and extra["serial_number"] == "5CG3284XYZ"
    )
    assert findings(scan(DATA / "intune_manageddevice_detectedapps.json")) == {
        ("PC-FIN-0142", "kes-windows"): "covered",
        ("PC-FIN-0142", "ksc-network-agent"): "covered",
    }


def test_managed_devices_list_saved_as_utf16(tmp_path: Path) -> None:
    """`Invoke-MgGraphRequest ... | ConvertTo-Json -Depth 5 | Out-File` in Windows PowerShell 5.1 writes UTF-16LE."""
    doc = {
        "value": [
            {
                "deviceName": "PC-A",
                "detectedApps": [{"displayName": "Антивирус Касперского", "version": "21.3"}],
            },
            {"deviceName": "PC-B", "detectedApps": []},
            {
                "deviceName": "PC-C",
                "detectedApps": [{"displayName": "Kaspersky Endpoint Security for Windows"}],
            },
        ]
    }
    text = json.dumps(doc, indent=4, ensure_ascii=False).replace("\n", "\r\n")
    path = write(tmp_path, "devices.json", b"\xff\xfe" + text.encode("utf-16-le"))
    recs, errors, fmt = read(path)
    assert fmt == "intune-json" and errors == []
    assert [(r.host, r.name, r.version, loc(r)) for r in recs] == [
        ("PC-A", "Антивирус Касперского", "21.3", "devices.json:6"),
        ("PC-C", "Kaspersky Endpoint Security for Windows", None, "devices.json:19"),
    ]


def test_report_export_json() -> None:
    raw = (DATA / "AppInvRawData_1.json").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf{\r\n")
    recs, errors, fmt = read(DATA / "AppInvRawData_1.json")
    assert fmt == "intune-json" and errors == []
    assert [(r.host, r.name, r.version, r.publisher, loc(r)) for r in recs] == [
        (
            "PC-FIN-0142",
            "Kaspersky Endpoint Security for Windows",
            "12.5.0.539",
            "AO Kaspersky Lab",
            "AppInvRawData_1.json:4",
        ),
        ("PC-FIN-0142", "Google Chrome", "131.0.6778.140", "Google LLC", "AppInvRawData_1.json:5"),
        (
            "PC-ACC-0210",
            "Антивирус Касперского",
            "21.3.10.391",
            "АО «Лаборатория Касперского»",
            "AppInvRawData_1.json:6",
        ),
        (
            "PC-HR-0007",
            'Contoso "Field" Tools, Enterprise',
            "4.2.1.0",
            "Contoso, Ltd.",
            "AppInvRawData_1.json:7",
        ),
    ]
    assert recs[0].source.collector == "intune-json"
    assert dict(recs[0].extra)["device_id"] == "3f0c9b1e-7a52-4d8e-9c61-0b7e5a2d4f13"
    assert findings(scan(DATA / "AppInvRawData_1.json")) == {
        ("PC-FIN-0142", "kes-windows"): "covered",
        ("PC-ACC-0210", "kaspersky-anti-virus"): "covered",
    }


def test_report_export_aggregate_and_bad_rows(tmp_path: Path) -> None:
    text = (
        '{\r\n"columns": ["ApplicationKey","ApplicationName","ApplicationPublisher","ApplicationVersion","DeviceCount"],\r\n'
        '"values": [\r\n'
        '{"ApplicationKey":"k1","ApplicationName":"Kaspersky Security Center Network Agent","ApplicationPublisher":"AO Kaspersky Lab","ApplicationVersion":"14.2.0.26967","DeviceCount":214},\r\n'
        '"not a row",\r\n'
        '["k2","Google Chrome","Google LLC","131.0.6778.140",1533]\r\n'
        "]\r\n}\r\n"
    )
    path = write(tmp_path, "AppInvAggregate_1.json", b"\xef\xbb\xbf" + text.encode())
    recs, errors, fmt = read(path)
    assert fmt == "intune-json"
    assert [(r.host, r.name, dict(r.extra)["device_count"], loc(r)) for r in recs] == [
        ("AppInvAggregate_1", "Kaspersky Security Center Network Agent", "214", "AppInvAggregate_1.json:4"),
        ("AppInvAggregate_1", "Google Chrome", "1533", "AppInvAggregate_1.json:values[2]"),
    ]
    assert errors == [f"{path}:values[1]: row does not match the columns; skipped"]


# ---- Jamf Pro -------------------------------------------------------------------------------


def test_jamf_computers_inventory() -> None:
    recs, errors, fmt = read(DATA / "jamf_computers_inventory.json")
    assert fmt == "jamf-json" and errors == []
    assert [(r.host, r.name, r.version, r.bundle_id, loc(r)) for r in recs] == [
        (
            "MBP-DESIGN-07",
            "Kaspersky Anti-Virus",
            "21.0.19",
            "com.kaspersky.kav",
            "jamf_computers_inventory.json:17",
        ),
        ("MBP-DESIGN-07", "Stickies", "10.0", None, "jamf_computers_inventory.json:29"),
        ("MBP-DESIGN-07", "Safari", "18.2", "com.apple.Safari", "jamf_computers_inventory.json:41"),
        (
            "MBA-SALES-12",
            "Slack",
            "4.41.105",
            "com.tinyspeck.slackmacgap",
            "jamf_computers_inventory.json:68",
        ),
        ("MBA-SALES-12", "Microsoft Word", "16.92", "com.microsoft.Word", "jamf_computers_inventory.json:80"),
    ]
    kav = recs[0]
    assert kav.path == "/Applications/Kaspersky Anti-Virus.app"
    assert dict(kav.extra) == {
        "jamf_id": "42",
        "udid": "A1B2C3D4-E5F6-4A7B-8C9D-0E1F2A3B4C5D",
        "serial_number": "C02XK1ZZJG5H",
        "mac_app_store": "false",
        "bundle_version": "21.0.19.475",
    }
    result = scan(DATA / "jamf_computers_inventory.json")
    assert findings(result) == {("MBP-DESIGN-07", "kaspersky-anti-virus"): "covered"}
    assert sorted(result.hosts) == ["MBA-SALES-12", "MBP-DESIGN-07"]


def test_jamf_mobile_device() -> None:
    recs, errors, fmt = read(DATA / "jamf_mobile_device.json")
    assert fmt == "jamf-json" and errors == []
    assert [(r.host, r.name, r.version, r.bundle_id, loc(r)) for r in recs] == [
        (
            "iPad-FIELD-04",
            "Self Service",
            "2021040101",
            "com.jamfsoftware.selfservice",
            "jamf_mobile_device.json:14",
        ),
        ("iPad-FIELD-04", "Apple Store", "5.14.0.761", "com.apple.store.Jolly", "jamf_mobile_device.json:21"),
        (
            "iPad-FIELD-04",
            "Kaspersky",
            "2.58.0",
            "com.kaspersky.securityadvisor",
            "jamf_mobile_device.json:28",
        ),
    ]
    assert dict(recs[0].extra)["short_version"] == "10.10.6"
    assert findings(scan(DATA / "jamf_mobile_device.json")) == {("iPad-FIELD-04", "kaspersky-ios"): "covered"}


def test_jamf_detail_object_and_classic_computer(tmp_path: Path) -> None:
    detail = {
        "id": "7",
        "udid": "X",
        "general": {"name": "MM-STUDIO-01"},
        "applications": [
            {
                "name": "Kaspersky Anti-Virus.app",
                "bundleId": "com.kaspersky.kav",
                "version": None,
                "cfBundleShortVersionString": "21.0.19",
            }
        ],
    }
    recs, errors, fmt = read(write(tmp_path, "detail.json", json.dumps(detail)))
    assert fmt == "jamf-json" and errors == []
    assert [(r.host, r.name, r.version) for r in recs] == [
        ("MM-STUDIO-01", "Kaspersky Anti-Virus", "21.0.19")
    ]
    classic = {
        "computer": {
            "general": {"id": 9, "name": "IMAC-LAB-3", "serial_number": "D25XXXX"},
            "software": {
                "applications": [
                    {
                        "name": "Kaspersky Anti-Virus.app",
                        "path": "/Applications/Kaspersky Anti-Virus.app",
                        "version": "21.0.19",
                        "bundle_id": "com.kaspersky.kav",
                    }
                ]
            },
        }
    }
    recs, errors, fmt = read(write(tmp_path, "classic.json", json.dumps(classic, indent=2)))
    assert fmt == "jamf-json" and errors == []
    assert [(r.host, r.name, r.bundle_id, loc(r)) for r in recs] == [
        ("IMAC-LAB-3", "Kaspersky Anti-Virus", "com.kaspersky.kav", "classic.json:10")
    ]


def test_jamf_without_applications_section_and_bad_entries(tmp_path: Path) -> None:
    doc = {
        "totalCount": 3,
        "results": [
            {"id": "1", "general": {"name": "A"}},
            {"id": "2", "general": {"name": "B"}, "applications": "none"},
            {
                "id": "3",
                "general": {"name": None},
                "hardware": {"serialNumber": "S3"},
                "applications": [7, {"name": "Foo.app"}],
            },
            "junk",
        ],
    }
    path = write(tmp_path, "inv.json", json.dumps(doc, indent=1))
    recs, errors, _fmt = read(path)
    assert [(r.host, r.name) for r in recs] == [("inv", "Foo")]
    assert errors == [
        f"{path}:10: 'applications' is not a list; computer skipped",
        f"{path}:17: an applications entry is not an object; skipped",
        f"{path}:results[3]: expected a computer object; skipped",
    ]


# ---- detection and bad input ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (
            b'{"@odata.context":"https://graph.microsoft.com/beta/$metadata#deviceManagement/detectedApps","value":[]}',
            "intune-json",
        ),
        (b'{"value":[{"@odata.type":"#microsoft.graph.detectedApp","id":"1"}]}', "intune-json"),
        (b'\xef\xbb\xbf{\r\n"columns": ["ApplicationKey","ApplicationName"],\r\n"values": [', "intune-json"),
        (b'{"id":"1","deviceName":"PC","detectedApps":[]}', "intune-json"),
        (b'{"totalCount": 1, "results": [{"id": "1", "general": {"name": "M"}}]}', "jamf-json"),
        (b'{"mobile_device": {"general": {"name": "i"}, "applications": []}}', "jamf-json"),
    ],
)
def test_detect(head: bytes, expected: str) -> None:
    scores = {r.name: r.sniff(head, "x.json") for r in mdm.READERS}
    assert max(scores, key=lambda k: scores[k]) == expected and scores[expected] >= 70
    assert min(scores.values()) == 0


@pytest.mark.parametrize(
    "head",
    [
        b"ApplicationKey,ApplicationName,DeviceName\r\n",
        b'{"bomFormat": "CycloneDX", "components": [{"name": "x"}]}',
        b'{"spdxVersion": "SPDX-2.3", "packages": []}',
        b"\x00\x01\x02",
    ],
)
def test_mdm_readers_do_not_claim(head: bytes) -> None:
    assert all(r.sniff(head, "x") == 0 for r in mdm.READERS)


def test_invalid_json_names_the_line(tmp_path: Path) -> None:
    text = '{\n  "value": [\n    {"displayName": "Kaspersky Endpoint Security for Windows"}\n    {"displayName": "x"}\n  ]\n}\n'
    path = write(tmp_path, "apps.json", text)
    recs, errors, _ = read(path, "intune-json")
    assert recs == []
    assert errors == [f"{path}:4: invalid JSON: Expecting ',' delimiter (column 5)"]


def test_truncated_json(tmp_path: Path) -> None:
    full = (DATA / "jamf_computers_inventory.json").read_text(encoding="utf-8")
    path = write(tmp_path, "cut.json", full[: len(full) // 2])
    recs, errors, fmt = read(path)
    assert fmt == "jamf-json" and recs == []
    assert len(errors) == 1 and errors[0].startswith(f"{path}:") and "invalid JSON" in errors[0]


def test_not_utf8_json(tmp_path: Path) -> None:
    path = write(tmp_path, "latin.json", '{"value": [{"displayName": "Café"}]}'.encode("cp1252"))
    _recs, errors, _ = read(path, "intune-json")
    assert errors == [f"{path}: not UTF-8 or UTF-16 text (byte offset 31); skipped"]


def test_size_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mdm, "MAX_BYTES", 64)
    path = write(tmp_path, "big.json", (DATA / "intune_detectedapps.json").read_bytes())
    recs, errors, _ = read(path)
    assert recs == [] and errors == [f"{path}: larger than the 64 bytes limit for JSON inventories; skipped"]
    assert mdm._size(512 * 1024 * 1024) == "512 MiB"


def test_wrong_layout_when_forced(tmp_path: Path) -> None:
    path = write(tmp_path, "other.json", '{"spdxVersion": "SPDX-2.3"}')
    assert read(path, "jamf-json")[1] == [
        f"{path}: not a Jamf Pro computers-inventory or mobile device document"
    ]
    path = write(tmp_path, "list.json", '[{"foo": 1}, 3]')
    assert read(path, "intune-json")[1] == [
        f"{path}:1: neither a detectedApp nor a managedDevice with detectedApps; skipped",
        f"{path}:value[1]: expected an object; skipped",
    ]


def test_located_json_matches_stdlib() -> None:
    for f in sorted(DATA.iterdir()):
        text = f.read_bytes().decode("utf-8-sig")
        assert LocatedJson(text).root == json.loads(text)
    tricky = '[{"a": "x\\"{[", "b": [1, 2, {"c": {}}]}, [], {}, "s", 1.5e3, null, true]'
    assert LocatedJson(tricky).root == json.loads(tricky)
    for bad in ("[1,]", '{"a" 1}', "{,}", '{"a": 1} x', "[", '{"a": 1,}'):
        with pytest.raises(json.JSONDecodeError):
            LocatedJson(bad)


def test_readers_share_one_instance_per_format() -> None:
    assert [type(r).__name__ for r in mdm.READERS] == [IntuneJsonReader.__name__, JamfJsonReader.__name__]
