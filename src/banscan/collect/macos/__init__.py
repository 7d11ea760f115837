"""macOS collectors: apps, installer receipts, launchd jobs, system/kernel extensions and
vendor folders. Browser extensions are collected for every OS in banscan.collect.browsers."""

from __future__ import annotations

from banscan.collect.base import Collector
from banscan.collect.macos.apps import MacApps
from banscan.collect.macos.extensions import MacExtensions
from banscan.collect.macos.launchd import MacLaunchd
from banscan.collect.macos.receipts import MacReceipts
from banscan.collect.macos.support import MacSupportFolders

COLLECTORS: list[Collector] = [MacApps(), MacReceipts(), MacLaunchd(), MacExtensions(), MacSupportFolders()]

__all__ = ["COLLECTORS", "MacApps", "MacExtensions", "MacLaunchd", "MacReceipts", "MacSupportFolders"]
