"""Who may call what: every route of the application against every kind of caller.

The routes come from the application's own route table (included routers and mounted apps
too), so a route added later is checked without editing this file: it fails here until it
refuses callers without valid credentials, or is listed in PUBLIC with a reason. Path
parameters are filled with real ids of a populated fleet, so requests reach the handlers
instead of stopping at a 404; a new write route also needs a request in RECIPES (the route
table test says so), so that "nothing changed" means something. One fleet per backend
(SQLite, PostgreSQL) serves every case.

The expectations, per caller:
- no valid credentials (none, garbage, unknown, expired or revoked token, Basic auth,
  expired session): 401, or for an HTML page a 303 to /login;
- an agent token: refused everywhere but the agent's own routes (posting a report, checking in);
- a viewer (API token, or browser session with its CSRF token): reads, but every write
  outside ANY_USER_WRITES is a 403 that leaves the database as it was;
- an admin (API token or browser session): reaches every route but the agent's;
- an admin session without its CSRF token, with a made-up one or with another session's:
  403 on every write, and nothing changed;
- admins of the other organisations of a tree (every row of the fleet is the default
  organisation D's; D is a member of the coordinator R and has a member of its own, M; S is D's
  sibling under R):
  - S (a sibling), M (a member, on its coordinator D) and R while D shares aggregates only see
    none of D's rows (a row asked for by id is a 404, a list leaves it out);
  - R while D shares its hosts reads D's hosts, findings and reports, but none of D's accounts;
  - none of them changes any of D's rows (sharing is read-only), but each still signs out,
    changes its own password and makes its own organisation's tokens, members and imports;
    R also sets D's contact, notice address, role and jurisdiction (a coordinator addresses
    its members).
"""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import re
import secrets
import warnings
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from sqlalchemy import select, update
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute

from banscan.notices.tokens import issue as issue_ack
from banscan.server.app import create_app
from banscan.server.pages.render import EXPORT_SUFFIXES, DashboardRoute
from banscan.server.security import UNSAFE_METHODS, session_cookie_name
from banscan.server.state import ServerSettings
from banscan.store.accounts import add_api_token, add_user, token_digest
from banscan.store.attestations import attest
from banscan.store.deadlines import Policy
from banscan.store.enrolment import add_enrol_secret
from banscan.store.invites import invite_user
from banscan.store.models import (
    Base,
    Enrolment,
    EnrolSecret,
    Finding,
    Host,
    NoticeRecipient,
    Organisation,
    Transition,
    User,
    WebSession,
    utcnow,
)
from banscan.store.notices import ack_key, send_notice

from .conftest import ADMIN_PASSWORD, ENROLL_SECRET, Fleet, _truncate_pg, at, body, free_port

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


# ---------------------------------------------------------------- the route table


class Endpoint(NamedTuple):
    method: str
    path: str  # the route's template, e.g. /api/v1/hosts/{host_id}
    kind: str  # "api", "export", "page" (HTML: a 401 becomes a redirect to /login), or unsupported

    @property
    def key(self) -> tuple[str, str]:
        return (self.method, self.path)

    @property
    def unsafe(self) -> bool:
        return self.method in UNSAFE_METHODS

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def walk(routes: Sequence[BaseRoute], prefix: str = "") -> Iterator[Endpoint]:
    """Every method of every route, descending into included routers and mounted apps."""
    for ctx in iter_route_contexts(routes):
        route = ctx.original_route
        path = prefix + (ctx.path or "")
        if isinstance(route, Mount):
            if route.routes:
                yield from walk(route.routes, path)
            else:  # an opaque ASGI app (static files, say): one endpoint stands for it
                yield Endpoint("GET", path + "/{path}", "api")
        elif isinstance(route, WebSocketRoute):
            yield Endpoint("WEBSOCKET", path, "websocket")
        elif isinstance(route, Route):
            kind = "api"
            if isinstance(route, DashboardRoute):
                kind = "export" if path.endswith(EXPORT_SUFFIXES) else "page"
            for method in sorted(ctx.methods or {"GET"}):
                yield Endpoint(method, path, kind)
        else:
            yield Endpoint("?", f"{path} ({type(route).__name__})", "unknown route type")


def route_table(app: FastAPI) -> list[Endpoint]:
    return list(walk(app.routes))


def _collected_routes() -> list[Endpoint]:
    app = create_app("sqlite://", migrate=False)  # the route table needs no database
    try:
        return route_table(app)
    finally:
        app.state.banscan.db.dispose()


ENDPOINTS = _collected_routes()
SUPPORTED_KINDS = ("api", "export", "page")

# ---------------------------------------------------------------- what is meant to be open

DOCS = ("/openapi.json",)  # Swagger UI (/docs) only with --api-docs (tests/server/test_app_headers.py)
PUBLIC: dict[tuple[str, str], str] = {
    ("GET", "/healthz"): "liveness probe for load balancers; answers only a status and the version",
    ("POST", "/api/v1/enroll"): "agents have no credentials yet; guarded by the enrolment secret",
    ("GET", "/api/v1/csrf"): "hands out the login form's double-submit CSRF token, nothing else",
    ("GET", "/login"): "the login form",
    ("POST", "/login"): "checks the password itself, behind the login form's CSRF token",
    ("GET", "/explainer"): "what is banned and what to do, from the catalog: no fleet data",
    ("GET", "/invite"): "an invited user's password form: needs the link's signed, single-use token",
    ("POST", "/invite"): "sets an invited user's password: the link's token, behind a CSRF token",
    (
        "GET",
        "/explainer/{slug}",
    ): "a coordinator's copy of the explainer, with its name and contact: no fleet data",
    (
        "GET",
        "/ack",
    ): "what an emailed acknowledgement link acknowledges: needs its signed token, changes nothing",
    ("POST", "/ack"): "acknowledges with the emailed link's signed, single-use token, behind a CSRF token",
    ("GET", "/static/{name}"): "the dashboard's stylesheet",
    **{
        (m, p): "FastAPI's description of the API: schemas, no fleet data"
        for p in DOCS
        for m in ("GET", "HEAD")
    },
}
AGENT_ONLY: dict[tuple[str, str], str] = {
    ("POST", "/api/v1/report"): "an agent posts its own host's results with its agent token",
    ("GET", "/api/v1/agent/checkin"): "an agent asks whether a scan of its own host was requested",
}
ANY_USER_WRITES: dict[tuple[str, str], str] = {
    ("POST", "/logout"): "every signed-in user may end their own session",
    ("POST", "/api/v1/me/password"): "every signed-in user may change their own password",
    ("POST", "/account/password"): "every signed-in user may change their own password",
}
# Writes about the signed-in user themselves: an API token has no password (403).
SESSION_ONLY: dict[tuple[str, str], str] = {
    ("POST", "/api/v1/me/password"): "an API token has no password to change",
    ("POST", "/account/password"): "an API token has no password to change",
    ("POST", "/api/v1/attestations"): "an officer attests with their own account, not a token",
    ("POST", "/attestations"): "an officer attests with their own account, not a token",
}
ADMIN_READS: dict[tuple[str, str], str] = {
    ("GET", "/enrolments"): "held enrolments with approve and deny buttons: only admins decide",
    ("GET", "/api/v1/enrolments"): "held enrolments: who asks to take over which host",
    ("GET", "/api/v1/enrol-secrets"): "enrol secrets, their scopes and status",
    ("GET", "/imports"): "the inventory upload form: only admins may import",
    ("GET", "/api/v1/users"): "users, their state and failed logins: only admins manage accounts",
    ("GET", "/api/v1/tokens"): "API tokens and their state: only admins manage them",
    ("GET", "/users"): "the users and tokens page with its controls: only admins manage accounts",
}

# ---------------------------------------------------------------- the callers

UNAUTHENTICATED = (
    "anonymous",
    "garbage_bearer",
    "unknown_api_token",
    "unknown_agent_token",
    "basic_auth_with_admin_password",
    "expired_admin_token",
    "revoked_admin_token",
    "revoked_agent_token",
    "expired_admin_session",
)
AGENT = "agent"
VIEWERS = ("viewer_token", "viewer_session")
ADMINS = ("admin_token", "admin_session")
# Writes only: no CSRF token, a made-up one, and the (valid) token of another user's session.
WITHOUT_CSRF = ("admin_session_without_csrf", "admin_session_wrong_csrf", "admin_session_viewers_csrf")
OTHER_ORG = "other_org_admin_session"  # S: D's sibling under the coordinator R
COORDINATOR = "coordinator_admin_session"  # R, while D shares aggregates only
SHARING_COORDINATOR = "sharing_coordinator_admin_session"  # R, while D shares its hosts
MEMBER = "member_admin_session"  # M, a member of D
ELSEWHERE = (OTHER_ORG, COORDINATOR, SHARING_COORDINATOR, MEMBER)
CALLERS = (*UNAUTHENTICATED, AGENT, *VIEWERS, *ADMINS, *WITHOUT_CSRF, *ELSEWHERE)
# D's sharing, set before each request of R's admin.
SHARES = {COORDINATOR: "aggregates", SHARING_COORDINATOR: "hosts"}
# What the other organisation's admin may still do: about itself, or in its own organisation.
OWN_ORG_WRITES: dict[tuple[str, str], str] = {
    **ANY_USER_WRITES,
    ("POST", "/api/v1/tokens"): "a token made by a user acts in that user's organisation",
    ("POST", "/api/v1/orgs"): "a member organisation added under the caller's own",
    ("POST", "/api/v1/imports"): "an inventory's hosts land in the uploader's organisation",
    ("POST", "/imports"): "an inventory's hosts land in the uploader's organisation",
    ("POST", "/api/v1/enrol-secrets"): "agents enrolling with it land in the maker's organisation",
    ("POST", "/api/v1/attestations"): "an officer attests their own organisation's status",
    ("POST", "/attestations"): "an officer attests their own organisation's status",
    ("POST", "/api/v1/notices"): "a notice to the caller's own members (each organisation has one)",
    ("POST", "/notices"): "a notice to the caller's own members (each organisation has one)",
    ("POST", "/api/v1/notices/remind"): "reminders of the caller's own notices",
    ("POST", "/organisation/members"): "a member organisation added under the caller's own",
    ("POST", "/organisation/sharing"): "what the caller's own organisation shows its coordinators",
}
# What a coordinator may change of a member.
COORDINATOR_WRITES: dict[tuple[str, str], str] = {
    (
        "PATCH",
        "/api/v1/orgs/{slug}",
    ): "a coordinator sets the contact, address, role and jurisdiction of its members",
}
# Names of D's accounts that never act on a host (users, tokens, the enrol secret): not even a
# coordinator D shares its hosts with reads one. (Who moved a host's removal along is part of
# the host's history, which D shares with its hosts.)
ACCOUNT_NAMES = ("matrix-viewer", "matrix-lapsed", "matrix-target", "matrix-secret")
# Path parameters naming an account: a row another organisation asks for by one is a 404.
ACCOUNT_PARAMS = ("user_id", "token_id", "enrolment_id", "secret_id")
# Names of the fleet's rows (hosts, users, tokens, the enrol secret): another organisation
# must never read one, unless the rows are hosts it is shared.
FLEET_NAMES = (
    "srv-matrix-01",
    "srv-matrix-03",
    "srv-matrix-04",
    "matrix-host",
    "matrix-reenrolled",
    "matrix-admin",
    "matrix-viewer",
    "matrix-lapsed",
    "matrix-target",
    "matrix-secret",
)

# The possible outcomes.
UNAUTHORIZED = "unauthorized"  # 401, or a redirect to /login for an HTML page
REFUSED = "refused"  # 401 or 403 (or the login redirect)
ROLE = "needs admin"  # 403 because of the role
CSRF = "needs CSRF token"  # 403 because of the CSRF token
ALLOWED = "allowed"  # reaches the handler: 2xx or 3xx, not the login redirect
OUT_OF_SCOPE = "out of scope"  # another organisation's: 404 or a list without it; writes refused
SHARED = "shared"  # a coordinator reading a member's hosts: host rows answer, accounts do not


def expectation(endpoint: Endpoint, caller: str) -> str:
    key = endpoint.key
    if caller in UNAUTHENTICATED:
        return UNAUTHORIZED
    if key in AGENT_ONLY:
        return ALLOWED if caller == AGENT else UNAUTHORIZED
    if caller == AGENT:
        return REFUSED
    if caller in WITHOUT_CSRF:
        return CSRF
    if caller in ELSEWHERE:
        if key in OWN_ORG_WRITES or (caller in SHARES and key in COORDINATOR_WRITES):
            return ALLOWED
        if caller == SHARING_COORDINATOR and not endpoint.unsafe:
            return SHARED
        return OUT_OF_SCOPE
    if key in SESSION_ONLY and caller in ("viewer_token", "admin_token"):
        return REFUSED
    if caller in VIEWERS and (key in ADMIN_READS or (endpoint.unsafe and key not in ANY_USER_WRITES)):
        return ROLE
    return ALLOWED


PROTECTED = [e for e in ENDPOINTS if e.key not in PUBLIC]
CASES = [(e, c) for e in PROTECTED for c in CALLERS if e.unsafe or c not in WITHOUT_CSRF]


# ---------------------------------------------------------------- a populated fleet

# Notices are emailed through a relay that is not there (a port nothing listens on): a reminder
# then records its failed attempt. No background check: nothing changes between requests.
UNLIMITED = ServerSettings(
    user_rate_limit=None,
    agent_rate_limit=None,
    anon_rate_limit=None,
    smtp_host="127.0.0.1",
    smtp_port=free_port(),
    smtp_security="none",
    smtp_from="banscan@matrix.example",
    public_url="https://testserver",
    notice_check_seconds=0,
)
T0 = dt.datetime(2025, 3, 1, 10, 0, tzinfo=dt.UTC)
SESSION_COOKIE = session_cookie_name(secure=True)
PARAM = re.compile(r"{(\w+)(?::\w+)?}")
# Values for path parameters, by name. `name` only appears in /static/{name}.
PARAM_NAMES = (
    "host_id",
    "product",
    "report_id",
    "token_id",
    "user_id",
    "name",
    "enrolment_id",
    "secret_id",
    "slug",
    "attestation_id",
    "notice_id",
    "member",
)


@dataclass
class World:
    fleet: Fleet
    results: dict[str, dict[str, Any]]
    params: dict[str, str]
    bearer: dict[str, str]  # caller -> token
    usernames: dict[str, str]  # caller -> username
    browser: TestClient  # one client for every case (its cookies are cleared in between)
    sessions: dict[str, tuple[str, str]] = field(default_factory=dict)  # user -> (cookie, CSRF)
    counter: Iterator[int] = field(default_factory=itertools.count)

    def unique(self) -> int:
        return next(self.counter)

    def client(self) -> TestClient:
        self.browser.cookies.clear()
        return self.browser

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table but the audit log (a refusal may well be audited)."""
        with self.fleet.app.state.banscan.db.reading() as s:
            return {
                t.name: [tuple(r) for r in s.execute(select(t).order_by(*t.primary_key.columns))]
                for t in Base.metadata.sorted_tables
                if t.name != "audit_log"
            }


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    results: dict[str, dict[str, Any]],
) -> Iterator[World]:
    """A host with findings and a report, users and API tokens of both roles, and the
    credentials that must not work (expired, revoked)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('matrix') / 'banscan.db'}"
    else:
        url = request.getfixturevalue("pg_session_url")
        _truncate_pg(url)
    fleet = Fleet(url, UNLIMITED)
    try:
        # A host whose first token was used, then revoked by enrolling the host again with it.
        _, revoked_agent_token = fleet.enroll("matrix-reenrolled", "srv-matrix-03")
        assert fleet.report(revoked_agent_token, at(results["clean"], T0.isoformat())).status_code == 201
        fleet.enroll("matrix-reenrolled", "srv-matrix-03", token=revoked_agent_token)
        # An enrolment as that host without its token, held for an admin.
        r = fleet.client.post(
            "/api/v1/enroll",
            json={
                "enroll_secret": ENROLL_SECRET,
                "host_identifier": "matrix-reenrolled",
                "hostname": "srv-matrix-04",
            },
        )
        assert r.status_code == 202, r.text
        enrolment_id = r.json()["enrolment_id"]
        host_id, agent_token = fleet.enroll("matrix-host", "srv-matrix-01")
        r = fleet.report(agent_token, at(results["dirty"], T0.isoformat()))
        assert r.status_code == 201, r.text
        report_id = r.json()["report_id"]
        db = fleet.app.state.banscan.db
        now = utcnow()
        with db.writing() as s:
            products = sorted(
                s.scalars(select(Finding.product).where(Finding.host_id == host_id, Finding.present))
            )
            assert products, "the dirty result should leave findings on the host"
            usernames = {"admin_session": "matrix-admin", "viewer_session": "matrix-viewer"}
            usernames["expired_admin_session"] = "matrix-lapsed"
            for caller, username in usernames.items():
                add_user(s, username, ADMIN_PASSWORD, "viewer" if "viewer" in caller else "admin")
            # The tree: R above D (id 1, every row's) and its sibling S, and M a member of D.
            state = Organisation(slug="matrix-state", name="The coordinator of the fleet's organisation")
            s.add(state)
            s.flush()
            s.execute(update(Organisation).where(Organisation.id == 1).values(parent_id=state.id))
            sibling = Organisation(
                slug="elsewhere", name="A sibling holding none of the rows", parent_id=state.id
            )
            member = Organisation(
                slug="matrix-site", name="A member of the fleet's organisation", parent_id=1
            )
            s.add_all([sibling, member])
            s.flush()
            # Each of the others has a member of its own (to send notices to).
            below = {
                o.id: Organisation(slug=f"{o.slug}-member", name=f"A member of {o.name}", parent_id=o.id)
                for o in (sibling, member)
            }
            s.add_all(below.values())
            s.flush()
            for caller, username, org in (
                (OTHER_ORG, "elsewhere-admin", sibling),
                (COORDINATOR, "state-office-admin", state),
                (MEMBER, "site-office-admin", member),
            ):
                usernames[caller] = username
                add_user(s, username, ADMIN_PASSWORD, "admin", org_id=org.id)
            usernames[SHARING_COORDINATOR] = usernames[COORDINATOR]
            user_id = s.scalars(select(User.id).where(User.username == "matrix-viewer")).one()
            bearer = {AGENT: agent_token, "revoked_agent_token": revoked_agent_token}
            for caller, role in [("viewer_token", "viewer"), ("admin_token", "admin")]:
                bearer[caller], _ = add_api_token(s, f"matrix-{caller}", role, created_by="test")
            bearer["expired_admin_token"], _ = add_api_token(
                s, "matrix-expired", "admin", created_by="test", expires_at=now - dt.timedelta(days=1)
            )
            bearer["revoked_admin_token"], revoked = add_api_token(
                s, "matrix-revoked", "admin", created_by="test"
            )
            revoked.revoked_at = now
            # The user and the API token the account routes act on (no caller uses them).
            user_id = add_user(s, "matrix-target", ADMIN_PASSWORD, "viewer").id
            _, target_token = add_api_token(s, "matrix-target", "viewer", created_by="test")
            token_id = target_token.id
            _, enrol_secret = add_enrol_secret(s, "matrix-secret", created_by="test", site="matrix-site")
            secret_id = enrol_secret.id
            officer = s.scalars(select(User).where(User.username == "matrix-admin")).one()
            on = dt.date(2025, 3, 10)
            attestation_id = attest(
                s, officer, on, "matrix", server=Policy(fleet.app.state.banscan.catalog, "user", on, "US")
            ).id
            # R's notice to D (the one D acknowledges), and D's to its member M.
            notice_ids = [
                send_notice(
                    s,
                    sender,
                    [to],
                    title="Matrix notice",
                    packs=["kaspersky"],
                    extra="",
                    explainer_url="https://testserver/explainer",
                    expires_in_days=300,
                    remind_after_days=1,
                    actor="test",
                    catalog=fleet.app.state.banscan.catalog,
                    role="user",
                    jurisdiction="US",
                ).notice.id
                for sender, to in ((state.id, 1), (1, member.id), *((o, m.id) for o, m in below.items()))
            ]
        params = {
            "host_id": str(host_id),
            "product": "kesl" if "kesl" in products else products[0],
            "report_id": str(report_id),
            "token_id": str(token_id),
            "user_id": str(user_id),
            "name": "dashboard.css",
            "enrolment_id": str(enrolment_id),
            "secret_id": str(secret_id),
            "slug": "default",  # the organisation holding every row (a coordinator: it has a member)
            "attestation_id": str(attestation_id),
            "notice_id": str(notice_ids[0]),
            "member": "matrix-site",  # D's member, sharing its hosts with D (see RECIPES)
        }
        assert set(params) == set(PARAM_NAMES)
        with TestClient(fleet.app, base_url="https://testserver") as browser:
            yield World(fleet, results, params, bearer, usernames, browser)
    finally:
        fleet.close()


def url_of(world: World, endpoint: Endpoint) -> str:
    def value(m: re.Match[str]) -> str:
        if m.group(1) not in world.params:
            pytest.fail(f"{endpoint}: no value for the path parameter {m.group(1)!r}; add one to `world`")
        return world.params[m.group(1)]

    return PARAM.sub(value, endpoint.path)


# ---------------------------------------------------------------- requests that do something


Recipe = Callable[[World, TestClient], dict[str, Any]]


def _inventory(world: World) -> dict[str, Any]:
    """A one-host inventory under a new name, so an import always adds a host."""
    tsv = (
        "Computer\tApp\tVendor\tVer\tSeen\n"
        f"MATRIX-KIOSK-{world.unique()}\tKaspersky Security Center Network Agent\t"
        "AO Kaspersky Lab\t14.2.0.26967\t2024-12-30\n"
    )
    return {"files": {"file": ("inventory.tsv", tsv.encode())}}


def _held_again(world: World, form: bool = False) -> dict[str, Any]:
    """The world's held enrolment back to pending, so that deciding it changes something."""
    with world.fleet.app.state.banscan.db.writing() as s:
        s.execute(
            update(Enrolment)
            .where(Enrolment.id == int(world.params["enrolment_id"]))
            .values(state="pending", decided_at=None, decided_by=None)
        )
    return {"data": {}} if form else {}


def _secret_again(world: World) -> dict[str, Any]:
    """The world's enrol secret unrevoked, so that revoking it changes something."""
    with world.fleet.app.state.banscan.db.writing() as s:
        s.execute(
            update(EnrolSecret)
            .where(EnrolSecret.id == int(world.params["secret_id"]))
            .values(revoked_at=None)
        )
    return {}


def _target(world: World, form: bool = False, **values: Any) -> dict[str, Any]:
    """Set columns of the world's target user first, so that the change asked for changes something."""
    with world.fleet.app.state.banscan.db.writing() as s:
        s.execute(update(User).where(User.id == int(world.params["user_id"])).values(**values))
    return {"data": {}} if form else {}


def _target_flipped(world: World) -> dict[str, Any]:
    with world.fleet.app.state.banscan.db.reading() as s:
        disabled = s.scalars(select(User.disabled).where(User.id == int(world.params["user_id"]))).one()
    return {"json": {"disabled": not disabled}}


def _token_unrevoked(world: World, form: bool = False) -> dict[str, Any]:
    with world.fleet.app.state.banscan.db.writing() as s:
        tokens = Base.metadata.tables["api_tokens"]
        s.execute(update(tokens).where(tokens.c.id == int(world.params["token_id"])).values(revoked_at=None))
    return {"data": {}} if form else {}


LOCKED: dict[str, Any] = {"failed_logins": 5, "locked_until": dt.datetime(2999, 1, 1, tzinfo=dt.UTC)}
SAME_PASSWORD = {"old_password": ADMIN_PASSWORD, "new_password": ADMIN_PASSWORD}


def _login_form(world: World, client: TestClient) -> dict[str, Any]:
    csrf = client.get("/api/v1/csrf").json()["csrf_token"]
    return {
        "data": {
            "username": world.usernames["viewer_session"],
            "password": ADMIN_PASSWORD,
            "csrf_token": csrf,
        },
        "headers": {"Accept": "application/json"},
    }


def _clock_ahead(world: World, form: bool = False) -> dict[str, Any]:
    """Put the host's last-result time in the future, so that resetting it changes something."""
    with world.fleet.app.state.banscan.db.writing() as s:
        future = dt.datetime(2999, 1, 1, tzinfo=dt.UTC)
        s.execute(
            update(Host).where(Host.id == int(world.params["host_id"])).values(last_generated_at=future)
        )
    return {"data": {}} if form else {}


def _found_again(world: World, form: bool = False) -> dict[str, Any]:
    """Put the product's removal back to `found`, so that marking it removed (with others, here
    alone) changes something: steps for several products at once go forward only."""
    host_id, product = int(world.params["host_id"]), world.params["product"]
    with world.fleet.app.state.banscan.db.writing() as s:
        s.execute(
            update(Transition)
            .where(Transition.host_id == host_id, Transition.product == product)
            .values(state="found", flag=None)
        )
    if form:
        return {"data": {"product": [product], "state": "removed", "note": "matrix"}}
    return {"json": {"products": [product], "state": "removed", "note": "matrix"}}


def _flip_sharing(world: World) -> dict[str, Any]:
    """The opposite of the world's organisation's sharing, so that setting it changes something."""
    with world.fleet.app.state.banscan.db.reading() as s:
        share = s.scalars(select(Organisation.share_with_coordinators).where(Organisation.id == 1)).one()
    return {"json": {"share": "hosts" if share == "aggregates" else "aggregates"}}


def _site_shares_hosts(world: World) -> dict[str, Any]:
    """D's member M sharing its hosts, so that D's board lists them (a sharing form may have
    changed that)."""
    with world.fleet.app.state.banscan.db.writing() as s:
        s.execute(
            update(Organisation)
            .where(Organisation.slug == "matrix-site")
            .values(share_with_coordinators="hosts")
        )
    return {}


def _sharing_form(world: World) -> dict[str, Any]:
    """Every organisation back to sharing aggregates, and the form asking for hosts: whoever
    posts it changes their own organisation's sharing."""
    with world.fleet.app.state.banscan.db.writing() as s:
        s.execute(update(Organisation).values(share_with_coordinators="aggregates"))
    return {"data": {"share": "hosts"}}


def _invitation(world: World, client: TestClient, *, form: bool) -> dict[str, Any]:
    """A fresh invitation's token: as a query for the form, or with a password and the login
    form's CSRF token for setting it."""
    with world.fleet.app.state.banscan.db.writing() as s:
        token = invite_user(s, f"matrix-invited-{world.unique()}", "viewer", org_id=1, actor="test").token
    if not form:
        return {"params": {"token": token}}
    csrf = client.get("/api/v1/csrf").json()["csrf_token"]
    password = f"matrix lantern invite {world.unique()}"
    return {"data": {"token": token, "password": password, "repeat": password, "csrf_token": csrf}}


def _unacknowledged(world: World, form: bool = False) -> dict[str, Any]:
    """D's copy of R's notice not acknowledged again, so that acknowledging it changes something."""
    with world.fleet.app.state.banscan.db.writing() as s:
        s.execute(
            update(NoticeRecipient)
            .where(NoticeRecipient.notice_id == int(world.params["notice_id"]))
            .values(acknowledged_at=None, acknowledged_by=None, ack_nonce=None)
        )
    return {"data": {}} if form else {}


def _ack_link(world: World, client: TestClient) -> dict[str, Any]:
    """The emailed link's token for D's copy (not acknowledged again), with the form's CSRF token."""
    _unacknowledged(world)
    with world.fleet.app.state.banscan.db.writing() as s:
        token = issue_ack(ack_key(s), int(world.params["notice_id"]), 1, utcnow() + dt.timedelta(days=1))
    csrf = client.get("/api/v1/csrf").json()["csrf_token"]
    return {"data": {"token": token, "csrf_token": csrf}}


def _reminders_due(world: World) -> dict[str, Any]:
    """Every copy emailed two days ago and not acknowledged, so that reminding changes something
    (the relay is not there: the failed attempt is recorded)."""
    with world.fleet.app.state.banscan.db.writing() as s:
        s.execute(
            update(NoticeRecipient).values(
                email="officer@matrix.example",
                email_state="sent",
                email_sent_at=utcnow() - dt.timedelta(days=2),
                last_reminded_at=None,
                acknowledged_at=None,
                acknowledged_by=None,
                ack_nonce=None,
            )
        )
    return {}


# A valid request per write route: what an admin (or the agent) sends changes the database,
# so a refused caller's unchanged database shows the refusal is what stopped it.
RECIPES: dict[tuple[str, str], Recipe] = {
    ("POST", "/api/v1/enroll"): lambda w, c: {
        "json": {
            "enroll_secret": ENROLL_SECRET,
            "host_identifier": f"matrix-enrolled-{w.unique()}",
            "hostname": "srv-matrix-02",
            "platform": "linux",
        }
    },
    ("POST", "/api/v1/report"): lambda w, c: {
        "content": body(at(w.results["dirty"], (T0 + dt.timedelta(minutes=1 + w.unique())).isoformat())),
        "headers": {"Content-Type": "application/json"},
    },
    ("POST", "/api/v1/transitions/{host_id}/{product}"): lambda w, c: {
        "json": {"state": "removed", "note": "matrix"}
    },
    ("PATCH", "/api/v1/hosts/{host_id}"): lambda w, c: {
        "json": {"site": f"matrix-site-{w.unique()}", "tags": ["matrix"]}
    },
    ("POST", "/api/v1/tokens"): lambda w, c: {"json": {"name": f"matrix-new-{w.unique()}", "role": "admin"}},
    ("DELETE", "/api/v1/tokens/{token_id}"): lambda w, c: _token_unrevoked(w),
    ("POST", "/tokens/{token_id}/revoke"): lambda w, c: _token_unrevoked(w, form=True),
    ("PATCH", "/api/v1/users/{user_id}"): lambda w, c: _target_flipped(w),
    ("POST", "/api/v1/users/{user_id}/unlock"): lambda w, c: _target(w, **LOCKED),
    ("POST", "/api/v1/users/{user_id}/password"): lambda w, c: {
        "json": {"password": f"matrix lantern reset {w.unique()}"}
    },
    ("POST", "/api/v1/me/password"): lambda w, c: {"json": SAME_PASSWORD},
    ("POST", "/users/{user_id}/disable"): lambda w, c: _target(w, form=True, disabled=False),
    ("POST", "/users/{user_id}/enable"): lambda w, c: _target(w, form=True, disabled=True),
    ("POST", "/users/{user_id}/unlock"): lambda w, c: _target(w, form=True, **LOCKED),
    ("POST", "/users/{user_id}/password"): lambda w, c: {
        "data": {"password": f"matrix lantern reset {w.unique()}"}
    },
    ("POST", "/account/password"): lambda w, c: {
        "data": {**SAME_PASSWORD, "repeat_password": ADMIN_PASSWORD}
    },
    ("POST", "/api/v1/imports"): lambda w, c: _inventory(w),
    ("POST", "/login"): _login_form,
    ("POST", "/logout"): lambda w, c: {},
    ("POST", "/hosts/{host_id}/transition"): lambda w, c: {
        "data": {"product": w.params["product"], "state": "replacement-installed", "note": "matrix"}
    },
    ("POST", "/imports"): lambda w, c: _inventory(w),
    ("POST", "/api/v1/hosts/{host_id}/transitions"): lambda w, c: _found_again(w),
    ("POST", "/hosts/{host_id}/transitions"): lambda w, c: _found_again(w, form=True),
    ("POST", "/api/v1/hosts/{host_id}/scan"): lambda w, c: {},
    ("POST", "/api/v1/hosts/{host_id}/reset-clock"): lambda w, c: _clock_ahead(w),
    ("POST", "/hosts/{host_id}/reset-clock"): lambda w, c: _clock_ahead(w, form=True),
    ("POST", "/hosts/{host_id}/scan"): lambda w, c: {"data": {}},
    ("POST", "/hosts/{host_id}/labels"): lambda w, c: {
        "data": {"site": f"matrix-site-{w.unique()}", "tags": "matrix, kiosk"}
    },
    ("POST", "/api/v1/enrolments/{enrolment_id}/approve"): lambda w, c: _held_again(w),
    ("POST", "/api/v1/enrolments/{enrolment_id}/deny"): lambda w, c: _held_again(w),
    ("POST", "/enrolments/{enrolment_id}/approve"): lambda w, c: _held_again(w, form=True),
    ("POST", "/enrolments/{enrolment_id}/deny"): lambda w, c: _held_again(w, form=True),
    ("POST", "/api/v1/enrol-secrets"): lambda w, c: {
        "json": {"name": f"matrix-secret-{w.unique()}", "tag": "matrix", "expires_in_days": 1}
    },
    ("POST", "/api/v1/enrol-secrets/{secret_id}/revoke"): lambda w, c: _secret_again(w),
    ("POST", "/api/v1/orgs"): lambda w, c: {
        "json": {"slug": f"matrix-member-{w.unique()}", "name": "Member"}
    },
    ("PATCH", "/api/v1/orgs/{slug}"): lambda w, c: {"json": {"contact": f"matrix desk {w.unique()}"}},
    ("POST", "/organisation/members"): lambda w, c: {
        "data": {"slug": f"matrix-member-{w.unique()}", "name": "Member"}
    },
    ("POST", "/organisation/sharing"): lambda w, c: _sharing_form(w),
    ("GET", "/coordinator/members/{member}"): lambda w, c: _site_shares_hosts(w),
    ("POST", "/organisations/{slug}/invitations"): lambda w, c: {
        "data": {"username": f"matrix-invitee-{w.unique()}", "role": "viewer"}
    },
    ("PUT", "/api/v1/orgs/{slug}/sharing"): lambda w, c: _flip_sharing(w),
    ("POST", "/api/v1/orgs/{slug}/invitations"): lambda w, c: {
        "json": {"username": f"matrix-invitee-{w.unique()}", "role": "viewer"}
    },
    ("GET", "/invite"): lambda w, c: _invitation(w, c, form=False),
    ("POST", "/api/v1/attestations"): lambda w, c: {"json": {"as_of": "2025-03-10", "statement": "matrix"}},
    ("POST", "/attestations"): lambda w, c: {"data": {"as_of": "2025-03-10", "statement": "matrix"}},
    ("POST", "/api/v1/notices"): lambda w, c: {
        "json": {"title": f"Matrix notice {w.unique()}", "packs": ["kaspersky"]}
    },
    ("POST", "/notices"): lambda w, c: {
        "data": {"title": f"Matrix notice {w.unique()}", "pack": "kaspersky"}
    },
    ("POST", "/api/v1/notices/{notice_id}/acknowledge"): lambda w, c: _unacknowledged(w),
    ("POST", "/notices/{notice_id}/acknowledge"): lambda w, c: _unacknowledged(w, form=True),
    ("POST", "/api/v1/notices/remind"): lambda w, c: _reminders_due(w),
    ("POST", "/ack"): _ack_link,
    ("POST", "/invite"): lambda w, c: _invitation(w, c, form=True),
}


def log_in(world: World, client: TestClient, user: str, *, fresh: bool) -> tuple[str, str]:
    """A browser session of `user` (a key of `usernames`), logged in through the login form:
    the session cookie's value and the session's CSRF token. Reused unless `fresh`."""
    if not fresh and user in world.sessions:
        return world.sessions[user]
    csrf = client.get("/api/v1/csrf").json()["csrf_token"]
    r = client.post(
        "/login",
        data={"username": world.usernames[user], "password": ADMIN_PASSWORD, "csrf_token": csrf},
        headers={"Accept": "application/json"},
    )
    assert r.status_code == 200, r.text
    client.cookies.clear()
    cookie = r.cookies.get(SESSION_COOKIE)
    assert cookie, "the login sets the session cookie"
    if user == "expired_admin_session":
        with world.fleet.app.state.banscan.db.writing() as s:
            s.execute(
                update(WebSession)
                .where(WebSession.session_hash == token_digest(cookie))
                .values(expires_at=utcnow() - dt.timedelta(minutes=1))
            )
    session = (cookie, str(r.json()["csrf_token"]))
    if not fresh:
        world.sessions[user] = session
    return session


def credentials(
    world: World, client: TestClient, caller: str, *, fresh: bool
) -> tuple[dict[str, str], str | None]:
    """Headers to send as `caller`, and the CSRF token to echo (None: send none)."""
    match caller:
        case "anonymous":
            return {}, None
        case "garbage_bearer":
            return {"Authorization": f"Bearer {secrets.token_urlsafe(24)}"}, None
        case "unknown_api_token":
            return {"Authorization": f"Bearer bst_{secrets.token_urlsafe(32)}"}, None
        case "unknown_agent_token":
            return {"Authorization": f"Bearer bsa_{secrets.token_urlsafe(32)}"}, None
        case "basic_auth_with_admin_password":
            pair = f"{world.usernames['admin_session']}:{ADMIN_PASSWORD}".encode()
            return {"Authorization": f"Basic {base64.b64encode(pair).decode()}"}, None
        case "viewer_session" | "admin_session" | "expired_admin_session" | "other_org_admin_session":
            cookie, csrf = log_in(world, client, caller, fresh=fresh)
            return {"Cookie": f"{SESSION_COOKIE}={cookie}"}, csrf
        case "coordinator_admin_session" | "sharing_coordinator_admin_session" | "member_admin_session":
            if caller in SHARES:
                with world.fleet.app.state.banscan.db.writing() as s:
                    s.execute(
                        update(Organisation)
                        .where(Organisation.id == 1)
                        .values(share_with_coordinators=SHARES[caller])
                    )
            cookie, csrf = log_in(world, client, caller, fresh=fresh)
            return {"Cookie": f"{SESSION_COOKIE}={cookie}"}, csrf
        case "admin_session_without_csrf" | "admin_session_wrong_csrf" | "admin_session_viewers_csrf":
            cookie, _ = log_in(world, client, "admin_session", fresh=fresh)
            wrong = {
                "admin_session_without_csrf": None,
                "admin_session_wrong_csrf": secrets.token_urlsafe(32),
                "admin_session_viewers_csrf": log_in(world, client, "viewer_session", fresh=False)[1],
            }[caller]
            return {"Cookie": f"{SESSION_COOKIE}={cookie}"}, wrong
        case _:
            return {"Authorization": f"Bearer {world.bearer[caller]}"}, None


def prepare(world: World, client: TestClient, endpoint: Endpoint, caller: str) -> dict[str, Any]:
    """The keyword arguments of `client.request` for `endpoint` as `caller`, signing in first."""
    # A write that goes through may end or change the session it comes with (a refused one
    # changes nothing, which the matrix checks): it gets a session of its own.
    fresh = endpoint.unsafe and expectation(endpoint, caller) == ALLOWED
    headers, csrf = credentials(world, client, caller, fresh=fresh)
    recipe = RECIPES.get(endpoint.key)
    kwargs = recipe(world, client) if recipe is not None else {}
    headers = {**kwargs.pop("headers", {}), **headers}
    if csrf is not None and endpoint.unsafe:
        if endpoint.kind == "page" and ("data" in kwargs or "files" in kwargs):
            kwargs["data"] = {**kwargs.get("data", {}), "csrf_token": csrf}  # as the form sends it
        else:
            headers["X-CSRF-Token"] = csrf
    return {"headers": headers, "follow_redirects": False, **kwargs}


# ---------------------------------------------------------------- checks


def is_login_redirect(r: httpx.Response, path: str) -> bool:
    if r.status_code != 303:
        return False
    target = urlparse(r.headers.get("location", ""))
    return target.path == "/login" and parse_qs(target.query).get("next") == [path]


def shown(r: httpx.Response) -> str:
    where = f" -> {r.headers['location']}" if "location" in r.headers else ""
    return f"{r.status_code}{where}: {r.text[:300]!r}"


def changes(before: dict[str, list[tuple[Any, ...]]], after: dict[str, list[tuple[Any, ...]]]) -> list[str]:
    return [f"{t} ({len(before[t])} -> {len(after[t])} rows)" for t in before if before[t] != after[t]]


NOT_PUBLIC = (
    "it is not in PUBLIC, so it must refuse callers without valid credentials "
    "(if it is meant to be public, add it to PUBLIC with the reason)"
)


@pytest.mark.parametrize(("endpoint", "caller"), CASES, ids=[f"{e} as {c}" for e, c in CASES])
def test_route_access(world: World, endpoint: Endpoint, caller: str) -> None:
    if endpoint.kind not in SUPPORTED_KINDS:
        pytest.fail(f"{endpoint}: a {endpoint.kind} route, which this matrix cannot call; extend it")
    expected = expectation(endpoint, caller)
    path = url_of(world, endpoint)
    where = f"{endpoint} ({path}) as {caller}"
    client = world.client()
    request = prepare(world, client, endpoint, caller)
    before = world.snapshot() if endpoint.unsafe else {}
    r = client.request(endpoint.method, path, **request)
    changed = changes(before, world.snapshot()) if endpoint.unsafe else []
    if endpoint.key in SESSION_ONLY and expected == ALLOWED:
        world.sessions.clear()  # a password change ends the user's other sessions
    if changed and expected != ALLOWED:
        world.sessions.clear()  # the shared sessions may be gone: no knock-on failures
        where += f" (and the request changed {', '.join(changed)})"

    if expected == UNAUTHORIZED:
        if endpoint.kind == "page" and endpoint.method == "GET":
            assert is_login_redirect(r, path), (
                f"{where}: expected a redirect to /login, got {shown(r)}; {NOT_PUBLIC}"
            )
        else:
            assert r.status_code == 401, f"{where}: expected 401, got {shown(r)}; {NOT_PUBLIC}"
    elif expected == REFUSED:
        assert r.status_code in (401, 403) or is_login_redirect(r, path), (
            f"{where}: an agent token must be refused outside {sorted(AGENT_ONLY)}, got {shown(r)}"
        )
    elif expected == ROLE:
        assert r.status_code == 403 and "admin" in r.text, (
            f"{where}: a viewer must get 403 (admin role needed), got {shown(r)}"
        )
    elif expected == CSRF:
        assert r.status_code == 403 and "CSRF" in r.text, (
            f"{where}: a session write without its own CSRF token must get 403, got {shown(r)}"
        )
    elif expected == SHARED:
        leaked = [n for n in ACCOUNT_NAMES if n in r.text]
        assert not leaked, f"{where}: a coordinator read a member's accounts {leaked}: {shown(r)}"
        by_account = any(f"{{{p}}}" in endpoint.path for p in ACCOUNT_PARAMS)
        assert r.status_code < 400 or (by_account and r.status_code == 404), (
            f"{where}: a member sharing its hosts should answer its coordinator, got {shown(r)}"
        )
        if "{host_id}" in endpoint.path and endpoint.kind != "export":
            assert "srv-matrix-01" in r.text, f"{where}: the shared host should be shown: {shown(r)}"
    elif expected == OUT_OF_SCOPE:
        leaked = [n for n in (ACCOUNT_NAMES if caller == SHARING_COORDINATOR else FLEET_NAMES) if n in r.text]
        assert not leaked, f"{where}: another organisation's caller read {leaked}: {shown(r)}"
        if endpoint.unsafe:
            assert r.status_code in (403, 404), (
                f"{where}: another organisation's write must be refused, got {shown(r)}"
            )
        else:
            assert r.status_code < 400 or r.status_code == 404, (
                f"{where}: expected a 404 or a list, got {shown(r)}"
            )
    else:
        assert r.status_code < 400 and not is_login_redirect(r, path), (
            f"{where}: expected the handler to answer, got {shown(r)}"
            + ("" if endpoint.key in RECIPES or not endpoint.unsafe else "; add a request to RECIPES")
        )

    if endpoint.unsafe and expected != ALLOWED:
        assert not changed, f"{where}: refused, yet the database changed"
    elif endpoint.unsafe and endpoint.key not in ANY_USER_WRITES:
        assert changed, f"{where}: the request in RECIPES changed nothing, so a refusal of it proves little"


@pytest.mark.parametrize("endpoint", [e for e in ENDPOINTS if e.key in PUBLIC], ids=str)
def test_public_route_answers_anonymous_callers(world: World, endpoint: Endpoint) -> None:
    client = world.client()
    r = client.request(
        endpoint.method, url_of(world, endpoint), **prepare(world, client, endpoint, "anonymous")
    )
    assert r.status_code < 400, f"{endpoint} is listed in PUBLIC but refused an anonymous caller: {shown(r)}"


def test_route_table_is_fully_described() -> None:
    """Every allowlist entry names a served route; every route can be called by the matrix."""
    served = {e.key for e in ENDPOINTS}
    tables: dict[str, Collection[tuple[str, str]]] = {
        "PUBLIC": PUBLIC,
        "AGENT_ONLY": AGENT_ONLY,
        "ANY_USER_WRITES": ANY_USER_WRITES,
        "ADMIN_READS": ADMIN_READS,
        "SESSION_ONLY": SESSION_ONLY,
        "OWN_ORG_WRITES": OWN_ORG_WRITES,
        "COORDINATOR_WRITES": COORDINATOR_WRITES,
        "RECIPES": RECIPES,
    }
    problems = [
        f"{name} lists {method} {path}, which the app does not serve"
        for name, table in tables.items()
        for method, path in table
        if (method, path) not in served
    ]
    for e in ENDPOINTS:
        if e.kind not in SUPPORTED_KINDS:
            problems.append(f"{e}: a {e.kind} route, which this matrix cannot call")
        if e.unsafe and e.key not in RECIPES:
            problems.append(f"{e}: a write route with no request in RECIPES")
        problems += [
            f"{e}: no value for the path parameter {name!r} (PARAM_NAMES)"
            for name in PARAM.findall(e.path)
            if name not in PARAM_NAMES
        ]
    assert not problems, "\n".join(problems)
    assert ("GET", "/api/v1/hosts") in served and ("GET", "/hosts/{host_id}") in served, (
        "the walk should see into the included routers"
    )


def test_served_routes_are_the_collected_ones(world: World) -> None:
    assert route_table(world.fleet.app) == ENDPOINTS
