"""The coordinator's board: one row per member organisation (every descendant of the caller's
organisation), each counted over the member's own hosts — notice acknowledged, hosts reporting,
covered findings remaining per product, overdue findings, removal progress, last report and
attestation.

Aggregates are shown for every member whatever it shares; nothing here names a host, a user or
evidence, so a row can be shown to any coordinator above the member. Whether a row may link to
the member's hosts is the caller's scope's to say (`OrgScope.readable`), decided per request by
`rows`, never cached.

The counts come from a few grouped queries over all the members at once (`figures`), never one
per member: hosts per organisation, covered findings per organisation and product, removal
records per organisation and state, overdue findings per organisation (the deadlines evaluated
once over every member's finding groups, as the overview does), the latest notice and
attestation per organisation. Sorting and the status filter run on those few hundred rows in
Python."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, case, func, select, true
from sqlalchemy.orm import Session

from banscan.catalog.schema import Catalog
from banscan.removal import STATES
from banscan.store.deadlines import deadlines, finding_groups, tracked
from banscan.store.models import Attestation, Finding, Host, Notice, NoticeRecipient, Organisation, Transition
from banscan.store.orgs import descendants
from banscan.store.paging import as_date, iso
from banscan.store.scope import OrgScope
from banscan.store.summary import data_mark

# The status filter: every member, or those that still need chasing (or are done).
STATUSES = ("all", "unacknowledged", "no-notice", "overdue", "silent", "not-attested", "done")
# The columns the board sorts by; "tree" is the organisations' tree, members under their parent.
SORTS = (
    "tree",
    "name",
    "depth",
    "notice",
    "hosts",
    "reporting",
    "covered",
    "overdue",
    *STATES,
    "last_report",
    "attested",
)
DEFAULT_REPORT_DAYS = 7
MAX_REPORT_DAYS = 366


@dataclass(frozen=True)
class Member:
    """A member organisation as the board places it: `depth` 1 for the caller's direct
    members, `parent` its coordinator's slug, `order` its place in the tree."""

    id: int
    slug: str
    name: str
    parent: str
    depth: int
    share: str
    order: int


@dataclass(frozen=True)
class NoticeState:
    """The latest notice the coordinator sent the member, and whether the member acknowledged it."""

    notice_id: int
    title: str
    sent_at: dt.datetime
    acknowledged_at: dt.datetime | None

    @property
    def state(self) -> str:
        return "acknowledged" if self.acknowledged_at is not None else "unacknowledged"


@dataclass
class Figures:
    """What the board counts for one member, over its own hosts."""

    hosts: int = 0
    reporting: int = 0
    last_report_at: dt.datetime | None = None
    covered: dict[str, int] = field(default_factory=dict)  # product -> present covered findings
    overdue_findings: int = 0
    overdue_hosts: int = 0
    states: dict[str, int] = field(default_factory=dict)  # removal records per state
    notice: NoticeState | None = None
    attested_at: dt.datetime | None = None
    attested_as_of: dt.date | None = None
    terms: tuple[str, str] = ("", "")  # the role and jurisdiction overdue is counted for


@dataclass(frozen=True)
class BoardPolicy:
    """What the figures are counted for: obligations for `role` and `jurisdiction` as of
    `as_of`, and hosts reporting since `report_days` before `now`."""

    catalog: Catalog
    role: str
    jurisdiction: str
    as_of: dt.date
    report_days: int
    now: dt.datetime

    @property
    def report_since(self) -> dt.datetime:
        return self.now - dt.timedelta(days=self.report_days)


@dataclass(frozen=True)
class Row:
    """One member's row: where it sits, its figures, and whether the caller may open its hosts."""

    member: Member
    figures: Figures
    hosts_shared: bool
    report_since: dt.datetime

    @property
    def covered(self) -> int:
        return sum(self.figures.covered.values())

    @property
    def notice_state(self) -> str:
        return self.figures.notice.state if self.figures.notice is not None else "none"

    @property
    def silent(self) -> bool:
        """No host of the member sent a report since the board's cut-off (or it has none)."""
        last = self.figures.last_report_at
        return last is None or last < self.report_since

    @property
    def open_records(self) -> int:
        return sum(n for s, n in self.figures.states.items() if s != "verified")

    @property
    def done(self) -> bool:
        """Hosts known, no covered finding left, nothing overdue, every removal record verified."""
        f = self.figures
        return f.hosts > 0 and self.covered == 0 and f.overdue_findings == 0 and self.open_records == 0

    def matches(self, status: str) -> bool:
        checks: dict[str, Callable[[], bool]] = {
            "all": lambda: True,
            "unacknowledged": lambda: self.notice_state == "unacknowledged",
            "no-notice": lambda: self.notice_state == "none",
            "overdue": lambda: self.figures.overdue_findings > 0,
            "silent": lambda: self.silent,
            "not-attested": lambda: self.figures.attested_at is None,
            "done": lambda: self.done,
        }
        return checks[status]()

    def to_json(self) -> dict[str, Any]:
        m, f = self.member, self.figures
        notice = f.notice
        return {
            "org": {"id": m.id, "slug": m.slug, "name": m.name},
            "parent": m.parent,
            "depth": m.depth,
            "share_with_coordinators": m.share,
            "hosts_shared": self.hosts_shared,
            "notice": {
                "state": self.notice_state,
                "notice_id": notice.notice_id if notice else None,
                "title": notice.title if notice else None,
                "sent_at": iso(notice.sent_at) if notice else None,
                "acknowledged_at": iso(notice.acknowledged_at) if notice else None,
            },
            "hosts": f.hosts,
            "hosts_reporting": f.reporting,
            "covered": self.covered,
            "covered_by_product": dict(sorted(f.covered.items())),
            "overdue_findings": f.overdue_findings,
            "overdue_hosts": f.overdue_hosts,
            "obligations_for": {"role": f.terms[0], "jurisdiction": f.terms[1]},
            "transitions": {s: f.states.get(s, 0) for s in STATES},
            "last_report_at": iso(f.last_report_at),
            "attested": (
                {"signed_at": iso(f.attested_at), "as_of": f.attested_as_of.isoformat()}
                if f.attested_at is not None and f.attested_as_of is not None
                else None
            ),
            "done": self.done,
        }


# ---------------------------------------------------------------- the members


def members(session: Session, org_id: int) -> list[Member]:
    """Every descendant of organisation `org_id` (`orgs.descendants`), in tree order: each
    member under its coordinator, siblings by name."""
    below = descendants(session, org_id)
    if not below:
        return []
    q = select(
        Organisation.id,
        Organisation.slug,
        Organisation.name,
        Organisation.parent_id,
        Organisation.share_with_coordinators,
    ).where(Organisation.id.in_([org_id, *below]))
    rows = {r.id: r for r in session.execute(q)}
    # The tree as this one statement read it (a member moved meanwhile is simply not reached).
    children: dict[int, list[int]] = {}
    for r in rows.values():
        if r.parent_id in rows and r.id != org_id:
            children.setdefault(r.parent_id, []).append(r.id)
    out: list[Member] = []
    seen = {org_id}
    stack = [(oid, 1) for oid in _by_name(children.get(org_id, []), rows)[::-1]]
    while stack:
        oid, depth = stack.pop()
        if oid in seen:  # a loop edited in by hand: each organisation once
            continue
        seen.add(oid)
        r = rows[oid]
        out.append(
            Member(oid, r.slug, r.name, rows[r.parent_id].slug, depth, r.share_with_coordinators, len(out))
        )
        stack.extend((c, depth + 1) for c in _by_name(children.get(oid, []), rows)[::-1])
    return out


def _by_name(ids: list[int], rows: dict[int, Any]) -> list[int]:
    return sorted(ids, key=lambda i: (rows[i].name.lower(), rows[i].slug))


# ---------------------------------------------------------------- the figures


Terms = dict[int, tuple[str, str]]  # organisation id -> (role, jurisdiction) its obligations are for


def member_terms(session: Session, ids: list[int], policy: BoardPolicy, *, role: str | None = None) -> Terms:
    """What each member's obligations are counted for: its own role and jurisdiction (else the
    policy's, the server's), or `role` for every member when one is asked for (the jurisdiction
    stays the member's: a state agency's deadlines are its state's)."""
    if not ids:
        return {}
    q = select(Organisation.id, Organisation.role, Organisation.jurisdiction).where(Organisation.id.in_(ids))
    return {
        oid: (role or own_role or policy.role, own_jurisdiction or policy.jurisdiction)
        for oid, own_role, own_jurisdiction in session.execute(q)
    }


def figures(
    session: Session, org_id: int, ids: list[int], policy: BoardPolicy, terms: Terms | None = None
) -> dict[int, Figures]:
    """The board's figures of each organisation of `ids` (members of `org_id`, whose notices
    are the ones counted), overdue obligations counted for each member's `terms` (default:
    the policy's role and jurisdiction for all): nine grouped queries, and one more per other
    pair of role and jurisdiction, whatever the number of members.

    Each query reads the members' hosts by the index on their organisation when they are a
    minority of the server's hosts; otherwise it reads every host's rows once, in table order,
    and the other organisations' groups are dropped here (picking most of the table out by
    index reads it row by row: three times slower on SQLite)."""
    out = {i: Figures() for i in ids}
    if not ids:
        return out
    per_org = {oid: n for oid, n in session.execute(select(Host.org_id, func.count()).group_by(Host.org_id))}
    mine = sum(per_org.get(i, 0) for i in ids)
    narrow = 2 * mine < sum(per_org.values())
    in_members = Host.org_id.in_(sorted(ids)) if narrow else true()
    present = Finding.present.is_(True)

    since = policy.report_since
    # Grouped by an expression when reading every host: SQLite would otherwise walk the index on
    # the organisation to save a sort, reading each row out of order (three times slower).
    org = Host.org_id if narrow else (Host.org_id + 0).label("org")
    q = (
        select(org, func.sum(case((Host.last_seen_at >= since, 1), else_=0)), func.max(Host.last_seen_at))
        .where(in_members)
        .group_by(org)
    )
    for oid, reporting, last in session.execute(q):
        if oid in out:
            f = out[oid]
            f.hosts, f.reporting, f.last_report_at = per_org.get(oid, 0), int(reporting or 0), _aware(last)

    covered = (
        select(Host.org_id, Finding.product, func.count())
        .join(Host, Host.id == Finding.host_id)
        .where(Finding.verdict == "covered", present, in_members)
        .group_by(Host.org_id, Finding.product)
    )
    for oid, product, n in session.execute(covered):
        if oid in out:
            out[oid].covered[product] = n

    by_terms: dict[tuple[str, str], list[int]] = {}
    for i in ids:
        out[i].terms = (terms or {}).get(i, (policy.role, policy.jurisdiction))
        by_terms.setdefault(out[i].terms, []).append(i)
    _overdue(session, ids if narrow else None, in_members, policy, by_terms, out)
    _states(session, in_members, out)
    _notices(session, org_id, ids, out)
    _attestations(session, ids, out)
    return out


def _overdue(
    session: Session,
    narrow: list[int] | None,
    in_members: Any,
    policy: BoardPolicy,
    by_terms: dict[tuple[str, str], list[int]],
    out: dict[int, Figures],
) -> None:
    """Findings with an overdue obligation, and hosts with one, per member: the finding groups
    are read once (the members' when `narrow` names them, else the server's, from the covering
    index alone), the deadlines evaluated over them for each pair of role and jurisdiction the
    members' obligations are for, as the overview's are, and the overdue findings counted per
    organisation in one query per pair."""
    if narrow is not None:
        groups = finding_groups(
            session,
            orgs=OrgScope(0, frozenset(narrow), frozenset()),
            informational=False,  # counted only
        )
    else:
        day = Finding.first_identified
        q = (
            select(Finding.product, Finding.verdict, Finding.category, day, func.count())
            .where(Finding.present.is_(True), tracked())
            .group_by(Finding.product, Finding.verdict, Finding.category, day)
        )
        groups = [(p, v, c or "", as_date(d), n) for p, v, c, d, n in session.execute(q)]
    for (role, jurisdiction), members in by_terms.items():
        dl = deadlines(
            session,
            policy.catalog,
            role,
            policy.as_of,
            jurisdiction,
            groups,
            orgs=OrgScope(0, frozenset(out), frozenset()),  # not read: the groups are given
        )
        if not dl.overdue_days:
            continue
        only = in_members if len(by_terms) == 1 else Host.org_id.in_(sorted(members))
        late = (
            select(Host.org_id, func.count(), func.count(func.distinct(Finding.host_id)))
            .join(Host, Host.id == Finding.host_id)
            .where(dl.condition(), only)
            .group_by(Host.org_id)
        )
        mine = set(members)
        for oid, findings, hosts in session.execute(late):
            if oid in mine:
                out[oid].overdue_findings, out[oid].overdue_hosts = findings, hosts


def _states(session: Session, in_members: Any, out: dict[int, Figures]) -> None:
    """Removal records per member and state, less those of informational products (findings,
    not removal items), counted as the summary counts them: all, then the few to take off."""
    every = (
        select(Host.org_id, Transition.state, func.count())
        .join(Host, Host.id == Transition.host_id)
        .where(in_members)
        .group_by(Host.org_id, Transition.state)
    )
    informational = (
        select(Host.org_id, Transition.state, func.count())
        .join(Host, Host.id == Transition.host_id)
        .join(Finding, and_(Finding.host_id == Transition.host_id, Finding.product == Transition.product))
        .where(Finding.verdict == "informational", in_members)
        .group_by(Host.org_id, Transition.state)
    )
    for sign, q in ((1, every), (-1, informational)):
        for oid, state, n in session.execute(q):
            if oid not in out:
                continue
            states = out[oid].states
            states[state] = states.get(state, 0) + sign * n
    for f in out.values():
        f.states = {s: n for s, n in f.states.items() if n > 0}


def _notices(session: Session, org_id: int, ids: list[int], out: dict[int, Figures]) -> None:
    """The latest notice organisation `org_id` sent each member, with its acknowledgement."""
    q = (
        select(
            NoticeRecipient.org_id,
            Notice.id,
            Notice.title,
            Notice.created_at,
            NoticeRecipient.acknowledged_at,
        )
        .join(Notice, Notice.id == NoticeRecipient.notice_id)
        .where(Notice.org_id == org_id, NoticeRecipient.org_id.in_(sorted(ids)))
        .order_by(Notice.created_at, Notice.id)
    )
    for oid, notice_id, title, sent_at, acknowledged_at in session.execute(q):
        out[oid].notice = NoticeState(notice_id, title, sent_at, acknowledged_at)  # the last wins


def _attestations(session: Session, ids: list[int], out: dict[int, Figures]) -> None:
    """Each member's latest attestation (by when it was signed), from ix_attestations_org_signed."""
    latest = (
        select(Attestation.org_id.label("org_id"), func.max(Attestation.signed_at).label("signed_at"))
        .where(Attestation.org_id.in_(sorted(ids)))
        .group_by(Attestation.org_id)
        .subquery()
    )
    q = (
        select(Attestation.org_id, Attestation.signed_at, Attestation.as_of)
        .join(
            latest, and_(latest.c.org_id == Attestation.org_id, latest.c.signed_at == Attestation.signed_at)
        )
        .order_by(Attestation.id)
    )
    for oid, signed_at, as_of in session.execute(q):
        out[oid].attested_at, out[oid].attested_as_of = signed_at, as_of


def _aware(value: Any) -> dt.datetime | None:
    """A MAX() over a UTC column: SQLite gives it back as text, without the column's type."""
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    assert isinstance(value, dt.datetime)
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def board_mark(session: Session) -> tuple[Any, ...]:
    """Changes whenever what the board counts may have: the overview's mark (reports,
    transitions, hosts, enrolments), plus notices sent, acknowledged and attestations signed."""
    notices = session.execute(
        select(
            select(func.max(Notice.id)).scalar_subquery(),
            select(func.max(NoticeRecipient.acknowledged_at)).scalar_subquery(),
            select(func.max(Attestation.id)).scalar_subquery(),
        )
    ).one()
    return (*data_mark(session), *tuple(notices))


# ---------------------------------------------------------------- rows, filtered and sorted


def rows(
    tree: list[Member], counted: dict[int, Figures], policy: BoardPolicy, *, orgs: OrgScope
) -> list[Row]:
    """The board's rows in tree order; a member's hosts are shared when the caller's scope
    `orgs` may read them (its `share_with_coordinators` is `hosts`)."""
    return [Row(m, counted.get(m.id) or Figures(), m.id in orgs.readable, policy.report_since) for m in tree]


_NOTICE_RANK = {"none": 0, "unacknowledged": 1, "acknowledged": 2}
_NEVER = dt.datetime.min.replace(tzinfo=dt.UTC)


def _sort_key(sort: str) -> Callable[[Row], Any]:
    keys: dict[str, Callable[[Row], Any]] = {
        "tree": lambda r: r.member.order,
        "name": lambda r: r.member.name.lower(),
        "depth": lambda r: r.member.depth,
        "notice": lambda r: (
            _NOTICE_RANK[r.notice_state],
            r.figures.notice.acknowledged_at or r.figures.notice.sent_at if r.figures.notice else _NEVER,
        ),
        "hosts": lambda r: r.figures.hosts,
        "reporting": lambda r: r.figures.reporting,
        "covered": lambda r: r.covered,
        "overdue": lambda r: (r.figures.overdue_findings, r.figures.overdue_hosts),
        "last_report": lambda r: r.figures.last_report_at or _NEVER,
        "attested": lambda r: r.figures.attested_at or _NEVER,
    }
    if sort in STATES:
        return lambda r: r.figures.states.get(sort, 0)
    return keys[sort]


def select_rows(
    board: list[Row], status: str = "all", sort: str = "tree", descending: bool = False
) -> list[Row]:
    """The rows matching `status` (one of `STATUSES`), sorted by `sort` (one of `SORTS`); ties
    keep the tree order, whichever the direction."""
    if status not in STATUSES or sort not in SORTS:
        raise ValueError(f"unknown status {status!r} or sort {sort!r}")
    kept = [r for r in board if r.matches(status)]
    key = _sort_key(sort)
    kept.sort(key=lambda r: r.member.order)
    kept.sort(key=key, reverse=descending)
    return kept
