"""Where the deep scan's batches of files run: threads first, worker processes for big scans.

Most of the deep scan's work — listing tar and zip members, sniffing them, parsing headers —
is Python code holding the interpreter lock, so threads of one process reach about 1.4 of
two cores. Once the walk shows that a scan is big (`PROCESS_AFTER_FILES` files or
`PROCESS_AFTER_BYTES` bytes), later batches go to worker processes, which use every core; a
scan of a few files never pays the second or so it takes to start them.

Results come back in the order the batches were handed in, whichever runs them. A worker
process that dies (a parser crashing on hostile input, the out-of-memory killer) costs the
scan one error line per file it could not examine, not the scan: the batches it held are run
again in a fresh pool, a failing batch file by file, so the one file that kills a worker again
is the one reported.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Generic, TypeVar

E = TypeVar("E")  # one unit of work (a file)
R = TypeVar("R")  # what examining it gives

PROCESS_AFTER_FILES = 4000
PROCESS_AFTER_BYTES = 256 * 1024 * 1024
# Batches handed out per worker before waiting for the oldest: results are yielded in order,
# so one slow batch (a 1 GB wheel) must not leave the other workers without work.
_AHEAD = 16
_START_TIMEOUT = 120.0  # seconds for the first worker process to start and set itself up


def _ping() -> int:
    return os.getpid()


def _quiet_worker(init: Callable[..., None], args: tuple[Any, ...]) -> None:
    """Worker processes leave Ctrl-C to the scan that started them (which stops the pool)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    init(*args)


class BatchRunner(Generic[E, R]):
    """Runs batches on `workers` threads, then on `workers` processes once the scan is big.

    `here` examines a batch in this process (threads); `remote` is a module-level function
    doing the same in a worker process set up by `init(*init_args)`. `size` tells an entry's
    bytes, and `crashed(entry)` is the result for an entry whose examination killed a worker.
    `processes`: True always, False never, None when the scan turns out big.
    `max_bytes_ahead` bounds the bytes of the batches handed out and not yet collected, as well
    as their number (files copied out of a disk image wait on disk for a worker).
    """

    def __init__(
        self,
        here: Callable[[list[E]], list[R]],
        remote: Callable[[list[E]], list[R]],
        init: Callable[..., None],
        init_args: tuple[Any, ...],
        *,
        workers: int,
        size: Callable[[E], int],
        crashed: Callable[[E], R],
        processes: bool | None = None,
        max_bytes_ahead: int | None = None,
    ) -> None:
        self.here = here
        self.remote = remote
        self.init = init
        self.init_args = init_args
        self.workers = max(1, workers)
        self.size = size
        self.crashed = crashed
        self.processes = processes
        self.max_bytes_ahead = max_bytes_ahead
        self.used_processes = False
        self._threads: ThreadPoolExecutor | None = None
        self._procs: ProcessPoolExecutor | None = None
        self._files = 0
        self._bytes = 0

    # -- executors -------------------------------------------------------------------------
    def _want_processes(self) -> bool:
        if self.processes is False or self.workers <= 1:
            return False
        if self.processes:
            return True
        return self._files >= PROCESS_AFTER_FILES or self._bytes >= PROCESS_AFTER_BYTES

    def _process_pool(self) -> ProcessPoolExecutor | None:
        if self._procs is None:
            if getattr(multiprocessing.current_process(), "_inheriting", False):
                # This is a worker process starting up, running the program's main module
                # again: the scan belongs to the parent. Stop here, as multiprocessing would.
                raise RuntimeError(
                    "a deep scan was started while a worker process was starting up; "
                    "guard the program's main module with `if __name__ == '__main__':`"
                )
            try:
                # "spawn" everywhere: forking a process that runs threads is unsafe, and it is
                # what macOS and Windows do anyway.
                procs = ProcessPoolExecutor(
                    max_workers=self.workers,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_quiet_worker,
                    initargs=(self.init, self.init_args),
                )
            except (OSError, ValueError, NotImplementedError):  # no processes here: threads it is
                self.processes = False
                return None
            if not self.used_processes:
                # The first pool must prove that a worker starts here: one that cannot (a
                # program that starts scans from an unguarded main module, a sandbox that
                # forbids processes) leaves the scan to threads rather than to crash reports.
                try:
                    procs.submit(_ping).result(timeout=_START_TIMEOUT)
                except Exception:  # noqa: BLE001 - any failure to start means threads
                    procs.shutdown(wait=False, cancel_futures=True)
                    self.processes = False
                    return None
            self._procs = procs
            self.used_processes = True
        return self._procs

    def _thread_pool(self) -> ThreadPoolExecutor:
        if self._threads is None:
            self._threads = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="banscan-deep")
        return self._threads

    def _submit(self, batch: list[E]) -> Future[list[R]]:
        pool: Executor | None = self._process_pool() if self._want_processes() else None
        if pool is not None:
            try:
                return pool.submit(self.remote, batch)
            except BrokenProcessPool:
                self._restart()
                return self._submit(batch)
        return self._thread_pool().submit(self.here, batch)

    def _restart(self) -> None:
        if self._procs is not None:
            self._procs.shutdown(wait=False, cancel_futures=True)
            self._procs = None

    # -- running ---------------------------------------------------------------------------
    def run(self, batches: Iterator[list[E]]) -> Iterator[R]:
        """Each entry's result, in the order of the batches."""
        if self.workers <= 1 and not self.processes:
            for batch in batches:
                yield from self.here(batch)
            return
        window: deque[tuple[list[E], Future[list[R]]]] = deque()
        ahead = 0  # bytes of the batches in `window`
        try:
            for batch in batches:
                size = sum(self.size(e) for e in batch)
                self._files += len(batch)
                self._bytes += size
                ahead += size
                window.append((batch, self._submit(batch)))
                while len(window) >= self.workers * _AHEAD or (
                    self.max_bytes_ahead is not None and ahead > self.max_bytes_ahead and window
                ):
                    ahead -= sum(self.size(e) for e in window[0][0])
                    yield from self._collect(window)
            while window:
                yield from self._collect(window)
        finally:
            for _, fut in window:
                fut.cancel()
            if self._threads is not None:
                self._threads.shutdown(wait=True, cancel_futures=True)
            self._restart()

    def _collect(self, window: deque[tuple[list[E], Future[list[R]]]]) -> list[R]:
        batch, fut = window.popleft()
        try:
            return fut.result()
        except BrokenProcessPool:
            pass
        # The pool is gone, and with it every batch it held: this one file by file, the rest
        # handed to a fresh pool as they were.
        self._restart()
        out: list[R] = []
        for entry in batch:
            out.extend(self._alone(entry))
        for i, (b, _) in enumerate(window):
            window[i] = (b, self._submit(b))
        return out

    def _alone(self, entry: E) -> list[R]:
        pool = self._process_pool()
        if pool is None:
            return self.here([entry])
        try:
            return pool.submit(self.remote, [entry]).result()
        except BrokenProcessPool:
            self._restart()
            return [self.crashed(entry)]


def cpu_workers(limit: int = 4) -> int:
    """Workers for this machine: its CPUs (those this process may use), at most `limit`."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    return max(1, min(limit, n))
