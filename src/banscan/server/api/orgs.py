"""Organisations as their users see them: the caller's own and its members (a tree), adding a
member, changing details, a member's sharing, and inviting users.

Who may do what:
- read: the caller's organisation and its descendants (names, sharing, counts; never a
  member's hosts unless it shares them, which the host routes decide);
- add a member: an admin, under their own organisation or one of its descendants;
- details (name, contact, notice address, role, jurisdiction): an admin of the organisation
  or of one of its ancestors (a coordinator addresses its notices);
- sharing: an admin of the organisation itself — what a coordinator sees is the member's call;
- invite a user: an admin of the organisation; an ancestor's admin only while the organisation
  has no users yet (its first officer). After that a coordinator cannot make itself an account
  in a member, which would see what the member did not share."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Request
from pydantic import BaseModel, Field, field_validator
from sqlalchemy.orm import Session

from banscan.server.api.common import no_control
from banscan.server.deps import AdminDep, Principal, ReadDB, UserDep, WriteDB, client_addr
from banscan.store import orgs as store
from banscan.store.invites import invite_path, invite_user
from banscan.store.models import Organisation

router = APIRouter(tags=["organisations"])

Slug = Annotated[str, Path(max_length=63, pattern=store.SLUG_RE.pattern)]


class OrgRequest(BaseModel):
    slug: str = Field(min_length=1, max_length=63)
    name: str = Field(min_length=1, max_length=store.MAX_NAME)
    parent: str | None = Field(default=None, max_length=63, description="default: the caller's organisation")
    contact: str = Field(default="", max_length=store.MAX_CONTACT)
    email: str = Field(default="", max_length=store.MAX_EMAIL)
    role: str | None = Field(default=None, max_length=32, description="default: the server's")
    jurisdiction: str | None = Field(default=None, max_length=8, description="default: the server's")

    _clean = field_validator("slug", "name", "contact", "email")(no_control)


class OrgChange(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=store.MAX_NAME)
    contact: str | None = Field(default=None, max_length=store.MAX_CONTACT)
    email: str | None = Field(default=None, max_length=store.MAX_EMAIL)
    role: str | None = Field(default=None, max_length=32)
    jurisdiction: str | None = Field(default=None, max_length=8)
    server_defaults: bool = Field(default=False, description="use the server's role and jurisdiction again")

    _clean = field_validator("name", "contact", "email")(no_control)


class SharingRequest(BaseModel):
    share: Literal["aggregates", "hosts"]


class InviteRequest(BaseModel):
    username: str = Field(min_length=1, max_length=150)
    role: Literal["admin", "viewer"] = "admin"

    _clean = field_validator("username")(no_control)


def visible(db: Session, principal: Principal) -> list[int]:
    """The caller's organisation first, then its descendants."""
    return [principal.org_id, *store.descendants(db, principal.org_id)]


def visible_org(db: Session, principal: Principal, slug: str) -> Organisation:
    """Organisation `slug` if the caller may see it (its own or a descendant); else 404, as for
    an unknown slug (saying it exists would tell what the tree holds elsewhere)."""
    org = store.get_org(db, slug)
    if org is None or org.id not in visible(db, principal):
        raise HTTPException(404, "organisation not found")
    return org


def _refusal(exc: ValueError) -> HTTPException:
    return HTTPException(409 if "already exists" in str(exc) else 422, str(exc))


@router.get("/orgs")
def list_orgs(principal: UserDep, db: ReadDB) -> dict[str, Any]:
    """The caller's organisation and its members, their members and so on: slug, name, parent,
    sharing, notice address, role, jurisdiction, and counts of members, hosts and users."""
    ids = set(visible(db, principal))
    items = [o for o in store.list_orgs(db) if o["id"] in ids]
    return {"org": principal.org_id, "items": items}


def add_member(db: Session, principal: Principal, body: OrgRequest, remote_addr: str) -> dict[str, Any]:
    """Add `body` under the caller's organisation (or the descendant `body.parent` names);
    HTTPException for a refusal. Not committed."""
    parent = (
        visible_org(db, principal, body.parent) if body.parent else db.get(Organisation, principal.org_id)
    )
    assert parent is not None
    try:
        org = store.add_org(
            db,
            body.slug,
            body.name,
            parent=parent.slug,
            contact=body.contact,
            email=body.email,
            role=body.role,
            jurisdiction=body.jurisdiction,
            actor=principal.name,
            remote_addr=remote_addr,
        )
    except ValueError as exc:
        raise _refusal(exc) from None
    return store.org_json(org, parent.slug)


def invite(
    db: Session, principal: Principal, slug: str, body: InviteRequest, remote_addr: str
) -> dict[str, Any]:
    """Invite `body.username` into organisation `slug` (see the module's rules); HTTPException
    for a refusal. Not committed."""
    org = visible_org(db, principal, slug)
    if org.id != principal.org_id and store.user_count(db, org.id):
        raise HTTPException(403, "this organisation has users: its own admins invite the others")
    try:
        invitation = invite_user(
            db, body.username, body.role, org_id=org.id, actor=principal.name, remote_addr=remote_addr
        )
    except ValueError as exc:
        raise _refusal(exc) from None
    return {
        "username": body.username,
        "role": body.role,
        "org": slug,
        "link": invite_path(invitation.token),
        "expires_at": invitation.expires.isoformat(),
    }


def set_own_sharing(db: Session, principal: Principal, slug: str, share: str, remote_addr: str) -> bool:
    """Set organisation `slug`'s sharing, if it is the caller's own (403 otherwise)."""
    org = visible_org(db, principal, slug)
    if org.id != principal.org_id:
        raise HTTPException(403, "only the organisation's own admins decide what its coordinators see")
    return store.set_sharing(db, slug, share, actor=principal.name, remote_addr=remote_addr)


@router.post("/orgs", status_code=201)
def post_org(body: OrgRequest, request: Request, principal: AdminDep, db: WriteDB) -> dict[str, Any]:
    """Add a member organisation under the caller's organisation (or under one of its members,
    named by `parent`). It shares aggregates only until its own admin decides otherwise."""
    made = add_member(db, principal, body, client_addr(request))
    db.commit()
    return made


@router.patch("/orgs/{slug}")
def patch_org(
    slug: Slug, body: OrgChange, request: Request, principal: AdminDep, db: WriteDB
) -> dict[str, Any]:
    """Change an organisation's name, contact, notice address, role or jurisdiction (admin of
    it or of a coordinator above it)."""
    visible_org(db, principal, slug)
    if body.server_defaults and (body.role is not None or body.jurisdiction is not None):
        raise HTTPException(422, "server_defaults cannot be given with role or jurisdiction")
    try:
        changed = store.set_details(
            db,
            slug,
            actor=principal.name,
            remote_addr=client_addr(request),
            name=body.name,
            contact=body.contact,
            email=body.email,
            role=None if body.server_defaults else (body.role if body.role is not None else store.UNSET),
            jurisdiction=None
            if body.server_defaults
            else (body.jurisdiction if body.jurisdiction is not None else store.UNSET),
        )
    except ValueError as exc:
        raise _refusal(exc) from None
    db.commit()
    row = next(o for o in store.list_orgs(db) if o["slug"] == slug)
    return {**row, "changed": changed}


@router.put("/orgs/{slug}/sharing")
def put_sharing(
    slug: Slug, body: SharingRequest, request: Request, principal: AdminDep, db: WriteDB
) -> dict[str, Any]:
    """Set what the organisation's coordinators may see of it: `aggregates` or `hosts` (admin of
    that organisation only: a coordinator cannot widen what it sees)."""
    changed = set_own_sharing(db, principal, slug, body.share, client_addr(request))
    db.commit()
    return {"slug": slug, "share_with_coordinators": body.share, "changed": changed}


@router.post("/orgs/{slug}/invitations", status_code=201)
def post_invitation(
    slug: Slug, body: InviteRequest, request: Request, principal: AdminDep, db: WriteDB
) -> dict[str, Any]:
    """Make a user of the organisation who chooses their password with the returned link (once,
    within 7 days). An admin of a coordinator above it may invite only its first user."""
    made = invite(db, principal, slug, body, client_addr(request))
    db.commit()
    return made
