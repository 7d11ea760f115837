"""The dashboard in a real browser: Debian's Chromium driven by Playwright against a server
process on 127.0.0.1 (SQLite). Log in, find the dirty host, give it a site and tags, follow
the site to the filtered hosts list and the overview's breakdown by site, record its removal
step by step, ask its agent for a scan and see the agent's clean result verify the removal
and answer the request, download the CSV, read the public explainer; and check that no
request left the loopback address. Screenshots go to test-artifacts/."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

import pytest

from banscan.cli.users import user_add_command
from chromium import ARGS, ARTIFACTS, CHROMIUM, LoopbackGuard, needs_chromium, playwright

from .conftest import ADMIN_PASSWORD, ServerProcess, at, enroll_over_http, post_over_http

SITE = "Rīga DC 2"  # a space and a non-ASCII letter: the site links must encode them

playwright_sync = playwright()
pytestmark = needs_chromium


def test_dashboard_in_chromium(
    sqlite_url: str,
    server_process: Callable[[str], ServerProcess],
    results: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    monkeypatch.setenv("BANSCAN_PASSWORD", ADMIN_PASSWORD)
    assert user_add_command(sqlite_url, "alice", "admin") == 0
    server = server_process(sqlite_url)
    url = server.start()
    dirty_token = enroll_over_http(url, "host-app", "srv-app-01")
    clean_token = enroll_over_http(url, "host-db", "srv-db-02")
    post_over_http(url, dirty_token, at(results["dirty"], "2025-03-01T10:00:00+00:00"))
    post_over_http(url, clean_token, at(results["clean"], "2025-03-01T11:00:00+00:00"))

    guard = LoopbackGuard()

    with playwright_sync.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
            context.set_default_timeout(10_000)
            context.route("**/*", guard)
            page = context.new_page()

            # Anonymous → login page → overview
            page.goto(url + "/")
            assert urlparse(page.url).path == "/login"
            page.fill("input[name=username]", "alice")
            page.fill("input[name=password]", ADMIN_PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(url + "/")
            assert page.inner_text("#stat-hosts") == "2"
            assert page.inner_text("#stat-covered") == "1"
            page.screenshot(path=str(ARTIFACTS / "overview.png"), full_page=True)

            # Search for the host with findings, open it
            page.click("nav >> text=Hosts")
            page.fill("input[name=q]", "app-01")
            page.click("form[role=search] button[type=submit]")
            assert page.locator("#hosts tbody tr").count() == 1
            page.click("a.host-link")
            assert page.inner_text("#hostname") == "srv-app-01"
            section = page.locator("section#p-kesl")
            assert section.locator("[data-state]").inner_text() == "found"
            assert page.inner_text("#host-site") == "(no site)"

            # Site and tags, through the form folded under "Change site and tags"
            page.click("details.labels > summary")
            labels = page.locator("form.labels-form")
            labels.locator("input[name=site]").fill(SITE)
            labels.locator("input[name=tags]").fill(" prod, linux ,prod")
            labels.locator("button[type=submit]").click()
            page.wait_for_url(re.compile(r"/hosts/\d+\?labelled=1$"))
            host_url = page.url.split("?")[0]
            assert page.inner_text("#host-site a") == SITE
            assert page.locator("#host-tags a.tag").all_inner_texts() == ["linux", "prod"]
            assert labels.locator("input[name=tags]").input_value() == "linux, prod"
            page.screenshot(path=str(ARTIFACTS / "host-labels.png"), full_page=True)

            # The site link: the hosts at that site, so this host and not the other one
            page.click("#host-site a")
            page.wait_for_url(re.compile(r"/hosts\?site="))
            assert page.locator("#hosts a.host-link").all_inner_texts() == ["srv-app-01"]
            assert page.locator("#hosts td.site").all_inner_texts() == [SITE]
            assert page.locator("select[name=site]").input_value() == SITE
            page.screenshot(path=str(ARTIFACTS / "hosts-site.png"), full_page=True)

            # The overview counts hosts by site; its site link leads back to the same list
            page.click("nav a[href='/']")
            page.wait_for_url(url + "/")
            by_site = page.locator("#by-site")
            assert by_site.locator(f'[data-site="{SITE}"]').inner_text() == "1"
            assert by_site.locator(f'[data-site-covered="{SITE}"]').inner_text() == "1"
            assert by_site.locator('[data-site="(no site)"]').inner_text() == "1"
            assert by_site.locator('[data-site-covered="(no site)"]').inner_text() == "0"
            page.screenshot(path=str(ARTIFACTS / "overview-sites.png"), full_page=True)
            by_site.get_by_role("link", name=SITE, exact=True).click()
            page.wait_for_url(re.compile(r"/hosts\?site="))
            page.click("#hosts a.host-link")
            page.wait_for_url(host_url)
            section = page.locator("section#p-kesl")

            # found → replacement-installed → removed, with notes
            for state, note in [
                ("replacement-installed", "Defender for Endpoint deployed"),
                ("removed", "KESL uninstalled, ticket OPS-7"),
            ]:
                section.locator("select[name=state]").select_option(state)
                section.locator("textarea[name=note]").fill(note)
                section.locator("button[type=submit]").click()
                page.wait_for_load_state()
                section = page.locator("section#p-kesl")
                assert section.locator("[data-state]").inner_text() == state
                assert note in section.locator("ol.history").inner_text()
            page.screenshot(path=str(ARTIFACTS / "host-removed.png"), full_page=True)

            # Ask the agent to scan now: the request stays pending until its next result
            assert page.inner_text("#scan-request > span.muted") == "none pending"
            page.click("#request-scan")
            page.wait_for_url(re.compile(r"/hosts/\d+\?scan_requested=1$"))
            assert page.inner_text("#scan-request strong") == "pending"
            assert "asked by alice" in page.inner_text("#scan-request")
            page.screenshot(path=str(ARTIFACTS / "host-scan-requested.png"), full_page=True)

            # The agent's clean scan, generated after the removal and the request, verifies the
            # removal and answers the request
            now = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(seconds=2)
            post_over_http(url, dirty_token, at(results["clean"], now.isoformat()))
            page.reload()
            section = page.locator("section#p-kesl")
            assert section.locator("[data-state]").inner_text() == "verified"
            assert page.inner_text("#scan-request > span.muted") == "none pending"
            assert page.locator("#scan-request strong").count() == 0
            page.screenshot(path=str(ARTIFACTS / "host-verified.png"), full_page=True)

            # The hosts CSV, downloaded through the page's export link
            page.goto(url + "/hosts")
            with page.expect_download() as info:
                page.click("a.export-csv")
            download = info.value
            saved = ARTIFACTS / "hosts.csv"
            download.save_as(str(saved))
            rows = list(csv.DictReader(io.StringIO(saved.read_text(encoding="utf-8-sig"))))
            assert sorted(r["hostname"] for r in rows) == ["srv-app-01", "srv-db-02"]
            app = next(r for r in rows if r["hostname"] == "srv-app-01")
            assert app["verified"] == "1" and app["covered"] == "0"
            assert app["site"] == SITE and app["tags"] == "linux,prod"

            # The board and the explainer, the latter without logging in
            page.goto(url + "/transitions")
            assert "srv-app-01" in page.locator("section[data-state=verified]").inner_text()
            page.screenshot(path=str(ARTIFACTS / "transitions.png"), full_page=True)
            anon = browser.new_context()
            anon.route("**/*", guard)
            public = anon.new_page()
            public.goto(url + "/explainer")
            assert urlparse(public.url).path == "/explainer"
            text = public.inner_text("main")
            assert "2024-09-29" in text and "89 FR 52434" in text and "Лаборатория Касперского" in text
            public.screenshot(path=str(ARTIFACTS / "explainer.png"), full_page=False)
            anon.close()
            context.close()
        finally:
            browser.close()

    assert guard.requested, "the route guard saw no request"
    assert guard.outside == [], f"requests left 127.0.0.1: {guard.outside}"
