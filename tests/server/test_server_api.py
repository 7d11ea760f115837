"""The fleet server's HTTP API on SQLite and on PostgreSQL: enrolment, reports (idempotent,
order-safe, validated, size-capped), reading, transitions, imports, auth and limits."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from sqlalchemy import func, select, text

from banscan.server.limits import RateLimit
from banscan.server.state import ServerSettings
from banscan.store.db import make_engine
from banscan.store.models import Base, Finding, Report, Transition, TransitionEvent

from .conftest import ADMIN_PASSWORD, ENROLL_SECRET, Fleet, at, body, make_admin

T1 = "2025-03-01T10:00:00+00:00"
T2 = "2025-03-02T10:00:00+00:00"
T3 = "2025-03-03T10:00:00+00:00"


def count(db_url: str, model: type[Base], *where: Any) -> int:
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(model).where(*where)).scalar_one())
    finally:
        engine.dispose()


# ---------------------------------------------------------------- enrolment


def test_enroll_right_secret_gives_token_wrong_secret_403(fleet: Fleet) -> None:
    host_id, token = fleet.enroll()
    assert host_id >= 1 and token.startswith("bsa_") and len(token) > 40
    r = fleet.client.post(
        "/api/v1/enroll",
        json={"enroll_secret": "guess", "host_identifier": "h", "hostname": "h", "platform": "linux"},
    )
    assert r.status_code == 403 and "secret" in r.json()["detail"]


def test_enroll_disabled_without_secret(fleet_factory: Callable[..., Fleet]) -> None:
    f = fleet_factory(enroll_secret=None)
    r = f.client.post(
        "/api/v1/enroll",
        json={"enroll_secret": ENROLL_SECRET, "host_identifier": "h", "hostname": "h", "platform": "linux"},
    )
    assert r.status_code == 403 and "disabled" in r.json()["detail"]


def test_reenrolling_with_the_token_revokes_the_old_token(fleet: Fleet, results: dict[str, Any]) -> None:
    host1, old = fleet.enroll("same-machine")
    host2, new = fleet.enroll("same-machine", token=old)
    assert host1 == host2 and old != new
    assert fleet.report(old, at(results["dirty"], T1)).status_code == 401
    assert fleet.report(new, at(results["dirty"], T1)).status_code == 201


# ---------------------------------------------------------------- reports


def test_report_stores_host_and_findings(fleet: Fleet, results: dict[str, Any]) -> None:
    host_id, token = fleet.enroll()
    r = fleet.report(token, at(results["dirty"], T1))
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["host_id"] == host_id and not out["duplicate"] and out["applied"]
    host = fleet.get(f"/api/v1/hosts/{host_id}")
    assert host["hostname"] == "srv-app-01" and host["platform"] == "linux"
    assert host["last_report_id"] == out["report_id"]
    assert host["worst_verdict"] == "covered"
    products = {f["product"]: f for f in host["finding_list"]}
    assert {"kesl", "ksc-network-agent", "ksc-linux"} <= set(products)
    kesl = products["kesl"]
    assert kesl["verdict"] == "covered" and kesl["present"] and kesl["version"] == "12.1.0.1297"
    assert kesl["first_seen"].startswith("2025-03-01T10:00:00")
    assert any(e["kind"] == "package" and e["value"] == "kesl" for e in kesl["evidence"])
    assert kesl["transition"]["state"] == "found"
    assert kesl["transition"]["history"][0]["to"] == "found"
    raw = fleet.client.get(f"/api/v1/reports/{out['report_id']}", headers=fleet.as_admin())
    assert raw.status_code == 200 and raw.content == body(at(results["dirty"], T1))


def test_resending_is_idempotent(fleet: Fleet, results: dict[str, Any]) -> None:
    _, token = fleet.enroll()
    result = at(results["dirty"], T1)
    first = fleet.report(token, result)
    again = fleet.report(token, result)
    # Same content, different key order and whitespace: still the same result.
    reordered = json.dumps(dict(reversed(list(result.items()))), indent=2).encode()
    third = fleet.report(token, reordered)
    assert first.status_code == 201 and again.status_code == 200 and third.status_code == 200
    assert first.json()["report_id"] == again.json()["report_id"] == third.json()["report_id"]
    assert again.json()["duplicate"] is True
    assert count(fleet.db_url, Report) == 1
    n = len({f["product"] for f in result["findings"]})
    assert count(fleet.db_url, Finding) == n
    assert count(fleet.db_url, Transition) == n
    assert count(fleet.db_url, TransitionEvent) == n


def test_older_result_is_kept_but_does_not_roll_back(fleet: Fleet, results: dict[str, Any]) -> None:
    host_id, token = fleet.enroll()
    newer = fleet.report(token, at(results["dirty"], T2))
    older = fleet.report(token, at(results["clean"], T1))
    assert newer.status_code == 201 and older.status_code == 201
    assert older.json()["applied"] is False and older.json()["report_id"] != newer.json()["report_id"]
    host = fleet.get(f"/api/v1/hosts/{host_id}")
    assert host["last_report_id"] == newer.json()["report_id"]
    assert host["last_generated_at"].startswith("2025-03-02T10:00:00")
    assert all(f["present"] for f in host["finding_list"])
    assert {f["transition"]["state"] for f in host["finding_list"]} == {"found"}
    assert all(f["transition"]["flag"] is None for f in host["finding_list"])
    assert {r["id"] for r in host["reports"]} == {newer.json()["report_id"], older.json()["report_id"]}
    # An older sighting moves first_seen earlier, and nothing else.
    older_dirty = fleet.report(token, at(results["dirty"], T1))
    assert older_dirty.json()["applied"] is False
    kesl = next(f for f in fleet.get(f"/api/v1/hosts/{host_id}")["finding_list"] if f["product"] == "kesl")
    assert kesl["first_seen"].startswith("2025-03-01T10:00:00")
    assert kesl["last_seen"].startswith("2025-03-02T10:00:00")


@pytest.mark.parametrize(
    ("payload", "status", "reason"),
    [
        (b"{not json", 400, "malformed JSON at line 1 column 2"),
        (b"", 400, "empty body"),
        (b"\xff\xfe{}", 400, "not UTF-8"),
        (b'{"schema": NaN}', 400, "NaN"),
        (b"[1, 2]", 422, "expected a JSON object"),
        (b'{"schema": "banscan/result/v1"}', 422, "is a required property"),
    ],
)
def test_malformed_reports_are_4xx_with_reason(
    fleet: Fleet, payload: bytes, status: int, reason: str
) -> None:
    _, token = fleet.enroll()
    r = fleet.report(token, payload)
    assert r.status_code == status, r.text
    assert reason in r.json()["detail"]


def test_schema_invalid_report_names_the_path(fleet: Fleet, results: dict[str, Any]) -> None:
    _, token = fleet.enroll()
    bad = at(results["dirty"], T1)
    bad["findings"][1]["verdict"] = "banned-ish"
    r = fleet.report(token, bad)
    assert r.status_code == 422
    assert r.json()["detail"].startswith("$.findings[1].verdict:")
    assert r.json()["errors"][0]["path"] == "$.findings[1].verdict"
    nul = at(results["dirty"], T1)
    nul["findings"][0]["evidence"][0]["value"] = "ke\u0000sl"
    r = fleet.report(token, nul)
    assert r.status_code == 422 and "NUL" in r.json()["detail"]
    r = fleet.report(token, at(results["dirty"], "yesterday-ish"))
    assert r.status_code == 422 and r.json()["detail"].startswith("$.generated_at")
    long_id = at(results["dirty"], T1)
    long_id["findings"][0]["product"] = "k" * 500
    assert fleet.report(token, long_id).status_code == 422
    assert count(fleet.db_url, Report) == 0


def test_oversize_report_is_413(fleet_factory: Callable[..., Fleet], results: dict[str, Any]) -> None:
    f = fleet_factory(ServerSettings(max_report_bytes=64 * 1024))
    _, token = f.enroll()
    big = at(results["dirty"], T1, padding="x" * 100_000)
    r = f.report(token, big)
    assert r.status_code == 413 and "limit" in r.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
        data = body(big)
        for i in range(0, len(data), 8192):
            yield data[i : i + 8192]

    r = f.client.post("/api/v1/report", content=chunks(), headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 413
    assert f.report(token, at(results["dirty"], T1)).status_code == 201
    assert count(f.db_url, Report) == 1


def test_missing_or_wrong_credentials_are_401(fleet: Fleet, results: dict[str, Any]) -> None:
    _, agent_token = fleet.enroll()
    r = fleet.client.post("/api/v1/report", content=body(results["dirty"]))
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert fleet.report("bsa_not-a-real-token", results["dirty"]).status_code == 401
    assert fleet.client.get("/api/v1/hosts").status_code == 401
    assert fleet.client.get("/api/v1/hosts", headers={"Authorization": "Bearer bst_nope"}).status_code == 401
    assert fleet.client.get("/api/v1/hosts", headers={"Authorization": "Basic abc"}).status_code == 401
    # An agent token reads nothing.
    r = fleet.client.get("/api/v1/hosts", headers={"Authorization": f"Bearer {agent_token}"})
    assert r.status_code == 401
    # An API token cannot post reports.
    assert fleet.report(fleet.api_token("admin"), results["dirty"]).status_code == 401


# ---------------------------------------------------------------- transitions


def test_viewer_cannot_write_a_transition(fleet: Fleet, results: dict[str, Any]) -> None:
    host_id, token = fleet.enroll()
    fleet.report(token, at(results["dirty"], T1))
    viewer = {"Authorization": f"Bearer {fleet.api_token('viewer')}"}
    assert fleet.client.get("/api/v1/hosts", headers=viewer).status_code == 200
    r = fleet.client.post(f"/api/v1/transitions/{host_id}/kesl", json={"state": "removed"}, headers=viewer)
    assert r.status_code == 403 and "admin" in r.json()["detail"]
    r = fleet.client.post("/api/v1/tokens", json={"name": "x", "role": "admin"}, headers=viewer)
    assert r.status_code == 403


def test_removal_lifecycle_ends_verified_by_a_clean_scan(fleet: Fleet, results: dict[str, Any]) -> None:
    host_id, token = fleet.enroll()
    admin = fleet.as_admin()
    assert fleet.report(token, at(results["dirty"], T1)).status_code == 201
    url = f"/api/v1/transitions/{host_id}/kesl"
    for state in ("replacement-installed", "removed"):
        r = fleet.client.post(url, json={"state": state, "note": f"ticket CHG-1: {state}"}, headers=admin)
        assert r.status_code == 200, r.text
        assert r.json()["state"] == state
    r = fleet.client.post(url, json={"state": "verified"}, headers=admin)
    assert r.status_code == 422  # only a clean re-scan verifies
    assert (
        fleet.client.post(
            f"/api/v1/transitions/{host_id}/no-such", json={"state": "removed"}, headers=admin
        ).status_code
        == 404
    )

    # A clean scan generated after the removal record verifies kesl; the other products
    # disappeared with no removal record and are flagged, not verified.
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC).replace(microsecond=0).isoformat()
    assert fleet.report(token, at(results["clean"], now)).status_code == 201
    findings = {f["product"]: f for f in fleet.get(f"/api/v1/hosts/{host_id}")["finding_list"]}
    kesl = findings["kesl"]
    assert kesl["present"] is False and kesl["gone_at"] is not None
    assert kesl["transition"]["state"] == "verified"
    history = [(h["from"], h["to"], h["actor"]) for h in kesl["transition"]["history"]]
    assert history[0] == (None, "found", "system")
    assert history[1][1] == "replacement-installed" and history[1][2].startswith("token:")
    assert history[2][1] == "removed"
    assert history[3] == ("removed", "verified", "system")
    assert kesl["transition"]["history"][1]["note"] == "ticket CHG-1: replacement-installed"
    other = findings["ksc-network-agent"]["transition"]
    assert other["state"] == "found" and other["flag"] == "gone-without-removal-record"
    assert fleet.get("/api/v1/findings", state="verified", present="false")["total"] == 1
    # Seen again later: back to found, flagged.
    later = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()  # the server refuses the future
    assert fleet.report(token, at(results["dirty"], later)).status_code == 201
    kesl = next(f for f in fleet.get(f"/api/v1/hosts/{host_id}")["finding_list"] if f["product"] == "kesl")
    assert kesl["present"] and kesl["transition"]["state"] == "found"
    assert kesl["transition"]["flag"] == "seen-after-removal"


# ---------------------------------------------------------------- reading


def _populate(fleet: Fleet, results: dict[str, Any], n: int) -> list[int]:
    ids = []
    for i in range(n):
        platform = "linux" if i % 2 == 0 else "windows"
        host_id, token = fleet.enroll(f"machine-{i:02d}", f"web-{i:02d}", platform)
        result = results["dirty"] if i % 3 == 0 else results["clean"]
        assert fleet.report(token, at(result, T1)).status_code == 201
        ids.append(host_id)
    return ids


def test_pagination_offset_and_cursor(fleet_factory: Callable[..., Fleet], results: dict[str, Any]) -> None:
    f = fleet_factory(ServerSettings(page_max=4))
    ids = _populate(f, results, 7)
    page1 = f.get("/api/v1/hosts", limit=3)
    assert page1["total"] == 7 and [h["id"] for h in page1["items"]] == ids[:3]
    page3 = f.get("/api/v1/hosts", limit=3, offset=6)
    assert [h["id"] for h in page3["items"]] == ids[6:] and page3["next_cursor"] is None
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = f.get("/api/v1/hosts", **params)
        seen += [h["id"] for h in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == ids
    assert f.get("/api/v1/hosts", limit=1000)["limit"] == 4  # capped
    r = f.client.get("/api/v1/hosts", params={"cursor": "garbage!"}, headers=f.as_admin())
    assert r.status_code == 400
    assert f.client.get("/api/v1/hosts", params={"limit": 0}, headers=f.as_admin()).status_code == 422
    findings = f.get("/api/v1/findings", limit=2)
    assert len(findings["items"]) == 2 and findings["next_cursor"]


def test_host_filters(fleet: Fleet, results: dict[str, Any]) -> None:
    ids = _populate(fleet, results, 6)  # dirty: 0, 3
    covered = fleet.get("/api/v1/hosts", verdict="covered")
    assert [h["id"] for h in covered["items"]] == [ids[0], ids[3]]
    assert fleet.get("/api/v1/hosts", product="kesl")["total"] == 2
    assert fleet.get("/api/v1/hosts", os="windows")["total"] == 3
    assert fleet.get("/api/v1/hosts", os="linux", verdict="covered")["total"] == 1
    assert [h["hostname"] for h in fleet.get("/api/v1/hosts", search="EB-04")["items"]] == ["web-04"]
    assert fleet.get("/api/v1/hosts", search="%")["total"] == 0  # wildcards are literal
    assert fleet.get("/api/v1/findings", product="kesl")["total"] == 2
    assert fleet.get("/api/v1/findings", host_id=ids[3], verdict="covered")["total"] >= 3
    r = fleet.client.get("/api/v1/hosts", params={"verdict": "bogus"}, headers=fleet.as_admin())
    assert r.status_code == 422


def test_summary(fleet: Fleet, results: dict[str, Any]) -> None:
    _populate(fleet, results, 4)  # dirty: 0, 3
    s = fleet.get("/api/v1/summary", as_of="2025-03-03")
    assert s["hosts"] == 4 and s["hosts_scanned"] == 4 and s["hosts_with_covered"] == 2
    products = {p["product"]: p for p in s["by_product"]}
    assert products["kesl"]["hosts"] == 2 and products["kesl"]["covered_hosts"] == 2
    assert {o["os"]: o["hosts_with_covered"] for o in s["by_os"]} == {"linux": 1, "windows": 1}
    assert (
        s["transitions"]["by_state"]["found"]
        == s["findings_by_verdict"]["covered"] + s["findings_by_verdict"]["review"]
    )
    assert s["obligations"]["by_status"]  # evaluated by the policy engine
    assert set(s["overdue"]) == {"findings", "hosts", "by_regulation"}
    # A role with deadlines: a federal contractor's reporting deadline passes.
    late = fleet.get("/api/v1/summary", as_of="2026-01-01", role="federal-contractor")
    assert late["overdue"]["hosts"] == 2 and late["overdue"]["findings"] >= 2


# ---------------------------------------------------------------- imports and tokens

TSV = (
    "Computer\tApp\tVendor\tVer\tSeen\n"
    "KIOSK-01\tKaspersky Security Center Network Agent\tAO Kaspersky Lab\t14.2.0.26967\t2024-12-30\n"
    "KIOSK-01\tVLC media player\tVideoLAN\t3.0.21\t2024-12-30\n"
    "KIOSK-02\tMozilla Firefox\tMozilla\t133.0.3\t2024-12-29\n"
)


def test_import_inventory_file(fleet_factory: Callable[..., Fleet]) -> None:
    f = fleet_factory(ServerSettings(max_import_bytes=4096))
    admin = f.as_admin()
    r = f.client.post("/api/v1/imports", files={"file": ("inventory.tsv", TSV.encode())}, headers=admin)
    assert r.status_code == 201, r.text
    hosts = {h["hostname"]: h for h in r.json()["hosts"]}
    assert set(hosts) == {"KIOSK-01", "KIOSK-02"}
    assert hosts["KIOSK-01"]["findings"] == 1 and hosts["KIOSK-02"]["findings"] == 0
    assert r.json()["targets"][0]["target"] == "inventory.tsv"
    listed = f.get("/api/v1/hosts", product="ksc-network-agent")
    assert [h["hostname"] for h in listed["items"]] == ["KIOSK-01"]
    assert listed["items"][0]["source"] == "import"
    again = f.client.post("/api/v1/imports", files={"file": ("inventory.tsv", TSV.encode())}, headers=admin)
    assert again.status_code == 201 and f.get("/api/v1/hosts")["total"] == 2
    big = f.client.post("/api/v1/imports", files={"file": ("big.tsv", TSV.encode() * 50)}, headers=admin)
    assert big.status_code == 413
    junk = f.client.post(
        "/api/v1/imports", files={"file": ("junk.bin", b"\x00\x01 nothing here")}, headers=admin
    )
    assert junk.status_code == 422
    viewer = {"Authorization": f"Bearer {f.api_token('viewer')}"}
    assert (
        f.client.post("/api/v1/imports", files={"file": ("i.tsv", TSV.encode())}, headers=viewer).status_code
        == 403
    )


def test_admin_creates_api_tokens(fleet: Fleet) -> None:
    r = fleet.client.post("/api/v1/tokens", json={"name": "siem", "role": "viewer"}, headers=fleet.as_admin())
    assert r.status_code == 201
    token = r.json()["token"]
    assert token.startswith("bst_")
    assert (
        fleet.client.get("/api/v1/summary", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    )
    assert (
        fleet.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()["role"]
        == "viewer"
    )


# ---------------------------------------------------------------- users, sessions, secrets


def test_no_default_admin_first_admin_from_cli(fleet: Fleet) -> None:
    for user, pw in [("admin", "admin"), ("admin", ""), ("root", "password"), ("admin", ADMIN_PASSWORD)]:
        r = fleet.login(user, pw)
        assert r.status_code in (401, 422), (user, r.status_code)
    assert count(fleet.db_url, Base.metadata.tables["users"]) == 0  # type: ignore[arg-type]
    make_admin(fleet.db_url)
    r = fleet.login("alice", ADMIN_PASSWORD)
    assert r.status_code == 200 and r.json()["role"] == "admin"
    assert fleet.login("alice", "wrong password!!").status_code == 401


def test_session_login_cookie_and_csrf(fleet: Fleet, results: dict[str, Any]) -> None:
    host_id, token = fleet.enroll()
    fleet.report(token, at(results["dirty"], T1))
    make_admin(fleet.db_url)
    # Login without the double-submit cookie is refused.
    r = fleet.client.post("/login", data={"username": "alice", "password": ADMIN_PASSWORD, "csrf_token": "x"})
    assert r.status_code == 403
    csrf_form = fleet.client.get("/api/v1/csrf").json()["csrf_token"]
    r = fleet.client.post(
        "/login",
        data={"username": "alice", "password": ADMIN_PASSWORD, "csrf_token": csrf_form, "next": "/hosts"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/hosts"
    cookie = r.headers["set-cookie"]
    assert "__Host-banscan_session=" in cookie and "HttpOnly" in cookie and "Secure" in cookie
    assert "samesite=lax" in cookie.lower()
    me = fleet.client.get("/api/v1/me").json()
    assert me["name"] == "alice" and me["csrf_token"]
    url = f"/api/v1/transitions/{host_id}/kesl"
    assert fleet.client.post(url, json={"state": "removed"}).status_code == 403
    wrong = fleet.client.post(url, json={"state": "removed"}, headers={"X-CSRF-Token": "nope"})
    assert wrong.status_code == 403
    ok = fleet.client.post(url, json={"state": "removed"}, headers={"X-CSRF-Token": me["csrf_token"]})
    assert ok.status_code == 200 and ok.json()["updated_by"] == "alice"
    # Form posts carry the token as a field.
    r = fleet.client.post("/logout", data={"csrf_token": me["csrf_token"]}, follow_redirects=False)
    assert r.status_code == 303
    assert fleet.client.get("/api/v1/me").status_code == 401
    # An open redirect through `next` is not possible.
    csrf_form = fleet.client.get("/api/v1/csrf").json()["csrf_token"]
    r = fleet.client.post(
        "/login",
        data={
            "username": "alice",
            "password": ADMIN_PASSWORD,
            "csrf_token": csrf_form,
            "next": "//evil.example",
        },
        follow_redirects=False,
    )
    assert r.headers["location"] == "/"


def test_secrets_are_stored_hashed(fleet: Fleet, results: dict[str, Any]) -> None:
    _, agent_token = fleet.enroll()
    fleet.report(agent_token, at(results["dirty"], T1))
    api_token = fleet.api_token("viewer")
    make_admin(fleet.db_url)
    login = fleet.login("alice", ADMIN_PASSWORD)
    session_cookie = fleet.client.cookies.get("__Host-banscan_session")
    assert login.status_code == 200 and session_cookie
    engine = make_engine(fleet.db_url)
    try:
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT password_hash FROM users")).scalar_one()
            dump = []
            for table in Base.metadata.sorted_tables:
                for row in conn.execute(table.select()):
                    dump.append(" ".join(str(v) for v in row))
    finally:
        engine.dispose()
    assert stored.startswith("$argon2id$")
    everything = "\n".join(dump)
    for secret in (agent_token, api_token, session_cookie, ADMIN_PASSWORD, ENROLL_SECRET):
        assert secret not in everything


def test_rate_limit_429(fleet_factory: Callable[..., Fleet], results: dict[str, Any]) -> None:
    f = fleet_factory(
        ServerSettings(
            user_rate_limit=RateLimit(rate=0.01, burst=3), agent_rate_limit=RateLimit(rate=0.01, burst=2)
        )
    )
    admin = f.as_admin()
    codes = [f.client.get("/api/v1/hosts", headers=admin).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    r = f.client.get("/api/v1/hosts", headers=admin)
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    # Per token: another token is unaffected.
    assert (
        f.client.get("/api/v1/hosts", headers={"Authorization": f"Bearer {f.api_token()}"}).status_code == 200
    )
    _, token = f.enroll()
    codes = [f.report(token, at(results["dirty"], T1)).status_code for _ in range(3)]
    assert codes == [201, 200, 429]


def test_openapi_and_docs(fleet: Fleet) -> None:
    spec = fleet.client.get("/openapi.json").json()
    for path in (
        "/api/v1/enroll",
        "/api/v1/report",
        "/api/v1/hosts",
        "/api/v1/summary",
        "/api/v1/imports",
        "/login",
    ):
        assert path in spec["paths"], path
    assert fleet.client.get("/docs").status_code == 404  # only with --api-docs: test_app_headers.py
    assert fleet.client.get("/healthz").json()["status"] == "ok"


def test_openapi_refs_resolve_and_the_report_body_schema_is_the_result_schema(
    fleet: Fleet, results: dict[str, Any]
) -> None:
    spec = fleet.client.get("/openapi.json").json()

    def refs(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                yield node["$ref"]
            for v in node.values():
                yield from refs(v)
        elif isinstance(node, list):
            for v in node:
                yield from refs(v)

    for ref in set(refs(spec)):
        assert ref.startswith("#/"), ref  # nothing a client would have to fetch
        target: Any = spec
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        assert isinstance(target, dict), ref
    body = spec["paths"]["/api/v1/report"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    validator = Draft202012Validator(body)
    assert validator.is_valid(results["dirty"]) and validator.is_valid(results["clean"])
    assert not validator.is_valid({**results["dirty"], "findings": "none"})


def test_migrations_match_the_models(db_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from banscan.store.migrate import current_revision, head_revision, upgrade_db

    upgrade_db(db_url)
    upgrade_db(db_url)  # idempotent
    assert current_revision(db_url) == head_revision()
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
            )
    finally:
        engine.dispose()
    assert diff == []


def test_hostile_inputs_are_4xx_never_500(fleet: Fleet, results: dict[str, Any]) -> None:
    host_id, token = fleet.enroll()
    admin = {**fleet.as_admin(), "Content-Type": "application/json"}
    valid = body(at(results["dirty"], T1))
    checks = [
        fleet.report(token, valid[:-1] + b', "extra": 1e999}'),
        fleet.report(token, valid.replace(b'"kesl"', b'"\\ud800"', 1)),
        fleet.report(token, at(results["dirty"], "0001-01-01T00:00:00+23:59")),
        fleet.client.get("/api/v1/hosts?search=a%00b", headers=admin),
        fleet.client.get("/api/v1/hosts/99999999999999999999", headers=admin),
        fleet.client.get("/api/v1/findings?host_id=99999999999", headers=admin),
        fleet.client.post(
            f"/api/v1/transitions/{host_id}/kesl",
            content=b'{"state":"removed","note":"\\ud800"}',
            headers=admin,
        ),
        fleet.client.post(
            "/api/v1/enroll",
            content=b'{"enroll_secret":"x","host_identifier":"a\\ud800","hostname":"x"}',
            headers={"Content-Type": "application/json"},
        ),
    ]
    codes = [r.status_code for r in checks]
    assert all(400 <= c < 500 for c in codes), codes
    csrf = fleet.client.get("/api/v1/csrf").json()["csrf_token"]
    r = fleet.client.post(
        "/login", data={"username": "a\x00", "password": "x", "csrf_token": csrf}, follow_redirects=False
    )
    # A failed form login goes back to the form with an error flag, and starts no session.
    assert r.status_code == 303 and r.headers["location"].startswith("/login?error=1")
    assert "set-cookie" not in r.headers or "session" not in r.headers["set-cookie"]
    r = fleet.client.post("/login", data={"username": "u", "password": "p" * 5000, "csrf_token": csrf})
    assert r.status_code == 422 and "p" * 100 not in r.text  # the password is not echoed back
