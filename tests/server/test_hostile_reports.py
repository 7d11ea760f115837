"""Agents and dashboards that hold against hostile or broken input, on SQLite and PostgreSQL:
results from the future (refused; a host frozen by one is reset by an admin), results too large
to store fairly (capped; the writer takes every host's work in turn), product ids the catalog
does not account for (refused), unlisted products that must stay apart (one finding each), and
bidirectional controls in names and labels (refused where people type them, written out where
they come from scanned machines)."""

from __future__ import annotations

import copy
import datetime as dt
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import column, select, table

from banscan.catalog.loader import load_catalog
from banscan.match.matcher import unlisted_id
from banscan.output.csv import safe_cell
from banscan.scan import ScanOptions, run_scan
from banscan.server.state import ServerSettings
from banscan.store import ingest
from banscan.store.apply import Incoming, Stored, store_batch
from banscan.store.db import Database, make_engine
from banscan.store.migrate import alembic_config, upgrade_db
from banscan.store.models import AuditEntry, Finding, Host, Transition
from banscan.store.writer import GroupCommitWriter
from banscan.text import BIDI_CONTROLS, has_bidi, show_bidi

from .conftest import ENROLL_SECRET, Fleet, at, body, make_admin
from .test_web_pages import browser, csrf_of, login, read_csv

T1 = "2025-03-01T10:00:00+00:00"
T2 = "2025-03-02T10:00:00+00:00"
RLO = "\u202e"


def now_iso(minutes: float = 0) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=minutes)).replace(microsecond=0).isoformat()


def host_row(fleet: Fleet, host_id: int) -> dict[str, Any]:
    item: dict[str, Any] = fleet.get(f"/api/v1/hosts/{host_id}")
    return item


# ---------------------------------------------------------------- A: results from the future


def test_a_result_from_the_future_is_refused_the_past_is_kept(fleet: Fleet, results: dict[str, Any]) -> None:
    host_id, token = fleet.enroll()
    r = fleet.report(token, at(results["dirty"], "9999-12-31T00:00:00+00:00"))
    assert r.status_code == 422, r.text
    assert r.json()["detail"].startswith("$.generated_at: 9999-12-31T00:00:00+00:00 is ")
    assert "ahead of the server's clock" in r.json()["detail"] and "5 minutes" in r.json()["detail"]
    assert r.json()["errors"][0]["path"] == "$.generated_at"
    assert fleet.report(token, at(results["dirty"], now_iso(60))).status_code == 422
    # a clock a little fast is tolerated; results from the past (an old inventory) are kept
    assert fleet.report(token, at(results["dirty"], now_iso(2))).json()["applied"] is True
    old = fleet.report(token, at(results["dirty"], "2019-05-01T08:00:00+00:00"))
    assert old.status_code == 201 and old.json()["applied"] is False
    no_time = copy.deepcopy(results["clean"])
    no_time.pop("generated_at", None)
    assert fleet.report(token, no_time).status_code == 201
    assert host_row(fleet, host_id)["last_report_id"] is not None


def test_a_host_frozen_by_a_future_result_is_reset_by_an_admin(
    fleet_factory: Any, results: dict[str, Any]
) -> None:
    # A server that accepted anything (as before the clock check) let a result from 9999 in.
    fleet: Fleet = fleet_factory(ServerSettings(max_clock_skew=None))
    host_id, token = fleet.enroll()
    assert fleet.report(token, at(results["dirty"], T1)).json()["applied"] is True
    assert fleet.report(token, at(results["dirty"], "9999-12-31T00:00:00+00:00")).json()["applied"] is True
    frozen = fleet.report(token, at(results["clean"], now_iso()))
    assert frozen.status_code == 201 and frozen.json()["applied"] is False  # stuck behind 9999

    # the host page says so, and offers an admin the reset
    make_admin(fleet.db_url)
    a = browser(fleet)
    csrf = login(a, "alice")
    page = a.get(f"/hosts/{host_id}").text
    assert 'id="clock-ahead"' in page and f'action="/hosts/{host_id}/reset-clock"' in page

    viewer = fleet.client.post(
        f"/api/v1/hosts/{host_id}/reset-clock",
        headers={"Authorization": f"Bearer {fleet.api_token('viewer')}"},
    )
    assert viewer.status_code == 403
    r = fleet.client.post(f"/api/v1/hosts/{host_id}/reset-clock", headers=fleet.as_admin())
    assert r.status_code == 200, r.text
    # back to the newest result not in the future: the one the host sent just now
    assert r.json()["last_generated_at"] == now_iso_of(frozen, fleet)
    assert fleet.report(token, at(results["clean"], now_iso(1))).json()["applied"] is True
    assert fleet.client.post("/api/v1/hosts/999999/reset-clock", headers=fleet.as_admin()).status_code == 404

    # from the dashboard too (freeze it again by hand), audited both times
    with fleet.app.state.banscan.db.writing() as s:
        host = s.get(Host, host_id)
        assert host is not None
        host.last_generated_at = dt.datetime(9999, 12, 31, tzinfo=dt.UTC)
    r = a.post(f"/hosts/{host_id}/reset-clock", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/hosts/{host_id}?clock_reset=1"
    assert 'id="clock-ahead"' not in a.get(f"/hosts/{host_id}").text
    with fleet.app.state.banscan.db.reading() as s:
        entries = s.scalars(select(AuditEntry).where(AuditEntry.action == "host.clock_reset")).all()
        assert [e.actor for e in entries][-1] == "alice" and len(entries) == 2
        assert entries[-1].detail["previous"].startswith("9999-12-31")


def now_iso_of(response: Any, fleet: Fleet) -> str:
    """The generated_at the server stored for the report of `response`."""
    report = fleet.get(f"/api/v1/reports/{response.json()['report_id']}")
    when = ingest.generated_at(report)
    assert when is not None
    return when.isoformat()


# ---------------------------------------------------------------- B: limits and fairness


def _with_findings(result: dict[str, Any], n: int) -> dict[str, Any]:
    """`result` with `n` findings: its own and unlisted Kaspersky products named Tool 0, 1 …"""
    out = copy.deepcopy(result)
    template = copy.deepcopy(out["findings"][0])
    while len(out["findings"]) < n:
        i = len(out["findings"])
        f = copy.deepcopy(template)
        f.update(
            product=f"kaspersky-lab-unlisted-kaspersky-tool-{i}",
            product_name=f"Kaspersky Tool {i}",
            category="unlisted",
        )
        out["findings"].append(f)
    return out


def test_too_many_findings_are_refused_and_evidence_is_capped(
    fleet_factory: Any, results: dict[str, Any]
) -> None:
    fleet: Fleet = fleet_factory(ServerSettings(max_findings_per_report=5, max_evidence_per_finding=3))
    host_id, token = fleet.enroll()
    r = fleet.report(token, at(_with_findings(results["dirty"], 6), T1))
    assert r.status_code == 413 and r.json()["detail"] == (
        "$.findings: 6 findings in one result; this server accepts at most 5"
    )
    # refused before it is validated: the findings need not even be objects
    junk = at(results["dirty"], T1, findings=[{}] * 6)
    assert fleet.report(token, junk).status_code == 413

    dirty = at(_with_findings(results["dirty"], 5), T1)
    kesl = next(f for f in dirty["findings"] if f["product"] == "kesl")
    assert len(kesl["evidence"]) > 3
    r = fleet.report(token, dirty)
    assert r.status_code == 201 and r.json()["findings"] == 5
    stored = next(f for f in host_row(fleet, host_id)["finding_list"] if f["product"] == "kesl")
    assert [e["value"] for e in stored["evidence"][:3]] == [e["value"] for e in kesl["evidence"][:3]]
    marker = stored["evidence"][3]
    assert len(stored["evidence"]) == 4 and marker["kind"] == "truncated"
    assert marker["value"].startswith(f"{len(kesl['evidence']) - 3} more evidence items left out")
    # the report keeps the body as sent, and the same body again is the same report
    assert fleet.get(f"/api/v1/reports/{r.json()['report_id']}") == dirty
    again = fleet.report(token, dirty)
    assert again.status_code == 200 and again.json()["duplicate"] is True


def test_product_ids_the_catalog_does_not_account_for_are_refused(
    fleet: Fleet, results: dict[str, Any]
) -> None:
    host_id, token = fleet.enroll()
    for product in [
        "invented-product",
        "acme-unlisted-tool",  # not a covered entity of this catalog
        "kaspersky-lab-unlisted-Bad_Slug",
        "kaspersky-lab-unlisted-",
        "kaspersky-lab-unlisted--x",
    ]:
        bad = at(results["dirty"], T1)
        bad["findings"][1]["product"] = product
        r = fleet.report(token, bad)
        assert r.status_code == 422, product
        assert r.json()["detail"].startswith(f"$.findings[1].product: unknown product id {product!r}")
        assert "catalog 20" in r.json()["detail"]
    good = at(results["dirty"], T1)
    good["findings"][0]["product"] = "kaspersky-lab-unlisted"  # as results of earlier versions say
    good["findings"][1]["product"] = "kaspersky-group-unlisted-kaspersky-orbital-vault"
    assert fleet.report(token, good).status_code == 201
    products = {f["product"] for f in host_row(fleet, host_id)["finding_list"]}
    assert {"kaspersky-lab-unlisted", "kaspersky-group-unlisted-kaspersky-orbital-vault"} <= products


def test_unknown_products_can_be_accepted_by_setting(fleet_factory: Any, results: dict[str, Any]) -> None:
    fleet: Fleet = fleet_factory(ServerSettings(accept_unknown_products=True))
    _, token = fleet.enroll()
    odd = at(results["dirty"], T1)
    odd["findings"][0]["product"] = "from-a-newer-catalog"
    assert fleet.report(token, odd).status_code == 201


def test_the_report_route_gives_the_writer_its_host_and_cost(
    fleet: Fleet, results: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    host_id, token = fleet.enroll()
    writer = fleet.app.state.banscan.writer
    seen: list[dict[str, Any]] = []
    real = writer.submit_item

    def spy(fn: Any, item: Any, **kwargs: Any) -> Future[Any]:
        seen.append(kwargs)
        job: Future[Any] = real(fn, item, **kwargs)
        return job

    monkeypatch.setattr(writer, "submit_item", spy)
    result = at(results["dirty"], T1)
    assert fleet.report(token, result).status_code == 201
    assert seen == [{"key": host_id, "cost": ingest.report_cost(result)}]
    assert ingest.report_cost(result) == 1 + len(result["findings"]) + sum(
        len(f["evidence"]) for f in result["findings"]
    )


def _blocking(started: threading.Event, gate: threading.Event) -> Callable[[Any], bool]:
    """A writer job that says it has started, then holds the writer until `gate` is set."""

    def run(session: Any) -> bool:
        started.set()
        return gate.wait(10)

    return run


def _writer_db(url: str, hosts: int) -> Database:
    upgrade_db(url)
    db = Database(url)
    with db.writing() as s:
        for i in range(hosts):
            s.add(Host(identifier=f"fair-{i}", hostname=f"fair-{i}"))
    return db


def test_the_writer_takes_every_hosts_work_in_turn(db_url: str, results: dict[str, Any]) -> None:
    """A host with a large report and a burst behind it does not hold up the others: small
    reports queued beside the large one are stored first, in their own transaction; the large
    ones each get one; a host's reports keep their order."""
    db = _writer_db(db_url, 3)
    writer = GroupCommitWriter(db, max_batch_cost=50)
    stored_together: list[list[int]] = []

    def recording_store(session: Any, items: list[Incoming]) -> list[Stored | Exception]:
        stored_together.append([it.host_id for it in items])
        return store_batch(session, items)

    def submit(host: int, result: dict[str, Any]) -> Future[Stored]:
        text, data, key = ingest.parse_result(body(result))
        item = Incoming(host, text, data, key)
        return writer.submit_item(recording_store, item, key=host, cost=ingest.report_cost(data))

    started, gate = threading.Event(), threading.Event()
    blocker = writer.submit(_blocking(started, gate))
    assert started.wait(10)  # the writer is busy: everything below queues behind it
    big = _with_findings(results["dirty"], 40)
    jobs = {
        "A1": submit(1, at(big, "2025-03-01T10:00:00+00:00")),
        "A2": submit(1, at(big, "2025-03-01T11:00:00+00:00")),
        "B": submit(2, at(results["clean"], T1)),
        "C": submit(3, at(results["clean"], T1)),
        "A3": submit(1, at(results["clean"], "2025-03-01T12:00:00+00:00")),
    }
    assert writer.pending() == {1: 3, 2: 1, 3: 1}
    assert writer.pending_cost() == sum(
        ingest.report_cost(r) for r in (big, big, results["clean"], results["clean"], results["clean"])
    )
    done: list[str] = []  # callbacks run on the writer thread, one at a time
    for name, job in jobs.items():
        job.add_done_callback(lambda _, name=name: done.append(name))  # type: ignore[misc]
    gate.set()
    assert blocker.result(10)
    outcomes = {name: job.result(20) for name, job in jobs.items()}
    writer.close()

    assert done == ["B", "C", "A1", "A2", "A3"]
    assert stored_together == [[2, 3], [1], [1], [1]]
    assert writer.deferred == 2 and writer.pending() == {} and writer.pending_cost() == 0
    assert all(o.applied and not o.duplicate for o in outcomes.values())
    with db.reading() as s:
        h1 = s.get(Host, 1)
        assert h1 is not None and h1.last_report_id == outcomes["A3"].report_id
    db.dispose()


def test_one_hosts_burst_does_not_go_before_the_others(sqlite_url: str, results: dict[str, Any]) -> None:
    db = _writer_db(sqlite_url, 2)
    writer = GroupCommitWriter(db, max_batch=2)
    order: list[int] = []

    def recording_store(session: Any, items: list[Incoming]) -> list[Stored | Exception]:
        order.extend(it.host_id for it in items)
        return store_batch(session, items)

    started, gate = threading.Event(), threading.Event()
    writer.submit(_blocking(started, gate))
    assert started.wait(10)
    jobs = []
    for n, host in enumerate([1, 1, 1, 1, 2]):
        result = at(results["clean"], f"2025-03-01T10:0{n}:00+00:00")
        text, data, key = ingest.parse_result(body(result))
        jobs.append(writer.submit_item(recording_store, Incoming(host, text, data, key), key=host))
    gate.set()
    for job in jobs:
        job.result(10)
    writer.close()
    assert order == [1, 2, 1, 1, 1]  # host 2's one report rides in the first batch
    assert writer.batches == 1 + 3
    db.dispose()


# ---------------------------------------------------------------- C: unlisted products apart


INVENTORY = (
    "Computer\tApp\tVendor\tVer\tSeen\n"
    "KIOSK-07\tKaspersky Quantum Shield 2031\tAO Kaspersky Lab\t31.0\t2024-12-30\n"
    "KIOSK-07\tKaspersky Orbital Vault\tAO Kaspersky Lab\t2.1\t2024-12-30\n"
    "KIOSK-07\tKaspersky Security Center Network Agent\tAO Kaspersky Lab\t14.2.0.26967\t2024-12-30\n"
)
SHIELD = "kaspersky-lab-unlisted-kaspersky-quantum-shield"
VAULT = "kaspersky-lab-unlisted-kaspersky-orbital-vault"


def _scan_inventory(path: Path, text: str) -> dict[str, Any]:
    path.write_text(text, encoding="utf-8")
    opts = ScanOptions(as_of=dt.date(2025, 3, 3), echo_errors=False)
    out: dict[str, Any] = run_scan(load_catalog(), opts, inputs=[str(path)]).to_json()
    return out


def test_two_unlisted_products_on_one_host_are_two_findings_on_the_server(
    fleet: Fleet, tmp_path: Path
) -> None:
    result = _scan_inventory(tmp_path / "kiosk.tsv", INVENTORY)
    assert {f["product"] for f in result["findings"]} == {SHIELD, VAULT, "ksc-network-agent"}
    host_id, token = fleet.enroll("kiosk-07", "KIOSK-07")
    r = fleet.report(token, at(result, T1))
    assert r.status_code == 201 and r.json()["findings"] == 3
    findings = {f["product"]: f for f in host_row(fleet, host_id)["finding_list"]}
    assert set(findings) == {SHIELD, VAULT, "ksc-network-agent"}
    assert findings[SHIELD]["product_name"] == "Kaspersky Quantum Shield 2031"
    assert findings[VAULT]["product_name"] == "Kaspersky Orbital Vault"
    assert all(findings[p]["transition"]["state"] == "found" for p in (SHIELD, VAULT))
    board = fleet.get("/api/v1/findings", product=VAULT)
    assert board["total"] == 1

    # One of them is removed: only its removal record moves; the other is still found.
    later = _scan_inventory(tmp_path / "kiosk2.tsv", INVENTORY.replace("Orbital Vault", "Nothing Else"))
    later["findings"] = [
        f for f in later["findings"] if f["product"] != "kaspersky-lab-unlisted-kaspersky-nothing-else"
    ]
    assert fleet.report(token, at(later, T2)).json()["applied"] is True
    findings = {f["product"]: f for f in host_row(fleet, host_id)["finding_list"]}
    assert findings[SHIELD]["present"] and findings[SHIELD]["transition"]["flag"] is None
    assert not findings[VAULT]["present"]
    assert findings[VAULT]["transition"]["flag"] == "gone-without-removal-record"


# ---------------------------------------------------------------- D: bidirectional controls


def test_bidi_controls_are_spelled_out_and_detected() -> None:
    assert len(BIDI_CONTROLS) == 12
    for c in BIDI_CONTROLS:
        assert has_bidi(f"a{c}b") and not has_bidi(show_bidi(f"a{c}b"))
    assert show_bidi(f"srv-01{RLO}txt.exe") == "srv-01[U+202E]txt.exe"
    assert show_bidi("\u061c\u2069") == "[U+061C][U+2069]"
    assert not has_bidi("Лаборатория Касперского ‍ 🧑‍💻")  # other format characters stay
    assert safe_cell(f"{RLO}=1+1") == "[U+202E]=1+1" and safe_cell("=1+1") == "'=1+1"


@pytest.mark.parametrize("control", ["\u202e", "\u2066", "\u200f", "\u061c", "\u202a"])
def test_bidi_controls_in_names_sites_and_tags_are_refused(
    fleet: Fleet, results: dict[str, Any], control: str
) -> None:
    enrol = {"enroll_secret": ENROLL_SECRET, "host_identifier": "bidi-1", "hostname": "srv-01"}
    for change in (
        {"hostname": f"srv{control}01"},
        {"host_identifier": f"id{control}"},
        {"site": f"HQ{control}"},
    ):
        r = fleet.client.post("/api/v1/enroll", json={**enrol, **change})
        assert r.status_code == 422 and "bidirectional" in r.text, change
    host_id, _ = fleet.enroll("bidi-1", "srv-01")
    admin = fleet.as_admin()
    labels: list[dict[str, Any]] = [{"site": f"Depot {control}7"}, {"tags": ["ok", f"pci{control}"]}]
    for change in labels:
        r = fleet.client.patch(f"/api/v1/hosts/{host_id}", json=change, headers=admin)
        assert r.status_code == 422 and "bidirectional" in r.text, change
    tsv = INVENTORY.replace("KIOSK-07", "KIOSK-08")
    for form in ({"site": f"Lab{control}"}, {"host": f"kiosk{control}08"}):
        r = fleet.client.post(
            "/api/v1/imports", files={"file": ("i.tsv", tsv.encode())}, data=form, headers=admin
        )
        assert r.status_code == 422 and "bidirectional" in r.text, form
    assert "KIOSK-08" not in {h["hostname"] for h in fleet.get("/api/v1/hosts")["items"]}

    make_admin(fleet.db_url)
    a = browser(fleet)
    csrf = login(a, "alice")
    for form in ({"site": f"Depot{control}", "tags": ""}, {"site": "", "tags": f"a, b{control}"}):
        r = a.post(f"/hosts/{host_id}/labels", data={**form, "csrf_token": csrf}, follow_redirects=False)
        assert r.status_code == 422 and "bidirectional" in r.text, form
    assert host_row(fleet, host_id)["site"] == "" and host_row(fleet, host_id)["tags"] == []


def test_bidi_controls_from_scanned_machines_are_shown_spelled_out(fleet: Fleet) -> None:
    """A host name an inventory gives is kept as it is, and shown with its controls written out."""
    spoof = f"KIOSK-09{RLO}fdp.exe"
    tsv = INVENTORY.replace("KIOSK-07", spoof).replace("Orbital Vault", f"Orbital{RLO} Vault")
    r = fleet.client.post(
        "/api/v1/imports", files={"file": ("i.tsv", tsv.encode())}, headers=fleet.as_admin()
    )
    assert r.status_code == 201, r.text
    (imported,) = r.json()["hosts"]
    assert imported["hostname"] == spoof  # the API keeps the name (its JSON escapes it)
    host_id = imported["host_id"]

    make_admin(fleet.db_url)
    a = browser(fleet)
    login(a, "alice")
    for path in (f"/hosts/{host_id}", "/hosts", "/transitions", f"/products/{VAULT}"):
        page = a.get(path)
        assert page.status_code == 200, path
        assert not has_bidi(page.text), path
    page = a.get(f"/hosts/{host_id}").text
    assert "KIOSK-09[U+202E]fdp.exe" in page and "Orbital[U+202E] Vault" in page
    csv_text = a.get("/hosts.csv").text
    assert not has_bidi(csv_text)
    assert [row["hostname"] for row in read_csv(csv_text)] == ["KIOSK-09[U+202E]fdp.exe"]
    assert csrf_of(a.get("/").text)


def test_migration_0007_gives_stored_unlisted_products_their_own_ids(db_url: str) -> None:
    """Findings and removal records stored under the old shared `<entity>-unlisted` id move to
    the id their recorded name gives, so an upgraded agent's next report continues them."""
    from alembic import command

    upgrade_db(db_url)  # a database another test left at head goes back to 0006
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0006")
    finally:
        engine.dispose()
    db = Database(db_url)
    now = dt.datetime(2025, 3, 1, 10, tzinfo=dt.UTC)
    try:
        with db.writing() as s:
            # The hosts table as 0006 has it (the model has columns added since).
            cols = ("id", "identifier", "hostname", "platform", "source", "created_at")
            old_hosts = table("hosts", *map(column, cols))
            host_id = s.execute(
                old_hosts.insert()
                .values(identifier="old-host", hostname="old-host", platform="windows", source="agent")
                .values(created_at=now.replace(tzinfo=None))
                .returning(old_hosts.c.id)
            ).scalar_one()
            for product, name in (
                ("kaspersky-lab-unlisted", "Kaspersky Quantum Shield 2031"),
                ("kesl", "Kaspersky Endpoint Security for Linux"),
            ):
                s.add(
                    Finding(
                        host_id=host_id,
                        product=product,
                        product_name=name,
                        verdict="covered",
                        confidence="strong",
                        first_seen=now,
                        first_identified=now.date(),
                        last_seen=now,
                    )
                )
                s.add(Transition(host_id=host_id, product=product, state="removed"))
        upgrade_db(db_url)
        with db.reading() as s:
            found = dict(s.execute(select(Finding.product, Finding.first_identified)).all())
            tracked = dict(s.execute(select(Transition.product, Transition.state)).all())
    finally:
        db.dispose()
    new = unlisted_id("kaspersky-lab", "Kaspersky Quantum Shield 2031")
    assert new == "kaspersky-lab-unlisted-kaspersky-quantum-shield"
    assert found == {new: dt.date(2025, 3, 1), "kesl": dt.date(2025, 3, 1)}
    assert tracked == {new: "removed", "kesl": "removed"}
