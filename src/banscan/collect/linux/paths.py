"""Install folders: the top folders of /opt, /etc and /var/opt, and two levels of the
add-on trees (/opt/<vendor>/<product>). Weak evidence on their own; a folder often
outlives an uninstall, which is why it is worth reporting. No deep walk."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from banscan.collect import fs
from banscan.collect.base import OS, CollectContext
from banscan.collect.linux._common import inside, record
from banscan.models import InventoryRecord, RecordKind

# folder inside the root → how many levels of sub-folders to list
TREES = (("opt", 2), ("var/opt", 2), ("etc/opt", 2), ("etc", 1))


class PathsCollector:
    """PATH records for folders (not files) in the add-on software trees."""

    name: ClassVar[str] = "paths"
    os: ClassVar[tuple[OS, ...]] = ("linux",)
    live_only: ClassVar[bool] = False
    reads: ClassVar[tuple[str, ...]] = tuple(
        p for rel, depth in TREES for p in (rel, *(rel + "/*" * (n + 1) + "/" for n in range(depth)))
    )

    def collect(self, ctx: CollectContext) -> Iterator[InventoryRecord]:
        seen: set[str] = set()
        for rel, depth in TREES:
            level = [ctx.path(rel)]
            for _ in range(depth):
                found = [d for parent in level for d in fs.list_dir(ctx, parent) if fs.is_dir(ctx, d)]
                for folder in found:
                    shown = inside(ctx, folder)
                    if shown not in seen:
                        seen.add(shown)
                        yield record(ctx, "paths", shown, RecordKind.PATH, folder.name, path=shown)
                level = found
