"""Android packages: the package name from the binary AndroidManifest.xml and the signing
certificate's subject from the v1 signature block (META-INF/*.RSA, *.DSA, *.EC).

The manifest is Android's binary XML (AXML): a string pool and a stream of element chunks.
Only the first element (<manifest>) is read, for `package`, `versionName` and `versionCode`.
APK Signature Scheme v2/v3 blocks (outside the zip entries) are not read; apps signed only
that way show no signer, and their package name remains the evidence.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from banscan.deep.filetype import BadInput, Facts

RES_STRING_POOL = 0x0001
RES_XML = 0x0003
RES_XML_START_ELEMENT = 0x0102
UTF8_FLAG = 0x100
_TYPE_STRING = 0x03
_TYPE_INT_DEC = 0x10
_MAX_MANIFEST = 8 * 1024 * 1024
_MAX_SIG_BLOCK = 1024 * 1024


def parse_manifest(data: bytes) -> dict[str, str]:
    """Attributes of the <manifest> element of a binary AndroidManifest.xml."""
    if len(data) < 8:
        raise BadInput("AndroidManifest.xml is too short")
    typ, hsize, _size = struct.unpack_from("<HHI", data, 0)
    if typ != RES_XML:
        raise BadInput("AndroidManifest.xml is not binary XML")
    pos = hsize
    strings: list[str] = []
    while pos + 8 <= len(data):
        ctype, chsize, csize = struct.unpack_from("<HHI", data, pos)
        if csize < 8 or pos + csize > len(data):
            raise BadInput(f"AndroidManifest.xml chunk at {pos} is cut short")
        if ctype == RES_STRING_POOL:
            strings = _string_pool(data, pos, chsize, csize)
        elif ctype == RES_XML_START_ELEMENT:
            return _manifest_attrs(data, pos, chsize, strings)
        pos += csize
    raise BadInput("AndroidManifest.xml has no <manifest> element")


def _string_pool(data: bytes, pos: int, hsize: int, size: int) -> list[str]:
    count, _styles, flags, start, _sstart = struct.unpack_from("<IIIII", data, pos + 8)
    if count > 1_000_000:
        raise BadInput("AndroidManifest.xml string pool is implausibly large")
    utf8 = bool(flags & UTF8_FLAG)
    base = pos + start
    end = pos + size
    out = []
    for i in range(count):
        (off,) = struct.unpack_from("<I", data, pos + hsize + 4 * i)
        p = base + off
        if p >= end:
            out.append("")
            continue
        try:
            if utf8:
                _, p = _len8(data, p)  # length in characters
                n, p = _len8(data, p)  # length in bytes
                out.append(data[p : p + n].decode("utf-8", "replace"))
            else:
                n, p = _len16(data, p)
                out.append(data[p : p + 2 * n].decode("utf-16-le", "replace"))
        except (IndexError, struct.error):
            out.append("")
    return out


def _len8(data: bytes, p: int) -> tuple[int, int]:
    n = data[p]
    if n & 0x80:
        return ((n & 0x7F) << 8) | data[p + 1], p + 2
    return n, p + 1


def _len16(data: bytes, p: int) -> tuple[int, int]:
    (n,) = struct.unpack_from("<H", data, p)
    if n & 0x8000:
        (lo,) = struct.unpack_from("<H", data, p + 2)
        return ((n & 0x7FFF) << 16) | lo, p + 4
    return n, p + 2


def _manifest_attrs(data: bytes, pos: int, hsize: int, strings: list[str]) -> dict[str, str]:
    def s(i: int) -> str:
        return strings[i] if 0 <= i < len(strings) else ""

    ext = pos + hsize
    _ns, name, astart, asize, acount = struct.unpack_from("<IIHHH", data, ext)
    if s(name) != "manifest":
        raise BadInput(f"AndroidManifest.xml starts with <{s(name)}>, not <manifest>")
    out: dict[str, str] = {}
    for i in range(min(acount, 256)):
        a = ext + astart + i * asize
        _ans, aname, raw, _vsize, _res0, vtype, vdata = struct.unpack_from("<IIIHBBI", data, a)
        key = s(aname)
        if raw != 0xFFFFFFFF:
            out[key] = s(raw)
        elif vtype == _TYPE_STRING:
            out[key] = s(vdata)
        elif vtype == _TYPE_INT_DEC:
            out[key] = str(vdata)
    return out


def analyse(names: list[str], read: Callable[[str, int], bytes | None]) -> Facts:
    """Facts of an APK given its member names and a bounded member reader."""
    facts = Facts()
    data = read("AndroidManifest.xml", _MAX_MANIFEST)
    if data is None:
        raise BadInput("AndroidManifest.xml unreadable")
    attrs = parse_manifest(data)
    package = attrs.get("package", "").strip()
    if package:
        facts.bundle_id = package
        facts.name = package
    if attrs.get("versionName"):
        facts.version = attrs["versionName"]
    if attrs.get("versionCode"):
        facts.extra["version_code"] = attrs["versionCode"]
    for n in names:
        upper = n.upper()
        if upper.startswith("META-INF/") and upper.rsplit(".", 1)[-1] in ("RSA", "DSA", "EC"):
            block = read(n, _MAX_SIG_BLOCK)
            if block is not None:
                _signer(block, n, facts)
            break
    return facts


def _signer(block: bytes, name: str, facts: Facts) -> None:
    from cryptography.hazmat.primitives.serialization import pkcs7

    from banscan.deep.pe import windows_name

    try:
        certs = pkcs7.load_der_pkcs7_certificates(block)
    except ValueError as exc:
        facts.notes.append(f"{name}: signature block unreadable: {exc}")
        return
    if not certs:
        return
    # v1 signature blocks carry the signing certificate first (usually alone).
    cert = certs[0]
    facts.signer = windows_name(cert.subject)
    facts.extra["issuer"] = windows_name(cert.issuer)
    facts.extra["serial"] = f"{cert.serial_number:x}"
    facts.extra["signature_block"] = name
    facts.extra["signature_valid"] = "unchecked"
