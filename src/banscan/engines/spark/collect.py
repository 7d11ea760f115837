"""The driver's side of the results: executor rows (OUT_SCHEMA) gathered per input file into
TargetResults, hosts and the records the driver's Matcher gets."""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from typing import Any

from banscan.engines.spark.files import InputFile, Kind
from banscan.engines.spark.osquery import unknown_summary
from banscan.errors import ErrorSink
from banscan.match.matcher import Matcher
from banscan.models import InventoryRecord, TargetResult


@dataclass
class FileResult:
    info: InputFile
    kind: Kind
    format: str
    rows: int = 0
    errors: list[str] = field(default_factory=list)
    hosts: set[str] = field(default_factory=set)
    records: list[InventoryRecord] = field(default_factory=list)
    unknown: list[tuple[str, int, int, int]] = field(default_factory=list)
    failed: str | None = None  # the one error line of a file Spark could not read


_FORMATS = {
    Kind.LINES: "osquery",
    Kind.PARQUET: "parquet",
    Kind.JSON_TABLE: "json-table",
    Kind.WHOLE: "unknown",
}


class Results:
    """Per input file, in input order, what the executors sent back."""

    def __init__(self, files: list[InputFile], kinds: list[Kind]) -> None:
        self.files = [FileResult(f, k, _FORMATS[k]) for f, k in zip(files, kinds, strict=True)]

    def take(self, rows: list[Any]) -> None:
        for r in rows:
            fr = self.files[r["file_no"]]
            kind = r["kind"]
            if kind == "rec":
                fr.records.extend(pickle.loads(r["blob"]))
            elif kind == "err":
                fr.errors.append(r["text"])
            elif kind == "host":
                fr.hosts.add(r["text"])
            elif kind == "unk":
                fr.unknown.append((r["text"], r["n"], r["line"], r["seq"]))
            elif kind == "rows":
                fr.rows += r["n"]
                if r["text"]:
                    fr.format = r["text"]

    def fail(self, file_no: int, line: str | None) -> None:
        """Forget what was gathered for a file (a rerun starts again); `line` says why it failed."""
        fr = self.files[file_no]
        fr.failed = line
        fr.rows = 0
        fr.errors = []
        fr.hosts = set()
        fr.records = []
        fr.unknown = []

    def into(self, matcher: Matcher, *, echo: bool) -> list[TargetResult]:
        """TargetResults in input order; records and hosts go to `matcher`."""
        targets = []
        for fr in self.files:
            sink = ErrorSink(echo=echo)
            target = TargetResult(target=fr.info.display, format=fr.format, records=fr.rows)
            for line in fr.errors:
                sink.lines.append(line)
                if echo:
                    sink.writer(f"banscan: error: {line}")
            if fr.failed is not None:
                sink.report(fr.info.display, None, fr.failed)
            unknown_summary(fr.info.display, fr.unknown, sink)
            target.errors = sink.lines
            matcher.add_all(fr.records)
            for host in sorted(fr.hosts):
                matcher.hosts.setdefault(host, None)
            targets.append(target)
        return targets
