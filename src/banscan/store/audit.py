"""The audit log's writer, and the write session the command line's account and organisation
commands run in: kept apart from `accounts` and `orgs` so that each may use them without
importing the other."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from banscan.store.db import Database
from banscan.store.migrate import upgrade_db
from banscan.store.models import AuditEntry


def audit(
    session: Session, actor: str, action: str, target: str = "", remote_addr: str = "", **detail: object
) -> None:
    """Record an action that concerns no organisation in particular (or none known here)."""
    audit_org(session, None, actor, action, target, remote_addr, **detail)


def audit_org(
    session: Session,
    org_id: int | None,
    actor: str,
    action: str,
    target: str = "",
    remote_addr: str = "",
    **detail: object,
) -> None:
    """Record an action on the organisation `org_id` (None: the server itself)."""
    session.add(
        AuditEntry(
            org_id=org_id,
            actor=actor[:255],
            action=action,
            target=target[:255],
            detail=detail,
            remote_addr=remote_addr[:64],
        )
    )


@contextmanager
def account_store(db_url: str) -> Iterator[Session]:
    """A write session on the database at `db_url` (migrated first), committed at the end: for
    the command line's account commands."""
    upgrade_db(db_url)
    db = Database(db_url)
    try:
        with db.writing() as s:
            yield s
    finally:
        db.dispose()
