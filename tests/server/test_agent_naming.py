"""`banscan agent --root` names a root exactly as `banscan scan --root` does: the root's own host
name (Linux /etc/hostname, Windows ComputerName, macOS computer name), its platform, and an
identifier from its own machine id (Linux machine-id, Windows MachineGuid, macOS hardware UUID
from the ByHost preference files), else a hash of its host name. Two images are two hosts, never
the scanning machine twice."""

from __future__ import annotations

import datetime as dt
import plistlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from banscan.catalog.loader import load_catalog
from banscan.catalog.schema import Catalog
from banscan.cli.agent import agent_command
from banscan.collect.detect import machine_id, make_context
from banscan.errors import ErrorSink
from banscan.scan import ScanOptions, run_scan
from banscan.server.agent import (
    AgentConfig,
    AgentState,
    HostIdentity,
    hostname_identifier,
    identify,
    run_agent,
)
from banscan.store.accounts import create_api_token
from macos_root import HOST_NAME as MAC_NAME
from macos_root import USER as MAC_USER
from macos_root import build_macos_root, write_plist
from windows_root import COMPUTER_NAME, build_windows_root, merge, reg_string

from .conftest import ENROLL_SECRET, Fleet, ServerProcess

GUID = "6F1C7A52-0B8E-4D3A-9C21-5E7D8F90A1B2"
MAC_UUID = "27074F01-7A93-5859-BAF3-0EB138E001D3"
OLD_MAC_UUID = "00000000-0000-1000-8000-001122334455"  # a home folder migrated from an older Mac
OTHER_PC = "FIN-LAPTOP-7"
OTHER_MAC = "Reception-iMac"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def scan_host(catalog: Catalog, root: Path) -> tuple[str, str]:
    """The host `banscan scan --root` names, and the platform of its target (`root:<os>`)."""
    result = run_scan(catalog, ScanOptions(as_of=dt.date(2025, 3, 3), echo_errors=False), roots=[root])
    assert len(result.hosts) == 1, result.hosts
    return result.hosts[0], result.targets[0].format.removeprefix("root:")


def windows_roots(base: Path, shared_fixtures: Path) -> tuple[Path, Path]:
    """KL-WKS-042 with a MachineGuid; FIN-LAPTOP-7 (no Kaspersky) without one."""
    first = build_windows_root(base / "win-a", shared_fixtures)
    software = first / "Windows" / "System32" / "config" / "SOFTWARE"
    merge(
        software,
        r"HKEY_LOCAL_MACHINE\SOFTWARE",
        [(r"Microsoft\Cryptography", {"MachineGuid": reg_string(GUID)})],
    )
    second = build_windows_root(base / "win-b", shared_fixtures, kaspersky=False)
    system = second / "Windows" / "System32" / "config" / "SYSTEM"
    name_key = r"ControlSet001\Control\ComputerName\ComputerName"
    merge(system, r"HKEY_LOCAL_MACHINE\SYSTEM", [(name_key, {"ComputerName": reg_string(OTHER_PC)})])
    return first, second


def mac_roots(base: Path) -> tuple[Path, Path]:
    """Ivans-MacBook-Pro with ByHost preferences named after its hardware UUID; Reception-iMac
    (no Kaspersky) without any."""
    first = build_macos_root(base / "mac-a")
    write_plist(first / f"Library/Preferences/ByHost/com.apple.loginwindow.{MAC_UUID}.plist", {})
    user_byhost = first / f"Users/{MAC_USER}/Library/Preferences/ByHost"
    write_plist(user_byhost / f"com.apple.screensaver.{MAC_UUID.lower()}.plist", {"idleTime": 300})
    write_plist(user_byhost / f"com.apple.Bluetooth.{MAC_UUID}.plist", {})
    write_plist(user_byhost / f"com.apple.iTunes.{OLD_MAC_UUID}.plist", {})
    write_plist(user_byhost / "com.apple.notes.plist", {})  # not per-host: no UUID in the name
    second = build_macos_root(base / "mac-b", kaspersky=False)
    prefs = second / "Library/Preferences/SystemConfiguration/preferences.plist"
    prefs.write_bytes(plistlib.dumps({"System": {"System": {"ComputerName": OTHER_MAC}}}))
    return first, second


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory, shared_fixtures: Path) -> dict[str, Path]:
    """Two Windows and two macOS images, built once for the module (nothing changes them)."""
    base = tmp_path_factory.mktemp("images")
    win_a, win_b = windows_roots(base, shared_fixtures)
    mac_a, mac_b = mac_roots(base)
    return {"win_a": win_a, "win_b": win_b, "mac_a": mac_a, "mac_b": mac_b}


def linux_root(path: Path, hostname: str | None = None) -> Path:
    (path / "etc").mkdir(parents=True)
    (path / "usr/bin").mkdir(parents=True)
    if hostname is not None:
        (path / "etc/hostname").write_text(hostname + "\n# comment\n")
    return path


def hosts_of(fleet: Fleet) -> dict[str, dict[str, Any]]:
    items = fleet.get("/api/v1/hosts", limit=100)["items"]
    return {h["hostname"]: h for h in items}


# ---------------------------------------------------------------- naming, as the scan does


def test_linux_root_identity(catalog: Catalog, tmp_path: Path) -> None:
    root = linux_root(tmp_path / "img")
    # no host name, no machine id: named after its folder (as the scan), identified by a hash
    assert scan_host(catalog, root) == ("img", "linux")
    assert identify(root) == HostIdentity("img", "linux", hostname_identifier("img"))

    (root / "etc/hostname").write_text("db-07\n# comment\n")
    assert identify(root) == HostIdentity("db-07", "linux", hostname_identifier("db-07"))
    assert scan_host(catalog, root) == ("db-07", "linux")
    assert hostname_identifier("DB-07") == hostname_identifier("db-07")  # host names ignore case

    (root / "var/lib/dbus").mkdir(parents=True)
    (root / "var/lib/dbus/machine-id").write_text("d" * 32 + "\n")
    assert identify(root).identifier == "d" * 32
    (root / "etc/machine-id").write_text("uninitialized\n")  # a golden image's: no id
    assert identify(root).identifier == "d" * 32
    (root / "etc/machine-id").write_text("E" * 32 + "\n")
    assert identify(root).identifier == "e" * 32
    # an absolute link in an image points into the image, never into the scanning machine
    (root / "etc/machine-id").unlink()
    (root / "etc/machine-id").symlink_to("/var/lib/dbus/machine-id")
    assert identify(root).identifier == "d" * 32
    (root / "etc/machine-id").unlink()
    (root / "etc/machine-id").symlink_to("/etc/machine-id")  # a loop
    assert identify(root).identifier == "d" * 32


def test_a_root_the_scan_cannot_read_is_named_after_its_folder(tmp_path: Path) -> None:
    root = tmp_path / "blank"
    root.mkdir()
    assert identify(root) == HostIdentity("blank", "", hostname_identifier("blank"))


def test_this_machine_is_named_as_the_scan_names_it() -> None:
    ctx = make_context(None, ErrorSink(echo=False))
    assert ctx is not None
    assert identify() == HostIdentity(ctx.host, ctx.os, machine_id(ctx))


@pytest.mark.needs_shared
@pytest.mark.needs_hivex
def test_windows_and_macos_roots_are_named_as_scan_names_them(
    catalog: Catalog, images: dict[str, Path]
) -> None:
    win_a, win_b, mac_a, mac_b = images["win_a"], images["win_b"], images["mac_a"], images["mac_b"]
    expected = {
        win_a: HostIdentity(COMPUTER_NAME, "windows", GUID.lower()),
        win_b: HostIdentity(OTHER_PC, "windows", hostname_identifier(OTHER_PC)),
        mac_a: HostIdentity(MAC_NAME, "macos", MAC_UUID),
        mac_b: HostIdentity(OTHER_MAC, "macos", hostname_identifier(OTHER_MAC)),
    }
    for root, identity in expected.items():
        assert scan_host(catalog, root) == (identity.hostname, identity.platform)
        assert identify(root) == identity


# ---------------------------------------------------------------- what the server is told


@pytest.mark.needs_shared
@pytest.mark.needs_hivex
def test_agent_enrols_each_root_as_its_own_host(
    sqlite_url: str, tmp_path: Path, images: dict[str, Path]
) -> None:
    win_a, win_b, mac_a, mac_b = images["win_a"], images["win_b"], images["mac_a"], images["mac_b"]
    fleet = Fleet(sqlite_url)
    other = Fleet(f"sqlite:///{tmp_path / 'other.db'}")
    try:

        def run(to: Fleet, root: Path, state: str, **more: Any) -> AgentState:
            cfg = AgentConfig(
                server="https://testserver",
                enroll_secret=ENROLL_SECRET,
                state_dir=tmp_path / state,
                once=True,
                root=root,
                checkin_interval=0,
                **more,
            )
            assert run_agent(cfg, client=to.client) == 0
            return AgentState.load(tmp_path / state)

        states = {root: run(fleet, root, f"state-{root.name}") for root in (win_a, win_b, mac_a, mac_b)}
        hosts = hosts_of(fleet)
        assert set(hosts) == {COMPUTER_NAME, OTHER_PC, MAC_NAME, OTHER_MAC}
        assert {n: h["platform"] for n, h in hosts.items()} == {
            COMPUTER_NAME: "windows",
            OTHER_PC: "windows",
            MAC_NAME: "macos",
            OTHER_MAC: "macos",
        }
        assert hosts[COMPUTER_NAME]["identifier"] == GUID.lower() == states[win_a].host_identifier
        assert hosts[MAC_NAME]["identifier"] == MAC_UUID == states[mac_a].host_identifier
        assert hosts[OTHER_PC]["identifier"] == hostname_identifier(OTHER_PC)
        assert hosts[OTHER_MAC]["identifier"] == hostname_identifier(OTHER_MAC)
        # the reports landed on the right hosts: Kaspersky on the two dirty images only
        assert hosts[COMPUTER_NAME]["worst_verdict"] == "covered"
        assert hosts[MAC_NAME]["worst_verdict"] == "covered"
        assert hosts[OTHER_PC]["worst_verdict"] != "covered"
        assert hosts[OTHER_MAC]["worst_verdict"] != "covered"
        # the stored result names the host as the enrolment did
        report = fleet.get(f"/api/v1/reports/{hosts[COMPUTER_NAME]['last_report_id']}")
        assert report["hosts"] == [COMPUTER_NAME]
        # the next run of an image posts to its host again
        assert run(fleet, win_b, f"state-{win_b.name}").host_id == states[win_b].host_id
        assert fleet.get("/api/v1/hosts")["total"] == 4

        # One state folder used for two roots (another server): the second root is another
        # host, not the first one again. --hostname renames it; its identifier is still its own.
        first = run(other, win_a, "shared")
        second = run(other, mac_a, "shared", hostname="ivan-laptop")
        assert second.host_id != first.host_id and second.host_identifier == MAC_UUID
        hosts = hosts_of(other)
        assert {n: (h["platform"], h["identifier"]) for n, h in hosts.items()} == {
            COMPUTER_NAME: ("windows", GUID.lower()),
            "ivan-laptop": ("macos", MAC_UUID),
        }
        report = other.get(f"/api/v1/reports/{hosts['ivan-laptop']['last_report_id']}")
        assert report["hosts"] == ["ivan-laptop"]  # the findings carry the name it enrolled with
    finally:
        fleet.close()
        other.close()


@pytest.mark.needs_shared
@pytest.mark.needs_hivex
def test_agent_command_against_a_server_process(
    sqlite_url: str, server_process: Callable[[str], ServerProcess], tmp_path: Path, images: dict[str, Path]
) -> None:
    """`banscan agent --root` as run from the command line: the enrolment names the image."""
    url = server_process(sqlite_url).start()
    for root in (images["win_a"], images["mac_a"]):
        code = agent_command(
            url,
            ENROLL_SECRET,
            once=True,
            state_dir=tmp_path / f"s-{root.name}",
            root=root,
            log_level="warning",
        )
        assert code == 0
    headers = {"Authorization": f"Bearer {create_api_token(sqlite_url, 'naming', 'viewer')}"}
    items = httpx.get(f"{url}/api/v1/hosts", headers=headers, timeout=10).json()["items"]
    assert {(h["hostname"], h["platform"], h["identifier"]) for h in items} == {
        (COMPUTER_NAME, "windows", GUID.lower()),
        (MAC_NAME, "macos", MAC_UUID),
    }
