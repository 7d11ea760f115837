"""The vocabulary of removal tracking, shared by the fleet store, its exports and the reports
that read those exports (kept free of heavy imports so a report need not load the server).

Each product on each host moves found → replacement-installed → removed → verified; people
record the first three, only a clean re-scan sets `verified`. Flags note what a scan saw that
the recorded state does not explain.
"""

from __future__ import annotations

STATES = ("found", "replacement-installed", "removed", "verified")
MANUAL_STATES = ("found", "replacement-installed", "removed")
FLAG_GONE = "gone-without-removal-record"
FLAG_SEEN_AFTER_REMOVAL = "seen-after-removal"
# A clean scan from an agent enrolled after the removal was recorded: it does not verify it.
FLAG_NEW_AGENT = "clean-scan-from-new-agent"
SYSTEM = "system"  # the actor of moves made by scans

# The columns of the dashboard's transitions export (/transitions.csv), in order.
EXPORT_COLUMNS = (
    "host_id",
    "hostname",
    "product",
    "product_name",
    "verdict",
    "present",
    "first_seen",
    "state",
    "flag",
    "overdue",
    "updated_at",
    "updated_by",
)

# The columns of the dashboard's transitions history export (/transitions/history.csv): every
# recorded step of each item, in order (host, product, time).
HISTORY_COLUMNS = (
    "host_id",
    "hostname",
    "product",
    "at",
    "actor",
    "from_state",
    "to_state",
    "flag",
    "note",
    "report_id",
)
