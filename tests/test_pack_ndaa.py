"""The NDAA §889 / FCC Covered List pack: its software found (as evidence of covered equipment,
for a person to review), look-alikes left alone, and the FAR 52.204-25(d) report due one
business day after identification, across weekends and federal holidays."""

from __future__ import annotations

import datetime as dt

import pytest

from banscan.catalog.loader import load_catalog
from banscan.match.matcher import Matcher
from banscan.models import InventoryRecord, RecordKind, Source
from banscan.policy.engine import obligations_for

CATALOG = load_catalog().with_packs(["ndaa-889"])


def _findings(names: list[str]) -> dict[str, tuple[str, str]]:
    matcher = Matcher(CATALOG)
    for i, name in enumerate(names):
        matcher.add(
            InventoryRecord(host=f"h{i}", source=Source("test", f"t:{i}"), kind=RecordKind.APP, name=name)
        )
    return {names[int(f.host[1:])]: (f.product, f.verdict.value) for f in matcher.findings()}


def test_the_vendors_software_is_found_for_review() -> None:
    got = _findings(["SmartPSSLite", "HiSuite", "iVMS-4200", "Hikvision Device Tool", "EZVIZ Studio"])
    assert got["SmartPSSLite"] == ("dahua-smartpss-lite", "review")
    assert got["HiSuite"] == ("huawei-hisuite", "review")
    assert got["iVMS-4200"] == ("hikvision-ivms-4200", "review")
    assert got["Hikvision Device Tool"][1] == "review"  # the brand, in a product the pack does not list
    assert got["EZVIZ Studio"][1] == "review"


@pytest.mark.parametrize(
    "name",
    [
        "ZTEST Runner",
        "Dahuang Editor",
        "Axis Camera Station",
        "Honor PC Manager",
        "Milestone XProtect Smart Client",
        "Aztec Diamond",
    ],
)
def test_look_alikes_are_left_alone(name: str) -> None:
    assert _findings([name]) == {}


@pytest.mark.parametrize(
    ("identified", "due"),
    [
        ("2025-07-02", "2025-07-03"),  # Wednesday → Thursday
        ("2025-07-03", "2025-07-07"),  # Thursday → Monday: Friday 4 July is Independence Day
        ("2025-11-07", "2025-11-10"),  # Friday → Monday
        ("2025-11-10", "2025-11-12"),  # Monday → Wednesday: Tuesday 11 November is Veterans Day
        ("2025-12-24", "2025-12-26"),  # Wednesday → Friday: Christmas Day
    ],
)
def test_first_report_is_due_one_business_day_after_identification(identified: str, due: str) -> None:
    matcher = Matcher(CATALOG)
    matcher.add(
        InventoryRecord(host="h", source=Source("test", "t:1"), kind=RecordKind.APP, name="SmartPSSLite")
    )
    (finding,) = matcher.findings()
    day = dt.date.fromisoformat(identified)
    obls = obligations_for(CATALOG, finding, "federal-contractor", day, identified=day)
    reports = sorted(
        o.deadline
        for o in obls
        if o.regulation == "ndaa-889-far-52-204-25" and o.status in ("due", "overdue") and o.deadline
    )
    assert len(reports) == 2, [(o.status, o.action[:40]) for o in obls]
    assert reports[0] == due  # the first report; the second is due ten business days on


@pytest.mark.parametrize(
    ("kind", "publisher", "verdict", "category"),
    [
        # a switch an inventory says Huawei made: its telecommunications equipment, any use
        (RecordKind.DEVICE, "Huawei", "covered", "network-appliance"),
        # Huawei software the pack does not list: evidence of equipment, for a person to check
        (RecordKind.APP, "Huawei Technologies Co., Ltd.", "review", "unlisted"),
        # Hikvision equipment is covered only for some purposes: review either way
        (RecordKind.DEVICE, "Hikvision", "review", "network-appliance"),
    ],
)
def test_unlisted_equipment_and_software_of_a_vendor(
    kind: RecordKind, publisher: str, verdict: str, category: str
) -> None:
    matcher = Matcher(CATALOG)
    matcher.add(
        InventoryRecord(
            host="h", source=Source("test", "t:1"), kind=kind, name="Model X 200", publisher=publisher
        )
    )
    (finding,) = matcher.findings()
    assert (finding.verdict.value, finding.category) == (verdict, category)
