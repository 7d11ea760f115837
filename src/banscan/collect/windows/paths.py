"""Install folders: vendor folders under Program Files and ProgramData, and their products.

Folders often remain after an uninstall, so they are reported as PATH records in the form
the user would recognise (`C:\\Program Files (x86)\\Vendor\\Product`), two levels deep.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path, PureWindowsPath
from typing import ClassVar

from banscan.collect import fs
from banscan.collect.base import OS, CollectContext
from banscan.collect.windows.offline import ci_child
from banscan.models import InventoryRecord, RecordKind, Source

TOPS = ("Program Files", "Program Files (x86)", "ProgramData")


def windows_path(ctx: CollectContext, path: Path) -> str:
    """`C:\\...` for a path inside the root (live roots are already Windows paths)."""
    if ctx.live and PureWindowsPath(str(ctx.root)).drive:
        return str(PureWindowsPath(str(path)))
    rel = path.relative_to(ctx.root)
    return str(PureWindowsPath("C:\\", *rel.parts))


class ProgramFoldersCollector:
    name: ClassVar[str] = "windows-program-folders"
    os: ClassVar[tuple[OS, ...]] = ("windows",)
    live_only: ClassVar[bool] = False
    reads: ClassVar[tuple[str, ...]] = tuple(p for top in TOPS for p in (f"{top}/*/", f"{top}/*/*/"))

    def collect(self, ctx: CollectContext) -> Iterator[InventoryRecord]:
        for top_name in TOPS:
            top = ci_child(ctx, ctx.root, top_name)
            if top is None:
                continue
            for vendor in self._dirs(ctx, top):
                yield self._record(ctx, vendor, None)
                for product in self._dirs(ctx, vendor):
                    yield self._record(ctx, product, vendor.name)

    @staticmethod
    def _dirs(ctx: CollectContext, parent: Path) -> Iterator[Path]:
        for entry in fs.list_dir(ctx, parent):
            if not entry.is_symlink() and fs.is_dir(ctx, entry):
                yield entry

    def _record(self, ctx: CollectContext, path: Path, parent: str | None) -> InventoryRecord:
        shown = windows_path(ctx, path)
        return InventoryRecord(
            host=ctx.host,
            source=Source(self.name, shown),
            kind=RecordKind.PATH,
            name=path.name,
            path=shown,
            extra=(("parent", parent),) if parent else (),
        )
