"""`banscan export --pack`: an export of any pack names that pack's vendors and no other ban's,
groups a vendor's unlisted programs as the scan judges them, and says what it could not express
(phone apps, which no osquery table lists) instead of dropping it. The queries are run by
SQLite against tables with osquery's column names (tests/data/osquery_schema.sql)."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from banscan.catalog.loader import default_catalog_dir, load_catalog
from banscan.catalog.schema import Catalog
from banscan.cli import app
from banscan.match.matcher import Matcher
from banscan.models import InventoryRecord, RecordKind, Source
from banscan.rules.leftout import PHONE_APPS
from banscan.rules.osquery import PackQuery, build_queries

SCHEMA = (Path(__file__).parent / "data" / "osquery_schema.sql").read_text(encoding="utf-8")
ZEPHYR = Path(__file__).parent / "fixtures" / "packs" / "zephyr-ban"
# Each pack's vendors (their entity names) that its export must name.
VENDORS = {
    "ndaa-889": ["Huawei Technologies Company", "ZTE Corporation", "Dahua Technology Company"],
    "gov-apps": ["ByteDance Ltd."],
    "zephyr-ban": ["Zephyr Optics Holdings"],
}


@pytest.fixture(scope="module")
def catalog_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built-in catalog with the fictional pack in its packs/ folder."""
    folder = tmp_path_factory.mktemp("catalog") / "catalog"
    shutil.copytree(default_catalog_dir(), folder)
    shutil.copytree(ZEPHYR, folder / "packs" / "zephyr-ban")
    return folder


def export(catalog_dir: Path, kind: str, *args: str) -> str:
    r = CliRunner().invoke(app, ["export", kind, "--catalog", str(catalog_dir), *args])
    assert r.exit_code == 0, r.output
    return r.stdout


def connect() -> sqlite3.Connection:
    db = sqlite3.connect(":memory:")

    def regex_match(text: str | None, pattern: str, index: int) -> str | None:
        m = re.search(pattern, text) if text is not None else None
        return m.group(index) if m else None

    db.create_function("regex_match", 3, regex_match, deterministic=True)
    db.executescript(SCHEMA)
    return db


def rows(db: sqlite3.Connection, sql: str) -> list[dict[str, Any]]:
    cur = db.execute(sql)
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]


@pytest.mark.parametrize("pack", sorted(VENDORS))
def test_osquery_export_of_a_pack_names_its_vendors(catalog_dir: Path, pack: str) -> None:
    text = export(catalog_dir, "osquery", "--pack", pack)
    doc = json.loads(text)
    assert doc["queries"], pack
    for name in VENDORS[pack]:
        assert name in doc["description"], (pack, name)
    for q in doc["queries"].values():
        assert "software of " in q["description"] and "banscan catalog" in q["description"]
        assert any(v in q["description"] for v in [*VENDORS[pack], "Hangzhou Hikvision", "Hytera"])
    assert "kaspersky" not in text.lower()


@pytest.mark.parametrize("pack", sorted(VENDORS))
def test_fleet_export_of_a_pack_names_its_vendors(catalog_dir: Path, pack: str) -> None:
    text = export(catalog_dir, "fleet", "--pack", pack)
    header = [line for line in text.splitlines() if line.startswith("#")]
    assert header and any(v in header[0] for v in VENDORS[pack])
    specs = [d["spec"] for d in yaml.safe_load_all(text)]
    assert specs
    for spec in specs:
        assert spec["name"].startswith("banscan: no ")
        assert any(v in spec["name"] for v in [*VENDORS[pack], "Hangzhou Hikvision", "Hytera"]), spec["name"]
    assert "kaspersky" not in text.lower()


def test_kaspersky_export_keeps_its_words(catalog_dir: Path) -> None:
    """The default export (a user in the US) is the Kaspersky pack's, worded as before from data:
    its vendor, the US rule, its registry key and its root certificates by name."""
    specs = {(d["spec"]["platform"], d["spec"]["critical"], d["spec"]["name"]): d["spec"] for d in
             yaml.safe_load_all(export(catalog_dir, "fleet", "--pack", "kaspersky"))}  # fmt: skip
    names = [name for _, _, name in specs]
    assert "banscan: no software of Kaspersky Lab covered by a US prohibition (Windows)" in names
    assert "banscan: no leftovers of uninstalled software of Kaspersky Lab (macOS)" in names
    win = specs[
        ("windows", True, "banscan: no software of Kaspersky Lab covered by a US prohibition (Windows)")
    ]
    assert "HKLM\\SOFTWARE\\KasperskyLab keys" in win["resolution"]
    (remnant,) = [s for (p, c, n), s in specs.items() if p == "windows" and "leftovers" in n]
    assert "Kaspersky Anti-Virus Personal Root Certificate" in remnant["resolution"]
    assert "certlm.msc" in remnant["resolution"]


def test_default_packs_follow_role_and_jurisdiction(catalog_dir: Path) -> None:
    """Without --pack an export holds what `banscan scan` would judge with the same options."""
    user = json.loads(export(catalog_dir, "osquery"))["description"]
    assert "Kaspersky Lab" in user and "Zephyr Optics Holdings" in user  # both bind users
    assert "Huawei" not in user and "ByteDance" not in user
    contractor = json.loads(export(catalog_dir, "osquery", "--role", "federal-contractor"))["description"]
    assert "Huawei Technologies Company" in contractor and "ByteDance Ltd." in contractor
    texas = export(catalog_dir, "osquery", "--role", "state-agency", "--jurisdiction", "tx")
    assert "Tencent Holdings Ltd." in json.loads(texas)["description"]
    r = CliRunner().invoke(app, ["export", "fleet", "--catalog", str(catalog_dir), "--role", "king"])
    assert r.exit_code == 2 and "--role" in r.output
    r = CliRunner().invoke(app, ["export", "yara", "--catalog", str(catalog_dir), "--jurisdiction", "XX"])
    assert r.exit_code == 2 and "jurisdiction" in r.output
    r = CliRunner().invoke(app, ["export", "osquery", "--catalog", str(catalog_dir), "--pack", "nope"])
    assert r.exit_code == 2 and "zephyr-ban" in r.output


def test_phone_apps_are_named_as_left_out(catalog_dir: Path) -> None:
    """gov-apps is mostly phone apps: osquery sees none of them, and the export says which."""
    doc = json.loads(export(catalog_dir, "osquery", "--pack", "gov-apps"))
    (phones,) = [line for line in doc["left_out"] if line.startswith(PHONE_APPS)]
    assert "tiktok (bundle_id com.zhiliaoapp.musically" in phones
    assert "bundle_id com.ss.android.ugc.trill" in phones
    assert "display_name TikTok" in phones
    queried = {
        p
        for q in doc["queries"].values()
        for p in re.findall(r"'([a-z0-9-]+)' AS banscan_product", q["query"])
    }
    assert "tiktok" not in queried  # left out indeed, not looked for under another name
    assert "douyin" in queried  # its Windows program is looked for
    fleet = export(catalog_dir, "fleet", "--pack", "gov-apps")
    assert any(
        line.startswith(f"# - {PHONE_APPS}") and "com.zhiliaoapp.musically" in line
        for line in fleet.splitlines()
    )


def test_what_osquery_can_see_is_not_listed_as_left_out(catalog_dir: Path) -> None:
    doc = json.loads(export(catalog_dir, "osquery", "--pack", "zephyr-ban"))
    text = "\n".join(doc["left_out"])
    # its byte signature and its product publisher are left to others; its macOS bundle id is not
    assert "byte_signature ZephyrCamViewer-Codec-7" in text
    assert "publisher Zephyr Optics Holdings" in text
    assert "org.example.zephyr.camviewer" not in text
    assert not any(line.startswith(PHONE_APPS) for line in doc["left_out"])


def test_yara_export_of_a_pack(catalog_dir: Path) -> None:
    text = export(catalog_dir, "yara", "--pack", "zephyr-ban")
    assert "rule banscan_zephyr_cam_viewer_3" in text and "Zephyr Optics Holdings" in text
    assert "// Left out: products with no byte signature" in text and "zephyr-device-agent" in text
    assert "kaspersky" not in text.lower()
    yara = pytest.importorskip("yara")
    rules = yara.compile(source=text)
    hits = rules.match(data=b"MZ" + b"\x00" * 64 + b"ZephyrCamViewer-Codec-7")
    assert [m.meta["banscan_product"] for m in hits] == ["zephyr-cam-viewer"]
    empty = export(catalog_dir, "yara", "--pack", "gov-apps")  # no byte signatures at all
    assert "rule " not in empty and "tiktok" in empty
    yara.compile(source=empty)


# -- unlisted programs: the export's group is the scan's verdict -----------------------------


def _publisher_rows(queries: list[PackQuery], name: str, publisher: str) -> set[tuple[str, str]]:
    db = connect()
    db.execute("INSERT INTO programs (name, version, publisher) VALUES (?, '1.0', ?)", (name, publisher))
    return {
        (str(r["banscan_product"]), str(r["banscan_status"]))
        for q in queries
        if q.source == "programs_publisher"
        for r in rows(db, q.sql)
    }


def _scan_verdicts(catalog: Catalog, name: str, publisher: str) -> set[tuple[str, str]]:
    matcher = Matcher(catalog)
    matcher.add(
        InventoryRecord(
            host="ws-01",
            source=Source("osquery", "programs:1"),
            kind=RecordKind.APP,
            name=name,
            publisher=publisher,
            version="1.0",
        )
    )
    return {(f.product, f.verdict.value) for f in matcher.findings()}


@pytest.mark.parametrize(
    ("name", "publisher", "group"),
    [
        ("Storage Console 2", "Hangzhou Hikvision Digital Technology Co., Ltd.", "review"),
        ("Mesh Recorder", "Dahua Technology Co.,Ltd", "review"),
        ("Link Assistant", "Huawei Technologies Co., Ltd.", "review"),
    ],
)
def test_unlisted_programs_are_grouped_as_the_scan_judges_them(name: str, publisher: str, group: str) -> None:
    catalog = load_catalog().with_packs(["ndaa-889"])
    exported = _publisher_rows(build_queries(catalog), name, publisher)
    verdicts = _scan_verdicts(catalog, name, publisher)
    assert {g for _, g in exported} == {v for _, v in verdicts} == {group}
    # the export names the entity's unlisted programs as one id; the scan adds the program's name
    assert {p for p, _ in exported} == {p.split("-unlisted")[0] + "-unlisted" for p, _ in verdicts}
