"""osquery results: `osqueryi --json` arrays and osqueryd result logs (NDJSON).

Result logs are differential: a row logged as "removed" takes back an earlier "added" one,
so rows are netted per (host, table, row) with the last action winning, and records are
yielded at the end of the file. Only a 16-byte digest per live row and its record are kept,
never the lines. `records_from_lines` takes numbered lines so that a bulk reader can pass a
prefiltered selection of a file's lines and get the same records for those lines: netting
by whole-row identity only ever involves lines that carry the same row.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any, BinaryIO, ClassVar, cast

from banscan.errors import ErrorSink
from banscan.inputs.base import InputReader, head_of
from banscan.inputs.jsondepth import TooDeep, loads_line, raw_decode, skip_value
from banscan.inputs.osquery_tables import infer_table, row_record
from banscan.models import InventoryRecord, Source

COLLECTOR = "osquery"
MAX_LINE = 16 * 1024 * 1024
MAX_ARRAY_BYTES = 256 * 1024 * 1024
_RESULT_KEYS = (b'"columns"', b'"diffResults"', b'"snapshot"')
_HOST_NAMES = frozenset({"hostIdentifier", "hostname"})
_ENVELOPE_KEYS = frozenset(
    {"name", "calendarTime", "unixTime", "epoch", "counter", "numerics", "action", "decorations"}
    | _HOST_NAMES
)
_ENVELOPE_BYTES = tuple(f'"{k}"'.encode() for k in sorted(_ENVELOPE_KEYS))
_SNAPSHOT_START = re.compile(rb'^\s*\{\s*"(?:snapshot"\s*:\s*\[|diffResults"\s*:\s*\{)')
_SNIFF_LINES = 20


def _json_loads() -> Callable[[str], Any]:
    """orjson when it happens to be installed (several times faster per line), else json."""
    try:
        return cast(Callable[[str], Any], importlib.import_module("orjson").loads)
    except ImportError:
        return json.loads


_loads = _json_loads()


def host_of(obj: dict[str, Any], default: str) -> str:
    """The host of a result line: decorations.hostname > hostIdentifier > hostname > default.

    A `hostname` decorator is what operators add to get a readable name, while hostIdentifier
    is often a UUID (`--host_identifier=uuid`, Fleet's enrolment default). A top-level
    `hostname` is the pre-2.x name of hostIdentifier in old logs (or a top-level decoration),
    so it comes after hostIdentifier; a file with neither is named after itself.
    """
    deco = obj.get("decorations")
    if isinstance(deco, dict) and isinstance(deco.get("hostname"), str) and deco["hostname"]:
        return str(deco["hostname"])
    for key in ("hostIdentifier", "hostname"):
        value = obj.get(key)
        if isinstance(value, str) and value:
            return value
    return default


def _strings(row: dict[str, Any]) -> dict[str, str]:
    """Column values as strings (`--logger_numerics` writes numbers); nested values dropped."""
    for v in row.values():
        if type(v) is not str:
            break
    else:
        return row  # the usual case: nothing to convert
    out: dict[str, str] = {}
    for k, v in row.items():
        if isinstance(v, str):
            out[k] = v
        elif isinstance(v, bool):
            out[k] = "1" if v else "0"
        elif isinstance(v, int | float):
            out[k] = str(v)
    return out


class _Tables:
    """Table inference cached per column set, and the one summary line for unknown tables."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, frozenset[str]], str | None] = {}
        self._unknown: dict[str, int] = {}
        self._first: str | int | None = None

    def table(self, row: dict[str, str], query: str, place: str | int) -> str | None:
        cols = frozenset(row)
        key = (query, cols)
        if key not in self._cache:
            self._cache[key] = infer_table(cols, query)
        table = self._cache[key]
        if table is None:
            label = (
                (f"{query} " if query else "")
                + "{"
                + ", ".join(sorted(cols)[:8])
                + ("…}" if len(cols) > 8 else "}")
            )
            self._unknown[label] = self._unknown.get(label, 0) + 1
            if self._first is None:
                self._first = place
        return table

    def report(self, errors: ErrorSink, filename: str) -> None:
        if not self._unknown:
            return
        parts = [f"{label} ({n} row{'s' if n > 1 else ''})" for label, n in list(self._unknown.items())[:5]]
        if len(self._unknown) > 5:
            parts.append(f"and {len(self._unknown) - 5} more")
        total = sum(self._unknown.values())
        errors.report(
            filename, self._first, f"unknown osquery table/columns {'; '.join(parts)}; {total} rows skipped"
        )


def _row_key(host: str, table: str, row: dict[str, str]) -> bytes:
    text = repr((host, table, sorted(row.items())))
    return hashlib.blake2b(text.encode("utf-8", "replace"), digest_size=16).digest()


def _changes(obj: dict[str, Any]) -> tuple[list[tuple[bool, Any]], str | None]:
    """(added?, row) pairs of one result line, or why the line is not a result."""
    if isinstance(obj.get("columns"), dict):
        return [(obj.get("action") != "removed", obj["columns"])], None
    diff = obj.get("diffResults")
    if isinstance(diff, dict):
        removed = diff.get("removed") or []
        added = diff.get("added") or []
        if isinstance(removed, list) and isinstance(added, list):
            return [(False, r) for r in removed] + [(True, r) for r in added], None
        return [], "diffResults added/removed are not lists; skipped"
    if isinstance(obj.get("snapshot"), list):
        return [(True, r) for r in obj["snapshot"]], None
    return [], "not an osquery result (no columns, diffResults or snapshot); skipped"


def records_from_lines(
    lines: Iterable[tuple[int, bytes]], filename: str, errors: ErrorSink, default_host: str
) -> Iterator[InventoryRecord]:
    """Records of numbered result-log lines (any subset of a file, in file order), netted."""
    live: dict[bytes, InventoryRecord] = {}
    tables = _Tables()
    for no, raw in lines:
        line = raw.strip()
        if not line:
            continue
        problem = None
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            text = line.decode("utf-8", "replace")
            problem = "not valid UTF-8; undecodable bytes replaced"
        try:
            obj = _loads(text)  # nothing checked first: the lines that parse pay nothing
        except RecursionError:
            errors.report(filename, no, f"not readable: {TooDeep()}; skipped")
            continue
        except ValueError as exc:
            first = (str(exc).splitlines() or [type(exc).__name__])[0]
            errors.report(filename, no, f"not valid JSON ({first[:120]}); skipped")
            continue
        if not isinstance(obj, dict):
            errors.report(filename, no, f"a JSON {type(obj).__name__} is not an osquery result; skipped")
            continue
        changes, why = _changes(obj)
        problem = why or problem
        host = host_of(obj, default_host)
        query = name if isinstance(name := obj.get("name"), str) else ""
        bad_rows = 0
        for added, row in changes:
            if not isinstance(row, dict):
                bad_rows += 1
                continue
            cols = _strings(row)
            table = tables.table(cols, query, no)
            if table is None:
                continue
            key = _row_key(host, table, cols)
            if not added:
                live.pop(key, None)
            elif key not in live:
                rec = row_record(table, cols, host, Source(COLLECTOR, f"{filename}:{no}"))
                if rec is not None:
                    live[key] = rec
        if bad_rows:
            problem = f"{bad_rows} row(s) are not JSON objects; skipped"
        if problem:
            errors.report(filename, no, problem)
    tables.report(errors, filename)
    yield from live.values()


def numbered_lines(stream: BinaryIO, filename: str, errors: ErrorSink) -> Iterator[tuple[int, bytes]]:
    """(line number, bytes) of each line; a line over MAX_LINE is reported and skipped unread."""
    no = 0
    while True:
        chunk = stream.readline(MAX_LINE)
        if not chunk:
            return
        no += 1
        if len(chunk) < MAX_LINE or chunk.endswith(b"\n"):
            yield no, chunk
            continue
        while chunk and not chunk.endswith(b"\n"):
            chunk = stream.readline(MAX_LINE)
        errors.report(filename, no, f"line longer than {MAX_LINE} bytes; skipped")


def _decode_array(data: bytes) -> tuple[str, bool]:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # osqueryi redirected by Windows PowerShell
        text = data.decode("utf-16", "replace")
    else:
        text = data.removeprefix(b"\xef\xbb\xbf").decode("utf-8", "replace")
    return text, "\ufffd" in text


def records_from_array(
    data: bytes, filename: str, errors: ErrorSink, default_host: str
) -> Iterator[InventoryRecord]:
    """Rows of an `osqueryi --json` array, one by one, so a truncated file keeps its whole rows."""
    text, replaced = _decode_array(data)
    if replaced:
        errors.report(filename, None, "not valid UTF-8 (or UTF-16); undecodable bytes replaced")
    decoder = json.JSONDecoder()
    tables = _Tables()
    pos = text.index("[") + 1
    n = 0
    while True:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(text) or text[pos] == "]":
            if pos >= len(text):
                errors.report(filename, f"row {n + 1}", "array not closed (truncated file?)")
            break
        n += 1
        place = f"row {n}"
        try:
            row, pos = raw_decode(decoder, text, pos)
        except TooDeep as exc:
            end = skip_value(text, pos)
            if end is None:
                errors.report(filename, place, f"not readable: {exc}; rest of file skipped")
                break
            errors.report(filename, place, f"not readable: {exc}; skipped")
            pos = end
            continue
        except ValueError as exc:
            errors.report(filename, place, f"not valid JSON ({exc}); rest of file skipped")
            break
        if not isinstance(row, dict):
            errors.report(filename, place, f"a JSON {type(row).__name__} is not a result row; skipped")
            continue
        cols = _strings(row)
        table = tables.table(cols, "", place)
        if table is not None:
            rec = row_record(table, cols, default_host, Source(COLLECTOR, f"{filename}:{place}"))
            if rec is not None:
                yield rec
    tables.report(errors, filename)


def _first_char(head: bytes) -> bytes:
    text = head.removeprefix(b"\xef\xbb\xbf")
    if text.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = text[2:].replace(b"\x00", b"")
    return text.lstrip()[:1]


class OsqueryReader:
    """osqueryd result logs (event, batch and snapshot lines) and `osqueryi --json` arrays."""

    name: ClassVar[str] = "osquery"

    def sniff(self, head: bytes, filename: str) -> int:
        if _first_char(head) == b"[":
            return _sniff_array(head)
        return _sniff_lines(head)

    def read(
        self, stream: BinaryIO, filename: str, errors: ErrorSink, default_host: str
    ) -> Iterator[InventoryRecord]:
        if _first_char(head_of(stream, 4096)) == b"[":
            data = stream.read(MAX_ARRAY_BYTES + 1)
            if len(data) > MAX_ARRAY_BYTES:
                errors.report(filename, None, f"JSON array larger than {MAX_ARRAY_BYTES} bytes; skipped")
                return
            yield from records_from_array(data, filename, errors, default_host)
            return
        yield from records_from_lines(
            numbered_lines(stream, filename, errors), filename, errors, default_host
        )


def _envelope_score(obj: dict[str, Any]) -> int:
    """How surely one parsed line is an osquery result line (0 when it carries no rows)."""
    if not (
        isinstance(obj.get("columns"), dict)
        or isinstance(obj.get("diffResults"), dict)
        or isinstance(obj.get("snapshot"), list)
    ):
        return 0
    keys = _ENVELOPE_KEYS.intersection(obj)
    if "calendarTime" in keys and not _HOST_NAMES.isdisjoint(keys):
        return 95
    if len(keys) >= 2:
        return 90  # e.g. name + hostIdentifier, name + unixTime: a shipper dropped calendarTime
    return 70 if keys else 0


def _sniff_lines(head: bytes) -> int:
    """A result log: its first JSON line is a result (rows and some of the envelope keys).

    osqueryd always writes name, hostIdentifier, calendarTime, unixTime, epoch, counter, numerics
    (and action for event lines), but log shippers drop or rename some of them, so any two of them
    with the rows are enough. A first line too long to be whole in `head` is judged by its keys
    (the usual case for a big snapshot line).
    """
    text = head.removeprefix(b"\xef\xbb\xbf")
    best = 0
    objects = 0
    for raw in text.split(b"\n")[:_SNIFF_LINES]:
        line = raw.strip()
        if not line.startswith(b"{"):
            continue  # blank, or a stray line a reader reports and skips
        try:
            obj = loads_line(_loads, line.decode("utf-8", "replace"))
        except ValueError:
            continue  # broken, too deep, or cut off by the end of `head`
        if isinstance(obj, dict):
            objects += 1
            best = max(best, _envelope_score(obj))
    if objects:
        return best
    if not any(k in text for k in _RESULT_KEYS):
        return 0
    if sum(1 for k in _ENVELOPE_BYTES if k in text) >= 2:
        return 85
    if _SNAPSHOT_START.match(text):
        return 80  # osqueryd writes "snapshot" first; the rest of the envelope follows the rows
    return 0


def _sniff_array(head: bytes) -> int:
    """75 when the first row's columns name a known table, 25 for any array of flat objects."""
    text, _ = _decode_array(head)
    start = text.find("{")
    if start < 0 or text[:start].strip() != "[":
        return 0
    try:
        row, _ = raw_decode(json.JSONDecoder(), text, start)
    except ValueError:
        return 25 if '":"' in text.replace(" ", "") else 0
    if not isinstance(row, dict) or any(isinstance(v, dict | list) for v in row.values()):
        return 0
    return 75 if infer_table(frozenset(row)) else 25


READERS: list[InputReader] = [OsqueryReader()]
