"""The enrolments page (admins): enrolments held for a decision, with approve and deny buttons,
and the latest decisions."""

from __future__ import annotations

from fastapi import Request, Response
from fastapi.responses import RedirectResponse

from banscan.server.actions import decide_enrolment
from banscan.server.deps import AdminDep, ReadDB, WriteDB
from banscan.server.pages.render import page, page_router
from banscan.store.org_accounts import decisions_in, enrolments_in

router = page_router()

SHOWN = 200  # pending enrolments listed at once (the API pages through all of them)


@router.get("/enrolments")
def enrolments_page(request: Request, principal: AdminDep, db: ReadDB) -> Response:
    pending = enrolments_in(db, "pending", limit=SHOWN, orgs=principal.scope)
    return page(
        request,
        principal,
        "enrolments.html.j2",
        title="Enrolments",
        nav="enrolments",
        pending=pending.items,
        total=pending.total,
        decided=decisions_in(db, orgs=principal.scope),
        done=done if (done := request.query_params.get("done")) in ("approved", "denied") else "",
    )


def _decide(request: Request, principal: AdminDep, db: WriteDB, enrolment_id: int, approve: bool) -> Response:
    decide_enrolment(request, principal, db, enrolment_id, approve)
    return RedirectResponse(f"/enrolments?done={'approved' if approve else 'denied'}", status_code=303)


@router.post("/enrolments/{enrolment_id}/approve")
def enrolment_approve(request: Request, principal: AdminDep, db: WriteDB, enrolment_id: int) -> Response:
    """Approve a held enrolment (admin): the host's agent tokens are revoked now."""
    return _decide(request, principal, db, enrolment_id, approve=True)


@router.post("/enrolments/{enrolment_id}/deny")
def enrolment_deny(request: Request, principal: AdminDep, db: WriteDB, enrolment_id: int) -> Response:
    """Deny a held enrolment (admin): the host keeps its agent."""
    return _decide(request, principal, db, enrolment_id, approve=False)
