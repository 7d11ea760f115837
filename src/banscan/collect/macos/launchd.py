"""launchd jobs: /Library/LaunchDaemons, /Library/LaunchAgents and ~/Library/LaunchAgents.

Each job plist gives a Label (the job's name, usually a reverse-DNS id such as
com.kaspersky.kav) and the program it starts (Program, or ProgramArguments[0]).
/System/Library holds only Apple's jobs and is skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from banscan.collect.base import OS, CollectContext
from banscan.collect.macos._common import (
    extras,
    list_entries,
    load_plist_dict,
    sys_path,
    text,
    user_homes,
)
from banscan.models import InventoryRecord, RecordKind, Source

MAX_ARGS_CHARS = 1000


class MacLaunchd:
    name: ClassVar[str] = "macos-launchd"
    os: ClassVar[tuple[OS, ...]] = ("macos",)
    live_only: ClassVar[bool] = False
    reads: ClassVar[tuple[str, ...]] = (
        "Library/LaunchDaemons/*.plist",
        "Library/LaunchAgents/*.plist",
        "Users/*/",
        "Users/*/Library/LaunchAgents/*.plist",
    )

    def collect(self, ctx: CollectContext) -> Iterator[InventoryRecord]:
        places: list[tuple[Path, str, str | None]] = [
            (ctx.path("Library", "LaunchDaemons"), "daemon", None),
            (ctx.path("Library", "LaunchAgents"), "agent", None),
        ]
        for home_user, home in user_homes(ctx):
            places.append((home / "Library" / "LaunchAgents", "agent", home_user))
        for folder, scope, user in places:
            for entry in list_entries(ctx, folder):
                if entry.name.lower().endswith(".plist"):
                    record = self._job(ctx, entry, scope, user)
                    if record is not None:
                        yield record

    def _job(self, ctx: CollectContext, path: Path, scope: str, user: str | None) -> InventoryRecord | None:
        job = load_plist_dict(ctx, path)
        if job is None:
            return None
        label = text(job.get("Label"))
        raw_args = job.get("ProgramArguments")
        args = [a for a in raw_args if isinstance(a, str)] if isinstance(raw_args, list) else []
        program = text(job.get("Program")) or (text(args[0]) if args else None)
        arguments = " ".join(args[1:])[:MAX_ARGS_CHARS] if len(args) > 1 else None
        mach = job.get("MachServices")
        mach_names = (
            ",".join(sorted(k for k in mach if isinstance(k, str))) if isinstance(mach, dict) else None
        )
        return InventoryRecord(
            host=ctx.host,
            source=Source(self.name, sys_path(ctx, path)),
            kind=RecordKind.SERVICE,
            name=label or path.name[: -len(".plist")],
            path=program,
            bundle_id=label,
            extra=extras(
                {
                    "scope": scope,
                    "plist": path.name,
                    "arguments": arguments,
                    "mach_services": mach_names or None,
                    "disabled": job.get("Disabled") if isinstance(job.get("Disabled"), bool) else None,
                    "run_at_load": job.get("RunAtLoad") if isinstance(job.get("RunAtLoad"), bool) else None,
                    "user": user,
                }
            ),
        )
