"""FAR 52.204-23(c) reports: what a contractor tells the Contracting Officer, and by when.

52.204-23(c)(2)(i), within 3 business days from the date of identification: contract number,
order number(s), supplier name, brand, model number (or product), item description, and any
readily available information about mitigation actions undertaken or recommended.
52.204-23(c)(2)(ii), within 10 business days of submitting that report: further mitigation
information, the efforts undertaken to prevent use or submission of a covered article, the
reasons that led to it, and the additional efforts to prevent recurrence.

Contract data comes from a small YAML context file (`--far-context`); items come from the
findings. The 10-day deadline counts from the initial report's submission when the context
gives `initial_report_submitted`; otherwise from the date of identification (the earliest the
report could be due) — the document says which.

With the fleet server's transitions export (`--transitions FILE`), each item's mitigation
cites what was recorded as done (replacement installed, removed, verified: by whom and when)
before the recommended steps; a record the scans contradict is cited as such. With the
history export, the mitigation cites every recorded step of the item in order.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from banscan.documents import FindingView, ReportContext, load_yaml_config
from banscan.documents.plan import PlanConfig, build_plan
from banscan.documents.transitions import Assessment, TransitionExport, assess
from banscan.models import Verdict
from banscan.policy.calendar import add_business_days, parse_date
from banscan.policy.deadlines import overdue_text

FAR_SCHEMA = "banscan/far-52-204-23/v1"
CLAUSE = "FAR 52.204-23(c)"
WHERE_TO_REPORT = "the Contracting Officer (Department of Defense contracts: https://dibnet.dod.mil)"
_REPORTABLE = (Verdict.COVERED, Verdict.ACCEPTED)
_PENDING = (Verdict.REVIEW, Verdict.REMNANT)


class Contract(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contract_number: str = Field(min_length=1)
    order_numbers: list[str] = Field(default_factory=list)
    contracting_officer: str = ""
    agency: str = ""
    hosts: list[str] = Field(default_factory=lambda: ["*"], description="host names or globs in scope")


class Reporter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = ""
    title: str = ""
    email: str = ""
    phone: str = ""


class FarContext(BaseModel):
    """The contract data a scan cannot know."""

    model_config = ConfigDict(extra="forbid")
    # Accepted at the top level too, for a single contract (see _single_contract).
    extra_keys: ClassVar[tuple[str, ...]] = (
        "contract_number",
        "order_numbers",
        "contracting_officer",
        "agency",
    )

    contractor: str = Field(min_length=1)
    cage_code: str = ""
    uei: str = ""
    reporter: Reporter = Field(default_factory=Reporter)
    contracts: list[Contract] = Field(min_length=1)
    date_identified: dt.date | None = None
    how_identified: str = ""
    initial_report_submitted: dt.date | None = None
    mitigation: str = ""
    prevention_efforts: str = ""
    reasons: str = ""
    future_prevention: str = ""

    @model_validator(mode="before")
    @classmethod
    def _single_contract(cls, data: Any) -> Any:
        """Allow `contract_number:`/`order_numbers:` at the top level for a single contract."""
        if isinstance(data, dict) and "contract_number" in data:
            data = dict(data)
            one = {"contract_number": data.pop("contract_number")}
            for key in ("order_numbers", "contracting_officer", "agency"):
                if key in data:
                    one[key] = data.pop(key)
            if isinstance(one.get("order_numbers"), str):
                one["order_numbers"] = [one["order_numbers"]]
            data["contracts"] = [one, *data.get("contracts", [])]
        return data


def load_far_context(path: Path) -> FarContext:
    return load_yaml_config(path, FarContext)


@dataclass
class FarItem:
    host: str
    supplier: str
    brand: str
    model_or_product: str
    item_description: str
    date_identified: str
    verdict: str
    mitigation: str
    exception: str = ""


@dataclass
class FarReport:
    contract_number: str
    order_numbers: list[str]
    contracting_officer: str
    agency: str
    date_identified: str
    initial_due: str
    followup_due: str
    followup_basis: str
    items: list[FarItem] = field(default_factory=list)
    initial_state: str = ""  # "overdue since … (N days)" or "submitted on …" or ""
    followup_state: str = ""
    pending: list[FarItem] = field(default_factory=list)
    mitigation: str = ""
    prevention_efforts: str = ""
    reasons: str = ""
    future_prevention: str = ""


@dataclass
class FarDocument:
    clause: str
    contractor: str
    cage_code: str
    uei: str
    reporter: dict[str, str]
    report_to: str
    as_of: str
    how_identified: str
    initial_report_submitted: str
    reports: list[FarReport]
    missing: list[str]  # fields the contracting officer expects that are still blank


def _brand(fv: FindingView) -> str:
    vendor = fv.finding.vendor
    return "Kaspersky" if "kaspersky" in vendor.lower() else vendor


def _description(fv: FindingView) -> str:
    f = fv.finding
    cat = f.category.replace("-", " ") if f.category else "software"
    kinds = ", ".join(dict.fromkeys(e.kind.replace("_", " ") for e in f.evidence))
    return (
        f"{cat} software installed on host {f.host}; identified by banscan from {len(f.evidence)} "
        f"evidence item(s) ({kinds}), confidence {f.confidence.value}"
    )


def _item(fv: FindingView, identified: str, mitigation: str) -> FarItem:
    f = fv.finding
    exc = ""
    if f.exception:
        exc = (
            f"Internal exception approved by {f.exception.get('approver', '?')} until "
            f"{f.exception.get('expires', '?')}: {f.exception.get('reason', '')}. "
            "An internal exception does not lift the FAR 52.204-23 prohibition or reporting duty."
        )
    return FarItem(
        host=f.host,
        supplier=f.vendor,
        brand=_brand(fv),
        model_or_product=f"{f.product_name} {f.version}".strip() if f.version else f.product_name,
        item_description=_description(fv),
        date_identified=identified,
        verdict=f.verdict.value,
        mitigation=mitigation,
        exception=exc,
    )


def _in_scope(host: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(host.lower(), p.lower()) for p in patterns)


def _undertaken(a: Assessment | None) -> str:
    """What the fleet record shows was done about one item, for its mitigation field."""
    if a is None or a.record is None:
        return ""
    if a.conflict:
        return a.detail
    return a.mitigation


def _next_phases(a: Assessment | None) -> tuple[str, ...]:
    """The plan phases still to recommend, given what the fleet record shows was done."""
    if a is None or a.record is None or a.conflict:
        return ("replace", "remove")
    if a.record.state == "replacement-installed":
        return ("remove",)
    if a.record.state == "removed":
        return ("verify",)
    return ("replace", "remove")


def _report_state(due: str, submitted: dt.date | None, as_of: str) -> str:
    """A report whose due date has passed as of the document's date is overdue (unless it was
    submitted); it is never shown as a date still ahead."""
    if submitted is not None:
        return f"submitted on {submitted.isoformat()}"
    due_day, today = parse_date(due), parse_date(as_of)
    if due_day is None or today is None or today <= due_day:
        return ""
    return overdue_text(due, (today - due_day).days)


def build_far(
    ctx: ReportContext,
    context: FarContext,
    plan_config: PlanConfig | None = None,
    transitions: TransitionExport | None = None,
) -> FarDocument:
    """Fill the 3- and 10-business-day reports, one per contract, from the findings."""
    plans = {(pp.host, pp.product): pp for hp in build_plan(ctx, plan_config) for pp in hp.products}
    recorded = {(a.host, a.product): a for a in assess(ctx, transitions)} if transitions else {}
    missing: list[str] = []
    if not context.reporter.name:
        missing.append("reporter.name")
    if not context.mitigation:
        missing.append(
            "mitigation (readily available mitigation actions; recommended steps are listed per item)"
        )
    for key in ("prevention_efforts", "reasons", "future_prevention"):
        if not getattr(context, key):
            missing.append(f"{key} (10-business-day report)")
    reports: list[FarReport] = []
    for c in context.contracts:
        items: list[FarItem] = []
        pending: list[FarItem] = []
        for fv in ctx.findings:
            f = fv.finding
            if not _in_scope(f.host, c.hosts):
                continue
            identified = (
                context.date_identified.isoformat() if context.date_identified else fv.first_identified
            )
            pp = plans.get((f.host, f.product))
            done_row = recorded.get((f.host, f.product))
            rec = ""
            if pp:
                first = [s.action for s in pp.steps if s.phase in _next_phases(done_row)][:2]
                rec = "Recommended: " + " Then: ".join(first) if first else ""
                if pp.replacement:
                    rec += f" Replacement: {pp.replacement}."
            done = _undertaken(done_row)
            rec = f"{done} {rec}".strip() if done else rec
            if f.verdict in _REPORTABLE:
                items.append(_item(fv, identified, rec))
            elif f.verdict in _PENDING:
                pending.append(_item(fv, identified, rec))
        dates = sorted(i.date_identified for i in items if i.date_identified)
        identified_on = (
            dates[0] if dates else (context.date_identified.isoformat() if context.date_identified else "")
        )
        day = parse_date(identified_on)
        initial_due = add_business_days(day, 3).isoformat() if day else ""
        if context.initial_report_submitted:
            followup = add_business_days(context.initial_report_submitted, 10).isoformat()
            basis = f"10 business days after the initial report was submitted on {context.initial_report_submitted}"
        elif day:
            followup = add_business_days(day, 10).isoformat()
            basis = (
                "10 business days counted from identification (the clause counts from the initial report's "
                "submission; set initial_report_submitted for the exact date)"
            )
        else:
            followup, basis = "", "no identification date"
        reports.append(
            FarReport(
                contract_number=c.contract_number,
                order_numbers=list(c.order_numbers),
                contracting_officer=c.contracting_officer,
                agency=c.agency,
                date_identified=identified_on,
                initial_due=initial_due if items else "",
                followup_due=followup if items else "",
                initial_state=_report_state(initial_due, context.initial_report_submitted, ctx.as_of)
                if items
                else "",
                followup_state=_report_state(followup, None, ctx.as_of) if items else "",
                followup_basis=basis if items else "",
                items=items,
                pending=pending,
                mitigation=context.mitigation,
                prevention_efforts=context.prevention_efforts,
                reasons=context.reasons,
                future_prevention=context.future_prevention,
            )
        )
    return FarDocument(
        clause=CLAUSE,
        contractor=context.contractor,
        cage_code=context.cage_code,
        uei=context.uei,
        reporter=context.reporter.model_dump(),
        report_to=WHERE_TO_REPORT,
        as_of=ctx.as_of,
        how_identified=context.how_identified
        or f"Automated scan with banscan {', '.join(ctx.banscan_versions)} (catalog {ctx.catalog.meta.version})",
        initial_report_submitted=context.initial_report_submitted.isoformat()
        if context.initial_report_submitted
        else "",
        reports=reports,
        missing=missing,
    )


def render_json(doc: FarDocument) -> str:
    return json.dumps({"schema": FAR_SCHEMA, **asdict(doc)}, indent=2, ensure_ascii=False) + "\n"


def render_markdown(doc: FarDocument) -> str:
    from banscan.documents.plan import md_escape as e

    out = [
        f"## {doc.clause} report — covered articles (Kaspersky Lab covered entities)",
        "",
        f"Contractor: {e(doc.contractor)}"
        + (f" · CAGE {e(doc.cage_code)}" if doc.cage_code else "")
        + (f" · UEI {e(doc.uei)}" if doc.uei else ""),
        f"Report to: {doc.report_to}",
        f"How identified: {e(doc.how_identified)}",
        "",
    ]
    if doc.missing:
        out += ["> **To complete before submitting:** " + e("; ".join(doc.missing)), ""]
    for r in doc.reports:
        orders = ", ".join(r.order_numbers) or "n/a"
        out += [f"### Contract {e(r.contract_number)} (order {e(orders)})", ""]
        if r.contracting_officer or r.agency:
            out += [
                f"Contracting Officer: {e(r.contracting_officer)} {('· ' + e(r.agency)) if r.agency else ''}",
                "",
            ]
        if not r.items:
            out += ["No covered article identified for this contract.", ""]
        else:
            out += [
                f"**3-business-day report** (52.204-23(c)(2)(i)) — date identified {r.date_identified}, "
                f"due **{r.initial_due}**" + (f" — **{r.initial_state}**" if r.initial_state else ""),
                "",
                "| Host | Supplier | Brand | Model or product | Item description | Date identified | Mitigation |",
                "|---|---|---|---|---|---|---|",
            ]
            for i in r.items:
                mit = i.mitigation + (f" {i.exception}" if i.exception else "")
                out.append(
                    f"| {e(i.host)} | {e(i.supplier)} | {e(i.brand)} | {e(i.model_or_product)} | "
                    f"{e(i.item_description)} | {i.date_identified} | {e(mit)} |"
                )
            out += ["", f"Readily available mitigation: {e(r.mitigation) or '_(to be completed)_'}", ""]
            out += [
                f"**10-business-day report** (52.204-23(c)(2)(ii)) — due **{r.followup_due}**"
                + (f" — **{r.followup_state}**" if r.followup_state else "")
                + f" ({e(r.followup_basis)})",
                "",
                f"- Further mitigation actions: {e(r.mitigation) or '_(to be completed)_'}",
                f"- Efforts to prevent use or submission: {e(r.prevention_efforts) or '_(to be completed)_'}",
                f"- Reasons that led to use or submission: {e(r.reasons) or '_(to be completed)_'}",
                f"- Additional efforts to prevent recurrence: {e(r.future_prevention) or '_(to be completed)_'}",
                "",
            ]
        if r.pending:
            out += ["Pending determination (not yet identified as covered articles):", ""]
            out += [f"- {e(i.host)}: {e(i.model_or_product)} ({i.verdict})" for i in r.pending]
            out.append("")
    return "\n".join(out)
