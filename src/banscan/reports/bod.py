"""BOD 17-01 style report: inventory, plan of action, and implementation status per host.

DHS Binding Operational Directive 17-01 asked agencies to identify Kaspersky-branded products
(30 days), give DHS a detailed plan of action to remove them (60 days) and begin carrying it out
(90 days). The same three parts serve any removal programme: what is where, what will be done,
and how far each host has got — judged from the scans themselves:

- `found`          covered or review findings in the newest scan of the host
- `in progress`    still findings, but fewer than an earlier scan of the host showed
- `remnants only`  only leftovers (remnant verdicts) remain
- `accepted`       only findings under an approved exception remain
- `verified clean` an earlier scan found something; the newest scan of the host found nothing
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from banscan.models import Verdict
from banscan.report.csv import describe_evidence
from banscan.reports import ReportContext
from banscan.reports.plan import PlanConfig, build_plan

BOD_SCHEMA = "banscan/bod-17-01/v1"
BOD_ID = "dhs-bod-17-01"


@dataclass
class InventoryItem:
    host: str
    platform: str
    product: str
    version: str
    verdict: str
    first_identified: str
    evidence: list[str]


@dataclass
class PlanItem:
    host: str
    product: str
    replacement: str
    removal: str
    due: str
    steps: int


@dataclass
class HostStatus:
    host: str
    status: str
    open_findings: int
    earlier_findings: int
    last_scanned: str
    detail: str


@dataclass
class BodDocument:
    title: str
    citation: str
    as_of: str
    requirements: list[dict[str, str]]
    inventory: list[InventoryItem] = field(default_factory=list)
    plan: list[PlanItem] = field(default_factory=list)
    status: list[HostStatus] = field(default_factory=list)


def _status(ctx: ReportContext) -> list[HostStatus]:
    out: list[HostStatus] = []
    earlier: dict[str, int] = {}
    for r in ctx.merged.results:
        counts: dict[str, int] = {}
        for f in r.result.findings:
            counts[f.host] = counts.get(f.host, 0) + 1
        for h, n in counts.items():
            earlier[h] = max(earlier.get(h, 0), n)
    for hv in ctx.hosts:
        verdicts = [
            fv.finding.verdict for fv in hv.findings if fv.finding.verdict is not Verdict.INFORMATIONAL
        ]
        before = earlier.get(hv.name, 0)
        if not verdicts:
            status = "verified clean" if before else "clean"
            detail = f"newest scan ({hv.as_of}) found no covered software" + (
                f"; an earlier scan found {before} finding(s)" if before else ""
            )
        elif all(v is Verdict.REMNANT for v in verdicts):
            status, detail = "remnants only", "uninstalled; leftovers remain (see inventory)"
        elif all(v in (Verdict.ACCEPTED, Verdict.REMNANT) for v in verdicts):
            status, detail = "accepted", "remaining findings are under an approved exception"
        elif len(verdicts) < before:
            status, detail = "in progress", f"{len(verdicts)} finding(s) left of {before} seen earlier"
        else:
            status, detail = "found", "replacement and removal not yet shown by a scan"
        out.append(HostStatus(hv.name, status, len(verdicts), before, hv.as_of, detail))
    return out


def build_bod(ctx: ReportContext, plan_config: PlanConfig | None = None) -> BodDocument:
    reg = next((r for r in ctx.catalog.regulations if r.id == BOD_ID), None)
    requirements = (
        [
            {
                "id": rule.id,
                "action": " ".join(rule.action.split()),
                "deadline": rule.deadline.isoformat() if rule.deadline else "",
            }
            for rule in reg.obligations
        ]
        if reg
        else []
    )
    doc = BodDocument(
        title=" ".join(reg.title.split()) if reg else "Binding Operational Directive 17-01",
        citation=reg.citation if reg else "DHS BOD 17-01",
        as_of=ctx.as_of,
        requirements=requirements,
    )
    for fv in ctx.findings:
        f = fv.finding
        if f.verdict is Verdict.INFORMATIONAL:
            continue
        hv = next(h for h in ctx.hosts if h.name == f.host)
        doc.inventory.append(
            InventoryItem(
                host=f.host,
                platform=hv.platform,
                product=fv.label,
                version=f.version or "",
                verdict=f.verdict.value,
                first_identified=fv.first_identified,
                evidence=[describe_evidence(e) for e in f.evidence],
            )
        )
    for hp in build_plan(ctx, plan_config):
        for pp in hp.products:
            removal = next((s.command or s.action for s in pp.steps if s.phase == "remove"), "")
            doc.plan.append(
                PlanItem(
                    host=pp.host,
                    product=pp.product_name,
                    replacement=pp.replacement or "(none needed / to be chosen)",
                    removal=removal,
                    due=next((s.due_date for s in pp.steps if s.due_date), ""),
                    steps=len(pp.steps),
                )
            )
    doc.status = _status(ctx)
    return doc


def render_json(doc: BodDocument) -> str:
    return json.dumps({"schema": BOD_SCHEMA, **asdict(doc)}, indent=2, ensure_ascii=False) + "\n"


def render_markdown(doc: BodDocument) -> str:
    from banscan.reports.plan import md_escape as e

    out = [f"## {e(doc.title)}", "", f"Citation: {e(doc.citation)} · as of {doc.as_of}", ""]
    if doc.requirements:
        out += ["| Requirement | Deadline |", "|---|---|"]
        out += [f"| {e(r['action'])} | {r['deadline']} |" for r in doc.requirements]
        out.append("")
    out += ["### 1. Inventory", ""]
    if doc.inventory:
        out += [
            "| Host | Platform | Product | Verdict | First identified | Evidence |",
            "|---|---|---|---|---|---|",
        ]
        for i in doc.inventory:
            ev = "; ".join(i.evidence[:3]) + (
                f" (+{len(i.evidence) - 3} more)" if len(i.evidence) > 3 else ""
            )
            out.append(
                f"| {e(i.host)} | {i.platform} | {e(i.product)} | {i.verdict} | {i.first_identified} | {e(ev)} |"
            )
    else:
        out.append("No Kaspersky-branded products identified.")
    out += ["", "### 2. Plan of action", ""]
    if doc.plan:
        out += ["| Host | Product | Replacement | Removal | Due |", "|---|---|---|---|---|"]
        out += [
            f"| {e(p.host)} | {e(p.product)} | {e(p.replacement)} | {e(p.removal)} | {p.due} |"
            for p in doc.plan
        ]
        out += ["", "Step-by-step commands per host: `banscan plan`."]
    else:
        out.append("Nothing to remove.")
    out += [
        "",
        "### 3. Implementation status",
        "",
        "| Host | Status | Open findings | Last scanned | Detail |",
    ]
    out.append("|---|---|---|---|---|")
    out += [
        f"| {e(s.host)} | {s.status} | {s.open_findings} | {s.last_scanned} | {e(s.detail)} |"
        for s in doc.status
    ]
    out.append("")
    return "\n".join(out)
