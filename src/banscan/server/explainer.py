"""The public explainer, generated from the catalog: what is banned, since when, what to do.

`build_explainer(catalog)` returns plain dicts and lists for the template; nothing here is
written by hand, so the page follows the catalog (and a `--catalog` the server was started with).
Given a `Brand`, the same page is headed for a coordinator that publishes it to its members: its
name and contact, and what the rules ask of its role in its jurisdiction, by when.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from banscan.catalog.schema import (
    ROLES,
    Alternative,
    Catalog,
    CatalogSource,
    Product,
    ProductStatus,
    Regulation,
    Relation,
)
from banscan.policy.engine import jurisdiction_applies
from banscan.policy.periods import period_text, where_text

PLATFORM_LABELS = {
    "windows": "Windows",
    "macos": "macOS",
    "linux": "Linux",
    "android": "Android",
    "ios": "iOS",
    "appliance": "Appliances",
    "any": "Any platform",
}
RELATION_LABELS = {
    "own": "own product",
    "white-label": "white-label",
    "embedded-engine": "embedded engine",
    "platform-plugin": "platform plug-in",
    "successor": "successor",
}
ROLE_LABELS = {
    "user": "users",
    "seller": "sellers, resellers and integrators",
    "federal-contractor": "federal contractors",
    "federal-agency": "federal agencies",
    "state-agency": "state agencies",
    "telecom": "telecommunications carriers",
}


# The heading of each role's "What do I do now?" box: the catalog's roles, named for the reader.
ROLE_HEADINGS = {
    "user": "Users of covered software: IT administrators and security teams",
    "seller": "Sellers, resellers and integrators",
    "federal-contractor": "Federal contractors",
    "federal-agency": "Federal agencies",
    "state-agency": "State agencies",
    "telecom": "Telecommunications carriers",
}
# Duties a reader acts on first: what must be done and reported, then what is forbidden, then advice.
KIND_ORDER = ("action", "reporting", "prohibition", "advisory")


def anchor(kind: str, *ids: str) -> str:
    """The stable `id` of a thing on the explainer, from its catalog ids: `prod-kesl`,
    `reg-dhs-bod-17-01`, `ob-dhs-bod-17-01-identify`, `role-federal-contractor`."""
    return "-".join((kind, *ids))


def category_label(value: str) -> str:
    special = {"vpn": "VPN", "sdk-engine": "SDK / engine"}
    return special.get(value, value.replace("-", " ").capitalize())


def safe_url(url: str | None) -> str | None:
    """Only http(s) links reach a page: a catalog given with --catalog is data, not markup."""
    if url and url.lower().startswith(("https://", "http://")):
        return url
    return None


def _source_json(s: CatalogSource) -> dict[str, Any]:
    return {
        "id": s.id,
        "title": s.title,
        "publisher": s.publisher,
        "topic": s.topic,
        "citation": s.citation,
        "published": s.published.isoformat() if s.published else None,
        "repository": s.repository,
        "path": s.path,
        "commit": s.commit,
        "url": safe_url(s.url),
        "consulted": safe_url(s.consulted),
        "strength": s.strength.value,
    }


def _sources(catalog: Catalog, ids: list[str]) -> list[dict[str, Any]]:
    known = {s.id: s for s in catalog.sources}
    return [_source_json(known[i]) for i in ids if i in known]


def product_json(catalog: Catalog, p: Product) -> dict[str, Any]:
    vendor = catalog.entity(p.vendor)
    integrates = [catalog.entity(e) for e in p.integrates]
    return {
        "id": p.id,
        "anchor": anchor("prod", p.id),
        "name": p.name,
        "vendor": vendor.name if vendor else p.vendor,
        "category": p.category.value,
        "category_label": category_label(p.category.value),
        "platforms": [PLATFORM_LABELS.get(x, x) for x in p.platforms],
        "status": p.status.value,
        "relation": p.relation.value,
        "relation_label": RELATION_LABELS.get(p.relation.value, p.relation.value),
        "integrates": [e.name for e in integrates if e is not None],
        "aliases": list(p.aliases),
        "remnant": p.remnant,
        "note": p.note,
        "sources": _sources(catalog, p.sources),
    }


def _rule_json(r: Regulation, rule: Any) -> dict[str, Any]:
    due = None
    if rule.deadline is not None:
        due = f"by {rule.deadline.isoformat()}"
    elif period := period_text(rule):
        due = f"within {period}"
    return {
        "id": rule.id,
        "anchor": anchor("ob", r.id, rule.id),
        "effective": rule.effective.isoformat(),
        "kind": rule.kind,
        "action": rule.action,
        "roles": [ROLE_LABELS.get(x, x) for x in rule.roles],
        "deadline": rule.deadline.isoformat() if rule.deadline else None,
        "due": due,
        "ends": rule.ends.isoformat() if rule.ends else None,
    }


def regulation_json(catalog: Catalog, r: Regulation) -> dict[str, Any]:
    return {
        "id": r.id,
        "anchor": anchor("reg", r.id),
        "short": r.short,
        "title": r.title,
        "citation": r.citation,
        "authority": r.authority,
        "jurisdiction": r.jurisdiction,
        "issued": r.issued.isoformat(),
        "binds": [ROLE_LABELS.get(x, x) for x in r.binds],
        "covers": [e.name for e in (catalog.entity(i) for i in r.covers_entities) if e is not None],
        "covers_relations": [RELATION_LABELS.get(x.value, x.value) for x in r.covers_relations],
        "obligations": sorted(
            (_rule_json(r, rule) for rule in r.obligations), key=lambda o: (o["effective"], o["id"])
        ),
        "exemptions": list(r.exemptions),
        "note": r.note,
        "sources": _sources(catalog, r.sources),
    }


def _duty_json(catalog: Catalog, r: Regulation, rule: Any) -> dict[str, Any]:
    """One obligation as a line of a role's box: its words, when, the rule and its first source."""
    linked = [s for s in _sources(catalog, r.sources) if s["url"]]
    return {
        **_rule_json(r, rule),
        "due_days": rule.due_business_days if rule.due_business_days is not None else rule.due_calendar_days,
        "regulation": r.short,
        "regulation_anchor": anchor("reg", r.id),
        "jurisdiction": None if r.jurisdiction == "US" else r.jurisdiction,
        "source": linked[0] if linked else None,
    }


def _sorted_duties(duties: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Duties with a deadline first, the soonest first (fixed dates, then days from
    identification), then prohibitions, then advice."""

    def key(d: dict[str, Any]) -> tuple[int, str, int, str, str]:
        kind = KIND_ORDER.index(d["kind"]) if d["kind"] in KIND_ORDER else len(KIND_ORDER)
        days = d["due_days"] if d["due_days"] is not None else 10**6
        group = 0 if d["due"] else 1 + kind
        return (group, d["deadline"] or "~", days, d["effective"], d["anchor"])

    return sorted(duties, key=key)


def what_to_do_now(catalog: Catalog) -> dict[str, Any]:
    """The obligations of the catalog's regulations per role, word for word: `everyone` holds
    those that bind every role, `roles` one box per role a regulation binds with the rest (a
    role binds where the regulation names it and the obligation does, as the policy engine
    reads them)."""
    regulations = sorted(catalog.regulations, key=lambda r: (r.issued, r.id))
    everyone: list[dict[str, Any]] = []
    per_role: dict[str, list[dict[str, Any]]] = {role: [] for role in ROLES}
    rules: dict[str, list[dict[str, str]]] = {role: [] for role in ROLES}
    for r in regulations:
        for role in r.binds:
            rules[role].append({"short": r.short, "anchor": anchor("reg", r.id)})
        for rule in r.obligations:
            applies = [role for role in ROLES if role in r.binds and role in rule.roles]
            duty = _duty_json(catalog, r, rule)
            if len(applies) == len(ROLES):
                everyone.append(duty)
                continue
            for role in applies:
                per_role[role].append(duty)
    roles = [
        {
            "role": role,
            "anchor": anchor("role", role),
            "heading": ROLE_HEADINGS.get(role, ROLE_LABELS.get(role, role)),
            "label": ROLE_LABELS.get(role, role),
            "rules": rules[role],
            "duties": _sorted_duties(per_role[role]),
            "jurisdictions": sorted({d["jurisdiction"] for d in per_role[role] if d["jurisdiction"]}),
        }
        for role in ROLES
        if rules[role]
    ]
    return {"everyone": _sorted_duties(everyone), "roles": roles}


@dataclass(frozen=True)
class Brand:
    """Who publishes a branded explainer, and the role and jurisdiction its members act in."""

    name: str
    contact: str
    role: str
    jurisdiction: str


def brand_json(catalog: Catalog, brand: Brand) -> dict[str, Any]:
    """The heading of a branded explainer: who publishes it, and the duties of the catalog's
    rules that bind its role where it is (a US-wide rule everywhere, a state's in that state),
    those with a deadline first."""
    duties = [
        _duty_json(catalog, r, rule)
        for r in sorted(catalog.regulations, key=lambda r: (r.issued, r.id))
        if brand.role in r.binds and jurisdiction_applies(r, brand.jurisdiction)
        for rule in r.obligations
        if brand.role in rule.roles
    ]
    return {
        "name": brand.name,
        "contact": brand.contact,
        "role": brand.role,
        "role_label": ROLE_LABELS.get(brand.role, brand.role),
        "jurisdiction": brand.jurisdiction,
        "where": where_text([brand.jurisdiction]),
        "duties": _sorted_duties(duties),
    }


def _alternative_json(catalog: Catalog, a: Alternative) -> dict[str, Any]:
    return {
        "id": a.id,
        "name": a.name,
        "vendor": a.vendor,
        "builtin": a.builtin,
        "categories": [category_label(c.value) for c in a.categories],
        "note": a.note,
        "sources": _sources(catalog, a.sources),
    }


def build_explainer(catalog: Catalog, brand: Brand | None = None) -> dict[str, Any]:
    """Everything the explainer page shows, from the catalog alone (and `brand`, when a
    coordinator publishes it)."""
    by_category: dict[str, dict[str, Any]] = {}
    integrations: list[dict[str, Any]] = []
    review: list[dict[str, Any]] = []
    carve_outs: list[dict[str, Any]] = []
    successors: list[dict[str, Any]] = []
    remnants: list[dict[str, Any]] = []
    for p in sorted(catalog.products, key=lambda p: p.name.lower()):
        item = product_json(catalog, p)
        if p.relation == Relation.SUCCESSOR:
            successors.append(item)
        elif p.status == ProductStatus.CARVED_OUT:
            carve_outs.append(item)
        elif p.remnant:
            remnants.append(item)
        elif p.relation != Relation.OWN:
            integrations.append(item)
        elif p.status == ProductStatus.COVERED:
            group = by_category.setdefault(
                p.category.value,
                {"label": item["category_label"], "anchor": anchor("cat", p.category.value), "products": []},
            )
            group["products"].append(item)
        elif p.status == ProductStatus.REVIEW:
            review.append(item)
    regulations = sorted(catalog.regulations, key=lambda r: (r.issued, r.id))
    timeline: list[dict[str, str]] = []
    for r in regulations:
        ref = anchor("reg", r.id)
        timeline.append(
            {
                "date": r.issued.isoformat(),
                "regulation": r.short,
                "anchor": ref,
                "what": "issued: " + r.citation,
            }
        )
        for rule in r.obligations:
            if rule.effective != r.issued:
                timeline.append(
                    {
                        "date": rule.effective.isoformat(),
                        "regulation": r.short,
                        "anchor": ref,
                        "what": rule.action,
                    }
                )
            if rule.deadline is not None:
                timeline.append(
                    {
                        "date": rule.deadline.isoformat(),
                        "regulation": r.short,
                        "anchor": ref,
                        "what": "deadline: " + rule.action,
                    }
                )
    seen: set[tuple[str, str, str]] = set()
    unique: list[dict[str, str]] = []
    for t in sorted(timeline, key=lambda t: (t["date"], t["regulation"])):
        key = (t["date"], t["regulation"], t["what"])
        if key not in seen:
            seen.add(key)
            unique.append(t)
    timeline = unique
    platforms: dict[str, list[dict[str, Any]]] = {}
    for a in sorted(catalog.alternatives, key=lambda a: (not a.builtin, a.name.lower())):
        for plat in a.platforms:
            platforms.setdefault(plat, []).append(_alternative_json(catalog, a))
    order = list(PLATFORM_LABELS)
    alternatives = [
        {
            "platform": plat,
            "anchor": anchor("alt", plat),
            "label": PLATFORM_LABELS.get(plat, plat),
            "items": items,
        }
        for plat, items in sorted(
            platforms.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else 99
        )
    ]
    entities = [
        {
            "id": e.id,
            "anchor": anchor("ent", e.id),
            "name": e.name,
            "country": e.country,
            "legal_names": list(e.legal_names),
            "former_names": list(e.former_names),
            "aliases": list(e.aliases),
            "cyrillic": list(e.cyrillic),
            "listed_since": e.entity_list.since.isoformat()
            if e.entity_list and e.entity_list.since
            else None,
            "listing_citation": e.entity_list.citation if e.entity_list else None,
        }
        for e in catalog.entities
        if e.covered
    ]
    used: set[str] = set()
    for p in catalog.products:
        used.update(p.sources)
    for r in catalog.regulations:
        used.update(r.sources)
    for a in catalog.alternatives:
        used.update(a.sources)
    for e in catalog.entities:
        used.update(e.sources)
    sources = [_source_json(s) for s in sorted(catalog.sources, key=lambda s: s.id) if s.id in used]
    # Rules, their texts and legal commentary apart from product and detection sources; legal
    # texts newest first, then undated commentary.
    legal = [x for x in sources if x["topic"] == "legal"]
    legal = sorted((x for x in legal if x["published"]), key=lambda x: str(x["published"]), reverse=True) + [
        x for x in legal if not x["published"]
    ]
    technical = [x for x in sources if x["topic"] != "legal"]
    today = dt.datetime.now(dt.UTC).date()
    cutoffs = [
        {
            "pack": p.id,
            "title": p.title,
            "jurisdictions": p.jurisdictions,
            "where": where_text(p.jurisdictions),
            "last_permitted_update": p.last_permitted_update.isoformat(),
            "days_without_updates": max(0, (today - p.last_permitted_update).days),
        }
        for p in catalog.packs
        if p.last_permitted_update is not None
    ]
    if not catalog.packs:  # a catalog of one ban, dated by its meta
        last = catalog.meta.last_permitted_update
        cutoffs = [
            {
                "pack": "",
                "title": "",
                "jurisdictions": ["US"],
                "where": where_text(["US"]),
                "last_permitted_update": last.isoformat(),
                "days_without_updates": max(0, (today - last).days),
            }
        ]
    one = catalog.packs[0] if len(catalog.packs) == 1 else None
    return {
        "meta": {
            "version": catalog.meta.version,
            "released": catalog.meta.released.isoformat(),
            "title": one.title if one else ("Banned software and equipment" if catalog.packs else ""),
            "description": one.description if one else catalog.meta.description,
            "packs": [
                {"id": p.id, "title": p.title, "version": p.version, "jurisdictions": p.jurisdictions}
                for p in catalog.packs
            ],
            "cutoffs": cutoffs,
            # the first cut-off, for readers of the one-ban explainer (None when no rule stops updates)
            "last_permitted_update": cutoffs[0]["last_permitted_update"] if cutoffs else None,
            "days_without_updates": cutoffs[0]["days_without_updates"] if cutoffs else None,
        },
        "entities": entities,
        "covered_by_category": sorted(by_category.values(), key=lambda g: str(g["label"])),
        "covered_count": sum(len(g["products"]) for g in by_category.values()),
        "integrations": integrations,
        "review": review,
        "carve_outs": carve_outs,
        "successors": successors,
        "remnants": remnants,
        "regulations": [regulation_json(catalog, r) for r in regulations],
        "now": what_to_do_now(catalog),
        "timeline": timeline,
        "alternatives": alternatives,
        "sources": sources,
        "legal_sources": legal,
        "technical_sources": technical,
        "brand": brand_json(catalog, brand) if brand is not None else None,
    }
