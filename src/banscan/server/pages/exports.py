"""The dashboard's CSV and JSON downloads, streamed a batch at a time so a million rows never
sit in memory; every CSV cell goes through the one formula guard (`output.csv.safe_cell`)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

from fastapi.responses import StreamingResponse

from banscan.output.csv import safe_cell

MAX_EXPORT_ROWS = 1_000_000
EXPORT_BATCH = 1000


def csv_cell(value: Any) -> str:
    """A CSV cell: empty for None, true/false for booleans, formulas guarded (output.csv.safe_cell)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return safe_cell(str(value))


def csv_response(name: str, header: list[str], rows: Iterator[list[Any]]) -> StreamingResponse:
    return StreamingResponse(
        _csv_body(header, rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )


def _csv_body(header: list[str], rows: Iterator[list[Any]]) -> Iterator[bytes]:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(header)
    for count, row in enumerate(rows, 1):
        writer.writerow([csv_cell(v) for v in row])
        if count % 500 == 0:
            yield buf.getvalue().encode("utf-8")
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue().encode("utf-8")


def json_response(name: str, filters: dict[str, Any], items: Iterator[dict[str, Any]]) -> StreamingResponse:
    def body() -> Iterator[bytes]:
        yield b'{"filters":' + json.dumps(filters, ensure_ascii=True).encode() + b',"items":['
        n = 0
        for item in items:
            yield (b"," if n else b"") + json.dumps(item, ensure_ascii=True, separators=(",", ":")).encode()
            n += 1
        yield b'],"count":' + str(n).encode() + b"}"

    return StreamingResponse(
        body(),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )


# ---------------------------------------------------------------- overview
