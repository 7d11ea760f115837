"""Accounts: users, API tokens, agent tokens, browser sessions and the audit log — how each is
kept and found.

- Passwords: argon2id (argon2-cffi defaults, RFC 9106 low-memory profile). There is no default
  user or password; the first admin is made from the command line with `create_user`.
- Agent tokens, API tokens and session cookies are 256-bit random values. The store keeps only
  their SHA-256 digest: a preimage search over 2^256 values is out of reach, so a slow hash adds
  nothing for them, and a plain digest can be looked up through a unique index on each request.
  (Passwords and the enrolment secret are chosen by people, so they get argon2.)
- Roles: `admin` may write; `viewer` may only read.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from banscan.store.db import Database
from banscan.store.migrate import upgrade_db
from banscan.store.models import ROLES, AgentToken, ApiToken, AuditEntry, Host, User, WebSession, utcnow

AGENT_TOKEN_PREFIX = "bsa_"
API_TOKEN_PREFIX = "bst_"
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,149}$")

_hasher = PasswordHasher()
_dummy_hash: str | None = None  # verified against for unknown users, so both cases take as long


def use_password_hasher(hasher: PasswordHasher) -> None:
    """Replace the argon2 parameters (lower-memory hosts, or fast test suites). Existing
    hashes keep verifying with the parameters they were made with, and are re-hashed with
    the new ones at the next successful login."""
    global _hasher, _dummy_hash
    _hasher = hasher
    _dummy_hash = None


def password_hasher() -> PasswordHasher:
    return _hasher


# ---------------------------------------------------------------- hashing


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def hash_secret(secret: str) -> str:
    """An argon2 hash of the enrolment secret, for `create_app(enroll_secret_hash=...)`."""
    return _hasher.hash(secret)


def verify_secret(stored: str | None, given: str) -> bool:
    """Whether `given` is the enrolment secret whose hash is `stored` (never, without one)."""
    return bool(stored) and verify_password(stored or "", given)


def new_token(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_password_policy(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValueError(f"password must be at most {MAX_PASSWORD_LENGTH} characters")


def check_role(role: str) -> None:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")


# ---------------------------------------------------------------- users and tokens


def audit(
    session: Session, actor: str, action: str, target: str = "", remote_addr: str = "", **detail: object
) -> None:
    session.add(
        AuditEntry(
            actor=actor[:255], action=action, target=target[:255], detail=detail, remote_addr=remote_addr[:64]
        )
    )


def add_user(session: Session, username: str, password: str, role: str, *, actor: str = "cli") -> User:
    if not USERNAME_RE.match(username):
        raise ValueError("username must be 1-150 characters: letters, digits and . _ @ + -")
    check_role(role)
    check_password_policy(password)
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise ValueError(f"user {username!r} already exists")
    user = User(username=username, password_hash=hash_password(password), role=role)
    session.add(user)
    session.flush()
    audit(session, actor, "user.create", username, role=role)
    return user


def create_user(db_url: str, username: str, password: str, role: str = "admin") -> int:
    """Create a user (migrating the database first); the way the first admin comes to exist."""
    upgrade_db(db_url)
    db = Database(db_url)
    try:
        with db.writing() as s:
            return add_user(s, username, password, role).id
    finally:
        db.dispose()


def set_password(db_url: str, username: str, password: str) -> None:
    check_password_policy(password)
    upgrade_db(db_url)
    db = Database(db_url)
    try:
        with db.writing() as s:
            user = s.scalar(select(User).where(User.username == username))
            if user is None:
                raise ValueError(f"no user {username!r}")
            user.password_hash = hash_password(password)
            s.execute(delete(WebSession).where(WebSession.user_id == user.id))
            audit(s, "cli", "user.password", username)
    finally:
        db.dispose()


def add_api_token(
    session: Session, name: str, role: str, *, created_by: str, expires_at: dt.datetime | None = None
) -> tuple[str, ApiToken]:
    check_role(role)
    if not name or len(name) > 100:
        raise ValueError("token name must be 1-100 characters")
    raw = new_token(API_TOKEN_PREFIX)
    row = ApiToken(
        name=name, token_hash=token_digest(raw), role=role, created_by=created_by[:255], expires_at=expires_at
    )
    session.add(row)
    session.flush()
    audit(session, created_by, "token.create", name, role=role, token_id=row.id)
    return raw, row


def create_api_token(db_url: str, name: str, role: str = "viewer") -> str:
    """Create an API token from the command line; the raw token is returned once, never stored."""
    upgrade_db(db_url)
    db = Database(db_url)
    try:
        with db.writing() as s:
            raw, _ = add_api_token(s, name, role, created_by="cli")
            return raw
    finally:
        db.dispose()


def authenticate(session: Session, username: str, password: str) -> User | None:
    user = session.scalar(select(User).where(User.username == username))
    if user is None or user.disabled:
        global _dummy_hash
        if _dummy_hash is None:
            _dummy_hash = _hasher.hash(secrets.token_urlsafe(16))
        verify_password(_dummy_hash, password)
        return None
    if not verify_password(user.password_hash, password):
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


# ---------------------------------------------------------------- sessions and agents


def start_session(
    session: Session, user: User, *, ttl: dt.timedelta, remote_addr: str = ""
) -> tuple[str, WebSession]:
    """Create a server-side session; return the raw cookie value (kept only as a digest)."""
    raw = secrets.token_urlsafe(32)
    now = utcnow()
    row = WebSession(
        session_hash=token_digest(raw),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        expires_at=now + ttl,
        remote_addr=remote_addr[:64],
    )
    session.add(row)
    user.last_login_at = now
    session.flush()
    return raw, row


def end_session(session: Session, cookie: str) -> None:
    session.execute(delete(WebSession).where(WebSession.session_hash == token_digest(cookie)))


def live_api_token(session: Session, token: str) -> ApiToken | None:
    """The API token `token` names, unless unknown, revoked or expired."""
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_digest(token)))
    if row is None or row.revoked_at is not None:
        return None
    if row.expires_at is not None and row.expires_at <= utcnow():
        return None
    return row


def live_session(session: Session, cookie: str) -> tuple[WebSession, User] | None:
    """The browser session and its user a cookie names, unless unknown, expired or disabled."""
    found = session.execute(
        select(WebSession, User)
        .join(User, User.id == WebSession.user_id)
        .where(WebSession.session_hash == token_digest(cookie))
    ).first()
    if found is None:
        return None
    ws, user = found
    if ws.expires_at <= utcnow() or user.disabled:
        return None
    return ws, user


def add_agent_token(session: Session, host_id: int, remote_addr: str) -> str:
    """A new agent token for a host; the raw token is returned once, only its digest is kept."""
    raw = new_token(AGENT_TOKEN_PREFIX)
    session.add(AgentToken(host_id=host_id, token_hash=token_digest(raw), remote_addr=remote_addr[:64]))
    return raw


def live_agent_token(session: Session, digest: str) -> tuple[int, int] | None:
    """(token id, host id) of an agent token digest, unless unknown or revoked."""
    row = session.execute(
        select(AgentToken.id, AgentToken.host_id, AgentToken.revoked_at)
        .join(Host, Host.id == AgentToken.host_id)
        .where(AgentToken.token_hash == digest)
    ).first()
    if row is None or row.revoked_at is not None:
        return None
    return row.id, row.host_id
