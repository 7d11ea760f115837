"""Which operating system a root holds, what the host is called, and its machine id.

Layout detection looks for files only that OS has, so a copied root or a mounted image
is scanned with the right collectors without the user saying what it is. `banscan scan` and
`banscan agent` both name a system here, so a root is the same host to either.
"""

from __future__ import annotations

import platform
import plistlib
import re
import socket
from pathlib import Path

from banscan.collect import fs
from banscan.collect.base import OS, CollectContext
from banscan.errors import ErrorSink


def _ci_child(parent: Path, name: str) -> Path | None:
    """Find a child case-insensitively (Windows roots copied to Linux keep their case)."""
    direct = parent / name
    if direct.exists():
        return direct
    try:
        for entry in parent.iterdir():
            if entry.name.lower() == name.lower():
                return entry
    except OSError:
        return None
    return None


def ci_path(root: Path, *parts: str) -> Path | None:
    """Case-insensitive path lookup under `root`; None if any part is missing."""
    cur: Path | None = root
    for part in parts:
        if cur is None:
            return None
        cur = _ci_child(cur, part)
    return cur


def detect_os(root: Path) -> OS | None:
    """Guess the layout of a root: Windows, macOS or Linux; None if none fits."""
    if ci_path(root, "Windows", "System32", "config") is not None:
        return "windows"
    if (root / "System" / "Library" / "CoreServices" / "SystemVersion.plist").exists() or (
        (root / "Applications").is_dir() and (root / "Library").is_dir()
    ):
        return "macos"
    if (root / "etc").is_dir() and any(
        (root / p).exists()
        for p in ("var/lib/dpkg", "var/lib/rpm", "usr/lib", "usr/bin", "etc/os-release", "opt")
    ):
        return "linux"
    return None


def live_os() -> OS:
    system = platform.system()
    if system == "Windows":
        return "windows"
    if system == "Darwin":
        return "macos"
    return "linux"


def host_name(ctx: CollectContext) -> str:
    """The scanned system's own name where it records one, else the root folder's name."""
    if ctx.live:
        return socket.gethostname()
    if ctx.os == "linux":
        text = fs.read_text(ctx, ctx.path("etc/hostname"), limit=4096)
        if text and text.strip():
            return text.strip().splitlines()[0].strip()
    elif ctx.os == "macos":
        data = fs.read_bytes(
            ctx, ctx.path("Library/Preferences/SystemConfiguration/preferences.plist"), limit=1 << 20
        )
        if data:
            try:
                prefs = plistlib.loads(data)
                system = prefs.get("System", {}).get("System", {})
                name = system.get("ComputerName") or system.get("HostName")
                if isinstance(name, str) and name:
                    return name
            except Exception:  # noqa: BLE001 - a bad plist only costs the host name
                pass
    elif ctx.os == "windows":
        from banscan.collect.windows.hostname import windows_host_name

        name = windows_host_name(ctx)
        if name:
            return name
    return ctx.root.resolve().name or str(ctx.root)


_MACHINE_ID = re.compile(r"^[0-9a-f]{32}$")
LINUX_MACHINE_ID_FILES = ("etc/machine-id", "var/lib/dbus/machine-id")


def machine_id(ctx: CollectContext) -> str | None:
    """The stable id the scanned system records for itself, or None where it records none:

    - Linux: /etc/machine-id, else /var/lib/dbus/machine-id (32 hex digits; the empty file or
      `uninitialized` of a golden image is no id);
    - Windows: `MachineGuid` of `HKLM\\SOFTWARE\\Microsoft\\Cryptography` (lower case, no braces);
    - macOS: the hardware UUID (IOPlatformUUID): from `ioreg` live, from the names of the
      ByHost preference files in a root.
    """
    if ctx.os == "linux":
        for rel in LINUX_MACHINE_ID_FILES:
            text = fs.read_text(ctx, ctx.path(rel), limit=4096)
            value = text.strip().lower() if text else ""
            if _MACHINE_ID.match(value):
                return value
        return None
    if ctx.os == "windows":
        from banscan.collect.windows.hostname import windows_machine_guid

        return windows_machine_guid(ctx)
    from banscan.collect.macos.hostid import platform_uuid

    return platform_uuid(ctx)


def make_context(root: Path | None, errors: ErrorSink, host: str | None = None) -> CollectContext | None:
    """Build the context for a live scan (root None) or an offline root; None if unrecognised."""
    if root is None:
        os_name = live_os()
        r = Path("C:\\") if os_name == "windows" else Path("/")
        ctx = CollectContext(root=r, os=os_name, host="", live=True, errors=errors)
    else:
        detected = detect_os(root)
        if detected is None:
            return None
        ctx = CollectContext(root=root, os=detected, host="", live=False, errors=errors)
    ctx.host = host or host_name(ctx)
    return ctx
