"""`banscan catalog list|show|validate` and `banscan version`."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import yaml
from typer.testing import CliRunner

from banscan.catalog.loader import default_catalog_dir
from banscan.cli import app

runner = CliRunner()


def test_list_json_has_every_product() -> None:
    res = runner.invoke(app, ["catalog", "list", "--json"])
    assert res.exit_code == 0
    rows = json.loads(res.stdout)
    ids = {r["id"] for r in rows}
    assert {"kes-windows", "kesl"} <= ids
    assert all(r["identifiers"] >= 0 and r["status"] for r in rows)


def test_list_table_and_version() -> None:
    res = runner.invoke(app, ["catalog", "list"])
    assert res.exit_code == 0 and "kes-windows" in res.stdout
    res = runner.invoke(app, ["version"])
    assert res.exit_code == 0 and res.stdout.startswith("banscan ")


def test_show_includes_cited_sources() -> None:
    res = runner.invoke(app, ["catalog", "show", "bis-icts-2024-kaspersky", "--json"])
    assert res.exit_code == 0
    data = json.loads(res.stdout)
    assert data["citation"].startswith("89 FR 52434")
    assert "fr-2024-13532" in {s["id"] for s in data["_sources"]}
    assert runner.invoke(app, ["catalog", "show", "no-such-thing"]).exit_code == 2


def test_show_prints_readable_text_by_default() -> None:
    res = runner.invoke(app, ["catalog", "show", "bis-icts-2024-kaspersky"])
    assert res.exit_code == 0 and not res.stdout.lstrip().startswith("{")
    data = yaml.safe_load(res.stdout)
    assert data["id"] == "bis-icts-2024-kaspersky" and data["citation"].startswith("89 FR 52434")
    assert "fr-2024-13532" in {s["id"] for s in data["sources_cited"]}
    assert "citation: 89 FR 52434" in res.stdout


def test_show_prints_each_sources_publisher_and_provenance() -> None:
    res = runner.invoke(app, ["catalog", "show", "bis-icts-2024-kaspersky", "--json"])
    sources = {s["id"]: s for s in json.loads(res.stdout)["_sources"]}
    fr = sources["fr-2024-13532"]
    assert fr["publisher"].startswith("Office of the Federal Register") and fr["topic"] == "legal"
    assert fr["citation"] == "89 FR 52434 (FR Doc 2024-13532)" and fr["published"] == "2024-06-24"
    assert fr["url"] == "https://www.federalregister.gov/d/2024-13532"
    assert "justia" in fr["consulted"]
    res = runner.invoke(app, ["catalog", "show", "kaspersky-generic", "--json"])
    cited = json.loads(res.stdout)["_sources"]
    topics = [s["topic"] for s in cited]
    assert topics == sorted(topics, key=lambda t: t != "legal")  # legal sources first
    code = [s for s in cited if s["strength"] == "public-code"]
    assert code and all({"repository", "path", "commit"} <= set(s) for s in code)


def test_validate_shipped_and_broken_catalogs(tmp_path: Path) -> None:
    res = runner.invoke(app, ["catalog", "validate"])
    assert res.exit_code == 0 and "is valid" in res.stdout
    broken = tmp_path / "cat"
    shutil.copytree(default_catalog_dir(), broken)
    ents = broken / "entities.yaml"
    ents.write_text(
        ents.read_text(encoding="utf-8").replace("  sources: [fr-2024-13695]\n", "  sources: []\n", 1),
        encoding="utf-8",
    )
    res = runner.invoke(app, ["catalog", "validate", str(broken)])
    assert res.exit_code == 2
    assert "entities.yaml" in res.output and "kaspersky-group" in res.output
    (broken / "regulations.yaml").write_text("- id: [unclosed\n", encoding="utf-8")
    res = runner.invoke(app, ["catalog", "validate", str(broken)])
    assert res.exit_code == 2 and re.search(r"regulations\.yaml:\d+:\d+: invalid YAML", res.output)
    assert len(res.output.strip().splitlines()) == 1  # one line, however long the path


def test_scan_with_custom_catalog_file(tmp_path: Path) -> None:
    mini = Path(__file__).parent / "data" / "mini_catalog.yaml"
    res = runner.invoke(app, ["scan", "--catalog", str(mini), "--root", str(tmp_path), "--format", "json"])
    assert res.exit_code == 2  # an empty folder is not a system root


def test_export_commands_write_each_format(tmp_path: Path) -> None:
    pack = tmp_path / "pack.json"
    assert runner.invoke(app, ["export", "osquery", "--output", str(pack)]).exit_code == 0
    assert json.loads(pack.read_text(encoding="utf-8"))["queries"]
    res = runner.invoke(app, ["export", "fleet"])
    assert res.exit_code == 0 and "kind: policy" in res.stdout
    res = runner.invoke(app, ["export", "yara"])
    assert res.exit_code == 0 and "rule banscan_" in res.stdout
    assert runner.invoke(app, ["export", "snort"]).exit_code == 2


def test_list_keeps_every_id_whole_at_80_columns() -> None:
    from banscan.catalog.loader import load_catalog

    res = runner.invoke(app, ["catalog", "list"], env={"COLUMNS": "80"})
    assert res.exit_code == 0
    lines = res.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines)
    first_cells = {line.split("│")[1].strip() for line in lines if line.startswith("│")}
    assert {p.id for p in load_catalog().products} <= first_cells
    wide = runner.invoke(app, ["catalog", "list"], env={"COLUMNS": "200"}).stdout
    assert "category" in wide and "platforms" in wide
