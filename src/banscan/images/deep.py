"""Deep-scan a volume of a disk image as `--deep --root` scans the same tree, without copying
its file system out.

The file system is walked with dfvfs in the order `deep.walk.walk_root` walks a root (the
catalog's and the system's software locations first, then the rest; each folder sorted and
entered once, links never followed, at most 64 folders deep). Of each regular file the first
4 KiB are read: a file the deep scanner would leave after them (documents, media, data; empty
or too big) is handed to it as those bytes alone, and only code and archives are copied, one at
a time, to a temporary file that the deep scanner examines and then removes
(`DeepScanner.scan_copies`, which bounds the copies waiting for a worker). An app bundle's
Info.plist is copied beside its executable, where the deep scanner looks for it; a Linux
system's apt lists come out with the collectors' files (`APT_LISTS`), so they vouch for its
cached packages as they would on the mounted root. NTFS's own metadata files, which a mounted
NTFS does not list, are passed over.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from banscan.collect.reads import PathSelector
from banscan.deep.aptindex import LISTS
from banscan.deep.archives import Limits
from banscan.deep.filetype import HEAD_BYTES
from banscan.deep.scan import DeepScanner, examined
from banscan.deep.walk import FileEntry, ReportFn, WalkCount, known_locations
from banscan.errors import ErrorSink
from banscan.images.copyout import CHUNK, CopyObserver, entry_identity, safe_name
from banscan.images.labels import VolumeNames
from banscan.images.problems import reason
from banscan.match.matcher import Matcher

if TYPE_CHECKING:
    from banscan.scan import ScanOptions

MAX_DEPTH = 64  # folders below a walked location, as deep.walk.walk_tree
PLIST_BYTES = 4 * 1024 * 1024  # what the deep scanner reads of a bundle's Info.plist
NTFS_RESERVED = 16  # MFT entries of NTFS's own metadata files
APT_LISTS = PathSelector([f"{LISTS}/*"], fold_case=False)
_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


class _ShortRead(Exception):
    """A file's data stream ended before its size (a damaged allocation chain)."""


class VolumeLines(ErrorSink):
    """The deep scanner's error lines, named by image and volume, into the volume's sink:
    `/usr/lib/x.so: …` becomes `disk.qcow2#p2:/usr/lib/x.so: …`, and a path in the copied
    root (an apt list) becomes the same path inside the volume."""

    def __init__(self, into: ErrorSink, names: VolumeNames) -> None:
        super().__init__(echo=False)
        self.into = into
        self.names = names

    def report(self, where: str | Path, place: str | int | None, message: str) -> None:
        self.into.report(self.named(str(where)), place, message)

    def named(self, where: str) -> str:
        renamed = self.names.text(where)
        if renamed != where or not where.startswith("/"):
            return renamed
        return f"{self.names.name}:{where}"


class VolumeFiles:
    """The regular files of one dfvfs file system, walked as `walk_root` walks a root, each
    yielded as its first bytes (`FileEntry.head`) or, when the deep scanner reads it whole, as a
    copy in `copies` (`FileEntry.copy`, removed by the scanner once examined)."""

    def __init__(
        self,
        file_system: Any,
        copies: Path,
        report: ReportFn,
        limits: Limits,
        *,
        count: WalkCount | None = None,
        observer: CopyObserver | None = None,
    ) -> None:
        self.file_system = file_system
        self.copies = copies
        self._report = report  # (path inside the volume, message)
        self.limits = limits
        self.count = count or WalkCount()
        self.observer = observer
        self._seen: set[tuple[Any, ...]] = set()
        self._serial = 0

    def walk(self, locations: Sequence[str] = ()) -> Iterator[FileEntry]:
        """Every regular file, those below `locations` (folders relative to the root) first."""
        try:
            root = self.file_system.GetRootFileEntry()
        except Exception as exc:  # noqa: BLE001 - a damaged file system is one line
            self._report("/", f"cannot open the root folder: {reason(exc)}")
            return
        if root is None:
            self._report("/", "the file system has no root folder")
            return
        for rel in locations:
            top = self._plain(root, rel)
            if top is not None:
                yield from self._tree(top, "/" + rel, None)
        self._seen.discard(entry_identity(root) or ())
        yield from self._tree(root, "/", None)

    def _plain(self, root: Any, rel: str) -> Any:
        """The folder at `rel` when every step to it is a folder, not a link; else None."""
        entry = root
        try:
            for name in rel.split("/"):
                entry = _child(entry, name)
                if entry is None or entry.IsLink() or not entry.IsDirectory():
                    return None
        except Exception:  # noqa: BLE001 - the rest of the walk meets it again and says why
            return None
        return entry

    def _tree(self, top: Any, shown_top: str, parent: Any) -> Iterator[FileEntry]:
        """Regular files below `top`: depth-first, each folder's files before its sub-folders."""
        key = entry_identity(top)
        if key is not None:
            if key in self._seen:
                return
            self._seen.add(key)
        stack: list[tuple[Any, str, int, Any]] = [(top, shown_top, 0, parent)]
        while stack:
            entry, shown, depth, parent = stack.pop()
            self.count.dirs += 1
            try:
                children = sorted(_named_children(entry), key=lambda pair: pair[0])
            except Exception as exc:  # noqa: BLE001
                self._report(shown, f"cannot list the folder: {reason(exc)}")
                continue
            bundle = parent if shown.endswith("/Contents/MacOS") else None
            dirs: list[tuple[Any, str, int, Any]] = []
            for name, child in children:
                if _ntfs_metadata(child):
                    continue
                if not safe_name(name):
                    self._report(shown, f"unsafe file name {name!r} refused")
                    continue
                child_shown = shown.rstrip("/") + "/" + name
                try:
                    if child.IsLink():
                        continue  # never followed, as on a mounted root
                    if child.IsFile():
                        copied = self._copy(child, child_shown, bundle)
                        if copied is not None:
                            yield copied
                    elif child.IsDirectory():
                        dkey = entry_identity(child)
                        if dkey is not None:
                            if dkey in self._seen:
                                continue
                            self._seen.add(dkey)
                        if depth + 1 >= MAX_DEPTH:
                            self._report(child_shown, f"deeper than {MAX_DEPTH} folders; not walked")
                            continue
                        dirs.append((child, child_shown, depth + 1, entry))
                except Exception as exc:  # noqa: BLE001 - one entry of a hostile image is one line
                    self._report(child_shown, reason(exc))
            stack.extend(reversed(dirs))

    def _copy(self, entry: Any, shown: str, bundle: Any) -> FileEntry | None:
        """The file as the deep scanner will read it: its first bytes when it reads no further,
        else a temporary copy. None when the file cannot be read (said why)."""
        size = max(0, int(entry.size or 0))
        path: Path | None = None
        done = 0
        stream = None
        try:
            stream = entry.GetFileObject()
            head = stream.read(HEAD_BYTES) if stream is not None and size else b""
            done = len(head)
            if not examined(head, size, self.limits):
                self._copied(shown, done)
                return FileEntry(shown, "", size, head=head)
            self._serial += 1
            path = (
                self._bundle(bundle, self._serial) if bundle is not None else self.copies / str(self._serial)
            )
            fd = os.open(path, _FLAGS, 0o600)
            try:
                _write(fd, head)
                while done < size:
                    chunk = stream.read(min(CHUNK, size - done))
                    if not chunk:
                        raise _ShortRead(f"its data ends after {done} of its {size} bytes")
                    done += _write(fd, chunk)
            finally:
                os.close(fd)
        except Exception as exc:  # noqa: BLE001 - a damaged extent costs this file, one line
            short = isinstance(exc, _ShortRead) or not done
            self._report(
                shown, f"{'cannot be read' if short else f'read error after {done} bytes'}: {reason(exc)}"
            )
            if path is not None:
                with contextlib.suppress(OSError):
                    os.unlink(path)
            return None
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    close()
        self._copied(shown, done)
        return FileEntry(shown, str(path), size, copy=True)

    def _copied(self, shown: str, size: int) -> None:
        if self.observer is not None:
            self.observer.copied(shown, size)

    def _bundle(self, contents: Any, serial: int) -> Path:
        """`N.app/Contents/MacOS/N` with the bundle's Info.plist (when a regular file) beside."""
        folder = self.copies / f"{serial}.app" / "Contents"
        (folder / "MacOS").mkdir(parents=True)
        with contextlib.suppress(Exception):  # no plist, or an unreadable one: the deep scanner does without
            plist = _child(contents, "Info.plist")
            if plist is not None and plist.IsFile() and not plist.IsLink():
                stream = plist.GetFileObject()
                try:
                    data = stream.read(min(PLIST_BYTES, max(0, int(plist.size or 0))))
                finally:
                    stream.close()
                (folder / "Info.plist").write_bytes(data)
        return folder / "MacOS" / str(serial)


def deep_volume(
    file_system: Any,
    names: VolumeNames,
    system: str | None,
    root: Path,
    host: str,
    sink: ErrorSink,
    matcher: Matcher,
    opts: ScanOptions,
    observer: CopyObserver | None = None,
) -> int:
    """Deep-scan every regular file of the volume (its system's software locations first when
    it holds one); `root` is its copied root, whose apt lists vouch for cached packages. The
    records it added to `matcher`, named `disk.qcow2#p2:/path`."""
    lines = VolumeLines(sink, names)
    count = WalkCount()
    scanner = DeepScanner(
        lines, host=host, catalog=matcher.catalog, limits=opts.deep_limits(), observer=opts.deep_observer
    )
    locations = known_locations(matcher.catalog, system) if system is not None else ()
    copies = Path(tempfile.mkdtemp(prefix="banscan-image-deep-"))
    try:
        files = VolumeFiles(
            file_system,
            copies,
            lambda where, message: lines.report(where, None, message),
            scanner.limits,
            count=count,
            observer=observer,
        )
        apt_root = root if system == "linux" else None
        before = matcher.records
        found = scanner.scan_copies(files.walk(locations), names.name, apt_root=apt_root, count=count)
        matcher.add_all(names.record(r) for r in found)
        return matcher.records - before
    finally:
        shutil.rmtree(copies, ignore_errors=True)


def _ntfs_metadata(entry: Any) -> bool:
    """NTFS's own files ($MFT, $LogFile, $Extend …: MFT entries 0 to 15), which a mounted NTFS
    does not list."""
    number = getattr(entry.path_spec, "mft_entry", None)
    return isinstance(number, int) and number < NTFS_RESERVED


def _named_children(entry: Any) -> list[tuple[str, Any]]:
    return [(_name(child), child) for child in entry.sub_file_entries]


def _name(entry: Any) -> str:
    name = entry.name
    return name if isinstance(name, str) else repr(name)


def _child(entry: Any, name: str) -> Any:
    """The entry of that exact name in a folder (names compare as they would on a copy of it)."""
    for child in entry.sub_file_entries:
        if child.name == name:
            return child
    return None


def _write(fd: int, data: bytes) -> int:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    return len(data)
