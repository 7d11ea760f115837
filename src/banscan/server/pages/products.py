"""One product's page: what the catalog says of it and where it was found."""

from __future__ import annotations

from fastapi import HTTPException, Request, Response

from banscan.models import VERDICT_NAMES
from banscan.server import charts
from banscan.server.deps import PagingDep, PolicyDep, ReadDB, UserDep, state_of
from banscan.server.explainer import product_json
from banscan.server.pages.render import page, page_router, pager, qs
from banscan.store.findings import list_findings, product_counts

router = page_router()


@router.get("/products/{product}")
def product_page(
    request: Request, principal: UserDep, db: ReadDB, product: str, paging: PagingDep, policy: PolicyDep
) -> Response:
    if len(product) > 200:
        raise HTTPException(404, "product not found")
    catalog = state_of(request).catalog
    try:
        info = product_json(catalog, catalog.product(product))
    except KeyError:
        info = None
    counts, gone = product_counts(db, product)
    if info is None and not any(counts.values()) and not gone:
        raise HTTPException(404, "product not found")
    result = list_findings(
        db, limit=paging.limit, offset=paging.offset, product=product, present=None, policy=policy
    )
    name = info["name"] if info else (result.items[0]["product_name"] if result.items else product)
    return page(
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
        pager=pager(f"/products/{product}", {}, paging, result.total),
        export=qs({"product": product}),
        chart=charts.verdict_chart(
            {v: counts[v] for v in VERDICT_NAMES}, title=f"Hosts with {name} by verdict"
        ),
    )
