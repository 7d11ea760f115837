"""Sites and tags of hosts, on SQLite and PostgreSQL: set at enrolment (API and agent), by bulk
imports and by admins; validated; used by the host filters, the exports, the host JSON and the
estate summary's breakdowns by site and by tag."""

from __future__ import annotations

import html as htmllib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event, func, insert, select, text
from typer.testing import CliRunner

from banscan.cli import app as cli_app
from banscan.cli.agent import agent_command
from banscan.server.agent import AgentConfig, AgentState, run_agent
from banscan.store.accounts import create_api_token, create_user
from banscan.store.db import make_engine
from banscan.store.migrate import upgrade_db
from banscan.store.models import Finding, Host, HostTag
from banscan.store.sites import MAX_TAGS, NO_SITE, SUMMARY_TAGS
from linux_root import build_linux_root

from .conftest import ADMIN_PASSWORD, ENROLL_SECRET, Fleet, ServerProcess, at, make_admin
from .test_web_pages import browser, data_cell, ids_in, login, read_csv

T1 = "2025-03-01T10:00:00+00:00"
TSV = (
    "Computer\tApp\tVendor\tVer\tSeen\n"
    "KIOSK-01\tKaspersky Security Center Network Agent\tAO Kaspersky Lab\t14.2.0.26967\t2024-12-30\n"
    "KIOSK-02\tMozilla Firefox\tMozilla\t133.0.3\t2024-12-29\n"
)


def enroll(fleet: Fleet, identifier: str, token: str | None = None, **extra: Any) -> httpx.Response:
    """Enrol; with `token` (the host's live one), enrol a known host again."""
    body = {"enroll_secret": ENROLL_SECRET, "host_identifier": identifier, "hostname": identifier}
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    r: httpx.Response = fleet.client.post(
        "/api/v1/enroll", json={**body, "platform": "linux", **extra}, headers=headers
    )
    return r


def enrolled(fleet: Fleet, identifier: str, token: str | None = None, **extra: Any) -> tuple[int, str]:
    r = enroll(fleet, identifier, token, **extra)
    assert r.status_code == 201, r.text
    return r.json()["host_id"], r.json()["token"]


def labels_in_db(db_url: str, host_id: int) -> tuple[str, list[str]]:
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            site = conn.execute(select(Host.site).where(Host.id == host_id)).scalar_one()
            tags = list(
                conn.execute(
                    select(HostTag.tag).where(HostTag.host_id == host_id).order_by(HostTag.tag)
                ).scalars()
            )
    finally:
        engine.dispose()
    return site, tags


def api_ids(fleet: Fleet, **params: str) -> list[int]:
    return [h["id"] for h in fleet.get("/api/v1/hosts", **params)["items"]]


def estate(fleet: Fleet, results: dict[str, Any]) -> dict[str, int]:
    """Five hosts: two at paris (one dirty), one at berlin (dirty), two without a site (one
    dirty); tags: pci on a, b and e; kiosk on c."""
    layout = {
        "a": ("paris", ["pci", "db"], "dirty"),
        "b": ("paris", ["pci"], "clean"),
        "c": ("berlin", ["kiosk"], "dirty"),
        "d": (None, None, "clean"),
        "e": (None, ["pci"], "dirty"),
    }
    ids = {}
    for name, (site, tags, result) in layout.items():
        extra: dict[str, Any] = {}
        if site is not None:
            extra["site"] = site
        if tags is not None:
            extra["tags"] = tags
        host_id, token = enrolled(fleet, f"host-{name}", **extra)
        assert fleet.report(token, at(results[result], T1)).status_code == 201
        ids[name] = host_id
    return ids


# ---------------------------------------------------------------- enrolment and validation


def test_enrolment_sets_site_and_tags_and_host_json_shows_them(fleet: Fleet) -> None:
    host_id, token = enrolled(fleet, "m-1", site="  Paris DC1 ", tags=["pci", "db", "pci", " web "])
    host = fleet.get(f"/api/v1/hosts/{host_id}")
    assert host["site"] == "Paris DC1" and host["tags"] == ["db", "pci", "web"]
    assert labels_in_db(fleet.db_url, host_id) == ("Paris DC1", ["db", "pci", "web"])
    listed = fleet.get("/api/v1/hosts")["items"][0]
    assert listed["site"] == "Paris DC1" and listed["tags"] == ["db", "pci", "web"]

    # Enrolling again without them leaves them; with them, they replace what was there.
    # (the agent presents its token: a known host is not enrolled again on the secret alone)
    again, token = enrolled(fleet, "m-1", token)
    assert again == host_id
    assert labels_in_db(fleet.db_url, host_id) == ("Paris DC1", ["db", "pci", "web"])
    again, token = enrolled(fleet, "m-1", token, site="Lyon", tags=["kiosk"])
    assert again == host_id
    assert labels_in_db(fleet.db_url, host_id) == ("Lyon", ["kiosk"])
    assert enrolled(fleet, "m-1", token, tags=[])[0] == host_id
    assert labels_in_db(fleet.db_url, host_id) == ("Lyon", [])

    # A host enrolled without any has none.
    other, _ = enrolled(fleet, "m-2")
    assert labels_in_db(fleet.db_url, other) == ("", [])
    assert fleet.get(f"/api/v1/hosts/{other}")["tags"] == []


BAD_LABELS: list[dict[str, Any]] = [
    {"site": "x" * 101},
    {"site": "line\nbreak"},
    {"site": "bell\u0007"},
    {"site": "del\u007f"},
    {"site": "c1\u0085c1"},
    {"site": "sep\u2028sep"},
    {"site": NO_SITE},
    {"site": 12},
    {"tags": "pci"},
    {"tags": ["a,b"]},
    {"tags": [""]},
    {"tags": ["   "]},
    {"tags": ["t" * 65]},
    {"tags": ["tab\there"]},
    {"tags": [f"t{i}" for i in range(MAX_TAGS + 1)]},
    {"tags": [None]},
]


@pytest.mark.parametrize("bad", BAD_LABELS, ids=[str(i) for i in range(len(BAD_LABELS))])
def test_invalid_site_or_tags_are_refused_with_422(fleet: Fleet, bad: dict[str, Any]) -> None:
    r = enroll(fleet, "v-1", **bad)
    assert r.status_code == 422, r.text
    assert fleet.get("/api/v1/hosts")["total"] == 0  # nothing was created

    host_id, _ = enrolled(fleet, "v-2", site="kept", tags=["kept"])
    r = fleet.client.patch(f"/api/v1/hosts/{host_id}", json=bad, headers=fleet.as_admin())
    assert r.status_code == 422, r.text
    assert labels_in_db(fleet.db_url, host_id) == ("kept", ["kept"])


def test_limits_are_inclusive(fleet: Fleet) -> None:
    tags = [f"t{i:02d}" for i in range(MAX_TAGS)]
    r = enroll(fleet, "l-1", site="s" * 100, tags=tags)
    assert r.status_code == 201, r.text
    host_id = r.json()["host_id"]
    assert labels_in_db(fleet.db_url, host_id) == ("s" * 100, tags)
    r = fleet.client.patch(f"/api/v1/hosts/{host_id}", json={"tags": ["x" * 64]}, headers=fleet.as_admin())
    assert r.status_code == 200 and r.json()["tags"] == ["x" * 64]


# ---------------------------------------------------------------- changing them


def test_admin_changes_site_and_tags_through_the_api_viewer_cannot(fleet: Fleet) -> None:
    host_id, _ = enrolled(fleet, "p-1", site="paris", tags=["pci"])
    admin = fleet.as_admin()
    r = fleet.client.patch(f"/api/v1/hosts/{host_id}", json={"site": "berlin"}, headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["site"] == "berlin" and r.json()["tags"] == ["pci"]  # tags untouched
    r = fleet.client.patch(f"/api/v1/hosts/{host_id}", json={"tags": ["b", "a"]}, headers=admin)
    assert r.json()["site"] == "berlin" and r.json()["tags"] == ["a", "b"]
    assert labels_in_db(fleet.db_url, host_id) == ("berlin", ["a", "b"])
    r = fleet.client.patch(f"/api/v1/hosts/{host_id}", json={"site": "", "tags": []}, headers=admin)
    assert r.status_code == 200
    assert labels_in_db(fleet.db_url, host_id) == ("", [])

    viewer = {"Authorization": f"Bearer {fleet.api_token('viewer')}"}
    r = fleet.client.patch(f"/api/v1/hosts/{host_id}", json={"site": "rome"}, headers=viewer)
    assert r.status_code == 403
    r = fleet.client.patch(f"/api/v1/hosts/{host_id}", json={"site": "rome"})
    assert r.status_code == 401
    assert labels_in_db(fleet.db_url, host_id) == ("", [])
    r = fleet.client.patch("/api/v1/hosts/999999", json={"site": "rome"}, headers=admin)
    assert r.status_code == 404
    r = fleet.client.patch(f"/api/v1/hosts/{host_id}", json={"site": "rome", "owner": "x"}, headers=admin)
    assert r.status_code == 422

    engine = make_engine(fleet.db_url)
    with engine.connect() as conn:
        actions = conn.execute(
            text("SELECT action, target FROM audit_log WHERE action = 'host.labels'")
        ).all()
    engine.dispose()
    assert [tuple(a) for a in actions] == [("host.labels", str(host_id))] * 3


def test_admin_changes_site_and_tags_from_the_host_page(fleet: Fleet, results: dict[str, Any]) -> None:
    host_id, token = enrolled(fleet, "f-1", site="paris", tags=["pci"])
    assert fleet.report(token, at(results["dirty"], T1)).status_code == 201
    make_admin(fleet.db_url)
    a = browser(fleet)
    csrf = login(a, "alice")
    page = a.get(f"/hosts/{host_id}").text
    assert "labels-form" in page and 'name="site" value="paris"' in page and 'value="pci"' in page
    assert a.get("/").text.count('data-site="paris">1<') == 1  # the overview, cached

    form = {"site": "Berlin HQ", "tags": "kiosk, pos,,kiosk"}
    r = a.post(f"/hosts/{host_id}/labels", data=form, follow_redirects=False)
    assert r.status_code == 403  # no CSRF token
    r = a.post(f"/hosts/{host_id}/labels", data={**form, "csrf_token": "nope"}, follow_redirects=False)
    assert r.status_code == 403
    assert labels_in_db(fleet.db_url, host_id) == ("paris", ["pci"])
    r = a.post(f"/hosts/{host_id}/labels", data={**form, "csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith(f"/hosts/{host_id}")
    assert labels_in_db(fleet.db_url, host_id) == ("Berlin HQ", ["kiosk", "pos"])
    page = a.get(f"/hosts/{host_id}").text
    assert re.search(r'id="host-site"><a href="/hosts\?site=Berlin%20HQ">Berlin HQ</a>', page)
    assert 'href="/hosts?tag=pos"' in page
    overview = a.get("/").text  # the change shows at once, not after the cache expires
    assert 'data-site="Berlin HQ">1<' in overview and 'data-site="paris"' not in overview

    for bad in [{"site": "a\u0007"}, {"tags": "x" * 65}, {"tags": ",".join(f"t{i}" for i in range(21))}]:
        r = a.post(f"/hosts/{host_id}/labels", data={**bad, "csrf_token": csrf}, follow_redirects=False)
        assert r.status_code in (400, 422), bad
    assert labels_in_db(fleet.db_url, host_id) == ("Berlin HQ", ["kiosk", "pos"])
    r = a.post("/hosts/999999/labels", data={**form, "csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 404

    create_user(fleet.db_url, "victor", ADMIN_PASSWORD, "viewer")
    v = browser(fleet)
    vcsrf = login(v, "victor")
    assert "labels-form" not in v.get(f"/hosts/{host_id}").text
    r = v.post(f"/hosts/{host_id}/labels", data={"site": "x", "csrf_token": vcsrf}, follow_redirects=False)
    assert r.status_code == 403
    assert labels_in_db(fleet.db_url, host_id) == ("Berlin HQ", ["kiosk", "pos"])


# ---------------------------------------------------------------- filters and exports


def test_hosts_filter_by_site_and_tag_in_the_api_and_on_the_page(
    fleet: Fleet, results: dict[str, Any]
) -> None:
    ids = estate(fleet, results)
    assert api_ids(fleet, site="paris") == [ids["a"], ids["b"]]
    assert api_ids(fleet, site="berlin") == [ids["c"]]
    assert api_ids(fleet, site=NO_SITE) == [ids["d"], ids["e"]]
    assert api_ids(fleet, site="nowhere") == []
    assert api_ids(fleet, tag="pci") == [ids["a"], ids["b"], ids["e"]]
    assert api_ids(fleet, tag="kiosk") == [ids["c"]]
    assert api_ids(fleet, tag="PCI") == []
    assert api_ids(fleet, site="paris", tag="db") == [ids["a"]]
    assert api_ids(fleet, tag="pci", verdict="covered") == [ids["a"], ids["e"]]
    assert fleet.get("/api/v1/hosts", site="paris", limit=1)["total"] == 2
    admin = fleet.as_admin()
    assert fleet.client.get("/api/v1/hosts", params={"site": "x" * 101}, headers=admin).status_code == 422

    make_admin(fleet.db_url)
    a = browser(fleet)
    login(a, "alice")
    assert ids_in(a.get("/hosts", params={"site": "paris"}).text) == [ids["a"], ids["b"]]
    assert ids_in(a.get("/hosts", params={"site": NO_SITE}).text) == [ids["d"], ids["e"]]
    assert ids_in(a.get("/hosts", params={"tag": "pci"}).text) == [ids["a"], ids["b"], ids["e"]]
    assert ids_in(a.get("/hosts", params={"tag": "pci", "site": "paris", "verdict": "covered"}).text) == [
        ids["a"]
    ]
    page = a.get("/hosts").text
    for choice in ["paris", "berlin", NO_SITE, "pci", "kiosk", "db"]:
        assert f'<option value="{choice}" >' in page or f'<option value="{choice}">' in page, choice
    row = page[page.index(f'data-host-id="{ids["a"]}"') :]
    row = row[: row.index("</tr>")]
    assert ">paris</a>" in row and 'href="/hosts?tag=db"' in row and 'href="/hosts?tag=pci"' in row
    selected = a.get("/hosts", params={"site": "berlin"}).text
    assert '<option value="berlin" selected>' in selected
    assert "site=berlin" in selected  # the export links keep the filter


def test_host_exports_include_site_and_tags(fleet: Fleet, results: dict[str, Any]) -> None:
    ids = estate(fleet, results)
    make_admin(fleet.db_url)
    a = browser(fleet)
    login(a, "alice")
    rows = {int(r["id"]): r for r in read_csv(a.get("/hosts.csv").text)}
    assert (rows[ids["a"]]["site"], rows[ids["a"]]["tags"]) == ("paris", "db,pci")
    assert (rows[ids["d"]]["site"], rows[ids["d"]]["tags"]) == ("", "")
    assert (rows[ids["c"]]["site"], rows[ids["c"]]["tags"]) == ("berlin", "kiosk")
    filtered = read_csv(a.get("/hosts.csv", params={"tag": "pci", "site": NO_SITE}).text)
    assert [int(r["id"]) for r in filtered] == [ids["e"]]

    data = a.get("/hosts.json", params={"site": "paris"}).json()
    assert data["filters"]["site"] == "paris" and data["count"] == 2
    assert [(i["site"], i["tags"]) for i in data["items"]] == [("paris", ["db", "pci"]), ("paris", ["pci"])]
    everything = a.get("/hosts.json").json()
    assert {i["id"]: i["tags"] for i in everything["items"]} == {
        ids["a"]: ["db", "pci"],
        ids["b"]: ["pci"],
        ids["c"]: ["kiosk"],
        ids["d"]: [],
        ids["e"]: ["pci"],
    }


# ---------------------------------------------------------------- summary and overview


def test_by_site_numbers_match_the_store(fleet: Fleet, results: dict[str, Any]) -> None:
    ids = estate(fleet, results)
    enrolled(fleet, "idle", site="berlin")  # never reported
    summary = fleet.get("/api/v1/summary")
    by_site = {s["site"]: (s["hosts"], s["hosts_with_covered"]) for s in summary["by_site"]}
    assert by_site == {"paris": (2, 1), "berlin": (2, 1), NO_SITE: (2, 1)}
    assert [s["site"] for s in summary["by_site"]] == [NO_SITE, "berlin", "paris"]  # most hosts, then name
    assert sum(n for n, _ in by_site.values()) == summary["hosts"] == 6

    # straight from the tables
    engine = make_engine(fleet.db_url)
    with engine.connect() as conn:
        hosts = dict(conn.execute(select(Host.site, func.count()).group_by(Host.site)).all())
        covered = dict(
            conn.execute(
                select(Host.site, func.count(func.distinct(Host.id)))
                .join(Finding, Finding.host_id == Host.id)
                .where(Finding.verdict == "covered", Finding.present.is_(True))
                .group_by(Host.site)
            ).all()
        )
    engine.dispose()
    assert {s or NO_SITE: (n, covered.get(s, 0)) for s, n in hosts.items()} == by_site

    make_admin(fleet.db_url)
    a = browser(fleet)
    login(a, "alice")
    html = a.get("/").text
    assert "Hosts with covered findings by site" in html
    for site, (n, with_covered) in by_site.items():
        assert data_cell(html, "site", site) == n
        assert data_cell(html, "site-covered", site) == with_covered
    assert 'href="/hosts?site=%28no%20site%29"' in html

    # a host moving site moves in the breakdown, and it stays consistent with the host list
    r = fleet.client.patch(f"/api/v1/hosts/{ids['c']}", json={"site": "paris"}, headers=fleet.as_admin())
    assert r.status_code == 200
    again = {
        s["site"]: (s["hosts"], s["hosts_with_covered"]) for s in fleet.get("/api/v1/summary")["by_site"]
    }
    assert again == {"paris": (3, 2), "berlin": (1, 0), NO_SITE: (2, 1)}
    for site, (n, _) in again.items():
        assert fleet.get("/api/v1/hosts", site=site)["total"] == n
        assert fleet.get("/api/v1/hosts", site=site, verdict="covered")["total"] == again[site][1]


def test_summary_without_hosts_has_an_empty_breakdown(fleet: Fleet) -> None:
    summary = fleet.get("/api/v1/summary")
    assert summary["by_site"] == [] and summary["by_os"] == [] and summary["hosts"] == 0
    assert summary["by_tag"] == [] and summary["tags_total"] == 0


def by_tag_of(summary: dict[str, Any]) -> dict[str, tuple[int, int]]:
    return {t["tag"]: (t["hosts"], t["hosts_with_covered"]) for t in summary["by_tag"]}


def tag_table(html: str) -> str:
    start = html.index('<table class="compact" id="by-tag">')
    return html[start : html.index("</table>", start)]


def test_by_tag_numbers_match_the_store(fleet: Fleet, results: dict[str, Any]) -> None:
    ids = estate(fleet, results)
    # a tag whose hosts are all clean: one never reported, one with a clean result
    spare, token = enrolled(fleet, "host-f", tags=["spare", "pci"])
    assert fleet.report(token, at(results["clean"], T1)).status_code == 201
    idle, _ = enrolled(fleet, "idle", tags=["spare"])

    summary = fleet.get("/api/v1/summary")
    by_tag = by_tag_of(summary)
    assert by_tag == {"pci": (4, 2), "spare": (2, 0), "db": (1, 1), "kiosk": (1, 1)}
    assert [t["tag"] for t in summary["by_tag"]] == ["pci", "spare", "db", "kiosk"]  # most hosts, then name
    assert summary["tags_total"] == 4
    # host-d has no tag and is under none; host-a (pci and db) is under both
    assert sum(n for n, _ in by_tag.values()) == 8 > summary["hosts"] - 1 == 6

    # straight from the tables
    engine = make_engine(fleet.db_url)
    with engine.connect() as conn:
        hosts = dict(conn.execute(select(HostTag.tag, func.count()).group_by(HostTag.tag)).all())
        covered = dict(
            conn.execute(
                select(HostTag.tag, func.count(func.distinct(HostTag.host_id)))
                .join(Finding, Finding.host_id == HostTag.host_id)
                .where(Finding.verdict == "covered", Finding.present.is_(True))
                .group_by(HostTag.tag)
            ).all()
        )
    engine.dispose()
    assert {t: (n, covered.get(t, 0)) for t, n in hosts.items()} == by_tag
    # and from the host list the page links to
    for tag, (n, with_covered) in by_tag.items():
        assert fleet.get("/api/v1/hosts", tag=tag)["total"] == n
        assert fleet.get("/api/v1/hosts", tag=tag, verdict="covered")["total"] == with_covered

    make_admin(fleet.db_url)
    a = browser(fleet)
    login(a, "alice")
    html = a.get("/").text
    assert "Hosts with covered findings by tag" in html
    table = tag_table(html)
    for tag, (n, with_covered) in by_tag.items():
        assert data_cell(table, "tag", tag) == n
        assert data_cell(table, "tag-covered", tag) == with_covered
        assert f'<a href="/hosts?tag={tag}">{tag}</a>' in table
        assert f'href="/hosts?tag={tag}&amp;verdict=covered"' in html  # the chart's bar label
    assert re.findall(r'data-tag="([^"]+)"', table) == ["pci", "spare", "db", "kiosk"]
    assert "counts under each" in html and "without tags are not listed" in html
    assert 'id="by-tag-more"' not in html
    assert ids_in(a.get("/hosts", params={"tag": "spare"}).text) == [spare, idle]

    # changing a host's tags shows at once (the cached overview is dropped)
    r = fleet.client.patch(f"/api/v1/hosts/{ids['c']}", json={"tags": ["pci"]}, headers=fleet.as_admin())
    assert r.status_code == 200
    again = by_tag_of(fleet.get("/api/v1/summary"))
    assert again == {"pci": (5, 3), "spare": (2, 0), "db": (1, 1)}
    table = tag_table(a.get("/").text)
    assert data_cell(table, "tag", "pci") == 5 and data_cell(table, "tag-covered", "pci") == 3
    assert 'data-tag="kiosk"' not in table


def test_by_tag_without_tags_lists_none(fleet: Fleet, results: dict[str, Any]) -> None:
    _, token = enrolled(fleet, "plain", site="paris")
    assert fleet.report(token, at(results["dirty"], T1)).status_code == 201
    summary = fleet.get("/api/v1/summary")
    assert summary["by_tag"] == [] and summary["tags_total"] == 0 and summary["hosts_with_covered"] == 1
    make_admin(fleet.db_url)
    a = browser(fleet)
    login(a, "alice")
    table = tag_table(a.get("/").text)
    assert "No host has a tag yet." in table and "data-tag=" not in table


def test_by_tag_lists_the_most_common_tags_and_says_how_many_more(
    fleet: Fleet, results: dict[str, Any]
) -> None:
    # 25 tags: t10-t14 on three hosts, t05-t09 and t15-t19 on two, B0-B4 and a0-a4 on one
    # each; the last five places go to B0-B4 (ties by name: upper case sorts first)
    ones_in, ones_out = [f"B{i}" for i in range(5)], [f"a{i}" for i in range(5)]
    layout = {
        "cap-1": ([f"t{i:02d}" for i in range(5, 20)] + ones_in, "dirty"),
        "cap-2": ([f"t{i:02d}" for i in range(5, 20)] + ones_out, "clean"),
        "cap-3": ([f"t{i:02d}" for i in range(10, 15)], "clean"),
    }
    ids = {}
    for name, (tags, result) in layout.items():
        assert len(tags) <= MAX_TAGS
        ids[name], token = enrolled(fleet, name, tags=tags)
        assert fleet.report(token, at(results[result], T1)).status_code == 201
    listed = (
        [f"t{i:02d}" for i in range(10, 15)]
        + [f"t{i:02d}" for i in [*range(5, 10), *range(15, 20)]]
        + ones_in
    )
    assert len(listed) == SUMMARY_TAGS == 20

    summary = fleet.get("/api/v1/summary")
    assert [t["tag"] for t in summary["by_tag"]] == listed
    assert summary["tags_total"] == 25
    by_tag = by_tag_of(summary)
    assert by_tag["t10"] == (3, 1) and by_tag["t05"] == (2, 1) and by_tag["B0"] == (1, 1)
    assert not set(ones_out) & set(by_tag)

    make_admin(fleet.db_url)
    a = browser(fleet)
    login(a, "alice")
    html = a.get("/").text
    table = tag_table(html)
    assert re.findall(r'data-tag="([^"]+)"', table) == listed
    assert table.count("<tr>") == 1 + SUMMARY_TAGS  # the heading and the listed tags
    assert 'id="by-tag-more-count">5</span> more tags are not (' in html
    for tag in ones_out:
        assert f"tag={tag}" not in html
    assert "counts under each" in html

    # one tag beyond the list: the note says so in the singular
    tags = layout["cap-2"][0][:-4]  # without a1-a4
    r = fleet.client.patch(f"/api/v1/hosts/{ids['cap-2']}", json={"tags": tags}, headers=fleet.as_admin())
    assert r.status_code == 200
    summary = fleet.get("/api/v1/summary")
    assert [t["tag"] for t in summary["by_tag"]] == listed and summary["tags_total"] == 21
    html = a.get("/").text
    assert 'id="by-tag-more-count">1</span> more tag is not (' in html


def test_by_tag_escapes_the_tag_and_its_links_lead_to_its_hosts(
    fleet: Fleet, results: dict[str, Any]
) -> None:
    odd = 'a<b>&"c" #1+/?'
    host_id, token = enrolled(fleet, "odd", tags=[odd, "plain"])
    assert fleet.report(token, at(results["dirty"], T1)).status_code == 201
    enrolled(fleet, "other", tags=["plain"])
    assert by_tag_of(fleet.get("/api/v1/summary")) == {"plain": (2, 1), odd: (1, 1)}

    make_admin(fleet.db_url)
    a = browser(fleet)
    login(a, "alice")
    html = a.get("/").text
    assert odd not in html and "<b>" not in html
    escaped = "a&lt;b&gt;&amp;&#34;c&#34; #1+/?"
    table = tag_table(html)
    assert data_cell(table, "tag", escaped) == 1 and data_cell(table, "tag-covered", escaped) == 1
    assert f">{escaped}</a>" in table
    assert f"<title>{escaped}: 1</title>" in html  # the chart's bar

    # the table's link and the chart's link list exactly that host
    link = re.search(r'<a href="([^"]+)">' + re.escape(escaped) + "</a>", table)
    assert link and link.group(1) == "/hosts?tag=a%3Cb%3E%26%22c%22%20%231%2B/%3F"
    chart = re.search(r'<a href="(/hosts\?tag=a[^"]*)"><text', html)
    assert chart
    for href in (link.group(1), htmllib.unescape(chart.group(1))):
        assert ids_in(a.get(href).text) == [host_id], href
    assert "verdict=covered" in chart.group(1)


def test_by_tag_is_counted_from_the_tag_index(sqlite_url: str, results: dict[str, Any]) -> None:
    fleet = Fleet(sqlite_url)
    try:
        for i in range(3):
            _, token = enrolled(fleet, f"ix-{i}", tags=["pci", f"t{i}"])
            assert fleet.report(token, at(results["dirty" if i else "clean"], T1)).status_code == 201
        engine = fleet.app.state.banscan.db.engine
        seen: list[tuple[str, Any]] = []

        def record(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
            if "host_tags" in statement and "GROUP BY" in statement:
                seen.append((statement, params))

        event.listen(engine, "before_cursor_execute", record)
        try:
            assert by_tag_of(fleet.get("/api/v1/summary"))["pci"] == (3, 2)
        finally:
            event.remove(engine, "before_cursor_execute", record)
        assert len(seen) == 2  # the hosts per tag, then the covered ones among the listed tags
        with engine.connect() as conn:
            for statement, params in seen:
                plan = " | ".join(
                    row[3] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params)
                )
                assert "host_tags USING COVERING INDEX ix_host_tags_tag_host" in plan, plan
                assert "TEMP B-TREE" not in plan, plan  # grouped in the index's order
    finally:
        fleet.close()


# ---------------------------------------------------------------- imports


def test_imports_give_the_hosts_they_create_a_site(fleet: Fleet) -> None:
    admin = fleet.as_admin()
    known, _ = enrolled(fleet, "KIOSK-01", site="lab")
    r = fleet.client.post(
        "/api/v1/imports",
        files={"file": ("inventory.tsv", TSV.encode())},
        data={"site": " Warehouse 7 "},
        headers=admin,
    )
    assert r.status_code == 201, r.text
    hosts = {h["hostname"]: h["host_id"] for h in r.json()["hosts"]}
    assert hosts["KIOSK-01"] == known
    assert labels_in_db(fleet.db_url, known) == ("lab", [])  # a known host keeps its site
    assert labels_in_db(fleet.db_url, hosts["KIOSK-02"]) == ("Warehouse 7", [])
    assert api_ids(fleet, site="Warehouse 7") == [hosts["KIOSK-02"]]

    # without a site, new hosts have none
    other = TSV.replace("KIOSK-02", "KIOSK-03")
    r = fleet.client.post("/api/v1/imports", files={"file": ("i2.tsv", other.encode())}, headers=admin)
    assert r.status_code == 201
    new = next(h["host_id"] for h in r.json()["hosts"] if h["hostname"] == "KIOSK-03")
    assert labels_in_db(fleet.db_url, new) == ("", [])

    # an invalid site is refused before anything is stored
    for bad in [NO_SITE, "x" * 101, "a\u0007b"]:
        r = fleet.client.post(
            "/api/v1/imports",
            files={"file": ("i3.tsv", TSV.replace("KIOSK-02", "KIOSK-04").encode())},
            data={"site": bad},
            headers=admin,
        )
        assert r.status_code == 422, bad
    assert "KIOSK-04" not in {h["hostname"] for h in fleet.get("/api/v1/hosts")["items"]}


def test_import_form_takes_a_site(fleet: Fleet) -> None:
    make_admin(fleet.db_url)
    a = browser(fleet)
    csrf = login(a, "alice")
    assert 'name="site"' in a.get("/imports").text
    r = a.post(
        "/imports",
        data={"csrf_token": csrf, "site": "Depot"},
        files={"file": ("inventory.tsv", TSV.encode())},
    )
    assert r.status_code == 201, r.text
    created = re.findall(r'href="/hosts/(\d+)">KIOSK-0\d<', r.text)
    assert len(created) == 2
    assert all(labels_in_db(fleet.db_url, int(i))[0] == "Depot" for i in created)
    r = a.post(
        "/imports",
        data={"csrf_token": csrf, "site": NO_SITE},
        files={"file": ("inventory.tsv", TSV.replace("KIOSK", "TILL").encode())},
    )
    assert r.status_code == 422 and 'id="import-error"' in r.text
    assert ids_in(a.get("/hosts", params={"q": "TILL"}).text) == []


# ---------------------------------------------------------------- the agent


def test_agent_config_site_and_tags_reach_the_server(fleet: Fleet, tmp_path: Path) -> None:
    root = build_linux_root(tmp_path / "root")
    cfg = AgentConfig(
        server="https://testserver",
        enroll_secret=ENROLL_SECRET,
        state_dir=tmp_path / "s",
        once=True,
        root=root,
        site="Hamburg",
        tags=["pos", "kiosk"],
    )
    assert run_agent(cfg, client=fleet.client) == 0
    state = AgentState.load(tmp_path / "s")
    assert state.host_id is not None
    assert labels_in_db(fleet.db_url, state.host_id) == ("Hamburg", ["kiosk", "pos"])
    # without them the agent sends neither: what an admin set stays
    r = fleet.client.patch(
        f"/api/v1/hosts/{state.host_id}", json={"site": "Bremen"}, headers=fleet.as_admin()
    )
    assert r.status_code == 200
    plain_dir = tmp_path / "s2"  # the same machine, enrolling again without --site/--tag
    AgentState(host_identifier=state.host_identifier).save(plain_dir)
    plain = AgentConfig(
        server="https://testserver", enroll_secret=ENROLL_SECRET, state_dir=plain_dir, once=True, root=root
    )
    # without the host's token its enrolment waits for an admin, who approves it
    assert run_agent(plain, client=fleet.client) == 3
    held = AgentState.load(plain_dir).enrolment_id
    r = fleet.client.post(f"/api/v1/enrolments/{held}/approve", headers=fleet.as_admin())
    assert r.status_code == 200, r.text
    assert run_agent(plain, client=fleet.client) == 0
    assert AgentState.load(plain_dir).host_id == state.host_id
    assert labels_in_db(fleet.db_url, state.host_id) == ("Bremen", ["kiosk", "pos"])


def test_agent_command_with_site_and_tags_against_a_server_process(
    sqlite_url: str, server_process: Callable[[str], ServerProcess], tmp_path: Path
) -> None:
    server = server_process(sqlite_url)
    url = server.start()
    root = build_linux_root(tmp_path / "root")
    state_dir = tmp_path / "agent-state"
    code = agent_command(
        url,
        ENROLL_SECRET,
        once=True,
        state_dir=state_dir,
        root=root,
        log_level="warning",
        site="Oslo",
        tags=["branch", "pos"],
    )
    assert code == 0
    state = AgentState.load(state_dir)
    headers = {"Authorization": f"Bearer {create_api_token(sqlite_url, 'sites-test', 'viewer')}"}
    host = httpx.get(f"{url}/api/v1/hosts/{state.host_id}", headers=headers, timeout=10).json()
    assert host["site"] == "Oslo" and host["tags"] == ["branch", "pos"]
    listed = httpx.get(f"{url}/api/v1/hosts", params={"tag": "pos"}, headers=headers, timeout=10).json()
    assert [h["id"] for h in listed["items"]] == [state.host_id]

    # `banscan agent --site --tag` (the command line) enrols another host with them
    other_state = tmp_path / "cli-state"
    AgentState(host_identifier="cli-host").save(other_state)
    result = CliRunner().invoke(
        cli_app,
        [
            "agent",
            "--server",
            url,
            "--enroll-secret",
            ENROLL_SECRET,
            "--once",
            "--state-dir",
            str(other_state),
            "--root",
            str(root),
            "--site",
            "Bergen",
            "--tag",
            "lab",
            "--tag",
            "edge",
            "--host-identifier",
            "cli-host",
        ],
    )
    assert result.exit_code == 0, result.output
    cli_host = AgentState.load(other_state).host_id
    host = httpx.get(f"{url}/api/v1/hosts/{cli_host}", headers=headers, timeout=10).json()
    assert host["identifier"] == "cli-host" and host["site"] == "Bergen" and host["tags"] == ["edge", "lab"]

    # a site the server would refuse stops the agent before it contacts the server
    bad_state = tmp_path / "bad-state"
    code = agent_command(url, ENROLL_SECRET, once=True, state_dir=bad_state, root=root, tags=["a,b"])
    assert code == 2 and not (bad_state / "agent.json").exists()
    assert httpx.get(f"{url}/api/v1/hosts", headers=headers, timeout=10).json()["total"] == 2


# ---------------------------------------------------------------- migration


def test_migration_gives_existing_hosts_no_site(sqlite_url: str) -> None:
    upgrade_db(sqlite_url, "0001")
    engine = make_engine(sqlite_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO hosts (id, identifier, hostname, platform, source, created_at) "
                    "VALUES (1, 'old', 'old-01', 'linux', 'agent', '2025-01-01 00:00:00')"
                )
            )
        upgrade_db(sqlite_url)
        with engine.begin() as conn:
            assert conn.execute(select(Host.site).where(Host.id == 1)).scalar_one() == ""
            conn.execute(insert(HostTag), [{"host_id": 1, "tag": "a"}])
            conn.execute(text("DELETE FROM hosts WHERE id = 1"))
            assert conn.execute(select(func.count()).select_from(HostTag)).scalar_one() == 0  # cascade
    finally:
        engine.dispose()


def test_the_tag_filter_suggests_the_most_used_tags_and_takes_any(
    fleet: Fleet, results: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from banscan.store import sites

    monkeypatch.setattr(sites, "TAG_CHOICES", 2)
    ids = {}
    for name, tags in {"s-1": ["pci", "db", "rare"], "s-2": ["pci", "db"], "s-3": ["pci"]}.items():
        ids[name], token = enrolled(fleet, name, tags=tags)
        assert fleet.report(token, at(results["clean"], T1)).status_code == 201
    make_admin(fleet.db_url)
    a = browser(fleet)
    login(a, "alice")
    page = a.get("/hosts").text
    offered = re.findall(
        r'<option value="([^"]*)">', page[page.index('id="tag-choices"') :].split("</datalist>")[0]
    )
    assert offered == ["db", "pci"]  # the two most used, by name
    assert ids_in(a.get("/hosts", params={"tag": "rare"}).text) == [ids["s-1"]]  # typed, not offered
    assert 'name="tag" list="tag-choices" value="rare"' in a.get("/hosts", params={"tag": "rare"}).text
