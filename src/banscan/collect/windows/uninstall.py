"""Installed applications from the Add/Remove Programs (Uninstall) keys.

Machine-wide entries live in SOFTWARE (native and WOW6432Node for 32-bit installers),
per-user installs in each NTUSER.DAT. The record builder is shared with the `.reg` reader
so an exported key and a hive key produce the same record.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import ClassVar

from banscan.collect.base import OS, CollectContext
from banscan.collect.windows.hives import open_view
from banscan.collect.windows.view import HiveKind, RegValue, children, find, text, values_of
from banscan.models import InventoryRecord, RecordKind, Source

MACHINE_PATHS = (
    r"Microsoft\Windows\CurrentVersion\Uninstall",
    r"WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall",
)
USER_PATH = r"Software\Microsoft\Windows\CurrentVersion\Uninstall"
GUID = re.compile(r"^\{[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}$")


def app_record(
    host: str,
    source: Source,
    key: str,
    values: Mapping[str, RegValue],
    user: str | None = None,
) -> InventoryRecord | None:
    """An APP record for one Uninstall subkey; None when it has no DisplayName (not a listed app)."""
    name = text(values.get("DisplayName"))
    if name is None:
        return None
    extra: list[tuple[str, str]] = []
    for field, value_name in (("uninstall_string", "UninstallString"), ("install_date", "InstallDate")):
        value = text(values.get(value_name))
        if value:
            extra.append((field, value))
    extra.append(("key", key))
    leaf = key.rsplit("\\", 1)[-1]
    if GUID.match(leaf):
        extra.append(("product_code", leaf.upper()))
    if user:
        extra.append(("user", user))
    return InventoryRecord(
        host=host,
        source=source,
        kind=RecordKind.APP,
        name=name,
        version=text(values.get("DisplayVersion")),
        publisher=text(values.get("Publisher")),
        path=text(values.get("InstallLocation")),
        extra=tuple(extra),
    )


class UninstallCollector:
    name: ClassVar[str] = "windows-uninstall"
    os: ClassVar[tuple[OS, ...]] = ("windows",)
    live_only: ClassVar[bool] = False
    reads: ClassVar[tuple[str, ...]] = (
        "Windows/System32/config",
        "Windows/System32/config/SOFTWARE",
        "Users/*/",
        "Users/*/NTUSER.DAT",
    )

    def collect(self, ctx: CollectContext) -> Iterator[InventoryRecord]:
        view = open_view(ctx)
        places: tuple[tuple[HiveKind, tuple[str, ...]], ...] = (
            ("software", MACHINE_PATHS),
            ("user", (USER_PATH,)),
        )
        for kind, paths in places:
            for hive in view.hives(kind):
                for path in paths:
                    for sub in children(ctx, hive, find(ctx, hive, path)):
                        values = values_of(ctx, hive, sub)
                        if values is None:
                            continue
                        rel = f"{path}\\{sub.name}"
                        rec = app_record(
                            ctx.host,
                            Source(self.name, hive.source(rel)),
                            hive.key_path(rel),
                            values,
                            hive.user,
                        )
                        if rec is not None:
                            yield rec
