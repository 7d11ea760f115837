"""Deflate (zip members, gzip streams) through Intel's ISA-L when it is installed.

Inflating wheels, jars and .tar.gz files is most of a deep scan's archive work; ISA-L's
inflate (the `isal` package) is several times faster than zlib's on the same bytes and takes
the same arguments. Where `isal` has no build for the platform, zlib does the same work more
slowly. Both give the same bytes; errors from either are in `ERRORS`.
"""

from __future__ import annotations

import types
import zlib
from typing import IO, Any, Protocol

_zlib: types.ModuleType
_igzip: types.ModuleType | None
try:
    from isal import igzip as _igzip
    from isal import isal_zlib as _zlib

    ENGINE = "isa-l"
    ERRORS: tuple[type[Exception], ...] = (zlib.error, _zlib.error)
except ImportError:  # pragma: no cover - isal is a dependency; this is for platforms without a build
    _igzip = None
    _zlib = zlib
    ENGINE = "zlib"
    ERRORS = (zlib.error,)


class Inflater(Protocol):
    eof: bool
    unconsumed_tail: bytes
    unused_data: bytes

    def decompress(self, data: Any, max_length: int = ...) -> bytes: ...


def decompressobj(wbits: int) -> Inflater:
    """-15 for a raw deflate stream (zip), 16 + 15 for gzip."""
    return _zlib.decompressobj(wbits)  # type: ignore[no-any-return]


def crc32(data: Any, value: int = 0) -> int:
    return _zlib.crc32(data, value)  # type: ignore[no-any-return]


def gzip_reader(src: IO[bytes]) -> IO[bytes]:
    """A gzip stream (several members allowed) read as one file."""
    if _igzip is not None:
        reader: IO[bytes] = _igzip.IGzipFile(fileobj=src, mode="rb")
        return reader
    import gzip

    return gzip.GzipFile(fileobj=src, mode="rb")  # type: ignore[return-value]
