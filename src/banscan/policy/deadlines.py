"""What a finding's obligations ask next, and what is already late, in one place.

Every output (table, CSV, SARIF, reports, plans, the dashboard) says the same thing: a deadline
that has passed is `overdue` — with the date it fell due and how many days ago — and is never
shown as the "next deadline"; the next deadline is the earliest one still ahead. The words are
built here alone (`overdue_text`, `days_text`); which statuses count is `ObligationStatus`'s.
"""

from __future__ import annotations

from dataclasses import dataclass

from banscan.models import Finding, Obligation, ObligationStatus


def days_text(days: int) -> str:
    """ "1 day", "18 days"."""
    return f"{days} day{'' if days == 1 else 's'}"


def overdue_text(since: str, days: int | None, *, label: str = "overdue") -> str:
    """ "overdue since 2024-11-14 (18 days)", "overdue since 2024-11-14 (1 day)"; without the count
    when it is unknown or 0. `label` replaces the word "overdue" (Markdown makes it bold)."""
    count = f" ({days_text(days)})" if days else ""
    return f"{label} since {since}{count}"


@dataclass(frozen=True, slots=True)
class DeadlineSummary:
    next_deadline: str | None  # earliest deadline still ahead (ISO date)
    overdue_since: str | None  # earliest deadline that passed and is still owed (ISO date)
    days_overdue: int | None  # days since overdue_since, as of the evaluation date
    overdue: tuple[Obligation, ...] = ()

    @property
    def state(self) -> ObligationStatus | None:
        """overdue | due | None."""
        if self.overdue_since:
            return ObligationStatus.OVERDUE
        return ObligationStatus.DUE if self.next_deadline else None

    def text(self) -> str:
        """ "overdue since 2024-11-14 (18 days)", "2024-12-05", or ""."""
        if self.overdue_since:
            return overdue_text(self.overdue_since, self.days_overdue)
        return self.next_deadline or ""


def summarize(obligations: list[Obligation]) -> DeadlineSummary:
    late = sorted((o for o in obligations if o.status.overdue and o.deadline), key=lambda o: o.deadline or "")
    ahead = sorted(o.deadline for o in obligations if o.status.is_pending and o.deadline)
    return DeadlineSummary(
        next_deadline=ahead[0] if ahead else None,
        overdue_since=late[0].deadline if late else None,
        days_overdue=max((o.days_overdue or 0 for o in late), default=0) or None,
        overdue=tuple(late),
    )


def of(f: Finding) -> DeadlineSummary:
    return summarize(f.obligations)
