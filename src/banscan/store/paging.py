"""Pages of rows for the API and the dashboard: offset or keyset (cursor) paging, and the small
conversions every read model shares (ISO timestamps, LIKE patterns, dates as SQL returns them)."""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

MAX_ID = 2**31 - 1  # integer keys are 32-bit on PostgreSQL


@dataclass
class Page:
    items: list[dict[str, Any]]
    total: int
    limit: int
    offset: int
    next_cursor: str | None = None
    filters: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "items": self.items,
            "total": self.total,
            "limit": self.limit,
            "offset": self.offset,
            "next_cursor": self.next_cursor,
        }


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The id after which the next page starts; ValueError for anything not made by encode_cursor."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        raise ValueError("invalid cursor") from None
    if not text.startswith("id:") or not text[3:].isdigit() or len(text) > 13:
        raise ValueError("invalid cursor")
    value = int(text[3:])
    if value >= 2**31:
        raise ValueError("invalid cursor")
    return value


def iso(t: dt.datetime | None) -> str | None:
    return t.isoformat() if t else None


def like_pattern(value: str) -> str:
    """`%value%` for LIKE … ESCAPE '\\', with the wildcards of `value` taken literally."""
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def as_date(value: Any) -> dt.date:
    """A date from what a DATE or TIMESTAMP column returns (SQLite returns text for func.date)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def count(session: Session, stmt: Any) -> int:
    """Rows a select would return."""
    return int(session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0)


def page_rows(
    session: Session,
    stmt: Any,
    id_col: Any,
    *,
    limit: int,
    offset: int,
    after_id: int | None,
) -> tuple[list[Any], int, str | None]:
    """One page of `stmt` in `id_col` order, its total, and the cursor of the next page (when
    there is one). With `after_id` (a decoded cursor) the page starts after that id instead of
    at `offset`: keyset paging stays fast deep into millions of rows."""
    total = count(session, stmt)
    stmt = stmt.order_by(id_col)
    stmt = stmt.where(id_col > after_id) if after_id is not None else stmt.offset(offset)
    rows = list(session.execute(stmt.limit(limit + 1)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(rows[-1][0].id) if more and rows else None
    return rows, total, next_cursor
