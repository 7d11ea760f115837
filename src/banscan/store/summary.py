"""The estate at a glance: counts by verdict, product, OS, site and tag, removal states,
obligations and what is overdue (the API's summary), and what only the overview page adds —
every removal state, the age of the definitions, and hosts with covered findings over time."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import and_, case, func, select, true
from sqlalchemy.orm import Session

from banscan.catalog.schema import Catalog
from banscan.removal import STATES
from banscan.store.catalogs import catalog_summary
from banscan.store.deadlines import Deadlines, FindingGroup, deadlines, finding_groups
from banscan.store.hosts import UNKNOWN_OS
from banscan.store.models import VERDICTS, AgentToken, Finding, Host, Report, Transition, TransitionEvent
from banscan.store.packs import PackOf, PackScope, groups_of, hosts_with, pack_scope
from banscan.store.paging import as_date
from banscan.store.scope import OrgScope
from banscan.store.sites import SUMMARY_TAGS, site_label, tag_host_counts, tag_host_counts_among


def summary(
    session: Session,
    catalog: Catalog,
    *,
    role: str = "user",
    as_of: dt.date | None = None,
    jurisdiction: str = "US",
    current_catalog: str | None = None,
    pack: PackScope | None = None,
    orgs: OrgScope,
) -> dict[str, Any]:
    """Counts of the hosts `orgs` may read (the callers pass the caller's own organisation
    alone: a coordinator's view of its members' counts is its own board), and obligations re-evaluated as of `as_of` from each finding's first
    identification.

    `pack`: the findings and removal records counted are that pack's only (the hosts known,
    scanned and per OS, site and tag, and the catalogs, stay the whole estate's). Without one,
    `by_pack` splits the figures by the catalog's packs (`pack_split`); each product of
    `by_product` names its `pack`.

    `catalog`: the catalogs the hosts' latest results were judged by, against the server's
    current one (`current_catalog`, default `catalog`'s version): how many hosts were judged by
    an older one (`catalogs.catalog_summary`).

    Every query reads a covering index (the rows of findings carry JSON evidence and are never
    read): the findings are grouped once by (product, verdict, category, day first seen) for
    the counts by verdict and by product and for the deadlines; removal records are counted per
    state and flag from their index, less those of informational products (not removal items,
    and normally without a record); hosts are counted per OS and
    per site from their indexes; hosts with a present covered finding are counted per (OS,
    site) in one join.

    `by_tag` is the same breakdown by tag, for hosts with tags only: a host counts under each of
    its tags, so the entries can add up to more than the hosts. It lists the `SUMMARY_TAGS` tags
    with the most hosts (then by name); `tags_total` says how many tags there are in all. The
    hosts per tag are counted in one pass over ix_host_tags_tag_host, the covered ones in a
    range of it per listed tag (`tag_host_counts`, `tag_host_counts_among`)."""
    as_of = as_of or dt.datetime.now(dt.UTC).date()
    present = Finding.present.is_(True)
    # the pack's findings (and removal records) only, or every one
    in_pack = pack.condition(Finding.product) if pack is not None else true()
    pack_of = PackOf(catalog)
    mine_h = orgs.hosts()
    mine_f = orgs.host_ids(Finding.host_id)
    mine_t = orgs.host_ids(Transition.host_id)
    hosts = session.scalar(select(func.count()).select_from(Host).where(mine_h)) or 0
    scanned = (
        session.scalar(select(func.count()).select_from(Host).where(Host.last_report_id.is_not(None), mine_h))
        or 0
    )
    covered_hosts = (
        session.scalar(
            select(func.count(func.distinct(Finding.host_id))).where(
                Finding.verdict == "covered", present, in_pack, mine_f
            )
        )
        or 0
    )
    with_findings = (
        session.scalar(
            select(func.count(func.distinct(Finding.host_id))).where(
                Finding.verdict != "informational", present, in_pack, mine_f
            )
        )
        or 0
    )

    every_group = finding_groups(session, orgs=orgs)
    groups = groups_of(every_group, pack_of, pack.id) if pack is not None else every_group
    by_verdict = {v: 0 for v in VERDICTS}
    by_product: dict[str, dict[str, Any]] = {}
    for product, verdict, _category, _day, n in groups:
        by_verdict[verdict] = by_verdict.get(verdict, 0) + n
        entry = by_product.setdefault(
            product,
            {
                "product": product,
                "product_name": product,
                "pack": pack_of(product),
                "hosts": 0,
                "covered_hosts": 0,
            },
        )
        entry["hosts"] += n  # one finding per host and product
        if verdict == "covered":
            entry["covered_hosts"] += n
    if by_product:
        # The name as the scans recorded it: that of the product's first present finding.
        first = select(func.min(Finding.id)).where(present, mine_f).group_by(Finding.product)
        for product, name in session.execute(
            select(Finding.product, Finding.product_name).where(Finding.id.in_(first))
        ):
            if product in by_product and name:
                by_product[product]["product_name"] = name

    by_os: dict[str, dict[str, Any]] = {}
    for platform, n in session.execute(
        select(Host.platform, func.count()).where(mine_h).group_by(Host.platform)
    ):
        key = platform or UNKNOWN_OS
        entry = by_os.setdefault(key, {"os": key, "hosts": 0, "hosts_with_covered": 0})
        entry["hosts"] += n
    by_site: dict[str, dict[str, Any]] = {}
    for site, n in session.execute(select(Host.site, func.count()).where(mine_h).group_by(Host.site)):
        by_site[site] = {"site": site_label(site), "hosts": n, "hosts_with_covered": 0}
    covered = select(Finding.host_id).where(Finding.verdict == "covered", present, in_pack, mine_f)
    for platform, site, n in session.execute(
        select(Host.platform, Host.site, func.count())
        .where(Host.id.in_(covered))
        .group_by(Host.platform, Host.site)
    ):
        # setdefault: on PostgreSQL each statement sees what committed before it, so a host
        # enrolled since the counts above can show up here first.
        key = platform or UNKNOWN_OS
        by_os.setdefault(key, {"os": key, "hosts": 0, "hosts_with_covered": 0})["hosts_with_covered"] += n
        label = site_label(site)
        by_site.setdefault(site, {"site": label, "hosts": 0, "hosts_with_covered": 0})[
            "hosts_with_covered"
        ] += n

    by_tag: dict[str, dict[str, Any]] = {
        tag: {"tag": tag, "hosts": n, "hosts_with_covered": 0}
        for tag, n in session.execute(tag_host_counts(orgs=orgs))
    }
    top_tags = sorted(by_tag.values(), key=lambda e: (-e["hosts"], e["tag"]))[:SUMMARY_TAGS]
    if top_tags:
        # Only tags counted above are asked for, so each is in `by_tag` (unlike the sites).
        for tag, n in session.execute(tag_host_counts_among([e["tag"] for e in top_tags], covered)):
            by_tag[tag]["hosts_with_covered"] += n

    states: dict[str, int] = {}
    flags: dict[str, int] = {}
    records_in_pack = pack.condition(Transition.product) if pack is not None else true()
    for state, flag, n in session.execute(
        select(Transition.state, Transition.flag, func.count())
        .where(records_in_pack, mine_t)
        .group_by(Transition.state, Transition.flag)
    ):
        states[state] = states.get(state, 0) + n
        if flag:
            flags[flag] = flags.get(flag, 0) + n
    # Records left from before informational products were kept off the board, or of a product
    # that became informational: found from the (few) informational findings, then taken off.
    untracked = (
        select(Transition.state, Transition.flag, func.count())
        .join(Finding, and_(Finding.host_id == Transition.host_id, Finding.product == Transition.product))
        .where(Finding.verdict == "informational", records_in_pack, mine_t)
        .group_by(Transition.state, Transition.flag)
    )
    for state, flag, n in session.execute(untracked):
        states[state] = states.get(state, 0) - n
        if flag:
            flags[flag] = flags.get(flag, 0) - n
    states = {k: v for k, v in states.items() if v > 0}
    flags = {k: v for k, v in flags.items() if v > 0}

    dl = deadlines(session, catalog, role, as_of, jurisdiction, groups, orgs=orgs)
    statuses = dict(sorted(dl.by_status.items()))
    overdue_by_reg = dict(sorted(dl.overdue_by_regulation.items()))
    overdue_findings = dl.overdue_findings
    overdue_hosts = (
        int(
            session.scalar(select(func.count(func.distinct(Finding.host_id))).where(dl.condition(), mine_f))
            or 0
        )
        if dl.overdue_days
        else 0
    )

    return {
        "as_of": as_of.isoformat(),
        "role": role,
        "jurisdiction": jurisdiction,
        "hosts": hosts,
        "hosts_scanned": scanned,
        "hosts_with_covered": covered_hosts,
        "hosts_with_findings": with_findings,
        "findings_by_verdict": by_verdict,
        "by_product": sorted(by_product.values(), key=lambda e: (-e["hosts"], e["product"])),
        "by_os": sorted(by_os.values(), key=lambda e: (-e["hosts"], e["os"])),
        "by_site": sorted(by_site.values(), key=lambda e: (-e["hosts"], e["site"])),
        "by_tag": top_tags,
        "tags_total": len(by_tag),
        "transitions": {"by_state": states, "flagged": flags},
        "obligations": {"by_status": statuses},
        "overdue": {
            "findings": overdue_findings,
            "hosts": overdue_hosts,
            "by_regulation": overdue_by_reg,
        },
        "catalog": catalog_summary(session, current_catalog or catalog.meta.version, orgs=orgs),
        "pack": pack.id if pack is not None else None,
        "by_pack": pack_split(session, catalog, every_group, dl, orgs=orgs) if pack is None else [],
    }


def pack_split(
    session: Session, catalog: Catalog, groups: list[FindingGroup], dl: Deadlines, *, orgs: OrgScope
) -> list[dict[str, Any]]:
    """The summary's figures per pack of the catalog: hosts with a covered finding, covered
    findings still present, findings to act on, and overdue findings and hosts. Counted from
    the estate's finding groups and its deadlines (`dl`, evaluated once for every pack): a
    query per pack for its hosts, none for a pack without findings."""
    pack_of = PackOf(catalog)
    readable = orgs.host_ids(Finding.host_id)
    out = []
    for p in catalog.packs:
        mine = groups_of(groups, pack_of, p.id)
        covered = sum(g[4] for g in mine if g[1] == "covered")
        to_act = sum(g[4] for g in mine if g[1] != "informational")
        late = sum(g[4] for g in mine if g[1] != "informational" and dl.is_overdue(*g[:4]))
        scope = pack_scope(catalog, p.id)
        out.append(
            {
                "pack": p.id,
                "title": p.title,
                "version": p.version,
                "findings": sum(g[4] for g in mine),
                "findings_to_act_on": to_act,
                "covered": covered,
                "hosts_with_covered": (
                    hosts_with(session, scope.condition(), readable, Finding.verdict == "covered")
                    if covered
                    else 0
                ),
                "overdue_findings": late,
                "overdue_hosts": hosts_with(session, scope.condition(), readable, dl.condition())
                if late
                else 0,
            }
        )
    return out


def overview(
    session: Session,
    catalog: Catalog,
    role: str,
    as_of: dt.date,
    jurisdiction: str,
    current_catalog: str | None = None,
    pack: PackScope | None = None,
    *,
    orgs: OrgScope,
) -> dict[str, Any]:
    """The API summary plus what only the page shows: every state, definitions age, the trend
    (of `pack`'s findings only, given one, as the summary's counts)."""
    data = summary(
        session,
        catalog,
        role=role,
        as_of=as_of,
        jurisdiction=jurisdiction,
        current_catalog=current_catalog,
        pack=pack,
        orgs=orgs,
    )
    data["transitions"]["by_state"] = {s: 0 for s in STATES} | data["transitions"]["by_state"]
    # the cut-off of the packs in view whose rules stop updates (none: no card)
    packs = [p for p in catalog.packs if pack is None or p.id == pack.id]
    cutoffs = sorted(p.last_permitted_update for p in packs if p.last_permitted_update is not None)
    if not catalog.packs:
        cutoffs = [catalog.meta.last_permitted_update]
    data["definitions"] = (
        {
            "last_permitted_update": cutoffs[0].isoformat(),
            "age_days": max(0, (as_of - cutoffs[0]).days),
            "hosts_affected": data["hosts_with_covered"],
        }
        if cutoffs
        else None
    )
    data["trend"] = trend(session, as_of, pack=pack, orgs=orgs)
    return data


def data_mark(session: Session) -> tuple[Any, ...]:
    """Changes whenever what the overview counts may have changed: every ingest adds a report,
    every transition move an event, every enrolment a host or a token (rows are never
    deleted). Four primary-key lookups."""
    return tuple(
        session.execute(
            select(
                select(func.max(Host.id)).scalar_subquery(),
                select(func.max(Report.id)).scalar_subquery(),
                select(func.max(TransitionEvent.id)).scalar_subquery(),
                select(func.max(AgentToken.id)).scalar_subquery(),
            )
        ).one()
    )


def trend(
    session: Session, as_of: dt.date, max_points: int = 60, pack: PackScope | None = None, *, orgs: OrgScope
) -> list[dict[str, Any]]:
    """Hosts `orgs` may read with a covered finding (of `pack`, given one) on each sampled day, from first and
    last sightings.

    A host counts from its earliest covered sighting until its covered findings are all gone."""
    per_host = (
        select(
            Finding.host_id.label("host_id"),
            func.min(Finding.first_seen).label("start"),
            func.max(case((Finding.present.is_(True), 1), else_=0)).label("open"),
            func.max(Finding.gone_at).label("end"),
        )
        .where(
            Finding.verdict == "covered",
            pack.condition(Finding.product) if pack else true(),
            orgs.host_ids(Finding.host_id),
        )
        .group_by(Finding.host_id)
        .subquery()
    )
    q = select(
        func.date(per_host.c.start), per_host.c.open, func.date(per_host.c.end), func.count()
    ).group_by(func.date(per_host.c.start), per_host.c.open, func.date(per_host.c.end))
    deltas: dict[dt.date, int] = {}
    first: dt.date | None = None
    for start, is_open, end, n in session.execute(q):
        s = as_date(start)
        first = s if first is None or s < first else first
        deltas[s] = deltas.get(s, 0) + n
        if not is_open and end is not None:
            e = as_date(end)
            deltas[e] = deltas.get(e, 0) - n
    if first is None:
        return []
    first = min(first, as_of)
    days = sample_dates(first, as_of, max_points)
    changes = sorted(deltas.items())
    out: list[dict[str, Any]] = []
    running, i = 0, 0
    for d in days:
        while i < len(changes) and changes[i][0] <= d:
            running += changes[i][1]
            i += 1
        out.append({"date": d.isoformat(), "hosts_with_covered": running})
    return out


def sample_dates(start: dt.date, end: dt.date, max_points: int = 60) -> list[dt.date]:
    """Up to `max_points` dates from `start` to `end`, both included, evenly spaced."""
    if end < start:
        return [end]
    days = (end - start).days
    if days + 1 <= max_points:
        return [start + dt.timedelta(days=i) for i in range(days + 1)]
    step = days / (max_points - 1)
    out = sorted({start + dt.timedelta(days=round(i * step)) for i in range(max_points)})
    if out[-1] != end:
        out.append(end)
    return out
