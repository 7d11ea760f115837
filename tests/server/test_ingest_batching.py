"""Group commit of reports, memoised validation, the cached overview and the SQL summary."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import threading
import time
from concurrent.futures import Future
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from banscan.server.pages.overview import cached_overview
from banscan.store import imports as store_imports
from banscan.store import ingest
from banscan.store import summary as queries
from banscan.store.apply import HostGone, Incoming, Stored, store_batch, store_results
from banscan.store.db import Database
from banscan.store.migrate import upgrade_db
from banscan.store.models import AgentToken, Base, Finding, Host, Report, Transition, TransitionEvent
from banscan.store.scope import OrgScope
from banscan.store.writer import GroupCommitWriter

from .conftest import Fleet, at, body

DEFAULT_ORG = OrgScope(1, frozenset({1}), frozenset({1}))  # every host these tests enrol is in it

T1 = "2025-03-01T10:00:00+00:00"
T2 = "2025-03-02T10:00:00+00:00"


def _db_with_hosts(url: str, n: int) -> Database:
    upgrade_db(url)
    db = Database(url)
    with db.writing() as s:
        for i in range(n):
            h = Host(identifier=f"h{i}", hostname=f"h{i}")
            s.add(h)
            s.flush()
            s.add(AgentToken(host_id=h.id, token_hash=f"{i:064d}"))
    return db


def _submit(writer: GroupCommitWriter, host_id: int, result: dict[str, Any]) -> Future[Stored]:
    text, data, key = ingest.parse_result(body(result))
    return writer.submit_item(store_batch, Incoming(host_id, text, data, key, token_id=host_id))


def _reports(db: Database) -> int:
    with db.reading() as s:
        return int(s.scalar(select(func.count()).select_from(Report)) or 0)


def test_group_commit_acknowledges_only_after_commit(
    sqlite_url: str, results: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = _db_with_hosts(sqlite_url, 3)
    writer = GroupCommitWriter(db)
    gate, committing = threading.Event(), threading.Event()
    real_commit = Session.commit

    def slow_commit(self: Session) -> None:
        committing.set()
        assert gate.wait(10)
        real_commit(self)

    monkeypatch.setattr(Session, "commit", slow_commit)
    futures = [_submit(writer, i + 1, at(results["dirty"], T1)) for i in range(3)]
    assert committing.wait(10)
    time.sleep(0.1)
    assert not any(f.done() for f in futures)  # work done, commit pending: nothing acknowledged
    gate.set()
    outs = [f.result(10) for f in futures]
    assert all(not o.duplicate and o.applied for o in outs)
    monkeypatch.setattr(Session, "commit", real_commit)
    assert _reports(db) == 3
    writer.close()
    db.dispose()


def test_failed_commit_acknowledges_nothing(
    sqlite_url: str, results: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = _db_with_hosts(sqlite_url, 2)
    writer = GroupCommitWriter(db)

    def broken_commit(self: Session) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(Session, "commit", broken_commit)
    futures = [_submit(writer, i + 1, at(results["dirty"], T1)) for i in range(2)]
    for f in futures:
        with pytest.raises(OSError, match="disk full"):
            f.result(10)
    monkeypatch.undo()
    assert _reports(db) == 0
    writer.close()
    db.dispose()


def test_batch_isolates_a_failing_job_and_dedupes_within_a_batch(
    db_url: str, results: dict[str, Any]
) -> None:
    db = _db_with_hosts(db_url, 4)
    writer = GroupCommitWriter(db)
    gate = threading.Event()
    blocker = writer.submit(lambda s: gate.wait(10))  # queue the rest behind it: one batch

    def boom(s: Session) -> None:
        s.add(Host(identifier="h0", hostname="dup"))  # unique violation, rolled back alone
        s.flush()

    same = at(results["dirty"], T1)
    futures: list[Future[Any]] = [
        _submit(writer, 1, same),
        writer.submit(boom),
        _submit(writer, 1, copy.deepcopy(same)),
        _submit(writer, 2, at(results["clean"], T2)),
        _submit(writer, 3, at(results["dirty"], T2)),
        _submit(writer, 3, at(results["dirty"], T1)),  # older: stored, not applied
        _submit(writer, 99, at(results["dirty"], T1)),  # no such host: fails alone
    ]
    gate.set()
    assert blocker.result(10)
    first, failed, again, clean, newer, older, orphan = futures
    assert not first.result(10).duplicate
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
        failed.result(10)
    assert again.result(10) == dataclasses.replace(first.result(10), duplicate=True)
    assert clean.result(10).applied and newer.result(10).applied
    assert not older.result(10).applied and not older.result(10).duplicate
    with pytest.raises(HostGone):
        orphan.result(10)
    assert writer.batches <= 3
    assert _reports(db) == 4
    with db.reading() as s:
        h3 = s.get(Host, 3)
        assert h3 is not None and h3.last_report_id == newer.result(10).report_id
    writer.close()
    db.dispose()


def test_a_refused_batch_is_stored_one_by_one(sqlite_url: str) -> None:
    """When the batch function raises, each item runs alone: only the bad one fails."""
    db = _db_with_hosts(sqlite_url, 1)
    writer = GroupCommitWriter(db)
    calls: list[int] = []

    def add_hosts(s: Session, names: list[str]) -> list[int]:
        calls.append(len(names))
        ids = []
        for name in names:
            h = Host(identifier=name, hostname=name)
            s.add(h)
            s.flush()  # "h0" exists already: the unique constraint refuses it
            ids.append(h.id)
        return ids

    gate = threading.Event()
    blocker = writer.submit(lambda s: gate.wait(10))
    futures = [writer.submit_item(add_hosts, name) for name in ("a", "h0", "b")]
    gate.set()
    assert blocker.result(10)
    a, dup, b = futures
    assert isinstance(a.result(10), int) and isinstance(b.result(10), int)
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
        dup.result(10)
    assert calls == [3, 1, 1, 1]
    with db.reading() as s:
        names = set(s.scalars(select(Host.identifier)))
    assert names == {"h0", "a", "b"}
    writer.close()
    db.dispose()


def test_memoised_validation_still_rejects_and_names_the_path(results: dict[str, Any]) -> None:
    good = at(results["dirty"], T1)
    ingest.parse_result(body(good))  # members now remembered as valid
    bad = copy.deepcopy(good)
    bad["findings"][0]["verdict"] = "fine"
    with pytest.raises(ingest.ReportRejected) as exc:
        ingest.parse_result(body(bad))
    assert exc.value.status == 422 and "$.findings[0].verdict" in exc.value.reason
    missing = copy.deepcopy(good)
    del missing["summary"]
    with pytest.raises(ingest.ReportRejected, match="summary"):
        ingest.parse_result(body(missing))
    extra = copy.deepcopy(good)
    extra["targets"][0]["records"] = -1
    with pytest.raises(ingest.ReportRejected, match=r"\$\.targets\[0\]\.records"):
        ingest.parse_result(body(extra))
    again = copy.deepcopy(good)
    again["generated_at"] = 5  # the one member that changes on every post is still checked
    with pytest.raises(ingest.ReportRejected, match="generated_at"):
        ingest.parse_result(body(again))


def _stat(page: str, name: str) -> int:
    marker = f'id="stat-{name}">'
    i = page.index(marker) + len(marker)
    return int(page[i : page.index("<", i)])


def test_overview_cache_follows_reports_enrolments_and_transitions(
    fleet: Fleet, results: dict[str, Any]
) -> None:
    headers = fleet.as_admin()
    assert _stat(fleet.client.get("/", headers=headers).text, "hosts") == 0
    host_id, token = fleet.enroll("a", "a")
    assert _stat(fleet.client.get("/", headers=headers).text, "hosts") == 1
    st = fleet.app.state.banscan
    as_of = dt.datetime.now(dt.UTC).date()
    with st.db.reading() as s:
        before = cached_overview(s, st, "user", as_of, orgs=DEFAULT_ORG)
    assert fleet.report(token, at(results["dirty"], T1)).status_code == 201
    with st.db.reading() as s:
        after = cached_overview(s, st, "user", as_of, orgs=DEFAULT_ORG)
        assert cached_overview(s, st, "user", as_of, orgs=DEFAULT_ORG) is after  # unchanged data: reused
        fresh = queries.overview(s, st.catalog, "user", as_of, st.settings.jurisdiction, orgs=DEFAULT_ORG)
    assert after == fresh and after != before
    product = next(p["product"] for p in after["by_product"] if p["covered_hosts"])
    r = fleet.client.post(
        f"/api/v1/transitions/{host_id}/{product}", json={"state": "removed"}, headers=headers
    )
    assert r.status_code == 200, r.text
    with st.db.reading() as s:
        moved = cached_overview(s, st, "user", as_of, orgs=DEFAULT_ORG)
    assert moved["transitions"]["by_state"]["removed"] == 1
    assert fleet.report(token, at(results["clean"], T2)).status_code == 201
    with st.db.reading() as s:
        cleaned = cached_overview(s, st, "user", as_of, orgs=DEFAULT_ORG)
        assert cleaned == queries.overview(
            s, st.catalog, "user", as_of, st.settings.jurisdiction, orgs=DEFAULT_ORG
        )
    assert cleaned["hosts_with_covered"] == 0


def test_summary_in_sql_agrees_with_the_overview(fleet: Fleet, results: dict[str, Any]) -> None:
    for i in range(4):
        _, token = fleet.enroll(f"m{i}", f"m{i}", "linux" if i % 2 else "windows")
        assert fleet.report(token, at(results["dirty" if i != 1 else "clean"], T1)).status_code == 201
    st = fleet.app.state.banscan
    for role, day in [("user", dt.date(2025, 3, 3)), ("federal-contractor", dt.date(2026, 1, 1))]:
        with st.db.reading() as s:
            summ = queries.summary(s, st.catalog, role=role, as_of=day, orgs=DEFAULT_ORG)
            over = queries.overview(s, st.catalog, role, day, "US", orgs=DEFAULT_ORG)
        for k in ("hosts", "hosts_with_covered", "findings_by_verdict", "obligations", "overdue"):
            assert summ[k] == over[k], k
    assert summ["overdue"]["hosts"] == 3 and summ["overdue"]["findings"] >= 3


# ---------------------------------------------------------------- one batch == one at a time


def _variants(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    dirty, clean = results["dirty"], results["clean"]
    unread = copy.deepcopy(clean)
    for t in unread["targets"]:
        t["records"] = 0  # a scan that read nothing: verifies and clears nothing
    return {
        "dirty": dirty,
        "partial": {**dirty, "findings": dirty["findings"][:2]},  # two products gone
        "other": {**dirty, "findings": dirty["findings"][2:]},
        "clean": clean,
        "unread": unread,
    }


def _fresh_store() -> Database:
    db = Database("sqlite://")
    Base.metadata.create_all(db.engine)
    with db.writing() as s:
        for i in range(3):
            s.add(Host(identifier=f"h{i}", hostname=f"h{i}"))
    return db


def _snapshot(db: Database) -> dict[str, Any]:
    """Every row that the rules write, without surrogate ids."""
    with db.reading() as s:
        hosts = [
            tuple(r)
            for r in s.execute(
                select(Host.id, Host.last_generated_at, Host.last_report_id, Host.platform, Host.last_seen_at)
            )
        ]
        reports = [
            tuple(r)
            for r in s.execute(
                select(Report.id, Report.host_id, Report.idempotency_key, Report.applied, Report.generated_at)
            )
        ]
        findings = sorted(
            tuple(r)
            for r in s.execute(
                select(
                    Finding.host_id,
                    Finding.product,
                    Finding.present,
                    Finding.verdict,
                    Finding.first_seen,
                    Finding.last_seen,
                    Finding.gone_at,
                    Finding.last_report_id,
                    Finding.evidence,
                )
            )
        )
        trans = sorted(
            tuple(r)
            for r in s.execute(
                select(Transition.host_id, Transition.product, Transition.state, Transition.flag)
            )
        )
        events = [
            tuple(r)
            for r in s.execute(
                select(
                    Transition.host_id,
                    Transition.product,
                    TransitionEvent.from_state,
                    TransitionEvent.to_state,
                    TransitionEvent.flag,
                    TransitionEvent.note,
                    TransitionEvent.report_id,
                )
                .join(Transition, Transition.id == TransitionEvent.transition_id)
                .order_by(Transition.host_id, Transition.product, TransitionEvent.id)
            )
        ]
    return {"hosts": hosts, "reports": reports, "findings": findings, "transitions": trans, "events": events}


_STEP = st.tuples(
    st.integers(1, 4),  # host 4 does not exist
    st.sampled_from(["dirty", "partial", "other", "clean", "unread"]),
    st.integers(0, 5),  # generated_at, in hours: repeats make duplicates, lower ones older results
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    first=st.lists(_STEP, max_size=6),
    removed=st.lists(st.tuples(st.integers(1, 3), st.sampled_from(["kesl", "ksc-linux"])), max_size=3),
    second=st.lists(_STEP, min_size=1, max_size=12),
)
def test_a_batch_leaves_the_store_as_storing_one_at_a_time_would(
    results: dict[str, Any],
    first: list[tuple[int, str, int]],
    removed: list[tuple[int, str]],
    second: list[tuple[int, str, int]],
) -> None:
    """Whatever came before (earlier reports, removals recorded by people), storing a list of
    results in one batch writes the same rows, reports, transitions and history as storing
    them one per transaction, in the same order."""
    variants = _variants(results)
    now = dt.datetime(2025, 3, 5, 12, tzinfo=dt.UTC)

    def items(steps: list[tuple[int, str, int]]) -> list[Incoming]:
        out = []
        for host, name, hour in steps:
            when = dt.datetime(2025, 3, 1, hour, tzinfo=dt.UTC).isoformat()
            text, data, key = ingest.parse_result(body(at(variants[name], when)))
            out.append(Incoming(host, text, data, key))
        return out

    stores, outcomes = [], []
    for batched in (True, False):
        db = _fresh_store()
        for it in items(first):
            with db.writing() as s:
                store_results(s, [it], now=now)
        for host, product in removed:
            with db.writing() as s:
                ingest.set_transition(s, host, product, "removed", "", "admin")
        got: list[Any] = []
        groups = [items(second)] if batched else [[it] for it in items(second)]
        for group in groups:
            with db.writing() as s:
                got.extend(store_results(s, group, now=now))
        outcomes.append([o if isinstance(o, Stored) else type(o) for o in got])
        stores.append(_snapshot(db))
        db.dispose()
    assert outcomes[0] == outcomes[1]
    for table in stores[0]:
        assert stores[0][table] == stores[1][table], table


def test_an_import_is_stored_in_batches_and_finds_known_hosts(
    fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_imports, "IMPORT_BATCH", 2)
    known_id, _ = fleet.enroll("machine-id-77", "KIOSK-03")  # known by its hostname
    twin_a, _ = fleet.enroll("twin-a", "KIOSK-04")  # two hosts share this name: neither is it
    twin_b, _ = fleet.enroll("twin-b", "KIOSK-04")
    rows = ["Computer\tApp\tVendor\tVer\tSeen"]
    for i in range(1, 6):
        rows.append(f"KIOSK-0{i}\tVLC media player\tVideoLAN\t3.0.21\t2024-12-30")
    rows.append("KIOSK-02\tKaspersky Security Center Network Agent\tAO Kaspersky Lab\t14.2\t2024-12-30")
    tsv = ("\n".join(rows) + "\n").encode()
    admin = fleet.as_admin()
    r = fleet.client.post(
        "/api/v1/imports", files={"file": ("inv.tsv", tsv)}, data={"site": "Depot"}, headers=admin
    )
    assert r.status_code == 201, r.text
    got = {h["hostname"]: h for h in r.json()["hosts"]}
    assert list(got) == [f"KIOSK-0{i}" for i in range(1, 6)]
    assert got["KIOSK-03"]["host_id"] == known_id
    assert got["KIOSK-04"]["host_id"] not in (twin_a, twin_b)
    assert got["KIOSK-02"]["findings"] == 1 and not any(h["duplicate"] for h in got.values())
    hosts = {h["id"]: h for h in fleet.get("/api/v1/hosts", limit=100)["items"]}
    assert len(hosts) == 7
    assert hosts[known_id]["site"] == "" and hosts[got["KIOSK-01"]["host_id"]]["site"] == "Depot"
    again = fleet.client.post("/api/v1/imports", files={"file": ("inv.tsv", tsv)}, headers=admin)
    assert again.status_code == 201
    assert [h["host_id"] for h in again.json()["hosts"]] == [h["host_id"] for h in got.values()]
    assert all(h["applied"] for h in again.json()["hosts"])  # a newer scan of the same file
    assert fleet.get("/api/v1/hosts")["total"] == 7
