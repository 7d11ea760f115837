"""The host list (with its CSV and JSON downloads), one host's page — its findings one row each,
obligations by the regulation's name — and what an admin changes there: site and tags, a scan
request, the next step of one product's removal or the same step for several at once, a
last-result time from the future."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Form, HTTPException, Query, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session

from banscan.catalog.schema import Catalog
from banscan.models import VERDICT_NAMES, ObligationStatus
from banscan.removal import MANUAL_STATES, STATES
from banscan.server.actions import record_removal_steps, reset_host_clock
from banscan.server.deps import (
    AdminDep,
    HostFilterDep,
    PagingDep,
    PolicyDep,
    Principal,
    ReadDB,
    UserDep,
    WriteDB,
    client_addr,
    server_policy,
    state_of,
    writable_host,
)
from banscan.server.pages import exports
from banscan.server.pages.exports import csv_response, json_response
from banscan.server.pages.render import page, page_router, pager, qs
from banscan.store import sites
from banscan.store.audit import audit
from banscan.store.board import BULK_STATES
from banscan.store.deadlines import Policy
from banscan.store.findings import host_detail
from banscan.store.hosts import HostFilter, iter_hosts, list_hosts, platforms, product_choices
from banscan.store.ingest import request_scan, set_transition
from banscan.store.models import VERDICTS
from banscan.store.packs import pack_labels, packs_found
from banscan.store.paging import MAX_ID
from banscan.store.scope import OrgScope, host_in_scope

router = page_router()

HOST_CSV = [
    "id",
    "hostname",
    "identifier",
    "platform",
    "site",
    "tags",
    "source",
    "worst_verdict",
    *VERDICTS,
    *STATES,
    "last_generated_at",
    "last_seen_at",
    "last_report_id",
    "catalog_version",
    "catalog_outdated",
]


def host_csv_row(h: dict[str, Any]) -> list[Any]:
    return [
        h["id"],
        h["hostname"],
        h["identifier"],
        h["platform"],
        h["site"],
        ",".join(h["tags"]),
        h["source"],
        h["worst_verdict"] or "",
        *(h["findings"].get(v, 0) for v in VERDICTS),
        *(h["transitions"].get(s, 0) for s in STATES),
        h["last_generated_at"],
        h["last_seen_at"],
        h["last_report_id"],
        (h["catalog"] or {}).get("version"),
        (h["catalog"] or {}).get("outdated"),
    ]


def _filter_choices(session: Session, catalog: Catalog, orgs: OrgScope) -> dict[str, Any]:
    return {
        "packs": pack_labels(catalog),
        "verdicts": VERDICTS,
        "states": STATES,
        "products": product_choices(session, orgs=orgs),
        "platforms": platforms(session, orgs=orgs),
        "sites": sites.known_sites(session, orgs=orgs),
        "tags": sites.known_tags(session, limit=sites.TAG_CHOICES, orgs=orgs),
    }


def _all_hosts(request: Request, f: HostFilter, orgs: OrgScope) -> Iterator[dict[str, Any]]:
    with state_of(request).db.reading() as session:
        yield from iter_hosts(
            session,
            f,
            policy=server_policy(request),
            batch=exports.EXPORT_BATCH,
            limit=exports.MAX_EXPORT_ROWS,
            current_catalog=state_of(request).current_catalog().version,
            orgs=orgs,
        )


@router.get("/hosts")
def hosts_page(
    request: Request, principal: UserDep, db: ReadDB, f: HostFilterDep, paging: PagingDep, policy: PolicyDep
) -> Response:
    st = state_of(request)
    current = st.current_catalog()
    result = list_hosts(
        db,
        f,
        limit=paging.limit,
        offset=paging.offset,
        policy=policy,
        current_catalog=current.version,
        orgs=principal.scope,
    )
    found = packs_found(db, st.catalog, [h["id"] for h in result.items])
    for h in result.items:
        h["packs_found"] = found[h["id"]]
    params = f.params()
    return page(
        request,
        principal,
        "hosts.html.j2",
        title="Hosts",
        nav="hosts",
        items=result.items,
        f=f,
        current_catalog=current.version,
        choices=_filter_choices(db, st.catalog, principal.scope),
        pager=pager("/hosts", params, paging, result.total),
        export=qs(params),
    )


@router.get("/hosts.csv")
def hosts_csv(request: Request, principal: UserDep, f: HostFilterDep) -> Response:
    rows = (host_csv_row(h) for h in _all_hosts(request, f, principal.scope))
    return csv_response("hosts.csv", HOST_CSV, rows)


@router.get("/hosts.json")
def hosts_json(request: Request, principal: UserDep, f: HostFilterDep) -> Response:
    return json_response("hosts.json", f.to_json(), _all_hosts(request, f, principal.scope))


@router.get("/hosts/{host_id}")
def host_page(
    request: Request,
    principal: UserDep,
    db: ReadDB,
    host_id: int,
    policy: PolicyDep,
    moved: Annotated[str | None, Query(max_length=200)] = None,
    recorded: Annotated[int | None, Query(ge=0, le=100_000)] = None,
    to: Annotated[str | None, Query(max_length=32)] = None,
) -> Response:
    """The host's page; `moved`: the product whose step was just recorded (its row opens on its
    history), `recorded` and `to`: how many steps to which state the form just recorded."""
    done = {"count": recorded, "state": to if to in STATES else None} if recorded else None
    return _host_page(request, principal, db, host_id, policy, opened=moved, recorded=done)


def _host_page(
    request: Request,
    principal: Principal,
    db: Session,
    host_id: int,
    policy: Policy,
    *,
    status_code: int = 200,
    opened: str | None = None,
    recorded: dict[str, Any] | None = None,
    bulk: dict[str, Any] | None = None,
) -> Response:
    """The host's page; `bulk`: a refused request for several steps, shown with its message
    and the products, state and note it asked for (so nothing typed is lost)."""
    if not 1 <= host_id <= MAX_ID:
        raise HTTPException(404, "host not found")
    current = state_of(request).current_catalog()
    detail = host_detail(db, host_id, policy=policy, current_catalog=current.version, orgs=principal.scope)
    if detail is None:
        raise HTTPException(404, "host not found")
    detail["finding_list"].sort(
        key=lambda i: (
            not i["present"],
            VERDICT_NAMES.index(i["verdict"]) if i["verdict"] in VERDICT_NAMES else 9,
            i["product"],
        )
    )
    names = regulation_names(policy.catalog)
    for f in detail["finding_list"]:
        f["regulations"] = regulations_of(f["obligations"], names)
    packs = pack_labels(policy.catalog)
    return page(
        request,
        principal,
        "host.html.j2",
        status_code=status_code,
        title=detail["hostname"],
        nav="hosts",
        h=detail,
        current_catalog=current.version,
        role=policy.role,
        manual_states=MANUAL_STATES,
        bulk_states=BULK_STATES,
        next_state=_next_state,
        regulation_names=names,
        packs=packs,
        pack_groups=by_pack(detail["finding_list"], list(packs)),
        tracked=sum(1 for f in detail["finding_list"] if f["transition"]),
        opened=opened,
        recorded=recorded,
        bulk=bulk or {"error": None, "products": [], "state": BULK_STATES[-1], "note": ""},
        max_site=sites.MAX_SITE,
        max_tag=sites.MAX_TAG,
        max_tags=sites.MAX_TAGS,
        clock_ahead=_ahead(detail["last_generated_at"]),
        # A member's host shared with its coordinators is read-only to them: no forms that 404.
        can_change=principal.is_admin
        and principal.kind == "session"
        and host_in_scope(db, host_id, ids=principal.scope.writable),
    )


def by_pack(
    findings: list[dict[str, Any]], order: list[str]
) -> list[tuple[str | None, list[dict[str, Any]]]]:
    """A host's findings grouped by their pack, in the catalog's order of packs (findings of no
    pack last), each group in the order given."""
    groups: dict[str | None, list[dict[str, Any]]] = {}
    for f in findings:
        groups.setdefault(f.get("pack"), []).append(f)
    rank = {p: i for i, p in enumerate(order)}
    return sorted(groups.items(), key=lambda g: (g[0] is None, rank.get(g[0] or "", len(rank)), g[0] or ""))


def regulation_names(catalog: Catalog) -> dict[str, str]:
    """Each regulation's short name by its id (`bis-icts-2024-kaspersky` → `BIS ICTS Final
    Determination (Kaspersky)`), as the documents name them."""
    return {r.id: r.short for r in catalog.regulations}


_URGENCY = list(ObligationStatus)


def regulations_of(obligations: list[dict[str, Any]], names: dict[str, str]) -> list[dict[str, str]]:
    """The regulations a finding's obligations come from, in order, each once: its id, its name
    (the id when the catalog does not know it) and the most urgent status of its obligations."""
    out: dict[str, dict[str, str]] = {}
    for o in obligations:
        reg, status = str(o.get("regulation", "")), str(o.get("status", ""))
        item = out.setdefault(reg, {"id": reg, "name": names.get(reg, reg), "status": status})
        if _rank(status) < _rank(item["status"]):
            item["status"] = status
    return list(out.values())


def _rank(status: str) -> int:
    return _URGENCY.index(ObligationStatus(status)) if status in _URGENCY else len(_URGENCY)


def _ahead(when: str | None) -> bool:
    """Whether a host's last-result time is ahead of the server's clock (no later result applies)."""
    if not when:
        return False
    t = dt.datetime.fromisoformat(str(when))
    return (t if t.tzinfo else t.replace(tzinfo=dt.UTC)) > dt.datetime.now(dt.UTC)


@router.post("/hosts/{host_id}/labels")
def host_labels(
    request: Request,
    principal: AdminDep,
    db: WriteDB,
    host_id: int,
    site: Annotated[str, Form(max_length=1000)] = "",
    tags: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    """Set a host's site and tags from its page (admin); tags are separated by commas."""
    if not 1 <= host_id <= MAX_ID:
        raise HTTPException(404, "host not found")
    try:
        clean_site, clean_tags = sites.clean_site(site), sites.split_tags(tags)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    if sites.set_labels(db, host_id, site=clean_site, tags=clean_tags, orgs=principal.scope) is None:
        raise HTTPException(404, "host not found")
    audit(
        db,
        principal.name,
        "host.labels",
        str(host_id),
        client_addr(request),
        site=clean_site,
        tags=clean_tags,
    )
    db.commit()
    state_of(request).overview_cache.clear()  # the counts by site and by tag changed
    return RedirectResponse(f"/hosts/{host_id}?labelled=1", status_code=303)


@router.post("/hosts/{host_id}/scan")
def host_scan_request(request: Request, principal: AdminDep, db: WriteDB, host_id: int) -> Response:
    """Ask the host's agent to scan now, from its page (admin)."""
    writable_host(db, principal, host_id)
    if request_scan(db, host_id, principal.name) is None:
        raise HTTPException(404, "host not found")
    audit(db, principal.name, "host.scan_requested", str(host_id), client_addr(request))
    db.commit()
    return RedirectResponse(f"/hosts/{host_id}?scan_requested=1", status_code=303)


@router.post("/hosts/{host_id}/reset-clock")
def host_reset_clock(request: Request, principal: AdminDep, db: WriteDB, host_id: int) -> Response:
    """Forget a last-result time ahead of the server's clock, from the host's page (admin)."""
    reset_host_clock(request, principal, db, host_id)
    return RedirectResponse(f"/hosts/{host_id}?clock_reset=1", status_code=303)


def _next_state(state: str | None) -> str:
    order = list(MANUAL_STATES)
    if state in order and order.index(state) + 1 < len(order):
        return order[order.index(state) + 1]
    return "removed" if state in ("removed", "verified") else "found"


@router.post("/hosts/{host_id}/transition")
def host_transition(
    request: Request,
    principal: AdminDep,
    db: WriteDB,
    host_id: int,
    product: Annotated[str, Form(min_length=1, max_length=200)],
    state: Annotated[str, Form(max_length=32)],
    note: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    """Move one product's removal on one host (admin); `verified` is left to clean re-scans."""
    if not 1 <= host_id <= MAX_ID:
        raise HTTPException(404, "host not found")
    if state not in MANUAL_STATES:
        raise HTTPException(
            400, "state must be found, replacement-installed or removed; verified comes from a clean scan"
        )
    if "\x00" in note or "\x00" in product:
        raise HTTPException(400, "must not contain NUL")
    writable_host(db, principal, host_id)
    t = set_transition(db, host_id, product, state, note, principal.name)
    if t is None:
        raise HTTPException(404, "no such finding on this host")
    audit(db, principal.name, "transition", f"{host_id}/{product}", client_addr(request), state=state)
    db.commit()
    return RedirectResponse(f"/hosts/{host_id}?{urlencode({'moved': product})}#p-{product}", status_code=303)


@router.post("/hosts/{host_id}/transitions")
def host_transitions(
    request: Request,
    principal: AdminDep,
    db: WriteDB,
    host_id: int,
    product: Annotated[list[str] | None, Form()] = None,
    state: Annotated[str, Form(max_length=32)] = "",
    note: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    """Record the same step, with one note, for the products ticked on the host's page (admin):
    all or nothing. A refused request shows the page again with the reason, the ticks and the
    note, and changes nothing."""
    products = product or []
    try:
        moved = record_removal_steps(request, principal, db, host_id, products, state, note)
    except HTTPException as exc:
        db.rollback()  # nothing was written; no host at all is a 404 of the page itself
        bulk = {"error": str(exc.detail), "products": products, "state": state, "note": note}
        with state_of(request).db.reading() as session:
            return _host_page(
                request,
                principal,
                session,
                host_id,
                server_policy(request),
                status_code=exc.status_code,
                bulk=bulk,
            )
    query = urlencode({"recorded": len(moved), "to": state})
    return RedirectResponse(f"/hosts/{host_id}?{query}#findings", status_code=303)
