"""`banscan scan IMAGE` against `banscan scan --root TREE` on the same 4 GB file system.

    .venv/bin/python bench/bench_images.py [--size-gb 4] [--work DIR] [--no-deep] [--rounds 1] [--keep]

Builds a tree of a realistic mix — this machine's /usr/share, then its /usr/lib, file by file
until the tree holds `--size-gb` GB, with /etc/hostname, /etc/os-release and this machine's
dpkg status plus three Kaspersky packages — makes an ext4 file system of it with
`mkfs.ext4 -d`, converts that to QCOW2 with `qemu-img convert -O qcow2` (the raw file is
removed), then times each command end to end as a child process (wall, CPU of it and its
worker processes, peak RSS of the largest process):

    banscan scan --format json --output OUT --quiet IMAGE
    banscan scan --format json --output OUT --quiet --root TREE
    … and both again with --deep --stats (unless --no-deep), printing the deep scans' summaries

and checks that the image and the tree give the same findings with the same evidence
(locations relabelled `bench.qcow2:/path`). The tree, the image and the outputs are removed
afterwards unless `--keep`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GB = 1024**3
SOURCES = ("/usr/share", "/usr/lib")
KASPERSKY_PACKAGES = """
Package: kesl
Status: install ok installed
Priority: optional
Section: misc
Installed-Size: 1043380
Maintainer: AO Kaspersky Lab <support@kaspersky.com>
Architecture: amd64
Version: 12.0.0-6672
Description: Kaspersky Endpoint Security for Linux

Package: klnagent64
Status: install ok installed
Priority: optional
Section: misc
Installed-Size: 231340
Maintainer: AO Kaspersky Lab <support@kaspersky.com>
Architecture: amd64
Version: 14.2.0-35148
Description: Kaspersky Security Center Network Agent

Package: kesl-gui
Status: install ok installed
Priority: optional
Section: misc
Installed-Size: 86016
Maintainer: AO Kaspersky Lab <support@kaspersky.com>
Architecture: amd64
Version: 12.0.0-6672
Description: Kaspersky Endpoint Security for Linux graphical interface
"""
# an ELF head with a catalog byte signature, for the deep scan to find
SIGNED_ELF = b"\x7fELF\x02\x01\x01" + b"\x00" * 57 + b"\x00Kaspersky Anti-Virus Personal Root Certificate\x00"


def tool(name: str) -> str:
    found = shutil.which(name, path=os.environ.get("PATH", "") + os.pathsep + "/usr/sbin:/sbin")
    if found is None:
        sys.exit(f"{name} is not installed (apt-get install e2fsprogs qemu-utils)")
    return found


# ---- the tree and the image ---------------------------------------------------------------------


def build_tree(tree: Path, budget: int) -> tuple[int, int]:
    """Fill `tree` (files, bytes) with a system skeleton and copies of SOURCES up to `budget`."""
    (tree / "etc").mkdir(parents=True)
    (tree / "etc/hostname").write_text("bench-img-01\n")
    (tree / "etc/os-release").write_text(Path("/etc/os-release").read_text())
    status = tree / "var/lib/dpkg/status"
    status.parent.mkdir(parents=True)
    ours = Path("/var/lib/dpkg/status")
    status.write_text((ours.read_text() if ours.exists() else "") + KASPERSKY_PACKAGES)
    kesl = tree / "opt/kaspersky/kesl/bin"
    kesl.mkdir(parents=True)
    (kesl / "certtool").write_bytes(SIGNED_ELF)
    files, size = 3, status.stat().st_size
    for source in SOURCES:
        for folder, dirs, names in os.walk(source):
            dirs.sort()
            rel = os.path.relpath(folder, "/")
            (tree / rel).mkdir(parents=True, exist_ok=True)
            for name in sorted(names):
                src = os.path.join(folder, name)
                dst = tree / rel / name
                try:
                    st = os.lstat(src)
                    if stat.S_ISLNK(st.st_mode):
                        os.symlink(os.readlink(src), dst)
                        continue
                    if not stat.S_ISREG(st.st_mode):
                        continue
                    if size + st.st_size > budget:
                        return files, size
                    shutil.copyfile(src, dst)
                except OSError:
                    continue  # unreadable here: left out
                files += 1
                size += st.st_size
    return files, size


def build_image(tree: Path, out: Path) -> Path:
    """An ext4 file system of `tree` (mkfs.ext4 -d) in QCOW2; the raw file is removed."""
    used = sum(os.lstat(os.path.join(d, n)).st_blocks * 512 for d, _, names in os.walk(tree) for n in names)
    raw = out.with_suffix(".raw")
    with raw.open("wb") as fh:
        fh.truncate(int(used * 1.25) + 512 * 1024**2)
    subprocess.run([tool("mkfs.ext4"), "-q", "-F", "-L", "bench", "-d", str(tree), str(raw)], check=True)
    subprocess.run([tool("qemu-img"), "convert", "-f", "raw", "-O", "qcow2", str(raw), str(out)], check=True)
    raw.unlink()
    return out


# ---- timing ---------------------------------------------------------------------------------------


@dataclass
class Run:
    label: str
    command: list[str]
    wall: float
    cpu: float
    peak_rss_mb: float
    result: dict[str, Any]


def timed(label: str, args: list[str], out: Path) -> Run:
    banscan = str(Path(sys.executable).with_name("banscan"))
    command = [banscan, "scan", "--format", "json", "--output", str(out), "--quiet", *args]
    t = time.perf_counter()
    with out.with_suffix(".stderr").open("wb") as err:
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        sys.exit(f"{' '.join(command)} exited {code}")
    result = json.loads(out.read_text())
    return Run(label, command, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, result)


def best(label: str, args: list[str], out: Path, rounds: int) -> Run:
    runs = [timed(label, args, out) for _ in range(rounds)]
    return min(runs, key=lambda r: r.wall)


def evidence(result: dict[str, Any], prefix: str) -> list[tuple[str, ...]]:
    """Every finding's evidence, locations without `prefix` (a regular expression)."""
    out = []
    for f in result["findings"]:
        for e in f["evidence"]:
            location = re.sub(prefix, "", e["location"], count=1)
            out.append((f["host"], f["product"], f["verdict"], e["kind"], e["value"], location))
    return sorted(out)


def compare(image_run: Run, root_run: Run, image: Path) -> str:
    same = evidence(image_run.result, re.escape(f"{image.name}:")) == evidence(root_run.result, "")
    errors = [len(t["errors"]) for t in image_run.result["targets"]]
    return f"same findings: {'yes' if same else 'NO'}; image error lines: {sum(errors)}"


def table(runs: list[Run]) -> str:
    rows = [
        "| command | wall s | CPU s | peak RSS MB | findings | evidence |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        count = sum(len(f["evidence"]) for f in r.result["findings"])
        rows.append(
            f"| {r.label} | {r.wall:.1f} | {r.cpu:.1f} | {r.peak_rss_mb:.0f} | {len(r.result['findings'])} | {count} |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-gb", type=float, default=4.0)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "banscan-image-bench")
    parser.add_argument("--no-deep", action="store_true", help="time the ordinary scans only")
    parser.add_argument("--rounds", type=int, default=1, help="runs of each command; the fastest is kept")
    parser.add_argument("--keep", action="store_true", help="keep the tree and the image (and reuse them)")
    args = parser.parse_args()
    work: Path = args.work
    tree, image = work / "tree", work / "bench.qcow2"
    try:
        if not image.exists():
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir(parents=True)
            t = time.perf_counter()
            files, size = build_tree(tree, int(args.size_gb * GB))
            print(f"tree: {files:,} files, {size / GB:.2f} GB in {time.perf_counter() - t:.0f} s", flush=True)
            t = time.perf_counter()
            build_image(tree, image)
            print(
                f"image: {image.stat().st_size / GB:.2f} GB QCOW2 in {time.perf_counter() - t:.0f} s",
                flush=True,
            )
        runs = [
            best("`scan IMAGE`", [str(image)], work / "image.json", args.rounds),
            best("`scan --root TREE`", ["--root", str(tree)], work / "root.json", args.rounds),
        ]
        print(compare(runs[0], runs[1], image), flush=True)
        if not args.no_deep:
            for label, target, name in (
                ("`scan --deep IMAGE`", [str(image)], "image-deep"),
                ("`scan --deep --root TREE`", ["--root", str(tree)], "root-deep"),
            ):
                runs.append(best(label, ["--deep", "--stats", *target], work / f"{name}.json", args.rounds))
                print((work / f"{name}.stderr").read_text(), end="", flush=True)  # the --stats summary
            print(compare(runs[2], runs[3], image), flush=True)
        print(table(runs))
        for r in runs:
            print(" ".join(r.command))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
