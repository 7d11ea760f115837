"""The fleet server's FastAPI application factory.

`create_app(db_url, ...)` migrates the database, wires the store, limits and routes, and
returns an app with a JSON API under /api/v1, session login at /login, a health check at
/healthz, the OpenAPI description at /openapi.json (/docs), and the dashboard's pages.
Routes (`server.api`, one module per resource) and pages (`server.pages`, one per page) take
what they need from `server.deps`; every query is in `banscan.store`.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError

from banscan import __version__
from banscan.server.limits import BodySizeLimit, RejectNulBytes
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
    """Build the server. Enrolment is disabled unless an enrolment secret (or its argon2 hash,
    from `banscan.store.accounts.hash_secret`) is given; the plain secret is hashed, not kept."""
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
    app.include_router(api.login_router())
    app.include_router(pages.router())
    return app
