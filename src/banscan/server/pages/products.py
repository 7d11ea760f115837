"""One product's page: what the catalog says of it (its pack too) and where it was found."""

from __future__ import annotations

from fastapi import HTTPException, Request, Response

from banscan.models import VERDICT_NAMES
from banscan.server import charts
from banscan.server.deps import PackQuery, PagingDep, PolicyDep, ReadDB, UserDep, pack_param, state_of
from banscan.server.explainer import product_json
from banscan.server.pages.render import page, page_router, pager, qs
from banscan.store.findings import list_findings, product_counts
from banscan.store.packs import PackOf, pack_labels

router = page_router()


@router.get("/products/{product}")
def product_page(
    request: Request,
    principal: UserDep,
    db: ReadDB,
    product: str,
    paging: PagingDep,
    policy: PolicyDep,
    pack: PackQuery = None,
) -> Response:
    """The product's page; `pack`: the findings list keeps that pack's only (none when the
    product is another pack's), as the overview it was opened from does."""
    if len(product) > 200:
        raise HTTPException(404, "product not found")
    catalog = state_of(request).catalog
    try:
        info = product_json(catalog, catalog.product(product))
    except KeyError:
        info = None
    counts, gone = product_counts(db, product, orgs=principal.scope)
    if info is None and not any(counts.values()) and not gone:
        raise HTTPException(404, "product not found")
    scope = pack_param(request, pack)
    result = list_findings(
        db,
        limit=paging.limit,
        offset=paging.offset,
        product=product,
        present=None,
        policy=policy,
        pack=scope,
        orgs=principal.scope,
    )
    packs = pack_labels(catalog)
    own = PackOf(catalog)(product)
    params = {"pack": scope.id} if scope is not None else {}
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
        packs=packs,
        pack=packs.get(own) if own else None,
        filter_pack=packs.get(scope.id) if scope is not None else None,
        pager=pager(f"/products/{product}", params, paging, result.total),
        export=qs({"product": product, **params}),
        chart=charts.verdict_chart(
            {v: counts[v] for v in VERDICT_NAMES}, title=f"Hosts with {name} by verdict"
        ),
    )
