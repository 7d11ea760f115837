"""unlisted products of a covered entity keep an id of their own

Revision ID: 0007
Revises: 0006

Results used to give every program of a covered entity that the catalog does not list the same
id, `<entity>-unlisted`, so the server kept two such programs on one host as one finding and one
removal record. Results now carry `<entity>-unlisted-<normalised name>`
(`banscan.match.matcher.unlisted_id`). Stored findings and their removal records under the old
id move to the id their recorded name gives, so the next report of an upgraded agent continues
them (first identification, removal steps) instead of flagging them gone. A row whose new id
the host already has is left as it was.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from banscan.match.matcher import UNLISTED_SUFFIX, unlisted_id

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    conn = op.get_bind()
    findings = sa.table(
        "findings", sa.column("id"), sa.column("host_id"), sa.column("product"), sa.column("product_name")
    )
    transitions = sa.table("transitions", sa.column("host_id"), sa.column("product"))
    rows = conn.execute(
        sa.select(findings.c.id, findings.c.host_id, findings.c.product, findings.c.product_name).where(
            findings.c.product.like(f"%{UNLISTED_SUFFIX}")
        )
    ).all()
    for finding_id, host_id, product, name in rows:
        if not product.endswith(UNLISTED_SUFFIX):
            continue
        new = unlisted_id(product[: -len(UNLISTED_SUFFIX)], name or "")
        if new == product:
            continue
        taken = conn.execute(
            sa.select(findings.c.id).where(findings.c.host_id == host_id, findings.c.product == new)
        ).first()
        if taken is not None:
            continue
        conn.execute(sa.update(findings).where(findings.c.id == finding_id).values(product=new))
        conn.execute(
            sa.update(transitions)
            .where(transitions.c.host_id == host_id, transitions.c.product == product)
            .values(product=new)
        )


def downgrade() -> None:
    """Ids stay as they are: the old id merged products, which cannot be undone usefully."""
