"""systemd service units from the unit folders, with the binary each one starts.

Units are read from disk rather than asked of systemctl so an unbooted image is covered,
and a unit left behind after an uninstall (or masked to /dev/null) still shows up.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from typing import ClassVar

from banscan.collect import fs
from banscan.collect.base import OS, CollectContext
from banscan.collect.linux._common import inside, link_text, record, unique_dirs
from banscan.models import InventoryRecord, RecordKind

UNIT_DIRS = (
    "etc/systemd/system",
    "run/systemd/system",
    "usr/local/lib/systemd/system",
    "usr/lib/systemd/system",
    "lib/systemd/system",
)
_EXEC_PREFIXES = "-@:+!|"


def parse_unit(text: str) -> dict[str, str]:
    """First Description= and ExecStart= of a unit's [Unit]/[Service] sections."""
    out: dict[str, str] = {}
    section = ""
    pending = ""
    for raw in text.splitlines():
        line = pending + raw.strip()
        pending = ""
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
            continue
        key, sep, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not value:
            continue
        if section == "Unit" and key == "Description":
            out.setdefault("description", value)
        elif section == "Service" and key == "ExecStart":
            out.setdefault("exec", value)
    return out


def exec_binary(exec_start: str) -> str | None:
    """The program an ExecStart= line runs, without systemd's "-@:+!" prefixes."""
    value = exec_start.lstrip(_EXEC_PREFIXES).strip()
    try:
        words = shlex.split(value)
    except ValueError:
        words = value.split()
    return words[0] if words else None


class SystemdCollector:
    """Every *.service file in the system and vendor unit folders."""

    name: ClassVar[str] = "systemd"
    os: ClassVar[tuple[OS, ...]] = ("linux",)
    live_only: ClassVar[bool] = False
    reads: ClassVar[tuple[str, ...]] = tuple(p for d in UNIT_DIRS for p in (d, f"{d}/?*.service"))

    def collect(self, ctx: CollectContext) -> Iterator[InventoryRecord]:
        for folder in unique_dirs(ctx, UNIT_DIRS):
            for unit in fs.list_dir(ctx, folder):
                if not unit.name.endswith(".service") or len(unit.name) == len(".service"):
                    continue
                extra = [("manager", "systemd"), ("unit", unit.name)]
                binary = None
                if link_text(ctx, unit) == "/dev/null":
                    extra.append(("masked", "true"))
                elif fs.regular_file(ctx, unit) is not None:
                    text = fs.read_text(ctx, unit, limit=1 << 20)
                    fields = parse_unit(text) if text else {}
                    binary = exec_binary(fields["exec"]) if "exec" in fields else None
                    if "description" in fields:
                        extra.append(("description", fields["description"]))
                yield record(
                    ctx,
                    "systemd",
                    inside(ctx, unit),
                    RecordKind.SERVICE,
                    unit.name.removesuffix(".service"),
                    path=binary,
                    extra=tuple(extra),
                )
