"""Every dashboard page in Debian's Chromium at a laptop's 1366×768 and a phone's 390×844, with a
full-page screenshot of each kept in test-artifacts/screens/<page>-<width>.png.

A server process on 127.0.0.1 (SQLite) holds a small fleet: hosts on Linux, Windows and macOS
with covered, remnant, review and accepted findings (one under an exception), sites and tags,
removals under way, a clean host, an imported inventory, an enrolment waiting for an admin, a
viewer and an API token. Each page must answer 200, show its <h1>, log nothing to the console,
ask nothing of any other address, and at phone width never make the page itself scroll
sideways: a wide table scrolls inside its own box."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest

from banscan.store.accounts import create_api_token, create_user
from chromium import ARGS, ARTIFACTS, CHROMIUM, DESKTOP, PHONE, LoopbackGuard, needs_chromium, playwright

from .conftest import ADMIN_PASSWORD, ENROLL_SECRET, ServerProcess, at, post_over_http

playwright_sync = playwright()
pytestmark = needs_chromium

SCREENS = ARTIFACTS / "screens"
VIEWPORTS = {DESKTOP["width"]: DESKTOP, PHONE["width"]: PHONE}
DATA = Path(__file__).resolve().parents[1] / "data" / "inputs"
LONG_HOST = "ws-finance-workstation-0042.corp.example.org"
T1 = "2025-03-01T10:00:00+00:00"
T2 = "2025-03-08T09:30:00+00:00"

# (name, path, logged in); "host" is filled in with the seeded host's id
PAGES: list[tuple[str, str, bool]] = [
    ("overview", "/", True),
    ("hosts", "/hosts", True),
    ("host", "/hosts/{host_id}", True),
    ("product", "/products/kesl", True),
    ("transitions", "/transitions", True),
    ("exceptions", "/exceptions", True),
    ("imports", "/imports", True),
    ("users", "/users", True),
    ("enrolments", "/enrolments", True),
    ("account", "/account", True),
    ("explainer", "/explainer", False),
    ("login", "/login", False),
]
# Pages whose phone-width overflow is known and being reworked elsewhere: name → reason.
PHONE_OVERFLOW_XFAIL: dict[str, str] = {}

# The elements that stick out past the right edge of the viewport, widest first.
OVERFLOWING = """() => {
    const limit = window.innerWidth + 1;
    const out = [];
    for (const el of document.querySelectorAll('body *')) {
        const r = el.getBoundingClientRect();
        if (r.right <= limit || r.width === 0) continue;
        let clipped = false;
        for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
            const s = getComputedStyle(p);
            if (['auto', 'scroll', 'hidden', 'clip'].includes(s.overflowX)) { clipped = true; break; }
        }
        if (!clipped) {
            const cls = el.className && typeof el.className === 'string' ? '.' + el.className.trim().replace(/\\s+/g, '.') : '';
            out.push(`${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}${cls} right=${Math.round(r.right)}`);
        }
    }
    return out.slice(0, 8);
}"""


# ---------------------------------------------------------------- the fleet


def enrol(url: str, identifier: str, hostname: str, platform: str, **extra: Any) -> httpx.Response:
    return httpx.post(
        url + "/api/v1/enroll",
        json={
            "enroll_secret": ENROLL_SECRET,
            "host_identifier": identifier,
            "hostname": hostname,
            "platform": platform,
            **extra,
        },
        timeout=30,
    )


def host_result(dirty: dict[str, Any], hostname: str, findings: list[tuple[str, str, str]]) -> dict[str, Any]:
    """The dirty Linux root's result as `hostname`'s, its findings replaced by `findings`
    (product, name, verdict), each made from its KESL finding."""
    out = copy.deepcopy(dirty)
    kesl = next(f for f in out["findings"] if f["product"] == "kesl")
    made = []
    for product, name, verdict in findings:
        f = copy.deepcopy(kesl)
        f.update(product=product, product_name=name, verdict=verdict)
        made.append(f)
    out["findings"] = made
    for f in out["findings"]:
        f["host"] = hostname
    out["hosts"] = [hostname]
    return out


@dataclass
class Fleet:
    url: str
    host_id: int
    admin_token: str
    paths: dict[str, str] = field(default_factory=dict)


def seed(url: str, admin_token: str, results: dict[str, Any]) -> int:
    """Hosts, findings, sites, tags, removal steps, an exception, an import and a held
    enrolment; returns the id of the host to show (the one with the most going on)."""
    admin = {"Authorization": f"Bearer {admin_token}"}
    dirty, clean = results["dirty"], results["clean"]
    hosts: dict[str, tuple[int, str]] = {}

    def add(identifier: str, hostname: str, platform: str, result: dict[str, Any], when: str) -> None:
        r = enrol(url, identifier, hostname, platform)
        assert r.status_code == 201, r.text
        hosts[hostname] = (int(r.json()["host_id"]), r.json()["token"])
        post_over_http(url, hosts[hostname][1], at(result, when))

    add("host-app-01", "srv-app-01", "linux", at(dirty, T1), T1)
    add("host-db-02", "srv-db-02", "linux", at(clean, T1), T1)
    add(
        "host-fin-42",
        LONG_HOST,
        "windows",
        host_result(
            dirty,
            LONG_HOST,
            [
                ("kes-windows", "Kaspersky Endpoint Security for Windows", "covered"),
                ("ksc-web-console", "Kaspersky Security Center Web Console", "remnant"),
                ("kaspersky-edr", "Kaspersky EDR", "review"),
            ],
        ),
        T1,
    )
    add(
        "host-mbp-03",
        "mbp-design-03",
        "macos",
        host_result(dirty, "mbp-design-03", [("kes-mac", "Kaspersky Endpoint Security for Mac", "covered")]),
        T1,
    )
    lab = host_result(dirty, "lab-01", [("kesl", "Kaspersky Endpoint Security for Linux", "accepted")])
    lab["findings"][0]["exception"] = {
        "reason": "isolated malware-analysis lab, no network; replaced at the next hardware refresh",
        "approver": "ciso@example.org",
        "expires": "2099-12-31",
        "original_verdict": "covered",
        "ticket": "SEC-42",
    }
    add("host-lab-01", "lab-01", "linux", lab, T1)

    labels = {
        "srv-app-01": {"site": "Paris DC1", "tags": ["prod", "linux", "pci"]},
        "srv-db-02": {"site": "Paris DC1", "tags": ["prod", "db"]},
        LONG_HOST: {"site": "Rīga DC 2", "tags": ["finance", "windows", "workstation"]},
        "mbp-design-03": {"site": "Berlin office", "tags": ["design"]},
        "lab-01": {"tags": ["lab"]},
    }
    for hostname, body in labels.items():
        r = httpx.patch(f"{url}/api/v1/hosts/{hosts[hostname][0]}", json=body, headers=admin, timeout=30)
        assert r.status_code == 200, r.text

    app_id = hosts["srv-app-01"][0]
    for product, state, note in [
        ("kesl", "replacement-installed", "Defender for Endpoint deployed, change OPS-7"),
        ("ksc-network-agent", "replacement-installed", "agent superseded by Intune"),
        ("ksc-network-agent", "removed", "uninstalled with the EDR roll-out, OPS-41"),
    ]:
        r = httpx.post(
            f"{url}/api/v1/transitions/{app_id}/{product}",
            json={"state": state, "note": note},
            headers=admin,
            timeout=30,
        )
        assert r.status_code == 200, r.text
    fin_id = hosts[LONG_HOST][0]
    r = httpx.post(
        f"{url}/api/v1/transitions/{fin_id}/kes-windows",
        json={"state": "replacement-installed", "note": "Defender onboarded"},
        headers=admin,
        timeout=30,
    )
    assert r.status_code == 200, r.text
    post_over_http(url, hosts["srv-app-01"][1], at(dirty, T2))  # a second report: history and trend

    # An inventory import for a new site, and an enrolment held for an admin
    with (DATA / "csv" / "lansweeper_software.csv").open("rb") as fh:
        r = httpx.post(
            url + "/api/v1/imports",
            files={"file": ("lansweeper_software.csv", fh, "text/csv")},
            data={"site": "Lyon branch"},
            headers=admin,
            timeout=60,
        )
    assert r.status_code == 201, r.text
    held = enrol(url, "host-fin-42", LONG_HOST, "windows")
    assert held.status_code == 202, held.text
    r = httpx.post(
        url + "/api/v1/enrol-secrets",
        json={"name": "paris-rollout", "site": "Paris DC1", "tag": "prod", "expires_in_days": 30},
        headers=admin,
        timeout=30,
    )
    assert r.status_code == 201, r.text
    return app_id


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory, results: dict[str, Any]) -> Iterator[Fleet]:
    work = tmp_path_factory.mktemp("screens")
    db = f"sqlite:///{work / 'banscan.db'}"
    create_user(db, "alice", ADMIN_PASSWORD, "admin")
    create_user(db, "bob", ADMIN_PASSWORD, "viewer")
    token = create_api_token(db, "screens-admin", "admin")
    create_api_token(db, "ci-export", "viewer")
    server = ServerProcess(db, work)
    url = server.start(timeout=120)  # a busy machine takes a while to import the app
    try:
        host_id = seed(url, token, results)
        yield Fleet(url, host_id, token, {n: p.format(host_id=host_id) for n, p, _ in PAGES})
    finally:
        server.stop()


# ---------------------------------------------------------------- the browser


class Browser:
    """One Chromium; per width a logged-in context (alice, admin) and an anonymous one."""

    def __init__(self, browser: Any, url: str) -> None:
        self.browser = browser
        self.url = url
        self.contexts: dict[tuple[int, bool], Any] = {}
        self.guard = LoopbackGuard()

    def context(self, width: int, logged_in: bool) -> Any:
        key = (width, logged_in)
        if key not in self.contexts:
            ctx = self.browser.new_context(viewport=VIEWPORTS[width])
            ctx.set_default_timeout(90_000)  # a tall page on a loaded two-core machine
            ctx.route("**/*", self.guard)
            if logged_in:
                page = ctx.new_page()
                page.goto(self.url + "/login")
                page.fill("input[name=username]", "alice")
                page.fill("input[name=password]", ADMIN_PASSWORD)
                page.click("button[type=submit]")
                page.wait_for_url(self.url + "/")
                page.close()
            self.contexts[key] = ctx
        return self.contexts[key]


@pytest.fixture(scope="module")
def chromium(fleet: Fleet) -> Iterator[Browser]:
    SCREENS.mkdir(parents=True, exist_ok=True)
    with playwright_sync.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield Browser(browser, fleet.url)
        finally:
            browser.close()


@pytest.mark.parametrize("width", sorted(VIEWPORTS, reverse=True))
@pytest.mark.parametrize(("name", "logged_in"), [(n, li) for n, _, li in PAGES])
def test_page_at_width(fleet: Fleet, chromium: Browser, name: str, logged_in: bool, width: int) -> None:
    page = chromium.context(width, logged_in).new_page()
    problems: list[str] = []
    page.on(
        "console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None
    )
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    try:
        response = page.goto(fleet.url + fleet.paths[name])
        assert response is not None and response.status == 200, f"{name}: HTTP {response and response.status}"
        assert urlparse(page.url).path == urlparse(fleet.url + fleet.paths[name]).path, "redirected"
        page.wait_for_load_state("load")
        page.screenshot(path=str(SCREENS / f"{name}-{width}.png"), full_page=True)

        assert page.locator("h1").first.is_visible(), f"{name}: no visible <h1>"
        assert problems == [], f"{name} at {width}: {problems}"
        assert chromium.guard.outside == [], f"requests left 127.0.0.1: {chromium.guard.outside}"
        if width < 600:
            size = page.evaluate(
                "() => ({scroll: document.documentElement.scrollWidth, inner: window.innerWidth})"
            )
            if size["scroll"] > size["inner"] + 1:
                culprits = page.evaluate(OVERFLOWING)
                if name in PHONE_OVERFLOW_XFAIL:
                    pytest.xfail(f"{name} at {width} px: {PHONE_OVERFLOW_XFAIL[name]} ({culprits})")
                pytest.fail(
                    f"{name} scrolls sideways at {width} px: {size['scroll']} px wide; sticking out: {culprits}"
                )
    finally:
        page.close()
