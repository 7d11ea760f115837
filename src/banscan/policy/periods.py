"""How a duty's period and its jurisdictions read: one wording for reports, plans and the
explainer, so an amended period (FAR 52.204-23's first report went from 1 to 3 business days) is
told the same everywhere."""

from __future__ import annotations

import itertools

from banscan.catalog.schema import ObligationRule


def _days(business: int | None, calendar: int | None) -> str:
    if business is not None:
        return f"{business} US business day{'' if business == 1 else 's'}"
    if calendar is not None:
        return f"{calendar} calendar day{'' if calendar == 1 else 's'}"
    return ""


def period_text(rule: ObligationRule) -> str:
    """ "3 US business days from identification (1 US business day for items identified before
    2023-12-04)"; "" for a duty with no period counted from identification."""
    periods = [(rule.effective, rule.due_business_days, rule.due_calendar_days)]
    periods += [(a.effective, a.due_business_days, a.due_calendar_days) for a in rule.amendments]
    _, business, calendar = periods[-1]
    text = _days(business, calendar)
    if not text:
        return ""
    text += " from identification"
    earlier = [
        f"{_days(b, c)} for items identified before {until.isoformat()}"
        for (_, b, c), (until, _, _) in itertools.pairwise(periods)
    ]
    return f"{text} ({'; '.join(reversed(earlier))})" if earlier else text


def where_text(jurisdictions: list[str]) -> str:
    """ "the US", "the US and US-TX": where a rule applies, as a sentence says it."""
    return " and ".join("the US" if j == "US" else j for j in jurisdictions)
