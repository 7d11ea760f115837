"""The import page: upload an inventory and see what was read and stored."""

from __future__ import annotations

from typing import Annotated

from fastapi import File, Form, HTTPException, Request, Response, UploadFile

from banscan.server.deps import AdminDep
from banscan.server.pages.render import page, page_router
from banscan.server.uploads import receive_import

router = page_router()

TITLE = "Import an inventory"


@router.get("/imports")
def imports_page(request: Request, principal: AdminDep) -> Response:
    return page(request, principal, "imports.html.j2", title=TITLE, nav="imports", result=None)


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
    try:
        result = await receive_import(request, principal, file, format or None, host or None, site or None)
    except HTTPException as exc:
        detail = exc.detail
        errors: list[str] = []
        if isinstance(detail, dict):
            errors = [str(e) for e in detail.get("errors", [])]
            detail = detail.get("reason", "import failed")
        return page(
            request,
            principal,
            "imports.html.j2",
            status_code=exc.status_code,
            title=TITLE,
            nav="imports",
            result=None,
            error=str(detail),
            errors=errors,
        )
    return page(
        request,
        principal,
        "imports.html.j2",
        status_code=201,
        title=TITLE,
        nav="imports",
        result=result,
        filename=file.filename or "upload",
    )
