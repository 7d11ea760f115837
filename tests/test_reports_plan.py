"""Transition plans: replacement first, then removal built from evidence, then a verifying re-scan."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from banscan.reports import ReportInputError
from banscan.reports.plan import (
    CSV_COLUMNS,
    PlanConfig,
    build_plan,
    load_plan_config,
    render_csv,
    render_json,
    render_markdown,
)
from linux_root import HOSTNAME as LINUX_HOST
from test_reports_data import KES_GUID, MAC_HOST, NAGENT_GUID, WIN_HOST, both_context, late_context


def _steps(plans, host, product):  # type: ignore[no-untyped-def]
    hp = next(h for h in plans if h.host == host)
    return next(p for p in hp.products if p.product == product)


def test_linux_steps_replace_then_remove_then_verify() -> None:
    plans = build_plan(late_context())
    kesl = _steps(plans, LINUX_HOST, "kesl")
    phases = [s.phase for s in kesl.steps]
    assert phases[0] == "replace" and phases[-1] == "verify"
    assert phases.index("remove") > phases.index("prepare")
    commands = [s.command for s in kesl.steps]
    assert "apt-get purge -y kesl-gui kesl" in commands
    assert "systemctl disable --now kesl-supervisor kesl" in commands
    assert kesl.replacement == "Microsoft Defender for Endpoint"  # first catalog alternative for linux
    assert all(s.due_date == "2024-11-14" for s in kesl.steps)
    agent = _steps(plans, LINUX_HOST, "ksc-network-agent")
    assert any("uninstall password" in s.action for s in agent.steps)
    order = [p.product for p in next(h for h in plans if h.host == LINUX_HOST).products]
    assert order.index("kesl") < order.index("ksc-network-agent") < order.index("ksc-linux")


def test_windows_msiexec_from_uninstall_key_and_exception_due() -> None:
    plans = build_plan(both_context())
    kes = _steps(plans, WIN_HOST, "kes-windows")
    assert any(s.command.startswith(f"msiexec /x {KES_GUID}") for s in kes.steps)
    assert any("kavremover" in s.command for s in kes.steps)
    assert (
        kes.replacement == "Microsoft Defender Antivirus" and kes.replacement_source == "catalog (built in)"
    )
    assert kes.steps[0].due_date == "2025-03-31" and "exception expires" in kes.steps[0].due_basis
    assert any(s.command == "Get-MpComputerStatus" for s in kes.steps)
    assert not any(NAGENT_GUID in s.command for p in plans for pp in p.products for s in pp.steps)  # removed


def test_macos_steps_from_evidence() -> None:
    plans = build_plan(late_context())
    generic = _steps(plans, MAC_HOST, "kaspersky-generic")
    cmds = " ".join(s.command for s in generic.steps)
    assert "launchctl bootout system /Library/LaunchDaemons/com.kaspersky.kav.plist" in cmds
    assert "systemextensionsctl list" in cmds
    ext = _steps(plans, MAC_HOST, "kaspersky-protection-extension")
    assert any("amkpcclbbgegoafihnpgomddadjhcadd" in s.command for s in ext.steps)
    assert ext.replacement == ""


def test_approved_alternatives_come_first(tmp_path: Path) -> None:
    p = tmp_path / "org.yaml"
    p.write_text(
        "owner: it-security\n"
        "approved_alternatives:\n"
        "  - name: CrowdStrike Falcon\n"
        "    platforms: [linux, windows]\n"
        "    categories: [endpoint-protection]\n"
        "    install: {linux: 'apt-get install -y falcon-sensor'}\n",
        encoding="utf-8",
    )
    cfg = load_plan_config(p)
    kesl = _steps(build_plan(late_context(), cfg), LINUX_HOST, "kesl")
    assert kesl.replacement == "CrowdStrike Falcon" and kesl.replacement_source == "approved list"
    assert kesl.steps[0].command == "apt-get install -y falcon-sensor"
    assert kesl.steps[0].owner == "it-security"
    p.write_text(
        "approved_alternatives:\n  - {name: X, platforms: [beos], categories: [vpn]}\n", encoding="utf-8"
    )
    with pytest.raises(ReportInputError, match="platforms"):
        load_plan_config(p)


def test_csv_one_row_per_step_for_ticket_import() -> None:
    ctx = late_context()
    plans = build_plan(ctx, PlanConfig())
    rows = list(csv.DictReader(io.StringIO(render_csv(plans))))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert len(rows) == sum(len(pp.steps) for hp in plans for pp in hp.products)
    kesl_rows = [r for r in rows if r["host"] == LINUX_HOST and r["product"] == "kesl"]
    assert [r["step"] for r in kesl_rows] == [str(n) for n in range(1, len(kesl_rows) + 1)]
    assert all(r["owner"] == "" and r["due_date"] == "2024-11-14" for r in kesl_rows)


def test_json_and_markdown() -> None:
    ctx = late_context()
    plans = build_plan(ctx)
    data = json.loads(render_json(plans, ctx))
    assert data["schema"] == "banscan/plan/v1" and data["as_of"] == "2024-11-08"
    assert {h["host"] for h in data["hosts"]} == {LINUX_HOST, MAC_HOST, WIN_HOST}
    md = render_markdown(plans, ctx)
    assert f"## {LINUX_HOST} (linux)" in md and "apt-get purge -y kesl-gui kesl" in md
    assert "Kaspersky Endpoint Security for Windows" in md
