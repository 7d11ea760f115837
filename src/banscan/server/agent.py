"""The agent: enrol once, scan this machine, post the result; repeat on a schedule.

State (server URL, host id, token, host identifier) lives in `agent.json` in the state folder,
written atomically with mode 0600. Posting retries with exponential backoff and jitter on
network errors, 429 (honouring Retry-After) and 5xx; the body is built once per run, so a
retried post that did reach the server is answered as a duplicate, not stored twice. A 401
means the token was revoked: the agent enrols again once and re-posts.

Enrolling again presents the saved token (`Authorization: Bearer`): while it is live, the server
exchanges it for a new one. Without a live token, enrolling as a host the server already knows
is held for an admin (HTTP 202): the agent keeps the pending secret it was given in its state
and asks again every `pending_interval` seconds (`--once`: it exits 3 and asks at its next run);
once approved, the answer carries its token; once denied, it stops (exit 2).

The agent names what it scans as `banscan scan` does (`identify`, through `collect.detect`):
with `--root`, the root's own host name, platform and machine id, so every image is its own host.

Before each scan, when the server hosts a signed catalog repository (`banscan serve
--catalog-repo`), the agent updates its catalog from `<server>/tuf/` with `tuf.ngclient`
(`banscan.updates.client.update`), fetching through its own HTTP client (`AgentFetcher`: its TLS
settings and token). Trust starts from a root pinned once — `--catalog-root FILE` or
`--catalog-root-sha256` — or else the server's `1.root.json` trusted on first use over the
authenticated TLS channel (recorded in the state as such); later updates start from the root
cached in the data folder. A refused update is one line in the log and in the result
(`catalog.update`); the scan goes on with the catalog it has.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import json
import logging
import os
import random
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from tuf.api import exceptions as tuf_errors
from tuf.ngclient import FetcherInterface

from banscan import __version__
from banscan.collect.detect import live_os, machine_id, make_context
from banscan.errors import ErrorSink

log = logging.getLogger("banscan.agent")

STATE_FILE = "agent.json"
TUF_PATH = "/tuf/"  # where a server hosts its catalog repository
TIMESTAMP_MAX_BYTES = 16_384  # as tuf.ngclient's UpdaterConfig.timestamp_max_length
EXIT_OK, EXIT_FAILED, EXIT_REFUSED, EXIT_PENDING = 0, 1, 2, 3


class AgentError(Exception):
    """A failure that retrying will not fix (refused enrolment, rejected report, bad config)."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


class EnrolmentPending(AgentError):
    """The server holds the enrolment until an admin approves it."""

    def __init__(self, message: str) -> None:
        super().__init__(message, EXIT_PENDING)


def default_state_dir() -> Path:
    if sys.platform == "win32":
        return Path(os.environ.get("PROGRAMDATA", r"C:\ProgramData")) / "banscan"
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return Path("/var/lib/banscan")
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "banscan"


@dataclass(frozen=True)
class HostIdentity:
    """Who a scanned system is to the server, named exactly as `banscan scan` names it."""

    hostname: str  # the system's own name (/etc/hostname, ComputerName, macOS preferences …)
    platform: str  # linux, windows or macos; '' for a root of no layout the scan knows
    identifier: str | None  # None: a live machine recording no id (the agent makes one up)


def hostname_identifier(name: str) -> str:
    """The identifier of a root that records no machine id: a hash of its host name."""
    return "hostname-sha256:" + hashlib.sha256(name.casefold().encode("utf-8")).hexdigest()


def identify(root: Path | None = None) -> HostIdentity:
    """Name this machine (`root` None) or a mounted root as `banscan scan` does.

    The identifier is the system's own machine id (`collect.detect.machine_id`: Linux
    machine-id, Windows MachineGuid, macOS IOPlatformUUID); a root that records none is
    identified by a hash of its host name, so the same image is the same host on every run."""
    ctx = make_context(root, ErrorSink(echo=False))
    if ctx is None:  # not a system the scan can read (it will say so): named after its folder
        assert root is not None
        name = (root.resolve().name or str(root))[:255]
        return HostIdentity(name, "", hostname_identifier(name))
    ident = machine_id(ctx)
    if ident is None and root is not None:
        ident = hostname_identifier(ctx.host)
    return HostIdentity(ctx.host[:255], ctx.os, ident)


def os_name() -> str:
    """This machine's platform, as `banscan scan` names it."""
    return live_os()


def _day(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        return None


@dataclass
class AgentState:
    server: str = ""
    host_identifier: str = ""
    host_id: int | None = None
    token: str | None = None
    # product → the day the server holds as its first identification on this host (ISO date),
    # from the answers to reports; the next scan carries it, as `banscan scan --previous` does
    first_identified: dict[str, str] = field(default_factory=dict)
    # An enrolment the server holds for an admin: the secret to ask about it with, and its id.
    pending_secret: str | None = None
    enrolment_id: int | None = None
    # How the catalog repository's root came to be trusted: repository, root (root-file,
    # root-sha256 or trust-on-first-use), root_sha256 and at (ISO time).
    catalog_trust: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, state_dir: Path) -> AgentState:
        path = state_dir / STATE_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable agent state %s: %s", path, exc)
            return cls()
        keys = ("server", "host_identifier", "host_id", "token", "pending_secret", "enrolment_id")
        known = {k: data[k] for k in keys if k in data}
        days = data.get("first_identified")
        if isinstance(days, dict):
            known["first_identified"] = {
                str(p): d for p, d in days.items() if isinstance(d, str) and _day(d) is not None
            }
        trust = data.get("catalog_trust")
        if isinstance(trust, dict):
            known["catalog_trust"] = {str(k): v for k, v in trust.items() if isinstance(v, str)}
        return cls(**known)

    def remember(self, days: Any) -> bool:
        """Keep the earliest first identification the server gave for each product; True if any changed."""
        changed = False
        if not isinstance(days, dict):
            return changed
        for product, text in days.items():
            day = _day(text) if isinstance(text, str) else None
            if day is None or not isinstance(product, str):
                continue
            known = _day(self.first_identified.get(product, ""))
            if known is None or day < known:
                self.first_identified[product] = day.isoformat()
                changed = True
        return changed

    def save(self, state_dir: Path) -> Path:
        """Write atomically, readable by the owner only (the token is a credential)."""
        state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = state_dir / STATE_FILE
        fd, tmp = tempfile.mkstemp(prefix=".agent-", dir=state_dir)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(asdict(self), fh, indent=2)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        os.chmod(path, 0o600)
        return path


@dataclass
class AgentConfig:
    server: str
    enroll_secret: str | None
    state_dir: Path = field(default_factory=default_state_dir)
    once: bool = False
    interval: float = 3600.0
    root: Path | None = None  # scan a mounted root instead of this machine
    role: str = "user"
    jurisdiction: str = "US"
    catalog_path: str | None = None
    verify: bool | str = True  # TLS verification: True, False, or a CA bundle path
    timeout: float = 60.0
    max_attempts: int = 6
    backoff_base: float = 1.0
    backoff_max: float = 300.0
    # The name shown in the dashboard, and the host of the scan's findings; empty: the name
    # `banscan scan` gives the scanned system (this machine's, or the root's own).
    hostname: str = ""
    # Who this host is to the server; empty: the scanned system's machine id (see `identify`),
    # else (a live machine without one) a new UUID kept in the state.
    host_identifier: str = ""
    # Between scans, ask the server this often whether someone wants a scan now (0: never).
    checkin_interval: float = 60.0
    # Sent when enrolling (the server sets them on the host); empty: not sent, left as they are.
    site: str = ""
    tags: list[str] = field(default_factory=list)
    # While an enrolment waits for an admin, ask the server this often whether it was decided.
    pending_interval: float = 60.0
    # Before each scan, update the catalog from the server's signed repository when it has one;
    # the root to trust first: a root.json, or the SHA-256 of the repository's 1.root.json
    # (neither: the server's, trusted on first use over TLS).
    catalog_update: bool = True
    catalog_root: Path | None = None
    catalog_root_sha256: str | None = None

    @property
    def base_url(self) -> str:
        return self.server.rstrip("/")


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class AgentFetcher(FetcherInterface):
    """Fetches the server's catalog repository for `tuf.ngclient` through the agent's own HTTP
    client, so its TLS settings (CA bundle, verification) apply, with the agent's token. Each
    file is streamed with a read timeout and must arrive within `deadline` seconds; no redirect
    is followed and no URL outside the repository gets the token."""

    def __init__(
        self,
        client: httpx.Client,
        base: str,
        token: str,
        *,
        timeout: float = 30.0,
        deadline: float = 300.0,
        chunk_size: int = 64 * 1024,
    ) -> None:
        self.client = client
        self.base = base
        self.token = token
        self.timeout = timeout
        self.deadline = deadline
        self.chunk_size = chunk_size

    def _fetch(self, url: str) -> Iterator[bytes]:
        if not url.startswith(self.base):
            raise tuf_errors.DownloadError(f"{url} is not in the server's repository {self.base}")
        request = self.client.build_request(
            "GET", url, headers={"Authorization": f"Bearer {self.token}"}, timeout=httpx.Timeout(self.timeout)
        )
        try:
            response = self.client.send(request, stream=True, follow_redirects=False)
        except httpx.TimeoutException as exc:
            raise tuf_errors.SlowRetrievalError(f"{url}: no answer within {self.timeout:g} s") from exc
        except httpx.HTTPError as exc:
            raise tuf_errors.DownloadError(f"{url}: {type(exc).__name__}: {exc}") from exc
        if response.status_code != 200:
            response.close()
            raise tuf_errors.DownloadHTTPError(f"HTTP {response.status_code} for {url}", response.status_code)
        return self._chunks(url, response)

    def _chunks(self, url: str, response: httpx.Response) -> Iterator[bytes]:
        started = time.monotonic()
        try:
            for chunk in response.iter_bytes(self.chunk_size):
                yield chunk
                if time.monotonic() - started > self.deadline:
                    raise tuf_errors.SlowRetrievalError(f"{url}: not received within {self.deadline:g} s")
        except httpx.TimeoutException as exc:
            raise tuf_errors.SlowRetrievalError(f"{url}: stalled for {self.timeout:g} s") from exc
        except httpx.HTTPError as exc:
            raise tuf_errors.DownloadError(f"{url}: {type(exc).__name__}: {exc}") from exc
        finally:
            response.close()


class Agent:
    def __init__(
        self,
        cfg: AgentConfig,
        *,
        client: httpx.Client | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.cfg = cfg
        self.owns_client = client is None
        self.client = client or httpx.Client(
            timeout=cfg.timeout, verify=cfg.verify, headers={"User-Agent": f"banscan-agent/{__version__}"}
        )
        self.stop = stop or threading.Event()
        self.scan_now = threading.Event()  # set by `request_scan` (SIGUSR1 from the command line)
        self.checkins = cfg.checkin_interval > 0
        self.state = AgentState.load(cfg.state_dir)
        self._identity: HostIdentity | None = None
        # What the update before the scan did (`update_catalog`), carried in the result.
        self.catalog_update: dict[str, Any] | None = None
        if self.state.server and self.state.server != cfg.base_url:
            log.info("server changed from %s to %s: enrolling again", self.state.server, cfg.base_url)
            self.state.token = None
            self.state.host_id = None
            self.state.pending_secret = self.state.enrolment_id = None
        # A root names itself: another root in the same state folder is another host.
        wanted = cfg.host_identifier or ((self.identity.identifier or "") if cfg.root is not None else "")
        if wanted and self.state.host_identifier not in ("", wanted):
            log.info("host identifier changed to %s: enrolling again", wanted)
            self.state.token = None
            self.state.host_id = None
            self.state.pending_secret = self.state.enrolment_id = None
            self.state.host_identifier = ""
            self.state.first_identified = {}  # another host's history

    @property
    def identity(self) -> HostIdentity:
        """The scanned system's name, platform and id (read once per agent)."""
        if self._identity is None:
            self._identity = identify(self.cfg.root)
        return self._identity

    # -- HTTP with retries

    def _wait(self, seconds: float) -> bool:
        """Sleep, waking early when asked to stop; True if a stop was requested."""
        return self.stop.wait(max(0.0, seconds))

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        url = self.cfg.base_url + path
        last: str = ""
        for attempt in range(1, self.cfg.max_attempts + 1):
            try:
                resp = self.client.request(method, url, **kwargs)
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__}: {exc}"
                delay = self._backoff(attempt)
            else:
                if resp.status_code == 429 or resp.status_code >= 500:
                    last = f"HTTP {resp.status_code}"
                    delay = self._backoff(attempt, resp.headers.get("retry-after"))
                else:
                    return resp
            if attempt == self.cfg.max_attempts or self.stop.is_set():
                break
            log.warning("%s %s failed (%s); retrying in %.1f s", method, path, last, delay)
            self._wait(delay)
        raise AgentError(f"{method} {url} failed after {self.cfg.max_attempts} attempts: {last}")

    def _backoff(self, attempt: int, retry_after: str | None = None) -> float:
        if retry_after and retry_after.isdigit():
            return min(float(retry_after), self.cfg.backoff_max)
        base = min(self.cfg.backoff_max, self.cfg.backoff_base * 2.0 ** (attempt - 1))
        return base / 2 + random.uniform(0, base / 2)

    # -- protocol

    def enroll(self) -> None:
        """Enrol, or enrol again: with the saved token when there is one (exchanged for a new
        one while it is live), with the pending secret while the server holds an enrolment.
        EnrolmentPending while an admin has not approved it; AgentError (refused) otherwise."""
        if not self.cfg.enroll_secret:
            raise AgentError("not enrolled and no enrolment secret given", EXIT_REFUSED)
        if not self.state.host_identifier:
            self.state.host_identifier = (
                self.cfg.host_identifier or self.identity.identifier or str(uuid.uuid4())
            )
        body: dict[str, Any] = {
            "enroll_secret": self.cfg.enroll_secret,
            "host_identifier": self.state.host_identifier,
            "hostname": self.cfg.hostname or self.identity.hostname,
            "platform": self.identity.platform,
        }
        if self.cfg.site:
            body["site"] = self.cfg.site
        if self.cfg.tags:
            body["tags"] = list(self.cfg.tags)
        headers = {}
        if self.state.pending_secret:
            body["pending_secret"] = self.state.pending_secret
        if self.state.token:  # proves this agent is the host's: the server rotates it
            headers["Authorization"] = f"Bearer {self.state.token}"
        resp = self._request("POST", "/api/v1/enroll", json=body, headers=headers)
        if resp.status_code == 202:
            self._held(resp)
        if resp.status_code != 201:
            if self.state.pending_secret:  # denied, or spent: the next enrolment asks anew
                self.state.pending_secret = self.state.enrolment_id = None
                self.state.save(self.cfg.state_dir)
            raise AgentError(f"enrolment refused: HTTP {resp.status_code}: {_detail(resp)}", EXIT_REFUSED)
        data = resp.json()
        self.state.server = self.cfg.base_url
        self.state.host_id = int(data["host_id"])
        self.state.token = str(data["token"])
        self.state.pending_secret = self.state.enrolment_id = None
        path = self.state.save(self.cfg.state_dir)
        log.info("enrolled as host %s (state in %s)", self.state.host_id, path)

    def _held(self, resp: httpx.Response) -> None:
        """Keep what the server said of the enrolment it holds, then raise EnrolmentPending."""
        try:
            data = resp.json()
        except ValueError:
            data = {}
        data = data if isinstance(data, dict) else {}
        self.state.server = self.cfg.base_url
        self.state.token = None  # not the host's token any more, if it ever was
        if isinstance(data.get("pending_secret"), str):
            self.state.pending_secret = data["pending_secret"]
        if isinstance(data.get("enrolment_id"), int):
            self.state.enrolment_id = data["enrolment_id"]
        self.state.save(self.cfg.state_dir)
        raise EnrolmentPending(
            f"enrolment {self.state.enrolment_id or ''} of {self.state.host_identifier} is waiting "
            "for an admin's approval on the server (Enrolments page)"
        )

    def scan(self) -> bytes:
        from banscan.catalog.loader import load_catalog
        from banscan.scan import ScanOptions, run_scan

        catalog = load_catalog(self.cfg.catalog_path)
        opts = ScanOptions(
            as_of=dt.datetime.now(dt.UTC).date(),
            role=self.cfg.role,
            jurisdiction=self.cfg.jurisdiction,
            host=self.cfg.hostname or None,  # findings carry the name the host enrolled with
            echo_errors=False,
        )
        if self.cfg.root is not None:
            result = run_scan(catalog, opts, roots=[self.cfg.root])
        else:
            result = run_scan(catalog, opts, live=True)
        if self.state.first_identified:
            from banscan.policy.engine import apply_policy

            # Deadlines count from the first identification the server holds for this host.
            known = {
                (f.host, f.product): day
                for f in result.findings
                if (day := _day(self.state.first_identified.get(f.product, ""))) is not None
            }
            apply_policy(
                catalog,
                result.findings,
                opts.role,
                opts.as_of,
                jurisdiction=opts.jurisdiction,
                identified=known,
            )
        doc = result.to_json()
        if self.catalog_update is not None and isinstance(doc.get("catalog"), dict):
            doc["catalog"]["update"] = self.catalog_update  # what the update before it did
        return json.dumps(doc, ensure_ascii=False).encode("utf-8")

    # -- the catalog

    def update_catalog(self) -> dict[str, Any] | None:
        """Update the catalog from the server's signed repository before a scan, when the server
        hosts one; what happened (None: nothing was tried). Never fails the scan: a refusal is
        one line in the log, and the scan goes on with the catalog it has."""
        if not self.cfg.catalog_update or self.cfg.catalog_path is not None or not self.state.token:
            return None
        from banscan.updates.client import ROOT_MAX_BYTES, explain, metadata_dir, source_record

        url = self.cfg.base_url + TUF_PATH
        fetcher = AgentFetcher(self.client, url, self.state.token, timeout=min(self.cfg.timeout, 30.0))
        try:
            fetcher.download_bytes(url + "metadata/timestamp.json", TIMESTAMP_MAX_BYTES)
        except tuf_errors.DownloadHTTPError as exc:
            if exc.status_code == 404:
                log.debug("the server hosts no catalog repository: scanning with the catalog in use")
                return None
            if exc.status_code == 401:  # the token: posting the result enrols again
                log.info("the server refused this agent's token for its catalog repository")
                return None
            return self._refused(url, explain(exc))
        except tuf_errors.DownloadError as exc:
            return self._refused(url, explain(exc))

        pin: dict[str, Any] = {}
        trust: dict[str, str] = {}
        if source_record().get("repository") != url or not (metadata_dir() / "root.json").is_file():
            if self.cfg.catalog_root is not None:
                try:
                    digest = hashlib.sha256(self.cfg.catalog_root.read_bytes()).hexdigest()
                except OSError as exc:
                    return self._refused(url, f"{self.cfg.catalog_root}: {exc.strerror or exc}")
                pin, trust = {"root": self.cfg.catalog_root}, {"root": "root-file", "root_sha256": digest}
            elif self.cfg.catalog_root_sha256:
                digest = self.cfg.catalog_root_sha256.lower()
                pin, trust = {"root_sha256": digest}, {"root": "root-sha256", "root_sha256": digest}
            elif not self._authenticated_channel(url):
                return self._refused(
                    url,
                    "no trusted root yet, and the server is not reached over verified TLS: give "
                    "--catalog-root or --catalog-root-sha256 once",
                )
            else:
                try:
                    first = fetcher.download_bytes(url + "metadata/1.root.json", ROOT_MAX_BYTES)
                except tuf_errors.DownloadError as exc:
                    return self._refused(url, explain(exc))
                digest = hashlib.sha256(first).hexdigest()
                pin, trust = {"root_sha256": digest}, {"root": "trust-on-first-use", "root_sha256": digest}
                log.warning(
                    "trusting the server's catalog root on first use: %smetadata/1.root.json, SHA-256 %s "
                    "(compare it with the publishers' and pin it with --catalog-root-sha256)",
                    url,
                    digest,
                )
        return self._update(url, fetcher, pin, trust)

    def _authenticated_channel(self, url: str) -> bool:
        """Whether the server's own root may be trusted on first use: it comes over TLS with the
        server's certificate verified (or from this machine itself)."""
        verified_tls = urlsplit(url).scheme == "https" and self.cfg.verify is not False
        return verified_tls or _is_loopback(url)

    def _update(
        self, url: str, fetcher: AgentFetcher, pin: dict[str, Any], trust: dict[str, str]
    ) -> dict[str, Any]:
        from banscan.updates.client import UpdateRefused, update

        try:
            got = update(url, fetcher=fetcher, **pin)
        except UpdateRefused as exc:
            return self._refused(url, str(exc))
        except Exception as exc:  # noqa: BLE001 - an update must never stop the scan
            return self._refused(url, f"{type(exc).__name__}: {exc}")
        if trust:
            now = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
            self.state.catalog_trust = {"repository": url, **trust, "at": now}
            self.state.save(self.cfg.state_dir)
        outcome = "installed" if got.changed else "current"
        if got.changed:
            log.info("catalog %s installed from %s (was %s)", got.new.meta.version, url, got.old.meta.version)
        else:
            log.debug("catalog %s from %s is current", got.new.meta.version, url)
        out = {"outcome": outcome, "repository": url, "version": got.new.meta.version}
        if trust:
            out["trust"] = trust["root"]
        return out

    def _refused(self, url: str, reason: str) -> dict[str, Any]:
        """Log a refused update as one line; the scan goes on with the catalog in use."""
        from banscan.catalog.loader import CatalogError, load_catalog

        try:
            using = load_catalog(self.cfg.catalog_path).meta.version
        except CatalogError:
            using = "?"
        reason = " ".join(reason.split())[:500]
        log.warning("catalog update from %s refused: %s; scanning with catalog %s", url, reason, using)
        return {"outcome": "refused", "repository": url, "reason": reason}

    def post(self, body: bytes) -> dict[str, Any]:
        for reenrolled in (False, True):
            if not self.state.token:
                self.enroll()
            headers = {"Authorization": f"Bearer {self.state.token}", "Content-Type": "application/json"}
            resp = self._request("POST", "/api/v1/report", content=body, headers=headers)
            if resp.status_code in (200, 201):
                out: dict[str, Any] = resp.json()
                if self.state.remember(out.get("first_identified")):
                    self.state.save(self.cfg.state_dir)
                return out
            if resp.status_code == 401 and not reenrolled:
                log.warning("the server no longer accepts this agent's token; enrolling again")
                self.enroll()  # presenting that token: held for an admin unless it is still live
                continue
            raise AgentError(f"report rejected: HTTP {resp.status_code}: {_detail(resp)}")
        raise AgentError("report rejected after enrolling again")

    def run_once(self) -> dict[str, Any]:
        if self.cfg.base_url.startswith("http://") and not _is_loopback(self.cfg.base_url):
            log.warning(
                "server %s is plain HTTP: the agent token crosses the network unencrypted", self.cfg.base_url
            )
        if not self.state.token:
            self.enroll()
        self.catalog_update = self.update_catalog()
        body = self.scan()
        result = self.post(body)
        log.info(
            "report %s stored for host %s (%s findings%s)",
            result.get("report_id"),
            result.get("host_id"),
            result.get("findings"),
            ", duplicate" if result.get("duplicate") else "",
        )
        return result

    def request_scan(self) -> None:
        """Scan now instead of at the next scheduled time (safe from a signal handler)."""
        self.scan_now.set()

    def checkin(self) -> bool:
        """Whether the server wants a scan now. Failures only log: the schedule still runs."""
        if not self.state.token or not self.checkins:
            return False
        try:
            resp = self.client.get(
                self.cfg.base_url + "/api/v1/agent/checkin",
                headers={"Authorization": f"Bearer {self.state.token}"},
                timeout=min(self.cfg.timeout, 30.0),
            )
        except httpx.TransportError as exc:
            log.debug("check-in failed: %s", exc)
            return False
        if resp.status_code == 404:
            log.info("the server has no check-in: scanning on schedule only")
            self.checkins = False
            return False
        if resp.status_code == 401:
            self.state.token = None  # the next scan enrols again
            return True
        if resp.status_code != 200:
            log.debug("check-in answered HTTP %s", resp.status_code)
            return False
        try:
            wanted = bool(resp.json().get("scan_requested"))
        except (ValueError, AttributeError):
            return False
        if wanted:
            log.info("the server asked for a scan now")
        return wanted

    def _until_next_scan(self, delay: float) -> bool:
        """Wait up to `delay` seconds, checking in on the way; True if asked to stop."""
        deadline = time.monotonic() + delay
        next_checkin = time.monotonic() + self.cfg.checkin_interval
        while True:
            now = time.monotonic()
            if now >= deadline:
                return False
            step = min(1.0, deadline - now)  # short steps: a SIGUSR1 is noticed within a second
            if self.checkins:
                step = min(step, max(0.0, next_checkin - now))
            if self.stop.wait(step):
                return True
            if self.scan_now.is_set():
                self.scan_now.clear()
                log.info("scan requested on this machine")
                return False
            if self.checkins and time.monotonic() >= next_checkin:
                next_checkin = time.monotonic() + self.cfg.checkin_interval
                if self.checkin():
                    return False

    def run(self) -> int:
        while True:
            try:
                self.run_once()
                code = EXIT_OK
            except EnrolmentPending as exc:
                log.warning("%s", exc)
                if self.cfg.once or self._wait(self.cfg.pending_interval):
                    return exc.code
                continue
            except AgentError as exc:
                log.error("%s", exc)
                code = exc.code
                if self.cfg.once or exc.code == EXIT_REFUSED:
                    return code
            if self.cfg.once:
                return code
            delay = self.cfg.interval * random.uniform(0.9, 1.1)
            log.info("next scan in %.0f s", delay)
            if self._until_next_scan(delay):
                return code


def _detail(resp: httpx.Response) -> str:
    try:
        data = resp.json()
    except ValueError:
        return resp.text[:300]
    if isinstance(data, dict) and "detail" in data:
        return str(data["detail"])[:500]
    return str(data)[:500]


def run_agent(cfg: AgentConfig, *, handle_signals: bool = False, **kwargs: Any) -> int:
    """Run an agent; with `handle_signals` (the command line), SIGUSR1 asks it to scan now."""
    agent = Agent(cfg, **kwargs)
    previous: Any = None
    usr1 = getattr(signal, "SIGUSR1", None)
    if handle_signals and usr1 is not None and threading.current_thread() is threading.main_thread():
        previous = signal.signal(usr1, lambda _sig, _frame: agent.request_scan())
    try:
        return agent.run()
    finally:
        if previous is not None and usr1 is not None:
            signal.signal(usr1, previous)
        if agent.owns_client:
            agent.client.close()
