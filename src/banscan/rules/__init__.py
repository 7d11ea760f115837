"""Detection exported for other tools, generated from the catalog and never hand-written:
an osquery pack, Fleet policies and YARA rules for the deep scan."""

from __future__ import annotations

from banscan.rules.fleet import render_fleet_policies
from banscan.rules.osquery import render_osquery_pack
from banscan.rules.yara import render_yara

__all__ = ["render_fleet_policies", "render_osquery_pack", "render_yara"]
