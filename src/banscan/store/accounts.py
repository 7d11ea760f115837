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
import gzip
import hashlib
import re
import secrets
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from banscan.store.audit import account_store, audit, audit_org
from banscan.store.db import Database
from banscan.store.models import (
    DEFAULT_ORG_ID,
    ROLES,
    AgentToken,
    ApiToken,
    Host,
    User,
    WebSession,
    utcnow,
)

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


# ---------------------------------------------------------------- password policy

COMMON_PASSWORDS = Path(__file__).resolve().parent / "data" / "common-passwords.txt.gz"
# Runs of keys or characters a password may walk along (forwards or backwards, wrapping).
_WALKS = (
    "abcdefghijklmnopqrstuvwxyz",
    "0123456789",
    "qwertyuiopasdfghjklzxcvbnm",
    "qwertzuiopasdfghjklyxcvbnm",
    "azertyuiopqsdfghjklmwxcvbn",
    "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p",
    "qazwsxedcrfvtgbyhnujmikolp",
    "!@#$%^&*()",
)
_AFFIX = re.compile(r"^([\W\d_]*)(.*?)([\W\d_]*)$", re.DOTALL)
MAX_ADDED = 8  # digits and symbols around a common password that still leave it common


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list of common passwords (`store/data/README.md` names its source)."""
    with gzip.open(COMMON_PASSWORDS, "rt", encoding="utf-8") as f:
        return frozenset(line.strip() for line in f if line.strip())


def _periodic(text: str) -> str | None:
    """The unit `text` repeats (`abcabcabc` -> `abc`), if it is one repeated at least twice."""
    for n in range(1, len(text) // 2 + 1):
        if len(text) % n == 0 and text[:n] * (len(text) // n) == text:
            return text[:n]
    return None


def _is_walk(text: str) -> bool:
    if len(text) < 3:
        return False
    return any(text in walk * 3 or text in (walk * 3)[::-1] for walk in _WALKS)


def _trivial(text: str) -> bool:
    """One character repeated, a run along the alphabet, digits or keyboard, or a repeat of one."""
    if not text:
        return True
    if len(set(text)) == 1 or _is_walk(text):
        return True
    unit = _periodic(text)
    return unit is not None and (len(unit) <= 3 or _trivial(unit) or unit in common_passwords())


def _common(text: str) -> bool:
    """On the list, or a listed password (or a trivial run) with a few digits or symbols added."""
    words = common_passwords()
    if text in words:
        return True
    m = _AFFIX.match(text)
    assert m is not None  # every string matches
    before, core, after = m.groups()
    if not (before or after) or not core:
        return False
    added_little = len(before) + len(after) <= MAX_ADDED or all(_trivial(a) for a in (before, after) if a)
    return added_little and (core in words or _trivial(core) or _periodic(core) in words)


def password_problem(password: str, username: str = "") -> str | None:
    """Why `password` is refused (one sentence), or None if it may be used."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"password must be at least {MIN_PASSWORD_LENGTH} characters"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"password must be at most {MAX_PASSWORD_LENGTH} characters"
    folded = password.strip().lower()
    advice = "; a few unrelated words make a good password"
    if _trivial(folded):
        return "password is a repeated or sequential pattern (like aaaa… or 1234…)" + advice
    if len(username) >= 3 and username.lower() in folded:
        return "password must not contain the user name" + advice
    if _common(folded):
        return "password is one of the most common passwords (or one with digits or symbols added)" + advice
    return None


def check_password_policy(password: str, username: str = "") -> None:
    """Raise ValueError saying why, unless `password` may be used: at least 12 characters, not
    on the common-password list (nor one of them with a few digits or symbols added), not a
    repeated or sequential pattern, and not containing the user name."""
    problem = password_problem(password, username)
    if problem is not None:
        raise ValueError(problem)


def check_role(role: str) -> None:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")


# ---------------------------------------------------------------- users and tokens


def add_user(
    session: Session,
    username: str,
    password: str,
    role: str,
    *,
    actor: str = "cli",
    org_id: int = DEFAULT_ORG_ID,
) -> User:
    """A new user of organisation `org_id` (user names are unique across organisations)."""
    if not USERNAME_RE.match(username):
        raise ValueError("username must be 1-150 characters: letters, digits and . _ @ + -")
    check_role(role)
    check_password_policy(password, username)
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise ValueError(f"user {username!r} already exists")
    user = User(username=username, password_hash=hash_password(password), role=role, org_id=org_id)
    session.add(user)
    session.flush()
    audit_org(session, user.org_id, actor, "user.create", username, role=role)
    return user


def create_user(
    db_url: str, username: str, password: str, role: str = "admin", *, org: str | None = None
) -> int:
    """Create a user of the organisation whose slug is `org` (None: the default one), migrating
    the database first; the way the first admin comes to exist."""
    from banscan.store.orgs import find_org

    with account_store(db_url) as s:
        org_id = find_org(s, org).id if org else DEFAULT_ORG_ID
        return add_user(s, username, password, role, org_id=org_id).id


def set_password(db_url: str, username: str, password: str) -> None:
    """Set a user's password from the command line (ends their sessions, clears a lock)."""
    check_password_policy(password, username)
    new_hash = hash_password(password)
    with account_store(db_url) as s:
        reset_password(s, find_user(s, username), new_hash, actor="cli")


def add_api_token(
    session: Session,
    name: str,
    role: str,
    *,
    created_by: str,
    org_id: int = DEFAULT_ORG_ID,
    expires_at: dt.datetime | None = None,
) -> tuple[str, ApiToken]:
    """A new API token acting in organisation `org_id` with `role`: the raw token (shown once)
    and its row."""
    check_role(role)
    if not name or len(name) > 100:
        raise ValueError("token name must be 1-100 characters")
    raw = new_token(API_TOKEN_PREFIX)
    row = ApiToken(
        org_id=org_id,
        name=name,
        token_hash=token_digest(raw),
        role=role,
        created_by=created_by[:255],
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    audit_org(session, org_id, created_by, "token.create", name, role=role, token_id=row.id)
    return raw, row


def create_api_token(db_url: str, name: str, role: str = "viewer", *, org: str | None = None) -> str:
    """Create an API token from the command line, acting in the organisation whose slug is
    `org` (None: the default one); the raw token is returned once, never stored."""
    from banscan.store.orgs import find_org

    with account_store(db_url) as s:
        org_id = find_org(s, org).id if org else DEFAULT_ORG_ID
        raw, _ = add_api_token(s, name, role, created_by="cli", org_id=org_id)
        return raw


# ---------------------------------------------------------------- logins and lockout


@dataclass(frozen=True)
class LockoutPolicy:
    """Consecutive failed logins per user name, from any address: the `after`-th and each one
    after it lock the account, for `base` doubled per failure past `after`, at most `longest`
    (5 failures: 1 minute, 6: 2 minutes, … 11 and on: an hour). A login while locked is refused
    like a wrong password, whatever the password, and does not count. A successful login, an
    admin's unlock or a password reset clears the count."""

    after: int = 5
    base: dt.timedelta = dt.timedelta(minutes=1)
    longest: dt.timedelta = dt.timedelta(hours=1)

    def lock_for(self, failures: int) -> dt.timedelta | None:
        if self.after <= 0 or failures < self.after:
            return None
        return min(self.base * (1 << min(failures - self.after, 20)), self.longest)


@dataclass(frozen=True)
class LoginAttempt:
    """A login counted before its password is checked (`begin_login`)."""

    username: str
    user_id: int | None  # None: unknown, disabled or locked; checked against a dummy hash
    stored_hash: str
    refused: str  # why it fails whatever the password: "unknown user", "disabled", "locked"; "" if not
    failures: int = 0
    locked_until: dt.datetime | None = None


@dataclass(frozen=True)
class StartedSession:
    """A successful login: the user and the new browser session's cookie and CSRF token."""

    username: str
    role: str
    cookie: str
    csrf_token: str


def _dummy_password_hash() -> str:
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash(secrets.token_urlsafe(16))
    return _dummy_hash


def begin_login(session: Session, username: str, policy: LockoutPolicy) -> LoginAttempt:
    """The first step of a login, committed before the (slow) password check: the attempt is
    counted as a failure up front, under a row lock, so that guesses sent at once cannot all
    pass the lockout check before any of them is counted. An unknown name changes nothing."""
    user = session.scalar(select(User).where(User.username == username).with_for_update())
    if user is None or user.disabled:
        return LoginAttempt(
            username, None, _dummy_password_hash(), "unknown user" if user is None else "disabled"
        )
    now = utcnow()
    if user.locked_until is not None and user.locked_until > now:
        return LoginAttempt(
            username, None, _dummy_password_hash(), "locked", user.failed_logins, user.locked_until
        )
    user.failed_logins += 1
    lock = policy.lock_for(user.failed_logins)
    user.locked_until = now + lock if lock is not None else None
    return LoginAttempt(username, user.id, user.password_hash, "", user.failed_logins, user.locked_until)


def check_login_password(attempt: LoginAttempt, password: str) -> tuple[bool, str | None]:
    """The slow part: whether `password` is right (always verified against a hash, even for an
    unknown, disabled or locked user, so every refusal takes as long), and the password's new
    hash when the stored one was made with other argon2 parameters."""
    ok = verify_password(attempt.stored_hash, password) and attempt.user_id is not None
    rehash = hash_password(password) if ok and _hasher.check_needs_rehash(attempt.stored_hash) else None
    return ok, rehash


def finish_login(
    session: Session, attempt: LoginAttempt, ok: bool, rehash: str | None, *, remote_addr: str = ""
) -> User | None:
    """The last step: on success clear the count (and store a re-hash); audit either way."""
    addr, name = remote_addr, attempt.username[:150]
    if attempt.refused == "locked":
        audit(session, "anonymous", "login.locked", name, addr, locked_until=_iso(attempt.locked_until))
        return None
    user = session.get(User, attempt.user_id, with_for_update=True) if ok and attempt.user_id else None
    # An account disabled or a password changed while this one was checked: the check is void.
    if user is None or user.disabled or user.password_hash != attempt.stored_hash:
        reason = attempt.refused or ("wrong password" if not ok else "changed meanwhile")
        audit(session, "anonymous", "login.failed", name, addr, reason=reason)
        if attempt.user_id is not None and attempt.locked_until is not None:
            until = _iso(attempt.locked_until)
            audit(session, "system", "user.locked", name, addr, failures=attempt.failures, locked_until=until)
        return None
    user.failed_logins = 0
    user.locked_until = None
    if rehash is not None:
        user.password_hash = rehash
    return user


def _iso(when: dt.datetime | None) -> str | None:
    return when.isoformat() if when is not None else None


def attempt_login(
    db: Database,
    username: str,
    password: str,
    *,
    policy: LockoutPolicy,
    session_ttl: dt.timedelta,
    remote_addr: str = "",
) -> StartedSession | None:
    """A whole login: count it (one transaction), check the password, conclude (another); a browser
    session when it succeeds, None when it fails for any reason (wrong password, unknown user,
    disabled or locked account: all alike to the caller). Argon2 runs outside any transaction;
    the server calls this on its bounded hashing threads."""
    with db.writing() as s:
        attempt = begin_login(s, username, policy)
    ok, rehash = check_login_password(attempt, password)
    with db.writing() as s:
        user = finish_login(s, attempt, ok, rehash, remote_addr=remote_addr)
        if user is None:
            return None
        raw, ws = start_session(s, user, ttl=session_ttl, remote_addr=remote_addr)
        audit_org(s, user.org_id, user.username, "login", user.username, remote_addr)
        return StartedSession(user.username, user.role, raw, ws.csrf_token)


# ---------------------------------------------------------------- managing users and tokens


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))


def get_user(session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)


def find_user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise ValueError(f"no user {username!r}")
    return user


def is_locked(user: User, now: dt.datetime | None = None) -> bool:
    return user.locked_until is not None and user.locked_until > (now or utcnow())


def user_json(user: User) -> dict[str, object]:
    return {
        "id": user.id,
        "username": user.username,
        "role": user.role,
        "disabled": user.disabled,
        "locked": is_locked(user),
        "locked_until": _iso(user.locked_until) if is_locked(user) else None,
        "failed_logins": user.failed_logins,
        "created_at": _iso(user.created_at),
        "last_login_at": _iso(user.last_login_at),
    }


def end_user_sessions(session: Session, user_id: int, *, keep: str | None = None) -> int:
    """End every browser session of a user (but the one whose digest is `keep`); how many."""
    query = delete(WebSession).where(WebSession.user_id == user_id)
    if keep is not None:
        query = query.where(WebSession.session_hash != keep)
    return int(getattr(session.execute(query), "rowcount", 0) or 0)


def set_disabled(session: Session, user: User, disabled: bool, *, actor: str, remote_addr: str = "") -> bool:
    """Disable a user (ending their sessions at once) or enable one; whether anything changed."""
    if user.disabled == disabled:
        return False
    user.disabled = disabled
    ended = end_user_sessions(session, user.id) if disabled else 0
    action = "user.disable" if disabled else "user.enable"
    audit_org(
        session,
        user.org_id,
        actor,
        action,
        user.username,
        remote_addr,
        **({"sessions_ended": ended} if disabled else {}),
    )
    return True


def unlock_user(session: Session, user: User, *, actor: str, remote_addr: str = "") -> bool:
    """Clear a user's failed logins and lock; whether there was anything to clear."""
    if user.failed_logins == 0 and user.locked_until is None:
        return False
    audit_org(
        session,
        user.org_id,
        actor,
        "user.unlock",
        user.username,
        remote_addr,
        failures=user.failed_logins,
        was_locked=is_locked(user),
    )
    user.failed_logins = 0
    user.locked_until = None
    return True


def reset_password(
    session: Session,
    user: User,
    new_hash: str,
    *,
    actor: str,
    remote_addr: str = "",
    keep_session: str | None = None,
) -> None:
    """Store a new password hash (checked against the policy and hashed by the caller): every
    session of the user ends (but `keep_session`, a digest: the user's own, changing it), and a
    lock is cleared."""
    user.password_hash = new_hash
    user.failed_logins = 0
    user.locked_until = None
    ended = end_user_sessions(session, user.id, keep=keep_session)
    audit_org(session, user.org_id, actor, "user.password", user.username, remote_addr, sessions_ended=ended)


def reset_password_by_id(
    db: Database, user_id: int, password: str, *, actor: str, remote_addr: str = ""
) -> User | None:
    """An admin's password reset: the policy, the (slow) hash, then the store; None if no such
    user. Raises ValueError if the policy refuses the password."""
    with db.reading() as s:
        user = s.get(User, user_id)
        if user is None:
            return None
        username = user.username
    check_password_policy(password, username)
    new_hash = hash_password(password)
    with db.writing() as s:
        user = s.get(User, user_id)
        if user is None:
            return None
        reset_password(s, user, new_hash, actor=actor, remote_addr=remote_addr)
        return user


def change_own_password(
    db: Database,
    username: str,
    old_password: str,
    new_password: str,
    *,
    policy: LockoutPolicy,
    keep_session: str | None,
    remote_addr: str = "",
) -> bool:
    """A user's change of their own password, proven with the old one: a wrong old password
    counts as a failed login (and a locked account cannot change it). False if refused; raises
    ValueError if the policy refuses the new password."""
    check_password_policy(new_password, username)
    with db.writing() as s:
        attempt = begin_login(s, username, policy)
    ok, _ = check_login_password(attempt, old_password)
    new_hash = hash_password(new_password) if ok else ""
    with db.writing() as s:
        user = finish_login(s, attempt, ok, None, remote_addr=remote_addr)
        if user is None:
            return False
        reset_password(s, user, new_hash, actor=username, remote_addr=remote_addr, keep_session=keep_session)
        return True


def list_api_tokens(session: Session) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).order_by(ApiToken.id.desc())))


def token_state(row: ApiToken, now: dt.datetime | None = None) -> str:
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at is not None and row.expires_at <= (now or utcnow()):
        return "expired"
    return "live"


def token_json(row: ApiToken) -> dict[str, object]:
    return {
        "id": row.id,
        "name": row.name,
        "role": row.role,
        "state": token_state(row),
        "created_by": row.created_by,
        "created_at": _iso(row.created_at),
        "expires_at": _iso(row.expires_at),
        "last_used_at": _iso(row.last_used_at),
        "revoked_at": _iso(row.revoked_at),
    }


def revoke_api_token(
    session: Session, token_id: int, *, actor: str, remote_addr: str = ""
) -> ApiToken | None:
    """Revoke an API token (refused from its next request on); None if there is no such token.
    Revoking a revoked token changes nothing."""
    row = session.get(ApiToken, token_id)
    if row is None or row.revoked_at is not None:
        return row
    row.revoked_at = utcnow()
    audit(session, actor, "token.revoke", row.name, remote_addr, token_id=row.id, role=row.role)
    return row


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
