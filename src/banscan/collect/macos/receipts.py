"""Installer receipts: what `pkgutil --pkgs` would list, and the installer's own history.

Reads /private/var/db/receipts/*.plist (one per package identifier), old-style
/Library/Receipts/*.pkg bundles, and /Library/Receipts/InstallHistory.plist (one entry per
install: displayName, displayVersion, packageIdentifiers, date, processName).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from banscan.collect.base import OS, CollectContext
from banscan.collect.macos._common import (
    extras,
    first_text,
    list_entries,
    load_plist,
    load_plist_dict,
    real_dir,
    sys_path,
    text,
)
from banscan.models import InventoryRecord, RecordKind, Source

MAX_HISTORY = 50000


class MacReceipts:
    name: ClassVar[str] = "macos-receipts"
    os: ClassVar[tuple[OS, ...]] = ("macos",)
    live_only: ClassVar[bool] = False
    reads: ClassVar[tuple[str, ...]] = (
        "private/var/db/receipts",
        "private/var/db/receipts/*.plist",
        "var/db/receipts",
        "var/db/receipts/*.plist",
        "Library/Receipts/*.pkg/",
        "Library/Receipts/*.pkg/Contents/Info.plist",
        "Library/Receipts/InstallHistory.plist",
    )

    def collect(self, ctx: CollectContext) -> Iterator[InventoryRecord]:
        yield from self._package_receipts(ctx)
        yield from self._legacy_receipts(ctx)
        yield from self._install_history(ctx)

    def _package_receipts(self, ctx: CollectContext) -> Iterator[InventoryRecord]:
        folder = ctx.path("private", "var", "db", "receipts")
        if real_dir(ctx, folder) is None:
            folder = ctx.path("var", "db", "receipts")
        for entry in list_entries(ctx, folder):
            if not entry.name.lower().endswith(".plist"):
                continue  # the .bom beside each receipt lists files, not identity
            receipt = load_plist_dict(ctx, entry)
            if receipt is None:
                continue
            pkg_id = text(receipt.get("PackageIdentifier")) or entry.name[: -len(".plist")]
            yield InventoryRecord(
                host=ctx.host,
                source=Source(self.name, sys_path(ctx, entry)),
                kind=RecordKind.RECEIPT,
                name=pkg_id,
                version=text(receipt.get("PackageVersion")),
                bundle_id=pkg_id,
                path=sys_path(ctx, entry),
                extra=extras(
                    {
                        "install_date": receipt.get("InstallDate"),
                        "install_prefix": receipt.get("InstallPrefixPath"),
                        "process_name": receipt.get("InstallProcessName"),
                        "package_file": receipt.get("PackageFileName"),
                    }
                ),
            )

    def _legacy_receipts(self, ctx: CollectContext) -> Iterator[InventoryRecord]:
        for entry in list_entries(ctx, ctx.path("Library", "Receipts")):
            if not entry.name.lower().endswith(".pkg") or real_dir(ctx, entry) is None:
                continue
            info_path = entry / "Contents" / "Info.plist"
            info = load_plist_dict(ctx, info_path) or {}
            stem = entry.name[: -len(".pkg")]
            bundle_id = text(info.get("CFBundleIdentifier"))
            yield InventoryRecord(
                host=ctx.host,
                source=Source(self.name, sys_path(ctx, info_path if info else entry)),
                kind=RecordKind.RECEIPT,
                name=bundle_id or stem,
                version=first_text(info, "CFBundleShortVersionString", "CFBundleVersion"),
                bundle_id=bundle_id,
                path=sys_path(ctx, entry),
                extra=extras({"file_name": entry.name}),
            )

    def _install_history(self, ctx: CollectContext) -> Iterator[InventoryRecord]:
        path = ctx.path("Library", "Receipts", "InstallHistory.plist")
        history = load_plist(ctx, path)
        if history is None:
            return
        if not isinstance(history, list):
            ctx.errors.report(path, None, "invalid plist: top level is not an array of installs")
            return
        for index, entry in enumerate(history[:MAX_HISTORY]):
            if not isinstance(entry, dict):
                ctx.errors.report(path, f"[{index}]", "install entry is not a dictionary; skipped")
                continue
            record = self._history_record(ctx, path, index, entry)
            if record is not None:
                yield record

    def _history_record(
        self, ctx: CollectContext, path: Path, index: int, entry: dict[str, Any]
    ) -> InventoryRecord | None:
        raw_ids = entry.get("packageIdentifiers")
        pkg_ids: list[str] = []
        if isinstance(raw_ids, list):
            pkg_ids = [i.strip() for i in raw_ids if isinstance(i, str) and i.strip()]
        name = text(entry.get("displayName")) or (pkg_ids[0] if pkg_ids else None)
        if name is None:
            return None
        return InventoryRecord(
            host=ctx.host,
            source=Source(self.name, f"{sys_path(ctx, path)}[{index}]"),
            kind=RecordKind.RECEIPT,
            name=name,
            version=text(entry.get("displayVersion")),
            bundle_id=pkg_ids[0] if pkg_ids else None,
            extra=extras(
                {
                    "package_ids": ",".join(pkg_ids) or None,
                    "date": entry.get("date"),
                    "process_name": entry.get("processName"),
                }
            ),
        )
