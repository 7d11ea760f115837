"""The coordinator's board: its member organisations one row each (`banscan.store.coordinator`),
filtered and sorted by query parameters, with charts, a CSV and a PDF to send on; and the hosts
of a member that shares them.

Every row is aggregates only; the one way from the board to host names is a member's own host
list, offered (and served) only for members the caller's scope may read."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, HTTPException, Path, Query, Request, Response
from sqlalchemy.orm import Session

from banscan.catalog.schema import ROLES as CATALOG_ROLES
from banscan.removal import STATES
from banscan.server import charts
from banscan.server.deps import PagingDep, Principal, ReadDB, UserDep, choice, state_of, today
from banscan.server.pages.exports import csv_response
from banscan.server.pages.render import env, page, page_router, pager, qs
from banscan.store import coordinator as board
from banscan.store.hosts import HostFilter, list_hosts
from banscan.store.models import Organisation
from banscan.store.scope import OrgScope

if TYPE_CHECKING:
    from banscan.documents.charts import Chart
    from banscan.server.state import ServerState

router = page_router()

STATUS_LABELS = {
    "all": "all members",
    "unacknowledged": "notice not acknowledged",
    "no-notice": "no notice sent",
    "overdue": "with overdue obligations",
    "silent": "no report in the last days",
    "not-attested": "not attested",
    "done": "done",
}
BOARD_CSV = [
    "org",
    "name",
    "parent",
    "depth",
    "hosts_shared",
    "notice",
    "notice_title",
    "notice_sent_at",
    "acknowledged_at",
    "hosts",
    "hosts_reporting",
    "report_days",
    "covered",
    "covered_by_product",
    "overdue_findings",
    "overdue_hosts",
    "role",
    "jurisdiction",
    *STATES,
    "last_report_at",
    "attested_at",
    "attested_as_of",
    "done",
]


@dataclass(frozen=True)
class BoardQuery:
    """The board's filter and order, from the query string (the page's, the exports' and the
    API's alike)."""

    status: str
    sort: str
    descending: bool
    days: int
    role: str | None  # None: each member's own role (else the server's)

    def params(self, server_role: str) -> dict[str, str]:
        """The query parameters that differ from the defaults, for links."""
        out = {
            "status": self.status if self.status != "all" else None,
            "sort": self.sort if self.sort != "tree" else None,
            "order": "desc" if self.descending else None,
            "days": str(self.days) if self.days != board.DEFAULT_REPORT_DAYS else None,
            "role": self.role,
        }
        return {k: v for k, v in out.items() if v}


def board_query(
    request: Request,
    status: Annotated[
        str | None,
        Query(max_length=32, description="which members", json_schema_extra={"enum": list(board.STATUSES)}),
    ] = None,
    sort: Annotated[
        str | None,
        Query(
            max_length=32, description="the column to sort by", json_schema_extra={"enum": list(board.SORTS)}
        ),
    ] = None,
    order: Annotated[str | None, Query(max_length=4, json_schema_extra={"enum": ["asc", "desc"]})] = None,
    days: Annotated[
        int,
        Query(
            ge=1,
            le=board.MAX_REPORT_DAYS,
            description="a host is reporting if it sent a report this recently",
        ),
    ] = board.DEFAULT_REPORT_DAYS,
    role: Annotated[
        str | None,
        Query(
            max_length=32,
            description="obligations for this role, for every member (default: each member's own, else the server's)",
        ),
    ] = None,
) -> BoardQuery:
    return BoardQuery(
        status=choice(status, board.STATUSES, "status") or "all",
        sort=choice(sort, board.SORTS, "sort") or "tree",
        descending=choice(order, ("asc", "desc"), "order") == "desc",
        days=days,
        role=choice(role, CATALOG_ROLES, "role"),
    )


BoardQueryDep = Annotated[BoardQuery, Depends(board_query)]


def cached_figures(
    session: Session,
    st: ServerState,
    org_id: int,
    ids: list[int],
    policy: board.BoardPolicy,
    terms: board.Terms,
) -> dict[int, board.Figures]:
    """`board.figures`, reused as the overview is (`settings.overview_cache_seconds`, while
    nothing counted changed), kept per set of members: aggregates only, which every coordinator
    above them may see."""
    ttl = st.settings.overview_cache_seconds
    if ttl <= 0:
        return board.figures(session, org_id, ids, policy, terms)
    key = (
        "coordinator",
        org_id,
        tuple(ids),
        tuple(sorted(terms.items())),
        policy.as_of,
        policy.report_days,
        policy.catalog.meta.version,
    )
    mark = board.board_mark(session)
    now = time.monotonic()
    hit = st.overview_cache.get(key)
    if hit is not None and hit[0] == mark and now - hit[1] < ttl:
        cached: dict[int, board.Figures] = hit[2]["figures"]
        return cached
    counted = board.figures(session, org_id, ids, policy, terms)
    if len(st.overview_cache) > 64:
        st.overview_cache.clear()
    st.overview_cache[key] = (mark, now, {"figures": counted})
    return counted


def every_row(request: Request, principal: Principal, db: Session, q: BoardQuery) -> list[board.Row]:
    """A row for each of the caller's members, in tree order, counted as `q` asks."""
    st = state_of(request)
    policy = board.BoardPolicy(
        st.catalog, st.settings.role, st.settings.jurisdiction, today(), q.days, dt.datetime.now(dt.UTC)
    )
    tree = board.members(db, principal.org_id)
    ids = [m.id for m in tree]
    terms = board.member_terms(db, ids, policy, role=q.role)
    counted = cached_figures(db, st, principal.org_id, ids, policy, terms)
    return board.rows(tree, counted, policy, orgs=principal.scope)


def member_rows(request: Request, principal: Principal, db: Session, q: BoardQuery) -> list[board.Row]:
    """The caller's members matching `q`, in its order."""
    return board.select_rows(every_row(request, principal, db, q), q.status, q.sort, q.descending)


# ---------------------------------------------------------------- the page


def _sort_links(q: BoardQuery, base: dict[str, str]) -> dict[str, dict[str, str]]:
    """Each column's header link: sorts by it, or turns the order round when it already does."""
    out = {}
    for column in board.SORTS:
        current = column == q.sort
        descending = not q.descending if current else column not in ("tree", "name", "depth")
        href = "/coordinator?" + qs(base, sort=column, order="desc" if descending else "asc", offset=None)
        aria = ("descending" if q.descending else "ascending") if current else ""
        out[column] = {"href": href, "aria": aria}
    return out


def _cards(every: list[board.Row]) -> dict[str, int]:
    return {s: sum(1 for r in every if r.matches(s)) for s in board.STATUSES}


def _top(rows: list[board.Row], value: Callable[[board.Row], int], n: int = 12) -> list[tuple[str, float]]:
    ranked = sorted((r for r in rows if value(r)), key=lambda r: (-value(r), r.member.order))
    return [(r.member.name, value(r)) for r in ranked[:n]]


def _state_totals(rows: list[board.Row]) -> list[tuple[str, float]]:
    return [(s, sum(r.figures.states.get(s, 0) for r in rows)) for s in STATES]


@router.get("/coordinator")
def coordinator_page(
    request: Request, principal: UserDep, db: ReadDB, paging: PagingDep, q: BoardQueryDep
) -> Response:
    server_role = state_of(request).settings.role
    every = every_row(request, principal, db, q)
    rows = board.select_rows(every, q.status, q.sort, q.descending)
    params = q.params(server_role)
    shown = rows[paging.offset : paging.offset + paging.limit]
    return page(
        request,
        principal,
        "coordinator.html.j2",
        title="Members",
        nav="coordinator",
        printable=False,
        rows=shown,
        total=len(rows),
        members=len(every),
        cards=_cards(every),
        q=q,
        statuses=STATUS_LABELS,
        roles=CATALOG_ROLES,
        states=STATES,
        sorts=_sort_links(q, params),
        params=params,
        pager=pager("/coordinator", params, paging, len(rows)),
        export=qs(params),
        as_of=today().isoformat(),
        covered_chart=charts.bar_chart(
            _top(rows, lambda r: r.covered), title="Covered findings remaining by member"
        ),
        overdue_chart=charts.bar_chart(
            _top(rows, lambda r: r.figures.overdue_findings), title="Overdue findings by member", series=1
        ),
        progress_chart=charts.bar_chart(_state_totals(rows), title="Removal records by state", series=2),
    )


# ---------------------------------------------------------------- exports


def _csv_row(r: board.Row, days: int) -> list[Any]:
    j = r.to_json()
    attested = j["attested"] or {}
    return [
        r.member.slug,
        r.member.name,
        r.member.parent,
        r.member.depth,
        r.hosts_shared,
        j["notice"]["state"],
        j["notice"]["title"],
        j["notice"]["sent_at"],
        j["notice"]["acknowledged_at"],
        j["hosts"],
        j["hosts_reporting"],
        days,
        j["covered"],
        ";".join(f"{p}={n}" for p, n in j["covered_by_product"].items()),
        j["overdue_findings"],
        j["overdue_hosts"],
        j["obligations_for"]["role"],
        j["obligations_for"]["jurisdiction"],
        *(j["transitions"][s] for s in STATES),
        j["last_report_at"],
        attested.get("signed_at"),
        attested.get("as_of"),
        j["done"],
    ]


@router.get("/coordinator.csv")
def coordinator_csv(request: Request, principal: UserDep, db: ReadDB, q: BoardQueryDep) -> Response:
    rows = member_rows(request, principal, db, q)
    return csv_response("members.csv", BOARD_CSV, iter([_csv_row(r, q.days) for r in rows]))


def _pdf_bars(name: str, title: str, data: list[tuple[str, float]], series: int, note: str) -> Chart:
    """A horizontal bar chart for the PDF, in the reports' house style (matplotlib, as
    `banscan.documents.charts` draws them): one series, each bar labelled with its value."""
    from banscan import palette
    from banscan.documents import chartstyle as style
    from banscan.documents.charts import Chart

    with style.house_style():
        fig, ax = style.figure(style.bar_plot_height(len(data)))
        positions = list(range(len(data)))
        values = [v for _, v in data][::-1]
        ax.barh(positions, values, color=palette.series(series).fill, height=style.BAR_HEIGHT, linewidth=0)
        ax.set_yticks(positions, [label[:48] for label, _ in data][::-1])
        ax.set_ylim(-0.6, len(data) - 0.4)
        labels = style.label_bars(ax, values, positions)
        style.finish(fig, ax, title, bar_labels=labels)
        svg = style.to_svg(fig)
    rows = [(label, {"findings": int(v)}) for label, v in data]
    return Chart(name=name, title=title, svg=svg, rows=rows, series=["findings"], note=note)


@router.get("/coordinator.pdf")
def coordinator_pdf(request: Request, principal: UserDep, db: ReadDB, q: BoardQueryDep) -> Response:
    """The board as a PDF (every row matching the filter, with its charts), to send on."""
    from banscan.documents.pdf import PdfError, html_to_pdf

    rows = member_rows(request, principal, db, q)
    org = db.get(Organisation, principal.org_id)
    pdf_charts = []
    covered = _top(rows, lambda r: r.covered)
    if covered:
        pdf_charts.append(
            _pdf_bars(
                "covered", "Covered findings remaining by member", covered, 0, "The 12 members with the most."
            )
        )
    overdue = _top(rows, lambda r: r.figures.overdue_findings)
    if overdue:
        pdf_charts.append(
            _pdf_bars("overdue", "Overdue findings by member", overdue, 1, "The 12 members with the most.")
        )
    if any(n for _, n in _state_totals(rows)):
        pdf_charts.append(
            _pdf_bars("progress", "Removal records by state", _state_totals(rows), 2, "Every member listed.")
        )
    html = (
        env()
        .get_template("coordinator.html.j2")
        .render(
            printable=True,
            title="Member organisations",
            organisation=org.name if org is not None else "",
            rows=rows,
            q=q,
            statuses=STATUS_LABELS,
            states=STATES,
            as_of=today().isoformat(),
            generated_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            pdf_charts=pdf_charts,
        )
    )
    try:
        pdf = html_to_pdf(html)
    except PdfError as exc:
        raise HTTPException(503, str(exc)) from None
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": 'attachment; filename="members.pdf"', "Cache-Control": "no-store"},
    )


# ---------------------------------------------------------------- a member's hosts


@router.get("/coordinator/members/{member}")
def member_hosts_page(
    request: Request,
    principal: UserDep,
    db: ReadDB,
    paging: PagingDep,
    member_slug: Annotated[str, Path(alias="member", max_length=63)],
) -> Response:
    """The hosts of one member that shares them with the caller: a 404 alike for a member that
    does not, an organisation that is not a member, and one that does not exist."""
    member = next((m for m in board.members(db, principal.org_id) if m.slug == member_slug), None)
    if member is None or member.id not in principal.scope.readable:
        raise HTTPException(404, "no member organisation of yours shares its hosts under that name")
    st = state_of(request)
    only = OrgScope(principal.org_id, frozenset({member.id}), frozenset())
    result = list_hosts(
        db,
        HostFilter(),
        limit=paging.limit,
        offset=paging.offset,
        current_catalog=st.current_catalog().version,
        orgs=only,
    )
    return page(
        request,
        principal,
        "coordinator.html.j2",
        title=member.name,
        nav="coordinator",
        printable=False,
        member=member,
        hosts=result.items,
        pager=pager(f"/coordinator/members/{member.slug}", {}, paging, result.total),
    )
