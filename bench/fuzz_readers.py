"""The long fuzz run over every input reader, format detection, the deep scan and plists.

The test suite runs the same checks briefly under hypothesis (tests/test_fuzz_readers.py); this
script runs them for longer with a seeded random mutator (tests/fuzz_harness.py: bit flips,
hostile tokens such as 5,000 `[`, deletions, duplications, truncation, splices between samples,
odd 32-bit values) over the real samples in tests/data and the deep-scan fixtures, plus random
bytes. A crash is any exception leaving a reader (or an analyser failing with anything but its
documented BadInput), an error that is not one line naming the file, or one example running
longer than --timeout seconds. Crashing inputs are written to --crashes, one file each, for
replaying; distinct crashes are grouped by exception type and the innermost banscan frame.

    .venv/bin/python bench/fuzz_readers.py                    # 60 s per target
    .venv/bin/python bench/fuzz_readers.py --seconds 10 --only osquery fleet
    .venv/bin/python bench/fuzz_readers.py --examples 2000 --seed 7

Prints, per target, examples run, records and error lines seen, the slowest example, and the
crashes; then the process's peak memory (RSS). The figures in bench/README.md come from it.
"""

from __future__ import annotations

import argparse
import faulthandler
import hashlib
import os
import random
import resource
import signal
import sys
import time
import traceback
from collections import Counter
from pathlib import Path
from types import FrameType

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import fuzz_harness as harness


class Hang(Exception):
    pass


def _alarm(_sig: int, _frame: FrameType | None) -> None:
    raise Hang("example ran past the timeout")


def _where(exc: BaseException) -> str:
    """The innermost frame in banscan's code (or the last frame) of an exception."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if f"{os.sep}banscan{os.sep}" in f.filename]
    f = (ours or frames)[-1] if (ours or frames) else None
    return f"{Path(f.filename).name}:{f.lineno} {f.name}" if f else "?"


def run_target(
    name: str,
    check: harness.Target,
    seeds: tuple[bytes, ...],
    rng: random.Random,
    *,
    seconds: float,
    examples: int | None,
    timeout: int,
    crashes_dir: Path,
) -> dict[str, object]:
    found: Counter[str] = Counter()
    first: dict[str, str] = {}
    n = records = errors = 0
    slowest = 0.0
    stop = time.monotonic() + seconds
    while (examples is None and time.monotonic() < stop) or (examples is not None and n < examples):
        if rng.random() < 0.05:
            data = rng.randbytes(rng.randrange(4096))
        else:
            data = harness.mutate(rng, rng.choice(seeds), seeds)
        n += 1
        began = time.monotonic()
        signal.alarm(timeout)
        try:
            out = check(data)
        except Exception as exc:  # noqa: BLE001 - every failure is a finding of the run
            key = f"{type(exc).__name__} at {_where(exc)}"
            found[key] += 1
            if key not in first:
                first[key] = " ".join(str(exc).split())[:200]
                digest = hashlib.sha256(data).hexdigest()[:16]
                crashes_dir.mkdir(parents=True, exist_ok=True)
                (crashes_dir / f"{name}-{digest}.bin").write_bytes(data)
            continue
        finally:
            signal.alarm(0)
            slowest = max(slowest, time.monotonic() - began)
        if isinstance(out, harness.Outcome):
            records += len(out.records)
            errors += len(out.errors)
    return {
        "examples": n,
        "records": records,
        "errors": errors,
        "slowest": slowest,
        "crashes": sum(found.values()),
        "distinct": {k: (v, first[k]) for k, v in found.items()},
    }


def replay(folder: Path) -> int:
    """Each saved input (`TARGET-DIGEST.bin`) through its target again; 1 if any still fails."""
    checks = {name: check for name, check, _ in harness.targets()}
    failed = 0
    for path in sorted(folder.glob("*.bin")):
        name = path.name.rsplit("-", 1)[0]
        try:
            checks[name](path.read_bytes())
        except Exception as exc:  # noqa: BLE001 - reported, as the run reports it
            failed += 1
            print(
                f"FAIL {path.name}: {type(exc).__name__} at {_where(exc)}: {' '.join(str(exc).split())[:200]}"
            )
        else:
            print(f"ok   {path.name}")
    return 1 if failed else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="per target (default 60)")
    ap.add_argument("--examples", type=int, help="per target, instead of --seconds")
    ap.add_argument("--seed", type=int, default=20261203)
    ap.add_argument("--timeout", type=int, default=30, help="seconds one example may take")
    ap.add_argument("--only", nargs="*", help="targets to run (reader names, detect, deep, plist)")
    ap.add_argument("--crashes", type=Path, default=Path("fuzz-crashes"), help="where crashing inputs go")
    ap.add_argument("--replay", type=Path, help="run the saved inputs of a --crashes folder again")
    args = ap.parse_args()
    signal.signal(signal.SIGALRM, _alarm)
    faulthandler.register(signal.SIGUSR1)  # `kill -USR1 PID` shows where a slow example is
    if args.replay is not None:
        return replay(args.replay)
    started = time.monotonic()
    total_examples = total_crashes = 0
    print(f"{'target':18} {'examples':>9} {'records':>9} {'errors':>9} {'slowest s':>9} {'crashes':>8}")
    for name, check, seeds in harness.targets():
        if args.only and name not in args.only:
            continue
        rng = random.Random(f"{args.seed}:{name}")
        res = run_target(
            name,
            check,
            seeds,
            rng,
            seconds=args.seconds,
            examples=args.examples,
            timeout=args.timeout,
            crashes_dir=args.crashes,
        )
        total_examples += int(str(res["examples"]))
        total_crashes += int(str(res["crashes"]))
        print(
            f"{name:18} {res['examples']:>9} {res['records']:>9} {res['errors']:>9} "
            f"{float(str(res['slowest'])):>9.2f} {res['crashes']:>8}",
            flush=True,
        )
        distinct = res["distinct"]
        assert isinstance(distinct, dict)
        for key, (count, message) in distinct.items():
            print(f"    {count:>6} × {key}: {message}", flush=True)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        f"\n{total_examples} examples in {time.monotonic() - started:.0f} s, {total_crashes} crashes, "
        f"peak RSS {peak_kb / 1024:.0f} MiB"
    )
    return 1 if total_crashes else 0


if __name__ == "__main__":
    raise SystemExit(main())
