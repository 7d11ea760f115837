"""The fleet server on a pack it has no code for: a fictional ban dropped into the server's
catalog is judged on reports, shown on the dashboard and the explainer, and counted by the API."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import shutil
from collections.abc import Callable
from pathlib import Path

from banscan.catalog.loader import default_catalog_dir, load_catalog
from banscan.scan import ScanOptions, run_scan
from banscan.server.state import ServerSettings

from .conftest import Fleet

PACK = Path(__file__).parent.parent / "fixtures" / "packs" / "zephyr-ban"


def _catalog(tmp_path: Path) -> Path:
    folder = tmp_path / "catalog"
    shutil.copytree(default_catalog_dir(), folder)
    shutil.copytree(PACK, folder / "packs" / "zephyr-ban")
    return folder


def _result(catalog_dir: Path, tmp_path: Path) -> dict[str, object]:
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
    opts = ScanOptions(as_of=dt.date.today(), role="federal-contractor", host="cam-ws-01", echo_errors=False)
    out: dict[str, object] = run_scan(load_catalog(catalog_dir), opts, inputs=[str(log)]).to_json()
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
