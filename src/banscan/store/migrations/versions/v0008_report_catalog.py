"""reports record which catalog judged them: its digest, where it came from, whether verified

Revision ID: 0008
Revises: 0007

Results now carry a `catalog` member beside `catalog_version`: the SHA-256 of the catalog's
content, where the scanner loaded it from (`built-in`, `installed` by a verified signed update,
or a `path`) and whether its publishers' signatures were verified. Reports keep them in three
nullable columns (None: the result did not say):

- reports.catalog_sha256, reports.catalog_source, reports.catalog_verified.

The latest report of each host is filled from its stored body when that body already says (an
agent upgraded before its server), so the host list shows it at once; older reports stay
unknown (their bodies are not read: there may be millions).
"""

from __future__ import annotations

import json
import re
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None

_SHA256 = re.compile(r"[0-9a-f]{64}\Z")
_SOURCES = ("built-in", "installed", "path")
_BATCH = 500


def _columns(body: str) -> dict[str, Any] | None:
    """The three columns from a stored body, or None when it names no catalog (as of 0008)."""
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    found = doc.get("catalog") if isinstance(doc, dict) else None
    if not isinstance(found, dict):
        return None
    sha, source, verified = found.get("sha256"), found.get("source"), found.get("verified")
    return {
        "sha": sha.lower() if isinstance(sha, str) and _SHA256.match(sha.lower()) else None,
        "src": source if source in _SOURCES else None,
        "ver": verified if isinstance(verified, bool) else None,
    }


def upgrade() -> None:
    op.add_column("reports", sa.Column("catalog_sha256", sa.String(length=64), nullable=True))
    op.add_column("reports", sa.Column("catalog_source", sa.String(length=16), nullable=True))
    op.add_column("reports", sa.Column("catalog_verified", sa.Boolean(), nullable=True))

    conn = op.get_bind()
    hosts = sa.table("hosts", sa.column("id"), sa.column("last_report_id"))
    reports = sa.table(
        "reports",
        sa.column("id"),
        sa.column("body"),
        sa.column("catalog_sha256"),
        sa.column("catalog_source"),
        sa.column("catalog_verified"),
    )
    last_host = 0
    while True:
        rows = conn.execute(
            sa.select(hosts.c.id, reports.c.id, reports.c.body)
            .join(reports, reports.c.id == hosts.c.last_report_id)
            .where(hosts.c.id > last_host)
            .order_by(hosts.c.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            break
        last_host = rows[-1][0]
        params = [{"rid": rid, **cols} for _, rid, body in rows if (cols := _columns(body or "")) is not None]
        if params:
            conn.execute(
                sa.update(reports)
                .where(reports.c.id == sa.bindparam("rid"))
                .values(
                    catalog_sha256=sa.bindparam("sha"),
                    catalog_source=sa.bindparam("src"),
                    catalog_verified=sa.bindparam("ver"),
                ),
                params,
            )


def downgrade() -> None:
    op.drop_column("reports", "catalog_verified")  # native DROP COLUMN (SQLite 3.35 or later)
    op.drop_column("reports", "catalog_source")
    op.drop_column("reports", "catalog_sha256")
