"""Whose software a finding is, in the catalog's words: the entity it belongs to, the covered
entity a rule judges it by, and the brand a report names. Read from the catalog's products and
entities, so documents name a new ban's vendor without code that knows it."""

from __future__ import annotations

from banscan.catalog.schema import Catalog, Entity, Product
from banscan.match.matcher import unlisted_entity
from banscan.models import Finding


def product_of(catalog: Catalog, product_id: str) -> Product | None:
    try:
        return catalog.product(product_id)
    except KeyError:
        return None


def vendor_id(catalog: Catalog, f: Finding) -> str | None:
    """The entity id of the finding's vendor: the catalog product's vendor when it is an entity,
    the entity of an unlisted product, else the entity one of whose names is the finding's vendor."""
    product = product_of(catalog, f.product)
    if product is not None:
        return product.vendor if catalog.entity(product.vendor) is not None else None
    eid = unlisted_entity(f.product)
    if eid and catalog.entity(eid) is not None:
        return eid
    wanted = f.vendor.strip().lower()
    for e in catalog.entities:
        if wanted and wanted in (n.lower() for n in e.all_names()):
            return e.id
    return None


def covered_entity(catalog: Catalog, f: Finding) -> Entity | None:
    """The entity a rule judges the finding by: its vendor, else the first entity whose code the
    product integrates (white-label products, embedded engines)."""
    eid = vendor_id(catalog, f)
    if eid is None:
        product = product_of(catalog, f.product)
        eid = product.integrates[0] if product is not None and product.integrates else None
    return catalog.entity(eid) if eid else None


def entity_brand(entity: Entity, product_name: str = "") -> str:
    """The entity's brand: the first of its aliases the product's name carries, else its first
    alias, else its name ("Kaspersky" for Kaspersky Lab, "Huawei" for Huawei Technologies)."""
    name = product_name.lower()
    for alias in entity.aliases:
        if alias.lower() in name:
            return alias
    return entity.aliases[0] if entity.aliases else entity.name


def brand(catalog: Catalog, f: Finding) -> str:
    """The brand a report names for the finding: its vendor entity's, else the vendor as found
    (a white-labelled product carries its seller's brand)."""
    eid = vendor_id(catalog, f)
    entity = catalog.entity(eid) if eid else None
    return entity_brand(entity, f.product_name) if entity is not None else f.vendor


def covered_brand(catalog: Catalog, f: Finding) -> str:
    """The brand of the covered entity whose software it may be ("Kaspersky" for an appliance
    with an embedded Kaspersky engine); the vendor as found when the catalog names none."""
    entity = covered_entity(catalog, f)
    return entity_brand(entity, f.product_name) if entity is not None else f.vendor


def pack_of(catalog: Catalog, f: Finding) -> str | None:
    """The pack of the finding's product (of its vendor, for software the catalog does not list)."""
    product = product_of(catalog, f.product)
    if product is not None:
        return product.pack or None
    vid = vendor_id(catalog, f)
    entity = catalog.entity(vid) if vid else None
    return (entity.pack or None) if entity is not None else None
