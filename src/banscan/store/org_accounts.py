"""Accounts, API tokens, enrol secrets and enrolments as one organisation's admin sees them:
its own organisation's only, never a member's (sharing is about hosts, and read-only).

An API token acts in the organisation it was made for (`ApiToken.org_id`): a user's, that
user's; one made on the command line, the one `banscan token create --org` named. Lists filter in SQL; a row of another organisation asked for by id is None, which
the routes answer as the 404 of an unknown id."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from banscan.store.enrolment import enrolment_items
from banscan.store.models import (
    ENROLMENT_STATES,
    ApiToken,
    Enrolment,
    EnrolSecret,
    Host,
    User,
)
from banscan.store.paging import Page, page_rows
from banscan.store.scope import OrgScope


def _tokens_of(orgs: OrgScope) -> ColumnElement[bool]:
    return ApiToken.org_id == orgs.org_id


def users_in(session: Session, *, orgs: OrgScope) -> list[User]:
    """The caller's organisation's users, by name."""
    return list(session.scalars(select(User).where(User.org_id == orgs.org_id).order_by(User.username)))


def user_in(session: Session, user_id: int, *, orgs: OrgScope) -> User | None:
    """A user of the caller's organisation; None for another organisation's."""
    return session.scalar(select(User).where(User.id == user_id, User.org_id == orgs.org_id))


def tokens_in(session: Session, *, orgs: OrgScope) -> list[ApiToken]:
    """The API tokens acting in the caller's organisation, newest first."""
    return list(session.scalars(select(ApiToken).where(_tokens_of(orgs)).order_by(ApiToken.id.desc())))


def token_in(session: Session, token_id: int, *, orgs: OrgScope) -> bool:
    """Whether API token `token_id` acts in the caller's organisation."""
    return session.scalar(select(ApiToken.id).where(ApiToken.id == token_id, _tokens_of(orgs))) is not None


def secret_ids_in(session: Session, *, orgs: OrgScope) -> set[int]:
    """The ids of the caller's organisation's enrol secrets."""
    return set(session.scalars(select(EnrolSecret.id).where(EnrolSecret.org_id == orgs.org_id)))


def secret_in(session: Session, key: int | str, *, orgs: OrgScope) -> bool:
    """Whether the enrol secret `key` (id, or name when not all digits) is the caller's
    organisation's."""
    column = EnrolSecret.id if isinstance(key, int) or key.isdigit() else EnrolSecret.name
    value: Any = int(key) if column is EnrolSecret.id else key
    found = session.scalar(select(EnrolSecret.id).where(column == value, EnrolSecret.org_id == orgs.org_id))
    return found is not None


def _listing(orgs: OrgScope) -> Any:
    return (
        select(Enrolment, Host.hostname, Host.source, Host.last_seen_at, EnrolSecret.name)
        .outerjoin(Host, Host.id == Enrolment.host_id)
        .outerjoin(EnrolSecret, EnrolSecret.id == Enrolment.secret_id)
        .where(Enrolment.org_id == orgs.org_id)
    )


def enrolments_in(
    session: Session,
    state: str | None,
    *,
    limit: int,
    offset: int = 0,
    after_id: int | None = None,
    orgs: OrgScope,
) -> Page:
    """The caller's organisation's enrolments, oldest first; `state` keeps those in that state."""
    stmt = _listing(orgs)
    if state is not None:
        if state not in ENROLMENT_STATES:
            raise ValueError(f"state must be one of {', '.join(ENROLMENT_STATES)}")
        stmt = stmt.where(Enrolment.state == state)
    rows, total, next_cursor = page_rows(
        session, stmt, Enrolment.id, limit=limit, offset=offset, after_id=after_id
    )
    return Page(enrolment_items(rows), total, limit, offset, next_cursor, filters={"state": state})


def decisions_in(session: Session, limit: int = 20, *, orgs: OrgScope) -> list[dict[str, Any]]:
    """The latest enrolments of the caller's organisation admins decided on, newest first."""
    stmt = _listing(orgs).where(Enrolment.state != "pending").order_by(Enrolment.decided_at.desc())
    return enrolment_items(list(session.execute(stmt.order_by(Enrolment.id.desc()).limit(limit)).all()))


def enrolment_in(session: Session, enrolment_id: int, *, orgs: OrgScope) -> dict[str, Any] | None:
    """One enrolment of the caller's organisation, as the list shows it; None otherwise."""
    row = session.execute(_listing(orgs).where(Enrolment.id == enrolment_id)).first()
    return enrolment_items([row])[0] if row is not None else None
