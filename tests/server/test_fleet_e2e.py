"""The whole fleet from the command line: `banscan serve`, an admin made with `banscan user add`,
two `banscan agent` processes on loopback (each scanning its own mounted root, one with
Kaspersky), and the dashboard showing both hosts — on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from linux_root import build_linux_root

from .conftest import ADMIN_PASSWORD, ENROLL_SECRET, ServerProcess

BANSCAN = Path(sys.executable).with_name("banscan")
pytestmark = pytest.mark.skipif(not BANSCAN.exists(), reason=f"{BANSCAN} is not installed (pip install -e .)")


def _root(path: Path, machine_id: str, hostname: str, *, kaspersky: bool) -> Path:
    root = build_linux_root(path, kaspersky=kaspersky)
    (root / "etc" / "machine-id").write_text(machine_id + "\n")
    (root / "etc" / "hostname").write_text(hostname + "\n")
    return root


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[str]:
    env = {**os.environ, "BANSCAN_PASSWORD": ADMIN_PASSWORD}
    made = subprocess.run(
        [str(BANSCAN), "user", "add", "alice", "--role", "admin", "--db", db_url],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr
    proc = ServerProcess(db_url, tmp_path, command=[str(BANSCAN)])
    try:
        yield proc.start(timeout=60)
    finally:
        proc.stop()


def test_serve_and_two_agents_show_up_in_the_dashboard(server: str, tmp_path: Path) -> None:
    roots = {
        "ws-dirty-01": _root(tmp_path / "r1", "1" * 32, "ws-dirty-01", kaspersky=True),
        "ws-clean-02": _root(tmp_path / "r2", "2" * 32, "ws-clean-02", kaspersky=False),
    }
    base = [str(BANSCAN), "agent", "--server", server, "--enroll-secret", ENROLL_SECRET, "--once"]
    agents = [
        subprocess.Popen(
            [*base, "--state-dir", str(tmp_path / f"state-{name}"), "--root", str(root), "--site", "HQ"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for name, root in roots.items()
    ]
    for a in agents:
        out, _ = a.communicate(timeout=180)
        assert a.returncode == 0, out

    with httpx.Client(base_url=server, timeout=30) as c:
        csrf = c.get("/api/v1/csrf").json()["csrf_token"]
        r = c.post("/login", data={"username": "alice", "password": ADMIN_PASSWORD, "csrf_token": csrf})
        assert r.status_code in (200, 303), r.text[:300]
        hosts_page = c.get("/hosts").text
        overview = c.get("/").text
        listed = c.get("/hosts.json").json()["items"]

    # Both agents are hosts of their own (their roots' machine-ids and names), not one host twice.
    for name in roots:
        assert name in hosts_page
    ids = re.findall(r'data-host-id="(\d+)"', hosts_page)
    assert len(set(ids)) == 2
    assert re.search(r'id="stat-hosts">2<', overview) and re.search(r'id="stat-covered">1<', overview)
    assert 'data-site="HQ"' in overview
    by_name = {row["hostname"]: row for row in listed}
    assert set(by_name) == set(roots)
    assert by_name["ws-dirty-01"]["worst_verdict"] == "covered"
    assert by_name["ws-dirty-01"]["findings"]["covered"] >= 2
    assert by_name["ws-clean-02"]["worst_verdict"] is None
    assert {row["identifier"] for row in listed} == {"1" * 32, "2" * 32}
    assert {row["site"] for row in listed} == {"HQ"}
