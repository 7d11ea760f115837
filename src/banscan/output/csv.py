"""CSV: one row per finding, for spreadsheets and ticketing imports.

Cells that a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, a tab or a
carriage return) are prefixed with a single quote, and bidirectional controls (U+202E …) are
written out as `[U+202E]` (`banscan.text`), since host and product names, paths and registry
values come from the scanned machines.
"""

from __future__ import annotations

import csv
import io

from banscan.models import Evidence, Finding, ScanResult
from banscan.policy import deadlines
from banscan.text import show_bidi

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
    "overdue_since",
    "days_overdue",
    "first_identified",
    "definitions_age_days",
)

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def render(result: ScanResult) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(COLUMNS)
    for f in result.findings:
        writer.writerow([safe_cell(v) for v in row(f)])
    return out.getvalue()


def row(f: Finding) -> list[str]:
    """The cells of one finding, in COLUMNS order, before the formula guard."""
    dl = deadlines.of(f)
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
        dl.next_deadline or "",
        dl.overdue_since or "",
        "" if dl.days_overdue is None else str(dl.days_overdue),
        f.first_identified or "",
        "" if f.definitions_age_days is None else str(f.definitions_age_days),
    ]


def safe_cell(value: str) -> str:
    """Neutralise spreadsheet formula injection, and text that reads as other text."""
    value = show_bidi(value)
    return "'" + value if value.startswith(_FORMULA_START) else value


def unguard_cell(value: str) -> str:
    """The value `safe_cell` guarded, read back from a CSV it wrote."""
    return value[1:] if value.startswith("'") and value[1:2] and value[1] in _FORMULA_START else value


def describe_evidence(e: Evidence) -> str:
    return f"{e.kind}={e.value} @ {e.location}" if e.location else f"{e.kind}={e.value}"


def next_deadline(f: Finding) -> str | None:
    """The earliest deadline this finding still owes: a passed one first (it is overdue), else
    the next one ahead. For ordering hosts by urgency; outputs say which it is (deadlines.of)."""
    dl = deadlines.of(f)
    return dl.overdue_since or dl.next_deadline
