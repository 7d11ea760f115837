"""Where registry data comes from: the live registry of this Windows machine, or the hive files
of a mounted root. Kept apart from the interface (view.py) so the two backends can depend on
the interface without the interface depending on them."""

from __future__ import annotations

import sys

from banscan.collect.base import CollectContext
from banscan.collect.windows.view import RegistryView


def open_view(ctx: CollectContext) -> RegistryView:
    """The live registry when scanning this Windows machine, otherwise the root's hive files."""
    if ctx.live and sys.platform == "win32":
        from banscan.collect.windows.live import LiveView

        return LiveView(ctx)
    from banscan.collect.windows.offline import OfflineView

    return OfflineView(ctx)
