"""NetBox's device list exported to CSV (Devices → Export): one device a row.

The export's headers are the device table's column names (NetBox's `dcim/tables/devices.py`,
`DeviceTable`): `Name, Status, Tenant, Site, Location, Rack, Role, Manufacturer, Type, IP Address`
by default, and `Platform, Serial number, Asset tag, IPv4 Address, IPv6 Address …` when shown; the
field names (`device_role`, `device_type`, `primary_ip4` …) are accepted too, as headers are
compared without case, spaces or underscores. The device is the host (`Name`, else its IP
address); `Type` (the device type, a model) is its name and `Manufacturer` its maker, which the
matcher compares with covered entities as it does a program's publisher. The device export holds
no MAC addresses (interfaces carry them): read an interface export, or any CMDB, as generic CSV
with a `mac` column (`--columns host=Device,mac=MAC Address`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from banscan.errors import ErrorSink
from banscan.inputs.base import InputReader
from banscan.inputs.csvexport import CsvReader, Plan, PlanError, Values, make_plan
from banscan.inputs.network.device import device_record
from banscan.models import InventoryRecord


class NetboxDevicesReader(CsvReader):
    """NetBox device list CSV export (see the module's description)."""

    name: ClassVar[str] = "netbox-csv"
    label: ClassVar[str] = "NetBox"
    FIELDS: ClassVar[Mapping[str, Sequence[str]]] = {
        "host": ("name", "devicename"),
        "name": ("type", "devicetype"),
        "publisher": ("manufacturer",),
    }
    EXTRAS: ClassVar[Mapping[str, Sequence[str]]] = {
        "ip": (
            "ipaddress",
            "primaryip",
            "ipv4address",
            "primaryipv4",
            "primaryip4",
            "ipv6address",
            "primaryip6",
        ),
        "status": ("status",),
        "tenant": ("tenant",),
        "site": ("site",),
        "location": ("location",),
        "rack": ("rack",),
        "role": ("role", "devicerole"),
        "platform": ("platform",),
        "serial": ("serialnumber", "serial"),
        "asset_tag": ("assettag",),
    }
    _SITE_KEYS: ClassVar[frozenset[str]] = frozenset(
        {"site", "rack", "role", "devicerole", "tenant", "location"}
    )

    def score(self, keys: set[str]) -> int:
        if (
            "manufacturer" in keys
            and keys & {"type", "devicetype"}
            and "name" in keys
            and keys & self._SITE_KEYS
        ):
            return 85
        return 0

    def plan(self, keys: list[str]) -> Plan:
        plan = make_plan(keys, self.FIELDS, self.EXTRAS)
        if "name" not in plan.fields and "publisher" not in plan.fields:
            raise PlanError("no NetBox device type ('Type') or 'Manufacturer' column in the header")
        return plan

    def record(
        self,
        values: Values,
        extras: list[tuple[str, str]],
        location: str,
        errors: ErrorSink,
        default_host: str,
        collector: str | None = None,
    ) -> InventoryRecord | None:
        ip = next((v for k, v in extras if k == "ip"), None)
        host = values.get("host") or (ip.split("/", 1)[0] if ip else None) or default_host
        if not (values.get("name") or values.get("publisher")):
            return None  # a row without a type or maker says nothing about what the device is
        return device_record(
            host=host,
            collector=collector or self.name,
            location=location,
            name=values.get("name"),
            publisher=values.get("publisher"),
            extra=extras,
        )


READERS: list[InputReader] = [NetboxDevicesReader()]
