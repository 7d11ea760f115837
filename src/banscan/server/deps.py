"""What route handlers and pages ask FastAPI for: the server state, database sessions, the
caller (user, API token or agent) with CSRF and rate limits applied, paging, the host filter,
and the policy obligations are evaluated for — each an `Annotated[..., Depends()]` type."""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Literal

from fastapi import Depends, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from banscan.catalog.schema import ROLES as CATALOG_ROLES
from banscan.removal import STATES
from banscan.server.limits import PageParams
from banscan.server.security import CSRF_FIELD, CSRF_HEADER, UNSAFE_METHODS, session_cookie_name
from banscan.store import accounts, sites
from banscan.store.deadlines import Policy
from banscan.store.hosts import OUTDATED, HostFilter
from banscan.store.models import VERDICTS
from banscan.store.org_accounts import user_in
from banscan.store.packs import PackScope, pack_scope
from banscan.store.paging import MAX_ID, decode_cursor
from banscan.store.scope import OrgScope, build_scope, host_in_scope

if TYPE_CHECKING:
    from banscan.server.state import ServerState

Verdict = Literal["covered", "review", "remnant", "informational", "accepted"]
State = Literal["found", "replacement-installed", "removed", "verified"]
assert set(Verdict.__args__) == set(VERDICTS)  # type: ignore[attr-defined]
assert set(State.__args__) == set(STATES)  # type: ignore[attr-defined]


# ---------------------------------------------------------------- server state and database


def state_of(request: Request) -> ServerState:
    st: ServerState = request.app.state.banscan
    return st


def client_addr(request: Request) -> str:
    return request.client.host if request.client else ""


def read_db(request: Request) -> Iterator[Session]:
    with state_of(request).db.reading() as s:
        yield s


def write_db(request: Request) -> Iterator[Session]:
    """A write session; handlers commit explicitly so a 2xx always means committed."""
    s = state_of(request).db.write_session()
    try:
        yield s
    finally:
        s.rollback()
        s.close()


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def policy_of(request: Request, role: str | None = None, as_of: dt.date | None = None) -> Policy:
    """What obligations are evaluated for: the server's catalog; `role` (default: the caller's
    organisation's, else the server's) in the caller's organisation's jurisdiction (else the
    server's), as of `as_of` (default: today). The caller's terms are those `lookup_principal`
    found for this request (a state agency's deadlines are its state's, not the server's)."""
    st = state_of(request)
    own_role, own_jurisdiction = getattr(request.state, "org_terms", (None, None))
    return Policy(
        st.catalog,
        role or own_role or st.settings.role,
        as_of or today(),
        own_jurisdiction or st.settings.jurisdiction,
    )


def server_policy(request: Request) -> Policy:
    """The caller's organisation's role and jurisdiction (else the server's), today."""
    return policy_of(request)


# ---------------------------------------------------------------- who is calling


@dataclass(frozen=True)
class Principal:
    """Who is calling: a logged-in user (cookie) or an API token (Bearer)."""

    kind: str  # "session" | "token"
    name: str
    role: str
    org_id: int  # the user's organisation, or the one the API token was made for
    scope: OrgScope  # what it may read and change (`banscan.store.scope`); no default
    user_id: int | None = None
    token_id: int | None = None
    csrf_token: str | None = None
    rate_key: str = ""

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def to_json(self) -> dict[str, object]:
        return {"kind": self.kind, "name": self.name, "role": self.role, "csrf_token": self.csrf_token}


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise HTTPException(401, "malformed Authorization header", headers={"WWW-Authenticate": "Bearer"})
    return value.strip()


def _unauthorized(reason: str) -> HTTPException:
    return HTTPException(401, reason, headers={"WWW-Authenticate": "Bearer"})


def lookup_principal(request: Request) -> Principal | None:
    """The caller, if any credentials were presented and are valid; raises 401 for bad ones."""
    st = state_of(request)
    token = _bearer(request)
    with st.db.reading() as s:
        if token is not None:
            if token.startswith(accounts.AGENT_TOKEN_PREFIX):
                raise _unauthorized("agent tokens may only post reports")
            row = accounts.live_api_token(s, token)
            if row is None:
                raise _unauthorized("invalid or expired API token")
            scope = build_scope(s, row.org_id)
            request.state.org_terms = scope.terms
            return Principal(
                "token",
                f"token:{row.name}",
                row.role,
                token_id=row.id,
                rate_key=f"t:{row.token_hash}",
                org_id=row.org_id,
                scope=scope,
            )
        cookie = request.cookies.get(session_cookie_name(st.settings.secure_cookies))
        if not cookie:
            return None
        found = accounts.live_session(s, cookie)
        if found is None:
            return None
        ws, user = found
        scope = build_scope(s, user.org_id)
        request.state.org_terms = scope.terms
        return Principal(
            "session",
            user.username,
            user.role,
            user_id=user.id,
            csrf_token=ws.csrf_token,
            rate_key=f"s:{ws.session_hash}",
            org_id=user.org_id,
            scope=scope,
        )


def optional_principal(request: Request) -> Principal | None:
    return lookup_principal(request)


async def _csrf_submitted(request: Request) -> str | None:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    ctype = request.headers.get("content-type", "")
    if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


async def require_user(
    request: Request, principal: Annotated[Principal | None, Depends(optional_principal)]
) -> Principal:
    """Any authenticated user or API token (viewer or admin); CSRF-checked and rate-limited."""
    if principal is None:
        raise _unauthorized("authentication required")
    state_of(request).user_limiter.check(principal.rate_key)
    if principal.kind == "session" and request.method in UNSAFE_METHODS:
        submitted = await _csrf_submitted(request)
        if (
            not submitted
            or not principal.csrf_token
            or not hmac.compare_digest(submitted, principal.csrf_token)
        ):
            raise HTTPException(403, "missing or wrong CSRF token")
    return principal


async def require_admin(principal: Annotated[Principal, Depends(require_user)]) -> Principal:
    if not principal.is_admin:
        raise HTTPException(403, "this action needs the admin role")
    return principal


def caller_scope(principal: Annotated[Principal, Depends(require_user)]) -> OrgScope:
    """The organisations the authenticated caller may read and change."""
    return principal.scope


def writable_host(db: Session, principal: Principal, host_id: int) -> None:
    """404, as for an unknown host, unless host `host_id` is one the caller may change: of its
    own organisation (a member's host shared with it is read-only, and saying it exists would
    tell what another organisation has)."""
    if not 1 <= host_id <= MAX_ID or not host_in_scope(db, host_id, ids=principal.scope.writable):
        raise HTTPException(404, "host not found")


def own_user(request: Request, principal: Principal, user_id: int) -> None:
    """404, as for an unknown user, unless user `user_id` is of the caller's organisation."""
    with state_of(request).db.reading() as s:
        if user_in(s, user_id, orgs=principal.scope) is None:
            raise HTTPException(404, "user not found")


@dataclass(frozen=True)
class AgentIdentity:
    host_id: int
    token_id: int
    token_hash: str


def _agent_lookup(st: ServerState, digest: str) -> tuple[int, int] | None:
    with st.db.reading() as s:
        return accounts.live_agent_token(s, digest)


async def require_agent(request: Request) -> AgentIdentity:
    """The enrolled host behind a Bearer agent token; rate-limited per token."""
    token = _bearer(request)
    if token is None:
        raise _unauthorized("agent token required")
    digest = accounts.token_digest(token)
    st = state_of(request)
    found = st.agent_tokens.get(digest)
    if found is None:
        found = await run_in_threadpool(_agent_lookup, st, digest)
        if found is None:
            raise _unauthorized("invalid or revoked agent token")
        st.agent_tokens.put(digest, *found)
    st.agent_limiter.check(f"a:{digest}")
    return AgentIdentity(host_id=found[1], token_id=found[0], token_hash=digest)


async def require_agent_or_user(request: Request) -> str:
    """An enrolled agent (its Bearer agent token) or any authenticated user: who may read what
    the server hosts for its agents (the catalog repository). Returns who, for the logs."""
    token = _bearer(request)
    if token is not None and token.startswith(accounts.AGENT_TOKEN_PREFIX):
        agent = await require_agent(request)
        return f"agent:{agent.host_id}"
    principal = await run_in_threadpool(lookup_principal, request)
    user = await require_user(request, principal)
    return user.name


def limit_anonymous(request: Request) -> None:
    """Rate-limit unauthenticated endpoints (enrolment, login) per client address."""
    state_of(request).anon_limiter.check(f"ip:{client_addr(request)}")


# ---------------------------------------------------------------- parameters


def choice(value: str | None, allowed: Iterable[str], name: str) -> str | None:
    """`value` if it is one of `allowed`, None if empty (a form's blank field); otherwise a
    validation error on the query parameter `name` (422 from the API, 400 from a page)."""
    if value is None or value == "":
        return None
    allowed = tuple(allowed)
    if value not in allowed:
        raise RequestValidationError(
            [
                {
                    "loc": ("query", name),
                    "msg": f"unknown {name} {value!r}: one of {', '.join(allowed)}",
                    "type": "enum",
                }
            ]
        )
    return value


def text(value: str | None) -> str | None:
    """A free-text parameter, stripped (None if empty); 400 for control characters."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if any(ord(c) < 32 or c == "\x7f" for c in value):
        raise HTTPException(400, "parameters must not contain control characters")
    return value


def role_param(request: Request, role: str | None) -> str:
    """A role the catalog knows (400 otherwise), default the caller's organisation's, else the
    server's."""
    own_role, _ = getattr(request.state, "org_terms", (None, None))
    return choice(role, CATALOG_ROLES, "role") or own_role or state_of(request).settings.role


def pack_param(request: Request, pack: str | None) -> PackScope | None:
    """A pack of the server's catalog (400 from a page, 422 from the API otherwise), as the
    findings it holds; None when not given."""
    catalog = state_of(request).catalog
    wanted = choice(pack, [p.id for p in catalog.packs], "pack")
    return pack_scope(catalog, wanted) if wanted else None


PACK_HELP = "a pack of the server's catalog (`GET /api/v1/packs`): only its findings"
PackQuery = Annotated[str | None, Query(max_length=64, description=PACK_HELP)]


def yes(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "yes", "on")


def page_params(
    request: Request,
    limit: Annotated[int | None, Query(ge=1, description="page size (capped by the server)")] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    cursor: Annotated[
        str | None, Query(max_length=64, description="next_cursor of the previous page")
    ] = None,
) -> PageParams:
    """A page: `limit` rows (the server's default, capped by its maximum) from `offset`, or
    after the row a `cursor` names."""
    settings = state_of(request).settings
    size = min(limit or settings.page_default, settings.page_max)
    after_id = None
    if cursor:
        try:
            after_id = decode_cursor(cursor)
        except ValueError:
            raise HTTPException(400, "invalid cursor") from None
    return PageParams(limit=size, offset=offset, after_id=after_id)


def host_filter(
    request: Request,
    verdict: Annotated[str | None, Query(max_length=32, json_schema_extra={"enum": list(VERDICTS)})] = None,
    product: Annotated[str | None, Query(max_length=200)] = None,
    os: Annotated[str | None, Query(max_length=64, description="the platform; `unknown`: none sent")] = None,
    state: Annotated[str | None, Query(max_length=32, json_schema_extra={"enum": list(STATES)})] = None,
    overdue: Annotated[str | None, Query(max_length=8, description="1: with an overdue obligation")] = None,
    search: Annotated[str | None, Query(max_length=200, description="part of the name or identifier")] = None,
    q: Annotated[str | None, Query(max_length=200, description="the same as `search`")] = None,
    site: Annotated[str | None, Query(max_length=sites.MAX_SITE)] = None,
    tag: Annotated[str | None, Query(max_length=sites.MAX_TAG)] = None,
    catalog: Annotated[
        str | None,
        Query(
            max_length=16,
            description="`outdated`: whose latest result was judged by a catalog older than the "
            "server's current one (`GET /api/v1/catalog`)",
            json_schema_extra={"enum": [OUTDATED]},
        ),
    ] = None,
    pack: Annotated[
        str | None,
        Query(
            max_length=64,
            description="a pack of the server's catalog (`GET /api/v1/packs`): with a present "
            "finding of one of its products (and `verdict`, `state`, `overdue` of those)",
        ),
    ] = None,
) -> HostFilter:
    """The host filter of the API's host list, the dashboard's host list and its exports."""
    wanted = choice(catalog, (OUTDATED,), "catalog")
    return HostFilter(
        catalog=wanted,
        current_catalog=state_of(request).current_catalog().version if wanted else "",
        verdict=choice(verdict, VERDICTS, "verdict"),
        product=text(product),
        os=text(os),
        state=choice(state, STATES, "state"),
        overdue=yes(overdue),
        search=text(q) or text(search),
        site=text(site),
        tag=text(tag),
        pack=pack_param(request, pack),
    )


UserDep = Annotated[Principal, Depends(require_user)]
AdminDep = Annotated[Principal, Depends(require_admin)]
AgentDep = Annotated[AgentIdentity, Depends(require_agent)]
AgentOrUserDep = Annotated[str, Depends(require_agent_or_user)]
ReadDB = Annotated[Session, Depends(read_db)]
WriteDB = Annotated[Session, Depends(write_db)]
PagingDep = Annotated[PageParams, Depends(page_params)]
HostFilterDep = Annotated[HostFilter, Depends(host_filter)]


def _caller_policy(request: Request, _: Annotated[Principal, Depends(require_user)]) -> Policy:
    """`server_policy` once the caller is known (its organisation's terms)."""
    return policy_of(request)


PolicyDep = Annotated[Policy, Depends(_caller_policy)]
ScopeDep = Annotated[OrgScope, Depends(caller_scope)]
