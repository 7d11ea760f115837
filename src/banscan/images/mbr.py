"""The four primary entries of an MBR partition table, read leniently.

The sleuthkit refuses a whole MBR when one entry points past the end of the image (a
truncated copy, a snapshot exported short); the entries that are fine still hold file
systems worth reading, so they are read here one by one.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

SECTOR = 512
EXTENDED_TYPES = frozenset({0x05, 0x0F, 0x85})


@dataclass(frozen=True)
class Partition:
    number: int  # 1-based, among the entries in use
    kind: int  # the partition type byte
    start: int  # bytes from the start of the disk
    size: int  # bytes

    @property
    def extended(self) -> bool:
        return self.kind in EXTENDED_TYPES


def parse_mbr(sector: bytes) -> list[Partition] | None:
    """The entries in use, in table order; None unless `sector` is an MBR: the 0x55AA mark and
    four entries each empty (all zero) or plausible (status 0x00/0x80, a type, a start, a size)."""
    if len(sector) < SECTOR or sector[510:512] != b"\x55\xaa":
        return None
    out: list[Partition] = []
    for i in range(4):
        entry = sector[446 + 16 * i : 462 + 16 * i]
        if entry == bytes(16):
            continue
        status, kind = entry[0], entry[4]
        start, count = struct.unpack_from("<II", entry, 8)
        if status not in (0x00, 0x80) or kind == 0 or start == 0 or count == 0:
            return None
        out.append(Partition(len(out) + 1, kind, start * SECTOR, count * SECTOR))
    return out or None
