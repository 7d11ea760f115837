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
    windows = todo[todo.index("<h3>Windows</h3>") :]
    assert windows.index("Microsoft Defender Antivirus") < windows.index("ClamAV")
    assert "built in" in windows
    # Cyrillic names arrive as UTF-8
    assert "Лаборатория Касперского" in r.content.decode("utf-8")
    # sources are linked, and only with http(s)
    links = re.findall(r'href="([^"]+)"', html)
    external = [u for u in links if not u.startswith(("/", "#"))]
    assert external and all(u.startswith(("https://", "http://")) for u in external)
    assert "https://regulations.justia.com/regulations/fedreg/2024/06/24/2024-13532.html" in links
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
    days = charts.sample_dates(dt.date(2024, 1, 1), dt.date(2025, 1, 1), 60)
    assert len(days) <= 61 and days[0] == dt.date(2024, 1, 1) and days[-1] == dt.date(2025, 1, 1)
    assert charts.sample_dates(dt.date(2025, 1, 1), dt.date(2025, 1, 3)) == [
        dt.date(2025, 1, 1),
        dt.date(2025, 1, 2),
        dt.date(2025, 1, 3),
    ]
