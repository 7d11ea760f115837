"""Transition plans: replacement first, then removal built from evidence, then a verifying re-scan."""

from __future__ import annotations

import copy
import csv
import io
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from markupsafe import escape
from typer.testing import CliRunner

from banscan.cli import app
from banscan.documents import ReportInputError, build_context
from banscan.documents.html import render_plan
from banscan.documents.load import load_results, parse_result
from banscan.documents.plan import (
    CSV_COLUMNS,
    HostPlan,
    PlanConfig,
    ProductPlan,
    build_plan,
    load_plan_config,
    render_csv,
    render_json,
    render_markdown,
)
from linux_root import HOSTNAME as LINUX_HOST
from test_reports_data import (
    KES_GUID,
    MAC_HOST,
    NAGENT_GUID,
    WIN_HOST,
    both_context,
    catalog,
    estate_files,
    late_context,
)


def _steps(plans: list[HostPlan], host: str, product: str) -> ProductPlan:
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
    mac = next(h for h in plans if h.host == MAC_HOST)
    # The shared Kaspersky core (launchd job, system extension) is evidence for the identified
    # product on the Mac, not a second "product not identified" entry.
    assert "kaspersky-generic" not in {p.product for p in mac.products}
    cmds = " ".join(s.command for p in mac.products for s in p.steps)
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


# --- the HTML plan ------------------------------------------------------------------------------


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _offline(html: str) -> list[tuple[str, dict[str, str | None]]]:
    """Nothing the page would fetch or run: links stay inside it, no scripts, styles or fonts from elsewhere."""
    assert html.startswith("<!DOCTYPE html>")
    parser = _Tags()
    parser.feed(html)
    names = {t for t, _ in parser.tags}
    assert not names & {"script", "link", "iframe", "img", "object", "embed", "base", "form"}
    for _, attrs in parser.tags:
        for key in ("src", "href", "action", "srcset"):
            value = attrs.get(key)
            assert value is None or value.startswith(("#", "data:")), (key, value)
        assert not any(k.startswith("on") for k in attrs)
    style = html[html.index("<style>") : html.index("</style>")]
    assert "@import" not in style and "url(" not in style and "http" not in style
    return parser.tags


def test_html_plan_has_the_markdown_plans_content_in_order() -> None:
    ctx = late_context()
    plans = build_plan(ctx)
    html = render_plan(plans, ctx)
    md = render_markdown(plans, ctx)
    _offline(html)
    assert "<title>Transition plan</title>" in html and f"As of <strong>{ctx.as_of}</strong>" in html
    assert str(escape(ctx.merged.results[0].path)) in html
    hosts = [h.host for h in plans]
    assert [m for m in re.findall(r"<h2>(.*?) <span", html)] == [str(escape(h)) for h in hosts]
    at = 0
    for hp in plans:
        at = html.index(f"<h2>{escape(hp.host)} <span", at)
        for pp in hp.products:
            at = html.index(f"<h3>{escape(pp.product_name)}", at)
            assert pp.product_name in md  # the same products as the Markdown plan
            if pp.replacement:
                assert f"Replacement: {escape(pp.replacement)}" in html[at:]
            for step in pp.steps:
                item = (
                    f'<li value="{step.step}"><span class="phase">{step.phase}</span> — {escape(step.action)}'
                )
                at = html.index(item, at)
                if step.command:
                    at = html.index(f'<pre class="cmd"><code>{escape(step.command)}</code></pre>', at)
    kesl = _steps(plans, LINUX_HOST, "kesl")
    phases = [s.phase for s in kesl.steps]
    assert phases[0] == "replace" and phases[-1] == "verify"  # replacement first, verify last
    assert "apt-get purge -y kesl-gui kesl" in html and "msiexec /x " + KES_GUID in html
    assert 'class="verdict v-accepted">accepted<' in html  # the Windows exception
    assert "exception expires" in html and "2025-03-31" in html


def test_html_plan_escapes_hostile_host_and_product_names(tmp_path: Path) -> None:
    doc = json.loads(estate_files()[1].read_text(encoding="utf-8"))
    evil_host = 'ws-01"><script>alert(1)</script>'
    evil = copy.deepcopy(next(f for f in doc["findings"] if f["product"] == "kesl"))
    evil["host"] = evil_host
    evil["product_name"] = "Kaspersky <img src=x onerror=alert(2)> & 'Co'"
    evil["version"] = "</h3><iframe src=//evil.example>"
    for e in evil["evidence"]:
        if e["source"] == "dpkg":
            e["value"] = "kesl</code></pre><a href=https://evil.example>x</a>"
    doc["findings"].append(evil)
    doc["hosts"] = [*doc.get("hosts", []), evil_host]
    ctx = build_context([parse_result(doc, "hostile.json")], catalog())
    plans = build_plan(ctx)
    assert any(h.host == evil_host for h in plans)
    html = render_plan(plans, ctx)
    tags = _offline(html)
    assert [a["href"] for t, a in tags if t == "a"] == [f"#host-{n}" for n in range(1, len(plans) + 1)]
    assert "<img" not in html and "evil.example>" not in html and "<a href=https" not in html
    assert "ws-01&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Kaspersky &lt;img src=x onerror=alert(2)&gt; &amp; &#39;Co&#39;" in html
    assert "&lt;/h3&gt;&lt;iframe src=//evil.example&gt;" in html
    assert "kesl&lt;/code&gt;&lt;/pre&gt;&lt;a href=https://evil.example&gt;x&lt;/a&gt;" in html


def test_html_plan_with_nothing_to_plan() -> None:
    doc = {
        "schema": "banscan/result/v1",
        "banscan_version": "0.1.0",
        "catalog_version": "2026.11.1",
        "as_of": "2024-11-08",
        "role": "user",
        "generated_at": "2024-11-08T10:00:00+00:00",
        "targets": [{"target": "/mnt/clean", "format": "root:linux", "records": 40, "errors": []}],
        "findings": [],
        "summary": {"hosts": 1, "hosts_with_findings": 0, "findings": 0, "by_verdict": {}},
    }
    ctx = build_context([parse_result(doc, "clean.json")], catalog())
    html = render_plan(build_plan(ctx), ctx)
    assert "No banned software found — nothing to plan." in html and "<h2>" not in html


def test_plan_command_writes_html_and_pdf(tmp_path: Path) -> None:
    import typer

    from banscan.cli.plan import plan_command
    from banscan.cli.report import report_command

    app = typer.Typer()
    app.command("plan")(plan_command)
    app.command("report")(report_command)
    late = estate_files()[1]
    out = tmp_path / "plan.html"
    res = CliRunner().invoke(app, ["plan", str(late), "--format", "html", "-o", str(out)])
    assert res.exit_code == 0, res.output
    html = out.read_text(encoding="utf-8")
    _offline(html)
    assert f"<h2>{LINUX_HOST} <span" in html and "apt-get purge -y kesl-gui kesl" in html
    pytest.importorskip("weasyprint", reason="weasyprint is not installed")
    pdf = tmp_path / "plan.pdf"
    res = CliRunner().invoke(app, ["plan", str(late), "--format", "pdf", "-o", str(pdf)])
    assert res.exit_code == 0, res.output
    assert pdf.read_bytes().startswith(b"%PDF-")
    tool = shutil.which("pdftotext")
    if tool is None:
        pytest.skip("pdftotext is not installed (Debian: apt-get install poppler-utils)")
    text = subprocess.run([tool, "-layout", str(pdf), "-"], check=True, capture_output=True, text=True).stdout
    assert LINUX_HOST in text and WIN_HOST in text and "Transition plan" in text
    assert "msiexec /x" in text and "Антивирус Касперского" in text


def test_overdue_plan_items_say_so_and_never_show_a_passed_date_as_due() -> None:
    # the estate was first scanned 2024-10-01: by 2024-11-08 the FAR reports are overdue
    ctx = both_context()
    plans = build_plan(ctx)
    kesl = _steps(plans, LINUX_HOST, "kesl")
    assert {(s.due_date, s.due_state) for s in kesl.steps} == {("2024-10-04", "overdue")}
    assert "deadline passed 35 days ago" in kesl.steps[0].due_basis
    md = render_markdown(plans, ctx)
    assert "- **Overdue** since 2024-10-04" in md and "- Due: 2024-10-04" not in md
    html = render_plan(plans, ctx)
    assert '<span class="s-overdue">overdue</span> since <strong>2024-10-04</strong>' in html
    rows = list(csv.DictReader(io.StringIO(render_csv(plans))))
    assert {r["due_state"] for r in rows if r["product"] == "kesl"} == {"overdue"}
    # the later scan alone: the clock started 2024-11-08, the report is still due
    fresh = _steps(build_plan(late_context()), LINUX_HOST, "kesl")
    assert {(s.due_date, s.due_state) for s in fresh.steps} == {("2024-11-14", "due")}


def test_bod_plan_for_a_federal_agency_is_overdue_since_2017(tmp_path: Path) -> None:
    from banscan.documents.bod import build_bod
    from banscan.documents.bod import render_markdown as render_bod_markdown

    early, _late = estate_files()
    data = json.loads(early.read_text(encoding="utf-8"))
    data["role"] = "federal-agency"
    p = tmp_path / "agency.json"
    p.write_text(json.dumps(data), encoding="utf-8")
    ctx = build_context([parse_result(json.loads(p.read_text(encoding="utf-8")), str(p))], catalog())
    kesl = _steps(build_plan(ctx), LINUX_HOST, "kesl")
    assert kesl.steps[0].due_state == "overdue" and kesl.steps[0].due_date == "2017-10-13"
    bod = build_bod(ctx)
    items = [i for i in bod.plan if i.host == LINUX_HOST]
    assert items and all(i.due == "overdue since 2017-10-13" for i in items)
    assert "Due 2017-10-13" not in render_bod_markdown(bod)


def test_bod_requirements_say_in_force_since_and_overdue() -> None:
    from banscan.documents.bod import build_bod
    from banscan.documents.bod import render_markdown as render_bod_markdown

    bod = build_bod(late_context())  # as of 2024-11-08
    status = {r["id"]: r["status"] for r in bod.requirements}
    assert status["identify"] == "in force since 2017-09-13; overdue since 2017-10-13 (2583 days)"
    assert "| Requirement | Deadline | Status |" in render_bod_markdown(bod)


def test_removal_steps_are_catalog_data() -> None:
    cat = catalog()
    kes = _steps(build_plan(late_context()), WIN_HOST, "kes-windows")
    # the vendor's removal tool comes from its vendor-wide removal data, after the MSI uninstall
    generic = cat.product("kaspersky-generic").removal
    assert generic is not None and generic.vendor_wide
    (tool,) = generic.steps
    assert tool.tool and tool.platforms == ["windows"]
    removes = [s for s in kes.steps if s.phase == "remove"]
    assert removes[0].command.startswith(f"msiexec /x {KES_GUID}")
    assert removes[-1].command == tool.command and removes[-1].action == " ".join(tool.action.split())
    # the console's uninstall task and password: the product's own prepare step
    own = cat.product("kes-windows").removal
    assert own is not None
    assert [s.action for s in kes.steps if s.phase == "prepare"] == [" ".join(own.steps[0].action.split())]
    # the Mac and Linux products get no Windows tool
    plans = build_plan(late_context())
    assert not any(
        "kavremover" in s.command
        for h in plans
        if h.platform != "windows"
        for p in h.products
        for s in p.steps
    )
    # without removal data the same product gets no tool, and a prepare step from its category
    bare = cat.model_copy(update={"products": [p.model_copy(update={"removal": None}) for p in cat.products]})
    kes = _steps(build_plan(build_context(load_results([estate_files()[1]]), bare)), WIN_HOST, "kes-windows")
    assert not any("kavremover" in s.command for s in kes.steps)
    assert [s.action for s in kes.steps if s.phase == "prepare"] == [
        "Turn off the application's self-defense (Settings) and quit it before uninstalling; a parental "
        "control or protection product may ask for its own password."
    ]


def test_plans_name_the_packs_they_were_judged_by() -> None:
    ctx = late_context()
    plans = build_plan(ctx)
    ids = [p["id"] for p in ctx.packs]
    assert "kaspersky" in ids
    assert [p["id"] for p in json.loads(render_json(plans, ctx))["packs"]] == ids
    md = render_markdown(plans, ctx)
    assert "Judged by pack(s): Kaspersky Lab software (kaspersky " in md
    assert "Packs: Kaspersky Lab software (kaspersky " in render_plan(plans, ctx)


def test_network_equipment_is_retired_and_verified_on_the_network(tmp_path: Path) -> None:
    """A switch from a NetBox export is equipment: the plan takes it out of service and checks
    the network again, instead of uninstalling it and re-scanning a host it is not."""
    inventory = tmp_path / "netbox-devices.csv"
    inventory.write_text(
        "Name,Status,Tenant,Site,Location,Rack,Role,Manufacturer,Type,IP Address\n"
        "noc-sw-07,Active,,HQ,Floor 2,R04,Access Switch,Huawei,CloudEngine S5735-L48T4X-A1,10.0.7.2/24\n",
        encoding="utf-8",
    )
    result = tmp_path / "result.json"
    runner = CliRunner()
    scan = ["scan", str(inventory), "--pack", "ndaa-889", "--role", "federal-contractor"]
    r = runner.invoke(app, [*scan, "--as-of", "2025-07-03", "-f", "json", "-o", str(result), "-q"])
    assert r.exit_code == 1, r.output  # covered equipment
    r = runner.invoke(app, ["plan", str(result), "--format", "md"])
    assert r.exit_code == 0, r.output
    assert "**remove** — Take the device out of service" in r.stdout
    assert "nmap -sV -O -oX noc-sw-07-verify.xml noc-sw-07 && banscan scan noc-sw-07-verify.xml" in r.stdout
    assert "usual uninstall method" not in r.stdout and "--output noc-sw-07-verify.json" not in r.stdout
