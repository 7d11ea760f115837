"""What every dashboard test in a real browser shares: Debian's Chromium, its launch flags, the
two screen sizes pages are checked at, where screenshots go, and a guard that keeps every
request on the loopback address (and records any that tried to leave)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
# Without the background-networking flags Chromium tries to reach Google's hosts at every start.
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}

needs_chromium = pytest.mark.skipif(
    shutil.which(CHROMIUM) is None, reason=f"{CHROMIUM} is missing (apt-get install chromium)"
)


def playwright() -> Any:
    """`playwright.sync_api`, or a skip saying how to install it."""
    return pytest.importorskip(
        "playwright.sync_api", reason="Playwright for Python is not installed (pip install playwright)"
    )


class LoopbackGuard:
    """A Playwright route handler: requests to 127.0.0.1 go through, any other is aborted and
    kept in `outside` (a test asserts it stays empty); `requested` keeps every URL asked for."""

    def __init__(self) -> None:
        self.requested: list[str] = []
        self.outside: list[str] = []

    def __call__(self, route: Any) -> None:
        target = route.request.url
        self.requested.append(target)
        if urlparse(target).hostname != "127.0.0.1":
            self.outside.append(target)
            route.abort()
        else:
            route.continue_()
