"""Obligations per role and date, business-day deadlines, and auditable exceptions."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from banscan.catalog.loader import load_catalog
from banscan.catalog.schema import Catalog
from banscan.models import Confidence, Evidence, Finding, Verdict
from banscan.policy.calendar import add_business_days, is_business_day
from banscan.policy.engine import apply_policy, obligations_for
from banscan.policy.exceptions import ExceptionsError, apply_exceptions, load_exceptions

MINI = Path(__file__).parent / "data" / "mini_catalog.yaml"
D = dt.date.fromisoformat


@pytest.fixture(scope="module")
def cat() -> Catalog:
    return load_catalog(MINI)


def finding(
    product: str = "acme-endpoint",
    verdict: Verdict = Verdict.COVERED,
    category: str = "endpoint-protection",
    host: str = "h1",
) -> Finding:
    ev = Evidence("test", "display_name", "x", "loc", Confidence.DEFINITIVE)
    return Finding(
        host=host,
        product=product,
        product_name=product,
        vendor="Acme AV Lab",
        verdict=verdict,
        confidence=Confidence.DEFINITIVE,
        evidence=[ev],
        category=category,
    )


def by_id(obls: list) -> dict[str, tuple[str, str | None]]:  # type: ignore[type-arg]
    return {o.action: (o.status, o.deadline) for o in obls}


def test_business_days_skip_weekends_and_federal_holidays() -> None:
    assert not is_business_day(D("2024-11-11"))  # Veterans Day
    assert not is_business_day(D("2024-11-09"))  # Saturday
    # Identified Friday 2024-11-08: Mon 11th is a holiday, so 3 business days end Thursday 14th.
    assert add_business_days(D("2024-11-08"), 3) == D("2024-11-14")
    assert add_business_days(D("2024-11-08"), 10) == D("2024-11-25")
    assert add_business_days(D("2024-12-24"), 1) == D("2024-12-26")  # Christmas


@pytest.mark.parametrize(
    ("as_of", "sales", "updates"),
    [
        ("2024-07-19", "not-yet-in-force", "not-yet-in-force"),
        ("2024-07-20", "prohibited", "not-yet-in-force"),
        ("2024-09-28", "prohibited", "not-yet-in-force"),
        ("2024-09-29", "prohibited", "required"),
    ],
)
def test_seller_timeline_either_side_of_the_dates(cat: Catalog, as_of: str, sales: str, updates: str) -> None:
    got = by_id(obligations_for(cat, finding(), "seller", D(as_of)))
    assert got["No new sales."][0] == sales
    assert got["Replace it."][0] == updates


def test_user_gets_no_seller_prohibitions(cat: Catalog) -> None:
    got = by_id(obligations_for(cat, finding(), "user", D("2025-01-01")))
    assert set(got) == {"Replace it."}


def test_federal_contractor_reporting_deadline_from_identification(cat: Catalog) -> None:
    obls = obligations_for(cat, finding(), "federal-contractor", D("2024-11-12"), identified=D("2024-11-08"))
    report = next(o for o in obls if o.action == "Report it.")
    assert (report.status, report.deadline) == ("due", "2024-11-14")
    late = obligations_for(cat, finding(), "federal-contractor", D("2024-11-15"), identified=D("2024-11-08"))
    assert next(o for o in late if o.action == "Report it.").status == "overdue"


def test_carve_out_category_is_exempt(cat: Catalog) -> None:
    obls = obligations_for(
        cat, finding("acme-ti", Verdict.REVIEW, "threat-intelligence"), "seller", D("2025-01-01")
    )
    assert [o.status for o in obls] == ["exempt"]
    assert obls[0].exemptions == ("Threat intelligence",)


def test_informational_and_unrelated_vendor_have_no_obligations(cat: Catalog) -> None:
    assert obligations_for(cat, finding("successor-av", Verdict.INFORMATIONAL), "user", D("2025-01-01")) == []
    assert obligations_for(cat, finding("successor-av", Verdict.REVIEW), "user", D("2025-01-01")) == []


def test_unlisted_products_of_covered_entity_are_covered_by_rules(cat: Catalog) -> None:
    got = by_id(
        obligations_for(cat, finding("acme-av-unlisted", category="unlisted"), "user", D("2025-01-01"))
    )
    assert got == {"Replace it.": ("required", None)}


def test_state_rule_only_in_its_jurisdiction(cat: Catalog) -> None:
    assert obligations_for(cat, finding(), "state-agency", D("2025-01-01")) == []
    tx = obligations_for(cat, finding(), "state-agency", D("2025-01-01"), jurisdiction="US-TX")
    assert [(o.regulation, o.status) for o in tx] == [("state-ban", "prohibited")]


def test_definitions_age_counts_from_last_permitted_update(cat: Catalog) -> None:
    fs = [finding(), finding("successor-av", Verdict.INFORMATIONAL)]
    apply_policy(cat, fs, "user", D("2024-10-29"))
    assert fs[0].definitions_age_days == 30
    assert fs[1].definitions_age_days is None
    apply_policy(cat, fs, "user", D("2024-09-01"))
    assert fs[0].definitions_age_days is None


def test_exceptions_accept_until_expiry(tmp_path: Path) -> None:
    f = tmp_path / "exceptions.yaml"
    f.write_text(
        "exceptions:\n"
        "  - host: 'lab-*'\n    product: acme-*\n    reason: isolated malware lab\n"
        "    approver: ciso@example.org\n    expires: 2025-06-30\n    ticket: SEC-42\n",
        encoding="utf-8",
    )
    entries = load_exceptions(f)
    fs = [finding(host="LAB-7"), finding(host="office-1")]
    apply_exceptions(fs, entries, D("2025-01-01"))
    assert [x.verdict for x in fs] == [Verdict.ACCEPTED, Verdict.COVERED]
    assert fs[0].exception == {
        "reason": "isolated malware lab",
        "approver": "ciso@example.org",
        "expires": "2025-06-30",
        "original_verdict": "covered",
        "ticket": "SEC-42",
    }
    expired = [finding(host="lab-7")]
    apply_exceptions(expired, entries, D("2025-07-01"))
    assert expired[0].verdict == Verdict.COVERED and expired[0].exception is None


def test_bad_exceptions_file_names_file_and_field(tmp_path: Path) -> None:
    f = tmp_path / "exc.yaml"
    f.write_text(
        "exceptions:\n  - host: a\n    product: b\n    reason: r\n    expires: 2025-01-01\n", encoding="utf-8"
    )
    with pytest.raises(ExceptionsError, match=r"exc\.yaml: exceptions\.0\.approver: Field required"):
        load_exceptions(f)
    f.write_text("exceptions: [\n", encoding="utf-8")
    with pytest.raises(ExceptionsError, match=r"exc\.yaml:\d+: invalid YAML"):
        load_exceptions(f)
