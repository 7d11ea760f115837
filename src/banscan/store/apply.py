"""Store a batch of validated results with a fixed number of set-based statements.

Why: through the ORM's unit of work one report cost about 3 ms of Python (identity map,
flush ordering, a savepoint, a dozen round trips), which capped a server at a few hundred
results per second. Here a batch reads the state of every host it touches at once (host rows,
already-stored keys, findings, transitions), applies each result to that state in plain
Python in arrival order, and writes the differences back with one executemany per table —
the per-report cost is the rule work, not the database plumbing. This module holds the
removal-tracking rules once, for agents, imports and tests alike:

    found → replacement-installed → removed → verified

A result is keyed by the SHA-256 of its canonical JSON, so sending the same result again
returns the first report. Only a result at least as new as the host's latest moves the host's
current state: an older one is kept for the record, may move a finding's first-seen date
earlier, and changes nothing else. `verified` is only ever set here, by a newer scan that read
this host and no longer sees the product after its removal was recorded — and, when the scan
comes from an agent, by an agent that was already enrolled as this host when the removal was
recorded (its token's `enrolled_at`, which a token rotated by proof of the one before keeps, is
no later than the moment the removal was recorded: the transition's `updated_at`). A clean scan
from an agent that enrolled after that — a newcomer approved by an admin, or anyone else who
got a fresh token for the host — verifies nothing on its own: the removal stays `removed`,
flagged `clean-scan-from-new-agent`, until an admin records it again (after which that agent's
next clean scan verifies it) or the long-standing agent's scan does. Results without an agent
token (an admin's inventory import) verify as before. A product that
disappears without a removal record keeps its state and is flagged
`gone-without-removal-record`; one seen again after being recorded removed (or verified) goes
back to `found`, flagged `seen-after-removal`.

First identification: each finding keeps the day its product was first identified on its host
— the earliest of the days of the results that showed it and the `first_identified` they
carried (an agent scanning with `--previous`, or an inventory's own record). It only ever moves
earlier, and it is kept for ever: the FAR clock ran from the first identification, and a
product removed and then found again is a recurrence of the same article on the same host
(FAR 52.204-23(c)(2)(ii) asks why it recurred), so it keeps its original day and the
re-appearance is recorded as a step of its removal history. A host is its identifier:
enrolling again with the same identifier keeps the host, its findings and their history.

Informational products (successor software, carve-outs) are findings, but nothing has to be
removed: they get no removal record and no removal steps.

Host rows are read `FOR UPDATE` (PostgreSQL; SQLite writers hold the database lock), so two
server processes storing results for one host take turns.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from banscan.removal import FLAG_GONE, FLAG_NEW_AGENT, FLAG_SEEN_AFTER_REMOVAL, SYSTEM
from banscan.store.catalogs import report_catalog
from banscan.store.ingest import generated_at, merge_findings, platform_of, read_anything
from banscan.store.models import AgentToken, Finding, Host, Report, Transition, TransitionEvent, utcnow

_H, _R, _F, _T, _E, _A = (
    cast(Table, m.__table__) for m in (Host, Report, Finding, Transition, TransitionEvent, AgentToken)
)
# What the rules read of a finding (its evidence is only ever written, never read back).
_FINDING_STATE = ("present", "first_seen", "first_identified", "verdict")
_TRANSITION_FIELDS = ("state", "flag", "updated_at", "updated_by")
_HOST_FIELDS = ("last_generated_at", "last_report_id", "platform", "last_seen_at", "scan_requested_at")


@dataclass(frozen=True)
class Incoming:
    """One validated result for one host (`parse_result` gives text, data and key)."""

    host_id: int
    text: str
    data: dict[str, Any]
    key: str
    source: str = "agent"
    token_id: int | None = None


@dataclass(frozen=True)
class Stored:
    """What happened to one result: its report, and whether it was new and moved state."""

    report_id: int
    host_id: int
    duplicate: bool
    applied: bool
    findings: int
    # product → the day the server holds as its first identification on this host (ISO date);
    # filled for a result stored now (a caller reads it for a duplicate), not part of equality
    first_identified: dict[str, str] = field(default_factory=dict, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "report_id": self.report_id,
            "duplicate": self.duplicate,
            "applied": self.applied,
            "findings": self.findings,
            "first_identified": dict(self.first_identified),
        }


class HostGone(LookupError):
    """The host was deleted between authentication and storing."""


@dataclass(slots=True)
class _HostRow:
    id: int
    last_generated_at: dt.datetime | None
    last_report_id: int | None
    platform: str
    scan_requested_at: dt.datetime | None
    last_seen_at: dt.datetime | None = None


@dataclass(slots=True)
class _Row:
    """A finding or a transition as read (id set) or created in this batch (id None).

    `values` holds what was read plus what was set; `dirty` names the columns to write back."""

    id: int | None
    values: dict[str, Any]
    dirty: set[str] = field(default_factory=set)

    def set(self, **values: Any) -> None:
        self.values.update(values)
        self.dirty.update(values)


@dataclass(slots=True)
class _Batch:
    """The state of every host of a batch, and what to write back."""

    hosts: dict[int, _HostRow]
    findings: dict[int, dict[str, _Row]] = field(default_factory=dict)
    transitions: dict[int, dict[str, _Row]] = field(default_factory=dict)
    events: list[tuple[_Row, dict[str, Any]]] = field(default_factory=list)


def store_results(
    session: Session, items: Sequence[Incoming], *, now: dt.datetime | None = None
) -> list[Stored | Exception]:
    """Store `items` in order inside the session's transaction; one outcome per item.

    A host that no longer exists gives that item a `HostGone`; anything the database refuses
    raises, and the caller rolls back (the group-commit writer then stores items one by one).
    """
    if not items:
        return []
    now = now or utcnow()
    conn = session.connection()
    host_ids = sorted({it.host_id for it in items})
    batch = _Batch(hosts=_read_hosts(conn, host_ids))
    known = _read_known_reports(conn, host_ids, {it.key for it in items})

    # Pass 1: which items are new, their time, and whether each moves its host's state; this
    # depends only on arrival order and generated_at, so report ids can be drawn before the rules run.
    outcomes: list[Stored | Exception | None] = [None] * len(items)
    first_of: dict[tuple[int, str], int] = {}
    plan: list[tuple[int, dt.datetime, bool, dict[str, dict[str, Any]]]] = []
    latest = {hid: h.last_generated_at for hid, h in batch.hosts.items()}
    for i, it in enumerate(items):
        if it.host_id not in batch.hosts:
            outcomes[i] = HostGone(f"host {it.host_id} not found")
            continue
        k = (it.host_id, it.key)
        if k in known:
            outcomes[i] = known[k]
            continue
        if k in first_of:
            continue  # a repeat within the batch: resolved to the first one below
        first_of[k] = i
        when = generated_at(it.data) or now
        prev = latest[it.host_id]
        applied = prev is None or when >= prev
        if applied:
            latest[it.host_id] = when
        plan.append((i, when, applied, merge_findings(it.data["findings"])))
    if not plan:
        return _resolve(items, outcomes, first_of)

    report_ids = _insert_reports(conn, items, plan, now)
    busy = sorted({items[i].host_id for i, *_ in plan})
    _read_state(conn, batch, busy)
    enrolled = _read_enrolled(conn, {t for i, *_ in plan if (t := items[i].token_id) is not None})

    # Pass 2: the removal-tracking rules, on the rows in memory.
    for (i, when, applied, merged), rid in zip(plan, report_ids, strict=True):
        it = items[i]
        host = batch.hosts[it.host_id]
        if applied:
            # a token gone since it was checked counts as enrolled now
            since = enrolled.get(it.token_id, now) if it.token_id is not None else None
            _apply(batch, host.id, rid, it.data, merged, when, now, since)
            host.last_generated_at = when
            host.last_report_id = rid
            if not host.platform:
                host.platform = platform_of(it.data)[:64]
        else:
            _backfill(batch, host.id, merged, when)
        host.last_seen_at = now
        if it.source == "agent" and host.scan_requested_at is not None and when >= host.scan_requested_at:
            host.scan_requested_at = None  # the scan someone asked for has come in
        outcomes[i] = Stored(rid, it.host_id, duplicate=False, applied=applied, findings=len(merged))

    # What each new result's products were first identified as, once the whole batch is applied.
    for i, _when, _applied, merged in plan:
        o = outcomes[i]
        assert isinstance(o, Stored)
        rows = batch.findings[o.host_id]
        days = {p: rows[p].values["first_identified"].isoformat() for p in merged if p in rows}
        outcomes[i] = dataclasses.replace(o, first_identified=days)

    _write(conn, batch, busy, {it.token_id for it in items if it.token_id is not None}, now)
    return _resolve(items, outcomes, first_of)


def store_batch(session: Session, items: Sequence[Incoming]) -> list[Stored | Exception]:
    """`store_results` in a savepoint; a lone item another process stored first is a duplicate."""
    try:
        with session.begin_nested():
            return store_results(session, items)
    except IntegrityError:
        if len(items) != 1:
            raise
        it = items[0]
        row = session.execute(
            select(_R.c.id, _R.c.applied, _R.c.findings_count).where(
                _R.c.host_id == it.host_id, _R.c.idempotency_key == it.key
            )
        ).first()
        if row is None:
            raise
        return [Stored(row.id, it.host_id, duplicate=True, applied=row.applied, findings=row.findings_count)]


def _resolve(
    items: Sequence[Incoming], outcomes: list[Stored | Exception | None], first_of: dict[tuple[int, str], int]
) -> list[Stored | Exception]:
    out: list[Stored | Exception] = []
    for i, it in enumerate(items):
        o = outcomes[i]
        if o is None:  # a repeat of an earlier item of this batch
            first = outcomes[first_of[(it.host_id, it.key)]]
            assert isinstance(first, Stored)
            o = dataclasses.replace(first, duplicate=True)
        out.append(o)
    return out


# ---------------------------------------------------------------- reading


def _read_hosts(conn: Connection, host_ids: list[int]) -> dict[int, _HostRow]:
    q = (
        select(_H.c.id, _H.c.last_generated_at, _H.c.last_report_id, _H.c.platform, _H.c.scan_requested_at)
        .where(_H.c.id.in_(host_ids))
        .order_by(_H.c.id)  # one lock order for every writer
        .with_for_update()
    )
    return {
        r.id: _HostRow(r.id, r.last_generated_at, r.last_report_id, r.platform or "", r.scan_requested_at)
        for r in conn.execute(q)
    }


def _read_known_reports(
    conn: Connection, host_ids: list[int], keys: set[str]
) -> dict[tuple[int, str], Stored]:
    q = select(_R.c.id, _R.c.host_id, _R.c.idempotency_key, _R.c.applied, _R.c.findings_count).where(
        _R.c.host_id.in_(host_ids), _R.c.idempotency_key.in_(sorted(keys))
    )
    return {
        (r.host_id, r.idempotency_key): Stored(r.id, r.host_id, True, r.applied, r.findings_count)
        for r in conn.execute(q)
    }


def _read_enrolled(conn: Connection, token_ids: set[int]) -> dict[int, dt.datetime]:
    """When the agent behind each token enrolled (see the module's docstring)."""
    if not token_ids:
        return {}
    q = select(_A.c.id, _A.c.enrolled_at, _A.c.created_at).where(_A.c.id.in_(sorted(token_ids)))
    return {r.id: r.enrolled_at or r.created_at for r in conn.execute(q)}


def _read_state(conn: Connection, batch: _Batch, host_ids: list[int]) -> None:
    for hid in host_ids:
        batch.findings[hid] = {}
        batch.transitions[hid] = {}
    fcols = [_F.c.id, _F.c.host_id, _F.c.product, *(_F.c[n] for n in _FINDING_STATE)]
    for r in conn.execute(select(*fcols).where(_F.c.host_id.in_(host_ids))):
        m = r._mapping
        batch.findings[r.host_id][r.product] = _Row(r.id, {n: m[n] for n in _FINDING_STATE})
    tcols = [_T.c.id, _T.c.host_id, _T.c.product, *(_T.c[n] for n in _TRANSITION_FIELDS)]
    for r in conn.execute(select(*tcols).where(_T.c.host_id.in_(host_ids))):
        m = r._mapping
        batch.transitions[r.host_id][r.product] = _Row(r.id, {n: m[n] for n in _TRANSITION_FIELDS})


# ---------------------------------------------------------------- the rules


def _second(t: dt.datetime) -> dt.datetime:
    return t.replace(microsecond=0)


def _event(
    batch: _Batch,
    t: _Row,
    *,
    from_state: str | None,
    to_state: str,
    flag: str | None,
    note: str,
    rid: int,
    now: dt.datetime,
) -> None:
    event = {"actor": SYSTEM, "from_state": from_state, "to_state": to_state, "flag": flag}
    batch.events.append((t, {**event, "note": note, "report_id": rid, "at": now}))


def _step(
    batch: _Batch, t: _Row, *, to_state: str, flag: str | None, note: str, rid: int, now: dt.datetime
) -> None:
    """Record a move of a transition by a scan, in its history and on the row."""
    from_state = t.values["state"]
    _event(batch, t, from_state=from_state, to_state=to_state, flag=flag, note=note, rid=rid, now=now)
    t.set(state=to_state, flag=flag, updated_at=now, updated_by=SYSTEM)


def _reported_day(f: dict[str, Any]) -> dt.date | None:
    """The `first_identified` a result gives for a finding, if it gives a readable one."""
    value = f.get("first_identified")
    if not isinstance(value, str):
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        return None


def _identified(row: _Row, f: dict[str, Any], when: dt.datetime) -> None:
    """Move the row's first identification earlier when this result shows an earlier day; a
    result never moves it later (see the module's docstring)."""
    days = [when.astimezone(dt.UTC).date()]
    if (reported := _reported_day(f)) is not None:
        days.append(reported)
    earliest = min(days)
    current = row.values.get("first_identified")
    if current is None or earliest < current:
        row.set(first_identified=earliest)


def _tracked(verdict: str | None) -> bool:
    """Whether a product of this verdict is on the removal board (informational ones are not)."""
    return verdict != "informational"


def _apply(
    batch: _Batch,
    host_id: int,
    rid: int,
    data: dict[str, Any],
    merged: dict[str, dict[str, Any]],
    when: dt.datetime,
    now: dt.datetime,
    enrolled_at: dt.datetime | None = None,
) -> None:
    """Apply one newer result; `enrolled_at`: when the reporting agent enrolled (None: no agent)."""
    rows = batch.findings[host_id]
    trans = batch.transitions[host_id]
    for product, f in merged.items():
        row = rows.get(product)
        if row is None:
            row = rows[product] = _Row(None, {"first_seen": when})
        _identified(row, f, when)
        row.set(
            present=True,
            gone_at=None,
            product_name=f["product_name"],
            vendor=f["vendor"],
            category=f.get("category") or "",
            version=f.get("version"),
            verdict=f["verdict"],
            confidence=f["confidence"],
            evidence=f["evidence"],
            obligations=f["obligations"],
            last_seen=when,
            last_report_id=rid,
        )
        if not _tracked(f["verdict"]):
            continue  # nothing to remove: no removal record, and an old one is left as it was
        first = row.values["first_identified"].isoformat()
        t = trans.get(product)
        if t is None:
            new = {"state": "found", "flag": None, "updated_at": now, "updated_by": SYSTEM}
            t = trans[product] = _Row(None, new)
            note = f"first seen in report {rid} (first identified {first})"
            _event(batch, t, from_state=None, to_state="found", flag=None, note=note, rid=rid, now=now)
            continue
        state, flag = t.values["state"], t.values["flag"]
        if state == "verified" or (state == "removed" and when >= _second(t.values["updated_at"])):
            note = (
                f"seen again in report {rid} after being recorded {state}: a recurrence "
                f"(first identified {first}, kept)"
            )
            _step(batch, t, to_state="found", flag=FLAG_SEEN_AFTER_REMOVAL, note=note, rid=rid, now=now)
        elif flag == FLAG_GONE:
            note = f"seen again in report {rid}: a recurrence (first identified {first}, kept)"
            _step(batch, t, to_state=state, flag=None, note=note, rid=rid, now=now)
    if not read_anything(data):
        return  # an unreadable scan verifies nothing and clears nothing
    for product, row in rows.items():
        if product in merged:
            continue
        was_present = row.values["present"]
        if was_present:
            row.set(present=False, gone_at=when)
        t = trans.get(product)
        if t is None or not _tracked(row.values.get("verdict")):
            continue
        state, flag = t.values["state"], t.values["flag"]
        if state == "removed" and when >= _second(t.values["updated_at"]):
            if enrolled_at is not None and enrolled_at > t.values["updated_at"]:
                if flag != FLAG_NEW_AGENT:  # said once; the time the removal was recorded stays
                    note = (
                        f"not seen in report {rid}, but that scan came from an agent enrolled after the "
                        "removal was recorded: not verified (record the removal again to let it verify)"
                    )
                    _event(
                        batch,
                        t,
                        from_state=state,
                        to_state=state,
                        flag=FLAG_NEW_AGENT,
                        note=note,
                        rid=rid,
                        now=now,
                    )
                    t.set(flag=FLAG_NEW_AGENT)
                continue
            note = f"not seen by the clean re-scan in report {rid}"
            _step(batch, t, to_state="verified", flag=None, note=note, rid=rid, now=now)
        elif state in ("found", "replacement-installed") and was_present and flag != FLAG_GONE:
            note = f"not seen in report {rid}, but no removal was recorded"
            _step(batch, t, to_state=state, flag=FLAG_GONE, note=note, rid=rid, now=now)


def _backfill(batch: _Batch, host_id: int, merged: dict[str, dict[str, Any]], when: dt.datetime) -> None:
    """An older result can only tell us a product was there earlier than we thought."""
    for product, row in batch.findings[host_id].items():
        if product not in merged:
            continue
        if when < row.values["first_seen"]:
            row.set(first_seen=when)
        _identified(row, merged[product], when)


# ---------------------------------------------------------------- writing


def _insert_reports(
    conn: Connection,
    items: Sequence[Incoming],
    plan: list[tuple[int, dt.datetime, bool, dict[str, dict[str, Any]]]],
    now: dt.datetime,
) -> list[int]:
    rows = []
    for i, when, applied, merged in plan:
        it = items[i]
        rows.append(
            {
                "host_id": it.host_id,
                "idempotency_key": it.key,
                "generated_at": when,
                "received_at": now,
                "source": it.source,
                "applied": applied,
                "findings_count": len(merged),
                "banscan_version": str(it.data.get("banscan_version", ""))[:64],
                **report_catalog(it.data),
                "body": it.text,
            }
        )
    stmt = insert(_R).returning(_R.c.id, sort_by_parameter_order=True)
    return [r.id for r in conn.execute(stmt, rows)]


def _write(
    conn: Connection, batch: _Batch, host_ids: list[int], token_ids: set[int], now: dt.datetime
) -> None:
    new_f = [
        {"host_id": hid, "product": product, **row.values}
        for hid in host_ids
        for product, row in batch.findings[hid].items()
        if row.id is None
    ]
    if new_f:
        conn.execute(insert(_F), new_f)
    _update_dirty(conn, _F, [row for hid in host_ids for row in batch.findings[hid].values()])

    trans = [(hid, p, row) for hid in host_ids for p, row in batch.transitions[hid].items()]
    _update_dirty(conn, _T, [row for _, _, row in trans])  # before new rows get their ids
    new_t = [(hid, p, row) for hid, p, row in trans if row.id is None]
    if new_t:
        stmt = insert(_T).returning(_T.c.id, sort_by_parameter_order=True)
        ids = conn.execute(stmt, [{"host_id": h, "product": p, **r.values} for h, p, r in new_t])
        for (_, _, row), r in zip(new_t, ids, strict=True):
            row.id = r.id
    if batch.events:
        conn.execute(insert(_E), [{"transition_id": t.id, **ev} for t, ev in batch.events])

    hosts = [{"_id": hid, **{n: getattr(batch.hosts[hid], n) for n in _HOST_FIELDS}} for hid in host_ids]
    conn.execute(_update_by_id(_H, _HOST_FIELDS), hosts)
    if token_ids:
        conn.execute(
            update(_A).where(_A.c.id == bindparam("_id")).values(last_used_at=bindparam("t")),
            [{"_id": tid, "t": now} for tid in sorted(token_ids)],
        )


def _update_dirty(conn: Connection, table: Table, rows: list[_Row]) -> None:
    """One executemany per set of changed columns, for the rows that were read and changed."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        if row.id is not None and row.dirty:
            names = tuple(sorted(row.dirty))
            groups.setdefault(names, []).append({"_id": row.id, **{n: row.values[n] for n in names}})
    for names, params in groups.items():
        conn.execute(_update_by_id(table, names), params)


def _update_by_id(table: Table, names: tuple[str, ...]) -> Any:
    return update(table).where(table.c.id == bindparam("_id")).values({n: bindparam(n) for n in names})
