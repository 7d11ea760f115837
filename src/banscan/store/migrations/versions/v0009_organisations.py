"""organisations: one server for a coordinator and its member organisations

Revision ID: 0009
Revises: 0008

A server keeps the data of several organisations, a tree (a coordinator and its members):

- `organisations`: id, slug (unique), name, parent_id (the coordinator; NULL at the top, ON
  DELETE RESTRICT), share_with_coordinators (`aggregates` or `hosts`: what its ancestors may
  see of it), contact, created_at. The default organisation (id 1, slug `default`) is made
  here: every existing row belongs to it.
- `org_id` (NOT NULL, ON DELETE RESTRICT, indexed) on hosts, enrol_secrets, enrolments and
  users, set to 1 on existing rows; on audit_log too, but nullable (entries about the server
  itself belong to no organisation), existing entries set to 1.
- hosts.identifier is unique per organisation: uq_hosts_org_identifier (org_id, identifier)
  replaces uq_hosts_identifier (and serves as the index on hosts.org_id).

SQLite changes a constraint by copying the table (batch mode), and dropping the old copy of a
table other tables refer to with foreign keys on would delete their rows (ON DELETE CASCADE).
The pragma that turns them off is ignored inside a transaction, so on SQLite the transaction
the migrations run in is committed first (the revisions before this one stay applied) and the
tables are changed in one of their own, committed only if `PRAGMA foreign_key_check` finds no
broken reference. A database left changed without its revision stamp (the process killed in
between) is recognised by the next upgrade, which then only stamps it.

A downgrade is refused while any row belongs to another organisation than the default one:
the tables before 0009 cannot say whose it is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None

DEFAULT_ORG = 1
# Tables whose rows belong to an organisation, and whether the column may be NULL.
OWNED = (
    ("hosts", False),
    ("enrol_secrets", False),
    ("enrolments", False),
    ("users", False),
    ("audit_log", True),
)


def _driver_sql(raw: Any, sql: str) -> list[Any]:
    cur = raw.cursor()
    try:
        cur.execute(sql)
        return list(cur.fetchall())
    finally:
        cur.close()


@contextmanager
def _sqlite_without_foreign_keys() -> Iterator[None]:
    """Run the block with SQLite's foreign keys off, in a transaction of its own (see above);
    anything else runs it as it is."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        yield
        return
    raw = bind.connection.dbapi_connection
    if getattr(raw, "in_transaction", False):
        _driver_sql(raw, "COMMIT")
    _driver_sql(raw, "PRAGMA foreign_keys=OFF")
    try:
        _driver_sql(raw, "BEGIN IMMEDIATE")
        yield
        broken = _driver_sql(raw, "PRAGMA foreign_key_check")
        if broken:
            raise RuntimeError(f"migration 0009 would leave broken references: {broken[:5]}")
        _driver_sql(raw, "COMMIT")
    except BaseException:
        if getattr(raw, "in_transaction", False):
            _driver_sql(raw, "ROLLBACK")
        raise
    finally:
        _driver_sql(raw, "PRAGMA foreign_keys=ON")
        _driver_sql(raw, "BEGIN")  # the transaction the migrations run in goes on (and stamps 0009)


def _applied() -> bool:
    """Whether the changes are already there (committed on SQLite, the stamp not)."""
    inspector = sa.inspect(op.get_bind())
    return "organisations" in inspector.get_table_names() and "org_id" in {
        c["name"] for c in inspector.get_columns("hosts")
    }


def upgrade() -> None:
    if _applied():
        return
    with _sqlite_without_foreign_keys():
        op.create_table(
            "organisations",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("slug", sa.String(length=63), nullable=False),
            sa.Column("name", sa.String(length=200), nullable=False),
            sa.Column("parent_id", sa.Integer(), nullable=True),
            sa.Column("share_with_coordinators", sa.String(length=16), nullable=False),
            sa.Column("contact", sa.String(length=500), nullable=False),
            sa.Column("created_at", sa.DateTime(), nullable=False),
            sa.CheckConstraint(
                "share_with_coordinators IN ('aggregates', 'hosts')", name=op.f("ck_organisations_share")
            ),
            sa.ForeignKeyConstraint(
                ["parent_id"],
                ["organisations.id"],
                name=op.f("fk_organisations_parent_id_organisations"),
                ondelete="RESTRICT",
            ),
            sa.PrimaryKeyConstraint("id", name=op.f("pk_organisations")),
            sa.UniqueConstraint("slug", name=op.f("uq_organisations_slug")),
        )
        op.create_index("ix_organisations_parent_id", "organisations", ["parent_id"])
        orgs = sa.table(
            "organisations",
            *map(sa.column, ("id", "slug", "name", "parent_id", "share_with_coordinators", "contact")),
            sa.column("created_at", sa.DateTime()),
        )
        op.execute(
            orgs.insert().values(
                id=DEFAULT_ORG,
                slug="default",
                name="Default organisation",
                parent_id=None,
                share_with_coordinators="aggregates",
                contact="",
                created_at=dt.datetime.now(dt.UTC).replace(tzinfo=None),  # naive UTC, as stored
            )
        )
        if op.get_bind().dialect.name == "postgresql":  # the next organisation made is 2
            op.execute("SELECT setval(pg_get_serial_sequence('organisations', 'id'), 1)")
        for table, nullable in OWNED:
            # A plain ADD COLUMN filling existing rows, then the constraints (a table copy on SQLite).
            op.add_column(
                table, sa.Column("org_id", sa.Integer(), nullable=False, server_default=str(DEFAULT_ORG))
            )
            with op.batch_alter_table(table) as batch:
                batch.alter_column(
                    "org_id", existing_type=sa.Integer(), nullable=nullable, server_default=None
                )
                batch.create_foreign_key(
                    op.f(f"fk_{table}_org_id_organisations"),
                    "organisations",
                    ["org_id"],
                    ["id"],
                    ondelete="RESTRICT",
                )
                if table == "hosts":
                    batch.drop_constraint("uq_hosts_identifier", type_="unique")
                    batch.create_unique_constraint("uq_hosts_org_identifier", ["org_id", "identifier"])
                else:
                    batch.create_index(f"ix_{table}_org_id", ["org_id"])


def downgrade() -> None:
    bind = op.get_bind()
    for table, _ in OWNED:
        owned = sa.table(table, sa.column("org_id"))
        elsewhere = bind.execute(
            sa.select(sa.func.count()).select_from(owned).where(owned.c.org_id != DEFAULT_ORG)
        ).scalar_one()
        if elsewhere:
            raise RuntimeError(
                f"cannot downgrade below 0009: {elsewhere} row(s) of {table} belong to another "
                "organisation than the default one"
            )
    with _sqlite_without_foreign_keys():
        for table, _ in reversed(OWNED):
            with op.batch_alter_table(table) as batch:
                if table == "hosts":
                    batch.drop_constraint("uq_hosts_org_identifier", type_="unique")
                    batch.create_unique_constraint("uq_hosts_identifier", ["identifier"])
                else:
                    batch.drop_index(f"ix_{table}_org_id")
                batch.drop_constraint(op.f(f"fk_{table}_org_id_organisations"), type_="foreignkey")
                batch.drop_column("org_id")
        op.drop_index("ix_organisations_parent_id", table_name="organisations")
        op.drop_table("organisations")
