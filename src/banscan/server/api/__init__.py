"""The JSON API under /api/v1 (agents, people, automation) and the session login routes, one
module per resource; all SQL is in `banscan.store`."""

from __future__ import annotations

from fastapi import APIRouter

from banscan.server.api import (
    agents,
    attestations,
    catalog,
    coordinator,
    enrol_secrets,
    enrolments,
    findings,
    hosts,
    imports,
    notices,
    orgs,
    packs,
    session,
    tokens,
    transitions,
    users,
)

API_PREFIX = "/api/v1"
RESOURCES = (
    agents,
    hosts,
    findings,
    catalog,
    packs,
    transitions,
    tokens,
    users,
    imports,
    session,
    enrolments,
    enrol_secrets,
    orgs,
    attestations,
    coordinator,
    notices,
)


def api_router() -> APIRouter:
    """Every resource's routes under /api/v1."""
    out = APIRouter(prefix=API_PREFIX)
    for module in RESOURCES:
        out.include_router(module.router)
    return out


def catalog_repo_router() -> APIRouter:
    """The signed catalog repository at /tuf/ (only for a server given one: else a 404)."""
    return catalog.tuf_router()


def login_router() -> APIRouter:
    """Form login and logout at /login and /logout (outside /api/v1: browsers post to them)."""
    return session.web_router
