"""Compiled Hyperscan databases, kept in the user's cache between runs.

Compiling the catalog's token and confirmation databases takes about 0.1 s a process; a
serialised database loads in microseconds. The key is every pattern, id, flag and the mode,
with the hyperscan module's version and the machine; Hyperscan itself refuses a database
built for another platform, and any failure to load means compiling again.
"""

from __future__ import annotations

import contextlib
import hashlib
import platform
from typing import Any

_FORMAT = 1


def database(expressions: list[bytes], ids: list[int], flags: list[int], *, mode: int | None = None) -> Any:
    """A block-mode (unless `mode` says otherwise) database of these patterns, compiled or cached."""
    import hyperscan

    from banscan import cache

    mode = hyperscan.HS_MODE_BLOCK if mode is None else mode
    digest = hashlib.sha256()
    version = getattr(hyperscan, "__version__", "")
    digest.update(f"{_FORMAT}\n{version}\n{platform.machine()}\n{mode}\n".encode())
    for expr, ident, flag in zip(expressions, ids, flags, strict=True):
        digest.update(b"%d %d %d\n" % (ident, flag, len(expr)) + expr)
    key = digest.hexdigest()
    blob = cache.read_blob("hyperscan", key)
    if blob is not None:
        try:
            loaded = hyperscan.loadb(blob, mode)
            loaded.scratch = hyperscan.Scratch(loaded)  # as compile() leaves one
            return loaded
        except Exception:  # noqa: BLE001 - another platform, a damaged entry: compile again
            pass
    db = hyperscan.Database(mode=mode)
    db.compile(expressions=expressions, ids=ids, flags=flags)
    with contextlib.suppress(Exception):  # a database that cannot be serialised is only not cached
        cache.write_blob("hyperscan", key, hyperscan.dumpb(db))
    return db
