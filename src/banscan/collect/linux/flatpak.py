"""Flatpak applications, system-wide and per user, from flatpak's install folders.

An installed app is a folder named by its application id; that is all flatpak itself
needs to list it, so no metadata file has to be trusted or parsed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from banscan.collect import fs
from banscan.collect.base import OS, CollectContext
from banscan.collect.linux._common import inside, record
from banscan.models import InventoryRecord, RecordKind

_APP_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)+$")


def install_dirs(ctx: CollectContext) -> Iterator[tuple[Path, tuple[tuple[str, str], ...]]]:
    """(flatpak folder, scope extras): the system one, then each user's."""
    yield ctx.path("var/lib/flatpak"), (("scope", "system"),)
    yield ctx.path("root/.local/share/flatpak"), (("scope", "user"), ("user", "root"))
    for home in fs.list_dir(ctx, ctx.path("home")):
        yield home / ".local/share/flatpak", (("scope", "user"), ("user", home.name))


class FlatpakCollector:
    """One record per installed flatpak application and installation."""

    name: ClassVar[str] = "flatpak"
    os: ClassVar[tuple[OS, ...]] = ("linux",)
    live_only: ClassVar[bool] = False
    reads: ClassVar[tuple[str, ...]] = (
        "home/*/",
        *(
            f"{base}/app/{p}"
            for base in ("var/lib/flatpak", "root/.local/share/flatpak", "home/*/.local/share/flatpak")
            for p in ("*/", "*/current", "*/*/*/")  # `current` links to <arch>/<branch>
        ),
    )

    def collect(self, ctx: CollectContext) -> Iterator[InventoryRecord]:
        for base, scope in install_dirs(ctx):
            for app in fs.list_dir(ctx, base / "app"):
                if not _APP_ID.match(app.name) or not fs.is_dir(ctx, app):
                    continue
                extra = [("manager", "flatpak"), *scope]
                current = fs.resolve(ctx, app / "current")
                if current is not None:
                    extra += [("arch", current.parent.name), ("branch", current.name)]
                yield record(
                    ctx,
                    "flatpak",
                    inside(ctx, app),
                    RecordKind.PACKAGE,
                    app.name,
                    bundle_id=app.name,
                    extra=tuple(extra),
                )
