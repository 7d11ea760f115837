"""Inventory tables: Parquet files and JSON objects one a line, one inventory record per row.

Columns are mapped by banscan's CSV readers (`banscan.inputs.csvexport`: the Intune,
Configuration Manager, Jamf and Defender column names, or `--columns`), else as an osquery
table when the column names identify one (`banscan.inputs.osquery_tables.infer_table`: a
Parquet copy of the `programs` table), else by the generic CSV reader's guesses. Every row is
mapped in Python (its host counts even without a finding); only rows that pass the prefilter
meet the matcher. Parquet rows are located as `file:row N` (N from 1, from Spark's
`_metadata.row_index`), JSON rows as `file:LINE`. Parquet files read together share one
schema (Spark's merged schema).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from banscan.engines.spark.lines import RECORD_MASK, Blocks, read_lines
from banscan.engines.spark.session import arrow_udfs
from banscan.engines.spark.shipped import OUT_SCHEMA, Out, Shipped, load, matching
from banscan.errors import ErrorSink, unexpected
from banscan.inputs.csvexport import READERS as CSV_READERS
from banscan.inputs.csvexport import CsvReader, GenericCsvReader, Plan, PlanError
from banscan.inputs.csvsniff import header_key
from banscan.inputs.osquery_tables import infer_table, row_record
from banscan.inputs.registry import MIN_SCORE
from banscan.models import InventoryRecord, Source

HOST_KEYS = ("host", "hostname", "hostidentifier", "computername", "devicename")


@dataclass
class RowMapper:
    """How the rows of one column list become records."""

    names: list[str]
    reader: CsvReader | None = None
    plan: Plan | None = None
    osquery_table: str | None = None
    host_cols: list[int] = field(default_factory=list)
    error: str | None = None

    @property
    def format(self) -> str:
        if self.osquery_table:
            return "osquery-table"
        return self.reader.name if self.reader is not None else "table"

    def record(
        self, row: Sequence[str], location: str, errors: ErrorSink, default_host: str
    ) -> tuple[str, InventoryRecord | None]:
        """(host, record or None) of one row."""
        if self.osquery_table is not None:
            host = next((row[i].strip() for i in self.host_cols if row[i].strip()), default_host)
            cols = {n: v for n, v in zip(self.names, row, strict=True) if v}
            return host, row_record(self.osquery_table, cols, host, Source("osquery", location))
        assert self.reader is not None and self.plan is not None
        values, extras = self.plan.pick(row, self.reader.NULLS)
        self.reader.adjust(values, extras)
        rec = self.reader.record(values, extras, location, errors, default_host)
        return (rec.host if rec else values.get("host") or default_host), rec


def mapper_for(names: list[str], columns: dict[str, str] | None) -> RowMapper:
    """The mapping of a column list: `--columns`, else the surest CSV export reader, else an
    osquery table, else the generic CSV reader's guesses."""
    keys = [header_key(n) for n in names]
    mapper = RowMapper(list(names))
    if columns:
        candidates: list[CsvReader] = [GenericCsvReader(columns)]
    else:
        scored = sorted(
            ((r.score(set(keys)), i, r) for i, r in enumerate(CSV_READERS) if isinstance(r, CsvReader)),
            key=lambda t: (-t[0], t[1]),
        )
        specific = [r for s, _, r in scored if s >= MIN_SCORE and not isinstance(r, GenericCsvReader)]
        table = infer_table(frozenset(names))
        if not specific and table is not None:
            mapper.osquery_table = table
            mapper.host_cols = [i for i, k in enumerate(keys) if k in HOST_KEYS]
            mapper.host_cols.sort(key=lambda i: HOST_KEYS.index(keys[i]))
            return mapper
        candidates = [*specific, GenericCsvReader()]
    reader = candidates[0]
    try:
        mapper.plan = reader.plan(keys)
        mapper.reader = reader
    except PlanError as exc:
        mapper.error = str(exc)
    return mapper


# ---- Parquet ----------------------------------------------------------------------------------


def read_parquet(
    spark: Any, files: list[tuple[int, str, str]], shipped: Shipped, bc: Any
) -> tuple[Any, RowMapper]:
    """OUT_SCHEMA rows for Parquet files given as (file_no, read_path, uri), and their mapping."""
    from pyspark.sql import functions as F

    df = spark.read.option("mergeSchema", "true").parquet(*[p for _, p, _ in files])
    names = list(df.columns)
    mapper = mapper_for(names, shipped.columns)
    uris = spark.createDataFrame([(n, u) for n, _, u in files], "file_no int, uri string")
    rows = df.select(
        F.regexp_replace("_metadata.file_path", "^([A-Za-z][A-Za-z0-9+.-]*):///", "$1:/").alias("uri"),
        (F.col("_metadata.row_index") + 1).alias("place"),
        *[F.col(f"`{n}`").cast("string").alias(f"c{i}") for i, n in enumerate(names)],
    ).join(F.broadcast(uris), "uri")
    with arrow_udfs():
        return rows.drop("uri").mapInArrow(map_rows(bc, mapper, "row"), OUT_SCHEMA), mapper


def map_rows(bc: Any, mapper: RowMapper, style: str) -> Callable[[Iterator[Any]], Iterator[Any]]:
    """The mapInArrow function for Parquet rows (file_no, place, c0…)."""

    def run(batches: Iterator[Any]) -> Iterator[Any]:
        ctx = load(bc)
        for batch in batches:
            out = Out()
            cols = [batch.column(f"c{i}").to_pylist() for i in range(len(mapper.names))]
            numbers = batch.column("file_no").to_pylist()
            places = batch.column("place").to_pylist()
            state: dict[int, _FileState] = {}
            for r, (file_no, place) in enumerate(zip(numbers, places, strict=True)):
                st = state.setdefault(file_no, _FileState(file_no, ctx.shipped))
                row = [c[r] if c[r] is not None else "" for c in cols]
                st.row(
                    ctx, mapper, row, f"{st.display}:{style} {place}" if style else f"{st.display}:{place}"
                )
            for st in state.values():
                st.flush(out, ctx)
            yield from out.batches()

    return run


class _FileState:
    """One file's rows within one task: hosts, errors, candidate records, row count."""

    def __init__(self, file_no: int, shipped: Shipped) -> None:
        info = shipped.files[file_no]
        self.file_no = file_no
        self.display = info.display
        self.default_host = shipped.host or info.default_host
        self.sink = ErrorSink(echo=False)
        self.hosts: set[str] = set()
        self.candidates: list[InventoryRecord] = []
        self.rows = 0

    def row(self, ctx: Any, mapper: RowMapper, row: list[str], location: str) -> None:
        self.rows += 1
        try:
            host, rec = mapper.record(row, location, self.sink, self.default_host)
        except Exception as exc:  # noqa: BLE001 - one bad row is one error line
            self.sink.report(location, None, unexpected(exc))
            return
        self.hosts.add(host)
        if rec is not None and ctx.shipped.prefilter.passes("\x1f".join(row)):
            self.candidates.append(rec)

    def flush(self, out: Out, ctx: Any) -> None:
        out.records(self.file_no, matching(self.candidates, ctx))
        out.errors(self.file_no, self.sink.lines)
        out.hosts(self.file_no, self.hosts)
        out.add(self.file_no, "rows", n=self.rows)


# ---- JSON objects one a line ----------------------------------------------------------------


def json_table_lines(spark: Any, files: Any, paths: list[str]) -> Any:
    """The numbered lines of JSON-table files (blank ones dropped)."""
    from pyspark.sql import functions as F

    lines = read_lines(spark, paths).join(F.broadcast(files), "file_path")
    return lines.select("file_no", "block", "rid", "value").filter("trim(value) <> ''")


def read_json_tables(spark: Any, lines: Any, blocks: Blocks, bc: Any) -> Any:
    """OUT_SCHEMA rows for the numbered lines of JSON-table files."""
    from pyspark.sql import functions as F

    bases = [(f, b, base) for (f, b), base in blocks.base_table().items()]
    base_df = spark.createDataFrame(bases, "file_no int, block long, base long")
    numbered = lines.join(F.broadcast(base_df), ["file_no", "block"]).select(
        "file_no",
        (F.col("rid").bitwiseAND(F.lit(RECORD_MASK)) + F.col("base")).alias("line"),
        F.col("value").cast("binary").alias("raw"),
    )
    with arrow_udfs():
        return numbered.mapInArrow(map_json_lines(bc), OUT_SCHEMA)


def map_json_lines(bc: Any) -> Callable[[Iterator[Any]], Iterator[Any]]:
    """The mapInArrow function for JSON-table lines (file_no, line, raw)."""

    def run(batches: Iterator[Any]) -> Iterator[Any]:
        ctx = load(bc)
        mappers: dict[tuple[str, ...], RowMapper] = {}
        for batch in batches:
            out = Out()
            state: dict[int, _FileState] = {}
            reported: set[tuple[int, str]] = set()
            for file_no, line, raw in zip(
                batch.column("file_no").to_pylist(),
                batch.column("line").to_pylist(),
                batch.column("raw").to_pylist(),
                strict=True,
            ):
                st = state.setdefault(file_no, _FileState(file_no, ctx.shipped))
                obj = _object(raw, st, line)
                if obj is None:
                    st.rows += 1
                    continue
                names = tuple(obj)
                mapper = mappers.get(names)
                if mapper is None:
                    mapper = mappers[names] = mapper_for(list(names), ctx.shipped.columns)
                if mapper.error is not None:
                    st.rows += 1
                    if (file_no, mapper.error) not in reported:
                        reported.add((file_no, mapper.error))
                        st.sink.report(st.display, line, mapper.error)
                    continue
                st.row(ctx, mapper, [obj[n] for n in names], f"{st.display}:{line}")
            for st in state.values():
                st.flush(out, ctx)
            yield from out.batches()

    return run


def _object(raw: bytes, st: _FileState, line: int) -> dict[str, str] | None:
    """A line's flat JSON object with its values as strings (nested values dropped), or None
    after reporting why not."""
    try:
        obj = json.loads(raw.decode("utf-8", "replace"))
    except (ValueError, RecursionError) as exc:
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        st.sink.report(st.display, line, f"not valid JSON ({first[:120]}); skipped")
        return None
    if not isinstance(obj, dict):
        st.sink.report(st.display, line, f"a JSON {type(obj).__name__} is not an inventory row; skipped")
        return None
    out: dict[str, str] = {}
    for k, v in obj.items():
        if isinstance(v, str):
            out[k] = v
        elif isinstance(v, bool):
            out[k] = "true" if v else "false"
        elif isinstance(v, int | float):
            out[k] = str(v)
        elif v is None:
            out[k] = ""
    return out
