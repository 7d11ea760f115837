"""Invitations: a user made in an organisation without a password, and a link with which they
choose one, once.

The user is stored with a password hash no password matches, so nobody can log in as them until
the link is used. The link's token is

    URL-safe base64 (no padding) of: user id (8 bytes, big-endian) | expiry (8, Unix seconds) |
    HMAC-SHA256(server key "invite", label | those 16 bytes | SHA-256 of the user's password hash)

Binding the current password hash makes the link single-use without a table: once a password is
set the hash changes and the link no longer verifies; an admin resetting the password, or a new
invitation, ends it too. Refusals are distinct (malformed, forged or used, expired, unknown or
disabled user) so the page can say what to do."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import secrets
import struct
from dataclasses import dataclass

from sqlalchemy.orm import Session

from banscan.store.accounts import add_user, check_password_policy, hash_password, reset_password
from banscan.store.audit import audit_org
from banscan.store.db import Database
from banscan.store.keys import existing_key, server_key
from banscan.store.models import User, utcnow

KEY_NAME = "invite"
INVITE_TTL = dt.timedelta(days=7)
_LABEL = b"banscan/invite/v1\x00"
_BODY = struct.Struct(">QQ")
_MAC = hashlib.sha256().digest_size
TOKEN_BYTES = _BODY.size + _MAC
NO_PASSWORD = "!invited:"  # prefix of the hash of a user who has not chosen a password yet


class InviteError(ValueError):
    """An invitation link that is not accepted; the message says why, for the page."""


@dataclass(frozen=True)
class Invitation:
    user: User
    token: str
    expires: dt.datetime


def _unusable_hash() -> str:
    """A stored 'hash' no password verifies against (not argon2: verification fails at once)."""
    return NO_PASSWORD + secrets.token_hex(16)


def _mac(key: bytes, body: bytes, password_hash: str) -> bytes:
    bound = hashlib.sha256(password_hash.encode("utf-8")).digest()
    return hmac.new(key, _LABEL + body + bound, hashlib.sha256).digest()


def issue_link(
    session: Session, user: User, *, now: dt.datetime | None = None, ttl: dt.timedelta = INVITE_TTL
) -> Invitation:
    """A token with which `user` sets their password until `now + ttl`."""
    expires = (now or utcnow()) + ttl
    body = _BODY.pack(user.id, int(expires.timestamp()))
    raw = body + _mac(server_key(session, KEY_NAME), body, user.password_hash)
    token = base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
    return Invitation(user, token, dt.datetime.fromtimestamp(int(expires.timestamp()), dt.UTC))


def invite_user(
    session: Session,
    username: str,
    role: str,
    *,
    org_id: int,
    actor: str,
    remote_addr: str = "",
    now: dt.datetime | None = None,
) -> Invitation:
    """A new user of organisation `org_id` who cannot log in until they choose a password with
    the returned link. ValueError for a bad or taken name or role."""
    # The policy is checked against a throwaway password: only the name and role matter here.
    user = add_user(session, username, secrets.token_urlsafe(24), role, actor=actor, org_id=org_id)
    user.password_hash = _unusable_hash()
    session.flush()
    invitation = issue_link(session, user, now=now)
    audit_org(session, org_id, actor, "user.invite", username, remote_addr, role=role)
    return invitation


def _decode(token: str) -> tuple[int, int, bytes, bytes]:
    if not isinstance(token, str) or not 0 < len(token) <= 2 * TOKEN_BYTES:
        raise InviteError("this is not an invitation link")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise InviteError("this is not an invitation link") from None
    if len(raw) != TOKEN_BYTES or base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != token:
        raise InviteError("this is not an invitation link")
    body, mac = raw[: _BODY.size], raw[_BODY.size :]
    user_id, expires = _BODY.unpack(body)
    return user_id, expires, body, mac


def invited_user(session: Session, token: str, *, now: dt.datetime | None = None) -> User:
    """The user a genuine, unused, unexpired link is for; InviteError saying why not."""
    user_id, expires, body, mac = _decode(token)
    user = session.get(User, user_id) if 0 < user_id < 2**63 else None
    key = existing_key(session, KEY_NAME)
    # An unknown user and a wrong signature read alike: the link does not say which users exist.
    if user is None or key is None or not hmac.compare_digest(mac, _mac(key, body, user.password_hash)):
        raise InviteError("this invitation link is not valid, or was already used")
    if (now or utcnow()).timestamp() >= expires:
        raise InviteError("this invitation link has expired: ask your administrator for a new one")
    if user.disabled:
        raise InviteError("this account is disabled")
    return user


def accept_invite(
    db: Database, token: str, password: str, *, remote_addr: str = "", now: dt.datetime | None = None
) -> str:
    """Set the invited user's password (checked against the policy) and return their name; the
    link is then spent.
    InviteError for a link not accepted, ValueError for a password the policy refuses. The slow
    hash is made outside the write transaction; the link is checked again inside it, so of two
    uses at once only one sets a password."""
    with db.reading() as s:
        username = invited_user(s, token, now=now).username
    check_password_policy(password, username)
    new_hash = hash_password(password)
    with db.writing() as s:
        user = invited_user(s, token, now=now)
        reset_password(s, user, new_hash, actor=user.username, remote_addr=remote_addr)
        audit_org(s, user.org_id, user.username, "user.invite_accepted", user.username, remote_addr)
        return user.username


def invite_path(token: str) -> str:
    """Where on the server the invited user chooses their password."""
    return f"/invite?token={token}"


def has_password(user: User) -> bool:
    """Whether the user has chosen a password (not still only invited)."""
    return not user.password_hash.startswith(NO_PASSWORD)
