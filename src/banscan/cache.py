"""Where banscan keeps what it can rebuild at any time (compiled catalog artefacts).

`$BANSCAN_CACHE_DIR` when set, else the platform's user cache folder (platformdirs:
`~/.cache/banscan` on Linux, `~/Library/Caches/banscan` on macOS, `%LOCALAPPDATA%\\banscan\\Cache`
on Windows). Everything here is an optimisation: a missing, unreadable or unwritable cache only
costs the time of building it again.
"""

from __future__ import annotations

import contextlib
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
    folder = cache_dir() / kind
    with contextlib.suppress(OSError):
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(doc, fh, ensure_ascii=False, sort_keys=True)
            os.replace(tmp, folder / f"{key}.json")
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
