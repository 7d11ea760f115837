"""Building blocks of the fleet server: rate buckets, size limits, cursors, idempotency keys,
database settings, users and tokens from the command line, the agent's state file."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from banscan.cli.tokens import token_add_command
from banscan.cli.users import user_add_command
from banscan.server.agent import STATE_FILE, Agent, AgentConfig, AgentState
from banscan.server.limits import BodySizeLimit, RateLimit, TokenBuckets
from banscan.server.security import AgentTokenCache
from banscan.store.accounts import create_user, hash_secret, verify_password
from banscan.store.db import Database, normalize_url
from banscan.store.ingest import ReportRejected, canonical_key, parse_result
from banscan.store.paging import decode_cursor, encode_cursor

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
    async def app(scope: Any, receive: Any, send: Any) -> None:
        return None

    mw = BodySizeLimit(app, default=10, per_path={"/api/v1/report": 100, "/api/v1/imports": 1000})
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


def test_parse_result_key_is_the_canonical_key_of_the_document(results: dict[str, Any]) -> None:
    doc = {**results["dirty"], "note": "Лаборатория Касперского \u00e9 \\u0000 tab\t"}
    for raw in (json.dumps(doc).encode(), json.dumps(doc, indent=2, ensure_ascii=False).encode()):
        _, data, key = parse_result(raw)
        assert key == canonical_key(data) == canonical_key(doc)
    with pytest.raises(ReportRejected, match=r"\$\.note: string contains a NUL"):
        parse_result(json.dumps({**doc, "note": "a\u0000b"}).encode())
    with pytest.raises(ReportRejected, match=r"\$\.note: string contains an unpaired surrogate"):
        parse_result(json.dumps({**doc, "note": "a\ud800b"}).encode())
    with pytest.raises(ReportRejected, match="out of range"):
        parse_result(json.dumps(doc).encode()[:-1] + b', "big": 1e999}')


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


def test_background_checkpoints_take_the_wal_off_the_commit_path(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'wal.db'}")
    with db.engine.connect() as c:
        assert c.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000  # SQLite's default
    assert db.start_checkpoints(0.05)
    assert not db.start_checkpoints(0.05)  # one checkpointer per database
    db.engine.dispose()  # connections opened from now on
    with db.engine.begin() as c:
        assert c.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
        c.exec_driver_sql("CREATE TABLE t (x TEXT)")
        c.exec_driver_sql("INSERT INTO t VALUES ('" + "x" * 100_000 + "')")
    wal = tmp_path / "wal.db-wal"
    assert wal.stat().st_size > 100_000
    checkpointer = db._checkpointer
    assert checkpointer is not None
    deadline = time.monotonic() + 10
    while checkpointer.checkpoints < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert checkpointer.checkpoints >= 2
    with db.engine.connect() as c:  # everything in the log is now in the database file
        busy, log_frames, done = c.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").one()
    assert busy == 0 and log_frames == done
    db.dispose()
    assert not Database("sqlite://").start_checkpoints(1.0)


def test_agent_token_cache_expires_forgets_and_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    cache = AgentTokenCache(ttl=5.0, max_entries=3)
    cache.put("a", 1, 10)
    cache.put("b", 2, 11)
    assert cache.get("a") == (1, 10) and cache.get("zz") is None
    clock[0] += 5.0
    assert cache.get("a") is None and cache.get("b") is None  # expired: asks the database again
    cache.put("a", 1, 10)
    cache.put("b", 2, 11)
    cache.put("c", 3, 10)
    cache.forget_host(10)  # re-enrolment revoked host 10's tokens
    assert cache.get("a") is None and cache.get("c") is None and cache.get("b") is not None
    for i in range(5):
        cache.put(f"n{i}", i, i)
    assert len(cache._entries) <= 3
    off = AgentTokenCache(ttl=0)
    off.put("a", 1, 10)
    assert off.get("a") is None


def test_agent_reenrols_when_told_a_different_host_identifier(tmp_path: Path) -> None:
    AgentState(server="https://fleet.example", host_identifier="old", host_id=3, token="bsa_x").save(tmp_path)
    cfg = AgentConfig(server="https://fleet.example", enroll_secret=None, state_dir=tmp_path)
    assert Agent(cfg, client=httpx.Client()).state.token == "bsa_x"  # same server, no override
    cfg.host_identifier = "new-id"
    agent = Agent(cfg, client=httpx.Client())
    assert agent.state.token is None and agent.state.host_id is None and agent.state.host_identifier == ""
