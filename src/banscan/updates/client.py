"""`banscan catalog update`: fetch, verify and install a signed catalog with `tuf.ngclient`.

Trust starts from a root the user pins once (`--root FILE`, the publishers' root.json, or
`--root-sha256`, the digest of the repository's 1.root.json as the publishers state it); after
that, the root cached under the data folder is the anchor and every new root must be signed by
the one before it. Each update runs the TUF client workflow — root chain, timestamp, snapshot,
targets, then the catalog file against its length and hashes — in a scratch copy of the
trusted metadata; only when all of it verifies and the catalog validates are the metadata and
the catalog installed (atomic renames). A refusal is one line naming what was wrong; the
installed catalog and the trusted metadata are untouched.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuf.api import exceptions as tuf_errors
from tuf.api.metadata import Metadata, Root
from tuf.ngclient import FetcherInterface, Updater, UpdaterConfig
from tuf.ngclient.urllib3_fetcher import Urllib3Fetcher

from banscan import __version__
from banscan.catalog import installed
from banscan.catalog.loader import CatalogError, load_catalog
from banscan.catalog.schema import Catalog
from banscan.updates import CATALOG_TARGET, TOP_ROLES
from banscan.updates.bundle import SCHEME, BundleError, BundleFetcher

ROOT_MAX_BYTES = 512_000  # as UpdaterConfig.root_max_length
SOCKET_TIMEOUT = 20  # seconds

_WHY = [  # most specific first
    (tuf_errors.ExpiredMetadataError, "expired metadata (a frozen or stale repository)"),
    (tuf_errors.EqualVersionNumberError, "metadata version not newer than the trusted one"),
    (tuf_errors.BadVersionNumberError, "metadata version rolled back or not the one the snapshot names"),
    (tuf_errors.UnsignedMetadataError, "not signed by enough trusted keys"),
    (tuf_errors.LengthOrHashMismatchError, "length or hash does not match the signed metadata (tampered?)"),
    (tuf_errors.DownloadLengthMismatchError, "response longer than the signed or allowed length"),
    (tuf_errors.SlowRetrievalError, "download too slow"),
    (tuf_errors.DownloadHTTPError, "download refused by the server"),
    (tuf_errors.DownloadError, "download failed"),
    (tuf_errors.RepositoryError, "repository metadata refused"),
]


class UpdateRefused(Exception):
    """The update was not installed; the message is one line saying why."""


@dataclass(frozen=True)
class UpdateOutcome:
    old: Catalog
    new: Catalog
    installed: installed.Installed
    changed: bool


def tuf_dir() -> Path:
    return installed.data_dir() / "tuf"


def metadata_dir() -> Path:
    return tuf_dir() / "metadata"


def source_record() -> dict[str, Any]:
    """Where the trusted metadata came from (`source.json`), or {} when nothing is trusted yet."""
    try:
        doc = json.loads((tuf_dir() / "source.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def explain(exc: BaseException) -> str:
    """One line for a refusal: what kind of failure, and the library's own words."""
    for kind, why in _WHY:
        if isinstance(exc, kind):
            detail = str(exc) or type(exc).__name__
            cause = exc.__cause__
            if cause is not None and str(cause):
                detail = f"{detail}: {cause}"
            return f"{why}: {detail}".replace("\n", " ")
    return f"{type(exc).__name__}: {exc}".replace("\n", " ")


def _base(repo: str) -> str:
    return repo if repo.endswith("/") else repo + "/"


def _pinned_root(
    fetcher: FetcherInterface, base: str, root: Path | None, root_sha256: str | None
) -> bytes | None:
    """The root to start trusting, when the user pins one (None: keep the cached root)."""
    if root is not None:
        try:
            data = root.read_bytes()[: ROOT_MAX_BYTES + 1]
        except OSError as exc:
            raise UpdateRefused(f"{root}: {exc.strerror or exc}") from exc
        if len(data) > ROOT_MAX_BYTES:
            raise UpdateRefused(f"{root}: larger than {ROOT_MAX_BYTES} bytes; not a root")
    elif root_sha256 is not None:
        data = fetcher.download_bytes(f"{base}metadata/1.root.json", ROOT_MAX_BYTES)
        got = hashlib.sha256(data).hexdigest()
        if got != root_sha256.lower():
            raise UpdateRefused(f"{base}metadata/1.root.json: SHA-256 {got}, not the pinned {root_sha256}")
    else:
        return None
    try:
        md = Metadata[Root].from_bytes(data)
    except Exception as exc:
        raise UpdateRefused(f"{root or 'pinned root'}: not TUF root metadata ({exc})") from exc
    if md.signed.type != "root":
        raise UpdateRefused(f"{root or 'pinned root'}: holds {md.signed.type} metadata, not a root")
    return data


def update(
    repository: str | None = None,
    *,
    bundle: Path | None = None,
    root: Path | None = None,
    root_sha256: str | None = None,
    fetcher: FetcherInterface | None = None,
) -> UpdateOutcome:
    """Verify the repository's catalog and install it; raises UpdateRefused with one line."""
    if (repository is None) == (bundle is None):
        raise UpdateRefused("give a repository URL or a bundle file")
    previous = source_record()
    own_fetcher: BundleFetcher | None = None
    if bundle is not None:
        try:
            own_fetcher = BundleFetcher(bundle)
        except BundleError as exc:
            raise UpdateRefused(str(exc)) from exc
        fetcher, base, origin = own_fetcher, SCHEME, f"bundle {bundle}"
    else:
        assert repository is not None
        base = _base(repository)
        origin = base
        fetcher = fetcher or Urllib3Fetcher(
            socket_timeout=SOCKET_TIMEOUT, app_user_agent=f"banscan/{__version__}"
        )
    try:
        return _update(fetcher, base, origin, previous, root, root_sha256, from_bundle=bundle is not None)
    except UpdateRefused:
        raise
    except (tuf_errors.RepositoryError, tuf_errors.DownloadError) as exc:
        raise UpdateRefused(explain(exc)) from exc
    except OSError as exc:
        raise UpdateRefused(f"cannot write the update: {exc}") from exc
    finally:
        if own_fetcher is not None:
            own_fetcher.close()


def _update(
    fetcher: FetcherInterface,
    base: str,
    origin: str,
    previous: dict[str, Any],
    root: Path | None,
    root_sha256: str | None,
    *,
    from_bundle: bool,
) -> UpdateOutcome:
    bootstrap = _pinned_root(fetcher, base, root, root_sha256)
    trusted = metadata_dir()
    if bootstrap is None:
        if not (trusted / "root.json").is_file():
            raise UpdateRefused(
                "no trusted root yet: give --root FILE (the publishers' root.json) or "
                "--root-sha256 DIGEST (of the repository's 1.root.json) once"
            )
        # A bundle carries the same repository's files: the trust already pinned applies.
        if not from_bundle and previous.get("repository") and previous["repository"] != base:
            raise UpdateRefused(
                f"the trusted root is that of {previous['repository']}; give --root or "
                f"--root-sha256 to trust {base} instead"
            )
    tuf_dir().mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".update-", dir=tuf_dir()))
    try:
        work = scratch / "metadata"
        if bootstrap is None:
            shutil.copytree(trusted, work)
        else:
            work.mkdir()
        updater = Updater(
            metadata_dir=str(work),
            metadata_base_url=f"{base}metadata/",
            target_dir=str(scratch),
            target_base_url=f"{base}targets/",
            fetcher=fetcher,
            config=UpdaterConfig(app_user_agent=f"banscan/{__version__}"),
            bootstrap=bootstrap,
        )
        updater.refresh()
        info = updater.get_targetinfo(CATALOG_TARGET)
        if info is None:
            raise UpdateRefused(f"{base}: the signed targets hold no {CATALOG_TARGET}")
        path = Path(updater.download_target(info, filepath=str(scratch / CATALOG_TARGET)))
        data = path.read_bytes()
        try:
            new = load_catalog(path)
        except CatalogError as exc:
            first = str(exc).splitlines()[0]
            raise UpdateRefused(f"the signed catalog does not validate with this banscan: {first}") from exc
        sha = hashlib.sha256(data).hexdigest()
        old = load_catalog()
        now = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
        record = {
            "repository": origin,
            "installed_at": now,
            "target": CATALOG_TARGET,
            "roles": role_summary(work),
        }
        # Trust moves first (a rename), then the catalog: a crash between leaves the old
        # catalog in use under newer trust, which the next update mends.
        _swap_dir(work, trusted)
        source = {
            "repository": base if not from_bundle else previous.get("repository", ""),
            "updated_at": now,
        }
        if from_bundle:
            source["bundle"] = origin
        installed.write_atomic(tuf_dir() / "source.json", json.dumps(source, indent=2).encode() + b"\n")
        current = installed.active()
        changed = current is None or current.sha256 != sha
        got = installed.install(data, sha, new.meta.version, record) if changed else current
        assert got is not None
        return UpdateOutcome(old=old, new=new, installed=got, changed=changed)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _swap_dir(new: Path, target: Path) -> None:
    """Replace the folder `target` with `new` (same file system): rename aside, rename in."""
    aside = target.with_name(target.name + ".old")
    shutil.rmtree(aside, ignore_errors=True)
    if target.exists():
        target.rename(aside)
    new.rename(target)
    with contextlib.suppress(OSError):
        shutil.rmtree(aside)


def role_summary(folder: Path) -> dict[str, dict[str, Any]]:
    """Per top-level role in a folder of trusted metadata: version, expiry, and (from root)
    the key ids and threshold."""
    out: dict[str, dict[str, Any]] = {}
    root: Root | None = None
    for role in TOP_ROLES:
        try:
            md: Metadata[Any] = Metadata.from_bytes((folder / f"{role}.json").read_bytes())
        except Exception:  # noqa: BLE001 - a role not fetched yet
            continue
        out[role] = {"version": md.signed.version, "expires": md.signed.expires.isoformat()}
        if isinstance(md.signed, Root):
            root = md.signed
    if root is not None:
        for role in TOP_ROLES:
            r = root.roles[role]
            out.setdefault(role, {}).update(keyids=sorted(r.keyids), threshold=r.threshold)
    return out
