"""The import page: upload an inventory, preview what would be read (storing nothing), or import
it and see what was read and stored."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import File, Form, HTTPException, Request, Response, UploadFile

from banscan.server.deps import AdminDep, Principal
from banscan.server.pages.render import page, page_router
from banscan.server.uploads import input_formats, preview_import, receive_import

router = page_router()

TITLE = "Import an inventory"


def _page(request: Request, principal: Principal, status_code: int = 200, **values: Any) -> Response:
    form = {"format": "", "host": "", "site": ""} | values.pop("form", {})
    return page(
        request,
        principal,
        "imports.html.j2",
        status_code=status_code,
        title=TITLE,
        nav="imports",
        formats=input_formats(),
        form=form,
        **({"result": None, "preview": None, "error": None, "errors": []} | values),
    )


@router.get("/imports")
def imports_page(request: Request, principal: AdminDep) -> Response:
    return _page(request, principal)


@router.post("/imports")
async def imports_post(
    request: Request,
    principal: AdminDep,
    file: Annotated[UploadFile, File()],
    format: Annotated[str | None, Form(max_length=64)] = None,
    host: Annotated[str | None, Form(max_length=255)] = None,
    site: Annotated[str | None, Form(max_length=1000)] = None,
    action: Annotated[Literal["import", "preview"], Form()] = "import",
) -> Response:
    """The upload form: the same ingestion as POST /api/v1/imports, shown as a page; with
    `action=preview` the file is read and its findings shown, and nothing is stored."""
    form = {"format": format or "", "host": host or "", "site": site or ""}
    try:
        if action == "preview":
            preview = await preview_import(request, file, format or None, host or None)
            status = 200 if preview["records"] else 422
            return _page(request, principal, status, form=form, preview=preview)
        result = await receive_import(request, principal, file, format or None, host or None, site or None)
    except HTTPException as exc:
        detail = exc.detail
        errors: list[str] = []
        if isinstance(detail, dict):
            errors = [str(e) for e in detail.get("errors", [])]
            detail = detail.get("reason", "import failed")
        return _page(request, principal, exc.status_code, form=form, error=str(detail), errors=errors)
    return _page(request, principal, 201, result=result, filename=file.filename or "upload")
