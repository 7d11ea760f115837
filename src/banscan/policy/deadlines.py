"""What a finding's obligations ask next, and what is already late, in one place.

Every output (table, CSV, SARIF, reports, plans, the dashboard) says the same thing: a deadline
that has passed is `overdue` — with the date it fell due and how many days ago — and is never
shown as the "next deadline"; the next deadline is the earliest one still ahead.
"""

from __future__ import annotations

from dataclasses import dataclass

from banscan.models import Finding, Obligation

# Statuses that still ask something by a date.
OPEN = frozenset({"required", "due"})


@dataclass(frozen=True, slots=True)
class DeadlineSummary:
    next_deadline: str | None  # earliest deadline still ahead (ISO date)
    overdue_since: str | None  # earliest deadline that passed and is still owed (ISO date)
    days_overdue: int | None  # days since overdue_since, as of the evaluation date
    overdue: tuple[Obligation, ...] = ()

    @property
    def state(self) -> str | None:
        """overdue | due | None."""
        if self.overdue_since:
            return "overdue"
        return "due" if self.next_deadline else None

    def text(self) -> str:
        """ "overdue since 2024-11-14 (18 days)", "2024-12-05", or ""."""
        if self.overdue_since:
            days = (
                f" ({self.days_overdue} day{'s' if self.days_overdue != 1 else ''})"
                if self.days_overdue
                else ""
            )
            return f"overdue since {self.overdue_since}{days}"
        return self.next_deadline or ""


def summarize(obligations: list[Obligation]) -> DeadlineSummary:
    late = sorted(
        (o for o in obligations if o.status == "overdue" and o.deadline), key=lambda o: o.deadline or ""
    )
    ahead = sorted(o.deadline for o in obligations if o.status in OPEN and o.deadline)
    return DeadlineSummary(
        next_deadline=ahead[0] if ahead else None,
        overdue_since=late[0].deadline if late else None,
        days_overdue=max((o.days_overdue or 0 for o in late), default=0) or None,
        overdue=tuple(late),
    )


def of(f: Finding) -> DeadlineSummary:
    return summarize(f.obligations)
