"""System extensions and kernel extensions (kexts).

System extensions: /Library/SystemExtensions/db.plist, the system's register of every
extension with its identifier, developer Team ID, version and state; and the staged
bundles /Library/SystemExtensions/<uuid>/*.systemextension/Contents/Info.plist.

Kernel extensions: /Library/Extensions/*.kext, /Library/StagedExtensions/Library/Extensions
and /System/Library/Extensions (there only bundles whose id is not com.apple.*).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

from banscan.collect.base import OS, CollectContext
from banscan.collect.macos._common import (
    extras,
    first_text,
    list_entries,
    load_plist_dict,
    real_dir,
    sys_path,
    text,
)
from banscan.models import InventoryRecord, RecordKind, Source


def _staged_path(entry: dict[str, Any]) -> str | None:
    """Where the system keeps the staged copy (stagedBundleURL), else where it came from."""
    url = entry.get("stagedBundleURL")
    if isinstance(url, dict):
        url = url.get("relative")
    url_text = text(url)
    if url_text is not None:
        parts = urlsplit(url_text)
        if parts.scheme in ("file", ""):
            return unquote(parts.path).rstrip("/") or None
    return text(entry.get("originPath"))


class MacExtensions:
    name: ClassVar[str] = "macos-extensions"
    os: ClassVar[tuple[OS, ...]] = ("macos",)
    live_only: ClassVar[bool] = False
    reads: ClassVar[tuple[str, ...]] = (
        "Library/SystemExtensions/db.plist",
        "Library/SystemExtensions/*/",
        *(
            f"{bundles}{rel}"
            for bundles in (
                "Library/SystemExtensions/*/*.systemextension",
                "Library/Extensions/*.kext",
                "Library/StagedExtensions/Library/Extensions/*.kext",
                "System/Library/Extensions/*.kext",
            )
            for rel in ("/", "/Contents/", "/Contents/Info.plist", "/Info.plist")
        ),
    )

    def collect(self, ctx: CollectContext) -> Iterator[InventoryRecord]:
        team_ids: dict[str, str] = {}
        seen: set[tuple[str, str | None]] = set()
        yield from self._db(ctx, team_ids, seen)
        yield from self._staged_sysexts(ctx, team_ids, seen)
        for parts, apple_filter in (
            (("Library", "Extensions"), False),
            (("Library", "StagedExtensions", "Library", "Extensions"), False),
            (("System", "Library", "Extensions"), True),
        ):
            yield from self._kexts(ctx, ctx.path(*parts), apple_filter)

    def _db(
        self, ctx: CollectContext, team_ids: dict[str, str], seen: set[tuple[str, str | None]]
    ) -> Iterator[InventoryRecord]:
        path = ctx.path("Library", "SystemExtensions", "db.plist")
        db = load_plist_dict(ctx, path)
        if db is None:
            return
        entries = db.get("extensions")
        if not isinstance(entries, list):
            if entries is not None:
                ctx.errors.report(path, "extensions", "not an array; skipped")
            return
        for index, entry in enumerate(entries):
            if not isinstance(entry, dict):
                ctx.errors.report(path, f"extensions[{index}]", "not a dictionary; skipped")
                continue
            identifier = text(entry.get("identifier"))
            if identifier is None:
                ctx.errors.report(path, f"extensions[{index}]", "no identifier; skipped")
                continue
            team_id = text(entry.get("teamID"))
            if team_id:
                team_ids.setdefault(identifier, team_id)
            versions = entry.get("bundleVersion")
            versions = versions if isinstance(versions, dict) else {}
            version = first_text(versions, "CFBundleShortVersionString", "CFBundleVersion")
            seen.add((identifier, version))
            container = entry.get("container")
            container_path = text(container.get("bundlePath")) if isinstance(container, dict) else None
            categories = entry.get("categories")
            category_text = (
                ",".join(c for c in categories if isinstance(c, str))
                if isinstance(categories, list)
                else None
            )
            yield InventoryRecord(
                host=ctx.host,
                source=Source(self.name, f"{sys_path(ctx, path)}:extensions[{index}]"),
                kind=RecordKind.DRIVER,
                name=identifier,
                version=version,
                path=_staged_path(entry),
                bundle_id=identifier,
                team_id=team_id,
                extra=extras(
                    {
                        "type": "system-extension",
                        "state": entry.get("state"),
                        "categories": category_text or None,
                        "container": container_path,
                        "origin_path": entry.get("originPath"),
                    }
                ),
            )

    def _staged_sysexts(
        self, ctx: CollectContext, team_ids: dict[str, str], seen: set[tuple[str, str | None]]
    ) -> Iterator[InventoryRecord]:
        for folder in list_entries(ctx, ctx.path("Library", "SystemExtensions")):
            if real_dir(ctx, folder) is None:
                continue
            for bundle in list_entries(ctx, folder):
                if not bundle.name.lower().endswith(".systemextension") or real_dir(ctx, bundle) is None:
                    continue
                record = self._bundle(ctx, bundle, "system-extension", team_ids)
                if (record.bundle_id or record.name, record.version) not in seen:
                    yield record

    def _kexts(self, ctx: CollectContext, folder: Path, apple_filter: bool) -> Iterator[InventoryRecord]:
        for bundle in list_entries(ctx, folder):
            if not bundle.name.lower().endswith(".kext") or real_dir(ctx, bundle) is None:
                continue
            record = self._bundle(ctx, bundle, "kext", {})
            if apple_filter and (record.bundle_id or "").lower().startswith("com.apple."):
                continue
            yield record

    def _bundle(
        self, ctx: CollectContext, bundle: Path, kind: str, team_ids: dict[str, str]
    ) -> InventoryRecord:
        info_path = bundle / "Contents" / "Info.plist"
        if real_dir(ctx, bundle / "Contents") is None:
            info_path = bundle / "Info.plist"  # some old kexts keep it at the bundle top
        info = load_plist_dict(ctx, info_path) or {}
        bundle_id = text(info.get("CFBundleIdentifier"))
        stem = bundle.name.rsplit(".", 1)[0]
        return InventoryRecord(
            host=ctx.host,
            source=Source(self.name, sys_path(ctx, info_path if info else bundle)),
            kind=RecordKind.DRIVER,
            name=first_text(info, "CFBundleDisplayName", "CFBundleName") or bundle_id or stem,
            version=first_text(info, "CFBundleShortVersionString", "CFBundleVersion"),
            path=sys_path(ctx, bundle),
            bundle_id=bundle_id,
            team_id=team_ids.get(bundle_id) if bundle_id else None,
            extra=extras({"type": kind, "file_name": bundle.name}),
        )
