"""Enrol secrets (admins): make one (scoped to a site and/or a tag, expiring), list them, revoke
one. The server's own secret (`banscan serve`) is not among them and keeps working."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field, field_validator

from banscan.server.api.common import RowId, no_control
from banscan.server.deps import AdminDep, ReadDB, WriteDB, client_addr
from banscan.store import enrolment as store
from banscan.store import sites
from banscan.store.models import utcnow
from banscan.store.org_accounts import secret_ids_in, secret_in

router = APIRouter(tags=["admin"])


class EnrolSecretRequest(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    site: str | None = Field(
        default=None, max_length=sites.MAX_SITE, description="Every host enrolled with it gets this site."
    )
    tag: str | None = Field(
        default=None, max_length=sites.MAX_TAG, description="Every host enrolled with it gets this tag."
    )
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)

    _clean = field_validator("name")(no_control)


@router.get("/enrol-secrets")
def list_enrol_secrets(principal: AdminDep, db: ReadDB) -> dict[str, Any]:
    """Every enrol secret of the caller's organisation with its scope and status (`active`,
    `expired`, `revoked`); never the secret itself (admin)."""
    mine = secret_ids_in(db, orgs=principal.scope)
    return {"items": [s for s in store.list_enrol_secrets(db) if s["id"] in mine]}


@router.post("/enrol-secrets", status_code=201)
def post_enrol_secret(
    body: EnrolSecretRequest, request: Request, principal: AdminDep, db: WriteDB
) -> dict[str, Any]:
    """Make an enrol secret (admin); it is shown once (`secret`). Agents enrolling with it get
    its site and tag, whatever they send."""
    expires = utcnow() + dt.timedelta(days=body.expires_in_days) if body.expires_in_days else None
    try:
        raw, row = store.add_enrol_secret(
            db,
            body.name,
            created_by=principal.name,
            org_id=principal.org_id,
            site=body.site,
            tag=body.tag,
            expires_at=expires,
            remote_addr=client_addr(request),
        )
    except ValueError as exc:
        raise HTTPException(409 if "already exists" in str(exc) else 422, str(exc)) from None
    db.commit()
    return {**store.secret_json(row), "secret": raw}


@router.post("/enrol-secrets/{secret_id}/revoke")
def revoke_enrol_secret(
    secret_id: RowId, request: Request, principal: AdminDep, db: WriteDB
) -> dict[str, Any]:
    """Revoke an enrol secret (admin): enrolling with it is refused from now on, as is
    collecting an enrolment asked for with it. 409 if already revoked."""
    if not secret_in(db, secret_id, orgs=principal.scope):
        raise HTTPException(404, "enrol secret not found")
    try:
        row = store.revoke_enrol_secret(db, secret_id, actor=principal.name, remote_addr=client_addr(request))
    except ValueError as exc:
        raise HTTPException(409, str(exc)) from None
    if row is None:
        raise HTTPException(404, "enrol secret not found")
    db.commit()
    return store.secret_json(row)
