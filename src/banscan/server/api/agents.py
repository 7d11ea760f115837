"""What agents do: enrol for a token (the rules: `banscan.store.enrolment`), post scan results,
and check in for scan requests."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, field_validator
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from banscan.server.api.common import no_control, site_or_none, tags_or_none
from banscan.server.deps import AgentDep, ReadDB, WriteDB, client_addr, limit_anonymous, state_of
from banscan.server.state import SafeJSONResponse
from banscan.store import sites
from banscan.store.accounts import AGENT_TOKEN_PREFIX
from banscan.store.apply import HostGone, Incoming, store_batch
from banscan.store.audit import audit
from banscan.store.enrolment import POLL_SECONDS, EnrolRefused, EnrolRequest, check_enrol_secret, enrol
from banscan.store.findings import first_identified
from banscan.store.hosts import scan_requested_at
from banscan.store.ingest import PARSE_INLINE_BYTES, ReportRejected, parse_result, report_cost, result_schema

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
        description=f"Where the host is, at most {sites.MAX_SITE} characters; kept as is when omitted "
        "(a scoped enrol secret's site replaces it).",
    )
    tags: list[str] | None = Field(
        default=None,
        max_length=1000,
        description=f"Up to {sites.MAX_TAGS} tags of at most {sites.MAX_TAG} characters, without commas; "
        "they replace the host's tags (kept as they are when omitted; a scoped enrol secret's tag is "
        "always added).",
    )
    pending_secret: str | None = Field(
        default=None,
        max_length=200,
        description="The `pending_secret` an earlier, held enrolment of this host gave: asks whether "
        "an admin approved it (the answer then carries the token).",
    )

    _clean = field_validator("host_identifier", "hostname", "platform")(no_control)
    _site = field_validator("site")(site_or_none)
    _tags = field_validator("tags")(tags_or_none)


class EnrollResponse(BaseModel):
    state: Literal["enrolled", "pending"] = Field(
        default="enrolled", description="`pending`: held until an admin approves it (HTTP 202)."
    )
    host_id: int | None = None
    token: str | None = Field(
        default=None, description="Shown once; the server keeps only its SHA-256 digest."
    )
    enrolment_id: int | None = Field(default=None, description="The held enrolment, while pending.")
    pending_secret: str | None = Field(
        default=None,
        description="Shown once, when the enrolment is first held: send it back as `pending_secret` "
        "to learn the decision (and get the token once approved).",
    )
    retry_after: int | None = Field(default=None, description="Seconds to wait before asking again.")


def _proof(request: Request) -> str | None:
    """The agent token an enrolling agent presents (`Authorization: Bearer bsa_…`), if any."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value.startswith(AGENT_TOKEN_PREFIX):
        return value
    return None


@router.post(
    "/enroll",
    status_code=201,
    response_model=EnrollResponse,
    response_model_exclude_none=True,
    responses={
        202: {"description": "Held until an admin approves it", "model": EnrollResponse},
        403: {"description": "Wrong, expired or revoked secret, or the enrolment was denied"},
    },
    dependencies=[Depends(limit_anonymous)],
)
def enroll(body: EnrollRequest, request: Request, db: WriteDB) -> Any:
    """Exchange an enrolment secret for a per-host token.

    A new host identifier gets a new host and its token. A known one is never handed over on
    the secret alone: an agent that presents the host's live token (`Authorization: Bearer
    bsa_…`) gets a new one in exchange (the old one is revoked); any other enrolment as a known
    host (another agent's, or one an inventory import created) is held for an admin (202, with a
    `pending_secret`; poll with it, every `retry_after` seconds). Once approved, the host's old
    tokens are revoked and the next poll gets the token; once denied, it gets a 403.

    A `site` or `tags` sent here are set on the host, also when it enrols again (the agent's
    configuration wins over an earlier change in the dashboard); omitted, they stay as they are.
    A scoped enrol secret's site replaces the one sent, and its tag is always added."""
    st = state_of(request)
    addr = client_addr(request)
    actor = f"agent:{body.host_identifier}"
    req = EnrolRequest(body.host_identifier, body.hostname, body.platform, body.site, body.tags, addr)
    for attempt in range(2):
        try:
            scope = check_enrol_secret(db, body.enroll_secret, st.enroll_secret_hash)
            out = enrol(db, req, scope, proof=_proof(request), pending_secret=body.pending_secret)
            detail = {"secret": scope.name, "host_id": out.host_id, "enrolment_id": out.enrolment_id}
            if out.kind != "pending":
                audit(db, actor, ENROL_ACTIONS[out.kind], body.host_identifier, addr, **detail)
            elif out.pending_secret is not None:  # held now (not a poll of a held one)
                log.warning("enrolment of %r from %s held for an admin", body.host_identifier, addr)
                audit(db, actor, "enroll.pending", body.host_identifier, addr, **detail)
            db.commit()
        except EnrolRefused as exc:
            db.rollback()
            log.warning("enrolment refused for %r from %s: %s", body.host_identifier, addr, exc.reason)
            audit(db, "anonymous", "enroll.denied", body.host_identifier, addr, reason=exc.reason)
            db.commit()
            raise HTTPException(exc.status, exc.reason) from None
        except IntegrityError:
            db.rollback()
            if attempt:
                raise
            continue
        if out.kind == "pending":
            answer = EnrollResponse(
                state="pending",
                enrolment_id=out.enrolment_id,
                pending_secret=out.pending_secret,
                retry_after=POLL_SECONDS,
            )
            return SafeJSONResponse(
                answer.model_dump(exclude_none=True),
                status_code=202,
                headers={"Retry-After": str(POLL_SECONDS)},
            )
        assert out.host_id is not None
        st.agent_tokens.forget_host(out.host_id)  # the revoked tokens stop now
        return EnrollResponse(host_id=out.host_id, token=out.token)
    raise AssertionError("unreachable")


ENROL_ACTIONS = {"enrolled": "enroll", "rotated": "enroll.rotate", "collected": "enroll.collect"}


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
        413: {"description": "Body over the size limit, or more findings than the server accepts"},
        422: {
            "description": "Not a valid banscan/result/v1 document, generated ahead of the server's "
            "clock, or naming a product the server's catalog does not know"
        },
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
    limits = state_of(request).report_limits
    try:
        if len(raw) <= PARSE_INLINE_BYTES:
            text, data, key = parse_result(raw, limits)
        else:  # validating a large body takes a while: off the event loop, which serves the others
            text, data, key = await run_in_threadpool(parse_result, raw, limits)
    except ReportRejected as exc:
        log.warning("rejected report from host %s: %s", agent.host_id, exc.reason)
        return SafeJSONResponse(exc.to_json(), status_code=exc.status)
    item = Incoming(agent.host_id, text, data, key, source="agent", token_id=agent.token_id)
    try:
        job = state_of(request).writer.submit_item(
            store_batch, item, key=agent.host_id, cost=report_cost(data)
        )
        stored = await asyncio.wrap_future(job)
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
