"""Uploading an inventory to scan and store, one result per host (admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse

from banscan.server.deps import AdminDep
from banscan.server.state import SafeJSONResponse
from banscan.server.uploads import receive_import

router = APIRouter(tags=["admin"])


@router.post("/imports")
async def post_import(
    request: Request,
    principal: AdminDep,
    file: Annotated[UploadFile, File(description="an inventory banscan reads: osquery, CSV, SBOM…")],
    format: Annotated[str | None, Form(max_length=64)] = None,
    host: Annotated[str | None, Form(max_length=255)] = None,
    site: Annotated[str | None, Form(max_length=1000, description="site of the hosts it creates")] = None,
) -> JSONResponse:
    """Scan an uploaded inventory and ingest one result per host found in it (admin). Hosts
    the import creates get `site`; hosts already known keep theirs."""
    result = await receive_import(request, principal, file, format, host, site)
    return SafeJSONResponse(result, status_code=201)
