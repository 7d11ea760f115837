"""Isolation between organisations: what each organisation's admin reads and may change.

The tree: a root R with two members, the coordinator C and its sibling S; C has two members of
its own, M1 (shares its hosts with its coordinators) and M2 (shares aggregates only). The
default organisation D, outside that tree, keeps the command line's API token. Each
organisation has a host enrolled and scanned through the API (the realistic Linux root with
Kaspersky products, so it has findings and removal records), then moved into the organisation,
with a site of its own and one finding accepted as an exception; each has an admin.

Expected: a caller reads its own organisation's hosts and those of descendants sharing
`hosts` (C: C and M1; never M2, S, R or D); aggregates count its own organisation only; a
write on any host outside its own organisation (a shared member's too) is the 404 of an
unknown host and changes nothing.
"""

from __future__ import annotations

import csv
import io
import json
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from banscan.store.accounts import add_api_token, add_user
from banscan.store.enrolment import add_enrol_secret
from banscan.store.models import (
    ApiToken,
    AuditEntry,
    Base,
    Enrolment,
    Finding,
    Host,
    Organisation,
    Transition,
)
from banscan.store.scope import build_scope

from .conftest import ADMIN_PASSWORD, ENROLL_SECRET, Fleet, at

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

T0 = "2025-03-01T09:00:00+00:00"
ORGS = ("c", "m1", "m2", "s", "d")  # every organisation with a host and an admin
SITES = {
    "c": "health-hq",
    "m1": "hospital-main",
    "m2": "clinic-east",
    "s": "revenue-annex",
    "d": "dc-north",
}
SEES = {  # whose hosts each organisation's admin reads
    "c": {"c", "m1"},
    "m1": {"m1"},
    "m2": {"m2"},
    "s": {"s"},
    "d": {"d"},
}


@dataclass
class Org:
    key: str
    org_id: int
    host_id: int
    hostname: str
    site: str
    report_id: int
    product: str  # a product with a removal record on its host
    identifier: str = ""
    user_id: int = 0
    token_id: int = 0  # an API token its admin made
    secret_id: int = 0  # an enrol secret of its own


@dataclass
class Tree:
    fleet: Fleet
    orgs: dict[str, Org]
    clients: dict[str, tuple[TestClient, str]]  # organisation -> (its admin's browser, CSRF token)

    def hostnames(self, keys: set[str]) -> set[str]:
        return {self.orgs[k].hostname for k in keys}

    def others(self, key: str) -> set[str]:
        return self.hostnames(set(ORGS) - SEES[key])

    def get(self, key: str, path: str, **params: Any) -> httpx.Response:
        client, _ = self.clients[key]
        r: httpx.Response = client.get(path, params=params)
        return r

    def send(self, key: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        client, csrf = self.clients[key]
        r: httpx.Response = client.request(method, path, headers={"x-csrf-token": csrf}, **kwargs)
        return r

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table (the audit log too: a refused write is not recorded)."""
        with self.fleet.app.state.banscan.db.reading() as s:
            return {
                t.name: [tuple(r) for r in s.execute(select(t).order_by(*t.primary_key.columns))]
                for t in Base.metadata.sorted_tables
                if t.name != "web_sessions"  # a request may touch its session
            }


def _organisations(fleet: Fleet) -> dict[str, int]:
    """R with members C and S; C with members M1 (sharing hosts) and M2 (aggregates); D is the
    default organisation."""
    with fleet.app.state.banscan.db.writing() as s:
        root = Organisation(slug="state-cio", name="State CIO office", share_with_coordinators="hosts")
        s.add(root)
        s.flush()
        c = Organisation(slug="health-agency", name="Health agency", parent_id=root.id)
        sib = Organisation(slug="revenue-agency", name="Revenue agency", parent_id=root.id)
        s.add_all([c, sib])
        s.flush()
        m1 = Organisation(
            slug="county-hospital", name="County hospital", parent_id=c.id, share_with_coordinators="hosts"
        )
        m2 = Organisation(
            slug="county-clinic", name="County clinic", parent_id=c.id, share_with_coordinators="aggregates"
        )
        s.add_all([m1, m2])
        s.flush()
        return {"c": c.id, "m1": m1.id, "m2": m2.id, "s": sib.id, "d": 1, "r": root.id}


def _host(fleet: Fleet, results: dict[str, dict[str, Any]], key: str, org_id: int) -> Org:
    """A host of organisation `org_id`: enrolled and scanned, asked for again (an enrolment held
    for an admin), then moved there with that enrolment, given a site and one finding accepted
    as an exception."""
    hostname = f"srv-{key}-01"
    host_id, token = fleet.enroll(f"{key}-4c4c4544-0038", hostname)
    r = fleet.report(token, at(results["dirty"], T0))
    assert r.status_code == 201, r.text
    site = SITES[key]
    # The same machine asking to enrol again without its token: held for an admin.
    held = fleet.client.post(
        "/api/v1/enroll",
        json={
            "enroll_secret": ENROLL_SECRET,
            "host_identifier": f"{key}-4c4c4544-0038",
            "hostname": hostname,
        },
    )
    assert held.status_code == 202, held.text
    with fleet.app.state.banscan.db.writing() as s:
        s.execute(update(Host).where(Host.id == host_id).values(org_id=org_id, site=site))
        s.execute(update(Enrolment).where(Enrolment.host_id == host_id).values(org_id=org_id))
        tracked = sorted(s.scalars(select(Transition.product).where(Transition.host_id == host_id)))
        assert len(tracked) >= 2, "the dirty result should leave removal records"
        product = "kesl" if "kesl" in tracked else tracked[0]
        accepted = next(p for p in tracked if p != product)
        s.execute(
            update(Finding)
            .where(Finding.host_id == host_id, Finding.product == accepted)
            .values(verdict="accepted")
        )
    return Org(key, org_id, host_id, hostname, site, r.json()["report_id"], product, f"{key}-4c4c4544-0038")


def _admin(fleet: Fleet, org: Org) -> tuple[TestClient, str]:
    """A browser logged in as the organisation's admin, and its session's CSRF token; the admin
    also makes an API token, and the organisation gets an enrol secret."""
    username = f"admin-{org.key}"
    with fleet.app.state.banscan.db.writing() as s:
        user = add_user(s, username, ADMIN_PASSWORD, "admin", org_id=org.org_id)
        _, token = add_api_token(s, f"{org.key}-automation", "viewer", created_by=username, org_id=org.org_id)
        _, secret = add_enrol_secret(s, f"{org.key}-rollout", created_by=username, org_id=org.org_id)
        s.flush()
        org.user_id, org.token_id, org.secret_id = user.id, token.id, secret.id
    client = TestClient(fleet.app, base_url="https://testserver")
    csrf = client.get("/api/v1/csrf").json()["csrf_token"]
    r = client.post(
        "/login",
        data={"username": username, "password": ADMIN_PASSWORD, "csrf_token": csrf},
        headers={"Accept": "application/json"},
    )
    assert r.status_code == 200, r.text
    return client, str(r.json()["csrf_token"])


@pytest.fixture
def tree(fleet: Fleet, results: dict[str, dict[str, Any]]) -> Iterator[Tree]:
    ids = _organisations(fleet)
    orgs = {k: _host(fleet, results, k, ids[k]) for k in ORGS}
    clients = {k: _admin(fleet, orgs[k]) for k in ORGS}
    try:
        yield Tree(fleet, orgs, clients)
    finally:
        for client, _ in clients.values():
            client.close()


def _names_in(text: str, tree: Tree) -> set[str]:
    """The organisations' hostnames a response mentions."""
    return {o.hostname for o in tree.orgs.values() if o.hostname in text}


# ---------------------------------------------------------------- the scope itself


def test_scope_reads_members_sharing_hosts_and_writes_only_its_own(fleet: Fleet) -> None:
    ids = _organisations(fleet)
    with fleet.app.state.banscan.db.reading() as s:
        scopes = {k: build_scope(s, i) for k, i in ids.items()}
    assert scopes["c"].readable == {ids["c"], ids["m1"]}
    assert scopes["c"].writable == {ids["c"]}
    assert scopes["m1"].readable == {ids["m1"]}
    assert scopes["m2"].readable == {ids["m2"]}
    assert scopes["s"].readable == {ids["s"]}
    # C and S share aggregates only; M1 shares its hosts with every coordinator above it.
    assert scopes["r"].readable == {ids["r"], ids["m1"]}
    assert scopes["d"].readable == {1}
    assert scopes["c"].own_only().readable == {ids["c"]}


# ---------------------------------------------------------------- reading


@pytest.mark.parametrize("key", ORGS)
def test_host_list_and_its_exports_show_only_hosts_in_scope(tree: Tree, key: str) -> None:
    expected = tree.hostnames(SEES[key])
    r = tree.get(key, "/api/v1/hosts")
    assert r.status_code == 200, r.text
    assert {h["hostname"] for h in r.json()["items"]} == expected
    assert r.json()["total"] == len(expected)
    page = tree.get(key, "/hosts")
    assert page.status_code == 200
    assert _names_in(page.text, tree) == expected
    for site in (tree.orgs[k].site for k in set(ORGS) - SEES[key]):
        assert site not in page.text  # the site filter offers no other organisation's site
    rows = list(csv.DictReader(io.StringIO(tree.get(key, "/hosts.csv").text)))
    assert {row["hostname"] for row in rows} == expected
    listed = json.loads(tree.get(key, "/hosts.json").text)
    assert {h["hostname"] for h in listed["items"]} == expected


@pytest.mark.parametrize("key", ORGS)
def test_a_host_out_of_scope_is_unknown(tree: Tree, key: str) -> None:
    for other in tree.orgs.values():
        visible = other.key in SEES[key]
        api = tree.get(key, f"/api/v1/hosts/{other.host_id}")
        page = tree.get(key, f"/hosts/{other.host_id}")
        report = tree.get(key, f"/api/v1/reports/{other.report_id}")
        assert api.status_code == (200 if visible else 404), (key, other.key)
        assert page.status_code == (200 if visible else 404), (key, other.key)
        assert report.status_code == (200 if visible else 404), (key, other.key)
        if visible:
            assert api.json()["hostname"] == other.hostname
            assert api.json()["finding_list"]


@pytest.mark.parametrize("key", ORGS)
def test_findings_and_product_pages_list_hosts_in_scope(tree: Tree, key: str) -> None:
    expected = tree.hostnames(SEES[key])
    found = tree.get(key, "/api/v1/findings", limit=500).json()
    assert {f["hostname"] for f in found["items"]} == expected
    for other in tree.orgs.values():
        items = tree.get(key, "/api/v1/findings", host_id=other.host_id).json()["items"]
        assert bool(items) == (other.key in SEES[key])
    product = tree.orgs[key].product
    page = tree.get(key, f"/products/{product}")
    assert page.status_code == 200
    assert _names_in(page.text, tree) == expected


@pytest.mark.parametrize("key", ORGS)
def test_removal_board_history_and_exceptions_show_hosts_in_scope(tree: Tree, key: str) -> None:
    expected = tree.hostnames(SEES[key])
    assert _names_in(tree.get(key, "/transitions").text, tree) == expected
    rows = list(csv.DictReader(io.StringIO(tree.get(key, "/transitions.csv").text)))
    assert {row["hostname"] for row in rows} == expected
    steps = list(csv.DictReader(io.StringIO(tree.get(key, "/transitions/history.csv").text)))
    assert {row["hostname"] for row in steps} == expected
    assert _names_in(tree.get(key, "/exceptions").text, tree) == expected
    accepted = list(csv.DictReader(io.StringIO(tree.get(key, "/exceptions.csv").text)))
    assert {row["hostname"] for row in accepted} == expected


@pytest.mark.parametrize("key", ORGS)
def test_summary_and_overview_count_the_callers_own_organisation(tree: Tree, key: str) -> None:
    own = tree.orgs[key]
    data = tree.get(key, "/api/v1/summary").json()
    assert data["hosts"] == 1
    assert [s["site"] for s in data["by_site"]] == [own.site]
    assert data["hosts_with_covered"] == 1
    assert sum(e["hosts"] for e in data["catalog"]["by_version"]) + data["catalog"]["hosts_unknown"] == 1
    packs = tree.get(key, "/api/v1/packs").json()
    assert max(p["hosts"] for p in packs) == 1
    page = tree.get(key, "/")
    assert page.status_code == 200
    assert own.site in page.text
    for other in set(ORGS) - {key}:
        assert tree.orgs[other].site not in page.text


# ---------------------------------------------------------------- writing


def _writes(o: Org) -> list[tuple[str, str, dict[str, Any]]]:
    """Every write on one host, as (method, path, request keywords)."""
    h = o.host_id
    return [
        ("POST", f"/api/v1/transitions/{h}/{o.product}", {"json": {"state": "removed", "note": "done"}}),
        ("POST", f"/api/v1/hosts/{h}/transitions", {"json": {"products": [o.product], "state": "removed"}}),
        ("PATCH", f"/api/v1/hosts/{h}", {"json": {"site": "elsewhere", "tags": ["moved"]}}),
        ("POST", f"/api/v1/hosts/{h}/scan", {}),
        ("POST", f"/api/v1/hosts/{h}/reset-clock", {}),
        ("POST", f"/hosts/{h}/labels", {"data": {"site": "elsewhere", "tags": "moved"}}),
        ("POST", f"/hosts/{h}/scan", {}),
        ("POST", f"/hosts/{h}/reset-clock", {}),
        ("POST", f"/hosts/{h}/transition", {"data": {"product": o.product, "state": "removed"}}),
        ("POST", f"/hosts/{h}/transitions", {"data": {"product": [o.product], "state": "removed"}}),
    ]


@pytest.mark.parametrize(
    ("key", "target"), [("c", "m1"), ("c", "m2"), ("c", "s"), ("m1", "c"), ("s", "c"), ("d", "m1")]
)
def test_writes_outside_the_callers_organisation_are_refused_and_change_nothing(
    tree: Tree, key: str, target: str
) -> None:
    before = tree.snapshot()
    for method, path, kwargs in _writes(tree.orgs[target]):
        r = tree.send(key, method, path, follow_redirects=False, **kwargs)
        assert r.status_code == 404, (method, path, r.status_code, r.text[:200])
        if target not in SEES[key]:  # a shared member's host may be shown, never changed
            assert tree.orgs[target].hostname not in r.text
    assert tree.snapshot() == before


@pytest.mark.parametrize("key", ["c", "m1"])
def test_the_same_writes_on_the_callers_own_host_succeed(tree: Tree, key: str) -> None:
    own = tree.orgs[key]
    ok: Callable[[httpx.Response], bool] = lambda r: r.status_code in (200, 202, 303)  # noqa: E731
    r = tree.send(key, "PATCH", f"/api/v1/hosts/{own.host_id}", json={"tags": ["ward-3"]})
    assert ok(r), r.text
    assert r.json()["tags"] == ["ward-3"]
    r = tree.send(key, "POST", f"/api/v1/hosts/{own.host_id}/scan")
    assert ok(r), r.text
    r = tree.send(
        key,
        "POST",
        f"/api/v1/transitions/{own.host_id}/{own.product}",
        json={"state": "replacement-installed"},
    )
    assert ok(r), r.text
    r = tree.send(
        key,
        "POST",
        f"/hosts/{own.host_id}/transition",
        data={"product": own.product, "state": "removed"},
        follow_redirects=False,
    )
    assert ok(r), r.text
    with tree.fleet.app.state.banscan.db.reading() as s:
        state = s.scalar(
            select(Transition.state).where(
                Transition.host_id == own.host_id, Transition.product == own.product
            )
        )
    assert state == "removed"


# ---------------------------------------------------------------- accounts, tokens, enrolment


@pytest.mark.parametrize("key", ORGS)
def test_accounts_tokens_secrets_and_enrolments_are_the_callers_own(tree: Tree, key: str) -> None:
    own = tree.orgs[key]
    users = {u["username"] for u in tree.get(key, "/api/v1/users").json()["users"]}
    assert users == {f"admin-{key}"}
    tokens = {t["name"] for t in tree.get(key, "/api/v1/tokens").json()["tokens"]}
    assert f"{key}-automation" in tokens
    assert not {f"{k}-automation" for k in ORGS if k != key} & tokens
    secrets_ = {s["name"] for s in tree.get(key, "/api/v1/enrol-secrets").json()["items"]}
    assert secrets_ == {f"{key}-rollout"}
    enrolments = {e["identifier"] for e in tree.get(key, "/api/v1/enrolments").json()["items"]}
    assert enrolments == {own.identifier}
    page = tree.get(key, "/users").text
    for other in set(ORGS) - {key}:
        assert f"admin-{other}" not in page and f"{other}-automation" not in page
    assert _names_in(tree.get(key, "/enrolments").text, tree) <= {own.hostname}


def _account_writes(o: Org) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        ("PATCH", f"/api/v1/users/{o.user_id}", {"json": {"disabled": True}}),
        ("POST", f"/api/v1/users/{o.user_id}/unlock", {}),
        ("POST", f"/api/v1/users/{o.user_id}/password", {"json": {"password": "a new long passphrase 9"}}),
        ("DELETE", f"/api/v1/tokens/{o.token_id}", {}),
        ("POST", f"/api/v1/enrol-secrets/{o.secret_id}/revoke", {}),
        ("POST", f"/users/{o.user_id}/disable", {}),
        ("POST", f"/users/{o.user_id}/unlock", {}),
        ("POST", f"/users/{o.user_id}/password", {"data": {"password": "a new long passphrase 9"}}),
        ("POST", f"/tokens/{o.token_id}/revoke", {}),
    ]


@pytest.mark.parametrize(("key", "target"), [("c", "m1"), ("m1", "c"), ("s", "c"), ("d", "c")])
def test_account_writes_across_organisations_are_unknown_ids(tree: Tree, key: str, target: str) -> None:
    with tree.fleet.app.state.banscan.db.reading() as s:
        enrolment_id = s.scalar(select(Enrolment.id).where(Enrolment.host_id == tree.orgs[target].host_id))
    writes = _account_writes(tree.orgs[target])
    writes += [
        (m, f"/api/v1/enrolments/{enrolment_id}/{a}", {}) for m, a in [("POST", "approve"), ("POST", "deny")]
    ]
    before = tree.snapshot()
    for method, path, kwargs in writes:
        r = tree.send(key, method, path, follow_redirects=False, **kwargs)
        assert r.status_code == 404, (method, path, r.status_code, r.text[:200])
    assert tree.snapshot() == before


def test_imports_and_enrol_secrets_land_in_the_callers_organisation(tree: Tree) -> None:
    r = tree.send("c", "POST", "/api/v1/enrol-secrets", json={"name": "c-second-rollout"})
    assert r.status_code == 201, r.text
    raw = r.json()["secret"]
    assert "c-second-rollout" in {x["name"] for x in tree.get("c", "/api/v1/enrol-secrets").json()["items"]}
    for other in ("m1", "s", "d"):
        listed = {x["name"] for x in tree.get(other, "/api/v1/enrol-secrets").json()["items"]}
        assert "c-second-rollout" not in listed
    enrolled = tree.fleet.client.post(
        "/api/v1/enroll",
        json={
            "enroll_secret": raw,
            "host_identifier": "c-new-agent",
            "hostname": "ward-pc-9",
            "platform": "linux",
        },
    )
    assert enrolled.status_code == 201, enrolled.text
    inventory = {
        "file": ("inventory.csv", b"hostname,name,version\nward-pc-7,Kaspersky Endpoint Security,12.1\n")
    }
    imported = tree.send("c", "POST", "/api/v1/imports", files=inventory)
    assert imported.status_code == 201, imported.text
    with tree.fleet.app.state.banscan.db.reading() as s:
        owners = dict(
            s.execute(
                select(Host.hostname, Host.org_id).where(Host.hostname.in_(["ward-pc-7", "ward-pc-9"]))
            ).all()
        )
        audited = s.scalar(
            select(AuditEntry.org_id).where(AuditEntry.action == "import").order_by(AuditEntry.id.desc())
        )
    assert owners == {"ward-pc-7": tree.orgs["c"].org_id, "ward-pc-9": tree.orgs["c"].org_id}
    assert audited == tree.orgs["c"].org_id
    for key in ORGS:
        names = {h["hostname"] for h in tree.get(key, "/api/v1/hosts").json()["items"]}
        assert ("ward-pc-7" in names) == (key == "c"), key


def test_an_api_token_acts_in_the_organisation_it_was_made_for(tree: Tree) -> None:
    r = tree.send("c", "POST", "/api/v1/tokens", json={"name": "health-siem", "role": "admin"})
    assert r.status_code == 201, r.text
    bearer = {"Authorization": f"Bearer {r.json()['token']}"}
    client = tree.fleet.client
    listed = client.get("/api/v1/hosts", headers=bearer).json()["items"]
    assert {h["hostname"] for h in listed} == tree.hostnames(SEES["c"])
    member = tree.orgs["m1"]
    r = client.patch(f"/api/v1/hosts/{member.host_id}", json={"tags": ["x"]}, headers=bearer)
    assert r.status_code == 404
    # A token it makes acts in the same organisation, whoever it names as its maker.
    made = client.post("/api/v1/tokens", json={"name": "health-siem-2"}, headers=bearer)
    assert made.status_code == 201, made.text
    again = {"Authorization": f"Bearer {made.json()['token']}"}
    listed = client.get("/api/v1/hosts", headers=again).json()["items"]
    assert {h["hostname"] for h in listed} == tree.hostnames(SEES["c"])
    with tree.fleet.app.state.banscan.db.reading() as s:
        orgs = set(s.scalars(select(ApiToken.org_id).where(ApiToken.name.like("health-siem%"))))
    assert orgs == {tree.orgs["c"].org_id}


@pytest.mark.parametrize(("org", "key"), [(None, "d"), ("health-agency", "c"), ("county-clinic", "m2")])
def test_a_token_made_on_the_command_line_reads_the_organisation_it_names(
    tree: Tree, org: str | None, key: str
) -> None:
    from banscan.store.accounts import create_api_token

    raw = create_api_token(tree.fleet.db_url, f"cli-{key}", "viewer", org=org)
    listed = tree.fleet.client.get("/api/v1/hosts", headers={"Authorization": f"Bearer {raw}"}).json()[
        "items"
    ]
    assert {h["hostname"] for h in listed} == tree.hostnames(SEES[key])


def test_a_token_for_an_unknown_organisation_is_refused(tree: Tree) -> None:
    from banscan.store.accounts import create_api_token

    with pytest.raises(ValueError, match="no organisation 'nowhere'"):
        create_api_token(tree.fleet.db_url, "cli-nowhere", "viewer", org="nowhere")
