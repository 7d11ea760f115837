"""Deep scan: Kaspersky code found by the contents of files — signer, version resources,
bundle identity and byte signatures — inside archives too. Nothing is ever executed.

Entry points: `deep_records(ctx_or_paths, errors)`, `DeepScanner`, `DeepCollector`. The
analysers are imported on first use, so an ordinary scan does not pay for them. (The
certificate stores every scan reads are ordinary collectors: `banscan.collect.certstores`.)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from banscan.deep.archives import Limits
    from banscan.deep.scan import DeepCollector, DeepScanner, deep_records

__all__ = ["DeepCollector", "DeepScanner", "Limits", "deep_records"]

_HOME = {"Limits": "banscan.deep.archives"} | dict.fromkeys(
    ("DeepCollector", "DeepScanner", "deep_records"), "banscan.deep.scan"
)


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return getattr(importlib.import_module(_HOME[name]), name)
    raise AttributeError(f"module 'banscan.deep' has no attribute {name!r}")
