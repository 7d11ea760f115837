"""Running organisations: API tokens that belong to one (migration 0010), invitations with a
one-time password link, the organisation routes and the commands that make users, tokens and
enrol secrets in an organisation. On SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy import select
from typer.testing import CliRunner

from banscan.cli import app as cli_app
from banscan.store import orgs
from banscan.store.accounts import add_user, verify_password
from banscan.store.db import Database, make_engine
from banscan.store.invites import InviteError, accept_invite, invite_user, invited_user, issue_link
from banscan.store.migrate import upgrade_db
from banscan.store.models import (
    DEFAULT_ORG_ID,
    ApiToken,
    AuditEntry,
    EnrolSecret,
    Host,
    Organisation,
    User,
    utcnow,
)

from .conftest import ADMIN_PASSWORD, Fleet, at
from .test_organisations import _migrate

NEW_PASSWORD = "marsh lantern violet ferry"


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    upgrade_db(db_url)
    database = Database(db_url)
    yield database
    database.dispose()


# ---------------------------------------------------------------- migration 0010


def test_migration_0010_gives_each_token_the_organisation_of_its_maker(db_url: str) -> None:
    upgrade_db(db_url)
    _migrate(db_url, "0009", down=True)
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            assert "org_id" not in {c["name"] for c in sa.inspect(conn).get_columns("api_tokens")}
            conn.execute(
                sa.text(
                    "INSERT INTO organisations (id, slug, name, share_with_coordinators, contact, created_at) "
                    "VALUES (7, 'agency', 'Agency', 'aggregates', '', :t)"
                ),
                {"t": dt.datetime(2025, 1, 1)},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO users (id, org_id, username, password_hash, role, created_at, disabled, "
                    "failed_logins) VALUES (5, 7, 'agency-admin', 'x', 'admin', :t, false, 0)"
                ),
                {"t": dt.datetime(2025, 1, 1)},
            )
            for i, maker in enumerate(("agency-admin", "cli", "someone-gone"), start=1):
                conn.execute(
                    sa.text(
                        "INSERT INTO api_tokens (id, name, token_hash, role, created_by, created_at) "
                        "VALUES (:i, :n, :h, 'viewer', :m, :t)"
                    ),
                    {"i": i, "n": f"t{i}", "h": str(i) * 64, "m": maker, "t": dt.datetime(2025, 1, 1)},
                )
        upgrade_db(db_url)
        with engine.connect() as conn:
            owners: dict[str, int] = dict(conn.execute(sa.text("SELECT name, org_id FROM api_tokens")).all())
            agency = conn.execute(
                sa.text("SELECT role, jurisdiction, email FROM organisations WHERE id = 7")
            ).one()
        assert owners == {"t1": 7, "t2": DEFAULT_ORG_ID, "t3": DEFAULT_ORG_ID}
        assert tuple(agency) == (None, None, "")
        # Down again is refused while a token acts in another organisation ...
        with pytest.raises(RuntimeError, match=r"1 API token\(s\) act in another organisation"):
            _migrate(db_url, "0009", down=True)
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM api_tokens WHERE org_id <> 1"))
        # ... and keeps the others once there is none.
        _migrate(db_url, "0009", down=True)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM api_tokens")).scalar_one() == 2
            assert "notices" not in sa.inspect(conn).get_table_names()
            conn.execute(sa.text("DELETE FROM users WHERE id = 5"))
            conn.execute(sa.text("DELETE FROM organisations WHERE id = 7"))
            conn.commit()
    finally:
        engine.dispose()
        upgrade_db(db_url)


# ---------------------------------------------------------------- invitations


def _agency(s: Any) -> Organisation:
    return orgs.add_org(s, "county-clinic", "County clinic", actor="test")


def test_an_invited_user_cannot_log_in_until_the_link_sets_a_password(db: Database) -> None:
    with db.writing() as s:
        clinic = _agency(s)
        invitation = invite_user(s, "officer", "admin", org_id=clinic.id, actor="state-admin")
        token = invitation.token
        clinic_id = clinic.id
    with db.reading() as s:
        user = s.scalars(select(User).where(User.username == "officer")).one()
        assert user.org_id == clinic_id and user.role == "admin"
        for guess in ("", "officer", NEW_PASSWORD):  # nothing opens the account before
            assert not verify_password(user.password_hash, guess)
        assert invited_user(s, token).username == "officer"
        audited = s.execute(
            select(AuditEntry.action, AuditEntry.org_id).where(AuditEntry.target == "officer")
        )
        assert ("user.invite", clinic_id) in {tuple(a) for a in audited}
    # The policy refuses a weak password and the link still works afterwards.
    with pytest.raises(ValueError, match="at least 12 characters"):
        accept_invite(db, token, "short")
    assert accept_invite(db, token, NEW_PASSWORD) == "officer"
    with db.reading() as s:
        user = s.scalars(select(User).where(User.username == "officer")).one()
        assert verify_password(user.password_hash, NEW_PASSWORD)
    # Spent: the same link again is refused, as after any later password change.
    with pytest.raises(InviteError, match="already used"):
        accept_invite(db, token, "another long passphrase here")


def test_forged_expired_and_disabled_invitations_are_refused(db: Database) -> None:
    now = utcnow()
    with db.writing() as s:
        clinic = _agency(s)
        token = invite_user(s, "officer", "viewer", org_id=clinic.id, actor="cli", now=now).token
        other = add_user(s, "someone-else", ADMIN_PASSWORD, "admin")
        for_other = issue_link(s, other).token
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    raw[-1] ^= 1
    forged = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    raw[7] ^= 0x7F  # another user id, same signature
    swapped = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    with db.reading() as s:
        for bad, why in (
            (forged, "not valid"),
            (swapped, "not valid"),
            ("", "not an invitation"),
            ("!!!", "not an invitation"),
            (token[:-2], "not an invitation"),
            ("A" * 64, "not valid"),  # the right length, no signature
            ("A" * 66, "not an invitation"),
        ):
            with pytest.raises(InviteError, match=why):
                invited_user(s, bad)
        with pytest.raises(InviteError, match="expired"):
            invited_user(s, token, now=now + dt.timedelta(days=8))
        assert invited_user(s, token, now=now + dt.timedelta(days=6)).username == "officer"
        assert invited_user(s, for_other).username == "someone-else"
    with db.writing() as s:
        s.execute(sa.update(User).where(User.username == "officer").values(disabled=True))
    with db.reading() as s, pytest.raises(InviteError, match="disabled"):
        invited_user(s, token)


def test_the_invitation_page_sets_the_password_once(fleet: Fleet) -> None:
    db = fleet.app.state.banscan.db
    with db.writing() as s:
        clinic = _agency(s)
        token = invite_user(s, "officer", "admin", org_id=clinic.id, actor="cli").token
    client = fleet.client
    page = client.get("/invite", params={"token": token})
    assert page.status_code == 200 and "officer" in page.text and 'name="csrf_token"' in page.text
    csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    form = {"token": token, "password": NEW_PASSWORD, "repeat": NEW_PASSWORD}
    # No CSRF token: refused, nothing spent.
    assert client.post("/invite", data=form, follow_redirects=False).status_code == 403
    differ = client.post(
        "/invite", data={**form, "repeat": "x" * 12, "csrf_token": csrf}, follow_redirects=False
    )
    assert differ.status_code == 422 and "differ" in differ.text
    csrf = differ.text.split('name="csrf_token" value="')[1].split('"')[0]  # each form has its own
    weak = client.post(
        "/invite", data={**form, "password": "password1234", "repeat": "password1234", "csrf_token": csrf}
    )
    assert weak.status_code == 422 and "common passwords" in weak.text
    csrf = weak.text.split('name="csrf_token" value="')[1].split('"')[0]
    done = client.post("/invite", data={**form, "csrf_token": csrf}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/login"
    assert fleet.login("officer", NEW_PASSWORD).status_code == 200
    again = client.get("/invite", params={"token": token})
    assert again.status_code == 404 and "already used" in again.text
    assert client.get("/invite", params={"token": "garbage"}).status_code == 404


# ---------------------------------------------------------------- the organisation routes


class Admins:
    """Signed-in admins (browser sessions) of organisations, by slug."""

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        self.sessions: dict[str, tuple[httpx.Client, str]] = {}

    def add(self, slug: str, role: str = "admin") -> None:
        from fastapi.testclient import TestClient

        with self.fleet.app.state.banscan.db.writing() as s:
            org = orgs.find_org(s, slug)
            add_user(s, f"{role}-{slug}", ADMIN_PASSWORD, role, org_id=org.id)
        client = TestClient(self.fleet.app, base_url="https://testserver")
        csrf = client.get("/api/v1/csrf").json()["csrf_token"]
        r = client.post(
            "/login",
            data={"username": f"{role}-{slug}", "password": ADMIN_PASSWORD, "csrf_token": csrf},
            headers={"Accept": "application/json"},
        )
        assert r.status_code == 200, r.text
        self.sessions[f"{role}-{slug}"] = (client, r.json()["csrf_token"])

    def call(self, who: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        client, csrf = self.sessions[who]
        r: httpx.Response = client.request(method, path, headers={"x-csrf-token": csrf}, **kwargs)
        return r

    def close(self) -> None:
        for client, _ in self.sessions.values():
            client.close()


@pytest.fixture
def admins(fleet: Fleet) -> Iterator[Admins]:
    with fleet.app.state.banscan.db.writing() as s:
        orgs.add_org(s, "state-cio", "State CIO office", actor="test")
        orgs.add_org(s, "revenue", "Revenue agency", actor="test")
    found = Admins(fleet)
    for slug in ("state-cio", "revenue"):
        found.add(slug)
    found.add("state-cio", "viewer")
    yield found
    found.close()


def test_a_coordinator_adds_members_and_invites_their_first_officer(admins: Admins) -> None:
    state = "admin-state-cio"
    r = admins.call(
        state,
        "POST",
        "/api/v1/orgs",
        json={"slug": "health", "name": "Department of Health", "email": "ciso@health.example.gov"},
    )
    assert r.status_code == 201, r.text
    assert (r.json()["parent"], r.json()["share_with_coordinators"]) == ("state-cio", "aggregates")
    r = admins.call(
        state, "POST", "/api/v1/orgs", json={"slug": "clinic", "name": "Clinic", "parent": "health"}
    )
    assert r.status_code == 201 and r.json()["parent"] == "health", r.text
    listed = admins.call(state, "GET", "/api/v1/orgs").json()["items"]
    assert [o["slug"] for o in listed] == ["clinic", "health", "state-cio"]
    assert {o["slug"] for o in admins.call("admin-revenue", "GET", "/api/v1/orgs").json()["items"]} == {
        "revenue"
    }

    r = admins.call(
        state, "PATCH", "/api/v1/orgs/health", json={"role": "state-agency", "jurisdiction": "US-TX"}
    )
    assert r.status_code == 200 and r.json()["changed"] == ["jurisdiction", "role"], r.text
    bad = admins.call(state, "PATCH", "/api/v1/orgs/health", json={"jurisdiction": "Texas"})
    assert bad.status_code == 422 and "ISO 3166" in bad.text
    bad = admins.call(state, "PATCH", "/api/v1/orgs/health", json={"email": "Health <a@b.org>"})
    assert bad.status_code == 422

    # The coordinator cannot widen what it sees; the member's own admin decides.
    assert (
        admins.call(state, "PUT", "/api/v1/orgs/health/sharing", json={"share": "hosts"}).status_code == 403
    )
    r = admins.call(state, "POST", "/api/v1/orgs/health/invitations", json={"username": "health-ciso"})
    assert r.status_code == 201, r.text
    link = r.json()["link"]
    assert link.startswith("/invite?token=")
    # Only the first officer: after that the member's own admins invite.
    again = admins.call(state, "POST", "/api/v1/orgs/health/invitations", json={"username": "state-spy"})
    assert again.status_code == 403
    page = admins.fleet.client.get(link)
    csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    token = link.split("=", 1)[1]
    form = {"token": token, "password": NEW_PASSWORD, "repeat": NEW_PASSWORD, "csrf_token": csrf}
    assert admins.fleet.client.post("/invite", data=form, follow_redirects=False).status_code == 303
    admins.sessions["admin-health"] = _signed_in(admins.fleet, "health-ciso")
    r = admins.call("admin-health", "PUT", "/api/v1/orgs/health/sharing", json={"share": "hosts"})
    assert r.status_code == 200 and r.json()["changed"] is True
    r = admins.call("admin-health", "POST", "/api/v1/orgs/health/invitations", json={"username": "health-2"})
    assert r.status_code == 201
    with admins.fleet.app.state.banscan.db.reading() as s:
        health = orgs.find_org(s, "health")
        assert (health.share_with_coordinators, health.role, health.jurisdiction) == (
            "hosts",
            "state-agency",
            "US-TX",
        )
        members = set(s.scalars(select(User.username).where(User.org_id == health.id)))
    assert members == {"health-ciso", "health-2"}


def _signed_in(fleet: Fleet, username: str) -> tuple[httpx.Client, str]:
    from fastapi.testclient import TestClient

    client = TestClient(fleet.app, base_url="https://testserver")
    csrf = client.get("/api/v1/csrf").json()["csrf_token"]
    r = client.post(
        "/login",
        data={"username": username, "password": NEW_PASSWORD, "csrf_token": csrf},
        headers={"Accept": "application/json"},
    )
    assert r.status_code == 200, r.text
    return client, str(r.json()["csrf_token"])


def test_organisations_outside_the_callers_tree_are_unknown_and_viewers_change_nothing(
    admins: Admins,
) -> None:
    assert (
        admins.call(
            "admin-state-cio", "POST", "/api/v1/orgs", json={"slug": "health", "name": "Health"}
        ).status_code
        == 201
    )
    before = _rows(admins)
    for method, path, kwargs in (
        ("PATCH", "/api/v1/orgs/health", {"json": {"name": "Taken over"}}),
        ("PUT", "/api/v1/orgs/health/sharing", {"json": {"share": "hosts"}}),
        ("POST", "/api/v1/orgs/health/invitations", {"json": {"username": "intruder"}}),
        ("POST", "/api/v1/orgs", {"json": {"slug": "sub", "name": "Sub", "parent": "health"}}),
        ("PATCH", "/api/v1/orgs/state-cio", {"json": {"name": "Taken over"}}),
    ):
        r = admins.call("admin-revenue", method, path, **kwargs)
        assert r.status_code == 404, (method, path, r.status_code)
    for method, path, kwargs in (
        ("PATCH", "/api/v1/orgs/health", {"json": {"name": "Renamed"}}),
        ("POST", "/api/v1/orgs", {"json": {"slug": "sub", "name": "Sub"}}),
        ("POST", "/api/v1/orgs/health/invitations", {"json": {"username": "intruder"}}),
    ):
        assert admins.call("viewer-state-cio", method, path, **kwargs).status_code == 403
    assert _rows(admins) == before
    # Slugs are unique across the server: a taken one is refused, whoever holds it.
    taken = admins.call("admin-state-cio", "POST", "/api/v1/orgs", json={"slug": "revenue", "name": "x"})
    assert taken.status_code == 409


def _rows(admins: Admins) -> list[tuple[Any, ...]]:
    with admins.fleet.app.state.banscan.db.reading() as s:
        return [
            *(tuple(r) for r in s.execute(select(Organisation.__table__).order_by(Organisation.id))),
            *(tuple(r) for r in s.execute(select(User.id, User.username, User.org_id).order_by(User.id))),
        ]


# ---------------------------------------------------------------- the commands


def test_commands_make_users_tokens_and_secrets_in_an_organisation(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()

    def run(*args: str, **env: str) -> Any:
        return runner.invoke(cli_app, [*args, "--db", db_url], env=env or None)

    assert run("org", "add", "state-cio", "--name", "State CIO office").exit_code == 0
    r = run(
        "org",
        "add",
        "health",
        "--name",
        "Health",
        "--parent",
        "state-cio",
        "--email",
        "ciso@health.example.gov",
        "--role",
        "state-agency",
        "--jurisdiction",
        "US-TX",
    )
    assert r.exit_code == 0, r.output
    assert run("org", "add", "parks", "--name", "Parks").exit_code == 0
    r = run(
        "user", "add", "health-admin", "--role", "admin", "--org", "health", BANSCAN_PASSWORD=ADMIN_PASSWORD
    )
    assert r.exit_code == 0, r.output
    r = run("token", "add", "health-siem", "--org", "health")
    assert r.exit_code == 0 and r.stdout.startswith("bst_"), r.output
    r = run("enrol-secret", "add", "health-rollout", "--org", "health")
    assert r.exit_code == 0, r.output
    for args in (
        ("user", "add", "x-admin", "--org", "nowhere"),
        ("token", "add", "x", "--org", "nowhere"),
        ("enrol-secret", "add", "x", "--org", "nowhere"),
    ):
        r = run(*args, BANSCAN_PASSWORD=ADMIN_PASSWORD)
        assert r.exit_code == 2 and "no organisation 'nowhere'" in r.output, (args, r.output)

    r = run("org", "set", "health", "--email", "soc@health.example.gov", "--contact", "SOC desk")
    assert r.exit_code == 0 and "changed contact, email" in r.output, r.output
    assert "nothing to change" in run("org", "set", "health", "--contact", "SOC desk").output
    r = run("org", "set", "health", "--server-defaults")
    assert r.exit_code == 0 and "changed jurisdiction, role" in r.output, r.output
    assert run("org", "set", "health", "--jurisdiction", "texas").exit_code == 2
    assert run("org", "set", "health", "--role", "emperor").exit_code == 2
    r = run("org", "share", "health", "hosts")
    assert r.exit_code == 0 and "now shares hosts" in r.output
    assert run("org", "share", "health", "everything").exit_code == 2
    r = run("org", "set-parent", "parks", "health")
    assert r.exit_code == 0 and "now a member of health" in r.output
    r = run("org", "set-parent", "state-cio", "parks")
    assert r.exit_code == 2 and "cycle" in r.output
    assert run("org", "set-parent", "parks").exit_code == 2  # neither a parent nor --top
    r = run("org", "set-parent", "parks", "--top")
    assert r.exit_code == 0 and "now a top organisation" in r.output
    r = run("org", "invite", "health", "health-officer", "--base-url", "https://banscan.example.gov/")
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("https://banscan.example.gov/invite?token=")
    assert "works once" in r.output
    token = r.stdout.strip().split("=", 1)[1]

    db = Database(db_url)
    try:
        with db.reading() as s:
            health = orgs.find_org(s, "health")
            assert (health.email, health.contact, health.role, health.jurisdiction) == (
                "soc@health.example.gov",
                "SOC desk",
                None,
                None,
            )
            assert s.scalar(select(User.org_id).where(User.username == "health-admin")) == health.id
            assert s.scalar(select(ApiToken.org_id).where(ApiToken.name == "health-siem")) == health.id
            assert (
                s.scalar(select(EnrolSecret.org_id).where(EnrolSecret.name == "health-rollout")) == health.id
            )
            assert invited_user(s, token).org_id == health.id
            listed = {o["slug"]: o for o in orgs.list_orgs(s)}
    finally:
        db.dispose()
    assert listed["parks"]["parent"] is None and listed["health"]["users"] == 2
    r = run("org", "list", "--format", "json")
    assert json.loads(r.stdout)["items"][1]["email"] == "soc@health.example.gov"


def _form(admins: Admins, who: str, path: str, data: dict[str, str]) -> httpx.Response:
    client, csrf = admins.sessions[who]
    r: httpx.Response = client.post(path, data={**data, "csrf_token": csrf}, follow_redirects=False)
    return r


def test_the_organisation_page_adds_members_invites_and_sets_sharing(admins: Admins) -> None:
    state = "admin-state-cio"
    r = _form(admins, state, "/organisation/members", {"slug": "health", "name": "Department of Health"})
    assert r.status_code == 200 and "Department of Health is now a member" in r.text, r.text[:500]
    assert 'id="member-health"' in r.text
    bad = _form(admins, state, "/organisation/members", {"slug": "Health!", "name": "x"})
    assert bad.status_code == 422 and 'id="org-error"' in bad.text
    r = _form(
        admins, state, "/organisations/health/invitations", {"username": "health-ciso", "role": "admin"}
    )
    assert r.status_code == 201, r.text[:500]
    link = r.text.split('<code id="invite-link">')[1].split("</code>")[0]
    assert link.startswith("https://testserver/invite?token=")
    again = _form(admins, state, "/organisations/health/invitations", {"username": "spy"})
    assert again.status_code == 403 and "its own admins invite" in again.text
    # The officer chooses a password with the link, then decides what the state sees.
    client = admins.fleet.client
    page = client.get(link.removeprefix("https://testserver"))
    csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    token = link.split("=", 1)[1]
    form = {"token": token, "password": NEW_PASSWORD, "repeat": NEW_PASSWORD, "csrf_token": csrf}
    assert client.post("/invite", data=form, follow_redirects=False).status_code == 303
    admins.sessions["admin-health"] = _signed_in(admins.fleet, "health-ciso")
    health = admins.sessions["admin-health"][0].get("/organisation").text
    assert "aggregates only" in health and 'id="sharing-form"' in health
    r = _form(admins, "admin-health", "/organisation/sharing", {"share": "hosts"})
    assert r.status_code == 200 and "now see: hosts" in r.text
    state_page = admins.sessions[state][0].get("/organisation").text
    row = state_page.split('id="member-health"')[1].split("</tr>")[0]
    assert "hosts" in row and "its admins invite" in row
    # A viewer reads the page, with no form on it; a sibling does not see the member.
    viewer = admins.sessions["viewer-state-cio"][0].get("/organisation").text
    assert 'id="member-health"' in viewer and "<form" not in viewer.split("<main")[-1].split("</main>")[0]
    revenue = admins.sessions["admin-revenue"][0].get("/organisation").text
    assert 'id="member-health"' not in revenue
    # The board is in the menu of organisations with members only.
    assert 'href="/coordinator"' in state_page and 'href="/coordinator"' not in revenue


def test_an_organisation_sees_obligations_for_its_own_role_and_jurisdiction(
    admins: Admins, results: dict[str, dict[str, Any]]
) -> None:
    """Two organisations with the same host: a Texas state agency's deadlines are Texas's, a
    plain organisation's the server's (a user, in the US)."""
    fleet = admins.fleet
    with fleet.app.state.banscan.db.writing() as s:
        orgs.set_details(s, "revenue", actor="test", role="state-agency", jurisdiction="US-TX")
    for key, slug in (("tx", "revenue"), ("plain", "state-cio")):
        host_id, token = fleet.enroll(f"{key}-4c4c4544", f"srv-{key}-01")
        assert fleet.report(token, at(results["dirty"], "2025-03-01T09:00:00+00:00")).status_code == 201
        with fleet.app.state.banscan.db.writing() as s:
            s.execute(sa.update(Host).where(Host.id == host_id).values(org_id=orgs.find_org(s, slug).id))
    admins.add("revenue", "viewer")  # (the terms are read on every request: no need to sign in again)

    def regulations(who: str) -> set[str]:
        items = admins.call(who, "GET", "/api/v1/findings").json()["items"]
        assert items, who
        return {o["regulation"] for f in items for o in f["obligations"]}

    texas, plain = regulations("viewer-revenue"), regulations("viewer-state-cio")
    assert "tx-prohibited-technologies-2022" in texas, texas
    assert "tx-prohibited-technologies-2022" not in plain and "bis-icts-2024-kaspersky" in plain, plain
    summary = admins.call("viewer-revenue", "GET", "/api/v1/summary").json()
    assert summary["role"] == "state-agency"
    overview = admins.sessions["viewer-revenue"][0].get("/").text
    assert "state-agency" in overview
