"""Realistic multi-host results for the report tests, and the result loader's contract.

Two scans of the same estate: 2024-10-01 and 2024-11-08. Each covers a Linux server and a
Mac (built by the root builders and scanned for real) and a Windows workstation whose findings
are made by hand (Uninstall-key evidence with MSI product codes, a Cyrillic display name) and
run through the real exception and policy code. By the second scan the workstation's Network
Agent is gone and its Endpoint Security is under an approved exception.
"""

from __future__ import annotations

import datetime as dt
import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from banscan.catalog.loader import load_catalog
from banscan.catalog.schema import Catalog
from banscan.documents import build_context
from banscan.documents.load import ResultError, load_result, load_results, merge
from banscan.models import Confidence, Evidence, Finding, ScanResult, TargetResult, Verdict
from banscan.policy.engine import apply_policy
from banscan.policy.exceptions import ExceptionEntry, apply_exceptions
from banscan.scan import ScanOptions, run_scan
from linux_root import HOSTNAME as LINUX_HOST
from linux_root import build_linux_root
from macos_root import build_macos_root

MAC_HOST = "Ivans-MacBook-Pro"
WIN_HOST = "KL-WKS-042"
KES_GUID = "{9A017278-F7F4-4DF9-A482-0B9B2D6B3C4E}"
NAGENT_GUID = "{2924BEDA-E0D7-4DAF-A224-50D2E0B12F5B}"
APPROVER = "Dana Whitfield (CISO)"
ROLE = "federal-contractor"
EARLY = dt.date(2024, 10, 1)
LATE = dt.date(2024, 11, 8)
UNINSTALL = r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall"

FAR_CONTEXT = """\
contractor: Example Federal Services LLC
cage_code: 1ABC2
reporter: {name: Pat Lee, title: Contracts Manager, email: pat.lee@example.com}
contract_number: 47QTCA-22-D-00AB
order_numbers: [47QFCA-24-F-0042]
contracting_officer: Jordan Smith
date_identified: 2024-11-08
mitigation: Affected hosts isolated from the contract enclave; replacements being installed.
"""


@cache
def catalog() -> Catalog:
    return load_catalog()


def _windows_findings(cat: Catalog, as_of: dt.date, *, with_agent: bool, excepted: bool) -> list[Finding]:
    kes = Finding(
        host=WIN_HOST,
        product="kes-windows",
        product_name="Kaspersky Endpoint Security for Windows",
        vendor="Kaspersky Lab",
        verdict=Verdict.COVERED,
        confidence=Confidence.DEFINITIVE,
        category="endpoint-protection",
        version="12.3.0.493",
        evidence=[
            Evidence(
                "windows-uninstall",
                "display_name",
                "Kaspersky Endpoint Security для Windows",
                f"{UNINSTALL}\\{KES_GUID}",
                Confidence.DEFINITIVE,
                "prefix:Kaspersky Endpoint Security",
            ),
            Evidence(
                "windows-services",
                "service",
                "AVP",
                r"HKLM\SYSTEM\CurrentControlSet\Services\AVP",
                Confidence.STRONG,
            ),
        ],
    )
    out = [kes]
    if with_agent:
        out.append(
            Finding(
                host=WIN_HOST,
                product="ksc-network-agent",
                product_name="Kaspersky Security Center Network Agent",
                vendor="Kaspersky Lab",
                verdict=Verdict.COVERED,
                confidence=Confidence.DEFINITIVE,
                category="management-agent",
                version="14.0.0.10902",
                evidence=[
                    Evidence(
                        "windows-uninstall",
                        "display_name",
                        "Kaspersky Security Center Network Agent",
                        f"{UNINSTALL}\\{NAGENT_GUID}",
                        Confidence.DEFINITIVE,
                    )
                ],
            )
        )
    entries = []
    if excepted:
        entries.append(
            ExceptionEntry(
                host=WIN_HOST,
                product="kes-windows",
                reason="Lab instrument controller; vendor replacement certified in Q1",
                approver=APPROVER,
                expires=dt.date(2025, 3, 31),
                ticket="CHG-2024-1187",
            )
        )
    apply_exceptions(out, entries, as_of)
    apply_policy(cat, out, ROLE, as_of)
    return out


def scan_estate(workdir: Path, as_of: dt.date, *, late: bool) -> dict[str, Any]:
    cat = catalog()
    linux = build_linux_root(workdir / f"linux-{as_of}")
    mac = build_macos_root(workdir / f"mac-{as_of}")
    result: ScanResult = run_scan(
        cat, ScanOptions(as_of=as_of, role=ROLE, echo_errors=False), roots=[linux, mac]
    )
    result.findings.extend(_windows_findings(cat, as_of, with_agent=not late, excepted=late))
    result.hosts.append(WIN_HOST)
    result.targets.append(TargetResult(target=f"{WIN_HOST}-software.reg", format="reg-export", records=212))
    result.targets.append(
        TargetResult(
            target="/mnt/images/lab-07",
            format="root",
            errors=["/mnt/images/lab-07: not a recognised Windows, macOS or Linux root"],
        )
    )
    result.generated_at = f"{as_of}T18:00:00+00:00"
    return result.to_json()


@cache
def _estate_dir() -> Path:
    import tempfile

    return Path(tempfile.mkdtemp(prefix="banscan-reports-"))


@cache
def estate_files() -> tuple[Path, Path]:
    """(early, late) result files; built once per test run."""
    d = _estate_dir()
    early, late = d / "scan-2024-10-01.json", d / "scan-2024-11-08.json"
    early.write_text(json.dumps(scan_estate(d, EARLY, late=False), ensure_ascii=False), encoding="utf-8")
    late.write_text(
        json.dumps(scan_estate(d, LATE, late=True), ensure_ascii=False, indent=1), encoding="utf-8"
    )
    return early, late


def far_context_file() -> Path:
    p = _estate_dir() / "far-context.yaml"
    p.write_text(FAR_CONTEXT, encoding="utf-8")
    return p


def sites_file() -> Path:
    p = _estate_dir() / "sites.csv"
    p.write_text(
        f"host,site\n{LINUX_HOST},Reston DC\n{MAC_HOST},Arlington HQ\n{WIN_HOST},Arlington HQ\n",
        encoding="utf-8",
    )
    return p


def late_context(**kw: Any):  # type: ignore[no-untyped-def]
    return build_context(load_results([estate_files()[1]]), catalog(), **kw)


def both_context(**kw: Any):  # type: ignore[no-untyped-def]
    return build_context(load_results(list(estate_files())), catalog(), **kw)


# --- the loader's contract --------------------------------------------------------------------


def _write(tmp_path: Path, name: str, data: Any) -> Path:
    p = tmp_path / name
    p.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return p


def _late_doc() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(estate_files()[1].read_text(encoding="utf-8"))
    return doc


def test_estate_is_realistic() -> None:
    doc = _late_doc()
    hosts = {f["host"] for f in doc["findings"]}
    assert hosts == {LINUX_HOST, MAC_HOST, WIN_HOST}
    kes = next(f for f in doc["findings"] if f["product"] == "kes-windows")
    assert kes["verdict"] == "accepted" and kes["exception"]["approver"] == APPROVER
    assert any(o["deadline"] == "2024-11-14" for o in kes["obligations"])


def test_newer_schema_is_refused_naming_the_file(tmp_path: Path) -> None:
    doc = _late_doc()
    doc["schema"] = "banscan/result/v9"
    p = _write(tmp_path, "future.json", doc)
    with pytest.raises(ResultError) as exc:
        load_result(p)
    msg = str(exc.value)
    assert str(p) in msg and "banscan/result/v9" in msg and "newer" in msg


def test_unknown_schema_and_not_a_result(tmp_path: Path) -> None:
    with pytest.raises(ResultError, match="unknown schema 'cyclonedx'"):
        load_result(_write(tmp_path, "a.json", {"schema": "cyclonedx"}))
    with pytest.raises(ResultError, match="no `schema` field"):
        load_result(_write(tmp_path, "b.json", {"findings": []}))
    with pytest.raises(ResultError, match="expected a JSON object"):
        load_result(_write(tmp_path, "c.json", "[1, 2]"))
    with pytest.raises(ResultError, match="empty file"):
        load_result(_write(tmp_path, "d.json", "  \n"))


def test_truncated_json_reports_line_and_column(tmp_path: Path) -> None:
    text = estate_files()[1].read_text(encoding="utf-8")
    p = _write(tmp_path, "cut.json", text[: len(text) // 2])
    with pytest.raises(ResultError) as exc:
        load_result(p)
    msg = str(exc.value)
    assert msg.startswith(f"{p}:") and "invalid JSON" in msg
    line, col = msg[len(str(p)) + 1 :].split(":")[:2]
    assert int(line) > 10 and int(col) >= 1


def test_wrong_types_are_refused_with_a_path(tmp_path: Path) -> None:
    doc = _late_doc()
    doc["findings"][0]["verdict"] = "banned"
    with pytest.raises(ResultError, match=r"findings\[0\]\.verdict"):
        load_result(_write(tmp_path, "bad.json", doc))


def test_missing_findings_is_an_error_unless_partial_allowed(tmp_path: Path) -> None:
    doc = _late_doc()
    del doc["findings"]
    p = _write(tmp_path, "partial.json", doc)
    with pytest.raises(ResultError, match="missing findings") as exc:
        load_result(p)
    assert str(p) in str(exc.value)
    loaded = load_result(p, allow_partial=True)
    assert loaded.missing == ["findings"] and not loaded.findings_known
    ctx = build_context([loaded], catalog())
    assert not ctx.clean and not ctx.findings_known
    assert any("missing findings" in w for w in ctx.warnings)


def test_merge_keeps_newest_state_and_first_identification() -> None:
    early, late = load_results(list(reversed(estate_files())))  # sorted regardless of order given
    assert early.result.as_of == "2024-10-01"
    m = merge([late, early])
    products = {(f.host, f.product) for f in m.findings}
    assert (WIN_HOST, "ksc-network-agent") not in products  # gone by the newer scan
    assert (WIN_HOST, "kes-windows") in products
    assert m.first_seen[(WIN_HOST, "kes-windows")] == "2024-10-01"
    assert m.hosts_scanned == 3


def test_platforms_are_derived() -> None:
    ctx = late_context()
    plat = {h.name: h.platform for h in ctx.hosts}
    assert plat == {LINUX_HOST: "linux", MAC_HOST: "macos", WIN_HOST: "windows"}
