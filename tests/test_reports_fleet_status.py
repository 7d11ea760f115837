"""BOD 17-01 implementation status (and FAR mitigation) from the fleet server's recorded states.

The transitions exports are made by the real dashboard: an estate is enrolled in a fleet
server (SQLite), its scans reported, admins move removals through the web form and a clean
re-scan verifies one; `/transitions.csv` and `/transitions.json` (latest state) and
`/transitions/history.csv` and `/transitions/history.json` (every step) are then downloaded as
an auditor would. The report is given those files next to scan results that agree with the
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
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from banscan.cli.plan import plan_command
from banscan.cli.report import report_command
from banscan.documents import ReportInputError, build_context
from banscan.documents.bod import build_bod
from banscan.documents.far import build_far, load_far_context
from banscan.documents.html import render_document
from banscan.documents.load import load_results
from banscan.documents.transitions import TransitionExport, load_transition_files, load_transitions
from banscan.removal import EXPORT_COLUMNS, HISTORY_COLUMNS
from linux_root import HOSTNAME as LINUX_HOST
from server.conftest import ADMIN_PASSWORD, Fleet, make_admin
from test_reports_data import MAC_HOST, WIN_HOST, catalog, estate_files, far_context_file

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

OTHER_HOST = "srv-file-09"  # enrolled in the fleet server, absent from the scan results


# ---------------------------------------------------------------- a fleet server's board


@dataclass
class Board:
    csv: Path
    json: Path
    history_csv: Path
    history_json: Path
    mac_rescan_report: int  # the report id of that re-scan
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

    from banscan.store import accounts as auth

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

        sessions = {}
        for user in ("alice", "bob"):
            make_admin(fleet.db_url, user)
            client = fleet.client if user == "alice" else TestClient(fleet.app, base_url="https://testserver")
            login = client.get("/login")
            r = client.post(
                "/login",
                data={
                    "username": user,
                    "password": ADMIN_PASSWORD,
                    "csrf_token": _csrf(login.text),
                    "next": "/",
                },
                follow_redirects=False,
            )
            assert r.status_code == 303, r.text
            sessions[user] = (client, _csrf(client.get("/").text))
        for user, host, product, state, note in [
            ("alice", LINUX_HOST, "kesl", "replacement-installed", ""),
            ("alice", LINUX_HOST, "ksc-network-agent", "removed", ""),
            ("bob", MAC_HOST, "kes-mac", "replacement-installed", "Defender for Endpoint enrolled"),
            ("alice", MAC_HOST, "kes-mac", "removed", ""),
            ("alice", OTHER_HOST, "kesl", "removed", ""),
        ]:
            client, token = sessions[user]
            r = client.post(
                f"/hosts/{ids[host]}/transition",
                data={"product": product, "state": state, "note": note, "csrf_token": token},
                follow_redirects=False,
            )
            assert r.status_code == 303, r.text
        sessions["bob"][0].close()
        mac_rescan = _later(_slice(late, MAC_HOST, drop=("kes-mac",)), 1)
        r = fleet.report(tokens[MAC_HOST], mac_rescan)
        assert r.status_code == 201

        out = Board(
            csv=d / "transitions.csv",
            json=d / "transitions.json",
            history_csv=d / "transitions-history.csv",
            history_json=d / "transitions-history.json",
            mac_rescan_report=r.json()["report_id"],
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
        for path, target in [
            ("/transitions/history.csv", out.history_csv),
            ("/transitions/history.json", out.history_json),
        ]:
            export = fleet.client.get(path)
            assert export.status_code == 200, path
            target.write_bytes(export.content)
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
    from banscan.server.pages.transitions import TRANSITION_CSV

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
    assert len(from_csv.records) == 12  # 3 + 5 + 1 + 3 products tracked (shared footprints join the product)
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
    assert {s.product for s in other} == {"kesl", "ksc-linux", "ksc-network-agent"}
    assert all(s.source == "fleet record only" and s.scan == "not in results" for s in other)
    kesl = next(s for s in other if s.product == "kesl")
    assert kesl.status == "removed, awaiting verification"
    assert kesl.detail.startswith("Status from the fleet record alone (not in the scan results given)")
    assert doc.transitions is not None
    assert doc.transitions.records == 12 and doc.transitions.rows_from_record_only == 3
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
            r"{p}:1: `count` is 12 but 5 item\(s\) follow \(truncated file\?\)",
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
        ("deep.json", '{"items": ' + "[" * 5000, r"{p}: JSON nested too deeply"),
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


# ---------------------------------------------------------------- the history export


def _history_lines(board: Board) -> list[str]:
    return board.history_csv.read_text(encoding="utf-8").splitlines()


def test_history_export_reads_alike_as_csv_and_json_whatever_it_is_called(
    board: Board, tmp_path: Path
) -> None:
    from banscan.server.pages.transitions import HISTORY_CSV

    assert list(HISTORY_COLUMNS) == HISTORY_CSV
    assert next(csv.reader(io.StringIO(board.history_csv.read_text(encoding="utf-8")))) == HISTORY_CSV

    def key(e: TransitionExport) -> list[tuple[Any, ...]]:
        return sorted(
            (
                r.host_id,
                r.hostname,
                r.product,
                r.state,
                r.flag,
                r.updated_by,
                r.updated_at,
                *((s.actor, s.from_state, s.to_state, s.flag, s.note, s.report_id, s.at) for s in r.steps),
            )
            for r in e.records
        )

    swapped = tmp_path / "history.json"
    shutil.copy(board.history_csv, swapped)
    from_csv, from_json, from_swapped = (
        load_transitions(p) for p in (board.history_csv, board.history_json, swapped)
    )
    assert (from_csv.kind, from_json.kind, from_swapped.format) == ("history", "history", "csv")
    assert key(from_csv) == key(from_json) == key(from_swapped)
    assert from_csv.steps == len(_history_lines(board)) - 1 == 19
    # one record per item, standing where its latest step left it: the latest-state export's states
    latest = {
        (r.host_id, r.product): (r.state, r.flag, r.updated_by) for r in load_transitions(board.csv).records
    }
    assert {(r.host_id, r.product): (r.state, r.flag, r.updated_by) for r in from_csv.records} == latest


def test_history_status_is_the_latest_steps_and_the_detail_cites_every_step(board: Board) -> None:
    ctx = _ctx(board.mac_rescan)
    with_history = build_bod(ctx, transitions=load_transitions(board.history_csv))
    with_latest = build_bod(ctx, transitions=load_transitions(board.csv))
    assert {k: s.status for k, s in _rows(with_history).items()} == {
        k: s.status for k, s in _rows(with_latest).items()
    }
    kes = _rows(with_history)[(MAC_HOST, "kes-mac")]
    day = dt.datetime.fromisoformat(kes.recorded_at).date().isoformat()
    rid = board.mac_rescan_report
    assert kes.status == "verified" and kes.recorded_state == "verified" and not kes.conflict
    assert kes.steps[1:] == [
        f'replacement installed by bob on {day} ("Defender for Endpoint enrolled")',
        f"removed by alice on {day}",
        f"verified by a clean re-scan (report {rid}) on {day}",
    ]
    assert re.fullmatch(rf"found by a scan \(report \d+\) on {day}", kes.steps[0])
    assert kes.detail.endswith(f" Recorded steps, in order: {'; '.join(kes.steps)}.")
    gone = _rows(with_history)[(WIN_HOST, "ksc-network-agent")]
    assert gone.status == "gone, no removal recorded" and gone.flag == "gone-without-removal-record"
    assert "; not seen by a scan (report " in gone.detail and "with no removal recorded" in gone.detail
    assert with_history.transitions is not None
    intro = with_history.transitions.intro
    assert "CSV history export, 12 record(s), 19 recorded step(s)" in intro
    assert "the status is the latest step's" in intro
    # the latest-state export alone cites only the latest step
    assert not _rows(with_latest)[(MAC_HOST, "kes-mac")].steps
    assert "Recorded steps" not in _rows(with_latest)[(MAC_HOST, "kes-mac")].detail


def test_far_mitigation_cites_every_recorded_step_in_order(board: Board) -> None:
    ctx = _ctx()
    doc = build_far(
        ctx, load_far_context(far_context_file()), transitions=load_transitions(board.history_json)
    )
    items = {(i.host, i.model_or_product.split(" 1")[0].split(" 2")[0]): i for i in doc.reports[0].items}
    kesl = items[(LINUX_HOST, "Kaspersky Endpoint Security for Linux")].mitigation
    m = re.match(
        r"Undertaken, as the fleet server recorded it: found by a scan \(report \d+\) on (\S+); "
        r"replacement installed by alice on (\S+)\. Recommended: ",
        kesl,
    )
    assert m, kesl
    assert "Install and enrol" not in kesl and "Remove the dpkg package(s)" in kesl
    agent = items[(LINUX_HOST, "Kaspersky Security Center Network Agent")].mitigation
    assert re.match(
        r"Undertaken, as the fleet server recorded it: found by a scan \(report \d+\) on \S+; "
        r"removed by alice on \S+\. Awaiting verification by a re-scan\.",
        agent,
    ), agent
    kes = items[(MAC_HOST, "Kaspersky Endpoint Security for Mac")].mitigation
    assert kes.startswith("Conflict: the fleet record says verified")
    steps = kes[kes.index("Recorded steps, in order: ") :]
    assert steps.index("replacement installed by bob") < steps.index("removed by alice")
    assert steps.index("removed by alice") < steps.index("verified by a clean re-scan (report ")
    # nothing but a scan's first sighting: nothing undertaken to cite
    ksc = items[(LINUX_HOST, "Kaspersky Security Center Linux")].mitigation
    assert ksc.startswith("Recommended: Install and enrol")


def test_transitions_given_twice_merges_the_board_and_its_history(board: Board, tmp_path: Path) -> None:
    early, late = estate_files()
    res = _run(
        early,
        late,
        "--document",
        "bod",
        "--format",
        "json",
        "--transitions",
        board.history_csv,
        "--transitions",
        board.json,
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["transitions"]["kind"] == "both" and data["transitions"]["steps"] == 19
    assert data["transitions"]["description"] == "JSON export and CSV history export"
    rows = {(s["host"], s["product"]): s for s in data["status"]}
    # names and verdicts from the board, steps from the history
    other = rows[(OTHER_HOST, "kesl")]
    assert other["product_name"] == "Kaspersky Endpoint Security for Linux"
    assert [s.split(" by ")[0] for s in other["steps"]] == ["found", "removed"]
    assert {k for k, s in rows.items() if s["source"] == "fleet record only"} == {
        (OTHER_HOST, p) for p in ("kesl", "ksc-linux", "ksc-network-agent")
    }

    # a step later than the board's row: the item stands where that step left it
    later = _history_lines(board)
    later.append(
        f"{board.ids[LINUX_HOST]},{LINUX_HOST},kesl,2099-01-02T10:00:00+00:00,carol,"
        "replacement-installed,removed,,,"
    )
    p = tmp_path / "later-history.csv"
    p.write_text("\n".join(later) + "\n", encoding="utf-8")
    merged = load_transition_files([board.csv, p])
    rec = next(r for r in merged.records if (r.hostname, r.product) == (LINUX_HOST, "kesl"))
    assert (rec.state, rec.updated_by, rec.verdict) == ("removed", "carol", "covered")
    assert [s.actor for s in rec.steps] == ["system", "alice", "carol"]

    # two of the same kind are refused, naming both
    res = _run(late, "--document", "bod", "--transitions", board.csv, "--transitions", board.json)
    assert res.exit_code == 2 and res.output.count("\n") == 1, res.output
    assert "one latest-state export and one history export" in res.output and str(board.json) in res.output


def _h_set(row: str, column: str, value: str) -> str:
    cells = next(csv.reader([row]))
    cells[HISTORY_COLUMNS.index(column)] = value
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow(cells)
    return buf.getvalue()


def _h_edit(column: str, value: str, at: int = 3) -> Any:
    def make(src: list[str]) -> tuple[str, int]:
        return "\n".join([*src[: at - 1], _h_set(src[at - 1], column, value), *src[at:]]), at

    return make


def _h_no_to_state(src: list[str]) -> tuple[str, int]:
    k = HISTORY_COLUMNS.index("to_state")
    rows = [next(csv.reader([ln])) for ln in src]
    return "\n".join(",".join(f'"{c}"' for i, c in enumerate(r) if i != k) for r in rows), 1


def _h_cut(src: list[str]) -> tuple[str, int]:
    return "\n".join([*src[:4], src[4][: len(src[4]) // 3]]), 5


@pytest.mark.parametrize(
    ("make", "expect"),
    [
        (
            _h_no_to_state,
            r"{p}:1: missing column\(s\) to_state; expected the fleet dashboard's transitions history export "
            r"\(host_id,hostname,product,at,actor,from_state,to_state,flag,note,report_id\)",
        ),
        (
            _h_edit("to_state", "uninstalled"),
            r"{p}:{n}: unknown to_state 'uninstalled' \(the fleet server records",
        ),
        (_h_edit("from_state", "gone"), r"{p}:{n}: unknown from_state 'gone'"),
        (_h_edit("at", "2025-13-45T25:00"), r"{p}:{n}: at: not an ISO 8601 date-time: '2025-13-45T25:00'"),
        (_h_edit("actor", ""), r"{p}:{n}: actor is empty"),
        (
            _h_edit("report_id", "seventeen", at=2),
            r"{p}:{n}: report_id: expected a report number, not 'seventeen'",
        ),
        (_h_cut, r"{p}:{n}: \d+ field\(s\) where the header has 10 \(truncated or hand-edited file\?\)"),
    ],
)
def test_bad_history_csv_is_one_line_naming_file_and_line(
    board: Board, tmp_path: Path, make: Any, expect: str
) -> None:
    p = tmp_path / "history.csv"
    content, line = make(_history_lines(board))
    p.write_text(content, encoding="utf-8")
    pattern = expect.replace("{p}", re.escape(str(p))).replace("{n}", str(line))
    with pytest.raises(ReportInputError, match=pattern):
        load_transitions(p)
    res = _run(estate_files()[1], "--document", "bod", "--format", "md", "--transitions", p)
    assert res.exit_code == 2
    assert res.output.startswith(f"banscan: error: {p}:") and res.output.count("\n") == 1, res.output


def test_bad_history_json_is_one_line_naming_file_and_item(board: Board, tmp_path: Path) -> None:
    data = json.loads(board.history_json.read_text(encoding="utf-8"))
    items = data["items"]
    cases: list[tuple[str, Any, str]] = [
        (
            "no-to-state.json",
            {
                **data,
                "items": [*items[:2], {k: v for k, v in items[2].items() if k != "to_state"}],
                "count": 3,
            },
            r"{p}: item 3: missing to_state \(the transitions history export has hostname, product, at, actor",
        ),
        (
            "number.json",
            {**data, "items": [{**items[0], "actor": 7.5}], "count": 1},
            r"{p}: item 1: actor: expected text, not float",
        ),
        ("short.json", {**data, "count": 99}, r"{p}:1: `count` is 99 but 19 item\(s\) follow"),
    ]
    for name, content, expect in cases:
        p = tmp_path / name
        p.write_text(json.dumps(content), encoding="utf-8")
        with pytest.raises(ReportInputError, match=expect.replace("{p}", re.escape(str(p)))):
            load_transitions(p)
        res = _run(
            estate_files()[1], "--document", "far", "--far-context", far_context_file(), "--transitions", p
        )
        assert res.exit_code == 2, name
        assert res.output.startswith(f"banscan: error: {p}") and res.output.count("\n") == 1, res.output
