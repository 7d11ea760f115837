"""Request limits: body size per path (413), per-token rate limit (429), page sizes."""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MiB = 1024 * 1024


@dataclass(frozen=True)
class RateLimit:
    """A token bucket: `burst` requests at once, refilled at `rate` per second."""

    rate: float
    burst: int


class TokenBuckets:
    """In-memory token buckets keyed by token digest, session or client address (one process)."""

    def __init__(
        self, limit: RateLimit | None, *, clock: Callable[[], float] = time.monotonic, max_keys: int = 50_000
    ):
        self.limit = limit
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> float | None:
        """Take one token for `key`; None if allowed, else seconds until one is available."""
        limit = self.limit
        if limit is None:
            return None
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(limit.burst), now))
            tokens = min(float(limit.burst), tokens + (now - last) * limit.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                if len(self._buckets) > self._max_keys:
                    self._prune(now)
                return None
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / limit.rate if limit.rate > 0 else math.inf

    def check(self, key: str) -> None:
        """Raise 429 with Retry-After when `key` has no tokens left."""
        wait = self.hit(key)
        if wait is not None:
            retry = 3600 if math.isinf(wait) else max(1, math.ceil(wait))
            raise HTTPException(
                429, f"rate limit exceeded; retry in {retry} s", headers={"Retry-After": str(retry)}
            )

    def _prune(self, now: float) -> None:
        assert self.limit is not None
        full = [
            k
            for k, (t, last) in self._buckets.items()
            if t + (now - last) * self.limit.rate >= self.limit.burst
        ]
        for k in full:
            del self._buckets[k]


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit} bytes")
        self.limit = limit


class BodySizeLimit:
    """ASGI middleware: refuse bodies over the limit for their path, by Content-Length up front
    and by counting streamed bytes (chunked uploads) as they arrive."""

    def __init__(self, app: ASGIApp, *, default: int, per_path: dict[str, int] | None = None) -> None:
        self.app = app
        self.default = default
        # Longest prefix first.
        self.per_path = sorted((per_path or {}).items(), key=lambda kv: -len(kv[0]))

    def limit_for(self, path: str) -> int:
        for prefix, limit in self.per_path:
            if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
                return limit
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await _reply(send, 400, "invalid Content-Length")
                    return
                if declared > limit:
                    await _reply(
                        send, 413, f"request body of {declared} bytes is larger than the {limit}-byte limit"
                    )
                    return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge as exc:
            if started:
                raise
            await _reply(send, 413, str(exc.detail))


class RejectNulBytes:
    """ASGI middleware: a NUL byte in the path or query string is refused with 400 (no database
    can compare text with one, and no legitimate client sends one)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raw_path = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape")
            query = scope.get("query_string", b"")
            if b"\x00" in raw_path or b"%00" in raw_path or b"\x00" in query or b"%00" in query:
                await _reply(send, 400, "NUL character in the URL")
                return
        await self.app(scope, receive, send)


async def _reply(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


@dataclass(frozen=True)
class PageParams:
    limit: int
    offset: int
    after_id: int | None
