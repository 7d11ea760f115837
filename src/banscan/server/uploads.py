"""An uploaded inventory, from the API and from the dashboard's form alike: kept in a temporary
file within the size limit, scanned as `banscan scan FILE` would (`--input-format` when a format
is chosen), and stored one result per host — or, for a preview, only read and shown. Refusals
are HTTP errors whose detail both callers show."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import itertools
import logging
import re
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import HTTPException, Request, UploadFile
from starlette.concurrency import run_in_threadpool

from banscan.models import ScanResult
from banscan.server.deps import Principal, client_addr, policy_of, state_of
from banscan.store import sites
from banscan.store.imports import ingest_import
from banscan.text import has_bidi

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_log = logging.getLogger("banscan.server")

PREVIEW_RECORDS = 20  # records a preview lists
PREVIEW_FINDINGS = 200  # findings a preview lists
PREVIEW_HOSTS = 50  # host names a preview lists
PREVIEW_ERRORS = 50  # input errors a preview lists


@functools.cache
def input_formats() -> tuple[str, ...]:
    """The formats the importer reads (`banscan scan --input-format`), in the registry's order."""
    from banscan.inputs.registry import all_readers

    return tuple(r.name for r in all_readers())


def chosen_format(fmt: str | None) -> str | None:
    """The format to read an upload as: None to detect it; HTTPException 400 for a name the
    importer does not know."""
    if fmt is None or not fmt.strip() or fmt.strip() == "auto":
        return None
    name = fmt.strip()
    if name not in input_formats():
        shown = name if len(name) <= 64 and name.isprintable() and not has_bidi(name) else "(unreadable)"
        raise HTTPException(
            400,
            f"unknown format {shown!r}: leave it to auto-detect, or choose one of {', '.join(input_formats())}",
        )
    return name


@dataclass(frozen=True)
class _Upload:
    path: Path  # the temporary copy
    shown: str  # the name the user gave it, used in place of the temporary path
    sha256: str


def _check_host(host: str | None) -> None:
    if host and (any(ord(c) < 32 or c == "\x7f" for c in host) or has_bidi(host)):
        raise HTTPException(422, "host: must not contain control or bidirectional control characters")


@asynccontextmanager
async def _saved(request: Request, file: UploadFile) -> AsyncIterator[_Upload]:
    """The upload in a temporary file (removed afterwards); 413 over the size limit, 400 when empty."""
    limit = state_of(request).settings.max_import_bytes
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
        yield _Upload(path, shown, digest.hexdigest())


def _unexpected(upload: _Upload, exc: Exception) -> HTTPException:
    """A reader failure is the upload's fault, not a 500: 422 with one line naming the file."""
    from banscan.errors import unexpected

    _log.exception("import of %s failed", upload.shown)
    line = f"{upload.shown}: {unexpected(exc)}".replace(str(upload.path), upload.shown)
    return HTTPException(422, {"reason": "nothing could be read from the upload", "errors": [line]})


def _targets(result: ScanResult, upload: _Upload) -> list[dict[str, Any]]:
    """The targets read, without the server's temporary path."""
    targets = [t.to_json() for t in result.targets]
    for t in targets:
        t["target"] = upload.shown
        t["errors"] = [e.replace(str(upload.path), upload.shown) for e in t["errors"]]
    return targets


async def receive_import(
    request: Request,
    principal: Principal,
    file: UploadFile,
    fmt: str | None,
    host: str | None,
    site: str | None,
) -> dict[str, Any]:
    """`{"hosts": [...], "targets": [...]}` for an upload; HTTPException 400 for an unknown
    format, 413 over the size limit, 400 when empty, 422 for a bad site or host name or when
    nothing could be read (detail: reason and errors)."""
    fmt = chosen_format(fmt)
    try:
        clean_site = sites.clean_site(site or "")
    except ValueError as exc:
        raise HTTPException(422, f"site: {exc}") from None
    _check_host(host)
    st = state_of(request)
    async with _saved(request, file) as upload:
        try:
            result = await run_in_threadpool(_scan, request, upload.path, fmt, host)
        except Exception as exc:  # noqa: BLE001 - see _unexpected
            raise _unexpected(upload, exc) from None
    targets = _targets(result, upload)
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
        filename=upload.shown,
        sha256=upload.sha256,
        site=clean_site,
        org_id=principal.org_id,
    )
    return {"hosts": hosts, "targets": targets}


async def preview_import(
    request: Request, file: UploadFile, fmt: str | None, host: str | None
) -> dict[str, Any]:
    """What importing the upload would read and find, storing nothing: the format read, the
    records and hosts read, the first records, the findings and the input errors (one line
    each, naming the file and the place). HTTPException as `receive_import` for a bad format,
    size or host name; an upload nothing could be read from is a preview with its errors."""
    fmt = chosen_format(fmt)
    _check_host(host)
    async with _saved(request, file) as upload:
        try:
            result = await run_in_threadpool(_scan, request, upload.path, fmt, host)
            sample = await run_in_threadpool(_first_records, upload.path, fmt, host)
        except Exception as exc:  # noqa: BLE001 - see _unexpected
            raise _unexpected(upload, exc) from None
    targets = _targets(result, upload)
    errors = [e for t in targets for e in t["errors"]]
    records = sum(t["records"] for t in targets)
    if not records and not errors:
        errors = [f"{upload.shown}: no inventory records were read from this file"]
    findings = sorted(result.findings, key=lambda f: (f.verdict.severity, f.host, f.product_name))
    return {
        "filename": upload.shown,
        "format": ", ".join(dict.fromkeys(t["format"] for t in targets)) or "unknown",
        "forced": fmt is not None,
        "records": records,
        "host_count": len(result.hosts),
        "hosts": list(result.hosts[:PREVIEW_HOSTS]),
        "sample": sample,
        "finding_count": len(findings),
        "findings": [
            {
                "host": f.host,
                "product": f.product,
                "product_name": f.product_name,
                "vendor": f.vendor,
                "version": f.version,
                "verdict": f.verdict.value,
            }
            for f in findings[:PREVIEW_FINDINGS]
        ],
        "error_count": len(errors),
        "errors": errors[:PREVIEW_ERRORS],
    }


def _scan(request: Request, path: Path, fmt: str | None, host: str | None) -> ScanResult:
    from banscan.scan import ScanOptions, run_scan

    st = state_of(request)
    opts = ScanOptions(
        as_of=dt.datetime.now(dt.UTC).date(),
        role=policy_of(request).role,
        jurisdiction=policy_of(request).jurisdiction,
        host=host or None,
        echo_errors=False,
        input_format=fmt or None,
    )
    return run_scan(st.catalog, opts, inputs=[str(path)])


def _first_records(path: Path, fmt: str | None, host: str | None) -> list[dict[str, str | None]]:
    """The first PREVIEW_RECORDS records of the upload, read as the scan reads it (it stops
    reading there; its errors are the scan's, already counted)."""
    from banscan.errors import ErrorSink
    from banscan.inputs.registry import read_target

    _, records = read_target(str(path), ErrorSink(echo=False), input_format=fmt, host=host)
    try:
        return [
            {"host": r.host, "name": r.name, "version": r.version, "publisher": r.publisher}
            for r in itertools.islice(records, PREVIEW_RECORDS)
        ]
    finally:
        close = getattr(records, "close", None)
        if close is not None:
            close()
