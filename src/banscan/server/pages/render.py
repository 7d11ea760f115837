"""How every dashboard page is drawn and fails: the Jinja templates, the page response, the
route class that adds the security headers and turns errors into pages (a 401 into the login
page), and the pager links of long lists."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup
from starlette.exceptions import HTTPException as StarletteHTTPException

from banscan.server.deps import Principal
from banscan.server.explainer import category_label
from banscan.server.limits import PageParams
from banscan.server.security import with_security_headers
from banscan.server.state import SafeJSONResponse
from banscan.text import show_bidi

SERVER = Path(__file__).resolve().parent.parent
TEMPLATES = SERVER / "templates"
STATIC = SERVER / "static"
EXPORT_SUFFIXES = (".csv", ".json")  # paths answered with data, and with data errors


def _env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=StrictUndefined,
        finalize=_shown,
    )
    env.globals["category_label"] = category_label
    env.filters["day"] = _day
    env.filters["when"] = _when
    return env


def _shown(value: Any) -> Any:
    """Every value a template prints, with bidirectional controls written out (`banscan.text`):
    host names, product names and evidence come from scanned machines."""
    if isinstance(value, Markup):
        return Markup(show_bidi(str(value)))
    if isinstance(value, str):
        return show_bidi(value)
    return value


def _day(value: Any) -> str:
    if not value:
        return ""
    return str(value)[:10]


def _when(value: Any) -> str:
    if not value:
        return ""
    text = str(value).replace("T", " ")
    return text[:16] + " UTC" if len(text) >= 16 else text


_ENV: Environment | None = None


def env() -> Environment:
    global _ENV
    if _ENV is None:
        _ENV = _env()
    return _ENV


def render(request: Request, template: str, /, status_code: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("principal", None)
    context.setdefault("title", "")
    context.setdefault("nav", "")
    context["path"] = request.url.path
    html = env().get_template(template).render(**context)
    return HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store"})


def page(request: Request, principal: Principal, template: str, /, **context: Any) -> HTMLResponse:
    """A page for a logged-in user."""
    return render(request, template, principal=principal, **context)


def _next_target(request: Request) -> str:
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    return target


def _error(request: Request, status: int, detail: Any, headers: dict[str, str] | None = None) -> Response:
    headers = {k: v for k, v in (headers or {}).items() if k.lower() != "www-authenticate"}
    if status == 401 and request.method == "GET" and not request.url.path.endswith(EXPORT_SUFFIXES):
        return RedirectResponse("/login?" + urlencode({"next": _next_target(request)}), status_code=303)
    if request.url.path.endswith(EXPORT_SUFFIXES):
        return SafeJSONResponse({"detail": detail}, status_code=status, headers=headers)
    message = detail if isinstance(detail, str) else json.dumps(detail, ensure_ascii=False)[:2000]
    response = render(request, "error.html.j2", status_code=status, status=status, message=message)
    for k, v in headers.items():
        response.headers[k] = v
    return response


class DashboardRoute(APIRoute):
    """Adds the security headers; turns errors into HTML pages and a 401 into the login page."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                response = await original(request)
            except StarletteHTTPException as exc:
                response = _error(request, exc.status_code, exc.detail, dict(exc.headers or {}))
            except RequestValidationError as exc:
                problems = "; ".join(
                    f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}"
                    for e in exc.errors()[:5]
                )
                response = _error(request, 400, f"invalid request: {problems}")
            return with_security_headers(response)

        return handler


def page_router() -> APIRouter:
    """A router whose routes draw pages (each page module has one)."""
    return APIRouter(route_class=DashboardRoute, include_in_schema=False)


# ---------------------------------------------------------------- parameters


def qs(base: dict[str, str], **changes: Any) -> str:
    merged = dict(base)
    for k, v in changes.items():
        if v is None or v == "":
            merged.pop(k, None)
        else:
            merged[k] = str(v)
    return urlencode(merged)


def pager(path: str, params: dict[str, str], page: PageParams, total: int) -> dict[str, Any]:
    base = dict(params)
    if page.limit != 50:
        base["limit"] = str(page.limit)
    prev_offset = max(0, page.offset - page.limit) if page.offset > 0 else None
    next_offset = page.offset + page.limit if page.offset + page.limit < total else None
    return {
        "total": total,
        "first": page.offset + 1 if total else 0,
        "last": min(total, page.offset + page.limit),
        "prev": f"{path}?{qs(base, offset=prev_offset)}" if prev_offset is not None else None,
        "next": f"{path}?{qs(base, offset=next_offset)}" if next_offset is not None else None,
    }


# ---------------------------------------------------------------- CSV and JSON exports
