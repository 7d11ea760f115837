"""Read scan result files (`banscan scan --format json`) for reports and plans.

Every file is checked against the published schema (result-v1.schema.json). Problems are
never silent:

- unreadable file, invalid JSON (with line:column), a newer or unknown `schema` version, a
  value of the wrong type → `ResultError` naming the file;
- a file that lacks required top-level fields (e.g. a truncated export without `findings`) →
  `ResultError`, unless the caller allows partial input, in which case the loaded result
  lists what is missing and every report states it prominently.

Several results are merged by `as_of` then `generated_at`: the newest result that mentions a
host decides that host's current findings; the older ones give the trend and the first day
each finding was identified.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from banscan.models import (
    Confidence,
    Evidence,
    Finding,
    Obligation,
    ObligationStatus,
    ScanResult,
    TargetResult,
    Verdict,
)
from banscan.policy.calendar import parse_date

SCHEMA_ID = "banscan/result/v1"
_SCHEMA_RE = re.compile(r"^banscan/result/v(\d+)$")
# Fields a partial result may lack and still be reported on (with the gap stated).
_TOLERATED_MISSING = ("findings", "targets", "summary", "banscan_version", "catalog_version", "as_of")


class ResultError(Exception):
    """A result file cannot be used; the message starts with the file name."""


@dataclass
class LoadedResult:
    """One result file: where it came from, the result, and what the file did not contain."""

    path: str
    result: ScanResult
    missing: list[str] = field(default_factory=list)
    # Host names the file lists as scanned (optional `hosts` field); None when not recorded.
    scanned_hosts: list[str] | None = None
    # `summary.hosts` as the file states it: counts clean hosts that v1 files do not name.
    declared_hosts: int | None = None

    @property
    def findings_known(self) -> bool:
        return "findings" not in self.missing

    @property
    def sort_key(self) -> tuple[str, str]:
        return (self.result.as_of, self.result.generated_at)


@cache
def _validator() -> Draft202012Validator:
    text = (resources.files("banscan.output") / "schemas" / "result-v1.schema.json").read_text("utf-8")
    return Draft202012Validator(json.loads(text))


def _where(path: list[Any] | Any) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def parse_result(data: Any, name: str, *, allow_partial: bool = False) -> LoadedResult:
    """Validate one decoded result document and turn it into a ScanResult; anything wrong with
    it, foreseen or not, is a ResultError naming the file."""
    try:
        return _parse_result(data, name, allow_partial=allow_partial)
    except ResultError:
        raise
    except RecursionError:
        raise ResultError(f"{name}: not a banscan result: nested too deeply") from None
    except Exception as exc:  # noqa: BLE001 - a hand-edited file that the schema let through
        from banscan.errors import unexpected

        raise ResultError(f"{name}: not a usable banscan result: {unexpected(exc)}") from None


def _parse_result(data: Any, name: str, *, allow_partial: bool) -> LoadedResult:
    if not isinstance(data, dict):
        raise ResultError(f"{name}: not a banscan result (expected a JSON object, got {type(data).__name__})")
    schema = data.get("schema")
    if schema is None:
        raise ResultError(
            f"{name}: not a banscan result: no `schema` field (expected {SCHEMA_ID!r}; "
            "write results with `banscan scan --format json`)"
        )
    m = _SCHEMA_RE.match(str(schema))
    if m is None:
        raise ResultError(f"{name}: unknown schema {schema!r}; this banscan reads {SCHEMA_ID!r}")
    if int(m.group(1)) != 1:
        raise ResultError(
            f"{name}: schema {schema!r} is newer than this banscan understands ({SCHEMA_ID!r}); "
            "upgrade banscan to report on it"
        )
    missing: list[str] = []
    problems: list[str] = []
    for error in sorted(_validator().iter_errors(data), key=lambda e: list(e.absolute_path)):
        if error.validator == "required" and not error.absolute_path:
            for key in _TOLERATED_MISSING:
                if key not in data and key not in missing and f"'{key}'" in error.message:
                    missing.append(key)
            continue
        problems.append(f"{_where(list(error.absolute_path))}: {error.message}")
    absent = [k for k in ("schema", "findings", "targets") if k not in data and k not in missing]
    missing.extend(absent)
    if problems:
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise ResultError(f"{name}: does not match {SCHEMA_ID}: " + "; ".join(problems[:5]) + more)
    if missing and not allow_partial:
        raise ResultError(
            f"{name}: incomplete result: missing {', '.join(missing)}; "
            "the file may be truncated or hand-edited (pass --allow-partial to report on it anyway)"
        )
    hosts_raw = data.get("hosts")
    scanned = [str(h) for h in hosts_raw] if isinstance(hosts_raw, list) else None
    result = _to_model(data)
    if scanned is not None:
        result.hosts = list(dict.fromkeys([*scanned, *(f.host for f in result.findings)]))
    else:
        result.hosts = list(dict.fromkeys(f.host for f in result.findings))
    summary = data.get("summary")
    declared = summary.get("hosts") if isinstance(summary, dict) else None
    return LoadedResult(
        path=name,
        result=result,
        missing=missing,
        scanned_hosts=scanned,
        declared_hosts=declared if isinstance(declared, int) else None,
    )


def load_result(
    path: Path | str, *, allow_partial: bool = False, scan_inventories: bool = True
) -> LoadedResult:
    """Read and validate one result file; an inventory banscan reads is scanned first (unless
    `scan_inventories` is off: then only a banscan result is accepted)."""
    p = Path(path)
    scanned = _scan_if_inventory(p) if scan_inventories else None
    if scanned is not None:
        return parse_result(scanned, str(p), allow_partial=allow_partial)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ResultError(f"{p}: no such file") from None
    except UnicodeDecodeError as exc:
        raise ResultError(f"{p}: not UTF-8 text (byte {exc.start}); not a banscan JSON result") from None
    except OSError as exc:
        raise ResultError(f"{p}: cannot read: {exc.strerror or exc}") from None
    if not text.strip():
        raise ResultError(f"{p}: empty file; not a banscan result")
    from banscan.inputs.jsondepth import TooDeep
    from banscan.inputs.jsondepth import loads as bounded_loads

    try:
        data = bounded_loads(text)
    except json.JSONDecodeError as exc:
        raise ResultError(
            f"{p}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg} (truncated file?)"
        ) from None
    except TooDeep as exc:
        raise ResultError(f"{p}: not a banscan result: {exc}") from None
    return parse_result(data, str(p), allow_partial=allow_partial)


def _scan_if_inventory(p: Path) -> dict[str, Any] | None:
    """A result produced by scanning `p` when it is an inventory (osquery log, CSV export, SBOM,
    reg export, a folder of them) rather than a banscan result; None for result files."""
    from banscan.inputs.base import InputError, head_of, open_input
    from banscan.inputs.registry import detect

    if not p.is_dir():
        try:
            stream, name = open_input(str(p))
        except InputError:
            return None  # reported by the result reader
        try:
            head = head_of(stream, 8192)
        finally:
            stream.close()
        if b'"banscan/result/' in head or detect(head, name) is None:
            return None
    from banscan.catalog.loader import load_catalog
    from banscan.scan import ScanOptions, run_scan

    result = run_scan(load_catalog(), ScanOptions(as_of=dt.date.today(), echo_errors=False), inputs=[str(p)])
    data: dict[str, Any] = result.to_json()
    return data


def load_results(paths: list[Path] | list[str], *, allow_partial: bool = False) -> list[LoadedResult]:
    """Read several result files, oldest first (by as_of, then generated_at)."""
    if not paths:
        raise ResultError("no result files given")
    loaded = [load_result(p, allow_partial=allow_partial) for p in paths]
    return sorted(loaded, key=lambda r: r.sort_key)


def _conf(value: Any, default: Confidence = Confidence.STRONG) -> Confidence:
    try:
        return Confidence(value)
    except ValueError:
        return default


def _to_model(data: dict[str, Any]) -> ScanResult:
    findings: list[Finding] = []
    for f in data.get("findings") or []:
        conf = _conf(f["confidence"])
        findings.append(
            Finding(
                host=f["host"],
                product=f["product"],
                product_name=f["product_name"],
                vendor=f["vendor"],
                verdict=Verdict(f["verdict"]),
                confidence=conf,
                evidence=[
                    Evidence(
                        source=e["source"],
                        kind=e["kind"],
                        value=e["value"],
                        location=e["location"],
                        confidence=_conf(e.get("confidence"), conf),
                        identifier=e.get("identifier", ""),
                    )
                    for e in f["evidence"]
                ],
                obligations=[
                    Obligation(
                        regulation=o["regulation"],
                        status=ObligationStatus(o["status"]),
                        since=o["since"],
                        action=o["action"],
                        deadline=o["deadline"],
                        citation=o.get("citation", ""),
                        exemptions=tuple(o.get("exemptions") or ()),
                        days_overdue=o.get("days_overdue"),
                    )
                    for o in f["obligations"]
                ],
                category=f.get("category") or "",
                version=f.get("version"),
                exception=dict(f["exception"]) if f.get("exception") else None,
                definitions_age_days=f.get("definitions_age_days"),
                brand=f.get("brand"),
                first_identified=f.get("first_identified"),
            )
        )
    targets = [
        TargetResult(target=t["target"], format=t["format"], records=t["records"], errors=list(t["errors"]))
        for t in data.get("targets") or []
    ]
    return ScanResult(
        banscan_version=str(data.get("banscan_version") or "unknown"),
        catalog_version=str(data.get("catalog_version") or "unknown"),
        as_of=str(data.get("as_of") or ""),
        role=str(data.get("role") or "user"),
        jurisdiction=str(data.get("jurisdiction") or "US"),
        targets=targets,
        findings=findings,
        generated_at=str(data.get("generated_at") or ""),
        catalog={
            k: v
            for k, v in (data.get("catalog") or {}).items()
            if k in ("sha256", "source", "verified", "repository") and isinstance(v, str | bool)
        }
        if isinstance(data.get("catalog"), dict)
        else {},
        packs=[
            {k: str(v) for k, v in p.items() if k in ("id", "title", "version")}
            for p in data.get("packs") or []
            if isinstance(p, dict)
        ],
    )


@dataclass
class Merged:
    """Several results folded into the current state of the estate, plus their history."""

    results: list[LoadedResult]  # oldest first
    findings: list[Finding]  # the current findings: per host, from the newest result naming it
    hosts: list[str]  # every host named by any result
    host_result: dict[str, LoadedResult]  # which result the host's current state comes from
    first_seen: dict[tuple[str, str], str]  # (host, product) → earliest day any result shows it
    hosts_scanned: int  # best count of distinct hosts scanned
    hosts_unnamed: int  # scanned hosts whose names no result records (clean hosts in v1 files)

    @property
    def latest(self) -> LoadedResult:
        return self.results[-1]

    @property
    def as_of(self) -> str:
        return max((r.result.as_of for r in self.results if r.result.as_of), default="")

    @property
    def findings_known(self) -> bool:
        return all(r.findings_known for r in self.results)

    @property
    def missing(self) -> list[str]:
        return [f"{r.path}: missing {', '.join(r.missing)}" for r in self.results if r.missing]


def merge(results: list[LoadedResult]) -> Merged:
    """Fold results (any order) into the current state: the newest result naming a host wins."""
    ordered = sorted(results, key=lambda r: r.sort_key)
    host_result: dict[str, LoadedResult] = {}
    for r in ordered:
        for h in r.result.hosts:
            host_result[h] = r
    first_seen = {key: day.isoformat() for key, day in first_identified(ordered).items()}
    findings = [f for h, r in host_result.items() for f in r.result.findings if f.host == h]
    hosts = sorted(host_result, key=str.lower)
    # Scanned-host counts from the summaries cover clean hosts that v1 files do not name.
    named_latest = len(hosts)
    scanned = max([named_latest, *(_summary_hosts(r) for r in ordered)])
    return Merged(
        results=ordered,
        findings=findings,
        hosts=hosts,
        host_result=host_result,
        first_seen=first_seen,
        hosts_scanned=scanned,
        hosts_unnamed=max(0, scanned - named_latest),
    )


def first_identified(results: list[LoadedResult]) -> dict[tuple[str, str], dt.date]:
    """(host, product) → the earliest day any of the results shows it: a finding's own
    `first_identified` (carried forward by the scan that wrote it), else its result's as-of day.
    Results may come in any order; a result with neither date adds nothing."""
    out: dict[tuple[str, str], dt.date] = {}
    for r in results:
        as_of = parse_date(r.result.as_of)
        for f in r.result.findings:
            days = [d for d in (parse_date(f.first_identified), as_of) if d is not None]
            if not days:
                continue
            key = (f.host, f.product)
            day = min(days)
            if key not in out or day < out[key]:
                out[key] = day
    return out


def _summary_hosts(r: LoadedResult) -> int:
    named = len(r.scanned_hosts) if r.scanned_hosts is not None else len(r.result.hosts)
    return max(named, r.declared_hosts or 0)
