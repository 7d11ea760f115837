"""accounts: login backoff and lockout

Revision ID: 0006
Revises: 0005

Failed logins are counted per user, whatever address they come from, and lock the account for a
growing time (`banscan.store.accounts.LockoutPolicy`):

- users.failed_logins: consecutive failed logins since the last success or unlock (0 for
  existing users);
- users.locked_until: until when logins are refused (NULL: not locked).

Unknown user names add no row anywhere but the audit log.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column("users", sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("users", sa.Column("locked_until", sa.DateTime(), nullable=True))


def downgrade() -> None:
    # Native DROP COLUMN (SQLite 3.35 or later); neither column is indexed or constrained.
    op.drop_column("users", "locked_until")
    op.drop_column("users", "failed_logins")
