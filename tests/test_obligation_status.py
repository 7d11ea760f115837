"""Obligation status has one typed home (`models.ObligationStatus`), and the "overdue since DATE
(N days)" wording one builder (`policy.deadlines.overdue_text`) that every output uses."""

from __future__ import annotations

import datetime as dt
import json
from importlib import resources
from pathlib import Path

import pytest

from banscan.catalog.loader import load_catalog
from banscan.catalog.schema import ROLES, Catalog
from banscan.documents.bod import build_bod
from banscan.documents.far import build_far, load_far_context
from banscan.documents.html import render_html
from banscan.documents.markdown import render_markdown
from banscan.documents.plan import build_plan
from banscan.documents.plan import render_markdown as plan_markdown
from banscan.models import Confidence, Finding, Obligation, ObligationStatus, Verdict
from banscan.policy import deadlines
from banscan.policy.engine import obligations_for
from linux_root import HOSTNAME as LINUX_HOST
from test_reports_data import both_context, far_context_file

S = ObligationStatus
D = dt.date.fromisoformat

# member: (is_open, is_pending, overdue, in_effect)
EXPECTED = {
    S.OVERDUE: (True, False, True, True),
    S.DUE: (True, True, False, True),
    S.REQUIRED: (True, True, False, True),
    S.PROHIBITED: (False, False, False, True),
    S.ADVISORY: (False, False, False, True),
    S.NOT_YET_IN_FORCE: (False, False, False, False),
    S.EXEMPT: (False, False, False, False),
    S.ENDED: (False, False, False, False),
}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.mark.parametrize("status", list(ObligationStatus))
def test_every_member_says_whether_it_is_open_pending_overdue_in_effect(status: ObligationStatus) -> None:
    assert (status.is_open, status.is_pending, status.overdue, status.in_effect) == EXPECTED[status]
    # a StrEnum is its value: equal, same hash, formatted and serialised as the plain string
    assert status == status.value and hash(status) == hash(status.value)
    assert str(status) == f"{status}" == status.value
    assert json.dumps({status: status}) == json.dumps({status.value: status.value})


def test_the_members_are_the_json_contracts_statuses() -> None:
    assert set(EXPECTED) == set(ObligationStatus)
    schema = json.loads(
        (resources.files("banscan.output") / "schemas" / "result-v1.schema.json").read_text("utf-8")
    )
    obligation = schema["properties"]["findings"]["items"]["properties"]["obligations"]["items"]
    assert set(obligation["properties"]["status"]["enum"]) == {s.value for s in ObligationStatus}


def _findings(catalog: Catalog) -> list[Finding]:
    """One covered finding per kind of product the policy engine tells apart (what it makes or
    integrates, how, and its category)."""
    kinds = {(p.vendor, tuple(p.integrates), p.relation, p.category): p for p in catalog.products}
    return [
        Finding(
            host="h",
            product=p.id,
            product_name=p.name,
            vendor=p.vendor,
            verdict=Verdict.COVERED,
            confidence=Confidence.DEFINITIVE,
            category=p.category.value,
        )
        for p in kinds.values()
    ]


def _days(catalog: Catalog) -> list[dt.date]:
    days = {D("2016-01-01"), D("2030-01-01")}
    for reg in catalog.regulations:
        for rule in reg.obligations:
            for d in (rule.effective, rule.deadline, rule.ends):
                if d is not None:
                    days |= {d - dt.timedelta(days=1), d, d + dt.timedelta(days=1)}
            for n in (rule.due_business_days, rule.due_calendar_days):
                if n is not None:
                    days |= {rule.effective + dt.timedelta(days=k) for k in (0, n, 2 * n + 4)}
    return sorted(days)


def _statuses(catalog: Catalog) -> set[ObligationStatus]:
    seen: set[ObligationStatus] = set()
    findings = _findings(catalog)
    days = _days(catalog)
    for jurisdiction in ("US", "TX", "NH"):
        for role in ROLES:
            for f in findings:
                for day in days:
                    for identified in (day, day - dt.timedelta(days=40)):
                        for o in obligations_for(
                            catalog, f, role, day, identified=identified, jurisdiction=jurisdiction
                        ):
                            assert type(o.status) is ObligationStatus, o
                            seen.add(o.status)
    return seen


def test_every_status_the_engine_produces_is_a_member(catalog: Catalog) -> None:
    seen = _statuses(catalog)
    # the shipped catalog has no rule that ends; one that did would say `ended` after that day
    assert seen == set(ObligationStatus) - {S.ENDED}
    ending = catalog.model_copy(
        update={
            "regulations": [
                r.model_copy(
                    update={
                        "obligations": [o.model_copy(update={"ends": D("2020-01-01")}) for o in r.obligations]
                    }
                )
                for r in catalog.regulations
            ]
        }
    )
    assert S.ENDED in _statuses(ending)


# --- the overdue wording ---------------------------------------------------------------------

ONE_DAY_LATE = D("2024-10-05")  # the estate was first identified 2024-10-01; FAR's 3 days: 10-04


def test_overdue_text_counts_days_in_the_singular_and_plural() -> None:
    assert deadlines.days_text(1) == "1 day" and deadlines.days_text(2) == "2 days"
    assert deadlines.overdue_text("2024-10-04", 1) == "overdue since 2024-10-04 (1 day)"
    assert deadlines.overdue_text("2024-10-04", 35) == "overdue since 2024-10-04 (35 days)"
    assert deadlines.overdue_text("2024-10-04", None) == "overdue since 2024-10-04"
    assert deadlines.overdue_text("2024-10-04", 0) == "overdue since 2024-10-04"
    assert (
        deadlines.overdue_text("2024-10-04", 1, label="**overdue**") == "**overdue** since 2024-10-04 (1 day)"
    )


def test_summary_says_1_day() -> None:
    late = Obligation("r", S.OVERDUE, "2018-10-01", "Report it.", "2024-10-04", days_overdue=1)
    ahead = Obligation("r", S.DUE, "2018-10-01", "Report more.", "2024-10-16")
    summary = deadlines.summarize([ahead, late])
    assert summary.state is S.OVERDUE and summary.next_deadline == "2024-10-16"
    assert summary.text() == "overdue since 2024-10-04 (1 day)"
    assert deadlines.summarize([ahead]).state is S.DUE
    assert deadlines.summarize([]).state is None


def test_far_document_says_1_day(tmp_path: Path) -> None:
    # a context without its own date_identified: the first scan (2024-10-01) says when
    undated = tmp_path / "undated.yaml"
    undated.write_text(
        "".join(
            ln
            for ln in far_context_file().read_text(encoding="utf-8").splitlines(True)
            if not ln.startswith("date_identified")
        ),
        encoding="utf-8",
    )
    doc = build_far(both_context(as_of=ONE_DAY_LATE), load_far_context(undated))
    (report,) = doc.reports
    assert report.initial_due == "2024-10-04"
    assert report.initial_state == "overdue since 2024-10-04 (1 day)"
    assert "1 days" not in json.dumps([r.initial_state for r in doc.reports])


def test_bod_document_says_1_day() -> None:
    bod = build_bod(both_context(as_of=D("2017-10-14")))  # BOD 17-01 "identify" was due 2017-10-13
    status = {r["id"]: r["status"] for r in bod.requirements}
    assert status["identify"] == "in force since 2017-09-13; overdue since 2017-10-13 (1 day)"
    assert "1 days" not in " ".join(status.values())


def test_markdown_and_html_reports_say_1_day() -> None:
    ctx = both_context(as_of=ONE_DAY_LATE)
    md = render_markdown(ctx)
    assert "**overdue** since 2024-10-04 (1 day)" in md and "(1 days)" not in md
    html = render_html(both_context(as_of=ONE_DAY_LATE))
    assert "since 2024-10-04 (1 day)" in html and "(1 days)" not in html


def test_markdown_plan_says_1_day() -> None:
    ctx = both_context(as_of=ONE_DAY_LATE)
    plans = build_plan(ctx)
    kesl = next(pp for hp in plans for pp in hp.products if pp.host == LINUX_HOST and pp.product == "kesl")
    assert kesl.steps[0].due_state is S.OVERDUE
    assert kesl.steps[0].due_basis.endswith("deadline passed 1 day ago")
    md = plan_markdown(plans, ctx)
    assert "- **Overdue** since 2024-10-04" in md and "deadline passed 1 day ago" in md
    assert "1 days" not in md
