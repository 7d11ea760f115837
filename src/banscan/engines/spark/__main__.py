"""`python -m banscan.engines.spark INPUT…` and `spark-submit …/banscan/engines/spark/__main__.py INPUT…`:
`banscan scan --engine spark` as a Spark application.

Every `banscan scan` option is accepted. Under spark-submit the session is spark-submit's
(its --master, --conf and resources); banscan only reuses it.
"""

from __future__ import annotations

import sys


def main() -> None:
    from banscan.cli import main as cli_main

    args = sys.argv[1:]
    if "--engine" not in args:
        args = ["--engine", "spark", *args]
    sys.argv = [sys.argv[0], "scan", *args]
    cli_main()


if __name__ == "__main__":
    main()
