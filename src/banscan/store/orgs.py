"""Organisations: the tree one server serves (a coordinator and its members), how it is kept
and walked.

- Every organisation but the top ones has a parent, named by its slug; the tree has no cycles
  (`set_parent` refuses to move an organisation under itself or one of its own members) and is
  walked iteratively, never further than it has organisations, so even a database edited by
  hand into a loop cannot hang a walk.
- `share_with_coordinators` is what an organisation's ancestors may see of it: `aggregates`
  (counts only, the default) or `hosts` (host-level detail too).
- The default organisation (id 1, slug `default`) is made by migration 0009 and holds every
  row from before organisations; whatever is written without an organisation of its own goes
  there.
- Every change is audited (`org.create`, `org.parent`, `org.sharing`) against the
  organisation it changes.
"""

from __future__ import annotations

import re
from collections import deque
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from banscan.store.audit import account_store, audit_org
from banscan.store.db import Database
from banscan.store.migrate import upgrade_db
from banscan.store.models import SHARING, Host, Organisation, User
from banscan.store.paging import iso

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
MAX_NAME = 200
MAX_CONTACT = 500
MAX_EMAIL = 320
# An address notices can be sent to: one mailbox, no display name, no spaces or brackets.
EMAIL_RE = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+$"
)
JURISDICTION_RE = re.compile(r"^[A-Z]{2}(?:-[A-Z0-9]{1,3})?$")  # ISO 3166-1 alpha-2, or 3166-2


# ---------------------------------------------------------------- checks


def _check_slug(slug: str) -> str:
    if not SLUG_RE.match(slug):
        raise ValueError(
            f"slug {slug!r} must be 1-63 characters: lower-case letters, digits and '-', "
            "starting with a letter or digit"
        )
    return slug


def _text(value: str, what: str, longest: int, *, required: bool) -> str:
    value = value.strip()
    if required and not value:
        raise ValueError(f"{what} must not be empty")
    if len(value) > longest or any(ord(c) < 32 or c == "\x7f" for c in value):
        raise ValueError(f"{what} must be at most {longest} characters, without control characters")
    return value


def _check_email(email: str) -> str:
    email = email.strip()
    if email and (len(email) > MAX_EMAIL or not EMAIL_RE.match(email)):
        raise ValueError(f"email {email!r} is not one plain address (name@example.org)")
    return email


def _check_role(role: str | None) -> str | None:
    from banscan.catalog.schema import ROLES

    if role is not None and role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    return role


def _check_jurisdiction(jurisdiction: str | None) -> str | None:
    if jurisdiction is not None and not JURISDICTION_RE.match(jurisdiction):
        raise ValueError(f"jurisdiction {jurisdiction!r} must be an ISO 3166 code such as US or US-TX")
    return jurisdiction


def _check_share(share: str) -> str:
    if share not in SHARING:
        raise ValueError(f"sharing must be one of {', '.join(SHARING)}, not {share!r}")
    return share


# ---------------------------------------------------------------- reading


def get_org(session: Session, slug: str) -> Organisation | None:
    return session.scalar(select(Organisation).where(Organisation.slug == slug))


def find_org(session: Session, slug: str) -> Organisation:
    """The organisation `slug` names; ValueError if there is none."""
    org = get_org(session, slug)
    if org is None:
        raise ValueError(f"no organisation {slug!r}")
    return org


def _parents(session: Session) -> dict[int, int | None]:
    return {i: p for i, p in session.execute(select(Organisation.id, Organisation.parent_id))}


def ancestors(session: Session, org_id: int) -> list[int]:
    """The ids of an organisation's coordinators, its parent first, the top one last."""
    parents = _parents(session)
    out: list[int] = []
    current = parents.get(org_id)
    while current is not None:
        if current == org_id or current in out or len(out) >= len(parents):
            raise RuntimeError(f"the organisations above {org_id} form a cycle")
        out.append(current)
        current = parents.get(current)
    return out


def descendants(session: Session, org_id: int) -> list[int]:
    """The ids of an organisation's members, their members and so on, breadth first (not
    itself)."""
    parents = _parents(session)
    children: dict[int, list[int]] = {}
    for child, parent in sorted(parents.items()):
        if parent is not None:
            children.setdefault(parent, []).append(child)
    out: list[int] = []
    seen = {org_id}
    queue = deque(children.get(org_id, []))
    while queue:
        child = queue.popleft()
        if child in seen:  # a loop: each organisation is listed once, the walk ends
            continue
        seen.add(child)
        out.append(child)
        queue.extend(children.get(child, []))
    return out


def members_by_slug(session: Session, ids: list[int]) -> dict[str, int]:
    """slug -> id of the organisations `ids`."""
    q = select(Organisation.slug, Organisation.id).where(Organisation.id.in_(ids))
    return {slug: oid for slug, oid in session.execute(q)}


def user_count(session: Session, org_id: int) -> int:
    """How many users organisation `org_id` has."""
    return session.scalar(select(func.count()).select_from(User).where(User.org_id == org_id)) or 0


def _counts(session: Session, column: Any) -> dict[int, int]:
    return {k: n for k, n in session.execute(select(column, func.count()).group_by(column)) if k is not None}


def org_json(
    org: Organisation, parent: str | None, members: int = 0, hosts: int = 0, users: int = 0
) -> dict[str, Any]:
    return {
        "id": org.id,
        "slug": org.slug,
        "name": org.name,
        "parent": parent,
        "share_with_coordinators": org.share_with_coordinators,
        "contact": org.contact,
        "email": org.email,
        "role": org.role,
        "jurisdiction": org.jurisdiction,
        "members": members,
        "hosts": hosts,
        "users": users,
        "created_at": iso(org.created_at),
    }


def list_orgs(session: Session) -> list[dict[str, Any]]:
    """Every organisation by slug, with its parent's slug, how many member organisations,
    hosts and users it has itself (not counting its members')."""
    rows = list(session.scalars(select(Organisation).order_by(Organisation.slug)))
    slugs = {o.id: o.slug for o in rows}
    members = _counts(session, Organisation.parent_id)
    hosts = _counts(session, Host.org_id)
    users = _counts(session, User.org_id)
    return [
        org_json(
            o,
            slugs.get(o.parent_id) if o.parent_id is not None else None,
            members.get(o.id, 0),
            hosts.get(o.id, 0),
            users.get(o.id, 0),
        )
        for o in rows
    ]


# ---------------------------------------------------------------- changing


def add_org(
    session: Session,
    slug: str,
    name: str,
    *,
    parent: str | None = None,
    share: str = "aggregates",
    contact: str = "",
    email: str = "",
    role: str | None = None,
    jurisdiction: str | None = None,
    actor: str,
    remote_addr: str = "",
) -> Organisation:
    """A new organisation, a member of `parent` (a slug) if given. ValueError for a bad slug,
    name, sharing, contact, email, role or jurisdiction, a slug taken, or an unknown parent."""
    slug = _check_slug(slug)
    name = _text(name, "name", MAX_NAME, required=True)
    contact = _text(contact, "contact", MAX_CONTACT, required=False)
    share = _check_share(share)
    email = _check_email(email)
    role = _check_role(role)
    jurisdiction = _check_jurisdiction(jurisdiction)
    if parent == slug:
        raise ValueError(f"organisation {slug!r} cannot be its own parent")
    if get_org(session, slug) is not None:
        raise ValueError(f"an organisation {slug!r} already exists")
    above = find_org(session, parent) if parent is not None else None
    org = Organisation(
        slug=slug,
        name=name,
        parent_id=above.id if above is not None else None,
        share_with_coordinators=share,
        contact=contact,
        email=email,
        role=role,
        jurisdiction=jurisdiction,
    )
    try:
        with session.begin_nested():
            session.add(org)
            session.flush()
    except IntegrityError:  # made meanwhile by another request
        raise ValueError(f"an organisation {slug!r} already exists") from None
    audit_org(session, org.id, actor, "org.create", slug, remote_addr, name=name, parent=parent, share=share)
    return org


def set_parent(session: Session, slug: str, parent: str | None, *, actor: str, remote_addr: str = "") -> bool:
    """Make `slug` a member of `parent` (None: a top organisation); whether anything changed.
    ValueError for an unknown organisation, or a parent that is `slug` itself or one of its
    members (the tree would have a cycle)."""
    # Every organisation is locked, so two moves at once cannot each make half of a cycle.
    session.execute(select(Organisation.id).with_for_update()).all()
    org = find_org(session, slug)
    above = find_org(session, parent) if parent is not None else None
    new_parent = above.id if above is not None else None
    if new_parent is not None and (new_parent == org.id or new_parent in descendants(session, org.id)):
        raise ValueError(
            f"organisation {parent!r} is {slug!r} or one of its members: the tree would have a cycle"
        )
    if org.parent_id == new_parent:
        return False
    old = session.get(Organisation, org.parent_id) if org.parent_id is not None else None
    org.parent_id = new_parent
    session.flush()
    audit_org(
        session,
        org.id,
        actor,
        "org.parent",
        slug,
        remote_addr,
        parent=parent,
        previous=old.slug if old is not None else None,
    )
    return True


def set_sharing(session: Session, slug: str, share: str, *, actor: str, remote_addr: str = "") -> bool:
    """Set what an organisation's coordinators may see of it; whether anything changed."""
    share = _check_share(share)
    org = find_org(session, slug)
    if org.share_with_coordinators == share:
        return False
    previous, org.share_with_coordinators = org.share_with_coordinators, share
    session.flush()
    audit_org(session, org.id, actor, "org.sharing", slug, remote_addr, share=share, previous=previous)
    return True


UNSET: Any = object()  # `set_details`: leave this field as it is


def set_details(
    session: Session,
    slug: str,
    *,
    actor: str,
    remote_addr: str = "",
    name: str | None = None,
    contact: str | None = None,
    email: str | None = None,
    role: str | None = UNSET,
    jurisdiction: str | None = UNSET,
) -> list[str]:
    """Change an organisation's name, contact, notice address, role or jurisdiction (None for
    role and jurisdiction: the server's); the fields that changed. ValueError for a bad value."""
    org = find_org(session, slug)
    wanted: dict[str, Any] = {}
    if name is not None:
        wanted["name"] = _text(name, "name", MAX_NAME, required=True)
    if contact is not None:
        wanted["contact"] = _text(contact, "contact", MAX_CONTACT, required=False)
    if email is not None:
        wanted["email"] = _check_email(email)
    if role is not UNSET:
        wanted["role"] = _check_role(role)
    if jurisdiction is not UNSET:
        wanted["jurisdiction"] = _check_jurisdiction(jurisdiction)
    changed = {k: v for k, v in wanted.items() if getattr(org, k) != v}
    for k, v in changed.items():
        setattr(org, k, v)
    if changed:
        session.flush()
        audit_org(session, org.id, actor, "org.details", slug, remote_addr, **changed)
    return sorted(changed)


# ---------------------------------------------------------------- the command line


def create_org(
    db_url: str,
    slug: str,
    name: str,
    *,
    parent: str | None = None,
    share: str = "aggregates",
    contact: str = "",
    email: str = "",
    role: str | None = None,
    jurisdiction: str | None = None,
) -> dict[str, Any]:
    """Make an organisation from the command line (migrating first); audited as `cli`."""
    with account_store(db_url) as s:
        org = add_org(
            s,
            slug,
            name,
            parent=parent,
            share=share,
            contact=contact,
            email=email,
            role=role,
            jurisdiction=jurisdiction,
            actor="cli",
        )
        return org_json(org, parent)


def orgs(db_url: str) -> list[dict[str, Any]]:
    """Every organisation, for the command line (migrating first)."""
    upgrade_db(db_url)
    db = Database(db_url)
    try:
        with db.reading() as s:
            return list_orgs(s)
    finally:
        db.dispose()
