"""Attestations: an organisation's officer (an admin, signed in) attests its status as of a day.

The status attested is computed by the server when it is signed (`banscan.store.attestations`);
the request gives only the day and the officer's statement. An API token cannot attest: an
attestation is made with a person's account. A coordinator reads its members' attestations
(aggregates only: counts per product, no host names)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from banscan.server.api.common import RowId
from banscan.server.deps import (
    AdminDep,
    Principal,
    ReadDB,
    UserDep,
    WriteDB,
    client_addr,
    server_policy,
    today,
)
from banscan.store.attestations import (
    MAX_STATEMENT,
    attest,
    attestation_json,
    attestations_of,
    check_as_of,
    members_latest,
    readable_attestation,
    readable_orgs,
    status_of,
)
from banscan.store.models import Organisation, User
from banscan.store.orgs import get_org

router = APIRouter(tags=["attestations"])

AsOfQuery = Annotated[
    dt.date | None,
    Query(description="the day attested to (default today; not in the future, not before 2017)"),
]
LimitQuery = Annotated[int, Query(ge=1, le=500)]
OffsetQuery = Annotated[int, Query(ge=0, le=10_000_000)]
OrgQuery = Annotated[
    str | None, Query(max_length=63, description="the slug of your organisation or of one of its members")
]


class AttestationRequest(BaseModel):
    """What the officer gives; everything else is computed by the server when they sign."""

    model_config = ConfigDict(extra="forbid")

    as_of: dt.date = Field(description="the day attested to: not in the future, not before 2017")
    statement: str = Field(default="", max_length=MAX_STATEMENT)


def _day(as_of: dt.date | None) -> dt.date:
    try:
        return check_as_of(as_of or today())
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None


def signer(db: Session, principal: Principal) -> User:
    """The signed-in officer behind `principal`: 403 for an API token (an attestation is made
    with a person's account)."""
    if principal.kind != "session" or principal.user_id is None:
        raise HTTPException(
            403, "an attestation is signed with a person's account: an API token cannot attest"
        )
    user = db.get(User, principal.user_id)
    if user is None:
        raise HTTPException(403, "an attestation is signed with a person's account")
    return user


@router.get("/attestations/preview")
def get_preview(request: Request, principal: UserDep, db: ReadDB, as_of: AsOfQuery = None) -> dict[str, Any]:
    """What an officer of your organisation would attest to as of `as_of`: its own hosts'
    findings remaining (covered and review) per product, the deadlines they are due by and its
    exceptions, for its role and jurisdiction. Aggregates only."""
    return status_of(db, principal.org_id, _day(as_of), server=server_policy(request))


@router.post("/attestations", status_code=201)
def post_attestation(
    body: AttestationRequest, request: Request, principal: AdminDep, db: WriteDB
) -> dict[str, Any]:
    """Attest your organisation's status as of `as_of` (an admin, signed in; an API token: 403).
    The status is computed now and recorded with its SHA-256 `digest`; audited."""
    user = signer(db, principal)
    try:
        row = attest(
            db, user, body.as_of, body.statement, client_addr(request), server=server_policy(request)
        )
    except PermissionError as exc:
        raise HTTPException(403, str(exc)) from None
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    db.commit()
    org = db.get(Organisation, row.org_id)
    assert org is not None
    return attestation_json(row, org)


@router.get("/attestations")
def get_attestations(
    principal: UserDep, db: ReadDB, org: OrgQuery = None, limit: LimitQuery = 50, offset: OffsetQuery = 0
) -> dict[str, Any]:
    """Your organisation's attestations (or, with `org`, those of one of its members), the most
    recent first, without their content; and for a coordinator, each member's last one."""
    own = db.get(Organisation, principal.org_id)
    target = get_org(db, org) if org else own
    if target is None or target.id not in readable_orgs(db, principal.org_id):
        raise HTTPException(404, "organisation not found")
    rows, total = attestations_of(db, target.id, limit=limit, offset=offset)
    names = principal.scope.readable.__contains__  # its own, or a member sharing hosts (and users)
    return {
        "organisation": {"slug": target.slug, "name": target.name},
        "items": [attestation_json(a, target, content=False, names=names(target.id)) for a in rows],
        "total": total,
        "limit": limit,
        "offset": offset,
        "members": [
            {
                "organisation": {"slug": o.slug, "name": o.name},
                "latest": attestation_json(a, o, content=False, names=names(o.id)) if a is not None else None,
            }
            for o, a in members_latest(db, principal.org_id)
        ],
    }


@router.get("/attestations/{attestation_id}")
def get_attestation(attestation_id: RowId, principal: UserDep, db: ReadDB) -> dict[str, Any]:
    """One attestation with its content, and whether its digest still matches (`verified`):
    your organisation's or a member's; another organisation's is unknown (404)."""
    found = readable_attestation(db, attestation_id, org_id=principal.org_id)
    if found is None:
        raise HTTPException(404, "attestation not found")
    att, org = found
    return attestation_json(att, org, names=org.id in principal.scope.readable)
