"""Outreach across organisations in a real browser: Debian's Chromium driven by Playwright
against a server process on 127.0.0.1 (SQLite) that emails through an SMTP server on
127.0.0.1. The operator makes a coordinator and its admin on the command line; the coordinator
adds a member and invites its first officer; the officer chooses a password, enrols two agents
with an enrol secret of its own and shares its hosts; the coordinator sends a notice, the member
acknowledges it with the emailed link and attests; the coordinator's board, its drill-down and
its CSV show all of it. Coordinator and member each have their own browser context; no request
leaves the loopback address. Screenshots go to test-artifacts/outreach-*.png."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import time
from collections.abc import Callable, Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from banscan.cli.org import org_add_command
from banscan.cli.users import user_add_command
from chromium import ARGS, ARTIFACTS, CHROMIUM, LoopbackGuard, needs_chromium, playwright
from test_notices import _free_port, _Inbox

from .conftest import ADMIN_PASSWORD, ServerProcess, at, enroll_over_http, post_over_http

MEMBER = "county-health"
MEMBER_NAME = "County Health Department"
MEMBER_MAIL = "ciso@county-health.example.gov"
OFFICER = "ch-ciso"
OFFICER_PASSWORD = "lantern orchard basalt ribbon"
DIRTY, CLEAN = "ch-clinic-01", "ch-records-02"
TITLE = "Kaspersky: remove it from county systems"

playwright_sync = playwright()
pytestmark = needs_chromium


@pytest.fixture
def relay() -> Iterator[tuple[_Inbox, int]]:
    """An SMTP server on 127.0.0.1 keeping what it receives."""
    inbox, port = _Inbox(), _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, server_hostname="relay.test")
    controller.start()
    yield inbox, port
    controller.stop()


def _mail_to(inbox: _Inbox, to: str, timeout: float = 20.0) -> EmailMessage:
    """The one message the relay received for `to`; the server sends it after its response,
    so it is waited for."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [e for e, _ in inbox.messages if to in e.rcpt_tos]
        if found:
            assert len(found) == 1
            assert isinstance(found[0].content, bytes)
            msg = message_from_bytes(found[0].content, policy=policy.default)
            assert isinstance(msg, EmailMessage)
            return msg
        time.sleep(0.1)
    raise AssertionError(f"no email to {to} within {timeout} s")


def _login(page: Any, url: str, username: str, password: str) -> None:
    page.goto(url + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(url + "/")


def _shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"outreach-{name}.png"), full_page=True)


def test_outreach_in_chromium(
    sqlite_url: str,
    server_process: Callable[..., ServerProcess],
    results: dict[str, Any],
    relay: tuple[_Inbox, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    inbox, smtp_port = relay

    # 1. The operator: the coordinator and its admin on the command line, then the server
    assert (
        org_add_command(sqlite_url, "state-cio", "Office of the State CIO", contact="soc@cio.example.gov")
        == 0
    )
    monkeypatch.setenv("BANSCAN_PASSWORD", ADMIN_PASSWORD)
    assert user_add_command(sqlite_url, "cio-admin", "admin", org="state-cio") == 0
    server = server_process(
        sqlite_url,
        options=[
            "--public-url={url}",
            "--smtp-host=127.0.0.1",
            f"--smtp-port={smtp_port}",
            "--smtp-security=none",
            "--smtp-from=State CIO notices <notices@cio.example.gov>",
        ],
    )
    url = server.start()
    today = dt.datetime.now(dt.UTC).date().isoformat()
    guard = LoopbackGuard()

    with playwright_sync.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            contexts = []
            for _ in range(2):
                context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
                context.set_default_timeout(10_000)
                context.route("**/*", guard)
                contexts.append(context)
            cio, member = contexts[0].new_page(), contexts[1].new_page()

            # 2. The coordinator adds the member and invites its first officer
            _login(cio, url, "cio-admin", ADMIN_PASSWORD)
            cio.click("nav >> text=Organisation")
            assert cio.inner_text("h1") == "Office of the State CIO"
            assert "No member organisations." in cio.inner_text("#members")
            form = cio.locator("#member-form")
            form.locator("input[name=slug]").fill(MEMBER)
            form.locator("input[name=name]").fill(MEMBER_NAME)
            form.locator("input[name=email]").fill(MEMBER_MAIL)
            form.locator("input[name=role]").fill("state-agency")
            form.locator("input[name=jurisdiction]").fill("us-tx")
            form.locator("button[type=submit]").click()
            cio.wait_for_load_state()
            assert cio.inner_text("#done") == f"{MEMBER_NAME} is now a member."
            row = cio.locator(f"#member-{MEMBER}")
            assert row.locator("td").nth(2).inner_text() == "aggregates"  # a new member shares counts only
            assert MEMBER_MAIL in row.inner_text()
            row.locator("input[name=username]").fill(OFFICER)
            row.locator("button[type=submit]").click()
            cio.wait_for_load_state()
            assert f"Send this link to {OFFICER} (admin of {MEMBER})" in cio.inner_text("#invited")
            link = cio.inner_text("#invite-link")
            assert link.startswith(url + "/invite?token=")
            # A second officer is the member's own admins' business now
            assert cio.locator(f"#member-{MEMBER} input[name=username]").count() == 0
            _shot(cio, "01-invite")

            # 3. The officer chooses a password with the link, in a context of its own, and logs in
            member.goto(link)
            assert f"You were invited as {OFFICER}" in member.inner_text("main")
            member.fill("input[name=password]", OFFICER_PASSWORD)
            member.fill("input[name=repeat]", OFFICER_PASSWORD)
            _shot(member, "02-choose-password")
            member.click("form button[type=submit]")
            member.wait_for_url(url + "/login")
            _login(member, url, OFFICER, OFFICER_PASSWORD)
            assert member.inner_text("header .user") == f"{OFFICER} (admin)"
            # The link worked once
            again = contexts[1].request.get(link)
            assert again.status == 404 and "Choose your password" not in again.text()

            # An enrol secret of the member's own, made with the session's CSRF token; its agents
            # land in the member organisation
            me = contexts[1].request.get(url + "/api/v1/me").json()
            made = contexts[1].request.post(
                url + "/api/v1/enrol-secrets",
                data={"name": "county-rollout"},
                headers={"X-CSRF-Token": me["csrf_token"]},
            )
            assert made.status == 201, made.text()
            secret = made.json()["secret"]
            now = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=1)
            post_over_http(
                url, enroll_over_http(url, "ch-host-1", DIRTY, secret), at(results["dirty"], now.isoformat())
            )
            post_over_http(
                url, enroll_over_http(url, "ch-host-2", CLEAN, secret), at(results["clean"], now.isoformat())
            )

            # Before the member shares its hosts, its coordinator counts them and names none
            cio.goto(url + "/coordinator")
            board_row = cio.locator(f"#members tr[data-org={MEMBER}]")
            assert board_row.locator("[data-col=reporting]").inner_text() == "2 / 2"
            assert "shares aggregates only" in board_row.inner_text()
            assert board_row.locator("a.member-hosts").count() == 0
            assert DIRTY not in cio.content() and CLEAN not in cio.content()
            assert cio.goto(url + f"/coordinator/members/{MEMBER}").status == 404
            assert cio.goto(url + "/hosts").ok and DIRTY not in cio.inner_text("main")

            member.click("nav >> text=Organisation")
            assert "aggregates only" in member.inner_text("#own-sharing")
            member.select_option("#sharing-form select[name=share]", "hosts")
            member.click("#sharing-form button[type=submit]")
            member.wait_for_load_state()
            assert member.inner_text("#done") == "Your coordinators now see: hosts."
            assert member.inner_text("#own-sharing").startswith("hosts")
            assert member.locator("#sharing-form select[name=share]").input_value() == "hosts"
            _shot(member, "03-sharing")

            # 4. The coordinator sends a notice from the composer
            cio.goto(url + "/notices")
            composer = cio.locator("#compose-notice form")
            composer.locator("input[name=title]").fill(TITLE)
            composer.locator(f"input[name=member][value={MEMBER}]").check()
            for pack in ("kaspersky", "us-tx"):
                composer.locator(f"input[name=pack][value={pack}]").check()
            composer.locator("textarea[name=extra]").fill("Please confirm by the end of the month.")
            composer.locator("button[type=submit]").click()
            cio.wait_for_url(re.compile(r"/notices/\d+\?done=sent$"))
            notice_url = cio.url.split("?")[0]
            assert cio.inner_text("h1") == TITLE
            mail = _mail_to(inbox, MEMBER_MAIL)
            assert mail["Subject"] == (
                f"Office of the State CIO to {MEMBER_NAME}: Kaspersky Lab software and 1 more"
                " — what state agencies must do"
            )
            text = mail.get_body(("plain",))
            assert text is not None
            found = re.findall(re.escape(url) + r"/ack\?token=[A-Za-z0-9_-]+", text.get_content())
            assert len(found) == 1, text.get_content()[-600:]
            # Composed for a Texas agency: the state's rule, overdue, besides the federal ones
            assert "For state agencies in US-TX" in text.get_content()
            assert "Overdue since 2023-02-15" in text.get_content()
            cio.goto(notice_url)
            recipient = cio.locator(f"#notice-recipients tr[data-org={MEMBER}]")
            assert recipient.locator(".state").inner_text() == "sent"
            assert "not yet" in recipient.inner_text()
            _shot(cio, "04-notice-sent")

            # 5. The member finds it in its inbox and acknowledges it with the emailed link
            member.click("nav >> text=Notices")
            inbox_row = member.locator("#received-notices tbody tr").filter(has_text=TITLE)
            assert inbox_row.count() == 1
            assert "Office of the State CIO" in inbox_row.inner_text()
            assert "not yet" in inbox_row.inner_text()
            inbox_row.locator("a").click()
            assert "Please confirm by the end of the month." in member.inner_text("#notice-text")
            _shot(member, "05-notice-inbox")
            member.goto(found[0])
            assert f"Office of the State CIO asks {MEMBER_NAME} to acknowledge" in member.inner_text("#ack")
            _shot(member, "06-ack-link")
            member.click(f"#ack button:has-text('Acknowledge receipt for {MEMBER_NAME}')")
            member.wait_for_load_state()
            assert member.inner_text("#ack-done").startswith(
                f"Thank you: {MEMBER_NAME} has acknowledged “{TITLE}”"
            )
            member.goto(url + "/notices")
            inbox_row = member.locator("#received-notices tbody tr").filter(has_text=TITLE)
            assert today in inbox_row.inner_text() and "not yet" not in inbox_row.inner_text()
            assert inbox_row.locator("button").count() == 0
            _shot(member, "07-notice-acknowledged")

            # 6. The officer attests as of today
            member.click("nav >> text=Attestations")
            assert member.inner_text("#preview time") == today
            # Three Kaspersky products on the clinic host, each covered and overdue for a Texas agency
            assert member.inner_text("#remaining-total") == "3"
            assert member.inner_text("#overdue-total") == "3"
            kesl = member.locator("#remaining-kesl td")
            assert kesl.nth(0).inner_text() == "Kaspersky Endpoint Security for Linux"
            assert [kesl.nth(i).inner_text() for i in (1, 2)] == ["1", "0"]
            assert "1 host with findings remaining" in member.inner_text("#preview")
            member.fill(
                "#attest textarea[name=statement]", "Kaspersky is being removed from the clinic host."
            )
            member.click("#attest button[type=submit]")
            member.wait_for_url(url + "/attestations?done=attested")
            assert member.inner_text("#done") == "The attestation is recorded."
            signed = member.locator("#attestation-list tbody tr").first.locator("td")
            assert [signed.nth(i).inner_text() for i in (1, 2, 4)] == [today, OFFICER, "3"]
            _shot(member, "08-attested")

            # 7. The coordinator's board: acknowledged, 2 hosts reporting, kesl remaining, attested
            cio.goto(url + "/coordinator")
            board_row = cio.locator(f"#members tr[data-org={MEMBER}]")
            assert f"acknowledged on {today}" in board_row.locator("[data-col=notice]").inner_text()
            assert board_row.locator("[data-col=reporting]").inner_text() == "2 / 2"
            covered = board_row.locator("[data-col=covered]")
            assert covered.locator("strong").inner_text() == "3"
            assert covered.locator(".small").inner_text() == "kesl 1 · ksc-linux 1 · ksc-network-agent 1"
            assert board_row.locator("[data-col=attested]").inner_text() == f"{today} (as of {today})"
            assert cio.locator("[data-card=unacknowledged]").inner_text() == "0"
            assert cio.locator("[data-card=not-attested]").inner_text() == "0"
            assert DIRTY not in cio.inner_text("#members")  # the board itself is aggregates
            _shot(cio, "09-board")

            # The member shares its hosts: the drill-down lists them, read-only
            board_row.locator("a.member-hosts").click()
            cio.wait_for_url(url + f"/coordinator/members/{MEMBER}")
            hosts = cio.locator("#member-hosts tbody tr")
            assert sorted(cio.locator("#member-hosts a.host-link").all_inner_texts()) == [DIRTY, CLEAN]
            dirty = hosts.filter(has_text=DIRTY).locator("td")
            assert dirty.nth(3).inner_text() == "3"
            assert hosts.filter(has_text=CLEAN).locator("td").nth(3).inner_text() == "0"
            _shot(cio, "10-member-hosts")
            hosts.filter(has_text=DIRTY).locator("a.host-link").click()
            cio.wait_for_url(re.compile(r"/hosts/\d+$"))
            host_url = cio.url
            assert cio.inner_text("#hostname") == DIRTY
            assert cio.locator("section#p-kesl [data-state]").inner_text() == "found"
            assert cio.locator("main form").count() == 0  # read-only: its changes are the member's
            _shot(cio, "11-member-host")
            # ... while the member's own admin has the forms
            member.goto(host_url)
            assert member.locator("#request-scan").count() == 1
            assert member.locator("section#p-kesl form.transition-form").count() == 1

            # The board's CSV
            cio.goto(url + "/coordinator")
            with cio.expect_download() as info:
                cio.click("a.export-csv")
            saved = ARTIFACTS / "outreach-members.csv"
            info.value.save_as(str(saved))
            rows = list(csv.DictReader(io.StringIO(saved.read_text(encoding="utf-8-sig"))))
            assert [r["org"] for r in rows] == [MEMBER]
            got = rows[0]
            assert (got["name"], got["parent"], got["hosts_shared"]) == (MEMBER_NAME, "state-cio", "true")
            assert (got["notice"], got["notice_title"]) == ("acknowledged", TITLE)
            assert got["acknowledged_at"].startswith(today)
            assert (got["hosts"], got["hosts_reporting"], got["covered"]) == ("2", "2", "3")
            assert got["covered_by_product"] == "kesl=1;ksc-linux=1;ksc-network-agent=1"
            assert got["attested_as_of"] == today and got["attested_at"].startswith(today)
            assert DIRTY not in saved.read_text(encoding="utf-8-sig")

            for context in contexts:
                context.close()
        finally:
            browser.close()

    # 8. Nothing left the loopback address
    assert guard.requested, "the route guard saw no request"
    assert guard.outside == [], f"requests left 127.0.0.1: {guard.outside}"
