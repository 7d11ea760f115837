"""Files read whole by banscan's own reader on an executor, one task per file.

CSV exports (Intune, Configuration Manager, Jamf, Defender, `--columns`), MDM JSON,
`osqueryi --json` arrays, SBOMs, `.reg` exports and `.zst` inputs keep their exact local
semantics this way: `banscan.inputs.registry.read_target` reads them (encodings, delimiters,
line numbers, error lines, `--max-expanded-size`) and only the records that match something
come back. A local file (or one on a shared mount) is opened where it is; a file behind another
URI scheme travels to the executor as Spark's `binaryFile` content (up to 2 GB) and is read
from a temporary copy, renamed back in every location and error line.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

from banscan.engines.spark.session import arrow_udfs
from banscan.engines.spark.shipped import OUT_SCHEMA, Out, load, matching
from banscan.errors import ErrorSink, unexpected
from banscan.inputs.base import default_host_for
from banscan.models import InventoryRecord, Source


def read_whole(spark: Any, numbered: list[tuple[int, str, str, bool]], bc: Any) -> Any:
    """OUT_SCHEMA rows for files given as (file_no, read_path, uri, local?)."""
    from pyspark.sql import functions as F

    local = [(n, p) for n, p, _, is_local in numbered if is_local]
    remote = [(n, p, u) for n, p, u, is_local in numbered if not is_local]
    frames = []
    if local:
        df = spark.createDataFrame(local, "file_no int, path string").repartition(
            min(len(local), spark.sparkContext.defaultParallelism)
        )
        frames.append(df.select("file_no", F.lit(None).cast("binary").alias("content")))
    if remote:
        content = (
            spark.read.format("binaryFile")
            .load([p for _, p, _ in remote])
            .select(
                F.regexp_replace("path", "^([A-Za-z][A-Za-z0-9+.-]*):///", "$1:/").alias("uri"), "content"
            )
        )
        uris = spark.createDataFrame([(n, u) for n, _, u in remote], "file_no int, uri string")
        frames.append(content.join(F.broadcast(uris), "uri").select("file_no", "content"))
    if not frames:
        return None
    df = frames[0]
    for other in frames[1:]:
        df = df.unionByName(other)
    with arrow_udfs():
        return df.mapInArrow(read_files(bc), OUT_SCHEMA)


def read_files(bc: Any) -> Callable[[Iterator[Any]], Iterator[Any]]:
    """The mapInArrow function: (file_no, content) rows → OUT_SCHEMA rows."""

    def run(batches: Iterator[Any]) -> Iterator[Any]:
        for batch in batches:
            out = Out()
            numbers = batch.column("file_no").to_pylist()
            contents = batch.column("content").to_pylist()
            for file_no, content in zip(numbers, contents, strict=True):
                _read_one(bc, int(file_no), content, out)
            yield from out.batches()

    return run


def _read_one(bc: Any, file_no: int, content: bytes | None, out: Out) -> None:
    from banscan.inputs.registry import read_target

    ctx = load(bc)
    shipped = ctx.shipped
    info = shipped.files[file_no]
    sink = ErrorSink(echo=False)
    copy: str | None = None
    try:
        if content is None and info.local is not None:
            path = info.local
        else:
            fd, copy = tempfile.mkstemp(prefix="banscan-", suffix="-" + os.path.basename(info.display)[-40:])
            with os.fdopen(fd, "wb") as fh:
                fh.write(content or b"")
            path = copy
        target, records = read_target(
            path,
            sink,
            input_format=shipped.input_format,
            host=shipped.host,
            columns=shipped.columns,
            limits=shipped.limits,
        )
        hosts: set[str] = set()
        found = matching(records, ctx, hosts)
        if copy is not None:
            stem = default_host_for(copy)
            found = [_renamed(r, copy, info.display, stem, info.default_host) for r in found]
            hosts = {info.default_host if h == stem else h for h in hosts}
            target.errors = [e.replace(copy, info.display) for e in target.errors]
        out.records(file_no, found)
        out.errors(file_no, target.errors)
        out.hosts(file_no, hosts)
        out.add(file_no, "rows", text=target.format, n=target.records)
    except Exception as exc:  # noqa: BLE001 - one file's failure is one error line
        sink.report(info.display, None, unexpected(exc))
        out.errors(file_no, sink.lines[-1:])
        out.add(file_no, "rows", text="unknown", n=0)
    finally:
        if copy is not None:
            os.unlink(copy)


def _renamed(rec: InventoryRecord, old: str, new: str, stem: str, host: str) -> InventoryRecord:
    """A record of a temporary copy, located in (and named after) the file it copies."""
    return replace(
        rec,
        host=host if rec.host == stem else rec.host,
        source=Source(rec.source.collector, rec.source.location.replace(old, new)),
    )
