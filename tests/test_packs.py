"""A new ban is a pack of data: a pack that exists only in the tests (a fictional vendor's
program, app and device agent, a regulation with two dated obligations, a reporting clause and
removal steps) is listed, scanned, judged, reported — its own FAR-style report included —
planned and exported by code that knows nothing of it."""

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


_FAR_CONTEXT = """\
contractor: Example Federal Services LLC
reporter: {name: Pat Lee}
contract_number: 47QTCA-31-D-0007
suppliers:
  - {name: Zephyr Optics, cage_code: 9Z9Z9}
"""


def test_far_report_for_the_new_ban_comes_from_its_reporting_clause(
    catalog_dir: Path, results_log: Path, tmp_path: Path
) -> None:
    result = tmp_path / "result.json"
    _scan(catalog_dir, results_log, result)
    context = tmp_path / "contract.yaml"
    context.write_text(_FAR_CONTEXT, encoding="utf-8")
    args = [
        "report",
        str(result),
        "--catalog",
        str(catalog_dir),
        "--document",
        "far",
        "--far-context",
        str(context),
    ]
    r = CliRunner().invoke(app, [*args, "--format", "json"])
    assert r.exit_code == 0, r.output
    wrapper = json.loads(r.stdout)
    # the Kaspersky finding on ws-03 has its own clause's document; the fictional act its own
    assert wrapper["schema"] == "banscan/far-reports/v1"
    docs = {d["regulation"]: d for d in wrapper["documents"]}
    assert set(docs) == {"ndaa-1634-far-52-204-23", "zephyr-act-2031"}
    doc = docs["zephyr-act-2031"]
    assert doc["schema"] == "banscan/far-zephyr-act-sec-3/v1"
    assert (doc["clause"], doc["report_to"]) == (
        "Zephyr Act sec. 3(b)",
        "the contracting officer named in the contract",
    )
    assert doc["initial"]["paragraph"] == "sec. 3(b)(1)" and doc["initial"]["days"] == 1
    assert doc["followup"] is None  # the act asks for one report only
    assert [p["id"] for p in doc["packs"]] == ["zephyr-ban"]
    (report,) = doc["reports"]
    assert report["initial_due"] == "2031-03-06"  # one business day after Wednesday 2031-03-05
    assert report["followup_due"] == ""
    assert [m.split(" ")[0] for m in doc["missing"]] == ["mitigation"]  # no follow-up fields asked
    items = {(i["host"], i["model_or_product"]) for i in report["items"]}
    assert items == {
        ("ws-01", "Zephyr Cam Viewer 3.2"),
        ("ws-01", "Zephyr Device Agent"),
        ("mac-02", "Zephyr Cam Viewer 3.2"),
    }
    for item in report["items"]:
        # the fields the clause asks for: the supplier's CAGE code (from the context), no UEI
        assert (item["supplier"], item["brand"]) == ("Zephyr Optics Holdings", "Zephyr Optics")
        assert item["supplier_cage_code"] == "9Z9Z9" and "supplier_uei" not in item
    kaspersky = docs["ndaa-1634-far-52-204-23"]["reports"][0]
    assert [i["host"] for i in kaspersky["items"]] == ["ws-03"]  # each clause reports what it covers

    r = CliRunner().invoke(app, [*args, "--format", "md"])
    assert r.exit_code == 0, r.output
    md = r.stdout
    assert md.startswith("# FAR 52.204-23 and Zephyr Act sec. 3 reports")
    assert (
        "## Zephyr Act sec. 3(b) report — Zephyr Optics items (Zephyr Optics Holdings and its affiliates)"
        in md
    )
    assert "**1-business-day report** (sec. 3(b)(1)) — date identified 2031-03-05, due **2031-03-06**" in md
    assert "| Host | Supplier | Supplier CAGE code | Brand | Model or product | Mitigation |" in md
    assert "Judged by pack: Zephyr Optics equipment and apps (a fictional ban) (zephyr-ban 2031.1.0)" in md


def test_plan_for_the_new_ban_takes_removal_steps_from_the_pack(
    catalog_dir: Path, results_log: Path, tmp_path: Path
) -> None:
    result = tmp_path / "result.json"
    _scan(catalog_dir, results_log, result)
    out = tmp_path / "plan.json"
    r = CliRunner().invoke(
        app, ["plan", str(result), "--catalog", str(catalog_dir), "-f", "json", "-o", str(out)]
    )
    assert r.exit_code == 0, r.output
    plan = json.loads(out.read_text(encoding="utf-8"))
    assert "zephyr-ban" in [p["id"] for p in plan["packs"]]
    steps = {
        (h["host"], pp["product"]): [(s["phase"], s["action"], s["command"]) for s in pp["steps"]]
        for h in plan["hosts"]
        for pp in h["products"]
    }
    agent = steps[("ws-01", "zephyr-device-agent")]
    assert (
        "prepare",
        "Release the host from Zephyr Fleet Manager before uninstalling the agent.",
        "",
    ) in agent
    assert (
        "remove",
        "Run ZephyrClean to remove the agent's drivers and reboot. (ZephyrClean: https://example.org/zephyr/zephyrclean)",
        "ZephyrClean.exe /all /reboot",
    ) in agent
    # the agent manages the vendor's other product on its host …
    viewer = steps[("ws-01", "zephyr-cam-viewer")]
    assert [a for phase, a, _ in viewer if phase == "prepare"] == [
        "If the host is enrolled in Zephyr Fleet Manager, uninstall the product from the manager's console first."
    ]
    # … not on the Mac without it, where the step is worded from the product's category and name
    mac = steps[("mac-02", "zephyr-cam-viewer")]
    assert [a for phase, a, _ in mac if phase == "prepare"] == [
        "This is Zephyr Cam Viewer, management software: first move what it manages to the replacement "
        "and keep what records you need (policies, event history); remove it last."
    ]
    # another vendor's removal tool is never offered for the fictional vendor's products
    commands = " ".join(c for key, ss in steps.items() if key[1].startswith("zephyr") for _, _, c in ss)
    assert "kavremover" not in commands and "ZephyrClean" in commands
    assert any(c == "kavremover.exe" for _, _, c in steps[("ws-03", "kes-windows")])


def test_a_report_that_follows_no_report_is_refused(catalog_dir: Path, tmp_path: Path) -> None:
    from banscan.catalog.loader import CatalogError

    folder = tmp_path / "catalog"
    shutil.copytree(catalog_dir, folder)
    regs = folder / "packs" / "zephyr-ban" / "regulations.yaml"
    text = regs.read_text(encoding="utf-8")
    regs.write_text(
        text.replace("fields: [contract_number,", "after: report-sent\n        fields: [contract_number,"),
        encoding="utf-8",
    )
    with pytest.raises(CatalogError, match="exactly one report may come first"):
        load_catalog(folder)
    regs.write_text(text.replace("kind: reporting", "kind: action"), encoding="utf-8")
    with pytest.raises(CatalogError, match="`report` belongs to reporting obligations"):
        load_catalog(folder)
