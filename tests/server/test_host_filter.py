"""The API's host list and the dashboard's host list (and its downloads) are one filter: every
filter value selects the same hosts on both, including those only one side had before
(`os=unknown`, `state`, `overdue`)."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import ENROLL_SECRET, Fleet, at

T1 = "2025-03-01T10:00:00+00:00"


def _enroll(fleet: Fleet, identifier: str, hostname: str, platform: str) -> tuple[int, str]:
    r = fleet.client.post(
        "/api/v1/enroll",
        json={
            "enroll_secret": ENROLL_SECRET,
            "host_identifier": identifier,
            "hostname": hostname,
            "platform": platform,
        },
    )
    assert r.status_code == 201, r.text
    return r.json()["host_id"], r.json()["token"]


@pytest.fixture
def estate(fleet: Fleet, results: dict[str, Any]) -> dict[str, int]:
    """A dirty Linux host, a clean Windows host, and a dirty host that sent no platform."""
    ids = {}
    for name, platform, result in (
        ("lin-dirty", "linux", results["dirty"]),
        ("win-clean", "windows", results["clean"]),
        ("bare-dirty", "", results["dirty"]),
    ):
        host_id, token = _enroll(fleet, f"id-{name}", name, platform)
        sent = at(result, T1)
        sent["hosts"] = [name]
        for f in sent["findings"]:
            f["host"] = name
        if not platform:  # a result that does not say the OS either (an inventory, say)
            for t in sent["targets"]:
                t["format"] = "osquery"
        assert fleet.report(token, sent).status_code == 201
        ids[name] = host_id
    return ids


def _api(fleet: Fleet, **params: Any) -> list[int]:
    return [h["id"] for h in fleet.get("/api/v1/hosts", limit=100, **params)["items"]]


def _dashboard(fleet: Fleet, **params: Any) -> list[int]:
    r = fleet.client.get("/hosts.json", params=params, headers=fleet.as_admin())
    assert r.status_code == 200, r.text
    return [h["id"] for h in r.json()["items"]]


CASES: list[dict[str, Any]] = [
    {},
    {"verdict": "covered"},
    {"os": "linux"},
    {"os": "unknown"},
    {"state": "found"},
    {"state": "removed"},
    {"search": "dirty"},
    {"q": "WIN"},
    {"product": "kesl", "os": "LINUX"},
    {"overdue": "1"},
]


@pytest.mark.parametrize("params", CASES, ids=lambda p: "&".join(f"{k}={v}" for k, v in p.items()) or "all")
def test_api_and_dashboard_select_the_same_hosts(
    fleet: Fleet, estate: dict[str, int], params: dict[str, Any]
) -> None:
    assert _api(fleet, **params) == _dashboard(fleet, **params)


def test_filters_select_what_they_say(fleet: Fleet, estate: dict[str, int]) -> None:
    assert _api(fleet, os="unknown") == [estate["bare-dirty"]]
    assert _api(fleet, state="found") == sorted([estate["lin-dirty"], estate["bare-dirty"]])
    assert _api(fleet, state="removed") == []
    assert _api(fleet, search="win") == [estate["win-clean"]]
    # role "user" (the server's default) owes nothing by a date: nothing is overdue
    assert _api(fleet, overdue="1") == []
    items = fleet.get("/api/v1/hosts", state="found")["items"]
    assert items and all(set(item["transitions"]) == {"found"} for item in items)


def test_unknown_values_are_refused_and_blank_ones_ignored(fleet: Fleet, estate: dict[str, int]) -> None:
    headers = fleet.as_admin()
    r = fleet.client.get("/api/v1/hosts", params={"verdict": "bogus"}, headers=headers)
    assert r.status_code == 422 and "unknown verdict" in r.text
    r = fleet.client.get("/api/v1/hosts", params={"state": "gone"}, headers=headers)
    assert r.status_code == 422 and "unknown state" in r.text
    assert len(_api(fleet, verdict="", state="", os="")) == 3
