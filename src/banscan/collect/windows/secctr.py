"""Antivirus products registered with Windows Security Center (live Windows only).

Security Center knows the product the user sees even when its install keys are odd, so it
is a cheap cross-check. It is read through PowerShell's Get-CimInstance as JSON; the
PowerShell used is the running system's own, never one from a scanned root.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from banscan.collect.base import OS, CollectContext
from banscan.models import InventoryRecord, RecordKind, Source

NAMESPACE = r"root\SecurityCenter2"
QUERY = (
    "Get-CimInstance -Namespace root/SecurityCenter2 -ClassName AntiVirusProduct | "
    "Select-Object displayName,instanceGuid,pathToSignedProductExe,productState,timestamp | "
    "ConvertTo-Json -Compress"
)
TIMEOUT = 60


def records_from_json(
    text: str, host: str, collector: str = "windows-security-center"
) -> Iterator[InventoryRecord]:
    """Records from Get-CimInstance JSON (one object or a list); separated for testing."""
    data: Any = json.loads(text) if text.strip() else []
    items = data if isinstance(data, list) else [data]
    for item in items:
        if not isinstance(item, dict) or not item.get("displayName"):
            continue
        extra: list[tuple[str, str]] = []
        state = item.get("productState")
        if isinstance(state, int):
            # productState 0xPPSSDD: SS bit 0x10 = real-time scanning on, DD 0x10 = definitions out of date
            extra.append(("product_state", f"0x{state:06x}"))
            extra.append(("enabled", str(bool((state >> 8) & 0x10)).lower()))
            extra.append(("definitions_up_to_date", str((state >> 4) & 0xF == 0).lower()))
        for field, name in (("instance_guid", "instanceGuid"), ("timestamp", "timestamp")):
            if item.get(name):
                extra.append((field, str(item[name])))
        yield InventoryRecord(
            host=host,
            source=Source(collector, f"{NAMESPACE}:AntiVirusProduct"),
            kind=RecordKind.SECURITY_PRODUCT,
            name=str(item["displayName"]),
            path=str(item["pathToSignedProductExe"]) if item.get("pathToSignedProductExe") else None,
            extra=tuple(extra),
        )


def _powershell() -> Path:
    system_root = os.environ.get("SYSTEMROOT", r"C:\Windows")
    return Path(system_root) / "System32" / "WindowsPowerShell" / "v1.0" / "powershell.exe"


class SecurityCenterCollector:
    name: ClassVar[str] = "windows-security-center"
    os: ClassVar[tuple[OS, ...]] = ("windows",)
    live_only: ClassVar[bool] = True
    reads: ClassVar[tuple[str, ...]] = ()  # the running system only

    def collect(self, ctx: CollectContext) -> Iterator[InventoryRecord]:
        if not ctx.live or os.name != "nt":
            return
        exe = _powershell()
        try:
            proc = subprocess.run(
                [str(exe), "-NoProfile", "-NonInteractive", "-Command", QUERY],
                capture_output=True,
                text=True,
                timeout=TIMEOUT,
                check=False,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            ctx.errors.report(NAMESPACE, None, f"cannot query Security Center: {exc}")
            return
        if proc.returncode != 0:
            # Windows Server has no SecurityCenter2 namespace; that is not worth an error line.
            if "Invalid namespace" not in proc.stderr:
                ctx.errors.report(NAMESPACE, None, f"Get-CimInstance failed: {proc.stderr.strip()[:200]}")
            return
        try:
            yield from records_from_json(proc.stdout, ctx.host, self.name)
        except ValueError as exc:
            ctx.errors.report(NAMESPACE, None, f"unreadable Get-CimInstance output: {exc}")
