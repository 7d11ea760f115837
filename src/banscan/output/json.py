"""The JSON result: the documented contract other tools and the server read."""

from __future__ import annotations

import json

from banscan.models import ScanResult


def render(result: ScanResult) -> str:
    return json.dumps(result.to_json(), indent=2, ensure_ascii=False) + "\n"
