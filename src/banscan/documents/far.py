"""FAR-style reports: what a contractor tells the Contracting Officer, and by when — one
document per regulation whose reporting clause applies to the findings.

The catalog says what each report holds. A regulation's `reporting` names the clause, where the
report goes and what it calls an item (FAR 52.204-23(c): covered articles of Kaspersky Lab covered
entities, to the Contracting Officer or DIBNet; FAR 52.204-25(d): covered telecommunications
equipment or services); each of its reporting obligations with `report` gives the paragraph, the
fields and the days. For 52.204-23(c)(2)(i), within 3 business days of identification (1 for items
identified before 2023-12-04, the day FAC 2023-06 amended the clause): contract
number, order number(s), supplier name, brand, model number (or product), item description and
any readily available mitigation; (c)(2)(ii), within 10 business days of submitting that report:
further mitigation, the efforts to prevent use or submission, the reasons that led to it and the
efforts to prevent recurrence. 52.204-25(d) asks the same within one business day, with the
supplier's unique entity identifier and CAGE code (if known), and no reasons.

Contract data comes from a small YAML context file (`--far-context`); items come from the
findings the regulation covers. A follow-up report's deadline counts from the first report's
submission when the context gives `initial_report_submitted`; otherwise from the date of
identification (the earliest it could be due) — the document says which.

With the fleet server's transitions export (`--transitions FILE`), each item's mitigation
cites what was recorded as done (replacement installed, removed, verified: by whom and when)
before the recommended steps; a record the scans contradict is cited as such. With the
history export, the mitigation cites every recorded step of the item in order.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from banscan.catalog.schema import FOLLOW_UP_FIELDS, Category, ObligationRule, Regulation
from banscan.documents import FindingView, ReportContext, ReportInputError, load_yaml_config
from banscan.documents.far_model import (
    FAR_DOCUMENTS_SCHEMA,
    ITEM_LABELS,
    OPTIONAL_ITEM_FIELDS,
    FarDocument,
    FarItem,
    FarReport,
    ReportPart,
    as_documents,
)
from banscan.documents.plan import HostPlan, PlanConfig, ProductPlan, build_plan
from banscan.documents.transitions import Assessment, TransitionExport, assess
from banscan.documents.vendors import brand
from banscan.models import ObligationStatus, Verdict
from banscan.policy.calendar import parse_date
from banscan.policy.deadlines import overdue_text
from banscan.policy.engine import obligations_for

_REPORTABLE = (Verdict.COVERED, Verdict.ACCEPTED)
_PENDING = (Verdict.REVIEW, Verdict.REMNANT)


class Contract(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contract_number: str = Field(min_length=1)
    order_numbers: list[str] = Field(default_factory=list)
    contracting_officer: str = ""
    agency: str = ""
    hosts: list[str] = Field(default_factory=lambda: ["*"], description="host names or globs in scope")


class Supplier(BaseModel):
    """What the contractor knows of a supplier that a scan cannot: its identifiers."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, description="as the report names it: the supplier or the brand")
    uei: str = ""
    cage_code: str = ""


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
    suppliers: list[Supplier] = Field(default_factory=list)
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


def _description(fv: FindingView) -> str:
    f = fv.finding
    cat = f.category.replace("-", " ") if f.category else "software"
    kinds = ", ".join(dict.fromkeys(e.kind.replace("_", " ") for e in f.evidence))
    what = (
        f"network equipment recorded as {f.host}"
        if f.category == Category.NETWORK_APPLIANCE.value
        else f"{cat} software installed on host {f.host}"
    )
    return (
        f"{what}; identified by banscan from {len(f.evidence)} "
        f"evidence item(s) ({kinds}), confidence {f.confidence.value}"
    )


def _item(
    ctx: ReportContext,
    fv: FindingView,
    identified: str,
    mitigation: str,
    clause: str,
    suppliers: list[Supplier],
) -> FarItem:
    f = fv.finding
    exc = ""
    if f.exception:
        exc = (
            f"Internal exception approved by {f.exception.get('approver', '?')} until "
            f"{f.exception.get('expires', '?')}: {f.exception.get('reason', '')}. "
            f"An internal exception does not lift the {clause} prohibition or reporting duty."
        )
    name = brand(ctx.catalog, fv.finding)
    known = {f.vendor.lower(), name.lower()}
    supplier = next((s for s in suppliers if s.name.strip().lower() in known), None)
    return FarItem(
        host=f.host,
        supplier=f.vendor,
        brand=name,
        model_or_product=f"{f.product_name} {f.version}".strip() if f.version else f.product_name,
        item_description=_description(fv),
        date_identified=identified,
        verdict=f.verdict.value,
        mitigation=mitigation,
        exception=exc,
        supplier_uei=supplier.uei if supplier else "",
        supplier_cage_code=supplier.cage_code if supplier else "",
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


def _part(rule: ObligationRule, identified: dt.date) -> ReportPart:
    """The report `rule` asks for an item identified on `identified` (an amended clause keeps its
    old period for what was identified before the amendment)."""
    assert rule.report is not None
    business, calendar = rule.terms_on(max(identified, rule.effective))
    if business:
        days, kind = business, "business"
    elif calendar:
        days, kind = calendar, "calendar"
    else:
        days, kind = None, ""
    return ReportPart(
        obligation=rule.id,
        paragraph=rule.report.paragraph,
        days=days,
        day_kind=kind,
        deadline=rule.deadline.isoformat() if rule.deadline else "",
        fields=list(rule.report.fields),
    )


def reporting_regulations(ctx: ReportContext) -> list[Regulation]:
    """The catalog's regulations with a reporting clause, of the packs the results were judged by
    (every pack when the results do not say)."""
    regs = [r for r in ctx.catalog.regulations if r.reporting is not None and r.reports()]
    packs = {p["id"] for p in ctx.packs}
    return [r for r in regs if r.pack in packs] if packs else regs


def _covered(ctx: ReportContext, fv: FindingView, reg: Regulation, role: str, day: dt.date) -> bool:
    """Whether `reg` covers the finding (for the role its report binds), and does not exempt it."""
    f = fv.finding
    held = ctx.merged.host_result.get(f.host)
    obls = obligations_for(
        ctx.catalog,
        f,
        role,
        day,
        identified=parse_date(fv.first_identified),
        jurisdiction=held.result.jurisdiction if held else "US",
    )
    mine = [o for o in obls if o.regulation == reg.id]
    return bool(mine) and all(o.status is not ObligationStatus.EXEMPT for o in mine)


@dataclass
class _Shared:
    """What every document of one run uses: the plan's steps and the fleet's record per finding."""

    plans: dict[tuple[str, str], ProductPlan]
    recorded: dict[tuple[str, str], Assessment]


def build_far_documents(
    ctx: ReportContext,
    context: FarContext,
    plan_config: PlanConfig | None = None,
    transitions: TransitionExport | None = None,
    regulation: str | None = None,
) -> list[FarDocument]:
    """One document per regulation whose reporting clause covers a finding (or, with none found,
    per regulation whose report binds the results' role, else per reporting regulation), in
    catalog order; `regulation` asks for that one alone."""
    regs = reporting_regulations(ctx)
    if regulation is not None:
        regs = [r for r in ctx.catalog.regulations if r.id == regulation and r.reporting is not None]
        if not regs:
            raise ReportInputError(f"regulation {regulation!r} has no reporting clause in the catalog")
    if not regs:
        named = ", ".join(p["id"] for p in ctx.packs) or "none"
        raise ReportInputError(
            f"no regulation of the packs the results were judged by ({named}) asks for a report"
        )
    plans: list[HostPlan] = build_plan(ctx, plan_config)
    shared = _Shared(
        plans={(pp.host, pp.product): pp for hp in plans for pp in hp.products},
        recorded={(a.host, a.product): a for a in assess(ctx, transitions)} if transitions else {},
    )
    docs = [_document(ctx, context, reg, shared) for reg in regs]
    found = [d for d in docs if any(r.items or r.pending for r in d.reports)]
    if found or regulation is not None:
        return found or docs
    binding = [
        d
        for d, reg in zip(docs, regs, strict=True)
        if any(set(rule.roles) & set(ctx.roles) for rule in reg.reports())
    ]
    return binding or docs


def build_far(
    ctx: ReportContext,
    context: FarContext,
    plan_config: PlanConfig | None = None,
    transitions: TransitionExport | None = None,
    regulation: str | None = None,
) -> FarDocument:
    """The first document `build_far_documents` gives (the one of `regulation`, when named)."""
    return build_far_documents(ctx, context, plan_config, transitions, regulation)[0]


def _document(ctx: ReportContext, context: FarContext, reg: Regulation, shared: _Shared) -> FarDocument:
    """Fill the reports of one regulation's clause, one per contract, from the findings it covers."""
    clause = reg.reporting
    assert clause is not None
    rules = reg.reports()
    role = next((r for r in rules[0].roles if r in ctx.roles), rules[0].roles[0])
    today = parse_date(ctx.as_of) or dt.date.today()
    initial = _part(rules[0], today)  # the clause as it reads today; a report keeps its own below
    followup = _part(rules[1], today) if len(rules) > 1 else None
    covered = {id(fv) for fv in ctx.findings if _covered(ctx, fv, reg, role, today)}
    missing: list[str] = []
    if not context.reporter.name:
        missing.append("reporter.name")
    asks_mitigation = "mitigation" in initial.fields or (followup and "further_mitigation" in followup.fields)
    if asks_mitigation and not context.mitigation:
        missing.append(
            "mitigation (readily available mitigation actions; recommended steps are listed per item)"
        )
    for key in followup.fields if followup else []:
        if key in FOLLOW_UP_FIELDS and key != "further_mitigation" and not getattr(context, key, ""):
            missing.append(f"{key} ({followup.label if followup else ''})")
    reports: list[FarReport] = []
    for c in context.contracts:
        items: list[FarItem] = []
        pending: list[FarItem] = []
        for fv in ctx.findings:
            f = fv.finding
            if id(fv) not in covered or not _in_scope(f.host, c.hosts):
                continue
            identified = (
                context.date_identified.isoformat() if context.date_identified else fv.first_identified
            )
            pp = shared.plans.get((f.host, f.product))
            done_row = shared.recorded.get((f.host, f.product))
            rec = ""
            if pp:
                first = [s.action for s in pp.steps if s.phase in _next_phases(done_row)][:2]
                rec = "Recommended: " + " Then: ".join(first) if first else ""
                if pp.replacement:
                    rec += f" Replacement: {pp.replacement}."
            done = _undertaken(done_row)
            rec = f"{done} {rec}".strip() if done else rec
            if f.verdict in _REPORTABLE:
                items.append(_item(ctx, fv, identified, rec, clause.clause, context.suppliers))
            elif f.verdict in _PENDING:
                pending.append(_item(ctx, fv, identified, rec, clause.clause, context.suppliers))
        dates = sorted(i.date_identified for i in items if i.date_identified)
        identified_on = (
            dates[0] if dates else (context.date_identified.isoformat() if context.date_identified else "")
        )
        day = parse_date(identified_on)
        # the duty starts with the rule: an article identified before it is due from its effective date
        start = max(day, rules[0].effective) if day else None
        first_part = _part(rules[0], start) if start else initial
        later_part = _part(rules[1], start) if start and len(rules) > 1 else followup
        initial_due = first_part.due(start) if start else ""
        followup_due, basis = _followup(later_part, context.initial_report_submitted, start)
        reports.append(
            FarReport(
                contract_number=c.contract_number,
                order_numbers=list(c.order_numbers),
                contracting_officer=c.contracting_officer,
                agency=c.agency,
                date_identified=identified_on,
                initial_due=initial_due if items else "",
                initial_label=first_part.label,
                followup_label=later_part.label if later_part else "",
                followup_due=followup_due if items else "",
                initial_state=_report_state(initial_due, context.initial_report_submitted, ctx.as_of)
                if items
                else "",
                followup_state=_report_state(followup_due, None, ctx.as_of) if items and followup_due else "",
                followup_basis=basis if items else "",
                items=items,
                pending=pending,
                mitigation=context.mitigation,
                prevention_efforts=context.prevention_efforts,
                reasons=context.reasons,
                future_prevention=context.future_prevention,
            )
        )
    own = [p for p in ctx.packs if p["id"] == reg.pack]
    pack = ctx.catalog.pack(reg.pack)
    if not own and pack is not None:
        own = [{"id": pack.id, "title": pack.title, "version": pack.version}]
    return FarDocument(
        clause=f"{clause.clause}{clause.paragraph}",
        contractor=context.contractor,
        cage_code=context.cage_code,
        uei=context.uei,
        reporter=context.reporter.model_dump(),
        report_to=clause.to,
        as_of=ctx.as_of,
        how_identified=context.how_identified
        or f"Automated scan with banscan {', '.join(ctx.banscan_versions)} (catalog {ctx.catalog.meta.version})",
        initial_report_submitted=context.initial_report_submitted.isoformat()
        if context.initial_report_submitted
        else "",
        reports=reports,
        missing=missing,
        regulation=reg.id,
        clause_name=clause.clause,
        article=clause.article,
        articles=clause.articles,
        covered=clause.covered,
        initial=initial,
        followup=followup,
        packs=own,
    )


def _followup(
    part: ReportPart | None, submitted: dt.date | None, identified: dt.date | None
) -> tuple[str, str]:
    """The follow-up report's due date and what it counts from."""
    if part is None:
        return "", ""
    if submitted:
        return part.due(submitted), f"{part.span} after the initial report was submitted on {submitted}"
    if identified:
        return part.due(identified), (
            f"{part.span} counted from identification (the clause counts from the initial report's "
            "submission; set initial_report_submitted for the exact date)"
        )
    return "", "no identification date"


def _doc_json(doc: FarDocument) -> dict[str, Any]:
    data = asdict(doc)
    asked = set(doc.item_fields())
    for report in data["reports"]:
        for item in (*report["items"], *report["pending"]):
            for key in OPTIONAL_ITEM_FIELDS:
                if key not in asked:
                    del item[key]
    return {"schema": doc.schema, **data}


def render_json(docs: FarDocument | Sequence[FarDocument]) -> str:
    """One document as its clause's JSON; several inside one `banscan/far-reports/v1` object."""
    all_docs = as_documents(docs)
    if len(all_docs) == 1:
        out: dict[str, Any] = _doc_json(all_docs[0])
    else:
        out = {"schema": FAR_DOCUMENTS_SCHEMA, "documents": [_doc_json(d) for d in all_docs]}
    return json.dumps(out, indent=2, ensure_ascii=False) + "\n"


def document_title(docs: FarDocument | Sequence[FarDocument]) -> str:
    """ "FAR 52.204-23 report", or the clauses of several documents joined."""
    names = list(dict.fromkeys(d.clause_name or d.clause for d in as_documents(docs)))
    return " and ".join(names) + " report" + ("s" if len(names) > 1 else "")


def render_markdown(docs: FarDocument | Sequence[FarDocument]) -> str:
    return "\n".join(_markdown(d) for d in as_documents(docs))


def _markdown(doc: FarDocument) -> str:
    from banscan.documents.plan import md_escape as e

    todo = "_(to be completed)_"
    out = [
        f"## {doc.title}" + (f" ({e(doc.covered)})" if doc.covered else ""),
        "",
        f"Contractor: {e(doc.contractor)}"
        + (f" · CAGE {e(doc.cage_code)}" if doc.cage_code else "")
        + (f" · UEI {e(doc.uei)}" if doc.uei else ""),
        f"Report to: {doc.report_to}",
        f"How identified: {e(doc.how_identified)}",
        *([f"Judged by pack: {e(doc.pack_text)}"] if doc.packs else []),
        "",
    ]
    if doc.missing:
        out += ["> **To complete before submitting:** " + e("; ".join(doc.missing)), ""]
    keys = [k for k in doc.item_fields() if k not in ("contract_number", "order_numbers")]
    for r in doc.reports:
        orders = ", ".join(r.order_numbers) or "n/a"
        out += [f"### Contract {e(r.contract_number)} (order {e(orders)})", ""]
        if r.contracting_officer or r.agency:
            out += [
                f"Contracting Officer: {e(r.contracting_officer)} {('· ' + e(r.agency)) if r.agency else ''}",
                "",
            ]
        if not r.items:
            out += [f"No {e(doc.article)} identified for this contract.", ""]
        else:
            label = r.initial_label or (doc.initial.label if doc.initial else "report")
            paragraph = f" ({doc.initial.paragraph})" if doc.initial else ""
            out += [
                f"**{label}**{paragraph} — date identified {r.date_identified}, "
                f"due **{r.initial_due}**" + (f" — **{r.initial_state}**" if r.initial_state else ""),
                "",
                "| Host | " + " | ".join(ITEM_LABELS[k][0] for k in keys) + " |",
                "|---|" + "---|" * len(keys),
            ]
            for i in r.items:
                cells = []
                for k in keys:
                    value = doc.cell(r, i, k)
                    if k == "mitigation" and i.exception:
                        value += f" {i.exception}"
                    if k in OPTIONAL_ITEM_FIELDS and not value:
                        cells.append("_(if known)_")
                    else:
                        cells.append(value if k == "date_identified" else e(value))
                out.append(f"| {e(i.host)} | " + " | ".join(cells) + " |")
            out.append("")
            if "mitigation" in keys:
                out += [f"Readily available mitigation: {e(r.mitigation) or todo}", ""]
            if doc.followup is not None:
                out += [
                    f"**{r.followup_label or doc.followup.label}** ({doc.followup.paragraph}) — due **{r.followup_due}**"
                    + (f" — **{r.followup_state}**" if r.followup_state else "")
                    + f" ({e(r.followup_basis)})",
                    "",
                    *(f"- {label}: {e(value) or todo}" for label, value in doc.followup_rows(r)),
                    "",
                ]
        if r.pending:
            out += [f"Pending determination (not yet identified as {e(doc.articles)}):", ""]
            out += [f"- {e(i.host)}: {e(i.model_or_product)} ({i.verdict})" for i in r.pending]
            out.append("")
    return "\n".join(out)


__all__ = [
    "Contract",
    "FarContext",
    "FarDocument",
    "FarItem",
    "FarReport",
    "ReportPart",
    "Reporter",
    "Supplier",
    "as_documents",
    "build_far",
    "build_far_documents",
    "document_title",
    "load_far_context",
    "render_json",
    "render_markdown",
    "reporting_regulations",
]
