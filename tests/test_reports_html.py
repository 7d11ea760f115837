"""The HTML audit report: content an auditor relies on, and that it is self-contained."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import markupsafe
import pytest

from banscan.catalog.loader import load_catalog
from banscan.documents import build_context, load_sites
from banscan.documents.bod import build_bod
from banscan.documents.html import render_html
from banscan.documents.load import parse_result
from chromium import ARGS, CHROMIUM, needs_chromium, playwright
from linux_root import HOSTNAME as LINUX_HOST
from test_reports_data import (
    APPROVER,
    MAC_HOST,
    WIN_HOST,
    both_context,
    catalog,
    estate_files,
    late_context,
    sites_file,
)

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts"


def _text(html: str) -> str:
    # <wbr> (a line-break opportunity in ids and paths) is invisible: it joins, not separates
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html.replace("<wbr>", "")))


@pytest.fixture(scope="module")
def html() -> str:
    return render_html(both_context(sites=load_sites(sites_file())), bod=build_bod(both_context()))


def test_summary_hosts_products_and_counts(html: str) -> None:
    text = _text(html)
    for host in (LINUX_HOST, MAC_HOST, WIN_HOST):
        assert host in text
    for product in (
        "Kaspersky Endpoint Security for Linux",
        "Kaspersky Safe Kids",
        "Kaspersky Endpoint Security for Windows",
    ):
        assert product in text
    ctx = both_context()
    assert ctx.hosts_scanned == 3 and ctx.hosts_with_findings == 3
    late = json.loads(estate_files()[1].read_text(encoding="utf-8"))
    expected = Counter(f["verdict"] for f in late["findings"])
    assert expected["accepted"] == 1 and expected["covered"] >= 6
    for verdict in ("covered", "review", "remnant", "informational", "accepted"):
        assert ctx.by_verdict[verdict] == expected.get(verdict, 0)
        assert re.search(
            rf'v-{verdict}">{verdict}</span></td><td class="num">{expected.get(verdict, 0)}<', html
        )
    assert "3 hosts scanned" in text
    assert "As of 2024-11-08" in text
    assert load_catalog().meta.version in text  # catalog version


def test_deadlines_citations_and_exception(html: str) -> None:
    text = _text(html)
    # first identified on 2024-10-01 (the earlier scan): the FAR 3-business-day report fell due on
    # 2024-10-04 and is overdue as of 2024-11-08, however often the host was scanned since
    assert "overdue since 2024-10-04 (35 days)" in text and "due 2024-11-14" not in text
    # the later scan alone knows no earlier identification: its clock starts on 2024-11-08
    assert "due 2024-11-14" in _text(render_html(late_context()))
    assert "89 FR 52434" in text and "FAR 52.204-23" in text
    assert APPROVER in text and "CHG-2024-1187" in text and "2025-03-31" in text
    assert "Kaspersky Endpoint Security для Windows" in text  # Cyrillic evidence survives


def test_charts_and_methodology(html: str) -> None:
    for name in ("by-product", "by-platform", "by-site", "trend"):
        assert f'id="chart-{name}"' in html
    assert "data:image/svg+xml;base64," in html
    text = _text(html)
    assert "lab-07: not a recognised Windows, macOS or Linux root" in text  # what was not scanned
    assert "https://www.federalregister.gov/d/2024-13532" in text  # a cited regulation's original
    assert "macos-apps" in text and "dpkg" in text  # collectors


def test_no_external_references(html: str) -> None:
    assert "<script" not in html
    assert not re.search(r'(src|href)="(?!data:|#)', html)
    assert "@import" not in html and "url(http" not in html


def test_site_chart_omitted_with_a_note_without_mapping() -> None:
    html = render_html(late_context())
    assert 'id="chart-by-site"' not in html
    assert "no site mapping was given" in html
    assert 'id="chart-trend"' not in html and "every result given is from one date" in html  # no trend


def test_empty_findings_say_no_banned_software(tmp_path: Path) -> None:
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
    html = render_html(ctx)
    assert "No banned software found" in html and "1 host scanned" in _text(html)


def test_escapes_hostile_values(tmp_path: Path) -> None:
    doc = json.loads(estate_files()[1].read_text(encoding="utf-8"))
    doc["findings"][0]["evidence"][0]["value"] = "<script>alert(1)</script>"
    html = render_html(build_context([parse_result(doc, "x.json")], catalog()))
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html


@needs_chromium
def test_chromium_renders_offline(html: str, tmp_path: Path) -> None:
    sync_api = playwright()
    page_file = tmp_path / "report.html"
    page_file.write_text(html, encoding="utf-8")
    url = page_file.as_uri()
    requests: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})

            def route(r):  # type: ignore[no-untyped-def]
                if r.request.url == url:
                    r.continue_()
                else:
                    requests.append(r.request.url)
                    r.abort()

            page.route("**/*", route)
            page.goto(url, wait_until="load")
            sizes = page.eval_on_selector_all(
                "figure.chart img",
                "els => els.map(e => [e.naturalWidth, e.naturalHeight, e.getBoundingClientRect().width, e.getBoundingClientRect().height])",
            )
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "report-html.png"), full_page=True)
            body = page.inner_text("body")
        finally:
            browser.close()
    assert requests == [], f"the report made external requests: {requests}"
    assert len(sizes) == 4
    for w, h, bw, bh in sizes:
        assert w > 0 and h > 0 and bw > 100 and bh > 50
    assert WIN_HOST in body and "No banned software found" not in body


def test_legal_sources_are_listed_apart_from_technical(html: str) -> None:
    legal = html[html.index('<table class="sources sources-legal">') :]
    legal = legal[: legal.index("</table>")]
    technical = html[html.index('<table class="sources sources-technical">') :]
    technical = technical[: technical.index("</table>")]
    assert html.index("<h3>Legal sources</h3>") < html.index("<h3>Technical sources</h3>")
    assert "<th>Citation</th><th>Title</th><th>Publisher</th><th>Date</th></tr>" in legal
    assert legal.count('<tr class="links">') == len(both_context().legal_sources)  # a link row each
    assert "89 FR 52434 (FR Doc 2024-13532)" in legal and "2024-06-24" in legal
    assert "https://www.federalregister.gov/d/2024-13532" in legal.replace("<wbr>", "")
    assert "Office of the Federal Register" in legal
    assert "<th>Publisher / repository</th><th>Title</th><th>Path</th><th>Commit</th>" in technical
    technical = technical.replace("<wbr>", "")
    assert "federalregister.gov" not in technical
    ctx = both_context()
    coded = [s for s in ctx.technical_sources if s.commit]
    assert coded
    for s in coded:
        assert s.repository in technical and s.commit in technical
    for s in ctx.legal_sources:
        assert str(markupsafe.escape(s.title)) in legal.replace("<wbr>", "")
