"""The explainer's structure: a table of contents whose every link lands on an anchor, one anchor
per rule, obligation, product and role, and a "What do I do now?" box per role quoting the
catalog with its source. Checked in the HTML, then in Chromium (Playwright) at a laptop's
1366×768 and a phone's 390×844: the links resolve and scroll, nothing is wider than the screen.
Screenshots go to test-artifacts/."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from html import unescape

import pytest

from banscan.catalog.loader import load_catalog
from banscan.catalog.schema import ROLES
from banscan.server.explainer import build_explainer
from banscan.store.migrate import upgrade_db
from chromium import ARGS, ARTIFACTS, CHROMIUM, DESKTOP, PHONE, LoopbackGuard, needs_chromium, playwright

from .conftest import Fleet, ServerProcess

VIEWPORTS = {"desktop": DESKTOP, "phone": PHONE}


@pytest.fixture
def public(sqlite_url: str) -> Iterator[Fleet]:
    f = Fleet(sqlite_url)
    yield f
    f.close()


def _ids(html: str) -> list[str]:
    return [unescape(i) for i in re.findall(r'\sid="([^"]+)"', html)]


def _fragments(html: str) -> list[str]:
    return [unescape(h[1:]) for h in re.findall(r'href="(#[^"]*)"', html)]


def test_every_in_page_link_lands_on_one_anchor(public: Fleet) -> None:
    html = public.client.get("/explainer").text
    ids = Counter(_ids(html))
    assert not [i for i, n in ids.items() if n > 1], "an id is used twice"
    toc = html[html.index('<nav class="toc"') : html.index("</nav>", html.index('<nav class="toc"'))]
    toc_links = _fragments(toc)
    for section in ("now", "what", "when", "todo", "sources", "timeline", "legal-sources"):
        assert section in toc_links, section
    missing = [f for f in _fragments(html) if f not in ids]
    assert not missing, f"links to no anchor: {missing}"
    # every section and every heading above the fourth level is in the table of contents
    sections = re.findall(r'<(?:section|h2|h3)[^>]*\sid="([^"]+)"', html)
    assert len(sections) > 20
    left_out = [a for a in sections if a not in toc_links and a != "toc-title"]
    assert not left_out, f"not in the contents: {left_out}"


def test_anchors_are_derived_from_catalog_ids(public: Fleet) -> None:
    html = public.client.get("/explainer").text
    ids = set(_ids(html))
    catalog = load_catalog()
    for p in catalog.products:
        assert f"prod-{p.id}" in ids, p.id
    for r in catalog.regulations:
        assert f"reg-{r.id}" in ids, r.id
        for rule in r.obligations:
            assert f"ob-{r.id}-{rule.id}" in ids, (r.id, rule.id)
    for e in catalog.entities:
        if e.covered:
            assert f"ent-{e.id}" in ids, e.id


def test_what_do_i_do_now_quotes_the_catalog_per_role() -> None:
    catalog = load_catalog()
    now = build_explainer(catalog)["now"]
    roles = {r["role"]: r for r in now["roles"]}
    bound = {role for r in catalog.regulations for role in r.binds}
    assert set(roles) == bound and set(roles) <= set(ROLES)
    actions = {(r.id, o.id): o.action for r in catalog.regulations for o in r.obligations}
    for duty in now["everyone"] + [d for r in now["roles"] for d in r["duties"]]:
        reg_id = duty["regulation_anchor"].removeprefix("reg-")
        assert actions[(reg_id, duty["id"])] == duty["action"]  # the catalog's own words
        assert duty["source"] and duty["source"]["url"].startswith("https://")
    # every obligation is shown to exactly the roles the policy engine gives it
    for r in catalog.regulations:
        for o in r.obligations:
            applies = {role for role in ROLES if role in r.binds and role in o.roles}
            anchor = f"ob-{r.id}-{o.id}"
            shown = {x["role"] for x in now["roles"] if any(d["anchor"] == anchor for d in x["duties"])}
            if applies == set(ROLES):
                assert any(d["anchor"] == anchor for d in now["everyone"]) and not shown
            else:
                assert shown == applies, anchor
    contractor = roles["federal-contractor"]["duties"]
    assert [d["kind"] for d in contractor][:2] == ["reporting", "reporting"]  # deadlines first
    assert any("3 US business days" in (d["due"] or "") for d in contractor)
    state = roles["state-agency"]
    assert state["jurisdictions"] == ["US-NH", "US-TX", "US-VA"]
    assert roles["user"]["duties"] == []  # users are only advised (BIS), which is for everyone


def test_role_boxes_on_the_page(public: Fleet) -> None:
    html = public.client.get("/explainer").text
    now = html[html.index('<section id="now">') : html.index('<section id="what">')]
    assert now.index('id="role-everyone"') < now.index('id="role-user"')
    for role in ("user", "seller", "federal-contractor", "federal-agency", "state-agency", "telecom"):
        assert f'id="role-{role}"' in now, role
    box = now[now.index('id="role-federal-contractor"') :]
    box = box[: box.index("</section>")]
    assert (
        "Contracting Officer" in box
        and "within 3 US business days from identification (1 US business day for items identified before 2023-12-04)"
        in box
    )
    assert 'href="#ob-ndaa-1634-far-52-204-23-report-3-days"' in box
    assert 'href="https://www.acquisition.gov/' in box or 'href="https://' in box
    texas = now[now.index('id="role-state-agency"') :]
    assert "in US-TX only" in texas[: texas.index("</section>")]


# ---------------------------------------------------------------- in Chromium


@needs_chromium
def test_explainer_in_chromium(sqlite_url: str, server_process: Callable[[str], ServerProcess]) -> None:
    sync_api = playwright()
    ARTIFACTS.mkdir(exist_ok=True)
    upgrade_db(sqlite_url)
    url = server_process(sqlite_url).start()
    guard = LoopbackGuard()

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            for name, viewport in VIEWPORTS.items():
                context = browser.new_context(viewport=viewport)
                context.set_default_timeout(10_000)
                context.route("**/*", guard)
                page = context.new_page()
                page.goto(url + "/explainer")
                page.screenshot(path=str(ARTIFACTS / f"explainer-{name}-top.png"))

                # every link of the contents names one element on the page
                toc = page.locator("nav.toc a").evaluate_all("els => els.map(e => e.getAttribute('href'))")
                assert len(toc) >= 12
                for href in toc:
                    assert href.startswith("#"), href
                    assert page.locator(f'[id="{href[1:]}"]').count() == 1, href
                every = page.locator("a[href^='#']").evaluate_all(
                    "els => els.map(e => e.getAttribute('href').slice(1))"
                )
                missing = page.evaluate("ids => ids.filter(i => !document.getElementById(i))", every)
                assert missing == [], missing

                # nothing is wider than the screen
                overflow = page.evaluate(
                    "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
                )
                assert overflow <= 0, f"{name}: the page is {overflow}px wider than the screen"
                page.click("details.more > summary")  # the technical sources, folded
                wide = page.evaluate(
                    "() => [...document.querySelectorAll('.scroll')]"
                    ".filter(s => s.scrollWidth > s.clientWidth + 1).map(s => s.firstElementChild.className)"
                )
                assert wide == [], f"{name}: tables wider than the column: {wide}"

                # a role's link scrolls its box into view
                page.click("nav.toc a[href='#role-federal-contractor']")
                page.wait_for_function("() => location.hash === '#role-federal-contractor'")
                box = page.locator("#role-federal-contractor").bounding_box()
                assert box is not None and 0 <= box["y"] < viewport["height"] / 2, box
                page.screenshot(path=str(ARTIFACTS / f"explainer-{name}-role.png"))

                # and a rule's link from the timeline lands on the rule
                page.locator("#timeline a[href='#reg-dhs-bod-17-01']").first.click()
                page.wait_for_function("() => location.hash === '#reg-dhs-bod-17-01'")
                box = page.locator("#reg-dhs-bod-17-01").bounding_box()
                assert box is not None and 0 <= box["y"] < viewport["height"] / 2, box
                page.screenshot(path=str(ARTIFACTS / f"explainer-{name}-rule.png"))
                page.goto(url + "/explainer")
                # the whole page (every pack's products and sources) is a tall image: more than
                # the default 10 s on a loaded two-core machine, so a generous bound
                page.screenshot(
                    path=str(ARTIFACTS / f"explainer-{name}-full.png"), full_page=True, timeout=90_000
                )
                context.close()
        finally:
            browser.close()
    assert guard.outside == [], f"requests left 127.0.0.1: {guard.outside}"
