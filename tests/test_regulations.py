"""Every regulation in the shipped catalog, on both sides of each of its dates."""

from __future__ import annotations

import datetime as dt

import pytest

from banscan.catalog.loader import load_catalog
from banscan.models import Confidence, Evidence, Finding, Verdict
from banscan.policy.engine import obligations_for

CAT = load_catalog()
DAY = dt.timedelta(days=1)

CASES = [
    (reg.id, rule.id, role, reg.jurisdiction)
    for reg in CAT.regulations
    for rule in reg.obligations
    for role in rule.roles
]


def kesl_finding() -> Finding:
    ev = Evidence("dpkg", "package", "kesl", "/var/lib/dpkg/status:1", Confidence.DEFINITIVE)
    return Finding(
        host="h",
        product="kesl",
        product_name="KESL",
        vendor="Kaspersky Lab",
        verdict=Verdict.COVERED,
        confidence=Confidence.DEFINITIVE,
        evidence=[ev],
        category="endpoint-protection",
    )


def covered_finding(reg_id: str) -> Finding:
    """A finding of a product the regulation covers: KESL for Kaspersky's rules, else the first
    product of the regulation's pack whose vendor it names (any pack's rules are tested)."""
    reg = next(r for r in CAT.regulations if r.id == reg_id)
    if "kaspersky-lab" in reg.covers_entities:
        return kesl_finding()
    product = next(
        p
        for p in CAT.products
        if p.vendor in reg.covers_entities
        and p.relation in reg.covers_relations
        and p.category not in reg.exempt_categories
    )
    ev = Evidence("test", "display_name", product.name, "test:1", Confidence.DEFINITIVE)
    return Finding(
        host="h",
        product=product.id,
        product_name=product.name,
        vendor=product.vendor,
        verdict=Verdict.COVERED,
        confidence=Confidence.DEFINITIVE,
        evidence=[ev],
        category=product.category.value,
    )


@pytest.mark.parametrize(("reg_id", "rule_id", "role", "jurisdiction"), CASES)
def test_each_obligation_starts_on_its_effective_date(
    reg_id: str, rule_id: str, role: str, jurisdiction: str
) -> None:
    reg = next(r for r in CAT.regulations if r.id == reg_id)
    rule = next(o for o in reg.obligations if o.id == rule_id)
    finding = covered_finding(reg_id)

    def status(day: dt.date) -> str:
        obls = obligations_for(CAT, finding, role, day, jurisdiction=jurisdiction)
        mine = [
            o
            for o in obls
            if o.regulation == reg_id
            and o.since == rule.effective.isoformat()
            and o.action == " ".join(rule.action.split())
        ]
        assert len(mine) == 1, (reg_id, rule_id, role, [o.action[:30] for o in obls])
        return mine[0].status

    assert status(rule.effective - DAY) == "not-yet-in-force"
    in_force = status(rule.effective)
    expected = {
        "prohibition": {"prohibited"},
        "advisory": {"advisory"},
        "action": {"required", "overdue"},
        "reporting": {"due", "overdue"},
    }[rule.kind]
    assert in_force in expected


@pytest.mark.parametrize("role", ["user", "seller", "federal-contractor", "state-agency", "telecom"])
@pytest.mark.parametrize(
    ("as_of", "updates_stopped"),
    [
        ("2024-07-19", False),
        ("2024-07-20", False),
        ("2024-09-28", False),
        ("2024-09-29", True),
        ("2024-09-30", True),
    ],
)
def test_bis_end_of_updates_for_every_role(role: str, as_of: str, updates_stopped: bool) -> None:
    day = dt.date.fromisoformat(as_of)
    obls = obligations_for(CAT, kesl_finding(), role, day)
    end = [
        o
        for o in obls
        if o.regulation == "bis-icts-2024-kaspersky" and o.since == "2024-09-29" and "signature" in o.action
    ]
    assert end, role
    assert all((o.status != "not-yet-in-force") == updates_stopped for o in end)
    sales = [o for o in obls if o.regulation == "bis-icts-2024-kaspersky" and o.since == "2024-07-20"]
    if role == "seller":
        assert [o.status for o in sales] == (
            ["prohibited"] if as_of >= "2024-07-20" else ["not-yet-in-force"]
        )
    else:
        assert sales == []  # new-sales prohibition binds sellers, not users


def test_carve_outs_are_exempt_under_bis_but_not_under_far() -> None:
    ti = next(
        p
        for p in CAT.products
        if p.status.value == "carved-out" and p.category.value == "threat-intelligence"
    )
    f = Finding(
        host="h",
        product=ti.id,
        product_name=ti.name,
        vendor="Kaspersky Lab",
        verdict=Verdict.REVIEW,
        confidence=Confidence.STRONG,
        evidence=[],
        category=ti.category.value,
    )
    obls = obligations_for(CAT, f, "federal-contractor", dt.date(2025, 1, 1))
    by_reg = {o.regulation: o.status for o in obls}
    assert by_reg["bis-icts-2024-kaspersky"] == "exempt"
    # FAR 52.204-23 has no threat-intelligence carve-out: any Kaspersky covered article counts.
    assert by_reg["ndaa-1634-far-52-204-23"] in {"prohibited", "due"}
