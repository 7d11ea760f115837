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
from banscan.server.limits import MiB, RateLimit, TokenBuckets
from banscan.server.security import AgentTokenCache
from banscan.store.db import Database
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
    session_ttl: dt.timedelta = dt.timedelta(hours=12)
    role: str = "user"
    jurisdiction: str = "US"
    catalog_path: str | None = None
    # Most reports committed in one transaction by the group-commit writer (1: one per commit).
    ingest_batch: int = 64
    # The overview's aggregates are reused while no report, transition or host was added,
    # for at most this long (0: computed on every view).
    overview_cache_seconds: float = 5.0
    # SQLite: the WAL is checkpointed this often by a background thread, not inside commits.
    wal_checkpoint_seconds: float = 1.0
    # A valid agent token is remembered this long (a revocation made elsewhere waits as long).
    agent_token_cache_seconds: float = 5.0


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
        self.writer = GroupCommitWriter(db, max_batch=settings.ingest_batch)
        self.agent_tokens = AgentTokenCache(settings.agent_token_cache_seconds)
        self.overview_cache: dict[tuple[Any, ...], tuple[tuple[Any, ...], float, dict[str, Any]]] = {}

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            self._catalog = load_catalog(self.settings.catalog_path)
        return self._catalog
