"""Turn inventory records into findings: match each record against the compiled catalog,
gather evidence per host and product, and decide a verdict from the evidence's strength.

Verdict rules (README "Verdicts"): a verdict follows identity, not the number of fields a
row happens to carry. One definitive item — a catalogued name or alias, an identifier only
the vendor uses, a covered entity as publisher or (intact) signer, the vendor's brand leading
an installed program's name — or strong evidence of two independent kinds make `covered`;
anything less is `review`, reported and never dropped. Footprints alone (install folders,
registry keys) are a `remnant`: what an uninstall leaves behind. Carved-out and successor
products are `informational`. A product published or signed by a covered entity is a
finding even when the catalog does not know its name, and one sold under another brand
keeps that brand in the finding.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from banscan.catalog.schema import (
    Catalog,
    Category,
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
_SLUG_MAX = 64  # characters of the product's name kept in an unlisted product's id
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
        "product_code",
        "file_name",
    }
)


@dataclass(slots=True)
class _Group:
    product: Product | None
    entity: Entity | None
    name: str
    evidence: dict[tuple[str, str, str], Evidence] = field(default_factory=dict)
    versions: list[str] = field(default_factory=list)
    brands: list[str] = field(default_factory=list)
    software: bool = False  # an unlisted product: shown by a record other than a network device

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
        name_hits = [pv[0] for pv in per_field.get("name", ()) if pv[0].product.id == winner]
        name_matched = bool(name_hits)
        name_definitive = any(p.ident.confidence == Confidence.DEFINITIVE for p in name_hits)
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
            if (
                record.kind in SOFTWARE_KINDS
                and record.name
                and (not name_matched or p.relation != Relation.OWN)
            ):
                # Identified by who made or signed it, not by its name, or a third party's product
                # built on covered code: the name on the box is the brand it is sold under.
                self._group(record.host, p, None, p.name).brands.append(record.name)
        self._entity_evidence(record, list(products.values()), name_definitive)

    def _entity_evidence(
        self, record: InventoryRecord, products: list[Product], name_definitive: bool
    ) -> None:
        """Publisher, signer and brand-name evidence about the covered entity behind a record."""
        ents = self.index.entities
        found: list[tuple[Entity, str, str, Confidence]] = []
        pub = ents.organisation(record.publisher)
        if pub is not None and pub.covered:
            # The publisher column names who made the program: a covered entity there is as
            # certain as any identifier (rows without that column are not less certain either).
            found.append((pub, "publisher", record.publisher or "", Confidence.DEFINITIVE))
        sig = ents.organisation(record.signer)
        if sig is not None and sig.covered:
            # A signature that does not verify (tampered file, forged signer) proves nothing about
            # who made the file; an untrusted but intact one (e.g. an unknown root) still does.
            status = record.get("signature_status") or ""
            forged = status.startswith(_FORGED_SIGNATURE)
            found.append(
                (sig, "signer", record.signer or "", Confidence.WEAK if forged else Confidence.DEFINITIVE)
            )
        if record.kind in SOFTWARE_KINDS or record.kind in (RecordKind.SERVICE, RecordKind.DRIVER):
            brand, leading = ents.brand_at(record.name)
            if brand is not None and brand.covered:
                found.append((brand, "brand_name", record.name, _brand_confidence(record.kind, leading)))
        if not found:
            return
        if products:
            for p in products:
                if p.relation != Relation.OWN and not p.integrates:
                    continue  # third-party products: their publisher is not the covered entity
                group = self._group(record.host, p, None, p.name)
                for ent, kind, value, conf in found:
                    if kind == "brand_name" and name_definitive:
                        continue  # the name already names the product for certain
                    group.add(self._entity_ev(record, ent, kind, value, conf))
            return
        # Nothing in the catalog knows this record, but a covered entity is behind it.
        ent = found[0][0]
        group = self._group(record.host, None, ent, record.name)
        group.software |= record.kind != RecordKind.DEVICE
        for e, kind, value, conf in found:
            group.add(self._entity_ev(record, e, kind, value, conf))
        if record.version and record.kind in SOFTWARE_KINDS:
            group.versions.append(record.version)
        if record.kind in SOFTWARE_KINDS and not any(k == "brand_name" for _, k, _, _ in found):
            group.brands.append(record.name)  # made or signed by the entity, sold under another name

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
            key = (host, unlisted_id(entity.id, name))
        g = self._groups.get(key)
        if g is None:
            g = self._groups[key] = _Group(product, entity, name)
        return g

    # -- results --------------------------------------------------------------------------
    def findings(self) -> list[Finding]:
        groups = self._fold_shared()
        out = [self._finding(host, g) for host, g in groups]
        out.sort(key=lambda f: (f.host, f.verdict.severity, f.product))
        return out

    def _fold_shared(self) -> list[tuple[str, _Group]]:
        """One finding per product per host: evidence common to a vendor's products (its install
        root, shared drivers, Team ID) joins the vendor's identified product on that host instead
        of standing as a second, unidentified finding."""
        by_host: dict[str, list[_Group]] = {}
        for (host, _), g in self._groups.items():
            by_host.setdefault(host, []).append(g)
        out: list[tuple[str, _Group]] = []
        for host, groups in by_host.items():
            for g in groups:
                if g.product is not None and g.product.shared:
                    target = _fold_target(g, groups)
                    if target is not None:
                        for ev in g.evidence.values():
                            target.add(ev)
                        target.brands.extend(g.brands)
                        continue
                out.append((host, g))
        return out

    def _finding(self, host: str, g: _Group) -> Finding:
        evidence = sorted(g.evidence.values(), key=lambda e: (-e.confidence.rank, e.kind, e.location))
        verdict, confidence = decide(g.product, evidence)
        if g.product is None and verdict == Verdict.COVERED and g.entity is not None:
            review = g.entity.unlisted_review
            if review is True or (review == "software" and g.software):
                verdict = Verdict.REVIEW
        version = _most_common(g.versions)
        brand = _most_common(g.brands)
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
                brand=brand,
            )
        assert g.entity is not None
        return Finding(
            host=host,
            product=unlisted_id(g.entity.id, g.name),
            product_name=g.name,
            vendor=g.entity.name,
            verdict=verdict,
            confidence=confidence,
            evidence=evidence,
            # a network device an inventory names the entity's: equipment, not software
            category="unlisted" if g.software else Category.NETWORK_APPLIANCE.value,
            version=version,
            brand=brand,
        )


def unlisted_id(entity_id: str, name: str) -> str:
    """The product id of a covered entity's product the catalog does not know, from its name:
    `<entity>-unlisted-<the normalised name, words joined by hyphens>` ("Kaspersky Quantum
    Shield 2031" → `kaspersky-lab-unlisted-kaspersky-quantum-shield`), so two such products on
    one host are two findings everywhere (result, server, removal tracking) and the same product
    keeps its id from scan to scan. A long name is cut and ends in a hash of the whole one; a
    name with no words left gives `<entity>-unlisted`."""
    slug = "-".join(norm_name(name).split())
    if not slug:
        return f"{entity_id}{UNLISTED_SUFFIX}"
    if len(slug) > _SLUG_MAX:
        digest = hashlib.sha256(slug.encode("ascii")).hexdigest()[:10]
        slug = f"{slug[: _SLUG_MAX - len(digest) - 1].rstrip('-')}-{digest}"
    return f"{entity_id}{UNLISTED_SUFFIX}-{slug}"


def unlisted_entity(product_id: str) -> str | None:
    """The entity of an id `unlisted_id` made (or of the bare `<entity>-unlisted` that results
    of earlier versions carry, and that the osquery and Fleet exports use for all of an entity's
    unlisted programs); None for any other id."""
    if product_id.endswith(UNLISTED_SUFFIX):
        return product_id[: -len(UNLISTED_SUFFIX)] or None
    entity, sep, _slug = product_id.partition(UNLISTED_SUFFIX + "-")
    return (entity or None) if sep else None


def _vendor_of(g: _Group) -> set[str]:
    if g.product is not None:
        return {g.product.vendor, *g.product.integrates}
    return {g.entity.id} if g.entity is not None else set()


def _fold_target(shared: _Group, groups: list[_Group]) -> _Group | None:
    """The host's identified product of the same vendor that shared evidence belongs to: the one
    with the most evidence of its own (ties: product id), so a folder is listed once."""
    vendors = _vendor_of(shared)
    candidates = [
        g
        for g in groups
        if g is not shared and _vendor_of(g) & vendors and (g.product is None or _can_hold_shared(g.product))
    ]
    if not candidates:
        return None
    return max(candidates, key=lambda g: (len(g.evidence), _group_id(g)))


def _can_hold_shared(p: Product) -> bool:
    """Installed software of the vendor: not another shared set, a carve-out, a leftover, or an
    add-on (a browser extension, a removal tool) that an install folder does not belong to."""
    return not (
        p.shared or p.remnant or p.status in _NOT_COVERED_STATUSES or p.category in _ADD_ON_CATEGORIES
    )


def _group_id(g: _Group) -> str:
    return g.product.id if g.product is not None else g.name


def _brand_confidence(kind: RecordKind, leading: bool) -> Confidence:
    """The vendor's brand as the first word of an installed program's name is how the vendor names
    its products ("Kaspersky Free", "Kaspersky Rescue Disk"); inside a name ("Threat feed
    connector for Kaspersky") it may be a third party's client, and on a unit or driver a hint."""
    if kind in (RecordKind.APP, RecordKind.SECURITY_PRODUCT):
        return Confidence.DEFINITIVE if leading else Confidence.STRONG
    if kind in SOFTWARE_KINDS:
        return Confidence.STRONG
    return Confidence.WEAK


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


# Evidence kinds that show where software was, not that it is installed or running.
FOOTPRINT_KINDS = frozenset({"path", "registry_key"})
_PROGRAM_SUFFIXES = (".exe", ".dll", ".sys", ".com", ".so", ".ko", ".dylib", ".pl", ".sh", ".py")
_PROGRAM_DIRS = frozenset({"bin", "sbin", "macos", "libexec"})


def is_footprint(e: Evidence) -> bool:
    """A folder, data file or registry key: where software was. A program file still on disk
    (an .exe in the install folder, a file under bin/) is the software itself."""
    if e.kind not in FOOTPRINT_KINDS:
        return False
    if e.kind == "registry_key":
        return True
    parts = e.value.replace("\\", "/").rstrip("/").lower().split("/")
    name = parts[-1]
    if name.endswith(_PROGRAM_SUFFIXES):
        return False
    return not (len(parts) >= 2 and parts[-2] in _PROGRAM_DIRS and name)


_NOT_COVERED_STATUSES = (ProductStatus.CARVED_OUT, ProductStatus.INFORMATIONAL)
_ADD_ON_CATEGORIES = (Category.BROWSER_EXTENSION, Category.CERTIFICATE, Category.REMOVAL_TOOL)


def decide(product: Product | None, evidence: list[Evidence]) -> tuple[Verdict, Confidence]:
    conf = strength(evidence)
    conclusive = is_conclusive(evidence)
    if product is not None and product.status in _NOT_COVERED_STATUSES and not product.remnant:
        return Verdict.INFORMATIONAL, conf
    if product is not None and product.remnant:
        return (Verdict.REMNANT if conf.rank >= Confidence.STRONG.rank else Verdict.REVIEW), conf
    if evidence and all(is_footprint(e) for e in evidence):
        # An install folder or registry key with no package, program, service or driver of the
        # product: left behind by an uninstall. A weak footprint (a masquerade path) stays review.
        return (Verdict.REMNANT if conf.rank >= Confidence.STRONG.rank else Verdict.REVIEW), conf
    if product is None:
        return (Verdict.COVERED if conclusive else Verdict.REVIEW), conf
    if product.status == ProductStatus.REVIEW or product.confidence != Confidence.DEFINITIVE:
        return Verdict.REVIEW, conf
    return (Verdict.COVERED if conclusive else Verdict.REVIEW), conf
