"""BOD 17-01 implementation status (and FAR mitigation) from the fleet server's recorded states.

The transitions exports are made by the real dashboard: an estate is enrolled in a fleet
server (SQLite), its scans reported, an admin moves removals through the web form and a clean
re-scan verifies one; `/transitions.csv` and `/transitions.json` are then downloaded as an
auditor would. The report is given those files next to scan results that agree with the
record, predate it, or contradict it.
"""

from __future__ import annotations

import copy
import csv
import datetime as dt
import io
import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from banscan.cli_reports import plan_command, report_command
from banscan.removal import EXPORT_COLUMNS
from banscan.reports import ReportInputError, build_context
from banscan.reports.bod import build_bod
from banscan.reports.far import build_far, load_far_context
from banscan.reports.html import render_document
from banscan.reports.load import load_results
from banscan.reports.transitions import TransitionExport, load_transitions
from linux_root import HOSTNAME as LINUX_HOST
from server.conftest import ADMIN_PASSWORD, Fleet, make_admin
from test_reports_data import MAC_HOST, WIN_HOST, catalog, estate_files, far_context_file

OTHER_HOST = "srv-file-09"  # enrolled in the fleet server, absent from the scan results


# ---------------------------------------------------------------- a fleet server's board


@dataclass
class Board:
    csv: Path
    json: Path
    mac_rescan: Path  # the clean re-scan the server verified kes-mac from
    mac_later: Path  # a scan after that verification that still finds kes-mac
    linux_later: Path  # a scan after the Network Agent's removal was recorded that still finds it
    ids: dict[str, int]


def _slice(doc: dict[str, Any], host: str, *, rename: str = "", drop: tuple[str, ...] = ()) -> dict[str, Any]:
    """One host's part of a multi-host result, as that host's agent would send it."""
    out = copy.deepcopy(doc)
    out["findings"] = [f for f in out["findings"] if f["host"] == host and f["product"] not in drop]
    for f in out["findings"]:
        f["host"] = rename or host
    out["hosts"] = [rename or host]
    out["summary"]["hosts"] = 1
    return out


def _later(doc: dict[str, Any], minutes: int) -> dict[str, Any]:
    when = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(minutes=minutes)
    return {**doc, "generated_at": when.isoformat(), "as_of": when.date().isoformat()}


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF token on the page"
    return m.group(1)


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Board]:
    from argon2 import PasswordHasher

    from banscan.server import auth

    previous = auth.password_hasher()
    auth.use_password_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    d = tmp_path_factory.mktemp("fleet-board")
    fleet = Fleet(f"sqlite:///{d / 'banscan.db'}")
    try:
        early, late = (json.loads(p.read_text(encoding="utf-8")) for p in estate_files())
        ids: dict[str, int] = {}
        tokens: dict[str, str] = {}
        for host in (LINUX_HOST, MAC_HOST, WIN_HOST, OTHER_HOST):
            ids[host], tokens[host] = fleet.enroll(f"id-{host}", host, "linux")
            for doc in (early, late):
                source = LINUX_HOST if host == OTHER_HOST else host
                part = _slice(doc, source, rename=host)
                assert fleet.report(tokens[host], part).status_code == 201

        make_admin(fleet.db_url, "alice")
        login = fleet.client.get("/login")
        r = fleet.client.post(
            "/login",
            data={
                "username": "alice",
                "password": ADMIN_PASSWORD,
                "csrf_token": _csrf(login.text),
                "next": "/",
            },
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
        token = _csrf(fleet.client.get("/").text)
        for host, product, state in [
            (LINUX_HOST, "kesl", "replacement-installed"),
            (LINUX_HOST, "ksc-network-agent", "removed"),
            (MAC_HOST, "kes-mac", "removed"),
            (OTHER_HOST, "kesl", "removed"),
        ]:
            r = fleet.client.post(
                f"/hosts/{ids[host]}/transition",
                data={"product": product, "state": state, "note": "", "csrf_token": token},
                follow_redirects=False,
            )
            assert r.status_code == 303, r.text
        mac_rescan = _later(_slice(late, MAC_HOST, drop=("kes-mac",)), 1)
        assert fleet.report(tokens[MAC_HOST], mac_rescan).status_code == 201

        out = Board(
            csv=d / "transitions.csv",
            json=d / "transitions.json",
            mac_rescan=d / "mac-rescan.json",
            mac_later=d / "mac-later.json",
            linux_later=d / "linux-later.json",
            ids=ids,
        )
        export = fleet.client.get("/transitions.csv")
        assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
        out.csv.write_bytes(export.content)
        export = fleet.client.get("/transitions.json")
        assert export.status_code == 200
        out.json.write_bytes(export.content)
        out.mac_rescan.write_text(json.dumps(mac_rescan), encoding="utf-8")
        # scans the server never received: the record and these disagree
        out.mac_later.write_text(json.dumps(_later(_slice(late, MAC_HOST), 2)), encoding="utf-8")
        out.linux_later.write_text(json.dumps(_later(_slice(late, LINUX_HOST), 3)), encoding="utf-8")
        yield out
    finally:
        fleet.close()
        auth.use_password_hasher(previous)


def _ctx(*extra: Path) -> Any:
    return build_context(load_results([*estate_files(), *extra]), catalog())


def _rows(doc: Any) -> dict[tuple[str, str], Any]:
    return {(s.host, s.product): s for s in doc.status}


app = typer.Typer()
app.command("report")(report_command)
app.command("plan")(plan_command)
runner = CliRunner()


def _run(*args: object) -> Any:
    return runner.invoke(app, ["report", *(str(a) for a in args)])


# ---------------------------------------------------------------- the export itself


def test_reader_columns_are_the_servers(board: Board) -> None:
    from banscan.server.web import TRANSITION_CSV

    assert list(EXPORT_COLUMNS) == TRANSITION_CSV
    header = next(csv.reader(io.StringIO(board.csv.read_text(encoding="utf-8"))))
    assert header == list(EXPORT_COLUMNS)
    items = json.loads(board.json.read_text(encoding="utf-8"))["items"]
    assert items and all(set(i) == set(EXPORT_COLUMNS) for i in items)


def test_csv_and_json_exports_read_alike_whatever_the_file_is_called(board: Board, tmp_path: Path) -> None:
    def key(e: TransitionExport) -> list[tuple[Any, ...]]:
        return sorted(
            (r.host_id, r.hostname, r.product, r.state, r.flag, r.present, r.updated_by, r.updated_at)
            for r in e.records
        )

    from_csv, from_json = load_transitions(board.csv), load_transitions(board.json)
    assert (from_csv.format, from_json.format) == ("csv", "json")
    assert key(from_csv) == key(from_json)
    assert len(from_csv.records) == 15  # 4 + 5 + 2 + 4 products tracked
    moved = {(r.hostname, r.product): (r.state, r.updated_by) for r in from_csv.records if r.state != "found"}
    assert moved == {
        (LINUX_HOST, "kesl"): ("replacement-installed", "alice"),
        (LINUX_HOST, "ksc-network-agent"): ("removed", "alice"),
        (MAC_HOST, "kes-mac"): ("verified", "system"),
        (OTHER_HOST, "kesl"): ("removed", "alice"),
    }
    # told apart by content, not by the name
    swapped_csv, swapped_json = tmp_path / "board.json", tmp_path / "board.csv"
    shutil.copy(board.csv, swapped_csv)
    shutil.copy(board.json, swapped_json)
    assert load_transitions(swapped_csv).format == "csv" and load_transitions(swapped_json).format == "json"
    assert key(load_transitions(swapped_csv)) == key(from_json)


def test_formula_guard_of_the_dashboard_csv_is_undone(tmp_path: Path) -> None:
    p = tmp_path / "t.csv"
    p.write_text(
        ",".join(EXPORT_COLUMNS) + "\r\n"
        "7,'-lab-07,kesl,Kaspersky Endpoint Security for Linux,covered,true,,removed,,false,"
        "2025-03-01T10:00:00+00:00,'=HYPERLINK(1)\r\n",
        encoding="utf-8",
    )
    (r,) = load_transitions(p).records
    assert r.hostname == "-lab-07" and r.updated_by == "=HYPERLINK(1)"


# ---------------------------------------------------------------- BOD implementation status


def test_status_uses_recorded_states_where_scans_say_found(board: Board) -> None:
    ctx = _ctx()
    plain = {s.host: s.status for s in build_bod(ctx).status}
    assert plain[LINUX_HOST] == "found"  # the scans alone cannot see a replacement or a removal

    doc = build_bod(ctx, transitions=load_transitions(board.csv))
    rows = _rows(doc)
    kesl = rows[(LINUX_HOST, "kesl")]
    assert kesl.status == "replacement installed" and kesl.source == "scans and fleet record"
    assert kesl.recorded_by == "alice" and kesl.recorded_state == "replacement-installed"
    day = dt.datetime.fromisoformat(kesl.recorded_at).date().isoformat()
    assert f"by alice on {day}" in kesl.detail and "removal still to do" in kesl.detail
    agent = rows[(LINUX_HOST, "ksc-network-agent")]
    assert agent.status == "removed, awaiting verification" and not agent.conflict
    assert "predates the removal" in agent.detail
    assert rows[(LINUX_HOST, "ksc-linux")].status == "found"
    assert rows[(WIN_HOST, "kes-windows")].status == "accepted"
    # every product the scans found on a scanned host has its row
    found = {(fv.finding.host, fv.finding.product) for fv in ctx.findings}
    assert found <= set(rows)


def test_verified_on_record_but_seen_by_the_scans_is_a_stated_conflict(board: Board) -> None:
    rows = _rows(build_bod(_ctx(), transitions=load_transitions(board.json)))
    kes = rows[(MAC_HOST, "kes-mac")]
    assert kes.recorded_state == "verified"
    assert kes.status == "conflict" and kes.conflict
    assert (
        "the fleet record says verified" in kes.detail and "still finds the product (covered)" in kes.detail
    )
    assert "made before it" in kes.detail and "Not verified" in kes.detail

    later = _rows(build_bod(_ctx(board.mac_later), transitions=load_transitions(board.json)))
    kes = later[(MAC_HOST, "kes-mac")]
    assert kes.status == "conflict" and "made after that" in kes.detail


def test_verified_only_when_record_and_scans_agree(board: Board) -> None:
    doc = build_bod(_ctx(board.mac_rescan), transitions=load_transitions(board.csv))
    kes = _rows(doc)[(MAC_HOST, "kes-mac")]
    assert kes.status == "verified" and not kes.conflict and kes.scan == "not found"
    assert "does not find the product (an earlier scan did)" in kes.detail
    assert sum(1 for s in doc.status if s.status == "verified") == 1  # nothing else is verified


def test_removal_recorded_then_seen_again_is_a_conflict(board: Board) -> None:
    rows = _rows(build_bod(_ctx(board.linux_later), transitions=load_transitions(board.csv)))
    agent = rows[(LINUX_HOST, "ksc-network-agent")]
    assert agent.status == "conflict" and agent.conflict
    assert "says removed (recorded by alice" in agent.detail and "made after that" in agent.detail
    assert rows[(LINUX_HOST, "kesl")].status == "replacement installed"


def test_gone_from_scans_without_a_recorded_removal_is_a_disagreement(board: Board) -> None:
    rows = _rows(build_bod(_ctx(), transitions=load_transitions(board.csv)))
    agent = rows[(WIN_HOST, "ksc-network-agent")]
    assert agent.status == "gone, no removal recorded" and agent.conflict
    assert agent.flag == "gone-without-removal-record" and agent.detail.startswith("Disagreement:")


def test_hosts_only_the_record_knows_are_listed_and_marked(board: Board) -> None:
    doc = build_bod(_ctx(), transitions=load_transitions(board.csv))
    other = [s for s in doc.status if s.host == OTHER_HOST]
    assert {s.product for s in other} == {"kesl", "ksc-linux", "ksc-network-agent", "kaspersky-generic"}
    assert all(s.source == "fleet record only" and s.scan == "not in results" for s in other)
    kesl = next(s for s in other if s.product == "kesl")
    assert kesl.status == "removed, awaiting verification"
    assert kesl.detail.startswith("Status from the fleet record alone (not in the scan results given)")
    assert doc.transitions is not None
    assert doc.transitions.records == 15 and doc.transitions.rows_from_record_only == 4
    assert doc.transitions.conflicts == 2  # kes-mac (verified, still found) and the Windows Network Agent


def test_bod_command_with_transitions_in_every_format(board: Board, tmp_path: Path) -> None:
    early, late = estate_files()
    res = _run(early, late, "--document", "bod", "--format", "md", "--transitions", board.csv)
    assert res.exit_code == 0, res.output
    md = res.stdout
    assert "| Host | Product | Status | Newest scan | Fleet record | Detail |" in md
    assert f"| {LINUX_HOST} | Kaspersky Endpoint Security for Linux | replacement installed |" in md
    assert "| **conflict** |" in md and "(fleet record only)" in md
    res = _run(early, late, "--document", "bod", "--format", "json", "--transitions", board.json)
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["status_by_product"] is True and data["transitions"]["format"] == "json"
    assert any(s["status"] == "conflict" and s["product"] == "kes-mac" for s in data["status"])
    out = tmp_path / "bod.html"
    res = _run(early, late, "--document", "bod", "--transitions", board.csv, "-o", out)
    assert res.exit_code == 0, res.output
    html = out.read_text(encoding="utf-8")
    assert '<tr class="conflict">' in html and "fleet record only" in html
    assert "<th>Fleet record</th>" in html
    # the audit report's BOD section takes it too
    res = _run(late, "--bod", "--format", "md", "--transitions", board.csv)
    assert res.exit_code == 0 and "replacement installed" in res.stdout
    # without a document that uses it, it is refused rather than ignored
    res = _run(late, "--transitions", board.csv)
    assert res.exit_code == 2 and "--transitions is used by" in res.output


def test_far_mitigation_cites_recorded_actions(board: Board) -> None:
    ctx = _ctx()
    plain = build_far(ctx, load_far_context(far_context_file()))
    assert not any("Undertaken" in i.mitigation for r in plain.reports for i in [*r.items, *r.pending])
    doc = build_far(ctx, load_far_context(far_context_file()), transitions=load_transitions(board.json))
    items = {(i.host, i.model_or_product.split(" 1")[0].split(" 2")[0]): i for i in doc.reports[0].items}
    kesl = items[(LINUX_HOST, "Kaspersky Endpoint Security for Linux")]
    assert kesl.mitigation.startswith("Undertaken: replacement installed (recorded by alice on ")
    assert "Install and enrol" not in kesl.mitigation  # no longer recommended: it is done
    assert "Remove the dpkg package(s)" in kesl.mitigation
    agent = items[(LINUX_HOST, "Kaspersky Security Center Network Agent")]
    assert agent.mitigation.startswith("Undertaken: removed (recorded by alice on ")
    kes = items[(MAC_HOST, "Kaspersky Endpoint Security for Mac")]
    assert kes.mitigation.startswith("Conflict: the fleet record says verified")
    html = render_document(ctx, far=doc)
    assert "Undertaken: replacement installed (recorded by alice" in html


# ---------------------------------------------------------------- files that are not usable


def _lines(p: Path) -> list[str]:
    return p.read_text(encoding="utf-8").splitlines()


def _set(row: str, column: str, value: str) -> str:
    cells = row.split(",")  # the board's rows have no quoted commas
    cells[EXPORT_COLUMNS.index(column)] = value
    return ",".join(cells)


def _where(src: list[str], state: str) -> int:
    return next(i for i, row in enumerate(src) if row.split(",")[EXPORT_COLUMNS.index("state")] == state)


def _no_state(src: list[str]) -> tuple[str, int]:
    k = EXPORT_COLUMNS.index("state")
    return "\n".join(",".join(c for i, c in enumerate(ln.split(",")) if i != k) for ln in src), 1


def _bad_state(src: list[str]) -> tuple[str, int]:
    i = _where(src, "removed")
    return "\n".join([*src[:i], _set(src[i], "state", "uninstalled"), *src[i + 1 :]]), i + 1


def _cut_row(src: list[str]) -> tuple[str, int]:
    return "\n".join([*src[:6], src[6][: len(src[6]) // 2]]), 7


def _cut_in_quote(src: list[str]) -> tuple[str, int]:
    return "\n".join([*src[:4], '4,srv-file-09,kesl,"Kaspersky Endpoint Sec']), 5


def _bad_date(src: list[str]) -> tuple[str, int]:
    return "\n".join([*src[:2], _set(src[2], "updated_at", "2025-13-45T25:00"), *src[3:]]), 3


def _duplicated(src: list[str]) -> tuple[str, int]:
    return "\n".join([*src, src[1]]), len(src) + 1


@pytest.mark.parametrize(
    ("make", "expect"),
    [
        (_no_state, r"{p}:1: missing column\(s\) state; expected the fleet dashboard's transitions export"),
        (
            _bad_state,
            r"{p}:{n}: unknown state 'uninstalled' \(the fleet server records found, replacement-installed",
        ),
        (_cut_row, r"{p}:{n}: \d+ field\(s\) where the header has 12 \(truncated or hand-edited file\?\)"),
        (_cut_in_quote, r"{p}:{n}: malformed CSV: .*\(truncated file\?\)"),
        (_bad_date, r"{p}:{n}: updated_at: not an ISO 8601 date-time: '2025-13-45T25:00'"),
        (_duplicated, r"{p}:{n}: second record for host id \d+, product '[a-z-]+' \(first at line 2\)"),
        (lambda src: ("", 0), r"{p}: empty file; not a transitions export"),
    ],
)
def test_bad_csv_is_one_line_naming_file_and_line(
    board: Board, tmp_path: Path, make: Any, expect: str
) -> None:
    p = tmp_path / "transitions.csv"
    content, line = make(_lines(board.csv))
    p.write_text(content, encoding="utf-8")
    pattern = expect.replace("{p}", re.escape(str(p))).replace("{n}", str(line))
    with pytest.raises(ReportInputError, match=pattern):
        load_transitions(p)
    res = _run(estate_files()[1], "--document", "bod", "--format", "md", "--transitions", p)
    assert res.exit_code == 2
    assert res.output.startswith(f"banscan: error: {p}:") and res.output.count("\n") == 1, res.output


def test_bad_json_is_one_line_naming_file_and_place(board: Board, tmp_path: Path) -> None:
    text = board.json.read_text(encoding="utf-8")
    data = json.loads(text)
    cases: list[tuple[str, str, str]] = [
        ("truncated.json", text[: len(text) * 2 // 3], r"{p}:1:\d+: invalid JSON: .*\(truncated file\?\)"),
        (
            "no-state.json",
            json.dumps(
                {
                    "filters": {},
                    "items": [
                        *data["items"][:2],
                        {k: v for k, v in data["items"][2].items() if k != "state"},
                    ],
                    "count": 3,
                }
            ),
            r"{p}: item 3: missing state",
        ),
        (
            "short.json",
            json.dumps({**data, "items": data["items"][:5]}),
            r"{p}:1: `count` is 15 but 5 item\(s\) follow \(truncated file\?\)",
        ),
        (
            "odd-state.json",
            json.dumps({**data, "items": [{**data["items"][0], "state": "done"}]} | {"count": 1}),
            r"{p}: item 1: unknown state 'done'",
        ),
        (
            "scan.json",
            estate_files()[1].read_text(encoding="utf-8"),
            r"{p}:1: not a transitions export \(a scan result\)",
        ),
    ]
    for name, content, expect in cases:
        p = tmp_path / name
        p.write_text(content, encoding="utf-8")
        with pytest.raises(ReportInputError, match=expect.replace("{p}", re.escape(str(p)))):
            load_transitions(p)
        res = _run(estate_files()[1], "--document", "bod", "--format", "json", "--transitions", p)
        assert res.exit_code == 2, name
        assert res.output.startswith(f"banscan: error: {p}") and res.output.count("\n") == 1, res.output
    res = _run(estate_files()[1], "--document", "bod", "--transitions", tmp_path / "nope.csv")
    assert res.exit_code == 2 and "nope.csv: no such file" in res.output


def test_scans_older_than_the_servers_first_sighting_neither_confirm_nor_contradict(tmp_path: Path) -> None:
    p = tmp_path / "t.csv"
    row = "1,{host},{product},Kaspersky VPN Secure Connection,covered,true,{first},{state},,false,{at},alice"
    p.write_text(
        "\r\n".join(
            [
                ",".join(EXPORT_COLUMNS),
                row.format(
                    host=LINUX_HOST.upper(),  # host names match whatever their case
                    product="kaspersky-vpn",
                    first="2025-01-06T09:00:00+00:00",
                    state="replacement-installed",
                    at="2025-01-07T09:00:00+00:00",
                ),
                row.format(
                    host=LINUX_HOST,
                    product="kaspersky-password-manager",
                    first="",
                    state="verified",
                    at="2025-01-07T09:00:00+00:00",
                ),
            ]
        )
        + "\r\n",
        encoding="utf-8",
    )
    rows = _rows(build_bod(_ctx(), transitions=load_transitions(p)))
    vpn = rows[(LINUX_HOST, "kaspersky-vpn")]
    assert vpn.status == "replacement installed" and not vpn.conflict and vpn.scan == "not found"
    assert "predates the fleet server's first sighting of the product (2025-01-06)" in vpn.detail
    pm = rows[(LINUX_HOST, "kaspersky-password-manager")]
    assert pm.status == "verified" and "does not find the product" in pm.detail
    assert "(an earlier scan did)" not in pm.detail


def test_record_values_are_escaped_in_the_html_document(tmp_path: Path) -> None:
    p = tmp_path / "t.json"
    item = {
        "host_id": 9,
        "hostname": "<b>lab</b>-09",
        "product": "kesl",
        "product_name": "KESL <img src=x onerror=alert(1)>",
        "verdict": "covered",
        "present": True,
        "first_seen": None,
        "state": "removed",
        "flag": None,
        "overdue": False,
        "updated_at": "2025-01-07T09:00:00+00:00",
        "updated_by": "<script>alert(2)</script>",
    }
    p.write_text(json.dumps({"filters": {}, "items": [item], "count": 1}), encoding="utf-8")
    ctx = _ctx()
    html = render_document(ctx, bod=build_bod(ctx, transitions=load_transitions(p)))
    assert "<script>alert(2)" not in html and "<img src=x" not in html and "<b>lab" not in html
    assert "&lt;b&gt;lab&lt;/b&gt;-09" in html and "KESL &lt;img src=x onerror=alert(1)&gt;" in html
    assert "removed · &lt;script&gt;alert(2)&lt;/script&gt; · 2025-01-07 09:00 UTC" in html
