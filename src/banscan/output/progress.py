"""A deep scan's progress line on a terminal's stderr, and its closing summary.

A whole-system deep scan runs for minutes; without a sign of life a user cannot tell a slow
scan from a stuck one. On a terminal one line, redrawn twice a second, says how many files and
bytes were walked, the rate, and the time left — an estimate, since the total comes from the
file systems' used space and inodes (or a count made beside the scan). Nothing is drawn when
stderr is not a terminal, so pipes and CI logs stay clean; stdout is never touched. Error lines
printed meanwhile appear above the progress line.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import BinaryIO, TextIO

from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, SpinnerColumn, Task, TaskID
from rich.table import Column
from rich.text import Text

from banscan.deep.stats import DeepStats, human_bytes, human_seconds
from banscan.errors import one_line

_TOTAL = 1000  # the bar's scale: fraction done × _TOTAL
PROGRESS_MIN_BYTES = 50 * 1024 * 1024  # inputs smaller than this are read before a bar would help


def progress_text(stats: DeepStats, now: float | None = None) -> str:
    """`12,345 files · 1.2 GB · 40.1 MB/s · 23% · ~4 min 10 s left (est.)`: the total, hence
    the percentage and time left, are estimates."""
    elapsed = max(1e-6, (now if now is not None else time.monotonic()) - stats.started)
    parts = [
        f"{stats.files_seen:,} files",
        human_bytes(stats.bytes_seen),
        f"{human_bytes(stats.bytes_seen / elapsed)}/s",
    ]
    fraction = stats.fraction()
    if fraction is None:
        parts.append(f"{human_seconds(elapsed)} so far")
    else:
        parts.append(f"{fraction * 100:.0f}%")
        if fraction >= 0.005 and elapsed >= 2:
            left = elapsed * (1 - fraction) / fraction
            parts.append(f"~{human_seconds(left)} left (est.)")
        else:
            parts.append("estimating time left")
    return " · ".join(parts)


class _StatsColumn(ProgressColumn):
    def __init__(self) -> None:
        super().__init__(table_column=Column(no_wrap=True, overflow="crop"))

    def render(self, task: Task) -> Text:
        stats = task.fields.get("stats")
        return Text(progress_text(stats) if isinstance(stats, DeepStats) else "", no_wrap=True)


class _PathColumn(ProgressColumn):
    """The last file examined; takes what width is left, and none on a narrow terminal."""

    def __init__(self) -> None:
        super().__init__(table_column=Column(ratio=1, no_wrap=True, overflow="ellipsis", min_width=0))

    def render(self, task: Task) -> Text:
        stats = task.fields.get("stats")
        current = one_line(stats.current) if isinstance(stats, DeepStats) else ""
        return Text(current, style="dim", no_wrap=True, overflow="ellipsis")


class DeepProgress:
    """A DeepObserver: draws the progress line (when `live`) and keeps every run's figures for
    the summary."""

    def __init__(self, *, live: bool, file: TextIO | None = None) -> None:
        self.live = live
        self.file = file
        self.runs: list[DeepStats] = []
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._last = 0.0

    def started(self, stats: DeepStats) -> None:
        if not self.live:
            return
        console = Console(file=self.file or sys.stderr, stderr=self.file is None)
        self._progress = Progress(
            SpinnerColumn(),
            BarColumn(bar_width=12),
            _StatsColumn(),
            _PathColumn(),
            console=console,
            transient=True,
            refresh_per_second=2,
            redirect_stdout=False,
            redirect_stderr=True,
        )
        self._task = self._progress.add_task("deep scan", total=None, stats=stats)
        self._progress.start()

    def update(self, stats: DeepStats) -> None:
        if self._progress is None or self._task is None:
            return
        now = time.monotonic()
        if now - self._last < 0.2:  # the columns read `stats` when drawn; only the bar needs this
            return
        self._last = now
        fraction = stats.fraction()
        if fraction is not None:
            self._progress.update(self._task, total=_TOTAL, completed=fraction * _TOTAL)

    def finished(self, stats: DeepStats) -> None:
        self.runs.append(stats)
        if self._progress is not None:
            if self._task is not None:
                self._progress.update(self._task, total=_TOTAL, completed=_TOTAL)
            self._progress.stop()
        self._progress = None
        self._task = None

    def summary(self) -> list[str]:
        """The summary lines of every deep scan of this run, for stderr."""
        return [one_line(line) for stats in self.runs for line in stats.summary()]


class ByteProgress:
    """A bar on stderr while one long input is read record by record: bytes of the file read
    (compressed bytes for .gz/.zst), rate and time left, redrawn four times a second from
    `position` (polled from a thread; the reading thread does nothing for it). Transient: it
    is gone when the input is done. The caller decides whether to show it (a terminal, not
    `--quiet`)."""

    def __init__(
        self, label: str, total: int, position: Callable[[], int], console: Console | None = None
    ) -> None:
        self.label = label
        self.total = total
        self.position = position
        self.console = console or Console(stderr=True)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="banscan-progress", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        from rich.progress import DownloadColumn, TextColumn, TimeRemainingColumn, TransferSpeedColumn

        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=self.console,
            transient=True,
        ) as bar:
            task = bar.add_task(self.label, total=self.total)
            while not self._stop.wait(0.25):
                bar.update(task, completed=min(self.total, self.position()))

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)


def bar_for_stream(path: str, stream: BinaryIO) -> ByteProgress | None:
    """A started bar for an opened input over PROGRESS_MIN_BYTES, following the bytes read from
    its file (`banscan.inputs.base.bytes_consumed`); None for stdin or a short input."""
    import os

    from banscan.inputs.base import bytes_consumed

    position = bytes_consumed(stream)
    try:
        size = os.path.getsize(path)
    except OSError:
        return None
    if position is None or size < PROGRESS_MIN_BYTES:
        return None
    bar = ByteProgress(os.path.basename(path), size, position)
    bar.start()
    return bar
