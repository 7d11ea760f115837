"""Users and API tokens (admins: disable, enable, unlock, reset a password, revoke a token) and
the account page where everyone changes their own password. Every change is a CSRF-checked
form post that comes back to its page (303) with what was done, and is audited."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, HTTPException, Path, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from banscan.server.deps import (
    AdminDep,
    Principal,
    ReadDB,
    UserDep,
    WriteDB,
    client_addr,
    own_user,
    state_of,
)
from banscan.server.hashing import HashQueueFull
from banscan.server.pages.render import page, page_router
from banscan.server.security import session_cookie_name
from banscan.store.accounts import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    change_own_password,
    reset_password_by_id,
    revoke_api_token,
    set_disabled,
    token_digest,
    token_json,
    unlock_user,
    user_json,
)
from banscan.store.org_accounts import token_in, tokens_in, user_in, users_in
from banscan.store.paging import MAX_ID

router = page_router()

DONE = {
    "disabled": "The user is disabled; their sessions have ended.",
    "enabled": "The user is enabled again.",
    "unlocked": "The user's failed logins are cleared; they can log in again.",
    "password": "The password is set; the user's sessions have ended.",
    "revoked": "The token is revoked.",
    "changed": "Your password is changed; your other sessions have ended.",
}
PasswordField = Annotated[str, Form(max_length=MAX_PASSWORD_LENGTH)]
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]


def _users_page(
    request: Request, principal: Principal, db: Session, *, status_code: int = 200, **context: Any
) -> Response:
    done = request.query_params.get("done", "")
    return page(
        request,
        principal,
        "users.html.j2",
        status_code=status_code,
        title="Users and tokens",
        nav="users",
        users=[user_json(u) for u in users_in(db, orgs=principal.scope)],
        tokens=[token_json(t) for t in tokens_in(db, orgs=principal.scope)],
        done=DONE.get(done, ""),
        min_length=MIN_PASSWORD_LENGTH,
        **{"error": "", **context},
    )


@router.get("/users")
def users_page(request: Request, principal: AdminDep, db: ReadDB) -> Response:
    return _users_page(request, principal, db)


def _done(path: str, what: str) -> Response:
    return RedirectResponse(f"{path}?done={what}", status_code=303)


def _user_or_404(db: Session, user_id: int, principal: Principal) -> Any:
    user = user_in(db, user_id, orgs=principal.scope)
    if user is None:
        raise HTTPException(404, "user not found")
    return user


@router.post("/users/{user_id}/disable")
def disable_user(user_id: RowId, request: Request, principal: AdminDep, db: WriteDB) -> Response:
    user = _user_or_404(db, user_id, principal)
    if user.id == principal.user_id:
        return _users_page(
            request, principal, db, status_code=409, error="You cannot disable your own account."
        )
    set_disabled(db, user, True, actor=principal.name, remote_addr=client_addr(request))
    db.commit()
    return _done("/users", "disabled")


@router.post("/users/{user_id}/enable")
def enable_user(user_id: RowId, request: Request, principal: AdminDep, db: WriteDB) -> Response:
    user = _user_or_404(db, user_id, principal)
    set_disabled(db, user, False, actor=principal.name, remote_addr=client_addr(request))
    db.commit()
    return _done("/users", "enabled")


@router.post("/users/{user_id}/unlock")
def unlock(user_id: RowId, request: Request, principal: AdminDep, db: WriteDB) -> Response:
    user = _user_or_404(db, user_id, principal)
    unlock_user(db, user, actor=principal.name, remote_addr=client_addr(request))
    db.commit()
    return _done("/users", "unlocked")


@router.post("/users/{user_id}/password")
async def reset_password(
    user_id: RowId, request: Request, principal: AdminDep, password: PasswordField
) -> Response:
    st = state_of(request)
    await run_in_threadpool(own_user, request, principal, user_id)
    try:
        user = await st.hash_gate.run(
            reset_password_by_id,
            st.db,
            user_id,
            password,
            actor=principal.name,
            remote_addr=client_addr(request),
        )
    except ValueError as exc:
        with st.db.reading() as db:
            return _users_page(request, principal, db, status_code=400, error=str(exc))
    if user is None:
        raise HTTPException(404, "user not found")
    return _done("/users", "password")


@router.post("/tokens/{token_id}/revoke")
def revoke_token(token_id: RowId, request: Request, principal: AdminDep, db: WriteDB) -> Response:
    if not token_in(db, token_id, orgs=principal.scope):
        raise HTTPException(404, "token not found")
    if revoke_api_token(db, token_id, actor=principal.name, remote_addr=client_addr(request)) is None:
        raise HTTPException(404, "token not found")
    db.commit()
    return _done("/users", "revoked")


# ---------------------------------------------------------------- your own account


def _account_page(
    request: Request, principal: Principal, *, status_code: int = 200, error: str = ""
) -> Response:
    done = request.query_params.get("done", "")
    return page(
        request,
        principal,
        "account.html.j2",
        status_code=status_code,
        title="Your account",
        nav="account",
        done=DONE.get(done, ""),
        error=error,
        min_length=MIN_PASSWORD_LENGTH,
    )


@router.get("/account")
def account_page(request: Request, principal: UserDep) -> Response:
    return _account_page(request, principal)


@router.post("/account/password")
async def change_password(
    request: Request,
    principal: UserDep,
    old_password: PasswordField,
    new_password: PasswordField,
    repeat_password: PasswordField,
) -> Response:
    if principal.kind != "session":
        raise HTTPException(403, "only a signed-in user has a password; an API token has none")
    if new_password != repeat_password:
        return _account_page(request, principal, status_code=400, error="The new passwords differ.")
    st = state_of(request)
    cookie = request.cookies.get(session_cookie_name(st.settings.secure_cookies))
    try:
        changed = await st.hash_gate.run(
            change_own_password,
            st.db,
            principal.name,
            old_password,
            new_password,
            policy=st.settings.lockout,
            keep_session=token_digest(cookie) if cookie else None,
            remote_addr=client_addr(request),
        )
    except ValueError as exc:
        return _account_page(request, principal, status_code=400, error=str(exc))
    except HashQueueFull:
        return _account_page(request, principal, status_code=503, error="The server is busy; try again.")
    if not changed:
        return _account_page(request, principal, status_code=403, error="The current password is wrong.")
    return _done("/account", "changed")
