"""The coordinator's board on SQLite and PostgreSQL: one row per member organisation, its
figures, the status filter and the sorting, the exports and the API; and what it never shows —
a member's host names unless that member shares its hosts, anything of another coordinator's
members.

The tree: the coordinator C (a state CIO office) with members M1 (Lakeside hospital, shares its
hosts) and M2 (Bayview clinic, aggregates only); M1 has a member of its own, SUB (Annex ward).
The sibling coordinator S (another top organisation) has one member, S1. C sent two notices:
M1 acknowledged the latest, M2 only the older one; SUB got none. M1 attested twice.
"""

from __future__ import annotations

import csv
import datetime as dt
import importlib.util
import io
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from banscan.store.accounts import add_api_token
from banscan.store.models import Attestation, Finding, Host, Notice, NoticeRecipient, Organisation, Transition

from .conftest import Fleet

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
TODAY = NOW.date()
OLD = dt.date(2024, 10, 1)  # first identified long ago: overdue for a federal contractor
RECENT = TODAY - dt.timedelta(days=2)  # still due
CONTRACTOR = "federal-contractor"
SECRET_HOSTS = ("m2-secret-host-01", "m2-secret-host-02")  # M2 shares aggregates only


@dataclass
class Estate:
    fleet: Fleet
    ids: dict[str, int]
    tokens: dict[str, str] = field(default_factory=dict)

    def get(self, key: str, path: str, **params: Any) -> httpx.Response:
        r: httpx.Response = self.fleet.client.get(
            path, params=params, headers={"Authorization": f"Bearer {self.tokens[key]}"}
        )
        return r

    def board(self, key: str = "c", **params: Any) -> list[dict[str, Any]]:
        r = self.get(key, "/api/v1/coordinator/members", **params)
        assert r.status_code == 200, r.text
        items: list[dict[str, Any]] = r.json()["items"]
        return items


def _host(s: Any, org: int, name: str, seen_days_ago: int | None) -> Host:
    seen = NOW - dt.timedelta(days=seen_days_ago) if seen_days_ago is not None else None
    h = Host(
        org_id=org,
        identifier=f"id-{name}",
        hostname=name,
        platform="linux",
        last_seen_at=seen,
        last_generated_at=seen,
    )
    s.add(h)
    s.flush()
    return h


def _finding(s: Any, host: Host, product: str, verdict: str, first: dt.date, *, present: bool = True) -> None:
    seen = dt.datetime.combine(first, dt.time(9), tzinfo=dt.UTC)
    s.add(
        Finding(
            host_id=host.id,
            product=product,
            product_name=product,
            vendor="Kaspersky Lab",
            category="endpoint-protection",
            verdict=verdict,
            confidence="strong",
            present=present,
            first_seen=seen,
            first_identified=first,
            last_seen=seen,
            gone_at=None if present else seen,
            evidence=[],
            obligations=[],
        )
    )


def _record(s: Any, host: Host, product: str, state: str) -> None:
    s.add(Transition(host_id=host.id, product=product, state=state))


def _notice(s: Any, org: int, title: str, days_ago: int, acks: dict[int, int | None]) -> None:
    """A notice of `org` sent `days_ago`; `acks`: recipient -> days ago it acknowledged (None: not)."""
    sent = NOW - dt.timedelta(days=days_ago)
    n = Notice(
        org_id=org,
        title=title,
        packs=["kaspersky"],
        created_by="officer",
        created_at=sent,
        expires_at=sent + dt.timedelta(days=90),
    )
    s.add(n)
    s.flush()
    for member, acked in acks.items():
        s.add(
            NoticeRecipient(
                notice_id=n.id,
                org_id=member,
                subject=title,
                body_text=title,
                body_html=title,
                acknowledged_at=NOW - dt.timedelta(days=acked) if acked is not None else None,
                acknowledged_by="it-lead" if acked is not None else None,
            )
        )


def _attest(s: Any, org: int, signed: dt.datetime, as_of: dt.date) -> None:
    s.add(
        Attestation(
            org_id=org,
            as_of=as_of,
            signed_by="ciso",
            signed_at=signed,
            statement="",
            content={},
            digest="0" * 64,
        )
    )


def build_estate(fleet: Fleet) -> Estate:
    with fleet.app.state.banscan.db.writing() as s:
        c = Organisation(slug="state-cio", name="State CIO office")
        sib = Organisation(slug="revenue-office", name="Revenue office")
        s.add_all([c, sib])
        s.flush()
        m1 = Organisation(
            slug="lakeside-hospital",
            name="Lakeside hospital",
            parent_id=c.id,
            share_with_coordinators="hosts",
        )
        m2 = Organisation(slug="bayview-clinic", name="Bayview clinic", parent_id=c.id)
        s1 = Organisation(
            slug="tax-annex", name="Tax annex", parent_id=sib.id, share_with_coordinators="hosts"
        )
        s.add_all([m1, m2, s1])
        s.flush()
        sub = Organisation(slug="annex-ward", name="Annex ward", parent_id=m1.id)
        s.add(sub)
        s.flush()
        ids = {"c": c.id, "s": sib.id, "m1": m1.id, "m2": m2.id, "s1": s1.id, "sub": sub.id}

        _host(s, c.id, "c-own-01", 1)  # the coordinator's own host: not a member's row
        web, db = _host(s, m1.id, "m1-web-01", 1), _host(s, m1.id, "m1-db-02", 30)
        _finding(s, web, "kesl", "covered", OLD)
        _finding(s, web, "kaspersky-generic", "review", OLD)
        _finding(s, db, "kes-windows", "covered", RECENT)
        _finding(s, db, "kesl", "covered", OLD, present=False)
        _record(s, web, "kesl", "found")
        _record(s, web, "kaspersky-generic", "replacement-installed")
        _record(s, db, "kes-windows", "removed")
        _record(s, db, "kesl", "verified")
        secret1, _ = _host(s, m2.id, SECRET_HOSTS[0], 2), _host(s, m2.id, SECRET_HOSTS[1], None)
        _finding(s, secret1, "kesl", "covered", OLD)
        _finding(s, secret1, "ultraav", "informational", OLD)
        _record(s, secret1, "kesl", "found")
        _record(s, secret1, "ultraav", "found")  # informational: not a removal item
        ward = _host(s, sub.id, "sub-ws-01", 10)
        _finding(s, ward, "kesl", "covered", OLD, present=False)
        _record(s, ward, "kesl", "verified")
        s1_host = _host(s, s1.id, "s1-host-01", 1)
        _finding(s, s1_host, "kesl", "covered", OLD)

        _notice(s, c.id, "Remove Kaspersky (first notice)", 40, {m1.id: 38, m2.id: 35})
        _notice(s, c.id, "Remove Kaspersky (reminder)", 10, {m1.id: 9, m2.id: None})
        _notice(s, sib.id, "Revenue notice", 5, {s1.id: None})
        _attest(s, m1.id, NOW - dt.timedelta(days=60), TODAY - dt.timedelta(days=61))
        _attest(s, m1.id, NOW - dt.timedelta(days=3), TODAY - dt.timedelta(days=4))
        estate = Estate(fleet, ids)
        for key in ("c", "s", "m1", "m2"):
            raw, _ = add_api_token(s, f"{key}-board", "viewer", created_by="test", org_id=ids[key])
            estate.tokens[key] = raw
    return estate


@pytest.fixture
def estate(fleet: Fleet) -> Estate:
    return build_estate(fleet)


def _by_slug(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {i["org"]["slug"]: i for i in items}


def _day(days_ago: int) -> str:
    return (NOW - dt.timedelta(days=days_ago)).date().isoformat()


# ---------------------------------------------------------------- the figures


def test_every_column_of_every_member(estate: Estate) -> None:
    items = estate.board(role=CONTRACTOR)
    assert [i["org"]["slug"] for i in items] == ["bayview-clinic", "lakeside-hospital", "annex-ward"]
    rows = _by_slug(items)
    m1, m2, sub = rows["lakeside-hospital"], rows["bayview-clinic"], rows["annex-ward"]

    assert (m1["parent"], m1["depth"], m1["share_with_coordinators"], m1["hosts_shared"]) == (
        "state-cio",
        1,
        "hosts",
        True,
    )
    assert (m2["parent"], m2["depth"], m2["hosts_shared"]) == ("state-cio", 1, False)
    assert (sub["parent"], sub["depth"], sub["hosts_shared"]) == ("lakeside-hospital", 2, False)

    assert m1["notice"]["state"] == "acknowledged"
    assert m1["notice"]["title"] == "Remove Kaspersky (reminder)"
    assert m1["notice"]["acknowledged_at"][:10] == _day(9)
    assert m2["notice"]["state"] == "unacknowledged"  # it acknowledged the older one only
    assert (m2["notice"]["sent_at"][:10], m2["notice"]["acknowledged_at"]) == (_day(10), None)
    assert sub["notice"] == {
        "state": "none",
        "notice_id": None,
        "title": None,
        "sent_at": None,
        "acknowledged_at": None,
    }

    assert (m1["hosts"], m1["hosts_reporting"], m1["report_days"]) == (2, 1, 7)
    assert (m2["hosts"], m2["hosts_reporting"]) == (2, 1)
    assert (sub["hosts"], sub["hosts_reporting"]) == (1, 0)

    assert m1["covered_by_product"] == {"kes-windows": 1, "kesl": 1}  # the removed kesl is gone
    assert m1["covered"] == 2
    assert (m2["covered"], m2["covered_by_product"]) == (1, {"kesl": 1})
    assert (sub["covered"], sub["covered_by_product"]) == (0, {})

    # kesl and the review finding on the web server since 2024; kes-windows found two days ago
    assert (m1["overdue_findings"], m1["overdue_hosts"]) == (2, 1)
    assert (m2["overdue_findings"], m2["overdue_hosts"]) == (1, 1)
    assert (sub["overdue_findings"], sub["overdue_hosts"]) == (0, 0)

    assert m1["transitions"] == {"found": 1, "replacement-installed": 1, "removed": 1, "verified": 1}
    assert m2["transitions"] == {"found": 1, "replacement-installed": 0, "removed": 0, "verified": 0}
    assert sub["transitions"] == {"found": 0, "replacement-installed": 0, "removed": 0, "verified": 1}

    assert m1["last_report_at"][:10] == _day(1)
    assert m2["last_report_at"][:10] == _day(2)
    assert sub["last_report_at"][:10] == _day(10)

    assert m1["attested"] == {"signed_at": (NOW - dt.timedelta(days=3)).isoformat(), "as_of": _day(4)}
    assert m2["attested"] is None and sub["attested"] is None
    assert [m1["done"], m2["done"], sub["done"]] == [False, False, True]


def test_overdue_follows_the_role_and_reporting_the_days(estate: Estate) -> None:
    rows = _by_slug(estate.board())  # the server's role, a user: nothing overdue
    assert {slug: r["overdue_findings"] for slug, r in rows.items()} == dict.fromkeys(rows, 0)
    rows = _by_slug(estate.board(days=14))
    assert rows["annex-ward"]["hosts_reporting"] == 1
    assert rows["annex-ward"]["report_days"] == 14
    assert rows["lakeside-hospital"]["hosts_reporting"] == 1  # the database server: 30 days ago


def test_overdue_is_counted_for_each_members_own_role_and_jurisdiction(estate: Estate) -> None:
    as_contractors = _by_slug(estate.board(role=CONTRACTOR))
    assert as_contractors["lakeside-hospital"]["overdue_findings"] > 0
    with estate.fleet.app.state.banscan.db.writing() as s:
        s.execute(
            update(Organisation).where(Organisation.slug == "lakeside-hospital").values(role=CONTRACTOR)
        )
    rows = _by_slug(estate.board())  # each member's own: the hospital is a contractor, the others users
    assert (
        rows["lakeside-hospital"]["overdue_findings"]
        == as_contractors["lakeside-hospital"]["overdue_findings"]
    )
    assert rows["lakeside-hospital"]["overdue_hosts"] == as_contractors["lakeside-hospital"]["overdue_hosts"]
    assert rows["lakeside-hospital"]["obligations_for"] == {"role": CONTRACTOR, "jurisdiction": "US"}
    assert rows["bayview-clinic"]["overdue_findings"] == 0
    assert rows["bayview-clinic"]["obligations_for"] == {"role": "user", "jurisdiction": "US"}
    # A role asked for counts every member for it, whatever its own.
    as_users = _by_slug(estate.board(role="user"))
    assert {slug: r["overdue_findings"] for slug, r in as_users.items()} == dict.fromkeys(as_users, 0)
    page = estate.get("c", "/coordinator")
    assert '<option value="" selected>each member’s own</option>' in page.text
    row = page.text.split('data-org="lakeside-hospital"')[1].split("</tr>")[0]
    assert f"{CONTRACTOR} · US" in row
    csv_rows = {r["org"]: r for r in csv.DictReader(io.StringIO(estate.get("c", "/coordinator.csv").text))}
    assert (csv_rows["lakeside-hospital"]["role"], csv_rows["lakeside-hospital"]["jurisdiction"]) == (
        CONTRACTOR,
        "US",
    )


# ---------------------------------------------------------------- filters and sorting


# (One estate serves every case of a table: building it is most of a case's time.)
STATUS_CASES = [
    ("all", ["bayview-clinic", "lakeside-hospital", "annex-ward"]),
    ("unacknowledged", ["bayview-clinic"]),
    ("no-notice", ["annex-ward"]),
    ("overdue", ["bayview-clinic", "lakeside-hospital"]),
    ("silent", ["annex-ward"]),
    ("not-attested", ["bayview-clinic", "annex-ward"]),
    ("done", ["annex-ward"]),
]


def test_status_filter(estate: Estate) -> None:
    for status, expected in STATUS_CASES:
        items = estate.board(status=status, role=CONTRACTOR)
        assert [i["org"]["slug"] for i in items] == expected, status
        page = estate.get("c", "/coordinator", status=status, role=CONTRACTOR)
        assert page.status_code == 200, page.text
        shown = [
            slug
            for slug in ("bayview-clinic", "lakeside-hospital", "annex-ward")
            if f'data-org="{slug}"' in page.text
        ]
        assert shown == sorted(expected, key=["bayview-clinic", "lakeside-hospital", "annex-ward"].index), (
            status
        )


SORT_CASES = [
    ("tree", "asc", ["bayview-clinic", "lakeside-hospital", "annex-ward"]),
    ("name", "asc", ["annex-ward", "bayview-clinic", "lakeside-hospital"]),
    ("name", "desc", ["lakeside-hospital", "bayview-clinic", "annex-ward"]),
    ("covered", "desc", ["lakeside-hospital", "bayview-clinic", "annex-ward"]),
    ("covered", "asc", ["annex-ward", "bayview-clinic", "lakeside-hospital"]),
    ("overdue", "desc", ["lakeside-hospital", "bayview-clinic", "annex-ward"]),
    ("depth", "desc", ["annex-ward", "bayview-clinic", "lakeside-hospital"]),  # ties: tree order
    ("notice", "asc", ["annex-ward", "bayview-clinic", "lakeside-hospital"]),
    ("hosts", "asc", ["annex-ward", "bayview-clinic", "lakeside-hospital"]),
    ("verified", "desc", ["lakeside-hospital", "annex-ward", "bayview-clinic"]),
    ("found", "desc", ["bayview-clinic", "lakeside-hospital", "annex-ward"]),
    ("last_report", "desc", ["lakeside-hospital", "bayview-clinic", "annex-ward"]),
    ("attested", "desc", ["lakeside-hospital", "bayview-clinic", "annex-ward"]),
]


def test_sorting(estate: Estate) -> None:
    for sort, order, expected in SORT_CASES:
        items = estate.board(sort=sort, order=order, role=CONTRACTOR)
        assert [i["org"]["slug"] for i in items] == expected, (sort, order)
        text = estate.get("c", "/coordinator", sort=sort, order=order, role=CONTRACTOR).text
        assert sorted(expected, key=lambda slug: text.index(f'data-org="{slug}"')) == expected, (sort, order)


def test_paging_and_bad_parameters(estate: Estate) -> None:
    r = estate.get("c", "/api/v1/coordinator/members", limit=2, offset=1)
    body = r.json()
    assert (body["total"], body["limit"], body["offset"], body["next_cursor"]) == (3, 2, 1, None)
    assert [i["org"]["slug"] for i in body["items"]] == ["lakeside-hospital", "annex-ward"]
    for params in ({"status": "asleep"}, {"sort": "hostname"}, {"order": "sideways"}, {"days": 0}):
        assert estate.get("c", "/api/v1/coordinator/members", **params).status_code == 422, params
        assert estate.get("c", "/coordinator", **params).status_code == 400, params
    assert estate.get("c", "/api/v1/coordinator/members", cursor="aWQ6MQ").status_code == 400


# ---------------------------------------------------------------- the page and the exports


def test_page_shows_the_cells_and_links_only_shared_hosts(estate: Estate) -> None:
    r = estate.get("c", "/coordinator", role=CONTRACTOR)
    assert r.status_code == 200
    text = r.text
    assert "acknowledged on " + _day(9) in text
    assert "not acknowledged" in text and "(sent " + _day(10) + ")" in text
    assert "no notice" in text
    assert 'data-col="reporting">1 / 2<' in text
    assert "kes-windows 1 · kesl 1" in text
    assert 'href="/coordinator/members/lakeside-hospital"' in text
    assert "/coordinator/members/bayview-clinic" not in text
    assert "/coordinator/members/annex-ward" not in text
    assert 'data-card="unacknowledged">1<' in text and 'data-card="done">1<' in text
    assert "<script" not in text
    assert 'href="/coordinator.csv?role=federal-contractor"' in text


def test_member_hosts_page_only_for_members_sharing_them(estate: Estate) -> None:
    r = estate.get("c", "/coordinator/members/lakeside-hospital")
    assert r.status_code == 200
    assert "m1-web-01" in r.text and "m1-db-02" in r.text
    assert "sub-ws-01" not in r.text and "c-own-01" not in r.text
    for slug in ("bayview-clinic", "annex-ward", "tax-annex", "state-cio", "nowhere"):
        refused = estate.get("c", f"/coordinator/members/{slug}")
        assert refused.status_code == 404, slug
        assert not any(h in refused.text for h in SECRET_HOSTS)
    # a shared host opens on its own page, as the host list's do
    host_link = r.text.split('href="/hosts/', 1)[1].split('"', 1)[0]
    assert estate.get("c", f"/hosts/{host_link}").status_code == 200


def test_csv_has_every_column(estate: Estate) -> None:
    r = estate.get("c", "/coordinator.csv", role=CONTRACTOR, sort="covered", order="desc")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["org"] for row in rows] == ["lakeside-hospital", "bayview-clinic", "annex-ward"]
    m1, m2 = rows[0], rows[1]
    assert (m1["notice"], m1["acknowledged_at"][:10]) == ("acknowledged", _day(9))
    assert (m2["notice"], m2["acknowledged_at"], m2["notice_sent_at"][:10]) == (
        "unacknowledged",
        "",
        _day(10),
    )
    assert (m1["hosts"], m1["hosts_reporting"], m1["report_days"]) == ("2", "1", "7")
    assert (m1["covered"], m1["covered_by_product"]) == ("2", "kes-windows=1;kesl=1")
    assert (m1["overdue_findings"], m1["overdue_hosts"]) == ("2", "1")
    assert [m1[s] for s in ("found", "replacement-installed", "removed", "verified")] == ["1", "1", "1", "1"]
    assert (m1["attested_as_of"], m2["attested_at"]) == (_day(4), "")
    assert (m1["hosts_shared"], m2["hosts_shared"], rows[2]["done"]) == ("true", "false", "true")
    assert rows[2]["parent"] == "lakeside-hospital" and rows[2]["depth"] == "2"
    only = list(csv.DictReader(io.StringIO(estate.get("c", "/coordinator.csv", status="done").text)))
    assert [row["org"] for row in only] == ["annex-ward"]


def _pdftotext(pdf: bytes, tmp_path: Path) -> str:
    exe = shutil.which("pdftotext")
    if exe is None:
        pytest.skip("pdftotext is not installed (Debian: apt-get install poppler-utils)")
    path = tmp_path / "members.pdf"
    path.write_bytes(pdf)
    out = subprocess.run([exe, str(path), "-"], check=True, capture_output=True, text=True).stdout
    return " ".join(out.split())  # cells wrap: words joined by single spaces


def test_pdf_has_the_rows_and_charts(estate: Estate, tmp_path: Path) -> None:
    pytest.importorskip("weasyprint", reason="weasyprint is not installed")
    r = estate.get("c", "/coordinator.pdf", role=CONTRACTOR)
    assert r.status_code == 200, r.text[:500]
    assert r.content.startswith(b"%PDF-") and r.headers["content-type"] == "application/pdf"
    text = _pdftotext(r.content, tmp_path)
    assert "State CIO office" in text
    for name in ("Lakeside hospital", "Bayview clinic", "Annex ward"):
        assert name in text
    assert "not acknowledged" in text and "acknowledged on " + _day(9) in text
    assert "The 12 members with the most." in text  # the charts' captions (their text is drawn)
    assert not any(h in text for h in SECRET_HOSTS)


# ---------------------------------------------------------------- what is never shown


def test_no_host_name_of_a_member_sharing_aggregates_anywhere(estate: Estate, tmp_path: Path) -> None:
    texts = [
        estate.get("c", "/coordinator").text,
        estate.get("c", "/coordinator", role=CONTRACTOR, status="overdue", sort="covered", order="desc").text,
        estate.get("c", "/coordinator.csv").text,
        estate.get("c", "/api/v1/coordinator/members").text,
        estate.get("c", "/coordinator/members/bayview-clinic").text,
        estate.get("c", "/api/v1/coordinator/members", status="nonsense").text,
    ]
    if shutil.which("pdftotext") and importlib.util.find_spec("weasyprint"):
        texts.append(_pdftotext(estate.get("c", "/coordinator.pdf").content, tmp_path))
    for text in texts:
        assert text and not any(h in text for h in SECRET_HOSTS)
    assert all("Bayview clinic" in t for t in (texts[0], texts[2], texts[3]))  # its row is there


def test_a_sibling_coordinator_sees_only_its_own_members(estate: Estate) -> None:
    items = estate.board("s", role=CONTRACTOR)
    assert [i["org"]["slug"] for i in items] == ["tax-annex"]
    assert items[0]["notice"]["state"] == "unacknowledged" and items[0]["covered"] == 1
    assert (items[0]["overdue_findings"], items[0]["hosts"], items[0]["hosts_reporting"]) == (1, 1, 1)
    for path in ("/coordinator", "/coordinator.csv", "/api/v1/coordinator/members"):
        text = estate.get("s", path).text
        for other in (
            "lakeside-hospital",
            "bayview-clinic",
            "annex-ward",
            "Lakeside",
            "Bayview",
            "Annex ward",
        ):
            assert other not in text, (path, other)
    assert estate.get("s", "/coordinator/members/lakeside-hospital").status_code == 404


def test_a_member_sees_only_its_own_members(estate: Estate) -> None:
    items = estate.board("m1", role=CONTRACTOR)
    assert [(i["org"]["slug"], i["depth"], i["parent"]) for i in items] == [
        ("annex-ward", 1, "lakeside-hospital")
    ]
    # the coordinator's notices are not the member's: none sent by the member itself
    assert items[0]["notice"]["state"] == "none"
    page = estate.get("m1", "/coordinator").text
    assert "Bayview" not in page and "State CIO office" not in page
    assert estate.board("m2") == []
    assert 'id="no-members"' in estate.get("m2", "/coordinator").text


def test_the_board_follows_sharing_changes_at_once(estate: Estate) -> None:
    """Whether a row links to a member's hosts is decided per request, never cached."""
    assert not _by_slug(estate.board())["bayview-clinic"]["hosts_shared"]
    with estate.fleet.app.state.banscan.db.writing() as s:
        org = s.get(Organisation, estate.ids["m2"])
        assert org is not None
        org.share_with_coordinators = "hosts"
    assert _by_slug(estate.board())["bayview-clinic"]["hosts_shared"]
    r = estate.get("c", "/coordinator/members/bayview-clinic")
    assert r.status_code == 200 and SECRET_HOSTS[0] in r.text


def test_same_rows_whether_members_hold_most_hosts_or_few(estate: Estate) -> None:
    """The members' hosts are read by index when they are a minority of the server's, else all
    hosts are read and the others dropped: the rows are the same either way."""
    before = estate.board(role=CONTRACTOR)  # the members hold 5 of the server's 7 hosts
    with estate.fleet.app.state.banscan.db.writing() as s:
        for n in range(12):
            h = _host(s, 1, f"default-{n:02d}", 1)
            _finding(s, h, "kesl", "covered", OLD)
            _record(s, h, "kesl", "found")
    after = estate.board(role=CONTRACTOR)  # 5 of 19
    assert after == before
    assert sum(i["overdue_findings"] for i in after) == 3


# ---------------------------------------------------------------- the benchmark's builder


def test_bench_builder_with_small_numbers(sqlite_url: str) -> None:
    path = Path(__file__).resolve().parents[2] / "bench" / "bench_coordinator.py"
    spec = importlib.util.spec_from_file_location("bench_coordinator", path)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    sys.modules["bench_coordinator"] = bench
    spec.loader.exec_module(bench)
    counts = bench.build(sqlite_url, members=6, hosts=120)
    assert counts["members"] == 6 and counts["hosts"] == 120
    assert counts["findings"] > 0 and counts["transitions"] > 0
    rows = bench.board_rows(sqlite_url)
    assert len(rows) == 6
    assert sum(r.figures.hosts for r in rows) == 120
    assert sum(r.covered for r in rows) == counts["covered_present"]
