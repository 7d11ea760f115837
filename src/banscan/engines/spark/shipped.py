"""What the driver sends to the executors, and what they send back.

The catalog and its prefilter travel once, as a broadcast; each executor's Python worker
unpickles them once and keeps the compiled index for every later task. Executors send back
rows of one schema (`OUT_SCHEMA`): per file, the records that matched something (pickled), the
error lines, the hosts, unknown-table tallies and row counts. Nothing else of a file comes
back to the driver.
"""

from __future__ import annotations

import pickle
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from banscan.catalog.schema import Catalog
from banscan.inputs.base import ExpandLimits
from banscan.match.index import CatalogIndex
from banscan.match.matcher import Matcher
from banscan.match.prefilter import Prefilter
from banscan.models import InventoryRecord

OUT_SCHEMA = "file_no int, kind string, text string, n long, line long, seq long, blob binary"
OUT_FIELDS = ("file_no", "kind", "text", "n", "line", "seq", "blob")


@dataclass(frozen=True)
class FileInfo:
    display: str
    default_host: str
    local: str | None = None


@dataclass
class Shipped:
    """The catalog, its prefilter, the files by number and the options the readers take."""

    catalog: Catalog
    prefilter: Prefilter
    files: dict[int, FileInfo]
    input_format: str | None = None
    columns: dict[str, str] | None = None
    host: str | None = None
    limits: ExpandLimits = field(default_factory=ExpandLimits)
    token: str = field(default_factory=lambda: uuid.uuid4().hex)


@dataclass
class _Loaded:
    shipped: Shipped
    index: CatalogIndex


_LOADED: dict[str, _Loaded] = {}


def broadcast(spark: Any, shipped: Shipped) -> Any:
    """A broadcast of `shipped` (pickled once on the driver)."""
    return spark.sparkContext.broadcast(pickle.dumps(shipped, protocol=pickle.HIGHEST_PROTOCOL))


_LAST: list[tuple[bytes, _Loaded]] = []  # the broadcast value last loaded, and what it held


def load(bc: Any) -> _Loaded:
    """The shipped context in this Python worker, unpickled and indexed once per scan.

    A worker keeps one object per broadcast (PySpark caches its value), so the same bytes
    object means the same context: a UDF called once per batch does not unpickle the catalog
    each time."""
    blob: bytes = bc.value
    if _LAST and _LAST[0][0] is blob:
        return _LAST[0][1]
    shipped: Shipped = pickle.loads(blob)
    hit = _LOADED.get(shipped.token)
    if hit is None:
        _LOADED.clear()
        hit = _LOADED[shipped.token] = _Loaded(shipped, CatalogIndex(shipped.catalog))
    _LAST[:] = [(blob, hit)]
    return hit


def matching(
    records: Iterable[InventoryRecord], ctx: _Loaded, hosts: set[str] | None = None
) -> list[InventoryRecord]:
    """The records that give the matcher any evidence on their own (the others cannot change a
    finding: evidence is per record); their hosts go to `hosts` when given."""
    out = []
    for rec in records:
        if hosts is not None:
            hosts.add(rec.host)
        probe = Matcher(ctx.shipped.catalog, ctx.index)
        probe.add(rec)
        if probe.findings():  # a record's evidence always makes a finding of its own
            out.append(rec)
    return out


class Out:
    """Rows for OUT_SCHEMA, gathered column by column."""

    def __init__(self) -> None:
        self.cols: dict[str, list[Any]] = {k: [] for k in OUT_FIELDS}

    def add(
        self,
        file_no: int,
        kind: str,
        text: str | None = None,
        n: int | None = None,
        line: int | None = None,
        seq: int | None = None,
        blob: bytes | None = None,
    ) -> None:
        for key, value in zip(OUT_FIELDS, (file_no, kind, text, n, line, seq, blob), strict=True):
            self.cols[key].append(value)

    def records(self, file_no: int, records: list[InventoryRecord]) -> None:
        if records:
            self.add(file_no, "rec", blob=pickle.dumps(records, protocol=pickle.HIGHEST_PROTOCOL))

    def errors(self, file_no: int, lines: Iterable[str]) -> None:
        for line in lines:
            self.add(file_no, "err", text=line)

    def hosts(self, file_no: int, hosts: Iterable[str]) -> None:
        for h in sorted(hosts):
            self.add(file_no, "host", text=h)

    def table(self) -> Any:
        import pyarrow as pa

        schema = pa.schema(
            [
                ("file_no", pa.int32()),
                ("kind", pa.string()),
                ("text", pa.string()),
                ("n", pa.int64()),
                ("line", pa.int64()),
                ("seq", pa.int64()),
                ("blob", pa.binary()),
            ]
        )
        return pa.table(self.cols, schema=schema)

    def batches(self) -> Iterator[Any]:
        yield from self.table().to_batches()
