"""Scans on demand: an admin asks for a host's scan (API or host page), the host's agent learns
of it when it checks in and scans at once; the first result generated after the request
answers it. SIGUSR1 asks a running agent for a scan from the machine itself."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from banscan.server.agent import Agent, AgentConfig, run_agent
from banscan.store.accounts import create_user

from .conftest import ADMIN_PASSWORD, Fleet, at, make_admin
from .test_web_pages import browser, login

T1 = "2025-03-01T10:00:00+00:00"


def _checkin(fleet: Fleet, token: str) -> dict[str, Any]:
    r = fleet.client.get("/api/v1/agent/checkin", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def test_a_requested_scan_is_pending_until_a_newer_result(fleet: Fleet, results: dict[str, Any]) -> None:
    host_id, token = fleet.enroll()
    assert fleet.report(token, at(results["dirty"], T1)).status_code == 201
    assert _checkin(fleet, token) == {"host_id": host_id, "scan_requested": False, "scan_requested_at": None}

    r = fleet.client.post(f"/api/v1/hosts/{host_id}/scan", headers=fleet.as_admin())
    assert r.status_code == 202 and r.json()["scan_requested_by"].startswith("token:")
    asked = dt.datetime.fromisoformat(r.json()["scan_requested_at"])
    assert _checkin(fleet, token)["scan_requested"] is True
    host = fleet.get(f"/api/v1/hosts/{host_id}")
    assert host["scan_requested_at"] and host["scan_requested_by"] == r.json()["scan_requested_by"]

    # a result scanned before the request (sent late) does not answer it; an import neither
    older = (asked - dt.timedelta(minutes=5)).isoformat()
    assert fleet.report(token, at(results["clean"], older)).status_code == 201
    assert _checkin(fleet, token)["scan_requested"] is True
    # the scan made after the request does
    newer = (asked + dt.timedelta(seconds=1)).isoformat()
    assert fleet.report(token, at(results["clean"], newer)).status_code == 201
    assert _checkin(fleet, token)["scan_requested"] is False
    assert fleet.get(f"/api/v1/hosts/{host_id}")["scan_requested_at"] is None

    assert fleet.client.post("/api/v1/hosts/999999/scan", headers=fleet.as_admin()).status_code == 404
    viewer = {"Authorization": f"Bearer {fleet.api_token('viewer')}"}
    assert fleet.client.post(f"/api/v1/hosts/{host_id}/scan", headers=viewer).status_code == 403
    assert fleet.client.get("/api/v1/agent/checkin", headers=viewer).status_code == 401


def test_the_host_page_asks_for_a_scan(fleet: Fleet, results: dict[str, Any]) -> None:
    host_id, token = fleet.enroll()
    fleet.report(token, at(results["dirty"], T1))
    create_user(fleet.db_url, "vera", ADMIN_PASSWORD, "viewer")
    make_admin(fleet.db_url)
    viewer = browser(fleet)
    login(viewer, "vera")
    page = viewer.get(f"/hosts/{host_id}").text
    assert "none pending" in page and 'id="request-scan"' not in page

    admin = browser(fleet)
    csrf = login(admin, "alice")
    page = admin.get(f"/hosts/{host_id}").text
    assert 'id="request-scan"' in page
    assert admin.post(f"/hosts/{host_id}/scan", data={}, follow_redirects=False).status_code == 403  # no CSRF
    r = admin.post(f"/hosts/{host_id}/scan", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/hosts/{host_id}?scan_requested=1"
    page = admin.get(f"/hosts/{host_id}").text
    assert "asked by alice" in page and "pending" in page
    assert _checkin(fleet, token)["scan_requested"] is True


# ---------------------------------------------------------------- the agent


class FakeServer:
    """Enrolment, reports and check-ins, answered in-process (no sockets)."""

    def __init__(self, result: dict[str, Any]) -> None:
        self.result = result
        self.reports: list[float] = []
        self.checkins = 0
        self.want_scan = False
        self.checkin_status = 200
        self.lock = threading.Lock()

    def handle(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            if request.url.path == "/api/v1/enroll":
                return httpx.Response(201, json={"host_id": 7, "token": "bsa_fake"})
            if request.url.path == "/api/v1/report":
                self.reports.append(time.monotonic())
                self.want_scan = False
                return httpx.Response(201, json={"report_id": len(self.reports), "host_id": 7, "findings": 0})
            if request.url.path == "/api/v1/agent/checkin":
                self.checkins += 1
                if self.checkin_status != 200:
                    return httpx.Response(self.checkin_status, json={"detail": "no"})
                return httpx.Response(200, json={"host_id": 7, "scan_requested": self.want_scan})
        return httpx.Response(404)


@pytest.fixture
def fake(results: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> FakeServer:
    server = FakeServer(results["clean"])
    # the agent's own scan is the real scanner; here its result is the fixture's, for speed
    monkeypatch.setattr(Agent, "scan", lambda self: json.dumps(server.result).encode())
    return server


def _agent(tmp_path: Path, fake: FakeServer, **cfg: Any) -> tuple[Agent, threading.Event]:
    stop = threading.Event()
    config = AgentConfig(
        server="http://127.0.0.1:9", enroll_secret="s", state_dir=tmp_path, interval=3600, **cfg
    )
    client = httpx.Client(transport=httpx.MockTransport(fake.handle))
    return Agent(config, client=client, stop=stop), stop


def _wait_for(condition: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


def test_agent_scans_when_the_server_asks_at_check_in(tmp_path: Path, fake: FakeServer) -> None:
    agent, stop = _agent(tmp_path, fake, checkin_interval=0.05)
    t = threading.Thread(target=agent.run)
    t.start()
    try:
        assert _wait_for(lambda: len(fake.reports) == 1 and fake.checkins >= 2)
        assert len(fake.reports) == 1  # the hourly schedule alone would not scan again
        fake.want_scan = True
        assert _wait_for(lambda: len(fake.reports) == 2)
        agent.request_scan()  # from this machine (what SIGUSR1 does)
        assert _wait_for(lambda: len(fake.reports) == 3)
    finally:
        stop.set()
        t.join(10)
    assert not t.is_alive()


def test_agent_without_a_check_in_endpoint_keeps_its_schedule(tmp_path: Path, fake: FakeServer) -> None:
    fake.checkin_status = 404  # an older server
    agent, stop = _agent(tmp_path, fake, checkin_interval=0.02)
    t = threading.Thread(target=agent.run)
    t.start()
    try:
        assert _wait_for(lambda: fake.checkins == 1 and len(fake.reports) == 1)
        time.sleep(0.2)
        assert fake.checkins == 1 and not agent.checkins  # asked once, then no more
    finally:
        stop.set()
        t.join(10)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGUSR1 is POSIX")
def test_sigusr1_makes_a_running_agent_scan_now(tmp_path: Path, fake: FakeServer) -> None:
    stop = threading.Event()
    config = AgentConfig(
        server="http://127.0.0.1:9", enroll_secret="s", state_dir=tmp_path, interval=3600, checkin_interval=0
    )
    client = httpx.Client(transport=httpx.MockTransport(fake.handle))

    def poke() -> None:
        assert _wait_for(lambda: len(fake.reports) == 1)
        os.kill(os.getpid(), signal.SIGUSR1)
        assert _wait_for(lambda: len(fake.reports) == 2)
        stop.set()

    before = signal.getsignal(signal.SIGUSR1)
    t = threading.Thread(target=poke)
    t.start()
    code = run_agent(config, handle_signals=True, client=client, stop=stop)  # in the main thread
    t.join(10)
    assert code == 0 and len(fake.reports) == 2 and fake.checkins == 0
    assert signal.getsignal(signal.SIGUSR1) == before  # handler restored
