"""The PDF: WeasyPrint from the same HTML; pages rasterise to non-blank images and the text
layer carries host names and Cyrillic."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from banscan.documents.html import render_html
from linux_root import HOSTNAME as LINUX_HOST
from test_reports_data import MAC_HOST, WIN_HOST, both_context

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def pdf_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("weasyprint", reason="weasyprint is not installed")
    from banscan.documents.pdf import html_to_pdf

    data = html_to_pdf(render_html(both_context()))
    assert data.startswith(b"%PDF-")
    out = tmp_path_factory.mktemp("pdf") / "report.pdf"
    out.write_bytes(data)
    return out


def _tool(name: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        pytest.skip(f"{name} is not installed (Debian: apt-get install poppler-utils)")
    return exe


def test_pdf_pages_are_not_blank(pdf_file: Path, tmp_path: Path) -> None:
    subprocess.run([_tool("pdftoppm"), "-r", "40", "-png", str(pdf_file), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) >= 1
    from PIL import Image

    with Image.open(pages[0]) as im:
        gray = im.convert("L")
        dark = sum(gray.histogram()[:200])
        assert dark > 0.01 * gray.width * gray.height
    artifacts = REPO / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    shutil.copy(pages[0], artifacts / "report-pdf-page1.png")


def test_pdf_text_has_hosts_and_cyrillic(pdf_file: Path) -> None:
    text = subprocess.run(
        [_tool("pdftotext"), str(pdf_file), "-"], check=True, capture_output=True, text=True
    ).stdout
    for host in (LINUX_HOST, MAC_HOST, WIN_HOST):
        assert host in text
    assert "Антивирус Касперского" in text
    assert "89 FR 52434" in text
