"""osquery result logs (NDJSON) on Spark: the JVM reads, numbers, filters and names hosts; Python
reads only the lines that can matter, with banscan's own reader and matcher.

Per line the JVM computes (see `banscan.engines.spark.sql`):

* `plain`: an event line whose host and columns it can read exactly as the reader would;
  for it, the host (`decorations.hostname`, else `hostIdentifier`, else `hostname`, else the
  file's default host — `host_of`) and its shape (query name and column names);
* `hit`: the catalog's prefilter on its columns (Hyperscan in a pandas UDF, `hit_udf`: as
  the bulk path decides), and `wide`: non-ASCII text.

The flags are computed once (a local checkpoint: a cache is not reused for a plan with
`monotonically_increasing_id`); one aggregation (grouping sets) gives each file's blocks (for line
numbers, `banscan.engines.spark.lines`), every host, and per file how many plain rows had each
shape. Candidate lines — prefilter hits, non-ASCII lines, and every line that is not plain
(not JSON, not an event, odd types, `\\u` escapes, invalid UTF-8, over the line limit) — are
numbered; where they are, `keep_lines` drops the hits no catalog identifier confirms (as the
bulk path does); the rest go, grouped by file, to `read_group`, which reads them in file order
with `records_from_lines` (so "removed" rows net out as locally) and sends back the records
that match something, the error lines, and the hosts and unknown-table rows of the lines the
JVM could not read. The driver merges the unknown-table tallies of both sides into the one
summary line per file the reader writes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import ahocorasick

from banscan.engines.spark.lines import RECORD_MASK, Blocks
from banscan.engines.spark.session import arrow_udfs
from banscan.engines.spark.shipped import OUT_SCHEMA, Out, Shipped, load, matching
from banscan.engines.spark.sql import BLANK_REGEX, ESCAPE_REGEX, GATE, sql_string
from banscan.errors import ErrorSink, unexpected
from banscan.inputs.osquery import MAX_LINE, _changes, _loads, _strings, _Tables, host_of, records_from_lines

SEP = "\x01"  # between the query name and the column names of a shape (never in a plain line)
_UNKNOWN = ": unknown osquery table/columns "


# ---- the JVM side ---------------------------------------------------------------------------


def line_flags(lines: Any, files: Any, bc: Any) -> Any:
    """Numbered lines (`lines.read_lines`) joined to the file table, with the per-line columns
    the scan needs: file_no, block, rid, host, shape, plain, hit, wide, cand, raw."""
    from pyspark.sql import functions as F

    e = F.expr
    with arrow_udfs():
        hit = hit_udf(bc)
    df = lines.join(F.broadcast(files), "file_path").select(
        "value",
        "file_no",
        "block",
        "rid",
        "default_host",
        e(f"value rlike {sql_string(BLANK_REGEX)}").alias("blank"),
        e(f"octet_length(value) >= {MAX_LINE}").alias("long"),
        e("is_valid_utf8(value)").alias("utf8"),
        e("length(value) <> octet_length(value)").alias("wide"),
        e(f"contains(value, '\\\\u') AND value rlike {sql_string(ESCAPE_REGEX)}").alias("esc"),
    )
    df = df.withColumn(
        "gated",
        e(f"CASE WHEN utf8 AND NOT esc AND NOT long THEN value rlike {sql_string(GATE)} ELSE false END"),
    )
    df = df.select(
        "*",
        F.json_tuple(
            e("CASE WHEN gated THEN value END"),
            "decorations",
            "hostIdentifier",
            "hostname",
            "name",
            "columns",
        ).alias("deco", "hid", "hname", "qname", "cols"),
    )
    df = df.select("*", F.json_tuple("deco", "hostname").alias("dh"))
    df = df.withColumn("plain", e("gated AND cols IS NOT NULL"))
    # only the columns make a record: the prefilter looks there (the envelope is 40 % of a line)
    # The prefilter in Python with Hyperscan, as the bulk path decides (about 1 µs a line; Java's
    # regex engine, even on the prefilter factored into a trie, took 15-20 µs).
    df = df.withColumn("hit", F.when(F.col("plain"), hit(F.col("cols"))).otherwise(F.lit(False)))
    df = df.withColumn("cand", e("long OR (NOT blank AND (NOT plain OR wide OR esc OR NOT utf8 OR hit))"))
    return df.select(
        "file_no",
        "block",
        "rid",
        e(
            "CASE WHEN plain THEN coalesce(nullif(dh, ''), nullif(hid, ''), nullif(hname, ''), default_host) END"
        ).alias("host"),
        e(
            "CASE WHEN plain THEN concat(coalesce(qname, ''), chr(1), "
            "array_join(array_sort(array_distinct(json_object_keys(cols))), chr(1))) END"
        ).alias("shape"),
        "plain",
        "hit",
        e("NOT utf8 OR wide OR esc").alias("wide"),
        "cand",
        e("CASE WHEN cand THEN cast(value AS binary) END").alias("raw"),
    )


_SUMMARY_SQL = """
SELECT file_no, block, host, shape, count(1) AS n, min(named_struct('b', block, 'r', rid)) AS first
FROM {view}
GROUP BY GROUPING SETS ((file_no, block), (host), (file_no, shape))
"""


@dataclass
class Summary:
    """What the aggregation says: blocks per file, hosts, and shapes per file with their count
    and first (block, rid)."""

    blocks: Blocks
    hosts: set[str]
    shapes: list[tuple[int, str, int, int, int]]  # file_no, shape, count, block, rid


def summarise(spark: Any, flags: Any, view: str) -> Summary:
    flags.createOrReplaceTempView(view)
    try:
        rows = spark.sql(_SUMMARY_SQL.format(view=view)).collect()
    finally:
        spark.catalog.dropTempView(view)
    blocks = Blocks()
    hosts: set[str] = set()
    shapes: list[tuple[int, str, int, int, int]] = []
    for r in rows:
        if r["block"] is not None:
            blocks.add(r["file_no"], r["block"], r["first"]["r"], r["n"])
        elif r["file_no"] is None:
            if r["host"] is not None:
                hosts.add(r["host"])
        elif r["shape"] is not None:
            shapes.append((r["file_no"], r["shape"], r["n"], r["first"]["b"], r["first"]["r"]))
    return Summary(blocks, hosts, shapes)


def candidates(spark: Any, flags: Any, blocks: Blocks, bc: Any) -> Any:
    """The candidate lines, numbered, read per file on the executors (OUT_SCHEMA rows)."""
    from pyspark.sql import functions as F

    bases = [(f, b, base) for (f, b), base in blocks.base_table().items()]
    base_df = spark.createDataFrame(bases, "file_no int, block long, base long")
    numbered = (
        flags.filter("cand")
        .join(F.broadcast(base_df), ["file_no", "block"])
        .select(
            "file_no",
            (F.col("rid").bitwiseAND(F.lit(RECORD_MASK)) + F.col("base")).alias("line"),
            "raw",
            "plain",
            "hit",
            "wide",
        )
    )
    with arrow_udfs():
        kept = numbered.mapInArrow(keep_lines(bc), KEPT_SCHEMA)
        return kept.groupBy("file_no").applyInArrow(read_group(bc), OUT_SCHEMA)


def unknown_shapes(summary: Summary) -> list[tuple[int, str, int, int, int]]:
    """(file_no, label, count, line, 0) for the plain rows whose table the reader would not
    know, labelled as the reader labels them."""
    from banscan.inputs.osquery_tables import infer_table

    base = summary.blocks.base_table()
    out = []
    labels: dict[str, str | None] = {}
    for file_no, shape, count, block, rid in summary.shapes:
        if shape not in labels:
            query, _, names = shape.partition(SEP)
            cols = dict.fromkeys(names.split(SEP) if names else [], "")
            labels[shape] = None if infer_table(frozenset(cols), query) else _label(cols, query)
        label = labels[shape]
        if label is not None:
            out.append((file_no, label, count, (rid & RECORD_MASK) + base[(file_no, block)], 0))
    return out


def _label(cols: dict[str, str], query: str) -> str:
    tables = _Tables()
    tables.table(cols, query, 0)
    return next(iter(tables._unknown))


def unknown_summary(path: str, entries: list[tuple[str, int, int, int]], errors: ErrorSink) -> None:
    """The reader's one line about rows of unknown tables, from (label, count, line, seq) tallies
    made in the JVM and in Python: labels in order of first appearance, as the reader lists them."""
    first: dict[str, tuple[int, int]] = {}
    counts: dict[str, int] = {}
    for label, count, line, seq in entries:
        counts[label] = counts.get(label, 0) + count
        first[label] = min(first.get(label, (line, seq)), (line, seq))
    if not counts:
        return
    tables = _Tables()
    for label in sorted(counts, key=lambda k: first[k]):
        tables._unknown[label] = counts[label]
    tables._first = min(first.values())[0]
    tables.report(errors, path)


# ---- the executor side ----------------------------------------------------------------------


_AUTOMATA: dict[str, Any] = {}
_SCANNERS: dict[str, Any] = {}


def hit_udf(bc: Any) -> Any:
    """The pandas UDF that tells, for a plain line's `columns` text, whether it may hold a
    record that matches (`banscan.inputs.bulk.candidates`: tokens, confirmed where common,
    folded text, literal-less regexes), a batch of lines at a time."""
    import pandas as pd
    from pyspark.sql.pandas.functions import pandas_udf

    def run(cols: pd.Series) -> pd.Series:
        from banscan.inputs.bulk import candidates, make_scanner

        shipped = load(bc).shipped
        scanner = _SCANNERS.get(shipped.token)
        if scanner is None:
            _SCANNERS.clear()
            scanner = _SCANNERS[shipped.token] = make_scanner(shipped.prefilter)
        values = [v.encode("utf-8", "surrogatepass") if isinstance(v, str) else b"" for v in cols.tolist()]
        starts: dict[int, int] = {}
        at = 0
        for i, v in enumerate(values):
            starts[at] = i
            at += len(v) + 1
        data = b"\n".join(values) + b"\n"
        flags = [False] * len(values)
        for start in candidates(scanner, data, len(data), per_value=True):
            flags[starts[start]] = True
        return pd.Series(flags, dtype=bool, index=cols.index)

    # PySpark reads the kind of UDF from the type hints, which this module keeps as strings
    run.__annotations__ = {"cols": pd.Series, "return": pd.Series}
    return pandas_udf(run, "boolean")  # type: ignore[call-overload]


def _tokens(shipped: Shipped) -> Any:
    auto = _AUTOMATA.get(shipped.token)
    if auto is None:
        _AUTOMATA.clear()
        auto = _AUTOMATA[shipped.token] = ahocorasick.Automaton()
        for t in shipped.prefilter.tokens:
            if t.isascii():
                auto.add_word(t, t)
        if len(auto):
            auto.make_automaton()
    return auto


def _confirmed(shipped: Shipped, line: bytes) -> bool:
    """Whether a prefilter hit stands: a line with non-ASCII text or escapes goes to the reader;
    an ASCII one when a token it holds needs no confirmation, or the words of some identifier
    behind its tokens are all there (`Prefilter.confirms_line`), as the bulk path decides."""
    pf = shipped.prefilter
    if not line.isascii() or b"\\u" in line:
        return True
    low = line.lower()
    text = low.decode("ascii")
    auto = _tokens(shipped)
    found = {t for _, t in auto.iter(text)} if len(auto) else set()
    if any(t not in pf.conditions for t in found):
        return True
    if found and pf.confirms_line(low):
        return True
    fallback = pf.fallback_regex()
    return fallback is not None and fallback.search(text) is not None


def _irregular(
    lines: list[tuple[int, bytes]], default_host: str
) -> tuple[set[str], list[tuple[str, int, int, int]]]:
    """Hosts and unknown-table tallies of lines the JVM could not read, as the reader sees them."""
    hosts: set[str] = set()
    tables = _Tables()
    first: dict[str, tuple[int, int]] = {}
    for no, raw in lines:
        line = raw.strip()
        if not line:
            continue
        try:
            obj = _loads(line.decode("utf-8", "replace"))
        except (RecursionError, ValueError):
            continue
        if not isinstance(obj, dict):
            continue
        hosts.add(host_of(obj, default_host))
        query = name if isinstance(name := obj.get("name"), str) else ""
        changes, _ = _changes(obj)
        for seq, (_added, row) in enumerate(changes):
            if not isinstance(row, dict):
                continue
            known = len(tables._unknown)
            tables.table(_strings(row), query, no)
            if len(tables._unknown) > known:
                first[next(reversed(tables._unknown))] = (no, seq)
    tallies = [(label, n, *first[label]) for label, n in tables._unknown.items()]
    return hosts, tallies


KEPT_SCHEMA = "file_no int, line long, raw binary, plain boolean"


def keep_lines(bc: Any) -> Callable[[Iterator[Any]], Iterator[Any]]:
    """The mapInArrow function that drops, where the lines are, the candidates that cannot
    match: prefilter hits without a confirmed identifier, non-ASCII lines that do not pass the
    folded prefilter. Lines that are not plain all stay (the reader reports them)."""

    def run(batches: Iterator[Any]) -> Iterator[Any]:
        import pyarrow as pa

        shipped = load(bc).shipped
        for batch in batches:
            keep = []
            for raw, plain, hit, wide in zip(
                batch.column("raw").to_pylist(),
                batch.column("plain").to_pylist(),
                batch.column("hit").to_pylist(),
                batch.column("wide").to_pylist(),
                strict=True,
            ):
                keep.append(
                    not plain
                    or (hit and _confirmed(shipped, raw))
                    or (not hit and wide and shipped.prefilter.passes_folded(raw))
                )
            yield batch.select(["file_no", "line", "raw", "plain"]).filter(pa.array(keep, pa.bool_()))

    return run


def read_group(bc: Any) -> Callable[[Any], Any]:
    """The applyInArrow function: one file's candidate lines → OUT_SCHEMA rows."""

    def run(table: Any) -> Any:
        out = Out()
        file_no = int(table.column("file_no")[0].as_py())
        try:
            _read(bc, file_no, table, out)
        except Exception as exc:  # noqa: BLE001 - one file's failure is one error line
            ctx = load(bc)
            sink = ErrorSink(echo=False)
            sink.report(ctx.shipped.files[file_no].display, None, unexpected(exc))
            out.errors(file_no, sink.lines)
        return out.table()

    return run


def _read(bc: Any, file_no: int, table: Any, out: Out) -> None:
    ctx = load(bc)
    shipped = ctx.shipped
    info = shipped.files[file_no]
    default_host = shipped.host or info.default_host
    sink = ErrorSink(echo=False)
    rows = sorted(
        zip(
            table.column("line").to_pylist(),
            table.column("raw").to_pylist(),
            table.column("plain").to_pylist(),
            strict=True,
        )
    )
    to_read: list[tuple[int, bytes]] = []
    odd: list[tuple[int, bytes]] = []
    for no, raw, plain in rows:
        if len(raw) >= MAX_LINE:
            sink.report(info.display, no, f"line longer than {MAX_LINE} bytes; skipped")
            continue
        to_read.append((no, raw))
        if not plain:
            odd.append((no, raw))
    start = len(sink.lines)
    records = list(records_from_lines(to_read, info.display, sink, default_host))
    if len(sink.lines) > start and _UNKNOWN in sink.lines[-1]:
        sink.lines.pop()  # its tallies are remade below, with the JVM's, for the whole file
    hosts, tallies = _irregular(odd, default_host)
    out.records(file_no, matching(records, ctx, hosts))
    out.errors(file_no, sink.lines)
    out.hosts(file_no, hosts)
    for label, n, line, seq in tallies:
        out.add(file_no, "unk", text=label, n=n, line=line, seq=seq)
