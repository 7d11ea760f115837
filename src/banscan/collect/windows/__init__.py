"""Windows collectors: registry (offline hive files or the live registry), folders, and,
on the running machine only, Security Center and processes."""

from __future__ import annotations

from banscan.collect.base import Collector
from banscan.collect.windows.certs import RootCertificatesCollector
from banscan.collect.windows.paths import ProgramFoldersCollector
from banscan.collect.windows.processes import ProcessesCollector
from banscan.collect.windows.regkeys import RegistryKeysCollector
from banscan.collect.windows.secctr import SecurityCenterCollector
from banscan.collect.windows.services import ServicesCollector
from banscan.collect.windows.uninstall import UninstallCollector

COLLECTORS: list[Collector] = [
    UninstallCollector(),
    ServicesCollector(),
    RegistryKeysCollector(),
    RootCertificatesCollector(),
    ProgramFoldersCollector(),
    SecurityCenterCollector(),
    ProcessesCollector(),
]

__all__ = ["COLLECTORS"]
