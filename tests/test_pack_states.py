"""State prohibited-technology packs (Texas, New Hampshire, Virginia): a state agency's scan picks
its own state's pack and no other state's, and judges Kaspersky, WeChat, WPS Office, DeepSeek and
Hikvision software found in Texas under the Texas rules with their dated obligations, while
programs with look-alike names are left alone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from banscan.catalog.loader import load_catalog
from banscan.catalog.schema import Catalog
from banscan.cli import app
from banscan.cli.common import narrow_to_packs

STATE_PACKS = {"us-tx", "us-nh", "us-va"}

# osquery `programs` rows as a Windows fleet reports them (pack_inventory_programs).
_PROGRAMS = [
    ("ws-tx-01", {"name": "Kaspersky Endpoint Security for Windows", "version": "12.6.0.438", "publisher": "AO Kaspersky Lab", "identifying_number": "{B2E1B6A1-6C47-4B3E-9C0C-2F1C7E2A4D11}", "uninstall_string": "MsiExec.exe /X{B2E1B6A1-6C47-4B3E-9C0C-2F1C7E2A4D11}"}),
    ("ws-tx-01", {"name": "WeChat", "version": "3.9.12.51", "publisher": "腾讯科技(深圳)有限公司", "identifying_number": "WeChat", "uninstall_string": "\"C:\\Program Files\\Tencent\\WeChat\\Uninstall.exe\""}),
    ("ws-tx-02", {"name": "iVMS-4200", "version": "3.11.1.5", "publisher": "", "identifying_number": "{0A5D5B8C-8D8E-4F47-A0B5-3B2B9E0C6F10}", "uninstall_string": "\"C:\\Program Files (x86)\\iVMS-4200 Site\\uninstall.exe\""}),
    ("ws-tx-02", {"name": "WPS Office (12.2.0.18607)", "version": "12.2.0.18607", "publisher": "Kingsoft Corp.", "identifying_number": "Kingsoft Office", "uninstall_string": "\"C:\\Users\\pat\\AppData\\Local\\Kingsoft\\WPS Office\\12.2.0.18607\\utility\\uninst.exe\""}),
    ("ws-tx-03", {"name": "DeepSeek", "version": "1.0.3", "publisher": "", "identifying_number": "{7C1E8C55-2B0E-4E0B-9A0E-4C6F3D1B2A90}", "uninstall_string": "x"}),
    ("ws-tx-03", {"name": "百度网盘", "version": "7.25.0.4", "publisher": "北京度友科技有限公司", "identifying_number": "百度云管家", "uninstall_string": "\"C:\\Program Files (x86)\\BaiduNetdisk\\Uninstall.exe\""}),
    # look-alikes: no brand of the lists, only similar words
    ("ws-tx-04", {"name": "Eclipse Temurin JDK with Hotspot 17.0.9+9 (x64)", "version": "17.0.9.9", "publisher": "Eclipse Adoptium", "identifying_number": "{9A1C5E0B-6F4B-4D2B-8E5A-1F2E3D4C5B6A}", "uninstall_string": "x"}),
    ("ws-tx-04", {"name": "ActiveTcl 8.6.13", "version": "8.6.13", "publisher": "ActiveState Software Inc.", "identifying_number": "{3D0C4B2A-1E9F-4A8B-9C7D-6E5F4A3B2C1D}", "uninstall_string": "x"}),
    ("ws-tx-04", {"name": "TigerVNC 1.13.1", "version": "1.13.1", "publisher": "TigerVNC project", "identifying_number": "TigerVNC_is1", "uninstall_string": "x"}),
    ("ws-tx-04", {"name": "ShareX", "version": "16.1.0", "publisher": "ShareX Team", "identifying_number": "ShareX_is1", "uninstall_string": "x"}),
    ("ws-tx-04", {"name": "WeChat Backup Viewer", "version": "2.1", "publisher": "Kleine Werkzeuge GmbH", "identifying_number": "{5E6F7A8B-9C0D-4E1F-A2B3-C4D5E6F7A8B9}", "uninstall_string": "x"}),
]  # fmt: skip
DECOY_HOST = "ws-tx-04"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="module")
def results_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("inputs") / "osqueryd.results.log"
    rows = [
        json.dumps(
            {
                "name": "pack_inventory_programs",
                "hostIdentifier": host,
                "calendarTime": "Mon Mar  2 10:00:00 2026 UTC",
                "unixTime": 1772445600,
                "columns": cols,
                "action": "added",
            },
            ensure_ascii=False,
        )
        for host, cols in _PROGRAMS
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def _scan(log: Path, out: Path, jurisdiction: str, as_of: str) -> dict[str, Any]:
    r = CliRunner().invoke(
        app,
        [
            "scan",
            str(log),
            "--role",
            "state-agency",
            "--jurisdiction",
            jurisdiction,
            "--as-of",
            as_of,
            "-f",
            "json",
            "-o",
            str(out),
            "-q",
        ],
    )
    assert r.exit_code == 1, r.output  # findings
    doc: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return doc


def _found(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(f["host"], f["product"]): f for f in doc["findings"]}


def _duties(finding: dict[str, Any], prefix: str) -> list[tuple[str, str, str, str | None]]:
    return sorted(
        (o["regulation"], o["status"], o["since"], o["deadline"])
        for o in finding["obligations"]
        if o["regulation"].startswith(prefix)
    )


def _chosen(catalog: Catalog, jurisdiction: str, role: str) -> set[str]:
    return {p.id for p in narrow_to_packs(catalog, None, jurisdiction, role).packs}


def test_state_agencies_get_their_own_states_pack(catalog: Catalog) -> None:
    binding = {r.pack for r in catalog.regulations if "state-agency" in r.binds}
    texas = _chosen(catalog, "US-TX", "state-agency")
    assert "us-tx" in texas and not texas & {"us-nh", "us-va"}
    # the federal packs come along only where a rule of theirs binds state agencies
    assert texas == {p.id for p in catalog.packs if p.applies_in("US-TX") and p.id in binding}
    assert "ndaa-889" in texas  # 2 CFR 200.216 binds recipients of federal awards
    new_hampshire = _chosen(catalog, "US-NH", "state-agency")
    assert "us-nh" in new_hampshire and not new_hampshire & {"us-tx", "us-va"}
    assert "us-va" in _chosen(catalog, "US-VA", "state-agency")
    assert not _chosen(catalog, "US", "state-agency") & STATE_PACKS  # a state's rules stay in it
    assert not _chosen(catalog, "US-TX", "user") & STATE_PACKS  # they bind state agencies only


def test_state_rules_bind_only_state_agencies(catalog: Catalog) -> None:
    rules = [r for r in catalog.regulations if r.pack in STATE_PACKS]
    assert {r.pack for r in rules} == STATE_PACKS
    for r in rules:
        assert r.jurisdiction == {"us-tx": "US-TX", "us-nh": "US-NH", "us-va": "US-VA"}[r.pack], r.id
        assert r.binds == ["state-agency"], r.id
        assert all(o.roles == ["state-agency"] for o in r.obligations), r.id


def test_texas_findings_are_judged_under_the_texas_rules(results_log: Path, tmp_path: Path) -> None:
    doc = _scan(results_log, tmp_path / "tx.json", "US-TX", "2026-03-02")
    assert "us-tx" in {p["id"] for p in doc["packs"]}
    found = _found(doc)
    assert set(found) == {
        ("ws-tx-01", "kes-windows"),
        ("ws-tx-01", "tencent-wechat"),
        ("ws-tx-02", "hikvision-ivms-4200"),
        ("ws-tx-02", "kingsoft-wps-office"),
        ("ws-tx-03", "deepseek-unlisted-deepseek"),
        ("ws-tx-03", "baidu-netdisk"),
    }
    directive = [
        ("tx-prohibited-technologies-2022", "overdue", "2023-02-06", "2023-02-15"),  # agency policy
        ("tx-prohibited-technologies-2022", "prohibited", "2022-12-07", None),
        ("tx-prohibited-technologies-2022", "prohibited", "2023-02-06", None),  # personal devices
    ]
    for key in (
        ("ws-tx-01", "kes-windows"),
        ("ws-tx-01", "tencent-wechat"),
        ("ws-tx-02", "kingsoft-wps-office"),
    ):
        assert found[key]["verdict"] == "covered", key
        assert _duties(found[key], "tx-") == directive, key
    # Hikvision's client is evidence of its cameras: for a person to review, under the same rules
    hik = found[("ws-tx-02", "hikvision-ivms-4200")]
    assert hik["verdict"] == "review"
    assert _duties(hik, "tx-") == directive
    assert {o["regulation"] for o in hik["obligations"]} >= {"ndaa-889-grants-2-cfr-200-216"}
    # DeepSeek, by its brand alone, is prohibited from the Governor's addition of January 31, 2025
    deepseek = found[("ws-tx-03", "deepseek-unlisted-deepseek")]
    assert deepseek["verdict"] == "covered"
    assert _duties(deepseek, "tx-") == [("tx-prohibited-technologies-2025", "prohibited", "2025-01-31", None)]
    # Baidu's client, by its Uninstall key, from the update of January 26, 2026
    netdisk = found[("ws-tx-03", "baidu-netdisk")]
    assert netdisk["verdict"] == "covered"
    assert _duties(netdisk, "tx-") == [("tx-prohibited-technologies-2026", "prohibited", "2026-01-26", None)]
    assert not any(f["host"] == DECOY_HOST for f in doc["findings"])


def test_texas_obligations_follow_their_dates(results_log: Path, tmp_path: Path) -> None:
    doc = _scan(results_log, tmp_path / "tx-2023.json", "US-TX", "2023-02-10")
    found = _found(doc)
    wechat = _duties(found[("ws-tx-01", "tencent-wechat")], "tx-")
    assert ("tx-prohibited-technologies-2022", "required", "2023-02-06", "2023-02-15") in wechat
    deepseek = _duties(found[("ws-tx-03", "deepseek-unlisted-deepseek")], "tx-")
    assert deepseek == [("tx-prohibited-technologies-2025", "not-yet-in-force", "2025-01-31", None)]
    netdisk = _duties(found[("ws-tx-03", "baidu-netdisk")], "tx-")
    assert netdisk == [("tx-prohibited-technologies-2026", "not-yet-in-force", "2026-01-26", None)]


def test_new_hampshire_does_not_apply_the_texas_list(results_log: Path, tmp_path: Path) -> None:
    doc = _scan(results_log, tmp_path / "nh.json", "US-NH", "2026-03-02")
    assert not {p["id"] for p in doc["packs"]} & {"us-tx", "us-va"}
    found = _found(doc)
    # only Kaspersky is New Hampshire's concern; WeChat, WPS Office and DeepSeek are not its rule's
    assert ("ws-tx-01", "kes-windows") in found
    assert not {p for _, p in found} & {
        "tencent-wechat",
        "kingsoft-wps-office",
        "deepseek-unlisted-deepseek",
        "baidu-netdisk",
    }
    kes = found[("ws-tx-01", "kes-windows")]
    assert _duties(kes, "nh-rsa") == [("nh-rsa-21-r-15", "prohibited", "2018-05-30", None)]
    assert not _duties(kes, "tx-")


def test_virginia_bans_tencent_apps_from_its_dates(results_log: Path, tmp_path: Path) -> None:
    doc = _scan(results_log, tmp_path / "va.json", "US-VA", "2026-03-02")
    found = _found(doc)
    wechat = found[("ws-tx-01", "tencent-wechat")]
    assert _duties(wechat, "va-") == [
        ("va-code-2-2-5514-c", "prohibited", "2023-07-01", None),
        ("va-eo-24-2022", "overdue", "2022-12-16", "2023-01-15"),
        ("va-eo-24-2022", "prohibited", "2022-12-16", None),
    ]
    assert not _duties(wechat, "tx-")
    assert not _duties(found[("ws-tx-01", "kes-windows")], "va-")  # Virginia's list names no Kaspersky
    assert ("ws-tx-02", "kingsoft-wps-office") not in found


def test_catalog_packs_and_list_show_the_state_packs() -> None:
    runner = CliRunner()
    r = runner.invoke(app, ["catalog", "packs", "--json"])
    assert r.exit_code == 0, r.output
    rows = {row["id"]: row for row in json.loads(r.output)}
    assert rows["us-tx"]["jurisdictions"] == ["US-TX"]
    assert (rows["us-tx"]["products"], rows["us-tx"]["regulations"]) == (4, 4)
    assert (rows["us-nh"]["products"], rows["us-nh"]["regulations"]) == (0, 1)
    assert (rows["us-va"]["products"], rows["us-va"]["regulations"]) == (0, 2)
    r = runner.invoke(app, ["catalog", "list", "--pack", "us-tx", "--json"])
    assert r.exit_code == 0, r.output
    listed = {p["id"]: p["pack"] for p in json.loads(r.output)}
    assert listed["tencent-wechat"] == listed["kingsoft-wps-office"] == "us-tx"
    # the vendors its rules cover bring the products other packs list
    assert listed["kes-windows"] == "kaspersky"
    assert listed["hikvision-ivms-4200"] == "ndaa-889"
    r = runner.invoke(app, ["catalog", "list", "--pack", "us-nh", "--json"])
    nh = {p["id"] for p in json.loads(r.output)}
    assert "kes-windows" in nh and "tencent-wechat" not in nh and "hikvision-ivms-4200" not in nh
