"""An uploaded inventory, from the API and from the dashboard's form alike: kept in a temporary
file within the size limit, scanned as `banscan scan FILE` would, and stored one result per host.
Refusals are HTTP errors whose detail both callers show."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import tempfile
from pathlib import Path
from typing import Any

from fastapi import HTTPException, Request, UploadFile
from starlette.concurrency import run_in_threadpool

from banscan.models import ScanResult
from banscan.server.deps import Principal, client_addr, state_of
from banscan.store import sites
from banscan.store.imports import ingest_import
from banscan.text import has_bidi

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_log = logging.getLogger("banscan.server")


async def receive_import(
    request: Request,
    principal: Principal,
    file: UploadFile,
    fmt: str | None,
    host: str | None,
    site: str | None,
) -> dict[str, Any]:
    """`{"hosts": [...], "targets": [...]}` for an upload; HTTPException 413 over the size limit,
    400 when empty, 422 for a bad site or host name or when nothing could be read (detail: reason
    and errors)."""
    try:
        clean_site = sites.clean_site(site or "")
    except ValueError as exc:
        raise HTTPException(422, f"site: {exc}") from None
    if host and (any(ord(c) < 32 or c == "\x7f" for c in host) or has_bidi(host)):
        raise HTTPException(422, "host: must not contain control or bidirectional control characters")
    st = state_of(request)
    limit = st.settings.max_import_bytes
    name = _SAFE_NAME.sub("_", Path(file.filename or "upload").name)[-100:] or "upload"
    shown = file.filename or name
    with tempfile.TemporaryDirectory(prefix="banscan-import-") as tmp:
        path = Path(tmp) / name
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
        try:
            result = await run_in_threadpool(_scan, request, path, fmt, host)
        except Exception as exc:  # noqa: BLE001 - a reader failure is the upload's fault, not a 500
            from banscan.errors import unexpected

            _log.exception("import of %s failed", shown)
            line = f"{shown}: {unexpected(exc)}".replace(str(path), shown)
            raise HTTPException(
                422, {"reason": "nothing could be read from the upload", "errors": [line]}
            ) from None
    targets = [t.to_json() for t in result.targets]
    for t in targets:  # do not echo the server's temporary path
        t["target"] = shown
        t["errors"] = [e.replace(str(path), shown) for e in t["errors"]]
    if not any(t["records"] for t in targets):
        errors = [e for t in targets for e in t["errors"]] or [
            "no inventory records were read from this file"
        ]
        raise HTTPException(422, {"reason": "nothing could be read from the upload", "errors": errors[:20]})
    hosts = await run_in_threadpool(
        ingest_import,
        st.db,
        result,
        actor=principal.name,
        remote_addr=client_addr(request),
        filename=shown,
        sha256=digest.hexdigest(),
        site=clean_site,
    )
    return {"hosts": hosts, "targets": targets}


def _scan(request: Request, path: Path, fmt: str | None, host: str | None) -> ScanResult:
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
