"""Deep-scan throughput and memory beside `yara -r` on the same tree and the same rules.

    python bench/bench_deep.py [--scale 1.0] [--tree /tmp/banscan-deep-bench] [--keep]

Scale 1.0 builds ≥ 2 GB in ≥ 50 000 files under /tmp: executables (ELF and PE headers over
random bytes, a few carrying catalog byte signatures), zip and tar.gz archives of
executables, and documents (HTML, text, PDF) mentioning the vendor. Then it runs, each
twice with a warm page cache, keeping the faster run:
  - `yara -r -w rules.yar TREE` with the rules the deep scan compiles from the catalog;
  - the deep scan (banscan.deep.deep_records) in a child process;
and prints throughput (tree bytes / wall second) and peak RSS of each.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

SIGNATURES = [b"Kaspersky Anti-Virus Personal Root Certificate", "AO Kaspersky Lab".encode("utf-16-le")]
TEXT = "AO Kaspersky Lab news: avp.exe, kavtray.exe and klnagent.exe were seen. " * 40


_TEMPLATES: list[bytes] = []


def _templates() -> list[bytes]:
    """Real small executables (gcc ELF, mingw PE when installed) used as file heads."""
    if _TEMPLATES:
        return _TEMPLATES
    with tempfile.TemporaryDirectory() as d:
        src = Path(d) / "m.c"
        src.write_text("int main(void) { return 0; }\n")
        for cc, out in (("gcc", "a.elf"), ("x86_64-w64-mingw32-gcc", "a.exe")):
            if shutil.which(cc):
                subprocess.run([cc, "-s", "-o", str(Path(d) / out), str(src)], check=True)
                _TEMPLATES.append((Path(d) / out).read_bytes())
    if not _TEMPLATES:
        _TEMPLATES.append(b"\x7fELF\x02\x01\x01" + b"\x00" * 57)
    return _TEMPLATES


def _exe(rng: random.Random, size: int, mark: bool) -> bytes:
    head = rng.choice(_templates())
    body = bytearray(rng.randbytes(max(64, size - len(head))))
    if mark:
        sig = rng.choice(SIGNATURES)
        at = rng.randrange(0, len(body) - len(sig))
        body[at : at + len(sig)] = sig
    return head + bytes(body)


def build(tree: Path, scale: float) -> tuple[int, int]:
    rng = random.Random(1)
    n_files = int(50_000 * scale)
    big = int(180 * scale)  # 8 MiB binaries: most of the bytes
    files = 0
    total = 0
    tree.mkdir(parents=True, exist_ok=True)
    for i in range(big):
        d = tree / f"opt/app{i % 40}/bin"
        d.mkdir(parents=True, exist_ok=True)
        data = _exe(rng, 8 * 1024 * 1024, mark=i % 20 == 0)
        (d / f"big{i}").write_bytes(data)
        files += 1
        total += len(data)
    n_archives = int(400 * scale)
    for i in range(n_archives):
        d = tree / f"downloads/u{i % 50}"
        d.mkdir(parents=True, exist_ok=True)
        if i % 2:
            p = d / f"bundle{i}.zip"
            with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
                for j in range(6):
                    z.writestr(f"lib/m{j}.so", _exe(rng, 96 * 1024, mark=(i + j) % 97 == 0))
                z.writestr("README.txt", TEXT)
        else:
            p = d / f"bundle{i}.tar.gz"
            with tarfile.open(p, "w:gz", compresslevel=1) as t:
                for j in range(6):
                    data = _exe(rng, 96 * 1024, mark=(i + j) % 89 == 0)
                    info = tarfile.TarInfo(f"bin/m{j}")
                    info.size = len(data)
                    t.addfile(info, io.BytesIO(data))
        files += 1
        total += p.stat().st_size
    n_small_exe = int(9_000 * scale)
    for i in range(n_small_exe):
        d = tree / f"usr/lib/pkg{i % 300}"
        d.mkdir(parents=True, exist_ok=True)
        data = _exe(rng, rng.randrange(8, 64) * 1024, mark=i % 500 == 0)
        (d / f"lib{i}.so").write_bytes(data)
        files += 1
        total += len(data)
    docs = max(0, n_files - files)
    for i in range(docs):
        d = tree / f"home/user{i % 100}/Documents/f{i % 37}"
        d.mkdir(parents=True, exist_ok=True)
        kind = i % 3
        if kind == 0:
            data = (
                "<!DOCTYPE html><html><body><p>" + TEXT * rng.randrange(1, 6) + "</p></body></html>"
            ).encode()
            name = f"a{i}.html"
        elif kind == 1:
            data = (TEXT * rng.randrange(1, 6)).encode()
            name = f"n{i}.txt"
        else:
            data = b"%PDF-1.4\n" + (TEXT * rng.randrange(1, 6)).encode() + b"\n%%EOF\n"
            name = f"r{i}.pdf"
        (d / name).write_bytes(data)
        files += 1
        total += len(data)
    return files, total


_CHILD = """
import sys, time
from banscan.errors import ErrorSink
from banscan.deep import deep_records
sink = ErrorSink(echo=False)
t = time.perf_counter()
workers = int(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[2] != "auto" else None
n = sum(1 for _ in deep_records([sys.argv[1]], sink, workers=workers))
print(n, len(sink.lines), time.perf_counter() - t)
"""


def run_child(cmd: list[str]) -> tuple[float, int, str]:
    """Wall seconds, peak RSS (KiB) and stdout of a child process."""
    code = (
        "import json, resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "w = time.perf_counter() - t\n"
        "r = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
        "print(json.dumps([w, r, p.stdout.strip()[-200:]]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, *cmd], capture_output=True, text=True, check=True
    ).stdout
    wall, rss, tail = json.loads(out)
    return float(wall), int(rss), str(tail)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--tree", type=Path, default=Path(tempfile.gettempdir()) / "banscan-deep-bench")
    ap.add_argument("--keep", action="store_true", help="keep the generated tree")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument(
        "--workers", default="auto", help="deep-scan worker threads (default: the scanner's choice)"
    )
    args = ap.parse_args()
    yara_bin = shutil.which("yara")
    if args.tree.exists():
        shutil.rmtree(args.tree)
    t = time.perf_counter()
    files, total = build(args.tree, args.scale)
    print(f"tree: {files} files, {total / 1e9:.2f} GB, built in {time.perf_counter() - t:.1f} s")

    from banscan.catalog.loader import load_catalog
    from banscan.deep.yarascan import rules_source

    rules = args.tree.parent / "banscan-deep-bench.yar"
    rules.write_text(rules_source(load_catalog()))
    results: dict[str, tuple[float, int, str]] = {}
    for _ in range(args.rounds):
        if yara_bin:
            r = run_child([yara_bin, "-r", "-w", str(rules), str(args.tree)])
            if "yara" not in results or r[0] < results["yara"][0]:
                results["yara"] = r
        r = run_child([sys.executable, "-c", _CHILD, str(args.tree), args.workers])
        if "deep" not in results or r[0] < results["deep"][0]:
            results["deep"] = r
    print(f"{'tool':<12}{'wall s':>9}{'MB/s':>9}{'peak RSS MB':>13}")
    for name, (wall, rss, _tail) in results.items():
        print(f"{name:<12}{wall:>9.2f}{total / 1e6 / wall:>9.1f}{rss / 1024:>13.1f}")
    if "yara" in results:
        ratio = results["yara"][0] / results["deep"][0]
        print(f"deep / yara throughput: {ratio:.2f}x (target >= 0.8x)")
    else:
        print("yara is not installed (apt-get install yara); only the deep scan was measured")
    print(f"deep scan (records, error lines, seconds inside): {results['deep'][2]}")
    if not args.keep:
        shutil.rmtree(args.tree, ignore_errors=True)
        rules.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
