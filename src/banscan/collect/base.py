"""The collector interface: every source of inventory is a small plug-in yielding records.

A collector reads one kind of place (dpkg status, Uninstall keys, Info.plist files …) and
never decides what is banned. Problems with its input go to the context's error sink as one
line naming the file and place, and the collector carries on with the next item.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal, Protocol

from banscan.errors import ErrorSink
from banscan.models import InventoryRecord

OS = Literal["linux", "windows", "macos"]


@dataclass
class CollectContext:
    """What a collector needs to know about the system it reads.

    `root` is "/" (or "C:\\") for a live scan and the mount point for `--root`; collectors
    build every path with `path()` so the same code serves both.
    """

    root: Path
    os: OS
    host: str
    live: bool
    errors: ErrorSink = field(default_factory=ErrorSink)
    max_file_bytes: int = 64 * 1024 * 1024

    def path(self, *parts: str) -> Path:
        """A path inside the scanned system, whatever the root is."""
        p = self.root
        for part in parts:
            p = p / part.lstrip("/\\")
        return p


class Collector(Protocol):
    """A source of InventoryRecords for one operating system layout (or all)."""

    name: ClassVar[str]
    os: ClassVar[tuple[OS, ...]]
    live_only: ClassVar[bool]
    reads: ClassVar[tuple[str, ...]]
    """Root-relative patterns of every file and folder `collect` reads offline (collect/reads.py)."""

    def collect(self, ctx: CollectContext) -> Iterator[InventoryRecord]:
        """Yield records; report bad input through ctx.errors and keep going."""
        ...
