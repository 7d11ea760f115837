"""Fleet store: SQLAlchemy models, Alembic migrations, ingest of results and read queries."""

from __future__ import annotations

from banscan.store.db import DEFAULT_URL, Database, make_engine, normalize_url
from banscan.store.migrate import upgrade_db

__all__ = ["DEFAULT_URL", "Database", "make_engine", "normalize_url", "upgrade_db"]
