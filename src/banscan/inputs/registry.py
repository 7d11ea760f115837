"""All input readers, and reading one target (a file, '-', or a directory of inputs).

Formats are auto-detected from the first bytes; `--input-format` forces one. A JSON object whose
first bytes say nothing (an SPDX document with `spdxVersion` after 5,000 packages, a CycloneDX BOM
with `bomFormat` last) is detected from its top-level keys: `top_level_keys` reads the document
with ijson's streaming parser, a chunk at a time, and stops at the first key that settles the
format (or after SCAN_MAX_BYTES, or past MAX_DEPTH levels of nesting); the input is then read from
its start again (seeking back, or from a spooled copy when it cannot seek, e.g. zstd or stdin).
A target that cannot be read at all gives one error line and the run goes on with the next target;
so does a reader that fails unexpectedly (its records so far are kept; BANSCAN_DEBUG=1 shows the
traceback), and a format forced with `--input-format` (or `--columns`) that reads no record from
a non-empty input.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import ijson

from banscan.errors import ErrorSink, debug_enabled, unexpected
from banscan.inputs.base import (
    SNIFF_BYTES,
    ExpandLimits,
    InputError,
    InputReader,
    default_host_for,
    head_of,
    open_input,
)
from banscan.inputs.jsondepth import MAX_DEPTH
from banscan.models import InventoryRecord, TargetResult

MIN_SCORE = 20
# How far into a JSON object to look for its top-level keys: the SBOM readers skip larger inputs.
SCAN_MAX_BYTES = 512 * 1024 * 1024
SCAN_CHUNK = 1024 * 1024
SPOOL_MEMORY = 16 * 1024 * 1024  # of a stream that cannot seek back; more goes to a temporary file
# Top-level keys that can settle a document's format; detection is re-run as each one is found.
DECISIVE_KEYS = frozenset({"spdxVersion", "bomFormat", "@context", "$schema", "specVersion", "@graph"})


def all_readers() -> list[InputReader]:
    """Every input reader, one module per format family. The list is explicit so the type
    checker holds each module's READERS to the InputReader interface; adding a format is adding
    a module and a name here (tests check the names are unique)."""
    from banscan.inputs import csvexport, cyclonedx, fleet, mdm, mobile, network, osquery, regfile, spdx

    families = (regfile, osquery, fleet, csvexport, mdm, cyclonedx, spdx, mobile, network)
    return [reader for module in families for reader in module.READERS]


def reader_named(name: str) -> InputReader:
    for r in all_readers():
        if r.name == name:
            return r
    known = ", ".join(sorted(r.name for r in all_readers()))
    raise InputError(f"unknown input format {name!r}; known: {known}")


def detect(head: bytes, filename: str) -> InputReader | None:
    """The reader most sure of this input, or None if none is sure enough."""
    best: tuple[int, InputReader] | None = None
    for r in all_readers():
        try:
            score = r.sniff(head, filename)
        except Exception:  # a sniffer that fails on odd bytes is simply not sure
            if debug_enabled():
                raise
            continue
        if score >= MIN_SCORE and (best is None or score > best[0]):
            best = (score, r)
    return best[1] if best else None


# --- top-level keys of a JSON object, read as a stream ------------------------------------------

_VALUE_MAX = 1000  # longer top-level strings are kept as ""
_BOM = b"\xef\xbb\xbf"


class _ChunkReader(io.RawIOBase):
    """A file over an iterable of byte chunks (for ijson), without a leading UTF-8 BOM."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._left = b""
        self._first = True

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._left:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            if self._first:
                self._left = chunk  # the BOM may be split over the first chunks: gather 3 bytes
                while len(self._left) < len(_BOM) and _BOM.startswith(self._left):
                    more = next(self._chunks, None)
                    if more is None:
                        break
                    self._left += more
                self._left = self._left.removeprefix(_BOM)
                self._first = False
            else:
                self._left = chunk
        n = min(len(buffer), len(self._left))
        buffer[:n] = self._left[:n]
        self._left = self._left[n:]
        return n


def top_level_keys(
    chunks: Iterable[bytes], found: Callable[[dict[str, Any]], bool] | None = None
) -> dict[str, Any]:
    """The top-level keys of the JSON object in `chunks`, read by ijson's streaming parser:
    scalars and short strings with their values, nested arrays and objects as [] and {}. Stops
    when `found` says the keys so far are enough (asked each time a DECISIVE_KEYS key is read),
    at the end of the object, where the input stops being JSON, or past MAX_DEPTH levels of
    nesting (the reader then says why). Events are read without their paths (`basic_parse`): a
    path per event costs as much as the nesting is deep."""
    keys: dict[str, Any] = {}
    key: str | None = None
    level = 0
    try:
        for event, value in ijson.basic_parse(_ChunkReader(chunks), use_float=True):
            if event in ("end_map", "end_array"):
                level -= 1
                continue
            opens = event in ("start_map", "start_array")
            if level == 0:
                if event != "start_map":
                    break  # a JSON array or a scalar, not an object
                level = 1
                continue
            if opens:
                level += 1
                if level > MAX_DEPTH:
                    break
            if level - opens != 1:
                continue  # inside a nested value
            if event == "map_key":
                key = value
                continue
            if key is None:
                continue
            if event == "start_array":
                keys.setdefault(key, [])
            elif event == "start_map":
                keys.setdefault(key, {})
            else:
                keys.setdefault(key, "" if isinstance(value, str) and len(value) > _VALUE_MAX else value)
            name, key = key, None
            if found is not None and name in DECISIVE_KEYS and found(keys):
                break
    except (ijson.JSONError, UnicodeDecodeError):
        pass  # truncated or not JSON: what was read so far
    return keys


def _is_json_object(head: bytes) -> bool:
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    return text[:1] == b"{"


class _Chain(io.RawIOBase):
    """What was spooled while scanning, then the rest of the stream it came from."""

    def __init__(self, first: BinaryIO, rest: BinaryIO) -> None:
        self._parts = [first, rest]

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer)
        while self._parts:
            data = self._parts[0].read(len(view))
            if data:
                view[: len(data)] = data
                return len(data)
            self._parts.pop(0).close()
        return 0

    def close(self) -> None:
        for part in self._parts:
            part.close()
        self._parts = []
        super().close()


def detect_in_stream(stream: BinaryIO, head: bytes, name: str) -> tuple[InputReader | None, BinaryIO]:
    """The reader for an input (from its first bytes, else a JSON object's top-level keys) and
    the stream to read it from, positioned at its start again."""
    reader = detect(head, name)
    if reader is not None or not _is_json_object(head):
        return reader, stream
    best: list[InputReader] = []

    def found(keys: dict[str, Any]) -> bool:
        got = detect(json.dumps(keys).encode(), name)
        if got is not None:
            best[:] = [got]
        return got is not None

    if stream.seekable():
        start = stream.tell()
        top_level_keys(_chunks(stream), found)
        stream.seek(start)
        return (best[0] if best else None), stream
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY)  # noqa: SIM115 - closed by _Chain

    def spooled() -> Iterator[bytes]:
        for chunk in _chunks(stream):
            spool.write(chunk)
            yield chunk

    top_level_keys(spooled(), found)
    spool.seek(0)
    chained = io.BufferedReader(_Chain(spool, stream), buffer_size=SNIFF_BYTES)  # type: ignore[arg-type]
    return (best[0] if best else None), chained  # type: ignore[return-value]


def _chunks(stream: BinaryIO) -> Iterator[bytes]:
    left = SCAN_MAX_BYTES
    while left > 0:
        chunk = stream.read(min(SCAN_CHUNK, left))
        if not chunk:
            return
        left -= len(chunk)
        yield chunk


def read_target(
    path: str,
    errors: ErrorSink,
    *,
    input_format: str | None = None,
    host: str | None = None,
    columns: dict[str, str] | None = None,
    limits: ExpandLimits | None = None,
    forced: bool | None = None,
    on_open: Callable[[BinaryIO], None] | None = None,
) -> tuple[TargetResult, Iterator[InventoryRecord]]:
    """Open one input and return its TargetResult (filled as records are consumed) and records.

    `forced` (default: when `input_format` or `columns` is given) says the user chose the format,
    so an input it reads no record from is an error rather than an empty inventory. `on_open`
    is given the opened stream (a progress bar follows it with `base.bytes_consumed`)."""
    target = TargetResult(target=path, format=input_format or "unknown")
    if forced is None:
        forced = bool(input_format or columns)

    def records() -> Iterator[InventoryRecord]:
        start = len(errors.lines)
        try:
            stream, name = open_input(path, limits)
        except InputError as exc:
            errors.report(path, None, str(exc).removeprefix(f"{path}: "))
            target.errors.extend(errors.lines[start:])
            return
        if on_open is not None:
            on_open(stream)
        try:
            head = head_of(stream)
            if not head:
                errors.report(name, None, "empty input (0 bytes)")
                return
            if columns:
                from banscan.inputs.csvexport import GenericCsvReader

                reader: InputReader | None = GenericCsvReader(columns)
            else:
                reader = reader_named(input_format) if input_format else None
                if reader is None and not input_format:
                    reader, stream = detect_in_stream(stream, head, name)
            if reader is None:
                errors.report(name, None, "unrecognised input format (use --input-format to name it)")
                return
            target.format = reader.name
            for rec in reader.read(stream, name, errors, host or default_host_for(name)):
                target.records += 1
                yield rec
            if forced and not target.records and len(errors.lines) == start:
                errors.report(
                    name,
                    None,
                    f"read as {reader.name} (as asked), but no record was found in it; "
                    "is it that format? (without --input-format the format is detected)",
                )
        except InputError as exc:
            errors.report(path, None, str(exc).removeprefix(f"{path}: "))
        except (OSError, EOFError) as exc:
            errors.report(path, None, f"read failed: {exc}")
        except Exception as exc:  # noqa: BLE001 - one input that breaks a reader must not end the run
            if debug_enabled():
                import traceback

                traceback.print_exc()
            errors.report(path, None, unexpected(exc))
        finally:
            target.errors.extend(errors.lines[start:])
            if path != "-":
                stream.close()

    return target, records()


def expand(path: Path) -> list[Path]:
    """Files of a directory of inputs (sorted, not following links), or the path itself."""
    if not path.is_dir():
        return [path]
    out: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(path, followlinks=False):
        dirnames.sort()
        for f in sorted(filenames):
            p = Path(dirpath) / f
            if p.is_file() and not p.is_symlink():
                out.append(p)
    return out
