"""What kind of disk image a file is, from its first and last bytes.

`banscan scan FILE` must tell a disk image from an inventory file before any inventory reader
sees it, and a multi-gigabyte image must not be read to find out: a few small reads of known
places (container headers and footers, partition tables, file-system superblocks) decide.
Names are never trusted: cloud snapshots and forensic copies come with any extension.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

from banscan.images.mbr import parse_mbr

HEAD_BYTES = 8192  # every signature below lies in the first 8 KiB (or in the last 512 bytes)
SECTOR = 512


def image_kind(path: str | os.PathLike[str]) -> str | None:
    """`qcow`, `vmdk`, `vhdx`, `vhd`, `ewf`, `gpt` or `mbr` (a partitioned raw disk), an LVM
    physical volume (`lvm`), an encrypted volume (`luks`, `bitlocker`) or a bare file system (`ext`, `ntfs`, `fat`, `apfs`,
    `hfs`); None when the file is none of these (or cannot be read)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(HEAD_BYTES)
            size = fh.seek(0, os.SEEK_END)
            tail = b""
            if size >= SECTOR:
                fh.seek(size - SECTOR)
                tail = fh.read(SECTOR)
    except OSError:
        return None
    return kind_of(head, tail)


def kind_of(head: bytes, tail: bytes = b"") -> str | None:
    """The kind of image whose first bytes are `head` and last 512 bytes `tail`."""
    container = _container(head, tail)
    if container is not None:
        return container
    if head[512:520] == b"EFI PART" or head[4096:4104] == b"EFI PART":
        return "gpt"
    if head.startswith(b"LUKS\xba\xbe"):
        return "luks"
    if any(
        head[i : i + 8] == b"LABELONE" and head[i + 24 : i + 32] == b"LVM2 001"
        for i in range(0, 2048, SECTOR)
    ):
        return "lvm"  # a physical volume on the whole disk (pvcreate /dev/sdb)
    if head[3:11] == b"-FVE-FS-":
        return "bitlocker"
    fs = file_system_kind(head)
    if fs is not None:
        return fs
    return "mbr" if parse_mbr(head) is not None else None


def _container(head: bytes, tail: bytes) -> str | None:
    if head.startswith(b"QFI\xfb"):
        return "qcow"
    if head.startswith(b"KDMV") or head.startswith(b"# Disk DescriptorFile"):
        return "vmdk"
    if head.startswith(b"vhdxfile"):
        return "vhdx"
    # a fixed VHD has its footer in the last sector only; a dynamic one copies it to the first
    # (old Virtual PC images wrote a 511-byte footer, hence the second place)
    if head.startswith(b"conectix") or tail.startswith(b"conectix") or tail[1:9] == b"conectix":
        return "vhd"
    if head.startswith(b"EVF\x09\x0d\x0a\xff\x00") or head.startswith(b"EVF2\x0d\x0a\x81\x00"):
        return "ewf"
    return None


def file_system_kind(head: bytes) -> str | None:
    """The file system whose first bytes are `head` (at least 4 KiB), or None."""
    if head[3:11] == b"NTFS    ":
        return "ntfs"
    if _is_fat(head):
        return "fat"
    if len(head) >= 1084 and head[1080:1082] == b"\x53\xef":
        log_block_size = struct.unpack_from("<I", head, 1024 + 24)[0]
        inodes = struct.unpack_from("<I", head, 1024)[0]
        if log_block_size <= 6 and inodes > 0:
            return "ext"
    if len(head) >= 40 and head[32:36] == b"NXSB":
        block_size = struct.unpack_from("<I", head, 36)[0]
        if 4096 <= block_size <= 65536 and block_size & (block_size - 1) == 0:
            return "apfs"
    if head[1024:1028] in (b"H+\x00\x04", b"HX\x00\x05"):
        return "hfs"
    return None


def _is_fat(head: bytes) -> bool:
    """A FAT boot sector: a jump, a sane BIOS parameter block and the 0x55AA mark."""
    if len(head) < SECTOR or head[510:512] != b"\x55\xaa" or head[0] not in (0xEB, 0xE9):
        return False
    bytes_per_sector, per_cluster, reserved, fats = struct.unpack_from("<HBHB", head, 11)
    sane = (
        bytes_per_sector in (512, 1024, 2048, 4096)
        and per_cluster in (1, 2, 4, 8, 16, 32, 64, 128)
        and reserved >= 1
        and fats in (1, 2)
    )
    return sane and (head[54:57] == b"FAT" or head[82:87] == b"FAT32")


def looks_like_image(path: Path) -> bool:
    """Whether `path` is a regular file holding a disk image (by content)."""
    try:
        return path.is_file() and image_kind(path) is not None
    except OSError:
        return False
