"""CSV inventory exports: Microsoft Intune, Configuration Manager, Jamf Pro, Defender TVM, generic.

Each format is recognised by its header (compared without case, spaces, underscores or hyphens,
so `DeviceId`/`DeviceID` and `Computer Name`/`ComputerName` are the same column) and turned
into one APP record per row, located as `file:LINE` (the line the row starts on). Columns a
format does not use, such as Intune's localised `*_loc` columns, are ignored. Encoding,
delimiter and row-level problems are handled in `banscan.inputs.csvsniff`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import BinaryIO, ClassVar

from banscan.errors import ErrorSink
from banscan.inputs.base import InputReader, head_of
from banscan.inputs.csvsniff import CsvTable, header_key, sniff_header
from banscan.inputs.oui import OuiRegistry
from banscan.models import InventoryRecord, RecordKind, Source

# Record fields a column map may name (`--columns host=Computer,name=App,...`), and the roles of a
# device inventory (a CMDB): a row with a `mac`, `model` or `manufacturer` column is a device.
MAP_FIELDS = (
    "host",
    "name",
    "publisher",
    "version",
    "path",
    "bundle_id",
    "kind",
    "mac",
    "model",
    "manufacturer",
)
DEVICE_ROLES = frozenset({"mac", "model", "manufacturer"})

Values = dict[str, str | None]


@dataclass(frozen=True, slots=True)
class Plan:
    """Which columns feed which record field (first non-empty candidate wins), and the extras."""

    fields: Mapping[str, tuple[int, ...]]
    extras: tuple[tuple[str, int], ...] = ()

    def pick(self, row: Sequence[str], nulls: frozenset[str]) -> tuple[Values, list[tuple[str, str]]]:
        values: Values = {}
        for field, cols in self.fields.items():
            values[field] = None
            for c in cols:
                v = row[c].strip()
                if v and v not in nulls:
                    values[field] = v
                    break
        extras = [
            (k, row[c].strip()) for k, c in self.extras if row[c].strip() and row[c].strip() not in nulls
        ]
        return values, extras


class PlanError(Exception):
    """The header lacks a column this format needs (message says which)."""


def _index(keys: Sequence[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for i, k in enumerate(keys):
        if k:
            out.setdefault(k, i)
    return out


def make_plan(
    keys: Sequence[str],
    fields: Mapping[str, Sequence[str]],
    extras: Mapping[str, Sequence[str]] | None = None,
    taken: frozenset[int] = frozenset(),
) -> Plan:
    """A plan from alias lists: for each field, the columns whose key is one of its aliases."""
    idx = _index(keys)
    plan_fields: dict[str, tuple[int, ...]] = {}
    for field, aliases in fields.items():
        cols = tuple(idx[a] for a in aliases if a in idx and idx[a] not in taken)
        if cols:
            plan_fields[field] = cols
    plan_extras = []
    for name, aliases in (extras or {}).items():
        for a in aliases:
            if a in idx:
                plan_extras.append((name, idx[a]))
                break
    return Plan(plan_fields, tuple(plan_extras))


class CsvReader:
    """A header-recognised CSV export; subclasses give the column aliases and the score."""

    name: ClassVar[str] = ""
    label: ClassVar[str] = ""
    FIELDS: ClassVar[Mapping[str, Sequence[str]]] = {}
    EXTRAS: ClassVar[Mapping[str, Sequence[str]]] = {}
    NULLS: ClassVar[frozenset[str]] = frozenset()
    # `adjust` names the host from extras when the host column is empty (the bulk path reads
    # such a file row by row)
    HOST_FROM_EXTRAS: ClassVar[bool] = False

    def score(self, keys: set[str]) -> int:
        return 0

    def sniff(self, head: bytes, filename: str) -> int:
        keys = sniff_header(head)
        return self.score(set(keys)) if keys else 0

    def plan(self, keys: list[str]) -> Plan:
        plan = make_plan(keys, self.FIELDS, self.EXTRAS)
        if "name" not in plan.fields:
            wanted = " or ".join(repr(a) for a in self.FIELDS.get("name", ()))
            raise PlanError(f"no {self.label} application-name column ({wanted}) in the header")
        return plan

    def adjust(self, values: Values, extras: list[tuple[str, str]]) -> None:
        """Format-specific clean-up of one row's values (in place)."""

    def read(
        self, stream: BinaryIO, filename: str, errors: ErrorSink, default_host: str
    ) -> Iterator[InventoryRecord]:
        table = CsvTable(stream, filename, errors, head_of(stream))
        if not table.header:
            table.lines.close()
            return
        try:
            plan = self.plan(table.keys)
        except PlanError as exc:
            errors.report(filename, table.header_line, str(exc))
            table.lines.close()
            return
        for line, row in table.rows():
            values, extras = plan.pick(row, self.NULLS)
            self.adjust(values, extras)
            rec = self.record(values, extras, f"{filename}:{line}", errors, default_host)
            if rec is not None:
                yield rec

    def record(
        self,
        values: Values,
        extras: list[tuple[str, str]],
        location: str,
        errors: ErrorSink,
        default_host: str,
        collector: str | None = None,
    ) -> InventoryRecord | None:
        """One row's record (None for a row without a name); `location` is "file:LINE"."""
        name = values.get("name")
        if not name:
            return None  # e.g. an ARP entry without a display name: nothing to match
        kind = RecordKind.APP
        kind_text = values.get("kind")
        if kind_text:
            parsed = _record_kind(kind_text)
            if parsed is None:
                known = ", ".join(k.value for k in RecordKind)
                errors.report(
                    location, None, f"unknown record kind {kind_text!r} (known: {known}); row skipped"
                )
                return None
            kind = parsed
        return InventoryRecord(
            host=values.get("host") or default_host,
            source=Source(collector or self.name, location),
            kind=kind,
            name=name,
            version=values.get("version"),
            publisher=values.get("publisher"),
            path=values.get("path"),
            bundle_id=values.get("bundle_id"),
            cpe=values.get("cpe"),
            extra=tuple(extras),
        )


def _record_kind(text: str) -> RecordKind | None:
    t = text.strip().casefold().replace("_", "-")
    for k in RecordKind:
        if t in (k.value, k.name.casefold().replace("_", "-")):
            return k
    return None


# ---- Microsoft Intune ----------------------------------------------------------------------


class IntuneCsvReader(CsvReader):
    """Intune report exports: AppInvRawData, AppInvByDevice, DevicesByAppInv, AppInvAggregate.

    Host = `DeviceName`. AppInvAggregate has no device columns: its rows go to the default host
    with `device_count` as an extra. `ApplicationVersion` is the version (`ApplicationShortVersion`
    when it is empty). The `*_loc` columns added by `localizationType` are ignored.
    """

    name: ClassVar[str] = "intune-csv"
    label: ClassVar[str] = "Intune"
    FIELDS: ClassVar[Mapping[str, Sequence[str]]] = {
        "host": ("devicename",),
        "name": ("applicationname",),
        "publisher": ("applicationpublisher",),
        "version": ("applicationversion", "applicationshortversion"),
    }
    EXTRAS: ClassVar[Mapping[str, Sequence[str]]] = {
        "device_id": ("deviceid",),
        "application_key": ("applicationkey",),
        "short_version": ("applicationshortversion",),
        "platform": ("platform",),
        "os": ("osdescription",),
        "os_version": ("osversion",),
        "user": ("username",),
        "email": ("emailaddress",),
        "device_count": ("devicecount",),
    }

    def score(self, keys: set[str]) -> int:
        if "applicationname" not in keys:
            return 0
        if "applicationkey" in keys:
            return 90
        if keys & {"devicename", "applicationpublisher", "applicationshortversion"}:
            return 65
        return 0


# ---- Microsoft Configuration Manager --------------------------------------------------------


class ConfigMgrCsvReader(CsvReader):
    """Configuration Manager software inventory exported to CSV.

    Accepts the raw views (v_GS_ADD_REMOVE_PROGRAMS, _64: `DisplayName0, Publisher0, Version0,
    InstallDate0, ProdID0`; v_GS_INSTALLED_SOFTWARE: `ARPDisplayName0, ProductName0,
    ProductVersion0, Publisher0, InstalledLocation0`), the report aliases (`Computer Name`,
    `ARP Display Name`, `Product Name`, `Publisher`, `Version`, `Installed Location`,
    `Install Date`) and the GLPI plugin's (`ArPd-DisplayName`, `ArPd-Version` ...).

    Host: the computer-name column (`Computer Name`, `Name0`, `Netbios_Name0`) when present;
    otherwise a raw view dump only has `ResourceID`, and the host is named `ResourceID-<id>` so
    that rows of one machine stay together (join with v_R_System to get real names); with
    neither, the default host. The text `NULL` (how SQL tools write a missing value) is empty.
    """

    name: ClassVar[str] = "configmgr-csv"
    label: ClassVar[str] = "Configuration Manager"
    NULLS: ClassVar[frozenset[str]] = frozenset({"NULL"})
    HOST_FROM_EXTRAS: ClassVar[bool] = True
    FIELDS: ClassVar[Mapping[str, Sequence[str]]] = {
        "host": ("computername", "name0", "netbiosname0", "netbiosname"),
        "name": (
            "displayname0",
            "arpdisplayname0",
            "arpddisplayname",
            "arpdisplayname",
            "productname0",
            "productname",
        ),
        "publisher": ("publisher0", "arpdpublisher", "publisher"),
        "version": ("version0", "productversion0", "arpdversion", "version", "productversion"),
        "path": ("installedlocation0", "installedlocation"),
    }
    EXTRAS: ClassVar[Mapping[str, Sequence[str]]] = {
        "resource_id": ("resourceid",),
        "install_date": ("installdate0", "arpdinstalldate", "installdate"),
        "product_code": ("prodid0", "productcode0", "softwarecode0"),
    }
    _STRONG: ClassVar[frozenset[str]] = frozenset({"displayname0", "arpdisplayname0", "productname0"})

    def score(self, keys: set[str]) -> int:
        if keys & self._STRONG:
            return 90
        if "arpddisplayname" in keys:
            return 85
        if "arpdisplayname" in keys:
            return 80
        return 0

    def adjust(self, values: Values, extras: list[tuple[str, str]]) -> None:
        if not values.get("host"):
            rid = next((v for k, v in extras if k == "resource_id"), None)
            if rid:
                values["host"] = f"ResourceID-{rid}"


# ---- Jamf Pro --------------------------------------------------------------------------------


class JamfCsvReader(CsvReader):
    """Jamf Pro Advanced Search / inventory CSV export with application display fields.

    Assumed headers (no byte-level sample was available): `Computer Name`, `Serial Number`,
    `Application Title` (or `Application Name`), `Application Version`, optionally
    `Application Path` and `Application Bundle ID` / `Bundle ID`. Host = `Computer Name`;
    the `.app` suffix of application titles is dropped.
    """

    name: ClassVar[str] = "jamf-csv"
    label: ClassVar[str] = "Jamf Pro"
    FIELDS: ClassVar[Mapping[str, Sequence[str]]] = {
        "host": ("computername",),
        "name": ("applicationtitle", "applicationname"),
        "version": ("applicationversion",),
        "path": ("applicationpath",),
        "bundle_id": ("applicationbundleid", "applicationbundleidentifier", "bundleid", "bundleidentifier"),
    }
    EXTRAS: ClassVar[Mapping[str, Sequence[str]]] = {
        "serial_number": ("serialnumber",),
        "jamf_id": ("jssid", "jamfid"),
    }

    def score(self, keys: set[str]) -> int:
        if "applicationtitle" in keys:
            return 85
        if (
            "applicationname" in keys
            and "applicationkey" not in keys
            and keys & {"computername", "serialnumber"}
        ):
            return 75
        return 0

    def adjust(self, values: Values, extras: list[tuple[str, str]]) -> None:
        name = values.get("name")
        if name and name.casefold().endswith(".app") and len(name) > 4:
            values["name"] = name[:-4]


# ---- Microsoft Defender for Endpoint ----------------------------------------------------------


class DefenderTvmCsvReader(CsvReader):
    """Defender for Endpoint `DeviceTvmSoftwareInventory` (advanced hunting export or Sentinel).

    Vendor and software are normalised lower-case tokens (`kaspersky_lab`,
    `endpoint_security_for_windows`): underscores become spaces, and the vendor's first word is
    put before a name that lacks it ("kaspersky endpoint security for windows"), as TVM names
    leave the vendor out. The raw tokens are kept as extras. `ProductCodeCpe` is the CPE unless
    it reads "Not available".
    """

    name: ClassVar[str] = "defender-tvm-csv"
    label: ClassVar[str] = "DeviceTvmSoftwareInventory"
    FIELDS: ClassVar[Mapping[str, Sequence[str]]] = {
        "host": ("devicename",),
        "name": ("softwarename",),
        "publisher": ("softwarevendor",),
        "version": ("softwareversion",),
        "cpe": ("productcodecpe",),
    }
    EXTRAS: ClassVar[Mapping[str, Sequence[str]]] = {
        "device_id": ("deviceid",),
        "os_platform": ("osplatform",),
        "os_version": ("osversion",),
        "os_architecture": ("osarchitecture",),
        "end_of_support_status": ("endofsupportstatus",),
        "end_of_support_date": ("endofsupportdate",),
    }

    def score(self, keys: set[str]) -> int:
        if {"softwarename", "softwarevendor"} <= keys:
            return 90 if keys & {"devicename", "deviceid"} else 60
        return 0

    def adjust(self, values: Values, extras: list[tuple[str, str]]) -> None:
        raw_name, raw_vendor = values.get("name"), values.get("publisher")
        vendor = " ".join(raw_vendor.replace("_", " ").split()) if raw_vendor else None
        values["publisher"] = vendor or None
        if raw_name:
            name = " ".join(raw_name.replace("_", " ").split())
            first = vendor.split()[0] if vendor else ""
            if first and not name.casefold().startswith(first.casefold()):
                name = f"{first} {name}"
            values["name"] = name
            extras.append(("software_name", raw_name))
        if raw_vendor:
            extras.append(("software_vendor", raw_vendor))
        cpe = values.get("cpe")
        if cpe and cpe.strip().casefold() in ("not available", "n/a", "none"):
            values["cpe"] = None


# ---- generic ---------------------------------------------------------------------------------

GUESSES: Mapping[str, Sequence[str]] = {
    "name": (
        "name",
        "displayname",
        "productname",
        "product",
        "applicationname",
        "application",
        "appname",
        "app",
        "softwarename",
        "software",
        "program",
        "title",
    ),
    "publisher": ("publisher", "vendor", "manufacturer", "softwarepublisher", "softwarevendor", "company"),
    "version": ("version", "displayversion", "productversion", "softwareversion", "appversion"),
    "host": (
        "host",
        "hostname",
        "computer",
        "computername",
        "device",
        "devicename",
        "machine",
        "machinename",
        "assetname",
        "system",
        "systemname",
    ),
    "path": ("path", "installlocation", "installpath", "installedlocation", "location", "installdir"),
    "bundle_id": ("bundleid", "bundleidentifier", "identifier"),
}


def parse_column_map(spec: str) -> dict[str, str]:
    """`host=Computer,name=App,publisher=Vendor,version=Ver` → {field: header}.

    Fields are host, name, publisher, version, path, bundle_id and kind, and for device
    inventories mac, model and manufacturer; header names are matched without regard to case,
    spaces, underscores or hyphens. Raises ValueError.
    """
    out: dict[str, str] = {}
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        if "=" not in part:
            raise ValueError(f"column map entry {part!r} is not FIELD=HEADER (e.g. name=Application)")
        field, _, header = part.partition("=")
        field, header = field.strip().lower(), header.strip()
        if field not in MAP_FIELDS:
            raise ValueError(f"unknown field {field!r} in column map; fields are: {', '.join(MAP_FIELDS)}")
        if not header:
            raise ValueError(f"column map entry {part!r} names no header")
        if field in out:
            raise ValueError(f"field {field!r} is mapped twice in the column map")
        out[field] = header
    if not out:
        raise ValueError("empty column map; expected FIELD=HEADER[,FIELD=HEADER...]")
    return out


class GenericCsvReader(CsvReader):
    """Any CSV with one software item per row; columns from a map or guessed from the header.

    `columns` maps record fields (host, name, publisher, version, path, bundle_id, kind) to
    the file's header names; fields not in the map are guessed from common header names
    (name/product/application/software, publisher/vendor/manufacturer, version,
    host/computer/device). A `kind` column holds record kinds (app, package, service ...);
    without it every row is an installed application.

    A map with device roles (`mac`, `model`, `manufacturer`) reads a device inventory instead:
    each row is a network device (host = the mapped host column), its model is its name, its
    manufacturer is compared with covered entities as a publisher is, and its MAC address is
    resolved in the IEEE registry (`banscan.inputs.oui`).
    """

    name: ClassVar[str] = "csv"
    label: ClassVar[str] = "generic CSV"
    NULLS: ClassVar[frozenset[str]] = frozenset({"NULL"})
    FIELDS: ClassVar[Mapping[str, Sequence[str]]] = GUESSES
    SCORE: ClassVar[int] = 25

    def __init__(self, columns: dict[str, str] | None = None) -> None:
        for field in columns or {}:
            if field not in MAP_FIELDS:
                raise ValueError(
                    f"unknown field {field!r} in column map; fields are: {', '.join(MAP_FIELDS)}"
                )
        self.columns = dict(columns or {})
        self._registry: OuiRegistry | None = None
        self._registry_read = False

    def score(self, keys: set[str]) -> int:
        if "name" in self.columns:
            return self.SCORE if header_key(self.columns["name"]) in keys else 0
        return self.SCORE if keys & set(GUESSES["name"]) else 0

    def plan(self, keys: list[str]) -> Plan:
        idx = _index(keys)
        fixed: dict[str, tuple[int, ...]] = {}
        for field, header in self.columns.items():
            key = header_key(header)
            if key not in idx:
                raise PlanError(f"column {header!r} (for {field}) is not in the header")
            fixed[field] = (idx[key],)
        guessed = make_plan(
            keys,
            {f: a for f, a in GUESSES.items() if f not in fixed},
            taken=frozenset(c for cols in fixed.values() for c in cols),
        )
        plan = Plan({**guessed.fields, **fixed})
        if "name" not in plan.fields and not DEVICE_ROLES & set(plan.fields):
            raise PlanError(
                "no application-name column in the header (name the column with --columns name=HEADER)"
            )
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
        if not DEVICE_ROLES & self.columns.keys():
            return super().record(values, extras, location, errors, default_host, collector)
        from banscan.inputs.network.device import device_record, registry_for

        mac, model = values.get("mac"), values.get("model")
        name = values.get("name") or model
        maker = values.get("publisher") or values.get("manufacturer")
        if not (name or maker or mac):
            return None  # an empty row says nothing about a device
        if not self._registry_read:
            self._registry, self._registry_read = registry_for(errors, location.rsplit(":", 1)[0]), True
        return device_record(
            host=values.get("host") or default_host,
            collector=collector or self.name,
            location=location,
            name=name,
            mac=mac,
            registry=self._registry,
            publisher=maker,
            version=values.get("version"),
            extra=[*extras, ("model", model)],
        )


READERS: list[InputReader] = [
    IntuneCsvReader(),
    ConfigMgrCsvReader(),
    JamfCsvReader(),
    DefenderTvmCsvReader(),
    GenericCsvReader(),
]
