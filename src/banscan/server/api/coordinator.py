"""The coordinator's board as JSON: the caller's member organisations, the same rows, filter and
order as the dashboard's /coordinator, paged by offset."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request

from banscan.server.deps import PagingDep, ReadDB, UserDep
from banscan.server.pages.coordinator import BoardQueryDep, member_rows
from banscan.store.paging import Page

router = APIRouter()


@router.get("/coordinator/members", tags=["read"])
def list_members(
    request: Request, principal: UserDep, db: ReadDB, paging: PagingDep, q: BoardQueryDep
) -> dict[str, Any]:
    """Every descendant of the caller's organisation, one item each, counted over its own
    hosts: the latest notice the caller's organisation sent it and whether it was acknowledged,
    hosts and hosts that sent a report in the last `days` days, present covered findings (per
    product), findings and hosts with an overdue obligation (for `role`, today), removal records
    per state, its last report and latest attestation. Aggregates only, whatever the member
    shares; `hosts_shared` says whether the caller may read its hosts (`GET /api/v1/hosts`).
    `status` keeps the members still to chase (`unacknowledged`, `no-notice`, `overdue`,
    `silent`: no report in `days` days, `not-attested`) or those `done` (hosts known, nothing
    covered left, nothing overdue, every removal record verified); `sort` and `order` order
    them (default: the tree, each member under its coordinator). Paged by `offset`."""
    if paging.after_id is not None:
        raise HTTPException(400, "this list is paged by offset, not by cursor")
    rows = member_rows(request, principal, db, q)
    items = [r.to_json() for r in rows[paging.offset : paging.offset + paging.limit]]
    for item in items:
        item["report_days"] = q.days
    return Page(items, len(rows), paging.limit, paging.offset).to_json()
