"""The input-reader interface and the opening of inputs (files, compressed files, stdin).

A reader turns one input stream into InventoryRecords. Like collectors, readers never
decide what is banned, and report bad input as one line naming the file and the line or
record, then go on with the next record.

Compressed inputs (gzip, zstd) are decompressed within the deep scan's archive limits
(`banscan.deep.archives.Limits`): past `max_ratio`:1 (once over `ratio_floor` bytes) or past
`max_total` bytes in all, reading stops with `ExpansionLimit`, one line naming the file
(`banscan scan --max-expanded-size` and `--max-ratio` raise them).
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, ClassVar, Protocol

from banscan.errors import ErrorSink
from banscan.inputs.jsondepth import TooDeep
from banscan.inputs.jsondepth import loads as bounded_loads
from banscan.models import InventoryRecord

SNIFF_BYTES = 64 * 1024
MiB = 1024 * 1024


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


class ExpansionLimit(InputError):
    """A compressed input expanded past its ratio or total-size limit; reading stopped."""


@dataclass(frozen=True)
class ExpandLimits:
    """How far a compressed input may expand: the values of the deep scan's archive limits
    (`banscan.deep.archives.Limits`: max_ratio, ratio_floor, max_total), kept in step by a test."""

    max_ratio: float = 100.0
    ratio_floor: int = 1 * MiB
    max_total: int = 1024 * MiB


class _Counting(io.RawIOBase):
    """Counts the compressed bytes a decompressor has taken from its source."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.count += n
        return n

    def close(self) -> None:
        try:
            self.raw.close()
        finally:
            super().close()


class _Bounded(io.RawIOBase):
    """A decompressing stream that stops (ExpansionLimit) past its ratio or total-size limit."""

    def __init__(self, inner: Any, source: _Counting, limits: ExpandLimits, kind: str) -> None:
        self.inner = inner
        self.source = source
        self.limits = limits
        self.kind = kind
        self.total = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            data = self.inner.read(len(buffer))
        except EOFError:
            raise InputError(f"{self.kind} input is truncated (ends inside compressed data)") from None
        except Exception as exc:  # gzip, zlib and zstandard each raise their own (re-raised below)
            if isinstance(exc, InputError):
                raise
            raise InputError(
                f"{self.kind} input is corrupt: {' '.join(str(exc).split()) or type(exc).__name__}"
            ) from None
        n = len(data)
        self.total += n
        lim = self.limits
        if self.total > lim.max_total:
            raise ExpansionLimit(
                f"{self.kind} input expands past the {lim.max_total}-byte limit for compressed inputs; "
                "reading stopped (raise it with --max-expanded-size)"
            )
        packed = max(self.source.count, 1)
        if self.total > lim.ratio_floor and self.total > lim.max_ratio * packed:
            raise ExpansionLimit(
                f"{self.kind} input expands over {lim.max_ratio:g}:1 ({self.total} bytes from {packed}); "
                "likely decompression bomb, reading stopped (raise the limit with --max-ratio)"
            )
        buffer[:n] = data
        return n

    def close(self) -> None:
        try:
            self.inner.close()  # a GzipFile leaves its source open: closed next
            self.source.close()
        finally:
            super().close()


def open_input(path: str, limits: ExpandLimits | None = None) -> tuple[BinaryIO, str]:
    """Open a file (or '-' for stdin), transparently decompressing .gz and .zst within `limits`."""
    limits = limits or ExpandLimits()
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
        from banscan.deep.inflate import gzip_reader  # ISA-L: several times zlib's speed

        counted = _Counting(peek)
        inner: Any = gzip_reader(io.BufferedReader(counted))
        return _peekable(_Bounded(inner, counted, limits, "gzip")), name
    if magic == b"\x28\xb5\x2f\xfd":
        try:
            import zstandard
        except ImportError:
            raise InputError(f"{name}: zstd-compressed input needs the 'zstandard' package") from None
        counted = _Counting(peek)
        inner = zstandard.ZstdDecompressor().stream_reader(
            counted,  # type: ignore[arg-type]
            read_across_frames=True,
        )
        return _peekable(_Bounded(inner, counted, limits, "zstd")), name
    return peek, name


def bytes_consumed(stream: BinaryIO) -> Callable[[], int] | None:
    """How far into its file an input from `open_input` is (compressed bytes for .gz/.zst),
    readable from another thread for a progress bar; None for stdin and other streams."""
    raw = getattr(stream, "raw", None)
    if isinstance(raw, _Bounded):
        source = raw.source
        return lambda: source.count
    if isinstance(raw, io.FileIO):

        def position() -> int:
            try:
                return raw.tell()
            except (OSError, ValueError):  # closed meanwhile
                return 0

        return position
    return None


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
        doc = bounded_loads(text)
    except json.JSONDecodeError as exc:
        errors.report(filename, f"{exc.lineno}:{exc.colno}", f"not valid JSON: {exc.msg}")
        return None
    except TooDeep as exc:
        errors.report(filename, None, f"not readable: {exc}")
        return None
    if not isinstance(doc, dict):
        errors.report(filename, None, f"not {what}: the top level is not a JSON object")
        return None
    return doc
