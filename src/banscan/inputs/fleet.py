"""FleetDM software inventories: REST API JSON and software CSV exports.

Accepted JSON: host software (`GET /hosts/:id/software`, host named by an enclosing `host`
object or else by the file), host details (`GET /hosts/:id` or a `hosts` list with
`software`), and fleet-wide software (`/software/versions`, `/software/versions/:id`,
`/software/titles`). Fleet-wide lists say how many hosts have a version, not which: their
records go to the pseudo-host "fleet" with `hosts_count` in extra, so per-host detail is
lost and findings there mean "somewhere in the fleet".

Fleet's `source` is the osquery table the row came from, so record kinds come from the
osquery mapping; a source not known there is still installed software, read as an app.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from typing import Any, BinaryIO, ClassVar

from banscan.errors import ErrorSink
from banscan.inputs.base import InputReader, head_of, read_capped
from banscan.inputs.jsondepth import TooDeep
from banscan.inputs.jsondepth import loads as bounded_loads
from banscan.inputs.osquery_tables import SOURCE_KINDS, clean_name
from banscan.models import InventoryRecord, RecordKind, Source

COLLECTOR = "fleet"
FLEET_HOST = "fleet"
MAX_BYTES = 256 * 1024 * 1024
_HOST_COLUMNS = ("hostname", "host_name", "computer_name", "host")
_JSON_MARKS = (
    b'"installed_versions"',
    b'"hosts_count"',
    b'"generated_cpe"',
    b'"software_titles"',
    b'"counts_updated_at"',
    b'"software_package"',
)


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def software_record(
    item: Mapping[str, Any], host: str, location: str, *, path: str | None = None, hosts_count: Any = None
) -> InventoryRecord | None:
    """The record for one Fleet software item (API object or CSV row); None without a name."""
    name = _text(item.get("name"))
    if name is None:
        return None
    source = _text(item.get("source")) or ""
    extra = [(k, v) for k in ("source", "browser", "release", "arch") if (v := _text(item.get(k)))]
    if (count := _text(hosts_count if hosts_count is not None else item.get("hosts_count"))) is not None:
        extra.append(("hosts_count", count))
    return InventoryRecord(
        host=host,
        source=Source(COLLECTOR, location),
        kind=SOURCE_KINDS.get(source, RecordKind.APP),
        name=clean_name(source, name),
        version=_text(item.get("version")),
        publisher=_text(item.get("vendor")),
        path=path or _first_path(item.get("installed_paths")),
        bundle_id=_text(item.get("bundle_identifier")),
        cpe=_text(item.get("generated_cpe")),
        extension_id=_text(item.get("extension_id")),
        extra=tuple(extra),
    )


def _first_path(paths: Any) -> str | None:
    return next((p for p in paths if isinstance(p, str) and p), None) if isinstance(paths, list) else None


def _host_name(obj: Mapping[str, Any]) -> str | None:
    for key in ("hostname", "computer_name", "display_name"):
        if name := _text(obj.get(key)):
            return name
    return None


class _JsonWalk:
    """Records of one Fleet JSON document; bad items are reported by their JSON path."""

    def __init__(self, filename: str, errors: ErrorSink, default_host: str) -> None:
        self.filename, self.errors, self.default_host = filename, errors, default_host

    def document(self, doc: Any) -> Iterator[InventoryRecord]:
        if not isinstance(doc, dict):
            self.errors.report(self.filename, None, "not a Fleet API response (expected a JSON object)")
            return
        if isinstance(doc.get("hosts"), list):
            for i, h in enumerate(doc["hosts"]):
                if isinstance(h, dict):
                    yield from self._host(h, f"hosts[{i}]")
                else:
                    self.errors.report(self.filename, f"hosts[{i}]", "not a host object; skipped")
            return
        host_obj = doc.get("host") if isinstance(doc.get("host"), dict) else None
        if host_obj is None and "hostname" in doc and "software" in doc:
            host_obj = doc
        host = (_host_name(host_obj) if host_obj else None) or self.default_host
        if host_obj is not None and host_obj is not doc and isinstance(host_obj.get("software"), list):
            yield from self._items(host_obj["software"], "host.software", host)
        software = doc.get("software")
        if isinstance(software, list):
            # Host software items carry installed_versions; fleet-wide ones carry hosts_count.
            yield from self._items(software, "software", host if host_obj else None)
        elif isinstance(software, dict):
            yield from self._items([software], "software", None)
        elif isinstance(doc.get("software_titles"), list):
            yield from self._titles(doc["software_titles"])
        elif isinstance(doc.get("software_title"), dict):
            yield from self._titles([doc["software_title"]])
        elif host_obj is None:
            self.errors.report(
                self.filename, None, "no software, software_titles or hosts list; nothing read"
            )

    def _host(self, h: dict[str, Any], where: str) -> Iterator[InventoryRecord]:
        if isinstance(h.get("software"), list):
            yield from self._items(h["software"], f"{where}.software", _host_name(h) or self.default_host)

    def _items(self, items: list[Any], where: str, host: str | None) -> Iterator[InventoryRecord]:
        for i, item in enumerate(items):
            place = f"{where}[{i}]"
            if not isinstance(item, dict) or _text(item.get("name")) is None:
                self.errors.report(self.filename, place, "not a software object with a name; skipped")
                continue
            if "installed_versions" in item:
                yield from self._installed(item, place, host or self.default_host)
            else:
                rec_host = host or FLEET_HOST
                rec = software_record(item, rec_host, f"{self.filename}:{place}")
                if rec is not None:
                    yield rec

    def _installed(self, item: dict[str, Any], place: str, host: str) -> Iterator[InventoryRecord]:
        """One record per installed version and path; none when only offered for install."""
        for j, ver in enumerate(item.get("installed_versions") or []):
            if not isinstance(ver, dict):
                self.errors.report(
                    self.filename, f"{place}.installed_versions[{j}]", "not an object; skipped"
                )
                continue
            fields = item | {k: v for k, v in ver.items() if v not in (None, "")}
            paths: list[str | None] = [
                p for p in ver.get("installed_paths") or [] if isinstance(p, str) and p
            ]
            for path in paths or [None]:
                rec = software_record(fields, host, f"{self.filename}:{place}", path=path)
                if rec is not None:
                    yield rec

    def _titles(self, titles: list[Any]) -> Iterator[InventoryRecord]:
        for i, title in enumerate(titles):
            place = f"software_titles[{i}]"
            if not isinstance(title, dict) or _text(title.get("name")) is None:
                self.errors.report(self.filename, place, "not a software title with a name; skipped")
                continue
            versions = [v for v in title.get("versions") or [] if isinstance(v, dict)] or [{}]
            for ver in versions:
                fields = title | {"version": ver.get("version")}
                count = ver.get("hosts_count", title.get("hosts_count"))
                rec = software_record(fields, FLEET_HOST, f"{self.filename}:{place}", hosts_count=count)
                if rec is not None:
                    yield rec


def _csv_columns(head: bytes) -> list[str]:
    first = head.removeprefix(b"\xef\xbb\xbf").split(b"\n", 1)[0].decode("utf-8", "replace")
    return [c.strip().strip('"').lower() for c in first.split(",")]


def _host_column(columns: list[str]) -> str | None:
    """hostname/host_name/computer_name, or display_name in a per-host export (no hosts_count)."""
    for c in _HOST_COLUMNS:
        if c in columns:
            return c
    return "display_name" if "display_name" in columns and "hosts_count" not in columns else None


def records_from_csv(
    stream: BinaryIO, filename: str, errors: ErrorSink, default_host: str
) -> Iterator[InventoryRecord]:
    """Rows of a Fleet software CSV; source location is the row's first line."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="replace", newline="")
    try:
        yield from _csv_rows(csv.reader(text), filename, errors, default_host)
    finally:
        text.detach()  # the caller owns (and closes, unless stdin) the stream


def _csv_rows(reader: Any, filename: str, errors: ErrorSink, default_host: str) -> Iterator[InventoryRecord]:
    try:
        header = [c.strip().lower() for c in next(reader, [])]
    except csv.Error as exc:
        errors.report(filename, 1, f"unreadable CSV header ({exc})")
        return
    if "name" not in header:
        errors.report(filename, 1, "no 'name' column in the header; not a Fleet software CSV export")
        return
    host_col = _host_column(header)
    fallback = FLEET_HOST if host_col is None and "hosts_count" in header else default_host
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            errors.report(filename, start, f"unreadable CSV row ({exc}); skipped")
            continue
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            errors.report(filename, start, f"{len(row)} fields where the header has {len(header)}; skipped")
            continue
        item = dict(zip(header, row, strict=True))
        host = (item.get(host_col) or "").strip() if host_col else ""
        rec = software_record(item, host or fallback, f"{filename}:{start}")
        if rec is None:
            errors.report(filename, start, "no software name; skipped")
            continue
        if any("\ufffd" in cell for cell in row):
            errors.report(filename, start, "not valid UTF-8; undecodable bytes replaced")
        yield rec


class FleetReader:
    """Fleet REST API software JSON and Fleet software CSV exports."""

    name: ClassVar[str] = "fleet"

    def sniff(self, head: bytes, filename: str) -> int:
        start = head.removeprefix(b"\xef\xbb\xbf").lstrip()[:1]
        if start == b"{":
            if b'"software' in head and any(m in head for m in _JSON_MARKS):
                return 90
            return 50 if b'"software"' in head and b'"hostname"' in head else 0
        columns = _csv_columns(head)
        if "source" in columns and "name" in columns and ("hosts_count" in columns or _host_column(columns)):
            return 85
        return 0

    def read(
        self, stream: BinaryIO, filename: str, errors: ErrorSink, default_host: str
    ) -> Iterator[InventoryRecord]:
        if head_of(stream, 4096).removeprefix(b"\xef\xbb\xbf").lstrip()[:1] != b"{":
            yield from records_from_csv(stream, filename, errors, default_host)
            return
        data = read_capped(stream, filename, errors, MAX_BYTES)
        if data is None:
            return
        try:
            doc = bounded_loads(data.removeprefix(b"\xef\xbb\xbf").decode("utf-8", "replace"))
        except TooDeep as exc:
            errors.report(filename, None, f"not readable: {exc}")
            return
        except ValueError as exc:
            errors.report(filename, None, f"not valid JSON ({exc})")
            return
        yield from _JsonWalk(filename, errors, default_host).document(doc)


READERS: list[InputReader] = [FleetReader()]
