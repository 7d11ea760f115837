"""One scan, end to end: collect → match → policy → exceptions → a ScanResult.

The CLI, the agent and the tests all call `run_scan`; nothing here prints or exits.
"""

from __future__ import annotations

import datetime as dt
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from banscan import __version__
from banscan.catalog.schema import Catalog
from banscan.collect.base import Collector
from banscan.collect.detect import make_context
from banscan.collect.registry import collect_system
from banscan.errors import ErrorSink, debug_enabled, unexpected
from banscan.inputs.base import ExpandLimits
from banscan.match.matcher import Matcher
from banscan.models import ScanResult, TargetResult, Verdict
from banscan.policy.engine import apply_policy
from banscan.policy.exceptions import ExceptionEntry, apply_exceptions

if TYPE_CHECKING:
    from banscan.deep.archives import Limits
    from banscan.deep.stats import DeepObserver
    from banscan.output.progress import ByteProgress


@dataclass
class ScanOptions:
    as_of: dt.date
    role: str = "user"
    jurisdiction: str = "US"
    host: str | None = None
    exceptions: list[ExceptionEntry] = field(default_factory=list)
    echo_errors: bool = True
    input_format: str | None = None
    columns: dict[str, str] | None = None
    deep: bool = False
    # (host, product) → the day an earlier scan first identified it (scan --previous)
    previous: dict[tuple[str, str], dt.date] = field(default_factory=dict)
    # how far a compressed input (and, in a deep scan, an archive) may expand
    expand: ExpandLimits = field(default_factory=ExpandLimits)
    # told how a deep scan goes (the CLI's progress line and summary)
    deep_observer: DeepObserver | None = None
    # progress bars on stderr for long inputs (the CLI: a terminal and not --quiet)
    progress: bool = False
    # keys for encrypted volumes in disk images: (credential type, value), e.g.
    # ("recovery_password", "…"), ("password", "…"), ("startup_key", "/path/to/key.BEK")
    image_credentials: list[tuple[str, str]] = field(default_factory=list)

    def deep_limits(self) -> Limits:
        """The deep scan's archive limits, with the ratio and total size of `expand`."""
        from banscan.deep.archives import Limits

        return Limits(max_ratio=self.expand.max_ratio, max_total=self.expand.max_total)


def _scan_root(root: Path | None, matcher: Matcher, opts: ScanOptions) -> TargetResult:
    sink = ErrorSink(echo=opts.echo_errors)
    label = "localhost" if root is None else str(root)
    ctx = make_context(root, sink, host=opts.host)
    if ctx is None:
        target = TargetResult(target=label, format="root")
        target.errors.append(f"{label}: not a recognised Windows, macOS or Linux root")
        if opts.echo_errors:
            sink.writer(f"banscan: error: {target.errors[-1]}")
        return target
    target = TargetResult(target=label, format=f"{'live' if ctx.live else 'root'}:{ctx.os}")
    before = matcher.records
    extra: list[Collector] = []
    if opts.deep:
        from banscan.deep import DeepCollector

        extra.append(DeepCollector(matcher.catalog, opts.deep_limits(), opts.deep_observer))
    matcher.add_all(collect_system(ctx, extra))
    matcher.hosts.setdefault(ctx.host, None)
    target.records = matcher.records - before
    target.errors.extend(sink.lines)
    return target


def _scan_inputs(path: str, matcher: Matcher, opts: ScanOptions) -> list[TargetResult]:
    """Read an inventory file, '-' (stdin) or a directory of inventory files."""
    from banscan.inputs.registry import expand, read_target

    files = ["-"] if path == "-" else [str(p) for p in expand(Path(path))]
    out: list[TargetResult] = []
    for f in files:
        sink = ErrorSink(echo=opts.echo_errors)
        bulk = _bulk_reader(f, opts)
        if bulk is not None:
            try:
                out.append(_bulk_scan(f, bulk, matcher, sink, opts))
            except Exception as exc:  # noqa: BLE001 - one input must not end the run
                out.append(_failed(f, bulk, sink, exc))
            continue
        bars: list[ByteProgress] = []
        target, records = read_target(
            f,
            sink,
            input_format=opts.input_format,
            host=opts.host,
            columns=opts.columns,
            limits=opts.expand,
            on_open=_progress_for(f, bars) if opts.progress else None,
        )
        try:
            matcher.add_all(records)
        except Exception as exc:  # noqa: BLE001 - (the reader's own failures are reported inside)
            close = getattr(records, "close", None)  # the generator: its errors go to the target
            if close is not None:
                close()
            target.errors.append(_failed(f, target.format, sink, exc).errors[-1])
        finally:
            for bar in bars:
                bar.stop()
        out.append(target)
    return out


def _bulk_scan(path: str, reader: str, matcher: Matcher, sink: ErrorSink, opts: ScanOptions) -> TargetResult:
    """A large input by its bulk path: result logs (`inputs.bulk`) or CSV exports (`inputs.bulkcsv`)."""
    from banscan.inputs.bulk import bulk_scan, csv_reader_named

    csv_reader = csv_reader_named(reader)
    if csv_reader is not None:
        from banscan.inputs.bulkcsv import bulk_csv_scan

        return bulk_csv_scan(
            path, matcher, sink, csv_reader, host=opts.host, limits=opts.expand, progress=opts.progress
        )
    return bulk_scan(path, matcher, sink, reader, host=opts.host, limits=opts.expand, progress=opts.progress)


def _progress_for(path: str, bars: list[ByteProgress]) -> Callable[[BinaryIO], None]:
    """Start a bar for a long input once it is open (not for stdin: its size is unknown)."""

    def on_open(stream: BinaryIO) -> None:
        from banscan.output.progress import bar_for_stream

        bar = bar_for_stream(path, stream)
        if bar is not None:
            bars.append(bar)

    return on_open


def _failed(path: str, fmt: str, sink: ErrorSink, exc: Exception) -> TargetResult:
    """The target of an input whose reading failed unexpectedly: what was reported, plus a line."""
    if debug_enabled():
        import traceback

        traceback.print_exc()
    sink.report(path, None, unexpected(exc))
    return TargetResult(target=path, format=fmt, errors=list(sink.lines))


def _bulk_reader(path: str, opts: ScanOptions) -> str | None:
    """The reader name when a large line-oriented input should take the bulk path."""
    from banscan.inputs.base import InputError, head_of, open_input
    from banscan.inputs.bulk import should_use_bulk, smallest_bulk_input, text_size_guess
    from banscan.inputs.registry import detect

    if path == "-" or opts.columns or text_size_guess(path) <= smallest_bulk_input():
        return None
    try:
        stream, name = open_input(path)
    except (OSError, InputError):
        return None  # the ordinary path reports it
    try:
        reader = opts.input_format or getattr(detect(head_of(stream), name), "name", None)
    finally:
        stream.close()
    return reader if reader and should_use_bulk(path, reader) else None


def _scan_deep_paths(paths: list[Path], matcher: Matcher, opts: ScanOptions) -> TargetResult:
    """`--deep PATH…`: examine file contents (signers, version resources, byte signatures)."""
    from banscan.deep import DeepScanner

    sink = ErrorSink(echo=opts.echo_errors)
    target = TargetResult(target=", ".join(str(p) for p in paths), format="deep")
    host = opts.host or socket.gethostname()
    scanner = DeepScanner(
        sink, host=host, catalog=matcher.catalog, limits=opts.deep_limits(), observer=opts.deep_observer
    )
    matcher.add_all(scanner.scan_paths(paths))
    matcher.hosts.setdefault(host, None)
    # What was read is the files examined without an error of their own (a corrupt zip among
    # readable files is one error line, not "nothing could be read").
    target.records = scanner.files_read
    target.errors.extend(sink.lines)
    return target


def run_scan(
    catalog: Catalog,
    opts: ScanOptions,
    *,
    roots: list[Path] | None = None,
    inputs: list[str] | None = None,
    deep_paths: list[Path] | None = None,
    live: bool = False,
    images: list[Path] | None = None,
) -> ScanResult:
    """Scan this machine (`live`), offline roots, disk images and inventory inputs; evaluate
    every finding."""
    matcher = Matcher(catalog)
    targets: list[TargetResult] = []
    if live:
        targets.append(_scan_root(None, matcher, opts))
    for root in roots or []:
        targets.append(_scan_root(root, matcher, opts))
    for image in images or []:
        from banscan.images.scan import scan_image

        targets.extend(scan_image(image, matcher, opts))
    for item in inputs or []:
        targets.extend(_scan_inputs(item, matcher, opts))
    if deep_paths:
        targets.append(_scan_deep_paths(deep_paths, matcher, opts))
    return finish(catalog, matcher, targets, opts)


def finish(catalog: Catalog, matcher: Matcher, targets: list[TargetResult], opts: ScanOptions) -> ScanResult:
    """Turn matched evidence into a result: verdicts, exceptions, obligations."""
    findings = matcher.findings()
    apply_exceptions(findings, opts.exceptions, opts.as_of)
    apply_policy(
        catalog, findings, opts.role, opts.as_of, jurisdiction=opts.jurisdiction, identified=opts.previous
    )
    return ScanResult(
        banscan_version=__version__,
        catalog_version=catalog.meta.version,
        as_of=opts.as_of.isoformat(),
        role=opts.role,
        targets=targets,
        findings=findings,
        hosts=list(matcher.hosts),
        generated_at=dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        jurisdiction=opts.jurisdiction,
        catalog=catalog.origin.to_json() if catalog.origin is not None else {},
        packs=[{"id": p.id, "title": p.title, "version": p.version} for p in catalog.packs],
    )


FAIL_LEVELS = {
    "covered": {Verdict.COVERED, Verdict.REMNANT},
    "review": {Verdict.COVERED, Verdict.REMNANT, Verdict.REVIEW},
    "never": set(),
}


UNREAD_VOLUMES = ("image:locked", "image:damaged")  # volumes of a disk image that were not scanned


def exit_status(result: ScanResult, fail_on: str = "review") -> int:
    """0 nothing found, 1 findings at or above `fail_on`, 2 when no target could be read (every
    target read nothing and reported an error) or, with nothing found, when a disk image held a
    volume that could not be read (locked, or its file system damaged): "clean" would claim
    what was not checked."""
    if result.targets and all(t.records == 0 and t.errors for t in result.targets):
        return 2
    failing = FAIL_LEVELS[fail_on]
    if any(f.verdict in failing for f in result.findings):
        return 1
    return 2 if any(t.format in UNREAD_VOLUMES for t in result.targets) else 0
