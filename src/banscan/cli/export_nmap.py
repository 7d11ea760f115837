"""`banscan export nmap`: what network scans should look for, from the catalog.

No NSE script: nmap's own output already holds what the catalog's device identifiers name (the
MAC address of each host on the local segment, the product strings and CPEs of its service
detection). The export is a tab-separated list of those values with the product each points to,
headed by the two commands that do the work: `nmap -sV -O -oX scan.xml …`, then `banscan scan
scan.xml`, which reads the XML with the same matcher and catalog. The list serves those who
check nmap's output by other means (grep, a SIEM lookup table): MAC blocks as nmap prints them
(`28:57:BE`), SNMP enterprise numbers as OID arcs, CPE patterns (regular expressions) and product
strings. An assignment's registered organisation is added from the IEEE registry where one is
installed (`--oui-registry`); the catalog, not the registry, decides what is listed.
"""

from __future__ import annotations

from banscan.catalog.schema import Catalog, IdentifierKind, Product
from banscan.inputs.oui import OuiRegistry

COLUMNS = ("kind", "value", "nmap_output", "product", "status", "vendor", "registry_organisation")
_KINDS = (
    IdentifierKind.MAC_OUI,
    IdentifierKind.SNMP_ENTERPRISE,
    IdentifierKind.CPE,
    IdentifierKind.DISPLAY_NAME,
)


def device_products(catalog: Catalog) -> list[Product]:
    """Products with identifiers that only devices carry (a MAC block, an enterprise number)."""
    device = {IdentifierKind.MAC_OUI, IdentifierKind.SNMP_ENTERPRISE}
    return [p for p in catalog.products if any(i.kind in device for i in p.identifiers)]


def _where(kind: IdentifierKind, value: str) -> str:
    if kind == IdentifierKind.MAC_OUI:
        return f'<address addr="{value}:…" addrtype="mac">'
    if kind == IdentifierKind.SNMP_ENTERPRISE:
        return f"sysObjectID 1.3.6.1.4.1.{value}.…"
    if kind == IdentifierKind.CPE:
        return "<cpe> (regular expression)"
    return f'<service product="{value}">'


def render_nmap_watchlist(catalog: Catalog, registry: OuiRegistry | None = None) -> str:
    """The export as text: commented usage, a header line, then one tab-separated row a value."""
    products = device_products(catalog)
    packs = ", ".join(sorted({p.pack for p in products if p.pack})) or "-"
    pack_opt = " ".join(f"--pack {p}" for p in sorted({p.pack for p in products if p.pack}))
    lines = [
        f"# banscan catalog {catalog.meta.version}: network equipment to look for (packs: {packs})",
        "# 1. scan with service and OS detection, keeping nmap's XML (MAC addresses are seen on the",
        "#    local segment only; run nmap as root there):",
        "#      nmap -sV -O -oX scan.xml 10.0.0.0/24",
        "# 2. judge the scan with the same catalog (verdicts, evidence, obligations):",
        f"#      banscan scan scan.xml {pack_opt}".rstrip(),
        "# SNMP walks, DHCP leases and NetBox or CMDB exports are read the same way.",
        "# Without banscan: a host matches a row when its nmap output holds the value shown. A MAC",
        "# block names who registered it (the network interface's maker): alone it is for review.",
        "\t".join(COLUMNS),
    ]
    rows: list[tuple[str, ...]] = []
    for p in products:
        vendor = catalog.entity(p.vendor)
        vendor_name = vendor.name if vendor else p.vendor
        for ident in p.identifiers:
            if ident.kind not in _KINDS:
                continue
            org = (
                registry.organisation(ident.value)
                if registry and ident.kind == IdentifierKind.MAC_OUI
                else None
            )
            kind = "product" if ident.kind == IdentifierKind.DISPLAY_NAME else ident.kind.value
            rows.append(
                (
                    kind,
                    ident.value,
                    _where(ident.kind, ident.value),
                    p.id,
                    p.status.value,
                    vendor_name,
                    org or "",
                )
            )
    order = {k: n for n, k in enumerate(("mac_oui", "snmp_enterprise", "cpe", "product"))}
    rows.sort(key=lambda r: (order[r[0]], r[3], r[1]))
    lines += ["\t".join(_clean(c) for c in row) for row in rows]
    return "\n".join(lines) + "\n"


def _clean(cell: str) -> str:
    """A cell without tabs or line breaks (a catalog value never has them; a registry name might)."""
    return " ".join(cell.split())
