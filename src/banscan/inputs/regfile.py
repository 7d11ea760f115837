"""`reg export` / regedit `.reg` files of Uninstall keys, for inventories sent in as exported keys.

Read as regedit and `reg export` really write them, whichever tool ran them (regedit, reg.exe,
an inventory agent's script): the version-5 format (UTF-16LE with BOM; UTF-8 or ASCII are also
accepted) and REGEDIT4 (ANSI); `dword:`, `hex:`, `hex(2):` (REG_EXPAND_SZ) and `hex(7):`
(REG_MULTI_SZ) data continued over many lines with a trailing backslash (blank lines inside a
continuation are ignored); string data with `\\"` and `\\\\` escapes, and REG_SZ data that itself
holds line breaks (regedit writes those raw, so the string runs on until its closing quote); the
`@` default value. Lines end in CRLF, LF, CR or the CR CR LF a second text-mode conversion leaves;
a form feed or U+2028 in a value is part of the value. hex(2) and hex(7) data are decoded to text.
A bad value or line is one error naming the file and the line it starts on; the rest of the key
and of the file is still read.

Each Uninstall subkey with a DisplayName becomes one APP record, the same record the hive
collector makes (banscan.collect.windows.uninstall.app_record), with the full key as `key`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, ClassVar, Protocol

from banscan.collect.windows.uninstall import app_record
from banscan.collect.windows.view import RegValue
from banscan.errors import ErrorSink
from banscan.inputs.base import InputReader, read_capped
from banscan.models import InventoryRecord, Source

HEADERS = ("Windows Registry Editor Version 5.00", "REGEDIT4")
COLLECTOR = "regfile"
REG_SZ, REG_EXPAND_SZ, REG_BINARY, REG_DWORD, REG_MULTI_SZ, REG_QWORD = 1, 2, 3, 4, 7, 11
UNINSTALL = re.compile(r"\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\([^\\]+)$", re.IGNORECASE)
SHORT_ROOTS = {
    "HKEY_LOCAL_MACHINE": "HKLM",
    "HKEY_CURRENT_USER": "HKCU",
    "HKEY_USERS": "HKU",
    "HKEY_CLASSES_ROOT": "HKCR",
}
USER_ROOT = re.compile(r"^(HKEY_CURRENT_USER|HKCU|HKEY_USERS\\[^\\]+)\\", re.IGNORECASE)
_HEX = re.compile(r"^hex(?:\(([0-9a-fA-F]+)\))?:([0-9a-fA-F,\s]*)$")

OnError = Callable[[int, str], None]
MAX_STRING_LINES = 1000  # physical lines one REG_SZ value may run over before it counts as unclosed
_BREAK = re.compile(r"\r*\n|\r")  # CRLF, LF, CR, and CR CR LF (a CRLF file converted once more)
_HEX_START = re.compile(r"^hex(\([0-9a-fA-F]+\))?:", re.IGNORECASE)
_KEY_LINE = re.compile(r"^\s*\[-?HKEY_[^\]]*\]\s*$", re.IGNORECASE)
_HEX_PART = re.compile(r"^[0-9a-fA-F,\s]*\\?$")

Section = tuple[str, dict[str, RegValue], int]


class _Sink(Protocol):
    def report(self, where: str | Path, place: str | int | None, message: str) -> None: ...


@dataclass
class _Callback:
    """Errors handed to an (line, message) callback instead of an ErrorSink."""

    on_error: OnError

    def report(self, where: str | Path, place: str | int | None, message: str) -> None:
        self.on_error(int(place or 0), message)


def decode(data: bytes) -> tuple[str, bool]:
    """Text of a .reg file and whether it is the Unicode (version 5) flavour."""
    if data.startswith(b"\xff\xfe"):
        return data[2:].decode("utf-16-le", errors="replace"), True
    if data.startswith(b"\xfe\xff"):
        return data[2:].decode("utf-16-be", errors="replace"), True
    if len(data) >= 2 and data[0] != 0 and data[1] == 0:
        return data.decode("utf-16-le", errors="replace"), True
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    return text, not text.lstrip().startswith("REGEDIT4")


def _quoted(s: str, pos: int) -> tuple[str, int] | None:
    """Parse a "..." string at s[pos] with \\\\ and \\" escapes; (text, index after) or None."""
    if pos >= len(s) or s[pos] != '"':
        return None
    out: list[str] = []
    i = pos + 1
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            out.append(s[i + 1])
            i += 2
            continue
        if c == '"':
            return "".join(out), i + 1
        out.append(c)
        i += 1
    return None


def _strings(raw: bytes, unicode: bool) -> list[str]:
    text = raw.decode("utf-16-le", errors="replace") if unicode else raw.decode("cp1252", errors="replace")
    return text.split("\0")


def parse_data(spec: str, unicode: bool = True) -> RegValue | None:
    """The value of one data spec (`"text"`, `dword:…`, `hex(N):…`); None if malformed."""
    spec = spec.strip()
    if spec.startswith('"'):
        parsed = _quoted(spec, 0)
        if parsed is None or spec[parsed[1] :].strip():
            return None
        return parsed[0]
    low = spec.lower()
    if low.startswith("dword:"):
        digits = low[6:].strip()
        return int(digits, 16) if re.fullmatch(r"[0-9a-f]{1,8}", digits) else None
    m = _HEX.match(spec)
    if m is None:
        return None
    kind = int(m.group(1), 16) if m.group(1) else REG_BINARY
    try:
        raw = bytes(int(b, 16) for b in m.group(2).replace(" ", "").split(",") if b)
    except ValueError:
        return None
    if kind in (REG_SZ, REG_EXPAND_SZ):
        return _strings(raw, unicode)[0]
    if kind == REG_MULTI_SZ:
        return [s for s in _strings(raw, unicode) if s]
    if kind == REG_DWORD and len(raw) == 4:
        return int.from_bytes(raw, "little")
    if kind == REG_QWORD and len(raw) == 8:
        return int.from_bytes(raw, "little")
    return raw


class _Parser:
    """One .reg text turned into (key, values, line) sections, errors reported as it goes."""

    def __init__(self, text: str, unicode: bool, filename: str, errors: _Sink) -> None:
        self.lines = _BREAK.split(text)
        self.unicode = unicode
        self.filename = filename
        self.errors = errors

    def report(self, index: int, message: str) -> None:
        self.errors.report(self.filename, index + 1, message)

    def sections(self) -> Iterator[Section]:
        lines = self.lines
        key: str | None = None
        key_line = 0
        values: dict[str, RegValue] = {}
        seen_header = False
        i = 0
        while i < len(lines):
            stripped = lines[i].strip()
            if not stripped or stripped.startswith(";"):
                i += 1
                continue
            if not seen_header:
                seen_header = True
                if stripped.lstrip("\ufeff") in HEADERS:
                    i += 1
                    continue
                self.report(i, "missing 'Windows Registry Editor Version 5.00' or 'REGEDIT4' header")
            if stripped.startswith("["):
                if key is not None:
                    yield key, values, key_line
                key, values, key_line = None, {}, i + 1
                if not stripped.endswith("]"):
                    self.report(i, "key line without closing ']'")
                elif not stripped.startswith("[-"):
                    key = stripped[1:-1]
                i += 1
                continue
            if not stripped.startswith(('"', "@")):
                self.report(i, f"unrecognised line: {stripped[:60]}")
                i += 1
                continue
            # a value line: values of a deleted or broken key are read (to skip their lines) but dropped
            i = self._value(i, values if key is not None else {})
        if key is not None:
            yield key, values, key_line

    def _value(self, i: int, values: dict[str, RegValue]) -> int:
        """Read the value starting on line i into `values`; the index of the line after it."""
        line = self.lines[i].strip()
        if line.startswith("@"):
            name, rest = "", line[1:]
        else:
            parsed = _quoted(line, 0)
            if parsed is None:
                self.report(i, f"unrecognised line: {line[:60]}")
                return i + 1
            name, rest = parsed[0], line[parsed[1] :]
        rest = rest.lstrip()
        label = repr(name or "@")
        if not rest.startswith("="):
            self.report(i, f"expected '=' after value name: {line[:60]}")
            return i + 1
        spec = rest[1:].strip()
        if spec == "-":
            values.pop(name, None)
            return i + 1
        if spec.startswith('"'):
            return self._string(i, name, spec, values)
        end = i + 1
        if _HEX_START.match(spec):
            spec, end, cut = self._continued(i, spec)
            if cut:
                self.report(i, f"hex data for {label} ends in '\\' but no continuation line follows")
        value = parse_data(spec, self.unicode)
        if value is None:
            self.report(i, f"unreadable value data for {label}")
        else:
            values[name] = value
        return end

    def _string(self, i: int, name: str, spec: str, values: dict[str, RegValue]) -> int:
        """A quoted REG_SZ, possibly running over several lines (a value holding line breaks)."""
        label = repr(name or "@")
        text = spec
        j = i
        while True:
            parsed = _quoted(text, 0)
            if parsed is not None and not text[parsed[1] :].strip():
                values[name] = parsed[0]
                return j + 1
            if parsed is not None and j == i:
                self.report(i, f"unreadable value data for {label}")
                return i + 1
            j += 1
            nxt = self.lines[j] if j < len(self.lines) else None
            if parsed is not None or nxt is None or j - i > MAX_STRING_LINES or _KEY_LINE.match(nxt):
                # a quote that closes it only on a later line with more after it, the next key,
                # or the end: the string is not closed, and the lines after it are read on their own
                self.report(i, f"string value {label} is not closed; skipped")
                return i + 1
            text += "\n" + nxt

    def _continued(self, i: int, spec: str) -> tuple[str, int, bool]:
        """hex data joined over its `\\`-continued lines (blank lines between them skipped),
        the index of the line after it, and whether a continuation promised by `\\` was missing."""
        parts = [spec]
        j = i
        while parts[-1].endswith("\\"):
            parts[-1] = parts[-1][:-1].rstrip()
            k = j + 1
            while k < len(self.lines) and not self.lines[k].strip():
                k += 1
            nxt = self.lines[k].strip() if k < len(self.lines) else ""
            if not nxt or not _HEX_PART.match(nxt):
                return "".join(parts), j + 1, True
            parts.append(nxt)
            j = k
        return "".join(parts), j + 1, False


def parse_reg(
    data: bytes, on_error: OnError | None = None, *, filename: str = "", errors: _Sink | None = None
) -> Iterator[Section]:
    """Yield (key path, {value name: value}, line of the key header) for each key section.

    The default value is named "". Deleted keys (`[-…]`) and deleted values (`=-`) are skipped.
    Errors go to `errors` (file:line) or to `on_error(line, message)`.
    """
    text, unicode = decode(data)
    sink: _Sink = errors if errors is not None else _Callback(on_error or (lambda _line, _msg: None))
    yield from _Parser(text, unicode, filename, sink).sections()


def records_from_regfile(
    path: str | Path, data: bytes, host: str, errors: ErrorSink
) -> Iterator[InventoryRecord]:
    """APP records for the Uninstall keys in an exported .reg file (any hive, 32/64-bit view)."""
    for key, values, line in parse_reg(data, filename=str(path), errors=errors):
        if UNINSTALL.search(key) is None:
            continue
        user = m.group(1).split("\\", 1)[-1] if (m := USER_ROOT.match(key)) and "\\" in m.group(1) else None
        root, _, rest = key.partition("\\")
        short = f"{SHORT_ROOTS.get(root.upper(), root)}\\{rest}"
        rec = app_record(host, Source(COLLECTOR, f"{path}:{line}"), short, values, user)
        if rec is not None:
            yield rec


_HEADERS = HEADERS
MAX_BYTES = 256 * 1024 * 1024


class RegFileReader:
    name: ClassVar[str] = "reg"

    def sniff(self, head: bytes, filename: str) -> int:
        for enc, bom in (("utf-16-le", b"\xff\xfe"), ("utf-8", b"\xef\xbb\xbf"), ("latin-1", b"")):
            if bom and not head.startswith(bom):
                continue
            text = head[len(bom) : len(bom) + 200].decode(enc, errors="ignore").lstrip()
            if text.startswith(_HEADERS):
                return 95
        return 0

    def read(
        self, stream: BinaryIO, filename: str, errors: ErrorSink, default_host: str
    ) -> Iterator[InventoryRecord]:
        data = read_capped(stream, filename, errors, MAX_BYTES)
        if data is None:
            return
        yield from records_from_regfile(filename, data, default_host, errors)


READERS: list[InputReader] = [RegFileReader()]
