"""Build and sign a TUF repository that carries the catalog (`banscan catalog publish`).

Layout, as `tuf.ngclient` fetches it with consistent snapshots:

    REPO/metadata/1.root.json, 2.root.json …   every root version (clients walk the chain)
    REPO/metadata/timestamp.json               the only unversioned file clients fetch
    REPO/metadata/N.snapshot.json, N.targets.json
    REPO/targets/<sha256>.banscan-catalog.json the catalog as one canonical JSON document

plus `root.json`, `snapshot.json` and `targets.json` (the latest of each) for the next publish.
Each publish adds the catalog as a new targets version and signs snapshot and timestamp anew;
when the key set differs from the repository's root, a new root version is signed by the
previous root keys (`previous`) and by the new ones, so that clients can follow the rotation.
Everything is built and signed with python-tuf's metadata API (`tuf.api.metadata`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuf.api.metadata import (
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.api.serialization.json import JSONSerializer

from banscan.catalog.installed import write_atomic
from banscan.catalog.loader import CatalogError, default_catalog_dir, load_catalog
from banscan.catalog.schema import Catalog
from banscan.updates import CATALOG_TARGET, TOP_ROLES
from banscan.updates.keys import KeySet

EXPIRY_DAYS = {"root": 365, "targets": 90, "snapshot": 30, "timestamp": 7}


class PublishError(Exception):
    """The repository cannot be built; the message says what to do."""


@dataclass(frozen=True)
class Published:
    catalog_version: str
    sha256: str
    versions: dict[str, int]  # role → metadata version written
    expires: dict[str, str]
    rotated: bool


def catalog_document(path: Path | None = None) -> tuple[bytes, Catalog]:
    """The catalog at `path` (default: the built-in one) as canonical JSON bytes (keys sorted,
    no spaces, dates as ISO strings), checked to load back to the same catalog."""
    from banscan.catalog.loader import _raw_from_dir, _read_yaml

    folder = path or default_catalog_dir()
    catalog = load_catalog(folder)
    raw: Any = _raw_from_dir(folder)[0] if folder.is_dir() else _raw_file(folder, _read_yaml)
    data = json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_iso).encode()
    again = Catalog.model_validate(json.loads(data))
    if again.model_dump() != catalog.model_dump():
        raise CatalogError(f"{folder}: the catalog does not survive JSON (a value JSON cannot hold)")
    return data, catalog


def _raw_file(path: Path, read_yaml: Any) -> Any:
    return json.loads(path.read_bytes()) if path.suffix == ".json" else read_yaml(path)


def _iso(value: object) -> str:
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


class Repository:
    """A repository folder: reads the latest metadata, writes new versions atomically."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.metadata = folder / "metadata"
        self.targets = folder / "targets"

    def latest(self, role: str) -> Metadata[Any] | None:
        path = self.metadata / f"{role}.json"
        if not path.exists():
            return None
        try:
            md: Metadata[Any] = Metadata.from_bytes(path.read_bytes())
        except Exception as exc:
            raise PublishError(f"{path}: not readable TUF metadata: {exc}") from exc
        if md.signed.type != role:
            raise PublishError(f"{path}: holds {md.signed.type} metadata, not {role}")
        return md

    def next_version(self, role: str, kind: type[Any], expires: dt.datetime) -> Metadata[Any]:
        """The role's metadata for the next publish: the latest with its version bumped (its
        content kept, to be changed and signed anew), or version 1 of a new repository."""
        md = self.latest(role)
        if md is None:
            return Metadata(kind(expires=expires))
        md.signed.version += 1
        md.signed.expires = expires
        return md

    def write(self, md: Metadata[Any], role: str, *, versioned: bool) -> None:
        data = md.to_bytes(JSONSerializer(compact=False))
        if versioned:
            write_atomic(self.metadata / f"{md.signed.version}.{role}.json", data)
        write_atomic(self.metadata / f"{role}.json", data)


def _keys_of(root: Root, role: str) -> tuple[frozenset[str], int]:
    r = root.roles[role]
    return frozenset(r.keyids), r.threshold


def _sign(md: Metadata[Any], signers: list[Any]) -> None:
    md.signatures.clear()
    for s in signers:
        md.sign(s, append=True)


def publish(
    keys: KeySet,
    repo_dir: Path,
    catalog_path: Path | None = None,
    *,
    previous: KeySet | None = None,
    expiry_days: dict[str, int] | None = None,
    now: dt.datetime | None = None,
) -> Published:
    """Add the catalog to the repository at `repo_dir` (made when missing) and sign every role
    whose metadata changes. `now` sets the clock the expiry dates count from."""
    days = {**EXPIRY_DAYS, **(expiry_days or {})}
    now = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)

    def expires(role: str) -> dt.datetime:
        return now + dt.timedelta(days=days[role])

    data, catalog = catalog_document(catalog_path)
    repo = Repository(repo_dir)
    versions: dict[str, int] = {}
    rotated = False

    root_md = repo.latest("root")
    wanted = {role: (frozenset(keys.keyids(role)), keys.thresholds[role]) for role in TOP_ROLES}
    if root_md is None:
        root = Root(expires=expires("root"), consistent_snapshot=True)
        for role in TOP_ROLES:
            for s in keys.signers[role]:
                root.add_key(s.public_key, role)
            root.roles[role].threshold = keys.thresholds[role]
        root_md = Metadata(root)
        _sign(root_md, keys.signers["root"])
        repo.write(root_md, "root", versioned=True)
        versions["root"] = 1
    else:
        root = root_md.signed
        current = {role: _keys_of(root, role) for role in TOP_ROLES}
        renew = root.expires < now + dt.timedelta(days=30)
        if current != wanted or renew:
            old_root_keys = set(root.roles["root"].keyids)
            signers = list(keys.signers["root"])
            if current["root"] != wanted["root"]:
                if previous is None:
                    raise PublishError(
                        f"{repo.metadata / 'root.json'}: the root keys differ from this key set; "
                        "give the previous key set (--previous-keys) to sign the new root"
                    )
                old = [s for s in previous.signers.get("root", []) if s.public_key.keyid in old_root_keys]
                if len(old) < root.roles["root"].threshold:
                    raise PublishError(
                        f"the previous key set holds {len(old)} of the {root.roles['root'].threshold} "
                        "root keys the current root requires"
                    )
                signers = old + [s for s in signers if s.public_key.keyid not in old_root_keys]
            for role in TOP_ROLES:
                for keyid in list(root.roles[role].keyids):
                    root.revoke_key(keyid, role)
                for s in keys.signers[role]:
                    root.add_key(s.public_key, role)
                root.roles[role].threshold = keys.thresholds[role]
            root.version += 1
            root.expires = expires("root")
            _sign(root_md, signers)
            repo.write(root_md, "root", versioned=True)
            versions["root"] = root.version
            rotated = current != wanted

    targets_md = repo.next_version("targets", Targets, expires("targets"))
    target = TargetFile.from_data(CATALOG_TARGET, data, ["sha256"])
    target.unrecognized_fields["custom"] = {
        "catalog_version": catalog.meta.version,
        "released": catalog.meta.released.isoformat(),
    }
    targets_md.signed.targets[CATALOG_TARGET] = target
    _sign(targets_md, keys.signers["targets"])

    snapshot_md = repo.next_version("snapshot", Snapshot, expires("snapshot"))
    snapshot_md.signed.meta["targets.json"] = MetaFile(version=targets_md.signed.version)
    _sign(snapshot_md, keys.signers["snapshot"])

    timestamp_md = repo.next_version("timestamp", Timestamp, expires("timestamp"))
    timestamp_md.signed.snapshot_meta = MetaFile(version=snapshot_md.signed.version)
    _sign(timestamp_md, keys.signers["timestamp"])

    sha = hashlib.sha256(data).hexdigest()
    write_atomic(repo.targets / f"{sha}.{CATALOG_TARGET}", data)
    repo.write(targets_md, "targets", versioned=True)
    repo.write(snapshot_md, "snapshot", versioned=True)
    repo.write(timestamp_md, "timestamp", versioned=False)
    versions.update(
        targets=targets_md.signed.version,
        snapshot=snapshot_md.signed.version,
        timestamp=timestamp_md.signed.version,
    )
    return Published(
        catalog_version=catalog.meta.version,
        sha256=sha,
        versions=versions,
        expires={
            "root": root_md.signed.expires.isoformat(),
            "targets": targets_md.signed.expires.isoformat(),
            "snapshot": snapshot_md.signed.expires.isoformat(),
            "timestamp": timestamp_md.signed.expires.isoformat(),
        },
        rotated=rotated,
    )
