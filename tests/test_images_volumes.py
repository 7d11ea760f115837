"""Disk images whose systems lie in LVM logical volumes, LUKS and BitLocker volumes.

The images are real and built without root: LVM2 physical volumes written to their on-disk
format (tests/image_builder_lvm), LUKS headers written by `cryptsetup luksFormat` on a plain
file with the payload encrypted here as dm-crypt would, BitLocker volumes written from the
format libbde documents (tests/image_builder_crypt), and the file systems inside made by
`mkfs.ext4 -d` and `mkntfs` from the Linux and Windows test roots. Each system found must
scan exactly as `--root` scans the same tree.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from banscan.catalog.loader import load_catalog
from banscan.catalog.schema import Catalog
from banscan.cli import app
from banscan.images.detect import image_kind
from banscan.images.keys import credentials_from
from banscan.models import ScanResult
from banscan.scan import ScanOptions, run_scan
from image_builder import MIB, SECTOR, Part, convert, disk_image, ext4_image, fat_image, ntfs_image
from image_builder_crypt import (
    BitLockerKeys,
    bitlocker_volume,
    luks_volume,
    read_header,
    recovery_password_for,
    xts_encrypt,
)
from image_builder_lvm import LogicalVolume, lvm_crc, lvm_disk, physical_volume
from image_checks import findings
from linux_root import HOSTNAME, build_linux_root

runner = CliRunner()
AS_OF = dt.date(2025, 3, 3)
PASSPHRASE = "correct horse battery staple"


@dataclass
class Volumes:
    root: Path  # the Linux test root, as --root scans it
    root_ext: Path  # ext4 of root
    data_ext: Path  # ext4 of a folder of backups: no system
    lvm: Path  # MBR disk, p1 (type 8e) a PV: vg0/root, vg0/data
    pv: Path  # a bare PV (LVM on the whole disk): vg0/root, vg0/data
    extended: Path  # MBR disk whose vg0/root has two segments, vg0/data between them
    luks: Path  # LUKS1 volume of root_ext, filling the image
    fde: Path  # GPT: p1 EFI, p2 /boot, p3 LUKS1 → PV → ubuntu-vg/ubuntu-lv (root)


@pytest.fixture(scope="session")
def volumes(tmp_path_factory: pytest.TempPathFactory) -> Volumes:
    folder = tmp_path_factory.mktemp("volume-images")
    root = build_linux_root(folder / "linux-root")
    root_ext = ext4_image(root, folder / "root.ext4")
    backups = folder / "backups"
    (backups / "db").mkdir(parents=True)
    (backups / "db" / "orders-2025-03-01.sql").write_text("INSERT INTO orders VALUES (1, 'A-1001');\n")
    data_ext = ext4_image(backups, folder / "data.ext4", size_mib=4, label="data")
    both = [LogicalVolume("root", root_ext), LogicalVolume("data", data_ext)]
    lvm = lvm_disk(folder / "lvm.raw", both)
    pv = physical_volume(folder / "pv.raw", both)
    split = [LogicalVolume("root", root_ext, runs=(5, 3)), LogicalVolume("data", data_ext)]
    extended = lvm_disk(folder / "extended.raw", split)
    luks = luks_volume(root_ext, folder / "root.luks", PASSPHRASE)
    fde_pv = physical_volume(folder / "fde.pv", [LogicalVolume("ubuntu-lv", root_ext)], vg="ubuntu-vg")
    boot_tree = folder / "boot"
    boot_tree.mkdir()
    (boot_tree / "vmlinuz-6.1.0-13-amd64").write_bytes(b"\x7fELF placeholder kernel")
    boot = ext4_image(boot_tree, folder / "boot.ext4", size_mib=4, label="boot")
    efi = fat_image({"EFI/BOOT/BOOTX64.EFI": b"MZ placeholder"}, folder / "efi.fat")
    crypt = luks_volume(fde_pv, folder / "fde.luks", PASSPHRASE)
    fde = disk_image(folder / "fde.raw", [Part(efi, "efi"), Part(boot), Part(crypt)])
    return Volumes(root, root_ext, data_ext, lvm, pv, extended, luks, fde)


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog()


def options(**more: Any) -> ScanOptions:
    return ScanOptions(as_of=AS_OF, echo_errors=False, **more)


def targets(result: ScanResult) -> list[tuple[str, str]]:
    return [(t.target, t.format) for t in result.targets]


def scan_cli(*args: str) -> tuple[int, dict[str, Any], list[str]]:
    res = runner.invoke(app, ["scan", "--format", "json", "--as-of", "2025-03-03", *args])
    assert "Traceback" not in res.output + res.stderr
    errors = [line for line in res.stderr.splitlines() if line.startswith("banscan: error: ")]
    return res.exit_code, json.loads(res.stdout), errors


# ---- LVM -----------------------------------------------------------------------------------------


def test_lvm_builder_writes_what_libvslvm_reads(volumes: Volumes) -> None:
    """The hand-written PV is a volume group libvslvm (dfVFS's LVM back end) reads: names,
    sizes and each logical volume's bytes at its extents."""
    import pyvslvm  # type: ignore[import-not-found]

    handle = pyvslvm.handle()
    handle.open(str(volumes.pv))
    handle.open_physical_volume_files([str(volumes.pv)])
    try:
        group = handle.get_volume_group()
        assert (group.name, group.number_of_physical_volumes) == ("vg0", 1)
        read = {}
        for index in range(group.number_of_logical_volumes):
            lv = group.get_logical_volume(index)
            read[lv.name] = (lv.size, lv.read(lv.size))
    finally:
        handle.close()
    assert read == {
        "root": (8 * MIB, volumes.root_ext.read_bytes()),
        "data": (4 * MIB, volumes.data_ext.read_bytes()),
    }


# lvm2 lib/misc/crc.c, the portable variant: CRC-32 four bits at a time from 0xf597a6cf
LVM2_CRCTAB = (
    0x00000000, 0x1DB71064, 0x3B6E20C8, 0x26D930AC, 0x76DC4190, 0x6B6B51F4, 0x4DB26158, 0x5005713C,
    0xEDB88320, 0xF00F9344, 0xD6D6A3E8, 0xCB61B38C, 0x9B64C2B0, 0x86D3D2D4, 0xA00AE278, 0xBDBDF21C,
)  # fmt: skip


def lvm2_calc_crc(data: bytes) -> int:
    crc = 0xF597A6CF
    for byte in data:
        crc ^= byte
        crc = (crc >> 4) ^ LVM2_CRCTAB[crc & 0xF]
        crc = (crc >> 4) ^ LVM2_CRCTAB[crc & 0xF]
    return crc


def test_lvm_builder_checksums_are_lvm2s(volumes: Volumes) -> None:
    """libvslvm reads past a wrong checksum, `pvs` and `vgchange` would not: the label, the
    metadata area header and the metadata text carry lvm2's CRC of what they cover."""
    raw = volumes.pv.read_bytes()
    label = raw[SECTOR : 2 * SECTOR]
    assert label[:8] == b"LABELONE" and label[24:32] == b"LVM2 001"
    assert int.from_bytes(label[16:20], "little") == lvm2_calc_crc(label[20:])
    mda = raw[4096 : 4096 + SECTOR]
    assert mda[4:20] == b" LVM2 x[5A%r0N*>"
    assert int.from_bytes(mda[0:4], "little") == lvm2_calc_crc(mda[4:])
    offset, size, checksum = struct.unpack_from("<QQI", mda, 40)
    text = raw[4096 + offset : 4096 + offset + size]
    assert checksum == lvm2_calc_crc(text) == lvm_crc(text)
    assert text.startswith(b"vg0 {\nid = ") and text.endswith(b"\n\x00")


def test_lvm_root_scans_like_the_mounted_root(volumes: Volumes, catalog: Catalog) -> None:
    disk = volumes.lvm
    assert image_kind(disk) == "mbr"
    assert disk.read_bytes()[446 + 4] == 0x8E  # the partition is typed Linux LVM
    mounted = run_scan(catalog, options(), roots=[volumes.root])
    scanned = run_scan(catalog, options(), images=[disk])

    assert targets(scanned) == [
        (f"{disk}#lvm:vg0/root", "image:linux"),
        (f"{disk}#lvm:vg0/data", "image:data"),
    ]
    assert [t.errors for t in scanned.targets] == [[], []]
    assert scanned.targets[0].records == mounted.targets[0].records > 0
    assert scanned.targets[1].records == 0
    assert findings(scanned, re.escape(f"{disk.name}#lvm:vg0/root:")) == findings(mounted)
    assert {f.product for f in scanned.findings} >= {"kesl", "ksc-network-agent"}
    assert scanned.hosts == [HOSTNAME]


def test_lvm_on_the_whole_disk_is_read_without_a_partition_table(volumes: Volumes, catalog: Catalog) -> None:
    mounted = run_scan(catalog, options(), roots=[volumes.root])
    scanned = run_scan(catalog, options(), images=[volumes.pv])
    pv = volumes.pv
    assert targets(scanned) == [(f"{pv}#lvm:vg0/root", "image:linux"), (f"{pv}#lvm:vg0/data", "image:data")]
    assert findings(scanned, re.escape(f"{pv.name}#lvm:vg0/root:")) == findings(mounted)
    # ... and recognised by content on the command line, as any other image
    code, out, _ = scan_cli(str(pv))
    assert code == 1 and [t["format"] for t in out["targets"]] == ["image:linux", "image:data"]


def test_logical_volume_libvslvm_cannot_read_costs_only_itself(volumes: Volumes) -> None:
    """An LV extended after another was made lies in two segments, which libvslvm refuses;
    that LV is one error line, and the volume group's other LVs are still read."""
    disk = volumes.extended
    code, out, errors = scan_cli(str(disk))
    assert errors == [
        f"banscan: error: {disk}#p1/lvm1: volume at offset {MIB}: cannot be read: a logical volume of "
        "several segments, which libvslvm does not read"
    ]
    assert [(t["target"], t["format"], t["records"]) for t in out["targets"]] == [
        (f"{disk}#p1/lvm1", "image:damaged", 0),
        (f"{disk}#lvm:vg0/data", "image:data", 0),
    ]
    assert code == 2  # nothing banned on the data volume, but the other was not read: not "clean"


# ---- LUKS ----------------------------------------------------------------------------------------


def test_luks_builder_encrypts_as_dm_crypt_does(volumes: Volumes) -> None:
    """The payload is the ext4 image under aes-xts-plain64 from the header's data offset, and
    libluksde (dfVFS's LUKS back end) decrypts it back with the passphrase."""
    import pyluksde  # type: ignore[import-not-found]

    header = read_header(volumes.luks)
    assert (header.version, header.cipher, header.key_bytes, header.sector_size) == (
        1,
        "aes-xts-plain64",
        64,
        512,
    )
    assert volumes.luks.stat().st_size == header.payload_offset + volumes.root_ext.stat().st_size
    volume = pyluksde.volume()
    volume.open(str(volumes.luks))
    try:
        assert volume.is_locked()
        volume.set_password(PASSPHRASE)
        assert volume.unlock()
        assert volume.read(volume.get_size()) == volumes.root_ext.read_bytes()
    finally:
        volume.close()
    # the tweak is the sector's number: the same plaintext in two sectors encrypts differently
    key = bytes(range(64))
    twice = xts_encrypt(key, bytes(2 * SECTOR))
    assert twice[:SECTOR] != twice[SECTOR:]


def test_luks_volume_without_a_key_is_locked(volumes: Volumes) -> None:
    code, out, errors = scan_cli(str(volumes.luks))
    line = f"{volumes.luks}: LUKS-encrypted image is locked; give its key (--key, --recovery-password) to scan it"
    assert errors == [f"banscan: error: {line}"]
    assert [(t["target"], t["format"], t["errors"]) for t in out["targets"]] == [
        (str(volumes.luks), "image:locked", [line])
    ]
    assert out["findings"] == []
    assert code == 2  # nothing could be read


def test_luks_volume_with_the_wrong_key_says_no_key_opened_it(volumes: Volumes) -> None:
    code, out, errors = scan_cli("--key", "Tr0ub4dor&3", "--recovery-password", "1" * 48, str(volumes.luks))
    assert errors == [
        f"banscan: error: {volumes.luks}: LUKS-encrypted image is locked; none of the keys given opens it"
    ]
    assert [(t["target"], t["format"]) for t in out["targets"]] == [(str(volumes.luks), "image:locked")]
    assert code == 2


def test_luks_volume_opened_with_its_passphrase_scans_like_the_mounted_root(
    volumes: Volumes, catalog: Catalog
) -> None:
    mounted = run_scan(catalog, options(), roots=[volumes.root])
    code, out, errors = scan_cli("--key", "wrong first", "--key", PASSPHRASE, str(volumes.luks))
    assert errors == []
    assert code == 1
    assert [(t["target"], t["format"], t["records"]) for t in out["targets"]] == [
        (str(volumes.luks), "image:linux", mounted.targets[0].records)
    ]
    scanned = run_scan(
        catalog, options(image_credentials=credentials_from([PASSPHRASE], [])), images=[volumes.luks]
    )
    assert findings(scanned, re.escape(f"{volumes.luks.name}:")) == findings(mounted)
    assert scanned.hosts == [HOSTNAME]
    # the key opened the volume for that scan only: dfVFS's key chain outlives it
    again = run_scan(catalog, options(), images=[volumes.luks])
    assert targets(again) == [(str(volumes.luks), "image:locked")]


def test_luks_key_is_derived_a_few_times_per_scan_not_at_every_look(
    volumes: Volumes, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each opening of a LUKS volume with a passphrase runs its key derivation (cryptsetup
    tunes it to take seconds); the unlocked volume stays open for the scan instead of being
    opened again by every reader."""
    from dfvfs.lib import luksde_helper  # type: ignore[import-untyped]

    derivations: list[str] = []
    original = luksde_helper.LUKSDEOpenVolume

    def counted(volume: Any, path_spec: Any, file_object: Any, key_chain: Any) -> None:
        if key_chain.GetCredential(path_spec, "password"):
            derivations.append(path_spec.type_indicator)
        original(volume, path_spec, file_object, key_chain)

    monkeypatch.setattr(luksde_helper, "LUKSDEOpenVolume", counted)
    scanned = run_scan(
        catalog, options(image_credentials=credentials_from([PASSPHRASE], [])), images=[volumes.fde]
    )
    assert targets(scanned)[-1] == (f"{volumes.fde}#lvm:ubuntu-vg/ubuntu-lv", "image:linux")
    assert 1 <= len(derivations) <= 3  # the unlocking, then the volume and its file system kept open


def test_luks_key_file_opens_the_volume(volumes: Volumes, tmp_path: Path) -> None:
    """A key file as `cryptsetup --key-file` and crypttab use it: its bytes are the passphrase."""
    key_file = tmp_path / "root.key"
    key_file.write_text(PASSPHRASE, encoding="utf-8")
    code, out, errors = scan_cli("--key", str(key_file), str(volumes.luks))
    assert (code, errors) == (1, [])
    assert [t["format"] for t in out["targets"]] == ["image:linux"]
    with_newline = tmp_path / "echoed.key"
    with_newline.write_text(PASSPHRASE + "\n", encoding="utf-8")  # `echo pass > file`: another passphrase
    _, out, errors = scan_cli("--key", str(with_newline), str(volumes.luks))
    assert [t["format"] for t in out["targets"]] == ["image:locked"]


def test_full_disk_encryption_locked_leaves_the_other_partitions_readable(volumes: Volumes) -> None:
    """Ubuntu's encrypted install: EFI and /boot in clear, the rest LUKS with LVM inside."""
    disk = volumes.fde
    p3 = (2048 + 8192 + 8192) * SECTOR  # after 4 MiB of EFI and 4 MiB of /boot
    code, out, errors = scan_cli(str(disk))
    assert errors == [
        f"banscan: error: {disk}#p3: LUKS-encrypted volume at offset {p3} is locked; give its key "
        "(--key, --recovery-password) to scan it"
    ]
    assert code == 2  # the clear partitions hold nothing banned, but the system was not read
    assert [(t["target"], t["format"]) for t in out["targets"]] == [
        (f"{disk}#p1", "image:data"),
        (f"{disk}#p2", "image:data"),
        (f"{disk}#p3", "image:locked"),
    ]


def test_full_disk_encryption_opened_reads_lvm_inside_luks(volumes: Volumes, catalog: Catalog) -> None:
    disk = volumes.fde
    mounted = run_scan(catalog, options(), roots=[volumes.root])
    scanned = run_scan(catalog, options(image_credentials=credentials_from([PASSPHRASE], [])), images=[disk])
    assert targets(scanned) == [
        (f"{disk}#p1", "image:data"),
        (f"{disk}#p2", "image:data"),
        (f"{disk}#lvm:ubuntu-vg/ubuntu-lv", "image:linux"),
    ]
    assert all(t.errors == [] for t in scanned.targets)
    assert scanned.targets[2].records == mounted.targets[0].records
    assert findings(scanned, re.escape(f"{disk.name}#lvm:ubuntu-vg/ubuntu-lv:")) == findings(mounted)


def test_luks2_volume_is_one_line_saying_it_is_not_read(volumes: Volumes, tmp_path: Path) -> None:
    """LUKS2 (cryptsetup's default since 2.1) is beyond libluksde: said so, not a back-end riddle."""
    luks2 = luks_volume(volumes.root_ext, tmp_path / "root.luks2", PASSPHRASE, version=2)
    assert read_header(luks2).version == 2
    assert image_kind(luks2) == "luks"
    code, out, errors = scan_cli("--key", PASSPHRASE, str(luks2))
    assert errors == [
        f"banscan: error: {luks2}: image: cannot be read: LUKS2 encryption, which libluksde does not read (LUKS1 only)"
    ]
    assert [(t["target"], t["format"]) for t in out["targets"]] == [(str(luks2), "image:damaged")]
    assert code == 2


def test_text_key_files_are_offered_as_passphrases(tmp_path: Path) -> None:
    text = tmp_path / "root.key"
    text.write_text("s3cret passphrase\n", encoding="utf-8")
    binary = tmp_path / "random.key"
    binary.write_bytes(bytes((i * 7919 + 13) % 256 for i in range(4096)))  # dd if=/dev/urandom bs=4096
    big = tmp_path / "notes.txt"
    big.write_text("x" * 9000, encoding="utf-8")
    assert credentials_from([str(text), str(binary), str(big)], []) == [
        ("password", str(text)),
        ("startup_key", str(text)),
        ("password", "s3cret passphrase\n"),
        ("password", str(binary)),
        ("startup_key", str(binary)),
        ("password", str(big)),
        ("startup_key", str(big)),
    ]


# ---- BitLocker -----------------------------------------------------------------------------------


@dataclass
class BitLocker:
    keys: BitLockerKeys
    ntfs: Path  # a data drive's NTFS: documents, no system
    data: Path  # BitLocker (XTS-AES 128) of ntfs, filling the image


@pytest.fixture(scope="session")
def bitlocker(tmp_path_factory: pytest.TempPathFactory) -> BitLocker:
    folder = tmp_path_factory.mktemp("bitlocker")
    documents = folder / "documents"
    (documents / "Finance").mkdir(parents=True)
    (documents / "Finance" / "Q1-2025.csv").write_text("month,revenue\n2025-01,120000\n", encoding="utf-8")
    ntfs = ntfs_image(documents, folder / "data.ntfs", size_mib=8, label="Data")
    keys = BitLockerKeys("Tr0ub4dor&3", recovery_password_for("data drive"))
    data = bitlocker_volume(ntfs, folder / "data.bde", keys, description="KL-WKS-042 D: 01.03.2025")
    return BitLocker(keys, ntfs, data)


def test_bitlocker_builder_writes_what_libbde_reads(bitlocker: BitLocker) -> None:
    """libbde (dfVFS's BitLocker back end) opens the volume with its password and reads the
    file system back (each unlock stretches a key a million times: one is enough here, the
    recovery password and wrong keys are tried through the scans below)."""
    import pybde  # type: ignore[import-not-found]

    assert image_kind(bitlocker.data) == "bitlocker"
    volume = pybde.volume()
    volume.set_password(bitlocker.keys.password)
    volume.open(str(bitlocker.data))
    try:
        assert not volume.is_locked()
        assert volume.get_encryption_method() == 0x8004  # XTS-AES 128
        assert volume.read(volume.get_size()) == bitlocker.ntfs.read_bytes()
    finally:
        volume.close()


def test_bitlocker_volume_without_a_key_is_locked(bitlocker: BitLocker) -> None:
    code, out, errors = scan_cli(str(bitlocker.data))
    assert errors == [
        f"banscan: error: {bitlocker.data}: BitLocker-encrypted image is locked; give its key (--key, "
        "--recovery-password) to scan it"
    ]
    assert [(t["target"], t["format"]) for t in out["targets"]] == [(str(bitlocker.data), "image:locked")]
    assert code == 2


def test_bitlocker_volume_with_wrong_keys_says_none_opened_it(bitlocker: BitLocker) -> None:
    wrong_recovery = recovery_password_for("another drive")
    code, out, errors = scan_cli(
        "--key", "Tr0ub4dor&4", "--recovery-password", wrong_recovery, str(bitlocker.data)
    )
    assert errors == [
        f"banscan: error: {bitlocker.data}: BitLocker-encrypted image is locked; none of the keys given opens it"
    ]
    assert [t["format"] for t in out["targets"]] == ["image:locked"]
    assert code == 2


@pytest.mark.parametrize("option", ["--key", "--recovery-password"])
def test_bitlocker_data_volume_opened_is_reported_as_data(bitlocker: BitLocker, option: str) -> None:
    secret = bitlocker.keys.password if option == "--key" else bitlocker.keys.recovery_password
    code, out, errors = scan_cli(option, secret, str(bitlocker.data))
    assert errors == []
    assert [(t["target"], t["format"], t["records"]) for t in out["targets"]] == [
        (str(bitlocker.data), "image:data", 0)
    ]
    assert out["findings"] == []
    assert code == 0


@pytest.mark.needs_shared
@pytest.mark.needs_hivex
def test_bitlocker_windows_volume_scans_like_the_mounted_root(
    tmp_path: Path, shared_fixtures: Path, catalog: Catalog
) -> None:
    """A Windows laptop's disk as a Hyper-V VHDX: GPT, the EFI partition in clear and the
    system volume BitLocker-encrypted."""
    from windows_root import COMPUTER_NAME, build_windows_root

    root = build_windows_root(tmp_path / "windows-root", shared_fixtures)
    keys = BitLockerKeys("correct horse battery staple", recovery_password_for("laptop"))
    system = bitlocker_volume(ntfs_image(root, tmp_path / "windows.ntfs"), tmp_path / "windows.bde", keys)
    efi = fat_image({"EFI/Microsoft/Boot/bootmgfw.efi": b"MZ placeholder"}, tmp_path / "efi.fat")
    raw = disk_image(tmp_path / "laptop.raw", [Part(efi, "efi"), Part(system, "windows")])
    disk = convert(raw, "vhdx", tmp_path / "laptop.vhdx")
    p2 = (2048 + 8192) * SECTOR

    locked = run_scan(catalog, options(), images=[disk])
    assert targets(locked) == [(f"{disk}#p1", "image:data"), (f"{disk}#p2", "image:locked")]
    assert locked.targets[1].errors == [
        f"{disk}#p2: BitLocker-encrypted volume at offset {p2} is locked; give its key (--key, "
        "--recovery-password) to scan it"
    ]
    mounted = run_scan(catalog, options(), roots=[root])
    credentials = credentials_from([], [keys.recovery_password])
    scanned = run_scan(catalog, options(image_credentials=credentials), images=[disk])
    assert targets(scanned) == [(f"{disk}#p1", "image:data"), (f"{disk}#p2", "image:windows")]
    assert [t.errors for t in scanned.targets] == [[], []]
    assert scanned.targets[1].records == mounted.targets[0].records > 0
    assert findings(scanned, re.escape(f"{disk.name}#p2:")) == findings(mounted)
    assert scanned.hosts == mounted.hosts == [COMPUTER_NAME]
