"""Who am I, and logging in and out with a browser session."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, HTTPException, Request, Response
from fastapi.responses import RedirectResponse

from banscan.server.deps import UserDep, client_addr, limit_anonymous, state_of
from banscan.server.security import (
    check_login_csrf,
    clear_session_cookie,
    issue_login_csrf,
    login_csrf_cookie_name,
    safe_next,
    session_cookie_name,
    set_session_cookie,
)
from banscan.server.state import SafeJSONResponse
from banscan.store.accounts import StartedSession, attempt_login, end_session
from banscan.store.audit import audit

router = APIRouter(tags=["auth"])
web_router = APIRouter(tags=["auth"])


@router.get("/me")
def me(principal: UserDep) -> dict[str, object]:
    """The caller; for a browser session this includes the CSRF token forms must send."""
    return principal.to_json()


@router.get("/csrf")
def login_csrf(request: Request, response: Response) -> dict[str, str]:
    """A CSRF token for the login form (also set as a double-submit cookie)."""
    secure = state_of(request).settings.secure_cookies
    return {"csrf_token": issue_login_csrf(response, secure=secure), "field": "csrf_token"}


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


@web_router.post("/login", dependencies=[Depends(limit_anonymous)])
async def login(
    request: Request,
    username: Annotated[str, Form(max_length=150)],
    password: Annotated[str, Form(max_length=1024)],
    csrf_token: Annotated[str, Form(max_length=128)] = "",
    next: Annotated[str | None, Form(max_length=2000)] = None,
) -> Response:
    """Log in with a form post; sets the session cookie. 303 to `next`, or JSON if asked for.

    A wrong password, an unknown user, a disabled account and a locked one (too many failed
    logins: `ServerSettings.lockout`) all answer alike: 401, or back to the form. The password
    is checked on the server's hashing threads; when they are all taken and their queue is
    full, the answer is 503 with Retry-After."""
    st = state_of(request)
    secure = st.settings.secure_cookies
    check_login_csrf(request, csrf_token, secure=secure)
    addr = client_addr(request)
    started: StartedSession | None = None
    if "\x00" not in username + password:  # no user has one: refused like a wrong password
        started = await st.hash_gate.run(
            attempt_login,
            st.db,
            username,
            password,
            policy=st.settings.lockout,
            session_ttl=st.settings.session_ttl,
            remote_addr=addr,
        )
    if started is None:
        if _wants_json(request):
            raise HTTPException(401, "wrong username or password")
        # A browser goes back to the form, which says the login failed.
        target = "/login?error=1&next=" + quote(safe_next(next), safe="")
        return RedirectResponse(target, status_code=303)
    response: Response
    if _wants_json(request):
        response = SafeJSONResponse(
            {"username": started.username, "role": started.role, "csrf_token": started.csrf_token}
        )
    else:
        response = RedirectResponse(safe_next(next), status_code=303)
    set_session_cookie(response, started.cookie, secure=secure, ttl=st.settings.session_ttl)
    response.delete_cookie(login_csrf_cookie_name(secure), path="/", secure=secure)
    return response


@web_router.post("/logout")
def logout(request: Request, principal: UserDep) -> Response:
    """End the browser session (CSRF-checked like every form post)."""
    st = state_of(request)
    secure = st.settings.secure_cookies
    cookie = request.cookies.get(session_cookie_name(secure))
    if principal.kind == "session" and cookie:
        with st.db.writing() as db:
            end_session(db, cookie)
            audit(db, principal.name, "logout", principal.name, client_addr(request))
    response: Response = (
        SafeJSONResponse({"logged_out": True})
        if _wants_json(request)
        else RedirectResponse("/login", status_code=303)
    )
    clear_session_cookie(response, secure=secure)
    return response
