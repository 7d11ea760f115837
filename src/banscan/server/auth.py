"""Users, tokens, sessions and CSRF.

- Passwords: argon2id (argon2-cffi defaults, RFC 9106 low-memory profile). There is no default
  user or password; the first admin is made from the command line with `create_user`.
- Agent tokens, API tokens and session cookies are 256-bit random values. The server keeps only
  their SHA-256 digest: a preimage search over 2^256 values is out of reach, so a slow hash adds
  nothing for them, and a plain digest can be looked up through a unique index on each request.
  (Passwords and the enrolment secret are chosen by people, so they get argon2.)
- Browser sessions: an HttpOnly, Secure, SameSite=Lax cookie (`__Host-` prefixed when secure)
  naming a server-side session row, which carries that session's CSRF token. Every unsafe request
  authenticated by the cookie must echo the token in an `X-CSRF-Token` header or a `csrf_token`
  form field. The login form itself is protected by a double-submit cookie.
- Roles: `admin` may write; `viewer` may only read.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from fastapi import Depends, HTTPException, Request, Response
from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from banscan.store.db import Database
from banscan.store.migrate import upgrade_db
from banscan.store.models import ROLES, AgentToken, ApiToken, AuditEntry, Host, User, WebSession, utcnow

if TYPE_CHECKING:
    from banscan.server.state import ServerState

AGENT_TOKEN_PREFIX = "bsa_"
API_TOKEN_PREFIX = "bst_"
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,149}$")
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"

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


# ---------------------------------------------------------------- sessions and CSRF


def session_cookie_name(secure: bool) -> str:
    return "__Host-banscan_session" if secure else "banscan_session"


def login_csrf_cookie_name(secure: bool) -> str:
    return "__Host-banscan_login_csrf" if secure else "banscan_login_csrf"


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


def set_session_cookie(response: Response, value: str, *, secure: bool, ttl: dt.timedelta) -> None:
    response.set_cookie(
        session_cookie_name(secure),
        value,
        max_age=int(ttl.total_seconds()),
        path="/",
        secure=secure,
        httponly=True,
        samesite="lax",
    )


def clear_session_cookie(response: Response, *, secure: bool) -> None:
    response.delete_cookie(
        session_cookie_name(secure), path="/", secure=secure, httponly=True, samesite="lax"
    )


def issue_login_csrf(response: Response, *, secure: bool) -> str:
    """Set the login form's double-submit cookie and return the token to put in the form."""
    token = secrets.token_urlsafe(32)
    response.set_cookie(
        login_csrf_cookie_name(secure),
        token,
        max_age=3600,
        path="/",
        secure=secure,
        httponly=True,
        samesite="strict",
    )
    return token


def check_login_csrf(request: Request, submitted: str | None, *, secure: bool) -> None:
    cookie = request.cookies.get(login_csrf_cookie_name(secure))
    if not cookie or not submitted or not hmac.compare_digest(cookie, submitted):
        raise HTTPException(403, "missing or wrong CSRF token for the login form")


# ---------------------------------------------------------------- request dependencies


def state_of(request: Request) -> ServerState:
    st: ServerState = request.app.state.banscan
    return st


def client_addr(request: Request) -> str:
    return request.client.host if request.client else ""


def read_db(request: Request) -> Iterator[Session]:
    with state_of(request).db.reading() as s:
        yield s


def write_db(request: Request) -> Iterator[Session]:
    """A write session; handlers commit explicitly so a 2xx always means committed."""
    s = state_of(request).db.write_session()
    try:
        yield s
    finally:
        s.rollback()
        s.close()


@dataclass(frozen=True)
class Principal:
    """Who is calling: a logged-in user (cookie) or an API token (Bearer)."""

    kind: str  # "session" | "token"
    name: str
    role: str
    user_id: int | None = None
    token_id: int | None = None
    csrf_token: str | None = None
    rate_key: str = ""

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def to_json(self) -> dict[str, object]:
        return {"kind": self.kind, "name": self.name, "role": self.role, "csrf_token": self.csrf_token}


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise HTTPException(401, "malformed Authorization header", headers={"WWW-Authenticate": "Bearer"})
    return value.strip()


def _unauthorized(reason: str) -> HTTPException:
    return HTTPException(401, reason, headers={"WWW-Authenticate": "Bearer"})


def lookup_principal(request: Request) -> Principal | None:
    """The caller, if any credentials were presented and are valid; raises 401 for bad ones."""
    st = state_of(request)
    token = _bearer(request)
    now = utcnow()
    with st.db.reading() as s:
        if token is not None:
            if token.startswith(AGENT_TOKEN_PREFIX):
                raise _unauthorized("agent tokens may only post reports")
            row = s.scalar(select(ApiToken).where(ApiToken.token_hash == token_digest(token)))
            if (
                row is None
                or row.revoked_at is not None
                or (row.expires_at is not None and row.expires_at <= now)
            ):
                raise _unauthorized("invalid or expired API token")
            return Principal(
                "token", f"token:{row.name}", row.role, token_id=row.id, rate_key=f"t:{row.token_hash}"
            )
        cookie = request.cookies.get(session_cookie_name(st.settings.secure_cookies))
        if not cookie:
            return None
        digest = token_digest(cookie)
        found = s.execute(
            select(WebSession, User)
            .join(User, User.id == WebSession.user_id)
            .where(WebSession.session_hash == digest)
        ).first()
        if found is None:
            return None
        ws, user = found
        if ws.expires_at <= now or user.disabled:
            return None
        return Principal(
            "session",
            user.username,
            user.role,
            user_id=user.id,
            csrf_token=ws.csrf_token,
            rate_key=f"s:{digest}",
        )


def optional_principal(request: Request) -> Principal | None:
    return lookup_principal(request)


async def _csrf_submitted(request: Request) -> str | None:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    ctype = request.headers.get("content-type", "")
    if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


async def require_user(
    request: Request, principal: Annotated[Principal | None, Depends(optional_principal)]
) -> Principal:
    """Any authenticated user or API token (viewer or admin); CSRF-checked and rate-limited."""
    if principal is None:
        raise _unauthorized("authentication required")
    state_of(request).user_limiter.check(principal.rate_key)
    if principal.kind == "session" and request.method in UNSAFE_METHODS:
        submitted = await _csrf_submitted(request)
        if (
            not submitted
            or not principal.csrf_token
            or not hmac.compare_digest(submitted, principal.csrf_token)
        ):
            raise HTTPException(403, "missing or wrong CSRF token")
    return principal


async def require_admin(principal: Annotated[Principal, Depends(require_user)]) -> Principal:
    if not principal.is_admin:
        raise HTTPException(403, "this action needs the admin role")
    return principal


@dataclass(frozen=True)
class AgentIdentity:
    host_id: int
    token_id: int
    token_hash: str


class AgentTokenCache:
    """Agent token digests recently found valid: digest → (token id, host id), for `ttl` seconds.

    Why: every report authenticates, and a database round trip from a worker thread cost more
    than storing the report. A revocation made by this process (re-enrolment) takes effect at
    once through `forget_host`; one made elsewhere within `ttl` seconds (0 turns caching off).
    Only successes are kept, so an unknown token always reaches the database.
    """

    def __init__(self, ttl: float, max_entries: int = 100_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, int, int]] = {}

    def get(self, digest: str) -> tuple[int, int] | None:
        hit = self._entries.get(digest)
        if hit is None or time.monotonic() - hit[0] >= self.ttl:
            return None
        return hit[1], hit[2]

    def put(self, digest: str, token_id: int, host_id: int) -> None:
        if self.ttl <= 0:
            return
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[digest] = (time.monotonic(), token_id, host_id)

    def forget_host(self, host_id: int) -> None:
        for digest, (_, _, hid) in list(self._entries.items()):
            if hid == host_id:
                self._entries.pop(digest, None)


def _agent_lookup(st: ServerState, digest: str) -> tuple[int, int] | None:
    with st.db.reading() as s:
        row = s.execute(
            select(AgentToken.id, AgentToken.host_id, AgentToken.revoked_at)
            .join(Host, Host.id == AgentToken.host_id)
            .where(AgentToken.token_hash == digest)
        ).first()
    if row is None or row.revoked_at is not None:
        return None
    return row.id, row.host_id


async def require_agent(request: Request) -> AgentIdentity:
    """The enrolled host behind a Bearer agent token; rate-limited per token."""
    token = _bearer(request)
    if token is None:
        raise _unauthorized("agent token required")
    digest = token_digest(token)
    st = state_of(request)
    found = st.agent_tokens.get(digest)
    if found is None:
        found = await run_in_threadpool(_agent_lookup, st, digest)
        if found is None:
            raise _unauthorized("invalid or revoked agent token")
        st.agent_tokens.put(digest, *found)
    st.agent_limiter.check(f"a:{digest}")
    return AgentIdentity(host_id=found[1], token_id=found[0], token_hash=digest)


def limit_anonymous(request: Request) -> None:
    """Rate-limit unauthenticated endpoints (enrolment, login) per client address."""
    state_of(request).anon_limiter.check(f"ip:{client_addr(request)}")


UserDep = Annotated[Principal, Depends(require_user)]
AdminDep = Annotated[Principal, Depends(require_admin)]
AgentDep = Annotated[AgentIdentity, Depends(require_agent)]
ReadDB = Annotated[Session, Depends(read_db)]
WriteDB = Annotated[Session, Depends(write_db)]
