"""The computer name a Windows root records for itself, so reports name the real host."""

from __future__ import annotations

from banscan.collect.base import CollectContext
from banscan.collect.windows.hives import open_view
from banscan.collect.windows.view import current_control_set, find, text, values_of

COMPUTER_NAME_KEY = r"Control\ComputerName\ComputerName"


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
