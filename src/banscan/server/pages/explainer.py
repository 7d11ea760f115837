"""The public explainer page: what is banned, since when, and what to do, from the catalog; and
the same page headed for a coordinator that publishes it to its members (`/explainer/{slug}`)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import HTTPException, Path, Request, Response
from fastapi.responses import HTMLResponse

from banscan.server.deps import server_policy, state_of, today
from banscan.server.explainer import Brand, build_explainer
from banscan.server.pages.render import env, page_router
from banscan.store.attestations import org_policy
from banscan.store.orgs import descendants, get_org

router = page_router()

TITLE = "What is banned, since when, what to do"
_CACHE: dict[tuple[int, dt.date, Brand | None], str] = {}
_CACHED = 64  # pages kept: the plain one and a coordinator's each


def _page(request: Request, brand: Brand | None, path: str) -> Response:
    """Public: drawn once a day per catalog (and per coordinator's heading)."""
    catalog = state_of(request).catalog
    key = (id(catalog), today(), brand)
    html = _CACHE.get(key)
    if html is None:
        html = (
            env()
            .get_template("explainer.html.j2")
            .render(
                principal=None,
                title=f"{brand.name}: {TITLE.lower()}" if brand else TITLE,
                nav="explainer",
                path=path,
                e=build_explainer(catalog, brand),
            )
        )
        if len(_CACHE) >= _CACHED or any(k[:2] != key[:2] for k in _CACHE):
            _CACHE.clear()
        _CACHE[key] = html
    return HTMLResponse(html, headers={"Cache-Control": "public, max-age=300"})


@router.get("/explainer")
def explainer_page(request: Request) -> Response:
    return _page(request, None, "/explainer")


def _brand(request: Request, slug: str) -> Brand:
    """A coordinator's heading: its name and contact, its role and jurisdiction (else the
    server's). 404 for any organisation without members, as for one that does not exist:
    coordinators publish the page, nothing else is told."""
    with state_of(request).db.reading() as s:
        org = get_org(s, slug)
        if org is None or not descendants(s, org.id):
            raise HTTPException(404, "no such explainer")
        policy = org_policy(org, server_policy(request), today())
        return Brand(name=org.name, contact=org.contact, role=policy.role, jurisdiction=policy.jurisdiction)


@router.get("/explainer/{slug}")
def branded_explainer_page(request: Request, slug: Annotated[str, Path(max_length=63)]) -> Response:
    """Public, for coordinators only: the explainer headed with the coordinator's name and
    contact and what the rules ask of its role in its jurisdiction. No fleet data."""
    return _page(request, _brand(request, slug), f"/explainer/{slug}")
