"""Reader for `reg export` / regedit `.reg` files, for inventories sent in as exported keys.

Handles the version-5 format (UTF-16LE with BOM, as regedit writes it; UTF-8 or ASCII are
also accepted) and REGEDIT4 (ANSI), quoted strings with `\\\\` and `\\"` escapes, `dword:`,
`hex(N):` with `\\` continuation lines and the `@` default value. A bad line is reported as
file:line and skipped; the rest of the file is still read.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

from banscan.collect.base import ErrorSink
from banscan.collect.windows.uninstall import app_record
from banscan.collect.windows.view import RegValue
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


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """(first line number, joined text) with `\\`-continued hex lines joined."""
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip() if pending else raw.rstrip()
        if not pending:
            start = number
        if line.endswith("\\") and not line.startswith("["):
            pending.append(line[:-1])
            continue
        pending.append(line)
        yield start, "".join(pending)
        pending = []
    if pending:
        yield start, "".join(pending)


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


def parse_reg(data: bytes, on_error: OnError | None = None) -> Iterator[tuple[str, dict[str, RegValue], int]]:
    """Yield (key path, {value name: value}, line of the key header) for each key section.

    The default value is named "". Deleted keys (`[-…]`) and deleted values (`=-`) are skipped.
    """
    text, unicode = decode(data)
    report = on_error or (lambda _line, _msg: None)
    key: str | None = None
    key_line = 0
    values: dict[str, RegValue] = {}
    seen_header = False
    for number, line in _logical_lines(text):
        stripped = line.strip()
        if not stripped or stripped.startswith(";"):
            continue
        if not seen_header:
            seen_header = True
            if stripped in HEADERS:
                continue
            report(number, "missing 'Windows Registry Editor Version 5.00' or 'REGEDIT4' header")
        if stripped.startswith("["):
            if key is not None:
                yield key, values, key_line
            key, values, key_line = None, {}, number
            if not stripped.endswith("]"):
                report(number, "key line without closing ']'")
            elif not stripped.startswith("[-"):
                key = stripped[1:-1]
            continue
        if key is None:
            if not stripped.startswith(('"', "@")):
                report(number, f"unrecognised line: {stripped[:60]}")
            continue  # values of a deleted or broken key are ignored
        _value_line(stripped, number, values, unicode, report)
    if key is not None:
        yield key, values, key_line


def _value_line(line: str, number: int, values: dict[str, RegValue], unicode: bool, report: OnError) -> None:
    if line.startswith("@"):
        name, rest = "", line[1:]
    else:
        parsed = _quoted(line, 0)
        if parsed is None:
            report(number, f"unrecognised line: {line[:60]}")
            return
        name, rest = parsed[0], line[parsed[1] :]
    rest = rest.lstrip()
    if not rest.startswith("="):
        report(number, f"expected '=' after value name: {line[:60]}")
        return
    spec = rest[1:].strip()
    if spec == "-":
        values.pop(name, None)
        return
    value = parse_data(spec, unicode)
    if value is None:
        report(number, f"unreadable value data for {name or '@'!r}")
        return
    values[name] = value


def records_from_regfile(
    path: str | Path, data: bytes, host: str, errors: ErrorSink
) -> Iterator[InventoryRecord]:
    """APP records for the Uninstall keys in an exported .reg file (any hive, 32/64-bit view)."""

    def on_error(line: int, message: str) -> None:
        errors.report(path, line, message)

    for key, values, line in parse_reg(data, on_error):
        if UNINSTALL.search(key) is None:
            continue
        user = m.group(1).split("\\", 1)[-1] if (m := USER_ROOT.match(key)) and "\\" in m.group(1) else None
        root, _, rest = key.partition("\\")
        short = f"{SHORT_ROOTS.get(root.upper(), root)}\\{rest}"
        rec = app_record(host, Source(COLLECTOR, f"{path}:{line}"), short, values, user)
        if rec is not None:
            yield rec
