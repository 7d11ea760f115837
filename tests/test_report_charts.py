"""The report's charts and tables: the trend counts findings per estate over scan dates (each
host from its newest result as of each date), every chart draws in the house style with the
colours of banscan/palette.py, the regulation tables list each finding once, and identifiers
wrap in the PDF only after their separators."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from banscan import palette
from banscan.cli.plan import plan_command
from banscan.cli.report import report_command
from banscan.documents import ALL_HOSTS, ReportContext, build_context, load_sites
from banscan.documents import chartstyle as style
from banscan.documents.charts import build_charts
from banscan.documents.html import render_html
from banscan.documents.load import LoadedResult, parse_result
from linux_root import HOSTNAME as LINUX_HOST
from test_reports_data import MAC_HOST, WIN_HOST, both_context, catalog, estate_files, sites_file

DAY1, DAY2 = "2024-11-08", "2024-11-20"
HOSTS = (LINUX_HOST, MAC_HOST, WIN_HOST)


def _late() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(estate_files()[1].read_text(encoding="utf-8"))
    return doc


def _host_result(host: str, day: str, *, drop: tuple[str, ...] = (), at: str = "18:00") -> LoadedResult:
    """The late scan of one host alone, as its own result file taken on `day`."""
    doc = copy.deepcopy(_late())
    doc["findings"] = [f for f in doc["findings"] if f["host"] == host and f["product"] not in drop]
    doc["hosts"] = [host]
    doc["as_of"], doc["generated_at"] = day, f"{day}T{at}:00+00:00"
    return parse_result(doc, f"{host}-{day}.json")


def _covered(host: str) -> int:
    return sum(1 for f in _late()["findings"] if f["host"] == host and f["verdict"] == "covered")


def _colours(svg: str) -> list[str]:
    return [c.upper() for c in re.findall(r'(?:fill|stroke)(?::\s*|=")(#[0-9a-fA-F]{6})\b', svg)]


def _line_vertices(svg: str, colour: str) -> list[tuple[float, float]]:
    """The vertices of the data line drawn in `colour`."""
    for style_attr, d in [
        (m.group(2), m.group(1)) for m in re.finditer(r'<path d="([^"]+)"[^>]*style="([^"]+)"', svg)
    ]:
        if (
            f"stroke: {colour.lower()}" in style_attr
            and "fill: none" in style_attr
            and re.search(r"\sL\s", d)
        ):
            nums = [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?", d)]
            return list(zip(nums[::2], nums[1::2], strict=True))
    raise AssertionError(f"no line in {colour}")


# --- the trend ----------------------------------------------------------------------------------


def test_three_hosts_scanned_on_one_date_are_one_point_not_a_vertical_line() -> None:
    # three result files, one host each, all taken at the same moment on one day
    ctx = build_context([_host_result(h, DAY1) for h in HOSTS], catalog())
    assert ctx.trend_days == [DAY1]
    (point,) = ctx.trend
    assert (point.estate, point.hosts) == (ALL_HOSTS, 3)
    assert point.covered == sum(_covered(h) for h in HOSTS) > 0
    assert "trend" not in build_charts(ctx)  # one date: nothing to draw over time
    html = render_html(ctx)
    assert 'id="chart-trend"' not in html
    said = re.search(r'<p class="muted" id="trend-one-date">(.*?)</p>', html, re.S)
    assert said and DAY1 in said.group(1) and f"{point.covered} covered findings" in said.group(1)
    assert "3 hosts" in said.group(1)


def test_a_host_not_scanned_again_carries_its_count_forward() -> None:
    results = [_host_result(h, DAY1) for h in HOSTS]
    # on the second date only the Linux server is scanned again, with Endpoint Security gone
    results.append(_host_result(LINUX_HOST, DAY2, drop=("kesl",)))
    ctx = build_context(results, catalog())
    assert ctx.trend_days == [DAY1, DAY2]
    first, second = ctx.trend
    total = sum(_covered(h) for h in HOSTS)
    assert (first.day, first.covered, first.hosts) == (DAY1, total, 3)
    assert (second.day, second.covered, second.hosts) == (DAY2, total - 1, 3)
    chart = build_charts(ctx)["trend"]
    assert [label for label, _ in chart.rows] == [DAY1, DAY2]
    assert [c["covered"] for _, c in chart.rows] == [total, total - 1]
    assert chart.series == [ALL_HOSTS]
    vertices = _line_vertices(chart.svg, palette.series(0).fill)
    assert len(vertices) == 2 and vertices[0][0] < vertices[1][0]  # two dates, left to right


def test_one_line_per_site_with_a_site_mapping() -> None:
    sites = load_sites(sites_file())
    ctx = both_context(sites=sites)
    estates = sorted({p.estate for p in ctx.trend})
    assert estates == ["Arlington HQ", "Reston DC"]
    for p in ctx.trend:  # per site and date, each host of the site counted once
        members = [h for h in HOSTS if sites[h.lower()] == p.estate]
        assert p.hosts == len(members)
    chart = build_charts(ctx)["trend"]
    assert chart.series == estates
    for i in range(len(estates)):
        vertices = _line_vertices(chart.svg, palette.series(i).fill)
        assert len({x for x, _ in vertices}) == len(vertices) == 2


def test_results_of_one_scan_date_and_several_times_are_one_date() -> None:
    results = [_host_result(h, DAY1, at=f"1{n}:00") for n, h in enumerate(HOSTS)]
    ctx = build_context(results, catalog())
    assert ctx.trend_days == [DAY1] and len(ctx.trend) == 1 and ctx.trend[0].hosts == 3


# --- the house style and the palette ------------------------------------------------------------


def _all_charts() -> dict[str, Any]:
    return build_charts(both_context(sites=load_sites(sites_file())))


def test_every_chart_colour_comes_from_the_palette() -> None:
    charts = _all_charts()
    assert set(charts) == {"by-product", "by-platform", "by-site", "trend"}
    allowed = style.colours()
    verdict_colours = {c.upper() for sw in palette.VERDICT.values() for c in (sw.fill, sw.ink)}
    for name, chart in charts.items():
        used = set(_colours(chart.svg))
        assert used, name
        assert used <= allowed, f"{name} draws with {sorted(used - allowed)}, not in palette.py"
        assert "<text" not in chart.svg  # text as paths: no font needed where the SVG is shown
    # the bar charts split findings by verdict: each verdict in its own colour
    by_product = set(_colours(charts["by-product"].svg))
    assert palette.VERDICT["covered"].fill.upper() in by_product
    assert palette.VERDICT["accepted"].fill.upper() in by_product
    # the trend draws sites, not verdicts: series colours only
    trend = set(_colours(charts["trend"].svg))
    assert not trend & verdict_colours
    assert {palette.series(0).fill.upper(), palette.series(1).fill.upper()} <= trend


def test_the_house_style() -> None:
    assert style.font_family() and set(style.font_family()) <= set(palette.FONT_FAMILY)
    assert style.rc()["font.family"] == style.font_family()
    assert "charts.py" not in str(Path(style.__file__).name)
    with style.house_style():
        fig, ax = style.figure(style.bar_plot_height(2))
        ax.barh([0, 1], [3, 5], color=palette.series(0).fill)
        ax.set_yticks([0, 1], ["a", "b"])
        labels = style.label_bars(ax, [3, 5], [0, 1])
        style.finish(fig, ax, "Title", bar_labels=labels)
        assert not ax.spines["top"].get_visible() and not ax.spines["right"].get_visible()
        assert not ax.xaxis.get_visible()  # values are on the bars: no value axis
        assert [t.get_text() for _, t in labels] == ["3", "5"]
        title = [t for t in fig.texts if t.get_text() == "Title"]
        assert title and title[0].get_position()[0] == 0 and title[0].get_horizontalalignment() == "left"
        assert ax.get_xlim()[1] >= 5  # the longest bar and its label fit
        width, _ = fig.get_size_inches()
        assert width == style.WIDTH
        style.to_svg(fig)


def test_charts_py_has_no_colours_of_its_own() -> None:
    import banscan.documents.charts as charts_module

    source = Path(charts_module.__file__).read_text(encoding="utf-8")
    assert "VERDICT_COLORS" not in source and not re.search(r"#[0-9a-fA-F]{6}\b", source)


# --- the regulation tables ----------------------------------------------------------------------


def test_no_finding_appears_twice_in_a_regulation_table() -> None:
    ctx = both_context()
    html = render_html(ctx)
    tables = re.findall(r'<table class="applies">(.*?)</table>', html, re.S)
    with_findings = [r for r in ctx.regulations if r.applies]
    assert len(tables) == len(with_findings) >= 2
    for reg, table in zip(with_findings, tables, strict=True):
        rows = re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td></tr>", table, re.S)
        pairs = [(h.replace("<wbr>", ""), p) for h, p, _ in rows]
        assert len(pairs) == len(set(pairs)) == len(ctx.findings), reg.id
        if reg.id == "ndaa-1634-far-52-204-23":
            for _, _, duties in rows:  # both reports and the prohibition, in one cell
                assert "report-<wbr>3-<wbr>days" in duties and "report-<wbr>10-<wbr>days" in duties
                assert duties.count("<li>") == 3
    for reg in ctx.regulations:
        keys = [(a.host, a.product) for a in reg.applies]
        assert len(keys) == len(set(keys))


# --- the PDF ------------------------------------------------------------------------------------


def _tool(name: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        pytest.skip(f"{name} is not installed (Debian: apt-get install poppler-utils)")
    return exe


@pytest.fixture(scope="module")
def report_pdf(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ReportContext]:
    pytest.importorskip("weasyprint", reason="WeasyPrint is not installed")
    tmp = tmp_path_factory.mktemp("report-pdf")
    about = tmp / "about.yaml"
    about.write_text(
        "organisation: Example Federal Services LLC\nunit: Security Operations\n"
        "preparer: {name: Pat Lee, title: Compliance Analyst}\nprepared: 2024-11-12\n"
        "certifier: {name: Dana Whitfield, title: CISO}\n",
        encoding="utf-8",
    )
    app = typer.Typer()
    app.command("report")(report_command)
    app.command("plan")(plan_command)
    out = tmp / "report.pdf"
    early, late = estate_files()
    res = CliRunner().invoke(
        app,
        [
            *("report", str(early), str(late), "--sites", str(sites_file()), "--about", str(about)),
            *("--format", "pdf", "--output", str(out)),
        ],
    )
    assert res.exit_code == 0, res.output
    return out, both_context()


def _pdftext(pdf: Path, mode: str) -> str:
    return subprocess.run(
        [_tool("pdftotext"), mode, "-enc", "UTF-8", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout


def test_source_ids_wrap_only_at_their_separators(report_pdf: tuple[Path, ReportContext]) -> None:
    pdf, ctx = report_pdf
    text = _pdftext(pdf, "-raw")
    assert "\u200b" not in text  # the break opportunities leave nothing in the text layer
    ids = [s.id for s in ctx.sources]
    assert ids and max(len(i) for i in ids) > 25
    for sid in ids:
        pieces = re.split(r"(?<=[-_./:])", sid)
        # the id, with a line break allowed after a separator and nowhere else
        whole = r"\s*".join(re.escape(p) for p in pieces if p)
        assert re.search(rf"(?<![\w-]){whole}(?![\w-])", text), f"{sid} is broken inside a word or missing"
    # the same for the rule ids of the regulation tables and a long product id
    for rid in ("report-3-days", "contractor-prohibited", "no-resale-integration-updates"):
        assert re.search(r"\s*".join(re.escape(p) for p in re.split(r"(?<=-)", rid)), text), rid


def test_report_pdf_has_organisation_preparer_and_attestation(report_pdf: tuple[Path, ReportContext]) -> None:
    pdf, _ = report_pdf
    pages = [p for p in _pdftext(pdf, "-layout").split("\f") if p.strip()]
    assert (
        "Example Federal Services LLC" in pages[0]
        and "Prepared 2024-11-12 by Pat Lee, Compliance Analyst" in pages[0]
    )
    assert all("Example Federal Services LLC · Security Operations" in p for p in pages)  # running head
    last = pages[-1]
    assert "Attestation" in last and "I certify that this report was prepared" in last
    assert re.search(r"Signature — Dana Whitfield, CISO\s+Date", last)


def test_report_pdf_pages_have_content(report_pdf: tuple[Path, ReportContext]) -> None:
    """No page holds only a heading (a finding taller than a page once left pages blank)."""
    pdf, _ = report_pdf
    for n, page in enumerate(_pdftext(pdf, "-layout").split("\f")[:-1], start=1):
        lines = [ln for ln in page.splitlines() if ln.strip() and not re.search(r"Page \d+ of \d+", ln)]
        assert len(lines) > 4, f"page {n} is nearly empty: {lines}"
