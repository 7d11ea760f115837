"""The public explainer page: what is banned, since when, and what to do, from the catalog."""

from __future__ import annotations

import datetime as dt

from fastapi import Request, Response
from fastapi.responses import HTMLResponse

from banscan.server.deps import state_of, today
from banscan.server.explainer import build_explainer
from banscan.server.pages.render import env, page_router

router = page_router()

_CACHE: dict[tuple[int, dt.date], str] = {}


@router.get("/explainer")
def explainer_page(request: Request) -> Response:
    """Public: drawn once a day per catalog."""
    catalog = state_of(request).catalog
    key = (id(catalog), today())
    html = _CACHE.get(key)
    if html is None:
        html = (
            env()
            .get_template("explainer.html.j2")
            .render(
                principal=None,
                title="What is banned, since when, what to do",
                nav="explainer",
                path="/explainer",
                e=build_explainer(catalog),
            )
        )
        _CACHE.clear()
        _CACHE[key] = html
    return HTMLResponse(html, headers={"Cache-Control": "public, max-age=300"})
