"""Days without updates belong to the ban that stops the updates: BIS barred Kaspersky's
signature and codebase updates in the US from 2024-09-29 (the Kaspersky pack's
`last_permitted_update`), so its findings count their days from it; a finding of a pack whose
rules stop no updates (section 889, TikTok on government devices) shows none. A catalog without
packs is one ban, dated by its `meta.last_permitted_update`."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from banscan.catalog.loader import CatalogError, default_catalog_dir, load_catalog
from banscan.catalog.schema import Catalog
from banscan.cli import app
from banscan.models import Confidence, Evidence, Finding, Verdict
from banscan.policy.engine import apply_policy, definitions_age, last_permitted_update, update_cutoffs

D = dt.date.fromisoformat
ZEPHYR = Path(__file__).parent / "fixtures" / "packs" / "zephyr-ban"
MINI = Path(__file__).parent / "data" / "mini_catalog.yaml"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def finding(product: str, verdict: Verdict = Verdict.COVERED, vendor: str = "") -> Finding:
    ev = Evidence("osquery", "display_name", product, "programs:1", Confidence.DEFINITIVE)
    return Finding(
        host="ws-01",
        product=product,
        product_name=product,
        vendor=vendor,
        verdict=verdict,
        confidence=Confidence.DEFINITIVE,
        evidence=[ev],
    )


def test_the_kaspersky_pack_states_the_cutoff_with_its_source(catalog: Catalog) -> None:
    pack = catalog.pack("kaspersky")
    assert pack is not None and pack.last_permitted_update == D("2024-09-29")
    (sid,) = pack.last_permitted_update_sources
    assert catalog.source(sid).topic == "legal" and "federalregister.gov" in str(catalog.source(sid).url)
    others = [p.id for p in catalog.packs if p.last_permitted_update is not None]
    assert others == ["kaspersky"]


@pytest.mark.parametrize(
    ("product", "verdict", "age"),
    [
        ("kes-windows", Verdict.COVERED, 245),  # 2024-09-29 → 2025-06-01
        ("kaspersky-lab-unlisted-kaspersky-quantum-shield", Verdict.COVERED, 245),  # by its entity
        ("huawei-hisuite", Verdict.REVIEW, None),  # section 889 stops no updates
        ("hikvision-unlisted-storage-console", Verdict.REVIEW, None),
        ("tiktok", Verdict.COVERED, None),  # nor does the TikTok ban
        ("not-in-any-pack", Verdict.COVERED, None),
    ],
)
def test_only_the_pack_that_stops_updates_ages_its_findings(
    catalog: Catalog, product: str, verdict: Verdict, age: int | None
) -> None:
    fs = [finding(product, verdict)]
    apply_policy(catalog, fs, "federal-contractor", D("2025-06-01"))
    assert fs[0].definitions_age_days == age


def test_a_narrowed_catalog_keeps_its_packs_cutoffs(catalog: Catalog) -> None:
    ndaa = catalog.with_packs(["ndaa-889"])
    assert definitions_age(ndaa, finding("huawei-hisuite", Verdict.REVIEW), D("2025-06-01")) is None
    kasp = catalog.with_packs(["kaspersky", "ndaa-889"])
    assert definitions_age(kasp, finding("kes-windows"), D("2024-10-01")) == 2
    assert update_cutoffs(kasp, ["huawei-hisuite", "kes-windows", "kesl"]) == [(D("2024-09-29"), ["US"])]
    assert update_cutoffs(kasp, ["huawei-hisuite"]) == []


def test_a_catalog_without_packs_is_dated_by_its_meta() -> None:
    mini = load_catalog(MINI)
    assert not mini.packs
    assert last_permitted_update(mini, "acme-endpoint") == mini.meta.last_permitted_update
    assert definitions_age(mini, finding("acme-endpoint"), D("2024-10-29")) == 30


@pytest.fixture(scope="module")
def dated_zephyr(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built-in catalog plus the fictional pack, stating a cut-off of its own."""
    folder = tmp_path_factory.mktemp("catalog") / "catalog"
    shutil.copytree(default_catalog_dir(), folder)
    shutil.copytree(ZEPHYR, folder / "packs" / "zephyr-ban")
    pack = folder / "packs" / "zephyr-ban" / "pack.yaml"
    pack.write_text(
        pack.read_text(encoding="utf-8")
        + "last_permitted_update: 2031-02-01\nlast_permitted_update_sources: [zephyr-act-text]\n",
        encoding="utf-8",
    )
    return folder


def test_a_new_ban_that_stops_updates_is_data(dated_zephyr: Path) -> None:
    cat = load_catalog(dated_zephyr)
    fs = [finding("zephyr-cam-viewer"), finding("kes-windows"), finding("huawei-hisuite", Verdict.REVIEW)]
    apply_policy(cat, fs, "federal-contractor", D("2031-03-03"))
    assert [f.definitions_age_days for f in fs] == [30, 2346, None]
    assert update_cutoffs(cat, ["zephyr-cam-viewer", "kes-windows"]) == [
        (D("2024-09-29"), ["US"]),
        (D("2031-02-01"), ["US"]),
    ]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("last_permitted_update: 2031-02-01\n", "needs last_permitted_update_sources"),
        (
            "last_permitted_update: 2031-02-01\nlast_permitted_update_sources: [zephyr-vendor-docs]\n",
            "not among the pack's sources",
        ),
        ("last_permitted_update_sources: [zephyr-act-text]\n", "without last_permitted_update"),
    ],
)
def test_a_cutoff_names_the_packs_own_source(tmp_path: Path, extra: str, message: str) -> None:
    folder = tmp_path / "catalog"
    shutil.copytree(default_catalog_dir(), folder)
    shutil.copytree(ZEPHYR, folder / "packs" / "zephyr-ban")
    pack = folder / "packs" / "zephyr-ban" / "pack.yaml"
    pack.write_text(pack.read_text(encoding="utf-8") + extra, encoding="utf-8")
    with pytest.raises(CatalogError, match=message):
        load_catalog(folder)


# -- end to end: a scan's result and its Markdown report ---------------------------------------

_PROGRAMS = {
    "kes": {"name": "Kaspersky Endpoint Security for Windows", "version": "12.6", "publisher": "AO Kaspersky Lab"},
    "hisuite": {"name": "HiSuite", "version": "14.0.0.380", "publisher": "Huawei Technologies Co., Ltd."},
}  # fmt: skip


def _log(path: Path, programs: list[str]) -> Path:
    lines = [
        json.dumps(
            {
                "name": "pack_inventory_programs",
                "hostIdentifier": f"ws-{i:02}",
                "calendarTime": "Mon Mar  3 10:00:00 2025 UTC",
                "unixTime": 1741000000,
                "columns": {**_PROGRAMS[p], "identifying_number": "", "uninstall_string": "x"},
                "action": "added",
            }
        )
        for i, p in enumerate(programs)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _scan_and_report(tmp_path: Path, programs: list[str]) -> tuple[dict[str, Any], str]:
    log = _log(tmp_path / "osqueryd.results.log", programs)
    result = tmp_path / "result.json"
    args = ["scan", str(log), "--role", "federal-contractor", "--as-of", "2025-03-03", "-f", "json"]
    r = CliRunner().invoke(app, [*args, "-o", str(result), "-q"])
    assert r.exit_code in (0, 1), r.output
    md = tmp_path / "report.md"
    r = CliRunner().invoke(app, ["report", str(result), "-f", "md", "-o", str(md)])
    assert r.exit_code == 0, r.output
    return json.loads(result.read_text(encoding="utf-8")), md.read_text(encoding="utf-8")


def test_scan_and_report_age_only_kaspersky(tmp_path: Path) -> None:
    doc, md = _scan_and_report(tmp_path, ["kes", "hisuite"])
    ages = {f["product"]: f["definitions_age_days"] for f in doc["findings"]}
    assert ages == {"kes-windows": 155, "huawei-hisuite": None}  # 2024-09-29 → 2025-03-03
    (line,) = [x for x in md.splitlines() if x.startswith("- Definitions age")]
    assert (
        line
        == "- Definitions age: up to 155 days without updates (none permitted in the US since 2024-09-29)"
    )


def test_a_report_of_other_bans_says_nothing_of_updates(tmp_path: Path) -> None:
    doc, md = _scan_and_report(tmp_path, ["hisuite"])
    assert [f["product"] for f in doc["findings"]] == ["huawei-hisuite"]
    assert doc["findings"][0]["definitions_age_days"] is None
    assert "Definitions age" not in md and "without updates" not in md
