"""Build a small but realistic macOS root (as a mounted disk would look) for tests.

`build_macos_root(path)` lays out a Mac with several Kaspersky items; with
`kaspersky=False` the same Mac without them. Identifiers used for Kaspersky items:
com.kaspersky.kav (app), com.kaspersky.kav_agent (menu-bar agent), com.kaspersky.kav.core
(installer receipt), com.kaspersky.kav.plist (launchd job), com.kaspersky.kav.sysext with
Team ID 2Y8XE5CQ94 (system extension), Chrome extension amkpcclbbgegoafihnpgomddadjhcadd
"Kaspersky Protection" 20.0.543.1521, and the folder /Library/Application Support/Kaspersky Lab/KAV.
Version numbers, paths inside bundles and other field values are fixture choices.
"""

from __future__ import annotations

import datetime as dt
import json
import plistlib
from pathlib import Path
from typing import Any

HOST_NAME = "Ivans-MacBook-Pro"
USER = "ivan"

KAV_APP = "Applications/Kaspersky Anti-Virus.app"
SAFE_KIDS_APP = "Applications/Kaspersky Safe Kids.app"
CYRILLIC_APP = f"Users/{USER}/Applications/Антивирус Касперского.app"
KAV_AGENT_APP = "Library/Application Support/Kaspersky Lab/KAV/Applications/Kaspersky Anti-Virus Agent.app"
KASPERSKY_CHROME_ID = "amkpcclbbgegoafihnpgomddadjhcadd"
UBLOCK_CHROME_ID = "cjpalhdlnbpafiamejdnhcphjbkeiagm"
SYSEXT_UUID = "5E8A3F61-2C0B-4D7E-9F14-8B2D6A1C3E90"
LULU_UUID = "0B6F1D2A-7C3E-4A5B-8D9E-1F2A3B4C5D6E"


def write_plist(path: Path, value: Any, *, binary: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = plistlib.FMT_BINARY if binary else plistlib.FMT_XML
    path.write_bytes(plistlib.dumps(value, fmt=fmt))
    return path


def write_json(path: Path, value: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=3, ensure_ascii=False), encoding="utf-8")
    return path


def make_app(root: Path, rel: str, info: dict[str, Any], *, binary: bool = False) -> Path:
    app = root / rel
    write_plist(app / "Contents" / "Info.plist", {"CFBundlePackageType": "APPL", **info}, binary=binary)
    exe = info.get("CFBundleExecutable")
    if isinstance(exe, str):
        (app / "Contents" / "MacOS").mkdir(parents=True, exist_ok=True)
        (app / "Contents" / "MacOS" / exe).write_bytes(b"\xcf\xfa\xed\xfe")  # Mach-O magic only
    return app


def _ordinary(root: Path) -> None:
    write_plist(
        root / "System/Library/CoreServices/SystemVersion.plist",
        {"ProductName": "macOS", "ProductVersion": "14.4.1", "ProductBuildVersion": "23E224"},
    )
    write_plist(
        root / "Library/Preferences/SystemConfiguration/preferences.plist",
        {"System": {"System": {"ComputerName": HOST_NAME, "ComputerNameEncoding": 0}}},
    )
    make_app(
        root,
        "Applications/Safari.app",
        {
            "CFBundleIdentifier": "com.apple.Safari",
            "CFBundleName": "Safari",
            "CFBundleShortVersionString": "17.4.1",
            "CFBundleVersion": "19618.1.15.11.14",
            "CFBundleExecutable": "Safari",
            "NSHumanReadableCopyright": "Copyright © 2003-2024 Apple Inc. All rights reserved.",
        },
    )
    make_app(
        root,
        "Applications/Firefox.app",
        {
            "CFBundleIdentifier": "org.mozilla.firefox",
            "CFBundleName": "Firefox",
            "CFBundleShortVersionString": "124.0.2",
            "CFBundleVersion": "12424.4.4",
            "CFBundleExecutable": "firefox",
        },
        binary=True,
    )
    make_app(
        root,
        "Applications/Utilities/Keka.app",
        {
            "CFBundleIdentifier": "com.aone.keka",
            "CFBundleName": "Keka",
            "CFBundleShortVersionString": "1.3.7",
        },
    )
    write_plist(
        root / "private/var/db/receipts/org.mozilla.firefox.plist",
        {
            "PackageIdentifier": "org.mozilla.firefox",
            "PackageVersion": "124.0.2",
            "InstallDate": dt.datetime(2024, 4, 10, 9, 30),
            "InstallPrefixPath": "/",
            "InstallProcessName": "installer",
        },
        binary=True,
    )
    write_plist(
        root / "Library/LaunchDaemons/com.google.keystone.daemon.plist",
        {
            "Label": "com.google.keystone.daemon",
            "Program": "/Library/Google/GoogleSoftwareUpdate/GoogleSoftwareUpdate.bundle/Contents/Helpers/"
            "GoogleSoftwareUpdateDaemon",
            "MachServices": {"com.google.Keystone.Daemon.UpdateEngine": True},
        },
        binary=True,
    )
    write_plist(
        root / f"Users/{USER}/Library/LaunchAgents/com.dropbox.DropboxMacUpdate.agent.plist",
        {
            "Label": "com.dropbox.DropboxMacUpdate.agent",
            "ProgramArguments": [
                "/Users/ivan/Library/DropboxHelperTools/DropboxMacUpdate.app/Contents/MacOS/x"
            ],
            "RunAtLoad": True,
        },
    )
    make_app(
        root,
        f"Library/SystemExtensions/{LULU_UUID}/com.objective-see.lulu.extension.systemextension",
        {
            "CFBundleIdentifier": "com.objective-see.lulu.extension",
            "CFBundleName": "LuLu",
            "CFBundleShortVersionString": "2.6.1",
            "CFBundlePackageType": "SYSX",
        },
    )
    make_app(
        root,
        "Library/Extensions/SoftRAID.kext",
        {"CFBundleIdentifier": "com.softraid.driver.SoftRAID", "CFBundleShortVersionString": "8.0.1"},
    )
    make_app(
        root,
        "System/Library/Extensions/IOUSBHostFamily.kext",
        {"CFBundleIdentifier": "com.apple.iokit.IOUSBHostFamily", "CFBundleShortVersionString": "1.2"},
    )
    (root / "Library/Application Support/Apple/ParentalControls").mkdir(parents=True, exist_ok=True)
    (root / "Library/Application Support/Google/GoogleUpdater").mkdir(parents=True, exist_ok=True)
    (root / f"Users/{USER}/Library/Application Support/Slack").mkdir(parents=True, exist_ok=True)
    (root / "Users/Shared").mkdir(parents=True, exist_ok=True)

    chrome = root / f"Users/{USER}/Library/Application Support/Google/Chrome"
    ublock = chrome / "Default/Extensions" / UBLOCK_CHROME_ID / "1.57.2_0"
    write_json(
        ublock / "manifest.json",
        {
            "author": "Raymond Hill & contributors",
            "default_locale": "en",
            "name": "uBlock Origin",
            "manifest_version": 2,
            "update_url": "https://clients2.google.com/service/update2/crx",
            "version": "1.57.2",
        },
    )
    (chrome / "Default/Extensions/Temp").mkdir(parents=True, exist_ok=True)
    (chrome / "Local State").write_text("{}", encoding="utf-8")
    firefox = root / f"Users/{USER}/Library/Application Support/Firefox/Profiles/x8k2q1vd.default-release"
    write_json(
        firefox / "extensions.json", firefox_extensions_db(f"/Users/{USER}", "x8k2q1vd.default-release")
    )


def firefox_extensions_db(home: str, profile: str) -> dict[str, Any]:
    """A Firefox extensions.json with uBlock Origin, a built-in add-on and a theme."""
    base = f"{home}/Library/Application Support/Firefox/Profiles/{profile}/extensions"
    return {
        "schemaVersion": 35,
        "addons": [
            {
                "id": "uBlock0@raymondhill.net",
                "syncGUID": "{5d2b1c8e-3a4f-4b6d-9e0a-1c2d3e4f5a6b}",
                "version": "1.57.2",
                "type": "extension",
                "loader": None,
                "manifestVersion": 2,
                "defaultLocale": {
                    "name": "uBlock Origin",
                    "description": "Finally, an efficient blocker. Easy on CPU and memory.",
                    "creator": "Raymond Hill & contributors",
                },
                "visible": True,
                "active": True,
                "userDisabled": False,
                "location": "app-profile",
                "path": f"{base}/uBlock0@raymondhill.net.xpi",
                "sourceURI": "https://addons.mozilla.org/firefox/downloads/file/4261710/ublock_origin-1.57.2.xpi",
            },
            {
                "id": "formautofill@mozilla.org",
                "version": "1.0.1",
                "type": "extension",
                "defaultLocale": {"name": "Form Autofill", "creator": None},
                "active": True,
                "userDisabled": False,
                "location": "app-builtin",
            },
            {
                "id": "firefox-compact-dark@mozilla.org",
                "version": "1.2",
                "type": "theme",
                "defaultLocale": {"name": "Dark"},
                "location": "app-builtin",
            },
        ],
    }


def _kaspersky(root: Path) -> None:
    make_app(
        root,
        KAV_APP,
        {
            "CFBundleIdentifier": "com.kaspersky.kav",
            "CFBundleName": "Kaspersky Anti-Virus",
            "CFBundleDisplayName": "Kaspersky Anti-Virus",
            "CFBundleShortVersionString": "21.3.10.391",
            "CFBundleVersion": "21.3.10.391",
            "CFBundleExecutable": "Kaspersky Anti-Virus",
            "NSHumanReadableCopyright": "© 1997–2021 AO Kaspersky Lab. All Rights Reserved.",
        },
    )
    make_app(
        root,
        SAFE_KIDS_APP,
        {
            "CFBundleIdentifier": "com.kaspersky.safekids",
            "CFBundleName": "Kaspersky Safe Kids",
            "CFBundleShortVersionString": "1.0.5.2030",
            "CFBundleVersion": "2030",
            "NSHumanReadableCopyright": "Copyright © 2022 AO Kaspersky Lab.",
        },
        binary=True,
    )
    make_app(
        root,
        CYRILLIC_APP,
        {
            "CFBundleIdentifier": "com.kaspersky.kav",
            "CFBundleName": "Антивирус Касперского",
            "CFBundleShortVersionString": "19.0.0.186",
            "NSHumanReadableCopyright": "© 2019 АО «Лаборатория Касперского»",
        },
    )
    make_app(
        root,
        KAV_AGENT_APP,
        {
            "CFBundleIdentifier": "com.kaspersky.kav_agent",
            "CFBundleName": "Kaspersky Anti-Virus Agent",
            "CFBundleShortVersionString": "21.3.10.391",
            "LSUIElement": True,
        },
    )
    (root / "Library/Application Support/Kaspersky Lab/KAV/Binaries").mkdir(parents=True, exist_ok=True)
    (root / "Library/Application Support/Kaspersky Lab/KAV/Binaries/config.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<config/>\n', encoding="utf-8"
    )
    receipts = root / "private/var/db/receipts"
    write_plist(
        receipts / "com.kaspersky.kav.core.plist",
        {
            "PackageIdentifier": "com.kaspersky.kav.core",
            "PackageVersion": "21.3.10.391",
            "InstallDate": dt.datetime(2023, 11, 2, 14, 5, 11),
            "InstallPrefixPath": "/",
            "InstallProcessName": "installer",
            "PackageFileName": "kav.core.pkg",
        },
    )
    (receipts / "com.kaspersky.kav.core.bom").write_bytes(b"BOMStore\x00\x00\x00\x01")
    write_plist(
        root / "Library/Receipts/InstallHistory.plist",
        [
            {
                "date": dt.datetime(2023, 10, 1, 8, 0),
                "displayName": "macOS Sonoma 14.1",
                "displayVersion": "14.1",
                "processName": "softwareupdated",
            },
            {
                "date": dt.datetime(2023, 11, 2, 14, 5, 11),
                "displayName": "Kaspersky Anti-Virus",
                "displayVersion": "21.3.10.391",
                "packageIdentifiers": ["com.kaspersky.kav.core", "com.kaspersky.kav.uninstaller"],
                "processName": "installer",
            },
        ],
    )
    write_plist(
        root / "Library/LaunchDaemons/com.kaspersky.kav.plist",
        {
            "Label": "com.kaspersky.kav",
            "ProgramArguments": [
                "/Library/Application Support/Kaspersky Lab/KAV/Binaries/kav",
                "-r",
            ],
            "RunAtLoad": True,
            "KeepAlive": True,
        },
    )
    write_plist(
        root / "Library/LaunchAgents/com.kaspersky.kav_agent.plist",
        {
            "Label": "com.kaspersky.kav_agent",
            "Program": f"/{KAV_AGENT_APP}/Contents/MacOS/Kaspersky Anti-Virus Agent",
            "LimitLoadToSessionType": "Aqua",
        },
        binary=True,
    )
    sysext = root / "Library/SystemExtensions" / SYSEXT_UUID / "com.kaspersky.kav.sysext.systemextension"
    write_plist(
        sysext / "Contents/Info.plist",
        {
            "CFBundleIdentifier": "com.kaspersky.kav.sysext",
            "CFBundleName": "com.kaspersky.kav.sysext",
            "CFBundleShortVersionString": "21.3.10.391",
            "CFBundlePackageType": "SYSX",
        },
    )
    _kaspersky_chrome(root)


def _kaspersky_chrome(root: Path) -> None:
    ext = (
        root
        / f"Users/{USER}/Library/Application Support/Google/Chrome/Default/Extensions"
        / KASPERSKY_CHROME_ID
        / "20.0.543.1521_0"
    )
    write_json(
        ext / "manifest.json",
        {
            "background": {"scripts": ["background.js"]},
            "default_locale": "en",
            "description": "__MSG_appDescription__",
            "manifest_version": 2,
            "name": "__MSG_appName__",
            "version": "20.0.543.1521",
        },
    )
    write_json(
        ext / "_locales/en/messages.json",
        {
            "appName": {"message": "Kaspersky Protection"},
            "appDescription": {"message": "Protects you while you browse."},
        },
    )
    write_json(ext / "_locales/ru/messages.json", {"appName": {"message": "Kaspersky Protection"}})


def _system_extension_db(kaspersky: bool) -> dict[str, Any]:
    extensions: list[dict[str, Any]] = [
        {
            "identifier": "com.objective-see.lulu.extension",
            "teamID": "VBG97UB4TA",
            "state": "activated_enabled",
            "categories": ["com.apple.system_extension.network_extension"],
            "bundleVersion": {"CFBundleShortVersionString": "2.6.1", "CFBundleVersion": "2.6.1"},
            "container": {"bundlePath": "/Applications/LuLu.app"},
            "originPath": "/Applications/LuLu.app/Contents/Library/SystemExtensions/"
            "com.objective-see.lulu.extension.systemextension",
            "stagedBundleURL": {
                "relative": f"file:///Library/SystemExtensions/{LULU_UUID}/"
                "com.objective-see.lulu.extension.systemextension/"
            },
            "uniqueID": LULU_UUID,
        }
    ]
    if kaspersky:
        extensions.append(
            {
                "identifier": "com.kaspersky.kav.sysext",
                "teamID": "2Y8XE5CQ94",
                "state": "activated_enabled",
                "categories": [
                    "com.apple.system_extension.endpoint_security",
                    "com.apple.system_extension.network_extension",
                ],
                "bundleVersion": {
                    "CFBundleShortVersionString": "21.3.10.391",
                    "CFBundleVersion": "21.3.10.391",
                },
                "container": {"bundlePath": "/Applications/Kaspersky Anti-Virus.app"},
                "originPath": "/Applications/Kaspersky Anti-Virus.app/Contents/Library/SystemExtensions/"
                "com.kaspersky.kav.sysext.systemextension",
                "stagedBundleURL": {
                    "relative": f"file:///Library/SystemExtensions/{SYSEXT_UUID}/"
                    "com.kaspersky.kav.sysext.systemextension/"
                },
                "uniqueID": SYSEXT_UUID,
            }
        )
    return {"version": 1, "bootUUID": "A1B2C3D4-0000-4000-8000-000000000001", "extensions": extensions}


def build_macos_root(path: Path, *, kaspersky: bool = True) -> Path:
    """Create a macOS root at `path` (with several Kaspersky items unless kaspersky=False)."""
    path.mkdir(parents=True, exist_ok=True)
    _ordinary(path)
    write_plist(path / "Library/SystemExtensions/db.plist", _system_extension_db(kaspersky))
    if kaspersky:
        _kaspersky(path)
    return path
