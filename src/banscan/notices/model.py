"""What a notice holds, apart from how it reads: the dashboard shows these values, the email
renders them (`render`), and the store keeps the ids and dates a notice named."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from banscan.models import ObligationStatus


class NoticeError(ValueError):
    """A notice that cannot be composed as asked (unknown pack or role, nothing binds the member,
    a link that is not http(s)); the message says which."""


@dataclass(frozen=True, slots=True)
class NoticeDeadline:
    """One dated obligation of a regulation for the member's role, with its status as of the
    notice's date. `deadline` is a fixed date the rule sets; a duty counted from the day an item is
    identified has `period` instead ("3 US business days from identification")."""

    regulation: str
    obligation: str
    kind: str  # prohibition | action | reporting | advisory
    status: ObligationStatus
    action: str
    effective: dt.date
    deadline: dt.date | None = None
    period: str = ""
    days_overdue: int | None = None
    ends: dt.date | None = None


@dataclass(frozen=True, slots=True)
class NoticeRegulation:
    id: str
    short: str
    title: str
    citation: str
    authority: str
    jurisdiction: str
    pack: str
    covers: tuple[str, ...]  # names of the entities it covers
    exemptions: tuple[str, ...]
    deadlines: tuple[NoticeDeadline, ...]
    source_url: str | None  # the first of its sources with an http(s) address


@dataclass(frozen=True, slots=True)
class NoticePack:
    id: str
    title: str
    description: str
    last_permitted_update: dt.date | None  # from this day its products may get no updates


@dataclass(frozen=True, slots=True)
class NoticeAlternative:
    id: str
    name: str
    vendor: str
    builtin: bool
    platforms: tuple[str, ...]  # labels: "Windows", "macOS"
    categories: tuple[str, ...]  # labels: "Endpoint protection"
    note: str | None


@dataclass(frozen=True, slots=True)
class NoticeContent:
    """Everything a notice says, from the catalog and the coordinator's words."""

    coordinator: str
    member: str
    role: str
    role_label: str  # "State agencies"
    jurisdiction: str  # ISO 3166-2: US, US-TX
    as_of: dt.date
    explainer_url: str
    extra: str  # the coordinator's own words, paragraphs separated by blank lines
    catalog_version: str
    packs: tuple[NoticePack, ...]
    regulations: tuple[NoticeRegulation, ...]
    alternatives: tuple[NoticeAlternative, ...]


@dataclass(frozen=True, slots=True)
class Notice:
    """A composed notice: subject, plain-text and HTML bodies (without an acknowledgement link:
    each recipient's link is added when it is sent, `render.bodies`), and the regulation ids and
    dated obligations it names."""

    subject: str
    text: str
    html: str
    regulations: tuple[str, ...]
    deadlines: tuple[NoticeDeadline, ...]
    content: NoticeContent = field(repr=False, compare=False)
