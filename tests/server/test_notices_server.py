"""Notices in the server: a coordinator's notice stored per member (composed for each member's
own role and jurisdiction), emailed through a real SMTP server on 127.0.0.1, acknowledged once
with the emailed link, refused for every other kind of link, reminded after N days, and seen
through the API, the dashboard, the public acknowledgement page and the command line only by
the organisations it concerns."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from html import unescape
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from banscan.catalog.loader import built_in_catalog
from banscan.catalog.schema import Catalog
from banscan.cli import app as cli_app
from banscan.notices import tokens
from banscan.notices.compose import compose_notice
from banscan.notices.smtp import SmtpSettings
from banscan.server.api.notices import mailer_of
from banscan.server.state import ServerSettings
from banscan.store import notices as store
from banscan.store.accounts import add_api_token, add_user
from banscan.store.db import Database
from banscan.store.migrate import upgrade_db
from banscan.store.models import AuditEntry, Notice, NoticeRecipient, ServerKey
from banscan.store.orgs import add_org
from test_notices import _free_port, _Inbox

from .conftest import ADMIN_PASSWORD, Fleet

T0 = dt.datetime(2025, 1, 15, 14, 0, tzinfo=dt.UTC)
PUBLIC = "https://banscan.example.gov"
EXPLAINER = PUBLIC + "/explainer"
LINK = re.compile(re.escape(PUBLIC) + r"/ack\?token=([A-Za-z0-9_-]+)")
TPWD_MAIL = "it-security@tpwd.example.gov"
ACME_MAIL = "security@acme.example.com"
GONE_MAIL = "it@refused.example"  # the relay refuses this domain's mailboxes


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return built_in_catalog()


@pytest.fixture
def relay() -> Iterator[tuple[_Inbox, int]]:
    """An SMTP server on 127.0.0.1 keeping what it receives (refusing @refused.example)."""
    inbox, port = _Inbox(), _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, server_hostname="relay.test")
    controller.start()
    yield inbox, port
    controller.stop()


def _smtp(port: int) -> SmtpSettings:
    return SmtpSettings(
        host="127.0.0.1",
        port=port,
        from_addr="DIR notices <notices@dir.example.gov>",
        starttls=False,
        timeout=10.0,
        local_hostname="banscan.test",
    )


def _mail(inbox: _Inbox, to: str) -> list[EmailMessage]:
    """The messages the relay accepted for `to`, oldest first."""
    out = []
    for envelope, _ in inbox.messages:
        if to in envelope.rcpt_tos:
            assert isinstance(envelope.content, bytes)
            msg = message_from_bytes(envelope.content, policy=policy.default)
            assert isinstance(msg, EmailMessage)
            out.append(msg)
    return out


def _parts(msg: EmailMessage) -> tuple[str, str]:
    text, html = msg.get_body(("plain",)), msg.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content().replace("\r\n", "\n"), html.get_content().replace("\r\n", "\n")


def _link_token(msg: EmailMessage) -> str:
    """The acknowledgement token of an email, from its text part (and the same in its HTML)."""
    text, html = _parts(msg)
    found = LINK.findall(text)
    assert len(found) == 1, text[-600:]
    assert f'href="{PUBLIC}/ack?token={found[0]}"' in html
    return str(found[0])


# ---------------------------------------------------------------- the organisations


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    upgrade_db(db_url)
    database = Database(db_url)
    yield database
    database.dispose()


def _tree(db: Database) -> dict[str, int]:
    """A state's IT department and its members: a state agency and a federal contractor with
    addresses, a closed agency whose mailbox the relay refuses, a county under the agency with
    no address nor role of its own; and another state's office outside the tree."""
    with db.writing() as s:
        made = [
            add_org(s, "tx-dir", "Texas Department of Information Resources", actor="test"),
            add_org(
                s,
                "tpwd",
                "Texas Parks and Wildlife Department",
                parent="tx-dir",
                role="state-agency",
                jurisdiction="US-TX",
                email=TPWD_MAIL,
                actor="test",
            ),
            add_org(
                s,
                "acme",
                "Acme Federal Services",
                parent="tx-dir",
                role="federal-contractor",
                jurisdiction="US",
                email=ACME_MAIL,
                actor="test",
            ),
            add_org(
                s,
                "gone",
                "Closed Agency",
                parent="tx-dir",
                role="state-agency",
                jurisdiction="US-TX",
                email=GONE_MAIL,
                actor="test",
            ),
            add_org(s, "travis", "Travis County", parent="tpwd", actor="test"),
            add_org(
                s,
                "omes",
                "Oklahoma Office of Management and Enterprise Services",
                role="state-agency",
                jurisdiction="US-OK",
                email="security@omes.example.gov",
                actor="test",
            ),
        ]
        return {o.slug: o.id for o in made}


def _send(db: Database, ids: dict[str, int], catalog: Catalog, members: list[str] | None, **kw: Any) -> int:
    args: dict[str, Any] = {
        "title": "Kaspersky products: what to do",
        "packs": ["kaspersky"],
        "extra": "Please confirm by January 31.",
        "explainer_url": EXPLAINER,
        "expires_in_days": 30,
        "remind_after_days": None,
        "actor": "dir-admin",
        "catalog": catalog,
        "role": "user",
        "jurisdiction": "US",
        "now": T0,
    }
    with db.writing() as s:
        chosen = [ids[m] for m in members] if members is not None else None
        sent = store.send_notice(s, ids["tx-dir"], chosen, **(args | kw))
        return sent.notice.id


def _rows(db: Database, notice_id: int) -> dict[int, NoticeRecipient]:
    with db.reading() as s:
        rows = s.scalars(select(NoticeRecipient).where(NoticeRecipient.notice_id == notice_id))
        return {r.org_id: r for r in rows}


def _audit(db: Database, action: str) -> list[tuple[int | None, str, dict[str, Any]]]:
    with db.reading() as s:
        q = select(AuditEntry.org_id, AuditEntry.target, AuditEntry.detail).where(AuditEntry.action == action)
        return [(o, t, d) for o, t, d in s.execute(q.order_by(AuditEntry.id))]


# ---------------------------------------------------------------- composing and storing


def test_each_member_gets_the_deadlines_of_its_own_role(db: Database, catalog: Catalog) -> None:
    ids = _tree(db)
    notice_id = _send(db, ids, catalog, ["tpwd", "acme"])
    rows = _rows(db, notice_id)
    assert set(rows) == {ids["tpwd"], ids["acme"]}
    expected = {}
    for slug, member, role, where in (
        ("tpwd", "Texas Parks and Wildlife Department", "state-agency", "US-TX"),
        ("acme", "Acme Federal Services", "federal-contractor", "US"),
    ):
        expected[slug] = compose_notice(
            catalog,
            coordinator="Texas Department of Information Resources",
            member=member,
            role=role,
            jurisdiction=where,
            as_of=T0.date(),
            explainer_url=EXPLAINER,
            packs=["kaspersky"],
            extra="Please confirm by January 31.",
        )
        stored = rows[ids[slug]]
        assert (stored.subject, stored.body_text, stored.body_html) == (
            expected[slug].subject,
            expected[slug].text,
            expected[slug].html,
        )
        assert stored.email_state == "pending" and stored.acknowledged_at is None
    duties = {k: {(d.regulation, d.obligation) for d in n.deadlines} for k, n in expected.items()}
    assert duties["tpwd"] != duties["acme"], "a state agency and a federal contractor owe different things"
    only_contractor = {r for r, _ in duties["acme"] - duties["tpwd"]}
    assert only_contractor, "the federal contractor has rules the state agency does not"
    for reg in only_contractor:
        citation = " ".join(next(r for r in catalog.regulations if r.id == reg).citation.split())
        assert citation in " ".join(rows[ids["acme"]].body_html.split())
        assert citation not in " ".join(rows[ids["tpwd"]].body_html.split())
    [(org, target, detail)] = _audit(db, "notice.send")
    assert (org, target) == (ids["tx-dir"], str(notice_id))
    assert detail["members"] == ["tpwd", "acme"] and detail["emailed"] == 2


def test_every_member_by_default_and_who_nothing_binds_is_left_out(db: Database, catalog: Catalog) -> None:
    ids = _tree(db)
    # The Texas pack binds Texas state agencies; the contractor and the county (the server's
    # role and jurisdiction: a user in the US) are left out, and said why.
    notice_id = _send(db, ids, catalog, None, packs=["us-tx"])
    rows = _rows(db, notice_id)
    assert set(rows) == {ids["tpwd"], ids["gone"]}
    [(_, _, detail)] = _audit(db, "notice.send")
    assert set(detail["skipped"]) == {"acme", "travis"}
    assert "nothing to notify" in detail["skipped"]["acme"]
    # Named, a member nothing binds is an error, and nothing is stored.
    with pytest.raises(ValueError, match=r"acme: no rule of us-tx binds federal-contractor"):
        _send(db, ids, catalog, ["tpwd", "acme"], packs=["us-tx"])
    # The county (no address) gets a dashboard copy only.
    notice_id = _send(db, ids, catalog, ["travis"])
    assert [r.email_state for r in _rows(db, notice_id).values()] == ["none"]
    with db.reading() as s:
        assert s.scalar(select(func.count()).select_from(Notice)) == 2


def test_only_descendants_can_be_sent_a_notice(db: Database, catalog: Catalog) -> None:
    ids = _tree(db)
    for members in (["omes"], ["tpwd", "omes"], ["tx-dir"]):
        with pytest.raises(ValueError, match="is not a member of 'tx-dir'"):
            _send(db, ids, catalog, members)
    with db.writing() as s, pytest.raises(ValueError, match="has no member organisations"):
        store.send_notice(
            s,
            ids["omes"],
            None,
            title="t",
            packs=None,
            extra="",
            explainer_url=EXPLAINER,
            expires_in_days=30,
            remind_after_days=None,
            actor="x",
            catalog=catalog,
            role="user",
            jurisdiction="US",
        )
    with db.reading() as s:
        assert s.scalar(select(func.count()).select_from(Notice)) == 0
        assert s.scalar(select(func.count()).select_from(NoticeRecipient)) == 0


def test_the_acknowledgement_key_is_made_once(db: Database) -> None:
    """Two sessions making the key at once end up with the same one (the second waits for the
    first's insert, then reads it)."""
    first = db.write_session()
    try:
        key = store.ack_key(first)
        assert len(key) == tokens.MIN_SECRET_BYTES
        seen: list[bytes] = []

        def other() -> None:
            with db.writing() as s:
                seen.append(store.ack_key(s))

        thread = threading.Thread(target=other)
        thread.start()
        time.sleep(0.3)  # let the other session reach the insert (either order ends the same)
        first.commit()
        thread.join(30)
    finally:
        first.close()
    assert seen == [key]
    with db.reading() as s:
        assert s.scalar(select(func.count()).select_from(ServerKey)) == 1
        assert store.existing_ack_key(s) == key


# ---------------------------------------------------------------- emails and the link


def test_emails_links_and_single_use(db: Database, catalog: Catalog, relay: tuple[_Inbox, int]) -> None:
    inbox, port = relay
    ids = _tree(db)
    notice_id = _send(db, ids, catalog, ["tpwd", "acme", "gone"])
    done = store.deliver_pending(db, _smtp(port), base_url=PUBLIC, now=T0)
    rows = _rows(db, notice_id)
    # The refused mailbox is recorded and audited; the others were still sent.
    assert sorted(done.sent) == sorted([rows[ids["tpwd"]].id, rows[ids["acme"]].id])
    assert rows[ids["gone"]].email_state == "failed"
    assert "550 5.1.1 no such mailbox here" in rows[ids["gone"]].email_error
    assert done.failed == {rows[ids["gone"]].id: rows[ids["gone"]].email_error}
    [(org, target, detail)] = _audit(db, "notice.email_failed")
    assert (org, target, detail["email"]) == (ids["gone"], str(notice_id), GONE_MAIL)
    for slug in ("tpwd", "acme"):
        assert rows[ids[slug]].email_state == "sent" and rows[ids[slug]].email_sent_at == T0
    # Each member's email is its own copy, with a link of its own.
    [tpwd_mail], [acme_mail] = _mail(inbox, TPWD_MAIL), _mail(inbox, ACME_MAIL)
    assert tpwd_mail["Subject"] == rows[ids["tpwd"]].subject
    assert tpwd_mail["From"] == "DIR notices <notices@dir.example.gov>"
    text, html = _parts(tpwd_mail)
    assert text.startswith(rows[ids["tpwd"]].body_text.rstrip("\n"))
    assert "Texas Parks and Wildlife Department has received this notice" in text
    assert html.count("</body>") == 1 and "Acknowledge receipt" in html
    token = _link_token(tpwd_mail)
    assert token != _link_token(acme_mail)
    # A second run finds nothing pending: nobody is emailed twice.
    assert store.deliver_pending(db, _smtp(port), base_url=PUBLIC, now=T0) == store.Delivery()
    assert len(inbox.messages) == 2

    # The link shows what it acknowledges, and records nothing until it is used.
    with db.reading() as s:
        view = store.ack_preview(s, token, T0)
    assert (view.member, view.coordinator, view.notice_id) == (
        "Texas Parks and Wildlife Department",
        "Texas Department of Information Resources",
        notice_id,
    )
    assert _rows(db, notice_id)[ids["tpwd"]].acknowledged_at is None
    later = T0 + dt.timedelta(days=2)
    with db.writing() as s:
        store.acknowledge(s, token, later, remote_addr="198.51.100.7")
    acked = _rows(db, notice_id)[ids["tpwd"]]
    assert acked.acknowledged_at == later and acked.acknowledged_by == f"link:{TPWD_MAIL}"
    assert acked.ack_nonce == tokens.verify(store_key(db), token, now=T0).nonce
    [(org, target, _)] = _audit(db, "notice.acknowledge")
    assert (org, target) == (ids["tpwd"], str(notice_id))
    # The same link again: refused, audited, nothing changed.
    with db.writing() as s, pytest.raises(store.AckRefused, match="already used") as info:
        store.acknowledge(s, token, later + dt.timedelta(hours=1))
    assert (info.value.reason, info.value.status) == ("used", 409)
    assert _rows(db, notice_id)[ids["tpwd"]].acknowledged_at == later
    assert [d["reason"] for _, _, d in _audit(db, "notice.ack_refused")] == ["used"]


def store_key(db: Database) -> bytes:
    with db.reading() as s:
        key = store.existing_ack_key(s)
    assert key is not None
    return key


def _flip(token: str, at: int) -> str:
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    raw[at] ^= 0x01
    return base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()


def test_links_that_are_not_this_copys_are_refused(db: Database, catalog: Catalog) -> None:
    ids = _tree(db)
    notice_id = _send(db, ids, catalog, ["tpwd", "acme"])
    with db.writing() as s:
        key = store.ack_key(s)
    expires = T0 + dt.timedelta(days=30)
    genuine = tokens.issue(key, notice_id, ids["tpwd"], expires)
    before = {k: (r.acknowledged_at, r.ack_nonce) for k, r in _rows(db, notice_id).items()}
    cases = {
        "forged": (_flip(genuine, 12), "not genuine"),  # one byte of the organisation id changed
        "expired": (tokens.issue(key, notice_id, ids["tpwd"], T0 - dt.timedelta(seconds=1)), "expired on"),
        # Genuinely signed, but no copy of this notice went to that organisation, or no such notice.
        "unknown": (
            tokens.issue(key, notice_id, ids["omes"], expires),
            "no notice sent to that organisation",
        ),
        "malformed": ("not-a-token", "not an acknowledgement link"),
    }
    cases_other_notice = tokens.issue(key, notice_id + 1, ids["tpwd"], expires)
    other_secret = tokens.issue(b"k" * 32, notice_id, ids["tpwd"], expires)
    for reason, (token, words) in [
        *cases.items(),
        ("unknown", (cases_other_notice, "no notice")),
        ("forged", (other_secret, "not genuine")),
    ]:
        with db.reading() as s, pytest.raises(store.AckRefused, match=words):
            store.ack_preview(s, token, T0)
        with db.writing() as s:
            with pytest.raises(store.AckRefused, match=words) as info:
                store.acknowledge(s, token, T0)
            assert info.value.reason == reason
    assert {k: (r.acknowledged_at, r.ack_nonce) for k, r in _rows(db, notice_id).items()} == before
    refused = _audit(db, "notice.ack_refused")
    assert [d["reason"] for _, _, d in refused] == [
        "forged",
        "expired",
        "unknown",
        "malformed",
        "unknown",
        "forged",
    ]
    assert refused[1][0] == ids["tpwd"]  # an expired link says whose it was
    # The genuine link still works after all that.
    with db.writing() as s:
        store.acknowledge(s, genuine, T0)
    assert _rows(db, notice_id)[ids["tpwd"]].acknowledged_at == T0
    # A copy acknowledged in the dashboard refuses its links.
    other = tokens.issue(key, notice_id, ids["acme"], expires)
    with db.writing() as s:
        assert (
            store.acknowledge_in_dashboard(s, notice_id, ids["acme"], actor="acme-admin", now=T0) is not None
        )
    with db.writing() as s, pytest.raises(store.AckRefused, match="already acknowledged"):
        store.acknowledge(s, other, T0)
    with db.writing() as s:
        assert store.acknowledge_in_dashboard(s, notice_id, ids["omes"], actor="omes-admin") is None


def test_a_relay_that_is_down_fails_every_email_and_says_so(db: Database, catalog: Catalog) -> None:
    ids = _tree(db)
    notice_id = _send(db, ids, catalog, ["tpwd", "acme"])
    port = _free_port()  # nothing listens there
    done = store.deliver_pending(db, _smtp(port), base_url=PUBLIC, now=T0)
    rows = _rows(db, notice_id)
    assert done.sent == [] and set(done.failed) == {r.id for r in rows.values()}
    for r in rows.values():
        assert (r.email_state, r.email_error) == ("failed", f"SMTP 127.0.0.1:{port}: connection refused")
    assert {o for o, _, _ in _audit(db, "notice.email_failed")} == {ids["tpwd"], ids["acme"]}


def test_reminders_every_n_days_until_acknowledged(
    db: Database, catalog: Catalog, relay: tuple[_Inbox, int]
) -> None:
    inbox, port = relay
    ids = _tree(db)
    notice_id = _send(db, ids, catalog, ["tpwd", "acme", "travis"], remind_after_days=3, expires_in_days=10)
    store.deliver_pending(db, _smtp(port), base_url=PUBLIC, now=T0)

    slugs = {r.id: slug for slug, i in ids.items() for r in [_rows(db, notice_id).get(i)] if r is not None}

    def remind(days: float) -> list[str]:
        """The members reminded by a run `days` after the notice was sent."""
        done = store.remind_due(db, _smtp(port), base_url=PUBLIC, now=T0 + dt.timedelta(days=days))
        assert done.failed == {}
        return sorted(slugs[rid] for rid in done.sent)

    assert remind(2.9) == []
    assert remind(3) == ["acme", "tpwd"]  # the county has no address: no email to remind
    rows = _rows(db, notice_id)
    assert rows[ids["tpwd"]].reminders == 1
    assert rows[ids["tpwd"]].last_reminded_at == T0 + dt.timedelta(days=3)
    first, reminder = _mail(inbox, TPWD_MAIL)
    assert reminder["Subject"] == "Reminder: " + first["Subject"]
    assert _parts(reminder)[0].startswith(
        "Reminder: this notice of 2025-01-15 has not been acknowledged yet."
    )
    assert _link_token(reminder) != _link_token(first)  # a fresh link
    assert [d["count"] for o, _, d in _audit(db, "notice.remind") if o == ids["tpwd"]] == [1]
    assert remind(5.5) == []  # counted from the last reminder
    # The contractor acknowledges with the reminder's link; only the agency is reminded again.
    with db.writing() as s:
        store.acknowledge(s, _link_token(_mail(inbox, ACME_MAIL)[-1]), T0 + dt.timedelta(days=4))
    assert remind(6) == ["tpwd"]
    assert _rows(db, notice_id)[ids["tpwd"]].reminders == 2
    # The links expire on day 10: no reminder after that.
    assert remind(10) == []
    assert len(_mail(inbox, TPWD_MAIL)) == 3


# ---------------------------------------------------------------- the server


class _Server:
    """A fleet whose organisations are the tree above, with an admin API token for each and a
    viewer's for the agency, emailing through the test relay."""

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        self.db: Database = fleet.app.state.banscan.db
        self.ids = _tree(self.db)
        self.bearer: dict[str, dict[str, str]] = {}
        with self.db.writing() as s:
            for slug in ("tx-dir", "tpwd", "acme", "omes"):
                raw, _ = add_api_token(s, f"{slug}-admin", "admin", created_by="test", org_id=self.ids[slug])
                self.bearer[slug] = {"Authorization": f"Bearer {raw}"}
            raw, _ = add_api_token(s, "tpwd-viewer", "viewer", created_by="test", org_id=self.ids["tpwd"])
            self.bearer["tpwd-viewer"] = {"Authorization": f"Bearer {raw}"}
            add_user(s, "tpwd-admin", ADMIN_PASSWORD, "admin", org_id=self.ids["tpwd"])

    def call(self, method: str, path: str, who: str, **kw: Any) -> Any:
        return self.fleet.client.request(method, path, headers=self.bearer[who], **kw)


def _settings(port: int, **kw: Any) -> ServerSettings:
    values: dict[str, Any] = {
        "user_rate_limit": None,
        "anon_rate_limit": None,
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_security": "none",
        "smtp_from": "notices@dir.example.gov",
        "public_url": PUBLIC,
    }
    return ServerSettings(**(values | kw))


@pytest.fixture
def server(fleet_factory: Callable[..., Fleet], relay: tuple[_Inbox, int]) -> _Server:
    return _Server(fleet_factory(_settings(relay[1])))


NOTICE = {"title": "Kaspersky products: what to do", "packs": ["kaspersky"], "remind_after_days": 7}


def test_api_sends_and_only_the_organisations_concerned_see_it(
    server: _Server, relay: tuple[_Inbox, int]
) -> None:
    inbox, _ = relay
    r = server.call("POST", "/api/v1/notices", "tx-dir", json={**NOTICE, "members": ["tpwd", "acme"]})
    assert r.status_code == 201, r.text
    sent = r.json()
    notice_id = sent["id"]
    assert sent["role"] == "sender" and sent["skipped"] == {}
    assert [m["org"]["slug"] for m in sent["recipients"]] == ["acme", "tpwd"]
    # Emailed after the response (the test client waits for the background task).
    assert len(_mail(inbox, TPWD_MAIL)) == 1 and len(_mail(inbox, ACME_MAIL)) == 1
    assert f"{EXPLAINER}" in _parts(_mail(inbox, TPWD_MAIL)[0])[0]
    states = server.call("GET", f"/api/v1/notices/{notice_id}", "tx-dir").json()["recipients"]
    assert [(m["email_state"], m["acknowledged_at"]) for m in states] == [("sent", None), ("sent", None)]

    lists = server.call("GET", "/api/v1/notices", "tx-dir").json()
    assert lists["received"] == []
    [row] = lists["sent"]
    assert (row["recipients"], row["acknowledged"], row["emails"]["sent"]) == (2, 0, 2)
    mine = server.call("GET", f"/api/v1/notices/{notice_id}", "tpwd").json()
    assert mine["role"] == "recipient" and "recipients" not in mine
    assert "Texas Parks and Wildlife Department" in mine["copy"]["subject"]
    assert "Wildlife Department" in mine["copy"]["text"] and "Wildlife Department" in mine["copy"]["html"]
    assert [n["id"] for n in server.call("GET", "/api/v1/notices", "tpwd-viewer").json()["received"]] == [
        notice_id
    ]
    # The sibling member sees its own copy, never the agency's; another state sees nothing.
    sibling = server.call("GET", f"/api/v1/notices/{notice_id}", "acme").json()
    assert "Acme Federal Services" in sibling["copy"]["subject"]
    assert "Wildlife" not in json.dumps(sibling)
    assert server.call("GET", f"/api/v1/notices/{notice_id}", "omes").status_code == 404
    assert server.call("GET", "/api/v1/notices", "omes").json() == {"sent": [], "received": []}

    # Acknowledging: a viewer may not, the sender and outsiders have no copy, the member's admin does once.
    assert server.call("POST", f"/api/v1/notices/{notice_id}/acknowledge", "tpwd-viewer").status_code == 403
    for who in ("tx-dir", "omes"):
        assert server.call("POST", f"/api/v1/notices/{notice_id}/acknowledge", who).status_code == 404
    r = server.call("POST", f"/api/v1/notices/{notice_id}/acknowledge", "tpwd")
    assert r.status_code == 200 and r.json()["copy"]["acknowledged_by"] == "token:tpwd-admin"
    assert server.call("POST", f"/api/v1/notices/{notice_id}/acknowledge", "tpwd").status_code == 409
    acme = server.call("GET", f"/api/v1/notices/{notice_id}", "acme").json()["copy"]
    assert acme["acknowledged_at"] is None, "one member's acknowledgement is not another's"
    [row] = server.call("GET", "/api/v1/notices", "tx-dir").json()["sent"]
    assert row["acknowledged"] == 1

    # Sending: only to one's own members, only by a coordinator.
    r = server.call("POST", "/api/v1/notices", "tpwd", json={**NOTICE, "members": ["acme"]})
    assert r.status_code == 404 and "no member organisation 'acme'" in r.text
    assert server.call("POST", "/api/v1/notices", "omes", json=NOTICE).status_code == 403
    assert server.call("POST", "/api/v1/notices", "acme", json=NOTICE).status_code == 403
    r = server.call("POST", "/api/v1/notices", "tx-dir", json={**NOTICE, "packs": ["no-such-pack"]})
    assert r.status_code == 422 and "no pack 'no-such-pack'" in r.text
    assert server.call("POST", "/api/v1/notices/remind", "tx-dir").status_code == 202
    assert server.call("POST", "/api/v1/notices/remind", "omes").status_code == 403


def _form_csrf(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, html
    return m.group(1)


def test_the_emailed_link_acknowledges_once_through_its_page(
    server: _Server, relay: tuple[_Inbox, int]
) -> None:
    inbox, _ = relay
    client = server.fleet.client
    r = server.call("POST", "/api/v1/notices", "tx-dir", json={**NOTICE, "members": ["tpwd"]})
    notice_id = r.json()["id"]
    token = _link_token(_mail(inbox, TPWD_MAIL)[0])
    # Opening the link (as a mail scanner does) changes nothing.
    for _ in range(2):
        page = client.get("/ack", params={"token": token})
        assert page.status_code == 200
        assert "Acknowledge receipt for Texas Parks and Wildlife Department" in unescape(page.text)
    copy = server.call("GET", f"/api/v1/notices/{notice_id}", "tpwd").json()["copy"]
    assert copy["acknowledged_at"] is None
    # The button needs the page's CSRF token (the double-submit cookie came with the page).
    assert client.post("/ack", data={"token": token, "csrf_token": "made-up"}).status_code == 403
    r = client.post("/ack", data={"token": token, "csrf_token": _form_csrf(page.text)})
    assert r.status_code == 200, r.text
    assert "has acknowledged" in r.text
    copy = server.call("GET", f"/api/v1/notices/{notice_id}", "tpwd").json()["copy"]
    assert copy["acknowledged_at"] is not None and copy["acknowledged_by"] == f"link:{TPWD_MAIL}"
    # The same link again: refused on its page and by the button.
    again = client.get("/ack", params={"token": token})
    assert again.status_code == 409 and "already used" in again.text
    csrf = client.get("/api/v1/csrf").json()["csrf_token"]
    r = client.post("/ack", data={"token": token, "csrf_token": csrf})
    assert r.status_code == 409 and "already used" in r.text
    # No link at all: a page saying what it is for.
    assert "Open the link from the email" in client.get("/ack").text


def test_bad_links_are_refused_with_a_page_never_a_500(server: _Server, relay: tuple[_Inbox, int]) -> None:
    inbox, _ = relay
    client = server.fleet.client
    notice_id = server.call("POST", "/api/v1/notices", "tx-dir", json={**NOTICE, "members": ["tpwd"]}).json()[
        "id"
    ]
    genuine = _link_token(_mail(inbox, TPWD_MAIL)[0])
    key = store_key(server.db)
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(days=3)
    cases = [
        (_flip(genuine, 30), 403, "not genuine"),
        (
            tokens.issue(key, notice_id, server.ids["tpwd"], dt.datetime(2025, 1, 1, tzinfo=dt.UTC)),
            410,
            "expired",
        ),
        (
            tokens.issue(key, notice_id, server.ids["acme"], expires),
            404,
            "no notice sent to that organisation",
        ),
        (tokens.issue(key, notice_id + 7, server.ids["tpwd"], expires), 404, "no notice"),
        (genuine[:-1], 400, "not an acknowledgement link"),
        ("%00" + "A" * 150, 400, "not an acknowledgement link"),
    ]
    for token, status, words in cases:
        page = client.get("/ack", params={"token": token})
        assert (page.status_code, words in page.text) == (status, True), (token, page.text[:300])
        csrf = client.get("/api/v1/csrf").json()["csrf_token"]
        r = client.post("/ack", data={"token": token, "csrf_token": csrf})
        assert (r.status_code, words in r.text) == (status, True), (token, r.text[:300])
    assert client.get("/ack", params={"token": "A" * 500}).status_code in (400, 422)
    copy = server.call("GET", f"/api/v1/notices/{notice_id}", "tpwd").json()["copy"]
    assert copy["acknowledged_at"] is None
    assert len(_audit(server.db, "notice.ack_refused")) == len(cases)


def test_dashboard_inbox_composer_and_acknowledgement(server: _Server, relay: tuple[_Inbox, int]) -> None:
    inbox, _ = relay
    fleet = server.fleet
    with server.db.writing() as s:
        add_user(s, "dir-admin", ADMIN_PASSWORD, "admin", org_id=server.ids["tx-dir"])
    assert fleet.login("dir-admin", ADMIN_PASSWORD).status_code == 200
    page = fleet.client.get("/notices")
    assert page.status_code == 200 and 'id="compose-notice"' in page.text
    for slug in ("tpwd", "acme", "gone", "travis"):
        assert f'name="member" value="{slug}"' in page.text
    assert 'value="omes"' not in page.text
    form = {
        "csrf_token": _form_csrf(page.text),
        "title": "Kaspersky: remove by the deadlines",
        "member": ["tpwd", "acme"],
        "pack": ["kaspersky"],
        "extra": "Questions: soc@dir.example.gov",
        "expires_in_days": "30",
        "remind_after_days": "",
    }
    r = fleet.client.post("/notices", data=form, follow_redirects=False)
    assert r.status_code == 303, r.text
    notice_id = int(r.headers["location"].split("/")[2].split("?")[0])
    assert len(_mail(inbox, ACME_MAIL)) == 1
    detail = fleet.client.get(r.headers["location"])
    assert "Acme Federal Services" in detail.text and "sent" in detail.text
    bad = fleet.client.post("/notices", data={**form, "member": ["omes"]}, follow_redirects=False)
    assert bad.status_code == 404 and "no member organisation" in bad.text and 'id="notice-error"' in bad.text
    fleet.client.cookies.clear()

    assert fleet.login("tpwd-admin", ADMIN_PASSWORD).status_code == 200
    inbox_page = fleet.client.get("/notices")
    assert f'data-notice-id="{notice_id}"' in inbox_page.text
    # The agency coordinates the county: its composer offers the county alone.
    assert 'name="member" value="travis"' in inbox_page.text and 'value="acme"' not in inbox_page.text
    mine = fleet.client.get(f"/notices/{notice_id}")
    assert mine.status_code == 200 and "Texas Parks and Wildlife Department" in mine.text
    r = fleet.client.post(
        f"/notices/{notice_id}/acknowledge",
        data={"csrf_token": _form_csrf(mine.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert 'id="notice-acknowledged"' in fleet.client.get(f"/notices/{notice_id}").text
    [(org, target, detail_json)] = _audit(server.db, "notice.acknowledge")
    assert (org, target, detail_json["via"]) == (server.ids["tpwd"], str(notice_id), "dashboard")


def test_the_server_sends_what_was_left_pending(
    db_url: str, fleet_factory: Callable[..., Fleet], relay: tuple[_Inbox, int], catalog: Catalog
) -> None:
    """A notice stored without a relay (the command line, say) is emailed by the server's
    periodic check once it runs with one."""
    inbox, port = relay
    fleet = fleet_factory(_settings(port, notice_check_seconds=0.05))
    db: Database = fleet.app.state.banscan.db
    ids = _tree(db)
    notice_id = _send(db, ids, catalog, ["tpwd"], now=dt.datetime.now(dt.UTC))
    with TestClient(fleet.app, base_url="https://testserver"):  # runs the app's lifespan
        deadline = time.monotonic() + 20
        while not _mail(inbox, TPWD_MAIL) and time.monotonic() < deadline:
            time.sleep(0.05)
    assert len(_mail(inbox, TPWD_MAIL)) == 1
    assert _rows(db, notice_id)[ids["tpwd"]].email_state == "sent"


def test_relay_settings_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    assert mailer_of(ServerSettings()) is None
    monkeypatch.setenv("BANSCAN_TEST_SMTP_PASSWORD", "s3cret relay password")
    relay: dict[str, Any] = {
        "smtp_host": "smtp.example.gov",
        "smtp_from": "notices@dir.example.gov",
        "public_url": PUBLIC,
    }
    mailer = mailer_of(
        ServerSettings(**relay, smtp_username="banscan", smtp_password_env="BANSCAN_TEST_SMTP_PASSWORD")
    )
    assert mailer is not None and mailer.smtp.password == "s3cret relay password" and mailer.smtp.starttls
    assert "s3cret" not in repr(mailer)
    for extra, words in (
        ({"public_url": None}, "--public-url"),
        ({"public_url": "javascript:alert(1)"}, "http"),
        ({"smtp_security": "ssl"}, "starttls, tls, none"),
        ({"smtp_username": "banscan", "smtp_password_env": "BANSCAN_TEST_NO_SUCH_VARIABLE"}, "is not set"),
        ({"smtp_username": "banscan"}, "needs a password"),
        (
            {
                "smtp_username": "banscan",
                "smtp_password_env": "BANSCAN_TEST_SMTP_PASSWORD",
                "smtp_security": "none",
            },
            "without TLS",
        ),
        ({"smtp_from": "not an address"}, "not an email address"),
    ):
        with pytest.raises(ValueError, match=words):
            mailer_of(ServerSettings(**(relay | extra)))
    tls = mailer_of(ServerSettings(**relay, smtp_security="tls", smtp_port=465))
    assert tls is not None and tls.smtp.ssl and not tls.smtp.starttls


def test_command_line_send_list_remind(sqlite_url: str, relay: tuple[_Inbox, int]) -> None:
    inbox, port = relay
    upgrade_db(sqlite_url)
    database = Database(sqlite_url)
    try:
        _tree(database)
    finally:
        database.dispose()
    runner = CliRunner()
    smtp = ["--smtp-host", "127.0.0.1", "--smtp-port", str(port), "--smtp-security", "none"]
    smtp += ["--smtp-from", "notices@dir.example.gov", "--public-url", PUBLIC]

    def notice(*args: str) -> Any:
        return runner.invoke(cli_app, ["notice", *args, "--db", sqlite_url])

    r = notice("send", "--from", "tx-dir", "--to", "tpwd", "--to", "acme", "--title", "Kaspersky", *smtp)
    assert r.exit_code == 0, r.output
    assert "stored for 2 member(s)" in r.output and "emailed 2 member(s)" in r.output
    assert len(_mail(inbox, TPWD_MAIL)) == 1 and len(_mail(inbox, ACME_MAIL)) == 1
    r = notice("send", "--from", "tx-dir", "--to", "omes", "--title", "Kaspersky", *smtp)
    assert r.exit_code == 2 and "not a member of 'tx-dir'" in r.output
    r = notice("send", "--from", "tx-dir", "--to", "travis", "--title", "Kaspersky")
    assert r.exit_code == 2 and "--explainer-url" in r.output
    r = notice("send", "--from", "tx-dir", "--to", "gone", "--title", "County", "--explainer-url", EXPLAINER)
    assert r.exit_code == 0 and "emails pending" in r.output, r.output

    r = notice("list", "--org", "tx-dir", "--format", "json")
    assert r.exit_code == 0, r.output
    listed = json.loads(r.stdout)
    assert [(n["recipients"], n["emails"]["sent"], n["emails"]["pending"]) for n in listed["sent"]] == [
        (1, 0, 1),
        (2, 2, 0),
    ]
    r = notice("list", "--org", "tpwd")
    assert r.exit_code == 0 and "tx-dir" in r.stdout and "not yet" in r.stdout
    assert notice("list", "--org", "nowhere").exit_code == 2
    r = notice("remind")
    assert r.exit_code == 2 and "--smtp-host" in r.output
    r = notice("remind", "--org", "tx-dir", *smtp)
    assert r.exit_code == 0 and "reminded 0 member(s)" in r.output
