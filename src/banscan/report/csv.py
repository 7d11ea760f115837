"""CSV: one row per finding, for spreadsheets and ticketing imports.

Cells that a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, a tab or a
carriage return) are prefixed with a single quote, since product names, paths and registry
values come from the scanned machines.
"""

from __future__ import annotations

import csv
import io

from banscan.models import Evidence, Finding, ScanResult

COLUMNS = (
    "host",
    "product",
    "product_name",
    "vendor",
    "category",
    "version",
    "verdict",
    "confidence",
    "evidence_count",
    "first_evidence",
    "regulations",
    "next_deadline",
    "definitions_age_days",
)

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Obligation statuses whose deadline no longer asks anything of anyone.
_CLOSED = frozenset({"ended", "exempt"})


def render(result: ScanResult) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(COLUMNS)
    for f in result.findings:
        writer.writerow([safe_cell(v) for v in row(f)])
    return out.getvalue()


def row(f: Finding) -> list[str]:
    """The cells of one finding, in COLUMNS order, before the formula guard."""
    return [
        f.host,
        f.product,
        f.product_name,
        f.vendor,
        f.category,
        f.version or "",
        f.verdict.value,
        f.confidence.value,
        str(len(f.evidence)),
        describe_evidence(f.evidence[0]) if f.evidence else "",
        ";".join(dict.fromkeys(o.regulation for o in f.obligations)),
        next_deadline(f) or "",
        "" if f.definitions_age_days is None else str(f.definitions_age_days),
    ]


def safe_cell(value: str) -> str:
    """Neutralise spreadsheet formula injection."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def describe_evidence(e: Evidence) -> str:
    return f"{e.kind}={e.value} @ {e.location}" if e.location else f"{e.kind}={e.value}"


def next_deadline(f: Finding) -> str | None:
    """The earliest deadline still open for this finding (an overdue one counts: it is still owed)."""
    dates = sorted(o.deadline for o in f.obligations if o.deadline and o.status not in _CLOSED)
    return dates[0] if dates else None
