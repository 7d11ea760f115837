"""US business days, for deadlines such as FAR 52.204-23's "within 3 business days"."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache


@lru_cache(maxsize=64)
def _federal_holidays(year: int) -> frozenset[dt.date]:
    import holidays  # imported on first use: most scans never count business days

    return frozenset(holidays.country_holidays("US", years=year).keys())


def is_business_day(day: dt.date) -> bool:
    return day.weekday() < 5 and day not in _federal_holidays(day.year)


def add_business_days(start: dt.date, days: int) -> dt.date:
    """The date `days` business days after `start` (the start day itself does not count)."""
    cur = start
    left = days
    while left > 0:
        cur += dt.timedelta(days=1)
        if is_business_day(cur):
            left -= 1
    return cur


def parse_date(value: str | None) -> dt.date | None:
    """The date an ISO date or date-time string starts with; None for empty or malformed text."""
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        return None
