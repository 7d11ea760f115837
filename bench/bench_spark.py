"""Benchmark of `banscan scan --engine spark` against the local bulk path on one synthetic fleet.

    python bench/bench_spark.py                       # 10 M rows (about 6.5 GB in $TMPDIR)
    python bench/bench_spark.py --rows 2000000        # 2 M rows
    python bench/bench_spark.py --keep /tmp/fleet     # write (or reuse) the file there, kept after
    python bench/bench_spark.py --master 'local[2]'   # the Spark master (default local[2])

The fleet is `bench_fleet.generate`'s (osqueryd event lines, about 1 % of hosts with Kaspersky
software). Both engines scan the same page-cached file: the local engine as the whole
`banscan scan FILE -f json` command (its bulk path), Spark in this process after its session
has started (start-up timed apart). The script checks that both report the fleet's known
Kaspersky hosts and every host, and prints rows/s, bytes per executor-second, and what that
rate means for 1 B rows on a cluster (bytes per executor-second × executors; a model, not a
measurement). Nothing here runs in the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_fleet import ROWS_PER_HOST, generate

AS_OF = "2025-01-15"
CLUSTER_EXECUTORS = (16, 64, 256)  # executor cores for the scaling model
BILLION = 1_000_000_000


def _local(path: Path) -> tuple[float, dict[str, Any]]:
    out = path.with_suffix(".local.json")
    cmd = [
        sys.executable,
        "-m",
        "banscan",
        "scan",
        str(path),
        "--as-of",
        AS_OF,
        "-f",
        "json",
        "-o",
        str(out),
        "-q",
    ]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=False, capture_output=True)
    secs = time.perf_counter() - t0
    doc = json.loads(out.read_text())
    out.unlink()
    return secs, doc


def _spark(path: Path, master: str) -> tuple[float, float, Any]:
    from banscan.catalog.loader import load_catalog
    from banscan.engines.spark import run_spark_scan
    from banscan.engines.spark.session import get_session
    from banscan.scan import ScanOptions

    t0 = time.perf_counter()
    spark = get_session(master, {"spark.ui.enabled": "false", "spark.driver.memory": "8g"})
    started = time.perf_counter() - t0
    catalog = load_catalog()
    opts = ScanOptions(as_of=date.fromisoformat(AS_OF), echo_errors=False)
    t0 = time.perf_counter()
    result = run_spark_scan(catalog, opts, [str(path)], spark=spark)
    secs = time.perf_counter() - t0
    cores = int(spark.sparkContext.defaultParallelism)
    spark.stop()
    return started, secs, (result, cores)


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--keep", type=Path, help="directory to write (or reuse) the fleet file in, kept after")
    ap.add_argument("--master", default="local[2]")
    args = ap.parse_args()

    hosts = max(1, args.rows // ROWS_PER_HOST)
    work = args.keep or Path(tempfile.mkdtemp(prefix="banscan-spark-"))
    work.mkdir(parents=True, exist_ok=True)
    path = work / f"fleet-{hosts}.ndjson"
    meta_path = work / f"fleet-{hosts}.json"
    try:
        if path.exists() and meta_path.exists():
            meta = json.loads(meta_path.read_text())
            print(f"reusing {path}")
        else:
            t0 = time.perf_counter()
            fleet = generate(path, hosts)
            meta = {
                "hosts": fleet.hosts,
                "rows": fleet.rows,
                "bytes": fleet.bytes,
                "kaspersky": sorted(fleet.kaspersky),
            }
            meta_path.write_text(json.dumps(meta))
            print(f"generated {path}: {fleet.rows:,} rows in {time.perf_counter() - t0:.0f} s")
        subprocess.run(["cat", str(path)], stdout=subprocess.DEVNULL, check=False)  # warm the page cache
        local_secs, local_doc = _local(path)
        started, spark_secs, (result, cores) = _spark(path, args.master)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)

    rows, size, known = meta["rows"], meta["bytes"], set(meta["kaspersky"])
    spark_found = {f.host for f in result.findings}
    local_found = {f["host"] for f in local_doc["findings"]}
    ok = spark_found == local_found == known and len(result.hosts) == meta["hosts"]
    if not ok:
        print(
            f"spark only: {sorted(spark_found - known)[:5]}, local only: {sorted(local_found - known)[:5]},"
        )
        print(
            f"  missed by spark: {sorted(known - spark_found)[:5]}, by local: {sorted(known - local_found)[:5]}"
        )
    print()
    print(f"fleet: {meta['hosts']:,} hosts, {rows:,} rows, {size / 1e9:.2f} GB; {os.cpu_count()} CPUs here")
    print(f"{'engine':44} {'seconds':>8} {'rows/s':>11} {'MB/s':>7} {'MB per executor-s':>18}")
    print(
        f"{'local bulk path, whole command':44} {local_secs:8.1f} {rows / local_secs:11,.0f} {size / local_secs / 1e6:7.1f}"
    )
    per_executor = size / spark_secs / cores
    print(
        f"{f'spark {args.master}, scan ({cores} executor cores)':44} {spark_secs:8.1f} {rows / spark_secs:11,.0f}"
        f" {size / spark_secs / 1e6:7.1f} {per_executor / 1e6:18.2f}"
    )
    print(f"{'spark session start-up':44} {started:8.1f}")
    print(f"spark rows counted: {result.targets[0].records:,}; hosts: {len(result.hosts):,}; agreement: {ok}")
    billion_bytes = BILLION * size / rows
    print(f"\n1 B rows ≈ {billion_bytes / 1e12:.2f} TB; at {per_executor / 1e6:.2f} MB per executor-second:")
    for n in CLUSTER_EXECUTORS:
        print(
            f"  {n:4} executor cores: {billion_bytes / (per_executor * n) / 60:6.1f} min (+ start-up, listing, driver)"
        )
    local_rate = size / local_secs
    print(f"  local bulk path, this machine: {billion_bytes / local_rate / 60:6.1f} min")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
