"""The same removal step for several findings of a host at once, with one note: through the API
(`POST /api/v1/hosts/{host_id}/transitions`) and the host page's form (`POST
/hosts/{host_id}/transitions`), on SQLite and PostgreSQL. All or nothing: an unknown product or a
refused step leaves every record, its history and the audit log as they were; each recorded step
is kept and audited as a single product's step is. Also: the host page names obligations by
their regulation and the removal board shows each card's verdict."""

from __future__ import annotations

import copy
import re
import warnings
from typing import Any

import pytest
from sqlalchemy import insert, select, update

from banscan.removal import FLAG_NEW_AGENT, STATES
from banscan.store.accounts import create_user
from banscan.store.board import BULK_STATES, StepRefused, UnknownItems, bulk_step_problem
from banscan.store.models import AuditEntry, Transition, TransitionEvent

from .conftest import ADMIN_PASSWORD, Fleet, at, make_admin

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

T1 = "2025-03-01T10:00:00+00:00"
TRACKED = ["kesl", "ksc-linux", "ksc-network-agent"]  # the dirty Linux root's findings


def with_informational(result: dict[str, Any]) -> dict[str, Any]:
    """`result` with an informational finding (UltraAV): a finding, never a removal item."""
    out = copy.deepcopy(result)
    f = copy.deepcopy(next(f for f in out["findings"] if f["product"] == "kesl"))
    f.update(product="ultraav", product_name="UltraAV", vendor="Pango Group", verdict="informational")
    f.update(confidence="strong", obligations=[], version=None)
    out["findings"].append(f)
    return out


def dirty_host(fleet: Fleet, results: dict[str, Any], identifier: str = "bulk-1") -> int:
    host_id, token = fleet.enroll(identifier, f"srv-{identifier}", "linux")
    assert fleet.report(token, at(with_informational(results["dirty"]), T1)).status_code == 201
    return host_id


def bulk(fleet: Fleet, host_id: int, headers: dict[str, str] | None = None, **payload: Any) -> Any:
    return fleet.client.post(
        f"/api/v1/hosts/{host_id}/transitions",
        json=payload,
        headers=fleet.as_admin() if headers is None else headers,
    )


def records(fleet: Fleet, host_id: int) -> dict[str, tuple[str, str | None, str]]:
    """Each removal record of the host: state, flag, who moved it last."""
    with fleet.app.state.banscan.db.reading() as s:
        rows = s.scalars(select(Transition).where(Transition.host_id == host_id))
        return {t.product: (t.state, t.flag, t.updated_by) for t in rows}


def steps(fleet: Fleet, host_id: int) -> list[tuple[str, str, str | None, str, str]]:
    """Every recorded step of the host's removals: product, actor, from, to, note."""
    with fleet.app.state.banscan.db.reading() as s:
        rows = s.execute(
            select(Transition.product, TransitionEvent)
            .join(Transition, Transition.id == TransitionEvent.transition_id)
            .where(Transition.host_id == host_id)
            .order_by(TransitionEvent.id)
        )
        return [(p, e.actor, e.from_state, e.to_state, e.note) for p, e in rows]


def audited(fleet: Fleet) -> list[tuple[str, str, str, dict[str, Any]]]:
    with fleet.app.state.banscan.db.reading() as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.action == "transition").order_by(AuditEntry.id))
        return [(a.actor, a.action, a.target, dict(a.detail)) for a in rows]


def everything(fleet: Fleet, host_id: int) -> tuple[Any, ...]:
    return records(fleet, host_id), steps(fleet, host_id), audited(fleet)


def set_record(fleet: Fleet, host_id: int, product: str, **values: Any) -> None:
    with fleet.app.state.banscan.db.writing() as s:
        s.execute(
            update(Transition)
            .where(Transition.host_id == host_id, Transition.product == product)
            .values(**values)
        )


def token_name(fleet: Fleet, headers: dict[str, str]) -> str:
    r = fleet.client.get("/api/v1/me", headers=headers)
    assert r.status_code == 200, r.text
    name: str = r.json()["name"]
    return name


# ---------------------------------------------------------------- the rule


@pytest.mark.parametrize(
    ("state", "flag", "to_state", "refused"),
    [
        ("found", None, "replacement-installed", None),
        ("found", None, "removed", None),
        ("found", "gone-without-removal-record", "removed", None),
        ("replacement-installed", None, "removed", None),
        ("replacement-installed", None, "replacement-installed", "already replacement-installed"),
        ("removed", None, "removed", "already removed"),
        ("removed", FLAG_NEW_AGENT, "removed", None),  # recorded again, a new agent may verify it
        ("removed", None, "replacement-installed", "step back"),
        ("removed", FLAG_NEW_AGENT, "replacement-installed", "step back"),
        ("verified", None, "removed", "already verified"),
        ("verified", None, "replacement-installed", "already verified"),
        ("found", None, "found", "with others"),
        ("found", None, "verified", "with others"),
    ],
)
def test_steps_for_several_products_go_forward_only(
    state: str, flag: str | None, to_state: str, refused: str | None
) -> None:
    why = bulk_step_problem(state, flag, to_state)
    if refused is None:
        assert why is None
    else:
        assert why is not None and refused in why


def test_the_states_offered_are_removal_states() -> None:
    assert set(BULK_STATES) < set(STATES) and "verified" not in BULK_STATES


def test_a_refusal_names_ten_products_and_counts_the_rest() -> None:
    many = [f"product-{i:02d}" for i in range(25)]
    text = str(UnknownItems(many))
    assert "product-09" in text and "product-10" not in text and text.endswith("and 15 more")
    text = str(StepRefused([(p, "is already removed") for p in many[:11]]))
    assert text.count("is already removed") == 10 and text.endswith("; and 1 more")


# ---------------------------------------------------------------- the API


def test_one_request_records_each_step_with_one_note(fleet: Fleet, results: dict[str, Any]) -> None:
    host_id = dirty_host(fleet, results)
    admin = fleet.as_admin()
    actor = token_name(fleet, admin)
    before = steps(fleet, host_id)

    r = bulk(
        fleet, host_id, products=["kesl", "ksc-linux"], state="replacement-installed", note="EDR-9 rolled out"
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["host_id"] == host_id and body["state"] == "replacement-installed" and body["count"] == 2
    assert [(i["product"], i["state"], i["updated_by"]) for i in body["items"]] == [
        ("kesl", "replacement-installed", actor),
        ("ksc-linux", "replacement-installed", actor),
    ]
    assert records(fleet, host_id) == {
        "kesl": ("replacement-installed", None, actor),
        "ksc-linux": ("replacement-installed", None, actor),
        "ksc-network-agent": ("found", None, "system"),
    }
    new = steps(fleet, host_id)[len(before) :]
    assert new == [
        ("kesl", actor, "found", "replacement-installed", "EDR-9 rolled out"),
        ("ksc-linux", actor, "found", "replacement-installed", "EDR-9 rolled out"),
    ]
    assert audited(fleet) == [
        (actor, "transition", f"{host_id}/kesl", {"state": "replacement-installed", "batch": 2}),
        (actor, "transition", f"{host_id}/ksc-linux", {"state": "replacement-installed", "batch": 2}),
    ]

    # the next step for all three: two from replacement-installed, one straight from found;
    # a product named twice is recorded once
    r = bulk(fleet, host_id, products=[*TRACKED, "kesl"], state="removed", note="uninstalled, OPS-12")
    assert r.status_code == 200, r.text
    assert r.json()["count"] == 3
    assert {p: s for p, (s, _, _) in records(fleet, host_id).items()} == dict.fromkeys(TRACKED, "removed")
    last = steps(fleet, host_id)[-3:]
    assert [(p, f, t, n) for p, _, f, t, n in last] == [
        ("kesl", "replacement-installed", "removed", "uninstalled, OPS-12"),
        ("ksc-linux", "replacement-installed", "removed", "uninstalled, OPS-12"),
        ("ksc-network-agent", "found", "removed", "uninstalled, OPS-12"),
    ]
    # the host's page in the API shows the steps in each product's history
    host = fleet.get(f"/api/v1/hosts/{host_id}")
    kesl = next(f for f in host["finding_list"] if f["product"] == "kesl")
    assert [e["note"] for e in kesl["transition"]["history"]][-2:] == [
        "EDR-9 rolled out",
        "uninstalled, OPS-12",
    ]


def test_one_refused_step_refuses_the_whole_request(fleet: Fleet, results: dict[str, Any]) -> None:
    host_id = dirty_host(fleet, results)
    r = fleet.client.post(
        f"/api/v1/transitions/{host_id}/kesl", json={"state": "removed", "note": ""}, headers=fleet.as_admin()
    )
    assert r.status_code == 200
    set_record(fleet, host_id, "ksc-network-agent", state="verified")
    before = everything(fleet, host_id)

    r = bulk(fleet, host_id, products=["ksc-linux", "kesl"], state="replacement-installed", note="x")
    assert r.status_code == 409
    detail = r.json()["detail"]
    assert "Nothing recorded" in detail and "kesl is already removed" in detail and "ksc-linux" not in detail
    r = bulk(fleet, host_id, products=["ksc-linux", "kesl", "ksc-network-agent"], state="removed", note="x")
    assert r.status_code == 409
    detail = r.json()["detail"]
    assert "kesl is already removed" in detail and "ksc-network-agent is already verified" in detail
    assert everything(fleet, host_id) == before

    # a removal a new agent's clean scan could not verify may be recorded again (and unflagged)
    set_record(fleet, host_id, "kesl", flag=FLAG_NEW_AGENT)
    r = bulk(fleet, host_id, products=["kesl", "ksc-linux"], state="removed", note="recorded again")
    assert r.status_code == 200, r.text
    assert records(fleet, host_id)["kesl"][:2] == ("removed", None)
    assert records(fleet, host_id)["ksc-linux"][0] == "removed"


def test_unknown_products_and_hosts_refuse_the_whole_request(fleet: Fleet, results: dict[str, Any]) -> None:
    host_id = dirty_host(fleet, results)
    other = dirty_host(fleet, results, "bulk-2")
    # a stray removal record of the informational product (left from before): still not an item
    with fleet.app.state.banscan.db.writing() as s:
        s.execute(
            insert(Transition).values(host_id=host_id, product="ultraav", state="found", updated_by="x")
        )
    before = everything(fleet, host_id)

    r = bulk(fleet, host_id, products=["kesl", "no-such-product"], state="removed")
    assert (
        r.status_code == 404 and "no-such-product" in r.json()["detail"] and "kesl" not in r.json()["detail"]
    )
    r = bulk(fleet, host_id, products=["kesl", "ultraav"], state="removed")
    assert r.status_code == 404 and "ultraav" in r.json()["detail"]
    assert bulk(fleet, 999_999, products=["kesl"], state="removed").status_code == 404
    assert everything(fleet, host_id) == before
    assert records(fleet, other) == dict.fromkeys(TRACKED, ("found", None, "system"))

    payloads: list[dict[str, Any]] = [
        {"products": ["kesl"], "state": "verified"},
        {"products": ["kesl"], "state": "found"},
        {"products": [], "state": "removed"},
        {"products": [""], "state": "removed"},
        {"products": ["kesl"], "state": "removed", "note": "a\x00b"},
        {"products": ["kes\x00l"], "state": "removed"},
        {"products": ["x" * 201], "state": "removed"},
        {"products": ["kesl"], "state": "removed", "note": "n" * 4001},
        {"products": ["kesl"], "state": "removed", "extra": 1},
        {"products": "kesl", "state": "removed"},
        {"state": "removed"},
    ]
    for payload in payloads:
        assert bulk(fleet, host_id, **payload).status_code == 422, payload
    assert (
        fleet.client.post(
            "/api/v1/hosts/0/transitions",
            json={"products": ["kesl"], "state": "removed"},
            headers=fleet.as_admin(),
        ).status_code
        == 422
    )
    assert everything(fleet, host_id) == before


def test_only_admins_record_steps(fleet: Fleet, results: dict[str, Any]) -> None:
    host_id = dirty_host(fleet, results)
    agent = fleet.tokens["bulk-1"]
    before = everything(fleet, host_id)
    payload = {"products": ["kesl"], "state": "removed", "note": "not mine to say"}
    viewer = bulk(fleet, host_id, {"Authorization": f"Bearer {fleet.api_token('viewer')}"}, **payload)
    assert viewer.status_code == 403 and "admin" in viewer.text
    assert bulk(fleet, host_id, {}, **payload).status_code == 401
    assert bulk(fleet, host_id, {"Authorization": f"Bearer {agent}"}, **payload).status_code in (401, 403)
    assert everything(fleet, host_id) == before


def test_the_route_is_described_for_admins(fleet: Fleet) -> None:
    spec = fleet.client.get("/openapi.json").json()
    op = spec["paths"]["/api/v1/hosts/{host_id}/transitions"]["post"]
    assert op["tags"] == ["admin"] and op["operationId"]
    ids = [o["operationId"] for p in spec["paths"].values() for o in p.values()]
    assert len(ids) == len(set(ids))


# ---------------------------------------------------------------- the host page


def browser(fleet: Fleet) -> TestClient:
    return TestClient(fleet.app, base_url="https://testserver")


def login(client: TestClient, username: str) -> str:
    """Log in through the form; the session's CSRF token."""
    csrf = client.get("/api/v1/csrf").json()["csrf_token"]
    r = client.post(
        "/login",
        data={"username": username, "password": ADMIN_PASSWORD, "csrf_token": csrf},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    m = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").text)
    assert m
    return m.group(1)


def test_the_host_page_records_ticked_findings_with_csrf(fleet: Fleet, results: dict[str, Any]) -> None:
    host_id = dirty_host(fleet, results)
    make_admin(fleet.db_url)
    create_user(fleet.db_url, "vera", ADMIN_PASSWORD, "viewer")
    a = browser(fleet)
    csrf = login(a, "alice")
    page = a.get(f"/hosts/{host_id}").text
    assert f'action="/hosts/{host_id}/transitions" id="bulk-form"' in page
    ticks = re.findall(r'<input type="checkbox" form="bulk-form" name="product" value="([^"]+)"', page)
    assert sorted(ticks) == sorted(TRACKED)  # none for the informational product
    form = {"product": ["kesl", "ksc-linux"], "state": "removed", "note": "OPS-7 <done>"}
    before = everything(fleet, host_id)

    # without the CSRF token, with a wrong one, or as a viewer: refused, nothing changed
    assert a.post(f"/hosts/{host_id}/transitions", data=form, follow_redirects=False).status_code == 403
    wrong = {**form, "csrf_token": "not-the-token"}
    r = a.post(f"/hosts/{host_id}/transitions", data=wrong, follow_redirects=False)
    assert r.status_code == 403 and "CSRF" in r.text
    v = browser(fleet)
    v_csrf = login(v, "vera")
    assert "bulk-form" not in v.get(f"/hosts/{host_id}").text
    r = v.post(f"/hosts/{host_id}/transitions", data={**form, "csrf_token": v_csrf}, follow_redirects=False)
    assert r.status_code == 403 and "admin" in r.text
    assert everything(fleet, host_id) == before

    # with it: both recorded with the one note, and the page says so
    r = a.post(f"/hosts/{host_id}/transitions", data={**form, "csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == f"/hosts/{host_id}?recorded=2&to=removed#findings"
    assert records(fleet, host_id) == {
        "kesl": ("removed", None, "alice"),
        "ksc-linux": ("removed", None, "alice"),
        "ksc-network-agent": ("found", None, "system"),
    }
    assert [(p, n) for p, _, _, _, n in steps(fleet, host_id)[-2:]] == [
        ("kesl", "OPS-7 <done>"),
        ("ksc-linux", "OPS-7 <done>"),
    ]
    assert [(actor, target) for actor, _, target, _ in audited(fleet)] == [
        ("alice", f"{host_id}/kesl"),
        ("alice", f"{host_id}/ksc-linux"),
    ]
    page = a.get(r.headers["location"]).text
    assert re.search(
        r'id="bulk-recorded"[^>]*>Recorded <span class="state removed">removed</span> for 2 findings', page
    )
    assert "OPS-7 &lt;done&gt;" in page and "OPS-7 <done>" not in page


def test_a_refused_request_shows_the_page_again_and_changes_nothing(
    fleet: Fleet, results: dict[str, Any]
) -> None:
    host_id = dirty_host(fleet, results)
    make_admin(fleet.db_url)
    a = browser(fleet)
    csrf = login(a, "alice")
    r = a.post(
        f"/hosts/{host_id}/transition",
        data={"product": "ksc-linux", "state": "removed", "note": "", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == f"/hosts/{host_id}?moved=ksc-linux#p-ksc-linux"
    # the product just moved opens on its history; the others stay folded
    page = a.get(r.headers["location"]).text
    assert "<details open>" in page[page.index('id="p-ksc-linux"') :].split("</section>")[0]
    assert page.count("<details open>") == 1
    before = everything(fleet, host_id)

    form = {
        "product": ["kesl", "ksc-linux"],
        "state": "replacement-installed",
        "note": "typed, not lost",
        "csrf_token": csrf,
    }
    r = a.post(f"/hosts/{host_id}/transitions", data=form, follow_redirects=False)
    assert r.status_code == 409
    error = re.search(r'<p class="error" id="bulk-error" role="alert">([^<]*)</p>', r.text)
    assert error and "ksc-linux is already removed" in error.group(1) and "kesl " not in error.group(1)
    ticked = re.findall(r'name="product" value="([^"]+)"[^>]*checked', r.text)
    assert sorted(ticked) == ["kesl", "ksc-linux"]
    assert ">typed, not lost</textarea>" in r.text
    assert re.search(r'<option value="replacement-installed" selected>', r.text)
    assert everything(fleet, host_id) == before

    refusals: list[tuple[dict[str, Any], int, str]] = [
        ({"product": ["kesl", "nope"], "state": "removed"}, 404, "nope"),
        ({"state": "removed"}, 400, "select at least one finding"),
        ({"product": "kesl", "state": "verified"}, 400, "verified comes from a clean scan"),
        ({"product": "kesl", "state": "found"}, 400, "replacement-installed or removed"),
    ]
    for data, status, words in refusals:
        r = a.post(f"/hosts/{host_id}/transitions", data={**data, "csrf_token": csrf}, follow_redirects=False)
        assert r.status_code == status and words in r.text, (data, r.status_code)
    r = a.post("/hosts/999999/transitions", data=form, follow_redirects=False)
    assert r.status_code == 404
    assert everything(fleet, host_id) == before


# ---------------------------------------------------------------- names and verdicts


def test_the_host_page_names_regulations_and_the_board_shows_verdicts(
    fleet: Fleet, results: dict[str, Any]
) -> None:
    host_id = dirty_host(fleet, results)
    make_admin(fleet.db_url)
    a = browser(fleet)
    login(a, "alice")
    page = a.get(f"/hosts/{host_id}").text
    row = page[page.index('id="p-kesl"') :].split("</section>")[0]
    cell = row[row.index("fc-obligations") : row.index("fc-removal")]
    assert (
        '<span class="reg-name" title="bis-icts-2024-kaspersky">BIS ICTS Final Determination (Kaspersky)</span>'
        in cell
    )
    assert ">bis-icts-2024-kaspersky<" not in cell  # the id stays copyable, in the title
    assert cell.count('class="reg-name"') == 1  # one name per regulation, however many obligations
    board = a.get("/transitions").text
    cards = re.findall(
        r'<article class="card-item[^"]*" data-product="([^"]+)"[^>]*>(.*?)</article>', board, re.S
    )
    assert sorted(p for p, _ in cards) == sorted(TRACKED)
    for _, card in cards:
        assert re.search(r'<span class="verdict covered" title="verdict: covered">covered</span>', card)
