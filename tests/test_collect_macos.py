"""macOS collectors against a built macOS root: apps, receipts, launchd, extensions, folders."""

from __future__ import annotations

import os
import plistlib
from pathlib import Path

import pytest

from banscan.collect import macos
from banscan.collect.base import CollectContext, Collector
from banscan.collect.detect import make_context
from banscan.collect.macos.apps import MacApps
from banscan.collect.macos.extensions import MacExtensions
from banscan.collect.macos.launchd import MacLaunchd
from banscan.collect.macos.receipts import MacReceipts
from banscan.collect.macos.support import MacSupportFolders
from banscan.errors import ErrorSink
from banscan.models import InventoryRecord, RecordKind
from macos_root import (
    CYRILLIC_APP,
    HOST_NAME,
    KAV_APP,
    SAFE_KIDS_APP,
    SYSEXT_UUID,
    build_macos_root,
    make_app,
    write_plist,
)


def context(root: Path) -> CollectContext:
    ctx = make_context(root, ErrorSink(echo=False))
    assert ctx is not None
    return ctx


def run(collector: Collector, ctx: CollectContext) -> list[InventoryRecord]:
    return list(collector.collect(ctx))


def by_name(records: list[InventoryRecord], name: str) -> InventoryRecord:
    found = [r for r in records if r.name == name]
    assert len(found) == 1, [r.name for r in records]
    return found[0]


@pytest.fixture
def mac(tmp_path: Path) -> Path:
    return build_macos_root(tmp_path / "mac")


# --- detection and registration -----------------------------------------------------------


def test_root_is_detected_as_macos_with_its_computer_name(mac: Path) -> None:
    ctx = context(mac)
    assert ctx.os == "macos"
    assert ctx.host == HOST_NAME
    assert not ctx.live


def test_package_exports_one_instance_of_each_collector() -> None:
    names = [c.name for c in macos.COLLECTORS]
    assert names == [
        "macos-apps",
        "macos-receipts",
        "macos-launchd",
        "macos-extensions",
        "macos-support-folders",
    ]
    assert len(set(names)) == len(names)
    for c in macos.COLLECTORS:
        assert c.os == ("macos",)
        assert c.live_only is False


def test_whole_root_reads_without_errors(mac: Path) -> None:
    ctx = context(mac)
    records = [r for c in macos.COLLECTORS for r in c.collect(ctx)]
    assert records
    assert ctx.errors.lines == []
    assert all(r.host == HOST_NAME for r in records)


# --- apps ---------------------------------------------------------------------------------


def test_app_from_xml_info_plist(mac: Path) -> None:
    ctx = context(mac)
    kav = by_name(run(MacApps(), ctx), "Kaspersky Anti-Virus")
    assert kav.kind is RecordKind.APP
    assert kav.bundle_id == "com.kaspersky.kav"
    assert kav.version == "21.3.10.391"
    assert kav.path == "/" + KAV_APP
    assert kav.publisher == "AO Kaspersky Lab"
    assert kav.get("copyright") == "© 1997–2021 AO Kaspersky Lab. All Rights Reserved."
    assert kav.source.collector == "macos-apps"
    assert kav.source.location == f"/{KAV_APP}/Contents/Info.plist"


def test_app_from_binary_info_plist(mac: Path) -> None:
    assert plistlib.loads((mac / SAFE_KIDS_APP / "Contents/Info.plist").read_bytes())  # really binary
    assert (mac / SAFE_KIDS_APP / "Contents/Info.plist").read_bytes().startswith(b"bplist00")
    kids = by_name(run(MacApps(), context(mac)), "Kaspersky Safe Kids")
    assert kids.bundle_id == "com.kaspersky.safekids"
    assert kids.version == "1.0.5.2030"
    assert kids.get("bundle_version") == "2030"
    assert kids.publisher == "AO Kaspersky Lab"


def test_app_with_cyrillic_name_in_a_users_applications_folder(mac: Path) -> None:
    app = by_name(run(MacApps(), context(mac)), "Антивирус Касперского")
    assert app.bundle_id == "com.kaspersky.kav"
    assert app.version == "19.0.0.186"
    assert app.path == "/" + CYRILLIC_APP
    assert app.get("user") == "ivan"
    assert app.get("file_name") == "Антивирус Касперского.app"
    assert app.publisher == "АО «Лаборатория Касперского»"


def test_ordinary_apps_subfolders_and_vendor_helper_apps(mac: Path) -> None:
    records = run(MacApps(), context(mac))
    names = {r.name for r in records}
    assert {"Safari", "Firefox", "Keka", "Kaspersky Anti-Virus Agent"} <= names
    assert by_name(records, "Safari").publisher == "Apple Inc."
    assert by_name(records, "Firefox").version == "124.0.2"
    assert by_name(records, "Keka").path == "/Applications/Utilities/Keka.app"
    agent = by_name(records, "Kaspersky Anti-Virus Agent")
    assert agent.bundle_id == "com.kaspersky.kav_agent"


def test_system_applications_and_deep_folders_are_not_read(mac: Path) -> None:
    make_app(mac, "System/Applications/Calculator.app", {"CFBundleName": "Calculator"})
    make_app(mac, "Applications/A/B/Deep.app", {"CFBundleName": "Deep"})
    names = {r.name for r in run(MacApps(), context(mac))}
    assert "Calculator" not in names
    assert "Deep" not in names


def test_login_item_inside_an_app_is_reported(mac: Path) -> None:
    make_app(
        mac,
        f"{KAV_APP}/Contents/Library/LoginItems/KAV Launcher.app",
        {"CFBundleIdentifier": "com.kaspersky.kav.launcher", "CFBundleName": "KAV Launcher"},
    )
    rec = by_name(run(MacApps(), context(mac)), "KAV Launcher")
    assert rec.path == f"/{KAV_APP}/Contents/Library/LoginItems/KAV Launcher.app"


def test_app_without_info_plist_keeps_its_folder_name(mac: Path) -> None:
    (mac / "Applications/Bare.app/Contents").mkdir(parents=True)
    ctx = context(mac)
    rec = by_name(run(MacApps(), ctx), "Bare")
    assert rec.version is None and rec.bundle_id is None
    assert rec.source.location == "/Applications/Bare.app"
    assert ctx.errors.lines == []


def test_symlinked_app_is_reported_once(mac: Path) -> None:
    os.symlink("../Applications/Safari.app", mac / "Users/ivan/Applications/Safari.app")
    names = [r.name for r in run(MacApps(), context(mac))]
    assert names.count("Safari") == 1


# --- bad input in apps --------------------------------------------------------------------


def test_truncated_binary_info_plist_is_one_error_and_scan_goes_on(mac: Path) -> None:
    plist = mac / SAFE_KIDS_APP / "Contents/Info.plist"
    plist.write_bytes(plist.read_bytes()[:40])
    ctx = context(mac)
    records = run(MacApps(), ctx)
    assert len(ctx.errors.lines) == 1
    line = ctx.errors.lines[0]
    assert str(plist) in line
    assert "invalid plist" in line and "binary plist" in line
    kids = by_name(records, "Kaspersky Safe Kids")  # folder name is still evidence
    assert kids.bundle_id is None
    assert "Kaspersky Anti-Virus" in {r.name for r in records}


def test_non_utf8_xml_info_plist_is_one_error(mac: Path) -> None:
    plist = mac / "Applications/Legacy.app/Contents/Info.plist"
    plist.parent.mkdir(parents=True)
    plist.write_bytes(
        b'<?xml version="1.0" encoding="UTF-8"?>\n<plist version="1.0"><dict>\n'
        b"<key>CFBundleName</key><string>\xc0\xff Antivirus</string>\n</dict></plist>\n"
    )
    ctx = context(mac)
    records = run(MacApps(), ctx)
    assert len(ctx.errors.lines) == 1
    assert ctx.errors.lines[0].startswith(f"{plist}: invalid plist: not well-formed")
    assert by_name(records, "Legacy").bundle_id is None


def test_garbage_and_wrong_top_level_plists(mac: Path) -> None:
    junk = mac / "Applications/Junk.app/Contents/Info.plist"
    junk.parent.mkdir(parents=True)
    junk.write_bytes(b"\x00\x01\x02 not a plist at all")
    write_plist(mac / "Applications/List.app/Contents/Info.plist", ["CFBundleName", "x"])
    empty = mac / "Applications/Empty.app/Contents/Info.plist"
    empty.parent.mkdir(parents=True)
    empty.write_bytes(b"")
    ctx = context(mac)
    names = {r.name for r in run(MacApps(), ctx)}
    assert {"Junk", "List", "Empty"} <= names
    assert len(ctx.errors.lines) == 3
    assert all(": invalid plist: " in line for line in ctx.errors.lines)
    assert any("top level is an array" in line for line in ctx.errors.lines)
    assert any("file is empty" in line for line in ctx.errors.lines)


def test_info_plist_that_is_a_directory(mac: Path) -> None:
    bad = mac / "Applications/Odd.app/Contents/Info.plist"
    bad.mkdir(parents=True)
    ctx = context(mac)
    records = run(MacApps(), ctx)
    assert ctx.errors.lines == [f"{bad}: invalid plist: is a directory, not a file"]
    assert by_name(records, "Odd").version is None


def test_symlink_loops_inside_applications(mac: Path) -> None:
    os.symlink("Loop.app", mac / "Applications/Loop.app")
    os.symlink("PingB.app", mac / "Applications/PingA.app")
    os.symlink("PingA.app", mac / "Applications/PingB.app")
    ctx = context(mac)
    names = {r.name for r in run(MacApps(), ctx)}
    assert "Kaspersky Anti-Virus" in names and "Safari" in names
    assert not {"Loop", "PingA", "PingB"} & names
    assert len(ctx.errors.lines) == 3
    assert all("symbolic link loop" in line for line in ctx.errors.lines)


def test_links_never_leave_the_root(tmp_path: Path) -> None:
    mac = build_macos_root(tmp_path / "mac", kaspersky=False)
    outside = write_plist(tmp_path / "outside" / "Info.plist", {"CFBundleName": "OUTSIDE"})
    contents = mac / "Applications/Escape.app/Contents"
    contents.mkdir(parents=True)
    os.symlink("../../../../outside/Info.plist", contents / "Info.plist")
    os.symlink(str(outside.parent), mac / "Applications/Abs.app")
    ctx = context(mac)
    records = run(MacApps(), ctx)
    assert "OUTSIDE" not in {r.name for r in records}
    assert by_name(records, "Escape").bundle_id is None


def test_fifo_instead_of_info_plist_is_refused(mac: Path) -> None:
    contents = mac / "Applications/Pipe.app/Contents"
    contents.mkdir(parents=True)
    os.mkfifo(contents / "Info.plist")
    ctx = context(mac)
    records = run(MacApps(), ctx)  # must not block on the FIFO
    assert by_name(records, "Pipe").bundle_id is None
    assert len(ctx.errors.lines) == 1 and "not a regular file" in ctx.errors.lines[0]


# --- receipts -----------------------------------------------------------------------------


def test_package_receipt(mac: Path) -> None:
    records = run(MacReceipts(), context(mac))
    core = by_name(records, "com.kaspersky.kav.core")
    assert core.kind is RecordKind.RECEIPT
    assert core.bundle_id == "com.kaspersky.kav.core"
    assert core.version == "21.3.10.391"
    assert core.get("install_date") == "2023-11-02T14:05:11"
    assert core.get("package_file") == "kav.core.pkg"
    assert core.source.location == "/private/var/db/receipts/com.kaspersky.kav.core.plist"
    assert by_name(records, "org.mozilla.firefox").version == "124.0.2"  # binary receipt


def test_install_history_entries(mac: Path) -> None:
    records = run(MacReceipts(), context(mac))
    kav = by_name(records, "Kaspersky Anti-Virus")
    assert kav.kind is RecordKind.RECEIPT
    assert kav.version == "21.3.10.391"
    assert kav.get("package_ids") == "com.kaspersky.kav.core,com.kaspersky.kav.uninstaller"
    assert kav.bundle_id == "com.kaspersky.kav.core"
    assert kav.get("process_name") == "installer"
    assert kav.source.location == "/Library/Receipts/InstallHistory.plist[1]"
    update = by_name(records, "macOS Sonoma 14.1")
    assert update.get("package_ids") is None


def test_legacy_pkg_receipt_bundle(mac: Path) -> None:
    make_app(
        mac,
        "Library/Receipts/KasperskyAntiVirus.pkg",
        {"CFBundleIdentifier": "com.kaspersky.kav.pkg", "CFBundleShortVersionString": "8.0.0"},
    )
    rec = by_name(run(MacReceipts(), context(mac)), "com.kaspersky.kav.pkg")
    assert rec.version == "8.0.0"
    assert rec.path == "/Library/Receipts/KasperskyAntiVirus.pkg"


def test_receipts_without_private_folder_use_var(tmp_path: Path) -> None:
    mac = build_macos_root(tmp_path / "mac", kaspersky=False)
    (mac / "private/var/db/receipts").rename(mac / "private/var/db/moved")
    write_plist(
        mac / "var/db/receipts/com.kaspersky.kav.core.plist",
        {"PackageIdentifier": "com.kaspersky.kav.core", "PackageVersion": "21.0"},
    )
    assert by_name(run(MacReceipts(), context(mac)), "com.kaspersky.kav.core").version == "21.0"


def test_bad_receipts_and_history(mac: Path) -> None:
    bad = mac / "private/var/db/receipts/com.example.broken.plist"
    bad.write_bytes(b"bplist00\x00\x01")
    history = mac / "Library/Receipts/InstallHistory.plist"
    write_plist(history, [{"displayName": "Good", "displayVersion": "1"}, "junk", {"processName": "x"}])
    ctx = context(mac)
    records = run(MacReceipts(), ctx)
    assert by_name(records, "Good").version == "1"
    assert "com.kaspersky.kav.core" in {r.name for r in records}
    assert len(ctx.errors.lines) == 2
    assert ctx.errors.lines[0].startswith(f"{bad}: invalid plist:")
    assert ctx.errors.lines[1] == f"{history}:[1]: install entry is not a dictionary; skipped"


def test_install_history_that_is_not_an_array(mac: Path) -> None:
    history = write_plist(mac / "Library/Receipts/InstallHistory.plist", {"a": 1})
    ctx = context(mac)
    run(MacReceipts(), ctx)
    assert ctx.errors.lines == [f"{history}: invalid plist: top level is not an array of installs"]


# --- launchd ------------------------------------------------------------------------------


def test_launch_daemon_with_program_arguments(mac: Path) -> None:
    records = run(MacLaunchd(), context(mac))
    kav = by_name(records, "com.kaspersky.kav")
    assert kav.kind is RecordKind.SERVICE
    assert kav.bundle_id == "com.kaspersky.kav"
    assert kav.path == "/Library/Application Support/Kaspersky Lab/KAV/Binaries/kav"
    assert kav.get("arguments") == "-r"
    assert kav.get("scope") == "daemon"
    assert kav.get("run_at_load") == "true"
    assert kav.source.location == "/Library/LaunchDaemons/com.kaspersky.kav.plist"


def test_launch_agents_system_and_per_user(mac: Path) -> None:
    records = run(MacLaunchd(), context(mac))
    agent = by_name(records, "com.kaspersky.kav_agent")  # binary plist, Program key
    assert agent.get("scope") == "agent"
    assert agent.path is not None and agent.path.endswith("/Contents/MacOS/Kaspersky Anti-Virus Agent")
    dropbox = by_name(records, "com.dropbox.DropboxMacUpdate.agent")
    assert dropbox.get("user") == "ivan"
    keystone = by_name(records, "com.google.keystone.daemon")
    assert keystone.get("mach_services") == "com.google.Keystone.Daemon.UpdateEngine"


def test_launchd_job_without_label_and_broken_job(mac: Path) -> None:
    write_plist(mac / "Library/LaunchDaemons/com.example.nolabel.plist", {"Program": "/usr/local/bin/x"})
    broken = mac / "Library/LaunchDaemons/com.example.broken.plist"
    broken.write_bytes(b'<?xml version="1.0"?><plist><dict><key>Label</key>')
    ctx = context(mac)
    records = run(MacLaunchd(), ctx)
    assert by_name(records, "com.example.nolabel").bundle_id is None
    assert len(ctx.errors.lines) == 1 and ctx.errors.lines[0].startswith(f"{broken}: invalid plist:")
    assert "com.kaspersky.kav" in {r.name for r in records}


# --- system and kernel extensions ---------------------------------------------------------


def test_system_extension_from_db_plist_has_team_id(mac: Path) -> None:
    records = run(MacExtensions(), context(mac))
    sysext = by_name(records, "com.kaspersky.kav.sysext")  # staged bundle is not a duplicate
    assert sysext.kind is RecordKind.DRIVER
    assert sysext.bundle_id == "com.kaspersky.kav.sysext"
    assert sysext.team_id == "2Y8XE5CQ94"
    assert sysext.version == "21.3.10.391"
    assert sysext.get("state") == "activated_enabled"
    assert sysext.get("container") == "/Applications/Kaspersky Anti-Virus.app"
    assert sysext.path == (
        f"/Library/SystemExtensions/{SYSEXT_UUID}/com.kaspersky.kav.sysext.systemextension"
    )
    assert sysext.source.location == "/Library/SystemExtensions/db.plist:extensions[1]"
    assert by_name(records, "com.objective-see.lulu.extension").team_id == "VBG97UB4TA"


def test_staged_system_extension_missing_from_db_is_still_reported(mac: Path) -> None:
    make_app(
        mac,
        "Library/SystemExtensions/11111111-2222-3333-4444-555555555555/com.kaspersky.kav.netext.systemextension",
        {"CFBundleIdentifier": "com.kaspersky.kav.netext", "CFBundleShortVersionString": "21.3.10.391"},
    )
    rec = next(r for r in run(MacExtensions(), context(mac)) if r.bundle_id == "com.kaspersky.kav.netext")
    assert rec.team_id is None
    assert rec.get("type") == "system-extension"


def test_kernel_extensions_apple_ones_filtered_from_system_library(mac: Path) -> None:
    make_app(
        mac,
        "System/Library/Extensions/ThirdParty.kext",
        {"CFBundleIdentifier": "com.vendor.driver.ThirdParty", "CFBundleShortVersionString": "3.1"},
    )
    records = run(MacExtensions(), context(mac))
    ids = {r.bundle_id for r in records}
    assert "com.softraid.driver.SoftRAID" in ids
    assert "com.vendor.driver.ThirdParty" in ids
    assert "com.apple.iokit.IOUSBHostFamily" not in ids
    soft = next(r for r in records if r.bundle_id == "com.softraid.driver.SoftRAID")
    assert soft.get("type") == "kext" and soft.path == "/Library/Extensions/SoftRAID.kext"


def test_corrupt_db_plist_still_reads_bundles(mac: Path) -> None:
    db = mac / "Library/SystemExtensions/db.plist"
    db.write_bytes(db.read_bytes()[:-30])
    ctx = context(mac)
    records = run(MacExtensions(), ctx)
    assert len(ctx.errors.lines) == 1 and ctx.errors.lines[0].startswith(f"{db}: invalid plist:")
    sysext = next(r for r in records if r.bundle_id == "com.kaspersky.kav.sysext")
    assert sysext.team_id is None
    assert sysext.get("type") == "system-extension"


# --- Application Support folders ----------------------------------------------------------


def test_application_support_folders(mac: Path) -> None:
    records = run(MacSupportFolders(), context(mac))
    paths = {r.path for r in records}
    assert "/Library/Application Support/Kaspersky Lab" in paths
    assert "/Library/Application Support/Kaspersky Lab/KAV" in paths
    assert "/Library/Application Support/Kaspersky Lab/KAV/Binaries" not in paths  # no deep walk
    assert "/Users/ivan/Library/Application Support/Slack" in paths
    assert all(r.kind is RecordKind.PATH for r in records)
    kav = next(r for r in records if r.path == "/Library/Application Support/Kaspersky Lab/KAV")
    assert kav.name == "KAV"


# --- clean root ---------------------------------------------------------------------------


def test_clean_root_has_nothing_from_kaspersky(tmp_path: Path) -> None:
    ctx = context(build_macos_root(tmp_path / "clean", kaspersky=False))
    records = [r for c in macos.COLLECTORS for r in c.collect(ctx)]
    assert ctx.errors.lines == []
    assert {"Safari", "Firefox", "com.objective-see.lulu.extension"} <= {r.name for r in records}
    for r in records:
        text = " ".join(str(v) for v in (r.name, r.path, r.bundle_id, r.team_id, r.publisher, r.extra))
        assert "kaspersky" not in text.lower() and "2Y8XE5CQ94" not in text and "Касперск" not in text
