"""What every part of the server shares: its settings, the state route handlers reach through
`request.app.state.banscan`, and the JSON response class. Kept apart from the app factory so
routes, pages and authentication depend on it without depending on each other."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from fastapi.responses import JSONResponse

from banscan.catalog.loader import load_catalog
from banscan.catalog.schema import Catalog
from banscan.server.catalog_repo import CatalogRepository, CurrentCatalog
from banscan.server.hashing import HashGate, default_hash_workers
from banscan.server.limits import MiB, RateLimit, TokenBuckets
from banscan.server.security import AgentTokenCache
from banscan.store.accounts import LockoutPolicy
from banscan.store.catalogs import is_older
from banscan.store.db import Database
from banscan.store.ingest import KnownProducts, ReportLimits
from banscan.store.writer import GroupCommitWriter


class SafeJSONResponse(JSONResponse):
    """JSON with non-ASCII escaped: any string, even one with a lone surrogate, encodes."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")


@dataclass
class ServerSettings:
    """Everything tunable about a server; the defaults suit a production deployment."""

    max_body_bytes: int = 1 * MiB
    max_report_bytes: int = 16 * MiB
    max_import_bytes: int = 64 * MiB
    # Per user session / API token, per agent token, and per client address when anonymous.
    user_rate_limit: RateLimit | None = field(default_factory=lambda: RateLimit(rate=20.0, burst=100))
    agent_rate_limit: RateLimit | None = field(default_factory=lambda: RateLimit(rate=1.0, burst=20))
    anon_rate_limit: RateLimit | None = field(default_factory=lambda: RateLimit(rate=1.0, burst=20))
    page_default: int = 50
    page_max: int = 500
    secure_cookies: bool = True
    # Strict-Transport-Security on every response to an HTTPS request (never over plain HTTP).
    hsts: bool = True
    # Swagger UI at /docs, from files shipped in a Python package (never a CDN); /openapi.json
    # is served either way.
    api_docs: bool = False
    session_ttl: dt.timedelta = dt.timedelta(hours=12)
    role: str = "user"
    jurisdiction: str = "US"
    catalog_path: str | None = None
    # A signed catalog repository (`banscan catalog publish`) served to agents under /tuf/; what
    # it offers is the server's current catalog (None: the server's own catalog is).
    catalog_repo: str | None = None
    # Most reports committed in one transaction by the group-commit writer (1: one per commit).
    ingest_batch: int = 64
    # ... and at most this much work (1 + findings + evidence items per report): a larger report
    # gets a transaction of its own, after the small ones queued beside it (store/writer.py).
    ingest_batch_cost: int = 5000
    # What one agent's result may hold (store/ingest.py ReportLimits): more findings are refused
    # (413), evidence beyond the limit is left out with a marker, a generated_at further ahead
    # of the server's clock is refused (422), and so are product ids the server's catalog does
    # not account for (unless accept_unknown_products).
    max_findings_per_report: int = 500
    max_evidence_per_finding: int = 50
    max_clock_skew: dt.timedelta | None = dt.timedelta(minutes=5)  # None: any time is taken
    accept_unknown_products: bool = False
    # The overview's aggregates are reused while no report, transition or host was added,
    # for at most this long (0: computed on every view).
    overview_cache_seconds: float = 5.0
    # SQLite: the WAL is checkpointed this often by a background thread, not inside commits.
    wal_checkpoint_seconds: float = 1.0
    # A valid agent token is remembered this long (a revocation made elsewhere waits as long).
    agent_token_cache_seconds: float = 5.0
    # Argon2 (logins, password changes) runs on this many threads of its own, with at most
    # `max_queued_hashes` more waiting; past that a login is refused at once with 503.
    max_concurrent_hashes: int = field(default_factory=default_hash_workers)
    max_queued_hashes: int = 32
    # Consecutive failed logins per user name lock the account for a growing time.
    lockout: LockoutPolicy = field(default_factory=LockoutPolicy)
    # Notices to member organisations (`server.api.notices`): the SMTP relay their emails go
    # through (no host: none is emailed, members read them in the dashboard); security is
    # starttls (587), tls (465) or none (a local relay); the password is read from the
    # environment variable named, never kept in settings. `public_url` starts the links in
    # emails (https://banscan.example.gov). Emails left pending and reminders due are sent
    # every `notice_check_seconds` (0: only when a notice is sent or reminders are asked for).
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_security: str = "starttls"
    smtp_username: str | None = None
    smtp_password_env: str | None = None
    smtp_from: str = ""
    smtp_ca_file: str | None = None
    public_url: str | None = None
    notice_check_seconds: float = 600.0


class ServerState:
    """What route handlers reach through `request.app.state.banscan`."""

    def __init__(self, db: Database, settings: ServerSettings, enroll_secret_hash: str | None) -> None:
        self.db = db
        self.settings = settings
        self.enroll_secret_hash = enroll_secret_hash
        self.user_limiter = TokenBuckets(settings.user_rate_limit)
        self.agent_limiter = TokenBuckets(settings.agent_rate_limit)
        self.anon_limiter = TokenBuckets(settings.anon_rate_limit)
        self._catalog: Catalog | None = None
        self.catalog_repo = CatalogRepository(settings.catalog_repo) if settings.catalog_repo else None
        # Agent reports are stored by one writer thread, several to a transaction (group commit).
        self.writer = GroupCommitWriter(
            db, max_batch=settings.ingest_batch, max_batch_cost=settings.ingest_batch_cost
        )
        self._known_products: KnownProducts | None = None
        self._known_for: Catalog | None = None
        self.agent_tokens = AgentTokenCache(settings.agent_token_cache_seconds)
        self.hash_gate = HashGate(settings.max_concurrent_hashes, settings.max_queued_hashes)
        self.overview_cache: dict[tuple[Any, ...], tuple[tuple[Any, ...], float, dict[str, Any]]] = {}

    @property
    def report_limits(self) -> ReportLimits:
        """What an agent's result is held to, from the settings and the catalog."""
        s = self.settings
        if not s.accept_unknown_products:
            catalog = self.catalog
            if self._known_products is None or self._known_for is not catalog:
                self._known_products, self._known_for = KnownProducts(catalog), catalog
        return ReportLimits(
            max_findings=s.max_findings_per_report,
            max_evidence=s.max_evidence_per_finding,
            max_clock_skew=s.max_clock_skew,
            known_product=None if s.accept_unknown_products else self._known_products,
        )

    @property
    def own_catalog(self) -> Catalog:
        """The catalog this server was started with (`settings.catalog_path`, else `load_catalog()`)."""
        if self._catalog is None:
            self._catalog = load_catalog(self.settings.catalog_path)
        return self._catalog

    @property
    def catalog(self) -> Catalog:
        """The catalog the server judges with: its own, or the one its repository offers when that
        is newer — the catalog its agents update to, so the products they find are known here."""
        own = self.own_catalog
        if self.catalog_repo is not None:
            offered = self.catalog_repo.catalog()
            if offered is not None and is_older(own.meta.version, offered.meta.version):
                return offered
        return own

    def current_catalog(self) -> CurrentCatalog:
        """The server's current catalog: what its repository offers, else its own; hosts judged
        by an older one are out of date."""
        judging = self.catalog
        repository: dict[str, Any] | None = None
        if self.catalog_repo is not None:
            offered, problem = self.catalog_repo.offered()
            repository = {"path": "/tuf/", "problem": problem or None}
            if offered is not None:
                repository.update(targets_version=offered.targets_version, expires=offered.expires)
                return CurrentCatalog(
                    offered.version,
                    "repository",
                    offered.sha256,
                    offered.released or None,
                    judging.meta.version,
                    repository,
                )
        own = self.own_catalog
        return CurrentCatalog(
            own.meta.version,
            "server",
            own.origin.sha256 if own.origin is not None else None,
            own.meta.released.isoformat(),
            judging.meta.version,
            repository,
        )
