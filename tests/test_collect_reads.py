"""What the collectors declare they read (`reads`, collect/reads.py) is all they read: a root cut
down to the selected entries scans exactly like the whole root, collector by collector."""

from __future__ import annotations

import dataclasses
import os
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

import deep_fixtures as fx
from banscan.collect.base import OS, CollectContext, Collector
from banscan.collect.detect import machine_id, make_context
from banscan.collect.reads import DETECTION, PathSelector, selector
from banscan.collect.registry import all_collectors, collect_system
from banscan.errors import ErrorSink
from banscan.models import InventoryRecord
from linux_root import build_linux_root
from macos_root import (
    KASPERSKY_CHROME_ID,
    UBLOCK_CHROME_ID,
    build_macos_root,
    make_app,
    write_json,
    write_plist,
)

HOST = "scanned-host"
KVER = "5.15.0-101-generic"
EDGE_ID = "odfafepnkmbhccpbejgmiehpchacaeak"
MAC_UUID = "564D8A2B-1C3E-4F50-9A7B-2C4D6E8F0A1B"
DBUS_MACHINE_ID = "4c1d9e2f7a3b4c5d8e9f0a1b2c3d4e5f"
WINDOWS_GUID = "{6F1C2D3E-4A5B-4C7D-8E9F-0A1B2C3D4E5F}"


# --- the selector ------------------------------------------------------------------------


def test_star_matches_within_one_segment() -> None:
    sel = PathSelector(["etc/modules-load.d/*.conf"], fold_case=False)
    assert sel.selects("etc/modules-load.d/vbox.conf")
    assert sel.selects("/etc/modules-load.d/.hidden.conf/")
    assert not sel.selects("etc/modules-load.d/sub/vbox.conf")
    assert not sel.selects("etc/modules-load.d/vbox.conf.bak")
    assert not sel.selects("etc/modules-load.d")  # a directory on the way is not itself selected


def test_double_star_matches_any_depth_including_none() -> None:
    sel = PathSelector(["usr/lib/modules/*/updates/**/?*.ko"], fold_case=False)
    assert sel.selects("usr/lib/modules/6.1.0/updates/vbox.ko")
    assert sel.selects("usr/lib/modules/6.1.0/updates/dkms/a/b/c/vbox.ko")
    assert not sel.selects("usr/lib/modules/6.1.0/updates/.ko")
    assert not sel.selects("usr/lib/modules/6.1.0/kernel/vbox.ko")


def test_negated_segment_skips_the_named_folders() -> None:
    sel = PathSelector(["lib/modules/*/!(kernel|vdso|b*)/**/?*.ko"], fold_case=False)
    assert sel.selects("lib/modules/6.1.0/extra/kav4fs.ko")
    assert sel.selects("lib/modules/6.1.0/kernel2/x.ko")
    assert not sel.selects("lib/modules/6.1.0/kernel/fs/ext4.ko")
    assert not sel.selects("lib/modules/6.1.0/build/x.ko")
    assert not sel.enters("lib/modules/6.1.0/kernel")
    assert not sel.enters("lib/modules/6.1.0/vdso")
    assert sel.enters("lib/modules/6.1.0/updates")


def test_trailing_slash_selects_directories_and_links_not_files() -> None:
    sel = PathSelector(["Program Files/*/"], fold_case=True)
    assert sel.selects("Program Files/7-Zip", is_dir=True)
    assert sel.selects("Program Files/Common Files")  # unknown kind (a link): kept
    assert not sel.selects("Program Files/desktop.ini", is_dir=False)
    assert not sel.enters("Program Files/7-Zip")


def test_case_folds_on_windows_and_macos_roots_only() -> None:
    assert selector("windows").selects("WINDOWS/system32/Config/software")
    assert selector("windows").selects("users/BOB/ntuser.dat")
    assert selector("macos").selects("library/launchdaemons/com.kaspersky.kav.PLIST")
    assert selector("linux").selects("etc/hostname")
    assert not selector("linux").selects("ETC/hostname")
    assert not selector("linux").selects("var/lib/dpkg/STATUS")
    assert PathSelector(["a/!(Kernel)/x"], fold_case=True).selects("A/other/X")
    assert not PathSelector(["a/!(Kernel)/x"], fold_case=True).selects("a/KERNEL/x")


def test_enters_only_directories_that_can_hold_a_selected_entry() -> None:
    sel = selector("linux")
    assert sel.enters("")
    assert sel.enters("usr") and sel.enters("usr/lib/modules/6.1.0/updates/dkms")
    assert not sel.enters("usr/lib/modules/6.1.0/kernel")
    assert not sel.enters("usr/share/doc")
    assert not sel.enters("opt/kaspersky/kesl")  # opt is listed two levels deep, no deeper
    assert not sel.enters("home/alice/Documents")
    assert not PathSelector(["etc"], fold_case=False).enters("etc")  # selected, but nothing below


def test_selector_without_a_layout_is_detection_only() -> None:
    assert set(selector(None).patterns) == set(DETECTION)
    for os_name in ("linux", "windows", "macos"):
        assert set(DETECTION) < set(selector(os_name).patterns)
    assert not selector(None).selects("var/lib/dpkg/status")


def test_every_offline_collector_declares_what_it_reads() -> None:
    for collector in all_collectors():
        if collector.live_only:
            assert collector.reads == (), collector.name
            continue
        assert collector.reads, collector.name
        for pattern in collector.reads:
            parts = pattern.rstrip("/").split("/")
            assert "\\" not in pattern and not pattern.startswith("/"), (collector.name, pattern)
            assert parts[0] != "**", (collector.name, pattern)  # never the whole disk
            assert "" not in parts, (collector.name, pattern)


# --- a test-side copier: what banscan.images will take out of an image -------------------


def copy_selected(src: Path, dest: Path, sel: PathSelector) -> None:
    """Copy the selected entries of `src` to `dest`, entering only what `sel` says to."""
    dest.mkdir(parents=True)

    def visit(rel: str) -> None:
        with os.scandir(src / rel) as it:
            entries = sorted(it, key=lambda e: e.name)
        for entry in entries:
            child = f"{rel}/{entry.name}" if rel else entry.name
            target = dest / child
            if entry.is_symlink():
                if sel.selects(child) or sel.enters(child):
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.symlink_to(os.readlink(entry.path))
            elif entry.is_dir():
                if sel.selects(child, is_dir=True):
                    target.mkdir(parents=True, exist_ok=True)
                if sel.enters(child):
                    visit(child)
            elif entry.is_file() and sel.selects(child, is_dir=False):
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(entry.path, target)

    visit("")


def context(root: Path, host: str | None = HOST) -> CollectContext:
    ctx = make_context(root, ErrorSink(echo=False), host=host)
    assert ctx is not None, root
    return ctx


def _relative(root: Path) -> Callable[[str], str]:
    prefix = str(root)
    return lambda text: text.replace(prefix, "<root>")


def normalised(records: list[InventoryRecord], root: Path) -> list[InventoryRecord]:
    """Records with the root's own path replaced, so two copies of one system compare equal."""
    fix = _relative(root)
    out = []
    for r in records:
        strings: dict[str, Any] = {
            f.name: fix(v) for f in dataclasses.fields(r) if type(v := getattr(r, f.name)) is str
        }
        out.append(
            dataclasses.replace(
                r,
                **strings,
                source=dataclasses.replace(r.source, location=fix(r.source.location)),
                extra=tuple((k, fix(v)) for k, v in r.extra),
            )
        )
    return out


def scan(
    root: Path, run: Callable[[CollectContext], Iterator[InventoryRecord]]
) -> tuple[list[InventoryRecord], list[str]]:
    """Records and error lines of `run` on `root`, with the root's path replaced."""
    ctx = context(root)
    records = normalised(list(run(ctx)), root)
    return records, [_relative(root)(line) for line in ctx.errors.lines]


def own_selector(collector: Collector, os_name: OS) -> PathSelector:
    """What one collector declares, with what detection reads (a copy must still be detected)."""
    return PathSelector([*DETECTION, *collector.reads], fold_case=os_name != "linux")


def assert_scans_alike(roots: list[Path], tmp_path: Path, os_name: OS) -> None:
    """The scan of a copy of what `selector(os)` selects equals the scan of the full root.

    On the first root, moreover, each collector on a copy of only what it declares finds what
    it found in the full root: it needs nothing another collector declares. And it finds less
    on a copy of only what detection reads (unless that is all it needs), so every declaration
    is put to the test."""
    offline = [c for c in all_collectors() if os_name in c.os and not c.live_only]
    wholes = []
    for n, root in enumerate(roots):
        copy = tmp_path / f"all-{n}"
        copy_selected(root, copy, selector(os_name))
        assert context(copy).os == os_name
        wholes.append(scan(root, collect_system))
        assert scan(copy, collect_system) == wholes[-1]
    records = wholes[0][0]
    bare = tmp_path / "detection"
    copy_selected(roots[0], bare, PathSelector(DETECTION, fold_case=os_name != "linux"))
    needs_own: set[str] = set()
    for collector in offline:
        expected = [r for r in records if r.source.collector == collector.name]
        assert expected, f"{collector.name} finds nothing: its equality would prove nothing"
        own = tmp_path / collector.name
        copy_selected(roots[0], own, own_selector(collector, os_name))
        assert scan(own, collector.collect)[0] == expected, collector.name
        if not set(collector.reads) <= set(DETECTION) and scan(bare, collector.collect)[0] != expected:
            needs_own.add(collector.name)
    assert needs_own == {c.name for c in offline if not set(c.reads) <= set(DETECTION)}


def assert_identity_alike(root: Path, tmp_path: Path) -> None:
    """Layout, host name and machine id need only what DETECTION lists."""
    copy = tmp_path / "detection"
    copy_selected(root, copy, selector(None))
    original, cut = context(root, host=None), context(copy, host=None)
    assert (cut.os, cut.host, machine_id(cut)) == (original.os, original.host, machine_id(original))
    assert original.host != root.name


# --- realistic roots, with what makes a missing declaration show ------------------------


@pytest.fixture(scope="module")
def certs() -> dict[str, bytes]:
    k_pem, _, k_cert, _ = fx.make_cert(
        [("CN", "Kaspersky Anti-Virus Personal Root Certificate"), ("O", "AO Kaspersky Lab"), ("C", "RU")]
    )
    o_pem, _, o_cert, _ = fx.make_cert([("CN", "Example Root CA"), ("O", "Example"), ("C", "US")])
    a_pem, _, _, _ = fx.make_cert([("CN", "Corp Proxy Anchor"), ("O", "Corp")])
    m_pem, _, _, _ = fx.make_cert([("CN", "Mozilla Listed Root"), ("O", "Listed")])
    return {
        "k_pem": k_pem,
        "o_pem": o_pem,
        "a_pem": a_pem,
        "m_pem": m_pem,
        "k_der": k_cert.public_bytes(serialization.Encoding.DER),
        "o_der": o_cert.public_bytes(serialization.Encoding.DER),
    }


def write(root: Path, rel: str, data: str | bytes) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data, encoding="utf-8")
    return path


def link(root: Path, rel: str, target: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target)


def chrome_extension(
    extensions: Path, ext_id: str, version: str, name: str, *, locales: bool = False
) -> None:
    folder = extensions / ext_id / f"{version}_0"
    manifest = {"name": "__MSG_appName__" if locales else name, "version": version, "default_locale": "en"}
    write_json(folder / "manifest.json", {**manifest, "manifest_version": 3})
    if locales:
        write_json(folder / "_locales/en/messages.json", {"appName": {"message": name}})
        write_json(folder / "_locales/ru/messages.json", {"appName": {"message": name}})


def firefox_profile(profile: Path, addon_id: str, name: str) -> None:
    addon = {"id": addon_id, "version": "1.0", "type": "extension", "defaultLocale": {"name": name}}
    write_json(profile / "extensions.json", {"schemaVersion": 36, "addons": [addon]})


def cert9(path: Path, der: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE nssPublic (id PRIMARY KEY, a0, a11)")
    con.execute("INSERT INTO nssPublic VALUES (1, ?, ?)", (b"\x00\x00\x00\x01", der))
    con.commit()
    con.close()


def blob_store(der: bytes) -> bytes:
    return b"kych" + b"\x00" * 300 + der + b"\x00" * 64


RPM_PACKAGES = "kesl\t12.1.0-1297\tAO Kaspersky Lab\tx86_64\tKaspersky Endpoint Security for Linux\n"


def linux_extras(root: Path, certs: dict[str, bytes]) -> None:
    # homes: a second user and root, each with flatpaks, browsers and NSS databases
    link(root, "home/bob/.local/share/flatpak/app/com.example.Notes/current", "x86_64/stable")
    (root / "home/bob/.local/share/flatpak/app/com.example.Notes/x86_64/stable").mkdir(parents=True)
    link(root, "root/.local/share/flatpak/app/org.example.Admin/current", "x86_64/beta")
    (root / "root/.local/share/flatpak/app/org.example.Admin/x86_64/beta").mkdir(parents=True)
    chrome = root / "home/alice/.config/google-chrome"
    chrome_extension(chrome / "Default/Extensions", KASPERSKY_CHROME_ID, "20.0.543.1521", "KP", locales=True)
    chrome_extension(chrome / "Profile 1/Extensions", UBLOCK_CHROME_ID, "1.57.2", "uBlock Origin")
    write(root, "home/alice/.config/google-chrome/Local State", "{}")
    brave = root / "home/bob/.config/BraveSoftware/Brave-Browser/Default/Extensions"
    chrome_extension(brave, UBLOCK_CHROME_ID, "1.56.0", "uBlock Origin")
    chrome_extension(root / "root/snap/chromium/common/chromium/Default/Extensions", EDGE_ID, "1.0", "Tool")
    firefox_profile(
        root / "home/alice/.mozilla/firefox/a1b2c3d4.default-release", "uBlock0@raymondhill.net", "uB"
    )
    firefox_profile(root / "home/bob/snap/firefox/common/.mozilla/firefox/q9.default", "kav@kaspersky", "KP")
    cert9(root / "home/ann/.mozilla/firefox/abcd.default-release/cert9.db", certs["k_der"])
    write(root, "home/bob/.pki/nssdb/cert8.db", blob_store(certs["o_der"]))
    # a snap's version, read through its `current` link; a snap only mounted, one only downloaded
    write(root, "snap/lxd/24322/meta/snap.yaml", "name: lxd\nversion: '5.21.1'\n")
    (root / "snap/firefox/4173").mkdir(parents=True)
    link(root, "snap/firefox/current", "4173")
    write(root, "var/lib/snapd/snaps/kesl-cli_12.snap", b"hsqs")
    link(root, "var/lib/flatpak/app/org.gnome.Calculator/current", "x86_64/stable")
    # out-of-tree kernel modules deep in their trees, and the modules loaded at boot
    write(root, f"usr/lib/modules/{KVER}/extra/kaspersky/kav4fs/kav4fs.ko.xz", b"\xfd7zXZ")
    write(root, f"usr/lib/modules/{KVER}/updates/dkms/vboxnetflt.ko.zst", b"\x28\xb5\x2f\xfd")
    write(root, f"usr/lib/modules/{KVER}/misc/klif.ko.gz", b"\x1f\x8b")
    write(root, "etc/modules", "loop\n# kav4fs is loaded by its service\n")
    write(root, "usr/lib/modules-load.d/kav4fs.conf", "kav4fs\n")
    # a unit written by hand in etc, next to the vendor's
    unit = "[Unit]\nDescription=Backup agent\n[Service]\nExecStart=/opt/backup/bin/agent\n"
    write(root, "etc/systemd/system/backup-agent.service", unit)
    write(root, "usr/local/lib/systemd/system/kesl-watch.service", unit.replace("Backup", "Watch"))
    # a vendor folder with nothing in it yet
    (root / "opt/acme").mkdir(parents=True)
    # certificate bundles, anchors and the Debian links into usr/share/ca-certificates
    write(root, "etc/ssl/certs/ca-certificates.crt", certs["o_pem"] + certs["k_pem"])
    write(root, "usr/local/share/ca-certificates/kav.crt", certs["k_pem"])
    write(root, "usr/local/share/ca-certificates/corp/corp-root.crt", certs["o_pem"])
    write(root, "usr/share/ca-certificates/mozilla/Listed_Root.crt", certs["m_pem"])
    link(root, "etc/ssl/certs/Listed_Root.pem", "/usr/share/ca-certificates/mozilla/Listed_Root.crt")
    write(root, "etc/pki/ca-trust/source/anchors/corp-anchor.pem", certs["a_pem"])
    # an rpm database beside dpkg's, found through the var/lib/rpm link
    write(root, "usr/lib/sysimage/rpm/rpmdb.sqlite", RPM_PACKAGES)
    write(root, "usr/lib/sysimage/rpm/__db.001", b"\x00" * 64)
    link(root, "var/lib/rpm", "../../usr/lib/sysimage/rpm")
    # a golden image's empty machine-id, and the one dbus keeps
    write(root, "etc/machine-id", "uninitialized\n")
    write(root, "var/lib/dbus/machine-id", DBUS_MACHINE_ID + "\n")


@pytest.fixture(scope="module")
def linux_roots(tmp_path_factory: pytest.TempPathFactory, certs: dict[str, bytes]) -> list[Path]:
    roots = []
    for kaspersky in (True, False):
        root = build_linux_root(tmp_path_factory.mktemp("linux") / "root", kaspersky=kaspersky)
        linux_extras(root, certs)
        roots.append(root)
    return roots


@pytest.fixture
def fake_rpm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An rpm that lists what the copy of the database it is given holds."""
    bindir = tmp_path / "bin"
    write(bindir, "rpm", '#!/bin/sh\ncat "$2/rpmdb.sqlite"\n').chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:/usr/bin:/bin")


@pytest.mark.usefixtures("fake_rpm")
def test_linux_roots_scan_alike(linux_roots: list[Path], tmp_path: Path) -> None:
    assert_scans_alike(linux_roots, tmp_path, "linux")


def test_linux_copy_leaves_out_what_no_collector_reads(linux_roots: list[Path], tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    copy_selected(linux_roots[0], copy, selector("linux"))
    assert (copy / "var/lib/dpkg/status").read_bytes() == (
        linux_roots[0] / "var/lib/dpkg/status"
    ).read_bytes()
    assert (copy / f"usr/lib/modules/{KVER}/updates/dkms/vboxdrv.ko").is_file()
    assert (copy / "lib").is_symlink() and (copy / "usr/lib/sysimage/rpm/rpmdb.sqlite").is_file()
    for unread in (
        f"usr/lib/modules/{KVER}/kernel",
        f"usr/lib/modules/{KVER}/modules.dep",
        "opt/kaspersky/kesl/libexec/kesl",
        "etc/opt/kaspersky/kesl/kesl.ini",
        "usr/lib/sysimage/rpm/__db.001",
        "home/alice/.config/google-chrome/Local State",
        "etc/systemd/system/multi-user.target.wants",
    ):
        assert not (copy / unread).exists(), unread


def test_linux_identity_needs_only_detection(linux_roots: list[Path], tmp_path: Path) -> None:
    assert_identity_alike(linux_roots[0], tmp_path)
    assert machine_id(context(linux_roots[0])) == DBUS_MACHINE_ID


def macos_extras(root: Path, certs: dict[str, bytes]) -> None:
    # a second user with her own apps, jobs, folders, browsers and keychain
    olga = "Users/olga"
    make_app(root, f"{olga}/Applications/Notes Helper.app", {"CFBundleIdentifier": "com.example.notes"})
    job = {"Label": "com.example.sync", "Program": "/usr/local/bin/sync"}
    write_plist(root / f"{olga}/Library/LaunchAgents/com.example.sync.plist", job)
    (root / f"{olga}/Library/Application Support/zoom.us").mkdir(parents=True)
    chromium = root / f"{olga}/Library/Application Support/Chromium/Profile 2/Extensions"
    chrome_extension(chromium, KASPERSKY_CHROME_ID, "20.0.543.1521", "KP", locales=True)
    firefox = root / f"{olga}/Library/Application Support/Firefox/Profiles/k2.default"
    firefox_profile(firefox, "kav@kaspersky", "KP")
    cert9(firefox / "cert9.db", certs["k_der"])
    write(root, f"{olga}/Library/Keychains/login.keychain-db", blob_store(certs["k_der"]))
    write(root, "Library/Keychains/System.keychain", blob_store(certs["o_der"]))
    # a menu-bar helper inside an app, an app four folders down Application Support, a bundle
    # whose Info.plist is gone, a vendor folder with nothing in it yet
    (root / "Applications/Broken.app/Contents/MacOS").mkdir(parents=True)
    (root / "Library/Application Support/CrashReporter").mkdir(parents=True)
    make_app(root, "Applications/Utilities/Keka.app/Contents/Library/LoginItems/KekaHelper.app", {})
    updater = "Library/Application Support/Google/GoogleUpdater/130.0/GoogleUpdater.app"
    make_app(root, updater, {"CFBundleIdentifier": "com.google.GoogleUpdater"})
    # an old kext with its Info.plist at the top, a staged kext, old receipt bundles
    write_plist(
        root / "Library/Extensions/OldDriver.kext/Info.plist", {"CFBundleIdentifier": "com.old.driver"}
    )
    make_app(root, "Library/StagedExtensions/Library/Extensions/Staged.kext", {"CFBundleIdentifier": "com.s"})
    make_app(root, "Library/Receipts/OldInstaller.pkg", {"CFBundleIdentifier": "com.old.installer"})
    (root / "Library/Receipts/Bare.pkg").mkdir(parents=True)
    # var is a link to private/var on every Mac; ByHost preferences are named after the hardware
    link(root, "var", "private/var")
    write_plist(root / f"Library/Preferences/ByHost/com.apple.loginwindow.{MAC_UUID}.plist", {})
    write_plist(root / f"Users/ivan/Library/Preferences/ByHost/com.apple.screensaver.{MAC_UUID}.plist", {})


@pytest.fixture(scope="module")
def macos_roots(tmp_path_factory: pytest.TempPathFactory, certs: dict[str, bytes]) -> list[Path]:
    roots = []
    for kaspersky in (True, False):
        root = build_macos_root(tmp_path_factory.mktemp("mac") / "root", kaspersky=kaspersky)
        macos_extras(root, certs)
        roots.append(root)
    return roots


def test_macos_roots_scan_alike(macos_roots: list[Path], tmp_path: Path) -> None:
    assert_scans_alike(macos_roots, tmp_path, "macos")


def test_macos_copy_leaves_out_what_no_collector_reads(macos_roots: list[Path], tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    copy_selected(macos_roots[0], copy, selector("macos"))
    assert (copy / "Applications/Kaspersky Anti-Virus.app/Contents/Info.plist").is_file()
    for unread in (
        "Applications/Safari.app/Contents/MacOS",
        "Library/Application Support/Kaspersky Lab/KAV/Binaries/config.xml",
        "private/var/db/receipts/com.kaspersky.kav.core.bom",
        "Users/ivan/Library/Application Support/Google/Chrome/Local State",
    ):
        assert not (copy / unread).exists(), unread


def test_macos_identity_needs_only_detection(macos_roots: list[Path], tmp_path: Path) -> None:
    assert_identity_alike(macos_roots[0], tmp_path)
    assert machine_id(context(macos_roots[0])) == MAC_UUID


def windows_extras(root: Path, certs: dict[str, bytes]) -> None:
    from windows_root import cert_blob, cert_thumbprint, merge, reg_binary, reg_string, root_certificate_der

    merge(
        root / "Windows/System32/config/SOFTWARE",
        r"HKEY_LOCAL_MACHINE\SOFTWARE",
        [(r"Microsoft\Cryptography", {"MachineGuid": reg_string(WINDOWS_GUID)})],
    )
    # a second profile with its own hive; the link Windows keeps beside profiles
    (root / "Users/bob").mkdir()
    ntuser = root / "Users/bob/NTUSER.DAT"
    shutil.copyfile(root / "Users/alice/NTUSER.DAT", ntuser)
    store = rf"Software\Microsoft\SystemCertificates\Root\Certificates\{cert_thumbprint()}"
    merge(ntuser, "HKEY_CURRENT_USER", [(store, {"Blob": reg_binary(cert_blob(root_certificate_der()))})])
    (root / "Users/All Users").symlink_to("/ProgramData")
    write(root, "Users/alice/AppData/Local/Microsoft/Windows/UsrClass.dat", b"regf")
    # browsers, in folders whose case differs from the usual
    edge = root / "Users/bob/AppData/Local/microsoft/EDGE/user data/Default/Extensions"
    chrome_extension(edge, EDGE_ID, "1.57.2", "uBlock Origin")
    chrome = root / "Users/alice/AppData/Local/Google/Chrome/User Data/Profile 3/Extensions"
    chrome_extension(chrome, KASPERSKY_CHROME_ID, "20.0.543.1521", "KP", locales=True)
    firefox_profile(root / "Users/bob/AppData/Roaming/mozilla/firefox/profiles/zz9.default", "u@b", "uB")
    profile = root / "Users/alice/AppData/Roaming/Mozilla/Firefox/Profiles/p1.default-release"
    firefox_profile(profile, "kav@kaspersky", "KP")
    cert9(profile / "cert9.db", certs["k_der"])
    # a program's own files beside the product folders
    write(root, "Program Files/7-Zip/7z.dll", b"MZ")


@pytest.fixture(scope="module")
def windows_roots(
    tmp_path_factory: pytest.TempPathFactory, shared_fixtures: Path, certs: dict[str, bytes]
) -> list[Path]:
    from windows_root import build_windows_root

    roots = []
    for kaspersky in (True, False):
        root = build_windows_root(
            tmp_path_factory.mktemp("win") / "root", shared_fixtures, kaspersky=kaspersky
        )
        windows_extras(root, certs)
        roots.append(root)
    return roots


@pytest.mark.needs_shared
@pytest.mark.needs_hivex
class TestWindows:
    def test_roots_scan_alike(self, windows_roots: list[Path], tmp_path: Path) -> None:
        assert_scans_alike(windows_roots, tmp_path, "windows")

    def test_copy_leaves_out_what_no_collector_reads(self, windows_roots: list[Path], tmp_path: Path) -> None:
        copy = tmp_path / "copy"
        copy_selected(windows_roots[0], copy, selector("windows"))
        assert (copy / "Users/bob/NTUSER.DAT").is_file() and (copy / "Users/All Users").is_symlink()
        for unread in (
            "Program Files/7-Zip/7z.dll",
            "Program Files (x86)/Kaspersky Lab/NetworkAgent/klnagent.exe",
            "Users/alice/AppData/Local/Microsoft/Windows/UsrClass.dat",
        ):
            assert not (copy / unread).exists(), unread

    def test_identity_needs_only_detection(self, windows_roots: list[Path], tmp_path: Path) -> None:
        assert_identity_alike(windows_roots[0], tmp_path)
        assert machine_id(context(windows_roots[0])) == WINDOWS_GUID.strip("{}").lower()
