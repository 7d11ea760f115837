"""Mach-O binaries and app bundles (macOS, iOS).

- Mach-O (thin or universal): the code signature's CodeDirectory gives the signing
  identifier (usually the bundle id) and the Apple Team ID; the CMS blob's leaf certificate
  gives the signer ("Developer ID Application: … (TEAMID)"). Parsed directly from the load
  commands — a few structs, no dependency.
- Info.plist of the enclosing .app bundle: CFBundleIdentifier, CFBundleName, version.

Flat installer packages (.pkg) are read in banscan.deep.installers.
"""

from __future__ import annotations

import plistlib
import struct
from xml.parsers.expat import ExpatError

from banscan.deep.filetype import BadInput, Buffer, Facts

LC_CODE_SIGNATURE = 0x1D
CSMAGIC_EMBEDDED_SIGNATURE = 0xFADE0CC0
CSMAGIC_CODEDIRECTORY = 0xFADE0C02
CSMAGIC_BLOBWRAPPER = 0xFADE0B01
CSSLOT_CODEDIRECTORY = 0
CSSLOT_SIGNATURESLOT = 0x10000
_MAX_SIG = 16 * 1024 * 1024
_MAX_TOC = 16 * 1024 * 1024
_MAX_PKG_MEMBER = 4 * 1024 * 1024


def analyse(data: Buffer) -> Facts:
    view = memoryview(data)
    facts = Facts()
    if len(view) < 8:
        raise BadInput("Mach-O file is too short")
    magic = bytes(view[:4])
    if magic in (b"\xca\xfe\xba\xbe", b"\xca\xfe\xba\xbf"):
        wide = magic[3] == 0xBF
        (n,) = struct.unpack_from(">I", view, 4)
        size = 32 if wide else 20
        archs = []
        for i in range(min(n, 30)):
            p = 8 + i * size
            if p + size > len(view):
                raise BadInput("universal Mach-O header is cut short")
            if wide:
                _ct, _cs, off, sz = struct.unpack_from(">iiQQ", view, p)
            else:
                _ct, _cs, off, sz = struct.unpack_from(">iiII", view, p)
            archs.append((off, sz))
        facts.extra["architectures"] = str(len(archs))
        for off, sz in archs:
            if off + sz > len(view):
                facts.notes.append("universal Mach-O slice extends past the end of the file")
                continue
            if _thin(view[off : off + sz], facts):
                break
        return facts
    _thin(view, facts)
    return facts


def _thin(view: memoryview, facts: Facts) -> bool:
    """Read one thin Mach-O; True if it carried a code signature."""
    magic = bytes(view[:4])
    if magic in (b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf"):
        end = ">"
    elif magic in (b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe"):
        end = "<"
    else:
        raise BadInput("not a Mach-O file")
    is64 = magic in (b"\xfe\xed\xfa\xcf", b"\xcf\xfa\xed\xfe")
    hdr = 32 if is64 else 28
    if len(view) < hdr:
        raise BadInput("Mach-O header is cut short")
    _m, _cpu, _sub, ftype, ncmds, sizeofcmds, _flags = struct.unpack_from(end + "IiiIIII", view, 0)
    facts.extra.setdefault("macho_filetype", str(ftype))
    pos = hdr
    limit = min(len(view), hdr + sizeofcmds)
    for _ in range(min(ncmds, 4096)):
        if pos + 8 > limit:
            raise BadInput("Mach-O load commands are cut short")
        cmd, cmdsize = struct.unpack_from(end + "II", view, pos)
        if cmdsize < 8:
            raise BadInput("Mach-O load command has an invalid size")
        if cmd == LC_CODE_SIGNATURE and pos + 16 <= limit:
            dataoff, datasize = struct.unpack_from(end + "II", view, pos + 8)
            if dataoff + datasize > len(view) or datasize > _MAX_SIG:
                facts.notes.append("code signature lies outside the file (truncated?)")
                return False
            _signature(view[dataoff : dataoff + datasize], facts)
            return True
        pos += cmdsize
    return False


def _signature(sig: memoryview, facts: Facts) -> None:
    if len(sig) < 12:
        facts.notes.append("code signature is cut short")
        return
    magic, _length, count = struct.unpack_from(">III", sig, 0)
    if magic != CSMAGIC_EMBEDDED_SIGNATURE:
        facts.notes.append("code signature has an unknown magic number")
        return
    for i in range(min(count, 64)):
        p = 12 + 8 * i
        if p + 8 > len(sig):
            break
        slot, off = struct.unpack_from(">II", sig, p)
        if off + 8 > len(sig):
            continue
        bmagic, blen = struct.unpack_from(">II", sig, off)
        blob = sig[off : off + blen]
        if bmagic == CSMAGIC_CODEDIRECTORY and (
            slot == CSSLOT_CODEDIRECTORY or "signing_id" not in facts.extra
        ):
            _code_directory(blob, facts)
        elif bmagic == CSMAGIC_BLOBWRAPPER and slot == CSSLOT_SIGNATURESLOT and blen > 8:
            _cms(bytes(blob[8:]), facts)


def _cstring(blob: memoryview, off: int) -> str:
    if off <= 0 or off >= len(blob):
        return ""
    raw = bytes(blob[off : off + 1024])
    return raw.split(b"\x00", 1)[0].decode("utf-8", "replace")


def _code_directory(blob: memoryview, facts: Facts) -> None:
    if len(blob) < 44:
        return
    (version,) = struct.unpack_from(">I", blob, 8)
    (ident_off,) = struct.unpack_from(">I", blob, 20)
    ident = _cstring(blob, ident_off)
    if ident:
        facts.extra["signing_id"] = ident
        facts.bundle_id = facts.bundle_id or ident
    if version >= 0x20200 and len(blob) >= 52:
        (team_off,) = struct.unpack_from(">I", blob, 48)
        team = _cstring(blob, team_off)
        if team:
            facts.team_id = team


def _cms(der: bytes, facts: Facts) -> None:
    if not der:
        facts.extra["signature"] = "ad-hoc"
        return
    from cryptography.hazmat.primitives.serialization import pkcs7
    from cryptography.x509.oid import NameOID

    from banscan.deep.pe import windows_name

    try:
        certs = pkcs7.load_der_pkcs7_certificates(der)
    except ValueError as exc:
        facts.notes.append(f"code signature certificates unreadable: {exc}")
        return
    leaf = None
    for c in certs:
        ous = c.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
        if facts.team_id and any(str(a.value) == facts.team_id for a in ous):
            leaf = c
            break
    if leaf is None and certs:
        # Apple signatures list the leaf first, then the intermediate and the root.
        leaf = certs[0]
    if leaf is not None:
        facts.signer = windows_name(leaf.subject)
        facts.extra["issuer"] = windows_name(leaf.issuer)
        facts.extra["serial"] = f"{leaf.serial_number:x}"
        facts.extra["signature_valid"] = "unchecked"
        if not facts.team_id:
            ous = leaf.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
            if ous:
                facts.team_id = str(ous[0].value)


def bundle_info(plist: bytes) -> dict[str, str]:
    """CFBundleIdentifier, CFBundleName and versions from an Info.plist (XML or binary)."""
    try:
        data = plistlib.loads(plist)
    except RecursionError:
        raise BadInput("Info.plist unreadable: nested too deeply") from None
    except (
        plistlib.InvalidFileException,
        ValueError,  # bad binary plists; LookupError (an unknown encoding) in XML ones
        TypeError,
        OverflowError,
        LookupError,
        ExpatError,
    ) as exc:
        raise BadInput(f"Info.plist unreadable: {' '.join(str(exc).split())}") from exc
    if not isinstance(data, dict):
        raise BadInput("Info.plist is not a dictionary")
    out = {}
    for key in ("CFBundleIdentifier", "CFBundleName", "CFBundleDisplayName", "CFBundleShortVersionString"):
        v = data.get(key)
        if isinstance(v, str) and v.strip():
            out[key] = v.strip()
    return out


def apply_bundle(facts: Facts, info: dict[str, str], plist_path: str) -> None:
    if "CFBundleIdentifier" in info:
        facts.bundle_id = info["CFBundleIdentifier"]
    name = info.get("CFBundleDisplayName") or info.get("CFBundleName")
    if name and not facts.name:
        facts.name = name
    if "CFBundleShortVersionString" in info and not facts.version:
        facts.version = info["CFBundleShortVersionString"]
    facts.extra["info_plist"] = plist_path
