"""Running processes (live scans only): the strongest sign a product is active right now."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

import psutil  # type: ignore[import-untyped]

from banscan.collect.base import OS, CollectContext
from banscan.collect.linux._common import record
from banscan.models import InventoryRecord, RecordKind


class ProcessCollector:
    """One record per distinct (name, executable); a process we may not inspect keeps its name."""

    name: ClassVar[str] = "process"
    os: ClassVar[tuple[OS, ...]] = ("linux",)
    live_only: ClassVar[bool] = True
    reads: ClassVar[tuple[str, ...]] = ()  # the running system only

    def collect(self, ctx: CollectContext) -> Iterator[InventoryRecord]:
        seen: dict[tuple[str, str | None], list[int]] = {}
        for proc in psutil.process_iter(["pid", "name", "exe"], ad_value=None):
            try:
                info = proc.info
            except psutil.Error:
                continue
            name = info.get("name")
            if not isinstance(name, str) or not name:
                continue
            exe = info.get("exe")
            seen.setdefault((name, exe if isinstance(exe, str) and exe else None), []).append(
                int(info["pid"])
            )
        for (name, exe), pids in sorted(seen.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
            extra = [("pid", str(min(pids)))]
            if len(pids) > 1:
                extra.append(("count", str(len(pids))))
            yield record(
                ctx, "process", f"pid:{min(pids)}", RecordKind.PROCESS, name, path=exe, extra=tuple(extra)
            )
