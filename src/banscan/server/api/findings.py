"""Reading the estate: findings with their obligations, the summary, a stored result."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response

from banscan.server.api.common import AsOfParam, RoleParam, RowId
from banscan.server.deps import (
    PackQuery,
    PagingDep,
    ReadDB,
    State,
    UserDep,
    Verdict,
    pack_param,
    policy_of,
    state_of,
)
from banscan.store import findings as finding_store
from banscan.store import summary as summary_store
from banscan.store.paging import MAX_ID

router = APIRouter(tags=["read"])


@router.get("/reports/{report_id}")
def get_report(report_id: RowId, principal: UserDep, db: ReadDB) -> Response:
    """The result exactly as it was received."""
    body = finding_store.stored_result(db, report_id, orgs=principal.scope)
    if body is None:
        raise HTTPException(404, "report not found")
    return Response(body, media_type="application/json")


@router.get("/findings")
def list_findings(
    request: Request,
    principal: UserDep,
    db: ReadDB,
    paging: PagingDep,
    verdict: Verdict | None = None,
    product: Annotated[str | None, Query(max_length=200)] = None,
    host_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    state: State | None = None,
    present: Annotated[bool | None, Query(description="true (default): still seen; false: gone")] = True,
    as_of: AsOfParam = None,
    role: RoleParam = None,
    pack: PackQuery = None,
) -> dict[str, Any]:
    """Findings, each with its first identification and obligations as `GET /hosts/{id}` gives
    them, and the `pack` its product belongs to in the server's catalog (null: none; `pack=`
    keeps one pack's findings); informational products have no removal record (`transition` is
    null)."""
    result = finding_store.list_findings(
        db,
        limit=paging.limit,
        offset=paging.offset,
        after_id=paging.after_id,
        verdict=verdict,
        product=product,
        host_id=host_id,
        state=state,
        present=present,
        policy=policy_of(request, role, as_of),
        pack=pack_param(request, pack),
        orgs=principal.scope,
    )
    return result.to_json()


@router.get("/summary")
def summary(
    request: Request,
    principal: UserDep,
    db: ReadDB,
    as_of: dt.date | None = None,
    role: Annotated[str | None, Query(max_length=32)] = None,
    pack: PackQuery = None,
) -> dict[str, Any]:
    """Estate summary; obligations are evaluated as of `as_of` (default today) for `role`
    (default: the server's), counting deadlines from each finding's first sighting.

    `by_site` lists every site; `by_tag` lists the 20 tags with the most hosts (then by name),
    as the overview does, each with its hosts and those with a present covered finding, and
    `tags_total` the number of tags in all. Hosts without tags are in no entry of `by_tag`, and
    a host with several tags counts under each. `GET /api/v1/hosts?tag=` lists the hosts of any tag.

    `catalog` compares the catalog each host's latest result was judged by with the server's
    current one (`GET /api/v1/catalog`): hosts per version, `hosts_outdated` (judged by an older
    one; `GET /api/v1/hosts?catalog=outdated` lists them) and `hosts_unknown` (named none).

    `by_pack` splits hosts with covered findings, covered findings, findings to act on and the
    overdue ones by the packs of the server's catalog; `pack=` counts one pack's findings and
    removal records only (hosts known and per OS, site and tag stay the whole estate's)."""
    st = state_of(request)
    return summary_store.summary(
        db,
        st.catalog,
        role=role or principal.scope.terms[0] or st.settings.role,
        as_of=as_of,
        jurisdiction=principal.scope.terms[1] or st.settings.jurisdiction,
        current_catalog=st.current_catalog().version,
        pack=pack_param(request, pack),
        orgs=principal.scope.own_only(),
    )
