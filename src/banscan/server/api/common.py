"""Field types and validators the API's request bodies share."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import Path, Query

from banscan.store import sites
from banscan.store.paging import MAX_ID
from banscan.text import has_bidi

RowId = Annotated[int, Path(ge=1, le=MAX_ID)]


def no_control(value: str) -> str:
    if any(ord(c) < 32 or c == "\x7f" for c in value):
        raise ValueError("must not contain control characters")
    if has_bidi(value):
        raise ValueError("must not contain bidirectional control characters (such as U+202E)")
    return value


def site_or_none(value: str | None) -> str | None:
    return None if value is None else sites.clean_site(value)


def tags_or_none(value: list[str] | None) -> list[str] | None:
    return None if value is None else sites.clean_tags(value)


RoleParam = Annotated[str | None, Query(max_length=32, description="default: the server's role")]
AsOfParam = Annotated[
    dt.date | None, Query(description="evaluate obligations as of this day (default today)")
]
