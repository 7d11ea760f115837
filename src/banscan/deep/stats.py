"""What a deep scan did and where its time went: counts, skip reasons, time by kind of work.

A whole-system scan can take many minutes; these figures let a user see how far it is (the
progress line) and why it took as long as it did (the closing summary). Each worker fills a
FileStats for the file it examines; the scanner merges them into one DeepStats in the thread
that yields records, so no counter is shared between threads.
"""

from __future__ import annotations

import heapq
import time
from dataclasses import dataclass, field
from typing import Protocol

# Why a file was not read past its first bytes (or not at all).
SKIP_REASONS: dict[str, str] = {
    "not-code": "cannot hold code we detect (documents, text, media, other data)",
    "empty": "empty",
    "too-big": "over the size limit",
    "unreadable": "unreadable (permission, I/O error, vanished)",
    "not-regular": "not a regular file",
}

# Kinds of work, in the order the summary names them when they took equal time.
WORK_KINDS: dict[str, str] = {
    "archives": "opening archives",
    "yara": "byte signatures (YARA)",
    "identity": "parsing headers and signatures",
    "hash": "hashing",
    "headers": "reading first bytes",
}


class FileStats:
    """One file's figures, filled by the worker that examines it."""

    __slots__ = ("bytes_read", "ftype", "members", "seconds", "skip", "vouched", "work")

    def __init__(self) -> None:
        self.skip: str | None = None
        self.vouched = ""  # a package file whose index vouches for it (see deep.aptindex)
        self.bytes_read = 0
        self.members = 0
        self.ftype = ""
        self.seconds = 0.0
        self.work: dict[str, float] = {}

    def add(self, kind: str, seconds: float) -> None:
        self.work[kind] = self.work.get(kind, 0.0) + seconds


@dataclass(frozen=True, slots=True)
class Estimate:
    """How much a scan will walk: files and bytes. `exact` when counted, not taken from the
    file systems' used space and inodes."""

    files: int
    bytes: int
    exact: bool = False


@dataclass
class DeepStats:
    """A whole deep scan's figures (one target)."""

    label: str = ""
    files_seen: int = 0
    bytes_seen: int = 0
    dirs_seen: int = 0
    files_read: int = 0  # read past their first bytes
    bytes_read: int = 0
    members: int = 0  # archive members examined
    skipped: dict[str, list[int]] = field(default_factory=dict)  # reason → [files, bytes]
    vouched: dict[str, list[int]] = field(default_factory=dict)  # index → [files, bytes]
    work: dict[str, float] = field(default_factory=dict)  # kind → worker seconds
    walk_seconds: float = 0.0
    workers: int = 1
    started: float = field(default_factory=time.monotonic)
    elapsed: float = 0.0
    errors: int = 0
    estimate: Estimate | None = None
    slowest: list[tuple[float, str, str]] = field(default_factory=list)  # min-heap (s, path, type)
    current: str = ""

    def add(self, shown: str, size: int, fs: FileStats, errors: int) -> None:
        self.files_seen += 1
        self.bytes_seen += size
        self.errors += errors
        self.current = shown
        if fs.skip is not None:
            row = self.skipped.setdefault(fs.skip, [0, 0])
            row[0] += 1
            row[1] += size
        else:
            self.files_read += 1
            self.bytes_read += fs.bytes_read
            self.members += fs.members
        if fs.vouched:
            row = self.vouched.setdefault(fs.vouched, [0, 0])
            row[0] += 1
            row[1] += size
        for kind, seconds in fs.work.items():
            self.work[kind] = self.work.get(kind, 0.0) + seconds
        if fs.skip is None:
            item = (fs.seconds, shown, fs.ftype)
            if len(self.slowest) < 5:
                heapq.heappush(self.slowest, item)
            elif item > self.slowest[0]:
                heapq.heapreplace(self.slowest, item)

    def finish(self) -> None:
        self.elapsed = time.monotonic() - self.started

    def fraction(self) -> float | None:
        """How far the walk is, from the estimate (None without one); below 1 until done."""
        est = self.estimate
        if est is None or (est.files <= 0 and est.bytes <= 0):
            return None
        parts = []
        if est.files > 0:
            # Used inodes count folders too; an exact count is of files only.
            walked = self.files_seen if est.exact else self.files_seen + self.dirs_seen
            parts.append(walked / est.files)
        if est.bytes > 0:
            parts.append(self.bytes_seen / est.bytes)
        return min(0.99, sum(parts) / len(parts))

    def summary(self) -> list[str]:
        """A few lines for stderr: what was read and skipped, and what took the time."""
        el = self.elapsed or (time.monotonic() - self.started)
        head = f"deep scan of {self.label}: " if self.label else "deep scan: "
        lines = [
            f"{head}{_n(self.files_seen)} files ({human_bytes(self.bytes_seen)}) in {human_seconds(el)}"
            + (f", {self.errors} error line{'' if self.errors == 1 else 's'}" if self.errors else ""),
            f"  read {_n(self.files_read)} files ({human_bytes(self.bytes_read)})"
            + (f" and {_n(self.members)} archive members" if self.members else ""),
        ]
        skipped = sum(row[0] for row in self.skipped.values())
        if skipped:
            lines.append(f"  skipped {_n(skipped)} files, unread past their first bytes:")
            for reason, (files, size) in sorted(self.skipped.items(), key=lambda kv: -kv[1][0]):
                lines.append(f"    {SKIP_REASONS.get(reason, reason)}: {_n(files)} ({human_bytes(size)})")
        if self.vouched:
            lines.append(
                "  package files listed by a distribution's signed index, identified by their "
                "control files and not expanded:"
            )
            for label, (files, size) in sorted(self.vouched.items(), key=lambda kv: -kv[1][0]):
                lines.append(f"    {label}: {_n(files)} ({human_bytes(size)})")
        kinds = sorted(self.work.items(), key=lambda kv: -kv[1])
        if kinds:
            busy = ", ".join(f"{WORK_KINDS.get(k, k)} {human_seconds(s)}" for k, s in kinds)
            plural = "s" if self.workers != 1 else ""
            lines.append(f"  time by kind of work ({self.workers} worker{plural}): {busy}")
        if self.walk_seconds >= 0.05:
            lines.append(f"  listing folders: {human_seconds(self.walk_seconds)}")
        slow = sorted(self.slowest, reverse=True)
        if slow and slow[0][0] >= 0.5:
            lines.append("  slowest files:")
            for seconds, path, ftype in slow:
                if seconds >= 0.5:
                    lines.append(f"    {human_seconds(seconds)}  {path} ({ftype})")
        return lines


class DeepObserver(Protocol):
    """Told about a deep scan as it goes (progress display, summary); called from the thread
    that consumes the scan's records, and must be cheap."""

    def started(self, stats: DeepStats) -> None: ...

    def update(self, stats: DeepStats) -> None: ...

    def finished(self, stats: DeepStats) -> None: ...


def _n(n: int) -> str:
    return f"{n:,}"


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def human_seconds(s: float) -> str:
    if s < 60:
        return f"{s:.1f} s"
    m, sec = divmod(round(s), 60)
    if m < 60:
        return f"{m} min {sec:02d} s"
    h, m = divmod(m, 60)
    return f"{h} h {m:02d} min"
