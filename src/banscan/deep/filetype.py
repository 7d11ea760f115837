"""What a file is, from its first bytes (never from its name alone).

The deep scan reads only the head of most files: this decides whether the rest is worth
reading. Executable-like content (PE, ELF, Mach-O, DEX, Java classes, MSI, installers and
packages) is examined and YARA-scanned; archives are opened; documents (PDF, HTML, Office,
plain text) are never scanned, so an article that mentions a vendor is not a finding.
"""

from __future__ import annotations

import mmap
import struct
from enum import Enum
from typing import TypeAlias

from banscan.models import RecordKind

HEAD_BYTES = 4096

# What analysers accept: file contents in memory or memory-mapped.
Buffer: TypeAlias = bytes | bytearray | memoryview | mmap.mmap


class FileType(str, Enum):
    PE = "pe"
    ELF = "elf"
    MACHO = "macho"
    MACHO_FAT = "macho-fat"
    DEX = "dex"
    JAVA_CLASS = "java-class"
    MSI = "msi"  # OLE compound file (MSI, MSP, MST; also legacy Office, told apart later)
    XAR = "xar"  # macOS flat .pkg
    RPM = "rpm"
    ZIP = "zip"  # zip, jar, apk, aab, ipa — and Office Open XML documents (told apart later)
    TAR = "tar"
    AR = "ar"  # Debian .deb
    GZIP = "gzip"
    BZIP2 = "bzip2"
    XZ = "xz"
    ZSTD = "zstd"
    DOCUMENT = "document"
    OTHER = "other"


# Content worth a YARA pass and a structure parser.
EXECUTABLE_LIKE = frozenset(
    {
        FileType.PE,
        FileType.ELF,
        FileType.MACHO,
        FileType.MACHO_FAT,
        FileType.DEX,
        FileType.JAVA_CLASS,
        FileType.MSI,
        FileType.XAR,
        FileType.RPM,
    }
)
CONTAINERS = frozenset(
    {FileType.ZIP, FileType.TAR, FileType.AR, FileType.GZIP, FileType.BZIP2, FileType.XZ, FileType.ZSTD}
)
INTERESTING = EXECUTABLE_LIKE | CONTAINERS

_MACHO_MAGICS = {
    b"\xfe\xed\xfa\xce",
    b"\xce\xfa\xed\xfe",
    b"\xfe\xed\xfa\xcf",
    b"\xcf\xfa\xed\xfe",
}
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_DOC_PREFIXES = (
    b"%PDF",
    b"{\\rtf",
    b"<!DOCTYPE",
    b"<!doctype",
    b"<html",
    b"<HTML",
    b"<?xml",
    b"\x89PNG",
    b"\xff\xd8\xff",
    b"GIF8",
)


def sniff(head: bytes) -> FileType:
    """The type of content starting with `head` (give at least HEAD_BYTES when available)."""
    if len(head) < 4:
        return FileType.OTHER
    m4 = head[:4]
    if head[:2] == b"MZ":
        return FileType.PE if _pe_signature(head) else FileType.OTHER
    if m4 == b"\x7fELF":
        return FileType.ELF
    if m4 in _MACHO_MAGICS:
        return FileType.MACHO
    if m4 == b"\xca\xfe\xba\xbe" and len(head) >= 8:
        # Shared by universal Mach-O binaries and Java classes: a fat header counts a few
        # architectures, a class file's next word is its (minor, major >= 45) version.
        (n,) = struct.unpack_from(">I", head, 4)
        return FileType.MACHO_FAT if 0 < n < 30 else FileType.JAVA_CLASS
    if head[:4] == b"dex\n" and head[7:8] == b"\x00":
        return FileType.DEX
    if head[:8] == _OLE:
        return FileType.MSI
    if m4 == b"xar!":
        return FileType.XAR
    if m4 == b"\xed\xab\xee\xdb":
        return FileType.RPM
    if m4 in (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08"):
        return FileType.ZIP
    if head[:8] == b"!<arch>\n":
        return FileType.AR
    if head[:2] == b"\x1f\x8b":
        return FileType.GZIP
    if head[:3] == b"BZh":
        return FileType.BZIP2
    if head[:6] == b"\xfd7zXZ\x00":
        return FileType.XZ
    if m4 == b"\x28\xb5\x2f\xfd":
        return FileType.ZSTD
    if len(head) >= 262 and head[257:262] == b"ustar":
        return FileType.TAR
    if head.lstrip()[:16].startswith(_DOC_PREFIXES):
        return FileType.DOCUMENT
    if _texty(head):
        return FileType.DOCUMENT
    return FileType.OTHER


def _pe_signature(head: bytes) -> bool:
    if len(head) < 0x40:
        return False
    off: int = struct.unpack_from("<I", head, 0x3C)[0]
    # A header beyond the sniffed head is rare; accept it and let the PE parser decide.
    if off + 4 > len(head):
        return off < 64 * 1024 * 1024
    return head[off : off + 4] == b"PE\x00\x00"


_PRINTABLE = bytes([9, 10, 13, *range(0x20, 0x100)])


def _texty(head: bytes) -> bool:
    sample = head[:1024]
    if not sample:
        return False
    if b"\x00" in sample:
        return sample.count(b"\x00") * 2 >= len(sample) and _utf16_text(sample)
    control = len(sample.translate(None, _PRINTABLE))
    return control <= len(sample) * 0.05


def _utf16_text(sample: bytes) -> bool:
    try:
        text = sample[: len(sample) // 2 * 2].decode("utf-16-le")
    except UnicodeDecodeError:
        return False
    return sum(1 for c in text if c.isprintable() or c in "\r\n\t") >= len(text) * 0.95


class Facts:
    """What one analyser learnt about a file: the identity fields of one record.

    `kind` is FILE for what a file's bytes say about the file itself; an installer's own
    statement about the software it installs is an APP, PACKAGE or RECEIPT. `location` is
    where inside the file it was read ("control.tar.xz!control"), or None for the file itself.
    """

    __slots__ = (
        "bundle_id",
        "extra",
        "kind",
        "location",
        "name",
        "notes",
        "publisher",
        "signer",
        "team_id",
        "version",
    )

    def __init__(self, kind: RecordKind = RecordKind.FILE) -> None:
        self.kind = kind
        self.location: str | None = None
        self.name: str | None = None
        self.version: str | None = None
        self.publisher: str | None = None
        self.signer: str | None = None
        self.team_id: str | None = None
        self.bundle_id: str | None = None
        self.extra: dict[str, str] = {}
        self.notes: list[str] = []  # one-line problems, reported by the caller

    def has_identity(self) -> bool:
        return any((self.name, self.publisher, self.signer, self.team_id, self.bundle_id))

    def values(self) -> list[str]:
        """Every text this record states (to tell a byte signature that only repeats it)."""
        fields = (self.name, self.version, self.publisher, self.signer, self.team_id, self.bundle_id)
        return [v for v in (*fields, *self.extra.values()) if v]


class BadInput(ValueError):
    """The content is not what its magic number claims (truncated, corrupt); one-line message."""
