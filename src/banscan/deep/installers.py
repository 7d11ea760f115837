"""Installer packages identified by their own metadata, never run and never unpacked to disk.

- Debian .deb: the ar archive's `control.tar` (plain, gz, xz, zst or bz2) is streamed, with
  the expanded bytes capped, until its `control` file: Package, Version, Maintainer (its name
  is the publisher), Architecture, Description, Source, Provides → a PACKAGE record.
- RPM: the lead, the signature header and the header proper are parsed from the file's bytes
  (NAME, VERSION, RELEASE, VENDOR, PACKAGER, SUMMARY, ARCH, SOURCERPM) → a PACKAGE record; the
  payload is never decompressed. Every count, offset and length is checked against the file
  and against fixed limits before it is used (a small parser of our own: rpmfile scans for
  the header magic byte by byte and trusts declared sizes).
- macOS flat .pkg (xar): the zlib-compressed table of contents (parsed with defusedxml), then
  the small PackageInfo and Distribution members from the heap → one RECEIPT record per
  package identifier, and an APP record for the Distribution's title.

Problems are BadInput (the whole file) or notes / reports naming the member; a bomb or an
absurd declared size is refused, not expanded.
"""

from __future__ import annotations

import bz2
import contextlib
import io
import lzma
import struct
import tarfile
import zlib
from typing import IO, Any

from banscan.deep import archives
from banscan.deep.archives import ArEntry, Report
from banscan.deep.filetype import HEAD_BYTES, BadInput, Buffer, Facts, FileType, sniff
from banscan.models import RecordKind

MiB = 1024 * 1024

# -- Debian packages ---------------------------------------------------------------------------

MAX_CONTROL_TAR = 32 * MiB  # expanded control.tar; real ones are kilobytes (md5sums can be MBs)
MAX_CONTROL_FILE = 1 * MiB
_MAX_CONTROL_MEMBERS = 10_000
_COMPRESSED = (FileType.GZIP, FileType.XZ, FileType.ZSTD, FileType.BZIP2)


def is_deb(data: Buffer, entries: list[ArEntry]) -> bool:
    """A Debian binary package: an ar archive whose first member is `debian-binary`."""
    if not entries or entries[0].name != "debian-binary":
        return False
    first = entries[0]
    return bytes(memoryview(data)[first.start : first.start + min(first.size, 8)]).startswith(b"2.")


class _Capped(io.RawIOBase):
    """A decompressed stream that raises _TooBig once more than `cap` bytes come out of it."""

    def __init__(self, src: IO[bytes], cap: int) -> None:
        self.src = src
        self.cap = cap
        self.total = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        chunk = self.src.read(min(len(b), 1 * MiB))
        self.total += len(chunk)
        if self.total > self.cap:
            raise _TooBig(self.total)
        b[: len(chunk)] = chunk
        return len(chunk)


class _TooBig(Exception):
    pass


def deb_control(data: Buffer, entries: list[ArEntry], report: Report) -> Facts | None:
    """The PACKAGE facts of a .deb from its control file; None (and one report) if unreadable."""
    member = next((e for e in entries if e.name.startswith("control.tar")), None)
    if member is None:
        report("", "Debian package has no control archive (control.tar*); not identified")
        return None
    view = memoryview(data)[member.start : member.start + member.size]
    kind = sniff(bytes(view[:HEAD_BYTES]))
    if kind not in (*_COMPRESSED, FileType.TAR):
        report(member.name, "control archive is neither a tar nor a known compressed stream")
        return None
    errors: tuple[type[BaseException], ...] = (*archives.stream_errors(), zlib.error, struct.error)
    raw: bytes | None = None
    try:
        with contextlib.ExitStack() as stack:
            stream = stack.enter_context(archives.as_file(view))
            if kind != FileType.TAR:
                stream = stack.enter_context(archives.decompressor(kind, stream))
            capped = io.BufferedReader(_Capped(stream, MAX_CONTROL_TAR))
            with tarfile.open(fileobj=capped, mode="r|") as tf:
                for n, m in enumerate(tf):
                    if n >= _MAX_CONTROL_MEMBERS:
                        break
                    if m.name.removeprefix("./") != "control" or not m.isfile():
                        continue
                    if m.size > MAX_CONTROL_FILE:
                        report(
                            member.name,
                            f"control file declares {m.size} bytes, over the {MAX_CONTROL_FILE}-byte "
                            "limit; not read",
                        )
                        return None
                    fh = tf.extractfile(m)
                    raw = fh.read(MAX_CONTROL_FILE) if fh is not None else None
                    break
    except _TooBig:
        report(
            member.name,
            f"control archive expands past {MAX_CONTROL_TAR} bytes; likely decompression bomb, not read",
        )
        return None
    except errors as exc:
        report(member.name, f"control archive unreadable: {' '.join(str(exc).split()) or type(exc).__name__}")
        return None
    if raw is None:
        report(member.name, "control archive has no control file; not identified")
        return None
    fields = parse_control(raw.decode("utf-8", "replace"))
    package = fields.get("package", "").strip()
    if not package:
        report(f"{member.name}!control", "control file has no Package field; not identified")
        return None
    facts = Facts(RecordKind.PACKAGE)
    facts.location = f"{member.name}!control"
    facts.name = package
    facts.version = fields.get("version", "").strip() or None
    maintainer = " ".join(fields.get("maintainer", "").split())
    # "Name <address>": the name is who publishes the package; the whole field is kept too.
    facts.publisher = maintainer.split("<", 1)[0].strip() or maintainer or None
    if maintainer:
        facts.extra["maintainer"] = maintainer[:1024]
    summary = fields.get("description", "").split("\n", 1)[0].strip()
    for key, value in (
        ("architecture", fields.get("architecture", "").strip()),
        ("summary", summary),
        ("source", fields.get("source", "").strip()),
        ("provides", " ".join(fields.get("provides", "").split())),
    ):
        if value:
            facts.extra[key] = value[:1024]
    return facts


def parse_control(text: str) -> dict[str, str]:
    """The fields of the first stanza of a deb822 control file (keys lower-cased)."""
    fields: dict[str, str] = {}
    key: str | None = None
    for line in text.splitlines():
        if not line.strip():
            if fields:
                break
            continue
        if line[0] in " \t":
            if key is not None:
                fields[key] += "\n" + line.strip()
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.strip() or " " in name.strip():
            key = None
            continue
        key = name.strip().lower()
        fields[key] = value.strip()
    return fields


# -- RPM packages ------------------------------------------------------------------------------

RPM_LEAD = 96
_HEADER_MAGIC = b"\x8e\xad\xe8\x01"
MAX_RPM_TAGS = 0xFFFF  # rpm's own limit on index entries
MAX_RPM_STORE = 64 * MiB  # header data; rpm itself refuses more than 256 MiB
_RPM_STRING, _RPM_STRING_ARRAY, _RPM_I18NSTRING, _RPM_INT32 = 6, 8, 9, 4
_RPM_TAGS = {
    1000: "name",
    1001: "version",
    1002: "release",
    1003: "epoch",
    1004: "summary",
    1011: "vendor",
    1015: "packager",
    1022: "arch",
    1044: "sourcerpm",
}


def _rpm_header(view: memoryview, pos: int, what: str) -> tuple[list[tuple[int, int, int, int]], int, int]:
    """(index entries, store start, end) of the header structure at `pos`, all inside the file."""
    if pos + 16 > len(view):
        raise BadInput(f"rpm {what} is cut short")
    if bytes(view[pos : pos + 4]) != _HEADER_MAGIC:
        raise BadInput(f"rpm {what} has no header magic")
    nindex, hsize = struct.unpack_from(">II", view, pos + 8)
    if nindex > MAX_RPM_TAGS:
        raise BadInput(f"rpm {what} declares {nindex} tags, over the {MAX_RPM_TAGS} limit")
    if hsize > MAX_RPM_STORE:
        raise BadInput(f"rpm {what} declares {hsize} bytes of data, over the {MAX_RPM_STORE}-byte limit")
    store = pos + 16 + 16 * nindex
    end = store + hsize
    if end > len(view):
        raise BadInput(f"rpm {what} declares more data than the file holds (cut short?)")
    entries = [struct.unpack_from(">IIII", view, pos + 16 + 16 * i) for i in range(nindex)]
    return entries, store, end


def _rpm_value(view: memoryview, store: int, end: int, typ: int, off: int, count: int) -> str | None:
    if not store + off < end:
        return None
    if typ in (_RPM_STRING, _RPM_I18NSTRING, _RPM_STRING_ARRAY):
        raw = bytes(view[store + off : min(end, store + off + 4096)])
        text = raw.split(b"\x00", 1)[0].decode("utf-8", "replace").strip()
        return text or None
    if typ == _RPM_INT32 and count >= 1 and store + off + 4 <= end:
        return str(struct.unpack_from(">I", view, store + off)[0])
    return None


def rpm_package(data: Buffer) -> Facts:
    """The PACKAGE facts of an .rpm from its header (the payload is not read)."""
    view = memoryview(data)
    if len(view) < RPM_LEAD:
        raise BadInput("rpm lead is cut short")
    major = view[4]
    if major not in (3, 4):
        raise BadInput(f"rpm format version {major} is not known")
    (rpm_type,) = struct.unpack_from(">H", view, 6)
    _sig_entries, _sig_store, sig_end = _rpm_header(view, RPM_LEAD, "signature header")
    pos = sig_end + (-sig_end % 8)  # the header proper starts on an 8-byte boundary
    entries, store, end = _rpm_header(view, pos, "header")
    tags: dict[str, str] = {}
    for tag, typ, off, count in entries:
        key = _RPM_TAGS.get(tag)
        if key is None or key in tags:
            continue
        value = _rpm_value(view, store, end, typ, off, count)
        if value is not None:
            tags[key] = value
    if "name" not in tags:
        raise BadInput("rpm header has no package name")
    facts = Facts(RecordKind.PACKAGE)
    facts.name = tags["name"]
    version = tags.get("version")
    if version and tags.get("release"):
        version = f"{version}-{tags['release']}"
    if version and tags.get("epoch"):
        version = f"{tags['epoch']}:{version}"
    facts.version = version
    facts.publisher = tags.get("vendor")
    for key, extra in (
        ("arch", "architecture"),
        ("summary", "summary"),
        ("packager", "packager"),
        ("sourcerpm", "source"),
    ):
        if key in tags:
            facts.extra[extra] = tags[key]
    if rpm_type == 1:
        facts.extra["rpm_type"] = "source"
    return facts


# -- macOS flat packages (xar) -----------------------------------------------------------------

MAX_XAR_TOC = 16 * MiB
MAX_PKG_MEMBER = 4 * MiB
_XAR_HEADER_MIN, _XAR_HEADER_MAX = 28, 4096
_MAX_TOC_FILES = 100_000


def _inflate(raw: bytes, style: str, cap: int) -> bytes:
    """Decompress a heap member as its encoding says, refusing more than `cap` bytes out."""
    if "gzip" in style:
        wbits = 47  # zlib or gzip header, detected
        d = zlib.decompressobj(wbits)
        out = d.decompress(raw, cap + 1)
    elif "bzip2" in style:
        out = bz2.BZ2Decompressor().decompress(raw, cap + 1)
    elif "lzma" in style or "xz" in style:
        out = lzma.LZMADecompressor().decompress(raw, cap + 1)
    else:
        out = raw
    if len(out) > cap:
        raise _TooBig(len(out))
    return out


def _toc_files(root: Any) -> list[tuple[str, Any]]:
    """(path, <file> element) for every file of the table of contents, parents first."""
    toc = root.find("toc")
    if toc is None:
        raise BadInput("xar table of contents has no <toc>")
    out: list[tuple[str, Any]] = []
    stack: list[tuple[str, Any]] = [("", toc)]
    while stack and len(out) < _MAX_TOC_FILES:
        prefix, el = stack.pop()
        for f in el.findall("file"):
            name = (f.findtext("name") or "").strip()
            if not name or "/" in name or name in (".", ".."):
                continue
            path = f"{prefix}{name}"
            out.append((path, f))
            stack.append((path + "/", f))
    return out


def xar_package(data: Buffer) -> list[Facts]:
    """RECEIPT facts for each package identifier of a flat .pkg, and APP facts for its title."""
    from defusedxml import DefusedXmlException, ElementTree

    view = memoryview(data)
    if len(view) < _XAR_HEADER_MIN:
        raise BadInput("xar header is cut short")
    hsize, _ver, toc_c, toc_u = struct.unpack_from(">HHQQ", view, 4)
    if not _XAR_HEADER_MIN <= hsize <= _XAR_HEADER_MAX:
        raise BadInput(f"xar header declares an impossible size ({hsize} bytes)")
    if toc_c > MAX_XAR_TOC or toc_u > MAX_XAR_TOC:
        raise BadInput(f"xar table of contents declares {max(toc_c, toc_u)} bytes, over the limit")
    if hsize + toc_c > len(view):
        raise BadInput("xar table of contents is cut short")
    # LookupError: an XML declaration naming an unknown encoding
    xml_errors = (ElementTree.ParseError, DefusedXmlException, ValueError, LookupError)
    try:
        toc = _inflate(bytes(view[hsize : hsize + toc_c]), "gzip", MAX_XAR_TOC)
        root = ElementTree.fromstring(toc)
    except _TooBig:
        raise BadInput(
            f"xar table of contents expands past {MAX_XAR_TOC} bytes; likely decompression bomb"
        ) from None
    except (zlib.error, *xml_errors) as exc:
        raise BadInput(f"xar table of contents unreadable: {exc}") from exc
    heap = hsize + toc_c
    notes: list[str] = []
    receipts: dict[str, Facts] = {}
    title: Facts | None = None
    pkg_refs: list[tuple[str, str | None]] = []
    for path, f in _toc_files(root):
        base = path.rsplit("/", 1)[-1]
        if base not in ("PackageInfo", "Distribution") or path.count("/") > 1:
            continue
        d = f.find("data")
        if d is None:
            continue
        try:
            off = int(d.findtext("offset") or "-1")
            length = int(d.findtext("length") or "-1")
            size = int(d.findtext("size") or "0")
        except ValueError:
            notes.append(f"xar member {path}: offset or length unreadable")
            continue
        enc = d.find("encoding")
        style = enc.get("style", "") if enc is not None else ""
        if off < 0 or length < 0 or length > MAX_PKG_MEMBER or size > MAX_PKG_MEMBER:
            notes.append(f"xar member {path}: declared size or offset out of bounds; not read")
            continue
        if heap + off + length > len(view):
            notes.append(f"xar member {path} lies past the end of the file (cut short?)")
            continue
        try:
            raw = _inflate(bytes(view[heap + off : heap + off + length]), style, MAX_PKG_MEMBER)
            doc: Any = ElementTree.fromstring(raw)
        except _TooBig:
            notes.append(f"xar member {path} expands past {MAX_PKG_MEMBER} bytes; not read")
            continue
        except (OSError, EOFError, zlib.error, lzma.LZMAError, *xml_errors) as exc:
            notes.append(f"xar member {path} unreadable: {type(exc).__name__}")
            continue
        if base == "PackageInfo":
            ident = (doc.get("identifier") or "").strip()
            if ident and ident not in receipts:
                r = Facts(RecordKind.RECEIPT)
                r.name = ident
                r.version = (doc.get("version") or "").strip() or None
                r.location = path
                if doc.get("install-location"):
                    r.extra["install_location"] = str(doc.get("install-location"))[:1024]
                receipts[ident] = r
        elif title is None:
            pkg_refs.extend(
                ((r.get("id") or "").strip(), r.get("version")) for r in doc.iter("pkg-ref") if r.get("id")
            )
            text = (doc.findtext("title") or "").strip()
            if text:
                title = Facts(RecordKind.APP)
                title.name = text[:1024]
                product = doc.find("product")
                if product is not None and product.get("version"):
                    title.version = str(product.get("version"))
                title.location = path
    # A product archive may list packages it does not carry (downloaded on install).
    for ident, version in pkg_refs:
        if ident and ident not in receipts:
            r = Facts(RecordKind.RECEIPT)
            r.name = ident
            r.version = (version or "").strip() or None
            r.location = "Distribution"
            receipts[ident] = r
    out = list(receipts.values())
    ids = ",".join(receipts)
    if title is not None:
        if title.version is None and out:
            title.version = out[0].version
        if ids:
            title.extra["pkg_identifiers"] = ids[:4096]
        out.append(title)
    if out:
        out[0].notes.extend(notes)
    elif notes:
        f0 = Facts()
        f0.notes.extend(notes)
        out.append(f0)
    return out
