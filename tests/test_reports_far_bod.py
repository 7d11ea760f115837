"""FAR reports (52.204-23 for Kaspersky, 52.204-25 for section 889: each clause's fields and days
from the catalog) and the BOD 17-01 style document."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from banscan.cli import app
from banscan.documents import ReportInputError, build_context
from banscan.documents.bod import build_bod
from banscan.documents.bod import render_json as bod_json
from banscan.documents.bod import render_markdown as bod_markdown
from banscan.documents.far import build_far, load_far_context
from banscan.documents.far import render_json as far_json
from banscan.documents.far import render_markdown as far_markdown
from banscan.documents.html import render_document, render_html
from banscan.documents.load import load_results
from linux_root import HOSTNAME as LINUX_HOST
from test_reports_data import (
    APPROVER,
    MAC_HOST,
    WIN_HOST,
    both_context,
    catalog,
    estate_files,
    far_context_file,
    late_context,
)


def test_far_fields_and_deadlines() -> None:
    doc = build_far(late_context(), load_far_context(far_context_file()))
    data = json.loads(far_json(doc))
    assert data["schema"] == "banscan/far-52-204-23/v1"
    assert data["contractor"] == "Example Federal Services LLC"
    (report,) = data["reports"]
    assert report["contract_number"] == "47QTCA-22-D-00AB"
    assert report["order_numbers"] == ["47QFCA-24-F-0042"]
    assert report["date_identified"] == "2024-11-08"
    assert report["initial_due"] == "2024-11-14"  # 3 business days; Veterans Day 2024-11-11 skipped
    assert report["followup_due"] == "2024-11-25"
    assert "from identification" in report["followup_basis"]
    items = {(i["host"], i["model_or_product"].split(" 1")[0]) for i in report["items"]}
    assert (LINUX_HOST, "Kaspersky Endpoint Security for Linux") in items
    assert (WIN_HOST, "Kaspersky Endpoint Security for Windows") in items
    item = next(i for i in report["items"] if i["host"] == WIN_HOST)
    assert item["supplier"] == "Kaspersky Lab" and item["brand"] == "Kaspersky"
    assert item["model_or_product"] == "Kaspersky Endpoint Security for Windows 12.3.0.493"
    assert "endpoint protection software installed on host KL-WKS-042" in item["item_description"]
    assert APPROVER in item["exception"] and "does not lift" in item["exception"]
    assert "Microsoft Defender Antivirus" in item["mitigation"]
    assert report["pending"] == []  # every finding of this estate is identified
    assert "prevention_efforts (10-business-day report)" in " ".join(data["missing"])


def test_far_document_is_worded_from_the_regulation() -> None:
    reg = next(r for r in catalog().regulations if r.id == "ndaa-1634-far-52-204-23")
    assert reg.reporting is not None
    first, followup = reg.reports()
    doc = build_far(late_context(), load_far_context(far_context_file()))
    assert doc.regulation == reg.id and doc.clause == f"{reg.reporting.clause}{reg.reporting.paragraph}"
    assert doc.report_to == reg.reporting.to and doc.covered == reg.reporting.covered
    assert doc.initial is not None and doc.followup is not None
    day = dt.date.fromisoformat(late_context().as_of)
    assert (doc.initial.days, doc.followup.days) == (first.terms_on(day)[0], followup.terms_on(day)[0])
    assert first.report is not None and doc.initial.fields == first.report.fields
    assert [p["id"] for p in doc.packs] == ["kaspersky"]
    md = far_markdown(doc)
    assert "Judged by pack: Kaspersky Lab software (kaspersky " in md
    identified = dt.date.fromisoformat(doc.reports[0].date_identified)
    assert f"**{first.terms_on(identified)[0]}-business-day report** ({first.report.paragraph})" in md


def test_review_findings_are_pending_not_reported_as_covered_articles(tmp_path: Path) -> None:
    doc = json.loads(estate_files()[1].read_text(encoding="utf-8"))
    doc["findings"].append(
        {
            "host": "KL-WKS-077",
            "product": "kaspersky-generic",
            "product_name": "Kaspersky software (product not identified)",
            "vendor": "Kaspersky Lab",
            "category": "endpoint-protection",
            "version": None,
            "verdict": "review",
            "confidence": "weak",
            "evidence": [
                {"source": "processes", "kind": "process", "value": "avp.exe", "location": "pid 4242"}
            ],
            "obligations": [],
            "definitions_age_days": 40,
        }
    )
    doc["hosts"].append("KL-WKS-077")
    path = tmp_path / "with-review.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    far = build_far(build_context(load_results([path]), catalog()), load_far_context(far_context_file()))
    (report,) = json.loads(far_json(far))["reports"]
    assert {i["host"] for i in report["pending"]} == {"KL-WKS-077"}
    assert "KL-WKS-077" not in {i["host"] for i in report["items"]}


def test_far_followup_counts_from_initial_submission(tmp_path: Path) -> None:
    p = tmp_path / "ctx.yaml"
    p.write_text(far_context_file().read_text() + "initial_report_submitted: 2024-11-13\n", encoding="utf-8")
    doc = build_far(late_context(), load_far_context(p))
    assert doc.reports[0].followup_due == "2024-11-27"


def test_far_contracts_scope_hosts(tmp_path: Path) -> None:
    p = tmp_path / "ctx.yaml"
    p.write_text(
        "contractor: ACME\ncontracts:\n"
        "  - {contract_number: C-1, hosts: ['srv-*']}\n"
        "  - {contract_number: C-2, order_numbers: [O-9], hosts: ['nothing-*']}\n",
        encoding="utf-8",
    )
    doc = build_far(late_context(), load_far_context(p))
    c1, c2 = doc.reports
    assert {i.host for i in c1.items} == {LINUX_HOST}
    assert c2.items == [] and c2.initial_due == ""
    assert "No covered article identified for this contract." in far_markdown(doc)


def test_far_context_errors_name_the_file(tmp_path: Path) -> None:
    p = tmp_path / "ctx.yaml"
    p.write_text("contractor: ACME\n", encoding="utf-8")
    with pytest.raises(ReportInputError, match=rf"{p}: contracts"):
        load_far_context(p)
    p.write_text("contractor: [unclosed\n", encoding="utf-8")
    with pytest.raises(ReportInputError, match="invalid YAML"):
        load_far_context(p)


def test_far_markdown_and_html_sections() -> None:
    ctx = late_context()
    doc = build_far(ctx, load_far_context(far_context_file()))
    md = far_markdown(doc)
    assert "47QTCA-22-D-00AB" in md and "due **2024-11-14**" in md and "(to be completed)" in md
    html = render_document(ctx, far=doc)
    assert "52.204-23(c)(2)(i)" in html and "Jordan Smith" in html and "2024-11-25" in html
    assert 'id="far-52-204-23"' in render_html(ctx, far=doc)


def test_bod_inventory_plan_and_status() -> None:
    doc = build_bod(both_context())
    data = json.loads(bod_json(doc))
    assert data["schema"] == "banscan/bod-17-01/v1"
    assert "82 FR 43782" in data["citation"]
    assert {r["deadline"] for r in data["requirements"]} == {"2017-10-13", "2017-11-12", "2017-12-12"}
    status = {s["host"]: s["status"] for s in data["status"]}
    assert status[WIN_HOST] == "accepted"  # Network Agent removed, Endpoint Security under exception
    assert status[LINUX_HOST] == "found" and status[MAC_HOST] == "found"
    assert any(i["host"] == WIN_HOST and i["first_identified"] == "2024-10-01" for i in data["inventory"])
    assert any("apt-get purge" in p["removal"] for p in data["plan"])
    md = bod_markdown(doc)
    assert "### 3. Implementation status" in md and WIN_HOST in md


def test_far_document_counts_from_the_first_scan_and_says_overdue(tmp_path: Path) -> None:
    # both scans (2024-10-01 and 2024-11-08): identified on the first, overdue as of the second
    # (a context without its own date_identified: the scans say when)
    undated = tmp_path / "undated.yaml"
    undated.write_text(
        "".join(
            ln
            for ln in far_context_file().read_text().splitlines(True)
            if not ln.startswith("date_identified")
        ),
        encoding="utf-8",
    )
    doc = build_far(both_context(), load_far_context(undated))
    (report,) = doc.reports
    assert (report.date_identified, report.initial_due, report.followup_due) == (
        "2024-10-01",
        "2024-10-04",
        "2024-10-16",
    )
    assert report.initial_state == "overdue since 2024-10-04 (35 days)"
    assert report.followup_state == "overdue since 2024-10-16 (23 days)"
    md = far_markdown(doc)
    assert "due **2024-10-04** — **overdue since 2024-10-04 (35 days)**" in md
    # the later scan alone: identified that day, nothing overdue yet
    fresh = build_far(late_context(), load_far_context(far_context_file())).reports[0]
    assert fresh.initial_state == "" and fresh.initial_due == "2024-11-14"
    # a submitted initial report is not overdue
    p = tmp_path / "ctx.yaml"
    p.write_text(undated.read_text() + "initial_report_submitted: 2024-10-03\n", encoding="utf-8")
    sent = build_far(both_context(), load_far_context(p)).reports[0]
    assert sent.initial_state == "submitted on 2024-10-03"


# --- FAR 52.204-25(d): section 889 -------------------------------------------------------------

# A NetBox device export (its default columns): a Huawei switch is Huawei telecommunications
# equipment, covered whatever it is used for (FAR 4.2101); Huawei software alone would be review.
_HUAWEI_NETBOX = (
    "Name,Status,Tenant,Site,Location,Rack,Role,Manufacturer,Type,IP Address\n"
    "noc-sw-07,Active,,HQ,Floor 2,R04,Access Switch,Huawei,CloudEngine S5735-L48T4X-A1,10.0.7.2/24\n"
)
_889_CONTEXT = """\
contractor: Example Federal Services LLC
cage_code: 1ABC2
reporter: {name: Pat Lee}
contract_number: 47QTCA-25-D-0889
order_numbers: [47QFCA-25-F-0001]
suppliers:
  - {name: Huawei, uei: HW12ABCDEF34, cage_code: SZ123}
mitigation: The workstation was taken off the network on identification.
"""


def test_far_52_204_25_report_for_a_section_889_finding(tmp_path: Path) -> None:
    log = tmp_path / "netbox-devices.csv"
    log.write_text(_HUAWEI_NETBOX, encoding="utf-8")
    result = tmp_path / "result.json"
    runner = CliRunner()
    r = runner.invoke(
        app,
        [
            "scan", str(log), "--pack", "ndaa-889", "--role", "federal-contractor",
            "--as-of", "2025-07-03", "-f", "json", "-o", str(result), "-q",
        ],
    )  # fmt: skip
    assert r.exit_code == 1, r.output  # a covered finding
    context = tmp_path / "contract.yaml"
    context.write_text(_889_CONTEXT, encoding="utf-8")
    args = ["report", str(result), "--document", "far", "--far-context", str(context)]
    r = runner.invoke(app, [*args, "--format", "json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["schema"] == "banscan/far-52-204-25/v1"
    assert doc["clause"] == "FAR 52.204-25(d)" and doc["regulation"] == "ndaa-889-far-52-204-25"
    assert (
        doc["report_to"]
        == "the Contracting Officer (Department of Defense contracts: https://dibnet.dod.mil)"
    )
    assert doc["initial"]["paragraph"] == "52.204-25(d)(2)(i)"
    assert (doc["initial"]["days"], doc["initial"]["day_kind"]) == (1, "business")
    assert doc["initial"]["fields"] == [
        "contract_number",
        "order_numbers",
        "supplier",
        "supplier_uei",
        "supplier_cage_code",
        "brand",
        "model_or_product",
        "item_description",
        "date_identified",
        "mitigation",
    ]
    (report,) = doc["reports"]
    assert (report["contract_number"], report["order_numbers"]) == ("47QTCA-25-D-0889", ["47QFCA-25-F-0001"])
    # one business day from Thursday 3 July 2025: Friday the 4th is Independence Day
    assert (report["date_identified"], report["initial_due"]) == ("2025-07-03", "2025-07-07")
    assert report["followup_due"] == "2025-07-18"  # ten business days, counted from identification
    (item,) = report["items"]
    assert item["supplier"] == "Huawei Technologies Company" and item["brand"] == "Huawei"
    assert (item["supplier_uei"], item["supplier_cage_code"]) == ("HW12ABCDEF34", "SZ123")
    assert item["model_or_product"] == "CloudEngine S5735-L48T4X-A1"
    assert item["item_description"].startswith("network equipment recorded as noc-sw-07;")
    # 52.204-25(d)(2)(ii) asks for no reasons: only its own follow-up fields are to complete
    assert doc["followup"]["fields"] == ["further_mitigation", "prevention_efforts", "future_prevention"]
    assert [m.split(" ")[0] for m in doc["missing"]] == ["prevention_efforts", "future_prevention"]

    r = runner.invoke(app, [*args, "--format", "md"])
    assert r.exit_code == 0, r.output
    md = r.stdout
    assert md.startswith("# FAR 52.204-25 report")
    assert "## FAR 52.204-25(d) report — covered telecommunications equipment or services (Huawei, ZTE" in md
    assert (
        "**1-business-day report** (52.204-25(d)(2)(i)) — date identified 2025-07-03, due **2025-07-07**"
        in md
    )
    assert "| Host | Supplier | Supplier UEI | Supplier CAGE code | Brand | Model or product |" in md
    assert "**10-business-day report** (52.204-25(d)(2)(ii)) — due **2025-07-18**" in md
    assert "Reasons that led to use" not in md
    ctx = build_context(load_results([result]), catalog())
    html = render_document(ctx, far=build_far(ctx, load_far_context(context)))
    assert 'id="far-52-204-25"' in html and "<th>Supplier UEI</th>" in html and "HW12ABCDEF34" in html
