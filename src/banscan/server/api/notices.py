"""Notices a coordinator organisation sends its members (`banscan.store.notices`): send one
(admin), list those the caller's organisation sent and received, read one, acknowledge one's
copy (an admin of the member), and send the reminders due now (admin).

Emails never hold up a request: they go out after the response (FastAPI background tasks),
and a daemon thread started with the app (`NoticeChecks`, every `notice_check_seconds`) sends
what was left pending (a restart, the command line) and the reminders due."""

from __future__ import annotations

import ipaddress
import logging
import os
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, BackgroundTasks, HTTPException, Request
from pydantic import BaseModel, Field, field_validator
from sqlalchemy.orm import Session

from banscan.notices.smtp import SmtpSettings
from banscan.notices.words import http_url
from banscan.server.api.common import RowId, no_control
from banscan.server.deps import AdminDep, Principal, ReadDB, UserDep, WriteDB, client_addr, state_of
from banscan.server.state import ServerSettings, ServerState
from banscan.store import notices as store
from banscan.store.orgs import descendants, members_by_slug

log = logging.getLogger("banscan.server.notices")
SECURITY = ("starttls", "tls", "none")
SHOWN = 200  # notices listed at once, newest first


# ---------------------------------------------------------------- the relay


@dataclass(frozen=True)
class Mailer:
    """The relay emails go through and the address their links start with."""

    smtp: SmtpSettings
    base_url: str


def _loopback(host: str) -> bool:
    try:
        return host.lower() == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def mailer_of(settings: ServerSettings) -> Mailer | None:
    """The relay the settings name (None: no `smtp_host`, nothing is emailed); ValueError for
    settings that cannot work, said at start rather than at the first email."""
    if not settings.smtp_host:
        return None
    if not settings.public_url:
        raise ValueError("emails need the server's public address (--public-url) for their links")
    base = http_url(settings.public_url, "the public URL")
    if not settings.smtp_from:
        raise ValueError("emails need a From address (--smtp-from)")
    if settings.smtp_security not in SECURITY:
        raise ValueError(
            f"SMTP security must be one of {', '.join(SECURITY)}, not {settings.smtp_security!r}"
        )
    password = None
    if settings.smtp_password_env:
        password = os.environ.get(settings.smtp_password_env)
        if password is None:
            raise ValueError(f"the SMTP password variable ${settings.smtp_password_env} is not set")
    if settings.smtp_username and password is None:
        raise ValueError("an SMTP username needs a password (--smtp-password-env)")
    if settings.smtp_username and settings.smtp_security == "none" and not _loopback(settings.smtp_host):
        raise ValueError("refusing to send the SMTP password without TLS: use starttls or tls")
    smtp = SmtpSettings(
        host=settings.smtp_host,
        from_addr=settings.smtp_from,
        port=settings.smtp_port,
        username=settings.smtp_username or None,
        password=password if settings.smtp_username else None,
        starttls=settings.smtp_security == "starttls",
        ssl=settings.smtp_security == "tls",
        ca_file=Path(settings.smtp_ca_file) if settings.smtp_ca_file else None,
    )
    return Mailer(smtp, base)


def deliver(state: ServerState, notice_id: int | None = None) -> store.Delivery:
    """Email what is pending (of `notice_id`); errors are logged, not raised: this runs after
    the response, or in the background check."""
    try:
        mailer = mailer_of(state.settings)
        if mailer is None:
            return store.Delivery()
        done = store.deliver_pending(state.db, mailer.smtp, base_url=mailer.base_url, notice_id=notice_id)
    except Exception as exc:  # noqa: BLE001 - nobody waits for this answer; the next check retries
        log.warning("notice emails not sent: %s", exc)
        return store.Delivery()
    for rid, error in done.failed.items():
        log.warning("notice email to recipient %d failed: %s", rid, error)
    return done


def remind(state: ServerState, sender_org_id: int | None = None) -> store.Delivery:
    """Send the reminders due (of `sender_org_id`'s notices); errors logged, as `deliver`."""
    try:
        mailer = mailer_of(state.settings)
        if mailer is None:
            return store.Delivery()
        return store.remind_due(state.db, mailer.smtp, base_url=mailer.base_url, sender_org_id=sender_org_id)
    except Exception as exc:  # noqa: BLE001 - as in `deliver`
        log.warning("notice reminders not sent: %s", exc)
        return store.Delivery()


class NoticeChecks:
    """A daemon thread sending, every `interval` seconds, the emails left pending and the
    reminders due (like the WAL checkpoint thread: the request path never waits for it)."""

    def __init__(self, state: ServerState, interval: float) -> None:
        self.state = state
        self.interval = interval
        self.runs = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="banscan-notice-checks", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.check()

    def check(self) -> None:
        deliver(self.state)
        remind(self.state)
        self.runs += 1

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)  # a relay mid-conversation may take longer: the thread is a daemon


@asynccontextmanager
async def notice_checks(app: Any) -> AsyncIterator[None]:
    """The app's background check, while it runs (only with a relay and an interval)."""
    state: ServerState = app.state.banscan
    interval = state.settings.notice_check_seconds
    checks = NoticeChecks(state, interval) if interval > 0 and state.settings.smtp_host else None
    try:
        yield
    finally:
        if checks is not None:
            checks.stop()


router = APIRouter(tags=["notices"], lifespan=notice_checks)


# ---------------------------------------------------------------- sending


class NoticeRequest(BaseModel):
    title: str = Field(min_length=1, max_length=store.MAX_TITLE)
    members: list[str] | None = Field(
        default=None, max_length=1000, description="slugs of member organisations; none: every member"
    )
    packs: list[str] | None = Field(
        default=None, max_length=50, description="catalog packs; none: those that bind each member"
    )
    extra: str = Field(default="", max_length=store.MAX_EXTRA, description="your own words, in paragraphs")
    explainer_url: str | None = Field(default=None, max_length=2000, description="default: this server's")
    expires_in_days: int = Field(default=30, ge=1, le=store.MAX_EXPIRY_DAYS)
    remind_after_days: int | None = Field(default=None, ge=1, le=store.MAX_EXPIRY_DAYS)

    _clean = field_validator("title")(no_control)


def _members(db: Session, coordinator_id: int, slugs: list[str] | None) -> list[int] | None:
    """The ids of the caller's members named (None: every member). 403 for an organisation
    without members (only a coordinator sends notices); 404 alike for an unknown slug and one
    outside the caller's tree (saying which exists would tell about other organisations)."""
    below = descendants(db, coordinator_id)
    if not below:
        raise HTTPException(
            403, "your organisation has no member organisations: only a coordinator sends notices"
        )
    if slugs is None:
        return None
    known = members_by_slug(db, below)
    outside = [s for s in slugs if s not in known]
    if outside:
        raise HTTPException(404, f"no member organisation {outside[0]!r}")
    return [known[s] for s in slugs]


def explainer_url(request: Request) -> str:
    """This server's public explainer, as links in emails name it."""
    base = state_of(request).settings.public_url or str(request.base_url)
    return base.rstrip("/") + "/explainer"


def send_from(
    request: Request, principal: Principal, db: Session, background: BackgroundTasks, body: NoticeRequest
) -> tuple[store.SentNotice, dict[str, Any]]:
    """Store the caller's organisation's notice and email it after the response; 403/404 for
    members it does not have (`_members`), 422 with the reason when it cannot be sent as
    asked. The stored notice, and how its sender sees it. Shared by the API and the composer
    page."""
    st = state_of(request)
    members = _members(db, principal.org_id, body.members)
    try:
        sent = store.send_notice(
            db,
            principal.org_id,
            members,
            title=body.title,
            packs=body.packs,
            extra=body.extra,
            explainer_url=body.explainer_url or explainer_url(request),
            expires_in_days=body.expires_in_days,
            remind_after_days=body.remind_after_days,
            actor=principal.name,
            catalog=st.catalog,
            role=st.settings.role,
            jurisdiction=st.settings.jurisdiction,
            remote_addr=client_addr(request),
        )
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    found = store.notice_detail(db, sent.notice.id, principal.org_id, names=principal.scope.readable)
    assert found is not None
    db.commit()  # and no transaction left open: the emails' own sessions must not wait for it
    background.add_task(deliver, st, sent.notice.id)
    return sent, found


def acknowledge_copy(request: Request, principal: Principal, db: Session, notice_id: int) -> dict[str, Any]:
    """Acknowledge the caller's organisation's copy; 404 when it has none, 409 when it is
    already acknowledged (the refusal audited). Shared by the API and the dashboard."""
    try:
        done = store.acknowledge_in_dashboard(
            db, notice_id, principal.org_id, actor=principal.name, remote_addr=client_addr(request)
        )
    except store.AckRefused as exc:
        db.commit()  # the audited refusal
        raise HTTPException(exc.status, str(exc)) from None
    if done is None:
        raise HTTPException(404, "notice not found")
    found = store.notice_detail(db, notice_id, principal.org_id, names=principal.scope.readable)
    assert found is not None
    db.commit()
    return found


# ---------------------------------------------------------------- routes


@router.post("/notices", status_code=201)
def post_notice(
    body: NoticeRequest, request: Request, principal: AdminDep, db: WriteDB, background: BackgroundTasks
) -> dict[str, Any]:
    """Send a notice to members of the caller's organisation (admin): each copy says what its
    role must do in its jurisdiction; members with an address are emailed after the response.
    403 for an organisation without members, 404 for a member it does not have, 422 for an
    unknown pack or nothing to notify."""
    sent, found = send_from(request, principal, db, background, body)
    return {**found, "skipped": sent.skipped}


@router.get("/notices")
def list_notices(principal: UserDep, db: ReadDB) -> dict[str, Any]:
    """The latest notices the caller's organisation sent (with its members' acknowledgement and
    email counts) and received (with its copy's state)."""
    return {
        "sent": store.sent_notices(db, principal.org_id, SHOWN),
        "received": store.received_notices(db, principal.org_id, SHOWN),
    }


@router.post("/notices/remind", status_code=202)
def remind_now(
    request: Request, principal: AdminDep, db: ReadDB, background: BackgroundTasks
) -> dict[str, Any]:
    """Send the reminders due for the caller's organisation's notices now, after the response
    (admin of a coordinator: 403 for an organisation without members); 409 when no SMTP relay
    is configured."""
    st = state_of(request)
    _members(db, principal.org_id, None)
    try:
        mailer = mailer_of(st.settings)
    except ValueError as exc:
        raise HTTPException(409, f"notices cannot be emailed: {exc}") from None
    if mailer is None:
        raise HTTPException(409, "no SMTP relay is configured: reminders are emails")
    background.add_task(remind, st, principal.org_id)
    return {"queued": True}


@router.get("/notices/{notice_id}")
def get_notice(notice_id: RowId, principal: UserDep, db: ReadDB) -> dict[str, Any]:
    """A notice as the caller's organisation may see it: its sender every member's state, a
    member its own copy; 404 for anyone else."""
    found = store.notice_detail(db, notice_id, principal.org_id, names=principal.scope.readable)
    if found is None:
        raise HTTPException(404, "notice not found")
    return found


@router.post("/notices/{notice_id}/acknowledge")
def post_acknowledge(notice_id: RowId, request: Request, principal: AdminDep, db: WriteDB) -> dict[str, Any]:
    """Acknowledge the caller's organisation's copy of a notice (admin of the member); 404 when
    it was sent none, 409 when it is already acknowledged."""
    return acknowledge_copy(request, principal, db, notice_id)
