"""Which organisations' rows a caller may read and write (`banscan.store.orgs` keeps the tree).

A caller belongs to one organisation. It reads its own hosts and those of its members, their
members and so on that share `hosts` with their coordinators; never a sibling's or an
ancestor's. It writes only its own organisation's rows: sharing is read-only. Every host-level
query takes an `OrgScope` as a required keyword, so a call that forgets it fails type
checking instead of reading every organisation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from banscan.store.models import Host, Organisation
from banscan.store.orgs import descendants


@dataclass(frozen=True)
class OrgScope:
    """The caller's organisation, the organisations whose hosts it may read (its own first
    among them) and those it may change (its own)."""

    org_id: int
    readable: frozenset[int]
    writable: frozenset[int]
    has_members: bool = False  # a coordinator: its board, notices and branded explainer apply
    # The role and jurisdiction the organisation's obligations are for (None: the server's).
    terms: tuple[str | None, str | None] = (None, None)

    def hosts(self) -> ColumnElement[bool]:
        """Hosts the caller may read."""
        return Host.org_id.in_(sorted(self.readable))

    def writable_hosts(self) -> ColumnElement[bool]:
        """Hosts the caller may change."""
        return Host.org_id.in_(sorted(self.writable))

    def host_ids(self, column: Any) -> ColumnElement[bool]:
        """`column IN (ids of hosts the caller may read)`: findings, transitions, reports..."""
        condition: ColumnElement[bool] = column.in_(select(Host.id).where(self.hosts()))
        return condition

    def own_only(self) -> OrgScope:
        """The caller's own organisation alone (aggregates, lists of accounts)."""
        return OrgScope(self.org_id, frozenset({self.org_id}), self.writable, self.has_members, self.terms)


def build_scope(session: Session, org_id: int) -> OrgScope:
    """The scope of a caller of organisation `org_id`: its own organisation, plus each of its
    descendants that shares `hosts` with its coordinators (`orgs.descendants`)."""
    below = descendants(session, org_id)
    sharing: dict[int, str] = {}
    if below:
        q = select(Organisation.id, Organisation.share_with_coordinators).where(Organisation.id.in_(below))
        sharing = {oid: share for oid, share in session.execute(q)}
    readable = {org_id, *(o for o in below if sharing.get(o) == "hosts")}
    own = session.execute(
        select(Organisation.role, Organisation.jurisdiction).where(Organisation.id == org_id)
    ).first()
    terms = (own[0], own[1]) if own is not None else (None, None)
    return OrgScope(org_id, frozenset(readable), frozenset({org_id}), bool(below), terms)


def host_in_scope(session: Session, host_id: int, *, ids: frozenset[int]) -> bool:
    """Whether host `host_id` exists and belongs to one of the organisations `ids`."""
    found = session.scalar(select(Host.id).where(Host.id == host_id, Host.org_id.in_(sorted(ids))))
    return found is not None
