"""What agents do: enrol for a token, post scan results, and check in for scan requests."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, field_validator
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from banscan.server.api.common import no_control, site_or_none, tags_or_none
from banscan.server.deps import AgentDep, ReadDB, WriteDB, client_addr, limit_anonymous, state_of
from banscan.server.state import SafeJSONResponse
from banscan.store import sites
from banscan.store.accounts import add_agent_token, audit, verify_secret
from banscan.store.apply import HostGone, Incoming, store_batch
from banscan.store.findings import first_identified
from banscan.store.hosts import enrol_host, scan_requested_at
from banscan.store.ingest import ReportRejected, parse_result, result_schema

log = logging.getLogger("banscan.server")

router = APIRouter(tags=["agent"])


class EnrollRequest(BaseModel):
    enroll_secret: str = Field(min_length=1, max_length=1024)
    host_identifier: str = Field(min_length=1, max_length=255)
    hostname: str = Field(min_length=1, max_length=255)
    platform: str = Field(default="", max_length=64)
    site: str | None = Field(
        default=None,
        max_length=1000,
        description=f"Where the host is, at most {sites.MAX_SITE} characters; kept as is when omitted.",
    )
    tags: list[str] | None = Field(
        default=None,
        max_length=1000,
        description=f"Up to {sites.MAX_TAGS} tags of at most {sites.MAX_TAG} characters, without commas; "
        "they replace the host's tags (kept as they are when omitted).",
    )

    _clean = field_validator("host_identifier", "hostname", "platform")(no_control)
    _site = field_validator("site")(site_or_none)
    _tags = field_validator("tags")(tags_or_none)


class EnrollResponse(BaseModel):
    host_id: int
    token: str = Field(description="Shown once; the server keeps only its SHA-256 digest.")


@router.post(
    "/enroll",
    status_code=201,
    response_model=EnrollResponse,
    dependencies=[Depends(limit_anonymous)],
)
def enroll(body: EnrollRequest, request: Request, db: WriteDB) -> EnrollResponse:
    """Exchange the enrolment secret for a per-host token (earlier tokens of the host are revoked).

    A `site` or `tags` sent here are set on the host, also when it enrols again (the agent's
    configuration wins over an earlier change in the dashboard); omitted, they stay as they are."""
    st = state_of(request)
    addr = client_addr(request)
    if st.enroll_secret_hash is None:
        raise HTTPException(403, "enrolment is disabled on this server")
    if not verify_secret(st.enroll_secret_hash, body.enroll_secret):
        log.warning("enrolment refused for %r from %s: wrong secret", body.host_identifier, addr)
        audit(db, "anonymous", "enroll.denied", body.host_identifier, addr)
        db.commit()
        raise HTTPException(403, "wrong enrolment secret")
    for attempt in range(2):
        try:
            host = enrol_host(
                db,
                body.host_identifier,
                hostname=body.hostname,
                platform=body.platform,
                site=body.site,
                tags=body.tags,
            )
            raw = add_agent_token(db, host.id, addr)
            audit(db, f"agent:{body.host_identifier}", "enroll", body.host_identifier, addr, host_id=host.id)
            db.commit()
            st.agent_tokens.forget_host(host.id)  # the revoked tokens stop now
            return EnrollResponse(host_id=host.id, token=raw)
        except IntegrityError:
            db.rollback()
            if attempt:
                raise
    raise AssertionError("unreachable")


class ReportResponse(BaseModel):
    report_id: int
    host_id: int
    duplicate: bool = Field(description="True when this exact result had already been received.")
    applied: bool = Field(description="False when an older result was stored without changing current state.")
    findings: int
    first_identified: dict[str, dt.date] = Field(
        default_factory=dict,
        description="For each product of the result the server holds: the day it was first identified "
        "on this host (the earliest result or import that showed it, or the `first_identified` a result "
        "carried); deadlines that run from identification count from it.",
    )


@router.post(
    "/report",
    response_model=ReportResponse,
    status_code=201,
    responses={
        200: {"description": "Duplicate: this result was already stored", "model": ReportResponse},
        400: {"description": "Malformed JSON"},
        413: {"description": "Body over the size limit"},
        422: {"description": "Not a valid banscan/result/v1 document"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            # OpenAPI 3.1 schemas are JSON Schema 2020-12: the shipped schema goes in as it is
            "content": {
                "application/json": {
                    "schema": {k: v for k, v in result_schema().items() if k not in ("$schema", "$id")}
                }
            },
        }
    },
)
async def post_report(request: Request, agent: AgentDep) -> JSONResponse:
    """Post one scan result (the JSON `banscan scan --format json` writes) for the agent's host."""
    raw = await request.body()
    try:
        text, data, key = parse_result(raw)
    except ReportRejected as exc:
        log.warning("rejected report from host %s: %s", agent.host_id, exc.reason)
        return SafeJSONResponse(exc.to_json(), status_code=exc.status)
    item = Incoming(agent.host_id, text, data, key, source="agent", token_id=agent.token_id)
    try:
        stored = await asyncio.wrap_future(state_of(request).writer.submit_item(store_batch, item))
    except HostGone:
        raise HTTPException(404, "host not found") from None
    out = stored.to_json()
    if stored.duplicate:  # stored before: what the server holds now
        products = sorted({str(f["product"]) for f in data["findings"]})
        out["first_identified"] = await run_in_threadpool(_first_identified, request, agent.host_id, products)
    body = ReportResponse(host_id=agent.host_id, **out)
    return SafeJSONResponse(body.model_dump(mode="json"), status_code=200 if stored.duplicate else 201)


def _first_identified(request: Request, host_id: int, products: list[str]) -> dict[str, str]:
    with state_of(request).db.reading() as db:
        return first_identified(db, host_id, products)


class CheckinResponse(BaseModel):
    host_id: int
    scan_requested: bool = Field(description="Someone asked for a scan that no result has answered yet.")
    scan_requested_at: dt.datetime | None = None


@router.get("/agent/checkin", response_model=CheckinResponse)
def agent_checkin(agent: AgentDep, db: ReadDB) -> CheckinResponse:
    """What the server wants from the agent between scheduled scans (read-only, cheap)."""
    when = scan_requested_at(db, agent.host_id)
    return CheckinResponse(host_id=agent.host_id, scan_requested=when is not None, scan_requested_at=when)
