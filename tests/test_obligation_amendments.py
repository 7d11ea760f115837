"""An amended period counts for items identified from the amendment on; what was identified
before keeps the old one. FAR 52.204-23(c)(2)(i) asked for the first report within 1 business
day until FAC 2023-06 (December 4, 2023) made it 3 business days."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from banscan.catalog.loader import load_catalog
from banscan.catalog.schema import ObligationRule
from banscan.match.matcher import Matcher
from banscan.models import Finding, InventoryRecord, RecordKind, Source
from banscan.policy.engine import obligations_for
from banscan.policy.periods import period_text

CATALOG = load_catalog().with_packs(["kaspersky"])
REG = "ndaa-1634-far-52-204-23"


def _finding() -> Finding:
    matcher = Matcher(CATALOG)
    matcher.add(
        InventoryRecord(
            host="h",
            source=Source("test", "t:1"),
            kind=RecordKind.APP,
            name="Kaspersky Endpoint Security for Windows",
            publisher="AO Kaspersky Lab",
        )
    )
    (finding,) = matcher.findings()
    return finding


@pytest.mark.parametrize(
    ("identified", "first_report_due"),
    [
        ("2023-11-22", "2023-11-24"),  # Wednesday → Friday: Thanksgiving is a federal holiday
        ("2023-11-30", "2023-12-01"),  # Thursday → Friday: 1 business day
        ("2023-12-01", "2023-12-04"),  # Friday → Monday: still the old clause's day
        ("2023-12-04", "2023-12-07"),  # Monday, the amendment's day → Thursday: 3 business days
        ("2024-11-08", "2024-11-14"),  # Friday → Thursday: Veterans Day on Monday 11 November
    ],
)
def test_the_first_report_is_due_by_the_period_in_force_when_identified(
    identified: str, first_report_due: str
) -> None:
    day = dt.date.fromisoformat(identified)
    obls = obligations_for(CATALOG, _finding(), "federal-contractor", day, identified=day)
    reports = sorted(
        o.deadline
        for o in obls
        if o.regulation == REG and o.status.value in ("due", "overdue") and o.deadline
    )
    assert reports[0] == first_report_due
    assert len(reports) == 2  # the follow-up, ten business days on, is unchanged


def test_the_period_reads_the_same_everywhere() -> None:
    rule = next(
        o for r in CATALOG.regulations if r.id == REG for o in r.obligations if o.id == "report-3-days"
    )
    assert period_text(rule) == (
        "3 US business days from identification (1 US business day for items identified before 2023-12-04)"
    )
    follow_up = next(
        o for r in CATALOG.regulations if r.id == REG for o in r.obligations if o.id == "report-10-days"
    )
    assert period_text(follow_up) == "10 US business days from identification"


def _rule(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "id": "r",
        "roles": ["federal-contractor"],
        "effective": "2020-01-01",
        "kind": "reporting",
        "action": "report",
        "due_business_days": 1,
        "amendments": [
            {"effective": "2021-01-01", "due_business_days": 3, "citation": "c", "sources": ["s"]}
        ],
    }
    base.update(changes)
    return base


@pytest.mark.parametrize(
    "changes",
    [
        {
            "amendments": [
                {"effective": "2019-06-01", "due_business_days": 3, "citation": "c", "sources": ["s"]}
            ]
        },
        {"amendments": [{"effective": "2021-01-01", "citation": "c", "sources": ["s"]}]},
        {
            "amendments": [
                {"effective": "2022-01-01", "due_business_days": 3, "citation": "c", "sources": ["s"]},
                {"effective": "2021-01-01", "due_business_days": 2, "citation": "c", "sources": ["s"]},
            ]
        },
        {"due_business_days": None},
    ],
    ids=["before-the-rule", "no-period", "out-of-order", "nothing-to-amend"],
)
def test_amendments_that_cannot_be_read_one_way_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ObligationRule.model_validate(_rule(**changes))
    assert ObligationRule.model_validate(_rule()).terms_on(dt.date(2021, 1, 1)) == (3, None)


@pytest.mark.parametrize(
    ("identified", "label", "due"),
    [
        ("2023-11-30", "1-business-day report", "2023-12-01"),
        ("2023-12-05", "3-business-day report", "2023-12-08"),
    ],
)
def test_the_far_document_reports_by_the_clause_in_force_when_identified(
    identified: str, label: str, due: str
) -> None:
    from banscan.documents.far import build_far, load_far_context
    from banscan.documents.far import render_markdown as far_markdown
    from test_reports_data import far_context_file, late_context

    context = load_far_context(far_context_file()).model_copy(
        update={"date_identified": dt.date.fromisoformat(identified)}
    )
    doc = build_far(late_context(), context)
    report = next(r for r in doc.reports if r.items)
    assert (report.date_identified, report.initial_label, report.initial_due) == (identified, label, due)
    assert f"**{label}** (52.204-23(c)(2)(i)) — date identified {identified}, due **{due}**" in far_markdown(
        doc
    )
