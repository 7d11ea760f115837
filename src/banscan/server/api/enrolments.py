"""Enrolments held for an admin (admins): list them, approve or deny one.

An agent enrolling as a host the server already knows, without presenting that host's token,
waits here (`banscan.store.enrolment` has the rules)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from banscan.server.actions import decide_enrolment
from banscan.server.api.common import RowId
from banscan.server.deps import AdminDep, PagingDep, ReadDB, WriteDB, choice
from banscan.store.models import ENROLMENT_STATES
from banscan.store.org_accounts import enrolment_in, enrolments_in

router = APIRouter(tags=["admin"])


@router.get("/enrolments")
def list_enrolments(
    principal: AdminDep,
    db: ReadDB,
    paging: PagingDep,
    state: Annotated[
        str | None, Query(max_length=16, json_schema_extra={"enum": list(ENROLMENT_STATES)})
    ] = None,
) -> dict[str, Any]:
    """Enrolments held for an admin, oldest first (admin); `state=pending` those still waiting.
    Each says who asked (identifier, hostname, platform, address, secret), why it waits
    (`reason`: `agent-host`, the host of another agent, or `imported-host`, one an inventory
    import created) and the host it would take over (`host`)."""
    page = enrolments_in(
        db,
        choice(state, ENROLMENT_STATES, "state"),
        limit=paging.limit,
        offset=paging.offset,
        after_id=paging.after_id,
        orgs=principal.scope,
    )
    return page.to_json()


def _decide(
    request: Request, principal: AdminDep, db: WriteDB, enrolment_id: int, approve: bool
) -> dict[str, Any]:
    decide_enrolment(request, principal, db, enrolment_id, approve)
    item = enrolment_in(db, enrolment_id, orgs=principal.scope)
    assert item is not None
    return item


@router.post("/enrolments/{enrolment_id}/approve")
def approve_enrolment(
    enrolment_id: RowId, request: Request, principal: AdminDep, db: WriteDB
) -> dict[str, Any]:
    """Approve a pending enrolment (admin): the host's agent tokens are revoked now, and the
    agent's next poll gets a new token. 409 if it is not pending."""
    return _decide(request, principal, db, enrolment_id, approve=True)


@router.post("/enrolments/{enrolment_id}/deny")
def deny_enrolment(enrolment_id: RowId, request: Request, principal: AdminDep, db: WriteDB) -> dict[str, Any]:
    """Deny a pending enrolment (admin): the agent's next poll is refused (403), the host keeps
    its agent. 409 if it is not pending."""
    return _decide(request, principal, db, enrolment_id, approve=False)
