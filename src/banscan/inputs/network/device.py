"""What the network readers share: the IEEE registry for the run and one device record."""

from __future__ import annotations

from collections.abc import Sequence

from banscan.errors import ErrorSink
from banscan.inputs.oui import OuiRegistry, RegistryError, default_registry, mac_extras
from banscan.models import InventoryRecord, RecordKind, Source

DEVICE_NAME = "network device"  # the name of a device nothing names better


def registry_for(errors: ErrorSink, filename: str) -> OuiRegistry | None:
    """The IEEE registry, or None (reported against the input) where a named one is unreadable."""
    try:
        return default_registry()
    except RegistryError as exc:
        errors.report(filename, None, f"MAC addresses not resolved: {exc}")
        return None


def device_record(
    *,
    host: str,
    collector: str,
    location: str,
    name: str | None,
    mac: str | None = None,
    registry: OuiRegistry | None = None,
    publisher: str | None = None,
    version: str | None = None,
    cpe: str | None = None,
    extra: Sequence[tuple[str, str | None]] = (),
) -> InventoryRecord:
    """A DEVICE record; empty extras are dropped and the MAC's registry extras added."""
    extras = [(k, v.strip()) for k, v in extra if v and v.strip()]
    extras += mac_extras(mac, registry)
    return InventoryRecord(
        host=host,
        source=Source(collector, location),
        kind=RecordKind.DEVICE,
        name=(name or "").strip() or DEVICE_NAME,
        version=version or None,
        publisher=publisher or None,
        cpe=cpe or None,
        extra=tuple(extras),
    )


def shown(text: str, limit: int = 60) -> str:
    """A value quoted for an error line, cut to `limit` characters."""
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= limit else flat[: limit - 1] + "…")
