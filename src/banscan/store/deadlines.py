"""Obligations of stored findings: the policy pages and the API evaluate them with, and the
deadlines of the whole estate counted from a few thousand SQL groups instead of every row.

Deadlines count from each finding's first identification on its host (`Finding.first_identified`,
kept for ever: see `banscan.store.apply`), for the server's role and jurisdiction, as of the day
asked (today by default); a deadline that passed is `overdue`, never the next deadline
(`banscan.policy.deadlines`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, or_, select
from sqlalchemy.orm import Session

from banscan.catalog.schema import Catalog
from banscan.models import Confidence, Obligation, ObligationStatus, Verdict
from banscan.models import Finding as ResultFinding
from banscan.policy import deadlines as due
from banscan.policy.engine import obligations_for
from banscan.store.models import Finding
from banscan.store.paging import as_date
from banscan.store.scope import OrgScope


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

    def estate_deadlines(self, session: Session, *, orgs: OrgScope) -> Deadlines:
        """The deadlines of every present finding of the hosts `orgs` may read (`deadlines`)."""
        return deadlines(session, self.catalog, self.role, self.as_of, self.jurisdiction, orgs=orgs)


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
        return as_date(first_identified) in self.overdue_days.get((product, verdict, category or ""), set())

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


def finding_groups(session: Session, *, orgs: OrgScope, informational: bool = True) -> list[FindingGroup]:
    """Present findings of the hosts `orgs` may read, counted per (product, verdict, category,
    day first identified).

    One pass over the covering index ix_findings_present_product: the rows (and their JSON
    evidence) are not read. The summary derives its counts by verdict and by product and the
    deadlines from these few thousand groups instead of grouping the findings three times."""
    day = Finding.first_identified
    q = select(Finding.product, Finding.verdict, Finding.category, day, func.count()).where(
        Finding.present.is_(True), orgs.host_ids(Finding.host_id)
    )
    if not informational:
        q = q.where(Finding.verdict != "informational")
    q = q.group_by(Finding.product, Finding.verdict, Finding.category, day)
    return [
        (product, verdict, category or "", as_date(first), n)
        for product, verdict, category, first, n in session.execute(q)
    ]


def deadlines(
    session: Session,
    catalog: Catalog,
    role: str,
    as_of: dt.date,
    jurisdiction: str,
    groups: list[FindingGroup] | None = None,
    *,
    orgs: OrgScope,
) -> Deadlines:
    """Obligation statuses of present findings of the hosts `orgs` may read, as the summary API
    counts them.

    Findings are grouped in SQL by (product, verdict, category, day first identified) (`groups`, when
    the caller already has them). Within one (product, verdict, category) each obligation's
    status can only change once as the day moves (a later sighting never makes a deadline
    earlier), so days are evaluated at the ends of a range and the range is split only where
    the statuses differ. Obligations depend on the product, verdict and category alone, so the
    finding they are evaluated for carries no name, vendor or evidence."""
    out = Deadlines(role=role, as_of=as_of)
    if groups is None:
        groups = finding_groups(session, orgs=orgs, informational=False)
    by_key: dict[tuple[str, str, str], list[tuple[dt.date, int]]] = {}
    for product, verdict, category, first, n in groups:
        if verdict != "informational":
            by_key.setdefault((product, verdict, category), []).append((first, n))
    policy = Policy(catalog, role, as_of, jurisdiction)
    for key, days in by_key.items():
        days.sort()
        product, verdict, category = key

        def statuses(
            found: dt.date, key: tuple[str, str, str] = key
        ) -> tuple[tuple[ObligationStatus, str], ...]:
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
                        if status.overdue:
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
