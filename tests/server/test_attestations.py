"""Attestations: an organisation's officer attests its status as of a day, computed by the
server, signed with their account, kept with a digest, read by its coordinators.

The tree: a state CIO office (the coordinator) with a member, the county hospital, and an
unrelated revenue agency. The hospital acts as a federal contractor. Its host srv-hosp-01 was
scanned on 2025-03-01 with three Kaspersky products, one accepted as an exception whose reason
names the other host; srv-hosp-02 was scanned the same day and clean on 2025-03-05. Each other
organisation has a dirty host of its own. The hospital's removal of kesl on srv-hosp-01 was
recorded (replacement installed) today, long after the day attested to.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from banscan.store.accounts import add_api_token, add_user
from banscan.store.attestations import canonical_json, status_of, verify_digest
from banscan.store.deadlines import Policy
from banscan.store.ingest import set_transition
from banscan.store.models import Attestation, AuditEntry, Host, Organisation

from .conftest import ADMIN_PASSWORD, Fleet, at

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

T0 = "2025-03-01T09:00:00+00:00"
CLEAN = "2025-03-05T09:00:00+00:00"
DAY = dt.date(2025, 3, 10)
REASON = "Lab analyser on srv-hosp-02 and SRV-HOSP-01 kept offline until the vendor certifies a replacement"
ACCEPTED = "ksc-network-agent"


@dataclass
class World:
    fleet: Fleet
    orgs: dict[str, int]  # key -> organisation id
    names: set[str]  # every host name and identifier
    clients: dict[str, tuple[TestClient, str]]  # user -> (signed-in browser, CSRF token)

    def send(self, user: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        client, csrf = self.clients[user]
        r: httpx.Response = client.request(method, path, headers={"x-csrf-token": csrf}, **kwargs)
        return r

    def get(self, user: str, path: str, **params: Any) -> httpx.Response:
        r: httpx.Response = self.clients[user][0].get(path, params=params)
        return r


def _accepted(result: dict[str, Any]) -> dict[str, Any]:
    """The dirty result with the network agent accepted under an exception."""
    out = copy.deepcopy(result)
    for f in out["findings"]:
        if f["product"] == ACCEPTED:
            f["exception"] = {
                "reason": REASON,
                "approver": "ciso@hospital.example",
                "expires": "2025-06-30",
                "original_verdict": f["verdict"],
                "ticket": "CHG-1042",
            }
            f["verdict"] = "accepted"
    return out


def _host(fleet: Fleet, org_id: int, identifier: str, hostname: str, *results: dict[str, Any]) -> int:
    host_id, token = fleet.enroll(identifier, hostname)
    for result in results:
        r = fleet.report(token, result)
        assert r.status_code == 201, r.text
    with fleet.app.state.banscan.db.writing() as s:
        s.execute(update(Host).where(Host.id == host_id).values(org_id=org_id))
    return host_id


def _login(fleet: Fleet, username: str) -> tuple[TestClient, str]:
    client = TestClient(fleet.app, base_url="https://testserver")
    csrf = client.get("/api/v1/csrf").json()["csrf_token"]
    r = client.post(
        "/login",
        data={"username": username, "password": ADMIN_PASSWORD, "csrf_token": csrf},
        headers={"Accept": "application/json"},
    )
    assert r.status_code == 200, r.text
    return client, str(r.json()["csrf_token"])


USERS = {  # user -> (organisation, role)
    "officer-hosp": ("hospital", "admin"),
    "viewer-hosp": ("hospital", "viewer"),
    "officer-cio": ("cio", "admin"),
    "officer-rev": ("revenue", "admin"),
}


@pytest.fixture
def world(fleet: Fleet, results: dict[str, dict[str, Any]]) -> Iterator[World]:
    with fleet.app.state.banscan.db.writing() as s:
        cio = Organisation(
            slug="state-cio", name="State CIO office", role="state-agency", jurisdiction="US-TX"
        )
        revenue = Organisation(slug="revenue-agency", name="Revenue agency")
        s.add_all([cio, revenue])
        s.flush()
        hospital = Organisation(
            slug="county-hospital", name="County hospital", parent_id=cio.id, role="federal-contractor"
        )
        s.add(hospital)
        s.flush()
        orgs = {"cio": cio.id, "hospital": hospital.id, "revenue": revenue.id}
        for username, (org, role) in USERS.items():
            add_user(s, username, ADMIN_PASSWORD, role, org_id=orgs[org])
    dirty, clean = at(results["dirty"], T0), at(results["clean"], CLEAN)
    hosts = {
        ("hosp-4c4c-01", "srv-hosp-01"): _host(
            fleet, orgs["hospital"], "hosp-4c4c-01", "srv-hosp-01", _accepted(dirty)
        ),
        ("hosp-4c4c-02", "srv-hosp-02"): _host(
            fleet, orgs["hospital"], "hosp-4c4c-02", "srv-hosp-02", dirty, clean
        ),
        ("cio-4c4c-01", "srv-cio-01"): _host(fleet, orgs["cio"], "cio-4c4c-01", "srv-cio-01", dirty),
        ("rev-4c4c-01", "srv-rev-01"): _host(fleet, orgs["revenue"], "rev-4c4c-01", "srv-rev-01", dirty),
    }
    with fleet.app.state.banscan.db.writing() as s:
        moved = set_transition(
            s,
            hosts[("hosp-4c4c-01", "srv-hosp-01")],
            "kesl",
            "replacement-installed",
            "ESET installed",
            "it-ops",
        )
        assert moved is not None
    clients = {u: _login(fleet, u) for u in USERS}
    try:
        yield World(fleet, orgs, {n for pair in hosts for n in pair}, clients)
    finally:
        for client, _ in clients.values():
            client.close()


def _status(world: World, org: str, day: dt.date) -> dict[str, Any]:
    st = world.fleet.app.state.banscan
    with st.db.reading() as s:
        return status_of(s, world.orgs[org], day, server=Policy(st.catalog, "user", day, "US"))


def _no_host_names(world: World, content: Any) -> None:
    text = json.dumps(content).lower()
    assert not [n for n in world.names if n.lower() in text]


# ---------------------------------------------------------------- the status


def test_status_counts_the_organisations_own_findings_as_of_the_day(world: World) -> None:
    status = _status(world, "hospital", DAY)
    assert (status["organisation"], status["as_of"], status["role"], status["jurisdiction"]) == (
        {"slug": "county-hospital", "name": "County hospital"},
        "2025-03-10",
        "federal-contractor",
        "US",  # none of its own: the server's
    )
    # srv-hosp-02 was clean on 2025-03-05, the accepted agent is an exception: kesl and ksc-linux
    # on srv-hosp-01 remain, their FAR 52.204-23 report overdue since 2025-03-05.
    remaining = {p["product"]: p for p in status["remaining"]}
    assert sorted(remaining) == ["kesl", "ksc-linux"]
    kesl = remaining["kesl"]
    assert (kesl["covered"], kesl["review"], kesl["total"], kesl["overdue"]) == (1, 0, 1, 1)
    assert (kesl["overdue_since"], kesl["next_deadline"]) == ("2025-03-05", "2025-03-14")
    assert kesl["product_name"].startswith("Kaspersky")
    # The replacement was recorded today, after the day attested to: still found then.
    assert kesl["removal"] == {"found": 1, "replacement-installed": 0, "removed": 0, "verified": 0}
    assert status["totals"] == {"hosts_with_remaining": 1, "remaining": 2, "overdue": 2, "exceptions": 1}
    plan = [
        (d["deadline"], d["product"], d["regulation"], d["overdue"], d["pending"]) for d in status["plan"]
    ]
    assert plan == [
        ("2025-03-05", "kesl", "ndaa-1634-far-52-204-23", 1, 0),
        ("2025-03-05", "ksc-linux", "ndaa-1634-far-52-204-23", 1, 0),
        ("2025-03-14", "kesl", "ndaa-1634-far-52-204-23", 0, 1),
        ("2025-03-14", "ksc-linux", "ndaa-1634-far-52-204-23", 0, 1),
    ]
    [exception] = status["exceptions"]
    assert exception == {
        "product": ACCEPTED,
        "product_name": exception["product_name"],
        "original_verdict": "covered",
        "reason": "Lab analyser on [host] and [host] kept offline until the vendor certifies a replacement",
        "approver": "ciso@hospital.example",
        "expires": "2025-06-30",
        "expired": False,
        "findings": 1,
    }
    _no_host_names(world, status)

    # Before the clean scan both hosts had all three; before the first scan, nothing.
    before = _status(world, "hospital", dt.date(2025, 3, 4))
    assert {p["product"]: p["total"] for p in before["remaining"]} == {"kesl": 2, "ksc-linux": 2, ACCEPTED: 1}
    assert before["totals"]["hosts_with_remaining"] == 2
    assert _status(world, "hospital", dt.date(2025, 2, 28))["totals"] == {
        "hosts_with_remaining": 0,
        "remaining": 0,
        "overdue": 0,
        "exceptions": 0,
    }
    # Today the exception has expired and the replacement is recorded.
    now = _status(world, "hospital", dt.datetime.now(dt.UTC).date())
    assert {p["product"]: p["removal"] for p in now["remaining"]}["kesl"] == {
        "found": 0,
        "replacement-installed": 1,
        "removed": 0,
        "verified": 0,
    }
    assert now["exceptions"][0]["expired"] is True


def test_a_coordinator_is_judged_for_its_own_role_and_jurisdiction_and_hosts(world: World) -> None:
    status = _status(world, "cio", DAY)
    assert (status["role"], status["jurisdiction"]) == ("state-agency", "US-TX")
    assert {p["product"]: p["total"] for p in status["remaining"]} == {"kesl": 1, "ksc-linux": 1, ACCEPTED: 1}
    # The Texas agency policy was due 2023-02-15: overdue for everything it has.
    assert {(d["deadline"], d["regulation"]) for d in status["plan"]} == {
        ("2023-02-15", "tx-prohibited-technologies-2022")
    }
    assert status["totals"]["overdue"] == 3 and status["exceptions"] == []


# ---------------------------------------------------------------- signing


def test_an_officer_attests_and_the_digest_holds_until_the_content_changes(world: World) -> None:
    statement = "I attest that the counts below are complete as of 10 March 2025.\nJ. Doe, CISO"
    r = world.send(
        "officer-hosp", "POST", "/api/v1/attestations", json={"as_of": "2025-03-10", "statement": statement}
    )
    assert r.status_code == 201, r.text
    made = r.json()
    assert (made["signed_by"], made["as_of"], made["statement"], made["verified"]) == (
        "officer-hosp",
        "2025-03-10",
        statement,
        True,
    )
    content = made["content"]
    # What was attested is what the server computed, with who signed it and what they said.
    assert {k: v for k, v in content.items() if k != "signature"} == _status(world, "hospital", DAY)
    assert content["signature"] == {"by": "officer-hosp", "at": made["signed_at"], "statement": statement}
    assert made["digest"] == hashlib.sha256(canonical_json(content)).hexdigest()
    assert (
        made["digest"]
        == hashlib.sha256(
            json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        ).hexdigest()
    )
    db = world.fleet.app.state.banscan.db
    with db.reading() as s:
        row = s.get(Attestation, made["id"])
        assert row is not None and verify_digest(row)
        audit = s.scalars(select(AuditEntry).where(AuditEntry.action == "attestation.sign")).one()
        assert (audit.org_id, audit.actor, audit.target) == (
            world.orgs["hospital"],
            "officer-hosp",
            f"attestation:{row.id}",
        )
        assert audit.detail["digest"] == made["digest"]

    # A count changed behind the record's back: the digest no longer matches.
    changed = copy.deepcopy(content)
    changed["totals"]["remaining"] = 0
    with db.writing() as s:
        s.execute(update(Attestation).where(Attestation.id == made["id"]).values(content=changed))
    with db.reading() as s:
        row = s.get(Attestation, made["id"])
        assert row is not None and not verify_digest(row)
    again = world.get("officer-hosp", f"/api/v1/attestations/{made['id']}")
    assert again.status_code == 200 and again.json()["verified"] is False
    # ... and so does a statement changed on the row alone
    with db.writing() as s:
        s.execute(
            update(Attestation).where(Attestation.id == made["id"]).values(content=content, statement="other")
        )
    assert world.get("officer-hosp", f"/api/v1/attestations/{made['id']}").json()["verified"] is False


def test_the_content_is_never_taken_from_the_request(world: World) -> None:
    forged = {"as_of": "2025-03-10", "statement": "", "content": {"totals": {"remaining": 0}}}
    r = world.send("officer-hosp", "POST", "/api/v1/attestations", json=forged)
    assert r.status_code == 422
    _assert_none(world)


def _assert_none(world: World) -> None:
    with world.fleet.app.state.banscan.db.reading() as s:
        assert s.scalar(select(func.count()).select_from(Attestation)) == 0


def test_api_tokens_and_viewers_cannot_attest(world: World) -> None:
    with world.fleet.app.state.banscan.db.writing() as s:
        raw, _ = add_api_token(
            s, "hospital-automation", "admin", created_by="officer-hosp", org_id=world.orgs["hospital"]
        )
    body = {"as_of": "2025-03-10", "statement": "automated"}
    client = world.clients["officer-hosp"][0]
    r = client.post("/api/v1/attestations", json=body, headers={"Authorization": f"Bearer {raw}"})
    assert r.status_code == 403 and "API token" in r.json()["detail"]
    page = client.post(
        "/attestations",
        data={"as_of": "2025-03-10", "statement": "x"},
        headers={"Authorization": f"Bearer {raw}"},
    )
    assert page.status_code == 403
    r = world.send("viewer-hosp", "POST", "/api/v1/attestations", json=body)
    assert r.status_code == 403
    # a viewer still sees what would be attested
    preview = world.get("viewer-hosp", "/api/v1/attestations/preview", as_of="2025-03-10")
    assert preview.status_code == 200 and preview.json()["totals"]["remaining"] == 2
    _assert_none(world)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"as_of": "tomorrow"}, 400),
        ({"as_of": "2016-12-31"}, 400),
        ({"as_of": "2025-03-10", "statement": "signed\x1b[2J"}, 400),
        ({"as_of": "2025-03-10", "statement": "signed \u202e by nobody"}, 400),
        ({"as_of": "2025-03-10", "statement": "x" * 2001}, 422),
    ],
)
def test_future_days_and_bad_statements_are_refused(world: World, body: dict[str, Any], status: int) -> None:
    if body["as_of"] == "tomorrow":
        body = {**body, "as_of": (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)).isoformat()}
        preview = world.get("officer-hosp", "/api/v1/attestations/preview", as_of=body["as_of"])
        assert preview.status_code == 400 and "future" in preview.json()["detail"]
    r = world.send("officer-hosp", "POST", "/api/v1/attestations", json=body)
    assert r.status_code == status, r.text
    _assert_none(world)


# ---------------------------------------------------------------- who reads it


def test_a_coordinator_reads_its_members_attestations_and_no_one_else_does(world: World) -> None:
    made = world.send("officer-hosp", "POST", "/api/v1/attestations", json={"as_of": "2025-03-10"}).json()
    own = world.send("officer-cio", "POST", "/api/v1/attestations", json={"as_of": "2025-03-10"}).json()
    path = f"/api/v1/attestations/{made['id']}"

    # The coordinator reads the member's content: counts per product, no host named.
    r = world.get("officer-cio", path)
    assert r.status_code == 200
    assert r.json()["content"]["totals"]["remaining"] == 2 and r.json()["verified"] is True
    _no_host_names(world, r.json())
    # ... and not who signed it: a member sharing aggregates only shares no user either.
    assert "officer-hosp" not in r.text
    assert r.json()["signed_by"] == r.json()["content"]["signature"]["by"] == "an officer of County hospital"
    assert "officer-hosp" not in world.get("officer-cio", "/api/v1/attestations").text
    assert "officer-hosp" not in world.get("officer-cio", "/attestations").text
    listed = world.get("officer-cio", "/api/v1/attestations").json()
    assert [a["id"] for a in listed["items"]] == [own["id"]]
    [member] = listed["members"]
    assert member["organisation"]["slug"] == "county-hospital"
    assert member["latest"]["id"] == made["id"] and member["latest"]["digest"] == made["digest"]
    theirs = world.get("officer-cio", "/api/v1/attestations", org="county-hospital").json()
    assert [a["id"] for a in theirs["items"]] == [made["id"]] and theirs["total"] == 1

    # Another organisation, and the member about its coordinator: unknown.
    assert world.get("officer-rev", path).status_code == 404
    assert world.get("officer-rev", "/api/v1/attestations", org="county-hospital").status_code == 404
    assert world.get("officer-hosp", f"/api/v1/attestations/{own['id']}").status_code == 404
    assert world.get("officer-hosp", "/api/v1/attestations", org="state-cio").status_code == 404
    assert world.get("officer-rev", "/api/v1/attestations").json()["items"] == []
    # The member's viewer reads its own organisation's.
    assert world.get("viewer-hosp", path).json()["signed_by"] == "officer-hosp"
    # A member sharing its hosts shares who signed too.
    with world.fleet.app.state.banscan.db.writing() as s:
        s.execute(
            update(Organisation)
            .where(Organisation.slug == "county-hospital")
            .values(share_with_coordinators="hosts")
        )
    assert world.get("officer-cio", path).json()["signed_by"] == "officer-hosp"


def test_the_page_previews_signs_and_lists(world: World) -> None:
    page = world.get("officer-hosp", "/attestations", as_of="2025-03-10")
    assert page.status_code == 200
    html = page.text
    assert (
        'id="remaining-kesl"' in html
        and "2025-03-05" in html
        and 'method="post" action="/attestations"' in html
    )
    assert not [n for n in world.names if n in html]
    client, csrf = world.clients["officer-hosp"]
    r = client.post(
        "/attestations",
        data={
            "as_of": "2025-03-10",
            "statement": "Complete as of the quarter's last review.",
            "csrf_token": csrf,
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/attestations?done=attested"
    with world.fleet.app.state.banscan.db.reading() as s:
        digest = s.scalars(select(Attestation.digest)).one()
    listed = world.get("officer-hosp", "/attestations").text
    assert digest in listed and "Complete as of the quarter" in listed
    # A day in the future comes back with the reason, nothing recorded.
    late = client.post(
        "/attestations",
        data={"as_of": "2999-01-01", "statement": "", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert late.status_code == 400 and "future" in late.text
    # A viewer sees the status but no Attest button; the coordinator sees the member's digest.
    viewer = world.get("viewer-hosp", "/attestations").text
    assert 'id="preview"' in viewer and 'method="post"' not in viewer.split("</header>")[1]
    coordinator = world.get("officer-cio", "/attestations").text
    members = coordinator[coordinator.index('id="members"') :]
    assert "County hospital" in members and digest in members
