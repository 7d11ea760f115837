"""`banscan report` and `banscan plan` as commands, and the Markdown report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from banscan.catalog.loader import load_catalog
from banscan.cli.plan import plan_command
from banscan.cli.report import report_command
from banscan.documents.markdown import render_markdown
from linux_root import HOSTNAME as LINUX_HOST
from test_reports_data import APPROVER, WIN_HOST, both_context, estate_files, far_context_file, sites_file

app = typer.Typer()
app.command("report")(report_command)
app.command("plan")(plan_command)
runner = CliRunner()


def _run(*args: str | Path) -> Result:
    return runner.invoke(app, [str(a) for a in args])


def test_markdown_report_content() -> None:
    md = render_markdown(both_context())
    assert "# Banned software audit report" in md
    assert LINUX_HOST in md and WIN_HOST in md and APPROVER in md
    assert "89 FR 52434" in md and f"catalog {load_catalog().meta.version}" in md
    # deadlines run from the first identification (2024-10-01), not from the later scan
    assert "**overdue** since 2024-10-04 (35 days)" in md and "2024-11-14" not in md
    assert "## Trend" in md and "| 2024-10-01 |" in md
    assert "_By site: no site mapping given" in md


def test_report_md_and_html_to_files(tmp_path: Path) -> None:
    early, late = estate_files()
    out = tmp_path / "r.md"
    res = _run(
        "report",
        early,
        late,
        "--format",
        "md",
        "--sites",
        sites_file(),
        "--far-context",
        far_context_file(),
        "--bod",
        "-o",
        out,
    )
    assert res.exit_code == 0, res.output
    md = out.read_text(encoding="utf-8")
    assert "**By site**" in md and "Reston DC" in md
    assert "47QTCA-22-D-00AB" in md and "Implementation status" in md
    res = _run("report", late, "-o", tmp_path / "r.html")
    assert res.exit_code == 0 and (tmp_path / "r.html").read_text(encoding="utf-8").startswith(
        "<!DOCTYPE html>"
    )


def test_report_far_json_and_bod_json() -> None:
    late = estate_files()[1]
    res = _run("report", late, "--document", "far", "--format", "json", "--far-context", far_context_file())
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["reports"][0]["initial_due"] == "2024-11-14"
    res = _run("report", late, "--document", "bod", "--format", "json")
    assert res.exit_code == 0 and json.loads(res.stdout)["schema"] == "banscan/bod-17-01/v1"
    assert _run("report", late, "--document", "far").exit_code == 2  # needs --far-context
    assert _run("report", late, "--format", "json").exit_code == 2  # audit json is `scan --format json`


def test_report_errors_name_the_file(tmp_path: Path) -> None:
    doc = json.loads(estate_files()[1].read_text(encoding="utf-8"))
    doc["schema"] = "banscan/result/v9"
    bad = tmp_path / "v9.json"
    bad.write_text(json.dumps(doc), encoding="utf-8")
    res = _run("report", bad, "--format", "md")
    assert res.exit_code == 2
    assert f"banscan: error: {bad}: schema 'banscan/result/v9' is newer" in res.output
    res = _run("report", tmp_path / "nope.json")
    assert res.exit_code == 2 and "no such file" in res.output


def test_partial_input_is_stated(tmp_path: Path) -> None:
    doc = json.loads(estate_files()[1].read_text(encoding="utf-8"))
    del doc["findings"]
    p = tmp_path / "partial.json"
    p.write_text(json.dumps(doc), encoding="utf-8")
    assert _run("report", p, "--format", "md").exit_code == 2
    res = _run("report", p, "--format", "md", "--allow-partial")
    assert res.exit_code == 0
    assert "Findings unknown" in res.stdout and "missing findings" in res.stdout
    assert "No banned software found" not in res.stdout


def test_plan_csv_and_pdf(tmp_path: Path) -> None:
    late = estate_files()[1]
    res = _run("plan", late, "--format", "csv")
    assert res.exit_code == 0 and res.stdout.startswith("host,site,platform,product")
    assert "msiexec /x" in res.stdout
    pytest.importorskip("weasyprint")
    out = tmp_path / "far.pdf"
    res = _run(
        "report", late, "--document", "far", "--far-context", far_context_file(), "--format", "pdf", "-o", out
    )
    assert res.exit_code == 0, res.output
    assert out.read_bytes().startswith(b"%PDF-")


def test_report_reads_inventories_directly(tmp_path: Path) -> None:
    """INPUT may be anything banscan reads: it is scanned, then reported."""
    from typer.testing import CliRunner

    from banscan.cli import app

    log = Path(__file__).parent / "data" / "inputs" / "osquery" / "osqueryd.results.log"
    res = CliRunner().invoke(app, ["report", str(log), "--format", "md"])
    assert res.exit_code == 0, res.output
    assert "WS-FIN-01" in res.stdout and "Kaspersky Endpoint Security for Windows" in res.stdout
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00\x01\x02")
    res = CliRunner().invoke(app, ["report", str(junk), "--format", "md"])
    assert res.exit_code == 2 and "junk.bin" in res.output


def test_markdown_lists_legal_sources_apart_from_technical() -> None:
    ctx = both_context()
    md = render_markdown(ctx)
    legal_at, tech_at = md.index("### Legal sources"), md.index("### Technical sources")
    assert legal_at < tech_at
    legal, technical = md[legal_at:tech_at], md[tech_at:]
    assert "| Citation | Title | Publisher | Date | Link |" in legal
    # The Federal Register text by citation, publisher, date and its federalregister.gov address.
    assert "89 FR 52434 (FR Doc 2024-13532)" in legal
    assert "Office of the Federal Register" in legal and "2024-06-24" in legal
    assert "https://www.federalregister.gov/d/2024-13532" in legal
    assert "| Publisher / repository | Title | Path | Commit | Link | Strength |" in technical
    assert "89 FR 52434" not in technical
    assert ctx.legal_sources and all(s.topic == "legal" for s in ctx.legal_sources)
    assert all(s.topic == "technical" for s in ctx.technical_sources)
    for s in ctx.technical_sources:
        if s.repository:
            assert s.repository in technical and f"`{s.commit}`" in technical
    # A copy that was read is shown as such, never as the source's address.
    for s in ctx.sources:
        if s.consulted:
            assert f"copy consulted: {s.consulted}" in md
