"""`banscan scan --deep IMAGE`: every file of each volume of a disk image examined as
`--deep --root` (or, for a volume without a system, `--deep FOLDER`) examines the same tree.

The trees hold what the deep scanner finds on real systems — a PE with Kaspersky version
resources and one signed with a Kaspersky certificate (mingw-w64, osslsigncode), an ELF with a
catalog byte signature (gcc), an APK in a zip, an MSI (msibuild), Debian packages in apt's cache
(one vouched for by the system's apt lists), a Mach-O app bundle with its Info.plist — with
documents that name the vendor, a damaged ELF and a damaged zip; the images are real ext4, NTFS
and FAT file systems (tests/image_builder), some in QCOW2 and VHDX containers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import plistlib
import re
import shutil
import subprocess
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lz4.frame
import pytest
from typer.testing import CliRunner

import deep_fixtures as fx
from banscan.catalog.loader import load_catalog
from banscan.catalog.schema import Catalog
from banscan.cli import app
from banscan.deep.archives import Limits
from banscan.deep.filetype import HEAD_BYTES
from banscan.deep.pool import BatchRunner
from banscan.deep.stats import DeepStats
from banscan.deep.walk import known_locations, walk_root
from banscan.images.deep import VolumeFiles
from banscan.images.volumes import open_image
from banscan.models import ScanResult
from banscan.scan import ScanOptions, run_scan
from image_builder import Part, convert, disk_image, ext4_image, fat_image, ntfs_image, tool
from image_checks import findings
from linux_root import HOSTNAME, build_linux_root

runner = CliRunner()
AS_OF = dt.date(2025, 3, 3)
NEEDED = ("gcc", fx.MINGW_GCC, fx.MINGW_WINDRES, "osslsigncode", "msibuild")
SIGNED_ELF = b"\x7fELF\x02\x01\x01" + b"\x00" * 57 + b"\x00engine=kaspersky-lab-engine\x00"
APT_STEM = "deb.debian.org_debian_dists_bookworm"
VOUCHED_DEB = "acme-tools_1.0-1_amd64.deb"


def need_builders() -> None:
    for name in NEEDED:
        if shutil.which(name) is None:
            pytest.skip(f"{name} is not installed (apt-get install mingw-w64 osslsigncode msitools gcc)")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---- trees and images, built once per module ------------------------------------------------


def add_deep_files(root: Path, work: Path) -> None:
    """What a deep scan finds on a Linux system that ran Kaspersky, and what it must not."""
    downloads = root / "home/u/Downloads"
    downloads.mkdir(parents=True)
    fx.build_elf(root / "opt/kaspersky/kesl/bin/certtool", "Kaspersky Anti-Virus Personal Root Certificate")
    fx.build_pe(
        downloads / "kes.exe",
        company="AO Kaspersky Lab",
        product="Kaspersky Endpoint Security for Windows",
        original="avp.exe",
        copyright="Copyright (C) AO Kaspersky Lab",
    )
    contoso = fx.build_pe(
        work / "contoso.exe",
        company="Contoso Ltd",
        product="Contoso Secure Agent",
        original="agent.exe",
        copyright="Copyright (C) Contoso Ltd",
    )
    cert_pem, key_pem, _, _ = fx.make_cert(fx.KASPERSKY_SUBJECT)
    fx.sign_pe(contoso, downloads / "agent-signed.exe", cert_pem, key_pem)
    with zipfile.ZipFile(downloads / "bundle.zip", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("readme.txt", "nothing here")
        z.writestr("inner/who-calls.apk", fx.build_apk("com.kaspersky.who_calls", fx.KASPERSKY_SUBJECT))
    idt = work / "Property.idt"
    idt.write_text(
        "Property\tValue\ns72\tl0\nProperty\tProperty\n"
        "ProductName\tKaspersky Endpoint Security for Windows\nManufacturer\tAO Kaspersky Lab\n"
        "ProductVersion\t12.5.0.539\n"
    )
    subprocess.run(["msibuild", str(downloads / "kes.msi"), "-i", str(idt)], check=True, capture_output=True)
    app_dir = root / "home/u/Applications/Kaspersky Anti-Virus.app/Contents"
    (app_dir / "MacOS").mkdir(parents=True)
    (app_dir / "MacOS/kav").write_bytes(fx.build_macho("com.kaspersky.kav", "2Y8XE5CQ94"))
    (app_dir / "Info.plist").write_bytes(
        plistlib.dumps({"CFBundleIdentifier": "com.kaspersky.kav", "CFBundleShortVersionString": "21.3.10"})
    )
    with tarfile.open(root / "home/u/tools.tar.gz", "w:gz") as t:
        t.add(root / "opt/kaspersky/kesl/bin/certtool", arcname="bin/certtool")
    fx.decoy_folder(root / "home/u/Documents")
    (downloads / "broken.zip").write_bytes(b"PK\x03\x04" + bytes(range(256)) * 8)
    (downloads / "etc-link").symlink_to("/etc")  # never followed
    (root / "srv/data").mkdir(parents=True)
    (root / "srv/data/blob.bin").write_bytes(b"\x00\x01data" * 300_000)  # 1.8 MB of data: 4 KiB read
    add_apt_cache(root)


def add_apt_cache(root: Path) -> None:
    """A Kaspersky package in apt's cache (expanded), and another vendor's package that the
    system's Debian `main` index vouches for (identified by its control file, not expanded)."""
    cache = root / "var/cache/apt/archives"
    cache.mkdir(parents=True)
    kesl = fx.build_deb(
        fx.control_text(
            "kesl", "12.0.0-6672", "AO Kaspersky Lab <support@kaspersky.com>", "Kaspersky Endpoint Security"
        ),
        {"./opt/kaspersky/kesl/bin/kesl": SIGNED_ELF},
    )
    (cache / "kesl_12.0.0-6672_amd64.deb").write_bytes(kesl)
    acme = fx.build_deb(
        fx.control_text("acme-tools", "1.0-1", "Acme <ops@acme.example>", "Acme tools"),
        {"./usr/bin/acme-scan": SIGNED_ELF},
    )
    (cache / VOUCHED_DEB).write_bytes(acme)
    lists = root / "var/lib/apt/lists"
    lists.mkdir(parents=True)
    text = (
        "Package: acme-tools\nVersion: 1.0-1\nArchitecture: amd64\nMaintainer: Acme <ops@acme.example>\n"
        f"Filename: pool/main/a/acme-tools/{VOUCHED_DEB}\nSize: {len(acme)}\nSHA256: {sha(acme)}\n"
        "Description: Acme tools\n"
    ).encode()
    (lists / f"{APT_STEM}_InRelease").write_text(
        "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n"
        "Origin: Debian\nLabel: Debian\nSuite: oldstable\nCodename: bookworm\n"
        f"Components: main\nSHA256:\n {sha(text)} {len(text):>8} main/binary-amd64/Packages\n"
        "-----BEGIN PGP SIGNATURE-----\n\niQ==\n-----END PGP SIGNATURE-----\n"
    )
    (lists / f"{APT_STEM}_main_binary-amd64_Packages.lz4").write_bytes(lz4.frame.compress(text))


def data_tree(root: Path) -> Path:
    """A Windows data disk (no system on it): installers and a zipped APK among documents."""
    folder = root / "Installers/Kaspersky Lab"
    folder.mkdir(parents=True)
    fx.build_pe(
        folder / "kes_win.exe",
        company="AO Kaspersky Lab",
        product="Kaspersky Endpoint Security for Windows",
        original="kes_win.exe",
        copyright="Copyright (C) AO Kaspersky Lab",
    )
    with zipfile.ZipFile(root / "Installers/phones.zip", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("android/who-calls.apk", fx.build_apk("com.kaspersky.who_calls", fx.KASPERSKY_SUBJECT))
    fx.decoy_folder(root / "Reports")
    return root


@dataclass
class Built:
    folder: Path
    linux: Path  # a Linux root with the deep files
    ext: Path  # a bare ext4 file system of `linux`
    qcow2: Path  # an MBR disk holding `ext`, in QCOW2
    data: Path  # a data tree (no system)
    ntfs: Path  # a bare NTFS file system of `data`
    fat: Path  # a bare FAT file system of `data`


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    need_builders()
    folder = tmp_path_factory.mktemp("images-deep")
    work = folder / "work"
    work.mkdir()
    linux = build_linux_root(folder / "linux-root")
    add_deep_files(linux, work)
    ext = ext4_image(linux, folder / "linux.ext4", size_mib=32)
    raw = disk_image(folder / "disk.raw", [Part(ext)], table="dos")
    qcow2 = convert(raw, "qcow2", folder / "disk.qcow2")
    raw.unlink()
    data = data_tree(folder / "data")
    ntfs = ntfs_image(data, folder / "data.ntfs", size_mib=16)
    files = {p.relative_to(data).as_posix(): p.read_bytes() for p in sorted(data.rglob("*")) if p.is_file()}
    fat = fat_image(files, folder / "stick.fat", size_mib=40, label="STICK")  # FAT16
    return Built(folder, linux, ext, qcow2, data, ntfs, fat)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


class Runs:
    """A DeepObserver keeping each run's figures."""

    def __init__(self) -> None:
        self.runs: list[DeepStats] = []

    def started(self, stats: DeepStats) -> None:
        pass

    def update(self, stats: DeepStats) -> None:
        pass

    def finished(self, stats: DeepStats) -> None:
        self.runs.append(stats)


def options(**more: Any) -> ScanOptions:
    return ScanOptions(as_of=AS_OF, echo_errors=False, deep=True, **more)


def unprefixed(lines: list[str], prefix: str) -> list[str]:
    assert all(re.match(prefix, line) for line in lines), lines
    return [re.sub(prefix, "", line, count=1) for line in lines]


def figures(stats: DeepStats) -> tuple[object, ...]:
    """What a deep scan walked, read and skipped (everything but time and folder counts)."""
    return (
        stats.files_seen,
        stats.bytes_seen,
        stats.files_read,
        stats.bytes_read,
        stats.members,
        stats.skipped,
        stats.vouched,
        stats.errors,
    )


# ---- the walk -------------------------------------------------------------------------------------


@contextmanager
def image_file_system(image: Path) -> Iterator[Any]:
    """The one file system of a bare file-system image, open for the `with` block."""
    from dfvfs.resolver import resolver  # type: ignore[import-untyped]

    opened = open_image(image)
    try:
        (volume,) = opened.volumes
        yield resolver.Resolver.OpenFileSystem(volume.spec, resolver_context=opened.context)
    finally:
        opened.close()


def test_the_walk_of_a_volume_is_the_walk_of_its_root(built: Built, catalog: Catalog, tmp_path: Path) -> None:
    locations = known_locations(catalog, "linux")
    lines: list[str] = []
    on_root = [
        (e.shown, e.size)
        for e in walk_root(built.linux, "linux", False, lambda w, m: lines.append(m), locations=locations)
    ]
    copies = tmp_path / "copies"
    copies.mkdir()
    limits = Limits()
    with image_file_system(built.ext) as file_system:
        walked = list(
            VolumeFiles(file_system, copies, lambda w, m: lines.append(f"{w}: {m}"), limits).walk(locations)
        )
    assert lines == []
    assert [(e.shown, e.size) for e in walked] == on_root  # same files, same order, same sizes
    assert on_root[0][0].startswith("/opt/kaspersky/")  # the catalog's folders first
    by_shown = {e.shown: e for e in walked}
    # code and archives are copied whole; of anything else only the first 4 KiB are read
    code = ("/home/u/Downloads/kes.exe", "/home/u/Downloads/bundle.zip", "/opt/kaspersky/kesl/bin/certtool")
    for shown in code:
        entry = by_shown[shown]
        assert entry.copy and entry.head is None
        assert Path(entry.real).read_bytes() == (built.linux / shown[1:]).read_bytes()
    blob = by_shown["/srv/data/blob.bin"]
    original = (built.linux / "srv/data/blob.bin").read_bytes()
    assert (blob.copy, blob.head, blob.size) == (False, original[:HEAD_BYTES], len(original))
    copied = {e.shown for e in walked if e.copy}
    assert set(code) <= copied
    assert not any(shown.endswith((".html", ".txt", ".pdf", ".md", ".bin")) for shown in copied)
    assert sorted(p.name for p in copies.iterdir() if p.is_file()) == sorted(
        Path(e.real).name for e in walked if e.copy and "/MacOS/" not in e.shown
    )
    # an app bundle's executable keeps its Info.plist beside it, where the deep scanner reads it
    kav = Path(by_shown["/home/u/Applications/Kaspersky Anti-Virus.app/Contents/MacOS/kav"].real)
    assert kav.parent.name == "MacOS" and kav.parent.parent.name == "Contents"
    assert (kav.parent.parent / "Info.plist").read_bytes() == (
        built.linux / "home/u/Applications/Kaspersky Anti-Virus.app/Contents/Info.plist"
    ).read_bytes()


# ---- whole scans: the image against the tree it was made from ------------------------------------


def test_deep_image_finds_what_deep_root_finds(built: Built, catalog: Catalog, private_tmp: Path) -> None:
    on_root, in_image = Runs(), Runs()
    mounted = run_scan(catalog, options(deep_observer=on_root), roots=[built.linux])
    scanned = run_scan(catalog, options(deep_observer=in_image), images=[built.qcow2])
    volume = re.escape("disk.qcow2#p1:")

    assert [(t.target, t.format) for t in scanned.targets] == [(f"{built.qcow2}#p1", "image:linux")]
    assert scanned.targets[0].records == mounted.targets[0].records
    assert findings(scanned, volume) == findings(mounted, "")
    assert unprefixed(scanned.targets[0].errors, volume) == mounted.targets[0].errors
    assert scanned.hosts == mounted.hosts == [HOSTNAME]
    # the deep scanner read, skipped and vouched for the same files
    assert [figures(s) for s in in_image.runs] == [figures(s) for s in on_root.runs]
    assert in_image.runs[0].label == "disk.qcow2#p1"
    assert in_image.runs[0].vouched == {
        "Debian bookworm main": [1, (built.linux / "var/cache/apt/archives" / VOUCHED_DEB).stat().st_size]
    }
    assert list(private_tmp.iterdir()) == []

    products = {f.product for f in scanned.findings}
    assert products >= {"kesl", "kes-windows", "kaspersky-who-calls", "kaspersky-personal-root-certificate"}
    locations = {e.location for f in scanned.findings for e in f.evidence}
    assert {
        "disk.qcow2#p1:/home/u/Downloads/kes.exe",
        "disk.qcow2#p1:/home/u/Downloads/kes.msi",
        "disk.qcow2#p1:/home/u/Downloads/agent-signed.exe",
        "disk.qcow2#p1:/home/u/Downloads/bundle.zip!inner/who-calls.apk!AndroidManifest.xml",
        "disk.qcow2#p1:/home/u/tools.tar.gz!bin/certtool",
        "disk.qcow2#p1:/var/cache/apt/archives/kesl_12.0.0-6672_amd64.deb!control.tar.xz!control",
    } <= locations
    assert not any(
        "/Documents/" in loc or "/etc-link" in loc or VOUCHED_DEB + "!data" in loc for loc in locations
    )
    assert not any("acme-scan" in loc for loc in locations)  # the vouched package was not expanded
    errors = scanned.targets[0].errors
    (broken,) = [line for line in errors if "broken.zip" in line]
    assert broken.startswith("disk.qcow2#p1:/home/u/Downloads/broken.zip: zip archive unreadable")


def test_cli_deep_scans_inside_the_image(built: Built, private_tmp: Path) -> None:
    res = runner.invoke(
        app, ["scan", "--deep", "--stats", "--format", "json", "--as-of", "2025-03-03", str(built.qcow2)]
    )
    assert res.exit_code == 1, res.output
    out = json.loads(res.stdout)
    assert [(t["target"], t["format"]) for t in out["targets"]] == [(f"{built.qcow2}#p1", "image:linux")]
    who = next(f for f in out["findings"] if f["product"] == "kaspersky-who-calls")
    assert {e["location"] for e in who["evidence"]} == {
        "disk.qcow2#p1:/home/u/Downloads/bundle.zip!inner/who-calls.apk!AndroidManifest.xml"
    }
    assert "banscan: deep scan of disk.qcow2#p1: " in res.stderr  # the --stats summary
    assert "banscan-image" not in res.stdout + res.stderr
    assert list(private_tmp.iterdir()) == []


def test_without_deep_the_image_is_scanned_as_before(built: Built, catalog: Catalog) -> None:
    plain = run_scan(catalog, ScanOptions(as_of=AS_OF, echo_errors=False), images=[built.qcow2])
    deep = run_scan(catalog, options(), images=[built.qcow2])
    assert {f.product for f in plain.findings} < {f.product for f in deep.findings}
    assert not any(e.source == "deep" for f in plain.findings for e in f.evidence)
    assert plain.targets[0].errors == []


@pytest.mark.parametrize("fs", ["ntfs", "fat"])
def test_data_volume_finds_what_deep_folder_finds(built: Built, catalog: Catalog, fs: str) -> None:
    image = built.ntfs if fs == "ntfs" else built.fat
    in_folder, in_image = Runs(), Runs()
    on_folder = run_scan(catalog, options(host="ws-17", deep_observer=in_folder), deep_paths=[built.data])
    scanned = run_scan(catalog, options(host="ws-17", deep_observer=in_image), images=[image])
    assert [(t.target, t.format) for t in scanned.targets] == [(str(image), "image:data")]
    assert scanned.targets[0].errors == []
    # the same files (none of NTFS's own $MFT, $LogFile …), read and skipped alike
    assert [figures(s) for s in in_image.runs] == [figures(s) for s in in_folder.runs]
    assert findings(scanned, re.escape(f"{image.name}:")) == findings(on_folder, re.escape(str(built.data)))
    assert {f.product for f in scanned.findings} >= {"kes-windows", "kaspersky-who-calls"}
    assert scanned.hosts == ["ws-17"]


def test_data_volume_without_a_host_is_named_after_image_and_volume(built: Built, catalog: Catalog) -> None:
    disk = disk_image(built.folder / "usb.raw", [Part(built.fat, "windows")], table="dos")
    try:
        scanned = run_scan(catalog, options(), images=[disk])
    finally:
        disk.unlink()
    assert [(t.target, t.format) for t in scanned.targets] == [(f"{disk}#p1", "image:data")]
    assert scanned.hosts == ["usb.raw#p1"]
    assert {f.host for f in scanned.findings} == {"usb.raw#p1"}


# ---- hostile contents --------------------------------------------------------------------------


def test_archive_bomb_inside_an_image_stays_bounded(built: Built, catalog: Catalog, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "drop").mkdir(parents=True)
    fx.zip_bomb(tree / "drop/zeros.zip")  # 200 MB of zeros in well under 1 MB
    shutil.copy(built.linux / "opt/kaspersky/kesl/bin/certtool", tree / "drop/certtool")
    image = ext4_image(tree, tmp_path / "bomb.ext4", size_mib=8)
    on_folder = run_scan(catalog, options(host="h"), deep_paths=[tree])
    runs = Runs()
    scanned = run_scan(catalog, options(host="h", deep_observer=runs), images=[image])
    assert findings(scanned, re.escape("bomb.ext4:")) == findings(on_folder, re.escape(str(tree)))
    assert {f.product for f in scanned.findings} == {"kaspersky-personal-root-certificate"}
    (line,) = scanned.targets[0].errors
    assert line.startswith("bomb.ext4:/drop/zeros.zip!zeros.bin: ")
    assert unprefixed([line], re.escape("bomb.ext4:")) == unprefixed(
        on_folder.targets[0].errors, re.escape(str(tree))
    )
    (stats,) = runs.runs
    assert stats.bytes_read == sum(
        p.stat().st_size for p in (tree / "drop").iterdir()
    )  # the files, not 200 MB


def damage_extent(image: Path, path: str) -> None:
    """Point the first extent of the file at `path` far past the end of the file system."""
    debugfs = tool("debugfs")
    where = subprocess.run(
        [debugfs, "-R", f"imap {path}", str(image)], capture_output=True, text=True, check=True
    )
    found = re.search(r"located at block (\d+), offset 0x([0-9a-f]+)", where.stdout)
    stats = subprocess.run([debugfs, "-R", "stats", str(image)], capture_output=True, text=True, check=True)
    size = re.search(r"Block size:\s+(\d+)", stats.stdout)
    assert found is not None and size is not None, where.stdout + where.stderr
    inode = int(found.group(1)) * int(size.group(1)) + int(found.group(2), 16)
    with image.open("r+b") as fh:
        fh.seek(inode + 40)  # i_block: the extent header, then the first extent
        assert fh.read(2) == b"\x0a\xf3"
        fh.seek(inode + 40 + 12 + 6)
        fh.write(b"\xff\x7f\xf0\xff\xff\x7f")  # its start block: ~2^47


def test_a_damaged_file_inside_is_one_line(built: Built, catalog: Catalog, tmp_path: Path) -> None:
    image = tmp_path / built.ext.name
    shutil.copy(built.ext, image)
    damage_extent(image, "/home/u/Downloads/kes.exe")
    intact = run_scan(catalog, options(), images=[built.ext])
    scanned = run_scan(catalog, options(), images=[image])
    new = [line for line in scanned.targets[0].errors if line not in intact.targets[0].errors]
    assert len(new) == 1
    assert new[0].startswith("linux.ext4:/home/u/Downloads/kes.exe: cannot be read: ")
    assert len(scanned.targets[0].errors) == len(intact.targets[0].errors) + 1

    def evidence(result: ScanResult) -> set[tuple[str, str, str]]:
        return {(f.product, e.kind, e.location) for f in result.findings for e in f.evidence}

    lost = evidence(intact) - evidence(scanned)
    assert lost and {location for _, _, location in lost} == {"linux.ext4:/home/u/Downloads/kes.exe"}
    assert evidence(scanned) < evidence(intact)  # every other file was read


# ---- copies waiting for a worker are bounded -------------------------------------------------


def test_bytes_handed_out_ahead_are_bounded() -> None:
    sizes = [40, 10, 70, 5, 30, 30, 30, 90, 1, 1, 60]
    handed: list[int] = []
    collected: list[int] = []
    peak = [0]
    lock = threading.Lock()

    def batches() -> Iterator[list[int]]:
        for size in sizes:
            with lock:
                peak[0] = max(peak[0], sum(handed) - sum(collected))
            handed.append(size)
            yield [size]

    def examine(batch: list[int]) -> list[int]:
        return batch

    pool: BatchRunner[int, int] = BatchRunner(
        examine,
        examine,
        lambda: None,
        (),
        workers=2,
        size=lambda n: n,
        crashed=lambda n: -1,
        processes=False,
        max_bytes_ahead=100,
    )
    for result in pool.run(batches()):
        with lock:
            collected.append(result)
    assert collected == sizes  # in order, every one
    assert peak[0] <= 100
