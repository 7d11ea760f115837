"""What keeps the server's HTTP side safe: session and CSRF cookies, the safe-redirect check,
the security headers of every page, and the cache of valid agent tokens.

- Browser sessions: an HttpOnly, Secure, SameSite=Lax cookie (`__Host-` prefixed when secure)
  naming a server-side session row, which carries that session's CSRF token. Every unsafe request
  authenticated by the cookie must echo the token in an `X-CSRF-Token` header or a `csrf_token`
  form field. The login form itself is protected by a double-submit cookie.
- Pages allow only 'self' (Content-Security-Policy), cannot be framed, and are not sniffed.
- Every response to a request that came over HTTPS (TLS in the server, or a TLS proxy trusted
  through --proxy-headers) carries Strict-Transport-Security; a plain-HTTP one never does.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
import time

from fastapi import HTTPException, Request, Response
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"

CSP = (
    "default-src 'self'; img-src 'self'; style-src 'self'; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


HSTS = "max-age=31536000; includeSubDomains"


class StrictTransportSecurity:
    """Add `Strict-Transport-Security` to every response of an HTTPS request.

    The scheme is the one uvicorn sets: `https` under --ssl-certfile, or behind a proxy whose
    X-Forwarded-Proto it trusts (--proxy-headers, from FORWARDED_ALLOW_IPS). A plain-HTTP
    response never carries it (browsers must ignore it there, RFC 6797 section 8.1)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("scheme") != "https":
            await self.app(scope, receive, send)
            return

        async def send_with_hsts(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).setdefault("strict-transport-security", HSTS)
            await send(message)

        await self.app(scope, receive, send_with_hsts)


def with_security_headers(response: Response) -> Response:
    """`response` with the security headers (those it set itself are kept)."""
    for k, v in SECURITY_HEADERS.items():
        response.headers.setdefault(k, v)
    return response


def safe_next(target: str | None) -> str:
    """Where to send a browser after logging in: a path on this server, never another site
    (`//host`, `/\\host` and absolute URLs go to `/`)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def session_cookie_name(secure: bool) -> str:
    return "__Host-banscan_session" if secure else "banscan_session"


def login_csrf_cookie_name(secure: bool) -> str:
    return "__Host-banscan_login_csrf" if secure else "banscan_login_csrf"


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
