"""Which files the deep scan reads, in which order.

The folders the catalog's `path` identifiers name, then the system's software locations come
first (so the interesting findings arrive early and survive an interrupted scan), then the rest
of the tree, each directory once.
Symbolic links are never followed during a walk — a link cannot lead out of the root or into
a loop — and only regular files are yielded. On a live Linux scan the kernel's pseudo file
systems (/proc, /sys, /dev, /run) and network mounts are skipped.

Paths given explicitly (`banscan scan --deep FILE`) may be links; they are resolved once,
and a link loop, a FIFO or a device is reported as one error line.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from banscan.catalog.schema import Catalog, Identifier, IdentifierKind, MatchKind
from banscan.deep.stats import Estimate

# Where each system keeps installed software (no vendor's folder: those come from the catalog).
SYSTEM_LOCATIONS: dict[str, tuple[str, ...]] = {
    "windows": (
        "Program Files",
        "Program Files (x86)",
        "ProgramData",
        "Windows/System32/drivers",
        "Users",
    ),
    "linux": ("opt", "usr/local", "usr/lib", "usr/bin", "usr/sbin", "home", "root"),
    "macos": (
        "Applications",
        "Library/Extensions",
        "Library/SystemExtensions",
        "Library/Application Support",
        "Users",
    ),
}
LIVE_SKIP = ("proc", "sys", "dev", "run")
_SKIP_FSTYPES = frozenset(
    {
        "proc",
        "sysfs",
        "devtmpfs",
        "devpts",
        "cgroup",
        "cgroup2",
        "securityfs",
        "debugfs",
        "tracefs",
        "pstore",
        "bpf",
        "mqueue",
        "hugetlbfs",
        "configfs",
        "fusectl",
        "autofs",
        "binfmt_misc",
        "nfs",
        "nfs4",
        "cifs",
        "smb3",
        "fuse.sshfs",
    }
)


_DRIVE = re.compile(r"^[A-Za-z]:(?=[\\/])")
_SEPARATORS = re.compile(r"[\\/]+")
_WILDCARDS = frozenset("*?[")
# Catalog platforms → the scanned layouts whose folders a path of theirs may name.
_LAYOUTS: dict[str, tuple[str, ...]] = {
    "windows": ("windows",),
    "macos": ("macos",),
    "linux": ("linux",),
    "appliance": ("linux",),
    "any": ("windows", "linux", "macos"),
}


def known_locations(catalog: Catalog, os_name: str) -> tuple[str, ...]:
    """Where to walk first on a system laid out like `os_name`: the folders the catalog's `path`
    identifiers name (a vendor's install and data folders, found early so an interrupted scan
    still has them), then the system's software locations.

    A vendor folder inside a system location comes in that location's order, others after them
    in catalog order; a folder inside another one listed is walked with it. Paths that may lie
    anywhere (`*\\Vendor\\…`, regular expressions), shallow folders (`/tmp`) and the system
    locations themselves give none."""
    system = SYSTEM_LOCATIONS.get(os_name, ())

    def fold(path: str) -> str:  # Windows folder names ignore case
        return path.casefold() if os_name == "windows" else path

    found: dict[str, str] = {}
    for product in catalog.products:
        for ident in product.identifiers:
            if ident.kind != IdentifierKind.PATH:
                continue
            folder = _folder_of(ident, os_name)
            layouts = {o for p in ident.platforms or product.platforms for o in _LAYOUTS.get(p, ())}
            if folder is None or os_name not in layouts or folder.count("/") < 1:
                continue
            if any(_inside(fold(s), fold(folder)) for s in system):
                continue  # a system location, or a folder that holds one (Windows/System32)
            found.setdefault(fold(folder), folder)
    keys = [k for k in found if not any(k != o and _inside(k, o) for o in found)]

    def place(key: str) -> int:
        return next((i for i, s in enumerate(system) if _inside(key, fold(s))), len(system))

    return (*(found[k] for k in sorted(keys, key=place)), *system)


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder + "/")


def _folder_of(ident: Identifier, os_name: str) -> str | None:
    """The folder a path identifier names for certain, relative to the root ("opt/kaspersky"),
    when its shape fits the layout (a drive or backslashes: Windows; a leading slash: others)."""
    value = ident.value.strip()
    if ident.match in (MatchKind.REGEX, MatchKind.CONTAINS):
        return None
    windows = bool(_DRIVE.match(value)) or value.startswith("\\")
    if windows != (os_name == "windows") or not (windows or value.startswith("/")):
        return None
    parts = [p for p in _SEPARATORS.split(_DRIVE.sub("", value)) if p]
    wild = [i for i, p in enumerate(parts) if _WILDCARDS.intersection(p)]
    if ident.match == MatchKind.GLOB and wild:
        parts = parts[: wild[0]]
    elif not (ident.match == MatchKind.PREFIX and value.endswith(("/", "\\"))):
        parts = parts[:-1]  # a file, or a name its prefix may continue (kesl → kesl-control)
    return "/".join(parts) or None


@dataclass(frozen=True, slots=True)
class FileEntry:
    shown: str  # the path as reported (inside the scanned system for --root scans)
    real: str  # the path on this machine
    size: int
    copy: bool = False  # `real` is a temporary copy (of a file in a disk image): removed once examined
    head: bytes | None = None  # the first bytes of a file not read past them (`real` is not read)


ReportFn = Callable[[str, str], None]


class WalkCount:
    """Folders entered so far (set by the walk, read by the progress display)."""

    __slots__ = ("dirs",)

    def __init__(self) -> None:
        self.dirs = 0


def live_skips() -> set[str]:
    """Mount points on this Linux machine that hold no software (pseudo and network fs)."""
    out: set[str] = set()
    try:
        with open("/proc/self/mounts", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                parts = line.split()
                if len(parts) >= 3 and parts[2] in _SKIP_FSTYPES:
                    out.add(parts[1].replace("\\040", " "))
    except OSError:
        pass
    return out


def walk_tree(
    top: Path,
    shown_top: str,
    report: ReportFn,
    *,
    seen: set[tuple[int, int]],
    skip: set[str] | None = None,
    max_depth: int = 64,
    count: WalkCount | None = None,
) -> Iterator[FileEntry]:
    """Regular files below `top` (depth-first, sorted), never following a link."""
    skip = skip or set()
    count = count or WalkCount()
    try:
        st = os.lstat(top)
    except OSError:
        return
    if not stat.S_ISDIR(st.st_mode):
        return
    key = (st.st_dev, st.st_ino)
    if key in seen:
        return
    seen.add(key)
    stack: list[tuple[str, str, int]] = [(str(top), shown_top, 0)]
    while stack:
        real, shown, depth = stack.pop()
        count.dirs += 1
        try:
            with os.scandir(real) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            report(shown, exc.strerror or str(exc))
            continue
        dirs = []
        for e in entries:
            child_shown = shown.rstrip("/") + "/" + e.name if shown else e.name
            try:
                est = e.stat(follow_symlinks=False)
            except OSError as exc:
                report(child_shown, exc.strerror or str(exc))
                continue
            mode = est.st_mode
            if stat.S_ISREG(mode):
                yield FileEntry(child_shown, e.path, est.st_size)
            elif stat.S_ISDIR(mode):
                if e.path in skip:
                    continue
                dkey = (est.st_dev, est.st_ino)
                if dkey in seen:
                    continue
                seen.add(dkey)
                if depth + 1 >= max_depth:
                    report(child_shown, f"deeper than {max_depth} folders; not walked")
                    continue
                dirs.append((e.path, child_shown, depth + 1))
            # Links, FIFOs, sockets and devices inside a tree are passed over silently.
        stack.extend(reversed(dirs))


def root_skips(root: Path, os_name: str, live: bool) -> set[str]:
    """Folders a whole-system walk of `root` passes over (pseudo and network file systems)."""
    if not (live and os_name == "linux" and str(root) == "/"):
        return set()
    skip = {f"/{d}" for d in LIVE_SKIP} | live_skips()
    skip.discard("/")
    return skip


def walk_root(
    root: Path,
    os_name: str,
    live: bool,
    report: ReportFn,
    count: WalkCount | None = None,
    *,
    locations: Sequence[str] | None = None,
) -> Iterator[FileEntry]:
    """Every regular file of a scanned system, `locations` first (folders relative to the root;
    default: the system's software locations, `known_locations` adds the catalog's)."""
    seen: set[tuple[int, int]] = set()
    skip = root_skips(root, os_name, live)

    def shown(p: Path) -> str:
        rel = p.relative_to(root).as_posix()
        return "/" if rel in ("", ".") else "/" + rel

    for rel in SYSTEM_LOCATIONS.get(os_name, ()) if locations is None else locations:
        p = root / rel
        # A known location is walked only if no link on the way leads elsewhere.
        if _plain_path(root, p):
            yield from walk_tree(p, shown(p), report, seen=seen, skip=skip, count=count)
    # Mark nothing more: walk_tree skips folders already seen by (device, inode).
    yield from _walk_rest(root, report, seen, skip, count)


def _walk_rest(
    root: Path, report: ReportFn, seen: set[tuple[int, int]], skip: set[str], count: WalkCount | None
) -> Iterator[FileEntry]:
    try:
        st = os.lstat(root)
    except OSError as exc:
        report(str(root), exc.strerror or str(exc))
        return
    key = (st.st_dev, st.st_ino)
    seen.discard(key)
    yield from walk_tree(root, "/", report, seen=seen, skip=skip, count=count)


def _plain_path(root: Path, p: Path) -> bool:
    cur = root
    try:
        for part in p.relative_to(root).parts:
            cur = cur / part
            if stat.S_ISLNK(os.lstat(cur).st_mode):
                return False
    except OSError:
        return False
    return True


def explicit(
    paths: Iterable[str | Path], report: ReportFn, count: WalkCount | None = None
) -> Iterator[FileEntry]:
    """Files named on the command line: a file is read, a folder walked."""
    seen: set[tuple[int, int]] = set()
    for raw in paths:
        p = str(raw)
        try:
            st = os.stat(p)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                report(p, "symbolic link loop")
            elif exc.errno == errno.ENOENT:
                report(p, "not found")
            else:
                report(p, exc.strerror or str(exc))
            continue
        if stat.S_ISDIR(st.st_mode):
            real = os.path.realpath(p)
            yield from walk_tree(Path(real), p.rstrip("/") or "/", report, seen=seen, count=count)
        elif stat.S_ISREG(st.st_mode):
            yield FileEntry(p, p, st.st_size)
        else:
            report(p, "not a regular file (device, FIFO or socket); skipped")


def count_files(entries: Iterable[FileEntry], stop: threading.Event | None = None) -> Estimate:
    """An exact count of what a walk yields (run in a background thread for the ETA); `stop`
    ends it early (the scan finished first)."""
    files = size = 0
    for e in entries:
        files += 1
        size += e.size
        if stop is not None and not files % 1024 and stop.is_set():
            break
    return Estimate(files, size, exact=True)


def estimate_root(root: Path, os_name: str, live: bool) -> Estimate | None:
    """The used space and inodes of the file systems a whole-system walk enters: free to ask
    (statvfs), where counting would walk everything twice. None when `root` is a folder
    inside a larger file system (its figures would say nothing about the folder)."""
    import psutil

    top = os.path.abspath(root)
    if not (os.path.ismount(top) or (live and top == os.path.abspath(os.sep))):
        return None
    skip = root_skips(root, os_name, live)
    devices: dict[int, str] = {}
    try:
        parts = psutil.disk_partitions(all=True)
    except (OSError, RuntimeError):
        parts = []
    points = {top} | {p.mountpoint for p in parts if p.fstype not in _SKIP_FSTYPES}
    for mp in sorted(points):
        if mp != top and not mp.startswith(top.rstrip(os.sep) + os.sep):
            continue
        if any(mp == s or mp.startswith(s.rstrip("/") + "/") for s in skip):
            continue
        try:
            devices.setdefault(os.stat(mp).st_dev, mp)
        except OSError:
            continue
    files = size = 0
    for mp in devices.values():
        try:
            if hasattr(os, "statvfs"):
                vfs = os.statvfs(mp)
                size += (vfs.f_blocks - vfs.f_bfree) * vfs.f_frsize
                files += max(0, vfs.f_files - vfs.f_ffree)
            else:  # Windows: no inode counts
                size += psutil.disk_usage(mp).used
        except OSError:
            continue
    return Estimate(files, size) if files or size else None
