"""The fleet server's FastAPI application factory.

`create_app(db_url, ...)` migrates the database, wires the store, limits and routes, and
returns an app with a JSON API under /api/v1, session login at /login, a health check at
/healthz, the OpenAPI description at /openapi.json, the dashboard's pages, and (given
`ServerSettings.catalog_repo`) the signed catalog repository its agents update from at /tuf/. Swagger UI at
/docs only with `ServerSettings.api_docs`, from files a Python package ships (no CDN; ReDoc
is not served).
Routes (`server.api`, one module per resource) and pages (`server.pages`, one per page) take
what they need from `server.deps`; every query is in `banscan.store`.
"""

from __future__ import annotations

import gc
import html
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources

from fastapi import FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy.exc import DataError

from banscan import __version__
from banscan.server.limits import BodySizeLimit, RejectNulBytes
from banscan.server.security import CSP, StrictTransportSecurity, with_security_headers
from banscan.server.state import SafeJSONResponse, ServerSettings, ServerState
from banscan.store.accounts import hash_secret
from banscan.store.db import DEFAULT_URL, Database
from banscan.store.ingest import ReportRejected, result_validator
from banscan.store.migrate import upgrade_db

log = logging.getLogger("banscan.server")


def create_app(
    db_url: str = DEFAULT_URL,
    *,
    enroll_secret_hash: str | None = None,
    enroll_secret: str | None = None,
    settings: ServerSettings | None = None,
    migrate: bool = True,
) -> FastAPI:
    """Build the server. Agents enrol with this server's own enrolment secret (or its argon2
    hash, from `banscan.store.accounts.hash_secret`; the plain secret is hashed, not kept) or
    with an enrol secret kept in the database (`banscan enrol-secret add`); with neither, no
    agent can enrol."""
    from banscan.server import api, pages

    settings = settings or ServerSettings()
    if enroll_secret is not None and enroll_secret_hash is None:
        enroll_secret_hash = hash_secret(enroll_secret)
    if migrate:
        upgrade_db(db_url)
    db = Database(db_url)
    state = ServerState(db, settings, enroll_secret_hash)
    if settings.catalog_path is not None:
        _ = state.catalog  # fail at start, not at the first summary
    if state.catalog_repo is not None and state.catalog_repo.offered()[0] is not None:
        _ = state.catalog  # what the repository offers is read (and said in the log) at start
    result_validator()  # built now, not while the first agent waits

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        db.start_checkpoints(settings.wal_checkpoint_seconds)
        # What start-up built (modules, schemas, routes: ~250 000 objects) lives as long as the
        # process; frozen, the collector stops walking it, and its full collections no longer
        # stall every request in flight for a tenth of a second or more.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            gc.unfreeze()  # collectable again once this app is gone (tests build many)
            state.writer.close()
            db.dispose()

    app = FastAPI(
        title="banscan fleet server",
        version=__version__,
        description="Agents enrol and post banscan results; people and automation read the estate.",
        lifespan=lifespan,
        default_response_class=SafeJSONResponse,
        # FastAPI's own /docs and /redoc load scripts from a public CDN: never served
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    app.state.banscan = state
    app.add_middleware(
        BodySizeLimit,
        default=settings.max_body_bytes,
        per_path={
            "/api/v1/report": settings.max_report_bytes,
            "/api/v1/imports": settings.max_import_bytes,
            "/imports": settings.max_import_bytes,
        },
    )
    app.add_middleware(RejectNulBytes)
    if settings.hsts:
        app.add_middleware(StrictTransportSecurity)  # outermost: on the limits' refusals too

    @app.exception_handler(ReportRejected)
    async def _rejected(request: Request, exc: ReportRejected) -> JSONResponse:
        log.warning("rejected report (%s %s): %s", request.method, request.url.path, exc.reason)
        return SafeJSONResponse(exc.to_json(), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # Like FastAPI's own 422, without echoing the input back (it may be a password).
        errors = [{k: v for k, v in e.items() if k not in ("input", "ctx", "url")} for e in exc.errors()]
        log.info("invalid request (%s %s): %s", request.method, request.url.path, errors[:3])
        return SafeJSONResponse({"detail": jsonable_encoder(errors)}, status_code=422)

    @app.exception_handler(DataError)
    async def _unstorable(request: Request, exc: DataError) -> JSONResponse:
        # Defence in depth: input the database cannot hold is the client's error, not a 500.
        log.warning("database refused a value (%s %s): %s", request.method, request.url.path, exc.orig)
        return SafeJSONResponse(
            {"detail": "a value in the request cannot be stored or compared"}, status_code=400
        )

    @app.get("/healthz", tags=["meta"])
    def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    app.include_router(api.api_router())
    if state.catalog_repo is not None:
        app.include_router(api.catalog_repo_router())
    app.include_router(api.login_router())
    app.include_router(pages.router())
    if settings.api_docs:
        _serve_api_docs(app)
    return app


# Swagger UI's files as the fastapi-offline package ships them (MIT; Swagger UI is Apache-2.0).
SWAGGER_PACKAGE = "fastapi_offline"
SWAGGER_FILES = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon.png": "image/png",
}
# Started from a file of its own: the pages' CSP allows no inline script.
SWAGGER_INIT = b"""\
"use strict";
(function () {
  var openapi = document.currentScript.getAttribute("data-openapi");
  window.addEventListener("load", function () {
    window.ui = SwaggerUIBundle({
      url: openapi,
      dom_id: "#swagger-ui",
      deepLinking: true,
      presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
      layout: "BaseLayout",
    });
  });
})();
"""
DOCS_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title} - API</title>
<link rel="icon" type="image/png" href="{root}/docs/favicon.png">
<link rel="stylesheet" href="{root}/docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{root}/docs/swagger-ui-bundle.js"></script>
<script src="{root}/docs/init.js" data-openapi="{root}/openapi.json"></script>
</body>
</html>
"""
# Swagger UI draws its icons from data: URIs; everything else stays same-origin only.
DOCS_CSP = CSP.replace("img-src 'self'", "img-src 'self' data:")


def swagger_ui_files() -> dict[str, bytes]:
    """The Swagger UI files, read once; RuntimeError when the package is not installed."""
    try:
        folder = resources.files(SWAGGER_PACKAGE) / "static"
        return {name: (folder / name).read_bytes() for name in SWAGGER_FILES}
    except (ModuleNotFoundError, OSError) as exc:
        raise RuntimeError(
            f"--api-docs needs Swagger UI's files from the {SWAGGER_PACKAGE.replace('_', '-')} package: {exc}"
        ) from exc


def _serve_api_docs(app: FastAPI) -> None:
    """Swagger UI at /docs, every file from this server: nothing is loaded from elsewhere."""
    files = {**swagger_ui_files(), "init.js": SWAGGER_INIT}
    types = {**SWAGGER_FILES, "init.js": "text/javascript; charset=utf-8"}

    @app.get("/docs", include_in_schema=False)
    def api_docs(request: Request) -> Response:
        root = html.escape(str(request.scope.get("root_path", "")).rstrip("/"), quote=True)
        page = DOCS_PAGE.format(title=html.escape(app.title), root=root)
        response = HTMLResponse(page, headers={"Content-Security-Policy": DOCS_CSP})
        return with_security_headers(response)

    @app.get("/docs/{name}", include_in_schema=False)
    def api_docs_file(name: str) -> Response:
        if name not in files:
            raise HTTPException(404, "not found")
        response = Response(files[name], media_type=types[name])
        response.headers["Cache-Control"] = "public, max-age=86400"
        return with_security_headers(response)
