"""JSON inventories from device-management services: Microsoft Intune and Jamf Pro.

Intune (`intune-json`):
  - Graph `deviceManagement/detectedApps` (`{"@odata.context": ..., "value": [detectedApp ...]}`
    or a bare list): a detectedApp has no device, so records go to the default host, with
    `device_count` and `platform` as extras;
  - a `managedDevice` with its `detectedApps` (`deviceName` is the host), alone, in a list or
    in a `value` list;
  - the report export JSON (`{"columns": [...], "values": [{...}, ...]}`, UTF-8 with a BOM),
    read with the same columns as the CSV export (AppInvRawData, AppInvAggregate ...).
Jamf Pro (`jamf-json`):
  - Pro API `computers-inventory` (`{"totalCount": N, "results": [...]}`), one computer
    (`computers-inventory-detail`) or a list of them: host `general.name`, one APP record per
    `applications[]` entry, `.app` dropped from the name, `bundleId` as bundle id;
  - Classic API mobile device (`{"mobile_device": {"general": {...}, "applications": [...]}}`):
    `application_name`, `application_version`, `identifier` as bundle id;
  - Pro API mobile devices: `GET /api/v2/mobile-devices/{id}/detail` (host `name`, the apps in
    the platform section, `ios.applications[]`, each `identifier`, `name`, `version`,
    `shortVersion`), alone or in a list, and `GET /api/v2/mobile-devices/detail` (a
    `results` list like computers-inventory's, host `general.displayName`, apps `identifier`
    as bundle id), as the Jamf Pro API schema (MobileDeviceDetailsGetV2,
    MobileDeviceInventory) describes them;
  - Classic API computer (`{"computer": {"general": {...}, "software": {"applications": [...]}}}`).

Files are parsed whole with the standard library (up to MAX_BYTES); records are located as
`file:LINE`, the line where the application's JSON object starts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from json.decoder import scanstring  # type: ignore[attr-defined]
from typing import Any, BinaryIO, ClassVar

from banscan.errors import ErrorSink
from banscan.inputs.base import InputReader
from banscan.inputs.csvexport import IntuneCsvReader, PlanError
from banscan.inputs.csvsniff import UTF8_BOM, UTF16_BE_BOM, UTF16_LE_BOM, header_key
from banscan.inputs.jsondepth import TooDeep, too_deep
from banscan.models import InventoryRecord, RecordKind, Source

MAX_BYTES = 512 * 1024 * 1024
_WS = re.compile(r"[ \t\n\r]*")
_LINE_DEPTH = 5  # objects this deep (or less) are located by line; deeper values parse at C speed


# ---- JSON with line numbers -----------------------------------------------------------------


class LocatedJson:
    """A parsed JSON document plus the line on which each of its (shallow) objects starts."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.lines: dict[int, int] = {}
        self._decoder = json.JSONDecoder()
        self._pos = 0
        self._line = 1
        value, end = self._value(0, 0)
        end = _WS.match(text, end).end()  # type: ignore[union-attr]
        if end != len(text):
            raise json.JSONDecodeError("Extra data", text, end)
        self.root: Any = value

    def line_of(self, obj: object) -> int | None:
        return self.lines.get(id(obj))

    def _line_at(self, idx: int) -> int:
        if idx >= self._pos:
            self._line += self.text.count("\n", self._pos, idx)
        else:
            self._line -= self.text.count("\n", idx, self._pos)
        self._pos = idx
        return self._line

    def _ws(self, idx: int) -> int:
        return _WS.match(self.text, idx).end()  # type: ignore[union-attr]

    def _value(self, idx: int, depth: int) -> tuple[Any, int]:
        text = self.text
        idx = self._ws(idx)
        ch = text[idx : idx + 1]
        if depth < _LINE_DEPTH and ch == "{":
            return self._object(idx, depth)
        if depth < _LINE_DEPTH and ch == "[":
            return self._array(idx, depth)
        value, end = self._decoder.raw_decode(text, idx)
        return value, end

    def _object(self, idx: int, depth: int) -> tuple[dict[str, Any], int]:
        text = self.text
        obj: dict[str, Any] = {}
        self.lines[id(obj)] = self._line_at(idx)
        idx = self._ws(idx + 1)
        if text[idx : idx + 1] == "}":
            return obj, idx + 1
        while True:
            if text[idx : idx + 1] != '"':
                raise json.JSONDecodeError("Expecting property name enclosed in double quotes", text, idx)
            key, idx = scanstring(text, idx + 1)
            idx = self._ws(idx)
            if text[idx : idx + 1] != ":":
                raise json.JSONDecodeError("Expecting ':' delimiter", text, idx)
            obj[key], idx = self._value(idx + 1, depth + 1)
            idx = self._ws(idx)
            c = text[idx : idx + 1]
            if c == ",":
                idx = self._ws(idx + 1)
                continue
            if c == "}":
                return obj, idx + 1
            raise json.JSONDecodeError("Expecting ',' delimiter", text, idx)

    def _array(self, idx: int, depth: int) -> tuple[list[Any], int]:
        text = self.text
        arr: list[Any] = []
        idx = self._ws(idx + 1)
        if text[idx : idx + 1] == "]":
            return arr, idx + 1
        while True:
            value, idx = self._value(idx, depth + 1)
            arr.append(value)
            idx = self._ws(idx)
            c = text[idx : idx + 1]
            if c == ",":
                idx += 1
                continue
            if c == "]":
                return arr, idx + 1
            raise json.JSONDecodeError("Expecting ',' delimiter", text, idx)


def _size(n: int) -> str:
    return f"{n // (1024 * 1024)} MiB" if n >= 1024 * 1024 else f"{n} bytes"


def decode_json_bytes(data: bytes) -> str:
    """Text of a JSON file: UTF-8 (BOM optional) or UTF-16 with a BOM (PowerShell `Out-File`)."""
    if data.startswith((UTF16_LE_BOM, UTF16_BE_BOM)):
        return data.decode("utf-16")
    return data.removeprefix(UTF8_BOM).decode("utf-8")


def _head_text(head: bytes) -> str:
    if head.startswith((UTF16_LE_BOM, UTF16_BE_BOM)):
        le = head.startswith(UTF16_LE_BOM)
        body = head[2 : 2 + (len(head) - 2) // 2 * 2]
        return body.decode("utf-16-le" if le else "utf-16-be", errors="replace")
    return head.removeprefix(UTF8_BOM).decode("utf-8", errors="replace")


def _text(value: Any) -> str | None:
    """A JSON scalar as trimmed text; None for null, empty, objects and arrays."""
    if value is None or isinstance(value, (dict, list)):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value).strip()
    return text or None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _extras(*pairs: tuple[str, Any]) -> tuple[tuple[str, str], ...]:
    out = []
    for k, v in pairs:
        t = _text(v)
        if t is not None:
            out.append((k, t))
    return tuple(out)


def parse_located(data: bytes, filename: str, errors: ErrorSink) -> LocatedJson | None:
    """A JSON inventory's bytes decoded (UTF-8 or UTF-16) and parsed with line numbers, or None
    after one error line (not text, nested too deep, not JSON)."""
    try:
        text = decode_json_bytes(data)
    except UnicodeDecodeError as exc:
        errors.report(filename, None, f"not UTF-8 or UTF-16 text (byte offset {exc.start}); skipped")
        return None
    if too_deep(text):
        errors.report(filename, None, f"not readable: {TooDeep()}")
        return None
    try:
        return LocatedJson(text)
    except json.JSONDecodeError as exc:
        errors.report(filename, exc.lineno, f"invalid JSON: {exc.msg} (column {exc.colno})")
    except RecursionError:
        errors.report(filename, None, f"not readable: {TooDeep()}")
    return None


class _JsonReader:
    """Shared reading: size cap, decoding, parsing with line numbers, then `records()`."""

    name: ClassVar[str] = ""
    label: ClassVar[str] = ""

    def read(
        self, stream: BinaryIO, filename: str, errors: ErrorSink, default_host: str
    ) -> Iterator[InventoryRecord]:
        data = stream.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES:
            errors.report(
                filename, None, f"larger than the {_size(MAX_BYTES)} limit for JSON inventories; skipped"
            )
            return
        doc = parse_located(data, filename, errors)
        del data  # the text alone is kept while the records are read
        if doc is not None:
            yield from self.records(doc, filename, errors, default_host)

    def records(
        self, doc: LocatedJson, filename: str, errors: ErrorSink, default_host: str
    ) -> Iterator[InventoryRecord]:
        raise NotImplementedError

    def _loc(self, doc: LocatedJson, filename: str, obj: object, fallback: str) -> str:
        line = doc.line_of(obj)
        return f"{filename}:{line if line is not None else fallback}"


# ---- Intune ---------------------------------------------------------------------------------

_INTUNE_CSV = IntuneCsvReader()


class IntuneJsonReader(_JsonReader):
    name: ClassVar[str] = "intune-json"
    label: ClassVar[str] = "Intune"

    def sniff(self, head: bytes, filename: str) -> int:
        text = _head_text(head).lstrip()
        if text[:1] not in ("{", "["):
            return 0
        if "#microsoft.graph.detectedApp" in text:
            return 95
        if '"@odata.context"' in text and "detectedApps" in text:
            return 90
        if (
            '"columns"' in text
            and '"values"' in text
            and ("ApplicationName" in text or "ApplicationKey" in text)
        ):
            return 90
        if '"detectedApps"' in text and '"deviceName"' in text:
            return 85
        if '"displayName"' in text and '"deviceCount"' in text:
            return 70
        return 0

    def records(
        self, doc: LocatedJson, filename: str, errors: ErrorSink, default_host: str
    ) -> Iterator[InventoryRecord]:
        root = doc.root
        if isinstance(root, dict) and isinstance(root.get("columns"), list) and "values" in root:
            yield from self._report(doc, root, filename, errors, default_host)
            return
        items: list[Any]
        if isinstance(root, dict) and isinstance(root.get("value"), list):
            items = root["value"]
        elif isinstance(root, list):
            items = root
        elif isinstance(root, dict):
            items = [root]
        else:
            errors.report(
                filename, None, "not an Intune detectedApps, managedDevice or report export document"
            )
            return
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                errors.report(filename, f"value[{i}]", "expected an object; skipped")
                continue
            if isinstance(item.get("detectedApps"), list):
                host = _text(item.get("deviceName")) or default_host
                device = _extras(("device_id", item.get("id")), ("serial_number", item.get("serialNumber")))
                for app in item["detectedApps"]:
                    rec = self._app(doc, app, filename, errors, host, device)
                    if rec is not None:
                        yield rec
            elif "displayName" in item:
                rec = self._app(doc, item, filename, errors, default_host, ())
                if rec is not None:
                    yield rec
            else:
                where = doc.line_of(item) or f"value[{i}]"
                errors.report(
                    filename, where, "neither a detectedApp nor a managedDevice with detectedApps; skipped"
                )

    def _app(
        self,
        doc: LocatedJson,
        app: Any,
        filename: str,
        errors: ErrorSink,
        host: str,
        device: tuple[tuple[str, str], ...],
    ) -> InventoryRecord | None:
        if not isinstance(app, dict):
            errors.report(filename, None, "a detectedApps entry is not an object; skipped")
            return None
        name = _text(app.get("displayName"))
        if name is None:
            return None
        return InventoryRecord(
            host=host,
            source=Source(self.name, self._loc(doc, filename, app, "?")),
            kind=RecordKind.APP,
            name=name,
            version=_text(app.get("version")),
            publisher=_text(app.get("publisher")),
            extra=device
            + _extras(
                ("detected_app_id", app.get("id")),
                ("device_count", app.get("deviceCount")),
                ("platform", app.get("platform")),
                ("size_bytes", app.get("sizeInByte")),
            ),
        )

    def _report(
        self, doc: LocatedJson, root: dict[str, Any], filename: str, errors: ErrorSink, default_host: str
    ) -> Iterator[InventoryRecord]:
        columns = [str(c) for c in root["columns"]]
        values = root.get("values")
        if not isinstance(values, list):
            errors.report(filename, doc.line_of(root), "report export without a 'values' list")
            return
        try:
            plan = _INTUNE_CSV.plan([header_key(c) for c in columns])
        except PlanError as exc:
            errors.report(filename, doc.line_of(root), str(exc))
            return
        for i, row in enumerate(values):
            line = doc.line_of(row)
            if isinstance(row, dict):
                cells = [_text(row.get(c)) or "" for c in columns]
            elif isinstance(row, list) and len(row) == len(columns):
                cells = [_text(v) or "" for v in row]
            else:
                errors.report(filename, line or f"values[{i}]", "row does not match the columns; skipped")
                continue
            vals, extras = plan.pick(cells, frozenset())
            loc = f"{filename}:{line if line is not None else f'values[{i}]'}"
            rec = _INTUNE_CSV.record(vals, extras, loc, errors, default_host, collector=self.name)
            if rec is not None:
                yield rec


# ---- Jamf Pro -------------------------------------------------------------------------------


# The platform sections of a Pro API v2 mobile device detail (MobileDeviceDetailsV2).
_V2_SECTIONS = ("ios", "visionos", "watchos", "tvos")
_V2_SECTION = re.compile(r'"(?:ios|visionos|watchos|tvos)"\s*:\s*\{')


def _v2_section(dev: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """(platform, section) of a v2 mobile device detail whose section lists applications."""
    for key in _V2_SECTIONS:
        section = dev.get(key)
        if isinstance(section, dict) and isinstance(section.get("applications"), list):
            return key, section
    return None


def _named_apps(
    apps: list[Any], key: str, filename: str, line: int | None, errors: ErrorSink
) -> Iterator[tuple[dict[str, Any], str]]:
    """Each object of a Jamf `applications` list with its name (under `key`): an entry that is
    not an object is one error line at its device's `line`, a nameless one says nothing."""
    for app in apps:
        if not isinstance(app, dict):
            errors.report(filename, line, "an applications entry is not an object; skipped")
            continue
        name = _text(app.get(key))
        if name is not None:
            yield app, name


def _strip_app(name: str) -> str:
    return name[:-4] if name.casefold().endswith(".app") and len(name) > 4 else name


class JamfJsonReader(_JsonReader):
    name: ClassVar[str] = "jamf-json"
    label: ClassVar[str] = "Jamf Pro"

    def sniff(self, head: bytes, filename: str) -> int:
        text = _head_text(head).lstrip()
        if text[:1] not in ("{", "["):
            return 0
        if '"mobile_device"' in text:
            return 90 if '"applications"' in text or '"general"' in text else 70
        if (
            '"totalCount"' in text
            and '"results"' in text
            and ('"applications"' in text or '"general"' in text)
        ):
            return 85
        if '"general"' in text and '"applications"' in text and ('"bundleId"' in text or '"udid"' in text):
            return 80
        if '"computer"' in text and '"software"' in text and '"applications"' in text:
            return 75
        if (
            '"applications"' in text
            and _V2_SECTION.search(text)
            and ('"udid"' in text or '"serialNumber"' in text or '"managementId"' in text)
        ):
            return 80
        return 0

    def records(
        self, doc: LocatedJson, filename: str, errors: ErrorSink, default_host: str
    ) -> Iterator[InventoryRecord]:
        root = doc.root
        if isinstance(root, dict) and isinstance(root.get("mobile_device"), dict):
            yield from self._mobile(doc, root["mobile_device"], filename, errors, default_host)
            return
        if isinstance(root, dict) and isinstance(root.get("computer"), dict):
            yield from self._classic_computer(doc, root["computer"], filename, errors, default_host)
            return
        if isinstance(root, dict) and _v2_section(root) is not None:
            yield from self._mobile_v2(doc, root, filename, errors, default_host)
            return
        computers: list[Any]
        if isinstance(root, dict) and isinstance(root.get("results"), list):
            computers = root["results"]
        elif isinstance(root, list):
            computers = root
        elif isinstance(root, dict) and ("general" in root or "applications" in root):
            computers = [root]
        else:
            errors.report(filename, None, "not a Jamf Pro computers-inventory or mobile device document")
            return
        for i, comp in enumerate(computers):
            if not isinstance(comp, dict):
                errors.report(filename, f"results[{i}]", "expected a computer object; skipped")
                continue
            if _v2_section(comp) is not None:
                yield from self._mobile_v2(doc, comp, filename, errors, default_host)
                continue
            general = _dict(comp.get("general"))
            hardware = _dict(comp.get("hardware"))
            # a computer's `general.name`; a mobile device's (v2 mobile-devices/detail) displayName
            host = _text(general.get("name")) or _text(general.get("displayName")) or default_host
            device = _extras(
                ("jamf_id", comp.get("id") if "id" in comp else comp.get("mobileDeviceId")),
                ("udid", comp.get("udid") if "udid" in comp else general.get("udid")),
                ("serial_number", hardware.get("serialNumber")),
                ("platform", comp.get("deviceType")),
            )
            apps = comp.get("applications")
            if apps is None:
                continue  # inventory fetched without the APPLICATIONS section
            if not isinstance(apps, list):
                errors.report(filename, doc.line_of(comp), "'applications' is not a list; computer skipped")
                continue
            for app, name in _named_apps(apps, "name", filename, doc.line_of(comp), errors):
                yield InventoryRecord(
                    host=host,
                    source=Source(self.name, self._loc(doc, filename, app, "?")),
                    kind=RecordKind.APP,
                    name=_strip_app(name),
                    version=_text(app.get("version"))
                    or _text(app.get("cfBundleShortVersionString"))
                    or _text(app.get("shortVersion")),
                    path=_text(app.get("path")),
                    # a mobile device's app (v2 mobile-devices/detail) has `identifier`
                    bundle_id=_text(app.get("bundleId")) or _text(app.get("identifier")),
                    extra=device
                    + _extras(
                        ("mac_app_store", app.get("macAppStore")),
                        ("bundle_version", app.get("cfBundleVersion")),
                        ("short_version", app.get("shortVersion")),
                        ("management_status", app.get("managementStatus")),
                    ),
                )

    def _mobile(
        self, doc: LocatedJson, dev: dict[str, Any], filename: str, errors: ErrorSink, default_host: str
    ) -> Iterator[InventoryRecord]:
        general = _dict(dev.get("general"))
        host = _text(general.get("name")) or _text(general.get("device_name")) or default_host
        device = _extras(
            ("jamf_id", general.get("id")),
            ("serial_number", general.get("serial_number")),
            ("udid", general.get("udid")),
        )
        apps = dev.get("applications")
        if not isinstance(apps, list):
            if apps is not None:
                errors.report(filename, doc.line_of(dev), "'applications' is not a list; skipped")
            return
        for app, name in _named_apps(apps, "application_name", filename, doc.line_of(dev), errors):
            yield InventoryRecord(
                host=host,
                source=Source(self.name, self._loc(doc, filename, app, "?")),
                kind=RecordKind.APP,
                name=name,
                version=_text(app.get("application_version")),
                bundle_id=_text(app.get("identifier")),
                extra=device
                + _extras(
                    ("short_version", app.get("application_short_version")),
                    ("status", app.get("application_status")),
                ),
            )

    def _mobile_v2(
        self, doc: LocatedJson, dev: dict[str, Any], filename: str, errors: ErrorSink, default_host: str
    ) -> Iterator[InventoryRecord]:
        """One `v2/mobile-devices/{id}/detail` object: its apps are in its platform's section."""
        found = _v2_section(dev)
        if found is None:
            return
        platform, section = found
        host = _text(dev.get("name")) or default_host
        device = _extras(
            ("jamf_id", dev.get("id")),
            ("udid", dev.get("udid")),
            ("serial_number", dev.get("serialNumber")),
            ("platform", dev.get("type") or platform),
        )
        for app, name in _named_apps(section["applications"], "name", filename, doc.line_of(section), errors):
            yield InventoryRecord(
                host=host,
                source=Source(self.name, self._loc(doc, filename, app, "?")),
                kind=RecordKind.APP,
                name=name,
                version=_text(app.get("version")) or _text(app.get("shortVersion")),
                bundle_id=_text(app.get("identifier")),
                extra=device + _extras(("short_version", app.get("shortVersion"))),
            )

    def _classic_computer(
        self, doc: LocatedJson, comp: dict[str, Any], filename: str, errors: ErrorSink, default_host: str
    ) -> Iterator[InventoryRecord]:
        general = _dict(comp.get("general"))
        host = _text(general.get("name")) or default_host
        device = _extras(("jamf_id", general.get("id")), ("serial_number", general.get("serial_number")))
        apps = _dict(comp.get("software")).get("applications")
        if not isinstance(apps, list):
            return
        for app, name in _named_apps(apps, "name", filename, doc.line_of(comp), errors):
            yield InventoryRecord(
                host=host,
                source=Source(self.name, self._loc(doc, filename, app, "?")),
                kind=RecordKind.APP,
                name=_strip_app(name),
                version=_text(app.get("version")),
                path=_text(app.get("path")),
                bundle_id=_text(app.get("bundle_id")),
                extra=device,
            )


READERS: list[InputReader] = [IntuneJsonReader(), JamfJsonReader()]
