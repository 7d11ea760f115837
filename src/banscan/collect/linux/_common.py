"""Shared pieces of the Linux collectors: how a path is shown and how a record is made.

Records name places as the scanned system sees them ("/var/lib/dpkg/status"), not as the
scanning machine does ("/mnt/image/var/lib/dpkg/status"), so reports from a live scan and
from a mounted image of the same machine read the same.
"""

from __future__ import annotations

import os
from pathlib import Path

from banscan.collect import fs
from banscan.collect.base import CollectContext
from banscan.models import InventoryRecord, RecordKind, Source


def inside(ctx: CollectContext, path: Path) -> str:
    """The path as the scanned system names it: forward slashes, leading "/"."""
    try:
        rel = path.relative_to(ctx.root)
    except ValueError:
        return path.as_posix()
    text = rel.as_posix()
    return "/" if text in ("", ".") else "/" + text


def record(
    ctx: CollectContext,
    collector: str,
    location: str,
    kind: RecordKind,
    name: str,
    *,
    version: str | None = None,
    publisher: str | None = None,
    path: str | None = None,
    bundle_id: str | None = None,
    extra: tuple[tuple[str, str], ...] = (),
) -> InventoryRecord:
    """An InventoryRecord for ctx.host."""
    return InventoryRecord(
        host=ctx.host,
        source=Source(collector, location),
        kind=kind,
        name=name,
        version=version,
        publisher=publisher,
        path=path,
        bundle_id=bundle_id,
        extra=extra,
    )


def link_text(ctx: CollectContext, path: Path) -> str | None:
    """What a symlink says (without following it), or None if `path` is not a link.

    The parent is resolved inside the root first, so no host path is ever consulted.
    """
    parent = fs.resolve(ctx, path.parent)
    if parent is None:
        return None
    try:
        return os.readlink(parent / path.name)
    except OSError:
        return None


def unique_dirs(ctx: CollectContext, rels: tuple[str, ...]) -> list[Path]:
    """The existing directories among `rels`, each real directory once (merged /usr and
    compatibility links would otherwise list the same files twice)."""
    seen: set[Path] = set()
    out: list[Path] = []
    for rel in rels:
        shown = ctx.path(rel)
        real = fs.resolve(ctx, shown)
        if real is None or real in seen or not fs.is_dir(ctx, shown):
            continue
        seen.add(real)
        out.append(shown)
    return out
