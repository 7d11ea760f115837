"""Obligations across many scans: deadlines run from first identification, overdue is said,
and a jurisdiction typo never silently drops every rule."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from banscan.catalog.loader import load_catalog
from banscan.catalog.schema import Catalog
from banscan.cli import app
from banscan.models import Confidence, Evidence, Finding, Obligation, Verdict
from banscan.policy import deadlines
from banscan.policy.engine import (
    UnknownJurisdiction,
    apply_policy,
    definitions_age,
    normalise_jurisdiction,
    obligations_for,
)
from linux_root import HOSTNAME, build_linux_root

D = dt.date.fromisoformat
runner = CliRunner()


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def kes(host: str = "WKS-1", first: str | None = None) -> Finding:
    ev = Evidence(
        "windows-uninstall",
        "display_name",
        "Kaspersky Endpoint Security for Windows",
        "HKLM\\x",
        Confidence.DEFINITIVE,
    )
    return Finding(
        host=host,
        product="kes-windows",
        product_name="Kaspersky Endpoint Security for Windows",
        vendor="kaspersky-lab",
        verdict=Verdict.COVERED,
        confidence=Confidence.DEFINITIVE,
        evidence=[ev],
        category="endpoint-protection",
        first_identified=first,
    )


def by_rule(obls: list[Obligation], regulation: str) -> dict[str, Obligation]:
    """Obligations of one regulation keyed by the start of their action text."""
    return {o.action.split()[0] + ":" + (o.deadline or ""): o for o in obls if o.regulation == regulation}


def far(catalog: Catalog, identified: str, as_of: str) -> list[Obligation]:
    obls = obligations_for(catalog, kes(), "federal-contractor", D(as_of), identified=D(identified))
    return sorted(
        (o for o in obls if o.regulation == "ndaa-1634-far-52-204-23" and o.deadline),
        key=lambda o: o.deadline or "",
    )


# FAR 52.204-23(c)(2): 3 and 10 US business days from identification (federal holidays excluded).
# Identified -> (3-day deadline, 10-day deadline), worked out by hand on the 2024 calendar.
FAR_DEADLINES = [
    ("2024-11-08", "2024-11-14", "2024-11-25"),  # Fri; Veterans Day Mon 11-11 skipped
    ("2024-11-26", "2024-12-02", "2024-12-11"),  # Tue; Thanksgiving Thu 11-28 skipped
    ("2024-12-23", "2024-12-27", "2025-01-08"),  # Mon; Christmas and New Year's Day skipped
    ("2024-10-01", "2024-10-04", "2024-10-16"),  # Tue; Columbus Day Mon 10-14 skipped
    ("2024-11-09", "2024-11-14", "2024-11-25"),  # a Saturday: the clock starts with the next business day
]


@pytest.mark.parametrize(("identified", "three", "ten"), FAR_DEADLINES)
def test_far_deadlines_before_on_and_after(catalog: Catalog, identified: str, three: str, ten: str) -> None:
    # as of the day identified: both reports due
    o3, o10 = far(catalog, identified, identified)
    assert (o3.deadline, o10.deadline) == (three, ten)
    assert (o3.status, o10.status) == ("due", "due") and o3.days_overdue is None
    # on the 3-day deadline: still due (the whole day counts)
    o3, o10 = far(catalog, identified, three)
    assert (o3.status, o10.status) == ("due", "due")
    # the day after: the 3-day report is overdue by one day, the 10-day one is next
    after = (D(three) + dt.timedelta(days=1)).isoformat()
    o3, o10 = far(catalog, identified, after)
    assert (o3.status, o3.days_overdue, o10.status) == ("overdue", 1, "due")
    summary = deadlines.summarize([o3, o10])
    assert (summary.overdue_since, summary.next_deadline, summary.state) == (three, ten, "overdue")
    assert summary.text() == f"overdue since {three} (1 day)"
    # long after both: overdue since the earlier deadline, nothing "next"
    o3, o10 = far(catalog, identified, "2025-06-30")
    assert (o3.status, o10.status) == ("overdue", "overdue")
    assert o3.days_overdue == (D("2025-06-30") - D(three)).days
    summary = deadlines.summarize([o3, o10])
    assert summary.next_deadline is None and summary.overdue_since == three


def test_bod_17_01_deadlines_of_2017_are_overdue_never_next(catalog: Catalog) -> None:
    obls = obligations_for(catalog, kes(), "federal-agency", D("2024-11-08"), identified=D("2024-11-08"))
    bod = [o for o in obls if o.regulation == "dhs-bod-17-01"]
    assert bod and all(o.since == "2017-09-13" for o in bod)
    dated = {o.deadline: o for o in bod if o.deadline}
    assert set(dated) == {"2017-10-13", "2017-11-12", "2017-12-12"}
    assert all(o.status == "overdue" for o in dated.values())
    assert dated["2017-10-13"].days_overdue == (D("2024-11-08") - D("2017-10-13")).days
    summary = deadlines.summarize(obls)
    assert summary.overdue_since == "2017-10-13" and summary.state == "overdue"
    assert summary.next_deadline != "2017-10-13"
    # before the directive: not yet in force, nothing overdue
    early = obligations_for(catalog, kes(), "federal-agency", D("2017-09-01"))
    assert {o.status for o in early if o.regulation == "dhs-bod-17-01"} == {"not-yet-in-force"}


@pytest.mark.parametrize(
    ("role", "day", "expected"),
    [
        # what the BIS Final Determination asks of each role, by date
        ("user", "2024-06-23", {"advisory": 0, "not-yet-in-force": 2}),
        ("user", "2024-06-24", {"advisory": 1, "not-yet-in-force": 1}),
        ("user", "2024-09-29", {"advisory": 2}),  # nothing is *required* of a user
        ("seller", "2024-07-19", {"advisory": 1, "not-yet-in-force": 3}),
        ("seller", "2024-07-20", {"advisory": 1, "prohibited": 1, "not-yet-in-force": 2}),
        ("seller", "2024-09-29", {"advisory": 2, "prohibited": 2}),
    ],
)
def test_bis_obligations_by_role_and_date(
    catalog: Catalog, role: str, day: str, expected: dict[str, int]
) -> None:
    obls = [
        o for o in obligations_for(catalog, kes(), role, D(day)) if o.regulation == "bis-icts-2024-kaspersky"
    ]
    got: dict[str, int] = {}
    for o in obls:
        got[o.status] = got.get(o.status, 0) + 1
    assert {k: v for k, v in got.items() if v} == {k: v for k, v in expected.items() if v}
    assert not any(o.status == "required" for o in obls)


def test_definitions_age_starts_at_zero_on_the_cutoff(catalog: Catalog) -> None:
    assert definitions_age(catalog, kes(), D("2024-09-28")) is None
    assert definitions_age(catalog, kes(), D("2024-09-29")) == 0
    assert definitions_age(catalog, kes(), D("2024-10-01")) == 2


def test_apply_policy_keeps_the_earliest_identification_in_any_order(catalog: Catalog) -> None:
    # a later scan that knows the earlier identification: the clock does not restart
    f = kes()
    apply_policy(
        catalog,
        [f],
        "federal-contractor",
        D("2024-11-08"),
        identified={("wks-1", "kes-windows"): D("2024-10-01")},
    )
    assert f.first_identified == "2024-10-01"
    assert deadlines.of(f).overdue_since == "2024-10-04"
    # an "earlier" record dated after this scan (scans read in the other order) does not move it later
    g = kes()
    apply_policy(
        catalog,
        [g],
        "federal-contractor",
        D("2024-10-01"),
        identified={("WKS-1", "kes-windows"): D("2024-11-08")},
    )
    assert g.first_identified == "2024-10-01" and deadlines.of(g).next_deadline == "2024-10-04"
    # a finding's own first_identified (from the result it came from) counts too
    h = kes(first="2024-09-30")
    apply_policy(catalog, [h], "federal-contractor", D("2024-11-08"))
    assert h.first_identified == "2024-09-30"


@pytest.mark.parametrize(
    ("given", "code"),
    [
        ("US", "US"),
        ("us", "US"),
        ("TX", "US-TX"),
        ("tx", "US-TX"),
        ("us-tx", "US-TX"),
        ("US_NH", "US-NH"),
        ("PR", "US-PR"),
    ],
)
def test_jurisdiction_codes_are_normalised(given: str, code: str) -> None:
    assert normalise_jurisdiction(given) == code


@pytest.mark.parametrize("bad", ["XX", "US-XX", "Texas", "", "EU"])
def test_unknown_jurisdictions_are_refused(bad: str) -> None:
    with pytest.raises(UnknownJurisdiction, match="US-TX"):
        normalise_jurisdiction(bad)


def test_state_jurisdiction_keeps_federal_rules(catalog: Catalog) -> None:
    obls = obligations_for(
        catalog, kes(), "state-agency", D("2024-11-08"), jurisdiction=normalise_jurisdiction("TX")
    )
    regs = {o.regulation for o in obls}
    assert {"bis-icts-2024-kaspersky", "tx-prohibited-technologies-2022"} <= regs
    assert "nh-rsa-21-r-15" not in regs


# --- the command line ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_linux_root(tmp_path_factory.mktemp("linux") / "root")


def scan(*args: str) -> dict[str, Any]:
    res = runner.invoke(app, ["scan", "--format", "json", "--quiet", "--role", "federal-contractor", *args])
    assert res.exit_code == 1, res.output
    data: dict[str, Any] = json.loads(res.stdout)
    return data


def far_of(result: dict[str, Any], product: str = "kesl") -> list[dict[str, Any]]:
    f = next(x for x in result["findings"] if x["product"] == product)
    return sorted(
        (o for o in f["obligations"] if o["regulation"] == "ndaa-1634-far-52-204-23" and o["deadline"]),
        key=lambda o: o["deadline"],
    )


def test_scan_previous_carries_first_identification_forward(root: Path, tmp_path: Path) -> None:
    first = scan("--root", str(root), "--as-of", "2024-10-01")
    kesl = next(x for x in first["findings"] if x["product"] == "kesl")
    assert kesl["first_identified"] == "2024-10-01" and kesl["host"] == HOSTNAME
    assert first["jurisdiction"] == "US"
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "first.json").write_text(json.dumps(first), encoding="utf-8")

    plain = scan("--root", str(root), "--as-of", "2024-11-08")  # without history: the clock restarts
    assert [o["deadline"] for o in far_of(plain)] == ["2024-11-14", "2024-11-25"]

    for previous in (tmp_path / "old" / "first.json", tmp_path / "old"):  # a file or a folder
        later = scan("--root", str(root), "--as-of", "2024-11-08", "--previous", str(previous))
        kesl = next(x for x in later["findings"] if x["product"] == "kesl")
        assert kesl["first_identified"] == "2024-10-01"
        o3, o10 = far_of(later)
        assert (o3["deadline"], o3["status"], o3["days_overdue"]) == ("2024-10-04", "overdue", 35)
        assert (o10["deadline"], o10["status"], o10["days_overdue"]) == ("2024-10-16", "overdue", 23)

    # the history chains: a result written with --previous carries the date on by itself
    chained = tmp_path / "later.json"
    chained.write_text(json.dumps(later), encoding="utf-8")
    third = scan("--root", str(root), "--as-of", "2024-12-02", "--previous", str(chained))
    assert next(x for x in third["findings"] if x["product"] == "kesl")["first_identified"] == "2024-10-01"


def test_scan_previous_refuses_what_is_not_a_result(root: Path, tmp_path: Path) -> None:
    bad = tmp_path / "notes.json"
    bad.write_text('{"hello": 1}', encoding="utf-8")
    res = runner.invoke(app, ["scan", "--root", str(root), "--previous", str(bad)])
    assert res.exit_code == 2 and "--previous" in res.output and "notes.json" in res.output
    empty = tmp_path / "empty"
    empty.mkdir()
    res = runner.invoke(app, ["scan", "--root", str(root), "--previous", str(empty)])
    assert res.exit_code == 2 and "no *.json" in res.output


def test_scan_jurisdiction_typos_exit_2_and_codes_are_normalised(root: Path) -> None:
    res = runner.invoke(app, ["scan", "--root", str(root), "--jurisdiction", "XX"])
    assert res.exit_code == 2
    assert "unknown jurisdiction 'XX'" in res.output and "US-TX" in res.output
    out = scan("--root", str(root), "--role", "state-agency", "--jurisdiction", "tx", "--as-of", "2024-11-08")
    assert out["jurisdiction"] == "US-TX"
    regs = {o["regulation"] for f in out["findings"] for o in f["obligations"]}
    assert {"bis-icts-2024-kaspersky", "tx-prohibited-technologies-2022"} <= regs


def test_report_uses_the_earliest_identification_across_inputs(root: Path, tmp_path: Path) -> None:
    early = scan("--root", str(root), "--as-of", "2024-10-01")
    late = scan("--root", str(root), "--as-of", "2024-11-08")  # a plain re-scan, no --previous
    paths = []
    for name, data in (("late.json", late), ("early.json", early)):  # given in either order
        p = tmp_path / name
        p.write_text(json.dumps(data), encoding="utf-8")
        paths.append(str(p))
    for order in (paths, paths[::-1]):
        res = runner.invoke(app, ["report", *order, "--format", "md"])
        assert res.exit_code == 0, res.output
        assert "overdue** since 2024-10-04" in res.stdout
        assert "2024-11-14" not in res.stdout
