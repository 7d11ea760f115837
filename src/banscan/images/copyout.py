"""Copy what the collectors read out of one file system of an image into a folder.

The collectors read a root folder; an image's file system is made into one by copying, with
dfvfs, exactly the entries `banscan.collect.reads` selects and entering only the directories
it says could hold some, so a walk of a large file system visits a few hundred entries.
Everything read from the image is hostile: names that could leave the folder ('/', '.',
'..', NUL) are refused, links are recreated as links (never followed while copying), nesting,
entry counts and directory loops are bounded, and nothing is written through a link.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from banscan.collect.reads import PathSelector
from banscan.images.problems import reason

CHUNK = 1 << 20


class CopyObserver(Protocol):
    def copied(self, rel: str, size: int) -> None:
        """A file of `size` bytes was copied out."""
        ...


@dataclass
class CopyLimits:
    # content is copied up to this size; a larger file becomes an empty file of its size, so
    # a collector's own size check reports it as it would on a mounted root
    max_file_bytes: int
    max_depth: int = 64
    max_entries: int = 2_000_000


@dataclass
class CopyStats:
    files: int = 0
    bytes: int = 0
    entries: int = 0


class Copier:
    """Copies selected entries of one dfvfs file system into `dest`, over one or more passes
    (what a pass copied is not copied again)."""

    def __init__(
        self,
        file_system: Any,
        dest: Path,
        report: Callable[[str, str], None],
        limits: CopyLimits,
        observer: CopyObserver | None = None,
    ) -> None:
        self.file_system = file_system
        self.dest = dest
        self._report = report  # (path inside the file system, message)
        self._said: set[tuple[str, str]] = set()
        self.limits = limits
        self.observer = observer
        self.stats = CopyStats()
        self._dirs: set[str] = {""}  # directories made here (real ones: safe to write into)
        self._done: set[str] = set()  # files and links made here
        self._stopped = False

    def copy(self, selector: PathSelector) -> bool:
        """Copy every entry `selector` selects, entering only directories it enters; False when
        the root directory cannot be read (the file system is damaged)."""
        if self._stopped:
            return True
        try:
            root = self.file_system.GetRootFileEntry()
        except Exception as exc:  # noqa: BLE001 - a damaged file system is one line
            self._say("/", f"cannot open the root directory: {reason(exc)}")
            return False
        if root is None:
            self._say("/", "the file system has no root directory")
            return False
        seen: set[tuple[Any, ...]] = set()
        stack: list[tuple[Any, str]] = [(root, "")]
        while stack and not self._stopped:
            entry, rel = stack.pop()
            identity = entry_identity(entry)
            if identity is not None:
                if identity in seen:
                    self._say(_shown(rel), "directory loop; not followed")
                    continue
                seen.add(identity)
            stack.extend(self._children(entry, rel, selector))
        return True

    def _children(self, entry: Any, rel: str, selector: PathSelector) -> list[tuple[Any, str]]:
        """Copy the selected entries of one directory; return the directories to enter."""
        enter: list[tuple[Any, str]] = []
        try:
            children = list(entry.sub_file_entries)
        except Exception as exc:  # noqa: BLE001
            self._say(_shown(rel), f"cannot list the directory: {reason(exc)}")
            return enter
        for child in children:
            self.stats.entries += 1
            if self.stats.entries > self.limits.max_entries:
                self._say(_shown(rel), f"more than {self.limits.max_entries} entries walked; stopped")
                self._stopped = True
                return []
            try:
                name = child.name
                if not safe_name(name):
                    self._say(_shown(rel), f"unsafe file name {name!r} refused")
                    continue
                child_rel = f"{rel}/{name}" if rel else name
                is_dir = True if child.IsDirectory() else None if child.IsLink() else False
                wanted = selector.selects(child_rel, is_dir=is_dir)
                if child.IsDirectory():
                    entering = selector.enters(child_rel)
                    if (wanted or entering) and self._mkdir(child_rel) and entering:
                        if child_rel.count("/") + 1 > self.limits.max_depth:
                            self._say(
                                _shown(child_rel), f"nested deeper than {self.limits.max_depth}; not entered"
                            )
                        else:
                            enter.append((child, child_rel))
                elif child.IsLink():
                    if wanted or selector.enters(child_rel):
                        self._link(child, child_rel)
                elif child.IsFile() and wanted:
                    self._file(child, child_rel)
            except Exception as exc:  # noqa: BLE001 - one entry of a hostile image is one line
                self._say(_shown(f"{rel}/{_child_name(child)}"), reason(exc))
        return enter

    def _mkdir(self, rel: str) -> bool:
        """Make the directory (once); False when something else already holds the name."""
        if rel in self._dirs:
            return True
        if not self._parent_ok(rel):
            return False
        try:
            os.mkdir(self.dest / rel, 0o755)
        except FileExistsError:
            self._say(_shown(rel), "name appears twice in its directory; the second was skipped")
            return False
        self._dirs.add(rel)
        return True

    def _link(self, entry: Any, rel: str) -> None:
        if rel in self._done or not self._parent_ok(rel):
            return
        target = entry.link
        if not isinstance(target, str) or not target or "\x00" in target:
            self._say(_shown(rel), "symbolic link without a usable target; skipped")
            return
        try:
            os.symlink(target, self.dest / rel)
        except FileExistsError:
            self._say(_shown(rel), "name appears twice in its directory; the second was skipped")
            return
        self._done.add(rel)

    def _file(self, entry: Any, rel: str) -> None:
        if rel in self._done or not self._parent_ok(rel):
            return
        size = int(entry.size or 0)
        path = self.dest / rel
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        except FileExistsError:
            self._say(_shown(rel), "name appears twice in its directory; the second was skipped")
            return
        self._done.add(rel)
        written = 0
        try:
            if size > self.limits.max_file_bytes:
                os.ftruncate(fd, size)  # sparse: the size without the content
                self._say(
                    _shown(rel),
                    f"file is {size} bytes, over the {self.limits.max_file_bytes}-byte copy limit; not copied",
                )
                return
            written = self._content(entry, fd, rel)
        finally:
            os.close(fd)
        self.stats.files += 1
        self.stats.bytes += written
        self._progress(rel, written)

    def _content(self, entry: Any, fd: int, rel: str) -> int:
        """Copy the default data stream; on a read error keep what was read and say so."""
        stream = entry.GetFileObject()
        if stream is None:
            return 0
        written = 0
        limit = self.limits.max_file_bytes
        try:
            while written <= limit:
                chunk = stream.read(min(CHUNK, limit + 1 - written))
                if not chunk:
                    break
                os.write(fd, chunk)
                written += len(chunk)
        except Exception as exc:  # noqa: BLE001 - a damaged extent is this file's problem
            self._say(_shown(rel), f"read error after {written} bytes: {reason(exc)}")
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()
        return written

    def _say(self, rel: str, message: str) -> None:
        """Report once: a second pass over the same directories finds the same problems."""
        if (rel, message) not in self._said:
            self._said.add((rel, message))
            self._report(rel, message)

    def _parent_ok(self, rel: str) -> bool:
        """Only write into directories made by this copy (never through a link)."""
        parent = rel.rpartition("/")[0]
        return parent in self._dirs

    def _progress(self, rel: str, size: int) -> None:
        if self.observer is not None:
            self.observer.copied(rel, size)


def safe_name(name: object) -> bool:
    return isinstance(name, str) and name not in ("", ".", "..") and "/" not in name and "\x00" not in name


def _child_name(entry: Any) -> str:
    try:
        return str(entry.name)
    except Exception:  # noqa: BLE001
        return "?"


def _shown(rel: str) -> str:
    return "/" + rel.lstrip("/")


def entry_identity(entry: Any) -> tuple[Any, ...] | None:
    """What identifies a directory in its file system (inode, MFT entry, catalog id)."""
    spec = entry.path_spec
    for attr in ("inode", "mft_entry", "identifier"):
        value = getattr(spec, attr, None)
        if value is not None:
            return (attr, value)
    return None
