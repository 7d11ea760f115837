"""LVM2 physical volumes written byte by byte, without root, loop devices or device-mapper.

`pvcreate`, `vgcreate` and `lvcreate` need a block device and the kernel; the on-disk format
they write is small and documented (lvm2 lib/format_text/layout.h, libvslvm's format notes):

- sector 1: the label header (`LABELONE`, its sector, a CRC of the rest of the sector, the
  offset of the PV header, `LVM2 001`), then the PV header: the PV UUID (32 characters), the
  device size, the data areas and the metadata areas (each list ends with a zero entry), and
  the version 2 extension LVM2 has written since 2.02.110 (flags, no bootloader area);
- at 4 KiB, the metadata area: a 512-byte header (CRC, the magic ` LVM2 x[5A%r0N*>`, version
  1, where the area starts and its size, one raw location pointing at the metadata text with
  its length and CRC), then the text that describes the volume group, its PV and its LVs;
- from `pe_start` (1 MiB), the physical extents; each LV's segments map its logical extents
  onto runs of them, and each LV's file system is written at its extents.

The CRC is LVM2's `calc_crc`: CRC-32 (polynomial 0xedb88320) from the initial value
0xf597a6cf, without the final inversion.
"""

from __future__ import annotations

import hashlib
import itertools
import string
import subprocess
import zlib
from dataclasses import dataclass
from pathlib import Path

from image_builder import MIB, SECTOR, Part, disk_image, tool

LABEL_SECTOR = 1
MDA_OFFSET = 4096  # the metadata area starts at 4 KiB …
PE_START = MIB  # … and runs up to the first extent at 1 MiB
EXTENT = MIB  # vgcreate -s 1M (the default is 4 MiB: a few MB of test data need less)
MDA_MAGIC = b" LVM2 x[5A%r0N*>"
INITIAL_CRC = 0xF597A6CF
CREATED = 1_700_000_000  # 2023-11-14 22:13:20 UTC
LVM_PARTITION_TYPE = "8e"


def lvm_crc(data: bytes) -> int:
    """LVM2's calc_crc(INITIAL_CRC, data): zlib's CRC-32 without its inversions."""
    return zlib.crc32(data, INITIAL_CRC ^ 0xFFFFFFFF) ^ 0xFFFFFFFF


def lvm_uuid(seed: str) -> str:
    """A 32-character LVM identifier, the same for the same seed (images are reproducible)."""
    alphabet = string.ascii_letters + string.digits
    digest = hashlib.sha256(seed.encode()).digest()
    return "".join(alphabet[b % len(alphabet)] for b in digest[:32])


def formatted(uuid: str) -> str:
    """How the metadata text writes an identifier: 6-4-4-4-4-4-6."""
    cuts = (0, 6, 10, 14, 18, 22, 26, 32)
    return "-".join(uuid[a:b] for a, b in itertools.pairwise(cuts))


@dataclass(frozen=True)
class LogicalVolume:
    """An LV holding the file system `image`; `runs` splits its extents into segments that
    other LVs' extents separate on the PV (e.g. (5, 3): five extents, another LV, three)."""

    name: str
    image: Path
    runs: tuple[int, ...] = ()

    def extents(self) -> int:
        return -(-self.image.stat().st_size // EXTENT)

    def run_lengths(self) -> list[int]:
        total = self.extents()
        if not self.runs:
            return [total]
        if sum(self.runs) != total:
            raise ValueError(f"{self.name}: runs {self.runs} do not add up to its {total} extents")
        return list(self.runs)


@dataclass(frozen=True)
class Segment:
    start_extent: int  # first logical extent of the LV it maps
    count: int
    pe: int  # first physical extent it maps to


def allocate(volumes: list[LogicalVolume]) -> dict[str, list[Segment]]:
    """Place the LVs' runs on the PV round by round (first run of each LV, then the second
    runs …), so that a split LV's segments lie apart, as after an lvextend."""
    runs = {lv.name: lv.run_lengths() for lv in volumes}
    segments: dict[str, list[Segment]] = {lv.name: [] for lv in volumes}
    done = {lv.name: 0 for lv in volumes}
    pe = 0
    for round_ in range(max(len(r) for r in runs.values())):
        for lv in volumes:
            if round_ < len(runs[lv.name]):
                count = runs[lv.name][round_]
                segments[lv.name].append(Segment(done[lv.name], count, pe))
                done[lv.name] += count
                pe += count
    return segments


def metadata_text(vg: str, pv_uuid: str, device_sectors: int, volumes: list[LogicalVolume]) -> str:
    """The volume group as LVM2 writes it into a metadata area: its raw formatter indents
    nothing and drops the size and hint comments a `vgcfgbackup` file has; only the closing
    header lines carry comments."""
    pe_count = (device_sectors * SECTOR - PE_START) // EXTENT
    segments = allocate(volumes)
    used = sum(s.count for segs in segments.values() for s in segs)
    if used > pe_count:
        raise ValueError(f"{used} extents do not fit in the {pe_count} of the PV")
    lines = [
        f"{vg} {{",
        f'id = "{formatted(lvm_uuid("vg:" + vg))}"',
        "seqno = 3",
        'format = "lvm2"',
        'status = ["RESIZEABLE", "READ", "WRITE"]',
        "flags = []",
        f"extent_size = {EXTENT // SECTOR}",
        "max_lv = 0",
        "max_pv = 0",
        "metadata_copies = 0",
        "",
        "physical_volumes {",
        "",
        "pv0 {",
        f'id = "{formatted(pv_uuid)}"',
        'device = "/dev/sda2"',
        "",
        'status = ["ALLOCATABLE"]',
        "flags = []",
        f"dev_size = {device_sectors}",
        f"pe_start = {PE_START // SECTOR}",
        f"pe_count = {pe_count}",
        "}",
        "}",
        "",
        "logical_volumes {",
    ]
    for lv in volumes:
        lines += [
            "",
            f"{lv.name} {{",
            f'id = "{formatted(lvm_uuid(f"lv:{vg}/{lv.name}"))}"',
            'status = ["READ", "WRITE", "VISIBLE"]',
            "flags = []",
            f"creation_time = {CREATED}",
            'creation_host = "srv-app-01"',
            f"segment_count = {len(segments[lv.name])}",
        ]
        for number, seg in enumerate(segments[lv.name], 1):
            lines += [
                "",
                f"segment{number} {{",
                f"start_extent = {seg.start_extent}",
                f"extent_count = {seg.count}",
                "",
                'type = "striped"',
                "stripe_count = 1",
                "",
                "stripes = [",
                f'"pv0", {seg.pe}',
                "]",
                "}",
            ]
        lines.append("}")
    lines += [
        "}",
        "",
        "}",
        "# Generated by LVM2 version 2.03.16(2) (2022-05-18): Tue Nov 14 22:13:20 2023",
        "",
        'contents = "Text Format Volume Group"',
        "version = 1",
        "",
        'description = ""',
        "",
        'creation_host = "srv-app-01"\t# Linux srv-app-01 6.1.0-13-amd64 #1 SMP PREEMPT_DYNAMIC x86_64',
        f"creation_time = {CREATED}\t# Tue Nov 14 22:13:20 2023",
        "",
    ]
    return "\n".join(lines) + "\n"


def label_sector(pv_uuid: str, device_bytes: int) -> bytes:
    """Sector 1: label header and PV header (with the version 2 extension)."""
    header = bytearray(pv_uuid.encode("ascii"))
    header += device_bytes.to_bytes(8, "little")
    for offset, size in ((PE_START, 0), (0, 0), (MDA_OFFSET, PE_START - MDA_OFFSET), (0, 0)):
        header += offset.to_bytes(8, "little") + size.to_bytes(8, "little")  # data areas, metadata areas
    header += (2).to_bytes(4, "little") + (1).to_bytes(4, "little")  # extension: version 2, PV_EXT_USED
    header += bytes(16)  # no bootloader area
    sector = bytearray(SECTOR)
    sector[0:8] = b"LABELONE"
    sector[8:16] = LABEL_SECTOR.to_bytes(8, "little")
    sector[20:24] = (32).to_bytes(4, "little")  # the PV header follows the 32-byte label header
    sector[24:32] = b"LVM2 001"
    sector[32 : 32 + len(header)] = header
    sector[16:20] = lvm_crc(bytes(sector[20:])).to_bytes(4, "little")
    return bytes(sector)


def metadata_area(text: str) -> bytes:
    """The metadata area header and, one sector on, the text (NUL-terminated, as LVM2
    stores it: the location's size counts the NUL)."""
    data = text.encode("ascii") + b"\x00"
    header = bytearray(SECTOR)
    header[4:20] = MDA_MAGIC
    header[20:24] = (1).to_bytes(4, "little")
    header[24:32] = MDA_OFFSET.to_bytes(8, "little")
    header[32:40] = (PE_START - MDA_OFFSET).to_bytes(8, "little")
    location = SECTOR.to_bytes(8, "little") + len(data).to_bytes(8, "little")
    location += lvm_crc(data).to_bytes(4, "little") + bytes(4)
    header[40 : 40 + len(location)] = location
    header[0:4] = lvm_crc(bytes(header[4:])).to_bytes(4, "little")
    if SECTOR + len(data) > PE_START - MDA_OFFSET:
        raise ValueError("metadata text larger than its area")
    return bytes(header) + data


def physical_volume(
    out: Path, volumes: list[LogicalVolume], *, vg: str = "vg0", spare_extents: int = 2
) -> Path:
    """A PV (a raw file) holding one VG with `volumes`, each LV's file system at its extents."""
    pv_uuid = lvm_uuid(f"pv:{vg}:{out.name}")
    extents = sum(lv.extents() for lv in volumes) + spare_extents
    size = PE_START + extents * EXTENT
    text = metadata_text(vg, pv_uuid, size // SECTOR, volumes)
    with out.open("wb") as fh:
        fh.truncate(size)
        fh.seek(LABEL_SECTOR * SECTOR)
        fh.write(label_sector(pv_uuid, size))
        fh.seek(MDA_OFFSET)
        fh.write(metadata_area(text))
        segments = allocate(volumes)
        for lv in volumes:
            data = lv.image.read_bytes()
            for seg in segments[lv.name]:
                chunk = data[seg.start_extent * EXTENT : (seg.start_extent + seg.count) * EXTENT]
                fh.seek(PE_START + seg.pe * EXTENT)
                fh.write(chunk)
    return out


def lvm_disk(out: Path, volumes: list[LogicalVolume], *, vg: str = "vg0") -> Path:
    """A raw disk with an MBR whose one partition (type 0x8e, Linux LVM) is the PV."""
    pv = physical_volume(out.with_name(out.name + ".pv"), volumes, vg=vg)
    disk_image(out, [Part(pv)], table="dos")
    subprocess.run(
        [tool("sfdisk"), "--part-type", str(out), "1", LVM_PARTITION_TYPE],
        check=True,
        capture_output=True,
        timeout=60,
    )
    pv.unlink()
    return out
