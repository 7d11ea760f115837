"""Turn inventory records into findings: match each record against the compiled catalog,
gather evidence per host and product, and decide a verdict from the evidence's strength.

Verdict rules (DESIGN): one definitive identifier, or strong evidence of two independent
kinds, make `covered`; anything less is `review` — reported, never dropped, never called
covered. Carved-out and successor products are `informational`; leftovers of an uninstall
are `remnant`. A product published or signed by a covered entity is a finding even when
the catalog does not know its name.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from banscan.catalog.schema import (
    Catalog,
    Entity,
    Product,
    ProductStatus,
    Relation,
)
from banscan.match.fields import SOFTWARE_KINDS, observed
from banscan.match.index import CatalogIndex, Pattern
from banscan.match.normalize import norm_name
from banscan.models import Confidence, Evidence, Finding, InventoryRecord, RecordKind, Verdict

UNLISTED_SUFFIX = "-unlisted"
_FORGED_SIGNATURE = ("digest mismatch", "bad signature", "signed attributes do not match")
_PRIMARY_FIELDS = frozenset(
    {
        "name",
        "bundle_id",
        "extension_id",
        "purl",
        "cpe",
        "team_id",
        "signer",
        "subject",
        "display_name",
        "product_name",
    }
)


@dataclass(slots=True)
class _Group:
    product: Product | None
    entity: Entity | None
    name: str
    evidence: dict[tuple[str, str, str], Evidence] = field(default_factory=dict)
    versions: list[str] = field(default_factory=list)

    def add(self, ev: Evidence) -> None:
        key = (ev.kind, ev.value, ev.location)
        old = self.evidence.get(key)
        if old is None or ev.confidence.rank > old.confidence.rank:
            self.evidence[key] = ev


class Matcher:
    """Holds the compiled catalog; feed it records, then ask for findings."""

    def __init__(self, catalog: Catalog, index: CatalogIndex | None = None) -> None:
        self.catalog = catalog
        self.index = index or CatalogIndex(catalog)
        self._groups: dict[tuple[str, str], _Group] = {}
        self.hosts: dict[str, None] = {}
        self.records = 0

    # -- feeding --------------------------------------------------------------------------
    def add_all(self, records: Iterable[InventoryRecord]) -> None:
        for r in records:
            self.add(r)

    def add(self, record: InventoryRecord) -> None:
        """Match one record and keep its evidence; records never stored themselves."""
        self.records += 1
        self.hosts.setdefault(record.host, None)
        per_field: dict[str, list[tuple[Pattern, str]]] = {}
        for kind, value, fname in observed(record):
            for pat in self.index.lookup(kind, value):
                per_field.setdefault(fname, []).append((pat, value))
        # A record is one product: its identity fields (name, bundle id, extension id …)
        # elect the best-ranked product, and every other field only adds evidence to it.
        identity = [pv for f, hits in per_field.items() if f in _PRIMARY_FIELDS for pv in hits]
        owner = max(identity, key=lambda pv: _rank(pv[0]))[0].product if identity else None
        winner = owner.id if owner else None
        chosen: list[tuple[Pattern, str]] = []
        for hits in per_field.values():
            pool = [pv for pv in hits if winner is None or pv[0].product.id == winner]
            if not pool and owner is not None:
                # Identifiers shared by the vendor's products (a bundle-id namespace, a common
                # driver) still say something about this record: credit them to the winner.
                pool = [pv for pv in hits if _same_vendor(pv[0].product, owner)]
            if pool:
                pat, value = max(pool, key=lambda pv: _rank(pv[0]))
                chosen.append((pat, value))
        name_matched = "name" in per_field and any(pv[0].product.id == winner for pv in per_field["name"])
        products: dict[str, Product] = {}
        for pat, value in chosen:
            product = owner or pat.product
            products[product.id] = product
            self._group(record.host, product, None, product.name).add(
                Evidence(
                    source=record.source.collector,
                    kind=pat.ident.kind.value,
                    value=value,
                    location=record.source.location,
                    confidence=pat.ident.confidence,
                    identifier=f"{pat.ident.match.value}:{pat.ident.value}",
                    catalog_source=",".join(pat.ident.sources),
                )
            )
        for p in products.values():
            if record.version and record.kind in SOFTWARE_KINDS:
                self._group(record.host, p, None, p.name).versions.append(record.version)
        self._entity_evidence(record, list(products.values()), name_matched)

    def _entity_evidence(self, record: InventoryRecord, products: list[Product], name_matched: bool) -> None:
        """Publisher, signer and brand-name evidence about the covered entity behind a record."""
        ents = self.index.entities
        found: list[tuple[Entity, str, str, Confidence]] = []
        pub = ents.organisation(record.publisher)
        if pub is not None and pub.covered:
            found.append((pub, "publisher", record.publisher or "", Confidence.STRONG))
        sig = ents.organisation(record.signer)
        if sig is not None and sig.covered:
            # A signature that does not verify (tampered file, forged signer) proves nothing about
            # who made the file; an untrusted but intact one (e.g. an unknown root) still does.
            status = record.get("signature_status") or ""
            forged = status.startswith(_FORGED_SIGNATURE)
            found.append(
                (sig, "signer", record.signer or "", Confidence.WEAK if forged else Confidence.STRONG)
            )
        if record.kind in SOFTWARE_KINDS or record.kind in (RecordKind.SERVICE, RecordKind.DRIVER):
            brand = ents.brand(record.name)
            if brand is not None and brand.covered:
                conf = Confidence.STRONG if record.kind in SOFTWARE_KINDS else Confidence.WEAK
                found.append((brand, "brand_name", record.name, conf))
        if not found:
            return
        if products:
            for p in products:
                if p.relation != Relation.OWN and not p.integrates:
                    continue  # third-party products: their publisher is not the covered entity
                group = self._group(record.host, p, None, p.name)
                for ent, kind, value, conf in found:
                    if kind == "brand_name" and name_matched:
                        continue  # the name already matched the product itself
                    group.add(self._entity_ev(record, ent, kind, value, conf))
            return
        # Nothing in the catalog knows this record, but a covered entity is behind it.
        ent = found[0][0]
        group = self._group(record.host, None, ent, record.name)
        for e, kind, value, conf in found:
            group.add(self._entity_ev(record, e, kind, value, conf))
        if record.version and record.kind in SOFTWARE_KINDS:
            group.versions.append(record.version)

    @staticmethod
    def _entity_ev(record: InventoryRecord, ent: Entity, kind: str, value: str, conf: Confidence) -> Evidence:
        return Evidence(
            source=record.source.collector,
            kind=kind,
            value=value,
            location=record.source.location,
            confidence=conf,
            identifier=f"entity:{ent.id}",
            catalog_source=",".join(ent.sources),
        )

    def _group(self, host: str, product: Product | None, entity: Entity | None, name: str) -> _Group:
        if product is not None:
            key = (host, product.id)
        else:
            assert entity is not None
            key = (host, f"{entity.id}{UNLISTED_SUFFIX}:{norm_name(name)}")
        g = self._groups.get(key)
        if g is None:
            g = self._groups[key] = _Group(product, entity, name)
        return g

    # -- results --------------------------------------------------------------------------
    def findings(self) -> list[Finding]:
        out = [self._finding(host, g) for (host, _), g in self._groups.items()]
        out.sort(key=lambda f: (f.host, _VERDICT_ORDER[f.verdict], f.product))
        return out

    def _finding(self, host: str, g: _Group) -> Finding:
        evidence = sorted(g.evidence.values(), key=lambda e: (-e.confidence.rank, e.kind, e.location))
        verdict, confidence = decide(g.product, evidence)
        version = _most_common(g.versions)
        if g.product is not None:
            p = g.product
            vendor_ent = self.catalog.entity(p.vendor)
            vendor = vendor_ent.name if vendor_ent else p.vendor
            return Finding(
                host=host,
                product=p.id,
                product_name=p.name,
                vendor=vendor,
                verdict=verdict,
                confidence=confidence,
                evidence=evidence,
                category=p.category.value,
                version=version,
            )
        assert g.entity is not None
        return Finding(
            host=host,
            product=f"{g.entity.id}{UNLISTED_SUFFIX}",
            product_name=g.name,
            vendor=g.entity.name,
            verdict=verdict,
            confidence=confidence,
            evidence=evidence,
            category="unlisted",
            version=version,
        )


_VERDICT_ORDER = {
    Verdict.COVERED: 0,
    Verdict.REMNANT: 1,
    Verdict.REVIEW: 2,
    Verdict.ACCEPTED: 3,
    Verdict.INFORMATIONAL: 4,
}


def _same_vendor(a: Product, b: Product) -> bool:
    return a.vendor == b.vendor or bool(set(a.integrates) & set(b.integrates))


def _rank(p: Pattern) -> tuple[int, int, int]:
    return (p.specificity, p.ident.confidence.rank, len(p.key))


def _most_common(values: list[str]) -> str | None:
    if not values:
        return None
    counts: dict[str, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    return max(counts, key=lambda v: (counts[v], v))


def strength(evidence: list[Evidence]) -> Confidence:
    """Combine evidence: definitive wins; strong evidence of two independent kinds is enough
    for `covered` but is reported as `strong`; otherwise the best single item."""
    if not evidence:
        return Confidence.WEAK
    return max((e.confidence for e in evidence), key=lambda c: c.rank)


def is_conclusive(evidence: list[Evidence]) -> bool:
    """One definitive item, or strong items of at least two independent kinds."""
    if any(e.confidence == Confidence.DEFINITIVE for e in evidence):
        return True
    strong_kinds = {_independence(e.kind) for e in evidence if e.confidence == Confidence.STRONG}
    return len(strong_kinds) >= 2


def _independence(kind: str) -> str:
    # A brand word in a display name and the display name itself say the same thing.
    return "name" if kind in ("display_name", "brand_name") else kind


def decide(product: Product | None, evidence: list[Evidence]) -> tuple[Verdict, Confidence]:
    conf = strength(evidence)
    conclusive = is_conclusive(evidence)
    if product is None:
        return (Verdict.COVERED if conclusive else Verdict.REVIEW), conf
    if product.status in (ProductStatus.CARVED_OUT, ProductStatus.INFORMATIONAL) and not product.remnant:
        return Verdict.INFORMATIONAL, conf
    if product.remnant:
        return (Verdict.REMNANT if conf.rank >= Confidence.STRONG.rank else Verdict.REVIEW), conf
    if product.status == ProductStatus.REVIEW or product.confidence != Confidence.DEFINITIVE:
        return Verdict.REVIEW, conf
    return (Verdict.COVERED if conclusive else Verdict.REVIEW), conf
