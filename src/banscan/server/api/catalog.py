"""The server's current catalog (`GET /api/v1/catalog`), and the signed catalog repository it
hosts for its agents (`/tuf/metadata/…`, `/tuf/targets/…`, only with `--catalog-repo`).

The repository's files are served as they are: agents verify them with `tuf.ngclient`, which
walks root versions until one is missing — a 404 — so anything not served is a 404 too."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request, Response
from pydantic import BaseModel, Field

from banscan.server.catalog_repo import METADATA, TARGETS, media_type
from banscan.server.deps import AgentOrUserDep, UserDep, state_of

log = logging.getLogger("banscan.server")

router = APIRouter(tags=["read"])
TUF_PREFIX = "/tuf"


class RepositoryInfo(BaseModel):
    path: str = Field(
        description="Where the server serves the repository (`metadata/`, `targets/` below it)."
    )
    problem: str | None = Field(
        default=None, description="Why the repository offers no catalog, if it does not."
    )
    targets_version: int | None = Field(default=None, description="The targets metadata version offered.")
    expires: str | None = Field(
        default=None, description="When the first of the timestamp, snapshot and targets metadata expires."
    )


class CatalogInfo(BaseModel):
    version: str = Field(
        description="The server's current catalog: the version its repository offers, else its own. "
        "Hosts whose latest result was judged by an older one are out of date."
    )
    source: str = Field(description="`repository` (what --catalog-repo offers) or `server` (its own).")
    sha256: str | None = Field(description="SHA-256 of the catalog (the signed target's, from a repository).")
    released: str | None = None
    judging: str = Field(description="The catalog version the server evaluates obligations and imports with.")
    repository: RepositoryInfo | None = Field(description="The repository agents update from; null: none.")


@router.get("/catalog", response_model=CatalogInfo)
def get_catalog(request: Request, _: UserDep) -> dict[str, Any]:
    """The server's current catalog, and the signed repository its agents update from."""
    return state_of(request).current_catalog().to_json()


FileName = Annotated[str, Path(max_length=255, description="A file name, as a TUF client asks for it.")]
FILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/json": {}, "application/octet-stream": {}}, "description": "The file."},
    401: {"description": "No valid agent token, API token or session"},
    404: {"description": "No such file in the repository (or not one it serves)"},
}


def tuf_router() -> APIRouter:
    """The repository's files, read-only, for enrolled agents and signed-in users."""
    out = APIRouter(prefix=TUF_PREFIX, tags=["agent"])

    @out.get("/metadata/{name}", response_class=Response, responses=FILE_RESPONSES)
    def tuf_metadata(name: FileName, request: Request, who: AgentOrUserDep) -> Response:
        """Signed TUF metadata: `N.root.json`, `timestamp.json`, `N.snapshot.json`, `N.targets.json`."""
        return _serve(request, METADATA, name, who)

    @out.get("/targets/{name}", response_class=Response, responses=FILE_RESPONSES)
    def tuf_target(name: FileName, request: Request, who: AgentOrUserDep) -> Response:
        """A signed target: the catalog as `<sha256>.banscan-catalog.json`."""
        return _serve(request, TARGETS, name, who)

    return out


def _serve(request: Request, kind: str, name: str, who: str) -> Response:
    repo = state_of(request).catalog_repo
    data = repo.read(kind, name) if repo is not None else None
    if data is None:
        log.debug("catalog repository: %s/%r not served to %s", kind, name[:100], who)
        raise HTTPException(404, "not found")
    return Response(
        data,
        media_type=media_type(name),
        headers={"Cache-Control": "private, no-cache", "X-Content-Type-Options": "nosniff"},
    )
