"""Vendor folders under Application Support: what is left behind even after an app is removed.

Lists /Library/Application Support/* and /Library/Application Support/*/* (e.g.
"/Library/Application Support/Kaspersky Lab/KAV"), and the first level of each user's
~/Library/Application Support. Folder names only; nothing is read or walked deeper.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from banscan.collect.base import OS, CollectContext
from banscan.collect.macos._common import (
    BUNDLE_SUFFIXES,
    extras,
    list_entries,
    real_dir,
    sys_path,
    user_homes,
)
from banscan.models import InventoryRecord, RecordKind, Source


class MacSupportFolders:
    name: ClassVar[str] = "macos-support-folders"
    os: ClassVar[tuple[OS, ...]] = ("macos",)
    live_only: ClassVar[bool] = False
    reads: ClassVar[tuple[str, ...]] = (
        "Library/Application Support/*/",
        "Library/Application Support/*/*/",
        "Users/*/",
        "Users/*/Library/Application Support/*/",
    )

    def collect(self, ctx: CollectContext) -> Iterator[InventoryRecord]:
        places: list[tuple[Path, int, str | None]] = [(ctx.path("Library", "Application Support"), 2, None)]
        for home_user, home in user_homes(ctx):
            places.append((home / "Library" / "Application Support", 1, home_user))
        for top, depth, user in places:
            yield from self._folders(ctx, top, depth, user)

    def _folders(
        self, ctx: CollectContext, top: Path, depth: int, user: str | None
    ) -> Iterator[InventoryRecord]:
        for entry in list_entries(ctx, top):
            if real_dir(ctx, entry) is None:
                continue
            shown = sys_path(ctx, entry)
            yield InventoryRecord(
                host=ctx.host,
                source=Source(self.name, shown),
                kind=RecordKind.PATH,
                name=entry.name,
                path=shown,
                extra=extras({"user": user}),
            )
            if depth > 1 and not entry.name.lower().endswith(BUNDLE_SUFFIXES):
                yield from self._folders(ctx, entry, depth - 1, user)
