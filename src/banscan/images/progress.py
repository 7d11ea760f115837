"""A disk image scan's progress line on a terminal's stderr: which volume, files and bytes.

Opening a large image and walking its file systems takes a while even though only what the
collectors read is copied; one transient line, redrawn a few times a second, shows the volume
being read and how many files and bytes came out of it. Nothing is drawn off a terminal (the
caller decides: `ScanOptions.progress`).
"""

from __future__ import annotations

import time
from typing import TextIO

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn

from banscan.deep.stats import human_bytes
from banscan.errors import one_line


def progress_text(image: str, volume: str, index: int, total: int, files: int, size: int) -> str:
    """`disk.qcow2 · volume 2 of 3 (p2) · 1,234 files · 12.3 MB`"""
    where = f"volume {index} of {total}" + (f" ({volume})" if volume else "")
    return one_line(f"{image} · {where} · {files:,} files · {human_bytes(size)}")


class ImageProgress:
    """Told of each volume and each file copied; draws one line when `live`."""

    def __init__(self, image: str, *, live: bool, file: TextIO | None = None) -> None:
        self.image = image
        self.live = live
        self.file = file
        self.files = 0
        self.bytes = 0
        self._volume = ("", 0, 0)
        self._progress: Progress | None = None
        self._last = 0.0

    def start(self) -> None:
        if not self.live or self._progress is not None:
            return
        console = Console(file=self.file, stderr=self.file is None)
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            console=console,
            transient=True,
            refresh_per_second=4,
            redirect_stdout=False,
            redirect_stderr=True,
        )
        self._progress.add_task(self._text(), total=None)
        self._progress.start()

    def volume(self, label: str, index: int, total: int) -> None:
        """Reading volume `index` of `total` starts (the line appears with the first)."""
        self._volume = (label, index, total)
        if self._progress is None:
            self.start()
        self._draw(force=True)

    def copied(self, rel: str, size: int) -> None:
        """A CopyObserver: one more file out of the image."""
        self.files += 1
        self.bytes += size
        self._draw()

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
        self._progress = None

    def _text(self) -> str:
        label, index, total = self._volume
        return progress_text(self.image, label, index, total, self.files, self.bytes)

    def _draw(self, *, force: bool = False) -> None:
        if self._progress is None:
            return
        now = time.monotonic()
        if not force and now - self._last < 0.2:
            return
        self._last = now
        for task in self._progress.task_ids:
            self._progress.update(task, description=self._text())
