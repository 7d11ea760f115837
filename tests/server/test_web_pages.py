"""The dashboard on SQLite and PostgreSQL: who may see and change what (login, roles, CSRF),
that the pages show what the store holds, and that the CSV/JSON exports match the lists."""

from __future__ import annotations

import copy
import csv
import datetime as dt
import io
import re
import warnings
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy import func, select

from banscan.removal import HISTORY_COLUMNS
from banscan.server.pages import exports
from banscan.store.db import make_engine
from banscan.store.models import Finding, Host, Transition, TransitionEvent

from .conftest import ADMIN_PASSWORD, Fleet, at, make_admin

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

T1 = "2025-03-01T10:00:00+00:00"
T2 = "2025-03-02T10:00:00+00:00"
PAGES = ["/", "/hosts", "/hosts/1", "/products/kesl", "/transitions", "/exceptions", "/imports"]
EXPORTS = [
    "/hosts.csv",
    "/hosts.json",
    "/transitions.csv",
    "/transitions.json",
    "/transitions/history.csv",
    "/transitions/history.json",
    "/exceptions.csv",
    "/exceptions.json",
]


# ---------------------------------------------------------------- helpers


def browser(fleet: Fleet) -> TestClient:
    """A second client on the same app, with its own cookie jar."""
    return TestClient(fleet.app, base_url="https://testserver")


def login(client: TestClient, username: str, password: str = ADMIN_PASSWORD, next: str = "/") -> str:
    """Log in through the HTML form; return the session's CSRF token (from the page)."""
    page = client.get("/login", params={"next": next})
    assert page.status_code == 200
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    r = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token.group(1), "next": next},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    assert r.headers["location"] == next
    return csrf_of(client.get("/").text)


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF token on the page"
    return m.group(1)


def populate(fleet: Fleet, results: dict[str, Any], n: int = 5) -> list[int]:
    """n hosts; every third (0, 3, …) reports the dirty Linux root, the rest are clean;
    even hosts are Linux, odd ones Windows."""
    ids = []
    for i in range(n):
        host_id, token = fleet.enroll(f"id-{i}", f"web-{i:02d}", "linux" if i % 2 == 0 else "windows")
        result = results["dirty"] if i % 3 == 0 else results["clean"]
        assert fleet.report(token, at(result, T1)).status_code == 201
        ids.append(host_id)
    return ids


def ids_in(html: str) -> list[int]:
    return [int(x) for x in re.findall(r'data-host-id="(\d+)"', html)]


def number(html: str, element_id: str) -> int:
    m = re.search(rf'id="{element_id}">(\d+)<', html)
    assert m, element_id
    return int(m.group(1))


def data_cell(html: str, attr: str, key: str) -> int:
    m = re.search(rf'data-{attr}="{re.escape(key)}">(\d+)<', html)
    assert m, (attr, key)
    return int(m.group(1))


def read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


# ---------------------------------------------------------------- access


def test_anonymous_requests_go_to_login_or_get_401(fleet: Fleet) -> None:
    c = fleet.client
    for path in PAGES:
        r = c.get(path, follow_redirects=False)
        assert r.status_code == 303, path
        target = urlparse(r.headers["location"])
        assert target.path == "/login" and parse_qs(target.query)["next"] == [path]
    r = c.get("/hosts?verdict=covered&q=web", follow_redirects=False)
    assert parse_qs(urlparse(r.headers["location"]).query)["next"] == ["/hosts?verdict=covered&q=web"]
    for path in EXPORTS:
        r = c.get(path, follow_redirects=False)
        assert r.status_code == 401, path
    for path, data in [("/hosts/1/transition", {"product": "kesl", "state": "removed"}), ("/imports", {})]:
        r = c.post(path, data=data, follow_redirects=False)
        assert r.status_code == 401, path
    # the public pages
    for path in ["/explainer", "/login", "/static/dashboard.css"]:
        assert c.get(path).status_code == 200, path
    assert c.get("/static/../app.py").status_code == 404
    assert c.get("/static/nothing.css").status_code == 404


def test_security_headers_on_every_dashboard_response(fleet: Fleet) -> None:
    make_admin(fleet.db_url)
    b = browser(fleet)
    for path in ["/explainer", "/login", "/static/dashboard.css", "/hosts"]:
        r = b.get(path, follow_redirects=False)
        csp = r.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "http" not in csp and "unsafe-inline" not in csp
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["x-content-type-options"] == "nosniff"
    login(b, "alice")
    r = b.get("/hosts")
    assert r.headers["x-frame-options"] == "DENY" and r.headers["cache-control"] == "no-store"
    assert "text/html" in r.headers["content-type"] and "charset=utf-8" in r.headers["content-type"]


def test_login_form_needs_its_csrf_token_and_logout_needs_the_session_token(fleet: Fleet) -> None:
    make_admin(fleet.db_url)
    b = browser(fleet)
    b.get("/login")
    r = b.post("/login", data={"username": "alice", "password": ADMIN_PASSWORD}, follow_redirects=False)
    assert r.status_code == 403
    r = b.post(
        "/login",
        data={"username": "alice", "password": ADMIN_PASSWORD, "csrf_token": "forged"},
        follow_redirects=False,
    )
    assert r.status_code == 403
    token = login(b, "alice", next="/hosts")
    assert b.get("/hosts").status_code == 200
    # an already logged-in user is sent on from the login page
    assert b.get("/login", params={"next": "/transitions"}, follow_redirects=False).headers["location"] == (
        "/transitions"
    )
    assert b.post("/logout", follow_redirects=False).status_code == 403
    assert b.post("/logout", data={"csrf_token": "wrong"}, follow_redirects=False).status_code == 403
    r = b.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert b.get("/hosts", follow_redirects=False).status_code == 303


def test_open_redirects_are_refused(fleet: Fleet) -> None:
    make_admin(fleet.db_url)
    b = browser(fleet)
    page = b.get("/login", params={"next": "https://evil.example/"})
    assert 'name="next" value="/"' in page.text
    page = b.get("/login", params={"next": "//evil.example/"})
    assert 'name="next" value="/"' in page.text


def test_viewer_reads_everything_but_changes_nothing(fleet: Fleet, results: dict[str, Any]) -> None:
    ids = populate(fleet, results, 2)
    from banscan.store.accounts import create_user

    create_user(fleet.db_url, "victor", ADMIN_PASSWORD, "viewer")
    v = browser(fleet)
    token = login(v, "victor")
    for path in [
        "/",
        "/hosts",
        f"/hosts/{ids[0]}",
        "/products/kesl",
        "/transitions",
        "/exceptions",
        *EXPORTS,
    ]:
        assert v.get(path).status_code == 200, path
    page = v.get(f"/hosts/{ids[0]}").text
    assert "transition-form" not in page and 'href="/imports"' not in page
    assert v.get("/imports").status_code == 403
    r = v.post(
        f"/hosts/{ids[0]}/transition",
        data={"product": "kesl", "state": "removed", "note": "", "csrf_token": token},
        follow_redirects=False,
    )
    assert r.status_code == 403 and "admin" in r.text
    r = v.post("/imports", data={"csrf_token": token}, files={"file": ("x.tsv", b"a\tb\n")})
    assert r.status_code == 403
    with make_engine(fleet.db_url).connect() as conn:
        assert (
            conn.execute(select(Transition.state).where(Transition.product == "kesl")).scalar_one() == "found"
        )


def test_transition_form_needs_admin_csrf_and_a_manual_state(fleet: Fleet, results: dict[str, Any]) -> None:
    ids = populate(fleet, results, 1)
    host = ids[0]
    make_admin(fleet.db_url)
    a = browser(fleet)
    token = login(a, "alice")
    form = {"product": "kesl", "state": "replacement-installed", "note": "Defender for Endpoint installed"}
    assert a.post(f"/hosts/{host}/transition", data=form, follow_redirects=False).status_code == 403
    r = a.post(f"/hosts/{host}/transition", data={**form, "csrf_token": "nope"}, follow_redirects=False)
    assert r.status_code == 403
    r = a.post(f"/hosts/{host}/transition", data={**form, "csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith(f"/hosts/{host}")
    page = a.get(f"/hosts/{host}").text
    assert "Defender for Endpoint installed" in page and "replacement-installed" in page
    for bad in ["verified", "gone", ""]:
        r = a.post(
            f"/hosts/{host}/transition",
            data={**form, "state": bad, "csrf_token": token},
            follow_redirects=False,
        )
        assert r.status_code in (400, 422), bad
    r = a.post(
        f"/hosts/{host}/transition",
        data={**form, "product": "not-there", "csrf_token": token},
        follow_redirects=False,
    )
    assert r.status_code == 404
    r = a.post("/hosts/999999/transition", data={**form, "csrf_token": token}, follow_redirects=False)
    assert r.status_code == 404


def test_transition_flow_up_to_verified_by_a_clean_scan(fleet: Fleet, results: dict[str, Any]) -> None:
    host, agent = fleet.enroll("flow", "flow-01", "linux")
    assert fleet.report(agent, at(results["dirty"], T1)).status_code == 201
    make_admin(fleet.db_url)
    a = browser(fleet)
    token = login(a, "alice")
    for state, note in [("replacement-installed", "new AV in place"), ("removed", "uninstalled <kesl> & co")]:
        r = a.post(
            f"/hosts/{host}/transition",
            data={"product": "kesl", "state": state, "note": note, "csrf_token": token},
            follow_redirects=False,
        )
        assert r.status_code == 303
    page = a.get(f"/hosts/{host}").text
    assert "uninstalled &lt;kesl&gt; &amp; co" in page and "<kesl>" not in page
    later = at(results["clean"], dt.datetime.now(dt.UTC).isoformat())  # after the removal record
    assert fleet.report(agent, later).status_code == 201
    page = a.get(f"/hosts/{host}").text
    section = page[page.index('id="p-kesl"') :]
    section = section[: section.index("</section>")]
    assert re.search(r'class="state verified" data-state>verified<', section)
    assert "alice" in section and "not seen by the clean re-scan" in section
    board = a.get("/transitions", params={"state": "verified"}).text
    assert "flow-01" in board


# ---------------------------------------------------------------- what the pages show


def test_overview_numbers_match_the_store(fleet: Fleet, results: dict[str, Any]) -> None:
    ids = populate(fleet, results, 7)  # dirty: 0, 3, 6 (linux, windows, linux)
    fleet.enroll("never-reported", "idle-01", "macos")
    make_admin(fleet.db_url)
    a = browser(fleet)
    login(a, "alice")
    html = a.get("/").text
    api = fleet.get("/api/v1/summary")
    assert number(html, "stat-hosts") == api["hosts"] == 8
    assert number(html, "stat-scanned") == api["hosts_scanned"] == 7
    assert number(html, "stat-covered") == api["hosts_with_covered"] == 3
    assert number(html, "stat-with-findings") == api["hosts_with_findings"]
    for verdict, n in api["findings_by_verdict"].items():
        assert data_cell(html, "verdict", verdict) == n
    for p in api["by_product"]:
        assert data_cell(html, "product", p["product"]) == p["hosts"]
    for o in api["by_os"]:
        assert data_cell(html, "os", o["os"]) == o["hosts"]
    for state, n in api["transitions"]["by_state"].items():
        assert data_cell(html, "state", state) == n
    for status, n in api["obligations"]["by_status"].items():
        assert data_cell(html, "status", status) == n
    assert number(html, "stat-overdue-hosts") == api["overdue"]["hosts"]
    # straight from the tables
    engine = make_engine(fleet.db_url)
    with engine.connect() as conn:
        covered = conn.execute(
            select(func.count(func.distinct(Finding.host_id))).where(
                Finding.verdict == "covered", Finding.present.is_(True)
            )
        ).scalar_one()
        hosts = conn.execute(select(func.count()).select_from(Host)).scalar_one()
    engine.dispose()
    assert (covered, hosts) == (3, 8)
    assert number(html, "trend-last") == 3
    assert "<svg" in html and "Hosts with covered findings over time" in html
    # a role with deadlines: the FAR 3-business-day report is long overdue for March 2025 findings
    html = a.get("/", params={"role": "federal-contractor"}).text
    api = fleet.get("/api/v1/summary", role="federal-contractor")
    assert api["overdue"]["hosts"] == 3
    assert number(html, "stat-overdue-hosts") == 3
    assert number(html, "stat-overdue-findings") == api["overdue"]["findings"]
    for status, n in api["obligations"]["by_status"].items():
        assert data_cell(html, "status", status) == n
    assert a.get("/", params={"role": "pirate"}).status_code == 400
    assert ids


def test_trend_counts_hosts_over_time(fleet: Fleet, results: dict[str, Any]) -> None:
    _, a_tok = fleet.enroll("t-a", "trend-a", "linux")
    _, b_tok = fleet.enroll("t-b", "trend-b", "linux")
    assert fleet.report(a_tok, at(results["dirty"], T1)).status_code == 201
    assert fleet.report(b_tok, at(results["dirty"], T2)).status_code == 201
    assert fleet.report(b_tok, at(results["clean"], "2025-03-05T10:00:00+00:00")).status_code == 201
    from banscan.store.scope import build_scope
    from banscan.store.summary import trend

    with fleet.app.state.banscan.db.reading() as s:
        import datetime as dt

        orgs = build_scope(s, 1)  # the default organisation, that of every enrolled host
        points = {p["date"]: p["hosts_with_covered"] for p in trend(s, dt.date(2025, 3, 10), orgs=orgs)}
    assert points["2025-03-01"] == 1 and points["2025-03-02"] == 2 and points["2025-03-04"] == 2
    assert points["2025-03-05"] == 1 and points["2025-03-10"] == 1


def test_hosts_filters_search_pagination_and_exports(fleet: Fleet, results: dict[str, Any]) -> None:
    ids = populate(fleet, results, 7)
    make_admin(fleet.db_url)
    a = browser(fleet)
    token = login(a, "alice")
    dirty = [ids[0], ids[3], ids[6]]
    assert ids_in(a.get("/hosts").text) == ids
    assert ids_in(a.get("/hosts", params={"verdict": "covered"}).text) == dirty
    assert ids_in(a.get("/hosts", params={"product": "kesl", "os": "windows"}).text) == [ids[3]]
    assert ids_in(a.get("/hosts", params={"q": "EB-03"}).text) == [ids[3]]
    assert ids_in(a.get("/hosts", params={"q": "%"}).text) == []
    assert ids_in(a.get("/hosts", params={"state": "found"}).text) == dirty
    a.post(
        f"/hosts/{ids[3]}/transition",
        data={"product": "kesl", "state": "removed", "note": "", "csrf_token": token},
    )
    assert ids_in(a.get("/hosts", params={"state": "removed"}).text) == [ids[3]]
    assert ids_in(a.get("/hosts", params={"overdue": "1"}).text) == []  # role "user" has no deadlines
    # empty form fields are ignored; unknown values are refused
    assert ids_in(a.get("/hosts?verdict=&product=&os=&state=&q=").text) == ids
    assert a.get("/hosts", params={"verdict": "bogus"}).status_code == 400
    assert a.get("/hosts", params={"limit": 0}).status_code == 400
    # pagination
    page = a.get("/hosts", params={"limit": 2, "offset": 2}).text
    assert ids_in(page) == ids[2:4] and "data-total>7<" in page
    nxt = re.search(r'rel="next" href="([^"]+)"', page)
    assert nxt and "offset=4" in nxt.group(1) and "limit=2" in nxt.group(1)
    assert ids_in(a.get(nxt.group(1).replace("&amp;", "&")).text) == ids[4:6]
    assert len(ids_in(a.get("/hosts", params={"limit": 100_000}).text)) == 7  # capped, still all
    # exports of the filtered list
    filters = {"verdict": "covered", "os": "linux"}
    listed = ids_in(a.get("/hosts", params=filters).text)
    r = a.get("/hosts.csv", params=filters)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = read_csv(r.text)
    assert [int(row["id"]) for row in rows] == listed == [ids[0], ids[6]]
    assert rows[0]["hostname"] == "web-00" and rows[0]["platform"] == "linux"
    assert int(rows[0]["covered"]) == 3 and rows[0]["worst_verdict"] == "covered" and rows[0]["found"] == "3"
    data = a.get("/hosts.json", params=filters).json()
    assert [h["id"] for h in data["items"]] == listed and data["count"] == 2
    assert data["filters"]["verdict"] == "covered"
    everything = read_csv(a.get("/hosts.csv").text)
    assert [int(row["id"]) for row in everything] == ids
    # export links on the page carry the filters
    page = a.get("/hosts", params=filters).text
    assert 'href="/hosts.csv?verdict=covered&amp;os=linux"' in page


def test_csv_cells_do_not_become_formulas_and_html_is_escaped(fleet: Fleet, results: dict[str, Any]) -> None:
    _, token = fleet.enroll("evil", '=HYPERLINK("x")<script>alert(1)</script>', "linux")
    assert fleet.report(token, at(results["dirty"], T1)).status_code == 201
    make_admin(fleet.db_url)
    a = browser(fleet)
    login(a, "alice")
    rows = read_csv(a.get("/hosts.csv").text)
    assert rows[0]["hostname"].startswith("'=HYPERLINK")
    page = a.get("/hosts").text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    host_page = a.get(f"/hosts/{rows[0]['id']}").text
    assert "<script>" not in host_page


def test_host_page_shows_evidence_obligations_and_history(fleet: Fleet, results: dict[str, Any]) -> None:
    ids = populate(fleet, results, 1)
    make_admin(fleet.db_url)
    a = browser(fleet)
    login(a, "alice")
    page = a.get(f"/hosts/{ids[0]}").text
    assert "web-00" in page and "Kaspersky Endpoint Security for Linux" in page
    assert "/var/lib/dpkg/status" in page and "exact:kesl" in page  # evidence
    assert "bis-icts-2024-kaspersky" in page and "2024-09-29" in page  # obligations
    assert "first seen in report" in page  # history
    assert 'class="stack transition-form"' in page
    assert a.get("/hosts/999999").status_code == 404
    assert a.get("/hosts/0").status_code == 404
    assert a.get("/hosts/abc").status_code == 400


def test_product_page(fleet: Fleet, results: dict[str, Any]) -> None:
    ids = populate(fleet, results, 4)
    make_admin(fleet.db_url)
    a = browser(fleet)
    login(a, "alice")
    page = a.get("/products/kesl").text
    assert "Kaspersky Endpoint Security for Linux" in page and 'id="catalog-info"' in page
    assert "Kaspersky Lab" in page and "Endpoint protection" in page and ">covered<" in page
    assert data_cell(page, "verdict", "covered") == 2
    assert f'href="/hosts/{ids[0]}#p-kesl"' in page and f'href="/hosts/{ids[3]}#p-kesl"' in page
    assert 'href="/hosts.csv?product=kesl"' in page
    # the chart of verdicts draws each bar in its verdict's colour, nothing else in one
    assert 'class="bar-fill verdict-covered"' in page and "series-" not in page
    assert "https://" in page  # sources are linked
    assert a.get("/products/no-such-product").status_code == 404
    assert a.get("/products/kaspersky-cybertrace").status_code == 200  # in the catalog, on no host


def test_transitions_board_and_exports(fleet: Fleet, results: dict[str, Any]) -> None:
    ids = populate(fleet, results, 4)
    make_admin(fleet.db_url)
    a = browser(fleet)
    token = login(a, "alice")
    a.post(
        f"/hosts/{ids[0]}/transition",
        data={"product": "kesl", "state": "replacement-installed", "note": "", "csrf_token": token},
    )
    page = a.get("/transitions").text
    for state in ["found", "replacement-installed", "removed", "verified"]:
        assert f'data-state="{state}"' in page
    rows = read_csv(a.get("/transitions.csv").text)
    with make_engine(fleet.db_url).connect() as conn:
        stored = conn.execute(select(func.count()).select_from(Transition)).scalar_one()
    assert len(rows) == stored == 6  # 3 products on each of the 2 dirty hosts
    moved = [r for r in rows if r["state"] == "replacement-installed"]
    assert [(int(r["host_id"]), r["product"], r["updated_by"]) for r in moved] == [(ids[0], "kesl", "alice")]
    assert read_csv(a.get("/transitions.csv", params={"state": "found"}).text).__len__() == 5
    data = a.get("/transitions.json", params={"product": "kesl"}).json()
    assert data["count"] == 2 and {i["host_id"] for i in data["items"]} == {ids[0], ids[3]}
    # overdue flags for a role with deadlines come from the same rules as the overview
    assert all(r["overdue"] == "false" for r in rows)


def test_transitions_history_exports_every_step_by_host_product_and_time(
    fleet: Fleet, results: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = populate(fleet, results, 4)  # ids[0] and ids[3] report the dirty root: 3 products each
    make_admin(fleet.db_url)
    a = browser(fleet)
    token = login(a, "alice")
    for state, note in [("replacement-installed", '=HYPERLINK("x")'), ("removed", "uninstalled, kesl")]:
        r = a.post(
            f"/hosts/{ids[0]}/transition",
            data={"product": "kesl", "state": state, "note": note, "csrf_token": token},
            follow_redirects=False,
        )
        assert r.status_code == 303
    # enrolling again with its token hands out a fresh one: the same agent, whose scans verify
    agent = fleet.enroll("id-0", "web-00", "linux", token=fleet.tokens["id-0"])[1]
    assert fleet.report(agent, at(results["clean"], dt.datetime.now(dt.UTC).isoformat())).status_code == 201

    r = a.get("/transitions/history.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "transitions-history.csv" in r.headers["content-disposition"]
    header = next(csv.reader(io.StringIO(r.text)))
    assert header == list(HISTORY_COLUMNS)
    rows = read_csv(r.text)
    with make_engine(fleet.db_url).connect() as conn:
        events = conn.execute(select(func.count()).select_from(TransitionEvent)).scalar_one()
    assert len(rows) == events == 6 + 2 + 1 + 2  # first sightings, alice's two, the verification, 2 flags

    # ordered by host, then product, then time; each item's steps together
    keys = [(int(x["host_id"]), x["product"]) for x in rows]
    assert [k[0] for k in keys] == sorted(k[0] for k in keys)
    order = list(dict.fromkeys(keys))
    assert [k for k in keys] == [k for k in order for _ in range(keys.count(k))]
    for k in order:
        times = [x["at"] for x in rows if (int(x["host_id"]), x["product"]) == k]
        assert times == sorted(times), k
    kesl = [x for x in rows if (int(x["host_id"]), x["product"]) == (ids[0], "kesl")]
    assert [(x["from_state"], x["to_state"], x["actor"]) for x in kesl] == [
        ("", "found", "system"),
        ("found", "replacement-installed", "alice"),
        ("replacement-installed", "removed", "alice"),
        ("removed", "verified", "system"),
    ]
    assert kesl[0]["report_id"] and kesl[3]["report_id"] and not kesl[1]["report_id"]
    assert int(kesl[3]["report_id"]) > int(kesl[0]["report_id"])
    assert kesl[1]["hostname"] == "web-00" and kesl[2]["note"] == "uninstalled, kesl"
    assert kesl[1]["note"] == '\'=HYPERLINK("x")'  # a formula is not run by a spreadsheet
    flagged = [x for x in rows if x["flag"]]
    assert {x["flag"] for x in flagged} == {"gone-without-removal-record"}
    assert {int(x["host_id"]) for x in flagged} == {ids[0]} and len(flagged) == 2

    # a page of items at a time gives the same rows in the same order
    monkeypatch.setattr(exports, "EXPORT_BATCH", 3)
    assert read_csv(a.get("/transitions/history.csv").text) == rows

    # the board's filters select items (by where they stand now); each comes with all its steps
    verified = read_csv(a.get("/transitions/history.csv", params={"state": "verified"}).text)
    assert verified == kesl
    by_product = read_csv(a.get("/transitions/history.csv", params={"product": "kesl"}).text)
    assert {int(x["host_id"]) for x in by_product} == {ids[0], ids[3]}
    assert len(by_product) == 4 + 1 and {x["product"] for x in by_product} == {"kesl"}
    gone = read_csv(a.get("/transitions/history.csv", params={"flagged": "1"}).text)
    assert len({x["product"] for x in gone}) == 2 and len(gone) == 2 * 2
    assert read_csv(a.get("/transitions/history.csv", params={"overdue": "1"}).text) == []

    data = a.get("/transitions/history.json", params={"product": "kesl"}).json()
    assert data["filters"] == {"product": "kesl"} and data["count"] == len(data["items"]) == 5
    assert all(list(i) == list(HISTORY_COLUMNS) for i in data["items"])
    first = data["items"][[i["host_id"] for i in data["items"]].index(ids[0])]
    assert (
        first["from_state"] is None and first["to_state"] == "found" and isinstance(first["report_id"], int)
    )
    assert [(i["host_id"], i["to_state"]) for i in data["items"]] == [
        (int(x["host_id"]), x["to_state"]) for x in by_product
    ]
    assert a.get("/transitions/history.csv", params={"state": "gone"}).status_code in (400, 422)

    page = a.get("/transitions", params={"state": "found"}).text
    assert 'href="/transitions/history.csv?state=found"' in page
    assert 'href="/transitions/history.json?state=found"' in page


def test_exceptions_list_what_scans_reported(fleet: Fleet, results: dict[str, Any]) -> None:
    accepted = copy.deepcopy(results["dirty"])
    for f in accepted["findings"]:
        if f["product"] == "kesl":
            f["verdict"] = "accepted"
            f["exception"] = {
                "reason": "lab machine, isolated",
                "approver": "ciso@example.org",
                "expires": "2099-12-31",
                "original_verdict": "covered",
                "ticket": "SEC-42",
            }
    host, token = fleet.enroll("lab", "lab-01", "linux")
    assert fleet.report(token, at(accepted, T1)).status_code == 201
    populate(fleet, results, 1)
    make_admin(fleet.db_url)
    a = browser(fleet)
    login(a, "alice")
    page = a.get("/exceptions").text
    assert "lab-01" in page and "ciso@example.org" in page and "2099-12-31" in page and "SEC-42" in page
    assert "web-00" not in page
    rows = read_csv(a.get("/exceptions.csv").text)
    assert len(rows) == 1
    assert rows[0]["approver"] == "ciso@example.org" and rows[0]["original_verdict"] == "covered"
    assert rows[0]["expired"] == "false" and int(rows[0]["host_id"]) == host
    assert a.get("/exceptions.json").json()["items"][0]["reason"] == "lab machine, isolated"


TSV = (
    "Computer\tApp\tVendor\tVer\tSeen\n"
    "KIOSK-01\tKaspersky Security Center Network Agent\tAO Kaspersky Lab\t14.2.0.26967\t2024-12-30\n"
    "KIOSK-02\tMozilla Firefox\tMozilla\t133.0.3\t2024-12-29\n"
)


def test_import_form_uses_the_api_ingestion(fleet: Fleet) -> None:
    make_admin(fleet.db_url)
    a = browser(fleet)
    token = login(a, "alice")
    page = a.get("/imports").text
    assert 'enctype="multipart/form-data"' in page
    r = a.post("/imports", data={"csrf_token": token}, files={"file": ("inventory.tsv", TSV.encode())})
    assert r.status_code == 201, r.text
    assert "KIOSK-01" in r.text and "KIOSK-02" in r.text
    assert ids_in(a.get("/hosts", params={"product": "ksc-network-agent"}).text).__len__() == 1
    r = a.post("/imports", files={"file": ("inventory.tsv", TSV.encode())})
    assert r.status_code == 403
    r = a.post("/imports", data={"csrf_token": token}, files={"file": ("junk.bin", b"\x00\x01 nothing")})
    assert r.status_code == 422 and 'id="import-error"' in r.text


@pytest.mark.parametrize(
    "path", ["/hosts.csv", "/transitions.csv", "/transitions/history.csv", "/exceptions.csv"]
)
def test_empty_exports_still_have_a_header(fleet: Fleet, path: str) -> None:
    make_admin(fleet.db_url)
    a = browser(fleet)
    login(a, "alice")
    r = a.get(path)
    assert r.status_code == 200
    rows = list(csv.reader(io.StringIO(r.text.lstrip("\ufeff"))))
    assert len(rows) == 1 and rows[0][0] in ("id", "host_id")
