"""Group commit of reports, memoised validation, the cached overview and the SQL summary."""

from __future__ import annotations

import copy
import datetime as dt
import functools
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from banscan.server import api, web
from banscan.store import ingest, queries
from banscan.store.db import Database
from banscan.store.migrate import upgrade_db
from banscan.store.models import AgentToken, Host, Report
from banscan.store.writer import GroupCommitWriter

from .conftest import Fleet, at, body

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


def _job(host_id: int, result: dict[str, Any]) -> Callable[[Session], dict[str, Any]]:
    text, data, key = ingest.parse_result(body(result))
    return functools.partial(api._store_report, host_id, host_id, text, data, key)


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
    futures = [writer.submit(_job(i + 1, at(results["dirty"], T1))) for i in range(3)]
    assert committing.wait(10)
    time.sleep(0.1)
    assert not any(f.done() for f in futures)  # work done, commit pending: nothing acknowledged
    gate.set()
    outs = [f.result(10) for f in futures]
    assert all(not o["duplicate"] and o["applied"] for o in outs)
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
    futures = [writer.submit(_job(i + 1, at(results["dirty"], T1))) for i in range(2)]
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
    futures = [
        writer.submit(_job(1, same)),
        writer.submit(boom),
        writer.submit(_job(1, copy.deepcopy(same))),
        writer.submit(_job(2, at(results["clean"], T2))),
        writer.submit(_job(3, at(results["dirty"], T2))),
        writer.submit(_job(3, at(results["dirty"], T1))),  # older: stored, not applied
    ]
    gate.set()
    assert blocker.result(10)
    first, failed, again, clean, newer, older = futures
    assert not first.result(10)["duplicate"]
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
        failed.result(10)
    assert again.result(10) == {**first.result(10), "duplicate": True}
    assert clean.result(10)["applied"] and newer.result(10)["applied"]
    assert not older.result(10)["applied"] and not older.result(10)["duplicate"]
    assert writer.batches <= 3
    assert _reports(db) == 4
    with db.reading() as s:
        h3 = s.get(Host, 3)
        assert h3 is not None and h3.last_report_id == newer.result(10)["report_id"]
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
        before = web.cached_overview(s, st, "user", as_of)
    assert fleet.report(token, at(results["dirty"], T1)).status_code == 201
    with st.db.reading() as s:
        after = web.cached_overview(s, st, "user", as_of)
        assert web.cached_overview(s, st, "user", as_of) is after  # unchanged data: reused
        fresh = web.overview(s, st.catalog, "user", as_of, st.settings.jurisdiction)
    assert after == fresh and after != before
    product = next(p["product"] for p in after["by_product"] if p["covered_hosts"])
    r = fleet.client.post(
        f"/api/v1/transitions/{host_id}/{product}", json={"state": "removed"}, headers=headers
    )
    assert r.status_code == 200, r.text
    with st.db.reading() as s:
        moved = web.cached_overview(s, st, "user", as_of)
    assert moved["transitions"]["by_state"]["removed"] == 1
    assert fleet.report(token, at(results["clean"], T2)).status_code == 201
    with st.db.reading() as s:
        cleaned = web.cached_overview(s, st, "user", as_of)
        assert cleaned == web.overview(s, st.catalog, "user", as_of, st.settings.jurisdiction)
    assert cleaned["hosts_with_covered"] == 0


def test_summary_in_sql_agrees_with_the_overview(fleet: Fleet, results: dict[str, Any]) -> None:
    for i in range(4):
        _, token = fleet.enroll(f"m{i}", f"m{i}", "linux" if i % 2 else "windows")
        assert fleet.report(token, at(results["dirty" if i != 1 else "clean"], T1)).status_code == 201
    st = fleet.app.state.banscan
    for role, day in [("user", dt.date(2025, 3, 3)), ("federal-contractor", dt.date(2026, 1, 1))]:
        with st.db.reading() as s:
            summ = queries.summary(s, st.catalog, role=role, as_of=day)
            over = web.overview(s, st.catalog, role, day, "US")
        for k in ("hosts", "hosts_with_covered", "findings_by_verdict", "obligations", "overdue"):
            assert summ[k] == over[k], k
    assert summ["overdue"]["hosts"] == 3 and summ["overdue"]["findings"] >= 3
