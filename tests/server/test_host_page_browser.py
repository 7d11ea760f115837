"""The host page and the removal board in a real browser: Debian's Chromium driven by Playwright
against a server process on 127.0.0.1 (SQLite), for a host with 10 findings.

The page is measured, not trusted: at a laptop's 1366×768 it stays well under the ~11 700 px one
full form per finding made it (each finding one row, its evidence folded away), and at a phone's
390×844 nothing makes the page itself scroll sideways. Three findings are ticked and marked
removed with one note through the page's form; a request with a step back is refused as a whole
and shows the page again with the ticks and the note; the board then shows the three cards under
`removed`, each with its verdict. Screenshots go to test-artifacts/."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

import httpx

from banscan.store.accounts import create_user
from chromium import (
    ARGS,
    ARTIFACTS,
    CHROMIUM,
    DESKTOP,
    PHONE,
    LoopbackGuard,
    needs_chromium,
    playwright,
)

from .conftest import ADMIN_PASSWORD, ENROLL_SECRET, ServerProcess, at, body

# Catalog products added to the dirty Linux root's three, with the verdicts they get here: ten
# findings, one of them informational (a finding, not a removal item).
MORE = [
    ("kes-windows", "Kaspersky Endpoint Security for Windows", "covered"),
    ("kes-mac", "Kaspersky Endpoint Security for Mac", "covered"),
    ("ksc", "Kaspersky Security Center", "covered"),
    ("ksc-web-console", "Kaspersky Security Center Web Console", "remnant"),
    ("kaspersky-edr", "Kaspersky EDR", "review"),
    ("kaspersky-free", "Kaspersky Free", "accepted"),
    ("ultraav", "UltraAV", "informational"),
]
MARKED = ["kesl", "ksc-linux", "kes-windows"]
NOTE = "Uninstalled with the EDR roll-out, change OPS-41"

playwright_sync = playwright()
pytestmark = needs_chromium


def ten_findings(dirty: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(dirty)
    kesl = next(f for f in out["findings"] if f["product"] == "kesl")
    for product, name, verdict in MORE:
        f = copy.deepcopy(kesl)
        f.update(product=product, product_name=name, verdict=verdict)
        if verdict == "informational":
            f.update(obligations=[], vendor="Pango Group")
        out["findings"].append(f)
    assert len(out["findings"]) == 10
    return out


def seed(url: str, result: dict[str, Any]) -> int:
    r = httpx.post(
        url + "/api/v1/enroll",
        json={
            "enroll_secret": ENROLL_SECRET,
            "host_identifier": "host-ten",
            "hostname": "srv-ten-01",
            "platform": "linux",
        },
        timeout=30,
    )
    assert r.status_code == 201, r.text
    token, host_id = r.json()["token"], int(r.json()["host_id"])
    r = httpx.post(
        url + "/api/v1/report",
        content=body(at(result, "2025-03-01T10:00:00+00:00")),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        timeout=60,
    )
    assert r.status_code == 201, r.text
    return host_id


def sizes(page: Any) -> dict[str, float]:
    """The document's size, the viewport's width and the tallest finding row."""
    out: dict[str, float] = page.evaluate(
        """() => ({
            height: document.documentElement.scrollHeight,
            width: document.documentElement.scrollWidth,
            viewport: window.innerWidth,
            row: Math.max(0, ...[...document.querySelectorAll('section.finding')].map(
                s => s.getBoundingClientRect().height)),
            rows: document.querySelectorAll('section.finding').length,
        })"""
    )
    return out


def log_in(page: Any, url: str) -> None:
    page.goto(url + "/login")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", ADMIN_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(url + "/")


def test_host_page_and_board_in_chromium(
    sqlite_url: str,
    server_process: Callable[[str], ServerProcess],
    results: dict[str, Any],
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    create_user(sqlite_url, "alice", ADMIN_PASSWORD, "admin")
    server = server_process(sqlite_url)
    url = server.start(timeout=120)  # a busy machine takes a while to import the app
    host_id = seed(url, ten_findings(results["dirty"]))
    host_url = f"{url}/hosts/{host_id}"

    guard = LoopbackGuard()

    with playwright_sync.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            # ---- a laptop: one row per finding, the page a fraction of its old height
            context = browser.new_context(viewport=DESKTOP)
            context.set_default_timeout(20_000)
            context.route("**/*", guard)
            page = context.new_page()
            log_in(page, url)
            page.goto(host_url)
            page.screenshot(path=str(ARTIFACTS / "host-page-desktop.png"), full_page=True)
            size = sizes(page)
            assert size["rows"] == 10
            assert size["height"] < 2500, f"the host page is {size['height']} px tall at 1366 wide"
            assert size["row"] < 180, f"a finding's row is {size['row']} px tall"
            assert size["width"] <= size["viewport"], "the page scrolls sideways at 1366 wide"
            # evidence is folded away, one click from each row
            assert page.locator("section.finding details[open]").count() == 0
            first = page.locator("section#p-kesl")
            first.locator("details > summary").click()
            assert first.locator("table.evidence").is_visible()
            assert "/var/lib/dpkg/status" in first.locator("table.evidence").inner_text()
            first.locator("details > summary").click()
            # obligations by the regulation's name; its id stays in the title
            reg = first.locator(".fc-obligations .reg-name")
            assert reg.inner_text() == "BIS ICTS Final Determination (Kaspersky)"
            assert reg.get_attribute("title") == "bis-icts-2024-kaspersky"
            # the informational finding is a row without a tick or a removal record
            ultra = page.locator("section#p-ultraav")
            assert ultra.locator("input[type=checkbox]").count() == 0
            assert "No removal record" in ultra.inner_text()

            # ---- a step back among the ticked ones refuses the whole request
            page.locator("section#p-ksc").locator("select[name=state]").select_option("removed")
            page.locator("section#p-ksc").locator("button[type=submit]").click()
            page.wait_for_load_state()
            assert page.locator("section#p-ksc [data-state]").inner_text() == "removed"
            bulk = page.locator("form#bulk-form")
            for product in ("ksc", "ksc-web-console"):
                page.locator(f"section#p-{product} input[type=checkbox]").check()
            bulk.locator("select[name=state]").select_option("replacement-installed")
            bulk.locator("textarea[name=note]").fill("swapped for the new EDR")
            bulk.locator("button[type=submit]").click()
            page.wait_for_load_state()
            error = page.locator("#bulk-error").inner_text()
            assert "ksc is already removed" in error and "ksc-web-console" not in error
            assert page.locator("section#p-ksc-web-console [data-state]").inner_text() == "found"
            assert page.locator("section#p-ksc input[type=checkbox]").is_checked()
            assert (
                page.locator("form#bulk-form textarea[name=note]").input_value() == "swapped for the new EDR"
            )
            page.screenshot(path=str(ARTIFACTS / "host-page-bulk-refused.png"), full_page=False)

            # ---- three findings marked removed with one note, in one request
            page.goto(host_url)
            for product in MARKED:
                page.locator(f"section#p-{product} input[type=checkbox]").check()
            bulk = page.locator("form#bulk-form")
            bulk.locator("select[name=state]").select_option("removed")
            bulk.locator("textarea[name=note]").fill(NOTE)
            bulk.locator("button[type=submit]").click()
            page.wait_for_url(re.compile(r"/hosts/\d+\?recorded=3&to=removed#findings$"))
            assert "for 3 findings" in page.inner_text("#bulk-recorded")
            for product in MARKED:
                row = page.locator(f"section#p-{product}")
                assert row.locator("[data-state]").inner_text() == "removed"
                row.locator("details > summary").click()
                history = row.locator("ol.history").inner_text()
                assert NOTE in history and "alice" in history
            for product in ("ksc-network-agent", "kes-mac", "kaspersky-edr"):
                assert page.locator(f"section#p-{product} [data-state]").inner_text() == "found"
            page.screenshot(path=str(ARTIFACTS / "host-page-after-bulk.png"), full_page=True)

            # ---- the board: the three under "removed", each card with its verdict in words
            page.goto(url + "/transitions")
            removed = page.locator("section.column[data-state=removed]")
            cards = removed.locator("article.card-item")
            assert sorted(c.get_attribute("data-product") or "" for c in cards.all()) == sorted(
                [*MARKED, "ksc"]
            )
            verdicts = {"kesl": "covered", "ksc-linux": "covered", "kes-windows": "covered", "ksc": "covered"}
            for card in cards.all():
                product = card.get_attribute("data-product") or ""
                badge = card.locator(".verdict")
                assert badge.inner_text() == verdicts[product]
                assert verdicts[product] in (badge.get_attribute("class") or "").split()
            found = page.locator("section.column[data-state=found]")
            shown = {
                c.get_attribute("data-product"): c.locator(".verdict").inner_text()
                for c in found.locator("article.card-item").all()
            }
            assert shown["ksc-web-console"] == "remnant" and shown["kaspersky-edr"] == "review"
            assert shown["kaspersky-free"] == "accepted" and "ultraav" not in shown
            page.screenshot(path=str(ARTIFACTS / "board-desktop.png"), full_page=True)
            context.close()

            # ---- a phone: rows stacked as cards, nothing wider than the screen
            phone = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
            phone.set_default_timeout(20_000)
            phone.route("**/*", guard)
            page = phone.new_page()
            log_in(page, url)
            page.goto(host_url)
            size = sizes(page)
            page.screenshot(path=str(ARTIFACTS / "host-page-phone.png"), full_page=True)
            assert size["width"] <= size["viewport"], f"the page is {size['width']} px wide on a phone"
            assert size["row"] < 500, f"a finding's card is {size['row']} px tall on a phone"
            assert size["height"] < 6000, f"the host page is {size['height']} px tall on a phone"
            row = page.locator("section#p-kesl")
            row.locator("details > summary").click()  # the evidence table stacks, no page scroll
            assert sizes(page)["width"] <= size["viewport"]
            page.screenshot(path=str(ARTIFACTS / "host-page-phone-open.png"), full_page=False)
            page.goto(url + "/transitions")
            board = sizes(page)
            assert board["width"] <= board["viewport"], f"the board is {board['width']} px wide on a phone"
            page.screenshot(path=str(ARTIFACTS / "board-phone.png"), full_page=True)
            phone.close()
        finally:
            browser.close()

    assert guard.outside == [], f"requests left 127.0.0.1: {guard.outside}"
