"""What the disk-image tests compare: a scan's findings with their evidence, locations stripped
of the image-and-volume prefix every one of them must carry, so an image's findings can be set
against those of the same tree mounted."""

from __future__ import annotations

import re

from banscan.models import ScanResult

Finding = tuple[str, str, str, tuple[tuple[str, str, str, str, str], ...]]


def findings(result: ScanResult, prefix: str = "") -> list[Finding]:
    """Host, product, verdict and evidence of each finding, evidence locations without `prefix`
    (a regular expression for the image and volume, or the folder) — which every location must
    start with."""
    out: list[Finding] = []
    for f in result.findings:
        evidence = []
        for e in f.evidence:
            location = e.location
            if prefix:
                assert re.match(prefix, location), location
                location = re.sub(prefix, "", location, count=1)
            evidence.append((e.source, e.kind, e.value, location, e.confidence.value))
        out.append((f.host, f.product, f.verdict.value, tuple(sorted(evidence))))
    return sorted(out)
