"""Fleet inputs: REST API software JSON and software CSV exports, bad items, scans."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from banscan.catalog.loader import load_catalog
from banscan.errors import ErrorSink
from banscan.inputs.fleet import FleetReader
from banscan.inputs.registry import detect
from banscan.models import InventoryRecord, RecordKind
from banscan.scan import ScanOptions, run_scan

DATA = Path(__file__).parent / "data" / "inputs" / "fleet"
AS_OF = dt.date(2025, 1, 15)
META = {"has_next_results": False, "has_previous_results": False}


def read(path: Path, default_host: str = "default") -> tuple[list[InventoryRecord], list[str]]:
    sink = ErrorSink(echo=False)
    with open(path, "rb") as stream:
        records = list(FleetReader().read(stream, str(path), sink, default_host))
    return records, sink.lines


def rows(records: list[InventoryRecord]) -> list[tuple[str, RecordKind, str, str | None]]:
    return [(r.host, r.kind, r.name, r.version) for r in records]


def scan(*paths: Path) -> Any:
    return run_scan(
        load_catalog(), ScanOptions(as_of=AS_OF, echo_errors=False), inputs=[str(p) for p in paths]
    )


def findings(result: Any) -> set[tuple[str, str, str]]:
    return {(f.host, f.product, f.verdict.value) for f in result.findings}


def write_json(tmp_path: Path, name: str, doc: Any) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def installed(version: str, *paths: str) -> list[dict[str, Any]]:
    return [
        {"version": version, "last_opened_at": None, "vulnerabilities": [], "installed_paths": list(paths)}
    ]


KES_ITEM = {
    "id": 412,
    "name": "Kaspersky Endpoint Security for Windows",
    "software_package": None,
    "app_store_app": None,
    "source": "programs",
    "status": None,
    "installed_versions": installed("12.5.0.539"),
}


# --- JSON ---------------------------------------------------------------------------------------


def test_host_software_is_named_after_the_file_and_skips_software_only_offered() -> None:
    path = DATA / "ws-hr-05.json"
    records, errors = read(path, default_host="ws-hr-05")
    assert errors == []
    assert rows(records) == [
        ("ws-hr-05", RecordKind.APP, "Kaspersky Endpoint Security for Windows", "12.5.0.539"),
        ("ws-hr-05", RecordKind.APP, "Google Chrome", "131.0.6778.205"),
        ("ws-hr-05", RecordKind.EXTENSION, "Kaspersky Protection", "4.0.98.0"),
    ]  # "Kaspersky Free" has a software package to install but no installed_versions
    assert records[1].path == "C:\\Program Files\\Google\\Chrome\\Application"
    assert records[0].source.location == f"{path}:software[0]"


def test_host_software_inside_a_host_object_uses_its_hostname(tmp_path: Path) -> None:
    kav = {
        "id": 5012,
        "name": "Kaspersky Anti-Virus.app",
        "source": "apps",
        "status": None,
        "installed_versions": [
            {
                "version": "21.8.4.190",
                "bundle_identifier": "com.kaspersky.kav",
                "last_opened_at": "2025-01-10T08:01:12Z",
                "vulnerabilities": [],
                "installed_paths": [
                    "/Applications/Kaspersky Anti-Virus.app",
                    "/Users/dana/Applications/Kaspersky Anti-Virus.app",
                ],
            }
        ],
    }
    doc = {
        "host": {"id": 9, "hostname": "mbp-sales-04", "display_name": "Dana's MacBook"},
        "count": 2,
        "software": [KES_ITEM, kav],
        "meta": META,
    }
    records, errors = read(write_json(tmp_path, "h9.json", doc))
    assert errors == []
    assert [(r.host, r.name, r.bundle_id, r.path) for r in records] == [
        ("mbp-sales-04", "Kaspersky Endpoint Security for Windows", None, None),
        (
            "mbp-sales-04",
            "Kaspersky Anti-Virus",
            "com.kaspersky.kav",
            "/Applications/Kaspersky Anti-Virus.app",
        ),
        (
            "mbp-sales-04",
            "Kaspersky Anti-Virus",
            "com.kaspersky.kav",
            "/Users/dana/Applications/Kaspersky Anti-Virus.app",
        ),
    ]


def test_host_details_software() -> None:
    records, errors = read(DATA / "host-23.json")
    assert errors == []
    assert rows(records) == [
        ("mbp-legal-11", RecordKind.APP, "Kaspersky Anti-Virus", "21.8.4.190"),
        ("mbp-legal-11", RecordKind.APP, "Firefox", "133.0.3"),
        ("mbp-legal-11", RecordKind.EXTENSION, "Kaspersky Protection", "4.0.98.0"),
    ]
    assert records[0].bundle_id == "com.kaspersky.kav"
    assert records[1].cpe == "cpe:2.3:a:mozilla:firefox:133.0.3:*:*:*:*:macos:*:*"
    assert (
        records[2].extension_id == "amkpcclbbgegoafihnpgomddadjhcadd"
        and ("browser", "chrome") in records[2].extra
    )


def test_hosts_list_with_software(tmp_path: Path) -> None:
    doc = {
        "hosts": [
            {
                "id": 1,
                "hostname": "lnx-ci-07",
                "software": [
                    {
                        "id": 3,
                        "name": "kesl",
                        "version": "12.1.0-1508",
                        "source": "deb_packages",
                        "vendor": "AO Kaspersky Lab <support@kaspersky.com>",
                        "generated_cpe": "",
                        "vulnerabilities": None,
                        "installed_paths": ["/opt/kaspersky/kesl"],
                    }
                ],
            },
            {"id": 2, "hostname": "lnx-ci-08", "software": []},
            "not a host",
        ]
    }
    path = write_json(tmp_path, "hosts.json", doc)
    records, errors = read(path)
    assert rows(records) == [("lnx-ci-07", RecordKind.PACKAGE, "kesl", "12.1.0-1508")]
    assert records[0].publisher == "AO Kaspersky Lab <support@kaspersky.com>"
    assert records[0].path == "/opt/kaspersky/kesl"
    assert errors == [f"{path}:hosts[2]: not a host object; skipped"]


def test_fleet_wide_versions_go_to_the_fleet_host_with_hosts_count() -> None:
    records, errors = read(DATA / "software-versions.json")
    assert errors == []
    assert rows(records) == [
        ("fleet", RecordKind.PACKAGE, "glibc", "2.12"),
        ("fleet", RecordKind.PACKAGE, "kesl", "12.1.0"),
        ("fleet", RecordKind.EXTENSION, "1Password – Password Manager", "2.10.0"),
    ]
    kesl = records[1]
    assert kesl.publisher == "AO Kaspersky Lab"
    assert dict(kesl.extra) == {
        "source": "rpm_packages",
        "release": "1508",
        "arch": "x86_64",
        "hosts_count": "12",
    }
    assert records[0].cpe == "cpe:2.3:a:gnu:glibc:2.12:*:*:*:*:*:*:*"
    assert records[2].extension_id == "aeblfdkhhhdcdjpifhhbdiojplfjncoa"


def test_one_version_and_software_titles(tmp_path: Path) -> None:
    one = {
        "software": {
            "id": 7,
            "name": "Firefox.app",
            "version": "117.0",
            "bundle_identifier": "org.mozilla.firefox",
            "source": "apps",
            "browser": "",
            "generated_cpe": "",
            "vulnerabilities": [],
        }
    }
    records, _ = read(write_json(tmp_path, "v7.json", one))
    assert [(r.host, r.name, r.bundle_id) for r in records] == [("fleet", "Firefox", "org.mozilla.firefox")]
    titles = {
        "count": 1,
        "counts_updated_at": "2025-01-14T12:00:00Z",
        "software_titles": [
            {
                "id": 4,
                "name": "kesl",
                "versions_count": 2,
                "source": "deb_packages",
                "browser": "",
                "hosts_count": 9,
                "versions": [
                    {"id": 31, "version": "11.4.0-5150", "vulnerabilities": None, "hosts_count": 2},
                    {"id": 32, "version": "12.1.0-1508", "vulnerabilities": None},
                ],
            }
        ],
    }
    records, errors = read(write_json(tmp_path, "titles.json", titles))
    assert errors == []
    assert [(r.host, r.name, r.version, r.get("hosts_count")) for r in records] == [
        ("fleet", "kesl", "11.4.0-5150", "2"),
        ("fleet", "kesl", "12.1.0-1508", "9"),
    ]


def test_bad_json_items_are_reported_by_their_path(tmp_path: Path) -> None:
    doc = {
        "count": 3,
        "software": [
            KES_ITEM,
            "oops",
            {"id": 5, "source": "programs"},
            dict(KES_ITEM, installed_versions=[42, *installed("12.6.0.438")]),
        ],
        "meta": META,
    }
    path = write_json(tmp_path, "pc-1.json", doc)
    records, errors = read(path, default_host="pc-1")
    assert [r.version for r in records] == ["12.5.0.539", "12.6.0.438"]
    assert errors == [
        f"{path}:software[1]: not a software object with a name; skipped",
        f"{path}:software[2]: not a software object with a name; skipped",
        f"{path}:software[3].installed_versions[0]: not an object; skipped",
    ]
    broken = tmp_path / "broken.json"
    broken.write_text('{"count": 1, "software": [{"name": "Kaspersky', encoding="utf-8")
    records, errors = read(broken)
    assert records == [] and len(errors) == 1 and errors[0].startswith(f"{broken}: not valid JSON (")
    other = write_json(tmp_path, "other.json", {"count": 0, "software_packages": []})
    assert read(other) == ([], [f"{other}: no software, software_titles or hosts list; nothing read"])


# --- CSV ------------------------------------------------------------------------------------------


def test_per_host_software_csv() -> None:
    path = DATA / "software-by-host.csv"
    records, errors = read(path)
    assert errors == []
    assert rows(records) == [
        ("lnx-build-01", RecordKind.PACKAGE, "kesl", "12.1.0-1508"),
        ("lnx-build-01", RecordKind.PACKAGE, "curl", "7.81.0-1ubuntu1.20"),
        ("WS-OPS-09", RecordKind.APP, "Kaspersky Endpoint Security for Windows", "12.5.0.539"),
        (
            "WS-OPS-09",
            RecordKind.APP,
            "Microsoft Visual C++ 2015-2022 Redistributable (x64) - 14.40.33810",
            "14.40.33810.0",
        ),
        ("mbp-art-02", RecordKind.APP, "Kaspersky Anti-Virus", "21.8.4.190"),
        ("mbp-art-02", RecordKind.APP, "Slack", "4.41.105"),
    ]
    assert records[1].cpe == "cpe:2.3:a:haxx:curl:7.81.0:*:*:*:*:*:*:*"
    assert records[2].publisher == "AO Kaspersky Lab" and records[2].source.location == f"{path}:4"
    assert records[4].bundle_id == "com.kaspersky.kav"


def test_fleet_wide_csv() -> None:
    records, errors = read(DATA / "software-fleetwide.csv")
    assert errors == []
    assert [(r.host, r.name, r.get("hosts_count")) for r in records] == [
        ("fleet", "kesl", "7"),
        ("fleet", "Kaspersky Endpoint Security for Windows", "41"),
        ("fleet", "Google Chrome", "380"),
    ]


def test_bad_csv_rows_give_one_error_line_each(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(
        b"host_name,name,version,source,vendor\n"  # 1
        b"pc-7,Kaspersky Endpoint Security for Windows,12.5.0.539,programs,AO Kaspersky Lab\n"  # 2
        b"pc-7,too,few\n"  # 3
        b'pc-8,"Kaspersky Security Center\nNetwork Agent",14.2.0.26967,programs,AO Kaspersky Lab\n'  # 4-5
        b"pc-8,,1.0,programs,Nobody\n"  # 6
        b"\n"  # 7
        b"pc-9,Caf\xe9 Tools,2.0,programs,Caf\xe9\n"  # 8
        b",kesl,12.1.0-1508,deb_packages,AO Kaspersky Lab\n"  # 9: no host: the file's
    )
    records, errors = read(path, default_host="export")
    assert errors == [
        f"{path}:3: 3 fields where the header has 5; skipped",
        f"{path}:6: no software name; skipped",
        f"{path}:8: not valid UTF-8; undecodable bytes replaced",
    ]
    assert [(r.host, r.name, r.source.location) for r in records] == [
        ("pc-7", "Kaspersky Endpoint Security for Windows", f"{path}:2"),
        ("pc-8", "Kaspersky Security Center\nNetwork Agent", f"{path}:4"),
        ("pc-9", "Caf\ufffd Tools", f"{path}:8"),
        ("export", "kesl", f"{path}:9"),
    ]


# --- detection and whole scans ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "score"),
    [
        ("ws-hr-05.json", 90),
        ("host-23.json", 90),
        ("software-versions.json", 90),
        ("software-by-host.csv", 85),
        ("software-fleetwide.csv", 85),
    ],
)
def test_sniff_and_detect(name: str, score: int) -> None:
    head = (DATA / name).read_bytes()
    assert FleetReader().sniff(head, name) == score
    found = detect(head, name)
    assert found is not None and found.name == "fleet"


def test_sniff_rejects_other_formats() -> None:
    reader = FleetReader()
    osquery_log = Path(__file__).parent / "data" / "inputs" / "osquery" / "osqueryd.results.log"
    assert reader.sniff(osquery_log.read_bytes(), "r.log") == 0
    hosts_report = b"created_at,updated_at,id,hostname,uuid,platform,osquery_version,os_version\n"
    assert reader.sniff(hosts_report, "hosts.csv") == 0
    assert reader.sniff(b"name,version,publisher\nkesl,12,AO\n", "x.csv") == 0


def test_scan_of_fleet_exports_gives_per_host_findings(tmp_path: Path) -> None:
    gz = tmp_path / "host-23.json.gz"
    gz.write_bytes(gzip.compress((DATA / "host-23.json").read_bytes()))
    result = scan(DATA / "software-by-host.csv", DATA / "ws-hr-05.json", gz, DATA / "software-versions.json")
    assert findings(result) == {
        ("lnx-build-01", "kesl", "covered"),
        ("WS-OPS-09", "kes-windows", "covered"),
        ("mbp-art-02", "kaspersky-anti-virus", "covered"),
        ("ws-hr-05", "kes-windows", "covered"),
        ("ws-hr-05", "kaspersky-protection-extension", "covered"),
        ("mbp-legal-11", "kaspersky-anti-virus", "covered"),
        ("mbp-legal-11", "kaspersky-protection-extension", "covered"),
        ("fleet", "kesl", "covered"),
    }
    assert [(t.format, t.records, t.errors) for t in result.targets] == [
        ("fleet", 6, []),
        ("fleet", 3, []),
        ("fleet", 3, []),
        ("fleet", 3, []),
    ]


def test_scan_reports_bad_fleet_input_and_goes_on(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "hostname,name,version,source\npc-1,Kaspersky Free,21.3,programs\npc-2,x\n", encoding="utf-8"
    )
    result = scan(bad, DATA / "software-fleetwide.csv")
    assert ("pc-1", "kaspersky-free", "covered") in findings(result)
    assert [len(t.errors) for t in result.targets] == [1, 0]
    assert result.targets[0].errors == [f"{bad}:3: 2 fields where the header has 4; skipped"]
