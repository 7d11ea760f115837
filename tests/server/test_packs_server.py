"""The fleet server on a pack it has no code for: a fictional ban dropped into the server's
catalog is judged on reports, shown on the dashboard and the explainer, and counted by the API;
beside the Kaspersky pack, the dashboard and the API filter, split and group by pack."""

from __future__ import annotations

import copy
import csv
import dataclasses
import datetime as dt
import io
import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from banscan.catalog.loader import default_catalog_dir, load_catalog
from banscan.scan import ScanOptions, run_scan
from banscan.server.state import ServerSettings

from .conftest import Fleet, at

PACK = Path(__file__).parent.parent / "fixtures" / "packs" / "zephyr-ban"
ZEPHYR = "zephyr-ban"
KASPERSKY = "kaspersky"


def _catalog(tmp_path: Path) -> Path:
    folder = tmp_path / "catalog"
    shutil.copytree(default_catalog_dir(), folder)
    shutil.copytree(PACK, folder / "packs" / "zephyr-ban")
    return folder


def _result(catalog_dir: Path, tmp_path: Path, packs: list[str] | None = None) -> dict[str, Any]:
    """A result for cam-ws-01 from an osquery log showing the fictional vendor's viewer, judged
    by the catalog (narrowed to `packs`, as `banscan scan --pack` does)."""
    log = tmp_path / "results.log"
    cols = {"name": "Zephyr Cam Viewer", "version": "3.2", "publisher": "Zephyr Optics Holdings", "identifying_number": "{Z1}", "uninstall_string": "x"}  # fmt: skip
    log.write_text(
        json.dumps(
            {
                "name": "pack_inventory_programs",
                "hostIdentifier": "cam-ws-01",
                "columns": cols,
                "action": "added",
            }
        )
        + "\n",
        encoding="utf-8",
    )
    catalog = load_catalog(catalog_dir)
    if packs is not None:
        catalog = catalog.with_packs(packs)
    opts = ScanOptions(as_of=dt.date.today(), role="federal-contractor", host="cam-ws-01", echo_errors=False)
    out: dict[str, Any] = run_scan(catalog, opts, inputs=[str(log)]).to_json()
    return out


def test_the_server_judges_and_shows_a_new_pack(fleet_factory: Callable[..., Fleet], tmp_path: Path) -> None:
    catalog_dir = _catalog(tmp_path)
    settings = dataclasses.replace(ServerSettings(), catalog_path=str(catalog_dir))
    fleet = fleet_factory(settings)
    _, token = fleet.enroll("cam-ws-01", "cam-ws-01", "windows")
    r = fleet.report(token, _result(catalog_dir, tmp_path))
    assert r.status_code in (200, 201, 202), r.text
    findings = fleet.get("/api/v1/findings")
    items = findings["items"] if isinstance(findings, dict) else findings
    zephyr = [f for f in items if f["product"] == "zephyr-cam-viewer"]
    assert zephyr, items
    assert zephyr[0]["verdict"] == "covered"
    # judged by the server with the pack's rule (not in force yet: the fictional act starts in 2031)
    assert [(o["regulation"], o["status"], o["since"]) for o in zephyr[0]["obligations"]] == [
        ("zephyr-act-2031", "not-yet-in-force", "2031-02-01")
    ]
    page = fleet.client.get("/explainer")
    assert page.status_code == 200
    assert "Zephyr Optics Prohibition Act" in page.text or "Zephyr Act" in page.text
    host = fleet.client.get("/api/v1/hosts", headers=fleet.as_admin()).json()
    assert "cam-ws-01" in json.dumps(host)


# ---------------------------------------------------------------- two packs in one estate


@dataclass
class Estate:
    """Three hosts on a server whose catalog holds the Kaspersky pack and the fictional one:
    `cam` reports the fictional viewer only (its scan narrowed to the fictional pack), `srv` the
    Kaspersky products of the realistic Linux root, `mixed` both."""

    fleet: Fleet
    cam: int
    srv: int
    mixed: int
    mixed_packs: list[str]  # the packs the mixed host's result says judged it

    def get(self, path: str, **params: Any) -> Any:
        return self.fleet.get(path, **params)

    def page(self, path: str, status: int = 200) -> str:
        r = self.fleet.client.get(path, headers=self.fleet.as_admin(), follow_redirects=False)
        assert r.status_code == status, (path, r.status_code, r.text[:500])
        text: str = r.text
        return text

    def findings(self, **params: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.get("/api/v1/findings", limit=500, **params)["items"]
        return items


def _now(minutes_ago: int) -> str:
    return (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes_ago)).isoformat()


@pytest.fixture
def estate(fleet_factory: Callable[..., Fleet], tmp_path: Path, results: dict[str, dict[str, Any]]) -> Estate:
    catalog_dir = _catalog(tmp_path)
    fleet = fleet_factory(dataclasses.replace(ServerSettings(), catalog_path=str(catalog_dir)))
    zephyr_only = _result(catalog_dir, tmp_path, packs=[ZEPHYR])
    assert [p["id"] for p in zephyr_only["packs"]] == [ZEPHYR]
    every_pack = _result(catalog_dir, tmp_path)

    cam, token = fleet.enroll("cam-ws-01", "cam-ws-01", "windows")
    assert fleet.report(token, at(zephyr_only, _now(30))).status_code == 201
    srv, token = fleet.enroll("srv-app-01-id", "srv-app-01", "linux")
    assert fleet.report(token, at(results["dirty"], _now(20))).status_code == 201
    # one host, both bans: the Linux root's Kaspersky findings and the viewer, in one result
    mixed_result = at(results["dirty"], _now(10), packs=every_pack["packs"])
    for f in every_pack["findings"]:
        mixed_result["findings"].append({**copy.deepcopy(f), "host": mixed_result["findings"][0]["host"]})
    mixed, token = fleet.enroll("mixed-01-id", "mixed-01", "windows")
    r = fleet.report(token, mixed_result)
    assert r.status_code == 201, r.text
    return Estate(fleet, cam, srv, mixed, [p["id"] for p in every_pack["packs"]])


def _host_ids(html: str) -> set[int]:
    return {int(x) for x in re.findall(r'data-host-id="(\d+)"', html)}


def _links(html: str) -> list[str]:
    return [h.replace("&amp;", "&") for h in re.findall(r'href="([^"]+)"', html)]


def _query(link: str) -> dict[str, list[str]]:
    return parse_qs(urlparse(link).query)


def _number(html: str, element_id: str) -> int:
    m = re.search(rf'id="{element_id}">(\d+)<', html)
    assert m, element_id
    return int(m.group(1))


def test_packs_api_lists_the_catalogs_packs_with_their_counts(estate: Estate) -> None:
    kaspersky_findings = estate.findings(pack=KASPERSKY)
    assert kaspersky_findings and {f["pack"] for f in kaspersky_findings} == {KASPERSKY}
    assert {f["host_id"] for f in kaspersky_findings} == {estate.srv, estate.mixed}

    packs = estate.get("/api/v1/packs")
    ids = [p["id"] for p in packs]
    catalog = load_catalog(estate.fleet.app.state.banscan.settings.catalog_path)
    assert ids == [p.id for p in catalog.packs]  # every pack, in the catalog's order
    assert ids.index(KASPERSKY) < ids.index(ZEPHYR)
    by_id = {p["id"]: p for p in packs}
    zephyr = by_id[ZEPHYR]
    assert (zephyr["title"], zephyr["version"], zephyr["released"]) == (
        "Zephyr Optics equipment and apps (a fictional ban)",
        "2031.1.0",
        "2031-01-02",
    )
    assert zephyr["jurisdictions"] == ["US"]
    assert zephyr["regulations"] == ["zephyr-act-2031"]
    assert zephyr["products"] == 2
    assert (zephyr["hosts"], zephyr["hosts_with_covered"], zephyr["findings"]) == (2, 2, 2)
    assert zephyr["findings_by_verdict"]["covered"] == 2

    kaspersky = by_id[KASPERSKY]
    assert kaspersky["hosts"] == 2
    assert kaspersky["findings"] == len(kaspersky_findings)
    for verdict, n in kaspersky["findings_by_verdict"].items():
        assert n == sum(1 for f in kaspersky_findings if f["verdict"] == verdict), verdict
    assert "bis-icts-2024-kaspersky" in kaspersky["regulations"]
    assert "zephyr-act-2031" not in kaspersky["regulations"]
    # a pack nothing was found of is listed with nothing counted
    assert by_id["ndaa-889"]["hosts"] == 0 and by_id["ndaa-889"]["findings"] == 0

    # only for signed-in callers
    assert estate.fleet.client.get("/api/v1/packs").status_code == 401


def test_the_api_filters_hosts_findings_and_the_summary_by_pack(estate: Estate) -> None:
    hosts = estate.get("/api/v1/hosts", pack=ZEPHYR)
    assert {h["id"] for h in hosts["items"]} == {estate.cam, estate.mixed}
    found = {h["id"]: h["packs_found"] for h in estate.get("/api/v1/hosts")["items"]}
    assert found == {estate.cam: [ZEPHYR], estate.srv: [KASPERSKY], estate.mixed: [KASPERSKY, ZEPHYR]}
    # with the other filters: the same finding must match both
    assert estate.get("/api/v1/hosts", pack=ZEPHYR, verdict="review")["total"] == 0
    assert estate.get("/api/v1/hosts", pack=KASPERSKY, os="windows")["items"][0]["id"] == estate.mixed

    zephyr = estate.findings(pack=ZEPHYR)
    assert sorted((f["host_id"], f["product"], f["pack"]) for f in zephyr) == sorted(
        [(estate.cam, "zephyr-cam-viewer", ZEPHYR), (estate.mixed, "zephyr-cam-viewer", ZEPHYR)]
    )
    every = estate.findings()
    assert len(every) == len(zephyr) + len(estate.findings(pack=KASPERSKY))
    detail = estate.get(f"/api/v1/hosts/{estate.mixed}")
    assert {f["pack"] for f in detail["finding_list"]} == {KASPERSKY, ZEPHYR}
    assert [p["id"] for p in detail["packs_judged"]] == estate.mixed_packs
    assert [p["id"] for p in estate.get(f"/api/v1/hosts/{estate.cam}")["packs_judged"]] == [ZEPHYR]

    whole = estate.get("/api/v1/summary")
    narrowed = estate.get("/api/v1/summary", pack=ZEPHYR)
    assert narrowed["pack"] == ZEPHYR and narrowed["hosts"] == whole["hosts"] == 3
    assert narrowed["hosts_with_covered"] == 2
    assert (
        narrowed["findings_by_verdict"]["covered"] == 2 and sum(narrowed["findings_by_verdict"].values()) == 2
    )
    assert [p["product"] for p in narrowed["by_product"]] == ["zephyr-cam-viewer"]
    assert narrowed["by_product"][0]["pack"] == ZEPHYR
    split = {p["pack"]: p for p in whole["by_pack"]}
    assert split[ZEPHYR]["hosts_with_covered"] == 2 and split[ZEPHYR]["covered"] == 2
    assert split[ZEPHYR]["overdue_findings"] == 0  # the fictional act is not in force yet

    for path in ("/api/v1/hosts", "/api/v1/findings", "/api/v1/summary"):
        r = estate.fleet.client.get(path, params={"pack": "no-such-pack"}, headers=estate.fleet.as_admin())
        assert r.status_code == 422, (path, r.text)
        assert "pack" in r.text


def test_the_openapi_description_has_the_packs_route_and_filter(estate: Estate) -> None:
    spec = estate.fleet.client.get("/openapi.json").json()
    packs = spec["paths"]["/api/v1/packs"]["get"]
    assert "PackInfo" in json.dumps(packs["responses"]["200"])
    for path in ("/api/v1/hosts", "/api/v1/findings", "/api/v1/summary"):
        assert "pack" in [p["name"] for p in spec["paths"][path]["get"]["parameters"]], path


def test_the_host_list_filters_by_pack_and_keeps_it_across_pages(estate: Estate) -> None:
    html = estate.page(f"/hosts?pack={ZEPHYR}")
    assert _host_ids(html) == {estate.cam, estate.mixed}
    assert f'<option value="{ZEPHYR}"' in html and re.search(rf'value="{ZEPHYR}"[^>]*selected', html)
    # the next page and the downloads keep the filter, as they keep the others
    first = estate.page(f"/hosts?pack={ZEPHYR}&limit=1&os=windows")
    nxt = [link for link in _links(first) if "offset=1" in link]
    assert nxt and _query(nxt[0])["pack"] == [ZEPHYR] and _query(nxt[0])["os"] == ["windows"]
    assert _host_ids(estate.page(nxt[0])) | _host_ids(first) == {estate.cam, estate.mixed}
    csv_link = next(link for link in _links(first) if link.startswith("/hosts.csv"))
    assert _query(csv_link)["pack"] == [ZEPHYR]
    r = estate.fleet.client.get(csv_link.replace("limit=1&", ""), headers=estate.fleet.as_admin())
    rows = list(csv.DictReader(io.StringIO(r.text.lstrip("\ufeff"))))
    assert {int(row["id"]) for row in rows} == {estate.cam, estate.mixed}
    # each host's packs, as badges linking to the filter
    everyone = estate.page("/hosts")
    row = re.search(rf'data-host-id="{estate.mixed}">.*?</tr>', everyone, re.S)
    assert row is not None
    assert re.findall(r'href="/hosts\?pack=([a-z0-9-]+)" class="badge pack"', row.group(0)) == [
        KASPERSKY,
        ZEPHYR,
    ]
    assert "No host matches" in estate.page(f"/hosts?pack={ZEPHYR}&verdict=remnant")
    assert "pack" in estate.page("/hosts?pack=no-such-pack", status=400)


def _by_pack_rows(html: str) -> dict[str, dict[str, int]]:
    table = re.search(r'<table class="compact" id="by-pack">.*?</table>', html, re.S)
    assert table is not None, "no split by pack"
    out: dict[str, dict[str, int]] = {}
    for pack, row in re.findall(r'<tr data-pack="([^"]+)">(.*?)</tr>', table.group(0), re.S):
        cells = re.findall(r'data-figure="(\w+)">(?:<a [^>]*>)?(\d+)<', row)
        out[pack] = {k: int(v) for k, v in cells}
    return out


def test_the_overview_splits_the_figures_by_pack(estate: Estate) -> None:
    html = estate.page("/")
    rows = _by_pack_rows(html)
    assert set(rows) == {KASPERSKY, ZEPHYR}  # the packs with findings, not those without
    summary = estate.get("/api/v1/summary")
    for p in summary["by_pack"]:
        if p["pack"] in rows:
            assert rows[p["pack"]] == {
                k: p[k]
                for k in (
                    "hosts_with_covered",
                    "covered",
                    "findings_to_act_on",
                    "overdue_findings",
                    "overdue_hosts",
                )
            }
    kaspersky = estate.findings(pack=KASPERSKY)
    assert rows[KASPERSKY]["covered"] == sum(1 for f in kaspersky if f["verdict"] == "covered")
    assert rows[KASPERSKY]["hosts_with_covered"] == 2
    assert rows[KASPERSKY]["overdue_findings"] == sum(1 for f in kaspersky if f["overdue"])
    assert rows[KASPERSKY]["overdue_hosts"] == len({f["host_id"] for f in kaspersky if f["overdue"]})
    assert rows[ZEPHYR] == {
        "hosts_with_covered": 2,
        "covered": 2,
        "findings_to_act_on": 2,
        "overdue_findings": 0,
        "overdue_hosts": 0,
    }
    assert _number(html, "stat-covered") == 3

    # one pack: the figures are that pack's, every link keeps it, and there is nothing to split
    one = estate.page(f"/?pack={ZEPHYR}")
    assert 'id="by-pack"' not in one and 'id="pack-filter"' in one
    assert _number(one, "stat-covered") == 2
    assert _number(one, "stat-hosts") == 3  # hosts known: the whole estate
    assert re.search(r'data-product="zephyr-cam-viewer">2<', one)
    assert 'data-product="kesl"' not in one
    # (hosts judged by an out-of-date catalog are counted across packs, and so linked)
    lists = [
        link
        for link in _links(one)
        if link.startswith(("/hosts?", "/transitions?", "/products/")) and "catalog=outdated" not in link
    ]
    assert lists and all(_query(link).get("pack") == [ZEPHYR] for link in lists), lists
    covered = estate.page(next(link for link in lists if "verdict=covered" in link))
    assert _host_ids(covered) == {estate.cam, estate.mixed}


def test_an_estate_with_one_pack_shows_the_overview_as_before(
    fleet_factory: Callable[..., Fleet], results: dict[str, dict[str, Any]]
) -> None:
    fleet = fleet_factory()
    _, token = fleet.enroll("srv-app-01-id", "srv-app-01", "linux")
    assert fleet.report(token, at(results["dirty"], _now(5))).status_code == 201
    r = fleet.client.get("/", headers=fleet.as_admin())
    assert r.status_code == 200
    assert 'id="by-pack"' not in r.text and 'id="pack-filter"' not in r.text
    assert re.search(r'id="stat-covered">1<', r.text)


def test_the_host_page_lists_the_judging_packs_and_groups_findings_by_pack(estate: Estate) -> None:
    html = estate.page(f"/hosts/{estate.mixed}")
    judged = re.search(r'<dd id="packs-judged">(.*?)</dd>', html, re.S)
    assert judged is not None
    assert re.findall(r'data-pack="([^"]+)"', judged.group(1)) == estate.mixed_packs
    # a group per pack with findings, in the catalog's order, each holding its own findings
    parts = re.split(r'data-pack-group="([^"]*)"', html)
    groups = dict(zip(parts[1::2], parts[2::2], strict=True))
    assert list(groups) == [KASPERSKY, ZEPHYR]
    api = estate.get(f"/api/v1/hosts/{estate.mixed}")["finding_list"]
    for pack, part in groups.items():
        shown = re.findall(r'<section class="frow finding[^"]*"[^>]*data-product="([^"]+)"', part)
        assert sorted(shown) == sorted(f["product"] for f in api if f["pack"] == pack), pack
        assert set(re.findall(r'href="/hosts\?pack=([a-z0-9-]+)" class="badge pack"', part)) == {pack}

    # a host of one pack: its findings, no group headings; its result named the pack it was judged by
    cam = estate.page(f"/hosts/{estate.cam}")
    assert "data-pack-group" not in cam
    judged = re.search(r'<dd id="packs-judged">(.*?)</dd>', cam, re.S)
    assert judged is not None and re.findall(r'data-pack="([^"]+)"', judged.group(1)) == [ZEPHYR]


def test_the_product_page_names_its_pack_and_keeps_the_filter(estate: Estate) -> None:
    html = estate.page("/products/zephyr-cam-viewer")
    pack = re.search(r'<dd id="product-pack">(.*?)</dd>', html, re.S)
    assert pack is not None and ZEPHYR in pack.group(1) and "Zephyr Optics equipment" in pack.group(1)
    assert re.search(r'<table class="list" id="product-hosts">.*?</table>', html, re.S)
    page = estate.page(f"/products/zephyr-cam-viewer?pack={ZEPHYR}&limit=1")
    nxt = [link for link in _links(page) if "offset=1" in link]
    assert nxt and _query(nxt[0])["pack"] == [ZEPHYR]
    crumb = re.search(r'<p class="crumbs"><a href="([^"]+)"', page)
    assert crumb is not None and _query(crumb.group(1).replace("&amp;", "&"))["pack"] == [ZEPHYR]
    other = estate.page(f"/products/zephyr-cam-viewer?pack={KASPERSKY}")
    assert "this product is not in it" in other
    assert "No host has reported this product." in other


def test_the_removal_board_filters_by_pack(estate: Estate) -> None:
    html = estate.page(f"/transitions?pack={ZEPHYR}")
    cards = set(re.findall(r'data-product="([^"]+)" data-host-id="(\d+)"', html))
    assert cards == {("zephyr-cam-viewer", str(estate.cam)), ("zephyr-cam-viewer", str(estate.mixed))}
    every = set(re.findall(r'data-product="([^"]+)" data-host-id="\d+"', estate.page("/transitions")))
    assert "zephyr-cam-viewer" in every and len(every) > 1


def test_an_unlisted_product_belongs_to_its_entitys_pack(
    fleet_factory: Callable[..., Fleet], tmp_path: Path
) -> None:
    """A product the catalog does not list, known by its covered vendor alone, is that vendor's
    pack's: counted, filtered and labelled with it."""
    catalog_dir = _catalog(tmp_path)
    fleet = fleet_factory(dataclasses.replace(ServerSettings(), catalog_path=str(catalog_dir)))
    result = _result(catalog_dir, tmp_path)
    unlisted = copy.deepcopy(result["findings"][0])
    unlisted.update(
        product="zephyr-optics-unlisted-zephyr-night-owl",
        product_name="Zephyr Night Owl",
        verdict="review",
        category="unlisted",
    )
    result["findings"].append(unlisted)
    host_id, token = fleet.enroll("cam-ws-01", "cam-ws-01", "windows")
    r = fleet.report(token, result)
    assert r.status_code == 201, r.text
    zephyr = fleet.get("/api/v1/findings", pack=ZEPHYR)["items"]
    assert sorted((f["product"], f["pack"]) for f in zephyr) == [
        ("zephyr-cam-viewer", ZEPHYR),
        ("zephyr-optics-unlisted-zephyr-night-owl", ZEPHYR),
    ]
    assert fleet.get("/api/v1/findings", pack=KASPERSKY)["items"] == []
    assert [h["id"] for h in fleet.get("/api/v1/hosts", pack=ZEPHYR, verdict="review")["items"]] == [host_id]
    counts = {p["id"]: p for p in fleet.get("/api/v1/packs")}[ZEPHYR]
    assert (counts["findings"], counts["findings_by_verdict"]["review"]) == (2, 1)
