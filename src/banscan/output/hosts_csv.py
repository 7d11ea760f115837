"""CSV of hosts: one row per host with findings, for fleet work lists (who to visit first).

Hosts are ordered by urgency: covered findings first, then overdue obligations, then the next deadline.
Clean hosts are left out; the summary counts them.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict

from banscan.models import Finding, ScanResult, Verdict
from banscan.output.csv import safe_cell
from banscan.policy import deadlines

COLUMNS = (
    "host",
    "covered",
    "remnant",
    "review",
    "accepted",
    "informational",
    "products",
    "next_deadline",
    "overdue_since",
    "max_definitions_age_days",
)


def render(result: ScanResult) -> str:
    by_host: dict[str, list[Finding]] = defaultdict(list)
    for f in result.findings:
        by_host[f.host].append(f)
    rows = [_row(host, fs) for host, fs in by_host.items()]
    # overdue hosts first (earliest first), then by the next deadline
    rows.sort(key=lambda r: (-int(r[1]), -int(r[2]), r[8] or "9999-99-99", r[7] or "9999-99-99", r[0]))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for r in rows:
        writer.writerow([safe_cell(v) for v in r])
    return out.getvalue()


def _row(host: str, fs: list[Finding]) -> list[str]:
    count = {v: sum(1 for f in fs if f.verdict is v) for v in Verdict}
    summaries = [deadlines.of(f) for f in fs]
    ahead = [d.next_deadline for d in summaries if d.next_deadline]
    late = [d.overdue_since for d in summaries if d.overdue_since]
    ages = [f.definitions_age_days for f in fs if f.definitions_age_days is not None]
    return [
        host,
        str(count[Verdict.COVERED]),
        str(count[Verdict.REMNANT]),
        str(count[Verdict.REVIEW]),
        str(count[Verdict.ACCEPTED]),
        str(count[Verdict.INFORMATIONAL]),
        ";".join(sorted({f.product for f in fs})),
        min(ahead) if ahead else "",
        min(late) if late else "",
        str(max(ages)) if ages else "",
    ]
