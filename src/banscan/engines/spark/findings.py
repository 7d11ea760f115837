"""`--findings-table PATH`: the findings as a Parquet table in the lake, partitioned by scan date.

One row per finding (a finding is one product on one host), appended, so that successive
scans build a history that SQL engines query by `scan_date`.
"""

from __future__ import annotations

from typing import Any

from banscan.models import ScanResult

SCHEMA = (
    "scan_date string, generated_at string, as_of string, catalog_version string, host string, "
    "product string, product_name string, vendor string, verdict string, confidence string, "
    "version string, brand string, first_identified string, "
    "evidence array<struct<source: string, kind: string, value: string, location: string, "
    "confidence: string, identifier: string>>"
)


def finding_rows(result: ScanResult) -> list[tuple[Any, ...]]:
    scan_date = (result.generated_at or "")[:10] or result.as_of
    rows = []
    for f in result.findings:
        evidence = [
            (e.source, e.kind, e.value, e.location, e.confidence.value, e.identifier) for e in f.evidence
        ]
        rows.append(
            (
                scan_date,
                result.generated_at,
                result.as_of,
                result.catalog_version,
                f.host,
                f.product,
                f.product_name,
                f.vendor,
                f.verdict.value,
                f.confidence.value,
                f.version,
                f.brand,
                f.first_identified,
                evidence,
            )
        )
    return rows


def write_findings(spark: Any, result: ScanResult, path: str) -> int:
    """Append the findings to the Parquet table at `path`; returns the rows written."""
    rows = finding_rows(result)
    df = spark.createDataFrame(rows, SCHEMA)
    df.coalesce(1).write.mode("append").partitionBy("scan_date").parquet(path)
    return len(rows)
