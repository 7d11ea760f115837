"""The dashboard: server-rendered HTML pages over the fleet store (no script, no build step).

Pages need a logged-in user (viewer or admin) except /login, /explainer and /static; changes
(transitions, labels, scan requests, imports, enrolment decisions) need an admin and a CSRF
token. Every response carries the security headers (`banscan.server.security`); errors are
pages (`render.DashboardRoute`). One module per page; all SQL is in `banscan.store`."""

from __future__ import annotations

from fastapi import APIRouter

from banscan.server.pages import (
    accounts,
    attestations,
    coordinator,
    enrolments,
    exceptions,
    explainer,
    hosts,
    imports,
    invite,
    login,
    notices,
    organisation,
    overview,
    products,
    transitions,
)

PAGES = (
    login,
    invite,
    overview,
    coordinator,
    hosts,
    products,
    transitions,
    exceptions,
    attestations,
    notices,
    imports,
    enrolments,
    accounts,
    organisation,
    explainer,
)


def router() -> APIRouter:
    """Every page's routes, in one router."""
    out = APIRouter(include_in_schema=False)
    for module in PAGES:
        out.include_router(module.router)
    return out
