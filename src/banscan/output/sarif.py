"""SARIF 2.1.0: findings for code-scanning dashboards and SIEMs that read static-analysis logs.

One run; one rule per product found; one result per finding. Each piece of evidence becomes a
location: a `physicalLocation` when its place is a file (with the line, when one is known),
otherwise a `logicalLocation` (a registry key, a process, a WMI class …). Findings accepted
under an exception carry an `external` suppression, so viewers show them as suppressed rather
than hide them. Targets that could not be read fully become tool-execution notifications.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any
from urllib.parse import quote

from banscan.models import Evidence, Finding, ScanResult, Verdict
from banscan.policy import deadlines

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA_URI = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
INFORMATION_URI = "https://github.com/banscan/banscan"
FINGERPRINT_KEY = "banscanFinding/v1"

LEVELS: dict[Verdict, str] = {
    Verdict.COVERED: "error",
    Verdict.REVIEW: "warning",
    Verdict.REMNANT: "warning",
    Verdict.INFORMATIONAL: "note",
    Verdict.ACCEPTED: "note",
}

_REGISTRY = re.compile(r"^(HKLM|HKCU|HKU|HKCR|HKCC|HKEY_[A-Z_]+)(\\|:|$)", re.IGNORECASE)
_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_LINE = re.compile(r"^(\d+)(?::(\d+))?$")
_INDEX = re.compile(r"^(?P<path>.+?)(?P<index>\[\d+\])$")
_HAS_EXTENSION = re.compile(r"\.[A-Za-z0-9]{1,8}$")


def render(result: ScanResult) -> str:
    return json.dumps(to_sarif(result), indent=2, ensure_ascii=False) + "\n"


def to_sarif(result: ScanResult) -> dict[str, Any]:
    """The SARIF log as a JSON-ready dict."""
    rules: list[dict[str, Any]] = []
    rule_index: dict[str, int] = {}
    for f in result.findings:
        if f.product not in rule_index:
            rule_index[f.product] = len(rules)
            rules.append(_rule(f))
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "banscan",
                "version": result.banscan_version,
                "informationUri": INFORMATION_URI,
                "rules": rules,
            }
        },
        "invocations": [_invocation(result)],
        "results": [_result(f, rule_index[f.product]) for f in result.findings],
        "columnKind": "unicodeCodePoints",
        "properties": {
            "catalog_version": result.catalog_version,
            "as_of": result.as_of,
            "role": result.role,
            "hosts": list(result.hosts),
            "summary": result.summary(),
        },
    }
    return {"$schema": SARIF_SCHEMA_URI, "version": SARIF_VERSION, "runs": [run]}


def fingerprint(host: str, product: str) -> str:
    """Stable identity of a finding across scans: the same product on the same host."""
    return hashlib.sha256(f"{host.casefold()}\x00{product}".encode()).hexdigest()


def message_text(f: Finding) -> str:
    late = deadlines.of(f)
    tail = f"; {late.text()}" if late.overdue_since else ""
    return f"{f.product_name} ({f.verdict.value}, {f.confidence.value}) on host {f.host}{tail}"


def _rule(f: Finding) -> dict[str, Any]:
    props: dict[str, Any] = {"vendor": f.vendor, "category": f.category}
    props["tags"] = list(dict.fromkeys(["banned-software", *([f.category] if f.category else [])]))
    return {
        "id": f.product,
        "name": f.product_name,
        "shortDescription": {"text": f.product_name},
        "fullDescription": {
            "text": f"{f.product_name}, by {f.vendor}" + (f" ({f.category})" if f.category else "") + "."
        },
        "properties": props,
    }


def _result(f: Finding, index: int) -> dict[str, Any]:
    dl = deadlines.of(f)
    out: dict[str, Any] = {
        "ruleId": f.product,
        "ruleIndex": index,
        "level": LEVELS[f.verdict],
        "message": {"text": message_text(f)},
        "locations": _locations(f.evidence),
        "partialFingerprints": {FINGERPRINT_KEY: fingerprint(f.host, f.product)},
        "properties": {
            "host": f.host,
            "product": f.product,
            "vendor": f.vendor,
            "category": f.category,
            "version": f.version,
            "verdict": f.verdict.value,
            "confidence": f.confidence.value,
            "obligations": [o.to_json() for o in f.obligations],
            "evidence": [e.to_json() for e in f.evidence],
            "definitions_age_days": f.definitions_age_days,
            "first_identified": f.first_identified,
            "next_deadline": dl.next_deadline,
            "overdue_since": dl.overdue_since,
            "days_overdue": dl.days_overdue,
        },
    }
    if f.verdict is Verdict.ACCEPTED or f.exception is not None:
        out["suppressions"] = [_suppression(f)]
    if f.exception is not None:
        out["properties"]["exception"] = dict(f.exception)
    return out


def _suppression(f: Finding) -> dict[str, Any]:
    exc = f.exception or {}
    parts = [exc.get("reason") or "accepted under an exception"]
    if exc.get("approver"):
        parts.append(f"approved by {exc['approver']}")
    if exc.get("expires"):
        parts.append(f"expires {exc['expires']}")
    sup: dict[str, Any] = {"kind": "external", "state": "accepted", "justification": "; ".join(parts)}
    if exc:
        sup["properties"] = dict(exc)
    return sup


def _locations(evidence: list[Evidence]) -> list[dict[str, Any]]:
    """One location per distinct evidence place; evidence seen at the same place shares it."""
    by_place: dict[str, list[Evidence]] = {}
    for e in evidence:
        by_place.setdefault(e.location, []).append(e)
    out: list[dict[str, Any]] = []
    for i, (place, items) in enumerate(by_place.items()):
        loc = location(place)
        loc["id"] = i
        loc["message"] = {
            "text": "; ".join(f'{e.kind} "{e.value}" ({e.source}, {e.confidence.value})' for e in items)
        }
        out.append(loc)
    return out


def location(place: str) -> dict[str, Any]:
    """A SARIF location for an evidence place: a file (and line) when it is one, else logical."""
    if not place:
        return {"logicalLocations": [{"name": "(unknown)", "kind": "resource"}]}
    if _REGISTRY.match(place):
        return {"logicalLocations": [_logical(place, "registryKey")]}
    split = _split_file(place)
    if split is None:
        kind = "process" if place.startswith("pid:") else "resource"
        return {"logicalLocations": [_logical(place, kind)]}
    path, suffix = split
    physical: dict[str, Any] = {"artifactLocation": {"uri": file_uri(path)}}
    loc: dict[str, Any] = {"physicalLocation": physical}
    line = _LINE.match(suffix) if suffix else None
    if line:
        region: dict[str, Any] = {"startLine": max(1, int(line.group(1)))}
        if line.group(2):
            region["startColumn"] = max(1, int(line.group(2)))
        physical["region"] = region
    elif suffix:
        kind = "registryKey" if "\\" in suffix else "element"
        loc["logicalLocations"] = [_logical(suffix, kind)]
    return loc


def _logical(name: str, kind: str) -> dict[str, Any]:
    short = re.split(r"[\\/:]", name.rstrip("\\/"))[-1] or name
    return {"name": short, "fullyQualifiedName": name, "kind": kind}


def _split_file(place: str) -> tuple[str, str] | None:
    """(path, suffix) when the place is a file, perhaps followed by `:line` or `:inner-place`."""
    if _URL.match(place):
        return place, ""
    start = 2 if _DRIVE.match(place) else 0
    colon = place.find(":", start)
    path, suffix = (place, "") if colon < 0 else (place[:colon], place[colon + 1 :])
    m = _INDEX.match(path)
    if m and not suffix:
        path, suffix = m.group("path"), m.group("index")
    absolute = path.startswith(("/", "\\\\")) or bool(_DRIVE.match(path))
    relative = "/" in path or (bool(_HAS_EXTENSION.search(path)) and " " not in path)
    if not (absolute or relative):
        return None
    return path, suffix


def file_uri(path: str) -> str:
    """An absolute `file:` URI for an absolute path (POSIX, drive or UNC), else a relative URI."""
    if _URL.match(path):
        return path
    if _DRIVE.match(path) or path.startswith("\\\\"):
        return PureWindowsPath(path).as_uri()
    if path.startswith("/"):
        return PurePosixPath(path).as_uri()
    return quote(path.replace("\\", "/"), safe="/")


def _invocation(result: ScanResult) -> dict[str, Any]:
    notes: list[dict[str, Any]] = []
    for t in result.targets:
        for err in t.errors:
            notes.append(
                {
                    "level": "error",
                    "message": {"text": f"{t.target}: {err}"},
                    "properties": {"target": t.target, "format": t.format, "records": t.records},
                }
            )
    readable = not result.targets or any(t.records > 0 or not t.errors for t in result.targets)
    inv: dict[str, Any] = {"executionSuccessful": readable, "toolExecutionNotifications": notes}
    end = _utc(result.generated_at)
    if end:
        inv["endTimeUtc"] = end
    return inv


def _utc(stamp: str) -> str | None:
    if not stamp:
        return None
    try:
        when = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
