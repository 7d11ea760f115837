"""Progress of Spark's stages on stderr: Spark's own console bar is off (it writes through the
log and mixes with banscan's output); this one polls `SparkContext.statusTracker()` from a
thread and draws one transient Rich bar per running stage."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any

POLL_SECONDS = 0.5


class StageProgress:
    """A context manager: bars while the block runs, gone when it ends. Silent unless enabled
    (the CLI enables it on a terminal without --quiet)."""

    def __init__(self, spark: Any, *, enabled: bool, label: str = "spark") -> None:
        self.spark = spark
        self.enabled = enabled
        self.label = label
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.seen: set[int] = set()  # the stages drawn

    def __enter__(self) -> StageProgress:
        if self.enabled:
            self._thread = threading.Thread(target=self._run, name="banscan-spark-progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def _run(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        tracker = self.spark.sparkContext.statusTracker()
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("tasks"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        ) as bar:
            tasks: dict[int, Any] = {}
            while not self._stop.wait(POLL_SECONDS):
                active = set()
                for stage_id in tracker.getActiveStageIds():
                    info = tracker.getStageInfo(stage_id)
                    if info is None:
                        continue
                    active.add(stage_id)
                    self.seen.add(stage_id)
                    if stage_id not in tasks:
                        tasks[stage_id] = bar.add_task(f"{self.label} stage {stage_id}", total=info.numTasks)
                    bar.update(tasks[stage_id], total=info.numTasks, completed=info.numCompletedTasks)
                for stage_id in list(tasks):
                    if stage_id not in active:
                        bar.remove_task(tasks.pop(stage_id))
