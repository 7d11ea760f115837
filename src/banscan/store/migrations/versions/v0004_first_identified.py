"""findings remember the day each product was first identified on its host

Revision ID: 0004
Revises: 0003

`findings.first_identified` is the day deadlines that run from identification count from
(FAR 52.204-23's reports): the earliest of the days of the results that showed the product on
the host and the `first_identified` those results carried. Existing rows get the day they were
first seen. The summary's covering index groups present findings by that day instead of the
first sighting's time:

- ix_findings_present_product (present, product, verdict, category, first_identified, host_id).

SQLite cannot drop a column default without copying the table, so there the column keeps the
placeholder default it was added with; every insert the server makes sets the value.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column(
        "findings",
        sa.Column("first_identified", sa.Date(), nullable=False, server_default="1970-01-01"),
    )
    if op.get_bind().dialect.name == "sqlite":
        op.execute("UPDATE findings SET first_identified = date(first_seen)")
    else:
        op.execute("UPDATE findings SET first_identified = CAST(first_seen AS DATE)")
        op.alter_column("findings", "first_identified", server_default=None)
    op.drop_index("ix_findings_present_product", table_name="findings")
    op.create_index(
        "ix_findings_present_product",
        "findings",
        ["present", "product", "verdict", "category", "first_identified", "host_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_findings_present_product", table_name="findings")
    op.create_index(
        "ix_findings_present_product",
        "findings",
        ["present", "product", "verdict", "category", "first_seen", "host_id"],
    )
    op.drop_column("findings", "first_identified")  # native DROP COLUMN (SQLite 3.35 or later)
