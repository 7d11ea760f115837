"""`banscan scan --engine spark`: one scan of many inventory files on a Spark cluster.

The driver lists and classifies the inputs (`files`), ships the catalog and its prefilter once
(`shipped`), runs one job family per kind of file (`osquery`, `whole`, `tables`), gathers what
the executors send back (`collect`) into the driver's Matcher, and ends with
`banscan.scan.finish`, exactly as a local scan ends. A file Spark cannot read (a corrupt
`.gz`) is one error line: a failed job is run again file by file to find which.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from banscan.catalog.schema import Catalog
from banscan.engines.spark import osquery, tables, whole
from banscan.engines.spark.collect import Results
from banscan.engines.spark.files import InputFile, Kind, classify, list_inputs
from banscan.engines.spark.lines import Blocks, read_lines
from banscan.engines.spark.progress import StageProgress
from banscan.engines.spark.session import get_session
from banscan.engines.spark.shipped import FileInfo, Shipped, broadcast
from banscan.match.matcher import Matcher
from banscan.match.prefilter import prefilter_for
from banscan.models import ScanResult
from banscan.scan import ScanOptions, finish


def run_spark_scan(
    catalog: Catalog,
    opts: ScanOptions,
    inputs: list[str],
    *,
    master: str | None = None,
    findings_table: str | None = None,
    spark: Any = None,
) -> ScanResult:
    """Scan `inputs` (paths, folders, globs or URIs) on Spark; the same ScanResult as run_scan."""
    session = spark if spark is not None else get_session(master)
    files = list_inputs(session, inputs)
    kinds = [classify(session, f, input_format=opts.input_format, columns=opts.columns) for f in files]
    shipped = Shipped(
        catalog=catalog,
        prefilter=prefilter_for(catalog),
        files={i: FileInfo(f.display, f.default_host, f.local) for i, f in enumerate(files)},
        input_format=opts.input_format,
        columns=opts.columns,
        host=opts.host,
        limits=opts.expand,
    )
    bc = broadcast(session, shipped)
    results = Results(files, kinds)
    by_kind: dict[Kind, list[int]] = {}
    for i, k in enumerate(kinds):
        by_kind.setdefault(k, []).append(i)
    job = _Job(session, files, shipped, bc, results)
    try:
        with StageProgress(session, enabled=opts.progress):
            if Kind.LINES in by_kind:
                job.isolated(job.osquery, by_kind[Kind.LINES])
            if Kind.WHOLE in by_kind:
                job.isolated(job.whole, by_kind[Kind.WHOLE])
            if Kind.PARQUET in by_kind:
                job.isolated(job.parquet, by_kind[Kind.PARQUET])
            if Kind.JSON_TABLE in by_kind:
                job.isolated(job.json_tables, by_kind[Kind.JSON_TABLE])
    finally:
        bc.unpersist()
    matcher = Matcher(catalog)
    targets = results.into(matcher, echo=opts.echo_errors)
    result = finish(catalog, matcher, targets, opts)
    if findings_table:
        from banscan.engines.spark.findings import write_findings

        write_findings(session, result, findings_table)
    return result


class _Job:
    def __init__(
        self, spark: Any, files: list[InputFile], shipped: Shipped, bc: Any, results: Results
    ) -> None:
        self.spark = spark
        self.files = files
        self.shipped = shipped
        self.bc = bc
        self.results = results

    def isolated(self, run: Callable[[list[int]], None], numbers: list[int]) -> None:
        """Run a job over `numbers`; when it fails, file by file, so that only the files Spark
        cannot read are lost, each with one error line."""
        try:
            run(numbers)
        except Exception as exc:  # noqa: BLE001 - Spark's failures come as Py4J and Python errors
            if len(numbers) == 1:
                self.results.fail(numbers[0], spark_error(exc))
                return
            for n in numbers:
                self.isolated(run, [n])

    def _file_table(self, numbers: list[int]) -> Any:
        rows = [(self.files[n].uri, n, self.shipped.host or self.files[n].default_host) for n in numbers]
        return self.spark.createDataFrame(rows, "file_path string, file_no int, default_host string")

    def _take(self, df: Any, numbers: list[int]) -> None:
        rows = df.collect() if df is not None else []
        for n in numbers:  # a rerun of a file replaces what an earlier attempt gathered
            self.results.fail(n, None)
        self.results.take(rows)

    def osquery(self, numbers: list[int]) -> None:
        lines = read_lines(self.spark, [self.files[n].read_path for n in numbers])
        flags = osquery.line_flags(lines, self._file_table(numbers), self.bc)
        # computed once, kept on the executors (memory, then disk) for the two jobs below
        flags = flags.localCheckpoint(eager=True)
        try:
            summary = osquery.summarise(self.spark, flags, f"banscan_lines_{uuid.uuid4().hex}")
            rows = osquery.candidates(self.spark, flags, summary.blocks, self.bc).collect()
        finally:
            flags.unpersist()
        self._take(None, numbers)
        self.results.take(rows)
        for n in numbers:
            self.results.files[n].rows = summary.blocks.rows(n)
        for host in summary.hosts:
            self.results.files[numbers[0]].hosts.add(host)
        for file_no, label, count, line, seq in osquery.unknown_shapes(summary):
            self.results.files[file_no].unknown.append((label, count, line, seq))

    def whole(self, numbers: list[int]) -> None:
        spec = [
            (n, self.files[n].read_path, self.files[n].uri, self.files[n].local is not None) for n in numbers
        ]
        self._take(whole.read_whole(self.spark, spec, self.bc), numbers)

    def parquet(self, numbers: list[int]) -> None:
        spec = [(n, self.files[n].read_path, self.files[n].uri) for n in numbers]
        df, mapper = tables.read_parquet(self.spark, spec, self.shipped, self.bc)
        if mapper.error is not None:
            self._take(None, numbers)
            for n in numbers:
                self.results.files[n].errors.append(f"{self.files[n].display}: {mapper.error}")
            return
        self._take(df, numbers)
        for n in numbers:
            self.results.files[n].format = mapper.format

    def json_tables(self, numbers: list[int]) -> None:
        files = self._file_table(numbers)
        lines = tables.json_table_lines(self.spark, files, [self.files[n].read_path for n in numbers])
        blocks = Blocks()
        for r in lines.groupBy("file_no", "block").agg({"rid": "min", "*": "count"}).collect():
            blocks.add(r["file_no"], r["block"], r["min(rid)"], r["count(1)"])
        self._take(tables.read_json_tables(self.spark, lines, blocks, self.bc), numbers)


def spark_error(exc: BaseException) -> str:
    """One line for a Spark failure: the innermost Java cause, not Py4J's stack trace."""
    java = getattr(exc, "java_exception", None)
    if java is not None:
        cause = java
        while cause.getCause() is not None:
            cause = cause.getCause()
        text = str(cause.toString())
    else:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = " ".join(text.split())
    return f"not readable by Spark: {text[:300]}"
