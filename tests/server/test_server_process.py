"""A real server process on loopback: nothing acknowledged is lost to kill -9, and the agent
enrols, scans and reports with --once."""

from __future__ import annotations

import json
import os
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select, text

from banscan.cli.agent import agent_command
from banscan.server.agent import STATE_FILE, AgentConfig, AgentState, run_agent
from banscan.store.accounts import create_api_token
from banscan.store.db import make_engine
from banscan.store.models import Report
from linux_root import build_linux_root

from .conftest import ENROLL_SECRET, Fleet, ServerProcess, at, body, free_port


def _enroll(url: str, identifier: str) -> str:
    r = httpx.post(
        url + "/api/v1/enroll",
        json={"enroll_secret": ENROLL_SECRET, "host_identifier": identifier, "hostname": identifier},
        timeout=10,
    )
    assert r.status_code == 201, r.text
    token: str = r.json()["token"]
    return token


def test_kill_9_during_ingest_loses_no_acknowledged_report(
    sqlite_url: str, server_process: Callable[[str], ServerProcess], results: dict[str, Any]
) -> None:
    server = server_process(sqlite_url)
    url = server.start()
    tokens = [_enroll(url, f"crash-{i}") for i in range(3)]
    acked: list[tuple[int, str]] = []  # (report id, generated_at) of every 2xx
    lock = threading.Lock()
    enough = threading.Event()

    def poster(n: int, token: str) -> None:
        with httpx.Client(timeout=10) as client:
            for i in range(15):
                when = f"2025-03-01T{n:02d}:{i:02d}:00+00:00"
                try:
                    r = client.post(
                        url + "/api/v1/report",
                        content=body(at(results["dirty"], when)),
                        headers={"Authorization": f"Bearer {token}"},
                    )
                except httpx.TransportError:
                    return  # the server is gone
                if r.status_code in (200, 201):
                    with lock:
                        acked.append((r.json()["report_id"], when))
                        if len(acked) >= 12:
                            enough.set()

    threads = [threading.Thread(target=poster, args=(n, t)) for n, t in enumerate(tokens)]
    for t in threads:
        t.start()
    assert enough.wait(60), "reports were not acknowledged"
    server.kill9()
    for t in threads:
        t.join(30)
    assert len(acked) >= 12

    # Every acknowledged report is in the database, intact, after the crash.
    engine = make_engine(sqlite_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA integrity_check")).scalar_one() == "ok"
            stored = {r.id: r for r in conn.execute(select(Report.id, Report.generated_at, Report.body))}
    finally:
        engine.dispose()
    for report_id, when in acked:
        assert report_id in stored, f"acknowledged report {report_id} lost"
        assert json.loads(stored[report_id].body)["generated_at"] == when

    # The server starts again on the same file and serves what was stored.
    f = Fleet(sqlite_url)
    try:
        assert f.get("/api/v1/hosts")["total"] == 3
        for report_id, _ in acked:
            assert f.client.get(f"/api/v1/reports/{report_id}", headers=f.as_admin()).status_code == 200
    finally:
        f.close()


def test_agent_once_enrols_scans_and_reports(
    sqlite_url: str, server_process: Callable[[str], ServerProcess], tmp_path: Path
) -> None:
    db_url = sqlite_url
    server = server_process(db_url)
    url = server.start()
    root = build_linux_root(tmp_path / "root")
    state_dir = tmp_path / "agent-state"
    code = agent_command(url, ENROLL_SECRET, once=True, state_dir=state_dir, root=root, log_level="warning")
    assert code == 0
    state_file = state_dir / STATE_FILE
    assert stat.S_IMODE(os.stat(state_file).st_mode) == 0o600
    state = AgentState.load(state_dir)
    assert state.token and state.token.startswith("bsa_") and state.host_id

    api_token = create_api_token(db_url, "agent-test", "viewer")
    headers = {"Authorization": f"Bearer {api_token}"}
    host = httpx.get(f"{url}/api/v1/hosts/{state.host_id}", headers=headers, timeout=10).json()
    assert host["identifier"] == state.host_identifier
    assert {"kesl", "ksc-network-agent"} <= {f["product"] for f in host["finding_list"]}
    assert host["worst_verdict"] == "covered"

    # A second run reuses the stored token: no enrolment secret needed, no second host.
    code = agent_command(url, None, once=True, state_dir=state_dir, root=root, log_level="warning")
    assert code == 0
    assert AgentState.load(state_dir).token == state.token
    assert httpx.get(f"{url}/api/v1/hosts", headers=headers, timeout=10).json()["total"] == 1


def test_agent_refused_with_wrong_secret(fleet: Fleet, tmp_path: Path) -> None:
    cfg = AgentConfig(
        server="https://testserver",
        enroll_secret="not-the-secret",
        state_dir=tmp_path / "s",
        once=True,
        root=tmp_path,
    )
    assert run_agent(cfg, client=fleet.client) == 2
    assert not (tmp_path / "s" / STATE_FILE).exists()


def test_agent_reenrols_when_its_token_is_revoked(fleet: Fleet, tmp_path: Path) -> None:
    root = build_linux_root(tmp_path / "root")
    cfg = AgentConfig(
        server="https://testserver",
        enroll_secret=ENROLL_SECRET,
        state_dir=tmp_path / "s",
        once=True,
        root=root,
    )
    assert run_agent(cfg, client=fleet.client) == 0
    first = AgentState.load(tmp_path / "s")

    def approve_waiting() -> None:
        waiting = fleet.get("/api/v1/enrolments", state="pending")["items"]
        assert len(waiting) == 1 and waiting[0]["identifier"] == first.host_identifier
        r = fleet.client.post(f"/api/v1/enrolments/{waiting[0]['id']}/approve", headers=fleet.as_admin())
        assert r.status_code == 200, r.text

    # the same machine enrolled again elsewhere, and an admin approved it: the old token is revoked
    r = fleet.client.post(
        "/api/v1/enroll",
        json={"enroll_secret": ENROLL_SECRET, "host_identifier": first.host_identifier, "hostname": "x"},
    )
    assert r.status_code == 202
    approve_waiting()
    # the agent is refused, enrols again and waits for an admin in turn; approved, it reports
    assert run_agent(cfg, client=fleet.client) == 3
    assert AgentState.load(tmp_path / "s").pending_secret
    approve_waiting()
    assert run_agent(cfg, client=fleet.client) == 0
    second = AgentState.load(tmp_path / "s")
    assert second.token != first.token and second.host_id == first.host_id
    assert second.pending_secret is None


def test_agent_retries_then_gives_up_when_no_server(tmp_path: Path) -> None:
    cfg = AgentConfig(
        server=f"http://127.0.0.1:{free_port()}",
        enroll_secret=ENROLL_SECRET,
        state_dir=tmp_path / "s",
        once=True,
        root=tmp_path,
        max_attempts=3,
        backoff_base=0.01,
        timeout=2,
    )
    assert run_agent(cfg) == 1
