"""Words for the exports' names, descriptions and resolutions, read from the catalog: whose
software a query or policy finds (the covered vendors, by name), under which jurisdictions'
rules, and the vendors' own registry keys. An export of any pack names its own vendors."""

from __future__ import annotations

import re
from collections.abc import Iterable

from banscan.catalog.schema import Catalog, IdentifierKind, MatchKind, Relation
from banscan.match.matcher import unlisted_entity


def covered_entities(catalog: Catalog, product: str) -> list[str]:
    """The entities a product id stands for: its vendor (own products), the vendors whose code it
    carries (white-label, integrations), or the entity of an unlisted product (`<entity>-unlisted`)."""
    try:
        p = catalog.product(product)
    except KeyError:
        entity = unlisted_entity(product)
        return [entity] if entity else []
    own = [p.vendor] if p.relation == Relation.OWN else []
    return list(dict.fromkeys([*own, *p.integrates])) or [p.vendor]


def _root(catalog: Catalog, eid: str) -> str:
    """The topmost parent of an entity (a subsidiary is named by its group)."""
    seen = {eid}
    while (e := catalog.entity(eid)) is not None and e.parent and e.parent not in seen:
        eid = e.parent
        seen.add(eid)
    return eid


def vendor_ids(catalog: Catalog, products: Iterable[str]) -> list[str]:
    """The groups (topmost entities) whose software these products are, in first-seen order."""
    out: dict[str, None] = {}
    for pid in products:
        for eid in covered_entities(catalog, pid):
            out.setdefault(_root(catalog, eid), None)
    return list(out)


def vendor_names(catalog: Catalog, products: Iterable[str]) -> list[str]:
    """`vendor_ids` by name ("Kaspersky Lab", "Huawei Technologies Company")."""
    return [
        e.name if (e := catalog.entity(eid)) is not None else eid for eid in vendor_ids(catalog, products)
    ]


def names_text(names: list[str], limit: int = 3) -> str:
    """ "A", "A and B", "A, B and C", or "A, B, C and 4 others" beyond `limit` names."""
    if len(names) > limit:
        return f"{', '.join(names[:limit])} and {len(names) - limit} others"
    if len(names) > 1:
        return f"{', '.join(names[:-1])} and {names[-1]}"
    return names[0] if names else "catalogued vendors"


def _covering(catalog: Catalog, products: Iterable[str]) -> set[str]:
    """The products' entities with every parent: what a regulation's `covers_entities` may name."""
    out: set[str] = set()
    for pid in products:
        for eid in covered_entities(catalog, pid):
            while eid and eid not in out:
                out.add(eid)
                e = catalog.entity(eid)
                eid = e.parent if e is not None and e.parent else ""
    return out


def jurisdictions(catalog: Catalog, products: Iterable[str]) -> list[str]:
    """Where the catalog's rules on these products' vendors apply (US first, then states)."""
    ents = _covering(catalog, products)
    found = {r.jurisdiction for r in catalog.regulations if ents.intersection(r.covers_entities)}
    return sorted(found, key=lambda j: (j != "US", j))


def prohibition_text(catalog: Catalog, products: Iterable[str]) -> str:
    """ "a US prohibition", "a prohibition (US, US-TX)", or "a prohibition" when no rule is known."""
    where = jurisdictions(catalog, products)
    if len(where) == 1:
        return f"a {where[0]} prohibition"
    return f"a prohibition ({', '.join(where)})" if where else "a prohibition"


# A registry key name right after SOFTWARE (or WOW6432Node) in a catalog regex: `KasperskyLab[\\/]`.
_KEY_HEAD = re.compile(
    r"^(?:\(\^\|\[\\\\/\]\))?(?:SOFTWARE\[\\\\/\]\(WOW6432Node\[\\\\/\]\)\?)?([A-Za-z0-9_ ]{3,})(?:\[\\\\/\]|\(|\$)"
)


def vendor_registry_keys(catalog: Catalog, products: Iterable[str]) -> list[str]:
    """The vendors' own keys under HKLM\\SOFTWARE that the products' registry identifiers name
    (a key word carrying a vendor's brand, e.g. KasperskyLab), most named first."""
    products = list(products)
    marks = {
        w.casefold()
        for eid in _covering(catalog, products)
        if (e := catalog.entity(eid)) is not None
        for w in (*e.brand_tokens, *re.findall(r"[A-Za-z0-9]{4,}", e.name)[:1])
    }
    counts: dict[str, int] = {}
    for pid in products:
        try:
            idents = catalog.product(pid).identifiers
        except KeyError:
            continue
        for ident in idents:
            if ident.kind != IdentifierKind.REGISTRY_KEY or ident.match != MatchKind.REGEX:
                continue
            m = _KEY_HEAD.match(ident.value)
            if m and any(mark in m.group(1).casefold() for mark in marks):
                counts[m.group(1)] = counts.get(m.group(1), 0) + 1
    return sorted(counts, key=lambda k: -counts[k])


def export_description(catalog: Catalog, what: str, products: Iterable[str]) -> str:
    """One line on what an export holds: the catalog, its packs by title, and whose software."""
    packs = f" for {'; '.join(p.title for p in catalog.packs)}" if catalog.packs else ""
    return (
        f"banscan {what} from catalog {catalog.meta.version}{packs}: software of "
        f"{names_text(vendor_names(catalog, products), limit=8)} that is covered, needs a person's "
        "review, or was left behind by an uninstall. Generated; edit the catalog, not this file."
    )
