"""Accounts: lockout after failed logins, the bound on password hashing, the password policy,
and managing users and API tokens from the API, the dashboard and the command line.

Every test that meets the database runs on SQLite and PostgreSQL (`db_url`). No test asserts
a duration: the hashing bound is checked by what waits for what (bench/bench_login_burst.py
measures it)."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import threading
import warnings
from collections.abc import Callable, Iterator

import httpx
import pytest
from sqlalchemy import func, select, text, update

from banscan.cli.tokens import token_list_command, token_revoke_command
from banscan.cli.users import user_add_command, user_change_command, user_list_command, user_passwd_command
from banscan.server.state import ServerSettings
from banscan.store import accounts
from banscan.store.accounts import LockoutPolicy, check_password_policy, create_user, password_problem
from banscan.store.db import make_engine
from banscan.store.migrate import alembic_config, upgrade_db
from banscan.store.models import ApiToken, AuditEntry, User, WebSession, utcnow

from .conftest import ADMIN_PASSWORD, Fleet, make_admin

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

UNLIMITED = ServerSettings(user_rate_limit=None, agent_rate_limit=None, anon_rate_limit=None)
NEW_PASSWORD = "lanterns over the quiet harbour"
SESSION_COOKIE = "__Host-banscan_session"


@pytest.fixture
def open_fleet(fleet_factory: Callable[..., Fleet]) -> Fleet:
    """A fleet without rate limits (the per-address limiter would hide the per-account lockout)."""
    return fleet_factory(UNLIMITED)


def client_from(fleet: Fleet, addr: str) -> TestClient:
    """A browser at another client address."""
    return TestClient(fleet.app, base_url="https://testserver", client=(addr, 40000))


def login(client: TestClient, username: str, password: str) -> httpx.Response:
    csrf = client.get("/api/v1/csrf").json()["csrf_token"]
    r: httpx.Response = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf},
        headers={"Accept": "application/json"},
    )
    return r


def user_row(fleet: Fleet, username: str) -> User:
    with fleet.app.state.banscan.db.reading() as s:
        user: User = s.scalars(select(User).where(User.username == username)).one()
        return user


def audit_actions(fleet: Fleet, target: str | None = None) -> list[str]:
    with fleet.app.state.banscan.db.reading() as s:
        q = select(AuditEntry.action).order_by(AuditEntry.id)
        if target is not None:
            q = q.where(AuditEntry.target == target)
        return list(s.scalars(q))


def expire_lock(fleet: Fleet, username: str) -> None:
    with fleet.app.state.banscan.db.writing() as s:
        s.execute(
            update(User)
            .where(User.username == username)
            .values(locked_until=utcnow() - dt.timedelta(seconds=1))
        )


@pytest.fixture
def verifications(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every argon2 verification a login makes, by the hash it checks against."""
    seen: list[str] = []
    real = accounts.verify_password

    def counting(stored: str, password: str) -> bool:
        seen.append(stored)
        return real(stored, password)

    monkeypatch.setattr(accounts, "verify_password", counting)
    return seen


# ---------------------------------------------------------------- lockout


def test_lockout_grows_with_each_failure_past_the_fifth() -> None:
    policy = LockoutPolicy()
    steps = [policy.lock_for(n) for n in range(1, 14)]
    minute = dt.timedelta(minutes=1)
    assert steps[:4] == [None] * 4
    assert (
        steps[4:]
        == [minute, 2 * minute, 4 * minute, 8 * minute, 16 * minute, 32 * minute] + [60 * minute] * 3
    )
    assert LockoutPolicy(after=0).lock_for(100) is None  # 0: never lock


def test_failed_logins_from_many_addresses_lock_the_account(open_fleet: Fleet) -> None:
    make_admin(open_fleet.db_url)
    answers = []
    for n in range(5):  # a different client address for each guess
        with client_from(open_fleet, f"127.0.0.{n + 2}") as c:
            answers.append(login(c, "alice", f"wrong guess number {n}"))
    assert [r.status_code for r in answers] == [401] * 5
    row = user_row(open_fleet, "alice")
    assert row.failed_logins == 5 and row.locked_until is not None and row.locked_until > utcnow()
    # Locked: the right password is refused exactly as a wrong one, from yet another address.
    with client_from(open_fleet, "127.0.0.99") as c:
        locked = login(c, "alice", ADMIN_PASSWORD)
        wrong = login(c, "alice", "wrong guess again")
        unknown = login(c, "nobody-here", "wrong guess again")
    assert locked.status_code == wrong.status_code == unknown.status_code == 401
    assert locked.json() == wrong.json() == unknown.json() == {"detail": "wrong username or password"}
    assert "set-cookie" not in locked.headers or SESSION_COOKIE not in locked.headers["set-cookie"]
    # Attempts while locked do not count; they are audited as such.
    assert user_row(open_fleet, "alice").failed_logins == 5
    actions = audit_actions(open_fleet, "alice")
    assert actions.count("login.failed") == 5 and actions.count("user.locked") == 1
    assert actions.count("login.locked") == 2 and "login" not in actions


def test_a_browser_sees_a_locked_account_as_a_failed_login(open_fleet: Fleet) -> None:
    make_admin(open_fleet.db_url)
    for _ in range(5):
        assert open_fleet.login("alice", "not the password").status_code == 401
    c = open_fleet.client
    csrf = c.get("/api/v1/csrf").json()["csrf_token"]
    r = c.post(
        "/login",
        data={"username": "alice", "password": ADMIN_PASSWORD, "csrf_token": csrf},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].startswith("/login?error=1")


def test_the_lock_lapses_then_grows_and_a_success_clears_it(open_fleet: Fleet) -> None:
    make_admin(open_fleet.db_url)
    for _ in range(5):
        open_fleet.login("alice", "not the password")
    first = user_row(open_fleet, "alice")
    expire_lock(open_fleet, "alice")
    # One more failure after the lock lapsed locks again, for twice as long.
    before = utcnow()
    assert open_fleet.login("alice", "still not it").status_code == 401
    second = user_row(open_fleet, "alice")
    assert second.failed_logins == 6 and second.locked_until is not None
    assert first.locked_until is not None
    assert second.locked_until - before >= dt.timedelta(minutes=2) > first.locked_until - before
    expire_lock(open_fleet, "alice")
    assert open_fleet.login("alice", ADMIN_PASSWORD).status_code == 200
    cleared = user_row(open_fleet, "alice")
    assert cleared.failed_logins == 0 and cleared.locked_until is None


def test_a_success_before_the_fifth_failure_starts_the_count_again(open_fleet: Fleet) -> None:
    make_admin(open_fleet.db_url)
    for _ in range(3):
        for _ in range(4):
            assert open_fleet.login("alice", "not the password").status_code == 401
        assert open_fleet.login("alice", ADMIN_PASSWORD).status_code == 200
    assert user_row(open_fleet, "alice").failed_logins == 0


def test_every_refusal_checks_one_hash_and_unknown_names_add_no_rows(
    open_fleet: Fleet, verifications: list[str]
) -> None:
    make_admin(open_fleet.db_url)
    create_user(open_fleet.db_url, "bob", NEW_PASSWORD, "viewer")
    with open_fleet.app.state.banscan.db.writing() as s:
        s.execute(update(User).where(User.username == "bob").values(disabled=True))
    bob_hash = user_row(open_fleet, "bob").password_hash
    alice_hash = user_row(open_fleet, "alice").password_hash
    # unknown, disabled, wrong password, right password
    assert login(open_fleet.client, "mallory", "some password!").status_code == 401
    assert login(open_fleet.client, "bob", NEW_PASSWORD).status_code == 401
    assert login(open_fleet.client, "alice", "some password!").status_code == 401
    assert login(open_fleet.client, "alice", ADMIN_PASSWORD).status_code == 200
    assert len(verifications) == 4
    dummy = verifications[0]
    assert verifications[1] == dummy != bob_hash  # a disabled user is checked like an unknown one
    assert verifications[2:] == [alice_hash, alice_hash]
    # Locked: still one verification, against the same dummy hash.
    for _ in range(5):
        login(open_fleet.client, "alice", "some password!")
    verifications.clear()
    assert login(open_fleet.client, "alice", ADMIN_PASSWORD).status_code == 401
    assert verifications == [dummy]
    # Many unknown names: no user, session or other row but the audit log's.
    with open_fleet.app.state.banscan.db.reading() as s:
        users = s.scalar(select(func.count()).select_from(User))
    for n in range(30):
        login(open_fleet.client, f"ghost-{n}", "some password!")
    with open_fleet.app.state.banscan.db.reading() as s:
        assert s.scalar(select(func.count()).select_from(User)) == users == 2
        assert s.scalar(select(func.count()).select_from(WebSession)) == 1
    assert audit_actions(open_fleet, "ghost-7") == ["login.failed"]


def test_an_admin_unlocks_from_the_api_the_dashboard_and_the_command_line(open_fleet: Fleet) -> None:
    make_admin(open_fleet.db_url)
    create_user(open_fleet.db_url, "bob", NEW_PASSWORD, "viewer")
    bob_id = user_row(open_fleet, "bob").id

    def lock_bob() -> None:
        for _ in range(5):
            login(open_fleet.client, "bob", "not the password")
        assert login(open_fleet.client, "bob", NEW_PASSWORD).status_code == 401

    lock_bob()
    listed = open_fleet.get("/api/v1/users")["users"]
    bob = next(u for u in listed if u["username"] == "bob")
    assert bob["locked"] and bob["failed_logins"] == 5 and bob["locked_until"]
    r = open_fleet.client.post(f"/api/v1/users/{bob_id}/unlock", headers=open_fleet.as_admin())
    assert r.status_code == 200 and r.json()["locked"] is False and r.json()["failed_logins"] == 0
    assert login(open_fleet.client, "bob", NEW_PASSWORD).status_code == 200

    lock_bob()
    admin = client_from(open_fleet, "127.0.0.5")
    csrf = login(admin, "alice", ADMIN_PASSWORD).json()["csrf_token"]
    page = admin.get("/users")
    assert page.status_code == 200 and f'action="/users/{bob_id}/unlock"' in page.text
    assert admin.post(f"/users/{bob_id}/unlock", data={}, follow_redirects=False).status_code == 403
    r = admin.post(f"/users/{bob_id}/unlock", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/users?done=unlocked"
    assert "failed logins are cleared" in admin.get(r.headers["location"]).text
    assert login(open_fleet.client, "bob", NEW_PASSWORD).status_code == 200

    lock_bob()
    assert user_change_command(open_fleet.db_url, "bob", "unlock") == 0
    assert login(open_fleet.client, "bob", NEW_PASSWORD).status_code == 200
    actions = audit_actions(open_fleet, "bob")
    assert actions.count("user.unlock") == 3 and actions.count("user.locked") == 3


# ---------------------------------------------------------------- the hashing bound


def test_concurrent_logins_queue_for_a_few_hashing_threads_and_health_stays_up(
    fleet_factory: Callable[..., Fleet], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = ServerSettings(
        user_rate_limit=None,
        agent_rate_limit=None,
        anon_rate_limit=None,
        max_concurrent_hashes=2,
        max_queued_hashes=3,
    )
    fleet = fleet_factory(settings)
    make_admin(fleet.db_url)
    gate = fleet.app.state.banscan.hash_gate
    release = threading.Event()
    started: list[str] = []
    real = accounts.verify_password

    def held(stored: str, password: str) -> bool:
        started.append(password)
        assert release.wait(60), "the test never released the hashing threads"
        return real(stored, password)

    monkeypatch.setattr(accounts, "verify_password", held)

    async def scenario() -> tuple[list[tuple[int, httpx.Response]], httpx.Response, int]:
        transport = httpx.ASGITransport(app=fleet.app)
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
            csrf = (await c.get("/api/v1/csrf")).json()["csrf_token"]
            finished: list[tuple[int, httpx.Response]] = []

            async def one(n: int) -> None:
                r = await c.post(
                    "/login",
                    data={"username": "alice", "password": f"wrong guess {n}", "csrf_token": csrf},
                    headers={"Accept": "application/json"},
                )
                finished.append((n, r))

            tasks = [asyncio.create_task(one(n)) for n in range(10)]
            for _ in range(2000):  # until two hash and three wait (and the rest were turned away)
                if len(started) == 2 and gate.admitted == 5 and len(finished) == 5:
                    break
                await asyncio.sleep(0.005)
            # Hashing is stuck, its queue full: the other requests still answer.
            health = await c.get("/healthz")
            me = await c.get("/api/v1/me", headers=fleet.as_admin())
            assert me.status_code == 200
            answered_while_blocked = len(finished)
            release.set()
            await asyncio.gather(*tasks)
            return finished, health, answered_while_blocked

    finished, health, answered_while_blocked = asyncio.run(scenario())
    assert health.status_code == 200
    codes = [r.status_code for _, r in finished]
    # The five past the bound were refused at once, before any hash ended; the rest then failed.
    assert answered_while_blocked == 5 and codes == [503] * 5 + [401] * 5
    assert all(r.headers["retry-after"] == "1" for _, r in finished[:5])
    assert gate.peak == 2 and gate.refused == 5 and gate.admitted == 0
    assert len(started) == 5
    # Refused requests were not counted against the account; the five that ran were.
    assert user_row(fleet, "alice").failed_logins == 5


def test_guesses_sent_at_once_cannot_outrun_the_lockout(
    fleet_factory: Callable[..., Fleet],
) -> None:
    settings = ServerSettings(
        user_rate_limit=None, agent_rate_limit=None, anon_rate_limit=None, max_concurrent_hashes=4
    )
    fleet = fleet_factory(settings)
    make_admin(fleet.db_url)

    async def burst() -> list[int]:
        transport = httpx.ASGITransport(app=fleet.app)
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
            csrf = (await c.get("/api/v1/csrf")).json()["csrf_token"]
            rs = await asyncio.gather(
                *(
                    c.post(
                        "/login",
                        data={"username": "alice", "password": f"guess {n}", "csrf_token": csrf},
                        headers={"Accept": "application/json"},
                    )
                    for n in range(20)
                )
            )
            return [r.status_code for r in rs]

    assert asyncio.run(burst()) == [401] * 20
    # Each attempt was counted before its password was checked: five counted, the rest locked out.
    assert user_row(fleet, "alice").failed_logins == 5
    actions = audit_actions(fleet, "alice")
    assert actions.count("login.failed") == 5 and actions.count("login.locked") == 15


# ---------------------------------------------------------------- password policy


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("aaaaaaaaaaaa", "repeated or sequential"),
        ("            ", "repeated or sequential"),
        ("123456789012", "repeated or sequential"),
        ("abcdefghijklmn", "repeated or sequential"),
        ("qwertyuiopas", "repeated or sequential"),
        ("abcabcabcabc", "repeated or sequential"),
        ("passwordpassword", "repeated or sequential"),
        ("password1234", "most common passwords"),
        ("Password1234!", "most common passwords"),
        ("p@ssw0rd2024", "most common passwords"),
        ("iloveyou123456789", "most common passwords"),
        ("1q2w3e4r5t6y", "most common passwords"),
        ("!!sunshine2024", "most common passwords"),
        ("short", "at least 12 characters"),
        ("x" * 1025, "at most 1024 characters"),
        ("alice-in-the-garden", "user name"),
    ],
)
def test_the_password_policy_refuses_guessable_passwords(password: str, why: str) -> None:
    problem = password_problem(password, "alice")
    assert problem is not None and why in problem
    with pytest.raises(ValueError, match=why):
        check_password_policy(password, "alice")


@pytest.mark.parametrize(
    "password",
    [ADMIN_PASSWORD, NEW_PASSWORD, "Tr0ub4dor&3-lantern", "monkey-83920475619", "dragonfly river 42"],
)
def test_the_password_policy_accepts_passphrases(password: str) -> None:
    assert password_problem(password, "alice") is None


def test_the_shipped_list_is_the_common_passwords() -> None:
    words = accounts.common_passwords()
    assert 19_000 < len(words) < 21_000
    assert {"password", "123456", "qwerty", "iloveyou", "password1234"} <= words
    assert accounts.COMMON_PASSWORDS.stat().st_size < 1_000_000


def test_weak_passwords_are_refused_everywhere_with_the_reason(
    open_fleet: Fleet, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    db_url = open_fleet.db_url
    for weak in ("aaaaaaaaaaaa", "password1234"):
        with pytest.raises(ValueError, match=r"repeated|common"):
            create_user(db_url, "bob", weak, "viewer")
        monkeypatch.setenv("BANSCAN_PASSWORD", weak)
        assert user_add_command(db_url, "bob", "viewer") == 2
        assert re.search(
            r"banscan: error: password is (a repeated|one of the most common)", capsys.readouterr().err
        )
    make_admin(db_url)
    alice_id = user_row(open_fleet, "alice").id
    r = open_fleet.client.post(
        f"/api/v1/users/{alice_id}/password", json={"password": "password1234"}, headers=open_fleet.as_admin()
    )
    assert r.status_code == 400 and "most common passwords" in r.json()["detail"]
    monkeypatch.setenv("BANSCAN_PASSWORD", "aaaaaaaaaaaa")
    assert user_passwd_command(db_url, "alice") == 2
    assert "repeated or sequential" in capsys.readouterr().err
    assert open_fleet.login("alice", ADMIN_PASSWORD).status_code == 200  # unchanged


# ---------------------------------------------------------------- users


def test_disabling_a_user_ends_their_sessions_at_once(open_fleet: Fleet) -> None:
    make_admin(open_fleet.db_url)
    create_user(open_fleet.db_url, "bob", NEW_PASSWORD, "viewer")
    bob = client_from(open_fleet, "127.0.0.7")
    assert login(bob, "bob", NEW_PASSWORD).status_code == 200
    assert bob.get("/api/v1/me").status_code == 200
    bob_id = user_row(open_fleet, "bob").id
    r = open_fleet.client.patch(
        f"/api/v1/users/{bob_id}", json={"disabled": True}, headers=open_fleet.as_admin()
    )
    assert r.status_code == 200 and r.json()["disabled"] is True
    assert bob.get("/api/v1/me").status_code == 401
    with open_fleet.app.state.banscan.db.reading() as s:
        assert s.scalar(select(func.count()).select_from(WebSession).where(WebSession.user_id == bob_id)) == 0
    assert login(bob, "bob", NEW_PASSWORD).status_code == 401
    r = open_fleet.client.patch(
        f"/api/v1/users/{bob_id}", json={"disabled": False}, headers=open_fleet.as_admin()
    )
    assert r.status_code == 200 and r.json()["disabled"] is False
    assert login(bob, "bob", NEW_PASSWORD).status_code == 200
    assert (
        open_fleet.client.patch(
            "/api/v1/users/9999", json={"disabled": True}, headers=open_fleet.as_admin()
        ).status_code
        == 404
    )
    # An admin cannot disable themselves (the command line can).
    alice = client_from(open_fleet, "127.0.0.8")
    csrf = login(alice, "alice", ADMIN_PASSWORD).json()["csrf_token"]
    alice_id = user_row(open_fleet, "alice").id
    r = alice.patch(f"/api/v1/users/{alice_id}", json={"disabled": True}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 409
    assert [a for a in audit_actions(open_fleet, "bob") if a.startswith("user.")] == [
        "user.create",
        "user.disable",
        "user.enable",
    ]


def test_an_admin_resets_a_password_and_the_users_sessions_end(open_fleet: Fleet) -> None:
    make_admin(open_fleet.db_url)
    create_user(open_fleet.db_url, "bob", NEW_PASSWORD, "viewer")
    bob = client_from(open_fleet, "127.0.0.7")
    assert login(bob, "bob", NEW_PASSWORD).status_code == 200
    bob_id = user_row(open_fleet, "bob").id
    r = open_fleet.client.post(
        f"/api/v1/users/{bob_id}/password",
        json={"password": "copper kettle morning"},
        headers=open_fleet.as_admin(),
    )
    assert r.status_code == 200 and r.json()["username"] == "bob"
    assert bob.get("/api/v1/me").status_code == 401
    assert login(bob, "bob", NEW_PASSWORD).status_code == 401
    assert login(bob, "bob", "copper kettle morning").status_code == 200
    assert "password_hash" not in r.text and "copper" not in r.text


def test_users_change_their_own_password_with_the_old_one(open_fleet: Fleet) -> None:
    make_admin(open_fleet.db_url)
    create_user(open_fleet.db_url, "bob", NEW_PASSWORD, "viewer")
    other = client_from(open_fleet, "127.0.0.9")
    assert login(other, "bob", NEW_PASSWORD).status_code == 200
    bob = client_from(open_fleet, "127.0.0.7")
    csrf = login(bob, "bob", NEW_PASSWORD).json()["csrf_token"]
    headers = {"X-CSRF-Token": csrf}
    change = {"old_password": "not my password", "new_password": "copper kettle morning"}
    r = bob.post("/api/v1/me/password", json=change, headers=headers)
    assert r.status_code == 403 and user_row(open_fleet, "bob").failed_logins == 1  # counted
    r = bob.post(
        "/api/v1/me/password",
        json={**change, "old_password": NEW_PASSWORD, "new_password": "password1234"},
        headers=headers,
    )
    assert r.status_code == 400 and "common" in r.json()["detail"]
    r = bob.post("/api/v1/me/password", json={**change, "old_password": NEW_PASSWORD}, headers=headers)
    assert r.status_code == 200 and r.json() == {"username": "bob", "changed": True}
    assert bob.get("/api/v1/me").status_code == 200  # this session goes on
    assert other.get("/api/v1/me").status_code == 401  # the others end
    assert login(other, "bob", "copper kettle morning").status_code == 200
    assert user_row(open_fleet, "bob").failed_logins == 0
    # An API token has no password.
    r = open_fleet.client.post("/api/v1/me/password", json=change, headers=open_fleet.as_admin())
    assert r.status_code == 403
    # The dashboard's form does the same.
    page = bob.get("/account")
    assert page.status_code == 200 and 'action="/account/password"' in page.text
    form = {
        "csrf_token": csrf,
        "old_password": "copper kettle morning",
        "new_password": "violet staircase humming",
        "repeat_password": "violet staircase humming",
    }
    assert bob.post("/account/password", data={**form, "repeat_password": "x" * 12}).status_code == 400
    r = bob.post("/account/password", data=form, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/account?done=changed"
    assert login(other, "bob", "violet staircase humming").status_code == 200


def test_the_users_page_is_for_admins_and_its_forms_need_the_csrf_token(open_fleet: Fleet) -> None:
    make_admin(open_fleet.db_url)
    create_user(open_fleet.db_url, "bob", NEW_PASSWORD, "viewer")
    bob_id = user_row(open_fleet, "bob").id
    viewer = client_from(open_fleet, "127.0.0.7")
    login(viewer, "bob", NEW_PASSWORD)
    home = viewer.get("/")
    assert 'href="/users"' not in home.text and 'href="/account"' in home.text
    assert viewer.get("/users").status_code == 403
    admin = client_from(open_fleet, "127.0.0.8")
    csrf = login(admin, "alice", ADMIN_PASSWORD).json()["csrf_token"]
    token = open_fleet.api_token("viewer")
    page = admin.get("/users")
    assert page.status_code == 200 and 'href="/users"' in page.text
    assert f'value="{csrf}"' in page.text and token not in page.text
    assert f'action="/users/{bob_id}/disable"' in page.text
    r = admin.post(f"/users/{bob_id}/disable", data={"csrf_token": "forged"}, follow_redirects=False)
    assert r.status_code == 403 and not user_row(open_fleet, "bob").disabled
    r = admin.post(f"/users/{bob_id}/disable", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303 and user_row(open_fleet, "bob").disabled
    assert viewer.get("/api/v1/me").status_code == 401
    r = admin.post(f"/users/{bob_id}/enable", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303 and not user_row(open_fleet, "bob").disabled
    r = admin.post(f"/users/{bob_id}/password", data={"csrf_token": csrf, "password": "aaaaaaaaaaaa"})
    assert r.status_code == 400 and "repeated or sequential" in r.text
    r = admin.post(
        f"/users/{bob_id}/password",
        data={"csrf_token": csrf, "password": "copper kettle morning"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and login(viewer, "bob", "copper kettle morning").status_code == 200
    alice_id = user_row(open_fleet, "alice").id
    assert admin.post(f"/users/{alice_id}/disable", data={"csrf_token": csrf}).status_code == 409


# ---------------------------------------------------------------- API tokens


def test_a_revoked_token_is_refused_at_once(open_fleet: Fleet) -> None:
    token = open_fleet.api_token("viewer")
    bearer = {"Authorization": f"Bearer {token}"}
    assert open_fleet.client.get("/api/v1/me", headers=bearer).status_code == 200
    listed = open_fleet.get("/api/v1/tokens")["tokens"]
    mine = next(t for t in listed if t["role"] == "viewer")
    assert mine["state"] == "live" and set(mine) >= {"id", "name", "created_by", "expires_at", "revoked_at"}
    assert token not in str(listed) and accounts.token_digest(token) not in str(listed)
    r = open_fleet.client.delete(f"/api/v1/tokens/{mine['id']}", headers=open_fleet.as_admin())
    assert r.status_code == 200 and r.json()["state"] == "revoked"
    assert open_fleet.client.get("/api/v1/me", headers=bearer).status_code == 401
    again = open_fleet.client.delete(f"/api/v1/tokens/{mine['id']}", headers=open_fleet.as_admin())
    assert again.status_code == 200 and again.json()["revoked_at"] == r.json()["revoked_at"]
    assert open_fleet.client.delete("/api/v1/tokens/99999", headers=open_fleet.as_admin()).status_code == 404
    assert audit_actions(open_fleet, mine["name"]) == ["token.create", "token.revoke"]
    # The dashboard's revoke button.
    token2 = open_fleet.api_token("viewer")
    make_admin(open_fleet.db_url)
    admin = client_from(open_fleet, "127.0.0.8")
    csrf = login(admin, "alice", ADMIN_PASSWORD).json()["csrf_token"]
    token2_id = open_fleet.get("/api/v1/tokens")["tokens"][0]["id"]
    r = admin.post(f"/tokens/{token2_id}/revoke", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303
    assert (
        open_fleet.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token2}"}).status_code == 401
    )


# ---------------------------------------------------------------- the command line


def test_user_and_token_commands(
    open_fleet: Fleet, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    db_url = open_fleet.db_url
    make_admin(db_url)
    create_user(db_url, "bob", NEW_PASSWORD, "viewer")
    assert login(open_fleet.client, "bob", NEW_PASSWORD).status_code == 200
    for _ in range(5):
        login(open_fleet.client, "bob", "not the password")
    capsys.readouterr()
    assert user_list_command(db_url) == 0
    lines = capsys.readouterr().out.splitlines()
    bob_line = next(line for line in lines if line.startswith("bob "))
    assert "locked until" in bob_line and " 5 " in bob_line
    assert user_change_command(db_url, "bob", "disable") == 0
    assert user_row(open_fleet, "bob").disabled
    with open_fleet.app.state.banscan.db.reading() as s:
        assert s.scalar(select(func.count()).select_from(WebSession)) == 0
    assert user_change_command(db_url, "bob", "enable") == 0
    assert user_change_command(db_url, "nobody", "enable") == 2
    assert "no user 'nobody'" in capsys.readouterr().err
    monkeypatch.setenv("BANSCAN_PASSWORD", "copper kettle morning")
    assert user_passwd_command(db_url, "bob") == 0
    row = user_row(open_fleet, "bob")
    assert row.failed_logins == 0 and row.locked_until is None
    assert login(open_fleet.client, "bob", "copper kettle morning").status_code == 200

    token = open_fleet.api_token("viewer")
    with open_fleet.app.state.banscan.db.reading() as s:
        token_id = s.scalars(
            select(ApiToken.id).where(ApiToken.token_hash == accounts.token_digest(token))
        ).one()
    capsys.readouterr()
    assert token_list_command(db_url) == 0
    out = capsys.readouterr().out
    assert re.search(rf"^\s*{token_id}\s+test-viewer-\w+\s+viewer\s+live\b", out, re.M) and token not in out
    assert token_revoke_command(db_url, token_id) == 0
    assert (
        open_fleet.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    )
    assert token_revoke_command(db_url, 99999) == 2
    assert token_list_command(db_url) == 0
    assert re.search(rf"^\s*{token_id}\s+\S+\s+viewer\s+revoked\b", capsys.readouterr().out, re.M)
    with open_fleet.app.state.banscan.db.reading() as s:
        cli = list(
            s.scalars(select(AuditEntry.action).where(AuditEntry.actor == "cli").order_by(AuditEntry.id))
        )
    assert cli[-5:] == ["user.disable", "user.enable", "user.password", "token.create", "token.revoke"]


# ---------------------------------------------------------------- the migration


@pytest.fixture
def at_0005(db_url: str) -> Iterator[str]:
    """The database at revision 0005 with a user made before 0006; back at head afterwards."""
    from alembic import command

    upgrade_db(db_url)
    cfg = alembic_config()
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0005")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO users (id, username, password_hash, role, created_at, disabled) "
                    "VALUES (7, 'old-admin', :h, 'admin', '2025-01-01 00:00:00', false)"
                ),
                {"h": accounts.hash_password(ADMIN_PASSWORD)},
            )
    finally:
        engine.dispose()
    yield db_url
    upgrade_db(db_url)


def test_migration_0006_gives_existing_users_a_clean_slate(
    at_0005: str, fleet_factory: Callable[..., Fleet]
) -> None:
    from alembic import command

    upgrade_db(at_0005)
    fleet = fleet_factory(UNLIMITED)
    row = user_row(fleet, "old-admin")
    assert row.id == 7 and row.failed_logins == 0 and row.locked_until is None
    for _ in range(5):
        assert fleet.login("old-admin", "not the password").status_code == 401
    assert fleet.login("old-admin", ADMIN_PASSWORD).status_code == 401  # locked
    # Down again: the columns go, the user stays.
    fleet.close()
    cfg = alembic_config()
    engine = make_engine(at_0005)
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0005")
        with engine.begin() as conn:
            cols = conn.execute(text("SELECT * FROM users WHERE id = 7")).mappings().one()
            assert (
                cols["username"] == "old-admin" and "failed_logins" not in cols and "locked_until" not in cols
            )
    finally:
        engine.dispose()
    upgrade_db(at_0005)
    assert user_row(fleet_factory(UNLIMITED), "old-admin").failed_logins == 0


def test_db_url_from_the_environment(
    open_fleet: Fleet, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`$BANSCAN_DB` stands in for `--db` on the server-side commands (a container sets it once)."""
    from typer.testing import CliRunner

    from banscan.cli.commands import app

    create_user(open_fleet.db_url, "carol", NEW_PASSWORD, "viewer")
    runner = CliRunner()
    monkeypatch.setenv("BANSCAN_DB", open_fleet.db_url)
    listed = runner.invoke(app, ["user", "list"])
    assert listed.exit_code == 0, listed.output
    assert any(line.startswith("carol ") for line in listed.output.splitlines())
    # an explicit --db still wins over the environment
    monkeypatch.setenv("BANSCAN_DB", "postgresql://nobody@127.0.0.1:1/none")
    listed = runner.invoke(app, ["user", "list", "--db", open_fleet.db_url])
    assert listed.exit_code == 0, listed.output
    assert "carol" in listed.output
