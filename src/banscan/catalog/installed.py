"""The catalog installed by `banscan catalog update`, kept in the user's data folder.

`$BANSCAN_DATA_DIR` when set, else the platform's user data folder (platformdirs:
`~/.local/share/banscan`, `~/Library/Application Support/banscan`, `%LOCALAPPDATA%\\banscan`).
Under `catalog/`: each verified catalog file by its digest, and `active.json`, which names the
one in use with where it came from. Both are replaced atomically (write, then rename), so a
reader sees the old catalog or the new one, never half of either; a failed or refused update
leaves them as they were. The built-in catalog stays the fallback: it is used when nothing is
installed, when the installed file is missing or unreadable, and when the built-in one is newer
(banscan itself was upgraded since).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

ACTIVE = "active.json"


def data_dir() -> Path:
    env = os.environ.get("BANSCAN_DATA_DIR")
    return Path(env) if env else Path(platformdirs.user_data_dir("banscan", appauthor=False))


def catalog_dir() -> Path:
    return data_dir() / "catalog"


@dataclass(frozen=True)
class Installed:
    """What `active.json` says: the installed catalog file and its provenance."""

    path: Path
    version: str
    sha256: str
    repository: str
    installed_at: str
    record: dict[str, Any]


def active() -> Installed | None:
    """The installed catalog, or None (nothing installed, or its record is unreadable)."""
    folder = catalog_dir()
    try:
        record = json.loads((folder / ACTIVE).read_text(encoding="utf-8"))
        path = folder / str(record["file"])
        if path.parent != folder or not path.is_file():
            return None
        return Installed(
            path=path,
            version=str(record["version"]),
            sha256=str(record["sha256"]),
            repository=str(record.get("repository", "")),
            installed_at=str(record.get("installed_at", "")),
            record=record,
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see the old file or the new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def install(data: bytes, sha256: str, version: str, record: dict[str, Any]) -> Installed:
    """Store a verified catalog file and make it the active one (two atomic renames)."""
    folder = catalog_dir()
    name = f"{sha256}.json"
    write_atomic(folder / name, data)
    full = {**record, "file": name, "version": version, "sha256": sha256}
    write_atomic(folder / ACTIVE, json.dumps(full, indent=2, sort_keys=True).encode("utf-8") + b"\n")
    got = active()
    assert got is not None  # just written
    return got


def version_key(version: str) -> tuple[tuple[int, str], ...]:
    """Order catalog versions such as 2026.12.1 numerically, part by part."""
    return tuple((int(p), "") if p.isdigit() else (-1, p) for p in re.split(r"[.\-+]", version))
