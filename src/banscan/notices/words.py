"""The words both parts of a notice share: how a duty's status and date read, and the cleaning of
what people type (names, the coordinator's paragraph, links) before it reaches a mail client."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from banscan.models import ObligationStatus
from banscan.notices.model import NoticeDeadline, NoticeError
from banscan.policy.deadlines import overdue_text
from banscan.text import show_bidi

# C0 and C1 controls, DEL and the Unicode line separators: a name stays one line, and text shown
# in a terminal mail client cannot carry escape sequences.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")

STATUS_LABELS = {
    ObligationStatus.OVERDUE: "Overdue",
    ObligationStatus.DUE: "Report",
    ObligationStatus.REQUIRED: "Required",
    ObligationStatus.PROHIBITED: "Prohibited",
    ObligationStatus.ADVISORY: "Advised",
    ObligationStatus.NOT_YET_IN_FORCE: "Upcoming",
    ObligationStatus.EXEMPT: "Exempt",
    ObligationStatus.ENDED: "Ended",
}


def clean_line(text: str) -> str:
    """One line: controls become spaces, runs of space one, bidirectional controls spelled out."""
    return show_bidi(" ".join(_CONTROLS.sub(" ", text).split()))


def clean_paragraphs(text: str) -> str:
    """Paragraphs separated by one blank line, each cleaned to one line (mail clients wrap them)."""
    paragraphs = re.split(r"\n\s*\n", text.replace("\r\n", "\n").replace("\r", "\n"))
    return "\n\n".join(p for p in (clean_line(x) for x in paragraphs) if p)


def http_url(value: str, what: str) -> str:
    """`value` when it is an http(s) address without spaces or controls; NoticeError otherwise (a
    javascript: or data: link must never reach an email)."""
    url = value.strip()
    parts = urlsplit(url)
    if (
        parts.scheme.lower() not in ("http", "https")
        or not parts.netloc
        or re.search(r"[\s\x00-\x1f\x7f]", url)
    ):
        raise NoticeError(f"{what} must be an http(s) address, not {clean_line(value)!r}")
    return url


def when_text(d: NoticeDeadline) -> str:
    """ "Prohibited since 2022-12-07", "Report within 3 US business days from identification",
    "Overdue since 2023-02-15 (1134 days)", "Upcoming from 2031-03-01, within 1 US business day …"."""
    label = STATUS_LABELS.get(d.status, str(d.status).capitalize())
    due = f"by {d.deadline.isoformat()}" if d.deadline else (f"within {d.period}" if d.period else "")
    if d.status is ObligationStatus.OVERDUE and d.deadline:
        return overdue_text(d.deadline.isoformat(), d.days_overdue, label=label)
    if d.status is ObligationStatus.NOT_YET_IN_FORCE:
        return f"{label} from {d.effective.isoformat()}" + (f", {due}" if due else "")
    if d.status is ObligationStatus.ENDED and d.ends:
        return f"{label} on {d.ends.isoformat()}"
    if d.status in (ObligationStatus.REQUIRED, ObligationStatus.DUE) and due:
        return f"{label} {due}"
    return f"{label} since {d.effective.isoformat()}"
