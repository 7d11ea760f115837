"""Where banscan keeps what it can rebuild at any time (compiled catalog artefacts).

`$BANSCAN_CACHE_DIR` when set, else the platform's user cache folder (platformdirs:
`~/.cache/banscan` on Linux, `~/Library/Caches/banscan` on macOS, `%LOCALAPPDATA%\\banscan\\Cache`
on Windows). Everything here is an optimisation: a missing, unreadable or unwritable cache only
costs the time of building it again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import platformdirs


def cache_dir() -> Path:
    env = os.environ.get("BANSCAN_CACHE_DIR")
    return Path(env) if env else Path(platformdirs.user_cache_dir("banscan", appauthor=False))


def read_json(kind: str, key: str) -> Any | None:
    """A cached JSON document, or None (missing, unreadable or not JSON)."""
    try:
        with open(cache_dir() / kind / f"{key}.json", encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def write_json(kind: str, key: str, doc: Any) -> None:
    """Store a JSON document atomically (a reader never sees half of it); errors are ignored."""
    data = json.dumps(doc, ensure_ascii=False, sort_keys=True).encode("utf-8")
    _write(kind, f"{key}.json", data)


def read_blob(kind: str, key: str) -> bytes | None:
    """Cached bytes whose stored SHA-256 still matches them, or None."""
    try:
        data = (cache_dir() / kind / f"{key}.bin").read_bytes()
    except OSError:
        return None
    digest, body = data[:32], data[32:]
    return body if len(digest) == 32 and hashlib.sha256(body).digest() == digest else None


def write_blob(kind: str, key: str, body: bytes) -> None:
    """Store bytes (with their SHA-256: a damaged entry reads as missing) atomically."""
    _write(kind, f"{key}.bin", hashlib.sha256(body).digest() + body)


def _write(kind: str, name: str, data: bytes) -> None:
    folder = cache_dir() / kind
    with contextlib.suppress(OSError):
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, folder / name)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
