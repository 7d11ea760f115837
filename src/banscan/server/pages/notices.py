"""Notices in the dashboard: the inbox of what the organisation received (an admin acknowledges
there), what it sent with each member's state, and the composer for a coordinator's admins;
and the public acknowledgement page an emailed link opens.

The link's page shows what would be acknowledged and a button: opening it changes nothing
(mail scanners open links). The button posts the token with the login form's double-submit
CSRF cookie; both routes are rate-limited per client address like the login."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import BackgroundTasks, Depends, Form, HTTPException, Query, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from sqlalchemy.orm import Session

from banscan.server.api.common import RowId
from banscan.server.api.notices import NoticeRequest, acknowledge_copy, send_from
from banscan.server.deps import (
    AdminDep,
    Principal,
    ReadDB,
    UserDep,
    WriteDB,
    client_addr,
    limit_anonymous,
    state_of,
)
from banscan.server.pages.render import page, page_router, render
from banscan.server.security import check_login_csrf, issue_login_csrf, login_csrf_cookie_name
from banscan.store import notices as store

router = page_router()

DONE = {
    "sent": "The notice is sent: members with an address are being emailed.",
    "acknowledged": "The notice is acknowledged.",
}
TOKEN_CHARS = 200  # a token is 98 characters; anything longer is not one
FORM = {"title": "", "members": [], "packs": [], "extra": "", "expires_in_days": 30, "remind_after_days": ""}


def _notices_page(
    request: Request, principal: Principal, db: Session, *, status_code: int = 200, **context: Any
) -> Response:
    members = store.member_orgs(db, principal.org_id)
    return page(
        request,
        principal,
        "notices.html.j2",
        status_code=status_code,
        title="Notices",
        nav="notices",
        received=store.received_notices(db, principal.org_id),
        sent=store.sent_notices(db, principal.org_id),
        members=members,
        can_send=principal.is_admin and bool(members),
        packs=[{"id": p.id, "title": p.title} for p in state_of(request).catalog.packs],
        done=DONE.get(request.query_params.get("done", ""), ""),
        **({"error": "", "form": FORM} | context),
    )


@router.get("/notices")
def notices_page(request: Request, principal: UserDep, db: ReadDB) -> Response:
    return _notices_page(request, principal, db)


@router.post("/notices")
def notices_send(
    request: Request,
    principal: AdminDep,
    db: WriteDB,
    background: BackgroundTasks,
    title: Annotated[str, Form(max_length=store.MAX_TITLE)] = "",
    member: Annotated[list[str] | None, Form(max_length=1000)] = None,
    pack: Annotated[list[str] | None, Form(max_length=50)] = None,
    extra: Annotated[str, Form(max_length=store.MAX_EXTRA)] = "",
    expires_in_days: Annotated[int, Form(ge=1, le=store.MAX_EXPIRY_DAYS)] = 30,
    remind_after_days: Annotated[str, Form(max_length=3)] = "",
) -> Response:
    """The composer: the same sending as POST /api/v1/notices; an error comes back to the form."""
    form = {
        "title": title,
        "members": member or [],
        "packs": pack or [],
        "extra": extra,
        "expires_in_days": expires_in_days,
        "remind_after_days": remind_after_days,
    }
    remind = remind_after_days.strip()
    if remind and not remind.isdigit():
        return _notices_page(
            request,
            principal,
            db,
            status_code=422,
            error="remind after: a number of days, or empty",
            form=form,
        )
    try:
        body = NoticeRequest(
            title=title,
            members=member or None,
            packs=pack or None,
            extra=extra,
            expires_in_days=expires_in_days,
            remind_after_days=int(remind) if remind else None,
        )
        sent, _ = send_from(request, principal, db, background, body)
    except (ValidationError, ValueError) as exc:
        problems = exc.errors() if isinstance(exc, ValidationError) else [{"loc": (), "msg": str(exc)}]
        message = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}".lstrip(": ") for e in problems)
        return _notices_page(request, principal, db, status_code=422, error=message, form=form)
    except HTTPException as exc:
        db.rollback()
        return _notices_page(
            request, principal, db, status_code=exc.status_code, error=str(exc.detail), form=form
        )
    return RedirectResponse(f"/notices/{sent.notice.id}?done=sent", status_code=303)


@router.get("/notices/{notice_id}")
def notice_page(request: Request, notice_id: RowId, principal: UserDep, db: ReadDB) -> Response:
    """A notice sent (each member's state) or received (the organisation's copy)."""
    found = store.notice_detail(db, notice_id, principal.org_id, names=principal.scope.readable)
    if found is None:
        raise HTTPException(404, "notice not found")
    return page(
        request,
        principal,
        "notice.html.j2",
        title=found["title"],
        nav="notices",
        notice=found,
        done=DONE.get(request.query_params.get("done", ""), ""),
    )


@router.post("/notices/{notice_id}/acknowledge")
def notice_acknowledge(request: Request, notice_id: RowId, principal: AdminDep, db: WriteDB) -> Response:
    """Acknowledge the organisation's copy (admin of the member)."""
    acknowledge_copy(request, principal, db, notice_id)
    return RedirectResponse(f"/notices/{notice_id}?done=acknowledged", status_code=303)


# ---------------------------------------------------------------- the emailed link


def _ack_page(request: Request, status_code: int = 200, **context: Any) -> Response:
    values = {"view": None, "token": "", "csrf_token": "", "refused": "", "done": None, "missing": False}
    return render(
        request, "ack.html.j2", status_code=status_code, title="Acknowledge a notice", **(values | context)
    )


@router.get("/ack", dependencies=[Depends(limit_anonymous)])
def ack_page(
    request: Request, db: ReadDB, token: Annotated[str, Query(max_length=TOKEN_CHARS)] = ""
) -> Response:
    """What the link acknowledges, and the button that does it; a link that would be refused is
    said so here already (4xx). Changes nothing."""
    if not token:
        return _ack_page(request, missing=True)
    try:
        view = store.ack_preview(db, token)
    except store.AckRefused as exc:
        return _ack_page(request, exc.status, refused=str(exc))
    carrier = Response()
    csrf = issue_login_csrf(carrier, secure=state_of(request).settings.secure_cookies)
    response = _ack_page(request, view=view, token=token, csrf_token=csrf)
    for k, v in carrier.raw_headers:
        if k == b"set-cookie":
            response.raw_headers.append((k, v))
    return response


@router.post("/ack", dependencies=[Depends(limit_anonymous)])
def ack_post(
    request: Request,
    db: WriteDB,
    token: Annotated[str, Form(max_length=TOKEN_CHARS)] = "",
    csrf_token: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    """Acknowledge with the link's token (the page's form): once, for the organisation and
    notice it was made for, before it expires; refusals are audited and said (4xx)."""
    secure = state_of(request).settings.secure_cookies
    try:
        check_login_csrf(request, csrf_token, secure=secure)
    except HTTPException:
        return _ack_page(request, 403, refused="This form has expired: open the link from the email again.")
    try:
        done = store.acknowledge(db, token, remote_addr=client_addr(request))
    except store.AckRefused as exc:
        db.commit()  # the audited refusal
        return _ack_page(request, exc.status, refused=str(exc))
    view = store.ack_view(db, done)
    db.commit()
    response = _ack_page(request, done=view)
    response.delete_cookie(login_csrf_cookie_name(secure), path="/", secure=secure)
    return response
