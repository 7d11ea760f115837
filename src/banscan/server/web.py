"""The dashboard: server-rendered HTML pages over the fleet store (no script, no build step).

Pages need a logged-in user (viewer or admin) except /login, /explainer and /static; changes
(transitions, imports) need an admin and a CSRF token. Every response of this router carries
a Content-Security-Policy allowing only 'self', `X-Frame-Options: DENY` and `nosniff`.
Aggregates are computed in SQL, so the overview stays fast with 100 000 hosts.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
import re
import time
from collections.abc import Callable, Coroutine, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, Request, Response, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, StreamingResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup
from sqlalchemy import ColumnElement, and_, case, false, func, or_, select
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException as StarletteHTTPException

from banscan.catalog.schema import ROLES as CATALOG_ROLES
from banscan.catalog.schema import Catalog
from banscan.models import VERDICT_NAMES
from banscan.output.csv import safe_cell
from banscan.policy.deadlines import summarize as deadlines_of
from banscan.removal import EXPORT_COLUMNS, HISTORY_COLUMNS, MANUAL_STATES, STATES
from banscan.server import charts
from banscan.server.auth import (
    AdminDep,
    Principal,
    ReadDB,
    UserDep,
    WriteDB,
    audit,
    client_addr,
    issue_login_csrf,
    lookup_principal,
    state_of,
)
from banscan.server.explainer import build_explainer, category_label, product_json, safe_url
from banscan.store import queries, sites
from banscan.store.ingest import request_scan, set_transition
from banscan.store.models import (
    VERDICTS,
    AgentToken,
    Finding,
    Host,
    Report,
    Transition,
    TransitionEvent,
)
from banscan.store.queries import Deadlines, _as_date, deadlines

if TYPE_CHECKING:
    from banscan.server.state import ServerState

log = logging.getLogger("banscan.server.web")

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
MAX_ID = 2**31 - 1
MAX_EXPORT_ROWS = 1_000_000
EXPORT_BATCH = 1000
SEVERITY = VERDICT_NAMES

CSP = (
    "default-src 'self'; img-src 'self'; style-src 'self'; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
EXPORT_SUFFIXES = (".csv", ".json")


# ---------------------------------------------------------------- templates and responses


def _env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=StrictUndefined,
    )
    env.globals["category_label"] = category_label
    env.filters["day"] = _day
    env.filters["when"] = _when
    return env


def _day(value: Any) -> str:
    if not value:
        return ""
    return str(value)[:10]


def _when(value: Any) -> str:
    if not value:
        return ""
    text = str(value).replace("T", " ")
    return text[:16] + " UTC" if len(text) >= 16 else text


_ENV: Environment | None = None


def env() -> Environment:
    global _ENV
    if _ENV is None:
        _ENV = _env()
    return _ENV


def render(request: Request, template: str, /, status_code: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("principal", None)
    context.setdefault("title", "")
    context.setdefault("nav", "")
    context["path"] = request.url.path
    html = env().get_template(template).render(**context)
    return HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store"})


def _secure(response: Response) -> Response:
    for k, v in SECURITY_HEADERS.items():
        response.headers.setdefault(k, v)
    return response


def _next_target(request: Request) -> str:
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    return target


def _error(request: Request, status: int, detail: Any, headers: dict[str, str] | None = None) -> Response:
    headers = {k: v for k, v in (headers or {}).items() if k.lower() != "www-authenticate"}
    if status == 401 and request.method == "GET" and not request.url.path.endswith(EXPORT_SUFFIXES):
        return RedirectResponse("/login?" + urlencode({"next": _next_target(request)}), status_code=303)
    if request.url.path.endswith(EXPORT_SUFFIXES):
        from banscan.server.state import SafeJSONResponse

        return SafeJSONResponse({"detail": detail}, status_code=status, headers=headers)
    message = detail if isinstance(detail, str) else json.dumps(detail, ensure_ascii=False)[:2000]
    response = render(request, "error.html.j2", status_code=status, status=status, message=message)
    for k, v in headers.items():
        response.headers[k] = v
    return response


class DashboardRoute(APIRoute):
    """Adds the security headers; turns errors into HTML pages and a 401 into the login page."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                response = await original(request)
            except StarletteHTTPException as exc:
                response = _error(request, exc.status_code, exc.detail, dict(exc.headers or {}))
            except RequestValidationError as exc:
                problems = "; ".join(
                    f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}"
                    for e in exc.errors()[:5]
                )
                response = _error(request, 400, f"invalid request: {problems}")
            return _secure(response)

        return handler


router = APIRouter(route_class=DashboardRoute, include_in_schema=False)


# ---------------------------------------------------------------- parameters


def _choice(value: str | None, allowed: Iterable[str], name: str) -> str | None:
    if value is None or value == "":
        return None
    if value not in allowed:
        raise HTTPException(400, f"unknown {name} {value!r}")
    return value


def _text(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if any(ord(c) < 32 or c == "\x7f" for c in value):
        raise HTTPException(400, "parameters must not contain control characters")
    return value


@dataclass(frozen=True)
class Paging:
    limit: int
    offset: int


def paging(
    request: Request,
    limit: Annotated[int | None, Query(ge=1, le=100_000)] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Paging:
    settings = state_of(request).settings
    return Paging(min(limit or settings.page_default, settings.page_max), offset)


PagingDep = Annotated[Paging, Depends(paging)]


@dataclass(frozen=True)
class HostFilters:
    verdict: str | None = None
    product: str | None = None
    os: str | None = None
    state: str | None = None
    overdue: bool = False
    search: str | None = None
    site: str | None = None
    tag: str | None = None

    def params(self) -> dict[str, str]:
        out = {
            "verdict": self.verdict,
            "product": self.product,
            "os": self.os,
            "site": self.site,
            "tag": self.tag,
            "state": self.state,
            "overdue": "1" if self.overdue else None,
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
        }


def host_filters(
    verdict: Annotated[str | None, Query(max_length=32)] = None,
    product: Annotated[str | None, Query(max_length=200)] = None,
    os: Annotated[str | None, Query(max_length=64)] = None,
    state: Annotated[str | None, Query(max_length=32)] = None,
    overdue: Annotated[str | None, Query(max_length=8)] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    site: Annotated[str | None, Query(max_length=sites.MAX_SITE)] = None,
    tag: Annotated[str | None, Query(max_length=sites.MAX_TAG)] = None,
) -> HostFilters:
    return HostFilters(
        verdict=_choice(verdict, VERDICTS, "verdict"),
        product=_text(product),
        os=_text(os),
        state=_choice(state, STATES, "state"),
        overdue=(overdue or "").lower() in ("1", "true", "yes", "on"),
        search=_text(q),
        site=_text(site),
        tag=_text(tag),
    )


HostFiltersDep = Annotated[HostFilters, Depends(host_filters)]


def _role(request: Request, role: str | None) -> str:
    return _choice(role, CATALOG_ROLES, "role") or state_of(request).settings.role


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def _policy(request: Request) -> queries.Policy:
    """The server's role and jurisdiction, today: what the pages evaluate obligations for."""
    st = state_of(request)
    return queries.Policy(st.catalog, st.settings.role, _today(), st.settings.jurisdiction)


def _qs(base: dict[str, str], **changes: Any) -> str:
    merged = dict(base)
    for k, v in changes.items():
        if v is None or v == "":
            merged.pop(k, None)
        else:
            merged[k] = str(v)
    return urlencode(merged)


def _pager(path: str, params: dict[str, str], page: Paging, total: int) -> dict[str, Any]:
    base = dict(params)
    if page.limit != 50:
        base["limit"] = str(page.limit)
    prev_offset = max(0, page.offset - page.limit) if page.offset > 0 else None
    next_offset = page.offset + page.limit if page.offset + page.limit < total else None
    return {
        "total": total,
        "first": page.offset + 1 if total else 0,
        "last": min(total, page.offset + page.limit),
        "prev": f"{path}?{_qs(base, offset=prev_offset)}" if prev_offset is not None else None,
        "next": f"{path}?{_qs(base, offset=next_offset)}" if next_offset is not None else None,
    }


# ---------------------------------------------------------------- CSV and JSON exports


def csv_cell(value: Any) -> str:
    """A CSV cell: empty for None, true/false for booleans, formulas guarded (report.csv.safe_cell)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return safe_cell(str(value))


def _csv_response(name: str, header: list[str], rows: Iterator[list[Any]]) -> StreamingResponse:
    return StreamingResponse(
        _csv_body(header, rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )


def _csv_body(header: list[str], rows: Iterator[list[Any]]) -> Iterator[bytes]:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(header)
    for count, row in enumerate(rows, 1):
        writer.writerow([csv_cell(v) for v in row])
        if count % 500 == 0:
            yield buf.getvalue().encode("utf-8")
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue().encode("utf-8")


def _json_response(name: str, filters: dict[str, Any], items: Iterator[dict[str, Any]]) -> StreamingResponse:
    def body() -> Iterator[bytes]:
        yield b'{"filters":' + json.dumps(filters, ensure_ascii=True).encode() + b',"items":['
        n = 0
        for item in items:
            yield (b"," if n else b"") + json.dumps(item, ensure_ascii=True, separators=(",", ":")).encode()
            n += 1
        yield b'],"count":' + str(n).encode() + b"}"

    return StreamingResponse(
        body(),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )


# ---------------------------------------------------------------- overview


def _scalar(session: Session, stmt: Any) -> int:
    return int(session.scalar(stmt) or 0)


def overview(
    session: Session, catalog: Catalog, role: str, as_of: dt.date, jurisdiction: str
) -> dict[str, Any]:
    """The API summary plus what only the page shows: every state, definitions age, the trend."""
    data = queries.summary(session, catalog, role=role, as_of=as_of, jurisdiction=jurisdiction)
    data["transitions"]["by_state"] = {s: 0 for s in STATES} | data["transitions"]["by_state"]
    last = catalog.meta.last_permitted_update
    data["definitions"] = {
        "last_permitted_update": last.isoformat(),
        "age_days": max(0, (as_of - last).days),
        "hosts_affected": data["hosts_with_covered"],
    }
    data["trend"] = trend(session, as_of)
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


def cached_overview(session: Session, st: ServerState, role: str, as_of: dt.date) -> dict[str, Any]:
    """`overview`, reused while nothing it counts has changed, for at most
    `settings.overview_cache_seconds` (a bound on staleness where ids commit out of order)."""
    ttl = st.settings.overview_cache_seconds
    if ttl <= 0:
        return overview(session, st.catalog, role, as_of, st.settings.jurisdiction)
    key = (role, as_of, st.settings.jurisdiction)
    mark = data_mark(session)
    now = time.monotonic()
    hit = st.overview_cache.get(key)
    if hit is not None and hit[0] == mark and now - hit[1] < ttl:
        return hit[2]
    data = overview(session, st.catalog, role, as_of, st.settings.jurisdiction)
    if len(st.overview_cache) > 64:
        st.overview_cache.clear()
    st.overview_cache[key] = (mark, now, data)
    return data


def trend(session: Session, as_of: dt.date, max_points: int = 60) -> list[dict[str, Any]]:
    """Hosts with a covered finding on each sampled day, from first and last sightings.

    A host counts from its earliest covered sighting until its covered findings are all gone."""
    per_host = (
        select(
            Finding.host_id.label("host_id"),
            func.min(Finding.first_seen).label("start"),
            func.max(case((Finding.present.is_(True), 1), else_=0)).label("open"),
            func.max(Finding.gone_at).label("end"),
        )
        .where(Finding.verdict == "covered")
        .group_by(Finding.host_id)
        .subquery()
    )
    q = select(
        func.date(per_host.c.start), per_host.c.open, func.date(per_host.c.end), func.count()
    ).group_by(func.date(per_host.c.start), per_host.c.open, func.date(per_host.c.end))
    deltas: dict[dt.date, int] = {}
    first: dt.date | None = None
    for start, is_open, end, n in session.execute(q):
        s = _as_date(start)
        first = s if first is None or s < first else first
        deltas[s] = deltas.get(s, 0) + n
        if not is_open and end is not None:
            e = _as_date(end)
            deltas[e] = deltas.get(e, 0) - n
    if first is None:
        return []
    first = min(first, as_of)
    days = charts.sample_dates(first, as_of, max_points)
    changes = sorted(deltas.items())
    out: list[dict[str, Any]] = []
    running, i = 0, 0
    for d in days:
        while i < len(changes) and changes[i][0] <= d:
            running += changes[i][1]
            i += 1
        out.append({"date": d.isoformat(), "hosts_with_covered": running})
    return out


# ---------------------------------------------------------------- hosts


def _host_conditions(
    session: Session, request: Request, f: HostFilters, as_of: dt.date
) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = []
    # Uncorrelated IN subqueries: evaluated once, not once per host (SQLite would otherwise
    # probe the findings by verdict for every host).
    if f.verdict or f.product:
        fconds: list[ColumnElement[bool]] = [Finding.present.is_(True)]
        if f.verdict:
            fconds.append(Finding.verdict == f.verdict)
        if f.product:
            fconds.append(Finding.product == f.product)
        conds.append(Host.id.in_(select(Finding.host_id).where(*fconds)))
    if f.state:
        tconds: list[ColumnElement[bool]] = [Transition.state == f.state]
        if f.product:
            tconds.append(Transition.product == f.product)
        conds.append(Host.id.in_(select(Transition.host_id).where(*tconds, _on_board())))
    if f.os:
        if f.os == "unknown":
            conds.append(Host.platform == "")
        else:
            conds.append(func.lower(Host.platform) == f.os.lower())
    if f.site:
        conds.append(sites.site_condition(f.site))
    if f.tag:
        conds.append(sites.tag_condition(f.tag))
    if f.search:
        pattern = queries._like(f.search.lower())
        conds.append(
            func.lower(Host.hostname).like(pattern, escape="\\")
            | func.lower(Host.identifier).like(pattern, escape="\\")
        )
    if f.overdue:
        st = state_of(request)
        dl = deadlines(session, st.catalog, st.settings.role, as_of, st.settings.jurisdiction)
        if dl.overdue_days:
            conds.append(Host.id.in_(select(Finding.host_id).where(dl.condition())))
        else:
            conds.append(false())
    return conds


def _on_board() -> ColumnElement[bool]:
    """A removal record of a product that is not informational (those are findings only)."""
    informational = select(Finding.id).where(
        Finding.host_id == Transition.host_id,
        Finding.product == Transition.product,
        Finding.verdict == "informational",
    )
    return ~informational.exists()


def _host_states(session: Session, host_ids: list[int]) -> dict[int, dict[str, int]]:
    out: dict[int, dict[str, int]] = {i: {} for i in host_ids}
    if not host_ids:
        return out
    q = (
        select(Transition.host_id, Transition.state, func.count())
        .where(Transition.host_id.in_(host_ids), _on_board())
        .group_by(Transition.host_id, Transition.state)
    )
    for host_id, state, n in session.execute(q):
        out[host_id][state] = n
    return out


def _host_items(session: Session, hosts: list[Host]) -> list[dict[str, Any]]:
    ids = [h.id for h in hosts]
    counts = queries.verdict_counts(session, ids)
    states = _host_states(session, ids)
    tags = sites.tags_of(session, ids)
    items = []
    for h in hosts:
        item = queries.host_json(h, counts[h.id], tags[h.id])
        item["transitions"] = states[h.id]
        items.append(item)
    return items


def list_hosts(
    session: Session, request: Request, f: HostFilters, page: Paging, as_of: dt.date
) -> tuple[list[dict[str, Any]], int]:
    conds = _host_conditions(session, request, f, as_of)
    total = _scalar(session, select(func.count()).select_from(Host).where(*conds))
    hosts = list(
        session.scalars(select(Host).where(*conds).order_by(Host.id).offset(page.offset).limit(page.limit))
    )
    return _host_items(session, hosts), total


def iter_hosts(request: Request, f: HostFilters, as_of: dt.date) -> Iterator[dict[str, Any]]:
    """Every host matching the filters, in id order, read in batches by keyset."""
    st = state_of(request)
    with st.db.reading() as session:
        conds = _host_conditions(session, request, f, as_of)
        last_id, sent = 0, 0
        while sent < MAX_EXPORT_ROWS:
            batch = list(
                session.scalars(
                    select(Host).where(*conds, Host.id > last_id).order_by(Host.id).limit(EXPORT_BATCH)
                )
            )
            if not batch:
                return
            yield from _host_items(session, batch)
            sent += len(batch)
            last_id = batch[-1].id


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
    ]


def _product_choices(session: Session, *, removal: bool = False) -> list[dict[str, str]]:
    """Products found on any host; `removal`: only those that are removal items (not informational)."""
    q = select(Finding.product, func.min(Finding.product_name))
    if removal:
        q = q.where(queries.tracked())
    return [
        {"id": p, "name": n or p}
        for p, n in session.execute(q.group_by(Finding.product).order_by(Finding.product))
    ]


def _filter_choices(session: Session) -> dict[str, Any]:
    products = _product_choices(session)
    platforms = [
        p or "unknown" for p in session.scalars(select(Host.platform).distinct().order_by(Host.platform))
    ]
    return {
        "verdicts": VERDICTS,
        "states": STATES,
        "products": products,
        "platforms": platforms,
        "sites": sites.known_sites(session),
        "tags": sites.known_tags(session, limit=sites.TAG_CHOICES),
    }


# ---------------------------------------------------------------- transitions and exceptions


@dataclass(frozen=True)
class TransitionFilters:
    state: str | None = None
    product: str | None = None
    flagged: bool = False
    overdue: bool = False

    def params(self) -> dict[str, str]:
        out = {
            "state": self.state,
            "product": self.product,
            "flagged": "1" if self.flagged else None,
            "overdue": "1" if self.overdue else None,
        }
        return {k: v for k, v in out.items() if v}


def transition_filters(
    state: Annotated[str | None, Query(max_length=32)] = None,
    product: Annotated[str | None, Query(max_length=200)] = None,
    flagged: Annotated[str | None, Query(max_length=8)] = None,
    overdue: Annotated[str | None, Query(max_length=8)] = None,
) -> TransitionFilters:
    yes = ("1", "true", "yes", "on")
    return TransitionFilters(
        state=_choice(state, STATES, "state"),
        product=_text(product),
        flagged=(flagged or "").lower() in yes,
        overdue=(overdue or "").lower() in yes,
    )


TransitionFiltersDep = Annotated[TransitionFilters, Depends(transition_filters)]


def _transition_stmt(f: TransitionFilters, dl: Deadlines | None) -> Any:
    stmt = (
        select(Transition, Host.hostname, Finding)
        .join(Host, Host.id == Transition.host_id)
        .outerjoin(
            Finding, and_(Finding.host_id == Transition.host_id, Finding.product == Transition.product)
        )
    )
    # Informational products are findings, not removal items (older records of them stay unshown).
    stmt = stmt.where(or_(Finding.id.is_(None), queries.tracked()))
    if f.state:
        stmt = stmt.where(Transition.state == f.state)
    if f.product:
        stmt = stmt.where(Transition.product == f.product)
    if f.flagged:
        stmt = stmt.where(Transition.flag.is_not(None))
    if f.overdue and dl is not None:
        stmt = stmt.where(dl.condition())
    return stmt


def _transition_item(t: Transition, hostname: str, fnd: Finding | None, dl: Deadlines) -> dict[str, Any]:
    return {
        "host_id": t.host_id,
        "hostname": hostname,
        "product": t.product,
        "product_name": fnd.product_name if fnd else t.product,
        "verdict": fnd.verdict if fnd else None,
        "present": fnd.present if fnd else None,
        "first_seen": queries._iso(fnd.first_seen) if fnd else None,
        "state": t.state,
        "flag": t.flag,
        "overdue": bool(
            fnd
            and fnd.present
            and dl.is_overdue(fnd.product, fnd.verdict, fnd.category, fnd.first_identified)
        ),
        "updated_at": queries._iso(t.updated_at),
        "updated_by": t.updated_by,
    }


def _transition_card(
    t: Transition, hostname: str, fnd: Finding | None, dl: Deadlines, policy: queries.Policy
) -> dict[str, Any]:
    """A board card: the export's item, with the first identification and what is due."""
    item = _transition_item(t, hostname, fnd, dl)
    item["first_identified"] = None
    item["deadline"] = None
    if fnd is not None:
        first = _as_date(fnd.first_identified)
        item["first_identified"] = first.isoformat()
        if fnd.present:
            summary = deadlines_of(policy.obligations(fnd.product, fnd.verdict, fnd.category, first))
            item["deadline"] = queries.deadline_json(summary)
    return item


TRANSITION_CSV = list(EXPORT_COLUMNS)
HISTORY_CSV = list(HISTORY_COLUMNS)


def _history_item(e: TransitionEvent, t: Transition, hostname: str) -> dict[str, Any]:
    return {
        "host_id": t.host_id,
        "hostname": hostname,
        "product": t.product,
        "at": queries._iso(e.at),
        "actor": e.actor,
        "from_state": e.from_state,
        "to_state": e.to_state,
        "flag": e.flag,
        "note": e.note,
        "report_id": e.report_id,
    }


def _exception_of(body: dict[str, Any] | None, product: str) -> dict[str, Any]:
    if not body:
        return {}
    for f in body.get("findings", []):
        if isinstance(f, dict) and f.get("product") == product and isinstance(f.get("exception"), dict):
            exc: dict[str, Any] = f["exception"]
            return exc
    return {}


def _exception_items(session: Session, rows: list[Any], as_of: dt.date) -> list[dict[str, Any]]:
    report_ids = {f.last_report_id for f, _ in rows if f.last_report_id}
    bodies: dict[int, dict[str, Any] | None] = {}
    if report_ids:
        for rid, text in session.execute(select(Report.id, Report.body).where(Report.id.in_(report_ids))):
            try:
                data = json.loads(text)
            except ValueError:
                data = None
            bodies[rid] = data if isinstance(data, dict) else None
    items = []
    for f, hostname in rows:
        exc = _exception_of(bodies.get(f.last_report_id or 0), f.product)
        expires = str(exc.get("expires") or "")
        try:
            expired = bool(expires) and dt.date.fromisoformat(expires[:10]) < as_of
        except ValueError:
            expired = False
        items.append(
            {
                "host_id": f.host_id,
                "hostname": hostname,
                "product": f.product,
                "product_name": f.product_name,
                "original_verdict": str(exc.get("original_verdict") or ""),
                "approver": str(exc.get("approver") or ""),
                "expires": expires,
                "expired": expired,
                "reason": str(exc.get("reason") or ""),
                "ticket": str(exc.get("ticket") or ""),
                "first_seen": queries._iso(f.first_seen),
                "last_seen": queries._iso(f.last_seen),
                "report_id": f.last_report_id,
            }
        )
    return items


def _exception_stmt(product: str | None) -> Any:
    stmt = (
        select(Finding, Host.hostname)
        .join(Host, Host.id == Finding.host_id)
        .where(Finding.verdict == "accepted", Finding.present.is_(True))
    )
    if product:
        stmt = stmt.where(Finding.product == product)
    return stmt


EXCEPTION_CSV = [
    "host_id",
    "hostname",
    "product",
    "product_name",
    "original_verdict",
    "approver",
    "expires",
    "expired",
    "reason",
    "ticket",
    "first_seen",
    "last_seen",
    "report_id",
]


# ---------------------------------------------------------------- static files and login


_STATIC_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,80}\.(css|svg|js|ico|png)$")
_TYPES = {
    "css": "text/css; charset=utf-8",
    "svg": "image/svg+xml",
    "js": "text/javascript; charset=utf-8",
    "ico": "image/x-icon",
    "png": "image/png",
}


@router.get("/static/{name}")
def static_file(name: str) -> Response:
    m = _STATIC_NAME.match(name)
    path = STATIC / name
    if m is None or ".." in name or not path.is_file():
        raise HTTPException(404, "not found")
    return Response(
        path.read_bytes(), media_type=_TYPES[m.group(1)], headers={"Cache-Control": "public, max-age=3600"}
    )


def _safe_next(target: str | None) -> str:
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@router.get("/login")
def login_page(
    request: Request,
    next: Annotated[str | None, Query(max_length=2000)] = None,
    error: Annotated[str | None, Query(max_length=8)] = None,
) -> Response:
    target = _safe_next(next)
    try:
        principal = lookup_principal(request)
    except HTTPException:
        principal = None
    if principal is not None and principal.kind == "session":
        return RedirectResponse(target, status_code=303)
    secure = state_of(request).settings.secure_cookies
    carrier = Response()
    token = issue_login_csrf(carrier, secure=secure)
    response = render(
        request, "login.html.j2", title="Log in", csrf_token=token, next=target, error=bool(error)
    )
    for k, v in carrier.raw_headers:
        if k == b"set-cookie":
            response.raw_headers.append((k, v))
    return response


# ---------------------------------------------------------------- pages


def _page(request: Request, principal: Principal, template: str, /, **context: Any) -> HTMLResponse:
    return render(request, template, principal=principal, **context)


def _covered_by(rows: list[dict[str, Any]], key: str, label: str) -> str:
    """A bar chart of hosts with covered findings per `key` (the first 12), each bar a link to
    those hosts."""
    top = rows[:12]
    return charts.bar_chart(
        [(r[key], r["hosts_with_covered"]) for r in top],
        title=f"Hosts with covered findings by {label}",
        links=[f"/hosts?{urlencode({key: r[key], 'verdict': 'covered'})}" for r in top],
    )


@router.get("/")
def overview_page(
    request: Request,
    principal: UserDep,
    db: ReadDB,
    role: Annotated[str | None, Query(max_length=32)] = None,
) -> Response:
    st = state_of(request)
    who = _role(request, role)
    data = cached_overview(db, st, who, _today())
    verdict_chart = charts.bar_chart(
        [(v, data["findings_by_verdict"][v]) for v in SEVERITY],
        title="Present findings by verdict",
        links=[f"/hosts?{urlencode({'verdict': v})}" for v in SEVERITY],
    )
    top = data["by_product"][:12]
    product_chart = charts.bar_chart(
        [(p["product_name"], p["hosts"]) for p in top],
        title="Hosts by product",
        links=[f"/products/{p['product']}" for p in top],
    )
    os_chart = _covered_by(data["by_os"], "os", "OS")
    site_chart = _covered_by(data["by_site"], "site", "site")
    tag_chart = _covered_by(data["by_tag"], "tag", "tag")
    trend_chart = charts.line_chart(
        [(dt.date.fromisoformat(p["date"]), p["hosts_with_covered"]) for p in data["trend"]],
        title="Hosts with covered findings over time",
    )
    return _page(
        request,
        principal,
        "overview.html.j2",
        title="Overview",
        nav="overview",
        s=data,
        roles=CATALOG_ROLES,
        verdict_chart=verdict_chart,
        product_chart=product_chart,
        os_chart=os_chart,
        site_chart=site_chart,
        tag_chart=tag_chart,
        trend_chart=trend_chart,
    )


@router.get("/hosts")
def hosts_page(
    request: Request, principal: UserDep, db: ReadDB, f: HostFiltersDep, page: PagingDep
) -> Response:
    items, total = list_hosts(db, request, f, page, _today())
    params = f.params()
    return _page(
        request,
        principal,
        "hosts.html.j2",
        title="Hosts",
        nav="hosts",
        items=items,
        f=f,
        choices=_filter_choices(db),
        pager=_pager("/hosts", params, page, total),
        export=_qs(params),
    )


@router.get("/hosts.csv")
def hosts_csv(request: Request, _: UserDep, f: HostFiltersDep) -> Response:
    rows = (host_csv_row(h) for h in iter_hosts(request, f, _today()))
    return _csv_response("hosts.csv", HOST_CSV, rows)


@router.get("/hosts.json")
def hosts_json(request: Request, _: UserDep, f: HostFiltersDep) -> Response:
    return _json_response("hosts.json", f.to_json(), iter_hosts(request, f, _today()))


@router.get("/hosts/{host_id}")
def host_page(
    request: Request,
    principal: UserDep,
    db: ReadDB,
    host_id: int,
) -> Response:
    if not 1 <= host_id <= MAX_ID:
        raise HTTPException(404, "host not found")
    detail = queries.host_detail(db, host_id, policy=_policy(request))
    if detail is None:
        raise HTTPException(404, "host not found")
    detail["finding_list"].sort(
        key=lambda i: (
            not i["present"],
            SEVERITY.index(i["verdict"]) if i["verdict"] in SEVERITY else 9,
            i["product"],
        )
    )
    return _page(
        request,
        principal,
        "host.html.j2",
        title=detail["hostname"],
        nav="hosts",
        h=detail,
        role=state_of(request).settings.role,
        manual_states=MANUAL_STATES,
        next_state=_next_state,
        max_site=sites.MAX_SITE,
        max_tag=sites.MAX_TAG,
        max_tags=sites.MAX_TAGS,
    )


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
    if sites.set_labels(db, host_id, site=clean_site, tags=clean_tags) is None:
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
    if not 1 <= host_id <= MAX_ID or request_scan(db, host_id, principal.name) is None:
        raise HTTPException(404, "host not found")
    audit(db, principal.name, "host.scan_requested", str(host_id), client_addr(request))
    db.commit()
    return RedirectResponse(f"/hosts/{host_id}?scan_requested=1", status_code=303)


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
    t = set_transition(db, host_id, product, state, note, principal.name)
    if t is None:
        raise HTTPException(404, "no such finding on this host")
    audit(db, principal.name, "transition", f"{host_id}/{product}", client_addr(request), state=state)
    db.commit()
    return RedirectResponse(f"/hosts/{host_id}?{urlencode({'moved': product})}#p-{product}", status_code=303)


@router.get("/products/{product}")
def product_page(
    request: Request,
    principal: UserDep,
    db: ReadDB,
    product: str,
    page: PagingDep,
) -> Response:
    if len(product) > 200:
        raise HTTPException(404, "product not found")
    st = state_of(request)
    info = None
    try:
        info = product_json(st.catalog, st.catalog.product(product))
    except KeyError:
        info = None
    counts = {v: 0 for v in VERDICTS}
    for verdict, n in db.execute(
        select(Finding.verdict, func.count())
        .where(Finding.product == product, Finding.present.is_(True))
        .group_by(Finding.verdict)
    ):
        counts[verdict] = n
    gone = _scalar(
        db,
        select(func.count())
        .select_from(Finding)
        .where(Finding.product == product, Finding.present.is_(False)),
    )
    if info is None and not any(counts.values()) and not gone:
        raise HTTPException(404, "product not found")
    result = queries.list_findings(
        db, limit=page.limit, offset=page.offset, product=product, present=None, policy=_policy(request)
    )
    name = info["name"] if info else (result.items[0]["product_name"] if result.items else product)
    return _page(
        request,
        principal,
        "product.html.j2",
        title=name,
        nav="hosts",
        product=product,
        name=name,
        info=info,
        counts=counts,
        gone=gone,
        items=result.items,
        pager=_pager(f"/products/{product}", {}, page, result.total),
        export=_qs({"product": product}),
        chart=charts.bar_chart([(v, counts[v]) for v in SEVERITY], title=f"Hosts with {name} by verdict"),
    )


@router.get("/transitions")
def transitions_page(
    request: Request, principal: UserDep, db: ReadDB, f: TransitionFiltersDep, page: PagingDep
) -> Response:
    st = state_of(request)
    dl = deadlines(db, st.catalog, st.settings.role, _today(), st.settings.jurisdiction)
    policy = _policy(request)
    columns = []
    total = 0
    for state in STATES:
        if f.state and f.state != state:
            continue
        stmt = _transition_stmt(TransitionFilters(state, f.product, f.flagged, f.overdue), dl)
        n = _scalar(db, select(func.count()).select_from(stmt.order_by(None).subquery()))
        rows = db.execute(
            stmt.order_by(Transition.updated_at.desc(), Transition.id.desc())
            .offset(page.offset)
            .limit(page.limit)
        )
        cards = [_transition_card(t, hostname, fnd, dl, policy) for t, hostname, fnd in rows]
        columns.append({"state": state, "count": n, "cards": cards})
        total = max(total, n)
    params = f.params()
    return _page(
        request,
        principal,
        "transitions.html.j2",
        title="Transitions",
        nav="transitions",
        columns=columns,
        f=f,
        states=STATES,
        products=_product_choices(db, removal=True),
        pager=_pager("/transitions", params, page, total),
        export=_qs(params),
    )


def _iter_transitions(request: Request, f: TransitionFilters) -> Iterator[dict[str, Any]]:
    st = state_of(request)
    with st.db.reading() as db:
        dl = deadlines(db, st.catalog, st.settings.role, _today(), st.settings.jurisdiction)
        stmt = _transition_stmt(f, dl)
        last_id, sent = 0, 0
        while sent < MAX_EXPORT_ROWS:
            rows = list(
                db.execute(stmt.where(Transition.id > last_id).order_by(Transition.id).limit(EXPORT_BATCH))
            )
            if not rows:
                return
            for t, hostname, fnd in rows:
                yield _transition_item(t, hostname, fnd, dl)
            sent += len(rows)
            last_id = rows[-1][0].id


def _iter_history(request: Request, f: TransitionFilters) -> Iterator[dict[str, Any]]:
    """Every recorded step of the items the board shows with these filters, by host, product
    and time: a page of items at a time (keyset on host and product), then their steps in one
    query."""
    st = state_of(request)
    with st.db.reading() as db:
        dl = deadlines(db, st.catalog, st.settings.role, _today(), st.settings.jurisdiction)
        items = _transition_stmt(f, dl).with_only_columns(
            Transition.id, Transition.host_id, Transition.product
        )
        after: tuple[int, str] | None = None
        sent = 0
        while sent < MAX_EXPORT_ROWS:
            page = items
            if after is not None:
                page = page.where(
                    (Transition.host_id > after[0])
                    | and_(Transition.host_id == after[0], Transition.product > after[1])
                )
            keys = list(db.execute(page.order_by(Transition.host_id, Transition.product).limit(EXPORT_BATCH)))
            if not keys:
                return
            steps = list(
                db.execute(
                    select(TransitionEvent, Transition, Host.hostname)
                    .join(Transition, Transition.id == TransitionEvent.transition_id)
                    .join(Host, Host.id == Transition.host_id)
                    .where(TransitionEvent.transition_id.in_([k.id for k in keys]))
                    .order_by(Transition.host_id, Transition.product, TransitionEvent.at, TransitionEvent.id)
                )
            )
            for e, t, hostname in steps:
                if sent >= MAX_EXPORT_ROWS:
                    return
                yield _history_item(e, t, hostname)
                sent += 1
            after = (keys[-1].host_id, keys[-1].product)


@router.get("/transitions/history.csv")
def transitions_history_csv(request: Request, _: UserDep, f: TransitionFiltersDep) -> Response:
    rows = ([t[k] for k in HISTORY_CSV] for t in _iter_history(request, f))
    return _csv_response("transitions-history.csv", HISTORY_CSV, rows)


@router.get("/transitions/history.json")
def transitions_history_json(request: Request, _: UserDep, f: TransitionFiltersDep) -> Response:
    return _json_response("transitions-history.json", f.params(), _iter_history(request, f))


@router.get("/transitions.csv")
def transitions_csv(request: Request, _: UserDep, f: TransitionFiltersDep) -> Response:
    rows = ([t[k] for k in TRANSITION_CSV] for t in _iter_transitions(request, f))
    return _csv_response("transitions.csv", TRANSITION_CSV, rows)


@router.get("/transitions.json")
def transitions_json(request: Request, _: UserDep, f: TransitionFiltersDep) -> Response:
    return _json_response("transitions.json", f.params(), _iter_transitions(request, f))


@router.get("/exceptions")
def exceptions_page(
    request: Request,
    principal: UserDep,
    db: ReadDB,
    page: PagingDep,
    product: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    product = _text(product)
    stmt = _exception_stmt(product)
    total = _scalar(db, select(func.count()).select_from(stmt.order_by(None).subquery()))
    rows = list(db.execute(stmt.order_by(Finding.id).offset(page.offset).limit(page.limit)))
    params = {"product": product} if product else {}
    return _page(
        request,
        principal,
        "exceptions.html.j2",
        title="Exceptions",
        nav="exceptions",
        items=_exception_items(db, rows, _today()),
        product=product,
        pager=_pager("/exceptions", params, page, total),
        export=_qs(params),
    )


def _iter_exceptions(request: Request, product: str | None) -> Iterator[dict[str, Any]]:
    with state_of(request).db.reading() as db:
        stmt = _exception_stmt(product)
        last_id, sent = 0, 0
        while sent < MAX_EXPORT_ROWS:
            rows = list(db.execute(stmt.where(Finding.id > last_id).order_by(Finding.id).limit(EXPORT_BATCH)))
            if not rows:
                return
            yield from _exception_items(db, rows, _today())
            sent += len(rows)
            last_id = rows[-1][0].id


@router.get("/exceptions.csv")
def exceptions_csv(
    request: Request, _: UserDep, product: Annotated[str | None, Query(max_length=200)] = None
) -> Response:
    rows = ([e[k] for k in EXCEPTION_CSV] for e in _iter_exceptions(request, _text(product)))
    return _csv_response("exceptions.csv", EXCEPTION_CSV, rows)


@router.get("/exceptions.json")
def exceptions_json(
    request: Request, _: UserDep, product: Annotated[str | None, Query(max_length=200)] = None
) -> Response:
    p = _text(product)
    return _json_response("exceptions.json", {"product": p}, _iter_exceptions(request, p))


@router.get("/imports")
def imports_page(request: Request, principal: AdminDep) -> Response:
    return _page(
        request, principal, "imports.html.j2", title="Import an inventory", nav="imports", result=None
    )


@router.post("/imports")
async def imports_post(
    request: Request,
    principal: AdminDep,
    file: Annotated[UploadFile, File()],
    format: Annotated[str | None, Form(max_length=64)] = None,
    host: Annotated[str | None, Form(max_length=255)] = None,
    site: Annotated[str | None, Form(max_length=1000)] = None,
) -> Response:
    """The upload form: the same ingestion as POST /api/v1/imports, shown as a page."""
    from banscan.server.api import post_import

    try:
        response = await post_import(request, principal, file, format or None, host or None, site or None)
    except HTTPException as exc:
        detail = exc.detail
        errors: list[str] = []
        if isinstance(detail, dict):
            errors = [str(e) for e in detail.get("errors", [])]
            detail = detail.get("reason", "import failed")
        return _page(
            request,
            principal,
            "imports.html.j2",
            status_code=exc.status_code,
            title="Import an inventory",
            nav="imports",
            result=None,
            error=str(detail),
            errors=errors,
        )
    result = json.loads(bytes(response.body))
    return _page(
        request,
        principal,
        "imports.html.j2",
        status_code=201,
        title="Import an inventory",
        nav="imports",
        result=result,
        filename=file.filename or "upload",
    )


_EXPLAINER: dict[tuple[int, dt.date], str] = {}


@router.get("/explainer")
def explainer_page(request: Request) -> Response:
    """Public: what is banned, since when, and what to do, from the catalog."""
    catalog = state_of(request).catalog
    key = (id(catalog), _today())
    html = _EXPLAINER.get(key)
    if html is None:
        data = build_explainer(catalog)
        html = (
            env()
            .get_template("explainer.html.j2")
            .render(
                principal=None,
                title="What is banned, since when, what to do",
                nav="explainer",
                path="/explainer",
                e=data,
            )
        )
        _EXPLAINER.clear()
        _EXPLAINER[key] = html
    return HTMLResponse(html, headers={"Cache-Control": "public, max-age=300"})


__all__ = ["CSP", "SECURITY_HEADERS", "Markup", "csv_cell", "router", "safe_url"]
