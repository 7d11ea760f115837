"""Reading CSV exports the way Windows tools write them: encoding, delimiter, header, rows.

Encodings: UTF-8 with or without a BOM, UTF-16 LE/BE with a BOM (SSRS "Unicode", Excel
"Unicode Text", PowerShell `Out-File`), and Windows-1252 as a fallback for bytes that are not
UTF-8 (reported once, naming the first such line). Delimiters: comma, semicolon (European
locales) or tab, taken from the header line, or from an Excel `sep=;` first line. Windows
PowerShell 5.1 `Export-Csv` writes `#TYPE System.Data.DataRow` before the header; it is skipped.

Rows are streamed one physical line at a time, so memory stays bounded whatever the file size;
quoting follows RFC 4180 (doubled quotes inside quoted fields, line breaks inside quotes).
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import re
from collections.abc import Iterator
from typing import BinaryIO

from banscan.errors import ErrorSink

UTF8_BOM = b"\xef\xbb\xbf"
UTF16_LE_BOM = b"\xff\xfe"
UTF16_BE_BOM = b"\xfe\xff"
MAX_LINE_BYTES = 4 * 1024 * 1024  # one physical line; longer means this is not a CSV export
# A field may be as long as a line (the csv module's default stops at 128 KiB): one limit for
# a row, whichever path reads it (`banscan.inputs.bulkcsv` relies on it).
csv.field_size_limit(max(csv.field_size_limit(), MAX_LINE_BYTES))
DELIMITERS = (",", ";", "\t")

_KEY_JUNK = re.compile(r"[\s_\-.]+")
_SEP_LINE = re.compile(r"^sep=(.)\s*$", re.IGNORECASE)


def detect_encoding(head: bytes) -> str:
    """'utf-16' when a UTF-16 BOM starts the data, else 'utf-8' (BOM, if any, is stripped later)."""
    if head.startswith((UTF16_LE_BOM, UTF16_BE_BOM)):
        return "utf-16"
    return "utf-8"


def head_text(head: bytes) -> str | None:
    """The first bytes as text for sniffing, or None when they look binary (NUL bytes)."""
    if detect_encoding(head) == "utf-16":
        le = head.startswith(UTF16_LE_BOM)
        body = head[2 : 2 + (len(head) - 2) // 2 * 2]
        text = body.decode("utf-16-le" if le else "utf-16-be", errors="replace")
    else:
        if b"\x00" in head:
            return None
        text = head.removeprefix(UTF8_BOM).decode("utf-8", errors="replace")
    return None if "\x00" in text else text


def header_key(name: str) -> str:
    """A header compared loosely: no case, spaces, underscores, hyphens or dots.

    "Computer Name", "computer_name" and "ComputerName" are one key; so are "DeviceId" and
    "DeviceID", and "ArPd-DisplayName" becomes "arpddisplayname".
    """
    return _KEY_JUNK.sub("", name.strip().strip('"').casefold())


def count_outside_quotes(line: str, char: str) -> int:
    n = 0
    quoted = False
    for c in line:
        if c == '"':
            quoted = not quoted
        elif c == char and not quoted:
            n += 1
    return n


def detect_delimiter(line: str) -> str:
    """The delimiter used most often outside quotes in a header line (comma on a tie or none)."""
    best, best_n = ",", 0
    for d in DELIMITERS:
        n = count_outside_quotes(line, d)
        if n > best_n:
            best, best_n = d, n
    return best


def _is_preamble(line: str) -> bool:
    s = line.strip()
    return s.startswith("#TYPE") or bool(_SEP_LINE.match(s)) or not s


def sniff_header(head: bytes) -> list[str] | None:
    """The header keys (see `header_key`) of a CSV whose first bytes are `head`, if it looks like one."""
    text = head_text(head)
    if text is None:
        return None
    delimiter = None
    lines = text.splitlines()
    for i, line in enumerate(lines[:10]):
        m = _SEP_LINE.match(line.strip())
        if m:
            delimiter = m.group(1)
        if _is_preamble(line):
            continue
        if line.lstrip()[:1] in ("{", "[", "<"):
            return None  # JSON or XML, not CSV
        if i == len(lines) - 1 and len(head) >= 64 * 1024:
            return None  # the header does not even fit in the head: not a CSV export
        try:
            fields = next(csv.reader([line], delimiter=delimiter or detect_delimiter(line)))
        except (csv.Error, StopIteration):
            return None
        keys = [header_key(f) for f in fields]
        return keys if any(keys) else None
    return None


class LineSource:
    """Decoded physical lines of a CSV file with their 1-based number; stops on binary data."""

    def __init__(self, stream: BinaryIO, filename: str, errors: ErrorSink, head: bytes) -> None:
        self.filename = filename
        self.errors = errors
        self.lineno = 0
        self.stopped = False  # an error ended the file early; later parse errors are its echo
        self._cp1252_reported = False
        self._bad_utf16_reported = False
        self._text: io.TextIOWrapper | None = None
        self._stream = stream
        if detect_encoding(head) == "utf-16":
            self._text = io.TextIOWrapper(stream, encoding="utf-16", errors="replace", newline="")  # type: ignore[type-var]

    def __iter__(self) -> Iterator[str]:
        return self

    def close(self) -> None:
        """Let go of the binary stream without closing it (the caller owns it)."""
        if self._text is not None:
            with contextlib.suppress(ValueError):
                self._text.detach()
            self._text = None

    def _stop(self, message: str) -> str:
        self.errors.report(self.filename, self.lineno, message)
        self.stopped = True
        raise StopIteration

    def __next__(self) -> str:
        if self.stopped:
            raise StopIteration
        if self._text is not None:
            return self._next_utf16(self._text)
        raw = self._stream.readline(MAX_LINE_BYTES + 1)
        if not raw:
            raise StopIteration
        self.lineno += 1
        if len(raw) > MAX_LINE_BYTES:
            return self._stop(f"line longer than {MAX_LINE_BYTES} bytes; rest of file skipped")
        if self.lineno == 1:
            raw = raw.removeprefix(UTF8_BOM)
        if b"\x00" in raw:
            return self._stop("binary data, not CSV; rest of file skipped")
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            if not self._cp1252_reported:
                self._cp1252_reported = True
                self.errors.report(
                    self.filename, self.lineno, "not valid UTF-8; read as Windows-1252 (cp1252) from here"
                )
            return raw.decode("cp1252", errors="replace")

    def _next_utf16(self, text: io.TextIOWrapper) -> str:
        line = text.readline(MAX_LINE_BYTES // 2 + 1)
        if not line:
            raise StopIteration
        self.lineno += 1
        if len(line) > MAX_LINE_BYTES // 2:
            return self._stop(f"line longer than {MAX_LINE_BYTES // 2} characters; rest of file skipped")
        if "\x00" in line:
            return self._stop("binary data, not CSV; rest of file skipped")
        if "\ufffd" in line and not self._bad_utf16_reported:
            self._bad_utf16_reported = True
            self.errors.report(self.filename, self.lineno, "invalid UTF-16 data, shown as U+FFFD")
        return line


class CsvTable:
    """A CSV file's header and its rows, each with the line it starts on.

    Bad rows (unbalanced quotes, wrong number of fields) are reported as `file:LINE: ...`
    and skipped; reading goes on with the next row.
    """

    def __init__(self, stream: BinaryIO, filename: str, errors: ErrorSink, head: bytes) -> None:
        self.filename = filename
        self.errors = errors
        self.lines = LineSource(stream, filename, errors, head)
        self.header: list[str] = []
        self.header_line = 0
        self.delimiter = ","
        self._reader: Iterator[list[str]] | None = None
        self._read_header()

    def _read_header(self) -> None:
        delimiter: str | None = None
        for line in self.lines:
            m = _SEP_LINE.match(line.strip())
            if m:
                delimiter = m.group(1)
            if _is_preamble(line):
                continue
            self.delimiter = delimiter or detect_delimiter(line)
            self.header_line = self.lines.lineno
            reader = csv.reader(itertools.chain([line], self.lines), delimiter=self.delimiter, strict=True)
            try:
                self.header = [f.strip() for f in next(reader)]
            except csv.Error as exc:
                if not self.lines.stopped:
                    self.errors.report(self.filename, self.header_line, f"unreadable CSV header: {exc}")
                self.lines.stopped = True
                return
            except StopIteration:
                return
            self._reader = reader
            return

    @property
    def keys(self) -> list[str]:
        return [header_key(h) for h in self.header]

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """(first line of the row, fields) for every well-formed data row."""
        reader = self._reader
        if reader is None:
            self.lines.close()
            return
        width = len(self.header)
        try:
            while True:
                start = self.lines.lineno + 1
                try:
                    row = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    if self.lines.stopped:
                        return
                    msg = str(exc)
                    if "unexpected end of data" in msg:
                        msg = "quoted field not closed before the end of the file (truncated?)"
                    self.errors.report(self.filename, start, f"bad CSV row: {msg}; row skipped")
                    continue
                if not row or all(not f.strip() for f in row):
                    continue
                if len(row) > width and not any(f.strip() for f in row[width:]):
                    row = row[:width]  # trailing empty fields
                if len(row) != width:
                    self.errors.report(
                        self.filename,
                        start,
                        f"row has {len(row)} fields, the header has {width}; row skipped",
                    )
                    continue
                yield start, row
        finally:
            self.lines.close()
