"""The organisation page: the caller's organisation (its sharing, which its own admins set),
its members with their sharing and counts, and the forms an admin uses to add a member and to
invite users — into its own organisation, or a member's first officer. The rules are the API's
(`banscan.server.api.orgs`); an invitation's link is shown once, here."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, HTTPException, Request, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from banscan.server.api.orgs import InviteRequest, OrgRequest, add_member, invite, set_own_sharing, visible
from banscan.server.deps import AdminDep, Principal, ReadDB, UserDep, WriteDB, client_addr, state_of
from banscan.server.pages.render import page, page_router
from banscan.store import orgs as store
from banscan.store.models import Organisation

router = page_router()


def _page(
    request: Request, principal: Principal, db: Session, *, status_code: int = 200, **context: Any
) -> Response:
    ids = set(visible(db, principal))
    rows = [o for o in store.list_orgs(db) if o["id"] in ids]
    own = next(o for o in rows if o["id"] == principal.org_id)
    for key in ("done", "error", "invited"):
        context.setdefault(key, None)
    return page(
        request,
        principal,
        "organisation.html.j2",
        status_code=status_code,
        title="Organisation",
        nav="organisation",
        own=own,
        members=[o for o in rows if o["id"] != principal.org_id],
        **context,
    )


def _problem(exc: HTTPException | ValidationError) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
    return str(exc.detail)


@router.get("/organisation")
def organisation_page(request: Request, principal: UserDep, db: ReadDB) -> Response:
    return _page(request, principal, db)


@router.post("/organisation/sharing")
def sharing_form(
    request: Request,
    principal: AdminDep,
    db: WriteDB,
    share: Annotated[str, Form(max_length=16)],
) -> Response:
    """What this organisation's coordinators may see (its own admins only)."""
    own = db.get(Organisation, principal.org_id)
    assert own is not None
    if share not in ("aggregates", "hosts"):
        return _page(request, principal, db, status_code=422, error="Choose aggregates or hosts.")
    set_own_sharing(db, principal, own.slug, share, client_addr(request))
    db.commit()
    return _page(request, principal, db, done=f"Your coordinators now see: {share}.")


@router.post("/organisation/members")
def member_form(
    request: Request,
    principal: AdminDep,
    db: WriteDB,
    slug: Annotated[str, Form(max_length=63)],
    name: Annotated[str, Form(max_length=200)],
    email: Annotated[str, Form(max_length=320)] = "",
    role: Annotated[str, Form(max_length=32)] = "",
    jurisdiction: Annotated[str, Form(max_length=8)] = "",
    parent: Annotated[str, Form(max_length=63)] = "",
) -> Response:
    """Add a member under this organisation (or under one of its members)."""
    try:
        body = OrgRequest(
            slug=slug.strip(),
            name=name,
            email=email,
            role=role or None,
            jurisdiction=jurisdiction.strip().upper() or None,
            parent=parent or None,
        )
        made = add_member(db, principal, body, client_addr(request))
    except (HTTPException, ValidationError) as exc:
        db.rollback()
        return _page(request, principal, db, status_code=422, error=_problem(exc))
    db.commit()
    return _page(request, principal, db, done=f"{made['name']} is now a member.")


@router.post("/organisations/{slug}/invitations")
def invitation_form(
    request: Request,
    principal: AdminDep,
    db: WriteDB,
    slug: str,
    username: Annotated[str, Form(max_length=150)],
    role: Annotated[str, Form(max_length=16)] = "admin",
) -> Response:
    """Invite a user; the page shows the link to hand them, once."""
    try:
        body = InviteRequest.model_validate({"username": username.strip(), "role": role})
        made = invite(db, principal, slug, body, client_addr(request))
    except HTTPException as exc:
        db.rollback()
        if exc.status_code == 404:
            raise
        return _page(request, principal, db, status_code=exc.status_code, error=_problem(exc))
    except ValidationError as exc:
        return _page(request, principal, db, status_code=422, error=_problem(exc))
    db.commit()
    base = (state_of(request).settings.public_url or str(request.base_url)).rstrip("/")
    return _page(request, principal, db, status_code=201, invited={**made, "url": base + made["link"]})
