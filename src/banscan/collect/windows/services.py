"""Services and drivers registered in the SYSTEM hive's current control set.

A driver that is registered but never started still shows a product was installed, so
every `Services\\*` key with a service or driver Type is reported, whatever its Start value.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from banscan.collect.base import OS, CollectContext
from banscan.collect.windows.hives import open_view
from banscan.collect.windows.view import children, current_control_set, find, text, values_of
from banscan.models import InventoryRecord, RecordKind, Source

DRIVER_TYPES = frozenset({0x1, 0x2, 0x8})  # kernel, file-system, recogniser driver
SERVICE_MASK = 0x30  # own-process / shared-process bits (also set for user-service templates)
START = {0: "boot", 1: "system", 2: "auto", 3: "demand", 4: "disabled"}


def image_file(image_path: str | None) -> str | None:
    """The executable of an ImagePath: without quotes, arguments or the NT `\\??\\` prefix."""
    if not image_path:
        return None
    value = image_path.strip()
    if value.startswith('"'):
        end = value.find('"', 1)
        value = value[1:end] if end > 0 else value[1:]
    else:
        lower = value.lower()
        for ext in (".exe", ".sys", ".dll"):
            at = lower.find(ext + " ")
            if at > 0:
                value = value[: at + len(ext)]
                break
    if value.startswith("\\??\\"):
        value = value[4:]
    return value or None


def kind_for(type_value: object) -> RecordKind | None:
    if not isinstance(type_value, int):
        return None
    if type_value in DRIVER_TYPES:
        return RecordKind.DRIVER
    if type_value & SERVICE_MASK:
        return RecordKind.SERVICE
    return None


class ServicesCollector:
    name: ClassVar[str] = "windows-services"
    os: ClassVar[tuple[OS, ...]] = ("windows",)
    live_only: ClassVar[bool] = False
    reads: ClassVar[tuple[str, ...]] = ("Windows/System32/config", "Windows/System32/config/SYSTEM")

    def collect(self, ctx: CollectContext) -> Iterator[InventoryRecord]:
        for hive in open_view(ctx).hives("system"):
            base = f"{current_control_set(ctx, hive)}\\Services"
            for sub in children(ctx, hive, find(ctx, hive, base)):
                values = values_of(ctx, hive, sub)
                if values is None:
                    continue
                kind = kind_for(values.get("Type"))
                if kind is None:
                    continue
                rel = f"{base}\\{sub.name}"
                extra: list[tuple[str, str]] = []
                display = text(values.get("DisplayName"))
                if display:
                    extra.append(("display_name", display))
                start = values.get("Start")
                if isinstance(start, int):
                    extra.append(("start", START.get(start, str(start))))
                group = text(values.get("Group"))
                if group:
                    extra.append(("group", group))
                image = text(values.get("ImagePath"))
                if image:
                    extra.append(("image_path", image))
                extra.append(("key", hive.key_path(rel)))
                yield InventoryRecord(
                    host=ctx.host,
                    source=Source(self.name, hive.source(rel)),
                    kind=kind,
                    name=sub.name,
                    path=image_file(text(values.get("ImagePath"))),
                    extra=tuple(extra),
                )
