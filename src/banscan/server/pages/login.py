"""The login page and the static files (both public)."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import HTTPException, Query, Request, Response
from fastapi.responses import RedirectResponse

from banscan.server.deps import lookup_principal, state_of
from banscan.server.pages.render import STATIC, page_router, render
from banscan.server.security import issue_login_csrf, safe_next

router = page_router()

_STATIC_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,80}\.(css|svg|js|ico|png)$")
_TYPES = {
    "css": "text/css; charset=utf-8",
    "svg": "image/svg+xml",
    "js": "text/javascript; charset=utf-8",
    "ico": "image/x-icon",
    "png": "image/png",
}


@router.get("/static/{name}")
def static_file(name: str) -> Response:
    m = _STATIC_NAME.match(name)
    path = STATIC / name
    if m is None or ".." in name or not path.is_file():
        raise HTTPException(404, "not found")
    return Response(
        path.read_bytes(), media_type=_TYPES[m.group(1)], headers={"Cache-Control": "public, max-age=3600"}
    )


@router.get("/login")
def login_page(
    request: Request,
    next: Annotated[str | None, Query(max_length=2000)] = None,
    error: Annotated[str | None, Query(max_length=8)] = None,
) -> Response:
    target = safe_next(next)
    try:
        principal = lookup_principal(request)
    except HTTPException:
        principal = None
    if principal is not None and principal.kind == "session":
        return RedirectResponse(target, status_code=303)
    secure = state_of(request).settings.secure_cookies
    carrier = Response()
    token = issue_login_csrf(carrier, secure=secure)
    response = render(
        request, "login.html.j2", title="Log in", csrf_token=token, next=target, error=bool(error)
    )
    for k, v in carrier.raw_headers:
        if k == b"set-cookie":
            response.raw_headers.append((k, v))
    return response
