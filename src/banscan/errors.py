"""Where problems with input go: one line each, naming the file and the place, never a stop.

Every reader, collector and analyser reports through an ErrorSink; the scan result lists the
lines under `targets[].errors` and, unless asked to be quiet, echoes them to stderr.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class ErrorSink:
    """Collects one-line errors ("file:place: message") and echoes them to stderr."""

    lines: list[str] = field(default_factory=list)
    echo: bool = True
    writer: Callable[[str], object] = field(default=lambda s: sys.stderr.write(s + "\n"))

    def report(self, where: str | Path, place: str | int | None, message: str) -> None:
        loc = str(where) if place in (None, "") else f"{where}:{place}"
        line = f"{loc}: {' '.join(str(message).split())}"
        self.lines.append(line)
        if self.echo:
            self.writer(f"banscan: error: {line}")
