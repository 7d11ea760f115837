"""Hosts as the API and the dashboard list them: one filter for both, the host's JSON, its
counts by verdict and removal state, the choices the filters offer (enrolment: `enrolment.py`).

Counts and filters run in SQL (uncorrelated IN subqueries, evaluated once rather than once per
host), so a list of 100 000 hosts pages as fast as one of ten."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, false, func, select
from sqlalchemy.orm import Session

from banscan.models import VERDICT_NAMES
from banscan.store import catalogs, sites
from banscan.store.deadlines import Policy, tracked
from banscan.store.models import VERDICTS, Finding, Host, Transition
from banscan.store.packs import PackScope
from banscan.store.paging import Page, iso, like_pattern, page_rows
from banscan.store.scope import OrgScope

UNKNOWN_OS = "unknown"  # the `os` filter value and summary key of hosts that sent no platform
OUTDATED = "outdated"  # the `catalog` filter value: judged by a catalog older than the server's


@dataclass(frozen=True)
class HostFilter:
    """Which hosts to list. `verdict`/`product`: with such a present finding; `state`: with a
    removal record in that state (of `product`, when given); `os`: the platform (`unknown`: none
    sent); `site` (`(no site)`: hosts without one); `tag`: one of the host's tags; `search`: part
    of the name or identifier; `overdue`: with a present finding whose obligation is overdue;
    `catalog` (`outdated`): whose latest result was judged by a catalog older than
    `current_catalog`, the server's current one; `pack`: as `product`, for any product of that
    pack (with `verdict`, `state` and `overdue` too: a finding of the pack's)."""

    verdict: str | None = None
    product: str | None = None
    os: str | None = None
    state: str | None = None
    overdue: bool = False
    search: str | None = None
    site: str | None = None
    tag: str | None = None
    catalog: str | None = None
    current_catalog: str = ""
    pack: PackScope | None = None

    def params(self) -> dict[str, str]:
        """The dashboard's query parameters for this filter (empty ones left out)."""
        out = {
            "verdict": self.verdict,
            "product": self.product,
            "os": self.os,
            "site": self.site,
            "tag": self.tag,
            "state": self.state,
            "overdue": "1" if self.overdue else None,
            "catalog": self.catalog,
            "pack": self.pack.id if self.pack else None,
            "q": self.search,
        }
        return {k: v for k, v in out.items() if v}

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "product": self.product,
            "os": self.os,
            "site": self.site,
            "tag": self.tag,
            "state": self.state,
            "overdue": self.overdue,
            "search": self.search,
            "catalog": self.catalog,
            "pack": self.pack.id if self.pack else None,
        }

    def conditions(
        self, session: Session, policy: Policy | None, *, orgs: OrgScope
    ) -> list[ColumnElement[bool]]:
        """WHERE clauses on `hosts`, the first keeping those of the organisations `orgs` may
        read; `policy` says what `overdue` is evaluated for (without one, `overdue` matches
        nothing)."""
        conds: list[ColumnElement[bool]] = [orgs.hosts()]
        if self.verdict or self.product or self.pack:
            fconds: list[ColumnElement[bool]] = [Finding.present.is_(True)]
            if self.verdict:
                fconds.append(Finding.verdict == self.verdict)
            if self.product:
                fconds.append(Finding.product == self.product)
            if self.pack:
                fconds.append(self.pack.condition(Finding.product))
            conds.append(Host.id.in_(select(Finding.host_id).where(*fconds)))
        if self.state:
            tconds: list[ColumnElement[bool]] = [Transition.state == self.state]
            if self.product:
                tconds.append(Transition.product == self.product)
            if self.pack:
                tconds.append(self.pack.condition(Transition.product))
            conds.append(Host.id.in_(select(Transition.host_id).where(*tconds, on_board())))
        if self.os:
            if self.os.lower() == UNKNOWN_OS:
                conds.append(Host.platform == "")
            else:
                conds.append(func.lower(Host.platform) == self.os.lower())
        if self.site:
            conds.append(sites.site_condition(self.site))
        if self.tag:
            conds.append(sites.tag_condition(self.tag))
        if self.search:
            pattern = like_pattern(self.search.lower())
            conds.append(
                func.lower(Host.hostname).like(pattern, escape="\\")
                | func.lower(Host.identifier).like(pattern, escape="\\")
            )
        if self.overdue:
            dl = policy.estate_deadlines(session, orgs=orgs) if policy is not None else None
            if dl is not None and dl.overdue_days:
                late = [dl.condition(), *([self.pack.condition(Finding.product)] if self.pack else [])]
                conds.append(Host.id.in_(select(Finding.host_id).where(*late)))
            else:
                conds.append(false())
        if self.catalog == OUTDATED:
            conds.append(catalogs.outdated_condition(session, self.current_catalog, orgs=orgs))
        return conds


def on_board() -> ColumnElement[bool]:
    """A removal record of a product that is not informational (those are findings only)."""
    informational = select(Finding.id).where(
        Finding.host_id == Transition.host_id,
        Finding.product == Transition.product,
        Finding.verdict == "informational",
    )
    return ~informational.exists()


def host_json(h: Host, counts: dict[str, int] | None = None, tags: list[str] | None = None) -> dict[str, Any]:
    """A host with its present findings counted by verdict, and its tags (from `tags_of`)."""
    counts = counts or {}
    worst = next((v for v in VERDICT_NAMES if counts.get(v)), None)
    return {
        "id": h.id,
        "identifier": h.identifier,
        "hostname": h.hostname,
        "platform": h.platform,
        "site": h.site,
        "tags": list(tags or []),
        "source": h.source,
        "created_at": iso(h.created_at),
        "last_seen_at": iso(h.last_seen_at),
        "last_generated_at": iso(h.last_generated_at),
        "last_report_id": h.last_report_id,
        "scan_requested_at": iso(h.scan_requested_at),
        "scan_requested_by": h.scan_requested_by,
        "findings": {v: counts.get(v, 0) for v in VERDICTS},
        "worst_verdict": worst,
    }


def _per_host(
    session: Session, host_ids: list[int], host_col: Any, key_col: Any, *where: ColumnElement[bool]
) -> dict[int, dict[str, int]]:
    """Rows per host and `key_col` value, for a page of hosts."""
    out: dict[int, dict[str, int]] = {i: {} for i in host_ids}
    if not host_ids:
        return out
    q = (
        select(host_col, key_col, func.count())
        .where(host_col.in_(host_ids), *where)
        .group_by(host_col, key_col)
    )
    for host_id, key, n in session.execute(q):
        out[host_id][key] = n
    return out


def verdict_counts(session: Session, host_ids: list[int]) -> dict[int, dict[str, int]]:
    """Present findings per host and verdict, for a page of hosts."""
    return _per_host(session, host_ids, Finding.host_id, Finding.verdict, Finding.present.is_(True))


def state_counts(session: Session, host_ids: list[int]) -> dict[int, dict[str, int]]:
    """Removal records per host and state (informational products left out), for a page of hosts."""
    return _per_host(session, host_ids, Transition.host_id, Transition.state, on_board())


def host_items(
    session: Session, hosts: list[Host], current_catalog: str | None = None
) -> list[dict[str, Any]]:
    """`host_json` of each host, with `transitions`: its removal records counted by state, and
    `catalog`: the catalog its latest result was judged by (`catalogs.catalog_json`; `outdated`
    against `current_catalog`, the server's current one)."""
    ids = [h.id for h in hosts]
    counts = verdict_counts(session, ids)
    states = state_counts(session, ids)
    tags = sites.tags_of(session, ids)
    latest = catalogs.reports_by_id(session, [h.last_report_id for h in hosts if h.last_report_id])
    items = []
    for h in hosts:
        item = host_json(h, counts[h.id], tags[h.id])
        item["transitions"] = states[h.id]
        report = latest.get(h.last_report_id) if h.last_report_id else None
        item["catalog"] = catalogs.catalog_json(report, current_catalog)
        items.append(item)
    return items


def host_of(
    session: Session, host_id: int, current_catalog: str | None = None, *, orgs: OrgScope
) -> dict[str, Any] | None:
    """One host as the lists show it, or None (also for a host `orgs` may not read)."""
    host = session.get(Host, host_id)
    if host is None or host.org_id not in orgs.readable:
        return None
    return host_items(session, [host], current_catalog)[0]


def list_hosts(
    session: Session,
    f: HostFilter,
    *,
    limit: int,
    offset: int = 0,
    after_id: int | None = None,
    policy: Policy | None = None,
    current_catalog: str | None = None,
    orgs: OrgScope,
) -> Page:
    """A page of hosts `orgs` may read matching `f`, in id order."""
    stmt = select(Host).where(*f.conditions(session, policy, orgs=orgs))
    rows, total, next_cursor = page_rows(
        session, stmt, Host.id, limit=limit, offset=offset, after_id=after_id
    )
    items = host_items(session, [r[0] for r in rows], current_catalog)
    return Page(items, total, limit, offset, next_cursor, filters=f.to_json())


def iter_hosts(
    session: Session,
    f: HostFilter,
    *,
    policy: Policy | None,
    batch: int,
    limit: int,
    current_catalog: str | None = None,
    orgs: OrgScope,
) -> Iterator[dict[str, Any]]:
    """Every host `orgs` may read matching `f` (at most `limit`), in id order, read `batch` at
    a time by keyset."""
    conds = f.conditions(session, policy, orgs=orgs)
    last_id, sent = 0, 0
    while sent < limit:
        rows = list(
            session.scalars(
                select(Host)
                .where(*conds, Host.id > last_id)
                .order_by(Host.id)
                .limit(min(batch, limit - sent))
            )
        )
        if not rows:
            return
        yield from host_items(session, rows, current_catalog)
        sent += len(rows)
        last_id = rows[-1].id


def product_choices(session: Session, *, orgs: OrgScope, removal: bool = False) -> list[dict[str, str]]:
    """Products found on any host `orgs` may read; `removal`: only those that are removal items
    (not informational)."""
    q = select(Finding.product, func.min(Finding.product_name)).where(orgs.host_ids(Finding.host_id))
    if removal:
        q = q.where(tracked())
    return [
        {"id": p, "name": n or p}
        for p, n in session.execute(q.group_by(Finding.product).order_by(Finding.product))
    ]


def platforms(session: Session, *, orgs: OrgScope) -> list[str]:
    """Every platform the hosts `orgs` may read reported (`unknown` for none), for the `os` filter."""
    q = select(Host.platform).where(orgs.hosts()).distinct().order_by(Host.platform)
    return [p or UNKNOWN_OS for p in session.scalars(q)]


def scan_requested_at(session: Session, host_id: int) -> dt.datetime | None:
    """When someone asked the host for a scan that no result has answered yet (None: nobody)."""
    return session.scalar(select(Host.scan_requested_at).where(Host.id == host_id))
