"""Scan a disk image: each volume with an operating system as if it were a mounted root.

Per volume, what the collectors read is copied out of the image into a temporary folder
(what layout detection reads first, then what the detected system's collectors read), and
that folder is scanned like `--root` would scan the mounted volume: the same collectors, the
host named by the system itself. With `--deep`, every file of every readable volume is then
examined as `--deep --root` examines a root's (`images.deep`). Results name the image and
volume, never the folder, which is always removed. The image is only ever opened for reading.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from banscan.collect.base import CollectContext
from banscan.collect.detect import detect_os, make_context
from banscan.collect.reads import selector
from banscan.collect.registry import collect_system
from banscan.errors import ErrorSink, debug_enabled, unexpected
from banscan.images.copyout import Copier, CopyLimits
from banscan.images.labels import RenamingSink, VolumeNames
from banscan.images.problems import reason
from banscan.images.progress import ImageProgress
from banscan.images.volumes import ImageError, Volume, open_image
from banscan.match.matcher import Matcher
from banscan.models import TargetResult

if TYPE_CHECKING:
    from banscan.scan import ScanOptions


def copy_limit() -> int:
    """The largest file copied with its content: what a collector reads whole (registry hives
    reach hundreds of MB, over the collectors' ordinary per-file limit)."""
    from banscan.collect.windows.offline import HIVE_MAX_BYTES

    ordinary = CollectContext(root=Path(), os="linux", host="", live=False).max_file_bytes
    return max(ordinary, HIVE_MAX_BYTES)


def scan_image(path: Path, matcher: Matcher, opts: ScanOptions) -> list[TargetResult]:
    """One TargetResult per volume of the image at `path` (one for the image when it cannot be
    opened at all)."""
    sink = ErrorSink(echo=opts.echo_errors)
    try:
        image = open_image(path, opts.image_credentials)
    except ImageError as exc:
        sink.report(path, None, f"cannot be read as a disk image: {exc}")
        return [TargetResult(target=str(path), format="image", errors=list(sink.lines))]
    except Exception as exc:  # noqa: BLE001 - one image must not end the run
        _debug_traceback()
        sink.report(path, None, unexpected(exc))
        return [TargetResult(target=str(path), format="image", errors=list(sink.lines))]
    progress = ImageProgress(path.name, live=opts.progress)
    try:
        out: list[TargetResult] = []
        for index, volume in enumerate(image.volumes, 1):
            progress.volume(volume.label, index, len(image.volumes))
            out.append(_scan_volume(path, volume, image.context, matcher, opts, progress))
        return out
    finally:
        progress.stop()
        image.close()


def _scan_volume(
    path: Path, volume: Volume, context: Any, matcher: Matcher, opts: ScanOptions, progress: ImageProgress
) -> TargetResult:
    suffix = f"#{volume.label}" if volume.label else ""
    target = TargetResult(target=f"{path}{suffix}", format="image")
    sink = ErrorSink(echo=opts.echo_errors)
    if volume.locked:
        target.format = "image:locked"
        advice = (
            "none of the keys given opens it"
            if opts.image_credentials
            else "give its key (--key, --recovery-password) to scan it"
        )
        sink.report(target.target, None, f"{volume.encryption}-encrypted {volume.what()} is locked; {advice}")
    elif volume.spec is None:
        target.format = "image:damaged" if volume.problem else "image:no-file-system"
        if volume.problem:
            sink.report(target.target, None, f"{volume.what()}: {volume.problem}")
    else:
        return _scan_file_system(path.name + suffix, target, volume, context, matcher, opts, progress)
    target.errors = list(sink.lines)
    return target


def _scan_file_system(
    name: str,
    target: TargetResult,
    volume: Volume,
    context: Any,
    matcher: Matcher,
    opts: ScanOptions,
    progress: ImageProgress,
) -> TargetResult:
    """Copy out, detect, collect; the folder is removed whatever happens."""
    from dfvfs.resolver import resolver  # type: ignore[import-untyped]

    folder = Path(tempfile.mkdtemp(prefix="banscan-image-"))
    names = VolumeNames.for_folder(name, folder)
    sink = RenamingSink(echo=opts.echo_errors, rename=names.text)
    if volume.problem:  # read all the same (a partition cut short by the end of the image)
        sink.report(target.target, None, f"{volume.what()}: {volume.problem}")
    try:
        try:
            file_system = resolver.Resolver.OpenFileSystem(volume.spec, resolver_context=context)
        except Exception as exc:  # noqa: BLE001 - a damaged file system is one line
            target.format = "image:damaged"
            kind = (volume.file_system or "").lower()
            sink.report(target.target, None, f"{volume.what()}: damaged {kind} file system: {reason(exc)}")
            target.errors = sink.renamed()
            return target

        def report(rel: str, message: str) -> None:
            sink.report(f"{name}:{rel}", None, message)

        copier = Copier(file_system, folder, report, CopyLimits(max_file_bytes=copy_limit()), progress)
        readable = copier.copy(selector(None))
        system = detect_os(folder)
        host = opts.host or name
        if system is None:
            target.format = "image:data" if readable else "image:damaged"
        else:
            copier.copy(selector(system))
            target.format = f"image:{system}"
            target.records, host = _collect(folder, names, sink, matcher, opts)
        if opts.deep and readable:
            target.records += _deep(file_system, copier, names, system, host, sink, matcher, opts, progress)
    except Exception as exc:  # noqa: BLE001 - one volume must not end the scan of the others
        _debug_traceback()
        sink.report(target.target, None, unexpected(exc))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    target.errors = sink.renamed()
    return target


def _collect(
    folder: Path, names: VolumeNames, sink: ErrorSink, matcher: Matcher, opts: ScanOptions
) -> tuple[int, str]:
    """Run the collectors on the copied root as `--root` would: the records it added, and the
    host they name."""
    ctx = make_context(folder, sink, host=opts.host)
    if ctx is None:
        return 0, opts.host or names.name
    if opts.host is None and ctx.host == folder.resolve().name:
        ctx.host = names.name  # the system records no name of its own: not the folder's
    before = matcher.records
    matcher.add_all(names.record(r) for r in collect_system(ctx))
    matcher.hosts.setdefault(ctx.host, None)
    return matcher.records - before, ctx.host


def _deep(
    file_system: Any,
    copier: Copier,
    names: VolumeNames,
    system: str | None,
    host: str,
    sink: ErrorSink,
    matcher: Matcher,
    opts: ScanOptions,
    progress: ImageProgress,
) -> int:
    """`--deep`: every file of the volume, as `--deep --root` examines a root's (a data volume's
    too). The deep scan's own progress line, when there is one, replaces the image's meanwhile."""
    from banscan.images.deep import APT_LISTS, deep_volume

    if system == "linux":
        copier.copy(APT_LISTS)  # they vouch for the system's cached packages
    if opts.deep_observer is not None:
        progress.stop()
    observer = progress if opts.deep_observer is None else None
    added = deep_volume(file_system, names, system, copier.dest, host, sink, matcher, opts, observer)
    if added:
        matcher.hosts.setdefault(host, None)
    return added


def _debug_traceback() -> None:
    if debug_enabled():
        import traceback

        traceback.print_exc()
