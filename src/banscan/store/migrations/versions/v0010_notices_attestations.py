"""API tokens of an organisation; notices, their recipients, attestations and server keys

Revision ID: 0010
Revises: 0009

- api_tokens.org_id (NOT NULL, ON DELETE RESTRICT, indexed): the organisation a token reads
  and acts in. Existing tokens get the organisation of the user named in `created_by`, or the
  default one (tokens made on the command line, or by users since gone). Nothing refers to
  api_tokens, so the table copy SQLite needs here deletes nothing.
- organisations.role, .jurisdiction (NULL: the server's) and .email ('' : none): what a
  coordinator's notices to it are composed for and where they are emailed.
- server_keys: keys the server makes for itself (the acknowledgement links' HMAC key).
- notices, notice_recipients (one member's copy; `ack_nonce` unique: a link works once) and
  attestations (an officer's signed statement of status as of a day).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from banscan.store.models import JSONType

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None

DEFAULT_ORG = 1


def _org_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["org_id"], ["organisations.id"], name=op.f(f"fk_{table}_org_id_organisations"), ondelete="RESTRICT"
    )


def upgrade() -> None:
    op.add_column("organisations", sa.Column("role", sa.String(length=32), nullable=True))
    op.add_column("organisations", sa.Column("jurisdiction", sa.String(length=8), nullable=True))
    op.add_column(
        "organisations", sa.Column("email", sa.String(length=320), nullable=False, server_default="")
    )

    op.add_column(
        "api_tokens", sa.Column("org_id", sa.Integer(), nullable=False, server_default=str(DEFAULT_ORG))
    )
    tokens = sa.table("api_tokens", sa.column("org_id"), sa.column("created_by"))
    users = sa.table("users", sa.column("org_id"), sa.column("username"))
    owner = sa.select(users.c.org_id).where(users.c.username == tokens.c.created_by).scalar_subquery()
    op.execute(tokens.update().values(org_id=sa.func.coalesce(owner, DEFAULT_ORG)))
    with op.batch_alter_table("api_tokens") as batch:
        batch.alter_column("org_id", existing_type=sa.Integer(), server_default=None)
        batch.create_foreign_key(
            op.f("fk_api_tokens_org_id_organisations"),
            "organisations",
            ["org_id"],
            ["id"],
            ondelete="RESTRICT",
        )
        batch.create_index("ix_api_tokens_org_id", ["org_id"])

    op.create_table(
        "server_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_server_keys")),
        sa.UniqueConstraint("name", name=op.f("uq_server_keys_name")),
    )
    op.create_table(
        "notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("packs", JSONType, nullable=False),
        sa.Column("extra", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("remind_after_days", sa.Integer(), nullable=True),
        _org_fk("notices"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notices")),
    )
    op.create_index("ix_notices_org_id", "notices", ["org_id"])
    op.create_table(
        "notice_recipients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("email_state", sa.String(length=16), nullable=False),
        sa.Column("email_sent_at", sa.DateTime(), nullable=True),
        sa.Column("email_error", sa.Text(), nullable=False),
        sa.Column("reminders", sa.Integer(), nullable=False),
        sa.Column("last_reminded_at", sa.DateTime(), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=255), nullable=True),
        sa.Column("ack_nonce", sa.String(length=32), nullable=True),
        sa.CheckConstraint(
            "email_state IN ('none', 'pending', 'sent', 'failed')",
            name=op.f("ck_notice_recipients_email_state"),
        ),
        sa.ForeignKeyConstraint(
            ["notice_id"],
            ["notices.id"],
            name=op.f("fk_notice_recipients_notice_id_notices"),
            ondelete="CASCADE",
        ),
        _org_fk("notice_recipients"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_recipients")),
        sa.UniqueConstraint("ack_nonce", name=op.f("uq_notice_recipients_ack_nonce")),
        sa.UniqueConstraint("notice_id", "org_id", name="uq_notice_recipients_notice_org"),
    )
    op.create_index("ix_notice_recipients_org_id", "notice_recipients", ["org_id"])
    op.create_table(
        "attestations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("signed_by", sa.String(length=150), nullable=False),
        sa.Column("signed_at", sa.DateTime(), nullable=False),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("content", JSONType, nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        _org_fk("attestations"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_attestations_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attestations")),
    )
    op.create_index("ix_attestations_org_signed", "attestations", ["org_id", "signed_at"])


def downgrade() -> None:
    op.drop_index("ix_attestations_org_signed", table_name="attestations")
    op.drop_table("attestations")
    op.drop_index("ix_notice_recipients_org_id", table_name="notice_recipients")
    op.drop_table("notice_recipients")
    op.drop_index("ix_notices_org_id", table_name="notices")
    op.drop_table("notices")
    op.drop_table("server_keys")
    bind = op.get_bind()
    tokens = sa.table("api_tokens", sa.column("org_id"))
    elsewhere = bind.execute(
        sa.select(sa.func.count()).select_from(tokens).where(tokens.c.org_id != DEFAULT_ORG)
    ).scalar_one()
    if elsewhere:
        raise RuntimeError(
            f"cannot downgrade below 0010: {elsewhere} API token(s) act in another organisation than "
            "the default one (before 0010 a token acted in its maker's)"
        )
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_index("ix_api_tokens_org_id")
        batch.drop_constraint(op.f("fk_api_tokens_org_id_organisations"), type_="foreignkey")
        batch.drop_column("org_id")
    op.drop_column("organisations", "email")
    op.drop_column("organisations", "jurisdiction")
    op.drop_column("organisations", "role")
