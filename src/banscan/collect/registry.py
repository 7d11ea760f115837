"""All collectors, by operating system. Adding a source is adding a module and a line here."""

from __future__ import annotations

from collections.abc import Iterator

from banscan.collect.base import CollectContext, Collector
from banscan.models import InventoryRecord


def all_collectors() -> list[Collector]:
    from banscan.collect import browsers, linux, macos, windows
    from banscan.collect.certstores import CERT_COLLECTORS

    return [*linux.COLLECTORS, *windows.COLLECTORS, *macos.COLLECTORS, *browsers.COLLECTORS, *CERT_COLLECTORS]


def collectors_for(ctx: CollectContext, extra: list[Collector] | None = None) -> list[Collector]:
    chosen = [*all_collectors(), *(extra or [])]
    return [c for c in chosen if ctx.os in c.os and (ctx.live or not c.live_only)]


def collect_system(ctx: CollectContext, extra: list[Collector] | None = None) -> Iterator[InventoryRecord]:
    """Run every collector that fits the system; one failing collector never stops the rest."""
    for collector in collectors_for(ctx, extra):
        try:
            yield from collector.collect(ctx)
        except Exception as exc:  # noqa: BLE001 - a collector bug must not end the scan
            ctx.errors.report(f"<collector {collector.name}>", None, f"{type(exc).__name__}: {exc}")
