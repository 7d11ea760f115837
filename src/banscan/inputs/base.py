"""The input-reader interface and the opening of inputs (files, compressed files, stdin).

A reader turns one input stream into InventoryRecords. Like collectors, readers never
decide what is banned, and report bad input as one line naming the file and the line or
record, then go on with the next record.
"""

from __future__ import annotations

import gzip
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, ClassVar, Protocol

from banscan.errors import ErrorSink
from banscan.models import InventoryRecord

SNIFF_BYTES = 64 * 1024


class InputReader(Protocol):
    """One inventory format."""

    name: ClassVar[str]  # format name shown in targets[].format and accepted by --input-format

    def sniff(self, head: bytes, filename: str) -> int:
        """How sure (0–100) this reader is that `head` (the first bytes) is its format."""
        ...

    def read(
        self, stream: BinaryIO, filename: str, errors: ErrorSink, default_host: str
    ) -> Iterator[InventoryRecord]:
        """Yield records; report each bad line or record through `errors` and continue."""
        ...


class InputError(Exception):
    """An input that cannot be read at all (its one-line message names it)."""


def open_input(path: str) -> tuple[BinaryIO, str]:
    """Open a file (or '-' for stdin), transparently decompressing .gz and .zst."""
    if path == "-":
        raw: BinaryIO = sys.stdin.buffer
        name = "<stdin>"
    else:
        try:
            raw = open(path, "rb")  # noqa: SIM115 - returned to the caller, who closes it
        except OSError as exc:
            raise InputError(f"{path}: {exc.strerror or exc}") from None
        name = path
    peek = _peekable(raw)
    magic = peek.peek(4)[:4]
    if magic[:2] == b"\x1f\x8b":
        return _peekable(gzip.GzipFile(fileobj=peek, mode="rb")), name  # type: ignore[arg-type]
    if magic == b"\x28\xb5\x2f\xfd":
        try:
            import zstandard
        except ImportError:
            raise InputError(f"{name}: zstd-compressed input needs the 'zstandard' package") from None
        return _peekable(zstandard.ZstdDecompressor().stream_reader(peek, read_across_frames=True)), name
    return peek, name


def _peekable(raw: BinaryIO | io.RawIOBase) -> io.BufferedReader:
    if isinstance(raw, io.BufferedReader):
        return raw
    return io.BufferedReader(raw, buffer_size=SNIFF_BYTES)  # type: ignore[arg-type]


def head_of(stream: BinaryIO, size: int = SNIFF_BYTES) -> bytes:
    """The first bytes of a stream without consuming them (stream must support peek)."""
    peek = getattr(stream, "peek", None)
    if peek is not None:
        data: bytes = peek(size)
        return data[:size]
    raise InputError("stream cannot be peeked")


def default_host_for(path: str) -> str:
    """Inputs that carry no host name are named after their file."""
    if path in ("-", "<stdin>"):
        return "stdin"
    name = Path(path).name
    for suffix in (
        ".gz",
        ".zst",
        ".json",
        ".ndjson",
        ".log",
        ".csv",
        ".xml",
        ".spdx",
        ".reg",
        ".txt",
        ".cdx",
    ):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    return name or path


def read_capped(stream: BinaryIO, filename: str, errors: ErrorSink, limit: int) -> bytes | None:
    """Read a whole input that must be parsed in one piece, refusing one over `limit` bytes."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        errors.report(filename, None, f"larger than {limit} bytes; skipped")
        return None
    return data


def parse_json_object(text: str, filename: str, errors: ErrorSink, what: str) -> dict[str, Any] | None:
    """Parse a JSON document whose top level must be an object; report why not in one line."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        errors.report(filename, f"{exc.lineno}:{exc.colno}", f"not valid JSON: {exc.msg}")
        return None
    except RecursionError:
        errors.report(filename, None, "not readable: JSON nested too deeply")
        return None
    if not isinstance(doc, dict):
        errors.report(filename, None, f"not {what}: the top level is not a JSON object")
        return None
    return doc
