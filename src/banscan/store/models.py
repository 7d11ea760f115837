"""Tables of the fleet store (SQLAlchemy 2 declarative). The Alembic migrations create them.

Timestamps are stored as naive UTC and read back as aware UTC datetimes, identically on
SQLite and PostgreSQL. Secrets are never stored: agent tokens, API tokens and session ids are
kept as SHA-256 digests, passwords as argon2 hashes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from banscan.removal import STATES

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ROLES = ("admin", "viewer")
VERDICTS = ("covered", "review", "remnant", "informational", "accepted")
# What an organisation lets its coordinators (its ancestors) see: counts only, or its hosts too.
SHARING = ("aggregates", "hosts")
# The organisation migration 0009 makes: every row from before organisations belongs to it, and
# so does whatever is written without an organisation of its own (the server's own enrol
# secret, the existing commands).
DEFAULT_ORG_ID = 1


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Aware datetimes in, aware UTC datetimes out; stored as naive UTC everywhere."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        return None if value is None else value.replace(tzinfo=dt.UTC)


JSONType = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _org_column(*, nullable: bool = False, index: bool = True) -> Any:
    """The organisation a row belongs to (`banscan.store.orgs`); an organisation that still
    has rows cannot be deleted."""
    if nullable:
        return mapped_column(ForeignKey("organisations.id", ondelete="RESTRICT"), nullable=True, index=index)
    return mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT"), index=index, default=DEFAULT_ORG_ID
    )


class Organisation(Base):
    """A coordinator or one of its members (a state CIO office, an agency, a site; an MSP and
    its clients): a tree through `parent_id`, which `banscan.store.orgs` keeps free of cycles.
    `share_with_coordinators` says what its ancestors may see of it: aggregates only, or its
    hosts too."""

    __tablename__ = "organisations"
    __table_args__ = (
        CheckConstraint(
            "share_with_coordinators IN ({})".format(", ".join(f"'{s}'" for s in SHARING)), name="share"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT"), nullable=True, index=True
    )
    share_with_coordinators: Mapped[str] = mapped_column(String(16), default="aggregates")
    contact: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # What a coordinator's notices are composed for (None: the server's role and jurisdiction),
    # and where they are emailed ("": shown in the dashboard only).
    role: Mapped[str | None] = mapped_column(String(32), nullable=True)
    jurisdiction: Mapped[str | None] = mapped_column(String(8), nullable=True)
    email: Mapped[str] = mapped_column(String(320), default="", server_default="")


@event.listens_for(Organisation.__table__, "after_create")
def _default_organisation(table: Any, connection: Connection, **_: Any) -> None:
    """A schema made from these models (`create_all`) has the default organisation, as one
    made by the migrations has (0009 inserts it)."""
    connection.execute(
        table.insert().values(
            id=DEFAULT_ORG_ID,
            slug="default",
            name="Default organisation",
            share_with_coordinators="aggregates",
            contact="",
            created_at=utcnow(),
        )
    )
    if connection.dialect.name == "postgresql":  # the next organisation made is 2
        connection.execute(text("SELECT setval(pg_get_serial_sequence('organisations', 'id'), 1)"))


class Host(Base):
    """A host, known by an identifier unique within its organisation (the same machine id may
    be enrolled in two organisations and is then two hosts). The unique index on
    (org_id, identifier) is also the index on org_id."""

    __tablename__ = "hosts"
    __table_args__ = (UniqueConstraint("org_id", "identifier", name="uq_hosts_org_identifier"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = _org_column(index=False)
    identifier: Mapped[str] = mapped_column(String(255))
    hostname: Mapped[str] = mapped_column(String(255), index=True)
    platform: Mapped[str] = mapped_column(String(64), default="", index=True)
    # Where the host is (a site, office or data centre); '' when not set. Tags: `HostTag`.
    site: Mapped[str] = mapped_column(String(100), default="", server_default="", index=True)
    # Someone asked this host's agent for a scan now; cleared by the first result generated after.
    scan_requested_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    scan_requested_by: Mapped[str | None] = mapped_column(String(255), nullable=True)
    source: Mapped[str] = mapped_column(String(16), default="agent")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_generated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_report_id: Mapped[int | None] = mapped_column(Integer, nullable=True)

    findings: Mapped[list[Finding]] = relationship(back_populates="host", passive_deletes=True)


class HostTag(Base):
    """One tag of one host (`banscan.store.sites` validates and sets them).

    Tags are rows here rather than a JSON list on `hosts`: the `tag=` filter is then an indexed
    `hosts.id IN (SELECT host_id FROM host_tags WHERE tag = ?)` that SQLite and PostgreSQL run
    alike (JSON containment is spelled differently on each and needs a dialect-specific index),
    tags can be counted with a GROUP BY, and changing a host's tags leaves its row alone.
    """

    __tablename__ = "host_tags"
    __table_args__ = (Index("ix_host_tags_tag_host", "tag", "host_id"),)

    host_id: Mapped[int] = mapped_column(ForeignKey("hosts.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(64), primary_key=True)


class AgentToken(Base):
    """An enrolment: the per-host token an agent presents, kept as its SHA-256 digest."""

    __tablename__ = "agent_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    host_id: Mapped[int] = mapped_column(ForeignKey("hosts.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    remote_addr: Mapped[str] = mapped_column(String(64), default="")
    # When the agent behind this token enrolled: a token rotated by proof of the one before
    # keeps its predecessor's, an approved enrolment starts a new one (`banscan.store.apply`
    # lets a clean scan verify only removals recorded after it).
    enrolled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True, default=utcnow)


class EnrolSecret(Base):
    """A secret agents enrol with, besides the server's own: kept as an argon2 hash and found by
    the public key id it carries (`bse_<key_id>_…`). A scope (site and/or tag) is forced on every
    host enrolled with it; an expired or revoked secret is refused."""

    __tablename__ = "enrol_secrets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Agents enrolling with it land in this organisation.
    org_id: Mapped[int] = _org_column()
    name: Mapped[str] = mapped_column(String(100), unique=True)
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(255))
    site: Mapped[str | None] = mapped_column(String(100), nullable=True)
    tag: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_by: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


ENROLMENT_STATES = ("pending", "approved", "denied", "enrolled")


class Enrolment(Base):
    """An enrolment held for an admin: an agent asked to enrol as a host the server already
    knows without proving it holds that host's token. The agent polls with the pending secret
    it was given (kept as its SHA-256 digest); once approved, its next poll gets the token."""

    __tablename__ = "enrolments"
    __table_args__ = (
        CheckConstraint("state IN ({})".format(", ".join(f"'{s}'" for s in ENROLMENT_STATES)), name="state"),
        Index("ix_enrolments_state_id", "state", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The organisation of the secret it was asked with (that of the host it names).
    org_id: Mapped[int] = _org_column()
    identifier: Mapped[str] = mapped_column(String(255), index=True)
    hostname: Mapped[str] = mapped_column(String(255))
    platform: Mapped[str] = mapped_column(String(64), default="")
    # What enrolling sets on the host (the secret's scope already applied); None: left as is.
    site: Mapped[str | None] = mapped_column(String(100), nullable=True)
    tags: Mapped[Any] = mapped_column(JSONType, nullable=True)
    scope_tag: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # Why it waits: "agent-host" (a host an agent enrolled) or "imported-host".
    reason: Mapped[str] = mapped_column(String(32))
    host_id: Mapped[int | None] = mapped_column(
        ForeignKey("hosts.id", ondelete="SET NULL"), nullable=True, index=True
    )
    secret_id: Mapped[int | None] = mapped_column(
        ForeignKey("enrol_secrets.id", ondelete="SET NULL"), nullable=True
    )
    request_hash: Mapped[str] = mapped_column(String(64), unique=True)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    remote_addr: Mapped[str] = mapped_column(String(64), default="")
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    decided_by: Mapped[str | None] = mapped_column(String(255), nullable=True)
    enrolled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Report(Base):
    """One result as received (raw body kept), keyed for idempotency by the body's digest."""

    __tablename__ = "reports"
    __table_args__ = (
        UniqueConstraint("host_id", "idempotency_key", name="uq_reports_host_key"),
        Index("ix_reports_host_generated", "host_id", "generated_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    host_id: Mapped[int] = mapped_column(ForeignKey("hosts.id", ondelete="CASCADE"))
    idempotency_key: Mapped[str] = mapped_column(String(64))
    generated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    source: Mapped[str] = mapped_column(String(16), default="agent")
    applied: Mapped[bool] = mapped_column(Boolean, default=True)
    findings_count: Mapped[int] = mapped_column(Integer, default=0)
    banscan_version: Mapped[str] = mapped_column(String(64), default="")
    catalog_version: Mapped[str] = mapped_column(String(64), default="")
    # The catalog that judged the result, as its `catalog` member names it: the SHA-256 of its
    # content, where the scanner loaded it from (built-in, installed, path) and whether its
    # publishers' signatures were verified. None: the result did not say (older scanners).
    catalog_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    catalog_source: Mapped[str | None] = mapped_column(String(16), nullable=True)
    catalog_verified: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    body: Mapped[str] = mapped_column(Text)


def _first_identified_default(context: Any) -> dt.date | None:
    """A finding inserted without a first identification was first identified the day it was
    first seen (rows written outside `banscan.store.apply`, such as bench fixtures)."""
    first = context.get_current_parameters().get("first_seen")
    if not isinstance(first, dt.datetime):
        return None
    return (first.astimezone(dt.UTC) if first.tzinfo else first).date()


class Finding(Base):
    """Current state of one product on one host (upserted by every newer report).

    `first_seen` is when this server first received a result showing the product on the host;
    `first_identified` the day it was first identified, which deadlines that run from
    identification count from: the earliest of the days of every result that showed it and the
    `first_identified` those results carried. The row is kept for ever (a product removed and
    found again is a recurrence, not a new finding), so neither ever moves later.

    Two covering indexes serve the estate summary without reading the rows (which carry the
    JSON evidence): `ix_findings_present_product` the counts of present findings per product,
    verdict, category and day first identified (and the overdue condition on those), and
    `ix_findings_verdict_host` the per-host questions: which hosts have a present finding of a
    verdict, and since when and until when each host had a covered one (the trend).
    """

    __tablename__ = "findings"
    __table_args__ = (
        UniqueConstraint("host_id", "product", name="uq_findings_host_product"),
        Index(
            "ix_findings_present_product",
            "present",
            "product",
            "verdict",
            "category",
            "first_identified",
            "host_id",
        ),
        Index("ix_findings_verdict_host", "verdict", "host_id", "present", "first_seen", "gone_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    host_id: Mapped[int] = mapped_column(ForeignKey("hosts.id", ondelete="CASCADE"))
    product: Mapped[str] = mapped_column(String(200), index=True)
    product_name: Mapped[str] = mapped_column(String(500), default="")
    vendor: Mapped[str] = mapped_column(String(200), default="")
    category: Mapped[str] = mapped_column(String(100), default="")
    version: Mapped[str | None] = mapped_column(String(200), nullable=True)
    verdict: Mapped[str] = mapped_column(String(16))
    confidence: Mapped[str] = mapped_column(String(16))
    present: Mapped[bool] = mapped_column(Boolean, default=True)
    first_seen: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    first_identified: Mapped[dt.date] = mapped_column(Date(), default=_first_identified_default)
    last_seen: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    gone_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    evidence: Mapped[Any] = mapped_column(JSONType, default=list)
    obligations: Mapped[Any] = mapped_column(JSONType, default=list)
    last_report_id: Mapped[int | None] = mapped_column(Integer, nullable=True)

    host: Mapped[Host] = relationship(back_populates="findings")


class Transition(Base):
    """Where the removal of one product from one host stands: found → … → verified."""

    __tablename__ = "transitions"
    __table_args__ = (
        UniqueConstraint("host_id", "product", name="uq_transitions_host_product"),
        CheckConstraint("state IN ({})".format(", ".join(f"'{s}'" for s in STATES)), name="state"),
        # Covers the summary's count per (state, flag) as well as lookups by state.
        Index("ix_transitions_state_flag", "state", "flag"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    host_id: Mapped[int] = mapped_column(ForeignKey("hosts.id", ondelete="CASCADE"))
    product: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(32), default="found")
    flag: Mapped[str | None] = mapped_column(String(64), nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(255), default="system")

    events: Mapped[list[TransitionEvent]] = relationship(
        back_populates="transition", order_by="TransitionEvent.id", passive_deletes=True
    )


class TransitionEvent(Base):
    """History of a transition: who moved it where, when, and why."""

    __tablename__ = "transition_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    transition_id: Mapped[int] = mapped_column(ForeignKey("transitions.id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor: Mapped[str] = mapped_column(String(255))
    from_state: Mapped[str | None] = mapped_column(String(32), nullable=True)
    to_state: Mapped[str] = mapped_column(String(32))
    flag: Mapped[str | None] = mapped_column(String(64), nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
    report_id: Mapped[int | None] = mapped_column(Integer, nullable=True)

    transition: Mapped[Transition] = relationship(back_populates="events")


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint("role IN ('admin', 'viewer')", name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = _org_column()
    username: Mapped[str] = mapped_column(String(150), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # Consecutive failed logins and the lock they set (`banscan.store.accounts.LockoutPolicy`).
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ApiToken(Base):
    """A token for automation, acting with a role; kept as its SHA-256 digest."""

    __tablename__ = "api_tokens"
    __table_args__ = (CheckConstraint("role IN ('admin', 'viewer')", name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = _org_column()  # the organisation it reads and acts in
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class WebSession(Base):
    """A logged-in browser: cookie value kept as its digest, with the session's CSRF token."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    remote_addr: Mapped[str] = mapped_column(String(64), default="")


class AuditEntry(Base):
    """One audited action. `org_id` is the organisation it concerns; None for entries about the
    server itself (not within any organisation)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int | None] = _org_column(nullable=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str] = mapped_column(String(255), default="")
    detail: Mapped[Any] = mapped_column(JSONType, default=dict)
    remote_addr: Mapped[str] = mapped_column(String(64), default="")


class ServerKey(Base):
    """A random key the server made for itself (the HMAC key of acknowledgement links), so that
    nothing has to be configured; whoever reads the database could forge links anyway."""

    __tablename__ = "server_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    value: Mapped[str] = mapped_column(String(128))  # hex
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Notice(Base):
    """A notice a coordinator organisation (`org_id`) sent to some of its members: the packs it
    is about and the coordinator's own words; each member's copy is a `NoticeRecipient`."""

    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = _org_column()
    title: Mapped[str] = mapped_column(String(300))
    packs: Mapped[Any] = mapped_column(JSONType, default=list)
    extra: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())  # its acknowledgement links'
    remind_after_days: Mapped[int | None] = mapped_column(Integer, nullable=True)

    recipients: Mapped[list[NoticeRecipient]] = relationship(
        back_populates="notice", order_by="NoticeRecipient.id", passive_deletes=True
    )


class NoticeRecipient(Base):
    """One member's copy of a notice, composed for its role and jurisdiction: shown in its
    dashboard, emailed if it has an address, reminded until acknowledged. `ack_nonce` is the
    nonce of the acknowledgement link that was accepted (unique: a link works once)."""

    __tablename__ = "notice_recipients"
    __table_args__ = (
        UniqueConstraint("notice_id", "org_id", name="uq_notice_recipients_notice_org"),
        CheckConstraint("email_state IN ('none', 'pending', 'sent', 'failed')", name="email_state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"))
    org_id: Mapped[int] = _org_column()
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    email: Mapped[str] = mapped_column(String(320), default="")
    email_state: Mapped[str] = mapped_column(String(16), default="none")
    email_sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    email_error: Mapped[str] = mapped_column(Text, default="")
    reminders: Mapped[int] = mapped_column(Integer, default=0)
    last_reminded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(255), nullable=True)
    ack_nonce: Mapped[str | None] = mapped_column(String(32), unique=True, nullable=True)

    notice: Mapped[Notice] = relationship(back_populates="recipients")


class Attestation(Base):
    """An officer's statement of their organisation's status as of a day (findings remaining,
    planned dates, exceptions), made with their account. `content` is what they attested to,
    as the server computed it when they signed; `digest` its SHA-256 (canonical JSON), so a copy
    can be checked against the record."""

    __tablename__ = "attestations"
    __table_args__ = (Index("ix_attestations_org_signed", "org_id", "signed_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = _org_column(index=False)
    as_of: Mapped[dt.date] = mapped_column(Date())
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    signed_by: Mapped[str] = mapped_column(String(150))
    signed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    statement: Mapped[str] = mapped_column(Text, default="")
    content: Mapped[Any] = mapped_column(JSONType, default=dict)
    digest: Mapped[str] = mapped_column(String(64))
