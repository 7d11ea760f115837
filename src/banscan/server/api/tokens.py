"""API tokens for automation (admins): create, list, revoke."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field, field_validator

from banscan.server.api.common import RowId, no_control
from banscan.server.deps import AdminDep, ReadDB, WriteDB, client_addr
from banscan.store.accounts import add_api_token, revoke_api_token, token_json
from banscan.store.models import utcnow
from banscan.store.org_accounts import token_in, tokens_in

router = APIRouter(tags=["admin"])


class TokenRequest(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    role: Literal["admin", "viewer"] = "viewer"
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)

    _clean = field_validator("name")(no_control)


@router.post("/tokens", status_code=201)
def post_token(body: TokenRequest, principal: AdminDep, db: WriteDB) -> dict[str, Any]:
    """Create an API token for automation (admin). The token is shown once."""
    expires = utcnow() + dt.timedelta(days=body.expires_in_days) if body.expires_in_days else None
    raw, row = add_api_token(
        db, body.name, body.role, created_by=principal.name, org_id=principal.org_id, expires_at=expires
    )
    db.commit()
    return {
        "id": row.id,
        "name": row.name,
        "role": row.role,
        "token": raw,
        "expires_at": expires.isoformat() if expires else None,
    }


@router.get("/tokens")
def get_tokens(principal: AdminDep, db: ReadDB) -> dict[str, Any]:
    """Every API token, newest first, with its state (live, expired, revoked); never the token
    itself, which is kept only as a digest (admin)."""
    return {"tokens": [token_json(t) for t in tokens_in(db, orgs=principal.scope)]}


@router.delete("/tokens/{token_id}")
def delete_token(token_id: RowId, request: Request, principal: AdminDep, db: WriteDB) -> dict[str, Any]:
    """Revoke an API token: refused from its next request on (admin). Revoking one already
    revoked changes nothing."""
    if not token_in(db, token_id, orgs=principal.scope):
        raise HTTPException(404, "token not found")
    row = revoke_api_token(db, token_id, actor=principal.name, remote_addr=client_addr(request))
    if row is None:
        raise HTTPException(404, "token not found")
    db.commit()
    return token_json(row)
