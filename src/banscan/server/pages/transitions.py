"""The removal board: a column of cards per state, and its downloads (current state, and the
history of every step)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Query, Request, Response

from banscan.removal import EXPORT_COLUMNS, HISTORY_COLUMNS, STATES
from banscan.server.deps import (
    PackQuery,
    PagingDep,
    PolicyDep,
    ReadDB,
    UserDep,
    choice,
    pack_param,
    server_policy,
    state_of,
    text,
    yes,
)
from banscan.server.pages import exports
from banscan.server.pages.exports import csv_response, json_response
from banscan.server.pages.render import page, page_router, pager, qs
from banscan.store.board import TransitionFilter, board_columns, iter_history, iter_transitions
from banscan.store.hosts import product_choices
from banscan.store.packs import pack_labels
from banscan.store.scope import OrgScope

router = page_router()

TRANSITION_CSV = list(EXPORT_COLUMNS)
HISTORY_CSV = list(HISTORY_COLUMNS)


def transition_filter(
    request: Request,
    state: Annotated[str | None, Query(max_length=32)] = None,
    product: Annotated[str | None, Query(max_length=200)] = None,
    flagged: Annotated[str | None, Query(max_length=8)] = None,
    overdue: Annotated[str | None, Query(max_length=8)] = None,
    pack: PackQuery = None,
) -> TransitionFilter:
    return TransitionFilter(
        state=choice(state, STATES, "state"),
        product=text(product),
        flagged=yes(flagged),
        overdue=yes(overdue),
        pack=pack_param(request, pack),
    )


TransitionFilterDep = Annotated[TransitionFilter, Depends(transition_filter)]


@router.get("/transitions")
def transitions_page(
    request: Request,
    principal: UserDep,
    db: ReadDB,
    f: TransitionFilterDep,
    paging: PagingDep,
    policy: PolicyDep,
) -> Response:
    columns, total = board_columns(
        db, f, policy, limit=paging.limit, offset=paging.offset, orgs=principal.scope
    )
    params = f.params()
    return page(
        request,
        principal,
        "transitions.html.j2",
        title="Transitions",
        nav="transitions",
        columns=columns,
        f=f,
        states=STATES,
        products=product_choices(db, removal=True, orgs=principal.scope),
        packs=pack_labels(state_of(request).catalog),
        pager=pager("/transitions", params, paging, total),
        export=qs(params),
    )


def _items(request: Request, f: TransitionFilter, orgs: OrgScope) -> Iterator[dict[str, Any]]:
    with state_of(request).db.reading() as db:
        yield from iter_transitions(
            db,
            f,
            server_policy(request),
            batch=exports.EXPORT_BATCH,
            limit=exports.MAX_EXPORT_ROWS,
            orgs=orgs,
        )


def _steps(request: Request, f: TransitionFilter, orgs: OrgScope) -> Iterator[dict[str, Any]]:
    with state_of(request).db.reading() as db:
        yield from iter_history(
            db,
            f,
            server_policy(request),
            batch=exports.EXPORT_BATCH,
            limit=exports.MAX_EXPORT_ROWS,
            orgs=orgs,
        )


@router.get("/transitions/history.csv")
def transitions_history_csv(request: Request, principal: UserDep, f: TransitionFilterDep) -> Response:
    rows = ([t[k] for k in HISTORY_CSV] for t in _steps(request, f, principal.scope))
    return csv_response("transitions-history.csv", HISTORY_CSV, rows)


@router.get("/transitions/history.json")
def transitions_history_json(request: Request, principal: UserDep, f: TransitionFilterDep) -> Response:
    return json_response("transitions-history.json", f.params(), _steps(request, f, principal.scope))


@router.get("/transitions.csv")
def transitions_csv(request: Request, principal: UserDep, f: TransitionFilterDep) -> Response:
    rows = ([t[k] for k in TRANSITION_CSV] for t in _items(request, f, principal.scope))
    return csv_response("transitions.csv", TRANSITION_CSV, rows)


@router.get("/transitions.json")
def transitions_json(request: Request, principal: UserDep, f: TransitionFilterDep) -> Response:
    return json_response("transitions.json", f.params(), _items(request, f, principal.scope))
