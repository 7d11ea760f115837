"""Fixtures for the fleet server tests: a database URL per backend (SQLite file, PostgreSQL),
scan results from the realistic Linux root, app and subprocess server builders."""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from banscan.catalog.loader import load_catalog
from banscan.scan import ScanOptions, run_scan
from banscan.server.app import create_app
from banscan.server.state import ServerSettings
from banscan.store.accounts import create_api_token, create_user
from banscan.store.db import make_engine
from banscan.store.migrate import upgrade_db
from banscan.store.models import Base
from linux_root import build_linux_root

with warnings.catch_warnings():  # starlette's notice about its httpx-based test client
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

ENROLL_SECRET = "enrol-me-please-7f3a"
ADMIN_PASSWORD = "correct horse battery staple"
PG_ADMIN_URLS = [
    os.environ.get("BANSCAN_TEST_PG_URL", ""),
    "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
    "postgresql+psycopg://root@127.0.0.1:5432/root",
]


@pytest.fixture(scope="session", autouse=True)
def _fast_argon2() -> Iterator[None]:
    """Cheap argon2 parameters in-process (the algorithm and hash format stay the same)."""
    from argon2 import PasswordHasher

    from banscan.store import accounts as auth

    previous = auth.password_hasher()
    auth.use_password_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    yield
    auth.use_password_hasher(previous)


# ---------------------------------------------------------------- databases


def _pg_admin_url() -> tuple[str | None, str]:
    reasons = []
    for url in filter(None, PG_ADMIN_URLS):
        engine = create_engine(url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return url, ""
        except Exception as exc:  # noqa: BLE001 - any failure means "no server here"
            reasons.append(f"{url.split('@')[-1]}: {str(exc).splitlines()[0]}")
        finally:
            engine.dispose()
    return None, "; ".join(reasons)


@pytest.fixture(scope="session")
def pg_session_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, migrated once and dropped at the end."""
    admin, why = _pg_admin_url()
    if admin is None:
        pytest.skip(f"no PostgreSQL server reachable (run scripts/ensure-postgres): {why}")
    name = f"banscan_test_{secrets.token_hex(6)}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin.rsplit("/", 1)[0] + f"/{name}"
    upgrade_db(url)
    try:
        yield url
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


def _truncate_pg(url: str) -> None:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            # The default organisation is made by migration 0009, not by the server: put it back.
            conn.execute(
                text(
                    "INSERT INTO organisations (id, slug, name, share_with_coordinators, contact, created_at) "
                    "VALUES (1, 'default', 'Default organisation', 'aggregates', '', now() AT TIME ZONE 'UTC')"
                )
            )
            conn.execute(text("SELECT setval(pg_get_serial_sequence('organisations', 'id'), 1)"))
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty, migrated database: a SQLite file, or the session's PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'banscan.db'}"
    url: str = request.getfixturevalue("pg_session_url")
    _truncate_pg(url)
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'banscan.db'}"


# ---------------------------------------------------------------- scan results


def _scan(root: Path) -> dict[str, Any]:
    opts = ScanOptions(as_of=dt.date(2025, 3, 3), echo_errors=False)
    out: dict[str, Any] = run_scan(load_catalog(), opts, roots=[root]).to_json()
    return out


@pytest.fixture(scope="session")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """`dirty`: the Linux root with Kaspersky products; `clean`: the same host without them."""
    base = tmp_path_factory.mktemp("roots")
    return {
        "dirty": _scan(build_linux_root(base / "dirty")),
        "clean": _scan(build_linux_root(base / "clean", kaspersky=False)),
    }


def at(result: dict[str, Any], when: str, **changes: Any) -> dict[str, Any]:
    """A copy of `result` generated at `when` (ISO date-time), with other top-level changes."""
    out = copy.deepcopy(result)
    out["generated_at"] = when
    out.update(changes)
    return out


def body(result: dict[str, Any]) -> bytes:
    return json.dumps(result).encode()


# ---------------------------------------------------------------- apps and clients


def enroll_over_http(url: str, identifier: str, hostname: str, secret: str = ENROLL_SECRET) -> str:
    """Enrol a Linux host with a running server at `url`; its agent token."""
    r = httpx.post(
        url + "/api/v1/enroll",
        json={
            "enroll_secret": secret,
            "host_identifier": identifier,
            "hostname": hostname,
            "platform": "linux",
        },
        timeout=10,
    )
    assert r.status_code == 201, r.text
    token: str = r.json()["token"]
    return token


def post_over_http(url: str, token: str, result: dict[str, Any]) -> None:
    """Post a scan result to a running server at `url` as the agent holding `token`."""
    r = httpx.post(
        url + "/api/v1/report",
        content=body(result),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        timeout=30,
    )
    assert r.status_code == 201, r.text


class Fleet:
    """A TestClient on a fresh app with methods for enrolling, reporting and logging in."""

    def __init__(self, db_url: str, settings: ServerSettings | None = None, **kwargs: Any) -> None:
        self.db_url = db_url
        self.app = create_app(
            db_url, enroll_secret=kwargs.pop("enroll_secret", ENROLL_SECRET), settings=settings, **kwargs
        )
        self.client = TestClient(self.app, base_url="https://testserver")
        self._admin_token: str | None = None
        self.tokens: dict[str, str] = {}  # host identifier → the token its last enrolment gave

    def enroll(
        self,
        identifier: str = "host-1",
        hostname: str = "srv-app-01",
        platform: str = "linux",
        *,
        token: str | None = None,
    ) -> tuple[int, str]:
        """Enrol a new host, or enrol a known one again presenting its live `token`."""
        r = self.client.post(
            "/api/v1/enroll",
            json={
                "enroll_secret": ENROLL_SECRET,
                "host_identifier": identifier,
                "hostname": hostname,
                "platform": platform,
            },
            headers={"Authorization": f"Bearer {token}"} if token else {},
        )
        assert r.status_code == 201, r.text
        self.tokens[identifier] = r.json()["token"]
        return r.json()["host_id"], r.json()["token"]

    def report(self, token: str, content: bytes | dict[str, Any], **headers: str) -> httpx.Response:
        data = content if isinstance(content, bytes) else body(content)
        r: httpx.Response = self.client.post(
            "/api/v1/report",
            content=data,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json", **headers},
        )
        return r

    def api_token(self, role: str = "admin") -> str:
        return create_api_token(self.db_url, f"test-{role}-{secrets.token_hex(3)}", role)

    def as_admin(self) -> dict[str, str]:
        if self._admin_token is None:
            self._admin_token = self.api_token("admin")
        return {"Authorization": f"Bearer {self._admin_token}"}

    def get(self, path: str, **params: Any) -> Any:
        r = self.client.get(path, params=params, headers=self.as_admin())
        assert r.status_code == 200, r.text
        return r.json()

    def login(self, username: str, password: str) -> httpx.Response:
        csrf = self.client.get("/api/v1/csrf").json()["csrf_token"]
        r: httpx.Response = self.client.post(
            "/login",
            data={"username": username, "password": password, "csrf_token": csrf},
            headers={"Accept": "application/json"},
        )
        return r

    def close(self) -> None:
        self.client.close()
        self.app.state.banscan.db.dispose()


@pytest.fixture
def fleet_factory(db_url: str) -> Iterator[Callable[..., Fleet]]:
    made: list[Fleet] = []

    def make(settings: ServerSettings | None = None, **kwargs: Any) -> Fleet:
        f = Fleet(db_url, settings, **kwargs)
        made.append(f)
        return f

    yield make
    for f in made:
        f.close()


@pytest.fixture
def fleet(fleet_factory: Callable[..., Fleet]) -> Fleet:
    return fleet_factory()


def make_admin(db_url: str, username: str = "alice") -> str:
    create_user(db_url, username, ADMIN_PASSWORD, "admin")
    return username


# ---------------------------------------------------------------- a real server process


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class ServerProcess:
    """A server process on a free loopback port; `command` starts its `serve` (by default
    `python -m banscan`; the installed `banscan` script works the same). `options` are more
    `serve` options, `{url}` in them standing for the server's own address (the port is known
    only at start): `["--public-url", "{url}"]`."""

    def __init__(
        self, db_url: str, workdir: Path, command: list[str] | None = None, options: Sequence[str] = ()
    ) -> None:
        self.db_url = db_url
        self.workdir = workdir
        self.command = command or [sys.executable, "-m", "banscan"]
        self.options = list(options)
        self.secret_file = workdir / "enroll-secret"
        self.secret_file.write_text(ENROLL_SECRET)
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self, timeout: float = 20.0) -> str:
        for _ in range(3):
            port = free_port()
            log = (self.workdir / f"server-{port}.log").open("wb")
            cmd = [*self.command, "serve", "--db", self.db_url]
            cmd += ["--host", "127.0.0.1", "--port", str(port), "--enroll-secret-file", str(self.secret_file)]
            cmd += ["--insecure-cookies", "--log-level", "warning"]
            self.url = f"http://127.0.0.1:{port}"
            cmd += [o.format(url=self.url) for o in self.options]
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                        return self.url
                except httpx.TransportError:
                    time.sleep(0.05)
            self.stop()
        raise RuntimeError(f"server did not start; see {self.workdir}")

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()  # SIGKILL
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


@pytest.fixture
def server_process(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    started: list[ServerProcess] = []

    def make(db_url: str, options: Sequence[str] = ()) -> ServerProcess:
        sp = ServerProcess(db_url, tmp_path, options=options)
        started.append(sp)
        return sp

    yield make
    for sp in started:
        sp.stop()
