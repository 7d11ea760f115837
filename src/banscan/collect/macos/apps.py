"""Application bundles (*.app) and what their Contents/Info.plist says about them.

Looks in /Applications (and one level of folders inside it), ~/Applications for every user,
and a bounded depth of /Library/Application Support, where vendors keep helper apps.
/System/Applications holds only Apple's own apps and is skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from banscan.collect.base import OS, CollectContext
from banscan.collect.macos._common import (
    BUNDLE_SUFFIXES,
    extras,
    first_text,
    list_entries,
    load_plist_dict,
    publisher_from_copyright,
    real_dir,
    sys_path,
    text,
    user_homes,
)
from banscan.models import InventoryRecord, RecordKind, Source

MAX_APPS = 20000


def find_apps(ctx: CollectContext, top: Path, depth: int, seen: set[Path]) -> Iterator[Path]:
    """*.app folders directly in `top`, and in plain folders up to `depth` levels below it."""
    for entry in list_entries(ctx, top):
        real = real_dir(ctx, entry)
        if real is None:
            continue
        lower = entry.name.lower()
        if lower.endswith(".app"):
            if real not in seen and len(seen) < MAX_APPS:
                seen.add(real)
                yield entry
        elif depth > 0 and not lower.endswith(BUNDLE_SUFFIXES):
            yield from find_apps(ctx, entry, depth - 1, seen)


def app_record(ctx: CollectContext, collector: str, app: Path, user: str | None = None) -> InventoryRecord:
    """One APP record for a bundle; a missing or bad Info.plist leaves only the folder name."""
    info_path = app / "Contents" / "Info.plist"
    info = load_plist_dict(ctx, info_path) or {}
    stem = app.name[: -len(".app")] if app.name.lower().endswith(".app") else app.name
    name = first_text(info, "CFBundleDisplayName", "CFBundleName") or stem
    short_version = text(info.get("CFBundleShortVersionString"))
    bundle_version = text(info.get("CFBundleVersion"))
    copyright_text = text(info.get("NSHumanReadableCopyright"))
    location = sys_path(ctx, info_path) if info else sys_path(ctx, app)
    return InventoryRecord(
        host=ctx.host,
        source=Source(collector, location),
        kind=RecordKind.APP,
        name=name,
        version=short_version or bundle_version,
        publisher=publisher_from_copyright(copyright_text),
        path=sys_path(ctx, app),
        bundle_id=text(info.get("CFBundleIdentifier")),
        extra=extras(
            {
                "file_name": app.name,
                "bundle_version": bundle_version if bundle_version != short_version else None,
                "copyright": copyright_text,
                "get_info_string": text(info.get("CFBundleGetInfoString")),
                "executable": info.get("CFBundleExecutable"),
                "user": user,
            }
        ),
    )


class MacApps:
    name: ClassVar[str] = "macos-apps"
    os: ClassVar[tuple[OS, ...]] = ("macos",)
    live_only: ClassVar[bool] = False
    reads: ClassVar[tuple[str, ...]] = (
        "Users/*/",
        *(
            f"{top}{'/*' * level}/{rel}"
            for top, depth in (
                ("Applications", 1),
                ("Library/Application Support", 3),
                ("Users/*/Applications", 1),
            )
            for level in range(depth + 1)  # the folders find_apps lists, as collect() searches them
            for rel in (
                "*/",
                "*.app/Contents/Info.plist",
                "*.app/Contents/Library/LoginItems/*.app/",
                "*.app/Contents/Library/LoginItems/*.app/Contents/Info.plist",
            )
        ),
    )

    def collect(self, ctx: CollectContext) -> Iterator[InventoryRecord]:
        seen: set[Path] = set()
        places: list[tuple[Path, int, str | None]] = [
            (ctx.path("Applications"), 1, None),
            (ctx.path("Library", "Application Support"), 3, None),
        ]
        for home_user, home in user_homes(ctx):
            places.append((home / "Applications", 1, home_user))
        for top, depth, user in places:
            for app in find_apps(ctx, top, depth, seen):
                yield app_record(ctx, self.name, app, user)
                # Login items (menu-bar agents) live inside the main bundle.
                login_items = app / "Contents" / "Library" / "LoginItems"
                for helper in find_apps(ctx, login_items, 0, seen):
                    yield app_record(ctx, self.name, helper, user)
