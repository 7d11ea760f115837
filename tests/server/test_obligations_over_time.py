"""Obligations over time on the fleet server: the day each product was first identified on each
host is kept (never later, earlier when a result says so, for ever across removal, recurrence
and re-enrolment), deadlines and overdue status count from it in the API and the dashboard, and
informational products are findings but never removal items."""

from __future__ import annotations

import copy
import csv
import datetime as dt
import io
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, select, text, update

from banscan.server import deps
from banscan.server.agent import Agent, AgentConfig, AgentState
from banscan.server.state import ServerSettings
from banscan.store.db import make_engine
from banscan.store.models import AgentToken, Finding, Transition
from linux_root import build_linux_root

from .conftest import Fleet, at, make_admin
from .test_web_pages import browser, login

FAR = "ndaa-1634-far-52-204-23"


def scan_on(result: dict[str, Any], day: str, **first: str) -> dict[str, Any]:
    """`result` as an agent scanning on `day` without --previous would send it: generated that
    day at 10:00 UTC, as of that day, each finding first identified that day (or as `first`
    says for a product)."""
    out = at(result, f"{day}T10:00:00+00:00", as_of=day)
    for f in out["findings"]:
        f["first_identified"] = first.get(f["product"].replace("-", "_"), day)
    return out


def with_ultraav(result: dict[str, Any]) -> dict[str, Any]:
    """`result` with an informational finding: UltraAV, the software pushed onto former users."""
    out = copy.deepcopy(result)
    f = copy.deepcopy(next(f for f in out["findings"] if f["product"] == "kesl"))
    f.update(
        product="ultraav",
        product_name="UltraAV",
        vendor="Pango Group",
        verdict="informational",
        confidence="strong",
        obligations=[],
        version=None,
    )
    out["findings"].append(f)
    return out


def finding(fleet: Fleet, host_id: int, product: str, **params: Any) -> dict[str, Any]:
    host = fleet.get(f"/api/v1/hosts/{host_id}", **params)
    found: dict[str, Any] = next(f for f in host["finding_list"] if f["product"] == product)
    return found


def obligation(f: dict[str, Any], rule: str) -> dict[str, Any]:
    """The FAR obligation whose action starts with `rule` ('Report to', 'Report any')."""
    o: dict[str, Any] = next(
        o for o in f["obligations"] if o["regulation"] == FAR and o["action"].startswith(rule)
    )
    return o


@pytest.fixture
def contractor(fleet_factory: Any) -> Fleet:
    """A server whose organisation is a federal contractor: FAR reports are due in 3 and 10
    business days from identification."""
    f: Fleet = fleet_factory(ServerSettings(role="federal-contractor"))
    return f


# ---------------------------------------------------------------- first identification


def test_first_identification_never_moves_later_and_moves_earlier_when_a_result_says_so(
    fleet: Fleet, results: dict[str, Any]
) -> None:
    host_id, token = fleet.enroll()
    r = fleet.report(token, scan_on(results["dirty"], "2025-03-03"))
    assert r.status_code == 201
    # the agent is told what the server holds
    assert r.json()["first_identified"] == {
        "kesl": "2025-03-03",
        "ksc-linux": "2025-03-03",
        "ksc-network-agent": "2025-03-03",
    }
    assert finding(fleet, host_id, "kesl")["first_identified"] == "2025-03-03"

    # a later scan that knows nothing earlier does not move it later
    r = fleet.report(token, scan_on(results["dirty"], "2025-03-20"))
    assert r.json()["first_identified"]["kesl"] == "2025-03-03"
    assert finding(fleet, host_id, "kesl")["first_identified"] == "2025-03-03"

    # a result carrying an earlier first identification (scan --previous) moves it earlier
    r = fleet.report(token, scan_on(results["dirty"], "2025-03-21", kesl="2025-02-14"))
    assert r.json()["first_identified"]["kesl"] == "2025-02-14"
    assert r.json()["first_identified"]["ksc-linux"] == "2025-03-03"
    kesl = finding(fleet, host_id, "kesl")
    assert kesl["first_identified"] == "2025-02-14"
    assert kesl["first_seen"].startswith("2025-03-03T10:00:00")  # the server's own first sighting

    # a later result with a later first identification leaves it
    fleet.report(token, scan_on(results["dirty"], "2025-03-22", kesl="2025-03-22"))
    assert finding(fleet, host_id, "kesl")["first_identified"] == "2025-02-14"

    # an older result (stored, not applied) still tells of an earlier sighting
    older = fleet.report(token, scan_on(results["dirty"], "2025-01-30"))
    assert older.json()["applied"] is False
    assert finding(fleet, host_id, "ksc-linux")["first_identified"] == "2025-01-30"
    assert finding(fleet, host_id, "kesl")["first_identified"] == "2025-01-30"

    # sending a result again answers with what the server holds now
    again = fleet.report(token, scan_on(results["dirty"], "2025-03-03"))
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert again.json()["first_identified"]["kesl"] == "2025-01-30"

    listed = fleet.get("/api/v1/findings", product="kesl")["items"]
    assert [f["first_identified"] for f in listed] == ["2025-01-30"]


def test_deadlines_and_overdue_count_from_the_first_identification(
    contractor: Fleet, results: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    host_id, token = contractor.enroll()
    # seen by the server on 20 March, first identified (by an earlier scan) on Monday 3 March
    assert (
        contractor.report(token, scan_on(results["dirty"], "2025-03-20", kesl="2025-03-03")).status_code
        == 201
    )

    kesl = finding(contractor, host_id, "kesl", as_of="2025-03-20")
    assert kesl["first_identified"] == "2025-03-03" and kesl["obligations_as_of"] == "2025-03-20"
    three, ten = obligation(kesl, "Report to"), obligation(kesl, "Report any")
    assert (three["deadline"], three["status"], three["days_overdue"]) == ("2025-03-06", "overdue", 14)
    assert (ten["deadline"], ten["status"], ten["days_overdue"]) == ("2025-03-17", "overdue", 3)
    assert kesl["deadline"] == {
        "state": "overdue",
        "next_deadline": None,
        "overdue_since": "2025-03-06",
        "days_overdue": 14,
        "text": "overdue since 2025-03-06 (14 days)",
    }
    assert kesl["overdue"] is True
    # a product the server first identified on the 20th is not late yet
    agent = finding(contractor, host_id, "ksc-network-agent", as_of="2025-03-20")
    assert agent["first_identified"] == "2025-03-20"
    assert agent["deadline"]["state"] == "due" and agent["deadline"]["next_deadline"] == "2025-03-25"
    assert agent["deadline"]["overdue_since"] is None and agent["overdue"] is False
    early = finding(contractor, host_id, "kesl", as_of="2025-03-04")
    assert early["deadline"]["state"] == "due" and early["deadline"]["next_deadline"] == "2025-03-06"

    # the summary counts from the same day
    s = contractor.get("/api/v1/summary", as_of="2025-03-20")
    assert s["overdue"]["hosts"] == 1 and s["overdue"]["findings"] == 1
    assert s["overdue"]["by_regulation"] == {FAR: 2}
    assert contractor.get("/api/v1/summary", as_of="2025-03-05")["overdue"]["findings"] == 0

    # the dashboard: first identified, overdue since the date and by how many days, never as
    # the next deadline
    today = dt.datetime.now(dt.UTC).date()
    days = (today - dt.date(2025, 3, 6)).days
    make_admin(contractor.db_url)
    a = browser(contractor)
    login(a, "alice")
    page = a.get(f"/hosts/{host_id}").text
    section = page[page.index('id="p-kesl"') :].split("</section>")[0]
    assert 'First identified <strong class="first-identified">2025-03-03</strong>' in section
    assert f"overdue since 2025-03-06 ({days} days)" in section
    assert "next deadline 2025-03-06" not in section and "next deadline" not in section
    board = a.get("/transitions").text
    assert f"overdue since 2025-03-06 ({days} days)" in board
    assert 'First identified <span class="first-identified">2025-03-03</span>' in board
    product = a.get("/products/kesl").text
    assert ">2025-03-03<" in product and f"overdue since 2025-03-06 ({days} days)" in product
    assert "First identified" in product

    # on a day before the deadline the page names the next deadline instead
    monkeypatch.setattr(deps, "today", lambda: dt.date(2025, 3, 4))
    page = a.get(f"/hosts/{host_id}").text
    section = page[page.index('id="p-kesl"') :].split("</section>")[0]
    assert "next deadline 2025-03-06" in section and "overdue since" not in section


# ---------------------------------------------------------------- informational products


def test_informational_products_are_findings_but_not_removal_items(
    fleet: Fleet, results: dict[str, Any]
) -> None:
    host_id, token = fleet.enroll()
    assert fleet.report(token, scan_on(with_ultraav(results["dirty"]), "2025-03-03")).status_code == 201

    ultra = finding(fleet, host_id, "ultraav")
    assert ultra["verdict"] == "informational" and ultra["present"]
    assert ultra["transition"] is None and ultra["obligations"] == [] and ultra["overdue"] is False
    assert fleet.get("/api/v1/findings", product="ultraav")["total"] == 1
    engine = make_engine(fleet.db_url)
    try:
        with engine.connect() as conn:
            products = set(conn.scalars(select(Transition.product)))
        assert products == {"kesl", "ksc-linux", "ksc-network-agent"}
    finally:
        engine.dispose()
    summary = fleet.get("/api/v1/summary", as_of="2025-03-03")
    assert summary["transitions"]["by_state"] == {"found": 3}
    assert summary["findings_by_verdict"]["informational"] == 1

    # gone again: no removal step for it
    assert fleet.report(token, scan_on(results["dirty"], "2025-03-04")).status_code == 201
    assert finding(fleet, host_id, "ultraav")["transition"] is None

    # a removal record left from before (or of a product that became informational) is not shown
    engine = make_engine(fleet.db_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(Transition).values(
                    host_id=host_id, product="ultraav", state="found", updated_by="system"
                )
            )
            conn.execute(
                update(Finding)
                .where(Finding.host_id == host_id, Finding.product == "ultraav")
                .values(present=True)
            )
    finally:
        engine.dispose()
    assert fleet.get("/api/v1/summary")["transitions"]["by_state"] == {"found": 3}
    assert finding(fleet, host_id, "ultraav")["transition"] is None
    assert fleet.get("/api/v1/findings", state="found", product="ultraav")["total"] == 0

    make_admin(fleet.db_url)
    a = browser(fleet)
    login(a, "alice")
    board = a.get("/transitions").text
    assert "UltraAV" not in board and f'href="/hosts/{host_id}#p-kesl"' in board
    rows = list(csv.DictReader(io.StringIO(a.get("/transitions.csv").text)))
    assert sorted(r["product"] for r in rows) == ["kesl", "ksc-linux", "ksc-network-agent"]
    history = list(csv.DictReader(io.StringIO(a.get("/transitions/history.csv").text)))
    assert "ultraav" not in {r["product"] for r in history}
    overview = a.get("/").text
    progress = overview[overview.index('id="transition-states"') :].split("</table>")[0]
    assert re.search(r'data-state="found">3<', progress)
    hosts = a.get("/hosts").text
    assert "found ×3" in hosts
    page = a.get(f"/hosts/{host_id}").text
    section = page[page.index('id="p-ultraav"') :].split("</section>")[0]
    assert "No removal record" in section and "UltraAV" in section


# ---------------------------------------------------------------- history over time


def test_first_identification_survives_removal_re_enrolment_and_recurrence(
    contractor: Fleet, results: dict[str, Any]
) -> None:
    fleet = contractor
    host_id, token = fleet.enroll("machine-7", "srv-app-01")
    make_admin(fleet.db_url)
    a = browser(fleet)
    csrf = login(a, "alice")

    # day 1 (Monday 3 March): found
    assert fleet.report(token, scan_on(results["dirty"], "2025-03-03")).status_code == 201
    # ksc-linux is recorded removed; a week later a scan no longer finds anything: ksc-linux is
    # verified, kesl is flagged gone without a removal record
    r = a.post(
        f"/hosts/{host_id}/transition",
        data={"product": "ksc-linux", "state": "removed", "note": "uninstalled", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert r.status_code == 303
    engine = make_engine(fleet.db_url)
    try:  # recorded on 5 March (the form records it now), by then the agent had enrolled
        with engine.begin() as conn:
            conn.execute(
                update(Transition)
                .where(Transition.host_id == host_id, Transition.product == "ksc-linux")
                .values(updated_at=dt.datetime(2025, 3, 5, 12, tzinfo=dt.UTC))
            )
            conn.execute(
                update(AgentToken)
                .where(AgentToken.host_id == host_id)
                .values(enrolled_at=dt.datetime(2025, 3, 3, 8, tzinfo=dt.UTC))
            )
    finally:
        engine.dispose()
    assert fleet.report(token, scan_on(results["clean"], "2025-03-10")).status_code == 201
    gone = finding(fleet, host_id, "kesl", as_of="2025-03-10")
    assert gone["present"] is False and gone["first_identified"] == "2025-03-03"
    assert gone["transition"]["flag"] == "gone-without-removal-record"
    assert finding(fleet, host_id, "ksc-linux")["transition"]["state"] == "verified"

    # the host is re-enrolled (same identifier: same host, its history kept)
    again_id, token = fleet.enroll("machine-7", "srv-app-01", token=token)
    assert again_id == host_id

    # on 1 April the products are back; that scan knows nothing of 3 March
    r = fleet.report(token, scan_on(results["dirty"], "2025-04-01"))
    assert r.status_code == 201 and r.json()["first_identified"]["kesl"] == "2025-03-03"
    kesl = finding(fleet, host_id, "kesl", as_of="2025-04-01")
    assert kesl["present"] and kesl["first_identified"] == "2025-03-03"
    three = obligation(kesl, "Report to")
    assert (three["deadline"], three["status"], three["days_overdue"]) == ("2025-03-06", "overdue", 26)
    assert kesl["deadline"]["overdue_since"] == "2025-03-06" and kesl["deadline"]["days_overdue"] == 26
    assert kesl["transition"]["state"] == "found" and kesl["transition"]["flag"] is None
    ksc = finding(fleet, host_id, "ksc-linux", as_of="2025-04-01")
    assert ksc["first_identified"] == "2025-03-03"
    assert ksc["transition"]["state"] == "found" and ksc["transition"]["flag"] == "seen-after-removal"
    s = fleet.get("/api/v1/summary", as_of="2025-04-01")
    assert s["overdue"]["hosts"] == 1 and s["overdue"]["findings"] == 3

    # the history export shows the recurrence
    rows = list(csv.DictReader(io.StringIO(a.get("/transitions/history.csv").text)))
    steps = {
        p: [(x["from_state"], x["to_state"], x["flag"], x["note"]) for x in rows if x["product"] == p]
        for p in ("kesl", "ksc-linux")
    }
    assert [s[:3] for s in steps["kesl"]] == [
        ("", "found", ""),
        ("found", "found", "gone-without-removal-record"),
        ("found", "found", ""),
    ]
    assert "first identified 2025-03-03" in steps["kesl"][0][3]
    assert "recurrence" in steps["kesl"][2][3] and "first identified 2025-03-03" in steps["kesl"][2][3]
    assert [s[:3] for s in steps["ksc-linux"]] == [
        ("", "found", ""),
        ("found", "removed", ""),
        ("removed", "verified", ""),
        ("verified", "found", "seen-after-removal"),
    ]
    assert "recurrence" in steps["ksc-linux"][3][3] and "2025-03-03" in steps["ksc-linux"][3][3]
    assert all(x["hostname"] == "srv-app-01" and int(x["host_id"]) == host_id for x in rows)


# ---------------------------------------------------------------- migration


def test_migration_gives_existing_findings_the_day_they_were_first_seen(db_url: str) -> None:
    from alembic import command

    from banscan.store.migrate import alembic_config, upgrade_db

    upgrade_db(db_url)
    cfg = alembic_config()
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0003")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO hosts (id, identifier, hostname, platform, site, source, created_at) "
                    "VALUES (1, 'old', 'old-01', 'linux', '', 'agent', '2025-01-01 00:00:00')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO findings (host_id, product, product_name, vendor, category, verdict, "
                    "confidence, present, first_seen, last_seen, evidence, obligations) VALUES "
                    "(1, 'kesl', 'KESL', 'Kaspersky', '', 'covered', 'strong', true, "
                    "'2025-02-03 23:30:00', '2025-03-01 00:00:00', '[]', '[]')"
                )
            )
    finally:
        engine.dispose()
    upgrade_db(db_url)
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            assert conn.execute(select(Finding.first_identified)).scalar_one() == dt.date(2025, 2, 3)
            # rows written without one (bench fixtures) get the day they were first seen
            conn.execute(
                insert(Finding),
                [
                    {
                        "host_id": 1,
                        "product": "ksc-linux",
                        "verdict": "covered",
                        "confidence": "strong",
                        "first_seen": dt.datetime(2025, 1, 9, 8, tzinfo=dt.UTC),
                        "last_seen": dt.datetime(2025, 1, 9, 8, tzinfo=dt.UTC),
                    }
                ],
            )
            day = conn.execute(select(Finding.first_identified).where(Finding.product == "ksc-linux"))
            assert day.scalar_one() == dt.date(2025, 1, 9)
    finally:
        engine.dispose()


# ---------------------------------------------------------------- the agent


def test_the_agent_carries_the_servers_first_identification_into_its_next_scan(tmp_path: Path) -> None:
    """The server answers each report with the first identification it holds; the agent keeps
    it and its next result counts deadlines from it, as `banscan scan --previous` does."""
    bodies: list[dict[str, Any]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/enroll":
            return httpx.Response(201, json={"host_id": 7, "token": "bsa_fake"})
        if request.url.path == "/api/v1/report":
            bodies.append(json.loads(request.content))
            days = {"kesl": "2024-10-01", "ksc-linux": "not a date"}
            answer = {"report_id": len(bodies), "host_id": 7, "duplicate": False, "applied": True}
            return httpx.Response(201, json={**answer, "findings": 3, "first_identified": days})
        return httpx.Response(404)

    config = AgentConfig(
        server="http://127.0.0.1:9",
        enroll_secret="s",
        state_dir=tmp_path / "state",
        root=build_linux_root(tmp_path / "root"),
        role="federal-contractor",
    )
    agent = Agent(config, client=httpx.Client(transport=httpx.MockTransport(handle)))
    agent.run_once()
    today = dt.datetime.now(dt.UTC).date().isoformat()
    assert {f["product"]: f["first_identified"] for f in bodies[0]["findings"]}["kesl"] == today
    assert AgentState.load(tmp_path / "state").first_identified == {"kesl": "2024-10-01"}

    again = Agent(config, client=httpx.Client(transport=httpx.MockTransport(handle)))
    again.run_once()
    kesl = next(f for f in bodies[1]["findings"] if f["product"] == "kesl")
    assert kesl["first_identified"] == "2024-10-01"
    late = [o for o in kesl["obligations"] if o["status"] == "overdue"]
    assert late and all(o["deadline"] < today and o["days_overdue"] > 0 for o in late)
    other = next(f for f in bodies[1]["findings"] if f["product"] == "ksc-linux")
    assert other["first_identified"] == today
