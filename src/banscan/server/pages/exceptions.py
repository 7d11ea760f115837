"""Accepted findings: who approved each, why, until when — as a page and as downloads."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Query, Request, Response

from banscan.server.deps import PagingDep, ReadDB, UserDep, state_of, text, today
from banscan.server.pages import exports
from banscan.server.pages.exports import csv_response, json_response
from banscan.server.pages.render import page, page_router, pager, qs
from banscan.store.board import iter_exceptions, list_exceptions
from banscan.store.scope import OrgScope

router = page_router()

ProductParam = Annotated[str | None, Query(max_length=200)]

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


@router.get("/exceptions")
def exceptions_page(
    request: Request, principal: UserDep, db: ReadDB, paging: PagingDep, product: ProductParam = None
) -> Response:
    product = text(product)
    items, total = list_exceptions(
        db, product, today(), limit=paging.limit, offset=paging.offset, orgs=principal.scope
    )
    params = {"product": product} if product else {}
    return page(
        request,
        principal,
        "exceptions.html.j2",
        title="Exceptions",
        nav="exceptions",
        items=items,
        product=product,
        pager=pager("/exceptions", params, paging, total),
        export=qs(params),
    )


def _items(request: Request, product: str | None, orgs: OrgScope) -> Iterator[dict[str, Any]]:
    with state_of(request).db.reading() as db:
        yield from iter_exceptions(
            db, product, today(), batch=exports.EXPORT_BATCH, limit=exports.MAX_EXPORT_ROWS, orgs=orgs
        )


@router.get("/exceptions.csv")
def exceptions_csv(request: Request, principal: UserDep, product: ProductParam = None) -> Response:
    rows = ([e[k] for k in EXCEPTION_CSV] for e in _items(request, text(product), principal.scope))
    return csv_response("exceptions.csv", EXCEPTION_CSV, rows)


@router.get("/exceptions.json")
def exceptions_json(request: Request, principal: UserDep, product: ProductParam = None) -> Response:
    p = text(product)
    return json_response("exceptions.json", {"product": p}, _items(request, p, principal.scope))
