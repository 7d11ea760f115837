"""Running processes (live Windows only): a product that is running is certainly installed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from banscan.collect.base import OS, CollectContext
from banscan.models import InventoryRecord, RecordKind, Source


class ProcessesCollector:
    name: ClassVar[str] = "windows-processes"
    os: ClassVar[tuple[OS, ...]] = ("windows",)
    live_only: ClassVar[bool] = True
    reads: ClassVar[tuple[str, ...]] = ()  # the running system only

    def collect(self, ctx: CollectContext) -> Iterator[InventoryRecord]:
        if not ctx.live:
            return
        import psutil

        for proc in psutil.process_iter(["pid", "name", "exe"]):
            info = proc.info
            name = info.get("name")
            if not name:
                continue
            yield InventoryRecord(
                host=ctx.host,
                source=Source(self.name, f"pid:{info['pid']}"),
                kind=RecordKind.PROCESS,
                name=str(name),
                path=str(info["exe"]) if info.get("exe") else None,
                extra=(("pid", str(info["pid"])),),
            )
