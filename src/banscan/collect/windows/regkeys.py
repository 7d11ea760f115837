"""Vendor keys under SOFTWARE: they outlive uninstalls, so their presence is remnant evidence.

Every top-level `SOFTWARE\\<Vendor>` (native, WOW6432Node, and each user's `Software`) is
reported by name; the catalog decides which vendors matter. Under a vendor key, the
per-product subkeys of a `protected` key are reported too, with their update and licence
status values (read from the product key or its `Data` subkey) when present.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import ClassVar

from banscan.collect.base import OS, CollectContext
from banscan.collect.windows.hives import open_view
from banscan.collect.windows.view import (
    Hive,
    HiveError,
    HiveKind,
    RegKey,
    RegValue,
    children,
    find,
    report_hive_error,
    text,
    values_of,
)
from banscan.models import InventoryRecord, RecordKind, Source

PRODUCTS_KEY = "protected"
STATUS_VALUES = {
    "LastSuccessfulUpdate": "last_successful_update",
    "LicKeyType": "licence_key_type",
    "LicDaysTillExpiration": "licence_days_left",
}
SKIP_TOP = frozenset({"wow6432node", "classes"})  # a view of the tree / file associations, not vendors
_EPOCH_MIN, _EPOCH_MAX = 946684800, 4102444800  # 2000..2100: plausible Unix times only


class RegistryKeysCollector:
    name: ClassVar[str] = "windows-registry-keys"
    os: ClassVar[tuple[OS, ...]] = ("windows",)
    live_only: ClassVar[bool] = False
    reads: ClassVar[tuple[str, ...]] = (
        "Windows/System32/config",
        "Windows/System32/config/SOFTWARE",
        "Users/*/",
        "Users/*/NTUSER.DAT",
    )

    def collect(self, ctx: CollectContext) -> Iterator[InventoryRecord]:
        view = open_view(ctx)
        places: tuple[tuple[HiveKind, tuple[str, ...]], ...] = (
            ("software", ("", "WOW6432Node")),
            ("user", ("Software", r"Software\WOW6432Node")),
        )
        for kind, bases in places:
            for hive in view.hives(kind):
                for base in bases:
                    parent = hive.root if not base else find(ctx, hive, base)
                    for vendor in children(ctx, hive, parent):
                        if vendor.name.lower() in SKIP_TOP:
                            continue
                        rel = f"{base}\\{vendor.name}" if base else vendor.name
                        yield self._record(ctx, hive, rel, vendor.name, {}, None)
                        yield from self._products(ctx, hive, rel, vendor)

    def _products(
        self, ctx: CollectContext, hive: Hive, rel: str, vendor: RegKey
    ) -> Iterator[InventoryRecord]:
        try:
            products = vendor.subkey(PRODUCTS_KEY)
        except HiveError as exc:
            report_hive_error(ctx, hive, str(exc))
            return
        for product in children(ctx, hive, products):
            prel = f"{rel}\\{PRODUCTS_KEY}\\{product.name}"
            values = dict(values_of(ctx, hive, product) or {})
            data = find(ctx, hive, f"{prel}\\Data")
            if data is not None:
                values.update(values_of(ctx, hive, data) or {})
            yield self._record(ctx, hive, prel, product.name, values, vendor.name)

    def _record(
        self,
        ctx: CollectContext,
        hive: Hive,
        rel: str,
        name: str,
        values: dict[str, RegValue],
        vendor: str | None,
    ) -> InventoryRecord:
        extra: list[tuple[str, str]] = [("key", hive.key_path(rel))]
        if vendor:
            extra.append(("vendor_key", vendor))
        for value_name, field in STATUS_VALUES.items():
            value = values.get(value_name)
            shown = text(value)
            if shown is None:
                continue
            extra.append((field, shown))
            if (
                value_name == "LastSuccessfulUpdate"
                and isinstance(value, int)
                and _EPOCH_MIN < value < _EPOCH_MAX
            ):
                when = dt.datetime.fromtimestamp(value, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                extra.append((f"{field}_utc", when))
        if hive.user:
            extra.append(("user", hive.user))
        root = "SOFTWARE" if hive.kind == "software" else ""
        path = f"{root}\\{rel}" if root else rel
        return InventoryRecord(
            host=ctx.host,
            source=Source(self.name, hive.source(rel)),
            kind=RecordKind.REGISTRY_KEY,
            name=name,
            path=path,
            extra=tuple(extra),
        )
