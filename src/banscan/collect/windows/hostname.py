"""The computer name and machine GUID a Windows root records for itself, so reports name the
real host and an agent scanning the root enrols it as its own host."""

from __future__ import annotations

import re

from banscan.collect.base import CollectContext
from banscan.collect.windows.hives import open_view
from banscan.collect.windows.view import current_control_set, find, text, values_of

COMPUTER_NAME_KEY = r"Control\ComputerName\ComputerName"
CRYPTOGRAPHY_KEY = r"Microsoft\Cryptography"
_GUID = re.compile(r"^\{?[0-9A-Fa-f]{8}(-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}\}?$")


def windows_host_name(ctx: CollectContext) -> str | None:
    """`ComputerName` from the SYSTEM hive's current control set; None if unreadable."""
    for hive in open_view(ctx).hives("system"):
        key = find(ctx, hive, f"{current_control_set(ctx, hive)}\\{COMPUTER_NAME_KEY}")
        if key is None:
            continue
        name = text((values_of(ctx, hive, key) or {}).get("ComputerName"))
        if name:
            return name
    return None


def windows_machine_guid(ctx: CollectContext) -> str | None:
    """`MachineGuid` from the SOFTWARE hive (`Microsoft\\Cryptography`), set when Windows is
    installed; None if absent, unreadable or not a GUID."""
    for hive in open_view(ctx).hives("software"):
        key = find(ctx, hive, CRYPTOGRAPHY_KEY)
        if key is None:
            continue
        guid = text((values_of(ctx, hive, key) or {}).get("MachineGuid"))
        if guid and _GUID.match(guid):
            return guid.strip("{}").lower()
    return None
