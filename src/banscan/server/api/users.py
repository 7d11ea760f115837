"""Dashboard users: admins list them, disable and enable them, reset their passwords and unlock
them; every user changes their own password with the old one. Passwords are hashed on the
server's hashing threads (`server.hashing`), never in a request thread."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from banscan.server.api.common import RowId
from banscan.server.deps import AdminDep, ReadDB, UserDep, WriteDB, client_addr, own_user, state_of
from banscan.server.security import session_cookie_name
from banscan.store.accounts import (
    MAX_PASSWORD_LENGTH,
    change_own_password,
    reset_password_by_id,
    set_disabled,
    token_digest,
    unlock_user,
    user_json,
)
from banscan.store.org_accounts import user_in, users_in

router = APIRouter(tags=["admin"])

Password = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)


class UserChange(BaseModel):
    disabled: bool = Field(description="true: refuse their logins and end their sessions now")


class PasswordReset(BaseModel):
    password: str = Password


class PasswordChange(BaseModel):
    old_password: str = Password
    new_password: str = Password


@router.get("/users")
def get_users(principal: AdminDep, db: ReadDB) -> dict[str, Any]:
    """Every user, with whether they are disabled or locked out (admin)."""
    return {"users": [user_json(u) for u in users_in(db, orgs=principal.scope)]}


@router.patch("/users/{user_id}")
def patch_user(
    user_id: RowId, body: UserChange, request: Request, principal: AdminDep, db: WriteDB
) -> dict[str, Any]:
    """Disable a user (their sessions end at once) or enable one (admin)."""
    user = user_in(db, user_id, orgs=principal.scope)
    if user is None:
        raise HTTPException(404, "user not found")
    if body.disabled and user.id == principal.user_id:
        raise HTTPException(409, "you cannot disable your own account")
    set_disabled(db, user, body.disabled, actor=principal.name, remote_addr=client_addr(request))
    db.commit()
    return user_json(user)


@router.post("/users/{user_id}/unlock")
def post_unlock(user_id: RowId, request: Request, principal: AdminDep, db: WriteDB) -> dict[str, Any]:
    """Clear a user's failed logins and lockout (admin)."""
    user = user_in(db, user_id, orgs=principal.scope)
    if user is None:
        raise HTTPException(404, "user not found")
    unlock_user(db, user, actor=principal.name, remote_addr=client_addr(request))
    db.commit()
    return user_json(user)


@router.post("/users/{user_id}/password")
async def post_password(
    user_id: RowId, body: PasswordReset, request: Request, principal: AdminDep
) -> dict[str, Any]:
    """Set a user's password (admin): their sessions end and a lockout is cleared. 400 if the
    password policy refuses it (too short, common, a pattern, or the user name)."""
    st = state_of(request)
    await run_in_threadpool(own_user, request, principal, user_id)
    try:
        user = await st.hash_gate.run(
            reset_password_by_id,
            st.db,
            user_id,
            body.password,
            actor=principal.name,
            remote_addr=client_addr(request),
        )
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    if user is None:
        raise HTTPException(404, "user not found")
    return user_json(user)


@router.post("/me/password")
async def post_my_password(body: PasswordChange, request: Request, principal: UserDep) -> dict[str, Any]:
    """Change your own password, giving the current one (a browser session; API tokens have no
    password). A wrong current password counts as a failed login (403); your other sessions
    end. 400 if the password policy refuses the new one."""
    if principal.kind != "session":
        raise HTTPException(403, "only a signed-in user has a password; an API token has none")
    st = state_of(request)
    cookie = request.cookies.get(session_cookie_name(st.settings.secure_cookies))
    try:
        changed = await st.hash_gate.run(
            change_own_password,
            st.db,
            principal.name,
            body.old_password,
            body.new_password,
            policy=st.settings.lockout,
            keep_session=token_digest(cookie) if cookie else None,
            remote_addr=client_addr(request),
        )
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    if not changed:
        raise HTTPException(403, "the current password is wrong")
    return {"username": principal.name, "changed": True}
