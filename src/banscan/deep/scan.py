"""The deep scan: read file contents (never run them) and describe Kaspersky code found in
them as FILE records for the matcher.

For each regular file the first 4 KiB decide what it is (filetype.sniff). Documents and
unknown data are left unread. Executables are parsed for their identity — PE version
resources and Authenticode signer, Mach-O Team ID and signing identifier, APK package name
and signing certificate, MSI properties, .pkg identifiers — and YARA-scanned for the
catalog's byte signatures. Containers are opened within the limits of archives.Limits and
their members examined the same way, to a bounded depth.

Records (collector "deep"):
- one identity record (kind FILE) per examined file that says who made or signed it
  (name, publisher, signer, team_id, bundle_id, version, sha256, path, extras);
- installers say what they install, and are described as that software: an MSI as an APP
  (ProductName, Manufacturer, ProductVersion, product_code), a .deb or .rpm as a PACKAGE
  (from its control file or header), a macOS .pkg as a RECEIPT per package identifier plus
  an APP for its title — read from their metadata, never run or unpacked to disk;
- one record (kind FILE) per byte signature found, with extras `byte_signature` (the
  identifier's exact value, which the matcher compares) and `yara_rule`. A signature that
  only repeats an installer's own metadata (its publisher in the MSI string pool, the
  vendor of a .deb in one of its binaries) is not reported again: one product, one finding.
A file inside an archive is shown as "outer.zip!dir/app.apk" (extra `archive_path`
"dir/app.apk"); an APK's manifest evidence is located at "…app.apk!AndroidManifest.xml".
Problems are one error line each ("path: message"); the scan goes on.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import mmap
import os
import posixpath
import stat
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from banscan.catalog.schema import Catalog
from banscan.collect.base import OS, CollectContext
from banscan.deep import apk, aptindex, archives, elf, installers, macho, msi, pe
from banscan.deep.aptindex import Vouch, index_for
from banscan.deep.archives import Budget, Limits, ZipView
from banscan.deep.filetype import (
    CONTAINERS,
    EXECUTABLE_LIKE,
    HEAD_BYTES,
    INTERESTING,
    BadInput,
    Buffer,
    Facts,
    FileType,
    sniff,
)
from banscan.deep.pool import BatchRunner, cpu_workers
from banscan.deep.stats import DeepObserver, DeepStats, Estimate, FileStats
from banscan.deep.walk import (
    FileEntry,
    WalkCount,
    count_files,
    estimate_root,
    explicit,
    known_locations,
    walk_root,
)
from banscan.deep.yarascan import ByteSignatures, YaraUnavailable
from banscan.errors import ErrorSink
from banscan.models import InventoryRecord, RecordKind, Source

COLLECTOR = "deep"
_ErrList = list[tuple[str, str]]
_Done = tuple[FileEntry, list[InventoryRecord], _ErrList, FileStats]
# Files handed to a worker at once: one task per file cost more than sniffing most files.
_BATCH_FILES = 64
_BATCH_BYTES = 64 * 1024 * 1024
# Bytes of copied files (scan_copies) that may wait on disk for a worker.
COPIES_AHEAD = 512 * 1024 * 1024


@functools.cache
def _default_catalog() -> Catalog:
    from banscan.catalog.loader import load_catalog

    return load_catalog()


class DeepScanner:
    """Examines files and yields FILE records. Thread-safe per file; one instance per run."""

    def __init__(
        self,
        errors: ErrorSink,
        *,
        host: str = "localhost",
        catalog: Catalog | None = None,
        rules_source: str | None = None,
        limits: Limits | None = None,
        workers: int | None = None,
        observer: DeepObserver | None = None,
        processes: bool | None = None,
        signatures: ByteSignatures | None = None,
        _setup: Callable[[], None] | None = None,
    ) -> None:
        """`processes`: examine in worker processes (True), in threads only (False), or move
        to processes once the scan turns out big (None; see deep.pool). `_setup` runs in each
        worker process before it examines anything (tests use it)."""
        self.errors = errors
        self.observer = observer
        self.stats = DeepStats()
        self._count: WalkCount | None = None
        self.host = host
        self.limits = limits or Limits()
        self.workers = workers if workers is not None else cpu_workers()
        self.processes = processes
        self._setup = _setup
        self.apt_root: str | None = None  # a system root whose apt indexes vouch for its cached packages
        self.catalog = catalog  # its `path` identifiers say which folders a whole-system walk takes first
        self.files_seen = 0
        self.files_examined = 0
        self.files_read = 0  # files read without an error about the file itself (its members aside)
        self.bytes_examined = 0
        try:
            if signatures is not None:
                self.signatures: ByteSignatures | None = signatures
            elif rules_source is not None:
                self.signatures = ByteSignatures(rules_source)
            else:
                self.signatures = ByteSignatures.from_catalog(catalog or _default_catalog())
        except YaraUnavailable as exc:
            self.signatures = None
            errors.report("<deep scan>", None, str(exc))

    # -- entry points -----------------------------------------------------------------------
    def scan_paths(self, paths: Iterable[str | Path]) -> Iterator[InventoryRecord]:
        """Files and folders named by the user."""
        paths = list(paths)
        count = WalkCount()

        def counted(stop: threading.Event) -> Estimate:
            return count_files(explicit(paths, _ignore), stop)

        label = ", ".join(str(p) for p in paths)
        yield from self._run(explicit(paths, self._report, count), label, count, None, counted)

    def scan_root(self, ctx: CollectContext) -> Iterator[InventoryRecord]:
        """A whole system (live or a mounted root), known install locations first."""
        count = WalkCount()
        label = "this machine" if ctx.live else str(ctx.root)
        if ctx.os == "linux":
            self._use_apt_lists(ctx.root)
        estimate = estimate_root(ctx.root, ctx.os, ctx.live) if self.observer is not None else None

        first = known_locations(self.catalog or _default_catalog(), ctx.os)

        def counted(stop: threading.Event) -> Estimate:
            return count_files(walk_root(ctx.root, ctx.os, ctx.live, _ignore, locations=first), stop)

        entries = walk_root(ctx.root, ctx.os, ctx.live, self._report, count, locations=first)
        yield from self._run(entries, label, count, estimate, counted)

    def scan_copies(
        self,
        entries: Iterator[FileEntry],
        label: str,
        *,
        apt_root: Path | None = None,
        count: WalkCount | None = None,
    ) -> Iterator[InventoryRecord]:
        """Files walked elsewhere (a disk image's, see banscan.images.deep) and examined as a
        root's files are: each copied here whole (`FileEntry.copy`: removed once examined, at
        most COPIES_AHEAD bytes of copies waiting for a worker), or given by its first bytes
        when the scan reads no further (`FileEntry.head`). `apt_root` holds the copied system's
        apt lists."""
        if apt_root is not None:
            self._use_apt_lists(apt_root)
        yield from self._run(entries, label, count, ahead=COPIES_AHEAD)

    def scan_buffer(self, data: Buffer, shown: str) -> list[InventoryRecord]:
        """Examine bytes already in memory (e.g. a file fetched by another collector)."""
        errs: _ErrList = []
        ftype = sniff(bytes(memoryview(data)[:HEAD_BYTES]))
        out = self._examine(
            data, ftype, shown, shown, 0, Budget(self.limits.max_total), errs, None, FileStats()
        )
        for where, msg in errs:
            self.errors.report(where, None, msg)
        return out

    # -- plumbing ---------------------------------------------------------------------------
    def _report(self, where: str, message: str) -> None:
        self.errors.report(where, None, message)

    def _use_apt_lists(self, root: Path) -> None:
        """Let the apt indexes under `root` vouch for its cached packages (see deep.aptindex)."""
        if not (root / aptindex.LISTS).is_dir():
            return
        self.apt_root = str(root)
        for where, message in index_for(self.apt_root).problems:
            self._report(where, message)

    def _run(
        self,
        entries: Iterator[FileEntry],
        label: str = "",
        count: WalkCount | None = None,
        estimate: Estimate | None = None,
        counter: Callable[[threading.Event], Estimate] | None = None,
        ahead: int | None = None,
    ) -> Iterator[InventoryRecord]:
        """Examine the walked files in batches on worker threads, yielding records in walk order
        (`ahead`: at most these bytes of files on disk waiting for a worker)."""
        stats = self.stats = DeepStats(label=label, workers=max(1, self.workers), estimate=estimate)
        self._count = count
        observer = self.observer
        stop = threading.Event()
        if observer is not None:
            observer.started(stats)
            if estimate is None and counter is not None:
                # No free figure for this tree: count it beside the scan, for the ETA.
                def count_in_background() -> None:
                    with contextlib.suppress(Exception):
                        stats.estimate = counter(stop)

                threading.Thread(target=count_in_background, name="banscan-count", daemon=True).start()
        runner: BatchRunner[FileEntry, _Done] = BatchRunner(
            self._batch,
            _examine_remote,
            _init_remote,
            (_WorkerSetup(self.host, self.limits, self.signatures, self.apt_root, self._setup),),
            workers=self.workers,
            size=_entry_size if ahead is None else _copy_size,
            crashed=_crashed,
            processes=self.processes,
            max_bytes_ahead=ahead,
        )
        try:
            for done in runner.run(self._batches(entries, stats)):
                yield from self._emit(*done)
        finally:
            stop.set()
            stats.finish()
            if observer is not None:
                observer.finished(stats)

    def _batches(self, entries: Iterator[FileEntry], stats: DeepStats) -> Iterator[list[FileEntry]]:
        """The walk cut into batches; the time spent walking is counted apart."""
        batch: list[FileEntry] = []
        size = 0
        clock = time.perf_counter
        while True:
            t = clock()
            entry = next(entries, None)
            stats.walk_seconds += clock() - t
            if entry is None:
                break
            batch.append(entry)
            size += entry.size
            if len(batch) >= _BATCH_FILES or size >= _BATCH_BYTES:
                yield batch
                batch, size = [], 0
        if batch:
            yield batch

    def _batch(self, batch: list[FileEntry]) -> list[_Done]:
        return [self._file(entry) for entry in batch]

    def _emit(
        self, entry: FileEntry, recs: list[InventoryRecord], errs: _ErrList, fs: FileStats
    ) -> Iterator[InventoryRecord]:
        self.files_seen += 1
        if fs.skip is None:
            self.files_examined += 1
            self.bytes_examined += fs.bytes_read
        if recs or all(where != entry.shown for where, _ in errs):
            self.files_read += 1
        for where, msg in errs:
            self.errors.report(where, None, msg)
        if entry.copy:
            with contextlib.suppress(OSError):
                os.unlink(entry.real)
        self.stats.add(entry.shown, entry.size, fs, len(errs))
        if self.observer is not None:
            if self._count is not None:
                self.stats.dirs_seen = self._count.dirs
            self.observer.update(self.stats)
        yield from recs

    def _file(self, entry: FileEntry) -> _Done:
        errs: _ErrList = []
        fs = FileStats()
        t = time.perf_counter()
        try:
            recs = self._file_inner(entry, errs, fs)
        except Exception as exc:  # noqa: BLE001 - one bad file must not end the scan
            errs.append((entry.shown, f"examination failed: {type(exc).__name__}: {exc}"))
            recs = []
        fs.seconds = time.perf_counter() - t
        return entry, recs, errs, fs

    def _file_inner(self, entry: FileEntry, errs: _ErrList, fs: FileStats) -> list[InventoryRecord]:
        t = time.perf_counter()
        if entry.head is not None:  # a file known not to be read past its first bytes (see `examined`)
            fs.add("headers", time.perf_counter() - t)
            if self._worth_reading(entry.head, entry.size, entry.shown, errs, fs) is not None:
                errs.append((entry.shown, "given by its first bytes alone; not examined"))
                fs.skip = "unreadable"
            return []
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        flags |= getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
        try:
            fd = os.open(entry.real, flags)
        except OSError as exc:
            errs.append((entry.shown, exc.strerror or str(exc)))
            fs.skip = "unreadable"
            return []
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                errs.append((entry.shown, "not a regular file (device, FIFO or socket); skipped"))
                fs.skip = "not-regular"
                return []
            if st.st_size == 0:
                fs.skip = "empty"
                return []
            # The first bytes decide: most files cannot hold code we detect and are left there.
            head = os.pread(fd, HEAD_BYTES, 0)
            fs.add("headers", time.perf_counter() - t)
            ftype = self._worth_reading(head, st.st_size, entry.shown, errs, fs)
            if ftype is None:
                return []
            fs.bytes_read = st.st_size
            mm = self._map(fd)
            try:
                budget = Budget(self.limits.max_total)
                return self._examine(mm, ftype, entry.shown, entry.shown, 0, budget, errs, entry.real, fs)
            finally:
                with contextlib.suppress(BufferError):  # a view still held by a parser; freed with it
                    mm.close()
        except OSError as exc:
            errs.append((entry.shown, exc.strerror or str(exc)))
            if fs.skip is None and not fs.bytes_read:
                fs.skip = "unreadable"
            return []
        finally:
            os.close(fd)

    def _worth_reading(
        self, head: bytes, size: int, shown: str, errs: _ErrList, fs: FileStats
    ) -> FileType | None:
        """The type of a file of `size` bytes that starts with `head`, when it is to be read
        whole; None (and why, in `fs.skip`) when it is left after its first bytes. The same
        rule as `examined`."""
        if size == 0:
            fs.skip = "empty"
            return None
        ftype = sniff(head)
        if ftype not in INTERESTING:
            fs.skip = "not-code"
            return None
        fs.ftype = ftype.value
        if size > self.limits.max_file:
            errs.append((shown, f"file is {size} bytes, over the {self.limits.max_file}-byte limit; skipped"))
            fs.skip = "too-big"
            return None
        return ftype

    @staticmethod
    def _map(fd: int) -> mmap.mmap:
        """The whole file, memory-mapped for reading (only files worth examining get here)."""
        mm = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
        if hasattr(mm, "madvise") and hasattr(mmap, "MADV_SEQUENTIAL"):
            mm.madvise(mmap.MADV_SEQUENTIAL)
        return mm

    # -- examination ------------------------------------------------------------------------
    def _examine(
        self,
        data: Buffer,
        ftype: FileType,
        shown: str,
        top: str,
        depth: int,
        budget: Budget,
        errs: _ErrList,
        disk_path: str | None,
        fs: FileStats,
        said: tuple[str, ...] = (),
    ) -> list[InventoryRecord]:
        """Records for one file or member. `said` holds what an enclosing installer states
        about itself (lower-cased): a byte signature repeating it is no further evidence."""
        out: list[InventoryRecord] = []
        facts: Facts | None = None
        location = shown
        sha: list[str] = []
        clock = time.perf_counter

        def digest() -> str:
            if not sha:
                t = clock()
                sha.append(hashlib.sha256(data).hexdigest())
                fs.add("hash", clock() - t)
            return sha[0]

        if ftype in EXECUTABLE_LIKE:
            found: list[Facts] = []
            t = clock()
            try:
                found = self._identity(data, ftype, disk_path, errs, shown)
            except msi.NotInstaller:
                return []
            except BadInput as exc:
                errs.append((shown, str(exc)))
            except Exception as exc:  # noqa: BLE001 - parsers of hostile input raise anything
                errs.append((shown, f"{ftype.value} parser failed: {type(exc).__name__}: {exc}"))
            finally:
                fs.add("identity", clock() - t)
            hits = []
            if self.signatures is not None:
                t = clock()
                try:
                    hits = self.signatures.scan(data)
                except ValueError as exc:
                    errs.append((shown, str(exc)))
                finally:
                    fs.add("yara", clock() - t)
            found = [f for f in found if f.has_identity()]
            for f in found:
                where = f"{shown}!{f.location}" if f.location else shown
                out.append(self._record(shown, where, top, ftype, f, digest(), None))
            # An installer's metadata is what it says about itself; the same words found again
            # by a byte signature (its publisher in the string pool) are not a second product.
            stated = said + tuple(
                v.casefold() for f in found if f.kind != RecordKind.FILE for v in f.values()
            )
            facts = found[0] if found else None
            for hit in hits:
                if _restated(hit.identifier, stated):
                    continue
                out.append(self._record(shown, shown, top, ftype, facts, digest(), hit))
            return out
        if ftype not in CONTAINERS:
            return out
        if depth >= self.limits.max_depth:
            errs.append((shown, f"archive nested more than {self.limits.max_depth} deep; not opened"))
            return out

        def report(member: str, message: str) -> None:
            errs.append((f"{shown}!{member}" if member else shown, message))

        t_open = time.perf_counter()
        members: Iterator[archives.Member]
        zv: ZipView | None = None
        if ftype == FileType.ZIP:
            try:
                zv = ZipView(data)
            except Exception as exc:  # noqa: BLE001 - zipfile raises many types on bad input
                errs.append((shown, f"zip archive unreadable: {type(exc).__name__}: {exc}"))
                fs.add("archives", time.perf_counter() - t_open)
                return out
            kind = archives.zip_kind(zv.names)
            if kind == "office":
                zv.close()
                fs.add("archives", time.perf_counter() - t_open)
                return out
            if kind in ("apk", "ipa"):
                t = clock()
                facts, location = self._package(zv, kind, shown, errs)
                fs.add("identity", clock() - t)
                if facts is not None and facts.has_identity():
                    out.append(self._record(shown, location, top, ftype, facts, digest(), None, kind))
            checker = self.signatures.stream_check if self.signatures is not None else None
            members = archives.zip_members(zv, self.limits, budget, report, checker)
        elif ftype == FileType.TAR:
            members = archives.tar_plain_members(data, self.limits, budget, report)
        elif ftype == FileType.AR:
            before = len(errs)
            entries = archives.ar_entries(data, self.limits, report)
            cut = len(errs) > before  # already reported: a control archive lost there is not news
            if installers.is_deb(data, entries) and not (
                cut and not any(e.name.startswith("control.tar") for e in entries)
            ):
                # A Debian package: its control file says what it is; its data archive is still
                # opened, for binaries of one vendor shipped inside another's package.
                deb = installers.deb_control(data, entries, report)
                vouch = self._vouch(digest) if depth == 0 and disk_path is not None else None
                if deb is not None:
                    if vouch is not None:
                        deb.extra["package_index"] = vouch.label
                    where = f"{shown}!{deb.location}"
                    out.append(self._record(shown, where, top, ftype, deb, digest(), None, "deb"))
                    said = said + tuple(v.casefold() for v in deb.values())
                entries = [e for e in entries if not e.name.startswith("control.tar")]
                if vouch is not None and deb is not None:
                    # Published by a free-software distribution archive: identified by its
                    # control file, its contents known (see deep.aptindex).
                    fs.vouched = vouch.label
                    entries = []
            members = archives.ar_members(data, entries, report)
        else:
            members = archives.compressed_members(
                ftype, data, archives.strip_suffix(shown), self.limits, budget, report
            )
        spent = clock() - t_open
        try:
            while True:
                # Time to list, expand and pick the next member is the archive's own cost.
                t = clock()
                m = next(members, None)
                spent += clock() - t
                if m is None:
                    break
                fs.members += 1
                if m.examined:
                    continue
                try:
                    sub = sniff(bytes(memoryview(m.data)[:HEAD_BYTES]))
                    out.extend(
                        self._examine(
                            m.data, sub, f"{shown}!{m.name}", top, depth + 1, budget, errs, None, fs, said
                        )
                    )
                finally:
                    m.close()
        finally:
            if zv is not None:
                zv.close()
            fs.add("archives", spent)
        return out

    def _vouch(self, digest: Callable[[], str]) -> Vouch | None:
        if self.apt_root is None:
            return None
        return index_for(self.apt_root).vouch(digest())

    def _identity(
        self, data: Buffer, ftype: FileType, disk_path: str | None, errs: _ErrList, shown: str
    ) -> list[Facts]:
        """What the file says about itself: one Facts per record (several for a .pkg)."""
        found: list[Facts]
        if ftype == FileType.PE:
            found = [pe.analyse(data)]
        elif ftype == FileType.ELF:
            found = [elf.analyse(data)]
        elif ftype in (FileType.MACHO, FileType.MACHO_FAT):
            facts = macho.analyse(data)
            if disk_path is not None:
                self._bundle_plist(disk_path, facts, errs, shown)
            found = [facts]
        elif ftype == FileType.MSI:
            found = [msi.analyse(data)]
        elif ftype == FileType.XAR:
            found = installers.xar_package(data)
        elif ftype == FileType.RPM:
            found = [installers.rpm_package(data)]
        else:
            return []
        for facts in found:
            for note in facts.notes:
                errs.append((shown, note))
        return found

    def _bundle_plist(self, disk_path: str, facts: Facts, errs: _ErrList, shown: str) -> None:
        """For Foo.app/Contents/MacOS/foo, read Foo.app/Contents/Info.plist."""
        parts = Path(disk_path).parts
        if len(parts) < 3 or parts[-2] != "MacOS" or parts[-3] != "Contents":
            return
        plist = Path(*parts[:-2]) / "Info.plist"
        try:
            fd = os.open(plist, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        except OSError:
            return
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return
            raw = os.read(fd, 4 * 1024 * 1024)
        finally:
            os.close(fd)
        shown_plist = posixpath.join(posixpath.dirname(posixpath.dirname(shown)), "Info.plist")
        try:
            macho.apply_bundle(facts, macho.bundle_info(raw), shown_plist)
        except BadInput as exc:
            errs.append((shown_plist, str(exc)))

    def _package(self, zv: ZipView, kind: str, shown: str, errs: _ErrList) -> tuple[Facts | None, str]:
        if kind == "apk":
            location = f"{shown}!AndroidManifest.xml"
            try:
                facts = apk.analyse(zv.names, zv.read)
            except BadInput as exc:
                errs.append((location, str(exc)))
                return None, location
            except Exception as exc:  # noqa: BLE001 - hostile manifests
                errs.append((location, f"manifest parser failed: {type(exc).__name__}: {exc}"))
                return None, location
            for note in facts.notes:
                errs.append((shown, note))
            return facts, location
        plist = next(n for n in zv.names if n.startswith("Payload/") and n.endswith(".app/Info.plist"))
        location = f"{shown}!{plist}"
        raw = zv.read(plist, 4 * 1024 * 1024)
        if raw is None:
            errs.append((location, "Info.plist unreadable"))
            return None, location
        facts = Facts()
        try:
            macho.apply_bundle(facts, macho.bundle_info(raw), location)
        except BadInput as exc:
            errs.append((location, str(exc)))
            return None, location
        return facts, location

    def _record(
        self,
        shown: str,
        location: str,
        top: str,
        ftype: FileType,
        facts: Facts | None,
        sha256: str,
        hit: object | None,
        package_kind: str | None = None,
    ) -> InventoryRecord:
        extra: dict[str, str] = {"file_type": package_kind or ftype.value}
        if shown != top:
            extra["archive"] = top
            extra["archive_path"] = shown[len(top) + 1 :]
        if facts is not None:
            for k, v in facts.extra.items():
                extra.setdefault(k, v)
        from banscan.deep.yarascan import Hit

        basename = posixpath.basename(shown.rsplit("!", 1)[-1]) or shown
        if isinstance(hit, Hit):
            extra["byte_signature"] = hit.identifier
            extra["yara_rule"] = hit.rule
            if hit.product:
                extra["yara_product"] = hit.product
            return InventoryRecord(
                host=self.host,
                source=Source(COLLECTOR, location),
                kind=RecordKind.FILE,
                name=(facts.name if facts is not None and facts.name else basename),
                path=shown,
                sha256=sha256,
                extra=tuple(extra.items()),
            )
        assert facts is not None
        return InventoryRecord(
            host=self.host,
            source=Source(COLLECTOR, location),
            kind=facts.kind,
            name=facts.name or basename,
            version=facts.version,
            publisher=facts.publisher,
            path=shown,
            bundle_id=facts.bundle_id,
            team_id=facts.team_id,
            signer=facts.signer,
            sha256=sha256,
            extra=tuple(extra.items()),
        )


@dataclass(frozen=True)
class _WorkerSetup:
    """What a worker process needs to examine files as this scanner would (picklable)."""

    host: str
    limits: Limits
    signatures: ByteSignatures | None
    apt_root: str | None
    setup: Callable[[], None] | None


_REMOTE: list[DeepScanner] = []  # the worker process's own scanner


def _init_remote(config: _WorkerSetup) -> None:
    if config.setup is not None:
        config.setup()
    scanner = DeepScanner(
        ErrorSink(echo=False),
        host=config.host,
        limits=config.limits,
        workers=1,
        processes=False,
        signatures=config.signatures,
    )
    scanner.apt_root = config.apt_root
    _REMOTE[:] = [scanner]


def _examine_remote(batch: list[FileEntry]) -> list[_Done]:
    return _REMOTE[0]._batch(batch)


def _entry_size(entry: FileEntry) -> int:
    return entry.size


def _copy_size(entry: FileEntry) -> int:
    """The disk space an entry of `scan_copies` takes: a copy, its size; first bytes, none."""
    return entry.size if entry.copy else 0


def examined(head: bytes, size: int, limits: Limits) -> bool:
    """Whether the deep scan reads a file of `size` bytes that starts with `head` (its first
    HEAD_BYTES) whole: only code and archives within the size limit are; any other file is left
    after its first bytes (`DeepScanner._worth_reading`), so a walker that copies files out of a
    disk image gives those as their first bytes alone (`FileEntry.head`)."""
    return 0 < size <= limits.max_file and sniff(head) in INTERESTING


def _crashed(entry: FileEntry) -> _Done:
    fs = FileStats()
    fs.skip = "unreadable"
    return entry, [], [(entry.shown, "examining this file stopped a worker process; not examined")], fs


def _ignore(where: str, message: str) -> None:
    """Error lines of the background count: the scan itself reports them."""


def _restated(identifier: str, stated: tuple[str, ...]) -> bool:
    needle = identifier.casefold()
    return any(needle in value for value in stated)


def deep_records(
    target: CollectContext | Iterable[str | Path],
    errors: ErrorSink,
    *,
    host: str | None = None,
    catalog: Catalog | None = None,
    limits: Limits | None = None,
    workers: int | None = None,
    observer: DeepObserver | None = None,
) -> Iterator[InventoryRecord]:
    """Deep-scan a system (a CollectContext) or the given files and folders."""
    if isinstance(target, CollectContext):
        scanner = DeepScanner(
            errors,
            host=host or target.host,
            catalog=catalog,
            limits=limits,
            workers=workers,
            observer=observer,
        )
        yield from scanner.scan_root(target)
    else:
        scanner = DeepScanner(
            errors,
            host=host or "localhost",
            catalog=catalog,
            limits=limits,
            workers=workers,
            observer=observer,
        )
        yield from scanner.scan_paths(target)


class DeepCollector:
    """Collector-protocol wrapper: the whole system's files, for `banscan scan --deep`."""

    name: ClassVar[str] = COLLECTOR
    os: ClassVar[tuple[OS, ...]] = ("linux", "windows", "macos")
    live_only: ClassVar[bool] = False
    reads: ClassVar[tuple[str, ...]] = ("**",)  # every file: opt-in, never part of `selector`

    def __init__(
        self,
        catalog: Catalog | None = None,
        limits: Limits | None = None,
        observer: DeepObserver | None = None,
    ) -> None:
        self.catalog = catalog
        self.limits = limits
        self.observer = observer

    def collect(self, ctx: CollectContext) -> Iterator[InventoryRecord]:
        yield from deep_records(
            ctx, ctx.errors, catalog=self.catalog, limits=self.limits, observer=self.observer
        )
