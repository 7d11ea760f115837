"""The public explainer branded for a coordinator: `/explainer/{slug}` heads the catalog's page
with the coordinator's name and contact and what the rules ask of its role in its jurisdiction.
Only organisations with members publish one; any other slug is unknown, and no fleet data is
shown."""

from __future__ import annotations

from collections.abc import Iterator
from html import unescape

import pytest
from sqlalchemy import update

from banscan.catalog.loader import load_catalog
from banscan.server.explainer import Brand, build_explainer
from banscan.store.models import Host, Organisation

from .conftest import Fleet

CONTACT = "Office of the CIO, cio-office@dir.texas.example, +1 512 555 0100"


@pytest.fixture
def public(sqlite_url: str) -> Iterator[Fleet]:
    """Texas's coordinator (state agencies in US-TX) with one member agency; a coordinator with
    no role or jurisdiction of its own; an organisation without members; a host of the
    coordinator's, enrolled and moved there."""
    f = Fleet(sqlite_url)
    host_id, _ = f.enroll("dir-4c4c-01", "dir-ws-0042")
    with f.app.state.banscan.db.writing() as s:
        texas = Organisation(
            slug="texas-dir",
            name="Lone Star Agencies Coordination Office",
            contact=CONTACT,
            role="state-agency",
            jurisdiction="US-TX",
        )
        plain = Organisation(slug="msp-north", name="North MSP", contact="")
        lone = Organisation(slug="lone-agency", name="Lone agency")
        s.add_all([texas, plain, lone])
        s.flush()
        s.add_all(
            [
                Organisation(slug="tx-health", name="Texas Health Services", parent_id=texas.id),
                Organisation(slug="client-a", name="Client A", parent_id=plain.id),
            ]
        )
        s.execute(update(Host).where(Host.id == host_id).values(org_id=texas.id))
    yield f
    f.close()


def _box(html: str) -> str:
    box = html[html.index('id="brand-duties"') :]
    return unescape(box[: box.index("</section>")])


def test_a_coordinator_publishes_the_explainer_under_its_name(public: Fleet) -> None:
    r = public.client.get("/explainer/texas-dir")
    assert r.status_code == 200
    assert r.headers["cache-control"] == "public, max-age=300" and r.headers["x-frame-options"] == "DENY"
    html = r.text
    text = unescape(html)
    assert "Published by <strong>Lone Star Agencies Coordination Office</strong>" in html
    assert CONTACT in text
    assert "<title>Lone Star Agencies Coordination Office: what is banned" in html
    box = _box(html)
    assert "What the rules ask of state agencies in US-TX, by when" in box
    # Texas's own deadline, for state agencies there, before duties without one
    assert "Deadline: by 2023-02-15" in box and "in US-TX only" in box
    assert box.index("2023-02-15") < box.index("Ban the prohibited technologies")
    # not another state's rules, nor duties of roles it does not have
    assert "US-VA" not in box and "US-NH" not in box and "Contracting Officer" not in box
    # the page itself is the catalog's explainer
    assert 'id="role-federal-contractor"' in html and 'id="timeline"' in html
    # no fleet data: the coordinator's host is not named, and nothing is counted
    assert "dir-ws-0042" not in html and "dir-4c4c-01" not in html


def test_a_coordinator_without_a_role_or_jurisdiction_gets_the_servers(public: Fleet) -> None:
    html = public.client.get("/explainer/msp-north").text
    box = _box(html)
    # the server's role (users) in the US: BIS advises everyone; no Texas rule
    assert "What the rules ask of users in the US, by when" in box
    assert "US-TX" not in box and "Contact:" not in html.split('id="brand"')[1].split("</p>")[0]


def test_the_plain_explainer_is_unbranded(public: Fleet) -> None:
    html = public.client.get("/explainer").text
    assert 'id="brand"' not in html and 'id="brand-duties"' not in html
    assert "Lone Star Agencies Coordination Office" not in html


@pytest.mark.parametrize("slug", ["lone-agency", "tx-health", "default", "no-such-org", "TEXAS-DIR"])
def test_only_coordinators_have_one(public: Fleet, slug: str) -> None:
    r = public.client.get(f"/explainer/{slug}")
    assert r.status_code == 404
    assert "Lone Star" not in r.text and "Lone agency" not in r.text


def test_brand_duties_follow_the_policy_engines_reading() -> None:
    catalog = load_catalog()
    texas = build_explainer(catalog, Brand("DIR", "", "state-agency", "US-TX"))["brand"]
    federal = build_explainer(catalog, Brand("GSA", "", "federal-contractor", "US"))["brand"]
    assert texas["where"] == "US-TX" and federal["where"] == "the US"
    texas_rules = {d["regulation_anchor"] for d in texas["duties"]}
    assert "reg-tx-prohibited-technologies-2022" in texas_rules
    assert not any(a.startswith("reg-va-") or "-nh-" in a for a in texas_rules)
    # FAR 52.204-23 binds federal contractors everywhere, never Texas's state agencies
    assert any(d["regulation_anchor"] == "reg-ndaa-1634-far-52-204-23" for d in federal["duties"])
    assert not any(d["regulation_anchor"] == "reg-ndaa-1634-far-52-204-23" for d in texas["duties"])
    # deadlines first, the soonest first
    dated = [d["deadline"] for d in texas["duties"] if d["deadline"]]
    assert dated == sorted(dated) and texas["duties"][0]["due"]
    assert build_explainer(catalog)["brand"] is None
