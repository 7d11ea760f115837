"""The enrolments page (admins): enrolments held for a decision, with approve and deny buttons,
and the latest decisions."""

from __future__ import annotations

from fastapi import HTTPException, Request, Response
from fastapi.responses import RedirectResponse

from banscan.server.deps import AdminDep, ReadDB, WriteDB, client_addr, state_of
from banscan.server.pages.render import page, page_router
from banscan.store import enrolment as store
from banscan.store.paging import MAX_ID

router = page_router()

SHOWN = 200  # pending enrolments listed at once (the API pages through all of them)


@router.get("/enrolments")
def enrolments_page(request: Request, principal: AdminDep, db: ReadDB) -> Response:
    pending = store.list_enrolments(db, "pending", limit=SHOWN)
    return page(
        request,
        principal,
        "enrolments.html.j2",
        title="Enrolments",
        nav="enrolments",
        pending=pending.items,
        total=pending.total,
        decided=store.recent_decisions(db),
        done=done if (done := request.query_params.get("done")) in ("approved", "denied") else "",
    )


def _decide(request: Request, principal: AdminDep, db: WriteDB, enrolment_id: int, approve: bool) -> Response:
    if not 1 <= enrolment_id <= MAX_ID:
        raise HTTPException(404, "enrolment not found")
    decide = store.approve_enrolment if approve else store.deny_enrolment
    try:
        row = decide(db, enrolment_id, actor=principal.name, remote_addr=client_addr(request))
    except ValueError as exc:
        raise HTTPException(409, str(exc)) from None
    if row is None:
        raise HTTPException(404, "enrolment not found")
    db.commit()
    if approve and row.host_id is not None:
        state_of(request).agent_tokens.forget_host(row.host_id)  # its revoked tokens stop now
    return RedirectResponse(f"/enrolments?done={'approved' if approve else 'denied'}", status_code=303)


@router.post("/enrolments/{enrolment_id}/approve")
def enrolment_approve(request: Request, principal: AdminDep, db: WriteDB, enrolment_id: int) -> Response:
    """Approve a held enrolment (admin): the host's agent tokens are revoked now."""
    return _decide(request, principal, db, enrolment_id, approve=True)


@router.post("/enrolments/{enrolment_id}/deny")
def enrolment_deny(request: Request, principal: AdminDep, db: WriteDB, enrolment_id: int) -> Response:
    """Deny a held enrolment (admin): the host keeps its agent."""
    return _decide(request, principal, db, enrolment_id, approve=False)
