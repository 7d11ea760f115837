"""JSON API under /api/v1 (agents, people, automation) and the session login routes."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import hashlib
import json
import logging
import re
import tempfile
from pathlib import Path as FilePath
from typing import Annotated, Any, Literal
from urllib.parse import quote

from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from fastapi import APIRouter, Depends, File, Form, HTTPException, Path, Query, Request, Response, UploadFile
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from banscan.models import ScanResult
from banscan.server.auth import (
    AGENT_TOKEN_PREFIX,
    AdminDep,
    AgentDep,
    ReadDB,
    UserDep,
    WriteDB,
    add_api_token,
    audit,
    authenticate,
    check_login_csrf,
    clear_session_cookie,
    client_addr,
    issue_login_csrf,
    limit_anonymous,
    new_token,
    password_hasher,
    session_cookie_name,
    set_session_cookie,
    start_session,
    state_of,
    token_digest,
)
from banscan.server.limits import PageParams
from banscan.server.state import SafeJSONResponse
from banscan.store import queries, sites
from banscan.store.apply import HostGone, Incoming, store_batch
from banscan.store.ingest import ReportRejected, parse_result, request_scan, result_schema, set_transition
from banscan.store.models import VERDICTS, AgentToken, Finding, Host, Report, WebSession, utcnow

log = logging.getLogger("banscan.server")

router = APIRouter(prefix="/api/v1")
web_router = APIRouter()

MAX_ID = 2**31 - 1  # integer keys are 32-bit on PostgreSQL
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]
Verdict = Literal["covered", "review", "remnant", "informational", "accepted"]
State = Literal["found", "replacement-installed", "removed", "verified"]
assert set(Verdict.__args__) == set(VERDICTS)  # type: ignore[attr-defined]


def _no_control(value: str) -> str:
    if any(ord(c) < 32 or c == "\x7f" for c in value):
        raise ValueError("must not contain control characters")
    return value


# ---------------------------------------------------------------- pagination


def page_params(
    request: Request,
    limit: Annotated[int | None, Query(ge=1, description="page size (capped by the server)")] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    cursor: Annotated[
        str | None, Query(max_length=64, description="next_cursor of the previous page")
    ] = None,
) -> PageParams:
    settings = state_of(request).settings
    size = min(limit or settings.page_default, settings.page_max)
    after_id = None
    if cursor:
        try:
            after_id = queries.decode_cursor(cursor)
        except ValueError:
            raise HTTPException(400, "invalid cursor") from None
    return PageParams(limit=size, offset=offset, after_id=after_id)


Paging = Annotated[PageParams, Depends(page_params)]


# ---------------------------------------------------------------- enrolment


def _site_or_none(value: str | None) -> str | None:
    return None if value is None else sites.clean_site(value)


def _tags_or_none(value: list[str] | None) -> list[str] | None:
    return None if value is None else sites.clean_tags(value)


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

    _clean = field_validator("host_identifier", "hostname", "platform")(_no_control)
    _site = field_validator("site")(_site_or_none)
    _tags = field_validator("tags")(_tags_or_none)


class EnrollResponse(BaseModel):
    host_id: int
    token: str = Field(description="Shown once; the server keeps only its SHA-256 digest.")


def _secret_ok(stored: str | None, given: str) -> bool:
    if not stored:
        return False
    try:
        return password_hasher().verify(stored, given)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@router.post(
    "/enroll",
    status_code=201,
    response_model=EnrollResponse,
    tags=["agent"],
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
    if not _secret_ok(st.enroll_secret_hash, body.enroll_secret):
        log.warning("enrolment refused for %r from %s: wrong secret", body.host_identifier, addr)
        audit(db, "anonymous", "enroll.denied", body.host_identifier, addr)
        db.commit()
        raise HTTPException(403, "wrong enrolment secret")
    for attempt in range(2):
        try:
            host = db.scalar(select(Host).where(Host.identifier == body.host_identifier).with_for_update())
            if host is None:
                host = Host(
                    identifier=body.host_identifier,
                    hostname=body.hostname,
                    platform=body.platform,
                    site=body.site or "",
                    source="agent",
                )
                db.add(host)
                db.flush()
            else:
                host.hostname = body.hostname
                if body.platform:
                    host.platform = body.platform
                if body.site is not None:
                    host.site = body.site
                db.execute(
                    update(AgentToken)
                    .where(AgentToken.host_id == host.id, AgentToken.revoked_at.is_(None))
                    .values(revoked_at=utcnow())
                )
            if body.tags is not None:
                sites.set_tags(db, host.id, body.tags)
            raw = new_token(AGENT_TOKEN_PREFIX)
            db.add(AgentToken(host_id=host.id, token_hash=token_digest(raw), remote_addr=addr[:64]))
            audit(db, f"agent:{body.host_identifier}", "enroll", body.host_identifier, addr, host_id=host.id)
            db.commit()
            state_of(request).agent_tokens.forget_host(host.id)  # the revoked tokens stop now
            return EnrollResponse(host_id=host.id, token=raw)
        except IntegrityError:
            db.rollback()
            if attempt:
                raise
    raise AssertionError("unreachable")


# ---------------------------------------------------------------- reports


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
    tags=["agent"],
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
        rows = db.execute(
            select(Finding.product, Finding.first_identified).where(
                Finding.host_id == host_id, Finding.product.in_(products)
            )
        )
        return {product: day.isoformat() for product, day in rows}


@router.get("/reports/{report_id}", tags=["read"])
def get_report(report_id: RowId, _: UserDep, db: ReadDB) -> Response:
    """The result exactly as it was received."""
    row = db.get(Report, report_id)
    if row is None:
        raise HTTPException(404, "report not found")
    return Response(row.body, media_type="application/json")


# ---------------------------------------------------------------- reading


@router.get("/hosts", tags=["read"])
def list_hosts(
    _: UserDep,
    db: ReadDB,
    page: Paging,
    verdict: Verdict | None = None,
    product: Annotated[str | None, Query(max_length=200)] = None,
    os: Annotated[str | None, Query(max_length=64)] = None,
    search: Annotated[str | None, Query(max_length=200)] = None,
    site: Annotated[str | None, Query(max_length=sites.MAX_SITE)] = None,
    tag: Annotated[str | None, Query(max_length=sites.MAX_TAG)] = None,
) -> dict[str, Any]:
    """Hosts, with counts of their present findings by verdict; `verdict`/`product` keep hosts
    with such a present finding, `os` matches the platform, `search` the name or identifier,
    `site` the site (`(no site)`: hosts without one), `tag` one of the host's tags."""
    result = queries.list_hosts(
        db,
        limit=page.limit,
        offset=page.offset,
        after_id=page.after_id,
        verdict=verdict,
        product=product,
        os=os,
        search=search,
        site=site,
        tag=tag,
    )
    return result.to_json()


RoleParam = Annotated[str | None, Query(max_length=32, description="default: the server's role")]
AsOfParam = Annotated[
    dt.date | None, Query(description="evaluate obligations as of this day (default today)")
]


def _policy(request: Request, role: str | None, as_of: dt.date | None) -> queries.Policy:
    st = state_of(request)
    return queries.Policy(
        st.catalog,
        role or st.settings.role,
        as_of or dt.datetime.now(dt.UTC).date(),
        st.settings.jurisdiction,
    )


@router.get("/hosts/{host_id}", tags=["read"])
def get_host(
    host_id: RowId,
    request: Request,
    _: UserDep,
    db: ReadDB,
    as_of: AsOfParam = None,
    role: RoleParam = None,
) -> dict[str, Any]:
    """A host with every finding it has had. Each finding says when its product was first
    identified on the host (`first_identified`, kept when it is removed and found again), and
    its `obligations` are evaluated for `role` from that day as of `as_of` (while present; as of
    its last sighting once gone), with `deadline`: overdue since when and by how many days, or
    the next deadline."""
    detail = queries.host_detail(db, host_id, policy=_policy(request, role, as_of))
    if detail is None:
        raise HTTPException(404, "host not found")
    return detail


@router.get("/findings", tags=["read"])
def list_findings(
    request: Request,
    _: UserDep,
    db: ReadDB,
    page: Paging,
    verdict: Verdict | None = None,
    product: Annotated[str | None, Query(max_length=200)] = None,
    host_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    state: State | None = None,
    present: Annotated[bool | None, Query(description="true (default): still seen; false: gone")] = True,
    as_of: AsOfParam = None,
    role: RoleParam = None,
) -> dict[str, Any]:
    """Findings, each with its first identification and obligations as `GET /hosts/{id}` gives
    them; informational products have no removal record (`transition` is null)."""
    result = queries.list_findings(
        db,
        limit=page.limit,
        offset=page.offset,
        after_id=page.after_id,
        verdict=verdict,
        product=product,
        host_id=host_id,
        state=state,
        present=present,
        policy=_policy(request, role, as_of),
    )
    return result.to_json()


@router.get("/summary", tags=["read"])
def summary(
    request: Request,
    _: UserDep,
    db: ReadDB,
    as_of: dt.date | None = None,
    role: Annotated[str | None, Query(max_length=32)] = None,
) -> dict[str, Any]:
    """Estate summary; obligations are evaluated as of `as_of` (default today) for `role`
    (default: the server's), counting deadlines from each finding's first sighting.

    `by_site` lists every site; `by_tag` lists the 20 tags with the most hosts (then by name),
    as the overview does, each with its hosts and those with a present covered finding, and
    `tags_total` the number of tags in all. Hosts without tags are in no entry of `by_tag`, and
    a host with several tags counts under each. `GET /api/v1/hosts?tag=` lists the hosts of any tag."""
    st = state_of(request)
    return queries.summary(
        db, st.catalog, role=role or st.settings.role, as_of=as_of, jurisdiction=st.settings.jurisdiction
    )


# ---------------------------------------------------------------- writes by admins


class TransitionRequest(BaseModel):
    state: Literal["found", "replacement-installed", "removed"] = Field(
        description="`verified` is set only by a clean re-scan after `removed`."
    )
    note: str = Field(default="", max_length=4000)

    @field_validator("note")
    @classmethod
    def _note(cls, v: str) -> str:
        if "\x00" in v:
            raise ValueError("must not contain NUL")
        return v


@router.post("/transitions/{host_id}/{product}", tags=["admin"])
def post_transition(
    host_id: RowId,
    product: Annotated[str, Path(max_length=200)],
    body: TransitionRequest,
    request: Request,
    principal: AdminDep,
    db: WriteDB,
) -> dict[str, Any]:
    """Record the next step in removing `product` from a host (admin)."""
    t = set_transition(db, host_id, product, body.state, body.note, principal.name)
    if t is None:
        raise HTTPException(404, "no such finding on this host")
    audit(db, principal.name, "transition", f"{host_id}/{product}", client_addr(request), state=body.state)
    db.commit()
    return {
        "host_id": host_id,
        "product": product,
        "state": t.state,
        "flag": t.flag,
        "updated_by": t.updated_by,
    }


class HostLabelsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    site: str | None = Field(
        default=None, max_length=1000, description="The host's site; '' removes it; omitted: unchanged."
    )
    tags: list[str] | None = Field(
        default=None, max_length=1000, description="The host's tags, replacing them all; omitted: unchanged."
    )

    _site = field_validator("site")(_site_or_none)
    _tags = field_validator("tags")(_tags_or_none)


@router.patch("/hosts/{host_id}", tags=["admin"])
def patch_host(
    host_id: RowId, body: HostLabelsRequest, request: Request, principal: AdminDep, db: WriteDB
) -> dict[str, Any]:
    """Set a host's site and tags (admin); returns the host."""
    host = sites.set_labels(db, host_id, site=body.site, tags=body.tags)
    if host is None:
        raise HTTPException(404, "host not found")
    changed = body.model_dump(exclude_none=True)
    audit(db, principal.name, "host.labels", str(host_id), client_addr(request), **changed)
    db.commit()
    state_of(request).overview_cache.clear()  # the counts by site and by tag changed
    return queries.host_json(
        host, queries.verdict_counts(db, [host_id])[host_id], sites.tags_of(db, [host_id])[host_id]
    )


@router.post("/hosts/{host_id}/scan", status_code=202, tags=["admin"])
def post_scan_request(host_id: RowId, request: Request, principal: AdminDep, db: WriteDB) -> dict[str, Any]:
    """Ask the host's agent to scan now (admin). The agent learns of it when it next checks in
    (every minute by default) and the request stays pending until a newer result arrives."""
    host = request_scan(db, host_id, principal.name)
    if host is None:
        raise HTTPException(404, "host not found")
    audit(db, principal.name, "host.scan_requested", str(host_id), client_addr(request))
    db.commit()
    return {
        "host_id": host_id,
        "scan_requested_at": host.scan_requested_at.isoformat() if host.scan_requested_at else None,
        "scan_requested_by": host.scan_requested_by,
    }


class CheckinResponse(BaseModel):
    host_id: int
    scan_requested: bool = Field(description="Someone asked for a scan that no result has answered yet.")
    scan_requested_at: dt.datetime | None = None


@router.get("/agent/checkin", response_model=CheckinResponse, tags=["agent"])
def agent_checkin(agent: AgentDep, db: ReadDB) -> CheckinResponse:
    """What the server wants from the agent between scheduled scans (read-only, cheap)."""
    when = db.scalar(select(Host.scan_requested_at).where(Host.id == agent.host_id))
    return CheckinResponse(host_id=agent.host_id, scan_requested=when is not None, scan_requested_at=when)


class TokenRequest(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    role: Literal["admin", "viewer"] = "viewer"
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)

    _clean = field_validator("name")(_no_control)


@router.post("/tokens", status_code=201, tags=["admin"])
def post_token(body: TokenRequest, principal: AdminDep, db: WriteDB) -> dict[str, Any]:
    """Create an API token for automation (admin). The token is shown once."""
    expires = utcnow() + dt.timedelta(days=body.expires_in_days) if body.expires_in_days else None
    raw, row = add_api_token(db, body.name, body.role, created_by=principal.name, expires_at=expires)
    db.commit()
    return {
        "id": row.id,
        "name": row.name,
        "role": row.role,
        "token": raw,
        "expires_at": expires.isoformat() if expires else None,
    }


_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@router.post("/imports", tags=["admin"])
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
    try:
        site = sites.clean_site(site or "")
    except ValueError as exc:
        raise HTTPException(422, f"site: {exc}") from None
    st = state_of(request)
    limit = st.settings.max_import_bytes
    name = _SAFE_NAME.sub("_", FilePath(file.filename or "upload").name)[-100:] or "upload"
    with tempfile.TemporaryDirectory(prefix="banscan-import-") as tmp:
        path = FilePath(tmp) / name
        digest = hashlib.sha256()
        size = 0
        with path.open("wb") as out:
            while chunk := await file.read(1024 * 1024):
                size += len(chunk)
                if size > limit:
                    raise HTTPException(413, f"upload larger than the {limit}-byte limit")
                digest.update(chunk)
                out.write(chunk)
        if size == 0:
            raise HTTPException(400, "empty upload")
        result = await run_in_threadpool(_scan_upload, request, path, format, host)
    targets = [t.to_json() for t in result.targets]
    for t in targets:  # do not echo the server's temporary path
        t["target"] = file.filename or name
        t["errors"] = [e.replace(str(path), file.filename or name) for e in t["errors"]]
    if not any(t["records"] for t in targets):
        errors = [e for t in targets for e in t["errors"]] or [
            "no inventory records were read from this file"
        ]
        raise HTTPException(422, {"reason": "nothing could be read from the upload", "errors": errors[:20]})
    hosts = await run_in_threadpool(
        _ingest_import, request, result, principal.name, file.filename or name, digest.hexdigest(), site
    )
    return SafeJSONResponse({"hosts": hosts, "targets": targets}, status_code=201)


def _scan_upload(request: Request, path: FilePath, fmt: str | None, host: str | None) -> ScanResult:
    from banscan.scan import ScanOptions, run_scan

    st = state_of(request)
    opts = ScanOptions(
        as_of=dt.datetime.now(dt.UTC).date(),
        role=st.settings.role,
        jurisdiction=st.settings.jurisdiction,
        host=host or None,
        echo_errors=False,
        input_format=fmt or None,
    )
    return run_scan(st.catalog, opts, inputs=[str(path)])


IMPORT_BATCH = 500  # hosts stored per transaction by a bulk import


def _ingest_import(
    request: Request, result: ScanResult, actor: str, filename: str, sha256: str, site: str = ""
) -> list[dict[str, Any]]:
    """One result per host the import names, stored a few hundred hosts per transaction."""
    st = state_of(request)
    findings: dict[str, list[Any]] = {}
    for f in result.findings:
        findings.setdefault(f.host, []).append(f)
    names = [n for n in dict.fromkeys([*result.hosts, *findings]) if n and len(n) <= 255 and "\x00" not in n]
    out: list[dict[str, Any]] = []
    for start in range(0, len(names), IMPORT_BATCH):
        chunk = names[start : start + IMPORT_BATCH]
        parsed = []
        for name in chunk:
            per_host = dataclasses.replace(result, findings=findings.get(name, []), hosts=[name]).to_json()
            for t in per_host["targets"]:
                t["target"] = filename
                t["errors"] = []
            parsed.append(parse_result(json.dumps(per_host, ensure_ascii=False).encode("utf-8")))
        with st.db.write_session() as db:
            ids = _import_hosts(db, chunk, site)
            items = [Incoming(ids[n], *p, source="import") for n, p in zip(chunk, parsed, strict=True)]
            stored = store_batch(db, items)
            db.commit()
        for name, outcome in zip(chunk, stored, strict=True):
            if isinstance(outcome, Exception):
                raise outcome
            out.append({"host_id": ids[name], "hostname": name, **outcome.to_json()})
    with st.db.writing() as db:
        audit(db, actor, "import", filename, client_addr(request), sha256=sha256, hosts=len(out))
    return out


def _import_hosts(db: Session, names: list[str], site: str) -> dict[str, int]:
    """The hosts inventory rows name: by identifier, else by a unique hostname, else new ones
    (at `site`; hosts already known keep theirs)."""
    for attempt in range(2):
        known = db.execute(select(Host.identifier, Host.id).where(Host.identifier.in_(names)))
        ids: dict[str, int] = {identifier: host_id for identifier, host_id in known}
        rest = [n for n in names if n not in ids]
        by_name: dict[str, list[int]] = {}
        if rest:
            for hostname, host_id in db.execute(
                select(Host.hostname, Host.id).where(Host.hostname.in_(rest))
            ):
                by_name.setdefault(hostname, []).append(host_id)
        for n in rest:
            if len(by_name.get(n, ())) == 1:
                ids[n] = by_name[n][0]
        new = [n for n in names if n not in ids]
        if not new:
            return ids
        rows = [
            {"identifier": n, "hostname": n, "platform": "", "site": site, "source": "import"} for n in new
        ]
        try:
            with db.begin_nested():
                created = db.execute(insert(Host).returning(Host.id, sort_by_parameter_order=True), rows)
                ids.update(zip(new, created.scalars(), strict=True))
            return ids
        except IntegrityError:  # some were created meanwhile by another request: look again
            if attempt:
                raise
    raise AssertionError("unreachable")


# ---------------------------------------------------------------- who am I, login, logout


@router.get("/me", tags=["auth"])
def me(principal: UserDep) -> dict[str, object]:
    """The caller; for a browser session this includes the CSRF token forms must send."""
    return principal.to_json()


@router.get("/csrf", tags=["auth"])
def login_csrf(request: Request, response: Response) -> dict[str, str]:
    """A CSRF token for the login form (also set as a double-submit cookie)."""
    secure = state_of(request).settings.secure_cookies
    return {"csrf_token": issue_login_csrf(response, secure=secure), "field": "csrf_token"}


def _safe_next(target: str | None) -> str:
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


@web_router.post("/login", tags=["auth"], dependencies=[Depends(limit_anonymous)])
def login(
    request: Request,
    db: WriteDB,
    username: Annotated[str, Form(max_length=150)],
    password: Annotated[str, Form(max_length=1024)],
    csrf_token: Annotated[str, Form(max_length=128)] = "",
    next: Annotated[str | None, Form(max_length=2000)] = None,
) -> Response:
    """Log in with a form post; sets the session cookie. 303 to `next`, or JSON if asked for."""
    st = state_of(request)
    secure = st.settings.secure_cookies
    check_login_csrf(request, csrf_token, secure=secure)
    addr = client_addr(request)
    readable = "\x00" not in username and "\x00" not in password
    user = authenticate(db, username, password) if readable else None
    if user is None:
        audit(db, "anonymous", "login.failed", username[:150].replace("\x00", "?"), addr)
        db.commit()
        if _wants_json(request):
            raise HTTPException(401, "wrong username or password")
        # A browser goes back to the form, which says the login failed.
        target = "/login?error=1&next=" + quote(_safe_next(next), safe="")
        return RedirectResponse(target, status_code=303)
    raw, ws = start_session(db, user, ttl=st.settings.session_ttl, remote_addr=addr)
    audit(db, user.username, "login", user.username, addr)
    db.commit()
    response: Response
    if _wants_json(request):
        response = SafeJSONResponse(
            {"username": user.username, "role": user.role, "csrf_token": ws.csrf_token}
        )
    else:
        response = RedirectResponse(_safe_next(next), status_code=303)
    set_session_cookie(response, raw, secure=secure, ttl=st.settings.session_ttl)
    response.delete_cookie(
        "__Host-banscan_login_csrf" if secure else "banscan_login_csrf", path="/", secure=secure
    )
    return response


@web_router.post("/logout", tags=["auth"])
def logout(request: Request, principal: UserDep) -> Response:
    """End the browser session (CSRF-checked like every form post)."""
    st = state_of(request)
    secure = st.settings.secure_cookies
    cookie = request.cookies.get(session_cookie_name(secure))
    if principal.kind == "session" and cookie:
        with st.db.writing() as db:
            db.execute(delete(WebSession).where(WebSession.session_hash == token_digest(cookie)))
            audit(db, principal.name, "logout", principal.name, client_addr(request))
    response: Response = (
        SafeJSONResponse({"logged_out": True})
        if _wants_json(request)
        else RedirectResponse("/login", status_code=303)
    )
    clear_session_cookie(response, secure=secure)
    return response
