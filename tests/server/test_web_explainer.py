"""The public explainer, generated from the catalog, and the SVG chart helpers."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from html import unescape

import pytest

from banscan.catalog.loader import load_catalog
from banscan.catalog.schema import ProductStatus, Relation
from banscan.server import charts
from banscan.server.explainer import build_explainer, safe_url
from banscan.store.summary import sample_dates

from .conftest import Fleet


@pytest.fixture
def public(sqlite_url: str) -> Iterator[Fleet]:
    f = Fleet(sqlite_url)
    yield f
    f.close()


def test_explainer_is_public_and_generated_from_the_catalog(public: Fleet) -> None:
    r = public.client.get("/explainer", follow_redirects=False)
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.headers["x-frame-options"] == "DENY"
    html = r.text
    text = unescape(html)
    catalog = load_catalog()
    covered = [
        p
        for p in catalog.products
        if p.status == ProductStatus.COVERED and p.relation == Relation.OWN and not p.remnant
    ]
    assert covered
    for p in covered:
        assert f'id="prod-{p.id}"' in html, p.id
    carve_outs = [p for p in catalog.products if p.status == ProductStatus.CARVED_OUT]
    assert carve_outs
    carve_section = text[text.index('id="carve-outs"') : text.index('id="successors"')]
    for p in carve_outs:
        assert p.name in carve_section
    assert "UltraAV" in text[text.index('id="successors"') :]
    assert "white-label" in text and "Orange Security Suite" in text
    # since when: the dates and the citation of the 2024 Final Determination
    for needle in ["2024-06-24", "2024-07-20", "2024-09-29", "89 FR 52434", "2017-09-13", "FAR 52.204-23"]:
        assert needle in text, needle
    timeline = text[text.index('id="timeline"') :]
    assert timeline.index("2024-07-20") < timeline.index("2024-09-29")
    # who it binds, and exemptions
    assert "sellers, resellers and integrators" in text and "federal contractors" in text
    assert "Kaspersky Security Training products and services" in text
    # what to do: built-in alternatives first, per platform
    todo = text[text.index('id="todo"') : text.index('id="sources"')]
    windows = todo[todo.index('<h3 id="alt-windows">Windows</h3>') :]
    assert windows.index("Microsoft Defender Antivirus") < windows.index("ClamAV")
    assert "built in" in windows
    # Cyrillic names arrive as UTF-8
    assert "Лаборатория Касперского" in r.content.decode("utf-8")
    # sources are linked, and only with http(s)
    links = re.findall(r'href="([^"]+)"', html)
    external = [u for u in links if not u.startswith(("/", "#"))]
    assert external and all(u.startswith(("https://", "http://")) for u in external)
    assert "https://www.federalregister.gov/d/2024-13532" in links
    assert "<script" not in html


def test_explainer_data_and_unsafe_links() -> None:
    data = build_explainer(load_catalog())
    assert data["meta"]["last_permitted_update"] == "2024-09-29"
    assert data["covered_count"] >= 20
    bis = next(r for r in data["regulations"] if r["id"] == "bis-icts-2024-kaspersky")
    assert [o["effective"] for o in bis["obligations"]][:1] == ["2024-06-24"]
    assert {"2024-07-20", "2024-09-29"} <= {o["effective"] for o in bis["obligations"]}
    assert safe_url("javascript:alert(1)") is None and safe_url("https://x.example/") == "https://x.example/"


def test_charts_escape_labels_and_use_no_inline_style() -> None:
    svg = str(charts.bar_chart([("<b>&", 3), ("b", 0)], title="t<", links=["/x?a=1&b=2", None]))
    assert "<b>" not in svg and "&lt;b&gt;&amp;" in svg and "t&lt;" in svg
    assert 'href="/x?a=1&amp;b=2"' in svg and "style=" not in svg
    line = str(charts.line_chart([(dt.date(2025, 1, 1), 2), (dt.date(2025, 1, 3), 5)], title="trend"))
    assert "<polyline" in line and "2025-01-03: 5" in line and "style=" not in line
    assert "no data" in str(charts.line_chart([], title="x"))
    days = sample_dates(dt.date(2024, 1, 1), dt.date(2025, 1, 1), 60)
    assert len(days) <= 61 and days[0] == dt.date(2024, 1, 1) and days[-1] == dt.date(2025, 1, 1)
    assert sample_dates(dt.date(2025, 1, 1), dt.date(2025, 1, 3)) == [
        dt.date(2025, 1, 1),
        dt.date(2025, 1, 2),
        dt.date(2025, 1, 3),
    ]


def test_explainer_lists_legal_sources_apart_from_technical(public: Fleet) -> None:
    html = public.client.get("/explainer").text
    sources = html[html.index('<section id="sources">') :]
    legal = sources[sources.index('id="legal-sources"') : sources.index('id="technical-sources"')]
    technical = sources[sources.index('id="technical-sources"') :]
    assert "<th>Citation</th><th>Title</th><th>Publisher</th><th>Date</th><th>Link</th>" in legal
    assert (
        "<th>Publisher / repository</th><th>Title</th><th>Path</th><th>Commit</th><th>Link</th>" in technical
    )
    # The Final Determination by citation, publisher and date, linked at the Federal Register.
    assert "89 FR 52434 (FR Doc 2024-13532)" in legal and "2024-06-24" in legal
    assert "Office of the Federal Register" in legal
    assert 'href="https://www.federalregister.gov/d/2024-13532"' in legal
    assert "federalregister.gov" not in technical
    # Public code by repository, path and the commit read.
    assert "SigmaHQ/sigma" in technical and "proc_creation_win_susp_service_tamper.yml" in technical
    assert 'title="47085e94899546108686ebb6222388c4da5c46f9"' in technical
    # A mirror that was read is a copy consulted, never the source's own link.
    assert "regulations.justia.com" not in legal.split("copy consulted")[0]


def test_explainer_data_splits_sources_by_topic() -> None:
    data = build_explainer(load_catalog())
    legal, technical = data["legal_sources"], data["technical_sources"]
    assert legal and technical
    assert all(s["topic"] == "legal" for s in legal)
    assert all(s["topic"] == "technical" for s in technical)
    assert {s["id"] for s in legal} | {s["id"] for s in technical} == {s["id"] for s in data["sources"]}
    fr = next(s for s in legal if s["id"] == "fr-2024-13532")
    assert fr["citation"] == "89 FR 52434 (FR Doc 2024-13532)" and fr["published"] == "2024-06-24"
    assert fr["url"] == "https://www.federalregister.gov/d/2024-13532" and fr["publisher"]
    dated = [s["published"] for s in legal if s["published"]]
    assert dated == sorted(dated, reverse=True)
    code = [s for s in technical if s["strength"] == "public-code"]
    assert code and all(s["repository"] and s["path"] and s["commit"] in s["url"] for s in code)
