"""PDF from the same HTML, with WeasyPrint and the print CSS (@page, page numbers).

Nothing is fetched: the HTML embeds its charts as data: URIs and the URL fetcher allows no
other protocol. Fonts are the system's (DejaVu Sans covers Latin and Cyrillic; Debian package
fonts-dejavu-core).
"""

from __future__ import annotations

from typing import Any


class PdfError(Exception):
    pass


def _fetcher() -> Any:
    try:  # WeasyPrint ≥ 66: a URLFetcher object that filters protocols itself
        from weasyprint.urls import URLFetcher  # type: ignore[import-untyped]

        return URLFetcher(allowed_protocols=("data",))
    except ImportError:  # older releases take a function
        from weasyprint import default_url_fetcher  # type: ignore[import-untyped]

        def fetch(url: str, *args: Any, **kwargs: Any) -> Any:
            if not url.startswith("data:"):
                raise ValueError(f"refusing to fetch {url!r}: reports are self-contained")
            return default_url_fetcher(url, *args, **kwargs)

        return fetch


def html_to_pdf(html: str) -> bytes:
    try:
        from weasyprint import HTML  # type: ignore[import-untyped]
    except (ImportError, OSError) as exc:  # OSError: pango/harfbuzz libraries missing
        raise PdfError(
            f"PDF output needs WeasyPrint and its system libraries (pango): {exc}; "
            "install weasyprint, or use --format html and print to PDF"
        ) from None
    # WeasyPrint breaks a long word inside a column where `overflow-wrap: anywhere` holds even
    # next to a <wbr>, but honours a zero-width space: the same break opportunities, as text.
    # (The HTML keeps <wbr>, so that text copied from a browser has no invisible characters.)
    html = html.replace("<wbr>", "\u200b")
    pdf = HTML(string=html, url_fetcher=_fetcher(), base_url=None).write_pdf()
    if not isinstance(pdf, bytes):
        raise PdfError("WeasyPrint returned no PDF")
    return pdf
