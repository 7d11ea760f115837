"""Where a scan runs: `local` (this process, `banscan.scan.run_scan`) or `spark` (a Spark cluster).

Every engine feeds the same readers and `banscan.match.matcher.Matcher`, and ends in
`banscan.scan.finish`, so a result does not depend on where it was computed.
"""

from __future__ import annotations

ENGINES = ("local", "spark")
