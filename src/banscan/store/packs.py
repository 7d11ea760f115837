"""Packs (one ban each) as the server shows them: which stored findings belong to which pack, the
packs' counts, and the packs a stored result says judged it.

A finding belongs to the pack of its product in the server's catalog; an unlisted product of a
covered entity (`<entity>-unlisted-…`) to the pack of its entity. Nothing of this is stored:
the catalog says it, so a new pack or a product moved to another pack needs no migration, and a
product the catalog does not know belongs to no pack. In SQL a pack is its product ids (an IN
list of a few hundred at most) and its entities' unlisted prefixes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, false, func, or_, select
from sqlalchemy.orm import Session

from banscan.catalog.schema import Catalog
from banscan.match.matcher import UNLISTED_SUFFIX, unlisted_entity
from banscan.store.deadlines import FindingGroup
from banscan.store.models import VERDICTS, Finding
from banscan.store.scope import OrgScope

MAX_JUDGED = 50  # packs kept from what one result says judged it
_FIELD_MAX = 500  # characters kept of each of a judging pack's id, title and version


@dataclass(frozen=True)
class PackScope:
    """The findings of one pack: its products' ids and the entities whose unlisted products are
    its own (the entity's pack)."""

    id: str
    products: tuple[str, ...]
    entities: tuple[str, ...]

    def condition(self, column: Any = Finding.product) -> ColumnElement[bool]:
        """On a product id column (`Finding.product`, `Transition.product`): the pack's products."""
        parts: list[ColumnElement[bool]] = [column.in_(self.products)] if self.products else []
        for entity in self.entities:
            # entity ids are [a-z0-9-] (catalog schema): no LIKE wildcard inside them
            parts.append(column == entity + UNLISTED_SUFFIX)
            parts.append(column.like(f"{entity}{UNLISTED_SUFFIX}-%"))
        return or_(*parts) if parts else false()


def pack_scope(catalog: Catalog, pack_id: str) -> PackScope:
    """The findings of the catalog's pack `pack_id` (KeyError when it has no such pack)."""
    if catalog.pack(pack_id) is None:
        raise KeyError(pack_id)
    return PackScope(
        pack_id,
        tuple(p.id for p in catalog.products if p.pack == pack_id),
        tuple(e.id for e in catalog.entities if e.pack == pack_id and e.covered),
    )


class PackOf:
    """The pack of a product id (None: the catalog knows no pack for it)."""

    def __init__(self, catalog: Catalog) -> None:
        self._products = {p.id: p.pack for p in catalog.products if p.pack}
        self._entities = {e.id: e.pack for e in catalog.entities if e.pack and e.covered}

    def __call__(self, product: str) -> str | None:
        found = self._products.get(product)
        if found is not None:
            return found
        entity = unlisted_entity(product)
        return self._entities.get(entity) if entity is not None else None


def pack_labels(catalog: Catalog) -> dict[str, dict[str, str]]:
    """The catalog's packs as badges and filters show them (id, title, version), by id, in its
    order."""
    return {p.id: {"id": p.id, "title": p.title, "version": p.version} for p in catalog.packs}


def groups_of(groups: list[FindingGroup], pack_of: PackOf, pack_id: str) -> list[FindingGroup]:
    """The finding groups (`deadlines.finding_groups`) of one pack's products."""
    return [g for g in groups if pack_of(g[0]) == pack_id]


def hosts_with(session: Session, *where: ColumnElement[bool]) -> int:
    """Hosts with a present finding matching `where`."""
    q = select(func.count(func.distinct(Finding.host_id))).where(Finding.present.is_(True), *where)
    return int(session.scalar(q) or 0)


def packs_json(
    session: Session, catalog: Catalog, groups: list[FindingGroup], *, orgs: OrgScope
) -> list[dict[str, Any]]:
    """Every pack of the catalog with its regulations and its present findings: findings by
    verdict, hosts with any and hosts with a covered one. `groups`: `finding_groups` of the
    hosts `orgs` may read, so the findings are counted from one grouped pass; hosts (of those
    same organisations) take a query per pack with findings."""
    mine = orgs.host_ids(Finding.host_id)
    pack_of = PackOf(catalog)
    counts: dict[str, dict[str, int]] = {p.id: {v: 0 for v in VERDICTS} for p in catalog.packs}
    for product, verdict, _category, _day, n in groups:
        pid = pack_of(product)
        if pid in counts:
            counts[pid][verdict] = counts[pid].get(verdict, 0) + n
    out = []
    for p in catalog.packs:
        by_verdict = counts[p.id]
        scope = pack_scope(catalog, p.id)
        found = sum(by_verdict.values())
        out.append(
            {
                "id": p.id,
                "title": p.title,
                "version": p.version,
                "released": p.released.isoformat(),
                "jurisdictions": list(p.jurisdictions),
                "regulations": [r.id for r in catalog.regulations if r.pack == p.id],
                "products": len(scope.products),
                "hosts": hosts_with(session, scope.condition(), mine) if found else 0,
                "hosts_with_covered": (
                    hosts_with(session, scope.condition(), mine, Finding.verdict == "covered")
                    if by_verdict.get("covered")
                    else 0
                ),
                "findings": found,
                "findings_by_verdict": by_verdict,
            }
        )
    return out


def packs_found(session: Session, catalog: Catalog, host_ids: list[int]) -> dict[int, list[str]]:
    """For a page of hosts: the packs of each host's present findings, in the catalog's order."""
    out: dict[int, list[str]] = {i: [] for i in host_ids}
    if not host_ids:
        return out
    pack_of = PackOf(catalog)
    order = {p.id: i for i, p in enumerate(catalog.packs)}
    found: dict[int, set[str]] = {i: set() for i in host_ids}
    q = (
        select(Finding.host_id, Finding.product)
        .where(Finding.host_id.in_(host_ids), Finding.present.is_(True))
        .distinct()
    )
    for host_id, product in session.execute(q):
        pid = pack_of(product)
        if pid is not None:
            found[host_id].add(pid)
    for host_id, packs in found.items():
        out[host_id] = sorted(packs, key=lambda p: (order.get(p, len(order)), p))
    return out


def judged_by(doc: Any) -> list[dict[str, str]]:
    """The packs a stored result says judged it (its `packs` member: id, title, version), each
    once, malformed entries left out. Results from scanners without packs name none."""
    packs = doc.get("packs") if isinstance(doc, dict) else None
    if not isinstance(packs, list):
        return []
    out: list[dict[str, str]] = []
    seen: set[str] = set()
    for p in packs[:MAX_JUDGED]:
        if not isinstance(p, dict) or not isinstance(p.get("id"), str) or not p["id"] or p["id"] in seen:
            continue
        seen.add(p["id"])
        out.append(
            {
                key: " ".join(value.split())[:_FIELD_MAX]
                for key in ("id", "title", "version")
                if isinstance(value := p.get(key), str)
            }
        )
    return out


def parse_result(body: str) -> Any:
    """A stored result's JSON (None when it does not parse: bodies are kept as received)."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None
