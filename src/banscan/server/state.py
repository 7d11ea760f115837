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
from banscan.server.hashing import HashGate, default_hash_workers
from banscan.server.limits import MiB, RateLimit, TokenBuckets
from banscan.server.security import AgentTokenCache
from banscan.store.accounts import LockoutPolicy
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
        # Agent reports are stored by one writer thread, several to a transaction (group commit).
        self.writer = GroupCommitWriter(
            db, max_batch=settings.ingest_batch, max_batch_cost=settings.ingest_batch_cost
        )
        self._known_products: KnownProducts | None = None
        self.agent_tokens = AgentTokenCache(settings.agent_token_cache_seconds)
        self.hash_gate = HashGate(settings.max_concurrent_hashes, settings.max_queued_hashes)
        self.overview_cache: dict[tuple[Any, ...], tuple[tuple[Any, ...], float, dict[str, Any]]] = {}

    @property
    def report_limits(self) -> ReportLimits:
        """What an agent's result is held to, from the settings and the catalog."""
        s = self.settings
        if self._known_products is None and not s.accept_unknown_products:
            self._known_products = KnownProducts(self.catalog)
        return ReportLimits(
            max_findings=s.max_findings_per_report,
            max_evidence=s.max_evidence_per_finding,
            max_clock_skew=s.max_clock_skew,
            known_product=None if s.accept_unknown_products else self._known_products,
        )

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            self._catalog = load_catalog(self.settings.catalog_path)
        return self._catalog
