"""osquery tables as records: which columns identify a table, and which become which field.

Result rows do not say which table they came from (osqueryi prints bare rows; a scheduled
query's name is whatever the operator chose), so the table is inferred from the columns a
row has. Everything is in one table-driven mapping so a new table is one entry, and Fleet,
whose software `source` values are osquery table names, shares the same kinds.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from banscan.collect.windows.services import image_file
from banscan.models import InventoryRecord, Source
from banscan.models import RecordKind as R


def _app_name(value: str) -> str:
    return value.removesuffix(".app") or value


def _basename(value: str) -> str:
    return re.split(r"[\\/]", value.rstrip("\\/"))[-1] or value


def _unit_name(value: str) -> str:
    return value.removesuffix(".service") or value


def _same(value: str) -> str:
    return value


def _image(value: str) -> str:
    """A service's command line (quoted, with arguments) as its executable, like the hive reader."""
    return image_file(value) or value


@dataclass(frozen=True, slots=True)
class Table:
    """One osquery table: its record kind, the column sets that identify it, and its fields.

    Each field lists the columns tried in order; the first non-empty one wins.
    """

    kind: R
    marks: tuple[frozenset[str], ...]
    name: tuple[str, ...]
    clean: Callable[[str], str] = _same
    version: tuple[str, ...] = ("version",)
    publisher: tuple[str, ...] = ()
    path: tuple[str, ...] = ()
    clean_path: Callable[[str], str] = _same
    bundle_id: tuple[str, ...] = ()
    team_id: tuple[str, ...] = ()
    signer: tuple[str, ...] = ()
    extension_id: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()


def _m(*sets: str) -> tuple[frozenset[str], ...]:
    return tuple(frozenset(s.split()) for s in sets)


# Marks are column sets found only in that table's schema; when several tables' marks are
# present, the table with the largest matching mark set wins (python_packages over
# chocolatey_packages, for instance).
TABLES: dict[str, Table] = {
    "programs": Table(
        R.APP,
        _m("identifying_number", "uninstall_string", "install_source language"),
        ("name",),
        publisher=("publisher",),
        path=("install_location",),
        extra=("identifying_number", "uninstall_string", "install_date"),
    ),
    "apps": Table(
        R.APP,
        _m("bundle_identifier", "bundle_executable", "bundle_package_type"),
        ("display_name", "bundle_name", "name"),
        clean=_app_name,
        version=("bundle_short_version", "bundle_version"),
        path=("path",),
        bundle_id=("bundle_identifier",),
        extra=("bundle_version", "info_string", "copyright"),
    ),
    "deb_packages": Table(
        R.PACKAGE,
        _m("maintainer status", "maintainer arch", "revision arch", "admindir"),
        ("name",),
        publisher=("maintainer",),
        extra=("status", "arch", "source"),
    ),
    "rpm_packages": Table(
        R.PACKAGE,
        _m("release vendor", "package_group", "release arch epoch"),
        ("name",),
        publisher=("vendor",),
        extra=("release", "arch"),
    ),
    "homebrew_packages": Table(R.PACKAGE, _m("prefix"), ("name",), path=("path",), extra=("type",)),
    "npm_packages": Table(
        R.PACKAGE,
        _m("homepage directory", "homepage license"),
        ("name",),
        publisher=("author",),
        path=("path",),
    ),
    "python_packages": Table(
        R.PACKAGE, _m("summary license directory"), ("name",), publisher=("author",), path=("path",)
    ),
    "chocolatey_packages": Table(
        R.PACKAGE, _m("summary license"), ("name",), publisher=("author",), path=("path",)
    ),
    "chrome_extensions": Table(
        R.EXTENSION,
        _m("identifier browser_type", "identifier profile_path", "identifier permissions"),
        ("name",),
        publisher=("author",),
        path=("path",),
        extension_id=("identifier",),
        extra=("browser_type", "profile"),
    ),
    "firefox_addons": Table(
        R.EXTENSION,
        _m("identifier creator", "identifier source_url", "identifier autoupdate"),
        ("name",),
        publisher=("creator",),
        path=("path",),
        extension_id=("identifier",),
        extra=("type", "active"),
    ),
    "safari_extensions": Table(
        R.EXTENSION,
        _m("identifier developer_id", "identifier sdk"),
        ("name",),
        publisher=("author",),
        path=("path",),
        team_id=("developer_id",),
        extension_id=("identifier",),
    ),
    "windows_security_products": Table(
        R.SECURITY_PRODUCT,
        _m("signatures_up_to_date", "remediation_path"),
        ("name",),
        version=(),
        path=("remediation_path",),
        extra=("type", "state", "signatures_up_to_date"),
    ),
    "services": Table(
        R.SERVICE,
        _m("service_type", "module_path", "start_type win32_exit_code"),
        ("name",),
        version=(),
        path=("module_path", "path"),
        clean_path=_image,
        extra=("display_name", "status", "start_type"),
    ),
    "drivers": Table(
        R.DRIVER,
        _m("device_id inf", "driver_key", "service_key"),
        ("service", "device_name"),
        publisher=("provider", "manufacturer"),
        path=("image",),
        extra=("device_name", "inf", "signed"),
    ),
    "kernel_modules": Table(R.DRIVER, _m("used_by"), ("name",), version=(), extra=("status",)),
    "kernel_extensions": Table(
        R.DRIVER, _m("linked_against", "idx refs"), ("name",), path=("path",), bundle_id=("name",)
    ),
    "system_extensions": Table(
        R.DRIVER,
        _m("team bundle_path", "mdm_managed"),
        ("identifier",),
        path=("bundle_path", "path"),
        bundle_id=("identifier",),
        team_id=("team",),
        extra=("state", "category"),
    ),
    "processes": Table(
        R.PROCESS,
        _m("pid cmdline", "pid parent", "pid on_disk"),
        ("name", "path"),
        version=(),
        path=("path",),
        extra=("pid",),
    ),
    "authenticode": Table(
        R.FILE,
        _m("subject_name issuer_name", "original_program_name"),
        ("path",),
        clean=_basename,
        version=(),
        path=("path",),
        signer=("subject_name",),
        extra=("issuer_name", "serial_number", "result"),
    ),
    "signature": Table(
        R.FILE,
        _m("team_identifier", "cdhash", "hash_resources"),
        ("path",),
        clean=_basename,
        version=(),
        path=("path",),
        bundle_id=("identifier",),
        team_id=("team_identifier",),
        signer=("authority",),
        extra=("signed",),
    ),
    "certificates": Table(
        R.CERTIFICATE,
        _m("common_name subject", "subject_key_id", "self_signed not_valid_after"),
        ("common_name",),
        version=(),
        path=("path",),
        extra=("subject", "issuer", "sha1", "store"),
    ),
    "package_receipts": Table(
        R.RECEIPT, _m("package_id installer_name", "package_filename"), ("package_id",), path=("location",)
    ),
    "launchd": Table(
        R.SERVICE,
        _m("label program_arguments", "run_at_load", "keep_alive"),
        ("label", "name"),
        version=(),
        path=("program", "path"),
    ),
    "systemd_units": Table(
        R.SERVICE,
        _m("load_state active_state", "fragment_path", "unit_file_state"),
        ("id",),
        clean=_unit_name,
        version=(),
        path=("fragment_path",),
        extra=("description", "active_state"),
    ),
}

# Fleet software `source` values that are not osquery tables read here (mobile inventories
# come from MDM, the others from tables without useful identifiers for us).
_OTHER_SOURCES: dict[str, R] = {
    "ios_apps": R.APP,
    "ipados_apps": R.APP,
    "android_apps": R.APP,
    "vscode_extensions": R.EXTENSION,
    "jetbrains_plugins": R.EXTENSION,
    "ie_extensions": R.EXTENSION,
    "atom_packages": R.PACKAGE,
    "portage_packages": R.PACKAGE,
    "pkg_packages": R.PACKAGE,
    "tgz_packages": R.PACKAGE,
    "go_binaries": R.PACKAGE,
}

SOURCE_KINDS: dict[str, R] = {name: t.kind for name, t in TABLES.items()} | _OTHER_SOURCES

_HINTS = {name: re.compile(rf"(?<![a-z]){name}(?![a-z])") for name in TABLES}


def infer_table(columns: frozenset[str], query_name: str = "") -> str | None:
    """The table whose most specific mark set the columns contain; else a table named in the query."""
    best: tuple[int, str] | None = None
    for name, table in TABLES.items():
        for mark in table.marks:
            if (best is None or len(mark) > best[0]) and mark <= columns:
                best = (len(mark), name)
    if best is not None:
        return best[1]
    # A hint only: "pack_inventory_deb_packages" or "pack/Global/programs" with bare columns.
    lowered = query_name.lower()
    for name, pattern in _HINTS.items():
        if pattern.search(lowered) and any(c in columns for c in TABLES[name].name):
            return name
    return None


def clean_name(source: str, value: str) -> str:
    """A software name as the matcher expects it (".app" dropped for macOS apps)."""
    table = TABLES.get(source)
    return table.clean(value) if table else value


def _first(row: Mapping[str, str], columns: tuple[str, ...]) -> str | None:
    for c in columns:
        v = row.get(c)
        if v:
            return v
    return None


def row_record(table_name: str, row: Mapping[str, str], host: str, source: Source) -> InventoryRecord | None:
    """The record for one row of a known table; None when the row has no name to report."""
    t = TABLES[table_name]
    raw = _first(row, t.name)
    if raw is None:
        return None
    extra = [("table", table_name)]
    extra += [(c, row[c]) for c in t.extra if row.get(c)]
    return InventoryRecord(
        host=host,
        source=source,
        kind=t.kind,
        name=t.clean(raw),
        version=_first(row, t.version),
        publisher=_first(row, t.publisher),
        path=t.clean_path(path) if (path := _first(row, t.path)) else None,
        bundle_id=_first(row, t.bundle_id),
        team_id=_first(row, t.team_id),
        signer=_first(row, t.signer),
        extension_id=_first(row, t.extension_id),
        extra=tuple(extra),
    )
