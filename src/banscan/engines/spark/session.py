"""The Spark session a scan runs in: quiet, and started only when PySpark and Java are there.

PySpark is imported here and nowhere at module level, so `banscan` without the `spark` extra
never loads it; `SparkUnavailable` carries the one line the CLI prints instead.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

DEFAULT_MASTER = "local[*]"
INSTALL_HINT = "pip install 'banscan[spark]'"


class SparkUnavailable(Exception):
    """PySpark or Java is missing; the message says what to install."""


def require_pyspark() -> None:
    """Raise SparkUnavailable unless PySpark (with pyarrow) can be imported and Java runs."""
    try:
        import pyarrow  # noqa: F401
        import pyspark  # noqa: F401
    except ImportError as exc:
        raise SparkUnavailable(
            f"--engine spark needs PySpark ({exc.name or 'pyspark'} is not installed): {INSTALL_HINT}"
        ) from None
    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        raise SparkUnavailable(
            "--engine spark needs Java 17 or later (no `java` on the PATH and no JAVA_HOME); "
            "on Debian or Ubuntu: apt-get install openjdk-17-jre-headless"
        )


def get_session(master: str | None = None, conf: dict[str, str] | None = None) -> SparkSession:
    """The active session (spark-submit's, or a test's), else a new one on `master`.

    A new session keeps the console clean (log level ERROR, no console progress bar of Spark's
    own; banscan draws its own), runs Python workers on this interpreter (the one banscan is
    installed in), and lets later duplicate map keys win, as Python's `json` does.
    """
    require_pyspark()
    # PySpark warns about pandas 3 each time it checks pandas (banscan exchanges Arrow tables)
    warnings.filterwarnings(
        "ignore", message="PySpark does not yet fully support pandas", category=FutureWarning
    )
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        _quiet(active)
        return active
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder: Any = SparkSession.builder.appName("banscan")
    from pyspark import SparkConf

    submitted = SparkConf().contains("spark.master")  # spark-submit --master …
    if master is not None or not submitted:
        builder = builder.master(master or DEFAULT_MASTER)
    log4j = Path(__file__).with_name("log4j2.properties")
    settings = {
        "spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile={log4j.as_uri()}",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.mapKeyDedupPolicy": "LAST_WIN",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
    }
    settings.update(conf or {})
    for key, value in settings.items():
        builder = builder.config(key, value)
    session: SparkSession = builder.getOrCreate()
    _quiet(session)
    return session


@contextlib.contextmanager
def arrow_udfs() -> Iterator[None]:
    """Around the Arrow functions' definitions: PySpark warns about pandas 3 each time it
    checks pandas, which banscan's Arrow tables do not use."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="PySpark does not yet fully support pandas", category=FutureWarning
        )
        yield


def _quiet(session: SparkSession) -> None:
    session.sparkContext.setLogLevel("ERROR")
