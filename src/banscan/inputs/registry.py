"""All input readers, and reading one target (a file, '-', or a directory of inputs).

Formats are auto-detected from the first bytes; `--input-format` forces one. A target that
cannot be read at all gives one error line and the run goes on with the next target.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from pathlib import Path

from banscan.collect.base import ErrorSink
from banscan.inputs.base import InputError, InputReader, default_host_for, head_of, open_input
from banscan.models import InventoryRecord, TargetResult

# One module per format family; each defines READERS: list[InputReader].
READER_MODULES = (
    "banscan.inputs.regfile",
    "banscan.inputs.osquery",
    "banscan.inputs.fleet",
    "banscan.inputs.csvexport",
    "banscan.inputs.mdm",
    "banscan.inputs.cyclonedx",
    "banscan.inputs.spdx",
)

MIN_SCORE = 20


def all_readers() -> list[InputReader]:
    out: list[InputReader] = []
    for name in READER_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue  # a format family not built into this version
            raise
        out.extend(module.READERS)
    return out


def reader_named(name: str) -> InputReader:
    for r in all_readers():
        if r.name == name:
            return r
    known = ", ".join(sorted(r.name for r in all_readers()))
    raise InputError(f"unknown input format {name!r}; known: {known}")


def detect(head: bytes, filename: str) -> InputReader | None:
    """The reader most sure of this input, or None if none is sure enough."""
    best: tuple[int, InputReader] | None = None
    for r in all_readers():
        score = r.sniff(head, filename)
        if score >= MIN_SCORE and (best is None or score > best[0]):
            best = (score, r)
    return best[1] if best else None


def read_target(
    path: str,
    errors: ErrorSink,
    *,
    input_format: str | None = None,
    host: str | None = None,
    columns: dict[str, str] | None = None,
) -> tuple[TargetResult, Iterator[InventoryRecord]]:
    """Open one input and return its TargetResult (filled as records are consumed) and records."""
    target = TargetResult(target=path, format=input_format or "unknown")

    def records() -> Iterator[InventoryRecord]:
        start = len(errors.lines)
        try:
            stream, name = open_input(path)
        except InputError as exc:
            errors.report(path, None, str(exc).removeprefix(f"{path}: "))
            target.errors.extend(errors.lines[start:])
            return
        try:
            head = head_of(stream)
            if not head:
                errors.report(name, None, "empty input (0 bytes)")
                return
            if columns:
                from banscan.inputs.csvexport import GenericCsvReader

                reader: InputReader | None = GenericCsvReader(columns)
            else:
                reader = reader_named(input_format) if input_format else detect(head, name)
            if reader is None:
                errors.report(name, None, "unrecognised input format (use --input-format to name it)")
                return
            target.format = reader.name
            for rec in reader.read(stream, name, errors, host or default_host_for(name)):
                target.records += 1
                yield rec
        except InputError as exc:
            errors.report(path, None, str(exc).removeprefix(f"{path}: "))
        except (OSError, EOFError) as exc:
            errors.report(path, None, f"read failed: {exc}")
        finally:
            target.errors.extend(errors.lines[start:])
            if path != "-":
                stream.close()

    return target, records()


def expand(path: Path) -> list[Path]:
    """Files of a directory of inputs (sorted, not following links), or the path itself."""
    if not path.is_dir():
        return [path]
    out: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(path, followlinks=False):
        dirnames.sort()
        for f in sorted(filenames):
            p = Path(dirpath) / f
            if p.is_file() and not p.is_symlink():
                out.append(p)
    return out
