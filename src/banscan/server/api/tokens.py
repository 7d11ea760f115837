"""API tokens for automation (admins)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field, field_validator

from banscan.server.api.common import no_control
from banscan.server.deps import AdminDep, WriteDB
from banscan.store.accounts import add_api_token
from banscan.store.models import utcnow

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
    raw, row = add_api_token(db, body.name, body.role, created_by=principal.name, expires_at=expires)
    db.commit()
    return {
        "id": row.id,
        "name": row.name,
        "role": row.role,
        "token": raw,
        "expires_at": expires.isoformat() if expires else None,
    }
