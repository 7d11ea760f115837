"""Building blocks of the fleet server: rate buckets, size limits, cursors, idempotency keys,
database settings, users and tokens from the command line, the agent's state file."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import text

from banscan.server.agent import STATE_FILE, AgentState
from banscan.server.auth import create_user, hash_secret, verify_password
from banscan.server.cli import token_add_command, user_add_command
from banscan.server.limits import BodySizeLimit, RateLimit, TokenBuckets
from banscan.store.db import Database, normalize_url
from banscan.store.ingest import ReportRejected, canonical_key, parse_result
from banscan.store.queries import decode_cursor, encode_cursor

from .conftest import ADMIN_PASSWORD


def test_token_bucket_allows_a_burst_then_refills() -> None:
    now = [0.0]
    buckets = TokenBuckets(RateLimit(rate=2.0, burst=3), clock=lambda: now[0])
    assert [buckets.hit("a") for _ in range(3)] == [None, None, None]
    wait = buckets.hit("a")
    assert wait is not None and 0 < wait <= 0.5
    assert buckets.hit("b") is None  # per key
    now[0] += 0.5
    assert buckets.hit("a") is None
    assert TokenBuckets(None).hit("x") is None


def test_body_limit_by_path_prefix() -> None:
    mw = BodySizeLimit(
        lambda s, r, w: None, default=10, per_path={"/api/v1/report": 100, "/api/v1/imports": 1000}
    )  # type: ignore[arg-type, return-value]
    assert mw.limit_for("/api/v1/report") == 100
    assert mw.limit_for("/api/v1/reports/3") == 10
    assert mw.limit_for("/api/v1/imports") == 1000
    assert mw.limit_for("/login") == 10


def test_cursor_round_trip_and_rejects_junk() -> None:
    assert decode_cursor(encode_cursor(12345)) == 12345
    for junk in ("", "abc", encode_cursor(1)[:-1] + "!", "aWQ6LTE"):  # the last is "id:-1"
        with pytest.raises(ValueError):
            decode_cursor(junk)


def test_idempotency_key_ignores_formatting() -> None:
    a = {"b": [1, {"y": "ж", "x": None}], "a": "z"}
    assert canonical_key(a) == canonical_key(json.loads(json.dumps(a, indent=4, ensure_ascii=True)))
    assert canonical_key(a) != canonical_key({**a, "a": "y"})


def test_parse_rejects_deep_nesting_without_crashing() -> None:
    with pytest.raises(ReportRejected) as exc:
        parse_result(b"[" * 100_000 + b"]" * 100_000)
    assert exc.value.status in (400, 422)


def test_urls_and_sqlite_durability_settings(tmp_path: Path) -> None:
    assert normalize_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert normalize_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    with pytest.raises(ValueError):
        normalize_url("mysql://u@h/db")
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        with db.engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
            assert conn.execute(text("PRAGMA synchronous")).scalar_one() == 2  # FULL
            assert conn.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
    finally:
        db.dispose()


def test_create_user_rules(sqlite_url: str) -> None:
    with pytest.raises(ValueError, match="at least"):
        create_user(sqlite_url, "bob", "short", "admin")
    with pytest.raises(ValueError, match="role"):
        create_user(sqlite_url, "bob", ADMIN_PASSWORD, "owner")
    with pytest.raises(ValueError, match="username"):
        create_user(sqlite_url, "bob smith", ADMIN_PASSWORD, "admin")
    create_user(sqlite_url, "bob", ADMIN_PASSWORD, "viewer")
    with pytest.raises(ValueError, match="exists"):
        create_user(sqlite_url, "bob", ADMIN_PASSWORD, "admin")


def test_cli_user_and_token_commands(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BANSCAN_PASSWORD", ADMIN_PASSWORD)
    assert user_add_command(sqlite_url, "carol", "admin") == 0
    assert user_add_command(sqlite_url, "carol", "admin") == 2
    assert token_add_command(sqlite_url, "ci", "viewer") == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith("bst_")


def test_enrol_secret_hash_is_argon2() -> None:
    h = hash_secret("s3cret")
    assert h.startswith("$argon2id$") and verify_password(h, "s3cret") and not verify_password(h, "nope")


def test_agent_state_file_is_private_and_atomic(tmp_path: Path) -> None:
    state = AgentState(server="https://fleet.example", host_identifier="m-1", host_id=7, token="bsa_x")
    path = state.save(tmp_path / "state")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == [STATE_FILE]
    assert AgentState.load(tmp_path / "state") == state
    path.write_text("{broken")
    assert AgentState.load(tmp_path / "state") == AgentState()
