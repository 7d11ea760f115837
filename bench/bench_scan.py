"""Benchmarks for the local scan: catalog load + index build, and `banscan scan` of this machine.

Run with `make bench` (or `.venv/bin/python bench/bench_scan.py`). Prints medians; the figures
recorded in bench/README.md come from this script. Tests never assert timings.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def bench_catalog(repeats: int) -> tuple[float, float]:
    from banscan.catalog import loader
    from banscan.match.index import CatalogIndex

    loads, builds = [], []
    for _ in range(repeats):
        loader._load_dir_cached.cache_clear()
        t0 = time.perf_counter()
        cat = loader.load_catalog()
        t1 = time.perf_counter()
        CatalogIndex(cat)
        t2 = time.perf_counter()
        loads.append(t1 - t0)
        builds.append(t2 - t1)
    return statistics.median(loads), statistics.median(builds)


def bench_scan(repeats: int) -> list[float]:
    exe = Path(sys.executable).with_name("banscan")
    cmd = [str(exe), "scan", "--format", "json", "--quiet", "--output", "/dev/null"]
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=15)
    args = ap.parse_args()
    load, build = bench_catalog(max(args.repeats, 20))
    print(f"catalog load (YAML + validation): median {load * 1000:.1f} ms")
    print(f"index build:                      median {build * 1000:.1f} ms")
    print(f"catalog load + index build:       median {(load + build) * 1000:.1f} ms")
    times = bench_scan(args.repeats)
    print(
        f"banscan scan (this machine, json): median {statistics.median(times):.3f} s, "
        f"min {min(times):.3f} s, max {max(times):.3f} s over {len(times)} runs"
    )
    if shutil.which("hyperfine"):
        exe = Path(sys.executable).with_name("banscan")
        subprocess.run(
            [
                "hyperfine",
                "--warmup",
                "2",
                "--runs",
                str(args.repeats),
                "-i",
                f"{exe} scan --format json --quiet --output /dev/null",
            ],
            check=False,
        )


if __name__ == "__main__":
    main()
