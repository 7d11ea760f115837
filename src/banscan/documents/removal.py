"""What a transition plan takes from the catalog about removing a product, beyond what the
evidence shows: the product's own `removal` steps, the step a management agent of the same
vendor found on the host puts on the vendor's other products, and the steps a vendor gives every
product of its own (`vendor_wide`, e.g. its removal tool)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from banscan.catalog.schema import Catalog, RemovalStep
from banscan.documents.vendors import product_of, vendor_id
from banscan.models import Finding


@dataclass(frozen=True)
class RemovalData:
    """The catalog's removal steps for one finding on one platform: the product's own, those its
    vendor gives every product (`vendor_wide`), and the step of a management agent of the same
    vendor found on the host (`managed`)."""

    own: list[RemovalStep] = field(default_factory=list)
    vendor_wide: list[RemovalStep] = field(default_factory=list)
    managed: str = ""

    def of(self, phase: str, *, vendor: bool = True) -> list[tuple[str, str]]:
        steps = [s for s in self.own if s.phase == phase]
        if vendor:
            steps += [s for s in self.vendor_wide if s.phase == phase]
        return uniq_steps(_step_text(s) for s in steps)


def _step_text(s: RemovalStep) -> tuple[str, str]:
    """A catalog step as the plan words it: its action (and where the vendor publishes its tool)."""
    where = f" ({s.tool or 'the vendor'}: {s.url})" if s.url else ""
    return " ".join(s.action.split()) + where, s.command


def uniq_steps(steps: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """(action, command) steps, each once, in order."""
    return list(dict.fromkeys(steps))


def removal_data(catalog: Catalog, f: Finding, platform: str, managers: dict[str, str]) -> RemovalData:
    """The catalog's removal steps for `f` on `platform`; `managers` maps a vendor's entity id to
    the step of its management agent found on the same host."""
    product = product_of(catalog, f.product)
    own = product.removal if product is not None else None
    vid = vendor_id(catalog, f)
    wide = [
        s
        for p in catalog.products
        if vid is not None and p.vendor == vid and p.id != f.product and p.removal and p.removal.vendor_wide
        for s in p.removal.steps
    ]
    managed = "" if own is not None and own.manages else managers.get(vid or "", "")
    return RemovalData(
        own=[s for s in (own.steps if own else []) if s.applies_on(platform)],
        vendor_wide=[s for s in wide if s.applies_on(platform)],
        managed=managed,
    )


def host_managers(catalog: Catalog, findings: Iterable[Finding]) -> dict[str, str]:
    """Vendor entity id → the `manages` step of that vendor's management agent found on a host."""
    out: dict[str, str] = {}
    for f in findings:
        product = product_of(catalog, f.product)
        vid = vendor_id(catalog, f)
        if product is not None and product.removal and product.removal.manages and vid:
            out.setdefault(vid, " ".join(product.removal.manages.split()))
    return out
