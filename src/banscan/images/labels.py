"""How what was read from a copy of a volume is named: by the image, volume and path inside.

Collectors read a temporary folder and name what they saw relative to it ("/var/lib/dpkg/
status") or, in error lines, by the folder's own path. A result must name the image, the
volume and the path inside it (`disk.qcow2#p2:/var/lib/dpkg/status`) and never the temporary
folder, which is gone when the scan ends.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from banscan.errors import ErrorSink
from banscan.models import InventoryRecord, Source


@dataclass(frozen=True)
class VolumeNames:
    """`name` is `disk.qcow2#p2`; `roots` the temporary folder, as made and as resolved."""

    name: str
    roots: tuple[str, ...]

    @classmethod
    def for_folder(cls, name: str, folder: Path) -> VolumeNames:
        made = str(folder)
        real = os.path.realpath(folder)
        return cls(name, (made,) if real == made else (real, made))

    def text(self, text: str) -> str:
        """`text` with the folder's path replaced by `name:` (error lines)."""
        for root in self.roots:
            text = text.replace(root + os.sep, f"{self.name}:/").replace(root, f"{self.name}:/")
        return text

    def location(self, location: str) -> str:
        """A record's location as `name:` + the location inside the volume."""
        for root in self.roots:
            location = location.replace(root, "")
        return f"{self.name}:{location}"

    def record(self, record: InventoryRecord) -> InventoryRecord:
        path = record.path
        if path is not None:
            for root in self.roots:
                path = path.replace(root, "")
        source = Source(record.source.collector, self.location(record.source.location))
        return dataclasses.replace(record, source=source, path=path)


@dataclass
class RenamingSink(ErrorSink):
    """An ErrorSink that echoes lines as `rename` shows them, but keeps them as reported, so
    collectors that look through earlier lines (to report a damaged hive once) still match."""

    rename: Callable[[str], str] = field(default=lambda text: text)

    def report(self, where: str | Path, place: str | int | None, message: str) -> None:
        echo = self.echo
        self.echo = False
        try:
            super().report(where, place, message)
        finally:
            self.echo = echo
        if echo:
            self.writer(f"banscan: error: {self.rename(self.lines[-1])}")

    def renamed(self) -> list[str]:
        return [self.rename(line) for line in self.lines]
