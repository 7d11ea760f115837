"""Sending a notice by email: one multipart/alternative message (text and HTML, each ending with
the recipient's acknowledgement link) through an SMTP relay.

TLS verifies the relay's certificate and name with the system's trust store, or with `ca_file`
for a relay under a private CA; STARTTLS is never skipped when the relay does not offer it. A
password is sent only over TLS (or to a relay on the loopback interface), is kept out of
`repr`, and nothing here logs. Every failure is one `SmtpError` line naming host:port.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import smtplib
import socket
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path

from banscan.errors import one_line
from banscan.notices.model import Notice
from banscan.notices.render import bodies


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    """Where and how to send. Port 587 with `starttls` is message submission; 465 with `ssl` is
    implicit TLS; a local relay without TLS on 25 has both off."""

    host: str
    from_addr: str
    port: int = 587
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = True
    ssl: bool = False
    timeout: float = 30.0
    ca_file: Path | None = None  # a private relay's CA (PEM); default: the system's trust store
    local_hostname: str | None = None  # the EHLO name; default: this machine's fully qualified name

    def __post_init__(self) -> None:
        if self.starttls and self.ssl:
            raise ValueError("choose one of starttls (port 587) and ssl (port 465), not both")
        if (self.username is None) != (self.password is None):
            raise ValueError("give both username and password, or neither")
        if not _address(self.from_addr):
            raise ValueError(f"from_addr {self.from_addr!r} is not an email address")

    @property
    def server(self) -> str:
        """ "host:port", as every error names it."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class SendResult:
    """The Message-ID sent, the recipients the relay accepted, and those it refused (address →
    its one-line reply) when it accepted others."""

    message_id: str
    accepted: tuple[str, ...]
    refused: dict[str, str] = field(default_factory=dict)


class SmtpError(Exception):
    """Sending failed; the message is one line naming the relay (host:port), never a password."""

    def __init__(self, settings: SmtpSettings, what: str) -> None:
        super().__init__(one_line(f"SMTP {settings.server}: {what}"))
        self.server = settings.server


class SmtpConnectError(SmtpError):
    """The relay could not be reached: refused, timed out, unknown name, dropped."""


class SmtpTlsError(SmtpError):
    """TLS failed: certificate not trusted or for another name, or STARTTLS not offered."""


class SmtpAuthError(SmtpError):
    """The relay refused the username and password, or offers no authentication."""


class SmtpRefusedError(SmtpError):
    """The relay refused the sender or every recipient."""


def _address(value: str) -> str | None:
    """The bare address of "a@b.example" or "Name <a@b.example>"; None for anything else (two
    addresses, no @, a line break that would start another header)."""
    if any(c in value for c in "\r\n\0"):
        return None
    name, addr = parseaddr(value)
    spelled = f"{name} <{addr}>" if name else addr
    ok = addr and "@" in addr and " " not in addr and value.strip() in (addr, spelled, f'"{name}" <{addr}>')
    return addr if ok else None


def _loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _reply(code: int, text: bytes | str) -> str:
    words = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return f"{code} {' '.join(words.split())}"[:200]


def build_message(settings: SmtpSettings, notice: Notice, to: list[str], ack_url: str) -> EmailMessage:
    """The email: From, To, Subject, Date, Message-ID, and text and HTML alternatives."""
    text, html = bodies(notice.content, ack_url)
    msg = EmailMessage()
    msg["From"] = settings.from_addr
    msg["To"] = ", ".join(to)
    msg["Subject"] = notice.subject
    msg["Date"] = format_datetime(dt.datetime.now(dt.UTC))
    domain = (_address(settings.from_addr) or "").rpartition("@")[2] or settings.host
    msg["Message-ID"] = make_msgid(domain=domain)
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to the coordinator
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    return msg


def send(settings: SmtpSettings, notice: Notice, to: list[str], ack_url: str) -> SendResult:
    """Send `notice` to `to` with `ack_url` as its acknowledgement link; SmtpError (one line) when
    it could not be sent to anyone. Recipients refused while others were accepted are in
    `SendResult.refused`."""
    if not to:
        raise ValueError("no recipients")
    bad = [a for a in to if not _address(a)]
    if bad:
        raise ValueError(f"not an email address: {one_line(bad[0])!r}")
    if settings.username and not (settings.starttls or settings.ssl) and not _loopback(settings.host):
        raise SmtpAuthError(settings, "refusing to send the password without TLS; set starttls or ssl")
    msg = build_message(settings, notice, to, ack_url)
    refused = deliver(settings, msg, to)
    return SendResult(
        message_id=str(msg["Message-ID"]),
        accepted=tuple(a for a in to if (_address(a) or a) not in refused),
        refused=refused,
    )


def deliver(settings: SmtpSettings, msg: EmailMessage, to: list[str]) -> dict[str, str]:
    """Send a built message to `to` through the relay: the recipients it refused while it
    accepted others, with the reply; every other failure becomes the one-line SmtpError a
    person can act on."""
    context = ssl.create_default_context(cafile=str(settings.ca_file) if settings.ca_file else None)
    client: smtplib.SMTP | None = None
    try:
        if settings.ssl:
            client = smtplib.SMTP_SSL(
                settings.host,
                settings.port,
                local_hostname=settings.local_hostname,
                timeout=settings.timeout,
                context=context,
            )
        else:
            client = smtplib.SMTP(
                settings.host, settings.port, local_hostname=settings.local_hostname, timeout=settings.timeout
            )
        client.ehlo()
        if settings.starttls:
            if not client.has_extn("starttls"):
                raise SmtpTlsError(settings, "the server does not offer STARTTLS")
            client.starttls(context=context)
            client.ehlo()
        if settings.username is not None and settings.password is not None:
            client.login(settings.username, settings.password)
        envelope = [_address(a) or a for a in to]
        refused = client.send_message(msg, from_addr=_address(settings.from_addr), to_addrs=envelope)
        with contextlib.suppress(smtplib.SMTPException, OSError):
            client.quit()  # sent: a polite goodbye, whose failure changes nothing
        return {addr: _reply(code, text) for addr, (code, text) in refused.items()}
    except SmtpError:
        raise
    except smtplib.SMTPAuthenticationError as exc:
        raise SmtpAuthError(
            settings, f"authentication failed: {_reply(exc.smtp_code, exc.smtp_error)}"
        ) from None
    except smtplib.SMTPNotSupportedError as exc:
        raise SmtpAuthError(settings, f"not supported by the server: {' '.join(str(exc).split())}") from None
    except smtplib.SMTPRecipientsRefused as exc:
        who = "; ".join(f"{a} ({_reply(c, t)})" for a, (c, t) in exc.recipients.items())
        raise SmtpRefusedError(settings, f"every recipient refused: {who}") from None
    except smtplib.SMTPSenderRefused as exc:
        raise SmtpRefusedError(
            settings, f"sender {exc.sender} refused: {_reply(exc.smtp_code, exc.smtp_error)}"
        ) from None
    except smtplib.SMTPResponseException as exc:
        raise SmtpError(settings, f"server replied {_reply(exc.smtp_code, exc.smtp_error)}") from None
    except ssl.SSLCertVerificationError as exc:
        reason = exc.verify_message or exc.reason or "certificate verify failed"
        raise SmtpTlsError(settings, f"TLS certificate not accepted: {reason}") from None
    except ssl.SSLError as exc:
        raise SmtpTlsError(settings, f"TLS failed: {exc.reason or exc}") from None
    except ConnectionRefusedError:
        raise SmtpConnectError(settings, "connection refused") from None
    except TimeoutError:
        raise SmtpConnectError(settings, f"no answer within {settings.timeout:g} s") from None
    except socket.gaierror as exc:
        raise SmtpConnectError(settings, f"cannot resolve the host name: {exc.strerror or exc}") from None
    except smtplib.SMTPServerDisconnected as exc:
        raise SmtpConnectError(
            settings, f"the server closed the connection: {exc or 'no reason given'}"
        ) from None
    except smtplib.SMTPException as exc:
        raise SmtpError(settings, " ".join(str(exc).split()) or type(exc).__name__) from None
    except OSError as exc:
        raise SmtpConnectError(settings, exc.strerror or str(exc) or type(exc).__name__) from None
    finally:
        if client is not None:
            client.close()  # after a failure, no QUIT: the connection may be mid-handshake or gone
