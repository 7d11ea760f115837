"""The signed catalog repository a server hosts for its agents (`banscan serve --catalog-repo`).

The folder is one `banscan catalog publish` builds (`banscan.updates.repository`): `metadata/`
and `targets/`. The server hands out its files as they are, read-only, to callers that
authenticate (`server.api.catalog`); it neither signs nor verifies them: agents verify every
file with `tuf.ngclient` against the root they trust, so a changed file gets the update refused
whoever changed it. Only regular files directly inside `metadata/` or `targets/` are served, by
names a TUF client asks for and up to a size: not the hidden files of a publish in progress, not
sub-folders, not links that lead anywhere else.

What the repository offers — the server's current catalog — is the version its signed targets
metadata gives the catalog target (`custom.catalog_version`), found the way a client finds it:
timestamp, the snapshot version that names, the targets version that names. It is read again
whenever one of those files changes (a new publish), at the cost of three `stat` calls a look.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import stat
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuf.api.metadata import Metadata

from banscan.catalog.loader import CatalogError, load_catalog
from banscan.catalog.schema import Catalog
from banscan.updates import CATALOG_TARGET

log = logging.getLogger("banscan.server")

METADATA = "metadata"
TARGETS = "targets"
# The largest file served of each kind: tuf.ngclient's own largest default for metadata
# (targets metadata, 5 MB); a catalog is a few hundred kilobytes of JSON.
MAX_BYTES = {METADATA: 5_000_000, TARGETS: 64 * 1024 * 1024}
# What a TUF client asks for: `N.root.json`, `timestamp.json`, `<sha256>.banscan-catalog.json`.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}\Z")
# No link followed at the last step, and no wait for a writer should the name be a FIFO.
_OPEN_FLAGS = (
    os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
)


def media_type(name: str) -> str:
    return "application/json" if name.endswith(".json") else "application/octet-stream"


@dataclass(frozen=True)
class Offered:
    """The catalog target as the repository's signed metadata names it."""

    version: str
    sha256: str
    length: int
    released: str
    targets_version: int
    expires: str  # the earliest expiry of the timestamp, snapshot and targets metadata

    def target_name(self) -> str:
        return f"{self.sha256}.{CATALOG_TARGET}"


@dataclass(frozen=True)
class CurrentCatalog:
    """The server's current catalog: the repository's when it offers one, else its own."""

    version: str
    source: str  # "repository" or "server"
    sha256: str | None
    released: str | None
    judging: str  # the version the server itself evaluates obligations and imports with
    repository: dict[str, Any] | None = field(default=None)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "source": self.source,
            "sha256": self.sha256,
            "released": self.released,
            "judging": self.judging,
            "repository": self.repository,
        }


class CatalogRepository:
    """A repository folder served read-only, and what it offers (cached until its files change)."""

    def __init__(self, folder: str | Path) -> None:
        path = Path(folder)
        if not path.is_dir():
            raise ValueError(f"{path}: the catalog repository is not a folder")
        self.folder = path.resolve()
        self._lock = threading.Lock()
        self._paths: list[Path] = [self.folder / METADATA / "timestamp.json"]
        self._stamp: tuple[Any, ...] | None = None
        self._offered: Offered | None = None
        self._problem = ""
        self._loaded: tuple[str, Catalog | None] | None = None

    # -- serving files

    def read(self, kind: str, name: str) -> bytes | None:
        """The bytes of a file the repository serves; None for anything it does not serve (a
        missing file, a name no client asks for, a link out of its folder, not a regular file,
        larger than `MAX_BYTES`)."""
        limit = MAX_BYTES.get(kind)
        if limit is None or not _NAME.match(name) or ".." in name:
            return None
        base = self.folder / kind
        try:
            where = base.resolve(strict=True)
            path = (base / name).resolve(strict=True)
        except (OSError, RuntimeError):
            return None
        if where.parent != self.folder or path.parent != where:
            return None  # a link leading out of the folder, or a folder that is a link
        try:
            fd = os.open(path, _OPEN_FLAGS)
        except OSError:
            return None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                return None
            if st.st_size > limit:
                log.warning(
                    "catalog repository: %s/%s is larger than %d bytes: not served", kind, name, limit
                )
                return None
            with os.fdopen(os.dup(fd), "rb") as fh:
                data = fh.read(limit + 1)
        except OSError:
            return None
        finally:
            os.close(fd)
        return data if len(data) <= limit else None

    # -- what it offers

    def offered(self) -> tuple[Offered | None, str]:
        """The catalog the repository offers now, or None and why not (one line)."""
        with self._lock:
            stamp = self._stamps(self._paths)
            if stamp != self._stamp:
                self._paths, self._offered, self._problem = self._resolve()
                self._stamp = self._stamps(self._paths)
                if self._offered is not None:
                    log.info(
                        "catalog repository %s offers catalog %s (targets version %d)",
                        self.folder,
                        self._offered.version,
                        self._offered.targets_version,
                    )
                else:
                    log.warning("catalog repository %s offers no catalog: %s", self.folder, self._problem)
            return self._offered, self._problem

    def catalog(self) -> Catalog | None:
        """The offered catalog loaded from its target file, when that file is the one the signed
        metadata names (its SHA-256) and this banscan can load it; None otherwise."""
        offered, _ = self.offered()
        if offered is None:
            return None
        with self._lock:
            if self._loaded is not None and self._loaded[0] == offered.sha256:
                return self._loaded[1]
        got: Catalog | None = None
        path = self.folder / TARGETS / offered.target_name()
        if self.read(TARGETS, offered.target_name()) is None:
            log.warning("catalog repository: %s is missing or not served", path)
        else:
            try:
                got = load_catalog(path)
            except CatalogError as exc:
                log.warning("catalog repository: %s does not load: %s", path, str(exc).splitlines()[0])
            else:
                if got.origin is None or got.origin.sha256 != offered.sha256:
                    log.warning("catalog repository: %s is not the file its targets metadata names", path)
                    got = None
        with self._lock:
            self._loaded = (offered.sha256, got)
        return got

    @staticmethod
    def _stamps(paths: list[Path]) -> tuple[Any, ...]:
        out: list[Any] = []
        for p in paths:
            try:
                st = os.stat(p)
            except OSError:
                out.append(None)
            else:
                out.append((st.st_ino, st.st_size, st.st_mtime_ns))
        return tuple(out)

    def _metadata(self, name: str, role: str) -> Metadata[Any]:
        data = self.read(METADATA, name)
        if data is None:
            raise LookupError(f"{METADATA}/{name} is missing or not served")
        try:
            md: Metadata[Any] = Metadata.from_bytes(data)
        except Exception as exc:  # the library's own errors vary by version
            raise LookupError(f"{METADATA}/{name} is not TUF metadata: {exc}") from exc
        if md.signed.type != role:
            raise LookupError(f"{METADATA}/{name} holds {md.signed.type} metadata, not {role}")
        return md

    def _versioned(self, version: int, role: str, paths: list[Path]) -> Metadata[Any]:
        """`N.role.json` (consistent snapshots, as `banscan catalog publish` writes), else
        `role.json` of that version; both are watched for changes (`paths`)."""
        paths += [self.folder / METADATA / f"{version}.{role}.json", self.folder / METADATA / f"{role}.json"]
        try:
            return self._metadata(f"{version}.{role}.json", role)
        except LookupError:
            md = self._metadata(f"{role}.json", role)
            if md.signed.version != version:
                raise LookupError(
                    f"{METADATA}/{version}.{role}.json is missing and {role}.json is version "
                    f"{md.signed.version}"
                ) from None
            return md

    def _resolve(self) -> tuple[list[Path], Offered | None, str]:
        paths = [self.folder / METADATA / "timestamp.json"]
        try:
            ts = self._metadata("timestamp.json", "timestamp")
            snap = self._versioned(ts.signed.snapshot_meta.version, "snapshot", paths)
            meta = snap.signed.meta.get("targets.json")
            if meta is None:
                raise LookupError("the snapshot names no targets metadata")
            targets = self._versioned(meta.version, "targets", paths)
            target = targets.signed.targets.get(CATALOG_TARGET)
            if target is None:
                raise LookupError(f"the targets metadata names no {CATALOG_TARGET}")
            custom = target.custom if isinstance(target.custom, dict) else {}
            version = custom.get("catalog_version")
            sha = target.hashes.get("sha256")
            if not isinstance(version, str) or not version:
                raise LookupError(f"{CATALOG_TARGET} has no custom.catalog_version in the targets metadata")
            if not isinstance(sha, str) or not sha:
                raise LookupError(f"{CATALOG_TARGET} has no SHA-256 in the targets metadata")
        except LookupError as exc:
            return paths, None, str(exc)
        expires = min(md.signed.expires for md in (ts, snap, targets))
        released = custom.get("released")
        offered = Offered(
            version=version[:64],
            sha256=sha,
            length=int(target.length),
            released=released if isinstance(released, str) else "",
            targets_version=int(targets.signed.version),
            expires=expires.astimezone(dt.UTC).isoformat(),
        )
        return paths, offered, ""
