"""Every document's PDF fits its page: long values wrap inside their columns, none is cut off.

Each document — the audit report (with its FAR and BOD sections), the FAR 52.204-23 document,
the BOD 17-01 document and the transition plan — is written to PDF by the command, from a result
with long host names (one a 63-character DNS label with no break opportunity), long paths,
registry keys and hashes, a long mitigation text and many rows. Then:

- pdfinfo: every page is US Letter, portrait or (the FAR table's pages) landscape;
- pdftotext -bbox: every word lies inside the page's margins and no two words overlap (a value
  wider than its column would run into the next one);
- pdftotext: every value of the document's data is in the text layer. A wrapped value's words,
  or a long token broken inside a word, are spread over several lines, so values are compared
  with all whitespace removed. The text comes from `pdftotext -raw` (content-stream order:
  the lines of one table cell stay together), not `-layout`, which interleaves the lines of
  side-by-side cells. pdftotext drops text outside the page, so a clipped value is missing.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import pytest
import typer
from typer.testing import CliRunner

from banscan.cli.plan import plan_command
from banscan.cli.report import report_command
from banscan.documents import PLATFORM_LABELS, ReportContext, build_context
from banscan.documents.bod import BodDocument, build_bod
from banscan.documents.far import FarDocument, build_far, load_far_context
from banscan.documents.load import load_results
from banscan.documents.plan import HostPlan, build_plan, load_plan_config
from test_reports_data import WIN_HOST, catalog, estate_files

app = typer.Typer()
app.command("report")(report_command)
app.command("plan")(plan_command)

MARGIN = 13 * 72 / 25.4  # the narrowest @page margin (13 mm), in points
LETTER = {(612.0, 792.0), (792.0, 612.0)}

UNBROKEN_HOST = "labinstrumentcontroller0042engineeringdivisionarlingtonva0000001"  # 63 chars
LINUX_HOSTS = [
    f"eng-build-runner-{n:04d}.ci.us-gov-west-1.engineering.example-federal-services.internal"
    for n in range(1, 13)
]
WINDOWS_HOSTS = [f"ARL-ENG-WKS-{n:04d}.corp.example-federal-services.com" for n in range(1, 9)]
SHA256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a089f86d081884c7d659a2feaa0c55ad01"
LONG_REASON = (
    "Lab instrument controller for the spectrometry line; the instrument vendor certifies "
    "replacement endpoint protection only with firmware 4.2, scheduled for the first-quarter "
    "maintenance window (change request CHG-2024-1187-SPECTROMETRY-LINE-ARLINGTON)"
)
MITIGATION = (
    "All affected hosts were isolated from the contract enclave (VLAN 4012, firewall rule set "
    "FED-ENCLAVE-ISOLATE-2024-11) within four hours of identification; the replacement endpoint "
    "protection is being installed and enrolled through the central software distribution "
    "service; deliverables produced on those hosts since 2024-09-29 are being re-verified on "
    "clean hosts before delivery to the Government."
)
FAR_CONTEXT = f"""\
contractor: Example Federal Services Holdings, Limited Liability Company (doing business as Example Federal Engineering Services)
cage_code: 1ABC2
uei: ZQGGHJH74DW7
reporter:
  name: Patricia Lee-Montgomery
  title: Senior Manager, Contracts and Supply Chain Risk Management
  email: patricia.lee-montgomery.contracts-and-supply-chain-risk@example-federal-services.com
  phone: +1 703 555 0142 ext. 4417
how_identified: Automated inventory scan of the engineering enclave with banscan, run weekly by the security operations centre against every managed endpoint and server image
date_identified: 2024-11-08
initial_report_submitted: 2024-11-12
contracts:
  - contract_number: 47QTCA-22-D-00AB-ENGINEERING-SUPPORT-SERVICES-IDIQ
    order_numbers: [47QFCA-24-F-0042, 47QFCA-24-F-0043-MOD-P00007, 47QFCA-25-F-0101-CLIN-0001AA]
    contracting_officer: Jordan Smith-Alvarez, Contracting Officer, GSA Federal Acquisition Service Region 3
    agency: Department of the Air Force, Air Force Life Cycle Management Center (AFLCMC/HNCD)
    hosts: ["eng-*", "{UNBROKEN_HOST}", "srv-*"]
  - contract_number: W56KGY-23-C-0017
    order_numbers: [W56KGY-23-F-0917]
    hosts: ["ARL-*", "KL-*", "Ivans-*"]
mitigation: {MITIGATION}
prevention_efforts: Software allow-listing now blocks every Kaspersky installer, driver and service name in the catalog on all enclave hosts; procurement checks every software purchase request against the covered-entity list before approval.
reasons: The affected workstations were imaged from a 2019 engineering baseline that bundled Kaspersky Endpoint Security; the baseline predates the prohibition and was not re-audited.
future_prevention: Every golden image is scanned with banscan before release; the weekly enclave scan raises a ticket for any covered finding within one business day; contract staff are trained on FAR 52.204-23 annually.
"""
PLAN_CONFIG = """\
owner: Endpoint Engineering Team (endpoint-engineering-oncall@example-federal-services.com)
due_date: 2024-12-13
approved_alternatives:
  - name: CrowdStrike Falcon Sensor (enterprise endpoint detection and response, FedRAMP High)
    platforms: [linux, windows, macos]
    categories: [endpoint-protection, management-agent]
    install:
      linux: sudo /usr/bin/dpkg -i /srv/software-distribution/approved/crowdstrike/falcon-sensor_7.18.0-17106_amd64.deb && sudo /opt/CrowdStrike/falconctl -s --cid=0123456789ABCDEF0123456789ABCDEF-12
      windows: msiexec /i \\\\fileserver.corp.example-federal-services.com\\software$\\approved\\CrowdStrike\\WindowsSensor.MaverickGyr.msi /qn CID=0123456789ABCDEF0123456789ABCDEF-12
    note: Approved by the Change Advisory Board on 2024-10-15 (CAB-2024-0412).
"""


def _tool(name: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        pytest.skip(f"{name} is not installed (Debian: apt-get install poppler-utils)")
    return exe


def _long_result(tmp: Path) -> Path:
    """The late estate plus many findings with long host names, paths, keys and hashes."""
    doc = json.loads(estate_files()[1].read_text(encoding="utf-8"))
    linux = next(f for f in doc["findings"] if f["host"] == "srv-app-01" and f["product"] == "kesl")
    windows = next(f for f in doc["findings"] if f["host"] == WIN_HOST and f["product"] == "kes-windows")
    added = []
    for host in [*LINUX_HOSTS, UNBROKEN_HOST]:
        f = copy.deepcopy(linux)
        f["host"] = host
        f["evidence"].append(
            {
                "source": "linux-files",
                "kind": "sha256",
                "value": SHA256[:64],
                "location": "/opt/kaspersky/kesl/var/lib/kesl/bases/klava-engine-signatures-"
                "2024-09-28T23-59-59Z/kavbase_engine_linux_x86_64_production_release.kdc",
                "confidence": "definitive",
                "identifier": "",
            }
        )
        added.append(f)
    for n, host in enumerate(WINDOWS_HOSTS):
        f = copy.deepcopy(windows)
        f["host"] = host
        f["evidence"].append(
            {
                "source": "windows-files",
                "kind": "path",
                "value": r"C:\Program Files (x86)\Kaspersky Lab\Kaspersky Endpoint Security for Windows"
                r"\x64\KasperskyLab.EndpointSecurity.NetworkThreatProtection.Driver.sys",
                "location": r"C:\Program Files (x86)\Kaspersky Lab\Kaspersky Endpoint Security for Windows",
                "confidence": "strong",
                "identifier": "",
            }
        )
        if n == 0:
            f["exception"] = {**f["exception"], "reason": LONG_REASON}
        else:
            f["verdict"] = "covered"
            f.pop("exception", None)
        added.append(f)
    doc["findings"].extend(added)
    doc["hosts"].extend([*LINUX_HOSTS, UNBROKEN_HOST, *WINDOWS_HOSTS])
    # As a scheduled job names it: the plan and the audit report print the path of every input.
    path = (
        tmp
        / "banscan-weekly-scan-engineering-enclave-all-managed-endpoints-and-server-images-2024-11-08.json"
    )
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


@dataclass
class Inputs:
    result: Path
    far_context: Path
    config: Path
    ctx: ReportContext
    far: FarDocument
    bod: BodDocument
    plans: list[HostPlan]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Inputs:
    pytest.importorskip("weasyprint", reason="WeasyPrint is not installed: no PDF to check")
    tmp = tmp_path_factory.mktemp("pdf-fit")
    result = _long_result(tmp)
    far_ctx, config = tmp / "far-context.yaml", tmp / "plan.yaml"
    far_ctx.write_text(FAR_CONTEXT, encoding="utf-8")
    config.write_text(PLAN_CONFIG, encoding="utf-8")
    ctx = build_context(load_results([result]), catalog())
    cfg = load_plan_config(config)
    return Inputs(
        result,
        far_ctx,
        config,
        ctx,
        build_far(ctx, load_far_context(far_ctx), cfg),
        build_bod(ctx, cfg),
        build_plan(ctx, cfg),
    )


def _pdf(out: Path, *args: str | Path) -> Path:
    res = CliRunner().invoke(app, [*(str(a) for a in args), "--format", "pdf", "--output", str(out)])
    assert res.exit_code == 0, res.output
    assert out.read_bytes().startswith(b"%PDF-")
    return out


def _far_values(far: FarDocument) -> Iterator[str]:
    yield from (far.contractor, far.cage_code, far.uei, far.how_identified, far.initial_report_submitted)
    yield from far.reporter.values()
    for r in far.reports:
        yield from (r.contract_number, *r.order_numbers, r.contracting_officer, r.agency)
        yield from (r.date_identified, r.initial_due, r.followup_due, r.followup_basis)
        yield from (r.mitigation, r.prevention_efforts, r.reasons, r.future_prevention)
        for i in r.items:
            yield from (i.supplier, i.brand, i.model_or_product, i.item_description, i.date_identified)
            yield from (i.mitigation, i.exception)
        for i in r.pending:
            yield from (i.host, i.model_or_product, i.verdict)


def _bod_values(bod: BodDocument) -> Iterator[str]:
    for q in bod.requirements:
        yield from (q["action"], q.get("deadline") or "")
    for i in bod.inventory:
        yield from (i.host, i.platform, i.product, i.verdict, i.first_identified, *i.evidence[:5])
    for p in bod.plan:
        yield from (p.host, p.product, p.replacement, p.removal, p.due)
    for s in bod.status:
        yield from (s.host, s.status, s.last_scanned, s.detail)


def _audit_values(ctx: ReportContext) -> Iterator[str]:
    for h in ctx.hosts:
        yield from (h.name, h.platform_label, h.result_path)
        for fv in h.findings:
            f = fv.finding
            yield from (f.product_name, f.version or "", f.product, f.verdict.value, f.confidence.value)
            for e in f.evidence[:40]:
                yield from (e.source, f"{e.kind}={e.value}", e.location)
    for x in ctx.exceptions:
        yield from (x.host, x.product, x.reason, x.approver, x.expires, x.ticket or "")


def _plan_values(plans: list[HostPlan]) -> Iterator[str]:
    for hp in plans:
        yield from (hp.host, PLATFORM_LABELS.get(hp.platform, hp.platform))  # "macOS", not "macos"
        for pp in hp.products:
            yield from (pp.product_name, pp.version or "", pp.replacement, pp.replacement_source, *pp.notes)
            for s in pp.steps:
                yield from (s.phase, s.action, s.command, s.due_date, s.due_basis)
        yield from hp.informational


def _squash(text: str) -> str:
    return "".join(text.split())


def _text(pdf: Path) -> str:
    """The text layer in drawing order, without the running header and the page numbers."""
    raw = subprocess.run(
        [_tool("pdftotext"), "-raw", "-enc", "UTF-8", str(pdf), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    lines = [ln for ln in raw.splitlines() if not re.fullmatch(r"\s*Page \d+ of \d+\s*", ln)]
    return "\n".join(lines)


def _assert_all_values_present(pdf: Path, values: Iterator[str], title: str) -> None:
    text = _squash(_text(pdf).replace(title, ""))
    wanted = [v for v in dict.fromkeys(values) if v and v.strip()]
    missing = [v for v in wanted if _squash(v) not in text]
    assert not missing, f"{len(missing)} of {len(wanted)} values missing from the PDF text: {missing[:5]}"


class _Word(NamedTuple):
    x0: float
    y0: float
    x1: float
    y1: float
    text: str


def _assert_fits_pages(pdf: Path) -> list[tuple[float, float]]:
    """Every page is Letter; every word lies within the margins; no two words overlap."""
    xml = subprocess.run(
        [_tool("pdftotext"), "-bbox", "-enc", "UTF-8", str(pdf), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    pages = re.findall(r'<page width="([\d.]+)" height="([\d.]+)">(.*?)</page>', xml, re.S)
    assert pages
    sizes = [(float(w), float(h)) for w, h, _ in pages]
    info = subprocess.run([_tool("pdfinfo"), str(pdf)], check=True, capture_output=True, text=True).stdout
    count = re.search(r"^Pages:\s+(\d+)$", info, re.M)
    assert count and int(count.group(1)) == len(pages)
    outside: list[str] = []
    overlapping: list[str] = []
    word = re.compile(
        r'<word xMin="([\d.-]+)" yMin="([\d.-]+)" xMax="([\d.-]+)" yMax="([\d.-]+)">(.*?)</word>'
    )
    for n, ((width, height), (_, _, body)) in enumerate(zip(sizes, pages, strict=True), start=1):
        assert (round(width), round(height)) in LETTER, f"page {n} is {width} x {height} pt, not Letter"
        boxes = sorted(
            _Word(float(x0), float(y0), float(x1), float(y1), w) for x0, y0, x1, y1, w in word.findall(body)
        )
        for b in boxes:
            if b.x0 < MARGIN - 1 or b.x1 > width - MARGIN + 1 or b.y0 < 0 or b.y1 > height:
                outside.append(f"page {n}: {b.text!r} at x {b.x0:.0f}–{b.x1:.0f} of {width:.0f}")
        for i, a in enumerate(boxes):
            for b in boxes[i + 1 :]:  # sorted by left edge: stop at the first word right of `a`
                if b.x0 >= a.x1 - 0.5:
                    break
                if a.y0 < b.y1 - 0.5 and b.y0 < a.y1 - 0.5:
                    overlapping.append(f"page {n}: {a.text!r} and {b.text!r}")
    assert not outside, f"{len(outside)} words outside the page margins: {outside[:5]}"
    assert not overlapping, f"{len(overlapping)} overlapping words: {overlapping[:5]}"
    return sizes


def test_far_document_fits_landscape_pages(inputs: Inputs, tmp_path: Path) -> None:
    args = ("report", inputs.result, "--document", "far", "--far-context", inputs.far_context)
    pdf = _pdf(tmp_path / "far.pdf", *args)
    pdf_config = _pdf(tmp_path / "far-config.pdf", *args, "--config", inputs.config)
    assert {w for w, _ in _assert_fits_pages(pdf)} == {792.0}  # the eight-column table needs landscape
    _assert_fits_pages(pdf_config)
    far = inputs.far
    assert sum(len(r.items) for r in far.reports) >= 20 and MITIGATION in far.reports[0].mitigation
    assert any(UNBROKEN_HOST in i.item_description for r in far.reports for i in r.items)
    far_plain = build_far(inputs.ctx, load_far_context(inputs.far_context))
    _assert_all_values_present(pdf, _far_values(far_plain), "FAR 52.204-23 report")
    _assert_all_values_present(pdf_config, _far_values(far), "FAR 52.204-23 report")


def test_bod_document_fits(inputs: Inputs, tmp_path: Path) -> None:
    pdf = _pdf(tmp_path / "bod.pdf", "report", inputs.result, "--document", "bod", "--config", inputs.config)
    assert {w for w, _ in _assert_fits_pages(pdf)} == {612.0}
    assert len(inputs.bod.inventory) >= 20
    _assert_all_values_present(pdf, _bod_values(inputs.bod), "BOD 17-01 report")


def test_audit_report_with_far_and_bod_sections_fits(inputs: Inputs, tmp_path: Path) -> None:
    pdf = _pdf(
        tmp_path / "audit.pdf",
        *("report", inputs.result, "--far-context", inputs.far_context, "--bod", "--config", inputs.config),
    )
    widths = [w for w, _ in _assert_fits_pages(pdf)]
    assert widths[0] == 612.0 and 792.0 in widths  # portrait, with the FAR section on landscape pages
    values = [*_audit_values(inputs.ctx), *_far_values(inputs.far), *_bod_values(inputs.bod)]
    _assert_all_values_present(pdf, iter(values), "Banned software audit report")


def test_plan_fits(inputs: Inputs, tmp_path: Path) -> None:
    pdf = _pdf(tmp_path / "plan.pdf", "plan", inputs.result, "--config", inputs.config)
    assert {w for w, _ in _assert_fits_pages(pdf)} == {612.0}
    assert any(
        s.command.startswith("sudo /usr/bin/dpkg")
        for hp in inputs.plans
        for pp in hp.products
        for s in pp.steps
    )
    _assert_all_values_present(pdf, _plan_values(inputs.plans), "Transition plan")
