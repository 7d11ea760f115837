"""Deep scan: Kaspersky code found by the contents of files — signer, version resources,
bundle identity and byte signatures — inside archives too. Nothing is ever executed.

Entry points: `deep_records(ctx_or_paths, errors)`, `DeepScanner`, `DeepCollector`, and the
certificate-store collectors in `banscan.deep.certstores.CERT_COLLECTORS`.
"""

from __future__ import annotations

from banscan.deep.archives import Limits
from banscan.deep.scan import DeepCollector, DeepScanner, deep_records

__all__ = ["DeepCollector", "DeepScanner", "Limits", "deep_records"]
