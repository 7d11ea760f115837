"""The hardware UUID (IOPlatformUUID) of a Mac, so an agent enrols each Mac as its own host.

Live, `ioreg` reports it. A mounted root has no IORegistry, but macOS names per-machine
("ByHost") preference files after the same UUID: `Library/Preferences/ByHost/<domain>.<UUID>.plist`,
system-wide and in each user's Library. The UUID naming most of those files is taken (a home
folder migrated from an older Mac may keep a few files named after that Mac's UUID).
"""

from __future__ import annotations

import re
import subprocess
from collections import Counter
from pathlib import Path

from banscan.collect.base import CollectContext
from banscan.collect.macos._common import list_entries, user_homes

BYHOST = ("Library", "Preferences", "ByHost")
_BYHOST_FILE = re.compile(
    r"^.+\.([0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})\.plist$"
)


def _byhost_folders(ctx: CollectContext) -> list[Path]:
    return [ctx.path(*BYHOST)] + [home.joinpath(*BYHOST) for _, home in user_homes(ctx)]


def platform_uuid(ctx: CollectContext) -> str | None:
    """The Mac's IOPlatformUUID (upper case, as macOS shows it); None if it cannot be found."""
    if ctx.live:
        return _ioreg_uuid()
    seen: Counter[str] = Counter()
    for folder in _byhost_folders(ctx):
        for entry in list_entries(ctx, folder):
            m = _BYHOST_FILE.match(entry.name)
            if m:
                seen[m.group(1).upper()] += 1
    if not seen:
        return None
    return min(seen, key=lambda uuid: (-seen[uuid], uuid))


def _ioreg_uuid() -> str | None:  # pragma: no cover - macOS only
    try:
        out = subprocess.run(
            ["/usr/sbin/ioreg", "-rd1", "-c", "IOPlatformExpertDevice"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for line in out.splitlines():
        if "IOPlatformUUID" in line:
            return line.split("=")[-1].strip().strip('"') or None
    return None
