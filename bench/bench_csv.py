"""Benchmark of large CSV inventory exports: Intune AppInvRawData rows of N hosts × 25 apps.

    python bench/bench_csv.py                      # 16 000 hosts, 400 000 rows, plain, .gz and .zst
    python bench/bench_csv.py --hosts 80000        # 2 M rows
    python bench/bench_csv.py --keep DIR           # write (or reuse) the files in DIR and keep them

The export is generated deterministically from a seed with the columns and quoting of Intune's
`AppInvRawData` report (every field quoted, CRLF, a UTF-8 byte-order mark): Windows programs of a
typical estate, other antivirus products as decoys, and about 1 % of hosts with Kaspersky
software. The script times the whole `banscan scan FILE` command as a user runs it, checks that
exactly the known hosts have findings and that every host and row is counted, and prints rows/s.
Nothing here runs in the test suite.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_fleet import OTHER_AV, WIN_PROGRAMS

APPS_PER_HOST = 25
SEED = 20250116
KASPERSKY_SHARE = 0.01
KASPERSKY = [
    ("Kaspersky Endpoint Security for Windows", "AO Kaspersky Lab", "12.5.0.539"),
    ("Kaspersky Security Center Network Agent", "AO Kaspersky Lab", "14.2.0.26967"),
]
HEADER = (
    "ApplicationKey,ApplicationName,ApplicationPublisher,ApplicationShortVersion,ApplicationVersion,"
    "DeviceId,DeviceName,OSDescription,OSVersion,Platform,UserId,EmailAddress,UserName,Platform_loc"
)


def _q(fields: list[str]) -> str:
    return ",".join('"' + f.replace('"', '""') + '"' for f in fields) + "\r\n"


def generate(path: Path, hosts: int, seed: int = SEED) -> tuple[int, set[str]]:
    """Write the export; returns (rows, hosts with Kaspersky software)."""
    rng = random.Random(seed)
    k_hosts = set(rng.sample(range(hosts), max(1, int(hosts * KASPERSKY_SHARE))))
    rows = 0
    known: set[str] = set()
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write("\ufeff" + ",".join(f'"{h}"' for h in HEADER.split(",")) + "\r\n")
        buf: list[str] = []
        for h in range(hosts):
            device = f"PC-{h:06d}"
            device_id = str(uuid.UUID(int=rng.getrandbits(128)))
            user_id = str(uuid.UUID(int=rng.getrandbits(128)))
            user = f"user{h}"
            apps = rng.sample(WIN_PROGRAMS, min(len(WIN_PROGRAMS), APPS_PER_HOST - 2))
            apps.append(rng.choice(OTHER_AV))
            if h in k_hosts:
                apps.append(rng.choice(KASPERSKY))
                known.add(device)
            else:
                apps.append(rng.choice(WIN_PROGRAMS))
            for app in apps:
                name, publisher = app[0], app[1]
                version = (
                    app[2] if len(app) > 2 and app[2][:1].isdigit() else f"{rng.randint(1, 30)}.0.{h % 97}"
                )
                key = hashlib.sha1(f"{name}{publisher}{version}".encode()).hexdigest()
                buf.append(
                    _q(
                        [
                            key,
                            name,
                            publisher,
                            ".".join(version.split(".")[:2]),
                            version,
                            device_id,
                            device,
                            "Windows 11 Enterprise",
                            "10.0.22631.4602",
                            "Windows",
                            user_id,
                            f"{user}@contoso.com",
                            f"User {h}",
                            "Windows",
                        ]
                    )
                )
                rows += 1
            if len(buf) > 10_000:
                fh.write("".join(buf))
                buf.clear()
        fh.write("".join(buf))
    return rows, known


def _compress(path: Path, kind: str) -> Path:
    out = path.with_name(path.name + (".gz" if kind == "gz" else ".zst"))
    if out.exists():
        return out
    if kind == "gz":
        with path.open("rb") as src, gzip.open(out, "wb", compresslevel=6) as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    else:
        import zstandard

        with path.open("rb") as src, out.open("wb") as dst:
            zstandard.ZstdCompressor(level=3).copy_stream(src, dst)
    return out


def run_command(path: Path) -> tuple[float, dict[str, Any]]:
    """The whole `banscan scan FILE` command: start-up, catalog, reading, matching, JSON out."""
    out = path.with_name(path.name + ".result.json")
    cmd = [sys.executable, "-m", "banscan", "scan", str(path), "-f", "json", "-o", str(out), "--quiet"]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=False, capture_output=True)
    secs = time.perf_counter() - t0
    result = json.loads(out.read_text(encoding="utf-8"))
    out.unlink()
    return secs, result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hosts", type=int, default=16_000)
    ap.add_argument("--keep", type=Path, help="directory to write (or reuse) the files in, kept after")
    ap.add_argument("--only", choices=["csv", "gz", "zst"], action="append", help="time only these files")
    args = ap.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="banscan-csv-"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"AppInvRawData-{args.hosts}.csv"
    meta = path.with_name(path.name + ".meta.json")
    if path.exists() and meta.exists():
        saved = json.loads(meta.read_text())
        rows, known = saved["rows"], set(saved["known"])
    else:
        rows, known = generate(path, args.hosts)
        meta.write_text(json.dumps({"rows": rows, "known": sorted(known)}))
    print(f"{path.name}: {rows:,} rows, {path.stat().st_size / 1e6:.0f} MB, {args.hosts:,} hosts")
    failures = 0
    for kind in args.only or ["csv", "gz", "zst"]:
        target = path if kind == "csv" else _compress(path, kind)
        secs, result = run_command(target)
        found = {f["host"] for f in result["findings"]}
        counted = result["targets"][0]["records"]
        ok = found == known and len(result["hosts"]) == args.hosts and counted == rows
        failures += not ok
        print(
            f"  {kind:4} {target.stat().st_size / 1e6:7.0f} MB  whole command {secs:6.2f} s  "
            f"{rows / secs / 1e6:5.2f} M rows/s  {'ok' if ok else 'WRONG'} "
            f"(hosts {len(result['hosts'])}, rows {counted}, hosts with findings {len(found)})"
        )
    if args.keep is None:
        shutil.rmtree(folder)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
