"""Acknowledgement links: a token that says "notice N, organisation O, valid until T, nonce J",
signed with HMAC-SHA256 under the server's secret.

Format (version 1): URL-safe base64 without padding of 73 bytes,

    version (1 byte, 0x01) | notice id (8, big-endian) | organisation id (8) |
    expiry (8, seconds since 1970-01-01 UTC) | nonce (16 random bytes) | HMAC-SHA256 (32)

where the HMAC covers the label `banscan/ack/v1` and the 41 bytes before it. The token holds
ids, the expiry and the nonce, nothing secret; anyone can read them, nobody without the secret
can change them. `verify` checks the shape, then the signature (in constant time), then the
expiry, and raises a distinct error for each.

Single use is the store's job: `verify` cannot know whether a token was used before. The claim's
`nonce` is the token's unique id (a JWT's `jti`): the store records it when the acknowledgement
is accepted and refuses a nonce it has already recorded (a unique column), until the token's
`expires`, after which `verify` refuses it anyway.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import re
import secrets
import struct
from dataclasses import dataclass

VERSION = 1
_LABEL = b"banscan/ack/v1\x00"  # a key used for other HMACs cannot make one that passes here
_BODY = struct.Struct(">BQQQ16s")  # version, notice id, organisation id, expiry, nonce
_MAC_LEN = hashlib.sha256().digest_size
TOKEN_BYTES = _BODY.size + _MAC_LEN
MIN_SECRET_BYTES = 32  # as long as the hash's output: the key is never the weak part
_MAX_ID = 2**63 - 1
_ALPHABET = re.compile(r"[A-Za-z0-9_-]+")


class TokenError(ValueError):
    """An acknowledgement token that is not accepted."""


class TokenMalformed(TokenError):
    """Not a token of this format at all (bad characters, length or version)."""


class TokenForged(TokenError):
    """Well formed, but the signature does not match: altered, or signed with another secret."""


class TokenExpired(TokenError):
    """Genuine, but past its expiry; `claim` says what it was for (to offer a new link)."""

    def __init__(self, claim: AckClaim) -> None:
        super().__init__(f"acknowledgement link expired at {claim.expires.isoformat()}")
        self.claim = claim


@dataclass(frozen=True, slots=True)
class AckClaim:
    """What a genuine, unexpired token says. The caller checks `notice_id` and `org_id` against
    the notice and organisation the request is about, and the store records `nonce` once."""

    notice_id: int
    org_id: int
    expires: dt.datetime  # UTC
    nonce: str  # 32 hex digits: the token's unique id (jti)


def _check_secret(secret: bytes) -> None:
    if not isinstance(secret, bytes) or len(secret) < MIN_SECRET_BYTES:
        raise ValueError(f"the acknowledgement secret must be at least {MIN_SECRET_BYTES} bytes")


def _aware(value: dt.datetime, what: str) -> dt.datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime")
    return value


def _mac(secret: bytes, body: bytes) -> bytes:
    return hmac.new(secret, _LABEL + body, hashlib.sha256).digest()


def issue(secret: bytes, notice_id: int, org_id: int, expires: dt.datetime) -> str:
    """A token for `org_id` to acknowledge `notice_id` until `expires` (timezone-aware; kept to
    the second), with a fresh random nonce."""
    _check_secret(secret)
    for name, value in (("notice_id", notice_id), ("org_id", org_id)):
        if not 0 <= value <= _MAX_ID:
            raise ValueError(f"{name} must be between 0 and {_MAX_ID}")
    seconds = int(_aware(expires, "expires").timestamp())
    if seconds < 0:
        raise ValueError("expires must be after 1970-01-01")
    body = _BODY.pack(VERSION, notice_id, org_id, seconds, secrets.token_bytes(16))
    return base64.urlsafe_b64encode(body + _mac(secret, body)).rstrip(b"=").decode("ascii")


def _decode(token: str) -> bytes:
    if not isinstance(token, str) or len(token) > 2 * TOKEN_BYTES or not _ALPHABET.fullmatch(token):
        raise TokenMalformed("not an acknowledgement token (characters outside URL-safe base64)")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise TokenMalformed("not an acknowledgement token (bad base64)") from None
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != token:
        raise TokenMalformed("not an acknowledgement token (not canonical base64)")
    if len(raw) != TOKEN_BYTES:
        raise TokenMalformed(f"not an acknowledgement token ({len(raw)} bytes, expected {TOKEN_BYTES})")
    if raw[0] != VERSION:
        raise TokenMalformed(f"acknowledgement token of unknown version {raw[0]}")
    return raw


def verify(secret: bytes, token: str, *, now: dt.datetime) -> AckClaim:
    """The claim of a genuine token that has not expired at `now` (timezone-aware); raises
    TokenMalformed, TokenForged or TokenExpired. Whether it was used before is the store's check."""
    _check_secret(secret)
    _aware(now, "now")
    raw = _decode(token)
    body, mac = raw[: _BODY.size], raw[_BODY.size :]
    if not hmac.compare_digest(mac, _mac(secret, body)):
        raise TokenForged("acknowledgement token signature does not match")
    _, notice_id, org_id, seconds, nonce = _BODY.unpack(body)
    claim = AckClaim(
        notice_id=notice_id,
        org_id=org_id,
        expires=dt.datetime.fromtimestamp(seconds, dt.UTC),
        nonce=nonce.hex(),
    )
    if now >= claim.expires:
        raise TokenExpired(claim)
    return claim
