"""Line numbers for Spark's text source, which has none.

`monotonically_increasing_id()`, taken as the file is read (before any filter), is the
partition number in its upper bits and the record's number within the partition in its lower
33. A file is read in blocks (byte ranges cut at line ends), each block by one partition, in
order, so one aggregation — per (file, block): the block's first record number and its line
count — is enough: a line's number in its file is the count of lines in the file's earlier
blocks, plus its record number minus its block's first, plus one. This holds however Spark
packs files and blocks into partitions, and for `.gz` files (one block each).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

RECORD_BITS = 33
RECORD_MASK = (1 << RECORD_BITS) - 1
LINE_SEP = "\n"  # as Python's readline: a lone CR is not a line end (Hadoop's default treats it as one)


def read_lines(spark: Any, paths: list[str]) -> Any:
    """The lines of `paths`: value, file_path (`_metadata`'s, in `files.canonical_uri` form),
    block, rid."""
    from pyspark.sql import functions as F

    return (
        spark.read.option("lineSep", LINE_SEP)
        .text(paths)
        .select(
            F.col("value"),
            F.regexp_replace("_metadata.file_path", "^([A-Za-z][A-Za-z0-9+.-]*):///", "$1:/").alias(
                "file_path"
            ),
            F.col("_metadata.file_block_start").alias("block"),
            F.monotonically_increasing_id().alias("rid"),
        )
    )


@dataclass
class Blocks:
    """Per file: its blocks' (start, first record id, line count), and what follows from them."""

    blocks: dict[int, list[tuple[int, int, int]]] = field(default_factory=dict)

    def add(self, file_no: int, block: int, first_rid: int, count: int) -> None:
        self.blocks.setdefault(file_no, []).append((block, first_rid, count))

    def rows(self, file_no: int) -> int:
        return sum(c for _, _, c in self.blocks.get(file_no, ()))

    def bases(self) -> Iterable[tuple[int, int, int]]:
        """(file, block, base): a line's number is (rid & RECORD_MASK) + base."""
        for file_no, blocks in self.blocks.items():
            before = 0
            for block, first_rid, count in sorted(blocks):
                yield file_no, block, before + 1 - (first_rid & RECORD_MASK)
                before += count

    def base_table(self) -> dict[tuple[int, int], int]:
        return {(f, b): base for f, b, base in self.bases()}
