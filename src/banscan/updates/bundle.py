"""A repository in one file, for networks that cannot reach it (`banscan catalog bundle`).

The bundle is a tar file of the repository's own signed files: every root version, the
timestamp, the snapshot and targets versions it names, and the catalog target. Nothing in it is
trusted for being in the bundle: `BundleFetcher` hands its files to `tuf.ngclient` exactly as an
HTTP server would, so an update from a bundle is verified as one over the network (signatures,
thresholds, versions, expiry, hashes and lengths). The tar is read without extracting it, and
only regular files of bounded size and number are indexed.
"""

from __future__ import annotations

import io
import posixpath
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from tuf.api.exceptions import DownloadHTTPError
from tuf.api.metadata import Metadata, Snapshot, Targets, Timestamp
from tuf.ngclient import FetcherInterface

from banscan.updates import CATALOG_TARGET

SCHEME = "bundle:///"
MAX_MEMBERS = 10_000
MAX_MEMBER_BYTES = 64 * 1024 * 1024
_CHUNK = 1 << 16


class BundleError(Exception):
    """The bundle cannot be made or read; the message names the file."""


def make_bundle(repo_dir: Path, out: Path) -> list[str]:
    """Write the bundle of the repository at `repo_dir` to `out`; returns the names it holds."""
    metadata = repo_dir / "metadata"
    try:
        timestamp = Metadata[Timestamp].from_bytes((metadata / "timestamp.json").read_bytes())
        snap_v = timestamp.signed.snapshot_meta.version
        snapshot = Metadata[Snapshot].from_bytes((metadata / f"{snap_v}.snapshot.json").read_bytes())
        targets_v = snapshot.signed.meta["targets.json"].version
        targets = Metadata[Targets].from_bytes((metadata / f"{targets_v}.targets.json").read_bytes())
    except (OSError, KeyError, ValueError) as exc:
        raise BundleError(f"{repo_dir}: not a complete catalog repository ({exc})") from exc
    except Exception as exc:
        raise BundleError(f"{repo_dir}: unreadable metadata ({exc})") from exc
    names = sorted(
        (f"metadata/{p.name}" for p in metadata.glob("*.root.json")),
        key=lambda n: int(posixpath.basename(n).split(".")[0]),
    )
    names += [
        "metadata/timestamp.json",
        f"metadata/{snap_v}.snapshot.json",
        f"metadata/{targets_v}.targets.json",
    ]
    for path, target in targets.signed.targets.items():
        for digest in target.hashes.values():
            names.append(f"targets/{digest}.{path}")
    if not any(n.endswith(CATALOG_TARGET) for n in names):
        raise BundleError(f"{repo_dir}: the repository holds no {CATALOG_TARGET}")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
        for name in names:
            data = (repo_dir / name).read_bytes()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 0
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return names


class BundleFetcher(FetcherInterface):
    """`tuf.ngclient`'s fetcher over a bundle: URLs `bundle:///metadata/…` and
    `bundle:///targets/…` are its members; anything else is a 404, as from a server."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._tar = tarfile.open(path, "r:*")  # noqa: SIM115 - open while the fetcher lives
            members = self._tar.getmembers()
        except (OSError, tarfile.TarError, EOFError) as exc:
            raise BundleError(f"{path}: not a readable bundle ({exc})") from exc
        if len(members) > MAX_MEMBERS:
            raise BundleError(f"{path}: more than {MAX_MEMBERS} files; not a catalog bundle")
        self._members: dict[str, tarfile.TarInfo] = {}
        for m in members:
            name = posixpath.normpath(m.name)
            if m.isfile() and m.size <= MAX_MEMBER_BYTES and not name.startswith(("/", "..")):
                self._members[name] = m

    def close(self) -> None:
        self._tar.close()

    def _fetch(self, url: str) -> Iterator[bytes]:
        if not url.startswith(SCHEME):
            raise DownloadHTTPError(f"{url}: not in the bundle", 404)
        member = self._members.get(posixpath.normpath(url[len(SCHEME) :]))
        if member is None:
            raise DownloadHTTPError(f"{url}: not in the bundle", 404)
        fh = self._tar.extractfile(member)
        if fh is None:
            raise DownloadHTTPError(f"{url}: not a file in the bundle", 404)
        return self._chunks(fh)

    @staticmethod
    def _chunks(fh: IO[bytes]) -> Iterator[bytes]:
        while block := fh.read(_CHUNK):
            yield block
