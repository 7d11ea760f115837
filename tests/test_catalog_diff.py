"""`banscan catalog diff`: the release notes between two catalogs, checked on edited copies of the
shipped catalog."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from typer.testing import CliRunner

from banscan.catalog.diff import CatalogDiff, FieldChange, diff_catalogs, render_text
from banscan.catalog.loader import default_catalog_dir, load_catalog
from banscan.catalog.schema import Catalog
from banscan.cli.catalog_diff import catalog_diff

runner = CliRunner()

NEW_SOURCE = {
    "id": "kesl-help-12",
    "title": "Kaspersky Endpoint Security for Linux 12 Help",
    "publisher": "Kaspersky",
    "topic": "technical",
    "strength": "vendor",
    "url": "https://support.kaspersky.com/KES4Linux/12.0/en-US/",
}
NEW_PRODUCT = {
    "id": "kes-linux",
    "name": "Kaspersky Endpoint Security for Linux",
    "vendor": "kaspersky-lab",
    "category": "endpoint-protection",
    "platforms": ["linux"],
    "identifiers": [
        {
            "kind": "package",
            "value": "kesl-test",
            "match": "iexact",
            "confidence": "strong",
            "sources": ["kesl-help-12"],
        }
    ],
    "sources": ["kesl-help-12"],
}


# --- building edited copies ----------------------------------------------------------------------


def copy_catalog(where: Path) -> Path:
    folder = where / "catalog"
    shutil.copytree(default_catalog_dir(), folder)
    return folder


def edit_yaml(path: Path, change: Callable[[Any], None]) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")


def edit_product(folder: Path, pid: str, change: Callable[[dict[str, Any]], None]) -> None:
    for path in sorted((folder / "products").glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or []
        for entry in data:
            if entry["id"] == pid:
                change(entry)
                path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
                return
    raise AssertionError(f"no product {pid} in the shipped catalog")


def edit_entry(folder: Path, file: str, eid: str, change: Callable[[dict[str, Any]], None]) -> None:
    def apply(data: list[dict[str, Any]]) -> None:
        matches = [e for e in data if e["id"] == eid]
        assert len(matches) == 1, f"{eid} not in {file}"
        change(matches[0])

    edit_yaml(folder / file, apply)


def obligation(reg: dict[str, Any], oid: str) -> dict[str, Any]:
    found: dict[str, Any] = next(o for o in reg["obligations"] if o["id"] == oid)
    return found


def drop_identifier(value: str) -> Callable[[dict[str, Any]], None]:
    def change(p: dict[str, Any]) -> None:
        before = len(p["identifiers"])
        p["identifiers"] = [i for i in p["identifiers"] if i["value"] != value]
        assert len(p["identifiers"]) == before - 1

    return change


def make_edited(folder: Path) -> None:
    """The edits release notes must report, and nothing else."""
    edit_yaml(folder / "sources.yaml", lambda data: data.append(dict(NEW_SOURCE)))
    edit_yaml(folder / "products" / "kaspersky-business.yaml", lambda data: data.append(dict(NEW_PRODUCT)))
    edit_product(folder, "kaspersky-free", drop_identifier("Kaspersky Free Antivirus"))
    edit_product(folder, "kaspersky-standard", lambda p: p.update(status="carved-out"))

    def regulation(r: dict[str, Any]) -> None:
        obligation(r, "no-new-agreements")["effective"] = obligation(r, "no-new-agreements")[
            "effective"
        ].replace(day=21)

    edit_entry(folder, "regulations.yaml", "bis-icts-2024-kaspersky", regulation)

    def bod(r: dict[str, Any]) -> None:
        r["issued"] = r["issued"].replace(day=14)
        obligation(r, "plan")["deadline"] = obligation(r, "plan")["deadline"].replace(day=13)

    edit_entry(folder, "regulations.yaml", "dhs-bod-17-01", bod)


@pytest.fixture(scope="module")
def shipped() -> Catalog:
    return load_catalog(default_catalog_dir())


@pytest.fixture(scope="module")
def edited_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = copy_catalog(tmp_path_factory.mktemp("edited"))
    make_edited(folder)
    return folder


@pytest.fixture(scope="module")
def edited(edited_dir: Path) -> Catalog:
    return load_catalog(edited_dir)


@pytest.fixture(scope="module")
def diff(shipped: Catalog, edited: Catalog) -> CatalogDiff:
    return diff_catalogs(shipped, edited)


# --- the diff itself -----------------------------------------------------------------------------


def test_a_copy_of_the_catalog_is_empty(tmp_path: Path, shipped: Catalog) -> None:
    d = diff_catalogs(shipped, load_catalog(copy_catalog(tmp_path)))
    assert d.empty and not d.meta and all(s.empty for s in d.sections)
    assert d.old_version == d.new_version == shipped.meta.version
    text = render_text(d)
    assert text.count("\n") == 1 and "same entries" in text and shipped.meta.version in text


def test_reports_exactly_the_edits(diff: CatalogDiff) -> None:
    assert not diff.empty and diff.meta == ()
    assert diff.entities.empty and diff.alternatives.empty

    assert [(e.id, e.name) for e in diff.products.added] == [("kes-linux", NEW_PRODUCT["name"])]
    assert diff.products.removed == ()
    changed = {c.id: c for c in diff.products.changed}
    assert sorted(changed) == ["kaspersky-free", "kaspersky-standard"]

    free = changed["kaspersky-free"]
    assert free.fields == ()  # the identifier is not reported as a change of the product's fields
    assert [i.key for i in free.parts.removed] == ['display_name "Kaspersky Free Antivirus"']
    assert free.parts.removed[0].data["confidence"] == "strong"
    assert free.parts.added == () and free.parts.changed == ()

    standard = changed["kaspersky-standard"]
    assert standard.fields == (FieldChange("status", "covered", "carved-out"),)
    assert standard.parts.empty

    regs = {c.id: c for c in diff.regulations.changed}
    assert diff.regulations.added == diff.regulations.removed == ()
    assert sorted(regs) == ["bis-icts-2024-kaspersky", "dhs-bod-17-01"]
    bis = regs["bis-icts-2024-kaspersky"]
    assert bis.fields == ()
    assert [(c.key, c.fields) for c in bis.parts.changed] == [
        ("no-new-agreements", (FieldChange("effective", "2024-07-20", "2024-07-21"),))
    ]
    assert bis.parts.added == bis.parts.removed == ()
    bod = regs["dhs-bod-17-01"]
    assert bod.fields == (FieldChange("issued", "2017-09-13", "2017-09-14"),)
    assert [(c.key, c.fields) for c in bod.parts.changed] == [
        ("plan", (FieldChange("deadline", "2017-11-12", "2017-11-13"),))
    ]

    assert [(e.id, e.name) for e in diff.sources.added] == [("kesl-help-12", NEW_SOURCE["title"])]
    assert diff.sources.removed == () and diff.sources.changed == ()


def test_the_reverse_diff_swaps_added_and_removed(shipped: Catalog, edited: Catalog) -> None:
    back = diff_catalogs(edited, shipped)
    assert [e.id for e in back.products.removed] == ["kes-linux"] and back.products.added == ()
    assert [e.id for e in back.sources.removed] == ["kesl-help-12"]
    free = next(c for c in back.products.changed if c.id == "kaspersky-free")
    assert [i.key for i in free.parts.added] == ['display_name "Kaspersky Free Antivirus"']
    standard = next(c for c in back.products.changed if c.id == "kaspersky-standard")
    assert standard.fields == (FieldChange("status", "carved-out", "covered"),)


def test_text_has_one_line_per_change(diff: CatalogDiff, shipped: Catalog) -> None:
    text = render_text(diff)
    v = shipped.meta.version
    assert text == (
        f"catalog {v}\n"
        "products: 1 added, 0 removed, 2 changed\n"
        '  + product kes-linux "Kaspersky Endpoint Security for Linux"\n'
        '  - identifier kaspersky-free: display_name "Kaspersky Free Antivirus"\n'
        "  ~ product kaspersky-standard: status covered → carved-out\n"
        "regulations: 0 added, 0 removed, 2 changed\n"
        "  ~ obligation bis-icts-2024-kaspersky: no-new-agreements: effective 2024-07-20 → 2024-07-21\n"
        "  ~ regulation dhs-bod-17-01: issued 2017-09-13 → 2017-09-14\n"
        "  ~ obligation dhs-bod-17-01: plan: deadline 2017-11-12 → 2017-11-13\n"
        "sources: 1 added, 0 removed, 0 changed\n"
        '  + source kesl-help-12 "Kaspersky Endpoint Security for Linux 12 Help"\n'
    )


def test_json_shape(diff: CatalogDiff, shipped: Catalog) -> None:
    data = diff.to_json()
    assert json.loads(json.dumps(data)) == data  # plain JSON values only
    assert set(data) == {
        "old_version",
        "new_version",
        "old_released",
        "new_released",
        "empty",
        "meta",
        "products",
        "entities",
        "regulations",
        "alternatives",
        "sources",
    }
    assert data["old_version"] == data["new_version"] == shipped.meta.version
    assert data["empty"] is False and data["meta"] == []
    for section in ("products", "entities", "regulations", "alternatives", "sources"):
        assert set(data[section]) == {"added", "removed", "changed"}
    products = data["products"]
    assert products["added"] == [{"id": "kes-linux", "name": NEW_PRODUCT["name"]}]
    free, standard = products["changed"]
    assert free["id"] == "kaspersky-free" and free["fields"] == []
    assert [i["value"] for i in free["identifiers"]["removed"]] == ["Kaspersky Free Antivirus"]
    assert free["identifiers"]["removed"][0]["kind"] == "display_name"
    assert standard["fields"] == [{"field": "status", "old": "covered", "new": "carved-out"}]
    assert standard["identifiers"] == {"added": [], "removed": [], "changed": []}
    bis, bod = data["regulations"]["changed"]
    assert bis["obligations"]["changed"] == [
        {
            "id": "no-new-agreements",
            "fields": [{"field": "effective", "old": "2024-07-20", "new": "2024-07-21"}],
        }
    ]
    assert bod["fields"] == [{"field": "issued", "old": "2017-09-13", "new": "2017-09-14"}]
    assert "obligations" not in data["sources"] and data["sources"]["added"][0]["id"] == "kesl-help-12"
    assert data["entities"] == {"added": [], "removed": [], "changed": []}


def test_identifiers_are_told_apart_by_kind_match_and_value(tmp_path: Path, shipped: Catalog) -> None:
    folder = copy_catalog(tmp_path)

    def change(p: dict[str, Any]) -> None:
        for i in p["identifiers"]:
            if i["value"] == "Kaspersky.Kaspersky":  # same value, other match kind: another identifier
                i["match"] = "exact"
            if i["value"] == "Kaspersky":  # same identifier, other confidence and platforms
                i["confidence"] = "definitive"
                i["platforms"] = ["windows", "macos"]
                i["sources"] = ["winget-pkgs-kaspersky", "kaspersky-ru-help"]

    edit_product(folder, "kaspersky-for-windows", change)
    d = diff_catalogs(shipped, load_catalog(folder))
    (c,) = d.products.changed
    assert c.id == "kaspersky-for-windows" and c.fields == ()
    assert [i.key for i in c.parts.added] == ["package Kaspersky.Kaspersky (exact)"]
    assert [i.key for i in c.parts.removed] == ["package Kaspersky.Kaspersky (iexact)"]
    (ch,) = c.parts.changed
    assert ch.identity == {"kind": "display_name", "match": "name", "value": "Kaspersky"}
    assert [f.field for f in ch.fields] == ["confidence", "sources", "platforms"]
    line = next(x for x in render_text(d).splitlines() if x.startswith("  ~ identifier"))
    assert line == (
        "  ~ identifier kaspersky-for-windows: display_name Kaspersky: confidence strong → definitive; "
        "sources +kaspersky-ru-help; platforms +macos"
    )


def test_obligations_added_and_removed(tmp_path: Path, shipped: Catalog) -> None:
    folder = copy_catalog(tmp_path)

    def change(r: dict[str, Any]) -> None:
        r["obligations"] = [o for o in r["obligations"] if o["id"] != "identify"]
        r["obligations"].append(
            {
                "id": "attest",
                "roles": ["federal-agency"],
                "effective": r["issued"],
                "kind": "reporting",
                "action": "Attest that no Kaspersky-branded product remains.",
                "deadline": r["issued"].replace(year=r["issued"].year + 1),
            }
        )

    edit_entry(folder, "regulations.yaml", "dhs-bod-17-01", change)
    d = diff_catalogs(shipped, load_catalog(folder))
    (c,) = d.regulations.changed
    assert c.id == "dhs-bod-17-01" and c.fields == () and c.parts.changed == ()
    assert [o.key for o in c.parts.added] == ["attest"] and c.parts.added[0].data["kind"] == "reporting"
    assert [o.key for o in c.parts.removed] == ["identify"]
    assert d.products.empty and d.sources.empty
    lines = render_text(d).splitlines()
    assert (
        "  + obligation dhs-bod-17-01: attest (reporting, effective 2017-09-13, deadline 2018-09-13)" in lines
    )
    assert "  - obligation dhs-bod-17-01: identify" in lines


def test_catalog_fields_entities_and_alternatives(tmp_path: Path, shipped: Catalog) -> None:
    folder = copy_catalog(tmp_path)
    first_alt = shipped.alternatives[0].id

    def meta(m: dict[str, Any]) -> None:
        m["version"] = "2099.1.1"
        m["released"] = m["released"].replace(year=2099)
        m["last_permitted_update"] = m["last_permitted_update"].replace(day=30)

    def entity(e: dict[str, Any]) -> None:
        e["aliases"].append("Kaspersky AO")
        e["entity_list"]["since"] = e["entity_list"]["since"].replace(day=25)

    edit_yaml(folder / "catalog.yaml", meta)
    edit_entry(folder, "entities.yaml", "kaspersky-lab", entity)
    edit_yaml(folder / "alternatives.yaml", lambda data: data.pop(0))
    d = diff_catalogs(shipped, load_catalog(folder))
    assert (d.old_version, d.new_version) == (shipped.meta.version, "2099.1.1")
    assert d.meta == (FieldChange("last_permitted_update", "2024-09-29", "2024-09-30"),)
    (e,) = d.entities.changed
    assert e.id == "kaspersky-lab" and [f.field for f in e.fields] == ["aliases", "entity_list"]
    assert [a.id for a in d.alternatives.removed] == [first_alt]
    assert d.products.empty and d.regulations.empty and d.sources.empty
    lines = render_text(d).splitlines()
    assert lines[0].startswith(f"catalog {shipped.meta.version} → 2099.1.1 (released ")
    assert "  ~ last_permitted_update 2024-09-29 → 2024-09-30" in lines
    assert (
        '  ~ entity kaspersky-lab: aliases +"Kaspersky AO"; entity_list.since 2024-06-24 → 2024-06-25'
        in lines
    )


def test_a_new_version_stamp_alone_is_no_change(tmp_path: Path, shipped: Catalog) -> None:
    folder = copy_catalog(tmp_path)
    edit_yaml(folder / "catalog.yaml", lambda m: m.update(version="2099.1.1"))
    d = diff_catalogs(shipped, load_catalog(folder))
    assert d.empty and d.new_version == "2099.1.1"
    assert render_text(d).count("\n") == 1


# --- the command ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cli() -> typer.Typer:
    """The command registered the way `banscan catalog` registers it."""
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """Catalog commands."""

    app.command("diff")(catalog_diff)
    return app


def test_cli_identical_exits_0(cli: typer.Typer, tmp_path: Path) -> None:
    res = runner.invoke(cli, ["diff", "built-in", str(copy_catalog(tmp_path))])
    assert res.exit_code == 0, res.output
    assert res.stdout.count("\n") == 1 and "same entries" in res.stdout


def test_cli_differences_exit_1(cli: typer.Typer, edited_dir: Path) -> None:
    res = runner.invoke(cli, ["diff", "built-in", str(edited_dir)])
    assert res.exit_code == 1
    assert '  + product kes-linux "Kaspersky Endpoint Security for Linux"' in res.stdout.splitlines()
    assert "  ~ product kaspersky-standard: status covered → carved-out" in res.stdout.splitlines()

    res = runner.invoke(cli, ["diff", str(edited_dir), "built-in", "--json"])
    assert res.exit_code == 1
    data = json.loads(res.stdout)
    assert data["empty"] is False
    assert [e["id"] for e in data["products"]["removed"]] == ["kes-linux"]
    assert [e["id"] for e in data["sources"]["removed"]] == ["kesl-help-12"]


def test_cli_reads_a_single_json_or_yaml_file(cli: typer.Typer, tmp_path: Path, shipped: Catalog) -> None:
    as_json = tmp_path / "catalog.json"
    as_json.write_text(json.dumps(shipped.model_dump(mode="json")), encoding="utf-8")
    as_yaml = tmp_path / "catalog.yaml"
    as_yaml.write_text(yaml.safe_dump(shipped.model_dump(mode="json")), encoding="utf-8")
    res = runner.invoke(cli, ["diff", str(as_json), str(as_yaml), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["empty"] is True and data["products"] == {"added": [], "removed": [], "changed": []}


def test_cli_broken_catalog_exits_2(cli: typer.Typer, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("meta: [unclosed\n", encoding="utf-8")
    res = runner.invoke(cli, ["diff", "built-in", str(broken)])
    assert res.exit_code == 2 and res.stdout == ""
    assert "catalog error" in res.stderr and "invalid YAML" in res.stderr

    folder = copy_catalog(tmp_path)
    edit_product(folder, "kaspersky-standard", lambda p: p.update(sources=["no-such-source"]))
    res = runner.invoke(cli, ["diff", str(folder), "built-in"])
    assert res.exit_code == 2 and "no-such-source" in res.stderr

    res = runner.invoke(cli, ["diff", "built-in", str(tmp_path / "missing.yaml")])
    assert res.exit_code == 2
