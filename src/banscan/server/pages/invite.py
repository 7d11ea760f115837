"""Choosing a password with an invitation link (`banscan org invite`): public, like the login
form, and protected the same way (double-submit CSRF cookie, the anonymous rate limit).

GET only shows the form (mail scanners fetch links; nothing is spent by looking), POST sets the
password. The link is checked again when the form is posted, so it works once."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Form, Query, Request, Response
from fastapi.responses import RedirectResponse

from banscan.server.deps import client_addr, limit_anonymous, state_of
from banscan.server.pages.render import page_router, render
from banscan.server.security import check_login_csrf, issue_login_csrf, login_csrf_cookie_name
from banscan.store.accounts import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from banscan.store.invites import TOKEN_BYTES, InviteError, accept_invite, invited_user

router = page_router()
TOKEN_CHARS = 2 * TOKEN_BYTES


def _form(
    request: Request, token: str, *, status_code: int = 200, error: str = "", username: str = ""
) -> Response:
    carrier = Response()
    csrf = issue_login_csrf(carrier, secure=state_of(request).settings.secure_cookies)
    response = render(
        request,
        "invite.html.j2",
        status_code,
        title="Choose your password",
        token=token,
        csrf_token=csrf,
        username=username,
        error=error,
        min_length=MIN_PASSWORD_LENGTH,
        max_length=MAX_PASSWORD_LENGTH,
    )
    for k, v in carrier.raw_headers:
        if k == b"set-cookie":
            response.raw_headers.append((k, v))
    return response


def _refused(request: Request, reason: str, status_code: int) -> Response:
    return render(request, "invite.html.j2", status_code, title="Invitation", refused=reason)


@router.get("/invite", dependencies=[Depends(limit_anonymous)])
def invite_page(request: Request, token: Annotated[str, Query(max_length=TOKEN_CHARS)] = "") -> Response:
    """The form for the invited user's password, if the link is one that still works."""
    try:
        with state_of(request).db.reading() as s:
            username = invited_user(s, token).username
    except InviteError as exc:
        return _refused(request, str(exc), 404 if "expired" not in str(exc) else 410)
    return _form(request, token, username=username)


@router.post("/invite", dependencies=[Depends(limit_anonymous)])
async def invite_post(
    request: Request,
    token: Annotated[str, Form(max_length=TOKEN_CHARS)],
    password: Annotated[str, Form(max_length=MAX_PASSWORD_LENGTH)],
    repeat: Annotated[str, Form(max_length=MAX_PASSWORD_LENGTH)],
    csrf_token: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    """Set the password; then on to the login form."""
    st = state_of(request)
    secure = st.settings.secure_cookies
    check_login_csrf(request, csrf_token, secure=secure)
    if password != repeat:
        return _form(request, token, status_code=422, error="The two passwords differ.")
    try:
        await st.hash_gate.run(accept_invite, st.db, token, password, remote_addr=client_addr(request))
    except InviteError as exc:
        return _refused(request, str(exc), 404 if "expired" not in str(exc) else 410)
    except ValueError as exc:  # the password policy
        return _form(request, token, status_code=422, error=f"{str(exc)[:1].upper()}{str(exc)[1:]}.")
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(login_csrf_cookie_name(secure), path="/", secure=secure)
    return response
