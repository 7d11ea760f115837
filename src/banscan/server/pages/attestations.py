"""Attestations: the status an officer of the organisation would attest to as of a day (a
preview the server computes), the statement box and "Attest" button (admins, signed in), and the
attestations made so far with their digests — with each member's last one for a coordinator."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import Form, HTTPException, Query, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session

from banscan.removal import STATES
from banscan.server.api.attestations import signer
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
from banscan.server.pages.render import page, page_router
from banscan.store.attestations import (
    EARLIEST,
    MAX_STATEMENT,
    attest,
    attestation_json,
    attestations_of,
    check_as_of,
    members_latest,
    status_of,
)
from banscan.store.models import Organisation

router = page_router()

SHOWN = 50  # past attestations listed


def _attestations_page(
    request: Request,
    principal: Principal,
    db: Session,
    as_of: dt.date,
    *,
    status_code: int = 200,
    error: str = "",
    statement: str = "",
) -> Response:
    org = db.get(Organisation, principal.org_id)
    assert org is not None
    rows, total = attestations_of(db, org.id, limit=SHOWN)
    return page(
        request,
        principal,
        "attestations.html.j2",
        status_code=status_code,
        title="Attestations",
        nav="attestations",
        status=status_of(db, org.id, as_of, server=server_policy(request)),
        as_of=as_of.isoformat(),
        earliest=EARLIEST.isoformat(),
        latest=today().isoformat(),
        states=STATES,
        can_attest=principal.is_admin and principal.kind == "session",
        statement=statement,
        max_statement=MAX_STATEMENT,
        past=[attestation_json(a, org, content=False) for a in rows],
        total=total,
        members=[
            {
                "name": o.name,
                "slug": o.slug,
                "latest": attestation_json(a, o, content=False, names=o.id in principal.scope.readable)
                if a
                else None,
            }
            for o, a in members_latest(db, org.id)
        ],
        done=request.query_params.get("done") == "attested",
        error=error,
    )


@router.get("/attestations")
def attestations_page(
    request: Request, principal: UserDep, db: ReadDB, as_of: Annotated[dt.date | None, Query()] = None
) -> Response:
    try:
        day = check_as_of(as_of or today())
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    return _attestations_page(request, principal, db, day)


@router.post("/attestations")
def attest_form(
    request: Request,
    principal: AdminDep,
    db: WriteDB,
    as_of: Annotated[dt.date, Form()],
    statement: Annotated[str, Form(max_length=MAX_STATEMENT)] = "",
) -> Response:
    user = signer(db, principal)
    try:
        attest(db, user, as_of, statement, client_addr(request), server=server_policy(request))
    except (PermissionError, ValueError) as exc:
        db.rollback()
        code = 403 if isinstance(exc, PermissionError) else 400
        shown = as_of if EARLIEST <= as_of <= today() else today()
        context: dict[str, Any] = {"status_code": code, "error": str(exc), "statement": statement}
        return _attestations_page(request, principal, db, shown, **context)
    db.commit()
    return RedirectResponse("/attestations?done=attested", status_code=303)
