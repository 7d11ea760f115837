"""One scan, end to end: collect → match → policy → exceptions → a ScanResult.

The CLI, the agent and the tests all call `run_scan`; nothing here prints or exits.
"""

from __future__ import annotations

import datetime as dt
import socket
from dataclasses import dataclass, field
from pathlib import Path

from banscan import __version__
from banscan.catalog.schema import Catalog
from banscan.collect.base import Collector
from banscan.collect.detect import make_context
from banscan.collect.registry import collect_system
from banscan.errors import ErrorSink
from banscan.match.matcher import Matcher
from banscan.models import ScanResult, TargetResult, Verdict
from banscan.policy.engine import apply_policy
from banscan.policy.exceptions import ExceptionEntry, apply_exceptions


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

        extra.append(DeepCollector(matcher.catalog))
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
            from banscan.inputs.bulk import bulk_scan

            out.append(bulk_scan(f, matcher, sink, bulk, host=opts.host))
            continue
        target, records = read_target(
            f, sink, input_format=opts.input_format, host=opts.host, columns=opts.columns
        )
        matcher.add_all(records)
        out.append(target)
    return out


def _bulk_reader(path: str, opts: ScanOptions) -> str | None:
    """The reader name when a large line-oriented input should take the bulk path."""
    from banscan.inputs.base import InputError, head_of, open_input
    from banscan.inputs.bulk import BULK_MIN_BYTES, should_use_bulk
    from banscan.inputs.registry import detect

    if path == "-" or opts.columns:
        return None
    try:
        if Path(path).stat().st_size <= BULK_MIN_BYTES:
            return None
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
    from banscan.deep import deep_records

    sink = ErrorSink(echo=opts.echo_errors)
    target = TargetResult(target=", ".join(str(p) for p in paths), format="deep")
    host = opts.host or socket.gethostname()
    before = matcher.records
    matcher.add_all(deep_records(paths, sink, host=host, catalog=matcher.catalog))
    matcher.hosts.setdefault(host, None)
    target.records = matcher.records - before
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
) -> ScanResult:
    """Scan this machine (`live`), offline roots and inventory inputs; evaluate every finding."""
    matcher = Matcher(catalog)
    targets: list[TargetResult] = []
    if live:
        targets.append(_scan_root(None, matcher, opts))
    for root in roots or []:
        targets.append(_scan_root(root, matcher, opts))
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
    )


FAIL_LEVELS = {
    "covered": {Verdict.COVERED, Verdict.REMNANT},
    "review": {Verdict.COVERED, Verdict.REMNANT, Verdict.REVIEW},
    "never": set(),
}


def exit_status(result: ScanResult, fail_on: str = "review") -> int:
    """0 nothing found, 1 findings at or above `fail_on`, 2 when no target could be read."""
    if result.targets and all(t.records == 0 and t.errors for t in result.targets):
        return 2
    failing = FAIL_LEVELS[fail_on]
    return 1 if any(f.verdict in failing for f in result.findings) else 0
