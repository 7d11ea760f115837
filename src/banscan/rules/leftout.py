"""What an export could not express, said in the export instead of dropped silently: each
catalog identifier left out, with the reason, grouped into one line per reason.

An export is read by people who deploy it; a phone app's bundle id that no osquery table holds,
or a path that only `banscan scan` walks, must show as missing there, or a clean result would
read as "none of the pack's software", when it means "none of what osquery can see"."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from banscan.catalog.schema import IdentifierKind

K = IdentifierKind
PHONE_APPS = (
    "phone and tablet identifiers (Android, iOS): osquery runs on neither, so no table lists their apps"
)
NO_SQL = "cannot be written as osquery SQL (syntax its regular expressions may not share)"
_BY_KIND: dict[IdentifierKind, str] = {
    K.PATH: "file paths: osquery's file table needs a folder to list; `banscan scan` walks them",
    K.SIGNER: "code signers: osquery's authenticode table needs a file's path",
    K.PURL: "package URLs: no osquery table holds them",
    K.CPE: "CPE names: no osquery table holds them",
    K.BYTE_SIGNATURE: "byte signatures: `banscan export yara` and the deep scan look for them",
    K.FILE_NAME: "file names: osquery's file table needs a folder to list; `banscan scan` walks them",
    K.MAC_OUI: "MAC address blocks: seen on the network, not on a host (`banscan export nmap`)",
    K.SNMP_ENTERPRISE: "SNMP enterprise numbers: seen on the network, not on a host (`banscan export nmap`)",
}


@dataclass(frozen=True)
class LeftOut:
    """One catalog identifier an export does not look for, and why (no kind and value: the
    product as a whole)."""

    product: str
    kind: str
    value: str
    reason: str


def kind_reason(kind: IdentifierKind, platforms: Iterable[str]) -> str:
    """Why no osquery column holds identifiers of `kind` on these (osquery) platforms."""
    where = sorted(platforms)
    if kind in _BY_KIND:
        return _BY_KIND[kind]
    if kind == K.PACKAGE and where == ["windows"]:
        return "Windows package ids (winget): no osquery table holds them"
    on = f" on {', '.join(where)}" if where else ""
    return f"{kind.value.replace('_', ' ')} identifiers{on}: no osquery column this pack reads holds them"


def left_out_lines(items: Iterable[LeftOut]) -> list[str]:
    """One line per reason, in first-seen order: `reason: product (kind value, …); …` (a product
    left out whole, with no identifier named, as its id alone)."""
    by_reason: dict[str, dict[str, list[str]]] = {}
    for item in items:
        vals = by_reason.setdefault(item.reason, {}).setdefault(item.product, [])
        if item.kind:
            vals.append(f"{item.kind} {item.value}")
    return [
        f"{reason}: " + "; ".join(_product(pid, vals) for pid, vals in products.items())
        for reason, products in by_reason.items()
    ]


# Values named per product and reason; the rest are counted (a vendor holds hundreds of MAC
# blocks: the catalog and `banscan export nmap` list them all).
SHOWN_VALUES = 8


def _product(pid: str, vals: list[str]) -> str:
    if not vals:
        return pid
    unique = list(dict.fromkeys(vals))
    shown = ", ".join(unique[:SHOWN_VALUES])
    more = len(unique) - SHOWN_VALUES
    return f"{pid} ({shown}{f', and {more} more' if more > 0 else ''})"
