"""Whole-system deep scan: files, bytes, wall seconds, CPU seconds and files per second.

    .venv/bin/python bench/bench_deep_system.py [ROOT] [--workers N] [--src DIR] [--rounds N]

Deep-scans ROOT (default `/`: this machine, as `banscan scan --deep` with no target does —
known install locations first, pseudo and network file systems skipped; any other folder is
walked as `banscan scan --deep FOLDER` walks it) in a child process and prints what it walked
and read, wall and CPU time (user + system, of the child and its worker processes), peak RSS
(of the largest single process), and the scan's own summary (skip reasons, time by kind of
work, slowest files).

`--src DIR` imports banscan from DIR instead (e.g. `git archive OLD src | tar -x -C /tmp/old`
then `--src /tmp/old/src`) to compare two versions on the same machine. The machine's page
cache matters: run each version once before timing it (`--rounds 2` keeps the faster run).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass

_CHILD = r"""
import json, sys, time
from pathlib import Path
from banscan.errors import ErrorSink
from banscan.deep import DeepScanner
root, workers = sys.argv[1], (int(sys.argv[2]) if sys.argv[2] != "auto" else None)
sink = ErrorSink(echo=False)
scanner = DeepScanner(sink, host="bench", workers=workers)
t = time.perf_counter()
if root == "/":
    from banscan.collect.base import CollectContext
    ctx = CollectContext(root=Path("/"), os="linux" if sys.platform.startswith("linux") else
                         ("macos" if sys.platform == "darwin" else "windows"), host="bench",
                         live=True, errors=sink)
    records = sum(1 for _ in scanner.scan_root(ctx))
else:
    records = sum(1 for _ in scanner.scan_paths([root]))
wall = time.perf_counter() - t
stats = getattr(scanner, "stats", None)
print(json.dumps({
    "records": records, "errors": len(sink.lines), "wall": wall,
    "files": scanner.files_seen, "read": scanner.files_examined, "bytes_read": scanner.bytes_examined,
    "bytes": getattr(stats, "bytes_seen", None),
    "summary": stats.summary() if stats is not None else [],
}))
"""


@dataclass
class Run:
    files: int
    bytes: int | None
    read: int
    bytes_read: int
    records: int
    errors: int
    wall: float
    user: float
    sys: float
    peak_rss_mb: float
    summary: list[str]

    @property
    def cpu(self) -> float:
        return self.user + self.sys


def run_once(root: str, workers: str, src: str | None) -> Run:
    env = dict(os.environ)
    if src:
        env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, root, workers], capture_output=True, text=True, env=env, check=True
    )
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    return Run(
        files=int(out["files"]),
        bytes=out["bytes"],
        read=int(out["read"]),
        bytes_read=int(out["bytes_read"]),
        records=int(out["records"]),
        errors=int(out["errors"]),
        wall=wall,
        user=after.ru_utime - before.ru_utime,
        sys=after.ru_stime - before.ru_stime,
        peak_rss_mb=after.ru_maxrss / 1024,
        summary=list(out["summary"]),
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root", nargs="?", default="/")
    ap.add_argument(
        "--workers",
        default="auto",
        help="workers: threads, then processes once big (default: one per CPU, at most 4)",
    )
    ap.add_argument("--src", help="import banscan from this src folder (another version)")
    ap.add_argument("--rounds", type=int, default=1, help="runs; the fastest is printed")
    args = ap.parse_args()
    runs = [run_once(args.root, args.workers, args.src) for _ in range(max(1, args.rounds))]
    r = min(runs, key=lambda run: run.wall)
    print(f"root             {args.root}" + (f"   (banscan from {args.src})" if args.src else ""))
    print(f"files walked     {r.files:,}")
    if r.bytes is not None:
        print(f"bytes walked     {r.bytes / 1e9:.2f} GB")
    print(f"files read       {r.read:,}   ({r.bytes_read / 1e9:.2f} GB)")
    print(f"records, errors  {r.records}, {r.errors}")
    print(f"wall seconds     {r.wall:.1f}")
    print(f"CPU seconds      {r.cpu:.1f}   (user {r.user:.1f}, sys {r.sys:.1f})")
    print(f"files/s          {r.files / r.wall:,.0f}")
    print(f"peak RSS         {r.peak_rss_mb:.0f} MB  (mapped files count too)")
    for line in r.summary:
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
