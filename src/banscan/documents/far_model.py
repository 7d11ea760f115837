"""The FAR-style document as data: one regulation's report, one section per contract, with
the fields its clause asks for (the catalog's `reporting` and `report`), and how documents label
them. Built by `far.build_far_documents`, rendered by `far` (JSON, Markdown) and `html`."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from banscan.documents import pack_label
from banscan.policy.calendar import add_business_days

# One document's JSON names its clause ("banscan/far-52-204-23/v1"); several go in one wrapper.
FAR_SCHEMA = "banscan/far-{}/v1"
FAR_DOCUMENTS_SCHEMA = "banscan/far-reports/v1"
# How documents label the fields a clause asks for, and how wide each column is in HTML (percent).
ITEM_LABELS = {
    "contract_number": ("Contract number", 10),
    "order_numbers": ("Order number(s)", 10),
    "supplier": ("Supplier", 9),
    "supplier_uei": ("Supplier UEI", 7),
    "supplier_cage_code": ("Supplier CAGE code", 6),
    "brand": ("Brand", 8),
    "model_or_product": ("Model or product", 12),
    "item_description": ("Item description", 19),
    "date_identified": ("Date identified", 9),
    "mitigation": ("Mitigation", 23),
}
FOLLOW_UP_LABELS = {
    "further_mitigation": "Further mitigation actions",
    "prevention_efforts": "Efforts to prevent use or submission",
    "reasons": "Reasons that led to use or submission",
    "future_prevention": "Additional efforts to prevent recurrence",
}
# Item fields written only when the clause asks for them (the JSON of other clauses stays as it was).
OPTIONAL_ITEM_FIELDS = ("supplier_uei", "supplier_cage_code")


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
    supplier_uei: str = ""
    supplier_cage_code: str = ""


@dataclass
class ReportPart:
    """One report a clause asks for: the obligation and paragraph, when it is due and the fields
    it holds (from the catalog)."""

    obligation: str
    paragraph: str
    days: int | None
    day_kind: str  # "business" | "calendar" | "" (a fixed deadline)
    deadline: str  # the fixed calendar deadline, when the clause gives one
    fields: list[str]

    @property
    def label(self) -> str:
        """ "3-business-day report", "1-business-day report"."""
        return f"{self.days}-{self.day_kind}-day report" if self.days else "report"

    @property
    def span(self) -> str:
        """ "10 business days", "1 business day"."""
        if not self.days:
            return "a fixed deadline"
        return f"{self.days} {self.day_kind} day{'' if self.days == 1 else 's'}"

    def due(self, start: dt.date) -> str:
        if self.days and self.day_kind == "business":
            return add_business_days(start, self.days).isoformat()
        if self.days:
            return (start + dt.timedelta(days=self.days)).isoformat()
        return self.deadline


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
    initial_label: str = ""  # "1-business-day report": the period in force when it was identified
    followup_label: str = ""


@dataclass
class FarDocument:
    """The report one regulation's reporting clause asks for, one section per contract."""

    clause: str  # with its reporting paragraph: "FAR 52.204-23(c)"
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
    regulation: str = ""
    clause_name: str = ""  # "FAR 52.204-23"
    article: str = "covered article"
    articles: str = "covered articles"
    covered: str = ""
    initial: ReportPart | None = None
    followup: ReportPart | None = None
    packs: list[dict[str, str]] = field(default_factory=list)  # the pack(s) of its regulation

    @property
    def slug(self) -> str:
        """ "52-204-23" for FAR 52.204-23: names its JSON schema and its HTML section."""
        text = re.sub(r"[^a-z0-9]+", "-", (self.clause_name or self.clause).lower()).strip("-")
        return text.removeprefix("far-") or "report"

    @property
    def schema(self) -> str:
        return FAR_SCHEMA.format(self.slug)

    @property
    def title(self) -> str:
        return f"{self.clause} report — {self.articles}"

    @property
    def pack_text(self) -> str:
        return "; ".join(pack_label(p) for p in self.packs)

    def item_fields(self) -> list[str]:
        """The clause's item fields (the first report), in its order."""
        return [f for f in (self.initial.fields if self.initial else []) if f in ITEM_LABELS]

    def html_columns(self) -> list[tuple[str, str, int]]:
        """(field, label, width in percent) of the HTML item table; widths add up to 100."""
        keys = self.item_fields()
        widths = [ITEM_LABELS[k][1] for k in keys]
        total = sum(widths) or 1
        scaled = [round(w * 100 / total) for w in widths]
        if scaled:
            scaled[-1] += 100 - sum(scaled)
        labels = [ITEM_LABELS[k][0] + (" (readily available)" if k == "mitigation" else "") for k in keys]
        return list(zip(keys, labels, scaled, strict=True))

    def followup_rows(self, r: FarReport) -> list[tuple[str, str]]:
        """(label, value) of the follow-up report's narrative fields for one contract."""
        fields = self.followup.fields if self.followup else []
        return [(FOLLOW_UP_LABELS[k], _followup_value(r, k)) for k in fields if k in FOLLOW_UP_LABELS]

    def cell(self, r: FarReport, item: FarItem, key: str) -> str:
        """One item field as the report writes it."""
        if key == "contract_number":
            return r.contract_number
        if key == "order_numbers":
            return ", ".join(r.order_numbers) or "n/a"
        return str(getattr(item, key, ""))


def _followup_value(r: FarReport, key: str) -> str:
    return r.mitigation if key == "further_mitigation" else str(getattr(r, key, ""))


def as_documents(docs: FarDocument | Sequence[FarDocument] | None) -> list[FarDocument]:
    """One document, several or none, as a list."""
    if docs is None:
        return []
    return [docs] if isinstance(docs, FarDocument) else list(docs)
