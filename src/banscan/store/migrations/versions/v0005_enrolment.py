"""enrolment: scoped, expiring enrol secrets and pending enrolments

Revision ID: 0005
Revises: 0004

- `enrol_secrets`: secrets agents enrol with besides the server's own, kept as argon2 hashes
  and found by the public key id each carries; optionally scoped to a site and/or a tag,
  expiring, revocable.
- `enrolments`: enrolments held for an admin's approval (an agent asking to enrol as a host the
  server already knows, without proving it holds that host's token).
- `agent_tokens.enrolled_at`: when the agent behind a token enrolled (kept when the token is
  rotated); existing tokens get their creation time.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None

JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "enrol_secrets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("secret_hash", sa.String(length=255), nullable=False),
        sa.Column("site", sa.String(length=100), nullable=True),
        sa.Column("tag", sa.String(length=64), nullable=True),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrol_secrets")),
        sa.UniqueConstraint("name", name=op.f("uq_enrol_secrets_name")),
        sa.UniqueConstraint("key_id", name=op.f("uq_enrol_secrets_key_id")),
    )
    op.create_table(
        "enrolments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("identifier", sa.String(length=255), nullable=False),
        sa.Column("hostname", sa.String(length=255), nullable=False),
        sa.Column("platform", sa.String(length=64), nullable=False),
        sa.Column("site", sa.String(length=100), nullable=True),
        sa.Column("tags", JSON_TYPE, nullable=True),
        sa.Column("scope_tag", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("host_id", sa.Integer(), nullable=True),
        sa.Column("secret_id", sa.Integer(), nullable=True),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("remote_addr", sa.String(length=64), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("decided_by", sa.String(length=255), nullable=True),
        sa.Column("enrolled_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint(
            "state IN ('pending', 'approved', 'denied', 'enrolled')", name=op.f("ck_enrolments_state")
        ),
        sa.ForeignKeyConstraint(
            ["host_id"], ["hosts.id"], name=op.f("fk_enrolments_host_id_hosts"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["secret_id"],
            ["enrol_secrets.id"],
            name=op.f("fk_enrolments_secret_id_enrol_secrets"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrolments")),
        sa.UniqueConstraint("request_hash", name=op.f("uq_enrolments_request_hash")),
    )
    op.create_index("ix_enrolments_identifier", "enrolments", ["identifier"])
    op.create_index("ix_enrolments_host_id", "enrolments", ["host_id"])
    op.create_index("ix_enrolments_state_id", "enrolments", ["state", "id"])
    op.add_column("agent_tokens", sa.Column("enrolled_at", sa.DateTime(), nullable=True))
    op.execute("UPDATE agent_tokens SET enrolled_at = created_at")


def downgrade() -> None:
    op.drop_column("agent_tokens", "enrolled_at")  # native DROP COLUMN (SQLite 3.35 or later)
    op.drop_index("ix_enrolments_state_id", table_name="enrolments")
    op.drop_index("ix_enrolments_host_id", table_name="enrolments")
    op.drop_index("ix_enrolments_identifier", table_name="enrolments")
    op.drop_table("enrolments")
    op.drop_table("enrol_secrets")
