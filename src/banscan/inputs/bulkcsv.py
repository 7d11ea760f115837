"""The bulk path for large CSV exports (Intune, Configuration Manager, Jamf, Defender TVM, generic).

Reading a CSV export record by record costs microseconds a row (a decoded line, a parsed row,
a picked plan, a record, a match), while a kept row is rare. Here the file is read in chunks of
whole lines, and a chunk whose every line is provably one plain row is not parsed row by row:

* *plain rows* are either all-quoted (`"a","b",…`: the only quotes in the chunk are the two of
  each field, so no field holds a quote, a delimiter-quote pair or a line break) or unquoted
  (no quote at all, no CR but before LF), with the header's number of fields on every line,
  valid UTF-8 and no NUL. Counts over the chunk and one split prove it (`Columns.split`): the
  csv module would read each line as exactly those fields;
* such a chunk's host and name columns are slices of the split; each distinct value is checked
  once (a blank or null name or host, or a name the format's clean-up would empty, sends the
  chunk to the exact path), every row counts as a record and its host is counted;
* the candidates are the rows whose columns that evidence can come from
  (`banscan.match.fields.MATCHED_FIELDS`), side by side, pass the catalog prefilter
  (`banscan.inputs.bulk.candidates`: Hyperscan when installed); each distinct combination is
  checked once. Candidate rows are parsed and turned into records as the per-record reader does.

Any other chunk (a quoted line break, an escaped quote, minimal quoting, cp1252 text, a bad
row …) is read by the per-record reader itself (`CsvTable.rows`, the format's `plan`, `adjust`
and `record`), which pulls lines from the same chunks until it stands at a chunk's end; so
records, locations, hosts and error lines are those of the per-record path.

A thread reads (and decompresses) ahead while the chunks are checked. Worker processes were
tried and measured: on two cores the checks, bound by memory bandwidth, ran no faster.
"""

from __future__ import annotations

import contextlib
import csv
import operator
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import repeat
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from banscan.errors import ErrorSink
from banscan.inputs.base import (
    ExpandLimits,
    InputError,
    default_host_for,
    head_of,
    open_input,
)
from banscan.inputs.bulk import (
    candidates,
    line_chunks,
    make_scanner,
    read_ahead,
    text_size_guess,
)
from banscan.inputs.csvexport import CsvReader, Plan, PlanError
from banscan.inputs.csvsniff import MAX_LINE_BYTES, CsvTable, detect_encoding
from banscan.match.fields import DEVICE_EXTRAS, MATCHED_EXTRAS, MATCHED_FIELDS
from banscan.match.matcher import Matcher
from banscan.match.prefilter import Prefilter, prefilter_for
from banscan.models import TargetResult

if TYPE_CHECKING:
    from banscan.inputs.bulk import _Scanner
    from banscan.output.progress import ByteProgress

_CACHE_MAX = 200_000  # distinct values remembered per check


@dataclass
class Plain:
    """A chunk of plain rows: its line count, its hosts (distinct, in order) and the indexes of
    its candidate rows."""

    lines: int
    hosts: list[str]
    rows: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Columns:
    """How to take whole columns out of a chunk of plain rows."""

    width: int
    delimiter: bytes

    def split(self, data: bytes) -> tuple[int, list[bytes]] | None:
        """(lines, the chunk split at its delimiters: quote-delimiter-quote for all-quoted
        rows) when every line is provably `width` plain fields; else None."""
        n = data.count(b"\n")
        w = self.width
        if n == 0 or w < 2 or len(data) > MAX_LINE_BYTES or b"\0" in data:
            return None
        if data[:1] == b'"':
            sep = b'"' + self.delimiter + b'"'
            # Every line starts and ends with a quote (LF or CRLF after it); then the other
            # 2(w-1) quotes of a line, if that is all there are, are all in separators: no
            # field holds a quote, and a CR before a line's end is inside a field.
            crlf = data.endswith(b'"\r\n')
            if not crlf and not data.endswith(b'"\n'):
                return None
            ends = data.count(b'"\r\n"' if crlf else b'"\n"')
            if ends != n - 1:
                ends += data.count(b'"\n"' if crlf else b'"\r\n"')  # mixed line ends
                if ends != n - 1:
                    return None
            if data.count(b'"') != 2 * w * n:
                return None
        else:
            if b'"' in data:
                return None
            # An unquoted CR is a line break to the csv module: only before LF on every line.
            if b"\r" in data and (data.count(b"\r") != n or data.count(b"\r\n") != n):
                return None
            sep = self.delimiter
        pieces = data.split(sep)
        if len(pieces) != (w - 1) * n + 1:
            return None
        # Each line holds w fields: the pieces holding a line end are exactly every (w-1)th
        # (n of them, one LF each).
        if not all(map(operator.contains, pieces[w - 1 :: w - 1], repeat(b"\n"))):
            return None
        return n, pieces

    def column(self, pieces: list[bytes], c: int, quoted: bool) -> list[bytes]:
        """Field `c` of every row, as written between its quotes (not stripped)."""
        w = self.width
        if 0 < c < w - 1:
            return pieces[c :: w - 1]
        bounds = pieces[w - 1 :: w - 1]
        if c == 0:
            first = [pieces[0]] + [b[b.index(b"\n") + 1 :] for b in bounds[:-1]]
            return [f[1:] for f in first] if quoted else first
        lasts = [b[: b.index(b"\n")].removesuffix(b"\r") for b in bounds]
        return [f[:-1] for f in lasts] if quoted else lasts


def matched_columns(plan: Plan) -> list[int]:
    """The columns a record's evidence can come from (`banscan.match.fields.MATCHED_FIELDS`)."""
    cols = {c for f in MATCHED_FIELDS for c in plan.fields.get(f, ())}
    cols |= {c for name, c in plan.extras if name in MATCHED_EXTRAS}
    return sorted(cols)


class PlainCheck:
    """Decides whether a chunk is plain rows and what it holds (`Plain`): no matcher, no
    error lines, only the chunk."""

    def __init__(
        self,
        reader: CsvReader,
        plan: Plan,
        prefilter: Prefilter,
        header: list[str],
        delimiter: str,
        host: str,
    ) -> None:
        self.reader, self.plan, self.prefilter, self.default_host = reader, plan, prefilter, host
        self.columns = Columns(len(header), delimiter.encode("utf-8"))
        self.matched = matched_columns(plan)
        self.eligible = (
            "kind" not in plan.fields  # a kind column can refuse a row (an error line)
            and delimiter not in ('"', "\r", "\n")
            and ("host" in plan.fields or not reader.HOST_FROM_EXTRAS)
            # device columns have no prefilter tokens: such a file is read row by row
            and not DEVICE_EXTRAS & {*plan.fields, *(name for name, _ in plan.extras)}
        )
        self._names: dict[bytes, bool] = {}  # distinct name values → fit for the fast path
        self._hosts: dict[bytes, str | None] = {}  # distinct host values → host (None: not plain)
        self._tokens: dict[bytes, bool] = {}  # distinct matched-column values → a token
        self._flags: dict[bytes, bool] = {}  # matched columns of a row, side by side → a candidate
        self._scanner: _Scanner | None = None

    def check(self, data: bytes) -> Plain | None:
        """The chunk's `Plain` if every line is a plain row with a name; else None."""
        if not self.eligible:
            return None
        if not data.isascii():
            try:
                data.decode("utf-8")  # the reader reads cp1252 (with an error line) otherwise
            except UnicodeDecodeError:
                return None
        split = self.columns.split(data)
        if split is None:
            return None
        n, pieces = split
        quoted = data[:1] == b'"'
        column, fields = self.columns.column, self.plan.fields
        cols: dict[int, list[bytes]] = {}

        def col(c: int) -> list[bytes]:
            if c not in cols:
                cols[c] = column(pieces, c, quoted)
            return cols[c]

        if not all(map(self._name_ok, dict.fromkeys(col(fields["name"][0])))):
            return None
        hosts = [self.default_host]
        if "host" in fields:
            named = list(map(self._host, dict.fromkeys(col(fields["host"][0]))))
            if None in named:
                return None
            hosts = [h for h in named if h is not None]
        plain = Plain(n, hosts)
        # Rows with a token in some matched column (each distinct value looked at once), then
        # those rows' matched columns side by side confirmed as one line (`candidates`).
        rows: set[int] = set()
        for c in self.matched:
            values = col(c)
            for v in dict.fromkeys(values):
                if self._token(v):
                    rows.update(_indexes(values, v))
        for i in sorted(rows):
            key = b'","'.join(cols[c][i] for c in self.matched)
            if self._candidate(key):
                plain.rows.append(i)
        return plain

    def _token(self, value: bytes) -> bool:
        """Whether a value may hold an identifier (`Prefilter.passes`: the superset check)."""
        hit = self._tokens.get(value)
        if hit is None:
            hit = self.prefilter.passes(value)
            _remember(self._tokens, value, hit)
        return hit

    def _candidate(self, key: bytes) -> bool:
        flag = self._flags.get(key)
        if flag is None:
            if self._scanner is None:
                self._scanner = make_scanner(self.prefilter)
            line = key + b"\n"
            flag = bool(candidates(self._scanner, line, len(line)))
            _remember(self._flags, key, flag)
        return flag

    def _name_ok(self, raw: bytes) -> bool:
        ok = self._names.get(raw)
        if ok is None:
            ok = False
            with contextlib.suppress(UnicodeDecodeError):
                value = raw.decode("utf-8").strip()
                if value and value not in self.reader.NULLS:
                    values: dict[str, str | None] = {"name": value}
                    self.reader.adjust(values, [])
                    ok = bool(values.get("name"))
            _remember(self._names, raw, ok)
        return ok

    def _host(self, raw: bytes) -> str | None:
        if raw in self._hosts:
            return self._hosts[raw]
        host: str | None = None
        with contextlib.suppress(UnicodeDecodeError):
            value = raw.decode("utf-8").strip()
            if value and value not in self.reader.NULLS:
                host = value
        _remember(self._hosts, raw, host)
        return host


def _indexes(values: list[bytes], value: bytes) -> Iterator[int]:
    """Where `value` stands in `values` (found by list.index, in C: a value with a token is on
    few rows)."""
    i = -1
    with contextlib.suppress(ValueError):
        while True:
            i = values.index(value, i + 1)
            yield i


def _remember(cache: dict[bytes, Any], key: bytes, value: Any) -> None:
    if len(cache) >= _CACHE_MAX:
        cache.clear()
    cache[key] = value


# ---- reading --------------------------------------------------------------------------------


_END: Any = object()


class _Source:
    """The input's chunks of whole lines (copies: the reader's lines outlive the buffer)."""

    def __init__(self, readinto: Callable[[memoryview], int]) -> None:
        self._it = line_chunks(readinto)
        self.too_long = False  # stopped at a line over the reader's limit

    def next(self) -> bytes | None:
        item = next(self._it, _END)
        if item is _END:
            return None
        if item is None:
            self.too_long = True
            return None
        buf, size = item
        return bytes(buf[:size])


class _Feed:
    """Lines for `CsvTable` (it only calls `readline`) out of the current chunk, pulling the
    next chunk when it runs out: the bulk loop and the per-record reader take turns."""

    def __init__(self, pull: Callable[[], bytes | None], too_long: Callable[[], bool]) -> None:
        self._pull, self._too_long = pull, too_long
        self.data = b""
        self.pos = 0

    def load(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    @property
    def at_end_of_chunk(self) -> bool:
        return self.pos >= len(self.data)

    def readline(self, limit: int = -1) -> bytes:
        if self.pos >= len(self.data):
            data = self._pull()
            if data is None:
                # A line over the limit: the reader reports it as it does reading the file.
                return b"\0" * (MAX_LINE_BYTES + 1) if self._too_long() else b""
            self.load(data)
        end = self.data.index(b"\n", self.pos) + 1
        line = self.data[self.pos : end]
        self.pos = end
        return line


class _Bulk:
    """One CSV export: plain chunks by `PlainCheck`, the rest by the per-record reader, in
    file order."""

    def __init__(self, source: _Source, matcher: Matcher, errors: ErrorSink, name: str, host: str) -> None:
        self.source, self.matcher, self.errors, self.name = source, matcher, errors, name
        self.default_host = host
        self.feed = _Feed(source.next, lambda: source.too_long)
        self.records = 0

    def run(self, table: CsvTable, reader: CsvReader, plan: Plan, check: PlainCheck) -> None:
        rows = table.rows()
        feed = self.feed
        try:
            data = feed.data[feed.pos :]  # the first chunk, after the header
            while not table.lines.stopped:
                plain = check.check(data) if data else None
                if plain is not None:
                    self._apply(plain, data, table, reader, plan)
                    feed.pos = len(feed.data)
                elif not feed.at_end_of_chunk and not self._exact(rows, reader, plan):
                    break
                # At a chunk's end, which is a row's end: the next chunk.
                next_data = self.source.next()
                if next_data is None:
                    if self.source.too_long:
                        feed.load(b"")
                        self._exact(rows, reader, plan)  # the reader's message on the over-long line
                    break
                data = next_data
                feed.load(data)
        finally:
            rows.close()  # type: ignore[attr-defined]

    def _apply(self, plain: Plain, data: bytes, table: CsvTable, reader: CsvReader, plan: Plan) -> None:
        """A plain chunk: its hosts and rows count; its candidate rows become records as the
        per-record reader makes them."""
        for h in plain.hosts:
            self.matcher.hosts.setdefault(h, None)
        self.records += plain.lines
        if plain.rows:
            lines = data.split(b"\n")
            base = table.lines.lineno + 1
            for i in plain.rows:
                row = next(
                    csv.reader([lines[i].decode("utf-8") + "\n"], delimiter=table.delimiter, strict=True)
                )
                values, extras = plan.pick(row, reader.NULLS)
                reader.adjust(values, extras)
                rec = reader.record(values, extras, f"{self.name}:{base + i}", self.errors, self.default_host)
                if rec is not None:  # a plain chunk has a name on every row
                    self.matcher.add(rec)
        table.lines.lineno += plain.lines

    def _exact(self, rows: Iterator[tuple[int, list[str]]], reader: CsvReader, plan: Plan) -> bool:
        """Rows by the per-record reader until it stands at a chunk's end; False at the end."""
        for line, row in rows:
            values, extras = plan.pick(row, reader.NULLS)
            reader.adjust(values, extras)
            rec = reader.record(values, extras, f"{self.name}:{line}", self.errors, self.default_host)
            if rec is not None:
                self.records += 1
                self.matcher.add(rec)
            if self.feed.at_end_of_chunk:
                return True
        return False


def bulk_csv_scan(
    path: str,
    matcher: Matcher,
    errors: ErrorSink,
    reader: CsvReader,
    *,
    host: str | None = None,
    limits: ExpandLimits | None = None,
    progress: bool = False,
) -> TargetResult:
    """Scan one large CSV export (plain, gzip or zstd); same result as the per-record reader."""
    target = TargetResult(target=path, format=reader.name)
    start = len(errors.lines)
    try:
        stream, name = open_input(path, limits)
    except InputError as exc:
        errors.report(path, None, str(exc).removeprefix(f"{path}: "))
        return _done(target, errors, start)
    bar: ByteProgress | None = None
    try:
        head = head_of(stream)
        if detect_encoding(head) == "utf-16":
            stream.close()
            return _per_record(path, matcher, errors, reader, host, limits, target, start)
        if progress:
            from banscan.output.progress import bar_for_stream

            bar = bar_for_stream(path, stream)
        with _reading(stream, path) as readinto:
            source = _Source(readinto)
            default_host = host or default_host_for(name)
            bulk = _Bulk(source, matcher, errors, name, default_host)
            table = CsvTable(bulk.feed, name, errors, head)  # type: ignore[arg-type]
            if not table.header:
                return _done(target, errors, start)
            try:
                plan = reader.plan(table.keys)
            except PlanError as exc:
                errors.report(name, table.header_line, str(exc))
                return _done(target, errors, start)
            prefilter = prefilter_for(matcher.catalog)
            check = PlainCheck(reader, plan, prefilter, table.header, table.delimiter, default_host)
            bulk.run(table, reader, plan, check)
            target.records = bulk.records
    except InputError as exc:
        errors.report(path, None, str(exc).removeprefix(f"{path}: "))
    except (OSError, EOFError) as exc:
        errors.report(path, None, f"read failed: {exc}")
    finally:
        if bar is not None:
            bar.stop()
        stream.close()
    return _done(target, errors, start)


@contextlib.contextmanager
def _reading(stream: BinaryIO, path: str) -> Iterator[Callable[[memoryview], int]]:
    """The stream's `readinto`; for gzip and zstd one fed by a thread that decompresses ahead."""
    if text_size_guess(path) == os.path.getsize(path):  # not compressed: reading is cheap
        yield cast(Any, stream).readinto
        return
    with read_ahead(stream) as readinto:
        yield readinto


def _done(target: TargetResult, errors: ErrorSink, start: int) -> TargetResult:
    target.errors.extend(errors.lines[start:])
    return target


def _per_record(
    path: str,
    matcher: Matcher,
    errors: ErrorSink,
    reader: CsvReader,
    host: str | None,
    limits: ExpandLimits | None,
    target: TargetResult,
    start: int,
) -> TargetResult:
    """UTF-16 exports (rare at this size) are read by the per-record path."""
    from banscan.inputs.registry import read_target

    del errors.lines[start:]
    sub, records = read_target(path, errors, host=host, limits=limits, input_format=reader.name, forced=False)
    matcher.add_all(records)
    target.records = sub.records
    target.errors = sub.errors
    return target
