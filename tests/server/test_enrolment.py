"""Enrolment on SQLite and PostgreSQL: a known host is never taken over on the enrolment secret
alone (the agent proves it holds the host's token, or an admin approves), a newly enrolled agent
verifies no removal recorded before it enrolled, imported hosts are not claimed without an
admin, and enrol secrets are scoped, expire and are revoked. Also the agent's side of it, and
migration 0005 with data in the database."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic import command
from sqlalchemy import func, select, text, update
from typer.testing import CliRunner

from banscan.cli import app as cli_app
from banscan.server.agent import Agent, AgentConfig, AgentState, run_agent
from banscan.store import enrolment as enrolment_store
from banscan.store.accounts import create_user
from banscan.store.db import Database, make_engine
from banscan.store.migrate import alembic_config, upgrade_db
from banscan.store.models import AgentToken, AuditEntry, Enrolment, EnrolSecret, Host, TransitionEvent
from linux_root import build_linux_root

from .conftest import ADMIN_PASSWORD, ENROLL_SECRET, Fleet, at, make_admin
from .test_web_pages import browser, login

T1 = "2025-03-01T10:00:00+00:00"


def soon(minutes: int) -> str:
    """A scan time `minutes` from now: after any removal a test records now, and within the
    few minutes ahead of its clock that the server accepts."""
    return (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=minutes)).isoformat()


TSV = (
    "Computer\tApp\tVendor\tVer\tSeen\n"
    "KIOSK-01\tKaspersky Security Center Network Agent\tAO Kaspersky Lab\t14.2.0.26967\t2024-12-30\n"
)


# ---------------------------------------------------------------- helpers


def enroll(
    fleet: Fleet,
    identifier: str,
    *,
    token: str | None = None,
    secret: str = ENROLL_SECRET,
    **extra: Any,
) -> httpx.Response:
    """POST /api/v1/enroll as an agent would (with `token`: presenting it)."""
    body = {"enroll_secret": secret, "host_identifier": identifier, "hostname": f"{identifier}-name"}
    r: httpx.Response = fleet.client.post(
        "/api/v1/enroll",
        json={"platform": "linux", **body, **extra},
        headers={"Authorization": f"Bearer {token}"} if token else {},
    )
    return r


def held(fleet: Fleet, identifier: str, **extra: Any) -> tuple[int, str]:
    """Enrol as a known host without its token: held; the enrolment's id and pending secret."""
    r = enroll(fleet, identifier, **extra)
    assert r.status_code == 202, r.text
    data = r.json()
    assert data["state"] == "pending" and "token" not in data and "host_id" not in data
    assert data["pending_secret"].startswith("bsp_") and r.headers["retry-after"] == "60"
    return data["enrolment_id"], data["pending_secret"]


def decide(fleet: Fleet, enrolment_id: int, decision: str) -> httpx.Response:
    r: httpx.Response = fleet.client.post(
        f"/api/v1/enrolments/{enrolment_id}/{decision}", headers=fleet.as_admin()
    )
    return r


def host_finding(fleet: Fleet, host_id: int, product: str) -> dict[str, Any]:
    host = fleet.get(f"/api/v1/hosts/{host_id}")
    found: dict[str, Any] = next(f for f in host["finding_list"] if f["product"] == product)
    return found


def record_removed(fleet: Fleet, host_id: int, product: str) -> None:
    r = fleet.client.post(
        f"/api/v1/transitions/{host_id}/{product}",
        json={"state": "removed", "note": "uninstalled"},
        headers=fleet.as_admin(),
    )
    assert r.status_code == 200, r.text


def audit_actions(fleet: Fleet) -> list[str]:
    with fleet.app.state.banscan.db.reading() as s:
        return list(s.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def live_tokens(fleet: Fleet, host_id: int) -> int:
    with fleet.app.state.banscan.db.reading() as s:
        return int(
            s.scalar(
                select(func.count())
                .select_from(AgentToken)
                .where(AgentToken.host_id == host_id, AgentToken.revoked_at.is_(None))
            )
            or 0
        )


# ---------------------------------------------------------------- taking a host over


def test_enrolling_as_a_known_host_without_its_token_is_held(fleet: Fleet, results: dict[str, Any]) -> None:
    """The attack: anyone with the shared secret enrols again as an existing identifier. Before,
    the real agent's token was revoked and the newcomer got one; now the newcomer waits."""
    host_id, real = fleet.enroll("victim")
    enrolment_id, _ = held(fleet, "victim", hostname="evil")
    assert fleet.report(real, at(results["dirty"], T1)).status_code == 201  # not displaced
    assert live_tokens(fleet, host_id) == 1
    assert fleet.get(f"/api/v1/hosts/{host_id}")["hostname"] == "srv-app-01"  # nothing changed
    waiting = fleet.get("/api/v1/enrolments", state="pending")
    assert waiting["total"] == 1
    item = waiting["items"][0]
    assert item["id"] == enrolment_id and item["identifier"] == "victim" and item["hostname"] == "evil"
    assert item["reason"] == "agent-host" and item["host_id"] == host_id and item["secret"] == "server"
    assert item["host"]["hostname"] == "srv-app-01" and item["host"]["source"] == "agent"
    assert "enroll.pending" in audit_actions(fleet)


def test_an_agent_presenting_its_live_token_gets_a_new_one(fleet: Fleet, results: dict[str, Any]) -> None:
    host_id, old = fleet.enroll("rotating")
    r = enroll(fleet, "rotating", token=old, site="lab")
    assert r.status_code == 201, r.text
    assert r.json()["host_id"] == host_id and r.json()["state"] == "enrolled"
    new = r.json()["token"]
    assert new != old and new.startswith("bsa_")
    assert fleet.report(old, at(results["dirty"], T1)).status_code == 401  # at once
    assert fleet.report(new, at(results["dirty"], T1)).status_code == 201
    assert fleet.get(f"/api/v1/hosts/{host_id}")["site"] == "lab"
    assert fleet.get("/api/v1/enrolments")["total"] == 0 and live_tokens(fleet, host_id) == 1
    assert "enroll.rotate" in audit_actions(fleet)


def test_a_revoked_or_another_hosts_token_proves_nothing(fleet: Fleet, results: dict[str, Any]) -> None:
    host_id, first = fleet.enroll("a")
    _, second = fleet.enroll("a", token=first)  # `first` is revoked now
    _, other = fleet.enroll("b")
    held(fleet, "a", token=first)
    held(fleet, "a", token=other)
    held(fleet, "a", token="bsa_" + "x" * 43)
    assert fleet.report(second, at(results["dirty"], T1)).status_code == 201
    # a token of its own host is no ticket to another identifier either: that is a new host
    r = enroll(fleet, "c", token=second)
    assert r.status_code == 201 and r.json()["host_id"] != host_id
    assert fleet.report(second, at(results["dirty"], T1)).status_code == 200  # still live: a duplicate


def test_approval_revokes_the_old_token_and_the_poll_collects_a_new_one(
    fleet: Fleet, results: dict[str, Any]
) -> None:
    host_id, real = fleet.enroll("reinstalled")
    assert fleet.report(real, at(results["dirty"], T1)).status_code == 201  # cached as valid
    enrolment_id, pending = held(fleet, "reinstalled", hostname="reinstalled-02", tags=["new"])
    poll = enroll(fleet, "reinstalled", pending_secret=pending)
    assert poll.status_code == 202 and poll.json() == {
        "state": "pending",
        "enrolment_id": enrolment_id,
        "retry_after": 60,
    }
    viewer = fleet.api_token("viewer")
    r = fleet.client.post(
        f"/api/v1/enrolments/{enrolment_id}/approve", headers={"Authorization": f"Bearer {viewer}"}
    )
    assert r.status_code == 403

    r = decide(fleet, enrolment_id, "approve")
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "approved" and r.json()["decided_by"].startswith("token:")
    assert fleet.report(real, at(results["dirty"], T1)).status_code == 401  # revoked at once
    assert live_tokens(fleet, host_id) == 0
    host = fleet.get(f"/api/v1/hosts/{host_id}")
    assert host["hostname"] == "reinstalled-02" and host["tags"] == ["new"]

    collected = enroll(fleet, "reinstalled", pending_secret=pending)
    assert collected.status_code == 201, collected.text
    assert collected.json()["host_id"] == host_id  # the same host, its history kept
    token = collected.json()["token"]
    assert fleet.report(token, at(results["clean"], soon(1))).status_code == 201
    spent = enroll(fleet, "reinstalled", pending_secret=pending)
    assert spent.status_code == 403 and "already" in spent.json()["detail"]
    assert decide(fleet, enrolment_id, "approve").status_code == 409
    assert decide(fleet, enrolment_id, "deny").status_code == 409
    assert decide(fleet, 999_999, "approve").status_code == 404
    listed = fleet.get("/api/v1/enrolments", state="enrolled")["items"]
    assert [e["id"] for e in listed] == [enrolment_id] and listed[0]["enrolled_at"]
    actions = audit_actions(fleet)
    assert "enrolment.approve" in actions and "enroll.collect" in actions


def test_denial_keeps_the_host_and_refuses_the_poll(fleet: Fleet, results: dict[str, Any]) -> None:
    _, real = fleet.enroll("kept")
    enrolment_id, pending = held(fleet, "kept")
    r = decide(fleet, enrolment_id, "deny")
    assert r.status_code == 200 and r.json()["state"] == "denied"
    denied = enroll(fleet, "kept", pending_secret=pending)
    assert denied.status_code == 403 and "denied" in denied.json()["detail"]
    assert fleet.report(real, at(results["dirty"], T1)).status_code == 201
    assert "enrolment.deny" in audit_actions(fleet)
    # a pending secret of another identifier, or an unknown one, is a new request
    other, _ = held(fleet, "kept", pending_secret="bsp_unknown")
    assert other != enrolment_id
    fleet.enroll("elsewhere")
    again, _ = held(fleet, "elsewhere", pending_secret=pending)
    assert again not in (enrolment_id, other)


def test_enrolment_listing_filters_and_refuses_bad_states(fleet: Fleet) -> None:
    fleet.enroll("x")
    first, _ = held(fleet, "x")
    second, _ = held(fleet, "x")
    decide(fleet, first, "deny")
    assert [e["id"] for e in fleet.get("/api/v1/enrolments", state="pending")["items"]] == [second]
    assert [e["id"] for e in fleet.get("/api/v1/enrolments", state="denied")["items"]] == [first]
    assert fleet.get("/api/v1/enrolments", limit=1)["next_cursor"]
    r = fleet.client.get("/api/v1/enrolments?state=bogus", headers=fleet.as_admin())
    assert r.status_code == 422


def test_too_many_waiting_enrolments_are_refused(fleet: Fleet, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(enrolment_store, "MAX_PENDING", 1)
    fleet.enroll("busy")
    held(fleet, "busy")
    r = enroll(fleet, "busy")
    assert r.status_code == 429


# ---------------------------------------------------------------- verifying removals


def test_a_newly_enrolled_agent_does_not_verify_a_removal_on_its_own(
    fleet: Fleet, results: dict[str, Any]
) -> None:
    """The attack: enrol as the host (here approved by an admin), post a clean result. Before,
    it moved the recorded removal to `verified`; now it stays `removed`, flagged, until an
    admin records the removal again."""
    host_id, real = fleet.enroll("machine")
    assert fleet.report(real, at(results["dirty"], T1)).status_code == 201
    record_removed(fleet, host_id, "kesl")
    enrolment_id, pending = held(fleet, "machine")
    assert decide(fleet, enrolment_id, "approve").status_code == 200
    newcomer = enroll(fleet, "machine", pending_secret=pending).json()["token"]

    assert fleet.report(newcomer, at(results["clean"], soon(1))).status_code == 201
    t = host_finding(fleet, host_id, "kesl")["transition"]
    assert t["state"] == "removed" and t["flag"] == "clean-scan-from-new-agent"
    assert fleet.report(newcomer, at(results["clean"], soon(2))).status_code == 201
    with fleet.app.state.banscan.db.reading() as s:
        flagged = s.scalar(
            select(func.count())
            .select_from(TransitionEvent)
            .where(TransitionEvent.flag == "clean-scan-from-new-agent")
        )
    assert flagged == 1  # said once, not at every scan
    assert host_finding(fleet, host_id, "kesl")["transition"]["state"] == "removed"

    # an admin records the removal again: that agent's next clean scan verifies it
    record_removed(fleet, host_id, "kesl")
    assert fleet.report(newcomer, at(results["clean"], soon(3))).status_code == 201
    t = host_finding(fleet, host_id, "kesl")["transition"]
    assert t["state"] == "verified" and t["flag"] is None


def test_the_long_standing_agent_verifies_as_before_also_after_rotating(
    fleet: Fleet, results: dict[str, Any]
) -> None:
    host_id, token = fleet.enroll("steady")
    assert fleet.report(token, at(results["dirty"], T1)).status_code == 201
    record_removed(fleet, host_id, "kesl")
    record_removed(fleet, host_id, "ksc-linux")
    _, token = fleet.enroll("steady", token=token)  # a rotated token keeps the agent's enrolment
    assert fleet.report(token, at(results["clean"], soon(1))).status_code == 201
    for product in ("kesl", "ksc-linux"):
        t = host_finding(fleet, host_id, product)["transition"]
        assert t["state"] == "verified" and t["flag"] is None, product


def test_a_fresh_host_token_minted_after_the_removal_does_not_verify(
    fleet: Fleet, results: dict[str, Any]
) -> None:
    """However a token newer than the removal came to be, its clean scan verifies nothing."""
    host_id, token = fleet.enroll("minted")
    assert fleet.report(token, at(results["dirty"], T1)).status_code == 201
    record_removed(fleet, host_id, "kesl")
    with fleet.app.state.banscan.db.writing() as s:  # as if the token had been made just now
        s.execute(
            update(AgentToken)
            .where(AgentToken.host_id == host_id)
            .values(enrolled_at=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5))
        )
    fleet.app.state.banscan.agent_tokens.forget_host(host_id)
    assert fleet.report(token, at(results["clean"], soon(1))).status_code == 201
    assert host_finding(fleet, host_id, "kesl")["transition"]["state"] == "removed"


# ---------------------------------------------------------------- imported hosts


def test_an_imported_host_is_not_claimed_without_an_admin(fleet: Fleet, results: dict[str, Any]) -> None:
    r = fleet.client.post(
        "/api/v1/imports", files={"file": ("inventory.tsv", TSV.encode())}, headers=fleet.as_admin()
    )
    assert r.status_code == 201, r.text
    imported = r.json()["hosts"][0]["host_id"]
    # its name under another identifier claims nothing: a host of its own
    r = enroll(fleet, "machine-id-of-some-pc", hostname="KIOSK-01")
    assert r.status_code == 201 and r.json()["host_id"] != imported
    assert fleet.get(f"/api/v1/hosts/{imported}")["source"] == "import"
    enrolment_id, pending = held(fleet, "KIOSK-01", hostname="KIOSK-01")
    item = fleet.get("/api/v1/enrolments", state="pending")["items"][0]
    assert item["reason"] == "imported-host" and item["host"]["source"] == "import"
    assert enroll(fleet, "KIOSK-01", pending_secret=pending).status_code == 202
    assert decide(fleet, enrolment_id, "approve").status_code == 200
    collected = enroll(fleet, "KIOSK-01", pending_secret=pending)
    assert collected.status_code == 201 and collected.json()["host_id"] == imported
    host = fleet.get(f"/api/v1/hosts/{imported}")
    assert host["source"] == "agent" and sum(host["findings"].values()) >= 1  # its history kept
    # another hostname, same identifier: still the imported host, still held (it has an agent now)
    held(fleet, "KIOSK-01", hostname="kiosk-01.example")


# ---------------------------------------------------------------- enrol secrets


def make_secret(fleet: Fleet, **body: Any) -> dict[str, Any]:
    r = fleet.client.post("/api/v1/enrol-secrets", json=body, headers=fleet.as_admin())
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def test_a_scoped_secret_forces_its_site_and_tag(fleet: Fleet) -> None:
    made = make_secret(fleet, name="paris pci", site="Paris", tag="pci", expires_in_days=30)
    secret = made["secret"]
    assert secret.startswith("bse_") and made["status"] == "active" and made["expires_at"]
    r = enroll(fleet, "scoped-1", secret=secret, site="London", tags=["db"])
    assert r.status_code == 201, r.text
    host = fleet.get(f"/api/v1/hosts/{r.json()['host_id']}")
    assert host["site"] == "Paris" and host["tags"] == ["db", "pci"]
    # without site or tags the host still gets them; enrolling again cannot shed them
    r = enroll(fleet, "scoped-2", secret=secret)
    host_id, token = r.json()["host_id"], r.json()["token"]
    assert fleet.get(f"/api/v1/hosts/{host_id}")["tags"] == ["pci"]
    r = enroll(fleet, "scoped-2", secret=secret, token=token, site="Berlin", tags=[])
    assert r.status_code == 201, r.text
    host = fleet.get(f"/api/v1/hosts/{host_id}")
    assert host["site"] == "Paris" and host["tags"] == ["pci"]
    # the scope tag makes one tag too many: refused
    r = enroll(fleet, "scoped-3", secret=secret, tags=[f"t{i:02d}" for i in range(20)])
    assert r.status_code == 422 and "pci" in r.json()["detail"]

    listed = fleet.get("/api/v1/enrol-secrets")["items"]
    assert [s["name"] for s in listed] == ["paris pci"]
    assert listed[0]["last_used_at"] and "secret" not in listed[0] and "secret_hash" not in listed[0]
    # held enrolments carry the scope, and approval applies it
    enrolment_id, _ = held(fleet, "scoped-2", secret=secret, site="Rome")
    item = fleet.get("/api/v1/enrolments", state="pending")["items"][0]
    assert item["site"] == "Paris" and item["scope_tag"] == "pci" and item["secret"] == "paris pci"
    assert decide(fleet, enrolment_id, "approve").status_code == 200
    assert fleet.get(f"/api/v1/hosts/{host_id}")["site"] == "Paris"


def test_revoked_expired_and_wrong_secrets_are_refused(fleet: Fleet) -> None:
    made = make_secret(fleet, name="short-lived")
    secret = made["secret"]
    assert enroll(fleet, "s-1", secret=secret).status_code == 201
    wrong = secret[:-4] + ("AAAA" if not secret.endswith("AAAA") else "BBBB")
    r = enroll(fleet, "s-2", secret=wrong)
    assert r.status_code == 403 and "wrong" in r.json()["detail"]

    with fleet.app.state.banscan.db.writing() as s:
        s.execute(
            update(EnrolSecret)
            .where(EnrolSecret.id == made["id"])
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
        )
    r = enroll(fleet, "s-3", secret=secret)
    assert r.status_code == 403 and "expired" in r.json()["detail"]
    assert fleet.get("/api/v1/enrol-secrets")["items"][0]["status"] == "expired"

    other = make_secret(fleet, name="to-revoke")
    admin = fleet.as_admin()
    r = fleet.client.post(f"/api/v1/enrol-secrets/{other['id']}/revoke", headers=admin)
    assert r.status_code == 200 and r.json()["status"] == "revoked"
    assert fleet.client.post(f"/api/v1/enrol-secrets/{other['id']}/revoke", headers=admin).status_code == 409
    assert fleet.client.post("/api/v1/enrol-secrets/999999/revoke", headers=admin).status_code == 404
    r = enroll(fleet, "s-4", secret=other["secret"])
    assert r.status_code == 403 and "revoked" in r.json()["detail"]
    # the same name twice is a conflict; the server's own secret keeps working
    r = fleet.client.post("/api/v1/enrol-secrets", json={"name": "to-revoke"}, headers=admin)
    assert r.status_code == 409
    assert enroll(fleet, "s-5").status_code == 201
    actions = audit_actions(fleet)
    assert actions.count("enrol_secret.create") == 2 and "enrol_secret.revoke" in actions
    assert actions.count("enroll.denied") == 3


def test_a_server_without_its_own_secret_takes_enrol_secrets(fleet_factory: Callable[..., Fleet]) -> None:
    f = fleet_factory(enroll_secret=None)
    assert enroll(f, "n-1").status_code == 403
    secret = make_secret(f, name="only")["secret"]
    assert enroll(f, "n-1", secret=secret).status_code == 201


def test_enrol_secret_commands(sqlite_url: str) -> None:
    runner = CliRunner()
    r = runner.invoke(
        cli_app,
        [
            "enrol-secret",
            "add",
            "branch",
            "--site",
            "Oslo",
            "--tag",
            "pos",
            "--expires-in-days",
            "7",
            "--db",
            sqlite_url,
        ],
    )
    assert r.exit_code == 0, r.output
    secret = r.stdout.strip()
    assert secret.startswith("bse_")
    r = runner.invoke(cli_app, ["enrol-secret", "add", "branch", "--db", sqlite_url])
    assert r.exit_code == 2 and "already exists" in r.output
    r = runner.invoke(cli_app, ["enrol-secret", "list", "--json", "--db", sqlite_url])
    assert r.exit_code == 0
    (item,) = json.loads(r.stdout)["items"]
    assert (item["name"], item["site"], item["tag"], item["status"]) == ("branch", "Oslo", "pos", "active")
    assert item["created_by"] == "cli" and secret not in r.stdout
    r = runner.invoke(cli_app, ["enrol-secret", "list", "--db", sqlite_url])
    assert r.exit_code == 0 and "branch" in r.stdout and "Oslo" in r.stdout
    assert runner.invoke(cli_app, ["enrol-secret", "revoke", "branch", "--db", sqlite_url]).exit_code == 0
    r = runner.invoke(cli_app, ["enrol-secret", "revoke", "branch", "--db", sqlite_url])
    assert r.exit_code == 2 and "already revoked" in r.output
    assert runner.invoke(cli_app, ["enrol-secret", "revoke", "nope", "--db", sqlite_url]).exit_code == 2
    r = runner.invoke(cli_app, ["enrol-secret", "list", "--json", "--db", sqlite_url])
    assert json.loads(r.stdout)["items"][0]["status"] == "revoked"
    db = Database(sqlite_url)
    try:
        with db.reading() as s:
            actions = list(s.scalars(select(AuditEntry.action).where(AuditEntry.actor == "cli")))
    finally:
        db.dispose()
    assert actions == ["enrol_secret.create", "enrol_secret.revoke"]


# ---------------------------------------------------------------- the dashboard


def test_the_enrolments_page_lists_and_decides_with_csrf(fleet: Fleet) -> None:
    fleet.enroll("paged")
    first, _ = held(fleet, "paged", hostname="asks-first")
    second, _ = held(fleet, "paged", hostname="asks-second")
    make_admin(fleet.db_url)
    a = browser(fleet)
    csrf = login(a, "alice")
    page = a.get("/enrolments")
    assert page.status_code == 200
    assert 'href="/enrolments"' in page.text and f'data-enrolment-id="{first}"' in page.text
    assert "asks-first" in page.text and "agent-host" in page.text

    r = a.post(f"/enrolments/{first}/approve", data={}, follow_redirects=False)
    assert r.status_code == 403  # no CSRF token
    r = a.post(f"/enrolments/{first}/approve", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/enrolments?done=approved"
    r = a.post(f"/enrolments/{second}/deny", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303
    r = a.post(f"/enrolments/{second}/deny", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 409
    page = a.get("/enrolments?done=<b>x</b>").text
    assert "No enrolment is waiting." in page and "<b>x</b>" not in page
    decided = page[page.index('id="decided-enrolments"') :]
    assert "asks-first" in decided and "approved" in decided and "denied" in decided

    create_user(fleet.db_url, "victor", ADMIN_PASSWORD, "viewer")
    v = browser(fleet)
    login(v, "victor")
    assert v.get("/enrolments").status_code == 403
    assert 'href="/enrolments"' not in v.get("/").text


# ---------------------------------------------------------------- the agent


def agent_config(tmp_path: Path, state: str = "s", **changes: Any) -> AgentConfig:
    root = tmp_path / "root"
    if not root.exists():
        build_linux_root(root)
    base: dict[str, Any] = {
        "server": "https://testserver",
        "enroll_secret": ENROLL_SECRET,
        "state_dir": tmp_path / state,
        "once": True,
        "root": root,
        "host_identifier": "agent-machine",
        "checkin_interval": 0,
    }
    return AgentConfig(**{**base, **changes})


def test_the_agent_enrols_rotates_waits_and_collects(fleet: Fleet, tmp_path: Path) -> None:
    cfg = agent_config(tmp_path)
    assert run_agent(cfg, client=fleet.client) == 0  # first enrolment
    first = AgentState.load(cfg.state_dir)
    assert first.token and first.pending_secret is None

    # enrolling again with its saved token: exchanged for a new one, nothing held
    agent = Agent(cfg, client=fleet.client)
    agent.enroll()
    rotated = AgentState.load(cfg.state_dir)
    assert rotated.token != first.token and rotated.host_id == first.host_id
    assert fleet.get("/api/v1/enrolments")["total"] == 0

    # the same machine from a fresh state folder (a reinstall): held, exit 3, then approved
    other = agent_config(tmp_path, "s2")
    assert run_agent(other, client=fleet.client) == 3
    waiting = AgentState.load(other.state_dir)
    assert waiting.token is None and waiting.pending_secret and waiting.enrolment_id
    assert run_agent(other, client=fleet.client) == 3  # polls the same enrolment
    assert fleet.get("/api/v1/enrolments")["total"] == 1
    assert decide(fleet, waiting.enrolment_id, "approve").status_code == 200
    assert run_agent(other, client=fleet.client) == 0
    done = AgentState.load(other.state_dir)
    assert done.token and done.pending_secret is None and done.host_id == first.host_id

    # the displaced agent is refused, asks again, and an admin denies it: it stops (exit 2)
    assert run_agent(cfg, client=fleet.client) == 3
    again = AgentState.load(cfg.state_dir)
    assert decide(fleet, again.enrolment_id or 0, "deny").status_code == 200
    assert run_agent(cfg, client=fleet.client) == 2
    assert AgentState.load(cfg.state_dir).pending_secret is None


def test_a_running_agent_polls_until_approved(fleet: Fleet, tmp_path: Path) -> None:
    fleet.enroll("agent-machine")  # the host exists: this agent's enrolment is held
    cfg = agent_config(tmp_path, once=False, pending_interval=0.05, interval=3600)
    stop = threading.Event()
    codes: list[int] = []
    agent_client = browser(fleet)  # the agent's own client, used from its thread only
    thread = threading.Thread(target=lambda: codes.append(run_agent(cfg, client=agent_client, stop=stop)))
    thread.start()
    try:
        deadline = time.monotonic() + 60
        state = AgentState.load(cfg.state_dir)
        while state.enrolment_id is None and time.monotonic() < deadline:
            time.sleep(0.05)
            state = AgentState.load(cfg.state_dir)
        assert state.enrolment_id is not None
        with fleet.app.state.banscan.db.writing() as s:
            enrolment_store.approve_enrolment(s, state.enrolment_id, actor="test")
        while AgentState.load(cfg.state_dir).token is None and time.monotonic() < deadline:
            time.sleep(0.05)
        while time.monotonic() < deadline:
            with fleet.app.state.banscan.db.reading() as s:
                reported = select(func.count()).select_from(Host).where(Host.last_report_id.is_not(None))
                if s.scalar(reported):
                    break
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(30)
    assert codes == [0]
    assert AgentState.load(cfg.state_dir).token


# ---------------------------------------------------------------- migration 0005


def test_migration_0005_with_data(db_url: str) -> None:
    upgrade_db(db_url)
    cfg = alembic_config()
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0004")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO hosts (id, identifier, hostname, platform, site, source, created_at) "
                    "VALUES (1, 'old', 'old-01', 'linux', '', 'agent', '2025-01-01 00:00:00')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO agent_tokens (id, host_id, token_hash, created_at, remote_addr) "
                    "VALUES (1, 1, 'ab', '2025-01-02 03:04:05', '')"
                )
            )
        upgrade_db(db_url)
        with engine.begin() as conn:
            when = conn.execute(select(AgentToken.enrolled_at)).scalar_one()
            assert when == dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
        db = Database(db_url)
        try:
            with db.writing() as s:
                _, secret = enrolment_store.add_enrol_secret(s, "m", created_by="test", site="x", tag="y")
                s.add(
                    Enrolment(
                        identifier="old",
                        hostname="old-02",
                        platform="linux",
                        tags=["a"],
                        reason="agent-host",
                        host_id=1,
                        secret_id=secret.id,
                        request_hash="cd",
                    )
                )
            with db.reading() as s:
                row = s.scalars(select(Enrolment)).one()
                assert (row.state, row.tags, row.created_at is not None) == ("pending", ["a"], True)
        finally:
            db.dispose()
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0004")  # with rows in the new tables
        with engine.begin() as conn:
            assert conn.execute(text("SELECT count(*) FROM agent_tokens")).scalar_one() == 1
        upgrade_db(db_url)
        with engine.begin() as conn:
            assert conn.execute(select(func.count()).select_from(Enrolment)).scalar_one() == 0
            assert conn.execute(select(func.count()).select_from(EnrolSecret)).scalar_one() == 0
            assert conn.execute(select(AgentToken.enrolled_at)).scalar_one() == when
    finally:
        engine.dispose()
