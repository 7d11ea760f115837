"""The removal board: each product on each host from found to verified, as cards by state, as
an export, and as the history of every step; the step a person records for several products of
a host at once; and the exceptions (accepted findings) with who approved them until when.
Informational products are findings, not removal items."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from banscan.policy.deadlines import summarize
from banscan.removal import FLAG_NEW_AGENT, STATES
from banscan.store.deadlines import Deadlines, Policy, deadline_json, tracked
from banscan.store.models import Finding, Host, Report, Transition, TransitionEvent, utcnow
from banscan.store.packs import PackScope
from banscan.store.paging import as_date, count, iso
from banscan.store.scope import OrgScope


@dataclass(frozen=True)
class TransitionFilter:
    """Which removal records: in a `state`, of a `product` or of any product of a `pack`,
    `flagged`, or of a present finding with an `overdue` obligation."""

    state: str | None = None
    product: str | None = None
    flagged: bool = False
    overdue: bool = False
    pack: PackScope | None = None

    def params(self) -> dict[str, str]:
        out = {
            "state": self.state,
            "product": self.product,
            "pack": self.pack.id if self.pack else None,
            "flagged": "1" if self.flagged else None,
            "overdue": "1" if self.overdue else None,
        }
        return {k: v for k, v in out.items() if v}


def transition_stmt(f: TransitionFilter, dl: Deadlines | None, *, orgs: OrgScope) -> Any:
    """The removal records of hosts `orgs` may read matching `f`, with the host's name and the
    finding."""
    stmt = (
        select(Transition, Host.hostname, Finding)
        .join(Host, Host.id == Transition.host_id)
        .outerjoin(
            Finding, and_(Finding.host_id == Transition.host_id, Finding.product == Transition.product)
        )
        .where(orgs.hosts())
    )
    # Informational products are findings, not removal items (older records of them stay unshown).
    stmt = stmt.where(or_(Finding.id.is_(None), tracked()))
    if f.state:
        stmt = stmt.where(Transition.state == f.state)
    if f.product:
        stmt = stmt.where(Transition.product == f.product)
    if f.pack:
        stmt = stmt.where(f.pack.condition(Transition.product))
    if f.flagged:
        stmt = stmt.where(Transition.flag.is_not(None))
    if f.overdue and dl is not None:
        stmt = stmt.where(dl.condition())
    return stmt


def transition_item(t: Transition, hostname: str, fnd: Finding | None, dl: Deadlines) -> dict[str, Any]:
    return {
        "host_id": t.host_id,
        "hostname": hostname,
        "product": t.product,
        "product_name": fnd.product_name if fnd else t.product,
        "verdict": fnd.verdict if fnd else None,
        "present": fnd.present if fnd else None,
        "first_seen": iso(fnd.first_seen) if fnd else None,
        "state": t.state,
        "flag": t.flag,
        "overdue": bool(
            fnd
            and fnd.present
            and dl.is_overdue(fnd.product, fnd.verdict, fnd.category, fnd.first_identified)
        ),
        "updated_at": iso(t.updated_at),
        "updated_by": t.updated_by,
    }


def transition_card(
    t: Transition, hostname: str, fnd: Finding | None, dl: Deadlines, policy: Policy
) -> dict[str, Any]:
    """A board card: the export's item, with the first identification and what is due."""
    item = transition_item(t, hostname, fnd, dl)
    item["first_identified"] = None
    item["deadline"] = None
    if fnd is not None:
        first = as_date(fnd.first_identified)
        item["first_identified"] = first.isoformat()
        if fnd.present:
            summary = summarize(policy.obligations(fnd.product, fnd.verdict, fnd.category, first))
            item["deadline"] = deadline_json(summary)
    return item


def history_item(e: TransitionEvent, t: Transition, hostname: str) -> dict[str, Any]:
    return {
        "host_id": t.host_id,
        "hostname": hostname,
        "product": t.product,
        "at": iso(e.at),
        "actor": e.actor,
        "from_state": e.from_state,
        "to_state": e.to_state,
        "flag": e.flag,
        "note": e.note,
        "report_id": e.report_id,
    }


def board_columns(
    session: Session, f: TransitionFilter, policy: Policy, *, limit: int, offset: int, orgs: OrgScope
) -> tuple[list[dict[str, Any]], int]:
    """One column of cards per state (the filter's state only, when it has one), most recently
    moved first, and the largest column's count (for paging); hosts `orgs` may read only."""
    dl = policy.estate_deadlines(session, orgs=orgs)
    columns = []
    total = 0
    for state in STATES:
        if f.state and f.state != state:
            continue
        stmt = transition_stmt(dataclasses.replace(f, state=state), dl, orgs=orgs)
        n = count(session, stmt)
        rows = session.execute(
            stmt.order_by(Transition.updated_at.desc(), Transition.id.desc()).offset(offset).limit(limit)
        )
        cards = [transition_card(t, hostname, fnd, dl, policy) for t, hostname, fnd in rows]
        columns.append({"state": state, "count": n, "cards": cards})
        total = max(total, n)
    return columns, total


def iter_transitions(
    session: Session, f: TransitionFilter, policy: Policy, *, batch: int, limit: int, orgs: OrgScope
) -> Iterator[dict[str, Any]]:
    """Every removal record of hosts `orgs` may read matching `f` (at most `limit`), in id
    order, `batch` at a time."""
    dl = policy.estate_deadlines(session, orgs=orgs)
    stmt = transition_stmt(f, dl, orgs=orgs)
    last_id, sent = 0, 0
    while sent < limit:
        rows = list(session.execute(stmt.where(Transition.id > last_id).order_by(Transition.id).limit(batch)))
        if not rows:
            return
        for t, hostname, fnd in rows:
            yield transition_item(t, hostname, fnd, dl)
        sent += len(rows)
        last_id = rows[-1][0].id


def iter_history(
    session: Session, f: TransitionFilter, policy: Policy, *, batch: int, limit: int, orgs: OrgScope
) -> Iterator[dict[str, Any]]:
    """Every recorded step of the items the board shows with these filters (hosts `orgs` may
    read), by host, product and time: a page of items at a time (keyset on host and product),
    then their steps in one query."""
    dl = policy.estate_deadlines(session, orgs=orgs)
    items = transition_stmt(f, dl, orgs=orgs).with_only_columns(
        Transition.id, Transition.host_id, Transition.product
    )
    after: tuple[int, str] | None = None
    sent = 0
    while sent < limit:
        page = items
        if after is not None:
            page = page.where(
                (Transition.host_id > after[0])
                | and_(Transition.host_id == after[0], Transition.product > after[1])
            )
        keys = list(session.execute(page.order_by(Transition.host_id, Transition.product).limit(batch)))
        if not keys:
            return
        steps = list(
            session.execute(
                select(TransitionEvent, Transition, Host.hostname)
                .join(Transition, Transition.id == TransitionEvent.transition_id)
                .join(Host, Host.id == Transition.host_id)
                .where(TransitionEvent.transition_id.in_([k.id for k in keys]))
                .order_by(Transition.host_id, Transition.product, TransitionEvent.at, TransitionEvent.id)
            )
        )
        for e, t, hostname in steps:
            if sent >= limit:
                return
            yield history_item(e, t, hostname)
            sent += 1
        after = (keys[-1].host_id, keys[-1].product)


# ---------------------------------------------------------------- several steps at once

# What a person may record for several products at once: steps forward only. One product at a
# time (`banscan.store.ingest.set_transition`) may also go back, to correct a mistake.
BULK_STATES = ("replacement-installed", "removed")
MAX_BULK = 500  # products in one request
_NAMED = 10  # products a refusal names; the rest are counted


def _listed(parts: list[str], sep: str) -> str:
    more = len(parts) - _NAMED
    return sep.join(parts[:_NAMED]) + (f"{sep}and {more} more" if more > 0 else "")


class UnknownItems(LookupError):
    """Products with no removal record on the host (not found there, or informational)."""

    def __init__(self, products: list[str]) -> None:
        self.products = products
        super().__init__("no removal record on this host for " + _listed(products, ", "))


class StepRefused(ValueError):
    """Steps the rules refuse, each as (product, why); nothing was recorded."""

    def __init__(self, refused: list[tuple[str, str]]) -> None:
        self.refused = refused
        super().__init__(_listed([f"{product} {why}" for product, why in refused], "; "))


def bulk_step_problem(state: str, flag: str | None, to_state: str) -> str | None:
    """Why `to_state` may not be recorded, as one of several, for an item in `state` (None: it
    may), worded to follow the product's id. Forward only: `verified` is a clean scan's to give
    and is never undone by hand, and an item already there is refused, except a removal a new
    agent's clean scan could not verify (recording it again lets that agent's next clean scan
    verify it; `banscan.store.apply`)."""
    if to_state not in BULK_STATES:
        return f"cannot be moved to {to_state!r} with others (only to {' or '.join(BULK_STATES)})"
    if state == "verified":
        return "is already verified by a clean scan"
    if state not in STATES:
        return f"is in an unknown state {state!r}"
    if STATES.index(state) > STATES.index(to_state):
        return f"is already {state}, so {to_state} would be a step back (record that for it alone)"
    if state == to_state and not (state == "removed" and flag == FLAG_NEW_AGENT):
        return f"is already {state}"
    return None


def record_steps(
    session: Session,
    host_id: int,
    products: list[str],
    to_state: str,
    note: str,
    actor: str,
    *,
    orgs: OrgScope,
) -> list[Transition] | None:
    """Record the same step, with the same note, for several products of one host: all or
    nothing. None when there is no such host, or not one `orgs` may change; raises UnknownItems when a product has no removal
    record there, StepRefused when a step is refused (`bulk_step_problem`), before anything is
    written. The removal records are locked (FOR UPDATE) until the caller commits."""
    host = session.get(Host, host_id)
    if host is None or host.org_id not in orgs.writable:
        return None
    wanted = list(dict.fromkeys(products))
    rows = session.execute(
        select(Transition)
        .outerjoin(
            Finding, and_(Finding.host_id == Transition.host_id, Finding.product == Transition.product)
        )
        .where(
            Transition.host_id == host_id,
            Transition.product.in_(wanted),
            or_(Finding.id.is_(None), tracked()),  # an informational product has no removal record
        )
        .order_by(Transition.id)
        .with_for_update(of=Transition)
    )
    found = {t.product: t for t in rows.scalars()}
    missing = [p for p in wanted if p not in found]
    if missing:
        raise UnknownItems(missing)
    refused = [
        (p, why) for p in wanted if (why := bulk_step_problem(found[p].state, found[p].flag, to_state))
    ]
    if refused:
        raise StepRefused(refused)
    now = utcnow()
    moved = []
    for p in wanted:
        t = found[p]
        session.add(
            TransitionEvent(
                transition_id=t.id, actor=actor, from_state=t.state, to_state=to_state, note=note, at=now
            )
        )
        t.state, t.flag, t.updated_at, t.updated_by = to_state, None, now, actor
        moved.append(t)
    session.flush()
    return moved


# ---------------------------------------------------------------- exceptions


def _exception_of(body: dict[str, Any] | None, product: str) -> dict[str, Any]:
    if not body:
        return {}
    for f in body.get("findings", []):
        if isinstance(f, dict) and f.get("product") == product and isinstance(f.get("exception"), dict):
            exc: dict[str, Any] = f["exception"]
            return exc
    return {}


def exception_items(session: Session, rows: list[Any], as_of: dt.date) -> list[dict[str, Any]]:
    report_ids = {f.last_report_id for f, _ in rows if f.last_report_id}
    bodies: dict[int, dict[str, Any] | None] = {}
    if report_ids:
        for rid, text in session.execute(select(Report.id, Report.body).where(Report.id.in_(report_ids))):
            try:
                data = json.loads(text)
            except ValueError:
                data = None
            bodies[rid] = data if isinstance(data, dict) else None
    items = []
    for f, hostname in rows:
        exc = _exception_of(bodies.get(f.last_report_id or 0), f.product)
        expires = str(exc.get("expires") or "")
        try:
            expired = bool(expires) and dt.date.fromisoformat(expires[:10]) < as_of
        except ValueError:
            expired = False
        items.append(
            {
                "host_id": f.host_id,
                "hostname": hostname,
                "product": f.product,
                "product_name": f.product_name,
                "original_verdict": str(exc.get("original_verdict") or ""),
                "approver": str(exc.get("approver") or ""),
                "expires": expires,
                "expired": expired,
                "reason": str(exc.get("reason") or ""),
                "ticket": str(exc.get("ticket") or ""),
                "first_seen": iso(f.first_seen),
                "last_seen": iso(f.last_seen),
                "report_id": f.last_report_id,
            }
        )
    return items


def exception_stmt(product: str | None, *, orgs: OrgScope) -> Any:
    """Accepted findings still present on hosts `orgs` may read (of `product`, when given)."""
    stmt = (
        select(Finding, Host.hostname)
        .join(Host, Host.id == Finding.host_id)
        .where(Finding.verdict == "accepted", Finding.present.is_(True), orgs.hosts())
    )
    if product:
        stmt = stmt.where(Finding.product == product)
    return stmt


def list_exceptions(
    session: Session, product: str | None, as_of: dt.date, *, limit: int, offset: int, orgs: OrgScope
) -> tuple[list[dict[str, Any]], int]:
    """A page of accepted findings of hosts `orgs` may read (of `product`, when given), and how
    many there are."""
    stmt = exception_stmt(product, orgs=orgs)
    total = count(session, stmt)
    rows = list(session.execute(stmt.order_by(Finding.id).offset(offset).limit(limit)))
    return exception_items(session, rows, as_of), total


def iter_exceptions(
    session: Session, product: str | None, as_of: dt.date, *, batch: int, limit: int, orgs: OrgScope
) -> Iterator[dict[str, Any]]:
    """Every accepted finding of hosts `orgs` may read (at most `limit`), `batch` at a time."""
    stmt = exception_stmt(product, orgs=orgs)
    last_id, sent = 0, 0
    while sent < limit:
        rows = list(session.execute(stmt.where(Finding.id > last_id).order_by(Finding.id).limit(batch)))
        if not rows:
            return
        yield from exception_items(session, rows, as_of)
        sent += len(rows)
        last_id = rows[-1][0].id
