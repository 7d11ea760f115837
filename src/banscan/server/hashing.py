"""Where the server runs argon2 (logins, password changes): a few threads of its own.

Argon2 is slow and memory-hard on purpose (64 MiB and a few tens of milliseconds a hash by
default). Run in the request threads, every login in flight took one: a burst of wrong
passwords filled the thread pool and the memory, and `/healthz` waited seconds behind them.
Here at most `workers` hashes run at once, at most `queue` more wait for a thread, and beyond
that a request is refused at once (`HashQueueFull`: 503 with Retry-After) instead of piling
up. The event loop and the request threads never hash, so health checks and reads go on while
logins queue.
"""

from __future__ import annotations

import asyncio
import os
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

from starlette.exceptions import HTTPException

T = TypeVar("T")

MAX_DEFAULT_WORKERS = 8  # 8 × 64 MiB of argon2 memory at most, however many cores


def default_hash_workers() -> int:
    """The CPU count, at most MAX_DEFAULT_WORKERS."""
    return max(1, min(os.cpu_count() or 1, MAX_DEFAULT_WORKERS))


class HashQueueFull(HTTPException):
    def __init__(self) -> None:
        super().__init__(503, "too many logins at once; retry in a second", headers={"Retry-After": "1"})


class HashGate:
    """At most `workers` jobs at once on threads of their own, at most `queue` more waiting."""

    def __init__(self, workers: int, queue: int) -> None:
        self.workers = max(1, workers)
        self.capacity = self.workers + max(0, queue)
        self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="banscan-hash")
        self._lock = threading.Lock()
        self.admitted = 0  # running or waiting
        self.running = 0
        self.peak = 0  # the most jobs that ran at once
        self.refused = 0
        # The threads end with the state that owns them (tests build many servers).
        weakref.finalize(self, self._executor.shutdown, False)

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        """Queue `fn(*args, **kwargs)`; raise HashQueueFull at once if `capacity` jobs are
        admitted (running or waiting)."""
        with self._lock:
            if self.admitted >= self.capacity:
                self.refused += 1
                raise HashQueueFull()
            self.admitted += 1
        try:
            future = self._executor.submit(self._run, partial(fn, *args, **kwargs))
        except BaseException:
            self._release(None)
            raise
        future.add_done_callback(self._release)  # also when cancelled before it ran
        return future

    async def run(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """`fn(*args, **kwargs)` on a hashing thread, awaited without holding a request thread."""
        return await asyncio.wrap_future(self.submit(fn, *args, **kwargs))

    def _run(self, job: Callable[[], T]) -> T:
        with self._lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
        try:
            return job()
        finally:
            with self._lock:
                self.running -= 1

    def _release(self, _future: Future[Any] | None) -> None:
        with self._lock:
            self.admitted -= 1

    def close(self) -> None:
        self._executor.shutdown(wait=False)
