"""scan requests: an admin asks a host's agent to scan now

Revision ID: 0003
Revises: 0002

`hosts.scan_requested_at` is set when someone asks for a scan and cleared by the first result
the host's agent generated after that moment; agents learn of it when they check in.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column("hosts", sa.Column("scan_requested_at", sa.DateTime(), nullable=True))
    op.add_column("hosts", sa.Column("scan_requested_by", sa.String(length=255), nullable=True))


def downgrade() -> None:
    op.drop_column("hosts", "scan_requested_by")  # native DROP COLUMN (SQLite 3.35 or later)
    op.drop_column("hosts", "scan_requested_at")
