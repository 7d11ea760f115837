"""Enrolment: which secrets let an agent enrol, and what enrolling as a host may do.

The rules:

- **Secrets.** An agent presents the server's own secret (`banscan serve`'s
  `--enroll-secret-file` / $BANSCAN_ENROLL_SECRET: unscoped, never expires) or one made with
  `banscan enrol-secret add` / `POST /api/v1/enrol-secrets`: `bse_<key id>_<random>`, kept as an
  argon2 hash and found by its key id, optionally scoped to a site and/or a tag and expiring. An
  expired or revoked secret is refused (403). A scoped secret's site replaces the one the agent
  sends and its tag is added to the host's tags, at every enrolment with it.
- **A new identifier** makes a new host and hands out its token — also when its host name is
  that of a known (say, imported) host: nothing is ever claimed by name.
- **A known identifier is never handed over on the secret alone.** An agent that proves it is
  the host's agent (it presents a live token of that host, `Authorization: Bearer bsa_…`) gets a
  new token in exchange (rotation: the old one is revoked, the agent's enrolment time is kept).
  Any other enrolment as a known host — the host of another agent, or one an inventory import
  created — is held *pending*: the agent gets a pending secret (`bsp_…`, shown once, kept as
  its SHA-256 digest) and no token, and polls with it. An admin approves (the host's tokens are
  revoked at once; the agent's next poll gets a new token, whose enrolment time is then) or
  denies it (the poll gets a 403).
- **One live token per host**: handing out a token revokes the host's others.
- **Organisations.** A secret belongs to an organisation (the default one for the server's own
  secret and for those the existing commands make); an agent enrolling with it lands there,
  its host is looked up by identifier within that organisation only, and an enrolment held
  there is collected only with a secret of the same organisation.

How long an agent has been enrolled matters after enrolment: `banscan.store.apply` lets a clean
scan verify only removals recorded after the reporting agent enrolled.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from banscan.store import sites
from banscan.store.accounts import (
    AGENT_TOKEN_PREFIX,
    hash_secret,
    new_token,
    token_digest,
    verify_password,
    verify_secret,
)
from banscan.store.audit import account_store, audit_org
from banscan.store.db import Database
from banscan.store.migrate import upgrade_db
from banscan.store.models import (
    DEFAULT_ORG_ID,
    ENROLMENT_STATES,
    AgentToken,
    Enrolment,
    EnrolSecret,
    Host,
    utcnow,
)
from banscan.store.paging import Page, iso, page_rows

SECRET_PREFIX = "bse_"
PENDING_PREFIX = "bsp_"
SERVER_SECRET = "server"  # how the server's own secret is named in lists and the audit log
MAX_PENDING = 10_000  # pending enrolments kept at once; more are refused (429) until decided
POLL_SECONDS = 60  # what the server suggests between an agent's polls of a pending enrolment
REASON_AGENT_HOST = "agent-host"
REASON_IMPORTED_HOST = "imported-host"


class EnrolRefused(Exception):
    """An enrolment the server turns down: `status` (403, 422, 429) and the reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


# ---------------------------------------------------------------- secrets


@dataclass(frozen=True)
class Scope:
    """Which secret an agent enrolled with and what it forces on the host."""

    secret_id: int | None  # None: the server's own secret
    name: str
    site: str | None = None
    tag: str | None = None
    org_id: int = DEFAULT_ORG_ID  # where hosts enrolled with it belong


def _name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 100 or any(ord(c) < 32 or c == "\x7f" for c in name):
        raise ValueError("secret name must be 1-100 characters, without control characters")
    return name


def add_enrol_secret(
    session: Session,
    name: str,
    *,
    created_by: str,
    org_id: int = DEFAULT_ORG_ID,
    site: str | None = None,
    tag: str | None = None,
    expires_at: dt.datetime | None = None,
    remote_addr: str = "",
) -> tuple[str, EnrolSecret]:
    """A new enrol secret of organisation `org_id` (agents enrolling with it land there): the
    raw secret (shown once) and its row. ValueError for a bad or taken name, site or tag."""
    name = _name(name)
    site = sites.clean_site(site) if site else None
    tag = sites.clean_tag(tag) if tag else None
    if session.scalar(select(EnrolSecret.id).where(EnrolSecret.name == name)) is not None:
        raise ValueError(f"an enrol secret named {name!r} already exists")
    key_id = secrets.token_hex(6)
    raw = f"{SECRET_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    row = EnrolSecret(
        org_id=org_id,
        name=name,
        key_id=key_id,
        secret_hash=hash_secret(raw),
        site=site or None,
        tag=tag or None,
        created_by=created_by[:255],
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    audit_org(
        session,
        row.org_id,
        created_by,
        "enrol_secret.create",
        name,
        remote_addr,
        secret_id=row.id,
        site=row.site,
        tag=row.tag,
        expires_at=iso(expires_at),
    )
    return raw, row


def secret_json(row: EnrolSecret, now: dt.datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    if row.revoked_at is not None:
        status = "revoked"
    elif row.expires_at is not None and row.expires_at <= now:
        status = "expired"
    else:
        status = "active"
    return {
        "id": row.id,
        "name": row.name,
        "site": row.site,
        "tag": row.tag,
        "status": status,
        "created_by": row.created_by,
        "created_at": iso(row.created_at),
        "expires_at": iso(row.expires_at),
        "revoked_at": iso(row.revoked_at),
        "last_used_at": iso(row.last_used_at),
    }


def list_enrol_secrets(session: Session) -> list[dict[str, Any]]:
    now = utcnow()
    return [secret_json(r, now) for r in session.scalars(select(EnrolSecret).order_by(EnrolSecret.id))]


def find_enrol_secret(session: Session, key: int | str) -> EnrolSecret | None:
    """A secret by id, or by name (a string that is not all digits)."""
    if isinstance(key, int) or key.isdigit():
        return session.get(EnrolSecret, int(key))
    return session.scalar(select(EnrolSecret).where(EnrolSecret.name == key))


def revoke_enrol_secret(
    session: Session, key: int | str, *, actor: str, remote_addr: str = ""
) -> EnrolSecret | None:
    """Revoke a secret (by id or name): agents can no longer enrol with it, nor collect an
    enrolment they asked for with it. None if unknown; ValueError if already revoked."""
    row = find_enrol_secret(session, key)
    if row is None:
        return None
    if row.revoked_at is not None:
        raise ValueError(f"enrol secret {row.name!r} is already revoked")
    row.revoked_at = utcnow()
    session.flush()
    audit_org(session, row.org_id, actor, "enrol_secret.revoke", row.name, remote_addr, secret_id=row.id)
    return row


def check_enrol_secret(session: Session, given: str, server_hash: str | None) -> Scope:
    """The scope of the secret an agent presented; EnrolRefused (403) for a wrong, expired or
    revoked one. A `bse_` secret is looked up by its key id; anything else is checked against
    the server's own secret (`server_hash`; None: the server has none)."""
    if given.startswith(SECRET_PREFIX):
        parts = given.split("_", 2)
        row = None
        if len(parts) == 3 and 0 < len(parts[1]) <= 32:
            row = session.scalar(select(EnrolSecret).where(EnrolSecret.key_id == parts[1]))
        if row is not None:
            if not verify_password(row.secret_hash, given):
                raise EnrolRefused(403, "wrong enrolment secret")
            now = utcnow()
            if row.revoked_at is not None:
                raise EnrolRefused(403, f"enrolment secret {row.name!r} was revoked")
            if row.expires_at is not None and row.expires_at <= now:
                raise EnrolRefused(403, f"enrolment secret {row.name!r} expired")
            row.last_used_at = now
            return Scope(row.id, row.name, row.site or None, row.tag or None, row.org_id)
    if server_hash is None:
        raise EnrolRefused(
            403,
            "wrong enrolment secret: enrolment with a server secret is disabled on this server "
            "(use one made with `banscan enrol-secret add`)",
        )
    if not verify_secret(server_hash, given):
        raise EnrolRefused(403, "wrong enrolment secret")
    return Scope(None, SERVER_SECRET)


def create_enrol_secret(
    db_url: str,
    name: str,
    *,
    site: str | None = None,
    tag: str | None = None,
    expires_at: dt.datetime | None = None,
    org: str | None = None,
) -> str:
    """Make an enrol secret of the organisation whose slug is `org` (None: the default one)
    from the command line (migrating first); the raw secret, once."""
    from banscan.store.orgs import find_org

    with account_store(db_url) as s:
        org_id = find_org(s, org).id if org else DEFAULT_ORG_ID
        raw, _ = add_enrol_secret(
            s, name, created_by="cli", org_id=org_id, site=site, tag=tag, expires_at=expires_at
        )
        return raw


def enrol_secrets(db_url: str) -> list[dict[str, Any]]:
    """Every enrol secret (never the secret itself), for the command line."""
    upgrade_db(db_url)
    db = Database(db_url)
    try:
        with db.reading() as s:
            return list_enrol_secrets(s)
    finally:
        db.dispose()


def revoke_secret(db_url: str, key: str) -> dict[str, Any]:
    """Revoke an enrol secret from the command line; ValueError if unknown or already revoked."""
    upgrade_db(db_url)
    db = Database(db_url)
    try:
        with db.writing() as s:
            row = revoke_enrol_secret(s, key, actor="cli")
            if row is None:
                raise ValueError(f"no enrol secret {key!r}")
            return secret_json(row)
    finally:
        db.dispose()


# ---------------------------------------------------------------- enrolling


@dataclass(frozen=True)
class EnrolRequest:
    """What an agent sent to enrol (`site`/`tags` None: not sent)."""

    identifier: str
    hostname: str
    platform: str = ""
    site: str | None = None
    tags: list[str] | None = None
    remote_addr: str = ""


@dataclass(frozen=True)
class Outcome:
    """What enrolling did. `kind`: "enrolled" (a new host), "rotated" (a token exchanged for a
    new one), "collected" (an approved enrolment's token handed out) — each with the host and
    its new token — or "pending" (held for an admin; `pending_secret` only when just made)."""

    kind: str
    host_id: int | None = None
    token: str | None = None
    enrolment_id: int | None = None
    pending_secret: str | None = None


@dataclass(frozen=True)
class _Labels:
    site: str | None
    tags: list[str] | None
    scope_tag: str | None


def _labels(scope: Scope, site: str | None, tags: list[str] | None) -> _Labels:
    """What enrolling sets on the host: the scope's site instead of the agent's, its tag added."""
    if scope.site:
        site = scope.site
    if tags is not None and scope.tag:
        try:
            tags = sites.clean_tags([*tags, scope.tag])
        except ValueError as exc:
            raise EnrolRefused(422, f"with the secret's tag {scope.tag!r}: {exc}") from None
    return _Labels(site, tags, scope.tag)


def _set_labels(session: Session, host: Host, labels: _Labels) -> None:
    if labels.site is not None:
        host.site = labels.site
    if labels.tags is not None:
        sites.set_tags(session, host.id, labels.tags)
    elif labels.scope_tag:
        current = sites.tags_of(session, [host.id])[host.id]
        if labels.scope_tag not in current:
            keep = current[: sites.MAX_TAGS - 1]
            sites.set_tags(session, host.id, [*keep, labels.scope_tag])


def _update_host(session: Session, host: Host, hostname: str, platform: str, labels: _Labels) -> None:
    host.hostname = hostname
    if platform:
        host.platform = platform
    _set_labels(session, host, labels)


def _revoke_tokens(session: Session, host_id: int, now: dt.datetime) -> None:
    session.execute(
        update(AgentToken)
        .where(AgentToken.host_id == host_id, AgentToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def _issue_token(session: Session, host_id: int, remote_addr: str, enrolled_at: dt.datetime) -> str:
    """A new token for the host (its others revoked); the raw token, once."""
    now = utcnow()
    _revoke_tokens(session, host_id, now)
    raw = new_token(AGENT_TOKEN_PREFIX)
    session.add(
        AgentToken(
            host_id=host_id,
            token_hash=token_digest(raw),
            remote_addr=remote_addr[:64],
            created_at=now,
            enrolled_at=enrolled_at,
        )
    )
    session.flush()
    return raw


def _proven(session: Session, token: str, host_id: int) -> dt.datetime | None:
    """When the agent whose live token `token` is (of this host) enrolled; None if it is not one."""
    row = session.execute(
        select(AgentToken.host_id, AgentToken.revoked_at, AgentToken.enrolled_at, AgentToken.created_at)
        .where(AgentToken.token_hash == token_digest(token))
        .with_for_update()
    ).first()
    if row is None or row.revoked_at is not None or row.host_id != host_id:
        return None
    enrolled: dt.datetime = row.enrolled_at or row.created_at
    return enrolled


def _hold(
    session: Session, req: EnrolRequest, scope: Scope, labels: _Labels, host: Host
) -> tuple[Enrolment, str]:
    waiting = session.scalar(select(func.count()).where(Enrolment.state == "pending")) or 0
    if waiting >= MAX_PENDING:
        raise EnrolRefused(429, "too many enrolments are waiting for an admin; try again later")
    raw = PENDING_PREFIX + secrets.token_urlsafe(32)
    row = Enrolment(
        org_id=scope.org_id,
        identifier=req.identifier,
        hostname=req.hostname,
        platform=req.platform,
        site=labels.site,
        tags=labels.tags,
        scope_tag=labels.scope_tag,
        reason=REASON_IMPORTED_HOST if host.source == "import" else REASON_AGENT_HOST,
        host_id=host.id,
        secret_id=scope.secret_id,
        request_hash=token_digest(raw),
        state="pending",
        remote_addr=req.remote_addr[:64],
    )
    session.add(row)
    session.flush()
    return row, raw


def _collect(session: Session, req: EnrolRequest, scope: Scope, pending_secret: str) -> Outcome | None:
    """The enrolment a pending secret names, if it is this identifier's and was asked for in
    the organisation of the secret now presented: still pending, or its token once approved.
    None for an unknown one (the agent asks anew)."""
    row = session.scalar(
        select(Enrolment).where(Enrolment.request_hash == token_digest(pending_secret)).with_for_update()
    )
    if row is None or row.identifier != req.identifier or row.org_id != scope.org_id:
        return None
    if row.state == "pending":
        return Outcome("pending", enrolment_id=row.id)
    if row.state == "denied":
        raise EnrolRefused(403, "this enrolment was denied by an admin")
    if row.state == "enrolled":
        raise EnrolRefused(403, "this enrolment's token was already handed out; enrol again")
    host = session.get(Host, row.host_id, with_for_update=True) if row.host_id is not None else None
    if host is None:  # deleted since it was approved: the approval stands for the identifier
        host = _host_for(session, row.org_id, row.identifier, row.hostname, row.platform)
    now = utcnow()
    raw = _issue_token(session, host.id, req.remote_addr, now)
    row.state, row.enrolled_at, row.host_id = "enrolled", now, host.id
    session.flush()
    return Outcome("collected", host.id, raw, row.id)


def _find_host(session: Session, org_id: int, identifier: str) -> Host | None:
    """The host an identifier names within an organisation (locked)."""
    return session.scalar(
        select(Host).where(Host.org_id == org_id, Host.identifier == identifier).with_for_update()
    )


def _host_for(session: Session, org_id: int, identifier: str, hostname: str, platform: str) -> Host:
    host = _find_host(session, org_id, identifier)
    if host is None:
        host = Host(
            org_id=org_id,
            identifier=identifier,
            hostname=hostname,
            platform=platform,
            site="",
            source="agent",
        )
        session.add(host)
        session.flush()
    return host


def enrol(
    session: Session,
    req: EnrolRequest,
    scope: Scope,
    *,
    proof: str | None = None,
    pending_secret: str | None = None,
) -> Outcome:
    """Enrol an agent whose secret was checked (`check_enrol_secret` gave `scope`), by the rules
    of this module: `proof` is an agent token it presents, `pending_secret` the one it was
    given when its enrolment was held. Flushes, does not commit; EnrolRefused for a denied or
    spent enrolment, a scope tag too many, or too many waiting enrolments."""
    labels = _labels(scope, req.site, req.tags)
    if pending_secret:
        collected = _collect(session, req, scope, pending_secret)
        if collected is not None:
            return collected
    host = _find_host(session, scope.org_id, req.identifier)
    if host is None:
        host = Host(
            org_id=scope.org_id,
            identifier=req.identifier,
            hostname=req.hostname,
            platform=req.platform,
            site=labels.site or "",
            source="agent",
        )
        session.add(host)
        session.flush()
        _set_labels(session, host, labels)
        raw = _issue_token(session, host.id, req.remote_addr, utcnow())
        return Outcome("enrolled", host.id, raw)
    enrolled_at = _proven(session, proof, host.id) if proof else None
    if enrolled_at is not None:
        _update_host(session, host, req.hostname, req.platform, labels)
        raw = _issue_token(session, host.id, req.remote_addr, enrolled_at)
        return Outcome("rotated", host.id, raw)
    row, raw = _hold(session, req, scope, labels, host)
    return Outcome("pending", enrolment_id=row.id, pending_secret=raw)


# ---------------------------------------------------------------- admins decide


def enrolment_json(
    row: Enrolment, host: dict[str, Any] | None = None, secret: str | None = None
) -> dict[str, Any]:
    return {
        "id": row.id,
        "state": row.state,
        "identifier": row.identifier,
        "hostname": row.hostname,
        "platform": row.platform,
        "site": row.site,
        "tags": row.tags,
        "scope_tag": row.scope_tag,
        "reason": row.reason,
        "host_id": row.host_id,
        "host": host,
        "secret": secret if row.secret_id is not None else SERVER_SECRET,
        "created_at": iso(row.created_at),
        "remote_addr": row.remote_addr,
        "decided_at": iso(row.decided_at),
        "decided_by": row.decided_by,
        "enrolled_at": iso(row.enrolled_at),
    }


def _listing() -> Any:
    return (
        select(Enrolment, Host.hostname, Host.source, Host.last_seen_at, EnrolSecret.name)
        .outerjoin(Host, Host.id == Enrolment.host_id)
        .outerjoin(EnrolSecret, EnrolSecret.id == Enrolment.secret_id)
    )


def enrolment_items(rows: list[Any]) -> list[dict[str, Any]]:
    """Rows of (enrolment, hostname, source, last seen, secret name) as the API gives them."""
    out = []
    for row, hostname, source, last_seen, secret in rows:
        host = None
        if row.host_id is not None and hostname is not None:
            host = {"hostname": hostname, "source": source, "last_seen_at": iso(last_seen)}
        out.append(enrolment_json(row, host, secret))
    return out


def list_enrolments(
    session: Session, state: str | None, *, limit: int, offset: int = 0, after_id: int | None = None
) -> Page:
    """Enrolments held for admins, oldest first; `state` keeps those in that state."""
    stmt = _listing()
    if state is not None:
        if state not in ENROLMENT_STATES:
            raise ValueError(f"state must be one of {', '.join(ENROLMENT_STATES)}")
        stmt = stmt.where(Enrolment.state == state)
    rows, total, next_cursor = page_rows(
        session, stmt, Enrolment.id, limit=limit, offset=offset, after_id=after_id
    )
    return Page(enrolment_items(rows), total, limit, offset, next_cursor, filters={"state": state})


def recent_decisions(session: Session, limit: int = 20) -> list[dict[str, Any]]:
    """The latest enrolments admins decided on, newest first."""
    stmt = _listing().where(Enrolment.state != "pending").order_by(Enrolment.decided_at.desc())
    return enrolment_items(list(session.execute(stmt.order_by(Enrolment.id.desc()).limit(limit)).all()))


def _pending(session: Session, enrolment_id: int) -> Enrolment | None:
    row = session.get(Enrolment, enrolment_id, with_for_update=True)
    if row is not None and row.state != "pending":
        raise ValueError(f"enrolment {enrolment_id} is {row.state}, not pending")
    return row


def approve_enrolment(
    session: Session, enrolment_id: int, *, actor: str, remote_addr: str = ""
) -> Enrolment | None:
    """Approve a pending enrolment: the host (made if it is gone) takes the name, platform and
    labels the agent sent, its agent tokens are revoked now, and the agent's next poll gets a
    token. None if unknown; ValueError if not pending."""
    row = _pending(session, enrolment_id)
    if row is None:
        return None
    host = _host_for(session, row.org_id, row.identifier, row.hostname, row.platform)
    now = utcnow()
    _revoke_tokens(session, host.id, now)
    host.source = "agent"  # an imported host is now an agent's
    _update_host(session, host, row.hostname, row.platform, _Labels(row.site, row.tags, row.scope_tag))
    row.state, row.host_id, row.decided_at, row.decided_by = "approved", host.id, now, actor[:255]
    session.flush()
    audit_org(
        session,
        row.org_id,
        actor,
        "enrolment.approve",
        row.identifier,
        remote_addr,
        enrolment_id=row.id,
        host_id=host.id,
        reason=row.reason,
    )
    return row


def deny_enrolment(
    session: Session, enrolment_id: int, *, actor: str, remote_addr: str = ""
) -> Enrolment | None:
    """Deny a pending enrolment: the agent's next poll is refused. None if unknown; ValueError
    if not pending."""
    row = _pending(session, enrolment_id)
    if row is None:
        return None
    row.state, row.decided_at, row.decided_by = "denied", utcnow(), actor[:255]
    session.flush()
    audit_org(
        session,
        row.org_id,
        actor,
        "enrolment.deny",
        row.identifier,
        remote_addr,
        enrolment_id=row.id,
        reason=row.reason,
    )
    return row


def enrolment_of(session: Session, enrolment_id: int) -> dict[str, Any] | None:
    row = session.execute(_listing().where(Enrolment.id == enrolment_id)).first()
    return enrolment_items([row])[0] if row is not None else None
