"""Group commit: one writer thread stores queued reports several to a transaction.

Under `synchronous=FULL` every commit waits for the disk, and on SQLite writers queue on one
lock, so one transaction per report caps throughput. Here request handlers hand their work to
a single writer thread; while it commits one batch, the next requests queue, and it takes them
all into the next transaction. Each job runs in its own SAVEPOINT (one failing job is rolled
back alone, and its caller gets the exception), and every caller's future is resolved only
after the transaction holding its work has committed: an acknowledged report is on disk. If the
commit itself fails, every job of the batch gets the error and nothing is acknowledged.

Items submitted with `submit_item` share a batch function: consecutive ones are handed to it
together (one set of statements for all of them — see `banscan.store.apply`), and only if that
raises are they run again one by one, each in its own savepoint, so a bad item still fails alone.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy.orm import Session

from banscan.store.db import Database

log = logging.getLogger("banscan.store")

T = TypeVar("T")

DEFAULT_MAX_BATCH = 64


# Stores many items in one go: one result (or the exception for that item) per item, in order.
BatchFn = Callable[[Session, list[Any]], list[Any]]


@dataclass
class _Job(Generic[T]):
    fn: Callable[[Session], T] | None
    future: Future[T] = field(default_factory=Future)
    batch_fn: BatchFn | None = None
    item: Any = None


class WriterClosed(RuntimeError):
    """The writer was closed; the work was not done."""


class GroupCommitWriter:
    """Runs `fn(session)` jobs on one thread, many per transaction; see the module docstring."""

    def __init__(self, db: Database, *, max_batch: int = DEFAULT_MAX_BATCH) -> None:
        self.db = db
        self.max_batch = max(1, max_batch)
        self._queue: queue.SimpleQueue[_Job[Any] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.batches = 0  # transactions committed (for tests and metrics)
        self.jobs = 0

    def submit(self, fn: Callable[[Session], T]) -> Future[T]:
        """Queue `fn`; the future resolves after the transaction that ran it has committed."""
        return self._put(_Job(fn))

    def submit_item(self, batch_fn: BatchFn, item: Any) -> Future[Any]:
        """Queue `item` for `batch_fn`, stored together with its queued neighbours."""
        return self._put(_Job(None, batch_fn=batch_fn, item=item))

    def _put(self, job: _Job[T]) -> Future[T]:
        with self._lock:
            if self._closed:
                raise WriterClosed("the report writer is closed")
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="banscan-writer", daemon=True)
                self._thread.start()
            self._queue.put(job)
        return job.future

    def close(self, timeout: float | None = 30.0) -> None:
        """Finish the queued jobs, then stop the thread (a later `submit` starts a new one)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            thread = self._thread
            if thread is not None:
                self._queue.put(None)
        if thread is not None:
            thread.join(timeout)
        with self._lock:
            if thread is None or not thread.is_alive():
                self._thread = None
                self._closed = False

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                break
            batch: list[_Job[Any]] = [first]
            while len(batch) < self.max_batch:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stopping = True
                    break
                batch.append(nxt)
            try:
                self._process(batch)
            except BaseException as exc:  # never leave a caller waiting
                log.exception("report writer failed")
                for job in batch:
                    if not job.future.done():
                        job.future.set_exception(exc)

    def _process(self, batch: list[_Job[Any]]) -> None:
        live = [job for job in batch if job.future.set_running_or_notify_cancel()]
        if not live:
            return
        done: list[tuple[_Job[Any], Any, BaseException | None]] = []
        with self.db.write_session() as session:
            try:
                i = 0
                while i < len(live):
                    j = i + 1
                    fn = live[i].batch_fn
                    if fn is not None:
                        while j < len(live) and live[j].batch_fn is fn:
                            j += 1
                        done.extend(_run_group(session, fn, live[i:j]))
                    else:
                        done.append(_run_one(session, live[i]))
                    i = j
                session.commit()
            except BaseException as exc:  # noqa: BLE001 - handed to every caller
                session.rollback()
                log.error("report batch of %d not committed: %s", len(live), exc)
                for job in live:
                    job.future.set_exception(exc)
                return
        self.batches += 1
        self.jobs += len(live)
        # Only now, with the batch committed, are callers told their work is stored.
        for job, value, error in done:
            if error is not None:
                job.future.set_exception(error)
            else:
                job.future.set_result(value)


_Done = tuple[_Job[Any], Any, BaseException | None]


def _run_one(session: Session, job: _Job[Any]) -> _Done:
    try:
        with session.begin_nested():  # released on success, rolled back on error
            if job.fn is not None:
                return (job, job.fn(session), None)
            assert job.batch_fn is not None
            value = job.batch_fn(session, [job.item])[0]
            if isinstance(value, BaseException):
                raise value
            return (job, value, None)
    except Exception as exc:  # noqa: BLE001 - handed to the caller
        return (job, None, exc)


def _run_group(session: Session, fn: BatchFn, jobs: list[_Job[Any]]) -> list[_Done]:
    if len(jobs) > 1:
        try:
            with session.begin_nested():
                values = fn(session, [job.item for job in jobs])
                if len(values) != len(jobs):
                    raise RuntimeError(f"batch function gave {len(values)} results for {len(jobs)} items")
        except Exception as exc:  # noqa: BLE001 - retried one by one below
            log.info("batch of %d stored one by one after: %s", len(jobs), exc)
        else:
            return [
                (job, None, v) if isinstance(v, BaseException) else (job, v, None)
                for job, v in zip(jobs, values, strict=True)
            ]
    return [_run_one(session, job) for job in jobs]
