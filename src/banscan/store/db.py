"""Engine and sessions from a database URL: SQLite by default, PostgreSQL for fleets.

SQLite connections run in WAL mode with `synchronous=FULL` and foreign keys on, so a report
whose commit returned is on disk even if the server is killed the next instant. Writes on
SQLite open their transaction with `BEGIN IMMEDIATE`: two writers queue on the busy timeout
instead of failing when one upgrades a read snapshot to a write. The server moves WAL
checkpoints off the commit path (`checkpoint_interval`): by default SQLite copies the log into
the database inside whichever commit crosses 1000 pages, and every request waiting on that
commit stalled for a few hundred milliseconds.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

DEFAULT_URL = "sqlite:///banscan.db"
SQLITE_BUSY_TIMEOUT_MS = 30_000
WAL_SIZE_LIMIT = 64 * 1024 * 1024  # the log file is cut back to this after a checkpoint

log = logging.getLogger("banscan.store")


def normalize_url(url: str | URL) -> URL:
    """Accept `postgresql://` / `postgres://` and use the psycopg (v3) driver for them."""
    u = make_url(url) if isinstance(url, str) else url
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    if u.get_backend_name() not in ("sqlite", "postgresql"):
        raise ValueError(f"unsupported database {u.get_backend_name()!r}: use sqlite:/// or postgresql://")
    return u


def _is_memory(url: URL) -> bool:
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def make_engine(
    url: str | URL, *, echo: bool = False, background_checkpoints: Callable[[], bool] | None = None
) -> Engine:
    """An engine with this project's connection settings (pragmas, driver, pool).

    `background_checkpoints`, asked as each SQLite connection opens, says whether another thread
    checkpoints the WAL (then the connection's commits do not)."""
    u = normalize_url(url)
    if u.get_backend_name() == "sqlite":
        kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False, "timeout": 30}}
        if _is_memory(u):
            kwargs["poolclass"] = StaticPool
        else:  # one connection per server thread, kept rather than reopened (each open sets pragmas)
            kwargs.update(pool_size=20, max_overflow=20)
        engine = create_engine(u, echo=echo, **kwargs)
        _sqlite_setup(engine, memory=_is_memory(u), background_checkpoints=background_checkpoints)
        return engine
    return create_engine(u, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=10)


def _sqlite_setup(engine: Engine, *, memory: bool, background_checkpoints: Callable[[], bool] | None) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module; "begin" below issues BEGIN.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        if not memory:
            cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        if not memory:
            cur.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
            if background_checkpoints is not None and background_checkpoints():
                cur.execute("PRAGMA wal_autocheckpoint=0")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


class Database:
    """One engine plus read and write session factories."""

    def __init__(self, url: str | URL = DEFAULT_URL, *, echo: bool = False) -> None:
        self.url = normalize_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self._checkpointer: _Checkpointer | None = None
        self.engine = make_engine(
            self.url, echo=echo, background_checkpoints=lambda: self._checkpointer is not None
        )
        write_bind = (
            self.engine.execution_options(sqlite_begin="IMMEDIATE") if self.is_sqlite else self.engine
        )
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(write_bind, expire_on_commit=False)

    def read_session(self) -> Session:
        return self._read()

    def write_session(self) -> Session:
        return self._write()

    @contextmanager
    def reading(self) -> Iterator[Session]:
        with self._read() as s:
            yield s

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on any exception."""
        with self._write() as s:
            try:
                yield s
                s.commit()
            except BaseException:
                s.rollback()
                raise

    def start_checkpoints(self, interval: float) -> bool:
        """Checkpoint a SQLite file's WAL from a background thread every `interval` seconds,
        without blocking writers (PASSIVE), instead of inside the commits of connections opened
        from now on. Whether it started (not for PostgreSQL or an in-memory database)."""
        if not self.is_sqlite or _is_memory(self.url) or interval <= 0 or self._checkpointer is not None:
            return False
        self._checkpointer = _Checkpointer(self.engine, interval)
        return True

    def dispose(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        self.engine.dispose()


class _Checkpointer:
    """A daemon thread running `PRAGMA wal_checkpoint(PASSIVE)` every `interval` seconds."""

    def __init__(self, engine: Engine, interval: float) -> None:
        self.engine = engine
        self.interval = interval
        self.checkpoints = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="banscan-wal-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.checkpoint()
        self.checkpoint()  # leave a short log behind

    def checkpoint(self) -> None:
        try:
            raw = self.engine.raw_connection()
            try:
                cur = raw.cursor()  # autocommit connection: no transaction is open around it
                cur.execute("PRAGMA wal_checkpoint(PASSIVE)")
                cur.close()
            finally:
                raw.close()
            self.checkpoints += 1
        except Exception as exc:  # noqa: BLE001 - the next run tries again; commits still work
            log.warning("WAL checkpoint failed: %s", exc)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)
