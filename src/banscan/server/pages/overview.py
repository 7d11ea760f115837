"""The overview page: the estate summary with its charts, reused while nothing it counts changed."""

from __future__ import annotations

import datetime as dt
import time
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlencode

from fastapi import Query, Request, Response
from sqlalchemy.orm import Session

from banscan.catalog.schema import ROLES as CATALOG_ROLES
from banscan.models import VERDICT_NAMES
from banscan.server import charts
from banscan.server.deps import PackQuery, ReadDB, UserDep, pack_param, role_param, state_of, today
from banscan.server.pages.render import page, page_router
from banscan.store.packs import PackScope, pack_labels
from banscan.store.scope import OrgScope
from banscan.store.summary import data_mark, overview

if TYPE_CHECKING:
    from banscan.server.state import ServerState

router = page_router()


def cached_overview(
    session: Session,
    st: ServerState,
    role: str,
    as_of: dt.date,
    pack: PackScope | None = None,
    *,
    orgs: OrgScope,
) -> dict[str, Any]:
    """`overview` of the hosts `orgs` may read (of one `pack`'s findings, given one), reused
    while nothing it counts has changed, for at most `settings.overview_cache_seconds` (a bound
    on staleness where ids commit out of order). Kept per set of organisations read, so one
    organisation's counts are never served to another."""
    ttl = st.settings.overview_cache_seconds
    current = st.current_catalog().version
    catalog = st.catalog
    jurisdiction = orgs.terms[1] or st.settings.jurisdiction  # the organisation's, else the server's
    if ttl <= 0:
        return overview(session, catalog, role, as_of, jurisdiction, current, pack, orgs=orgs)
    # the catalog's identity too: which products a pack holds is the catalog's to say
    key = (role, as_of, jurisdiction, current, catalog.meta.version, pack, orgs.readable)
    mark = data_mark(session)
    now = time.monotonic()
    hit = st.overview_cache.get(key)
    if hit is not None and hit[0] == mark and now - hit[1] < ttl:
        return hit[2]
    data = overview(session, catalog, role, as_of, jurisdiction, current, pack, orgs=orgs)
    if len(st.overview_cache) > 64:
        st.overview_cache.clear()
    st.overview_cache[key] = (mark, now, data)
    return data


def _covered_by(rows: list[dict[str, Any]], key: str, label: str, also: dict[str, str]) -> str:
    """A bar chart of hosts with covered findings per `key` (the first 12), each bar a link to
    those hosts (`also`: the overview's pack filter)."""
    top = rows[:12]
    return charts.bar_chart(
        [(r[key], r["hosts_with_covered"]) for r in top],
        title=f"Hosts with covered findings by {label}",
        links=[f"/hosts?{urlencode({key: r[key], 'verdict': 'covered', **also})}" for r in top],
    )


@router.get("/")
def overview_page(
    request: Request,
    principal: UserDep,
    db: ReadDB,
    role: Annotated[str | None, Query(max_length=32)] = None,
    pack: PackQuery = None,
) -> Response:
    st = state_of(request)
    scope = pack_param(request, pack)
    # aggregates: the caller's own organisation's only (its members' are the coordinator board's)
    data = cached_overview(db, st, role_param(request, role), today(), scope, orgs=principal.scope.own_only())
    # every link to a list keeps the pack filter, as the host list's own links do
    also = {"pack": scope.id} if scope is not None else {}
    verdict_chart = charts.verdict_chart(
        {v: data["findings_by_verdict"][v] for v in VERDICT_NAMES},
        title="Present findings by verdict",
        links={v: f"/hosts?{urlencode({'verdict': v, **also})}" for v in VERDICT_NAMES},
    )
    top = data["by_product"][:12]
    product_chart = charts.bar_chart(
        [(p["product_name"], p["hosts"]) for p in top],
        title="Hosts by product",
        links=[f"/products/{p['product']}" + (f"?{urlencode(also)}" if also else "") for p in top],
    )
    labels = pack_labels(st.catalog)
    # the split by pack when findings of more than one pack are present; one pack looks as before
    split = [p for p in data["by_pack"] if p["findings"]]
    trend_chart = charts.line_chart(
        [(dt.date.fromisoformat(p["date"]), p["hosts_with_covered"]) for p in data["trend"]],
        title="Hosts with covered findings over time",
    )
    return page(
        request,
        principal,
        "overview.html.j2",
        title="Overview",
        nav="overview",
        s=data,
        roles=CATALOG_ROLES,
        verdicts=VERDICT_NAMES,
        verdict_chart=verdict_chart,
        product_chart=product_chart,
        os_chart=_covered_by(data["by_os"], "os", "OS", also),
        site_chart=_covered_by(data["by_site"], "site", "site", also),
        tag_chart=_covered_by(data["by_tag"], "tag", "tag", also),
        trend_chart=trend_chart,
        packs=labels,
        pack=labels.get(scope.id) if scope is not None else None,
        pack_split=split if len(split) > 1 else [],
        pack_q=urlencode(also),
        also="&" + urlencode(also) if also else "",
    )
