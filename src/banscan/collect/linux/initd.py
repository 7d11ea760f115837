"""SysV init scripts in /etc/init.d, which older agents still install beside (or instead
of) a systemd unit. Only the names are used; the scripts are never read or run."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from banscan.collect import fs
from banscan.collect.base import OS, CollectContext
from banscan.collect.linux._common import inside, record
from banscan.models import InventoryRecord, RecordKind

_NOT_SERVICES = frozenset({"README", "skeleton", "functions"})


class InitdCollector:
    """One record per script in etc/init.d."""

    name: ClassVar[str] = "init.d"
    os: ClassVar[tuple[OS, ...]] = ("linux",)
    live_only: ClassVar[bool] = False
    reads: ClassVar[tuple[str, ...]] = ("etc/init.d", "etc/init.d/*")

    def collect(self, ctx: CollectContext) -> Iterator[InventoryRecord]:
        for script in fs.list_dir(ctx, ctx.path("etc/init.d")):
            if script.name in _NOT_SERVICES or script.name.startswith(".") or script.name.endswith("~"):
                continue
            if fs.regular_file(ctx, script) is None:
                continue
            yield record(
                ctx,
                "init.d",
                inside(ctx, script),
                RecordKind.SERVICE,
                script.name,
                path=inside(ctx, script),
                extra=(("manager", "sysv"),),
            )
