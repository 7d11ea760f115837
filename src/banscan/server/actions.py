"""Admin actions the API and the dashboard both offer, done once: each checks, changes, audits
and commits, and raises an HTTPException the caller answers in its own way (JSON or a page)."""

from __future__ import annotations

from fastapi import HTTPException, Request
from sqlalchemy.orm import Session

from banscan.server.deps import Principal, client_addr, state_of, writable_host
from banscan.store import enrolment
from banscan.store.audit import audit
from banscan.store.board import BULK_STATES, MAX_BULK, StepRefused, UnknownItems, record_steps
from banscan.store.ingest import reset_clock
from banscan.store.models import Enrolment, Host, Transition
from banscan.store.org_accounts import enrolment_in
from banscan.store.paging import MAX_ID


def reset_host_clock(request: Request, principal: Principal, db: Session, host_id: int) -> Host:
    """Forget a host's last-result time that is ahead of the server's clock; 404 for no host
    (or one of another organisation)."""
    writable_host(db, principal, host_id)
    done = reset_clock(db, host_id) if 1 <= host_id <= MAX_ID else None
    if done is None:
        raise HTTPException(404, "host not found")
    host, previous = done
    audit(
        db,
        principal.name,
        "host.clock_reset",
        str(host_id),
        client_addr(request),
        previous=previous.isoformat() if previous else None,
        now=host.last_generated_at.isoformat() if host.last_generated_at else None,
    )
    db.commit()
    return host


def decide_enrolment(
    request: Request, principal: Principal, db: Session, enrolment_id: int, approve: bool
) -> Enrolment:
    """Approve or deny a held enrolment; 404 for none, 409 when it is no longer pending. An
    approval revokes the host's tokens at once, in this process's token cache too."""
    if not 1 <= enrolment_id <= MAX_ID or enrolment_in(db, enrolment_id, orgs=principal.scope) is None:
        raise HTTPException(404, "enrolment not found")
    decide = enrolment.approve_enrolment if approve else enrolment.deny_enrolment
    try:
        row = decide(db, enrolment_id, actor=principal.name, remote_addr=client_addr(request))
    except ValueError as exc:
        raise HTTPException(409, str(exc)) from None
    if row is None:
        raise HTTPException(404, "enrolment not found")
    db.commit()
    if approve and row.host_id is not None:
        state_of(request).agent_tokens.forget_host(row.host_id)  # its revoked tokens stop now
    return row


def record_removal_steps(
    request: Request,
    principal: Principal,
    db: Session,
    host_id: int,
    products: list[str],
    state: str,
    note: str,
) -> list[Transition]:
    """Record one step of removal, with one note, for several products of a host at once: all
    or nothing, each step recorded and audited as one product's step is. 404 for no host or a
    product with no removal record there, 409 naming every refused step (forward only:
    `banscan.store.board.bulk_step_problem`), 400 for a state, a note or a list that cannot be
    recorded; nothing changes unless everything can."""
    if not 1 <= host_id <= MAX_ID:
        raise HTTPException(404, "host not found")
    if state not in BULK_STATES:
        raise HTTPException(
            400,
            f"state must be {' or '.join(BULK_STATES)} for several findings at once; verified comes from a clean scan",
        )
    wanted = list(dict.fromkeys(products))
    if not wanted:
        raise HTTPException(400, "select at least one finding")
    if len(wanted) > MAX_BULK:
        raise HTTPException(400, f"at most {MAX_BULK} findings at once")
    if any(not p or len(p) > 200 or "\x00" in p for p in wanted) or "\x00" in note or len(note) > 4000:
        raise HTTPException(400, "products must be 1-200 characters and notes at most 4000, without NUL")
    try:
        moved = record_steps(db, host_id, wanted, state, note, principal.name, orgs=principal.scope)
    except UnknownItems as exc:
        db.rollback()
        raise HTTPException(404, f"Nothing recorded: {exc}.") from None
    except StepRefused as exc:
        db.rollback()
        raise HTTPException(409, f"Nothing recorded: {exc}.") from None
    if moved is None:
        raise HTTPException(404, "host not found")
    addr = client_addr(request)
    for t in moved:
        audit(db, principal.name, "transition", f"{host_id}/{t.product}", addr, state=state, batch=len(moved))
    db.commit()
    return moved
