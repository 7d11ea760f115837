"""banscan on Apache Spark: the catalog run where a data lake keeps its inventories.

`run_spark_scan` takes the inputs `banscan scan` takes (and Hadoop-compatible URIs) and
returns the ScanResult a local scan of the same files returns. PySpark is imported only when a
scan starts; `SparkUnavailable` says what to install when it is missing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from banscan.engines.spark.session import DEFAULT_MASTER, INSTALL_HINT, SparkUnavailable, require_pyspark

if TYPE_CHECKING:
    from banscan.catalog.schema import Catalog
    from banscan.models import ScanResult
    from banscan.scan import ScanOptions

__all__ = ["DEFAULT_MASTER", "INSTALL_HINT", "SparkUnavailable", "require_pyspark", "run_spark_scan"]


def run_spark_scan(
    catalog: Catalog,
    opts: ScanOptions,
    inputs: list[str],
    *,
    master: str | None = None,
    findings_table: str | None = None,
    spark: Any = None,
) -> ScanResult:
    """See `banscan.engines.spark.scan.run_spark_scan`."""
    from banscan.engines.spark.scan import run_spark_scan as run

    return run(catalog, opts, inputs, master=master, findings_table=findings_table, spark=spark)
