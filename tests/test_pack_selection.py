"""Narrowing the catalog to packs: a pack's rule that names a vendor listed by another pack
(a state list naming Kaspersky, say) judges that vendor's products too, so selecting the pack
never leaves its rule with nothing to find; nothing else of the other pack comes along."""

from __future__ import annotations

from banscan.catalog.loader import load_catalog
from banscan.catalog.schema import Catalog, Pack

FULL = load_catalog()


def _with_rule_on(entity: str) -> Catalog:
    """The catalog plus a one-regulation pack `p-test` whose rule covers `entity`."""
    base = FULL.regulations[0]
    rule = base.model_copy(update={"id": "p-test-rule", "covers_entities": [entity], "pack": "p-test"})
    pack = Pack(
        id="p-test",
        title="Test list",
        version="1",
        released=base.issued,
        description="a list naming another pack's vendor",
        jurisdictions=["US-ZZ"],
        sources=base.sources[:1],
    )
    return FULL.model_copy(update={"regulations": [*FULL.regulations, rule], "packs": [*FULL.packs, pack]})


def test_a_rule_on_another_packs_vendor_keeps_that_vendors_products() -> None:
    narrowed = _with_rule_on("kaspersky-lab").with_packs(["p-test"])
    assert [r.id for r in narrowed.regulations] == ["p-test-rule"]
    # the vendor's own products and those that integrate its software, nothing of another pack
    expected = {p.id for p in FULL.products if "kaspersky-lab" in (p.vendor, *p.integrates)}
    assert len(expected) > 60
    assert {p.id for p in narrowed.products} == expected
    assert narrowed.entity("kaspersky-lab") is not None  # the vendor stays named
    assert narrowed.entity("huawei") is None


def test_a_rule_on_a_subsidiary_does_not_pull_in_its_parents_products() -> None:
    narrowed = _with_rule_on("ezviz").with_packs(["p-test"])
    assert not any(p.vendor == "hikvision" for p in narrowed.products)
    assert narrowed.entity("hikvision") is not None  # the parent is named, not judged
    parent = _with_rule_on("hikvision").with_packs(["p-test"])
    assert "hikvision-ivms-4200" in {p.id for p in parent.products}


def test_packs_alone_are_unchanged() -> None:
    for pid in ("kaspersky", "ndaa-889"):
        narrowed = FULL.with_packs([pid])
        assert {p.pack for p in narrowed.products} == {pid}
        assert {r.pack for r in narrowed.regulations} == {pid}
