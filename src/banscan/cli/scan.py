"""`banscan scan`: scan this machine, mounted roots, inventory files or file contents."""

from __future__ import annotations

import datetime as dt
import shutil
import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from banscan.catalog.schema import ROLES
from banscan.cli.common import load_catalog_or_exit, narrow_to_packs, parse_as_of, usage_error, write_output
from banscan.output.formats import OutputFormat

if TYPE_CHECKING:
    from banscan.catalog.schema import Catalog
    from banscan.models import ScanResult
    from banscan.scan import ScanOptions


class Engine(str, Enum):
    local = "local"
    spark = "spark"


class FailOn(str, Enum):
    covered = "covered"
    review = "review"
    never = "never"


def _jurisdiction(code: str) -> str:
    from banscan.policy.engine import UnknownJurisdiction, normalise_jurisdiction

    try:
        return normalise_jurisdiction(code)
    except UnknownJurisdiction as exc:
        raise usage_error(f"--jurisdiction: {exc}") from None


def _previous(paths: list[Path]) -> dict[tuple[str, str], dt.date]:
    """First identification by (host, product) from earlier results (files, or folders of *.json)."""
    if not paths:
        return {}  # and no result reader (or its JSON-schema library) to import
    from banscan.documents.load import ResultError, first_identified, load_result

    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            found = sorted(p.glob("*.json"))
            if not found:
                raise usage_error(f"--previous {p}: no *.json result files in this folder")
            files.extend(found)
        else:
            files.append(p)
    try:
        return first_identified([load_result(f, scan_inventories=False) for f in files])
    except ResultError as exc:
        raise usage_error(f"--previous: {exc}") from None


_SIZE_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


def parse_size(text: str) -> int:
    """`1073741824`, `512M`, `8G`, `2GiB`, `1.5G` → bytes; ValueError otherwise."""
    t = text.strip().upper().removesuffix("B").removesuffix("I")
    unit = t[-1:] if t[-1:] in _SIZE_UNITS and t[-1:] else ""
    number = t[: len(t) - len(unit)].strip()
    value = float(number) * _SIZE_UNITS[unit]
    if not number or value != value or value < 1 or value > 2**62:
        raise ValueError(text)
    return int(value)


def scan(
    targets: Annotated[
        list[str] | None,
        typer.Argument(
            help="Roots, disk images or inventory files to scan; none scans this machine. With --engine spark: "
            "inventory files, folders, globs or Hadoop-compatible URIs (hdfs://, s3a://, abfss://).",
            show_default=False,
        ),
    ] = None,
    root: Annotated[
        list[Path] | None,
        typer.Option("--root", help="A mounted disk image or copied root (Linux, Windows or macOS)."),
    ] = None,
    image: Annotated[
        list[Path] | None,
        typer.Option(
            "--image",
            help="A disk image to scan without mounting it (VMDK, VHD/VHDX, QCOW2, E01, raw dd, cloud "
            "snapshot exports); images given as TARGETS are recognised by their content.",
        ),
    ] = None,
    key: Annotated[
        list[str] | None,
        typer.Option(
            "--key",
            help="Unlock encrypted volumes in disk images: a BitLocker password or LUKS passphrase, "
            "a LUKS key file (its text is the passphrase) or a BitLocker startup key file (.BEK). "
            "Repeatable.",
        ),
    ] = None,
    recovery_password: Annotated[
        list[str] | None,
        typer.Option("--recovery-password", help="A BitLocker recovery password (48 digits). Repeatable."),
    ] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Evaluate rules as of this date (default today).")
    ] = None,
    role: Annotated[str, typer.Option("--role", help=f"Your role: {', '.join(ROLES)}.")] = "user",
    jurisdiction: Annotated[
        str, typer.Option("--jurisdiction", help="Where you are bound: US, or a state such as US-TX.")
    ] = "US",
    pack: Annotated[
        list[str] | None,
        typer.Option(
            "--pack",
            help="Scan for this pack's bans only (repeatable; default: every pack whose rules reach "
            "--jurisdiction and bind --role). `banscan catalog packs` lists them.",
        ),
    ] = None,
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")] = OutputFormat.table,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file.")] = None,
    catalog: Annotated[
        Path | None, typer.Option("--catalog", help="Use this catalog (folder or file).")
    ] = None,
    exceptions: Annotated[
        Path | None, typer.Option("--exceptions", help="YAML file of approved exceptions.")
    ] = None,
    fail_on: Annotated[
        FailOn, typer.Option("--fail-on", help="Lowest verdict that makes the exit status 1.")
    ] = FailOn.review,
    host: Annotated[
        str | None, typer.Option("--host", help="Name the scanned host (default: its own name).")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Do not echo input errors to stderr.")] = False,
    deep: Annotated[
        bool,
        typer.Option(
            "--deep",
            help="Examine file contents: signers, version resources, byte signatures, archives. "
            "With TARGET paths, deep-scans those files and folders; a disk image, every file of "
            "each of its volumes.",
        ),
    ] = False,
    input_format: Annotated[
        str | None,
        typer.Option("--input-format", help="Force the format of inventory inputs (default: detect)."),
    ] = None,
    columns: Annotated[
        str | None,
        typer.Option(
            "--columns", help="Read inputs as generic CSV with this column map, e.g. host=Computer,name=App."
        ),
    ] = None,
    oui_registry: Annotated[
        str | None,
        typer.Option(
            "--oui-registry",
            envvar="BANSCAN_OUI_REGISTRY",
            help="IEEE MAC registry CSV files or folders for network inventories (default: "
            "/usr/share/ieee-data, Debian's ieee-data); never downloaded.",
        ),
    ] = None,
    previous: Annotated[
        list[Path] | None,
        typer.Option(
            "--previous",
            help="Earlier result JSON (repeatable, or a folder of them): products they showed keep "
            "their first identification date, so deadlines do not restart.",
        ),
    ] = None,
    max_expanded_size: Annotated[
        str,
        typer.Option(
            "--max-expanded-size",
            help="Most bytes one compressed input (.gz, .zst), or one archive with --deep, may expand "
            "to, e.g. 8G; reading stops past it with one error line.",
        ),
    ] = "1G",
    max_ratio: Annotated[
        float,
        typer.Option(
            "--max-ratio",
            help="Highest compression ratio (expanded:compressed) a compressed input or archive member "
            "may have before it is taken for a decompression bomb.",
        ),
    ] = 100.0,
    stats: Annotated[
        bool,
        typer.Option(
            "--stats",
            help="With --deep: print what was read and skipped, and what took the time, on stderr "
            "(printed anyway when stderr is a terminal).",
        ),
    ] = False,
    engine: Annotated[
        Engine,
        typer.Option(
            "--engine",
            help="Where the scan runs: local (this process) or spark (Apache Spark, for inventories "
            "in a data lake; needs pip install 'banscan[spark]' and Java 17+).",
        ),
    ] = Engine.local,
    master: Annotated[
        str | None,
        typer.Option("--master", help="With --engine spark: the Spark master URL (default local[*])."),
    ] = None,
    findings_table: Annotated[
        str | None,
        typer.Option(
            "--findings-table",
            help="With --engine spark: also append the findings to this Parquet table (a path or URI), "
            "partitioned by scan date.",
        ),
    ] = None,
) -> None:
    """Scan this machine, a mounted root, a disk image, or inventory files; exit 0 clean, 1 findings,
    2 error."""
    from banscan.inputs.base import ExpandLimits
    from banscan.policy.exceptions import ExceptionsError, load_exceptions
    from banscan.scan import ScanOptions, exit_status, run_scan

    try:
        expand = ExpandLimits(max_total=parse_size(max_expanded_size), max_ratio=max_ratio)
    except ValueError:
        raise usage_error(
            f"--max-expanded-size must be a size such as 1G, 512M or 1073741824, not {max_expanded_size!r}"
        ) from None
    if not max_ratio >= 1:
        raise usage_error(f"--max-ratio must be at least 1, not {max_ratio:g}")
    if role not in ROLES:
        raise usage_error(f"--role must be one of {', '.join(ROLES)}, not {role!r}")
    if engine is Engine.spark:
        _spark_usage(targets or [], root, deep)
    elif master is not None or findings_table is not None:
        raise usage_error("--master and --findings-table need --engine spark")
    jurisdiction = _jurisdiction(jurisdiction)
    day = parse_as_of(as_of, "2024-09-29") or dt.date.today()
    cat = narrow_to_packs(load_catalog_or_exit(catalog), pack, jurisdiction, role)
    identified = _previous(previous or [])
    entries = []
    if exceptions is not None:
        try:
            entries = load_exceptions(exceptions)
        except ExceptionsError as exc:
            raise usage_error(str(exc)) from None
    from banscan.collect.detect import detect_os
    from banscan.images.detect import looks_like_image
    from banscan.inputs.csvexport import parse_column_map

    if oui_registry is not None:
        from banscan.inputs.oui import use_registry

        use_registry(oui_registry)
    column_map = None
    if columns is not None:
        try:
            column_map = parse_column_map(columns)
        except ValueError as exc:
            raise usage_error(f"--columns: {exc}") from None

    on_terminal = not quiet and sys.stderr.isatty()
    opts = ScanOptions(
        as_of=day,
        role=role,
        jurisdiction=jurisdiction,
        host=host,
        exceptions=entries,
        echo_errors=not quiet,
        input_format=input_format,
        columns=column_map,
        deep=deep,
        previous=identified,
        expand=expand,
        progress=on_terminal,
    )
    if image and engine is Engine.spark:
        raise usage_error("--engine spark scans inventory files; --image runs locally only")
    from banscan.images.keys import credentials_from

    opts.image_credentials = credentials_from(key or [], recovery_password or [])
    if engine is Engine.spark:
        result = _run_spark(cat, opts, list(targets or []), master, findings_table)
        _emit(result, fmt, output, quiet)
        if output is not None and not quiet:
            _wrote(result, fmt, output)
        raise typer.Exit(exit_status(result, fail_on.value))
    roots = list(root or [])
    images = list(image or [])
    for i in images:
        if not i.exists() or i.is_dir():
            raise usage_error(f"{i}: not a disk image file")
    for r in roots:
        if not r.is_dir():
            raise usage_error(f"{r}: not a directory")
    inputs: list[str] = []
    deep_paths: list[Path] = []
    for t in [Path(t) for t in targets or []]:
        if deep and str(t) != "-":
            if not t.exists() and not t.is_symlink():
                raise usage_error(f"{t}: no such file or directory")
            if not (t.is_dir() and detect_os(t) is not None) and not (t.is_file() and looks_like_image(t)):
                deep_paths.append(t)  # a disk image is deep-scanned inside, volume by volume
                continue
        if str(t) == "-":
            inputs.append("-")
        elif not t.exists():
            raise usage_error(f"{t}: no such file or directory")
        elif t.is_dir() and detect_os(t) is not None:
            roots.append(t)  # a mounted image or copied root
        elif looks_like_image(t):
            images.append(t)  # a disk image, by its content (before any inventory reader)
        else:
            inputs.append(str(t))  # an inventory file, or a folder of them
    # A deep scan can take minutes: on a terminal, a progress line and a closing summary on
    # stderr; in pipes and CI nothing unless --stats asks for the summary.
    progress = None
    if deep and (on_terminal or stats):
        from banscan.output.progress import DeepProgress

        progress = DeepProgress(live=on_terminal)
    opts.deep_observer = progress
    result = run_scan(
        cat,
        opts,
        roots=roots,
        inputs=inputs,
        deep_paths=deep_paths,
        live=not roots and not inputs and not deep_paths and not images,
        images=images,
    )
    _emit(result, fmt, output, quiet)
    if progress is not None:
        for line in progress.summary():
            print(f"banscan: {line}" if not line.startswith(" ") else line, file=sys.stderr)
    if output is not None and not quiet:
        _wrote(result, fmt, output)
    raise typer.Exit(exit_status(result, fail_on.value))


def _emit(result: ScanResult, fmt: OutputFormat, output: Path | None, quiet: bool) -> None:
    """Write the result in `fmt` to `output` (or stdout)."""
    from banscan.output.formats import renderer

    if fmt is OutputFormat.table:
        from banscan.output.table import render as render_table

        tty = output is None and sys.stdout.isatty()
        width = shutil.get_terminal_size((140, 40)).columns if tty else 140
        text = render_table(result, width=width, color=tty, errors_on_stderr=not quiet and output is None)
        write_output(text, output)
    else:
        write_output(renderer(fmt)(result), output)


def _wrote(result: ScanResult, fmt: OutputFormat, output: Path) -> None:
    hosts = len(result.hosts)
    print(
        f"banscan: wrote {output} ({fmt.value}): {len(result.findings)} finding"
        f"{'' if len(result.findings) == 1 else 's'} on {hosts} host{'' if hosts == 1 else 's'}",
        file=sys.stderr,
    )


def _spark_usage(targets: list[str], root: list[Path] | None, deep: bool) -> None:
    """What --engine spark cannot do, as usage errors (before Spark starts)."""
    from banscan.engines.spark import SparkUnavailable, require_pyspark

    if root or deep:
        raise usage_error("--engine spark scans inventory files; --root and --deep run locally only")
    if not targets:
        raise usage_error("--engine spark needs inventory files, folders, globs or URIs to scan")
    if "-" in targets:
        raise usage_error("--engine spark cannot read standard input ('-'); give files or URIs")
    try:
        require_pyspark()
    except SparkUnavailable as exc:
        raise usage_error(str(exc)) from None


def _run_spark(
    cat: Catalog, opts: ScanOptions, targets: list[str], master: str | None, findings_table: str | None
) -> ScanResult:
    from banscan.engines.spark import run_spark_scan
    from banscan.engines.spark.files import InputNotFound

    try:
        return run_spark_scan(cat, opts, targets, master=master, findings_table=findings_table)
    except InputNotFound as exc:
        raise usage_error(str(exc)) from None
