"""Hosts: list them (the dashboard's filter), read one with every finding and its obligations,
set site and tags, ask for a scan, reset a last-result time from the future."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator

from banscan.server.actions import reset_host_clock
from banscan.server.api.common import AsOfParam, RoleParam, RowId, site_or_none, tags_or_none
from banscan.server.deps import (
    AdminDep,
    HostFilterDep,
    PagingDep,
    ReadDB,
    UserDep,
    WriteDB,
    client_addr,
    policy_of,
    server_policy,
    state_of,
    writable_host,
)
from banscan.store import hosts as host_store
from banscan.store import sites
from banscan.store.audit import audit
from banscan.store.findings import host_detail
from banscan.store.ingest import request_scan
from banscan.store.packs import packs_found

router = APIRouter()


@router.get("/hosts", tags=["read"])
def list_hosts(
    request: Request, principal: UserDep, db: ReadDB, paging: PagingDep, f: HostFilterDep
) -> dict[str, Any]:
    """Hosts, with counts of their present findings by verdict and of their removal records by
    state (`transitions`). `verdict`/`product` keep hosts with such a present finding, `state`
    those with a removal record in that state, `overdue=1` those with an overdue obligation
    (for the server's role, today), `os` matches the platform (`unknown`: none sent), `search`
    the name or identifier, `site` the site (`(no site)`: hosts without one), `tag` one of the
    host's tags, `catalog=outdated` those whose latest result was judged by a catalog older than
    the server's current one, `pack` those with a present finding of that pack of the server's
    catalog (with `verdict`, `state` and `overdue`: of that pack's products) — the same filter
    as the dashboard's host list. Each host's `catalog` is the catalog its latest result was
    judged by (version, SHA-256, source, whether verified) and whether it is `outdated`, and
    `packs_found` the packs of its present findings."""
    st = state_of(request)
    result = host_store.list_hosts(
        db,
        f,
        limit=paging.limit,
        offset=paging.offset,
        after_id=paging.after_id,
        policy=server_policy(request),
        current_catalog=st.current_catalog().version,
        orgs=principal.scope,
    )
    found = packs_found(db, st.catalog, [h["id"] for h in result.items])
    for h in result.items:
        h["packs_found"] = found[h["id"]]
    return result.to_json()


@router.get("/hosts/{host_id}", tags=["read"])
def get_host(
    host_id: RowId,
    request: Request,
    principal: UserDep,
    db: ReadDB,
    as_of: AsOfParam = None,
    role: RoleParam = None,
) -> dict[str, Any]:
    """A host with every finding it has had. Each finding says when its product was first
    identified on the host (`first_identified`, kept when it is removed and found again), and
    its `obligations` are evaluated for `role` from that day as of `as_of` (while present; as of
    its last sighting once gone), with `deadline`: overdue since when and by how many days, or
    the next deadline, and its `pack` in the server's catalog. `catalog`: the catalog its latest
    result was judged by, and whether it is older than the server's current one (`outdated`);
    `packs_judged`: the packs (id, title, version) that result says judged it."""
    detail = host_detail(
        db,
        host_id,
        policy=policy_of(request, role, as_of),
        current_catalog=state_of(request).current_catalog().version,
        orgs=principal.scope,
    )
    if detail is None:
        raise HTTPException(404, "host not found")
    return detail


class HostLabelsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    site: str | None = Field(
        default=None, max_length=1000, description="The host's site; '' removes it; omitted: unchanged."
    )
    tags: list[str] | None = Field(
        default=None, max_length=1000, description="The host's tags, replacing them all; omitted: unchanged."
    )

    _site = field_validator("site")(site_or_none)
    _tags = field_validator("tags")(tags_or_none)


@router.patch("/hosts/{host_id}", tags=["admin"])
def patch_host(
    host_id: RowId, body: HostLabelsRequest, request: Request, principal: AdminDep, db: WriteDB
) -> dict[str, Any]:
    """Set a host's site and tags (admin); returns the host."""
    if sites.set_labels(db, host_id, site=body.site, tags=body.tags, orgs=principal.scope) is None:
        raise HTTPException(404, "host not found")
    changed = body.model_dump(exclude_none=True)
    audit(db, principal.name, "host.labels", str(host_id), client_addr(request), **changed)
    db.commit()
    state_of(request).overview_cache.clear()  # the counts by site and by tag changed
    item = host_store.host_of(db, host_id, state_of(request).current_catalog().version, orgs=principal.scope)
    if item is None:
        raise HTTPException(404, "host not found")
    return item


@router.post("/hosts/{host_id}/scan", status_code=202, tags=["admin"])
def post_scan_request(host_id: RowId, request: Request, principal: AdminDep, db: WriteDB) -> dict[str, Any]:
    """Ask the host's agent to scan now (admin). The agent learns of it when it next checks in
    (every minute by default) and the request stays pending until a newer result arrives."""
    writable_host(db, principal, host_id)
    host = request_scan(db, host_id, principal.name)
    if host is None:
        raise HTTPException(404, "host not found")
    audit(db, principal.name, "host.scan_requested", str(host_id), client_addr(request))
    db.commit()
    return {
        "host_id": host_id,
        "scan_requested_at": host.scan_requested_at.isoformat() if host.scan_requested_at else None,
        "scan_requested_by": host.scan_requested_by,
    }


@router.post("/hosts/{host_id}/reset-clock", tags=["admin"])
def post_reset_clock(host_id: RowId, request: Request, principal: AdminDep, db: WriteDB) -> dict[str, Any]:
    """Forget the host's last-result time if it is ahead of the server's clock (admin): a
    result generated in the future keeps every later one from being applied (`applied: false`).
    The time goes back to the newest result not in the future (or none); the next result is
    applied. Returns the host; nothing changes when its time is not in the future."""
    reset_host_clock(request, principal, db, host_id)
    item = host_store.host_of(db, host_id, state_of(request).current_catalog().version, orgs=principal.scope)
    if item is None:
        raise HTTPException(404, "host not found")
    return item
