"""Notices to member organisations: composed from the catalog (any pack, the fictional one too),
escaped in HTML, acknowledged through signed expiring tokens, and sent to a real SMTP server on
the loopback interface (plain, AUTH, STARTTLS and implicit TLS with a certificate made here)."""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import re
import shutil
import socket
import ssl
from collections.abc import Callable, Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword
from aiosmtpd.smtp import Session as SmtpConversation
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from banscan.catalog.loader import built_in_catalog, default_catalog_dir, load_catalog
from banscan.catalog.schema import Catalog, Regulation
from banscan.models import ObligationStatus
from banscan.notices import tokens
from banscan.notices.compose import compose_notice
from banscan.notices.model import Notice, NoticeError
from banscan.notices.render import bodies
from banscan.notices.smtp import (
    SmtpAuthError,
    SmtpConnectError,
    SmtpRefusedError,
    SmtpSettings,
    SmtpTlsError,
    send,
)
from banscan.policy.engine import jurisdiction_applies
from banscan.policy.periods import period_text

PACK = Path(__file__).parent / "fixtures" / "packs" / "zephyr-ban"
EXPLAINER = "https://banscan.example.org/explainer"
ACK = "https://banscan.example.org/ack/"


def _flat(text: str) -> str:
    """Text with its line wrapping undone, to look for a sentence the text part wrapped."""
    return " ".join(text.split())


def _binding(catalog: Catalog, pack: str, role: str, jurisdiction: str) -> list[Regulation]:
    """The pack's regulations that bind `role` in `jurisdiction`, read from the catalog."""
    return [
        r
        for r in catalog.regulations
        if r.pack == pack
        and role in r.binds
        and jurisdiction_applies(r, jurisdiction)
        and any(role in o.roles for o in r.obligations)
    ]


def _compose(catalog: Catalog, **kw: Any) -> Notice:
    args: dict[str, Any] = {
        "coordinator": "Texas Department of Information Resources",
        "member": "Texas Parks and Wildlife Department",
        "role": "state-agency",
        "jurisdiction": "US-TX",
        "as_of": dt.date(2025, 1, 15),
        "explainer_url": EXPLAINER,
    }
    return compose_notice(catalog, **(args | kw))


def _assert_deadlines_follow_catalog(
    notice: Notice, regs: list[Regulation], role: str, as_of: dt.date
) -> None:
    rules = {(r.id, o.id): o for r in regs for o in r.obligations if role in o.roles}
    assert {(d.regulation, d.obligation) for d in notice.deadlines} == set(rules)
    for d in notice.deadlines:
        rule = rules[(d.regulation, d.obligation)]
        assert (d.effective, d.deadline, d.kind) == (rule.effective, rule.deadline, rule.kind)
        assert d.period == ("" if rule.deadline else period_text(rule))
        if as_of < rule.effective:
            assert d.status is ObligationStatus.NOT_YET_IN_FORCE
        elif rule.deadline is not None and rule.kind in ("action", "reporting"):
            late = as_of > rule.deadline
            assert d.status is (ObligationStatus.OVERDUE if late else ObligationStatus.REQUIRED)
            assert d.days_overdue == ((as_of - rule.deadline).days if late else None)
        assert _flat(d.action) in _flat(notice.text)


# --- composing ---------------------------------------------------------------------------------


def test_kaspersky_pack_for_a_texas_state_agency() -> None:
    catalog = built_in_catalog()
    as_of = dt.date(2025, 1, 15)
    notice = _compose(catalog, packs=["kaspersky"], as_of=as_of)
    regs = _binding(catalog, "kaspersky", "state-agency", "US-TX")
    assert regs and set(notice.regulations) == {r.id for r in regs}
    # rules of the pack that bind other roles only are left out
    others = [r.id for r in catalog.regulations if r.pack == "kaspersky" and "state-agency" not in r.binds]
    assert others and not set(others) & set(notice.regulations)
    _assert_deadlines_follow_catalog(notice, regs, "state-agency", as_of)
    pack = catalog.pack("kaspersky")
    assert pack is not None and pack.last_permitted_update == dt.date(2024, 9, 29)
    assert pack.title in notice.subject and "state agencies" in notice.subject
    assert "From 2024-09-29 its products may get no signature or codebase updates." in _flat(notice.text)
    # alternatives from the catalog, built-in ones first
    alts = [a for a in catalog.alternatives if a.pack == "kaspersky"]
    where = {a.name: notice.text.index(f"* {a.name} (") for a in alts}
    assert max(where[a.name] for a in alts if a.builtin) < min(where[a.name] for a in alts if not a.builtin)
    assert EXPLAINER in notice.text and f'href="{EXPLAINER}"' in notice.html
    for line in notice.text.splitlines():
        assert len(line) <= 72 or line.strip().startswith("http"), line


def test_texas_packs_by_default_with_dated_deadlines() -> None:
    catalog = built_in_catalog()
    as_of = dt.date(2025, 1, 15)
    notice = _compose(catalog, as_of=as_of)
    texas = _binding(catalog, "us-tx", "state-agency", "US-TX")
    kaspersky = _binding(catalog, "kaspersky", "state-agency", "US-TX")
    assert {r.id for r in texas + kaspersky} <= set(notice.regulations)
    fixed = [d for d in notice.deadlines if d.deadline is not None]
    assert fixed, "the Texas pack sets fixed deadlines"
    _assert_deadlines_follow_catalog(
        notice,
        [r for r in catalog.regulations if r.id in notice.regulations],
        "state-agency",
        as_of,
    )
    # the model security plan's agency policies were due on 2023-02-15
    policy_due = [d for d in fixed if d.deadline == dt.date(2023, 2, 15)]
    assert policy_due and policy_due[0].status is ObligationStatus.OVERDUE
    assert f"Overdue since 2023-02-15 ({policy_due[0].days_overdue} days)" in notice.text
    # the most urgent come first
    assert notice.deadlines[0].status is ObligationStatus.OVERDUE
    # no Texas rule reaches a New Hampshire agency
    nh = _compose(catalog, jurisdiction="US-NH")
    assert not {r.id for r in texas} & set(nh.regulations)
    assert {r.id for r in _binding(catalog, "us-nh", "state-agency", "US-NH")} <= set(nh.regulations)


def test_kaspersky_pack_for_a_federal_contractor() -> None:
    catalog = built_in_catalog()
    as_of = dt.date(2024, 11, 8)
    notice = _compose(catalog, packs=["kaspersky"], role="federal-contractor", jurisdiction="US", as_of=as_of)
    regs = _binding(catalog, "kaspersky", "federal-contractor", "US")
    assert set(notice.regulations) == {r.id for r in regs} and len(regs) >= 2
    _assert_deadlines_follow_catalog(notice, regs, "federal-contractor", as_of)
    reports = [d for d in notice.deadlines if d.kind == "reporting"]
    assert reports and all(d.status is ObligationStatus.DUE and d.period for d in reports)
    for d in reports:
        assert f"Report within {d.period}" in _flat(notice.text)
    # FAR 52.204-23's first report: 1 business day for items identified before 2023-12-04
    assert any("2023-12-04" in d.period for d in reports)
    assert "federal contractors" in notice.subject
    # before the clause took effect, its duties are upcoming
    early = _compose(
        catalog, packs=["kaspersky"], role="federal-contractor", jurisdiction="US", as_of=dt.date(2018, 6, 1)
    )
    ups = [d for d in early.deadlines if d.kind == "reporting"]
    assert ups and all(d.status is ObligationStatus.NOT_YET_IN_FORCE for d in ups)
    assert f"Upcoming from {ups[0].effective.isoformat()}" in early.text


@pytest.fixture(scope="module")
def zephyr_catalog(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    """The built-in catalog with the fictional pack dropped into its packs/ folder."""
    folder = tmp_path_factory.mktemp("catalog") / "catalog"
    shutil.copytree(default_catalog_dir(), folder)
    shutil.copytree(PACK, folder / "packs" / "zephyr-ban")
    return load_catalog(folder)


def test_a_fictional_pack_needs_no_code(zephyr_catalog: Catalog) -> None:
    as_of = dt.date(2031, 2, 15)
    notice = _compose(
        zephyr_catalog,
        packs=["zephyr-ban"],
        role="federal-contractor",
        jurisdiction="US",
        as_of=as_of,
        coordinator="Example Prime Contractor",
        member="Example Subcontractor LLC",
    )
    regs = _binding(zephyr_catalog, "zephyr-ban", "federal-contractor", "US")
    assert notice.regulations == tuple(r.id for r in regs) == ("zephyr-act-2031",)
    _assert_deadlines_follow_catalog(notice, regs, "federal-contractor", as_of)
    status = {d.obligation: d.status for d in notice.deadlines}
    assert status == {
        "stop-using": ObligationStatus.PROHIBITED,
        "report-found": ObligationStatus.NOT_YET_IN_FORCE,
    }
    pack = zephyr_catalog.pack("zephyr-ban")
    assert pack is not None and pack.title in notice.subject
    assert "Upcoming from 2031-03-01, within 1 US business day from identification" in _flat(notice.text)
    assert "Any Camera Viewer (fictional)" in notice.text and "Any Camera Viewer (fictional)" in notice.html
    assert "Zephyr Optics Holdings" in notice.text  # the entity the act covers
    assert "Kaspersky" not in notice.text
    # a user is bound too, a seller is not
    assert _compose(
        zephyr_catalog, packs=["zephyr-ban"], role="user", jurisdiction="US", as_of=as_of
    ).regulations
    with pytest.raises(NoticeError, match="nothing to notify"):
        _compose(zephyr_catalog, packs=["zephyr-ban"], role="seller", jurisdiction="US", as_of=as_of)


def test_bad_requests_are_refused_in_words() -> None:
    catalog = built_in_catalog()
    with pytest.raises(NoticeError, match="no pack 'no-such-pack'; the catalog has kaspersky"):
        _compose(catalog, packs=["no-such-pack"])
    with pytest.raises(NoticeError, match="unknown role 'janitor'"):
        _compose(catalog, role="janitor")
    with pytest.raises(NoticeError, match="unknown jurisdiction"):
        _compose(catalog, jurisdiction="Atlantis")
    with pytest.raises(NoticeError, match="http"):
        _compose(catalog, explainer_url="javascript:alert(1)")
    with pytest.raises(NoticeError, match="names"):
        _compose(catalog, member=" \x1b ")


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.hrefs: list[str] = []
        self.handlers: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.hrefs += [v or "" for k, v in attrs if k == "href"]
        self.handlers += [k for k, _ in attrs if k.startswith("on")]


def test_a_hostile_member_name_is_text_not_markup() -> None:
    member = '<script>alert("x")</script> & <img src=x onerror=alert(1)> Agency'
    extra = "Reply by Friday.\n\n<a href='javascript:alert(2)'>click</a>"
    notice = _compose(built_in_catalog(), packs=["kaspersky"], member=member, extra=extra)
    assert (
        "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;img src=x onerror=alert(1)&gt; Agency"
        in notice.html
    )
    tags = _Tags()
    tags.feed(notice.html)
    assert "script" not in tags.tags and "img" not in tags.tags and not tags.handlers
    assert tags.hrefs and all(h.startswith("https://") for h in tags.hrefs)
    assert member in notice.text  # the text part is text: shown as typed
    # control characters never reach a terminal or a header
    sly = _compose(
        built_in_catalog(), packs=["kaspersky"], member="Evil\x1b[31m Agency\r\nBcc: x@example.org"
    )
    assert "\x1b" not in sly.text and "\r" not in sly.subject and "\n" not in sly.subject
    assert "Evil [31m Agency Bcc: x@example.org" in sly.subject
    # bidirectional overrides are spelled out
    assert "[U+202E]" in _compose(built_in_catalog(), packs=["kaspersky"], member="Agency\u202eexe").text


def test_the_acknowledgement_link_is_added_per_recipient() -> None:
    notice = _compose(built_in_catalog(), packs=["kaspersky"])
    assert ACK not in notice.text and ACK not in notice.html
    text, html = bodies(notice.content, ACK + "tok")
    assert ACK + "tok" in text and f'href="{ACK}tok"' in html
    with pytest.raises(NoticeError):
        bodies(notice.content, "javascript:alert(1)")


# --- tokens ------------------------------------------------------------------------------------

SECRET = bytes(range(32))
NOW = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)
EXPIRES = NOW + dt.timedelta(days=14)


def _raw(token: str) -> bytearray:
    return bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))


def _enc(raw: bytes | bytearray) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_token_round_trip() -> None:
    token = tokens.issue(SECRET, 41, 7, EXPIRES)
    assert re.fullmatch(r"[A-Za-z0-9_-]+", token)
    claim = tokens.verify(SECRET, token, now=NOW)
    assert (claim.notice_id, claim.org_id, claim.expires) == (41, 7, EXPIRES)
    assert re.fullmatch(r"[0-9a-f]{32}", claim.nonce)
    again = tokens.issue(SECRET, 41, 7, EXPIRES)
    assert again != token and tokens.verify(SECRET, again, now=NOW).nonce != claim.nonce
    # a time zone other than UTC is the same instant
    eastern = dt.timezone(dt.timedelta(hours=-5))
    assert tokens.verify(SECRET, token, now=NOW.astimezone(eastern)) == claim


def test_a_token_with_any_byte_changed_is_forged() -> None:
    token = tokens.issue(SECRET, 41, 7, EXPIRES)
    raw = _raw(token)
    for i in range(1, len(raw)):  # byte 0 is the version: another one is malformed
        changed = bytearray(raw)
        changed[i] ^= 0x01
        with pytest.raises(tokens.TokenForged):
            tokens.verify(SECRET, _enc(changed), now=NOW)


def test_a_token_from_another_secret_is_forged() -> None:
    token = tokens.issue(bytes(32), 41, 7, EXPIRES)
    with pytest.raises(tokens.TokenForged):
        tokens.verify(SECRET, token, now=NOW)


def test_an_expired_token_says_what_it_was_for() -> None:
    token = tokens.issue(SECRET, 41, 7, EXPIRES)
    assert tokens.verify(SECRET, token, now=EXPIRES - dt.timedelta(seconds=1)).notice_id == 41
    with pytest.raises(tokens.TokenExpired) as info:
        tokens.verify(SECRET, token, now=EXPIRES)
    assert (info.value.claim.notice_id, info.value.claim.org_id) == (41, 7)
    # the signature is checked first: an altered expired token is forged, not expired
    raw = _raw(token)
    raw[-1] ^= 0x80
    with pytest.raises(tokens.TokenForged):
        tokens.verify(SECRET, _enc(raw), now=EXPIRES + dt.timedelta(days=1))


@pytest.mark.parametrize(
    "make",
    [
        lambda t: "",
        lambda t: "not a token!",
        lambda t: t[:-4],
        lambda t: t + "AAAA",
        lambda t: t[:10] + "é" + t[11:],
        lambda t: t[:10] + "+" + t[11:],
        lambda t: _enc(b"\x02" + bytes(_raw(t)[1:])),
        lambda t: "A" * 10_000,
        lambda t: t[:-1] + chr(ord(t[-1]) + 1),  # the last character's unused bits set
    ],
    ids=[
        "empty",
        "spaces",
        "short",
        "long",
        "non-ascii",
        "standard-base64",
        "version",
        "huge",
        "non-canonical",
    ],
)
def test_malformed_tokens(make: Callable[[str], str]) -> None:
    with pytest.raises(tokens.TokenMalformed):
        tokens.verify(SECRET, make(tokens.issue(SECRET, 41, 7, EXPIRES)), now=NOW)


def test_a_claim_for_another_organisation_is_visible_and_cannot_be_edited() -> None:
    token = tokens.issue(SECRET, 41, 7, EXPIRES)
    claim = tokens.verify(SECRET, token, now=NOW)
    assert claim.org_id == 7 and claim.org_id != 8  # the caller compares it with its own org
    raw = _raw(token)
    raw[9:17] = (8).to_bytes(8, "big")  # the organisation id, rewritten
    with pytest.raises(tokens.TokenForged):
        tokens.verify(SECRET, _enc(raw), now=NOW)


def test_token_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        tokens.issue(b"short", 1, 1, EXPIRES)
    with pytest.raises(ValueError, match="timezone-aware"):
        tokens.issue(SECRET, 1, 1, dt.datetime(2026, 3, 2))
    with pytest.raises(ValueError, match="timezone-aware"):
        tokens.verify(SECRET, tokens.issue(SECRET, 1, 1, EXPIRES), now=dt.datetime(2026, 3, 2))
    with pytest.raises(ValueError, match="org_id"):
        tokens.issue(SECRET, 1, -1, EXPIRES)


# --- SMTP --------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Inbox:
    """An aiosmtpd handler that keeps what it receives and refuses one domain's recipients."""

    def __init__(self) -> None:
        self.messages: list[tuple[Envelope, bool]] = []  # (envelope, over TLS)

    async def handle_RCPT(
        self,
        server: SMTP,
        conversation: SmtpConversation,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if address.endswith("@refused.example"):
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, conversation: SmtpConversation, envelope: Envelope) -> str:
        transport = server.transport
        implicit = transport is not None and transport.get_extra_info("ssl_object") is not None
        self.messages.append((envelope, conversation.ssl is not None or implicit))
        return "250 Message accepted for delivery"

    def received(self) -> EmailMessage:
        assert len(self.messages) == 1
        content = self.messages[0][0].content
        assert isinstance(content, bytes)
        msg = message_from_bytes(content, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        return msg


@pytest.fixture
def relay() -> Iterator[Callable[..., tuple[_Inbox, int]]]:
    """Starts SMTP servers on 127.0.0.1 with the keyword arguments given; stops them after."""
    started: list[Controller] = []

    def start(**kw: Any) -> tuple[_Inbox, int]:
        inbox, port = _Inbox(), _free_port()
        controller = Controller(inbox, hostname="127.0.0.1", port=port, server_hostname="relay.test", **kw)
        controller.start()
        started.append(controller)
        return inbox, port

    yield start
    for c in started:
        c.stop()


@pytest.fixture(scope="module")
def notice() -> Notice:
    return _compose(built_in_catalog(), packs=["kaspersky"])


def _settings(port: int, **kw: Any) -> SmtpSettings:
    args: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "from_addr": "notices@dir.example.gov",
        "starttls": False,
        "timeout": 10.0,
        "local_hostname": "banscan.test",
    }
    return SmtpSettings(**(args | kw))


def test_the_message_has_both_parts_and_the_link(
    relay: Callable[..., tuple[_Inbox, int]], notice: Notice
) -> None:
    inbox, port = relay()
    result = send(_settings(port), notice, ["it-security@tpwd.example.gov"], ACK + "tok123")
    assert result.accepted == ("it-security@tpwd.example.gov",) and result.refused == {}
    msg = inbox.received()
    assert msg.get_content_type() == "multipart/alternative"
    assert msg["Message-ID"] == result.message_id and result.message_id.endswith("@dir.example.gov>")
    assert msg["Date"] and msg["From"] == "notices@dir.example.gov"
    assert msg["To"] == "it-security@tpwd.example.gov" and msg["Subject"] == notice.subject
    text_part = msg.get_body(("plain",))
    html_part = msg.get_body(("html",))
    assert text_part is not None and html_part is not None
    text, html = text_part.get_content(), html_part.get_content()
    assert ACK + "tok123" in text and f'href="{ACK}tok123"' in html
    assert _flat(notice.deadlines[0].action) in _flat(text)
    assert inbox.messages[0][0].rcpt_tos == ["it-security@tpwd.example.gov"]


def _authenticator(seen: list[bytes]) -> Callable[..., AuthResult]:
    def check(
        server: SMTP, conversation: SmtpConversation, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        seen.append(auth_data.login)
        ok = (auth_data.login, auth_data.password) == (b"relay-user", b"correct horse battery")
        return AuthResult(success=ok, handled=False)

    return check


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_auth(relay: Callable[..., tuple[_Inbox, int]], notice: Notice) -> None:
    seen: list[bytes] = []
    inbox, port = relay(authenticator=_authenticator(seen), auth_require_tls=False, auth_required=True)
    good = _settings(port, username="relay-user", password="correct horse battery")
    assert "correct horse" not in repr(good)
    send(good, notice, ["a@tpwd.example.gov"], ACK + "t")
    assert seen == [b"relay-user"] and len(inbox.messages) == 1
    bad = _settings(port, username="relay-user", password="wrong-password-123")
    with pytest.raises(SmtpAuthError) as info:
        send(bad, notice, ["a@tpwd.example.gov"], ACK + "t")
    message = str(info.value)
    assert message.startswith(f"SMTP 127.0.0.1:{port}: authentication failed: 535")
    assert "\n" not in message and "wrong-password" not in message
    # without credentials the relay refuses the mail: one line, naming the server
    with pytest.raises(SmtpRefusedError, match=rf"^SMTP 127\.0\.0\.1:{port}: sender .* refused: 530"):
        send(_settings(port), notice, ["a@tpwd.example.gov"], ACK + "t")


def test_a_password_is_never_sent_in_clear_to_a_remote_relay(notice: Notice) -> None:
    settings = SmtpSettings(
        host="smtp.example.org",
        port=25,
        from_addr="n@example.org",
        starttls=False,
        username="u",
        password="p",
    )
    with pytest.raises(
        SmtpAuthError, match=r"^SMTP smtp\.example\.org:25: refusing to send the password without TLS"
    ):
        send(settings, notice, ["a@example.org"], ACK + "t")


def _certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1 signed by it: (CA, server chain, server key)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "banscan test relay CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return paths


@pytest.fixture(scope="module")
def server_tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, Path]:
    ca, chain, key = _certificates(tmp_path_factory.mktemp("tls"))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(chain, key)
    return context, ca


def test_starttls_with_a_private_ca(
    relay: Callable[..., tuple[_Inbox, int]], notice: Notice, server_tls: tuple[ssl.SSLContext, Path]
) -> None:
    context, ca = server_tls
    seen: list[bytes] = []
    inbox, port = relay(tls_context=context, require_starttls=True, authenticator=_authenticator(seen))
    settings = _settings(
        port, starttls=True, ca_file=ca, username="relay-user", password="correct horse battery"
    )
    send(settings, notice, ["a@tpwd.example.gov"], ACK + "t")
    assert inbox.messages[0][1] is True, "the message came over TLS"
    assert seen == [b"relay-user"]
    # the system's trust store does not know the private CA: refused, one line
    with pytest.raises(SmtpTlsError) as info:
        send(_settings(port, starttls=True), notice, ["a@tpwd.example.gov"], ACK + "t")
    assert str(info.value).startswith(f"SMTP 127.0.0.1:{port}: TLS certificate not accepted:")
    assert "\n" not in str(info.value) and len(inbox.messages) == 1


def test_starttls_is_never_skipped(relay: Callable[..., tuple[_Inbox, int]], notice: Notice) -> None:
    inbox, port = relay()
    with pytest.raises(
        SmtpTlsError, match=rf"^SMTP 127\.0\.0\.1:{port}: the server does not offer STARTTLS$"
    ):
        send(_settings(port, starttls=True), notice, ["a@tpwd.example.gov"], ACK + "t")
    assert inbox.messages == []


def test_implicit_tls(
    relay: Callable[..., tuple[_Inbox, int]], notice: Notice, server_tls: tuple[ssl.SSLContext, Path]
) -> None:
    context, ca = server_tls
    inbox, port = relay(ssl_context=context)
    send(_settings(port, ssl=True, ca_file=ca), notice, ["a@tpwd.example.gov"], ACK + "t")
    assert inbox.messages[0][1] is True
    with pytest.raises(SmtpTlsError, match=rf"^SMTP 127\.0\.0\.1:{port}: TLS certificate not accepted"):
        send(_settings(port, ssl=True), notice, ["a@tpwd.example.gov"], ACK + "t")


def test_connection_refused_is_one_line(notice: Notice) -> None:
    port = _free_port()  # nothing listens there
    with pytest.raises(SmtpConnectError) as info:
        send(_settings(port), notice, ["a@tpwd.example.gov"], ACK + "t")
    assert str(info.value) == f"SMTP 127.0.0.1:{port}: connection refused"


def test_refused_recipients_are_reported(relay: Callable[..., tuple[_Inbox, int]], notice: Notice) -> None:
    inbox, port = relay()
    to = ["IT Security <ok@tpwd.example.gov>", "gone@refused.example"]
    result = send(_settings(port, from_addr="DIR notices <notices@dir.example.gov>"), notice, to, ACK + "t")
    assert result.accepted == ("IT Security <ok@tpwd.example.gov>",)
    assert result.refused == {"gone@refused.example": "550 5.1.1 no such mailbox here"}
    envelope = inbox.messages[0][0]
    assert envelope.rcpt_tos == ["ok@tpwd.example.gov"] and envelope.mail_from == "notices@dir.example.gov"
    assert inbox.received()["From"] == "DIR notices <notices@dir.example.gov>"
    with pytest.raises(SmtpRefusedError) as info:
        send(_settings(port), notice, ["gone@refused.example"], ACK + "t")
    assert str(info.value) == (
        f"SMTP 127.0.0.1:{port}: every recipient refused: gone@refused.example (550 5.1.1 no such mailbox here)"
    )


def test_settings_and_addresses_are_checked(notice: Notice) -> None:
    with pytest.raises(ValueError, match="not both"):
        SmtpSettings(host="h", from_addr="a@b.example", starttls=True, ssl=True)
    with pytest.raises(ValueError, match="both username and password"):
        SmtpSettings(host="h", from_addr="a@b.example", username="u")
    with pytest.raises(ValueError, match="not an email address"):
        SmtpSettings(host="h", from_addr="a@b.example\r\nBcc: x@y.example")
    for bad in ("ok@example.org\r\nBcc: evil@example.org", "a@example.org, b@example.org", "nobody"):
        with pytest.raises(ValueError, match="not an email address"):
            send(_settings(25), notice, [bad], ACK + "t")
    with pytest.raises(ValueError, match="no recipients"):
        send(_settings(25), notice, [], ACK + "t")
