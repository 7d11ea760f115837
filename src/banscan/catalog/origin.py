"""Where a loaded catalog came from, and the digest that names its content.

A scan result records which catalog judged the machines: its version, a SHA-256 of its
content, where it was loaded from and whether its publishers' signatures were verified (a
catalog installed by `banscan catalog update`). For an installed catalog the digest is that of
the signed file itself, so an auditor can compare it with the repository's targets metadata;
for a folder it is a digest of the folder's YAML files (names and bytes, in name order).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BUILT_IN = "built-in"  # the catalog shipped inside the package
INSTALLED = "installed"  # verified and installed by `banscan catalog update`
PATH = "path"  # a folder or file named with --catalog


@dataclass(frozen=True)
class CatalogOrigin:
    source: str  # BUILT_IN, INSTALLED or PATH
    location: str
    sha256: str
    verified: bool = False
    repository: str = ""  # INSTALLED: the TUF repository (or bundle) it came from
    details: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "source": self.source,
            "sha256": self.sha256,
            "verified": self.verified,
        }
        if self.repository:
            out["repository"] = self.repository
        return out


def digest_path(path: Path) -> str:
    """SHA-256 of a catalog file, or of a folder's YAML files (relative name, NUL, length,
    bytes; in name order): the same content gives the same digest wherever it lies."""
    h = hashlib.sha256()
    if path.is_file():
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 16), b""):
                h.update(block)
        return h.hexdigest()
    for p in sorted(path.rglob("*.yaml"), key=lambda q: q.relative_to(path).as_posix()):
        data = p.read_bytes()
        h.update(p.relative_to(path).as_posix().encode() + b"\0" + str(len(data)).encode() + b"\0")
        h.update(data)
    return h.hexdigest()
