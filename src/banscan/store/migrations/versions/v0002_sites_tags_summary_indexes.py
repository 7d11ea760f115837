"""host sites and tags; covering indexes for the estate summary

Revision ID: 0002
Revises: 0001

Hosts get a `site` ('' when not set) and tags, one row per tag in `host_tags`.

The single-column indexes on findings.present, findings.verdict and transitions.state are
replaced by composite ones starting with the same column, which the summary reads without
touching the rows (so every query that used the old ones can use the new ones):

- ix_findings_present_product (present, product, verdict, category, first_seen, host_id):
  present findings per product, verdict, category and day first seen, and the overdue ones;
- ix_findings_verdict_host (verdict, host_id, present, first_seen, gone_at): hosts with a
  present finding of a verdict, and each host's covered period (the trend);
- ix_transitions_state_flag (state, flag): transitions per state and flag.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    # A plain ADD COLUMN with a default on both databases (no table copy on SQLite).
    op.add_column("hosts", sa.Column("site", sa.String(length=100), server_default="", nullable=False))
    op.create_index("ix_hosts_site", "hosts", ["site"])
    op.create_table(
        "host_tags",
        sa.Column("host_id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["host_id"], ["hosts.id"], name=op.f("fk_host_tags_host_id_hosts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("host_id", "tag", name=op.f("pk_host_tags")),
    )
    op.create_index("ix_host_tags_tag_host", "host_tags", ["tag", "host_id"])

    op.drop_index("ix_findings_present", table_name="findings")
    op.drop_index("ix_findings_verdict", table_name="findings")
    op.create_index(
        "ix_findings_present_product",
        "findings",
        ["present", "product", "verdict", "category", "first_seen", "host_id"],
    )
    op.create_index(
        "ix_findings_verdict_host", "findings", ["verdict", "host_id", "present", "first_seen", "gone_at"]
    )
    op.drop_index("ix_transitions_state", table_name="transitions")
    op.create_index("ix_transitions_state_flag", "transitions", ["state", "flag"])


def downgrade() -> None:
    op.drop_index("ix_transitions_state_flag", table_name="transitions")
    op.create_index("ix_transitions_state", "transitions", ["state"])
    op.drop_index("ix_findings_verdict_host", table_name="findings")
    op.drop_index("ix_findings_present_product", table_name="findings")
    op.create_index("ix_findings_verdict", "findings", ["verdict"])
    op.create_index("ix_findings_present", "findings", ["present"])

    op.drop_index("ix_host_tags_tag_host", table_name="host_tags")
    op.drop_table("host_tags")
    op.drop_index("ix_hosts_site", table_name="hosts")
    op.drop_column("hosts", "site")  # native DROP COLUMN (SQLite 3.35 or later)
