"""The bulk path for huge line-oriented inputs (osquery result logs of millions of rows).

DuckDB reads the file (plain or gzip) as lines and keeps only the lines that pass the catalog
prefilter (`banscan.match.prefilter`), with their line numbers; a second, cheaper pass counts
the rows and collects every host named in the file (two light passes measured faster than one
pass doing both: numbering lines keeps a DuckDB pipeline on one thread). Only the kept lines
go through the ordinary per-record reader, with their original numbers, so records, evidence
locations and error lines are those of the per-record path, and hosts without a kept line
still count.

Lines DuckDB cannot judge alone (non-ASCII text or `\\u` escapes, which match catalog words
only once transliterated) and lines without a recognisable host are kept too and checked
exactly in Python. A file DuckDB cannot read as lines (not UTF-8, a line over the size limit)
is read by the per-record path instead.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

from banscan.collect.base import ErrorSink
from banscan.inputs.base import default_host_for
from banscan.match.matcher import Matcher
from banscan.match.prefilter import Prefilter, prefilter_for
from banscan.models import TargetResult

BULK_MIN_BYTES = 64 * 1024 * 1024  # smaller inputs are read record by record
PROGRESS_MIN_BYTES = 50 * 1024 * 1024
MEMORY_LIMIT = "512MB"
THREADS = 2
MAX_LINE_BYTES = 16 * 1024 * 1024  # as osquery's reader
BULK_READERS = frozenset({"osquery"})
FETCH_ROWS = 2048

_GZIP = b"\x1f\x8b"
# Hosts as `banscan.inputs.osquery.host_of` names them: decorations.hostname, then
# hostIdentifier. Lines with neither are kept and named by the reader itself.
# osqueryd writes compact JSON with decorations before columns; a line written otherwise gets
# no host here and is kept for the reader to name.
_HAS_HOST_ID = re.compile(r'"hostIdentifier":"[^"]')
_HOST_SQL = """
    CASE WHEN instr(line, '"decorations":{') > 0
              AND instr(line, '"hostname":"') > instr(line, '"decorations":{')
              AND instr(line, '"hostname":""') = 0
              AND (instr(line, '"columns":') = 0 OR instr(line, '"hostname":"') < instr(line, '"columns":'))
         THEN regexp_extract(line, '"hostname":"([^"]*)"', 1)
         ELSE regexp_extract(line, '"hostIdentifier":"([^"]*)"', 1) END
"""


def should_use_bulk(path: str, reader_name: str) -> bool:
    """Whether `path`, detected as `reader_name`, is big and line-oriented enough for bulk_scan."""
    if path == "-" or reader_name not in BULK_READERS:
        return False
    try:
        if os.path.getsize(path) <= BULK_MIN_BYTES:
            return False
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError:
        return False
    if head.startswith(_GZIP):
        import gzip

        try:
            with gzip.open(path, "rb") as gz:
                head = gz.read(4096)
        except (OSError, EOFError):
            return False
    elif head.startswith(b"\x28\xb5\x2f\xfd"):
        return False  # zstd: DuckDB's CSV reader does not take it; the per-record path does
    body = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if not body.startswith(b"{"):
        return False  # an `osqueryi --json` array (or UTF-16): one document, not lines
    try:
        import duckdb  # noqa: F401
    except ImportError:
        return False
    return True


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _source(path: str, gz: bool) -> str:
    # One VARCHAR column per line: a delimiter, quote and escape that never split a line.
    return (
        f"read_csv({_sql_str(path)}, columns={{'line': 'VARCHAR'}}, header=false, auto_detect=false,"
        f" delim=E'\\x01\\x02\\x03\\x04', quote='', escape='', new_line='\\n', strict_mode=false,"
        f" max_line_size={MAX_LINE_BYTES}, buffer_size={2 * MAX_LINE_BYTES},"
        f" compression={'gzip' if gz else 'none'})"
    )


def kept_query(path: str, prefilter: Prefilter, gz: bool) -> str:
    """Pass 1: (line number, line) of every line that may matter, in file order.

    Lines without a hostIdentifier (or with an empty one) are kept too: the reader names them.
    """
    keep = (
        f"{prefilter.sql_predicate('line')} OR {prefilter.sql_may_fold('line')}"
        """ OR NOT contains(line, '"hostIdentifier":"') OR contains(line, '"hostIdentifier":""')"""
    )
    return f"""
        SELECT ln, line FROM (SELECT row_number() OVER () AS ln, line FROM {_source(path, gz)})
        WHERE line IS NOT NULL AND ({keep})
    """


def hosts_query(path: str, gz: bool) -> str:
    """Pass 2: every host the file names, with its row count."""
    return f"SELECT {_HOST_SQL} AS host, count(*) FROM {_source(path, gz)} GROUP BY ALL"


def _json_string(raw: str) -> str:
    if "\\" not in raw:
        return raw
    try:
        value = json.loads(f'"{raw}"')
    except ValueError:
        return raw
    return value if isinstance(value, str) else raw


class _Progress:
    """A Rich progress bar (bytes, rows/s) on stderr, fed from DuckDB's query progress."""

    def __init__(self, path: str, size: int) -> None:
        self.size = size
        self.enabled = size > PROGRESS_MIN_BYTES and sys.stderr.isatty()
        self.path = path
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pass = 0  # two passes over the file: each is half of the bar

    def start(self, con: Any) -> None:
        if not self.enabled:
            return
        self._thread = threading.Thread(target=self._run, args=(con,), daemon=True)
        self._thread.start()

    def _run(self, con: Any) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        ) as bar:
            task = bar.add_task(os.path.basename(self.path), total=self.size, rate="")
            started = time.monotonic()
            while not self._stop.wait(0.25):
                try:
                    pct = float(con.query_progress())
                except Exception:  # noqa: BLE001 - progress is best effort
                    continue
                if pct < 0:
                    continue
                done = (self._pass + min(pct, 100.0) / 100.0) / 2 * self.size
                secs = max(time.monotonic() - started, 1e-6)
                bar.update(task, completed=done, rate=f"{2 * done / secs / 1e6:,.0f} MB/s read")

    def next_pass(self) -> None:
        self._pass = 1

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)


def _fetch(con: Any, query: str) -> Iterator[tuple[Any, ...]]:
    cur = con.execute(query)
    while True:
        batch = cur.fetchmany(FETCH_ROWS)
        if not batch:
            return
        yield from batch


def _kept(con: Any, query: str, prefilter: Prefilter) -> list[tuple[int, bytes]]:
    kept: list[tuple[int, bytes]] = []
    for ln, line in _fetch(con, query):
        if prefilter.passes(line) or not _HAS_HOST_ID.search(line):
            kept.append((int(ln), line.encode("utf-8")))
    kept.sort(key=lambda x: x[0])
    return kept


def bulk_scan(
    path: str,
    matcher: Matcher,
    errors: ErrorSink,
    reader_name: str,
    *,
    host: str | None = None,
) -> TargetResult:
    """Scan one big line-oriented input: DuckDB prefilter, then the per-record reader on kept lines.

    `target.records` counts the file's rows (lines). Falls back to the per-record path for a
    file DuckDB cannot read as UTF-8 lines.
    """
    import duckdb

    from banscan.inputs.osquery import records_from_lines

    if reader_name not in BULK_READERS:
        raise ValueError(f"no bulk path for input format {reader_name!r}")
    target = TargetResult(target=path, format=reader_name)
    start = len(errors.lines)
    prefilter = prefilter_for(matcher.catalog)
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as fh:
            gz = fh.read(2) == _GZIP
    except OSError as exc:
        errors.report(path, None, exc.strerror or str(exc))
        target.errors.extend(errors.lines[start:])
        return target

    con = duckdb.connect(":memory:")
    con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
    con.execute(f"SET threads = {THREADS}")
    con.execute("SET enable_progress_bar = true")  # tracked for query_progress(), never printed
    con.execute("SET enable_progress_bar_print = false")
    progress = _Progress(path, size)
    hosts: list[str] = []
    rows = 0
    progress.start(con)
    try:
        kept = _kept(con, kept_query(path, prefilter, gz), prefilter)
        progress.next_pass()
        for name, n in _fetch(con, hosts_query(path, gz)):
            rows += int(n)
            if name:
                hosts.append(_json_string(name))
    except duckdb.Error:
        progress.stop()
        con.close()
        return _per_record(path, matcher, errors, reader_name, host, target, start)
    finally:
        progress.stop()
    con.close()

    default_host = host or default_host_for(path)
    matcher.add_all(records_from_lines(kept, path, errors, default_host))
    for name in sorted(hosts):
        matcher.hosts.setdefault(name, None)
    target.records = rows
    target.errors.extend(errors.lines[start:])
    return target


def _per_record(
    path: str,
    matcher: Matcher,
    errors: ErrorSink,
    reader_name: str,
    host: str | None,
    target: TargetResult,
    start: int,
) -> TargetResult:
    """The ordinary path, for a file the bulk reader cannot take (invalid UTF-8, huge lines)."""
    from banscan.inputs.registry import read_target

    del errors.lines[start:]
    sub, records = read_target(path, errors, input_format=reader_name, host=host)
    matcher.add_all(records)
    target.records = sub.records
    target.errors = sub.errors
    return target
