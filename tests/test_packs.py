"""A new ban is a pack of data: a pack that exists only in the tests (a fictional vendor's
program, app and device agent, a regulation with two dated obligations) is listed, scanned,
judged, reported, planned and exported by code that knows nothing of it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from banscan.catalog.loader import default_catalog_dir, load_catalog
from banscan.cli import app

PACK = Path(__file__).parent / "fixtures" / "packs" / "zephyr-ban"

_LINES = [
    ("ws-01", "programs", {"name": "Zephyr Cam Viewer", "version": "3.2", "publisher": "Zephyr Optics Holdings", "identifying_number": "{Z1}", "uninstall_string": "x"}),
    ("ws-01", "services", {"name": "ZephyrDeviceAgent", "display_name": "Zephyr Device Agent", "status": "RUNNING", "path": "C:\\Program Files\\Zephyr\\agent.exe", "start_type": "AUTO_START", "user_account": "LocalSystem"}),
    ("mac-02", "apps", {"name": "Zephyr Cam Viewer.app", "bundle_identifier": "org.example.zephyr.camviewer", "bundle_executable": "ZephyrCam", "bundle_short_version": "3.2"}),
    ("ws-03", "programs", {"name": "Kaspersky Endpoint Security for Windows", "version": "12.6", "publisher": "AO Kaspersky Lab", "identifying_number": "{K}", "uninstall_string": "x"}),
    # decoys: another vendor's "Zephyr", a camera viewer of another brand
    ("ws-04", "programs", {"name": "Zephyr Weather Widget", "version": "1.0", "publisher": "Zephyr Weather Co", "identifying_number": "{W}", "uninstall_string": "x"}),
    ("ws-04", "programs", {"name": "Axis Camera Station", "version": "5.5", "publisher": "Axis Communications AB", "identifying_number": "{A}", "uninstall_string": "x"}),
]  # fmt: skip


@pytest.fixture(scope="module")
def catalog_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built-in catalog with the fictional pack dropped into its packs/ folder."""
    folder = tmp_path_factory.mktemp("catalog") / "catalog"
    shutil.copytree(default_catalog_dir(), folder)
    shutil.copytree(PACK, folder / "packs" / "zephyr-ban")
    return folder


@pytest.fixture(scope="module")
def results_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("inputs") / "osqueryd.results.log"
    rows = [
        json.dumps(
            {
                "name": f"pack_inventory_{table}",
                "hostIdentifier": host,
                "calendarTime": "Mon Mar  3 10:00:00 2031 UTC",
                "unixTime": 1930212000,
                "columns": cols,
                "action": "added",
            }
        )
        for host, table, cols in _LINES
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def _scan(catalog_dir: Path, log: Path, out: Path, *extra: str) -> dict[str, Any]:
    r = CliRunner().invoke(
        app,
        [
            "scan",
            str(log),
            "--catalog",
            str(catalog_dir),
            "--role",
            "federal-contractor",
            "--as-of",
            "2031-03-05",
            "-f",
            "json",
            "-o",
            str(out),
            "-q",
            *extra,
        ],
    )
    assert r.exit_code in (0, 1), r.output
    doc: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return doc


def test_the_pack_is_listed(catalog_dir: Path) -> None:
    catalog = load_catalog(catalog_dir)
    assert {"kaspersky", "zephyr-ban"} <= {p.id for p in catalog.packs}
    r = CliRunner().invoke(app, ["catalog", "packs", "--catalog", str(catalog_dir), "--json"])
    assert r.exit_code == 0, r.output
    rows = {row["id"]: row for row in json.loads(r.output)}
    assert rows["zephyr-ban"]["products"] == 2 and rows["zephyr-ban"]["regulations"] == 1
    r = CliRunner().invoke(
        app, ["catalog", "list", "--catalog", str(catalog_dir), "--pack", "zephyr-ban", "--json"]
    )
    assert [p["id"] for p in json.loads(r.output)] == ["zephyr-cam-viewer", "zephyr-device-agent"]


def test_scan_finds_and_judges_the_new_ban(catalog_dir: Path, results_log: Path, tmp_path: Path) -> None:
    doc = _scan(catalog_dir, results_log, tmp_path / "all.json")
    found = {(f["host"], f["product"]): f for f in doc["findings"]}
    assert set(found) == {
        ("ws-01", "zephyr-cam-viewer"),
        ("ws-01", "zephyr-device-agent"),
        ("mac-02", "zephyr-cam-viewer"),
        ("ws-03", "kes-windows"),
    }
    agent = found[("ws-01", "zephyr-device-agent")]
    assert agent["verdict"] == "covered"
    by_id = {(o["regulation"], o["status"]): o for o in agent["obligations"]}
    assert by_id[("zephyr-act-2031", "prohibited")]["since"] == "2031-02-01"
    # the reporting duty: one business day from identification (Mon 2031-03-05 → Thu 03-06)
    due = [
        o
        for o in agent["obligations"]
        if o["regulation"] == "zephyr-act-2031" and o["status"] != "prohibited"
    ]
    assert due and due[0]["deadline"] == "2031-03-06"
    # the result names the packs it was judged by: those whose rules bind a federal contractor
    catalog = load_catalog(catalog_dir)
    binding = {r.pack for r in catalog.regulations if "federal-contractor" in r.binds}
    assert [p["id"] for p in doc["packs"]] == [p.id for p in catalog.packs if p.id in binding]
    assert "zephyr-ban" in binding


def test_pack_narrows_the_scan(catalog_dir: Path, results_log: Path, tmp_path: Path) -> None:
    only = _scan(catalog_dir, results_log, tmp_path / "z.json", "--pack", "zephyr-ban")
    assert {f["product"] for f in only["findings"]} == {"zephyr-cam-viewer", "zephyr-device-agent"}
    assert [p["id"] for p in only["packs"]] == ["zephyr-ban"]
    kasp = _scan(catalog_dir, results_log, tmp_path / "k.json", "--pack", "kaspersky")
    assert {f["product"] for f in kasp["findings"]} == {"kes-windows"}
    r = CliRunner().invoke(app, ["scan", str(results_log), "--catalog", str(catalog_dir), "--pack", "nope"])
    assert r.exit_code == 2 and "zephyr-ban" in r.output


def test_report_plan_and_exports_carry_the_pack(catalog_dir: Path, results_log: Path, tmp_path: Path) -> None:
    result = tmp_path / "result.json"
    _scan(catalog_dir, results_log, result)
    runner = CliRunner()
    md = tmp_path / "report.md"
    r = runner.invoke(app, ["report", str(result), "--catalog", str(catalog_dir), "-f", "md", "-o", str(md)])
    assert r.exit_code == 0, r.output
    text = md.read_text(encoding="utf-8")
    assert "Zephyr Cam Viewer" in text and "Zephyr Act" in text
    plan = tmp_path / "plan.json"
    r = runner.invoke(
        app, ["plan", str(result), "--catalog", str(catalog_dir), "-f", "json", "-o", str(plan)]
    )
    assert r.exit_code == 0, r.output
    assert "zephyr-device-agent" in plan.read_text(encoding="utf-8")
    for kind, needle in (
        ("osquery", "Zephyr Cam Viewer"),
        ("fleet", "org.example.zephyr.camviewer"),
        ("yara", "zephyr"),
    ):
        out = tmp_path / f"export.{kind}"
        r = runner.invoke(app, ["export", kind, "--catalog", str(catalog_dir), "-o", str(out)])
        assert r.exit_code == 0, r.output
        assert needle.lower() in out.read_text(encoding="utf-8").lower(), kind


def test_default_packs_are_those_that_bind_the_role(
    catalog_dir: Path, results_log: Path, tmp_path: Path
) -> None:
    from banscan.cli.common import narrow_to_packs

    catalog = load_catalog(catalog_dir)
    for role in ("user", "seller", "federal-contractor"):
        chosen = {p.id for p in narrow_to_packs(catalog, None, "US", role).packs}
        binding = {r.pack for r in catalog.regulations if role in r.binds}
        assert chosen == binding, role
    assert "zephyr-ban" not in {p.id for p in narrow_to_packs(catalog, None, "US", "seller").packs}
    assert "zephyr-ban" not in {p.id for p in narrow_to_packs(catalog, None, "CA", "user").packs}
    r = CliRunner().invoke(
        app,
        [
            "scan",
            str(results_log),
            "--catalog",
            str(catalog_dir),
            "--role",
            "seller",
            "-f",
            "json",
            "-o",
            str(tmp_path / "s.json"),
            "-q",
        ],
    )
    assert r.exit_code in (0, 1), r.output
    doc = json.loads((tmp_path / "s.json").read_text(encoding="utf-8"))
    assert not any(f["product"].startswith("zephyr") for f in doc["findings"])
