"""Read models for the API and the dashboard: paginated hosts and findings, one host in full,
and the estate summary (with deadlines evaluated by the policy engine).

Deadlines count from each finding's first identification on its host (`Finding.first_identified`,
kept for ever: see `banscan.store.apply`), for the server's role and jurisdiction, as of the day
asked (today by default); a deadline that passed is `overdue`, never the next deadline
(`banscan.policy.deadlines`). Informational products are findings, never removal items."""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, or_, select
from sqlalchemy.orm import Session

from banscan.catalog.schema import Catalog
from banscan.models import VERDICT_NAMES, Confidence, Obligation, Verdict
from banscan.models import Finding as ResultFinding
from banscan.policy import deadlines as due
from banscan.policy.engine import obligations_for
from banscan.store.models import VERDICTS, Finding, Host, Report, Transition, TransitionEvent
from banscan.store.sites import (
    SUMMARY_TAGS,
    site_condition,
    site_label,
    tag_condition,
    tag_host_counts,
    tag_host_counts_among,
    tags_of,
)

_SEVERITY = VERDICT_NAMES


@dataclass
class Page:
    items: list[dict[str, Any]]
    total: int
    limit: int
    offset: int
    next_cursor: str | None = None
    filters: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "items": self.items,
            "total": self.total,
            "limit": self.limit,
            "offset": self.offset,
            "next_cursor": self.next_cursor,
        }


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The id after which the next page starts; ValueError for anything not made by encode_cursor."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        raise ValueError("invalid cursor") from None
    if not text.startswith("id:") or not text[3:].isdigit() or len(text) > 13:
        raise ValueError("invalid cursor")
    value = int(text[3:])
    if value >= 2**31:
        raise ValueError("invalid cursor")
    return value


def _iso(t: dt.datetime | None) -> str | None:
    return t.isoformat() if t else None


def _like(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@dataclass
class Policy:
    """What obligations are evaluated for: a catalog, a role and jurisdiction, and a day."""

    catalog: Catalog
    role: str
    as_of: dt.date
    jurisdiction: str = "US"
    _memo: dict[tuple[str, str, str, dt.date, dt.date], list[Obligation]] = field(
        default_factory=dict, repr=False, compare=False
    )

    def obligations(
        self, product: str, verdict: str, category: str, identified: dt.date, as_of: dt.date | None = None
    ) -> list[Obligation]:
        """The obligations of a finding first identified on `identified`, as of `as_of` (default:
        the policy's day). They depend on the product, verdict and category alone, so the finding
        evaluated carries no name, vendor or evidence; each combination is evaluated once."""
        day = as_of or self.as_of
        key = (product, verdict, category or "", identified, day)
        if key not in self._memo:
            rf = ResultFinding(
                host="",
                product=product,
                product_name=product,
                vendor="",
                verdict=Verdict(verdict),
                confidence=Confidence.STRONG,
                category=category or "",
            )
            self._memo[key] = obligations_for(
                self.catalog, rf, self.role, day, identified=identified, jurisdiction=self.jurisdiction
            )
        return self._memo[key]


def tracked() -> ColumnElement[bool]:
    """Findings whose product is on the removal board: every verdict but `informational`."""
    return Finding.verdict != "informational"


def deadline_json(summary: due.DeadlineSummary) -> dict[str, Any]:
    return {
        "state": summary.state,
        "next_deadline": summary.next_deadline,
        "overdue_since": summary.overdue_since,
        "days_overdue": summary.days_overdue,
        "text": summary.text(),
    }


def _page(
    session: Session,
    stmt: Any,
    id_col: Any,
    *,
    limit: int,
    offset: int,
    after_id: int | None,
) -> tuple[list[Any], int, str | None]:
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    stmt = stmt.order_by(id_col)
    stmt = stmt.where(id_col > after_id) if after_id is not None else stmt.offset(offset)
    rows = list(session.execute(stmt.limit(limit + 1)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(rows[-1][0].id) if more and rows else None
    return rows, total, next_cursor


# ---------------------------------------------------------------- hosts


def host_json(h: Host, counts: dict[str, int] | None = None, tags: list[str] | None = None) -> dict[str, Any]:
    """A host with its present findings counted by verdict, and its tags (from `tags_of`)."""
    counts = counts or {}
    worst = next((v for v in _SEVERITY if counts.get(v)), None)
    return {
        "id": h.id,
        "identifier": h.identifier,
        "hostname": h.hostname,
        "platform": h.platform,
        "site": h.site,
        "tags": list(tags or []),
        "source": h.source,
        "created_at": _iso(h.created_at),
        "last_seen_at": _iso(h.last_seen_at),
        "last_generated_at": _iso(h.last_generated_at),
        "last_report_id": h.last_report_id,
        "scan_requested_at": _iso(h.scan_requested_at),
        "scan_requested_by": h.scan_requested_by,
        "findings": {v: counts.get(v, 0) for v in VERDICTS},
        "worst_verdict": worst,
    }


def verdict_counts(session: Session, host_ids: list[int]) -> dict[int, dict[str, int]]:
    """Present findings per host and verdict, for a page of hosts."""
    out: dict[int, dict[str, int]] = {i: {} for i in host_ids}
    if not host_ids:
        return out
    q = (
        select(Finding.host_id, Finding.verdict, func.count())
        .where(Finding.host_id.in_(host_ids), Finding.present.is_(True))
        .group_by(Finding.host_id, Finding.verdict)
    )
    for host_id, verdict, n in session.execute(q):
        out[host_id][verdict] = n
    return out


def list_hosts(
    session: Session,
    *,
    limit: int,
    offset: int = 0,
    after_id: int | None = None,
    verdict: str | None = None,
    product: str | None = None,
    os: str | None = None,
    search: str | None = None,
    site: str | None = None,
    tag: str | None = None,
) -> Page:
    conds: list[ColumnElement[bool]] = []
    if verdict or product:
        # An IN (subquery) lets both databases use the findings index once, instead of
        # probing the findings of every host (a correlated EXISTS is slow on SQLite).
        fconds: list[ColumnElement[bool]] = [Finding.present.is_(True)]
        if verdict:
            fconds.append(Finding.verdict == verdict)
        if product:
            fconds.append(Finding.product == product)
        conds.append(Host.id.in_(select(Finding.host_id).where(and_(*fconds))))
    if os:
        conds.append(func.lower(Host.platform) == os.lower())
    if site:
        conds.append(site_condition(site))
    if tag:
        conds.append(tag_condition(tag))
    if search:
        pattern = _like(search.lower())
        conds.append(
            func.lower(Host.hostname).like(pattern, escape="\\")
            | func.lower(Host.identifier).like(pattern, escape="\\")
        )
    stmt = select(Host).where(*conds)
    rows, total, next_cursor = _page(session, stmt, Host.id, limit=limit, offset=offset, after_id=after_id)
    hosts = [r[0] for r in rows]
    ids = [h.id for h in hosts]
    counts = verdict_counts(session, ids)
    tags = tags_of(session, ids)
    items = [host_json(h, counts[h.id], tags[h.id]) for h in hosts]
    return Page(items, total, limit, offset, next_cursor)


def _transition_json(
    t: Transition | None, events: list[TransitionEvent] | None = None
) -> dict[str, Any] | None:
    if t is None:
        return None
    out: dict[str, Any] = {
        "state": t.state,
        "flag": t.flag,
        "updated_at": _iso(t.updated_at),
        "updated_by": t.updated_by,
    }
    if events is not None:
        out["history"] = [
            {
                "at": _iso(e.at),
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
) -> dict[str, Any]:
    """A finding with its removal record (none for informational products).

    With a `policy`, `obligations` are evaluated for its role and jurisdiction from the day the
    product was first identified on the host — as of the policy's day while the product is
    present, as of its last sighting once it is gone (`obligations_as_of` says which) — and
    `deadline` sums them up: `overdue` since the earliest passed deadline and by how many days,
    else the next deadline ahead. Without one, `obligations` are those the result recorded."""
    if f.verdict == "informational":
        t, history = None, None
    first = _as_date(f.first_identified) if f.first_identified is not None else _as_date(f.first_seen)
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
        "first_seen": _iso(f.first_seen),
        "last_seen": _iso(f.last_seen),
        "gone_at": _iso(f.gone_at),
        "evidence": f.evidence,
        "obligations": f.obligations,
        "last_report_id": f.last_report_id,
        "transition": _transition_json(t, history),
    }
    if policy is not None:
        day = policy.as_of if f.present else min(policy.as_of, _as_date(f.last_seen))
        obligations = policy.obligations(f.product, f.verdict, f.category, first, day)
        summary = due.summarize(obligations)
        out["obligations"] = [o.to_json() for o in obligations]
        out["obligations_as_of"] = day.isoformat()
        out["deadline"] = deadline_json(summary)
        out["overdue"] = bool(f.present and summary.state == "overdue")
    if hostname is not None:
        out["hostname"] = hostname
    return out


def host_detail(
    session: Session, host_id: int, *, reports: int = 20, policy: Policy | None = None
) -> dict[str, Any] | None:
    host = session.get(Host, host_id)
    if host is None:
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
    out = host_json(host, counts, tags_of(session, [host_id])[host_id])
    out["finding_list"] = [
        finding_json(
            f,
            trans.get(f.product),
            history=events.get(trans[f.product].id) if f.product in trans else None,
            policy=policy,
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
    return out


def report_meta_json(r: Report) -> dict[str, Any]:
    return {
        "id": r.id,
        "host_id": r.host_id,
        "generated_at": _iso(r.generated_at),
        "received_at": _iso(r.received_at),
        "source": r.source,
        "applied": r.applied,
        "findings": r.findings_count,
        "banscan_version": r.banscan_version,
        "catalog_version": r.catalog_version,
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
) -> Page:
    stmt = (
        select(Finding, Transition, Host.hostname)
        .join(Host, Host.id == Finding.host_id)
        .outerjoin(
            Transition,
            and_(Transition.host_id == Finding.host_id, Transition.product == Finding.product, tracked()),
        )
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
    rows, total, next_cursor = _page(session, stmt, Finding.id, limit=limit, offset=offset, after_id=after_id)
    items = [finding_json(f, t, hostname=name, policy=policy) for f, t, name in rows]
    return Page(items, total, limit, offset, next_cursor)


# ---------------------------------------------------------------- obligations in SQL groups


def _as_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


@dataclass
class Deadlines:
    """Obligations of present findings, evaluated once per (product, verdict, category, day first
    identified)."""

    role: str
    as_of: dt.date
    by_status: dict[str, int] = field(default_factory=dict)
    overdue_findings: int = 0
    overdue_by_regulation: dict[str, int] = field(default_factory=dict)
    overdue_days: dict[tuple[str, str, str], set[dt.date]] = field(default_factory=dict)

    def is_overdue(self, product: str, verdict: str, category: str, first_identified: Any) -> bool:
        if first_identified is None:
            return False
        return _as_date(first_identified) in self.overdue_days.get((product, verdict, category or ""), set())

    def condition(self) -> ColumnElement[bool]:
        """A WHERE clause on `findings` matching present findings with an overdue obligation."""
        clauses: list[ColumnElement[bool]] = []
        for (product, verdict, category), days in sorted(self.overdue_days.items()):
            ranges: list[tuple[dt.date, dt.date]] = []
            for d in sorted(days):
                if ranges and ranges[-1][1] == d:
                    ranges[-1] = (ranges[-1][0], d + dt.timedelta(days=1))
                else:
                    ranges.append((d, d + dt.timedelta(days=1)))
            spans = [and_(Finding.first_identified >= a, Finding.first_identified < b) for a, b in ranges]
            clauses.append(
                and_(
                    Finding.product == product,
                    Finding.verdict == verdict,
                    Finding.category == category,
                    or_(*spans),
                )
            )
        if not clauses:
            return false()
        return and_(Finding.present.is_(True), or_(*clauses))


FindingGroup = tuple[str, str, str, dt.date, int]


def finding_groups(session: Session, *, informational: bool = True) -> list[FindingGroup]:
    """Present findings counted per (product, verdict, category, day first identified).

    One pass over the covering index ix_findings_present_product: the rows (and their JSON
    evidence) are not read. The summary derives its counts by verdict and by product and the
    deadlines from these few thousand groups instead of grouping the findings three times."""
    day = Finding.first_identified
    q = select(Finding.product, Finding.verdict, Finding.category, day, func.count()).where(
        Finding.present.is_(True)
    )
    if not informational:
        q = q.where(Finding.verdict != "informational")
    q = q.group_by(Finding.product, Finding.verdict, Finding.category, day)
    return [
        (product, verdict, category or "", _as_date(first), n)
        for product, verdict, category, first, n in session.execute(q)
    ]


def deadlines(
    session: Session,
    catalog: Catalog,
    role: str,
    as_of: dt.date,
    jurisdiction: str,
    groups: list[FindingGroup] | None = None,
) -> Deadlines:
    """Obligation statuses of present findings, as the summary API counts them.

    Findings are grouped in SQL by (product, verdict, category, day first identified) (`groups`, when
    the caller already has them). Within one (product, verdict, category) each obligation's
    status can only change once as the day moves (a later sighting never makes a deadline
    earlier), so days are evaluated at the ends of a range and the range is split only where
    the statuses differ. Obligations depend on the product, verdict and category alone, so the
    finding they are evaluated for carries no name, vendor or evidence."""
    out = Deadlines(role=role, as_of=as_of)
    if groups is None:
        groups = finding_groups(session, informational=False)
    by_key: dict[tuple[str, str, str], list[tuple[dt.date, int]]] = {}
    for product, verdict, category, first, n in groups:
        if verdict != "informational":
            by_key.setdefault((product, verdict, category), []).append((first, n))
    policy = Policy(catalog, role, as_of, jurisdiction)
    for key, days in by_key.items():
        days.sort()
        product, verdict, category = key

        def statuses(found: dt.date, key: tuple[str, str, str] = key) -> tuple[tuple[str, str], ...]:
            return tuple((o.status, o.regulation) for o in policy.obligations(*key, found))

        stack = [(0, len(days) - 1)]
        while stack:
            lo, hi = stack.pop()
            first_v, last_v = statuses(days[lo][0]), statuses(days[hi][0])
            if first_v == last_v or hi - lo <= 1:
                spans = [(lo, hi, first_v)] if first_v == last_v else [(lo, lo, first_v), (hi, hi, last_v)]
                for a, b, vec in spans:
                    n = sum(c for _, c in days[a : b + 1])
                    late = False
                    for status, regulation in vec:
                        out.by_status[status] = out.by_status.get(status, 0) + n
                        if status == "overdue":
                            out.overdue_by_regulation[regulation] = (
                                out.overdue_by_regulation.get(regulation, 0) + n
                            )
                            late = True
                    if late:
                        out.overdue_findings += n
                        out.overdue_days.setdefault(key, set()).update(d for d, _ in days[a : b + 1])
                continue
            mid = (lo + hi) // 2
            stack.append((lo, mid))
            stack.append((mid + 1, hi))
    return out


# ---------------------------------------------------------------- summary


def summary(
    session: Session,
    catalog: Catalog,
    *,
    role: str = "user",
    as_of: dt.date | None = None,
    jurisdiction: str = "US",
) -> dict[str, Any]:
    """Estate counts, and obligations re-evaluated as of `as_of` from each finding's first
    identification.

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
    hosts = session.scalar(select(func.count()).select_from(Host)) or 0
    scanned = (
        session.scalar(select(func.count()).select_from(Host).where(Host.last_report_id.is_not(None))) or 0
    )
    covered_hosts = (
        session.scalar(
            select(func.count(func.distinct(Finding.host_id))).where(Finding.verdict == "covered", present)
        )
        or 0
    )
    with_findings = (
        session.scalar(
            select(func.count(func.distinct(Finding.host_id))).where(
                Finding.verdict != "informational", present
            )
        )
        or 0
    )

    groups = finding_groups(session)
    by_verdict = {v: 0 for v in VERDICTS}
    by_product: dict[str, dict[str, Any]] = {}
    for product, verdict, _category, _day, n in groups:
        by_verdict[verdict] = by_verdict.get(verdict, 0) + n
        entry = by_product.setdefault(
            product, {"product": product, "product_name": product, "hosts": 0, "covered_hosts": 0}
        )
        entry["hosts"] += n  # one finding per host and product
        if verdict == "covered":
            entry["covered_hosts"] += n
    if by_product:
        # The name as the scans recorded it: that of the product's first present finding.
        first = select(func.min(Finding.id)).where(present).group_by(Finding.product)
        for product, name in session.execute(
            select(Finding.product, Finding.product_name).where(Finding.id.in_(first))
        ):
            if product in by_product and name:
                by_product[product]["product_name"] = name

    by_os: dict[str, dict[str, Any]] = {}
    for platform, n in session.execute(select(Host.platform, func.count()).group_by(Host.platform)):
        key = platform or "unknown"
        entry = by_os.setdefault(key, {"os": key, "hosts": 0, "hosts_with_covered": 0})
        entry["hosts"] += n
    by_site: dict[str, dict[str, Any]] = {}
    for site, n in session.execute(select(Host.site, func.count()).group_by(Host.site)):
        by_site[site] = {"site": site_label(site), "hosts": n, "hosts_with_covered": 0}
    covered = select(Finding.host_id).where(Finding.verdict == "covered", present)
    for platform, site, n in session.execute(
        select(Host.platform, Host.site, func.count())
        .where(Host.id.in_(covered))
        .group_by(Host.platform, Host.site)
    ):
        # setdefault: on PostgreSQL each statement sees what committed before it, so a host
        # enrolled since the counts above can show up here first.
        key = platform or "unknown"
        by_os.setdefault(key, {"os": key, "hosts": 0, "hosts_with_covered": 0})["hosts_with_covered"] += n
        label = site_label(site)
        by_site.setdefault(site, {"site": label, "hosts": 0, "hosts_with_covered": 0})[
            "hosts_with_covered"
        ] += n

    by_tag: dict[str, dict[str, Any]] = {
        tag: {"tag": tag, "hosts": n, "hosts_with_covered": 0}
        for tag, n in session.execute(tag_host_counts())
    }
    top_tags = sorted(by_tag.values(), key=lambda e: (-e["hosts"], e["tag"]))[:SUMMARY_TAGS]
    if top_tags:
        # Only tags counted above are asked for, so each is in `by_tag` (unlike the sites).
        for tag, n in session.execute(tag_host_counts_among([e["tag"] for e in top_tags], covered)):
            by_tag[tag]["hosts_with_covered"] += n

    states: dict[str, int] = {}
    flags: dict[str, int] = {}
    for state, flag, n in session.execute(
        select(Transition.state, Transition.flag, func.count()).group_by(Transition.state, Transition.flag)
    ):
        states[state] = states.get(state, 0) + n
        if flag:
            flags[flag] = flags.get(flag, 0) + n
    # Records left from before informational products were kept off the board, or of a product
    # that became informational: found from the (few) informational findings, then taken off.
    untracked = (
        select(Transition.state, Transition.flag, func.count())
        .join(Finding, and_(Finding.host_id == Transition.host_id, Finding.product == Transition.product))
        .where(Finding.verdict == "informational")
        .group_by(Transition.state, Transition.flag)
    )
    for state, flag, n in session.execute(untracked):
        states[state] = states.get(state, 0) - n
        if flag:
            flags[flag] = flags.get(flag, 0) - n
    states = {k: v for k, v in states.items() if v > 0}
    flags = {k: v for k, v in flags.items() if v > 0}

    dl = deadlines(session, catalog, role, as_of, jurisdiction, groups)
    statuses = dict(sorted(dl.by_status.items()))
    overdue_by_reg = dict(sorted(dl.overdue_by_regulation.items()))
    overdue_findings = dl.overdue_findings
    overdue_hosts = (
        int(session.scalar(select(func.count(func.distinct(Finding.host_id))).where(dl.condition())) or 0)
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
    }
