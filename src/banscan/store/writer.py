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

Fairness: each job has a key (an agent's host) and a cost (what storing it takes: rows and
evidence items). Jobs wait in one queue per key, and a batch takes them round-robin, one per key
per turn, so one host's burst of reports does not go before everybody else's. A batch holds at
most `max_batch_cost` of work: a job that does not fit in what is left is deferred, once — the
next batch starts with it, whatever its cost — while smaller jobs of other keys still join this
one. So the small reports queued beside a large one are stored and acknowledged first, and the
large one in a transaction of its own right after. Jobs of one key keep their order; jobs
submitted without a key each have one of their own (first come, first served among them).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy.orm import Session

from banscan.store.db import Database

log = logging.getLogger("banscan.store")

T = TypeVar("T")

DEFAULT_MAX_BATCH = 64
DEFAULT_MAX_BATCH_COST = 5000


# Stores many items in one go: one result (or the exception for that item) per item, in order.
BatchFn = Callable[[Session, list[Any]], list[Any]]


@dataclass
class _Job(Generic[T]):
    fn: Callable[[Session], T] | None
    future: Future[T] = field(default_factory=Future)
    batch_fn: BatchFn | None = None
    item: Any = None
    key: Hashable = None
    cost: int = 1
    deferred: bool = False  # left out of a batch it did not fit in: leads the next one


class WriterClosed(RuntimeError):
    """The writer was closed; the work was not done."""


class GroupCommitWriter:
    """Runs `fn(session)` jobs on one thread, many per transaction; see the module docstring."""

    def __init__(
        self,
        db: Database,
        *,
        max_batch: int = DEFAULT_MAX_BATCH,
        max_batch_cost: int = DEFAULT_MAX_BATCH_COST,
    ) -> None:
        self.db = db
        self.max_batch = max(1, max_batch)
        self.max_batch_cost = max(1, max_batch_cost)
        self._queue: queue.SimpleQueue[_Job[Any] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        # Jobs taken from the queue and waiting for a batch, per key, in round-robin order (the
        # writer thread's own; `pending` reads only the counters below).
        self._waiting: OrderedDict[Hashable, deque[_Job[Any]]] = OrderedDict()
        self._pending: dict[Hashable, int] = {}
        self._pending_cost = 0
        self.batches = 0  # transactions committed (for tests and metrics)
        self.jobs = 0
        self.deferred = 0  # jobs that did not fit in a batch and led the next one

    def submit(self, fn: Callable[[Session], T], *, key: Hashable = None, cost: int = 1) -> Future[T]:
        """Queue `fn`; the future resolves after the transaction that ran it has committed."""
        return self._put(_Job(fn, key=key, cost=cost))

    def submit_item(
        self, batch_fn: BatchFn, item: Any, *, key: Hashable = None, cost: int = 1
    ) -> Future[Any]:
        """Queue `item` for `batch_fn`, stored together with its queued neighbours; `key` (say, a
        host) and `cost` (say, rows to write) decide its turn (see the module docstring)."""
        return self._put(_Job(None, batch_fn=batch_fn, item=item, key=key, cost=cost))

    def pending(self) -> dict[Hashable, int]:
        """Jobs submitted and not yet in a batch, per key given (jobs without one are left out)."""
        with self._lock:
            return {k: n for k, n in self._pending.items() if n}

    def pending_cost(self) -> int:
        """The cost of every job submitted and not yet in a batch."""
        with self._lock:
            return self._pending_cost

    def _put(self, job: _Job[T]) -> Future[T]:
        if job.key is None:
            job.key = _Own()  # a queue of its own: first come, first served
        job.cost = max(1, int(job.cost))
        with self._lock:
            if self._closed:
                raise WriterClosed("the report writer is closed")
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="banscan-writer", daemon=True)
                self._thread.start()
            if not isinstance(job.key, _Own):
                self._pending[job.key] = self._pending.get(job.key, 0) + 1
            self._pending_cost += job.cost
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

    def _take(self, job: _Job[Any] | None) -> bool:
        """File a job from the queue under its key; False for the closing sentinel."""
        if job is None:
            return False
        self._waiting.setdefault(job.key, deque()).append(job)
        return True

    def _next_batch(self) -> list[_Job[Any]]:
        """Jobs for one transaction: round-robin over the keys, within `max_batch` jobs and
        `max_batch_cost`. A job that does not fit in what is left is deferred, once: the next
        batch starts with it, whatever its cost."""
        batch: list[_Job[Any]] = []
        cost = 0

        def take(key: Hashable) -> None:
            nonlocal cost
            jobs = self._waiting[key]
            job = jobs.popleft()
            batch.append(job)
            cost += job.cost
            if jobs:
                self._waiting.move_to_end(key)  # its next job waits for the other keys' turn
            else:
                del self._waiting[key]

        first = next((k for k, jobs in self._waiting.items() if jobs[0].deferred), None)
        if first is not None:
            take(first)
        progress = True
        while progress and len(batch) < self.max_batch and cost < self.max_batch_cost:
            progress = False
            for key in list(self._waiting):
                job = self._waiting[key][0]
                if cost + job.cost > self.max_batch_cost:
                    if not job.deferred:  # it keeps its place in the order and leads the next batch
                        job.deferred = True
                        self.deferred += 1
                    continue
                take(key)
                progress = True
                if len(batch) >= self.max_batch or cost >= self.max_batch_cost:
                    break
        if not batch:  # every job waiting is larger than a batch: the first goes alone
            take(next(iter(self._waiting)))
        with self._lock:
            for job in batch:
                if not isinstance(job.key, _Own):
                    self._pending[job.key] -= 1
                    if not self._pending[job.key]:
                        del self._pending[job.key]
                self._pending_cost -= job.cost
        return batch

    def _run(self) -> None:
        stopping = False
        while not (stopping and not self._waiting):
            if not self._waiting and not stopping:
                stopping = not self._take(self._queue.get())
            while not stopping:  # everything submitted so far takes part in the choice
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                stopping = not self._take(nxt)
            if not self._waiting:
                continue
            batch = self._next_batch()
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


class _Own:
    """The key of a job submitted without one: equal only to itself."""

    __slots__ = ()


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
