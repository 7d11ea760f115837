"""Snap packages, from the folders and package files snapd leaves on disk.

`/snap/<name>/` mount points and `/var/lib/snapd/snaps/<name>_<revision>.snap` files exist
whether or not the image is booted, so they are read instead of snapd's state.json (large,
and its layout changes between snapd releases).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import ClassVar

from banscan.collect import fs
from banscan.collect.base import OS, CollectContext
from banscan.collect.linux._common import inside, record
from banscan.models import InventoryRecord, RecordKind

_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*(?:_[a-z0-9]{1,10})?$")
_SNAP_FILE = re.compile(r"^(?P<name>[a-z0-9][a-z0-9-]*(?:_[a-z0-9]{1,10})?)_(?P<rev>x?\d+)\.snap$")
_VERSION = re.compile(r"^version:[ \t]*['\"]?([^'\"\n]+?)['\"]?[ \t]*$", re.MULTILINE)
_NOT_SNAPS = frozenset({"bin", "README"})


@dataclass
class _Snap:
    location: str
    revisions: set[str] = field(default_factory=set)
    current: str | None = None
    version: str | None = None


class SnapCollector:
    """One record per installed snap name."""

    name: ClassVar[str] = "snap"
    os: ClassVar[tuple[OS, ...]] = ("linux",)
    live_only: ClassVar[bool] = False
    reads: ClassVar[tuple[str, ...]] = (
        "snap/*/",
        "snap/*/*",  # revisions, and `current` linking to one
        "snap/*/*/meta/snap.yaml",
        "var/lib/snapd/snaps/*.snap",
    )

    def collect(self, ctx: CollectContext) -> Iterator[InventoryRecord]:
        snaps: dict[str, _Snap] = {}
        for entry in fs.list_dir(ctx, ctx.path("snap")):
            if entry.name in _NOT_SNAPS or not _NAME.match(entry.name) or not fs.is_dir(ctx, entry):
                continue
            snap = snaps.setdefault(entry.name, _Snap(inside(ctx, entry)))
            snap.revisions.update(p.name for p in fs.list_dir(ctx, entry) if re.fullmatch(r"x?\d+", p.name))
            current = fs.resolve(ctx, entry / "current")
            if current is not None and re.fullmatch(r"x?\d+", current.name):
                snap.current = current.name
            meta = fs.read_text(ctx, entry / "current" / "meta" / "snap.yaml", limit=1 << 20)
            m = _VERSION.search(meta) if meta else None
            if m:
                snap.version = m.group(1).strip()
        for entry in fs.list_dir(ctx, ctx.path("var/lib/snapd/snaps")):
            fm = _SNAP_FILE.match(entry.name)
            if fm is None:
                continue
            snap = snaps.setdefault(fm.group("name"), _Snap(inside(ctx, entry)))
            snap.revisions.add(fm.group("rev"))
        for name, snap in sorted(snaps.items()):
            extra = [("manager", "snap")]
            revision = snap.current or max(snap.revisions, key=_rev_key, default=None)
            if revision:
                extra.append(("revision", revision))
            yield record(
                ctx, "snap", snap.location, RecordKind.PACKAGE, name, version=snap.version, extra=tuple(extra)
            )


def _rev_key(rev: str) -> tuple[int, int]:
    """Order revisions numerically; local ("x1") revisions sort after store ones."""
    return (1, int(rev[1:])) if rev.startswith("x") else (0, int(rev))
