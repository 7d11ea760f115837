"""YARA rules generated from the catalog's byte signatures, for the deep scan.

One rule per (product, byte_signature identifier), so a match maps straight back to the
catalog: meta `banscan_product`, `banscan_identifier` (the value, non-ASCII escaped) and
`banscan_ref` (`product#index` into the product's identifiers). Only byte_signature
identifiers become rules: bundle ids, team ids and names also occur in logs, plists and
documents, and the inventory already finds them in structured fields.

Every rule requires a file header, because the signatures are also ordinary words
("AO Kaspersky Lab"): executables (PE, ELF, Mach-O, universal binaries, DEX) always, and
DER certificates for certificate products. A licence or a news article never matches.
"""

from __future__ import annotations

import re
import textwrap

from banscan.catalog.schema import Catalog, Category, IdentifierKind, MatchKind, Product
from banscan.rules.leftout import LeftOut, left_out_lines
from banscan.rules.osquery import group_of
from banscan.rules.words import export_description

_EXECUTABLE = (
    "uint16(0) == 0x5A4D",  # PE: "MZ"
    "uint32(0) == 0x464C457F",  # ELF: "\x7fELF"
    "uint32(0) == 0xFEEDFACE",  # Mach-O 32-bit
    "uint32(0) == 0xFEEDFACF",  # Mach-O 64-bit
    "uint32(0) == 0xCEFAEDFE",  # Mach-O 32-bit, byte-swapped
    "uint32(0) == 0xCFFAEDFE",  # Mach-O 64-bit, byte-swapped
    "uint32(0) == 0xBEBAFECA",  # universal (fat) binary
    "uint32(0) == 0x0A786564",  # Android DEX: "dex\n"
)
_DER_CERTIFICATE = ("uint16(0) == 0x8230",)  # SEQUENCE with a two-byte length: 30 82


def rule_name(product: Product, index: int) -> str:
    """A valid YARA identifier: banscan_<product id with - as _>_<identifier index>."""
    return "banscan_" + re.sub(r"[^A-Za-z0-9_]", "_", product.id) + f"_{index}"


def meta_str(value: str) -> str:
    """A YARA text string body: quotes and backslashes escaped, anything else non-printable as \\xHH."""
    out: list[str] = []
    for b in value.encode("utf-8"):
        ch = chr(b)
        if ch in '"\\':
            out.append("\\" + ch)
        elif 0x20 <= b < 0x7F:
            out.append(ch)
        else:
            out.append(f"\\x{b:02x}")
    return '"' + "".join(out) + '"'


def _hex(data: bytes) -> str:
    return "{ " + " ".join(f"{b:02X}" for b in data) + " }"


_HEX_BODY = re.compile(r"[0-9A-Fa-f?\s\[\]\-|()~]+")


def strings_for(value: str, nocase: bool) -> list[str]:
    """ASCII text as one string with ascii+wide; other text as UTF-8 and UTF-16LE hex strings.

    As in the deep scan, a value written `{ 4D 5A ?? }` is a YARA hex string and `/.../` a
    YARA regular expression; anything else is literal text.
    """
    v = value.strip()
    if v.startswith("{") and v.endswith("}") and _HEX_BODY.fullmatch(v[1:-1]):
        return [f"$s0 = {v}"]
    if len(v) > 2 and v.startswith("/") and v.endswith("/") and "\n" not in v:
        return [f"$s0 = {v} ascii wide{' nocase' if nocase else ''}"]
    if value.isascii():
        return [f"$s0 = {meta_str(value)} ascii wide{' nocase' if nocase else ''}"]
    # Hex strings cannot ignore case; a non-ASCII signature is matched as written.
    return [f"$s0 = {_hex(value.encode('utf-8'))}", f"$s1 = {_hex(value.encode('utf-16-le'))}"]


def headers_for(product: Product) -> tuple[str, ...]:
    if product.category == Category.CERTIFICATE:
        return _EXECUTABLE + _DER_CERTIFICATE
    return _EXECUTABLE


def yara_left_out(catalog: Catalog) -> list[LeftOut]:
    """What no rule looks for: byte signatures written as catalog regular expressions, and the
    exported products that have no byte signature at all (found by the inventory instead)."""
    out: list[LeftOut] = []
    for product in catalog.products:
        if group_of(product) is None:
            continue
        sigs = [i for i in product.identifiers if i.kind == IdentifierKind.BYTE_SIGNATURE]
        out += [
            LeftOut(product.id, "byte_signature", i.value, _REGEX) for i in sigs if i.match == MatchKind.REGEX
        ]
        if not sigs:
            out.append(LeftOut(product.id, "", "", _NO_SIGNATURE))
    return out


_REGEX = "catalog regular expressions (YARA's own syntax differs; write them as /…/ values)"
_NO_SIGNATURE = "products with no byte signature (`banscan scan` finds them by their other identifiers)"


def _header(catalog: Catalog) -> list[str]:
    """Comment lines: what the rules are for, and (wrapped) what they leave out."""
    products = (p.id for p in catalog.products if group_of(p) is not None)
    lines = [export_description(catalog, "YARA rules (byte signatures)", products)]
    lines += [f"Left out: {line}" for line in left_out_lines(yara_left_out(catalog))]
    out: list[str] = []
    for line in lines:
        out += [
            f"// {part}" for part in textwrap.wrap(line, 100, break_long_words=False, break_on_hyphens=False)
        ]
    return [*out, ""]


def render_yara(catalog: Catalog) -> str:
    """The rule file text; compile it with yara/yara-python."""
    out = _header(catalog)
    for product in catalog.products:
        group = group_of(product)
        if group is None:
            continue
        for index, ident in enumerate(product.identifiers):
            if ident.kind != IdentifierKind.BYTE_SIGNATURE or ident.match == MatchKind.REGEX:
                continue
            nocase = ident.match != MatchKind.EXACT
            meta = {
                "banscan_product": product.id,
                "banscan_ref": f"{product.id}#{index}",
                "banscan_kind": ident.kind.value,
                "banscan_match": ident.match.value,
                "banscan_identifier": ident.value,
                "identifier": ident.value,  # the key banscan's deep scan reads
                "banscan_status": group,
                "confidence": ident.confidence.value,
                "catalog_version": catalog.meta.version,
            }
            out.append(f"rule {rule_name(product, index)}")
            out.append("{")
            out.append("    meta:")
            out.extend(f"        {k} = {meta_str(v)}" for k, v in meta.items())
            out.append("    strings:")
            out.extend(f"        {s}" for s in strings_for(ident.value, nocase))
            out.append("    condition:")
            out.append("        (" + " or ".join(headers_for(product)) + ") and any of them")
            out.append("}")
            out.append("")
    return "\n".join(out)
