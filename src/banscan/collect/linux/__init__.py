"""Linux collectors: package databases, services, kernel modules, processes and install folders."""

from __future__ import annotations

from banscan.collect.base import Collector
from banscan.collect.linux.dpkg import DpkgCollector
from banscan.collect.linux.flatpak import FlatpakCollector
from banscan.collect.linux.initd import InitdCollector
from banscan.collect.linux.kmod import KmodCollector
from banscan.collect.linux.paths import PathsCollector
from banscan.collect.linux.process import ProcessCollector
from banscan.collect.linux.rpm import RpmCollector
from banscan.collect.linux.snap import SnapCollector
from banscan.collect.linux.systemd import SystemdCollector

COLLECTORS: list[Collector] = [
    DpkgCollector(),
    RpmCollector(),
    SnapCollector(),
    FlatpakCollector(),
    SystemdCollector(),
    InitdCollector(),
    KmodCollector(),
    ProcessCollector(),
    PathsCollector(),
]

__all__ = ["COLLECTORS"]
