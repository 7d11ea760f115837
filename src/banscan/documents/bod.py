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

With the fleet server's transitions export (`--transitions FILE`, see `transitions`) the status
is given per host and product and uses the recorded states as well: `replacement installed`
and `removed, awaiting verification` (with who and when), `verified` only when the record says
so and the scans agree, `conflict` when they do not, and rows resting on the record alone for
hosts the results do not cover. With the history export (`/transitions/history.csv` or
`.json`) each row's detail also cites every recorded step in order, and the status is the
latest step's.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field

from banscan.documents import ReportContext
from banscan.documents.plan import PlanConfig, build_plan
from banscan.documents.transitions import SOURCE_RECORD, TransitionExport, assess
from banscan.models import Verdict
from banscan.output.csv import describe_evidence
from banscan.policy.calendar import parse_date
from banscan.policy.deadlines import overdue_text

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
    # Per product, with a transitions export: the product, the newest scan's verdict, on what the
    # status rests (scans | scans and fleet record | fleet record only), the recorded state.
    product: str = ""
    product_name: str = ""
    scan: str = ""
    source: str = "scans"
    recorded_state: str = ""
    recorded_by: str = ""
    recorded_at: str = ""
    flag: str = ""
    conflict: bool = False
    steps: list[str] = field(default_factory=list)  # every recorded step, with a history export

    @property
    def recorded(self) -> str:
        """The fleet record in a few words: state · by · when · flag."""
        if not self.recorded_state:
            return ""
        when = self.recorded_at[:16].replace("T", " ") + " UTC" if self.recorded_at else ""
        by = "fleet server (scan)" if self.recorded_by == "system" else self.recorded_by
        return " · ".join(x for x in (self.recorded_state, by, when, self.flag) if x)


@dataclass
class RecordSummary:
    """The transitions export the status section used."""

    file: str
    format: str
    records: int
    rows_from_record_only: int
    conflicts: int
    kind: str = "latest"  # latest | history | both
    steps: int = 0  # recorded steps, with a history export
    description: str = ""  # "CSV export", "JSON history export", …

    @property
    def intro(self) -> str:
        what = self.description or f"{self.format.upper()} export"
        steps = f", {self.steps} recorded step(s)" if self.kind != "latest" else ""
        text = (
            "Status per host and product from the scans and the fleet server's recorded states "
            f"({self.file}, {what}, {self.records} record(s){steps}). Verified only where "
            "the record says verified and the newest scan given for the host agrees."
        )
        if self.kind != "latest":
            text += " The detail cites every recorded step in order; the status is the latest step's."
        if self.rows_from_record_only:
            text += (
                f" {self.rows_from_record_only} row(s) rest on the fleet record alone "
                "(hosts the scan results do not cover)."
            )
        if self.conflicts:
            text += f" {self.conflicts} row(s) where the record and the scans disagree; the detail says how."
        return text


@dataclass
class BodDocument:
    title: str
    citation: str
    as_of: str
    requirements: list[dict[str, str]]
    inventory: list[InventoryItem] = field(default_factory=list)
    plan: list[PlanItem] = field(default_factory=list)
    status: list[HostStatus] = field(default_factory=list)
    status_by_product: bool = False
    transitions: RecordSummary | None = None


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


def _status_with_record(ctx: ReportContext, export: TransitionExport) -> list[HostStatus]:
    """Per host and product from scans and record; hosts with nothing to track keep one row."""
    rows = assess(ctx, export)
    by_host: dict[str, list[HostStatus]] = {}
    for a in rows:
        rec = a.record
        by_host.setdefault(a.host.lower(), []).append(
            HostStatus(
                host=a.host,
                status=a.status,
                open_findings=1 if a.scan not in ("not found", "not in results") else 0,
                earlier_findings=1 if a.earlier else 0,
                last_scanned=a.last_scanned,
                detail=a.detail,
                product=a.product,
                product_name=a.product_name,
                scan=a.scan,
                source=a.source,
                recorded_state=rec.state if rec else "",
                recorded_by=rec.updated_by if rec else "",
                recorded_at=rec.updated_at.astimezone(dt.UTC).isoformat() if rec else "",
                flag=rec.flag if rec else "",
                conflict=a.conflict,
                steps=[st.text for st in rec.steps] if rec else [],
            )
        )
    out: list[HostStatus] = []
    for hs in _status(ctx):
        out.extend(by_host.pop(hs.host.lower(), []) or [hs])
    for extra in by_host.values():
        out.extend(extra)
    return out


def _requirement_status(effective: dt.date, deadline: dt.date | None, day: dt.date | None) -> str:
    """ "in force since 2017-09-13; overdue since 2017-10-13 (2583 days)" — a deadline that has
    passed is said to be overdue, never shown as one still ahead."""
    if day is None:
        return ""
    if day < effective:
        return f"in force from {effective.isoformat()}"
    text = f"in force since {effective.isoformat()}"
    if deadline is not None and day > deadline:
        text += "; " + overdue_text(deadline.isoformat(), (day - deadline).days)
    elif deadline is not None:
        text += f"; due {deadline.isoformat()}"
    return text


def build_bod(
    ctx: ReportContext, plan_config: PlanConfig | None = None, transitions: TransitionExport | None = None
) -> BodDocument:
    reg = next((r for r in ctx.catalog.regulations if r.id == BOD_ID), None)
    requirements = (
        [
            {
                "id": rule.id,
                "action": " ".join(rule.action.split()),
                "since": rule.effective.isoformat(),
                "deadline": rule.deadline.isoformat() if rule.deadline else "",
                "status": _requirement_status(rule.effective, rule.deadline, parse_date(ctx.as_of)),
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
                    due=next((s.due_text for s in pp.steps if s.due_date), ""),
                    steps=len(pp.steps),
                )
            )
    if transitions is None:
        doc.status = _status(ctx)
        return doc
    doc.status = _status_with_record(ctx, transitions)
    doc.status_by_product = True
    doc.transitions = RecordSummary(
        file=transitions.path,
        format=transitions.format,
        records=len(transitions.records),
        rows_from_record_only=sum(1 for s in doc.status if s.source == SOURCE_RECORD),
        conflicts=sum(1 for s in doc.status if s.conflict),
        kind=transitions.kind,
        steps=transitions.steps,
        description=transitions.description,
    )
    return doc


def render_json(doc: BodDocument) -> str:
    return json.dumps({"schema": BOD_SCHEMA, **asdict(doc)}, indent=2, ensure_ascii=False) + "\n"


def render_markdown(doc: BodDocument) -> str:
    from banscan.documents.plan import md_escape as e

    out = [f"## {e(doc.title)}", "", f"Citation: {e(doc.citation)} · as of {doc.as_of}", ""]
    if doc.requirements:
        out += ["| Requirement | Deadline | Status |", "|---|---|---|"]
        out += [f"| {e(r['action'])} | {r['deadline'] or '—'} | {r['status']} |" for r in doc.requirements]
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
    out += ["", "### 3. Implementation status", ""]
    if doc.transitions is not None:
        out += [e(doc.transitions.intro), ""]
    if doc.status_by_product:
        out += [
            "| Host | Product | Status | Newest scan | Fleet record | Detail |",
            "|---|---|---|---|---|---|",
        ]
        for s in doc.status:
            status = f"**{s.status}**" if s.conflict else s.status
            status += " (fleet record only)" if s.source == SOURCE_RECORD else ""
            scan = f"{s.scan} ({s.last_scanned})" if s.last_scanned and s.scan else s.scan
            out.append(
                f"| {e(s.host)} | {e(s.product_name or '—')} | {status} | {e(scan or '—')} | "
                f"{e(s.recorded or '—')} | {e(s.detail)} |"
            )
        out.append("")
        return "\n".join(out)
    out += ["| Host | Status | Open findings | Last scanned | Detail |", "|---|---|---|---|---|"]
    out += [
        f"| {e(s.host)} | {s.status} | {s.open_findings} | {s.last_scanned} | {e(s.detail)} |"
        for s in doc.status
    ]
    out.append("")
    return "\n".join(out)
