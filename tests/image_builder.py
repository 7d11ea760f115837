"""Build real disk images from folders, without mounting anything and without root.

- ext4: `mkfs.ext4 -d TREE` fills the file system from a folder (links, modes and all);
- NTFS: `mkntfs` makes the file system and `wimapply` (wimlib, which writes NTFS through
  libntfs-3g) lays a folder captured with `wimcapture` into it, directories included;
  `ntfscp` alone cannot make directories;
- FAT: `mformat`, `mmd` and `mcopy` from mtools;
- partitioned disks: `sfdisk` writes an MBR or GPT table on a sparse raw file and each file
  system is written at its offset with `dd conv=notrunc`;
- containers: `qemu-img convert` turns a raw disk into QCOW2, VMDK, VHDX or VHD, and
  `ewfacquire` into an EnCase (E01) forensic image.

A missing tool skips the calling test with the Debian package to install
(`scripts/install-system-deps` installs them all).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

MIB = 1024 * 1024
SECTOR = 512
FIRST_SECTOR = 2048  # where partitioning tools start the first partition (1 MiB)

PACKAGES = {
    "mkfs.ext4": "e2fsprogs",
    "mkntfs": "ntfs-3g",
    "wimcapture": "wimtools",
    "wimapply": "wimtools",
    "mformat": "mtools",
    "mmd": "mtools",
    "mcopy": "mtools",
    "sfdisk": "fdisk",
    "qemu-img": "qemu-utils",
    "ewfacquire": "ewf-tools",
}

# GPT partition types: EFI system, Linux file system, Microsoft basic data
GPT_TYPES = {
    "efi": "C12A7328-F81F-11D2-BA4B-00A0C93EC93B",
    "linux": "0FC63DAF-8483-4772-8E79-3D69D8477DE4",
    "windows": "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7",
}
MBR_TYPES = {"efi": "ef", "linux": "83", "windows": "7"}


def tool(name: str) -> str:
    """The path of a command-line tool (also looked for in the sbin folders a non-root PATH
    lacks), or skip the calling test saying what to install."""
    path = os.environ.get("PATH", "") + os.pathsep + "/usr/sbin:/sbin"
    found = shutil.which(name, path=path)
    if found is None:
        pytest.skip(
            f"{name} is not installed (Debian/Ubuntu: apt-get install {PACKAGES.get(name, name)}; "
            "or run scripts/install-system-deps)"
        )
    return found


def run(*args: str | Path) -> None:
    subprocess.run([str(a) for a in args], check=True, capture_output=True, timeout=300)


def ext4_image(tree: Path, out: Path, size_mib: int = 8, label: str = "root") -> Path:
    """An ext4 file system holding `tree`, in a file of `size_mib` MiB."""
    mkfs = tool("mkfs.ext4")
    _sparse(out, size_mib * MIB)
    run(mkfs, "-q", "-F", "-L", label, "-d", tree, out)
    return out


def ntfs_image(tree: Path, out: Path, size_mib: int = 24, label: str = "Windows") -> Path:
    """An NTFS file system holding `tree` (hives, Program Files folders …)."""
    mkntfs, capture, apply = tool("mkntfs"), tool("wimcapture"), tool("wimapply")
    _sparse(out, size_mib * MIB)
    run(mkntfs, "-q", "-F", "-Q", "-L", label, out)
    wim = out.with_name(out.name + ".wim")
    run(capture, tree, wim, "--no-acls")
    run(apply, wim, "1", out)
    wim.unlink()
    return out


def fat_image(files: dict[str, bytes], out: Path, size_mib: int = 4, label: str = "EFI") -> Path:
    """A FAT file system holding `files` (path inside → content), folders made as needed."""
    mformat, mmd, mcopy = tool("mformat"), tool("mmd"), tool("mcopy")
    _sparse(out, size_mib * MIB)
    run(mformat, "-i", out, "-v", label, "::")
    made: set[str] = set()
    staging = out.with_name(out.name + ".files")
    staging.mkdir(exist_ok=True)
    for rel, data in files.items():
        parts = rel.split("/")
        for i in range(1, len(parts)):
            folder = "/".join(parts[:i])
            if folder not in made:
                run(mmd, "-i", out, f"::/{folder}")
                made.add(folder)
        src = staging / parts[-1]
        src.write_bytes(data)
        run(mcopy, "-i", out, src, f"::/{rel}")
    shutil.rmtree(staging)
    return out


@dataclass(frozen=True)
class Part:
    """A partition to write: the file system image and its type (efi, linux, windows); or,
    for hostile tables, only a start and a size (in sectors) with no content."""

    image: Path | None
    kind: str = "linux"
    start: int | None = None
    sectors: int | None = None


def disk_image(out: Path, parts: list[Part], *, table: str = "gpt", size_mib: int | None = None) -> Path:
    """A raw disk with a `table` (gpt or dos) partition table and each file system written
    at its partition's offset. Partitions follow one another from sector 2048."""
    sfdisk = tool("sfdisk")
    lines = [f"label: {table}"]
    layout: list[tuple[int, Part]] = []
    next_start = FIRST_SECTOR
    for part in parts:
        sectors = part.sectors or _sectors(part.image)
        start = part.start if part.start is not None else next_start
        types = GPT_TYPES if table == "gpt" else MBR_TYPES
        lines.append(f"start={start}, size={sectors}, type={types[part.kind]}")
        layout.append((start, part))
        next_start = max(next_start, start + sectors)
    total = size_mib * MIB if size_mib else (next_start + FIRST_SECTOR) * SECTOR
    _sparse(out, total)
    subprocess.run(
        [sfdisk, "-q", str(out)],
        input="\n".join(lines) + "\n",
        text=True,
        check=True,
        capture_output=True,
        timeout=60,
    )
    for start, part in layout:
        if part.image is not None:
            write_at(out, part.image, start * SECTOR)
    return out


def write_at(disk: Path, image: Path, offset: int) -> None:
    """`dd if=image of=disk seek=offset conv=notrunc`, keeping the copy sparse."""
    run(
        "dd",
        f"if={image}",
        f"of={disk}",
        "bs=512",
        f"seek={offset // SECTOR}",
        "conv=notrunc,sparse",
        "status=none",
    )


def convert(raw: Path, fmt: str, out: Path) -> Path:
    """`qemu-img convert -O fmt` (qcow2, vmdk, vhdx, vpc)."""
    run(tool("qemu-img"), "convert", "-f", "raw", "-O", fmt, raw, out)
    return out


def ewf_image(raw: Path, out: Path) -> Path:
    """An uncompressed EnCase 6 image of `raw`: `out` without its .E01 suffix is the target."""
    target = out.with_suffix("")
    run(tool("ewfacquire"), "-u", "-q", "-t", target, "-c", "none", "-f", "encase6", raw)
    return target.with_suffix(".E01")


def _sectors(image: Path | None) -> int:
    if image is None:
        raise ValueError("a partition without an image needs its size in sectors")
    return -(-image.stat().st_size // SECTOR)


def _sparse(path: Path, size: int) -> None:
    with path.open("wb") as fh:
        fh.truncate(size)
