"""`banscan scan --engine spark` on a real local Spark (local[2]) agrees with the local engine:
the same findings (evidence and line numbers included), hosts, rows and error lines."""

from __future__ import annotations

import csv
import gzip
import json
import shutil
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from banscan.catalog.loader import load_catalog
from banscan.inputs.base import default_host_for
from banscan.inputs.osquery import host_of
from banscan.models import ScanResult
from banscan.scan import ScanOptions, exit_status, run_scan
from spark_corpora import KASPERSKY, PROGRAMS, corpus, event, fleet_lines, write

DATA = Path(__file__).parent / "data" / "inputs"
AS_OF = date(2025, 1, 15)


def _spark_ready() -> str | None:
    """Why the Spark tests cannot run here, or None."""
    try:
        import pyarrow  # noqa: F401
        import pyspark  # noqa: F401
    except ImportError as exc:
        return f"PySpark is not installed ({exc.name}); pip install 'banscan[spark]'"
    import os

    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        return "Java is not installed (Spark needs Java 17 or later)"
    return None


pytestmark = pytest.mark.skipif(_spark_ready() is not None, reason=str(_spark_ready()))


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    from banscan.engines.spark.session import get_session

    session = get_session(
        "local[2]",
        {
            "spark.ui.enabled": "false",
            "spark.sql.shuffle.partitions": "2",
            "spark.default.parallelism": "2",
            "spark.sql.adaptive.enabled": "false",
        },
    )
    yield session
    session.stop()


def _opts(**kw: Any) -> ScanOptions:
    return ScanOptions(as_of=AS_OF, echo_errors=False, **kw)


def _spark_scan(spark: Any, inputs: list[str], **kw: Any) -> ScanResult:
    from banscan.engines.spark import run_spark_scan

    findings_table = kw.pop("findings_table", None)
    return run_spark_scan(load_catalog(), _opts(**kw), inputs, spark=spark, findings_table=findings_table)


def _local_scan(inputs: list[str], **kw: Any) -> ScanResult:
    return run_scan(load_catalog(), _opts(**kw), inputs=inputs)


def _findings(result: ScanResult) -> set[tuple[object, ...]]:
    return {
        (
            f.host,
            f.product,
            f.verdict,
            f.confidence,
            frozenset((e.kind, e.value, e.location, e.confidence, e.identifier) for e in f.evidence),
        )
        for f in result.findings
    }


def _lines_of(path: Path) -> list[bytes]:
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return data.split(b"\n")[:-1] if data.endswith(b"\n") else data.split(b"\n")


def _line_hosts(path: Path, host: str | None = None) -> set[str]:
    """The host of every line that is a JSON object, as the reader names it."""
    out = set()
    for raw in _lines_of(path):
        try:
            obj = json.loads(raw.strip().decode("utf-8", "replace"))
        except ValueError:
            continue
        if isinstance(obj, dict):
            out.add(host_of(obj, host or default_host_for(str(path))))
    return out


def _assert_agree(fast: ScanResult, slow: ScanResult, line_files: set[str]) -> None:
    """Same findings, errors, hosts; rows: lines for the files Spark reads as lines, else the
    local reader's records."""
    assert _findings(fast) == _findings(slow)
    assert [t.target for t in fast.targets] == [t.target for t in slow.targets]
    for f, s in zip(fast.targets, slow.targets, strict=True):
        assert sorted(f.errors) == sorted(s.errors), f.target
        if f.target in line_files:
            assert f.records == len(_lines_of(Path(f.target))), f.target
        else:
            assert (f.records, f.format) == (s.records, s.format), f.target
    expected_hosts = set(slow.hosts)
    for name in line_files:
        expected_hosts |= _line_hosts(Path(name))
    assert set(fast.hosts) == expected_hosts


def _line_files(result: ScanResult) -> set[str]:
    return {t.target for t in result.targets if t.format == "osquery" and not t.target.endswith(".json")}


# ---- the JVM's line checks --------------------------------------------------------------------


def test_gate_accepts_only_what_the_jvm_reads_exactly() -> None:
    import re

    from banscan.engines.spark.sql import GATE

    gate = re.compile(GATE)
    ok = [event(1, "programs", PROGRAMS[0]), event(2, "programs", PROGRAMS[1], spaced=True, no_deco=True)]
    assert all(gate.match(line) for line in ok)
    refused = [
        '{"a":1} x',  # trailing data
        '{"a":1}}',
        '{"hostIdentifier":7,"columns":{"name":"x"}}',  # a host that is not a string
        '{"decorations":{"hostname":null},"columns":{"name":"x"}}',
        '{"columns":{"name":null}}',  # a column the reader drops
        '{"columns":{"name":{"nested":"x"}}}',
        '{"snapshot":[{"name":"x"}]}',
        "{'a':1}",
        '{"a":NaN}',
        '{"a":"tab\there"}',  # a raw control character
    ]
    assert not any(gate.match(line) for line in refused)


# ---- agreement with the local engine -------------------------------------------------------------


@pytest.mark.parametrize("corpus_dir", ["osquery", "csv", "mdm", "fleet", "sbom"])
def test_agrees_with_local_engine_on_test_corpora(spark: Any, corpus_dir: str) -> None:
    target = str(DATA / corpus_dir)
    fast = _spark_scan(spark, [target])
    slow = _local_scan([target])
    assert slow.findings and len(slow.targets) > 1
    _assert_agree(fast, slow, _line_files(fast))


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return corpus(tmp_path_factory.mktemp("spark-logs"))


def test_agrees_on_every_spelling_and_broken_line(spark: Any, logs: Path) -> None:
    fast = _spark_scan(spark, [str(logs)])
    slow = _local_scan([str(logs)])
    assert {t.format for t in fast.targets} == {"osquery"}
    _assert_agree(fast, slow, {t.target for t in fast.targets})
    odd = next(t for t in fast.targets if t.target.endswith("odd.log"))
    assert any("not valid JSON" in e for e in odd.errors)
    assert any("not valid UTF-8" in e for e in odd.errors)
    assert any("unknown osquery table/columns" in e for e in odd.errors)
    # a removed row nets out; a row of the escaped and the duplicated key is named as the reader does
    assert {"dup-last", "escaped-id", "status-only", "odd"} <= set(fast.hosts)
    kaspersky_hosts = {f.host for f in fast.findings}
    assert "host-0002" not in kaspersky_hosts and "host-0001" in kaspersky_hosts
    # evidence carries line numbers (past the odd lines, past a CRLF file's lines)
    locations = {e.location for f in fast.findings for e in f.evidence}
    assert any(loc.startswith(str(logs / "odd.log") + ":") for loc in locations)
    assert any(loc.startswith(str(logs / "zipped.log.gz") + ":") for loc in locations)


def test_a_file_split_into_many_partitions_keeps_its_line_numbers(spark: Any, tmp_path: Path) -> None:
    from banscan.engines.spark.files import list_inputs
    from banscan.engines.spark.lines import read_lines

    path = write(tmp_path / "big.log", fleet_lines(hosts=60) + fleet_lines(hosts=30, spaced=True))
    spark.conf.set("spark.sql.files.maxPartitionBytes", "8192")
    try:
        files = list_inputs(spark, [str(path)])
        assert read_lines(spark, [f.read_path for f in files]).rdd.getNumPartitions() >= 10
        fast = _spark_scan(spark, [str(path)])
    finally:
        spark.conf.unset("spark.sql.files.maxPartitionBytes")
    slow = _local_scan([str(path)])
    assert slow.findings
    _assert_agree(fast, slow, {str(path)})


def test_host_option_names_lines_without_a_host(spark: Any, logs: Path) -> None:
    target = str(logs / "odd.log")
    fast = _spark_scan(spark, [target], host="named-host")
    slow = _local_scan([target], host="named-host")
    assert "named-host" in {f.host for f in fast.findings}
    assert _findings(fast) == _findings(slow)


def test_hosts_without_findings_count(spark: Any, tmp_path: Path) -> None:
    lines = [event(h, "programs", PROGRAMS[h % 3]) for h in range(30)]
    lines.append(event(99, "deb_packages", KASPERSKY[2][1]))
    path = write(tmp_path / "clean.log", [line.encode() for line in lines])
    fast = _spark_scan(spark, [str(path)])
    assert len(fast.hosts) == 31 and {f.host for f in fast.findings} == {"host-0099"}
    assert fast.targets[0].records == 31


# ---- other inputs --------------------------------------------------------------------------------


def test_zstd_and_corrupt_gzip(spark: Any, tmp_path: Path) -> None:
    import zstandard

    data = b"\n".join(fleet_lines(hosts=10)) + b"\n"
    (tmp_path / "a.log.zst").write_bytes(zstandard.ZstdCompressor().compress(data))
    (tmp_path / "b.log.gz").write_bytes(gzip.compress(data)[:-40])  # cut short
    write(tmp_path / "c.log", fleet_lines(hosts=5))
    fast = _spark_scan(spark, [str(tmp_path)])
    slow = _local_scan([str(tmp_path)])
    by = {t.target: t for t in fast.targets}
    zst, gz, plain = (
        by[str(tmp_path / "a.log.zst")],
        by[str(tmp_path / "b.log.gz")],
        by[str(tmp_path / "c.log")],
    )
    assert zst.format == "osquery" and zst.records == slow.targets[0].records and not zst.errors
    assert gz.records == 0 and len(gz.errors) == 1 and gz.errors[0].startswith(f"{tmp_path / 'b.log.gz'}: ")
    assert plain.records == len(fleet_lines(hosts=5)) and not plain.errors
    assert {f.host for f in fast.findings} == {f.host for f in slow.findings}


def _csv_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


def _by_place(result: ScanResult, sep: str, first: int) -> set[tuple[object, ...]]:
    """Findings with each location reduced to its row number (`first`: the place of row 1)."""
    out: set[tuple[object, ...]] = set()
    for f in result.findings:
        evidence = set()
        for e in f.evidence:
            place = e.location.rsplit(sep, 1)[1]
            evidence.add((e.kind, e.value, int(place) - first + 1))
        out.add((f.host, f.product, f.verdict, frozenset(evidence)))
    return out


def test_parquet_and_json_tables_map_columns_as_csv_exports(spark: Any, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = DATA / "csv" / "intune_appinvrawdata.csv"
    header, rows = _csv_rows(source)
    pq.write_table(
        pa.table({h: [r[i] for r in rows] for i, h in enumerate(header)}), tmp_path / "inv.parquet"
    )
    (tmp_path / "inv.ndjson").write_text(
        "".join(json.dumps(dict(zip(header, r, strict=True))) + "\n" for r in rows)
    )
    slow = _local_scan([str(source)])
    parquet = _spark_scan(spark, [str(tmp_path / "inv.parquet")])
    table = _spark_scan(spark, [str(tmp_path / "inv.ndjson")])
    assert parquet.targets[0].format == "intune-csv" and parquet.targets[0].records == len(rows)
    assert table.targets[0].records == len(rows)
    expected = _by_place(slow, ":", 2)  # the CSV's header is line 1
    assert expected and _by_place(parquet, ":row ", 1) == expected
    assert _by_place(table, ":", 1) == expected
    assert set(parquet.hosts) == set(slow.hosts) == set(table.hosts)


def test_osquery_columns_in_parquet(spark: Any, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    cols = KASPERSKY[2][1]
    rows = [cols, {**cols, "name": "curl", "maintainer": "Debian"}]
    table = pa.table({k: [r[k] for r in rows] for k in cols} | {"hostname": ["srv-1", "srv-2"]})
    pq.write_table(table, tmp_path / "deb.parquet")
    fast = _spark_scan(spark, [str(tmp_path / "deb.parquet")])
    assert fast.targets[0].format == "osquery-table"
    assert {(f.host, f.product) for f in fast.findings} == {("srv-1", "kesl")}
    assert set(fast.hosts) == {"srv-1", "srv-2"}


def test_findings_table(spark: Any, logs: Path, tmp_path: Path) -> None:
    out = tmp_path / "findings"
    result = _spark_scan(spark, [str(logs / "compact.log")], findings_table=str(out))
    rows = spark.read.parquet(str(out)).collect()
    assert len(rows) == len(result.findings) > 0
    assert {(r["host"], r["product"], r["verdict"]) for r in rows} == {
        (f.host, f.product, f.verdict.value) for f in result.findings
    }
    assert [p.name for p in out.iterdir() if p.is_dir()] == [f"scan_date={result.generated_at[:10]}"]
    assert all(r["evidence"] and ":" in r["evidence"][0]["location"] for r in rows)


# ---- the command line ----------------------------------------------------------------------------


def test_cli_engine_spark(spark: Any, logs: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from banscan.cli import app

    out = tmp_path / "result.json"
    args = ["scan", "--engine", "spark", str(logs / "compact.log"), "--as-of", "2025-01-15", "-q"]
    got = CliRunner().invoke(app, [*args, "-f", "json", "-o", str(out)])
    assert got.exit_code == 1, got.output
    doc = json.loads(out.read_text())
    slow = _local_scan([str(logs / "compact.log")])
    assert {(f["host"], f["product"]) for f in doc["findings"]} == {
        (f.host, f.product) for f in slow.findings
    }
    assert exit_status(slow) == 1
    clean = write(tmp_path / "clean.log", [event(1, "programs", PROGRAMS[0]).encode()])
    got = CliRunner().invoke(app, ["scan", "--engine", "spark", str(clean), "-q", "-f", "json"])
    assert got.exit_code == 0, got.output
    missing = CliRunner().invoke(app, ["scan", "--engine", "spark", str(tmp_path / "nope*.log")])
    assert missing.exit_code == 2


def test_cli_without_pyspark_is_a_usage_error(monkeypatch: pytest.MonkeyPatch, logs: Path) -> None:
    from typer.testing import CliRunner

    from banscan.cli import app

    monkeypatch.setitem(sys.modules, "pyspark", None)  # as if not installed
    got = CliRunner().invoke(app, ["scan", "--engine", "spark", str(logs)])
    assert got.exit_code == 2
    assert "pip install 'banscan[spark]'" in got.output
    assert len([line for line in got.output.splitlines() if line.strip()]) == 1
    local_only = CliRunner().invoke(app, ["scan", "--master", "local[1]", str(logs)])
    assert local_only.exit_code == 2


def test_stage_progress_follows_spark_stages(spark: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from banscan.engines.spark import progress

    monkeypatch.setattr(progress, "POLL_SECONDS", 0.05)

    def pause(x: Any) -> Any:
        time.sleep(0.2)
        return x

    slow = spark.range(0, 8, numPartitions=8).rdd.map(pause)
    with progress.StageProgress(spark, enabled=True) as bar:
        assert slow.count() == 8
    assert bar.seen
    with progress.StageProgress(spark, enabled=False) as quiet:
        assert slow.count() == 8
    assert not quiet.seen
