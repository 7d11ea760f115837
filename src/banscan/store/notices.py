"""Notices as the server keeps them: a coordinator sends one to its members, each member's copy
is composed for its own role and jurisdiction, emailed with a signed acknowledgement link
(`banscan.notices`), reminded until acknowledged, and acknowledged once.

- The links' HMAC key is a `ServerKey` the server makes on first use: nothing to configure.
- Emails go out after the copies are stored (`deliver_pending`), one recipient at a time, each
  claimed first with a compare-and-set, so two senders (the server's check, a request, the
  command line) never email one copy twice, and no transaction stays open while a relay talks.
- A link works once: the recipient row records the nonce of the link that was accepted
  (unique), and an acknowledged copy refuses every further link.
- Every send, failed email, reminder, acknowledgement and refused acknowledgement is audited
  against the organisation it concerns.
"""

from __future__ import annotations

import datetime as dt
import html
import re
import textwrap
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any, ClassVar

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from banscan.catalog.schema import Catalog
from banscan.notices import smtp, tokens
from banscan.notices.compose import compose_notice
from banscan.notices.model import NoticeError
from banscan.notices.words import clean_line, http_url
from banscan.store.audit import audit_org
from banscan.store.db import Database
from banscan.store.keys import existing_key, server_key
from banscan.store.models import Notice, NoticeRecipient, Organisation, utcnow
from banscan.store.orgs import descendants
from banscan.store.paging import iso

ACK_KEY = "ack"  # the ServerKey of acknowledgement links
MAX_TITLE = 300
MAX_EXTRA = 10_000
MAX_EXPIRY_DAYS = 365
# A copy claimed for sending and not recorded as sent or failed within this time (the sender
# died mid-way) is claimed again.
CLAIM_LEASE = dt.timedelta(minutes=15)
LINK_ACTOR = "ack-link"  # who acknowledged, in the audit log, when it was an emailed link
EMAIL_STATES = ("none", "pending", "sent", "failed")


# ---------------------------------------------------------------- the acknowledgement key


def ack_key(session: Session) -> bytes:
    """The acknowledgement links' HMAC key, made on first use (`banscan.store.keys`)."""
    return server_key(session, ACK_KEY)


def existing_ack_key(session: Session) -> bytes | None:
    """The key if it was ever made (reading never makes it: no link can be genuine before)."""
    return existing_key(session, ACK_KEY)


# ---------------------------------------------------------------- sending


@dataclass(frozen=True)
class SentNotice:
    """The stored notice, and the members left out (slug → why: nothing binds them)."""

    notice: Notice
    skipped: dict[str, str] = field(default_factory=dict)


def _check_text(value: str, what: str, longest: int, *, required: bool) -> str:
    value = value.strip()
    if required and not value:
        raise ValueError(f"{what} must not be empty")
    if len(value) > longest:
        raise ValueError(f"{what} must be at most {longest} characters")
    return value


def _recipients(
    session: Session, coordinator: Organisation, members: Sequence[int] | None
) -> list[Organisation]:
    below = descendants(session, coordinator.id)
    if members is None:
        wanted = below
        if not wanted:
            raise ValueError(f"organisation {coordinator.slug!r} has no member organisations")
    else:
        wanted = list(dict.fromkeys(members))
        if not wanted:
            raise ValueError("a notice needs at least one member organisation")
        outside = [m for m in wanted if m not in set(below)]
        if outside:
            raise ValueError(
                f"organisation {outside[0]} is not a member of {coordinator.slug!r}: notices go to members only"
            )
    rows = {o.id: o for o in session.scalars(select(Organisation).where(Organisation.id.in_(wanted)))}
    return [rows[i] for i in wanted if i in rows]


def send_notice(
    session: Session,
    coordinator_id: int,
    members: Sequence[int] | None,
    *,
    title: str,
    packs: list[str] | None,
    extra: str,
    explainer_url: str,
    expires_in_days: int,
    remind_after_days: int | None,
    actor: str,
    catalog: Catalog,
    role: str,
    jurisdiction: str,
    now: dt.datetime | None = None,
    remote_addr: str = "",
) -> SentNotice:
    """Store a notice from `coordinator_id` to `members` (organisation ids; None: every
    descendant), each copy composed for the member's role and jurisdiction (else `role` and
    `jurisdiction`, the server's) as of `now`, and queue its email when the member has an
    address. ValueError (NoticeError among them) for a member outside the coordinator's tree,
    bad values, or a member no rule of the packs binds; with every member asked for (None),
    such a member is left out instead (`SentNotice.skipped`) unless all are."""
    now = now or utcnow()
    title = clean_line(_check_text(title, "title", MAX_TITLE, required=True))
    extra = _check_text(extra, "extra", MAX_EXTRA, required=False)
    if not 1 <= expires_in_days <= MAX_EXPIRY_DAYS:
        raise ValueError(f"expires_in_days must be between 1 and {MAX_EXPIRY_DAYS}")
    if remind_after_days is not None and not 1 <= remind_after_days < expires_in_days:
        raise ValueError("remind_after_days must be at least 1 and less than expires_in_days")
    coordinator = session.get(Organisation, coordinator_id)
    if coordinator is None:
        raise ValueError(f"no organisation {coordinator_id}")
    copies: list[tuple[Organisation, Any]] = []
    skipped: dict[str, str] = {}
    for org in _recipients(session, coordinator, members):
        try:
            composed = compose_notice(
                catalog,
                coordinator=coordinator.name,
                member=org.name,
                role=org.role or role,
                jurisdiction=org.jurisdiction or jurisdiction,
                as_of=now.date(),
                explainer_url=explainer_url,
                packs=list(packs) if packs else None,
                extra=extra,
            )
        except NoticeError as exc:
            if members is not None:
                raise NoticeError(f"{org.slug}: {exc}") from None
            skipped[org.slug] = str(exc)
            continue
        copies.append((org, composed))
    if not copies:
        raise NoticeError(
            "no member can be sent this notice: " + "; ".join(f"{k}: {v}" for k, v in skipped.items())
        )
    notice = Notice(
        org_id=coordinator.id,
        title=title,
        packs=list(packs or []),
        extra=extra,
        created_by=actor[:255],
        created_at=now,
        expires_at=now + dt.timedelta(days=expires_in_days),
        remind_after_days=remind_after_days,
    )
    session.add(notice)
    session.flush()
    for org, composed in copies:
        session.add(
            NoticeRecipient(
                notice_id=notice.id,
                org_id=org.id,
                subject=composed.subject[:300],
                body_text=composed.text,
                body_html=composed.html,
                email=org.email,
                email_state="pending" if org.email else "none",
            )
        )
    session.flush()
    audit_org(
        session,
        coordinator.id,
        actor,
        "notice.send",
        str(notice.id),
        remote_addr,
        title=title,
        members=[o.slug for o, _ in copies],
        emailed=sum(1 for o, _ in copies if o.email),
        skipped=skipped,
    )
    return SentNotice(notice, skipped)


# ---------------------------------------------------------------- emails


def _changed(session: Session, stmt: Any) -> int:
    """How many rows an UPDATE changed: the compare-and-set claims read it."""
    result = session.execute(stmt.execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


@dataclass
class Delivery:
    """What a run of `deliver_pending` or `remind_due` did: recipient ids sent, and failed with
    the relay's one-line error."""

    sent: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)


def ack_url(base_url: str, token: str) -> str:
    """The public acknowledgement page for `token` on the server at `base_url`."""
    return http_url(base_url, "the server's public address").rstrip("/") + "/ack?token=" + token


def _footer_text(coordinator: str, member: str, link: str, expires: dt.datetime) -> str:
    lines = [
        "Acknowledge this notice",
        "=======================",
        "",
        textwrap.fill(f"Open this link to tell {coordinator} that {member} has received this notice:", 72),
        "",
        link,
        "",
        f"The link works once, until {expires:%Y-%m-%d %H:%M} UTC.",
    ]
    return "\n".join(lines) + "\n"


_HEADING = "font-size:18px;border-bottom:1px solid #cccccc;padding-bottom:4px"
_BUTTON = "display:inline-block;padding:8px 14px;background:#1f4e79;color:#ffffff;text-decoration:none;border-radius:4px"


def _footer_html(coordinator: str, member: str, link: str, expires: dt.datetime) -> str:
    c, m, u = html.escape(coordinator), html.escape(member), html.escape(link)
    return (
        '<div style="max-width:720px;margin:0 auto">\n'
        f'<h2 style="{_HEADING}">Acknowledge this notice</h2>\n'
        f"<p>Tell {c} that {m} has received this notice:</p>\n"
        f'<p><a href="{u}" style="{_BUTTON}">Acknowledge receipt</a></p>\n'
        f'<p style="font-size:13px;color:#555555">Or open this address: {u}<br>'
        f"The link works once, until {expires:%Y-%m-%d %H:%M} UTC.</p>\n"
        "</div>\n"
    )


def _with_html(body: str, top: str, bottom: str) -> str:
    """The stored page with `top` after its <body> tag and `bottom` before its </body>."""
    if top:
        body = re.sub(r"(<body[^>]*>\n?)", lambda m: m.group(1) + top, body, count=1)
    end = body.rfind("</body>")
    return body[:end] + bottom + body[end:] if end >= 0 else body + bottom


def build_email(
    settings: smtp.SmtpSettings,
    r: NoticeRecipient,
    *,
    coordinator: str,
    member: str,
    link: str,
    reminder: bool = False,
) -> EmailMessage:
    """The stored copy as an email, ending with its acknowledgement link; a reminder says so at
    the top. The copy is sent as it was composed and shown in the dashboard, even when the
    catalog or the member's role changed since."""
    expires = r.notice.expires_at
    sent_on = f"{r.notice.created_at:%Y-%m-%d}"
    top = f"Reminder: this notice of {sent_on} has not been acknowledged yet." if reminder else ""
    text = (f"{top}\n\n" if top else "") + r.body_text.rstrip("\n") + "\n\n"
    text += _footer_text(coordinator, member, link, expires)
    top_html = f'<p style="font-weight:bold;margin:0 0 12px 0">{html.escape(top)}</p>\n' if top else ""
    body = _with_html(r.body_html, top_html, _footer_html(coordinator, member, link, expires))
    msg = EmailMessage()
    msg["From"] = settings.from_addr
    msg["To"] = r.email
    msg["Subject"] = ("Reminder: " if reminder else "") + r.subject
    msg["Date"] = format_datetime(dt.datetime.now(dt.UTC))
    domain = settings.from_addr.rpartition("@")[2].rstrip(">") or settings.host
    msg["Message-ID"] = make_msgid(domain=domain)
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(text)
    msg.add_alternative(body, subtype="html")
    return msg


def _send(settings: smtp.SmtpSettings, msg: EmailMessage, to: str) -> None:
    """Through the notices library's relay conversation, so its errors are the same one-line
    `SmtpError`s; the password rule of `smtp.send` is checked where the settings are made."""
    smtp.deliver(settings, msg, [to])


def _copy(session: Session, recipient_id: int) -> tuple[NoticeRecipient, str, str]:
    """Copy `recipient_id`, and its coordinator's and member's names as a notice shows them."""
    r = session.get(NoticeRecipient, recipient_id)
    assert r is not None
    names = dict(
        session.execute(
            select(Organisation.id, Organisation.name).where(Organisation.id.in_([r.org_id, r.notice.org_id]))
        ).all()
    )
    return r, clean_line(names[r.notice.org_id]), clean_line(names[r.org_id])


def _email_for(
    session: Session, settings: smtp.SmtpSettings, recipient_id: int, base_url: str, *, reminder: bool
) -> tuple[EmailMessage, NoticeRecipient]:
    r, coordinator, member = _copy(session, recipient_id)
    token = tokens.issue(ack_key(session), r.notice_id, r.org_id, r.notice.expires_at)
    link = ack_url(base_url, token)
    msg = build_email(settings, r, coordinator=coordinator, member=member, link=link, reminder=reminder)
    return msg, r


def deliver_pending(
    db: Database,
    settings: smtp.SmtpSettings,
    *,
    base_url: str,
    notice_id: int | None = None,
    now: dt.datetime | None = None,
    actor: str = "server",
) -> Delivery:
    """Email every pending copy (of `notice_id`, or of any notice), each with a link of its own;
    a copy whose relay refused it is recorded as failed with the error and audited, and the
    others are still sent. A copy whose notice expired before it could be sent fails too."""
    now = now or utcnow()
    done = Delivery()
    with db.reading() as s:
        q = select(NoticeRecipient.id).where(NoticeRecipient.email_state == "pending")
        if notice_id is not None:
            q = q.where(NoticeRecipient.notice_id == notice_id)
        ids = list(s.scalars(q.order_by(NoticeRecipient.id)))
    for rid in ids:
        with db.writing() as s:
            claim = (
                update(NoticeRecipient)
                .where(
                    NoticeRecipient.id == rid,
                    NoticeRecipient.email_state == "pending",
                    NoticeRecipient.email_sent_at.is_(None)
                    | (NoticeRecipient.email_sent_at < now - CLAIM_LEASE),
                )
                .values(email_sent_at=now)
            )
            if _changed(s, claim) != 1:
                continue  # another sender has it
            msg, claimed = _email_for(s, settings, rid, base_url, reminder=False)
            expired = claimed.notice.expires_at <= now
        error = "the notice expired before its email could be sent" if expired else _attempt(settings, msg)
        with db.writing() as s:
            r = s.get(NoticeRecipient, rid)
            assert r is not None
            r.email_state = "failed" if error else "sent"
            r.email_error = error
            r.email_sent_at = None if error else now
            if error:
                done.failed[rid] = error
                audit_org(
                    s, r.org_id, actor, "notice.email_failed", str(r.notice_id), error=error, email=r.email
                )
            else:
                done.sent.append(rid)
                audit_org(s, r.org_id, actor, "notice.email_sent", str(r.notice_id), email=r.email)
    return done


def _attempt(settings: smtp.SmtpSettings, msg: EmailMessage) -> str:
    """The relay's one-line error, or "" when it took `msg`."""
    try:
        _send(settings, msg, str(msg["To"]))
    except smtp.SmtpError as exc:
        return str(exc)
    return ""


def _due(r: NoticeRecipient, n: Notice, now: dt.datetime) -> bool:
    last = r.last_reminded_at or r.email_sent_at
    return (
        n.remind_after_days is not None
        and last is not None
        and n.expires_at > now
        and now - last >= dt.timedelta(days=n.remind_after_days)
    )


def remind_due(
    db: Database,
    settings: smtp.SmtpSettings,
    *,
    base_url: str,
    now: dt.datetime | None = None,
    sender_org_id: int | None = None,
    actor: str = "server",
) -> Delivery:
    """Email a reminder, with a fresh link, to every emailed copy not acknowledged whose notice
    asks for reminders and whose last email (the first, or the last reminder) is at least
    `remind_after_days` old, while its links are valid; of the notices of `sender_org_id` only
    when given. A reminder sent counts in `reminders`; one that failed keeps its error in
    `email_error` and is tried again after the same interval."""
    now = now or utcnow()
    done = Delivery()
    with db.reading() as s:
        q = (
            select(NoticeRecipient, Notice)
            .join(Notice, Notice.id == NoticeRecipient.notice_id)
            .where(
                NoticeRecipient.acknowledged_at.is_(None),
                NoticeRecipient.email_state == "sent",
                Notice.remind_after_days.is_not(None),
                Notice.expires_at > now,
            )
            .order_by(NoticeRecipient.id)
        )
        if sender_org_id is not None:
            q = q.where(Notice.org_id == sender_org_id)
        due = [(r.id, r.last_reminded_at) for r, n in s.execute(q) if _due(r, n, now)]
    for rid, previous in due:
        with db.writing() as s:
            same = (
                NoticeRecipient.last_reminded_at.is_(None)
                if previous is None
                else NoticeRecipient.last_reminded_at == previous
            )
            claim = (
                update(NoticeRecipient)
                .where(NoticeRecipient.id == rid, NoticeRecipient.acknowledged_at.is_(None), same)
                .values(last_reminded_at=now)
            )
            if _changed(s, claim) != 1:
                continue  # acknowledged, or reminded by another sender, meanwhile
            msg, _ = _email_for(s, settings, rid, base_url, reminder=True)
        error = _attempt(settings, msg)
        with db.writing() as s:
            r = s.get(NoticeRecipient, rid)
            assert r is not None
            if error:
                r.email_error = f"reminder: {error}"
                done.failed[rid] = error
                audit_org(
                    s, r.org_id, actor, "notice.remind_failed", str(r.notice_id), error=error, email=r.email
                )
            else:
                r.reminders += 1
                r.email_error = ""
                done.sent.append(rid)
                audit_org(
                    s, r.org_id, actor, "notice.remind", str(r.notice_id), email=r.email, count=r.reminders
                )
    return done


# ---------------------------------------------------------------- acknowledging


class AckRefused(Exception):
    """An acknowledgement that is not accepted; `reason` says why, `status` is the HTTP answer."""

    STATUS: ClassVar[dict[str, int]] = {
        "malformed": 400,
        "forged": 403,
        "expired": 410,
        "unknown": 404,
        "used": 409,
        "acknowledged": 409,
    }

    def __init__(self, reason: str, message: str, org_id: int | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.status = self.STATUS[reason]
        self.org_id = org_id


@dataclass(frozen=True)
class AckView:
    """What a link acknowledges, as the public page shows it before anything is recorded."""

    notice_id: int
    title: str
    coordinator: str
    member: str
    subject: str
    text: str
    sent_at: dt.datetime
    expires: dt.datetime
    acknowledged_at: dt.datetime | None = None


def _claim_of(session: Session, token: str, now: dt.datetime) -> tokens.AckClaim:
    key = existing_ack_key(session)
    try:
        if key is None:  # no link was ever made here: nothing can be genuine
            raise tokens.TokenForged("acknowledgement token signature does not match")
        return tokens.verify(key, token, now=now)
    except tokens.TokenMalformed:
        raise AckRefused("malformed", "This is not an acknowledgement link of this server.") from None
    except tokens.TokenForged:
        raise AckRefused(
            "forged", "This acknowledgement link is not genuine: it was changed or made elsewhere."
        ) from None
    except tokens.TokenExpired as exc:
        raise AckRefused(
            "expired",
            f"This acknowledgement link expired on {exc.claim.expires:%Y-%m-%d %H:%M} UTC.",
            _org_or_none(session, exc.claim.org_id),
        ) from None


def _org_or_none(session: Session, org_id: int) -> int | None:
    return org_id if session.get(Organisation, org_id) is not None else None


def _recipient_of(session: Session, claim: tokens.AckClaim) -> NoticeRecipient:
    r = session.scalar(
        select(NoticeRecipient).where(
            NoticeRecipient.notice_id == claim.notice_id, NoticeRecipient.org_id == claim.org_id
        )
    )
    if r is None:
        raise AckRefused("unknown", "This link is for no notice sent to that organisation.")
    return r


def _already(r: NoticeRecipient) -> AckRefused:
    return AckRefused(
        "acknowledged",
        f"This notice was already acknowledged on {r.acknowledged_at:%Y-%m-%d %H:%M} UTC.",
        r.org_id,
    )


def ack_preview(session: Session, token: str, now: dt.datetime | None = None) -> AckView:
    """What `token` would acknowledge; AckRefused as `acknowledge` would refuse it. Changes
    nothing, audits nothing: mail scanners open links."""
    claim = _claim_of(session, token, now or utcnow())
    r = _recipient_of(session, claim)
    if session.scalar(select(NoticeRecipient.id).where(NoticeRecipient.ack_nonce == claim.nonce)) is not None:
        raise AckRefused("used", "This acknowledgement link was already used.", r.org_id)
    if r.acknowledged_at is not None:
        raise _already(r)
    return ack_view(session, r)


def ack_view(session: Session, r: NoticeRecipient) -> AckView:
    """What copy `r` is, as the acknowledgement page shows it."""
    _, coordinator, member = _copy(session, r.id)
    return AckView(
        notice_id=r.notice_id,
        title=r.notice.title,
        coordinator=coordinator,
        member=member,
        subject=r.subject,
        text=r.body_text,
        sent_at=r.notice.created_at,
        expires=r.notice.expires_at,
        acknowledged_at=r.acknowledged_at,
    )


def acknowledge(
    session: Session, token: str, now: dt.datetime | None = None, *, remote_addr: str = ""
) -> NoticeRecipient:
    """Record the acknowledgement an emailed link makes: the token must be genuine, unexpired,
    for a copy of that notice sent to that organisation, not used before, and the copy not yet
    acknowledged. AckRefused otherwise, after auditing the refusal in `session` (commit it)."""
    now = now or utcnow()
    try:
        claim = _claim_of(session, token, now)
        r = _recipient_of(session, claim)
        used = session.scalar(select(NoticeRecipient.id).where(NoticeRecipient.ack_nonce == claim.nonce))
        if used is not None:
            raise AckRefused("used", "This acknowledgement link was already used.", r.org_id)
        _record(session, r, now, f"link:{r.email}"[:255], nonce=claim.nonce)
    except AckRefused as exc:
        audit_org(session, exc.org_id, LINK_ACTOR, "notice.ack_refused", "", remote_addr, reason=exc.reason)
        raise
    audit_org(
        session, r.org_id, LINK_ACTOR, "notice.acknowledge", str(r.notice_id), remote_addr, email=r.email
    )
    return r


def _record(session: Session, r: NoticeRecipient, now: dt.datetime, by: str, *, nonce: str | None) -> None:
    """Set the acknowledgement if none is set yet (compare-and-set: two at once, one wins)."""
    try:
        with session.begin_nested():
            done = _changed(
                session,
                update(NoticeRecipient)
                .where(NoticeRecipient.id == r.id, NoticeRecipient.acknowledged_at.is_(None))
                .values(acknowledged_at=now, acknowledged_by=by, ack_nonce=nonce),
            )
    except IntegrityError:  # the nonce was recorded meanwhile
        raise AckRefused("used", "This acknowledgement link was already used.", r.org_id) from None
    session.refresh(r)
    if done != 1:
        raise _already(r)


def acknowledge_in_dashboard(
    session: Session,
    notice_id: int,
    org_id: int,
    *,
    actor: str,
    now: dt.datetime | None = None,
    remote_addr: str = "",
) -> NoticeRecipient | None:
    """Acknowledge organisation `org_id`'s copy of `notice_id` as `actor`, a user of it; None
    when it was sent no such copy, AckRefused (audited: commit) when it is already acknowledged."""
    r = session.scalar(
        select(NoticeRecipient).where(
            NoticeRecipient.notice_id == notice_id, NoticeRecipient.org_id == org_id
        )
    )
    if r is None:
        return None
    try:
        _record(session, r, now or utcnow(), actor[:255], nonce=None)
    except AckRefused as exc:
        audit_org(
            session, org_id, actor, "notice.ack_refused", str(notice_id), remote_addr, reason=exc.reason
        )
        raise
    audit_org(session, org_id, actor, "notice.acknowledge", str(notice_id), remote_addr, via="dashboard")
    return r


# ---------------------------------------------------------------- reading


def _org_json(org: Organisation) -> dict[str, Any]:
    return {"slug": org.slug, "name": org.name}


def notice_json(n: Notice, sender: Organisation, *, by: bool = True) -> dict[str, Any]:
    """A notice; without `by` its sender's user is left out (a member reads what its coordinator
    sent, not who in the coordinator's office pressed the button)."""
    return {
        "id": n.id,
        "title": n.title,
        "from": _org_json(sender),
        "packs": list(n.packs or []),
        "extra": n.extra,
        "created_by": n.created_by if by else None,
        "created_at": iso(n.created_at),
        "expires_at": iso(n.expires_at),
        "remind_after_days": n.remind_after_days,
    }


def _status_json(r: NoticeRecipient, *, by: bool = True) -> dict[str, Any]:
    """A copy's state; without `by` the member's user who acknowledged it is not named (a
    member shares its users with its coordinators only with its hosts)."""
    who = r.acknowledged_by if by or r.acknowledged_by is None else "an officer of the member"
    return {
        "subject": r.subject,
        "email": r.email,
        "email_state": r.email_state,
        "email_sent_at": iso(r.email_sent_at) if r.email_state == "sent" else None,
        "email_error": r.email_error,
        "reminders": r.reminders,
        "last_reminded_at": iso(r.last_reminded_at),
        "acknowledged_at": iso(r.acknowledged_at),
        "acknowledged_by": who,
    }


def sent_notices(session: Session, org_id: int, limit: int = 200) -> list[dict[str, Any]]:
    """The notices organisation `org_id` sent, newest first, with how many copies are
    acknowledged and in each email state."""
    sender = session.get(Organisation, org_id)
    if sender is None:
        return []
    rows = list(
        session.scalars(select(Notice).where(Notice.org_id == org_id).order_by(Notice.id.desc()).limit(limit))
    )
    zero = {"recipients": 0, "acknowledged": 0, **dict.fromkeys(EMAIL_STATES, 0)}
    counts = {n.id: dict(zero) for n in rows}
    q = (
        select(
            NoticeRecipient.notice_id,
            NoticeRecipient.email_state,
            NoticeRecipient.acknowledged_at.is_not(None),
            func.count(),
        )
        .where(NoticeRecipient.notice_id.in_(list(counts)))
        .group_by(
            NoticeRecipient.notice_id,
            NoticeRecipient.email_state,
            NoticeRecipient.acknowledged_at.is_not(None),
        )
    )
    for notice_id, state, acked, many in session.execute(q):
        c = counts[notice_id]
        c["recipients"] += many
        c[state] += many
        c["acknowledged"] += many if acked else 0
    return [
        {
            **notice_json(n, sender),
            "recipients": counts[n.id]["recipients"],
            "acknowledged": counts[n.id]["acknowledged"],
            "emails": {k: counts[n.id][k] for k in EMAIL_STATES},
        }
        for n in rows
    ]


def received_notices(session: Session, org_id: int, limit: int = 200) -> list[dict[str, Any]]:
    """The notices sent to organisation `org_id`, newest first, with its copy's state."""
    q = (
        select(NoticeRecipient, Notice, Organisation)
        .join(Notice, Notice.id == NoticeRecipient.notice_id)
        .join(Organisation, Organisation.id == Notice.org_id)
        .where(NoticeRecipient.org_id == org_id)
        .order_by(Notice.id.desc())
        .limit(limit)
    )
    return [{**notice_json(n, sender, by=False), **_status_json(r)} for r, n, sender in session.execute(q)]


def notice_detail(
    session: Session, notice_id: int, org_id: int, *, names: Collection[int] = ()
) -> dict[str, Any] | None:
    """Notice `notice_id` as organisation `org_id` may see it: its sender sees every copy's
    state (`recipients`; who acknowledged only for the members in `names`, those sharing their
    hosts and users with it), a member its own copy (`copy`, with the text and HTML); anyone
    else None, as for no notice."""
    n = session.get(Notice, notice_id)
    if n is None:
        return None
    sender = session.get(Organisation, n.org_id)
    assert sender is not None
    if n.org_id == org_id:
        q = (
            select(NoticeRecipient, Organisation)
            .join(Organisation, Organisation.id == NoticeRecipient.org_id)
            .where(NoticeRecipient.notice_id == notice_id)
            .order_by(Organisation.slug)
        )
        recipients = [
            {"org": _org_json(o), **_status_json(r, by=o.id in names)} for r, o in session.execute(q)
        ]
        return {**notice_json(n, sender), "role": "sender", "recipients": recipients}
    r = session.scalar(
        select(NoticeRecipient).where(
            NoticeRecipient.notice_id == notice_id, NoticeRecipient.org_id == org_id
        )
    )
    if r is None:
        return None
    copy = {**_status_json(r), "text": r.body_text, "html": r.body_html}
    return {**notice_json(n, sender, by=False), "role": "recipient", "copy": copy}


def member_orgs(session: Session, org_id: int) -> list[dict[str, Any]]:
    """The organisations a notice of `org_id` can go to (its descendants), by name: what the
    composer offers."""
    below = descendants(session, org_id)
    rows = session.scalars(select(Organisation).where(Organisation.id.in_(below)).order_by(Organisation.name))
    return [{**_org_json(o), "role": o.role, "jurisdiction": o.jurisdiction, "email": o.email} for o in rows]
