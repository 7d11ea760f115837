"""The input files of a Spark scan, and how each is read.

Inputs are local paths (files, folders, globs) or Hadoop-compatible URIs (`hdfs://`, `s3a://`,
`abfss://` …). Local folders are expanded as the local engine expands them
(`banscan.inputs.registry.expand`), so targets, evidence locations and error lines name files
the same way; URIs are listed through Hadoop's FileSystem and named as Hadoop prints them.

How a file is read (`Kind`) comes from its first bytes, as banscan detects formats:

* `LINES` — an osquery result log (NDJSON), plain or `.gz`: Spark reads its lines.
* `PARQUET`, `JSON_TABLE` — one inventory record per row (Parquet, or JSON objects one a line).
* `WHOLE` — everything else (CSV exports, MDM JSON, `osqueryi --json` arrays, SBOMs, `.reg`
  files, and `.zst` inputs, whose Hadoop codec needs native libraries PySpark does not ship):
  banscan's own reader reads the file on an executor, one task per file.
"""

from __future__ import annotations

import enum
import glob
import json
import os
import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from banscan.inputs.base import SNIFF_BYTES, default_host_for

_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:")  # a scheme (two letters at least: not C:\)
_EMPTY_AUTHORITY = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):///")
_GLOB = re.compile(r"[*?\[{]")
_GLOB_ESCAPE = re.compile(r"([\\*?\[\]{}])")
_GZIP = b"\x1f\x8b"
_ZSTD = b"\x28\xb5\x2f\xfd"
_PARQUET = b"PAR1"
# Suffixes Hadoop decompresses by name (a gzip file read as text must be named .gz, and a file
# named like this must be compressed that way, or Spark reads garbage)
_CODEC_SUFFIXES = (".gz", ".bz2", ".deflate", ".lz4", ".snappy", ".zst", ".zstd", ".br")


class Kind(enum.Enum):
    LINES = "osquery"
    PARQUET = "parquet"
    JSON_TABLE = "json-table"
    WHOLE = "whole"


@dataclass(frozen=True)
class InputFile:
    """One file: how Spark names it (`uri`, as in `_metadata.file_path`), what to hand Spark's
    readers (`read_path`, glob characters escaped), and how banscan names it (`display`)."""

    display: str
    uri: str
    read_path: str
    size: int
    local: str | None = None  # its path on this machine, when it is a local file

    @property
    def default_host(self) -> str:
        return default_host_for(self.display)


class InputNotFound(Exception):
    """An input names nothing (its message is the one line to print)."""


def canonical_uri(uri: str) -> str:
    """`file:///x` and `file:/x` are one file (Hadoop prints both); the second form it is."""
    return _EMPTY_AUTHORITY.sub(r"\1:/", uri)


def is_uri(item: str) -> bool:
    return bool(_URI.match(item))


def list_inputs(spark: Any, items: list[str]) -> list[InputFile]:
    """Every file the inputs name, in order (folders sorted as the local engine sorts them)."""
    out: list[InputFile] = []
    for item in items:
        found = _list_uri(spark, item) if is_uri(item) else _list_local(spark, item)
        if not found:
            raise InputNotFound(f"{item}: no such file or directory")
        out.extend(found)
    seen: set[str] = set()
    unique = []
    for f in out:
        if f.uri not in seen:
            seen.add(f.uri)
            unique.append(f)
    return unique


def _list_local(spark: Any, item: str) -> list[InputFile]:
    from banscan.inputs.registry import expand

    if os.path.lexists(item):
        paths = [item]
    elif _GLOB.search(item):
        paths = sorted(glob.glob(item, recursive=True))
    else:
        return []
    files: list[str] = []
    for p in paths:
        files.extend(str(f) for f in expand(Path(p)))
    jvm = spark.sparkContext._jvm
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    local_fs = jvm.org.apache.hadoop.fs.FileSystem.getLocal(conf)
    out = []
    for f in files:
        absolute = os.path.abspath(f)
        # the path as the file system lists it (as Spark's file index names it: file:/…)
        qualified = local_fs.getFileStatus(jvm.org.apache.hadoop.fs.Path(absolute)).getPath()
        out.append(
            InputFile(
                display=f,
                uri=canonical_uri(str(qualified.toUri().toString())),
                read_path=_GLOB_ESCAPE.sub(r"\\\1", str(qualified.toString())),
                size=os.path.getsize(f),
                local=f,
            )
        )
    return out


def _list_uri(spark: Any, item: str) -> list[InputFile]:
    jvm = spark.sparkContext._jvm
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    path = jvm.org.apache.hadoop.fs.Path(item)
    fs = path.getFileSystem(conf)
    statuses = fs.globStatus(path) or []
    out: list[InputFile] = []
    for status in sorted(statuses, key=lambda s: str(s.getPath().toString())):
        if status.isDirectory():
            listing = fs.listFiles(status.getPath(), True)
            found = []
            while listing.hasNext():
                found.append(listing.next())
            children = sorted(found, key=lambda s: str(s.getPath().toString()))
        else:
            children = [status]
        for child in children:
            p = child.getPath()
            name = str(p.toString())
            local = str(p.toUri().getPath()) if str(p.toUri().getScheme()) == "file" else None
            out.append(
                InputFile(
                    display=name,
                    uri=canonical_uri(str(p.toUri().toString())),
                    read_path=_GLOB_ESCAPE.sub(r"\\\1", name),
                    size=int(child.getLen()),
                    local=local,
                )
            )
    return out


# ---- what each file is ---------------------------------------------------------------------


def raw_head(spark: Any, f: InputFile, size: int = SNIFF_BYTES) -> bytes:
    """The first bytes of a file as stored (compressed or not)."""
    if f.local is not None:
        with open(f.local, "rb") as fh:
            return fh.read(size)
    jvm = spark.sparkContext._jvm
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    path = jvm.org.apache.hadoop.fs.Path(f.display)
    stream = path.getFileSystem(conf).open(path)
    try:
        buf = spark.sparkContext._gateway.new_array(jvm.byte, size)
        got = 0
        while got < size:
            n = stream.read(buf, got, size - got)
            if n <= 0:
                break
            got += n
        return bytes(buf)[:got]
    finally:
        stream.close()


def _inflated_head(raw: bytes) -> bytes:
    """The start of a gzip stream's content, from its first compressed bytes."""
    try:
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(raw, SNIFF_BYTES)
    except zlib.error:
        return b""


def classify(
    spark: Any, f: InputFile, *, input_format: str | None = None, columns: dict[str, str] | None = None
) -> Kind:
    """How to read `f` (see the module's docstring)."""
    raw = raw_head(spark, f)
    name = f.display.lower()
    if raw[:4] == _PARQUET or name.endswith(".parquet"):
        return Kind.PARQUET
    if raw[:4] == _ZSTD or columns:
        return Kind.WHOLE
    gz = raw[:2] == _GZIP
    if gz != name.endswith(".gz") or (not gz and name.endswith(_CODEC_SUFFIXES)):
        return Kind.WHOLE  # Spark would decompress by name only
    head = _inflated_head(raw) if gz else raw
    if input_format is not None:
        return Kind.LINES if input_format == "osquery" and _lines(head) else Kind.WHOLE
    return _by_content(head, f.display)


def _lines(head: bytes) -> bool:
    body = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    return body.startswith(b"{")  # NDJSON, not an `osqueryi --json` array or UTF-16


def _by_content(head: bytes, name: str) -> Kind:
    from banscan.inputs.registry import detect

    reader = detect(head, name)
    if reader is not None:
        return Kind.LINES if reader.name == "osquery" and _lines(head) else Kind.WHOLE
    first = head.removeprefix(b"\xef\xbb\xbf").split(b"\n", 1)[0].strip()
    if first.startswith(b"{"):
        try:
            obj = json.loads(first)
        except ValueError:
            return Kind.WHOLE
        if isinstance(obj, dict) and obj and not any(isinstance(v, dict | list) for v in obj.values()):
            return Kind.JSON_TABLE
    return Kind.WHOLE
