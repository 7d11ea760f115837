"""Windows Installer packages (.msi, .msp): summary information and the Property table.

Read with olefile (optional dependency). The Property table is decoded from the database's
string pool: ProductName, Manufacturer, ProductVersion, ProductCode and UpgradeCode. A package
with a product name is described as the application it installs (an APP record: name,
publisher, version, extras product_code and upgrade_code), as Windows would list it. Without
olefile the file is still YARA-scanned, and one note says its properties were not read.
Legacy Office documents share the OLE container; they are recognised by their streams and
left alone.
"""

from __future__ import annotations

import struct
from typing import Any

from banscan.deep.filetype import BadInput, Buffer, Facts
from banscan.models import RecordKind

_MIME = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz._"
_MAX_STREAM = 32 * 1024 * 1024
_OFFICE_STREAMS = ("WordDocument", "Workbook", "PowerPoint Document", "Book")


class NotInstaller(Exception):
    """An OLE file that is a document, not an installer package."""


def decode_stream_name(name: str) -> str:
    out = []
    for ch in name:
        c = ord(ch)
        if 0x3800 <= c < 0x4800:
            c -= 0x3800
            out.append(_MIME[c & 0x3F])
            out.append(_MIME[(c >> 6) & 0x3F])
        elif 0x4800 <= c < 0x4840:
            out.append(_MIME[c - 0x4800])
        elif c == 0x4840:
            out.append("!")
        else:
            out.append(ch)
    return "".join(out)


def analyse(data: Buffer) -> Facts:
    facts = Facts()
    try:
        import olefile  # type: ignore[import-untyped]
    except ImportError:
        facts.notes.append(
            "olefile is not installed; installer properties not read (byte signatures still checked)"
        )
        return facts
    import io

    try:
        ole = olefile.OleFileIO(io.BytesIO(bytes(data)) if not hasattr(data, "read") else data)
    except (OSError, ValueError, struct.error, IndexError, KeyError, EOFError) as exc:
        raise BadInput(f"not a readable OLE/MSI file: {exc}") from exc
    except RecursionError:
        raise BadInput("not a readable OLE/MSI file: nested too deeply") from None
    try:
        streams = {
            decode_stream_name(e[0]): e for e in ole.listdir(streams=True, storages=False) if len(e) == 1
        }
        if any(s in streams for s in _OFFICE_STREAMS):
            raise NotInstaller()
        for key, value in _summary(ole).items():
            if value:
                facts.extra[key] = value
        props = _properties(ole, streams)
        for key, prop in (("product_code", "ProductCode"), ("upgrade_code", "UpgradeCode")):
            if props.get(prop):
                facts.extra[key] = props[prop].strip().upper()
        facts.name = props.get("ProductName") or facts.extra.get("msi_subject")
        facts.publisher = props.get("Manufacturer") or facts.extra.get("msi_author")
        facts.version = props.get("ProductVersion")
        if facts.name:
            # What the package says it installs: the name Windows will list once installed.
            facts.kind = RecordKind.APP
    except (BadInput, NotInstaller):
        raise
    except RecursionError:
        raise BadInput("OLE directory tree nested too deeply (or looped); not read") from None
    except (OSError, EOFError, ValueError, IndexError, KeyError, TypeError, struct.error) as exc:
        # olefile on a damaged directory, FAT or stream
        raise BadInput(f"OLE/MSI file unreadable: {type(exc).__name__}: {exc}") from None
    finally:
        ole.close()
    return facts


_SUMMARY = "\x05SummaryInformation"
_MAX_SUMMARY = 1024 * 1024
# Summary-information properties kept: PIDSI_SUBJECT, PIDSI_AUTHOR, PIDSI_COMMENTS
_SUMMARY_KEYS = {3: "msi_subject", 4: "msi_author", 6: "msi_comments"}
_VT_LPSTR, _VT_LPWSTR = 0x1E, 0x1F


def _summary(ole: Any) -> dict[str, str]:
    """Subject, author and comments from the summary information stream (MS-OLEPS), read here
    within its bounds: olefile's own parser (`get_metadata`) believes a vector's declared count
    and can loop billions of times on a hostile file."""
    if ole.get_type(_SUMMARY) != 2 or ole.get_size(_SUMMARY) > _MAX_SUMMARY:  # 2: STGTY_STREAM
        return {}
    s = bytes(ole.openstream(_SUMMARY).read(_MAX_SUMMARY))

    def u32(at: int) -> int:
        return int.from_bytes(s[at : at + 4], "little") if at + 4 <= len(s) else -1

    section = u32(44)  # after the header (28 bytes) and the first FMTID (16)
    if section < 0 or section + 8 > len(s):
        return {}
    count = min(max(u32(section + 4), 0), (len(s) - section - 8) // 8, 1000)
    out: dict[str, str] = {}
    for i in range(count):
        key = _SUMMARY_KEYS.get(u32(section + 8 + 8 * i))
        rel = u32(section + 12 + 8 * i)
        if key is None or rel < 0:
            continue
        at = section + rel
        vtype, size = u32(at), u32(at + 4)
        if size <= 0:
            continue
        if vtype == _VT_LPSTR:  # a byte string with its terminating NUL (code page: as olefile, cp1252)
            text = s[at + 8 : at + 8 + size - 1].replace(b"\x00", b"").decode("cp1252", "replace")
        elif vtype == _VT_LPWSTR:  # UTF-16 characters, the NUL included
            text = s[at + 8 : at + 8 + 2 * size].decode("utf-16-le", "replace").split("\x00", 1)[0]
        else:
            continue
        out[key] = text.strip()
    return out


def _read(ole: Any, entry: list[str]) -> bytes:
    if ole.get_size(entry) > _MAX_STREAM:
        raise BadInput("MSI stream over the size limit")
    return bytes(ole.openstream(entry).read(_MAX_STREAM))


_WANTED = ("ProductName", "Manufacturer", "ProductVersion", "ProductCode", "UpgradeCode")


def _properties(ole: Any, streams: dict[str, list[str]]) -> dict[str, str]:
    if not all(s in streams for s in ("!_StringPool", "!_StringData", "!Property")):
        return {}
    pool = _read(ole, streams["!_StringPool"])
    sdata = _read(ole, streams["!_StringData"])
    table = _read(ole, streams["!Property"])
    if len(pool) < 4:
        return {}
    codepage, flags = struct.unpack_from("<HH", pool, 0)
    ref = 3 if flags & 0x8000 else 2
    enc = {65001: "utf-8", 0: "cp1252"}.get(codepage, f"cp{codepage}")
    strings: list[str] = [""]
    pos = 0
    i = 4
    while i + 4 <= len(pool):
        length, refs = struct.unpack_from("<HH", pool, i)
        i += 4
        if length == 0 and refs != 0 and i + 4 <= len(pool):
            lo, hi = struct.unpack_from("<HH", pool, i)
            length = (hi << 16) | lo
            i += 4
        raw = sdata[pos : pos + length]
        pos += length
        try:
            strings.append(raw.decode(enc, "replace"))
        except LookupError:
            strings.append(raw.decode("cp1252", "replace"))
    rows = len(table) // (2 * ref)

    def sid(off: int) -> str:
        v = int.from_bytes(table[off : off + ref], "little")
        return strings[v] if 0 <= v < len(strings) else ""

    out: dict[str, str] = {}
    for r in range(rows):
        key = sid(r * ref)
        if key in _WANTED:
            out[key] = sid(rows * ref + r * ref)
    return out
