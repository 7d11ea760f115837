"""Findings as the API and the dashboard show them: each with its removal record and its
obligations evaluated by a `Policy`; one host in full; a page of findings; a product's counts.
Informational products are findings, never removal items."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from banscan.policy import deadlines as due
from banscan.store import sites
from banscan.store.catalogs import catalog_json, update_of
from banscan.store.deadlines import Policy, deadline_json, tracked
from banscan.store.hosts import host_json
from banscan.store.models import VERDICTS, Finding, Host, Report, Transition, TransitionEvent
from banscan.store.packs import PackOf, PackScope, judged_by, parse_result
from banscan.store.paging import Page, as_date, iso, page_rows
from banscan.store.scope import OrgScope


def _transition_json(
    t: Transition | None, events: list[TransitionEvent] | None = None
) -> dict[str, Any] | None:
    if t is None:
        return None
    out: dict[str, Any] = {
        "state": t.state,
        "flag": t.flag,
        "updated_at": iso(t.updated_at),
        "updated_by": t.updated_by,
    }
    if events is not None:
        out["history"] = [
            {
                "at": iso(e.at),
                "actor": e.actor,
                "from": e.from_state,
                "to": e.to_state,
                "flag": e.flag,
                "note": e.note,
                "report_id": e.report_id,
            }
            for e in events
        ]
    return out


def finding_json(
    f: Finding,
    t: Transition | None,
    *,
    hostname: str | None = None,
    history: list[TransitionEvent] | None = None,
    policy: Policy | None = None,
    pack_of: PackOf | None = None,
) -> dict[str, Any]:
    """A finding with its removal record (none for informational products), and with `pack_of`
    the `pack` its product belongs to in the server's catalog (null: none).

    With a `policy`, `obligations` are evaluated for its role and jurisdiction from the day the
    product was first identified on the host — as of the policy's day while the product is
    present, as of its last sighting once it is gone (`obligations_as_of` says which) — and
    `deadline` sums them up: `overdue` since the earliest passed deadline and by how many days,
    else the next deadline ahead. Without one, `obligations` are those the result recorded."""
    if f.verdict == "informational":
        t, history = None, None
    first = as_date(f.first_identified) if f.first_identified is not None else as_date(f.first_seen)
    out: dict[str, Any] = {
        "id": f.id,
        "host_id": f.host_id,
        "product": f.product,
        "product_name": f.product_name,
        "vendor": f.vendor,
        "category": f.category,
        "version": f.version,
        "verdict": f.verdict,
        "confidence": f.confidence,
        "present": f.present,
        "first_identified": first.isoformat(),
        "first_seen": iso(f.first_seen),
        "last_seen": iso(f.last_seen),
        "gone_at": iso(f.gone_at),
        "evidence": f.evidence,
        "obligations": f.obligations,
        "last_report_id": f.last_report_id,
        "transition": _transition_json(t, history),
    }
    if policy is not None:
        day = policy.as_of if f.present else min(policy.as_of, as_date(f.last_seen))
        obligations = policy.obligations(f.product, f.verdict, f.category, first, day)
        summary = due.summarize(obligations)
        out["obligations"] = [o.to_json() for o in obligations]
        out["obligations_as_of"] = day.isoformat()
        out["deadline"] = deadline_json(summary)
        out["overdue"] = bool(f.present and summary.overdue_since is not None)
    if pack_of is not None:
        out["pack"] = pack_of(f.product)
    if hostname is not None:
        out["hostname"] = hostname
    return out


def host_detail(
    session: Session,
    host_id: int,
    *,
    reports: int = 20,
    policy: Policy | None = None,
    current_catalog: str | None = None,
    orgs: OrgScope,
) -> dict[str, Any] | None:
    """A host with every finding it has had (each with its `pack`, given a `policy`), its latest
    reports, `catalog`: the catalog its latest result was judged by (`outdated` against
    `current_catalog`, the server's current one), and `packs_judged`: the packs that result says
    judged it. None for no host, or one `orgs` may not read."""
    host = session.get(Host, host_id)
    if host is None or host.org_id not in orgs.readable:
        return None
    findings = list(
        session.scalars(select(Finding).where(Finding.host_id == host_id).order_by(Finding.product))
    )
    trans = {t.product: t for t in session.scalars(select(Transition).where(Transition.host_id == host_id))}
    events: dict[int, list[TransitionEvent]] = {t.id: [] for t in trans.values()}
    if events:
        q = (
            select(TransitionEvent)
            .where(TransitionEvent.transition_id.in_(list(events)))
            .order_by(TransitionEvent.id)
        )
        for e in session.scalars(q):
            events[e.transition_id].append(e)
    counts: dict[str, int] = {}
    for f in findings:
        if f.present:
            counts[f.verdict] = counts.get(f.verdict, 0) + 1
    out = host_json(host, counts, sites.tags_of(session, [host_id])[host_id])
    pack_of = PackOf(policy.catalog) if policy is not None else None
    out["finding_list"] = [
        finding_json(
            f,
            trans.get(f.product),
            history=events.get(trans[f.product].id) if f.product in trans else None,
            policy=policy,
            pack_of=pack_of,
        )
        for f in findings
    ]
    recent = session.scalars(
        select(Report)
        .where(Report.host_id == host_id)
        .order_by(Report.generated_at.desc(), Report.id.desc())
        .limit(reports)
    )
    out["reports"] = [report_meta_json(r) for r in recent]
    latest = session.get(Report, host.last_report_id) if host.last_report_id else None
    out["catalog"] = catalog_json(latest, current_catalog)
    out["packs_judged"] = []
    if latest is not None:
        # one body, most likely read above already, parsed once
        doc = parse_result(latest.body)
        out["packs_judged"] = judged_by(doc)
        if out["catalog"] is not None:
            # the agent's catalog update before that scan
            out["catalog"]["update"] = update_of(doc)
    return out


def report_meta_json(r: Report) -> dict[str, Any]:
    return {
        "id": r.id,
        "host_id": r.host_id,
        "generated_at": iso(r.generated_at),
        "received_at": iso(r.received_at),
        "source": r.source,
        "applied": r.applied,
        "findings": r.findings_count,
        "banscan_version": r.banscan_version,
        "catalog_version": r.catalog_version,
        "catalog": catalog_json(r, None),
        "idempotency_key": r.idempotency_key,
    }


# ---------------------------------------------------------------- findings


def list_findings(
    session: Session,
    *,
    limit: int,
    offset: int = 0,
    after_id: int | None = None,
    verdict: str | None = None,
    product: str | None = None,
    host_id: int | None = None,
    state: str | None = None,
    present: bool | None = True,
    policy: Policy | None = None,
    pack: PackScope | None = None,
    orgs: OrgScope,
) -> Page:
    """A page of findings of hosts `orgs` may read, each with its host's name, its removal
    record and, given a `policy`, its obligations and `pack`; `pack`: only the findings of that
    pack."""
    stmt = (
        select(Finding, Transition, Host.hostname)
        .join(Host, Host.id == Finding.host_id)
        .outerjoin(
            Transition,
            and_(Transition.host_id == Finding.host_id, Transition.product == Finding.product, tracked()),
        )
        .where(orgs.hosts())
    )
    if verdict:
        stmt = stmt.where(Finding.verdict == verdict)
    if product:
        stmt = stmt.where(Finding.product == product)
    if host_id is not None:
        stmt = stmt.where(Finding.host_id == host_id)
    if state:
        stmt = stmt.where(Transition.state == state)
    if present is not None:
        stmt = stmt.where(Finding.present.is_(present))
    if pack is not None:
        stmt = stmt.where(pack.condition(Finding.product))
    rows, total, next_cursor = page_rows(
        session, stmt, Finding.id, limit=limit, offset=offset, after_id=after_id
    )
    pack_of = PackOf(policy.catalog) if policy is not None else None
    items = [finding_json(f, t, hostname=name, policy=policy, pack_of=pack_of) for f, t, name in rows]
    return Page(items, total, limit, offset, next_cursor)


# ---------------------------------------------------------------- obligations in SQL groups


def first_identified(session: Session, host_id: int, products: list[str]) -> dict[str, str]:
    """The day each of `products` was first identified on the host (ISO dates)."""
    rows = session.execute(
        select(Finding.product, Finding.first_identified).where(
            Finding.host_id == host_id, Finding.product.in_(products)
        )
    )
    return {product: day.isoformat() for product, day in rows}


def product_counts(session: Session, product: str, *, orgs: OrgScope) -> tuple[dict[str, int], int]:
    """Hosts `orgs` may read with a present finding of `product` by verdict, and those where it
    is gone."""
    counts = {v: 0 for v in VERDICTS}
    mine = orgs.host_ids(Finding.host_id)
    for verdict, n in session.execute(
        select(Finding.verdict, func.count())
        .where(Finding.product == product, Finding.present.is_(True), mine)
        .group_by(Finding.verdict)
    ):
        counts[verdict] = n
    gone = int(
        session.scalar(
            select(func.count())
            .select_from(Finding)
            .where(Finding.product == product, Finding.present.is_(False), mine)
        )
        or 0
    )
    return counts, gone


def stored_result(session: Session, report_id: int, *, orgs: OrgScope) -> str | None:
    """A result exactly as it was received (JSON text), or None (also for a result of a host
    `orgs` may not read)."""
    return session.scalar(select(Report.body).where(Report.id == report_id, orgs.host_ids(Report.host_id)))
