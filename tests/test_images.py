"""`banscan scan IMAGE`: disk images scanned without mounting, each volume exactly as `--root`
would scan the same tree.

The images are real: ext4 filled by `mkfs.ext4 -d` from the Linux test root, NTFS holding the
Windows test root's registry hives, FAT made with mtools, MBR and GPT tables written by
sfdisk, and QCOW2, VMDK, VHDX and VHD containers from `qemu-img convert` (tests/image_builder).
They are built once per session and kept to a few MB.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import struct
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from banscan.catalog.loader import load_catalog
from banscan.catalog.schema import Catalog
from banscan.cli import app
from banscan.collect.reads import PathSelector
from banscan.images.copyout import Copier, CopyLimits
from banscan.images.detect import image_kind
from banscan.images.keys import credentials_from
from banscan.images.progress import ImageProgress, progress_text
from banscan.models import ScanResult
from banscan.scan import ScanOptions, run_scan
from image_builder import Part, convert, disk_image, ewf_image, ext4_image, fat_image, ntfs_image
from image_checks import findings
from linux_root import HOSTNAME, build_linux_root

runner = CliRunner()
AS_OF = dt.date(2025, 3, 3)
EFI_FILES = {
    "EFI/BOOT/BOOTX64.EFI": b"MZ\x90\x00 placeholder boot loader",
    "EFI/ubuntu/grub.cfg": b"set root=hd0,2\n",
}


# ---- images, built once per session ----------------------------------------------------------


@dataclass
class Images:
    folder: Path
    linux_root: Path
    clean_root: Path
    ext: Path  # a bare ext4 file system of linux_root
    mbr: Path  # a raw disk: MBR, p1 = ext
    gpt: Path  # a raw disk: GPT, p1 = FAT (EFI), p2 = ext
    clean_qcow2: Path  # MBR disk of clean_root, in QCOW2
    containers: dict[str, Path] = field(default_factory=dict)  # of `mbr`, by qemu-img format


@pytest.fixture(scope="session")
def images(tmp_path_factory: pytest.TempPathFactory) -> Images:
    folder = tmp_path_factory.mktemp("images")
    root = build_linux_root(folder / "linux-root")
    clean = build_linux_root(folder / "clean-root", kaspersky=False)
    ext = ext4_image(root, folder / "linux-ext4.img")
    fat = fat_image(EFI_FILES, folder / "efi.fat")
    mbr = disk_image(folder / "linux-mbr.raw", [Part(ext)], table="dos")
    gpt = disk_image(folder / "linux-gpt.raw", [Part(fat, "efi"), Part(ext)])
    clean_raw = disk_image(
        folder / "clean.raw", [Part(ext4_image(clean, folder / "clean-ext4.img"))], table="dos"
    )
    built = Images(folder, root, clean, ext, mbr, gpt, convert(clean_raw, "qcow2", folder / "clean.qcow2"))
    for fmt, name in (
        ("qcow2", "disk.qcow2"),
        ("vmdk", "disk.vmdk"),
        ("vhdx", "disk.vhdx"),
        ("vpc", "disk.vhd"),
    ):
        built.containers[fmt] = convert(mbr, fmt, folder / name)
    return built


@pytest.fixture(scope="session")
def e01(images: Images) -> Path:
    return ewf_image(images.mbr, images.folder / "evidence.E01")


@dataclass
class WindowsImages:
    root: Path
    ntfs: Path  # a bare NTFS file system of root
    dual: Path  # VHDX of a GPT disk: p1 FAT (EFI), p2 ext (Linux), p3 NTFS (Windows)


@pytest.fixture(scope="session")
def windows_images(
    images: Images, tmp_path_factory: pytest.TempPathFactory, shared_fixtures: Path
) -> WindowsImages:
    from windows_root import build_windows_root

    folder = tmp_path_factory.mktemp("windows-images")
    root = build_windows_root(folder / "windows-root", shared_fixtures)
    ntfs = ntfs_image(root, folder / "windows.ntfs")
    fat = fat_image(EFI_FILES, folder / "efi.fat")
    raw = disk_image(folder / "dual.raw", [Part(fat, "efi"), Part(images.ext), Part(ntfs, "windows")])
    dual = convert(raw, "vhdx", folder / "dual.vhdx")
    raw.unlink()
    return WindowsImages(root, ntfs, dual)


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog()


def options(**more: Any) -> ScanOptions:
    return ScanOptions(as_of=AS_OF, echo_errors=False, **more)


def targets(result: ScanResult) -> list[tuple[str, str]]:
    return [(t.target, t.format) for t in result.targets]


# ---- what a file is -----------------------------------------------------------------------------


def test_image_kind_by_content(images: Images, tmp_path: Path) -> None:
    assert image_kind(images.ext) == "ext"
    assert image_kind(images.mbr) == "mbr"
    assert image_kind(images.gpt) == "gpt"
    assert image_kind(images.folder / "efi.fat") == "fat"
    # names mean nothing: a snapshot export called .bin is a disk, an inventory called .img is not
    renamed = tmp_path / "snapshot-0a1b2c.bin"
    shutil.copy(images.mbr, renamed)
    assert image_kind(renamed) == "mbr"
    inventory = tmp_path / "hosts.img"
    inventory.write_text("host,name,version\nWS-1,Kaspersky Endpoint Security,12.5\n", encoding="utf-8")
    assert image_kind(inventory) is None
    (tmp_path / "empty.vmdk").write_bytes(b"")
    assert image_kind(tmp_path / "empty.vmdk") is None
    noise = bytes((i * 7919) % 251 for i in range(1 << 16))
    (tmp_path / "noise.dd").write_bytes(noise)
    assert image_kind(tmp_path / "noise.dd") is None


def test_image_kind_of_a_100_gb_sparse_file_reads_only_its_ends(tmp_path: Path) -> None:
    big = tmp_path / "snapshot.raw"
    with big.open("wb") as fh:
        fh.truncate(100 * 1024**3)
    assert image_kind(big) is None
    footer = b"conectix" + bytes(504)
    with big.open("r+b") as fh:
        fh.seek(100 * 1024**3 - 512)
        fh.write(footer)  # a fixed VHD: its footer is its last sector
    assert image_kind(big) == "vhd"


# ---- a Linux system, in every container ---------------------------------------------------------


KINDS = {
    "ext": "ext",
    "mbr": "mbr",
    "qcow2": "qcow",
    "vmdk": "vmdk",
    "vhdx": "vhdx",
    "vpc": "vhd",
    "e01": "ewf",
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_linux_image_scans_like_the_mounted_root(
    images: Images, catalog: Catalog, kind: str, request: pytest.FixtureRequest
) -> None:
    if kind == "e01":
        image: Path = request.getfixturevalue("e01")
    else:
        image = {"ext": images.ext, "mbr": images.mbr}.get(kind) or images.containers[kind]
    assert image_kind(image) == KINDS[kind]
    volume = "" if kind == "ext" else "#p1"
    mounted = run_scan(catalog, options(), roots=[images.linux_root])
    scanned = run_scan(catalog, options(), images=[image])

    assert targets(scanned) == [(f"{image}{volume}", "image:linux")]
    assert scanned.targets[0].errors == []
    assert scanned.targets[0].records == mounted.targets[0].records > 0
    prefix = re.escape(f"{image.name}{volume}:")
    assert findings(scanned, prefix) == findings(mounted)
    assert {f.product for f in scanned.findings} >= {"kesl", "ksc-network-agent", "ksc-linux"}
    assert scanned.hosts == [HOSTNAME]
    kesl = next(f for f in scanned.findings if f.product == "kesl")
    assert any(e.location.startswith(f"{image.name}{volume}:/var/lib/dpkg/status:") for e in kesl.evidence)


def test_gpt_disk_reports_the_efi_partition_as_a_data_volume(images: Images, catalog: Catalog) -> None:
    mounted = run_scan(catalog, options(), roots=[images.linux_root])
    scanned = run_scan(catalog, options(), images=[images.gpt])
    assert targets(scanned) == [(f"{images.gpt}#p1", "image:data"), (f"{images.gpt}#p2", "image:linux")]
    assert all(t.errors == [] for t in scanned.targets)
    assert scanned.targets[0].records == 0
    assert findings(scanned, re.escape(f"{images.gpt.name}#p2:")) == findings(mounted)


def test_clean_image_exits_zero_and_leaves_no_folder(images: Images, private_tmp: Path) -> None:
    res = runner.invoke(app, ["scan", "--format", "json", "--as-of", "2025-03-03", str(images.clean_qcow2)])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["findings"] == []
    assert [(t["target"], t["format"], t["errors"]) for t in out["targets"]] == [
        (f"{images.clean_qcow2}#p1", "image:linux", [])
    ]
    assert out["hosts"] == [HOSTNAME]
    assert list(private_tmp.iterdir()) == []


def test_cli_takes_an_image_by_content_or_by_option(
    images: Images, tmp_path: Path, private_tmp: Path
) -> None:
    snapshot = tmp_path / "snap-0f3a.bin"  # a cloud snapshot exported raw, under any name
    shutil.copy(images.mbr, snapshot)
    for args in ([str(snapshot)], ["--image", str(snapshot)]):
        res = runner.invoke(app, ["scan", "--format", "json", "--as-of", "2025-03-03", *args])
        assert res.exit_code == 1, res.output
        out = json.loads(res.stdout)
        assert [(t["target"], t["format"]) for t in out["targets"]] == [(f"{snapshot}#p1", "image:linux")]
        locations = [e["location"] for f in out["findings"] for e in f["evidence"]]
        assert locations and all(loc.startswith("snap-0f3a.bin#p1:/") for loc in locations)
        assert "banscan-image-" not in res.stdout + res.stderr
        assert list(private_tmp.iterdir()) == []


def test_image_was_not_written(images: Images, catalog: Catalog) -> None:
    before = images.containers["vhdx"].read_bytes()
    stamp = images.containers["vhdx"].stat().st_mtime_ns
    run_scan(catalog, options(), images=[images.containers["vhdx"]])
    assert images.containers["vhdx"].read_bytes() == before
    assert images.containers["vhdx"].stat().st_mtime_ns == stamp


def test_system_without_a_name_is_named_after_image_and_volume(
    images: Images, catalog: Catalog, tmp_path: Path
) -> None:
    root = tmp_path / "nameless"
    shutil.copytree(images.linux_root, root, symlinks=True)
    (root / "etc" / "hostname").unlink()
    ext = ext4_image(root, tmp_path / "nameless.ext4")
    disk = disk_image(tmp_path / "vm-4711.raw", [Part(ext)], table="dos")
    scanned = run_scan(catalog, options(), images=[ext, disk])
    assert scanned.hosts == ["nameless.ext4", "vm-4711.raw#p1"]
    assert {f.host for f in scanned.findings} == {"nameless.ext4", "vm-4711.raw#p1"}
    named = run_scan(catalog, options(host="build-07"), images=[disk])
    assert named.hosts == ["build-07"]


# ---- Windows on NTFS, and several systems on one disk -------------------------------------------


@pytest.mark.needs_shared
@pytest.mark.needs_hivex
def test_ntfs_image_scans_like_the_mounted_root(windows_images: WindowsImages, catalog: Catalog) -> None:
    mounted = run_scan(catalog, options(), roots=[windows_images.root])
    scanned = run_scan(catalog, options(), images=[windows_images.ntfs])
    assert targets(scanned) == [(str(windows_images.ntfs), "image:windows")]
    assert scanned.targets[0].errors == []
    assert scanned.targets[0].records == mounted.targets[0].records > 0
    assert findings(scanned, re.escape("windows.ntfs:")) == findings(mounted)
    assert scanned.hosts == mounted.hosts == ["KL-WKS-042"]  # from the SYSTEM hive


@pytest.mark.needs_shared
@pytest.mark.needs_hivex
def test_one_disk_with_efi_linux_and_windows_volumes(
    images: Images, windows_images: WindowsImages, catalog: Catalog
) -> None:
    dual = windows_images.dual
    mounted = run_scan(catalog, options(), roots=[images.linux_root, windows_images.root])
    scanned = run_scan(catalog, options(), images=[dual])
    assert targets(scanned) == [
        (f"{dual}#p1", "image:data"),
        (f"{dual}#p2", "image:linux"),
        (f"{dual}#p3", "image:windows"),
    ]
    assert all(t.errors == [] for t in scanned.targets)
    assert [t.records for t in scanned.targets[1:]] == [t.records for t in mounted.targets]
    assert findings(scanned, re.escape(f"{dual.name}#p") + "[23]:") == findings(mounted)
    assert sorted(scanned.hosts) == sorted(mounted.hosts) == sorted([HOSTNAME, "KL-WKS-042"])
    windows_locations = {
        e.location.split(":", 1)[0] for f in scanned.findings if f.host == "KL-WKS-042" for e in f.evidence
    }
    assert windows_locations == {f"{dual.name}#p3"}


# ---- hostile and damaged images ----------------------------------------------------------------


def scan_cli(*args: str) -> tuple[int, dict[str, Any], list[str]]:
    res = runner.invoke(app, ["scan", "--format", "json", "--as-of", "2025-03-03", *args])
    assert "Traceback" not in res.output + res.stderr
    errors = [line for line in res.stderr.splitlines() if line.startswith("banscan: error: ")]
    return res.exit_code, json.loads(res.stdout), errors


def test_truncated_image_is_one_error_line(images: Images, tmp_path: Path) -> None:
    cut = tmp_path / "cut.qcow2"
    data = images.containers["qcow2"].read_bytes()
    cut.write_bytes(data[: len(data) // 3])
    code, out, errors = scan_cli(str(cut))
    assert code == 2
    assert len(errors) == 1 and errors[0].startswith(f"banscan: error: {cut}")
    assert [t["errors"] for t in out["targets"]] == [[errors[0].removeprefix("banscan: error: ")]]


def test_zero_length_image_is_one_error_line(tmp_path: Path) -> None:
    empty = tmp_path / "empty.vhdx"
    empty.write_bytes(b"")
    code, out, errors = scan_cli("--image", str(empty))
    assert code == 2
    assert errors == [
        f"banscan: error: {empty}: cannot be read as a disk image: no partition table, volume or file system recognised"
    ]
    assert [(t["target"], t["format"]) for t in out["targets"]] == [(str(empty), "image")]


def test_100_gb_sparse_file_is_one_error_line(tmp_path: Path) -> None:
    big = tmp_path / "export.raw"
    with big.open("wb") as fh:
        fh.truncate(100 * 1024**3)
    code, _, errors = scan_cli("--image", str(big))
    assert code == 2
    assert len(errors) == 1 and errors[0].startswith(f"banscan: error: {big}: cannot be read as a disk image")


def test_100_gb_sparse_disk_reads_its_system_and_its_empty_partition(images: Images, tmp_path: Path) -> None:
    ext_sectors = images.ext.stat().st_size // 512
    far = 60 * 1024**3 // 512  # an unformatted partition 60 GB in: nothing to read there
    disk = disk_image(
        tmp_path / "big.raw",
        [Part(images.ext), Part(None, start=far, sectors=20 * 1024**3 // 512)],
        table="dos",
        size_mib=100 * 1024,
    )
    assert ext_sectors > 0
    code, out, errors = scan_cli(str(disk))
    assert code == 1
    assert errors == []
    assert [(t["target"], t["format"]) for t in out["targets"]] == [
        (f"{disk}#p1", "image:linux"),
        (f"{disk}#p2", "image:no-file-system"),
    ]


def test_partition_past_the_end_costs_only_that_partition(images: Images, tmp_path: Path) -> None:
    disk = tmp_path / "short.raw"
    shutil.copy(images.mbr, disk)
    size = disk.stat().st_size
    start = size // 512 + 2048
    with disk.open("r+b") as fh:  # a second entry, past the end (as a snapshot exported short)
        fh.seek(446 + 16)
        fh.write(struct.pack("<B3sB3sII", 0, bytes(3), 0x83, bytes(3), start, 4_000_000))
    code, out, errors = scan_cli(str(disk))
    assert code == 1
    assert errors == [
        f"banscan: error: {disk}#p2: volume at offset {start * 512}: the partition starts past the end "
        f"of the image ({size} bytes)"
    ]
    assert [(t["target"], t["format"]) for t in out["targets"]] == [
        (f"{disk}#p1", "image:linux"),
        (f"{disk}#p2", "image:damaged"),
    ]
    assert {f["product"] for f in out["findings"]} >= {"kesl"}


def test_damaged_file_system_is_named_with_its_offset(images: Images, tmp_path: Path) -> None:
    disk = disk_image(tmp_path / "two.raw", [Part(images.ext), Part(images.ext)], table="dos")
    first = 2048 * 512
    noise = bytes((i * 7919 + 13) % 256 for i in range(64 * 512))
    with disk.open("r+b") as fh:  # the block group descriptors, after the superblock (1 KiB blocks)
        fh.seek(first + 2048)
        fh.write(noise)
    code, out, errors = scan_cli(str(disk))
    assert code == 1
    assert errors == [
        f"banscan: error: {disk}#p1: volume at offset {first}: damaged ext file system: it does not open"
    ]
    assert [(t["target"], t["format"]) for t in out["targets"]] == [
        (f"{disk}#p1", "image:damaged"),
        (f"{disk}#p2", "image:linux"),
    ]


def test_directory_cycle_in_the_file_system_is_bounded(images: Images, tmp_path: Path) -> None:
    """A directory hard-linked into its own subtree (debugfs writes it into the unmounted file
    system: a real cycle, which no mounted kernel would allow): the scan ends, finds what the
    tree holds, and the deep walk visits each directory once."""
    debugfs = shutil.which("debugfs") or "/sbin/debugfs"
    if not Path(debugfs).exists():
        pytest.skip("debugfs (e2fsprogs) is not installed")
    looped = tmp_path / "looped.img"
    shutil.copyfile(images.ext, looped)
    for command in ("mkdir /opt/loop", "mkdir /opt/loop/inner", "link /opt/loop /opt/loop/inner/back"):
        done = subprocess.run(
            [debugfs, "-w", "-R", command, str(looped)], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
    listing = subprocess.run(
        [debugfs, "-R", "ls -l /opt/loop/inner", str(looped)], capture_output=True, text=True, timeout=60
    )
    assert "back" in listing.stdout, listing.stdout + listing.stderr
    code, out, errors = scan_cli(str(looped))
    assert code == 1, errors
    assert [t["format"] for t in out["targets"]] == ["image:linux"]
    mounted = scan_cli("--root", str(images.linux_root))[1]
    assert {f["product"] for f in out["findings"]} == {f["product"] for f in mounted["findings"]}
    code, out, errors = scan_cli("--deep", str(looped))
    assert code == 1
    assert not [e for e in errors if "Traceback" in e]
    assert {f["product"] for f in out["findings"]} >= {f["product"] for f in mounted["findings"]}


# ---- copying out: hostile names, links, loops, sizes -------------------------------------------


class FakeSpec:
    def __init__(self, inode: int) -> None:
        self.inode = inode


class FakeStream:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def read(self, size: int = -1) -> bytes:
        end = len(self.data) if size < 0 else self.pos + size
        chunk = self.data[self.pos : end]
        self.pos += len(chunk)
        return chunk


class FakeEntry:
    """A dfvfs file entry as a hostile file system could present it."""

    _inodes = iter(range(100, 1_000_000))

    def __init__(
        self,
        name: str,
        *,
        children: list[FakeEntry] | None = None,
        data: bytes | None = None,
        link: str | None = None,
        size: int | None = None,
        inode: int | None = None,
    ) -> None:
        self.name = name
        self.children = children
        self.data = data
        self.link = link
        self.size = size if size is not None else len(data or b"")
        self.path_spec = FakeSpec(inode if inode is not None else next(self._inodes))

    @property
    def sub_file_entries(self) -> Iterator[FakeEntry]:
        return iter(self.children or [])

    def IsDirectory(self) -> bool:
        return self.children is not None

    def IsLink(self) -> bool:
        return self.link is not None

    def IsFile(self) -> bool:
        return self.data is not None

    def GetFileObject(self) -> FakeStream:
        return FakeStream(self.data or b"")


class FakeFileSystem:
    def __init__(self, root: FakeEntry) -> None:
        self.root = root

    def GetRootFileEntry(self) -> FakeEntry:
        return self.root


def copy_tree(root: FakeEntry, dest: Path, patterns: list[str], **limits: int) -> tuple[Copier, list[str]]:
    lines: list[str] = []
    copier = Copier(
        FakeFileSystem(root),
        dest,
        lambda rel, message: lines.append(f"{rel}: {message}"),
        CopyLimits(**{"max_file_bytes": 1 << 20, **limits}),
    )
    copier.copy(PathSelector(patterns, fold_case=False))
    return copier, lines


def test_hostile_names_are_refused_and_nothing_lands_outside(tmp_path: Path) -> None:
    dest = tmp_path / "root"
    dest.mkdir()
    etc = FakeEntry(
        "etc",
        children=[
            FakeEntry("..", data=b"escape"),
            FakeEntry("../../evil", data=b"escape"),
            FakeEntry("host\x00name", data=b"nul"),
            FakeEntry("hostname", data=b"srv-app-01\n"),
        ],
    )
    copier, lines = copy_tree(FakeEntry("", children=[etc], inode=2), dest, ["etc", "etc/*"])
    copier.copy(PathSelector(["etc", "etc/*", "etc/**"], fold_case=False))  # a second pass says nothing new
    assert lines == [
        "/etc: unsafe file name '..' refused",
        "/etc: unsafe file name '../../evil' refused",
        "/etc: unsafe file name 'host\\x00name' refused",
    ]
    assert (dest / "etc" / "hostname").read_bytes() == b"srv-app-01\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["root"]
    assert sorted(p.name for p in (dest / "etc").iterdir()) == ["hostname"]


def test_links_are_recreated_not_followed_and_never_written_through(tmp_path: Path) -> None:
    dest = tmp_path / "root"
    dest.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    root = FakeEntry(
        "",
        inode=2,
        children=[
            FakeEntry("lib", link=str(outside)),  # a link first, then a directory of the same name
            FakeEntry("lib", children=[FakeEntry("evil", data=b"through the link")]),
            FakeEntry("etc", children=[FakeEntry("localtime", link="/usr/share/zoneinfo/UTC")]),
        ],
    )
    _, lines = copy_tree(root, dest, ["lib", "lib/*", "etc", "etc/localtime"])
    assert os.readlink(dest / "lib") == str(outside)
    assert os.readlink(dest / "etc" / "localtime") == "/usr/share/zoneinfo/UTC"
    assert list(outside.iterdir()) == []
    assert lines == ["/lib: name appears twice in its directory; the second was skipped"]


def test_loops_depth_and_entry_counts_are_bounded(tmp_path: Path) -> None:
    loop = FakeEntry("loop", children=[], inode=50)
    loop.children = [FakeEntry("again", children=[loop], inode=50)]  # a directory that holds itself
    deep = FakeEntry("d", children=[])
    tip = deep
    for _ in range(30):
        nxt = FakeEntry("d", children=[])
        assert tip.children is not None
        tip.children.append(nxt)
        tip = nxt
    root = FakeEntry("", inode=2, children=[loop, deep])
    dest = tmp_path / "root"
    dest.mkdir()
    _, lines = copy_tree(root, dest, ["**"], max_depth=10)
    assert "/loop/again: directory loop; not followed" in lines
    assert "/d/d/d/d/d/d/d/d/d/d/d: nested deeper than 10; not entered" in lines
    assert len(lines) == 2
    wide = FakeEntry("", inode=2, children=[FakeEntry(f"f{i}", data=b"x") for i in range(50)])
    (tmp_path / "wide").mkdir()
    copier, lines = copy_tree(wide, tmp_path / "wide", ["*"], max_entries=20)
    assert lines == ["/: more than 20 entries walked; stopped"]
    assert copier.stats.files == 20


def test_file_over_the_copy_limit_keeps_its_size_without_content(tmp_path: Path) -> None:
    dest = tmp_path / "root"
    dest.mkdir()
    big = FakeEntry("SOFTWARE", data=b"regf" + bytes(100), size=3 << 20)
    root = FakeEntry("", inode=2, children=[big, FakeEntry("SYSTEM", data=b"regf\x01\x02")])
    copier, lines = copy_tree(root, dest, ["*"])
    assert (dest / "SOFTWARE").stat().st_size == 3 << 20
    assert (dest / "SOFTWARE").stat().st_blocks * 512 < 1 << 20  # sparse: nothing was written
    assert (dest / "SYSTEM").read_bytes() == b"regf\x01\x02"
    assert lines == ["/SOFTWARE: file is 3145728 bytes, over the 1048576-byte copy limit; not copied"]
    assert (copier.stats.files, copier.stats.bytes) == (1, 6)  # the content copied


# ---- keys and progress ------------------------------------------------------------------------


def test_credentials_from_keys_and_recovery_passwords(tmp_path: Path) -> None:
    bek = tmp_path / "3F2A0F1E.BEK"
    bek.write_bytes(b"\x00" * 124)
    recovery = "471207-278498-422125-177177-561902-537405-468347-003344"
    assert credentials_from(["Tr0ub4dor&3", str(bek)], [recovery]) == [
        ("password", "Tr0ub4dor&3"),
        ("password", str(bek)),
        ("startup_key", str(bek)),
        ("recovery_password", recovery),
    ]
    hexkey = "00112233445566778899aabbccddeeff"
    assert ("key_data", hexkey) in credentials_from([hexkey], [])


def test_progress_counts_files_and_bytes_of_each_volume(tmp_path: Path) -> None:
    progress = ImageProgress("disk.qcow2", live=False)
    progress.volume("p2", 2, 3)
    root = FakeEntry("", inode=2, children=[FakeEntry("a", data=b"12345"), FakeEntry("b", data=b"678")])
    dest = tmp_path / "root"
    dest.mkdir()
    Copier(FakeFileSystem(root), dest, lambda r, m: None, CopyLimits(max_file_bytes=1 << 20), progress).copy(
        PathSelector(["*"], fold_case=False)
    )
    assert (progress.files, progress.bytes) == (2, 8)
    assert progress_text("disk.qcow2", "p2", 2, 3, 1234, 5_000_000) == (
        "disk.qcow2 · volume 2 of 3 (p2) · 1,234 files · 5.0 MB"
    )
