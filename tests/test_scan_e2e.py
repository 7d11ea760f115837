"""`banscan scan --root` end to end on realistic Linux, Windows and macOS roots, with the
shipped catalog: the right products, verdicts and evidence; clean roots exit 0; the JSON
matches its published schema; rules are evaluated on both sides of the ban's dates."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from typer.testing import CliRunner

from banscan.cli import app
from linux_root import build_linux_root
from macos_root import build_macos_root

runner = CliRunner()


def scan_json(*args: str) -> tuple[int, dict[str, Any]]:
    res = runner.invoke(app, ["scan", "--format", "json", "--quiet", *args])
    assert res.exit_code in (0, 1), res.output
    return res.exit_code, json.loads(res.stdout)


def verdicts(result: dict[str, Any]) -> dict[str, str]:
    return {f["product"]: f["verdict"] for f in result["findings"]}


@pytest.fixture(scope="module")
def result_schema() -> dict[str, Any]:
    text = (resources.files("banscan.output") / "schemas" / "result-v1.schema.json").read_text(
        encoding="utf-8"
    )
    schema: dict[str, Any] = json.loads(text)
    return schema


@pytest.fixture(scope="module")
def linux_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_linux_root(tmp_path_factory.mktemp("linux") / "root")


@pytest.fixture(scope="module")
def mac_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_macos_root(tmp_path_factory.mktemp("mac") / "root")


@pytest.fixture(scope="module")
def windows_root(tmp_path_factory: pytest.TempPathFactory, shared_fixtures: Path) -> Path:
    from windows_root import build_windows_root

    return build_windows_root(tmp_path_factory.mktemp("win") / "root", shared_fixtures)


def test_linux_root_findings(linux_root: Path, result_schema: dict[str, Any]) -> None:
    code, out = scan_json("--root", str(linux_root), "--as-of", "2025-03-03")
    jsonschema.validate(out, result_schema)
    assert code == 1
    v = verdicts(out)
    assert v["kesl"] == "covered"
    assert v["ksc-network-agent"] == "covered"
    assert v["ksc-linux"] == "covered"
    kesl = next(f for f in out["findings"] if f["product"] == "kesl")
    assert kesl["host"] == "srv-app-01"
    assert kesl["confidence"] == "definitive"
    assert kesl["version"] == "12.1.0.1297"
    kinds = {(e["kind"], e["value"]) for e in kesl["evidence"]}
    assert ("package", "kesl") in kinds and ("package", "kesl-gui") in kinds
    assert any(e["location"].startswith("/var/lib/dpkg/status:") for e in kesl["evidence"])
    assert kesl["definitions_age_days"] == 155  # 2024-09-29 → 2025-03-03
    assert out["summary"] == {
        "hosts": 1,
        "hosts_with_findings": 1,
        "findings": len(out["findings"]),
        "by_verdict": out["summary"]["by_verdict"],
    }
    assert out["targets"][0]["format"] == "root:linux" and out["targets"][0]["records"] > 10


def test_macos_root_findings(mac_root: Path, result_schema: dict[str, Any]) -> None:
    code, out = scan_json("--root", str(mac_root))
    jsonschema.validate(out, result_schema)
    assert code == 1
    v = verdicts(out)
    assert v["kaspersky-anti-virus"] == "covered"
    assert v["kaspersky-protection-extension"] == "covered"
    assert v["kaspersky-safe-kids"] == "covered"
    av = next(f for f in out["findings"] if f["product"] == "kaspersky-anti-virus")
    # The Cyrillic-named copy of the app is evidence for the same product.
    assert "Антивирус Касперского" in {e["value"] for e in av["evidence"]}
    ext = next(f for f in out["findings"] if f["product"] == "kaspersky-protection-extension")
    assert ("extension_id", "amkpcclbbgegoafihnpgomddadjhcadd") in {
        (e["kind"], e["value"]) for e in ext["evidence"]
    }


@pytest.mark.needs_shared
@pytest.mark.needs_hivex
def test_windows_root_findings(windows_root: Path, result_schema: dict[str, Any]) -> None:
    code, out = scan_json("--root", str(windows_root))
    jsonschema.validate(out, result_schema)
    assert code == 1
    v = verdicts(out)
    assert v["kes-windows"] == "covered"
    assert v["ksc-network-agent"] == "covered"
    assert v["kaspersky-password-manager"] == "covered"
    assert v["kaspersky-anti-virus"] == "covered"  # Cyrillic name + Cyrillic publisher
    assert v["kaspersky-personal-root-certificate"] == "remnant"
    kes = next(f for f in out["findings"] if f["product"] == "kes-windows")
    assert kes["version"] == "12.5.0.539"
    assert any("WOW6432Node" in e["location"] for e in kes["evidence"])
    assert {f["host"] for f in out["findings"]} == {out["findings"][0]["host"]}


@pytest.mark.parametrize("builder", ["linux", "mac", "windows"])
def test_clean_roots_exit_zero(builder: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if builder == "linux":
        root = build_linux_root(tmp_path / "root", kaspersky=False)
    elif builder == "mac":
        root = build_macos_root(tmp_path / "root", kaspersky=False)
    else:
        from windows_root import build_windows_root

        root = build_windows_root(
            tmp_path / "root", request.getfixturevalue("shared_fixtures"), kaspersky=False
        )
    code, out = scan_json("--root", str(root))
    assert code == 0
    assert out["findings"] == []
    assert out["summary"]["hosts"] == 1 and out["summary"]["hosts_with_findings"] == 0


@pytest.mark.parametrize(
    ("as_of", "seller_statuses"),
    [
        ("2024-07-19", {"no-new-agreements": "not-yet-in-force", "no-resale": "not-yet-in-force"}),
        ("2024-07-20", {"no-new-agreements": "prohibited", "no-resale": "not-yet-in-force"}),
        ("2024-09-28", {"no-new-agreements": "prohibited", "no-resale": "not-yet-in-force"}),
        ("2024-09-29", {"no-new-agreements": "prohibited", "no-resale": "prohibited"}),
    ],
)
def test_bis_timeline_for_sellers(linux_root: Path, as_of: str, seller_statuses: dict[str, str]) -> None:
    _, out = scan_json("--root", str(linux_root), "--as-of", as_of, "--role", "seller")
    kesl = next(f for f in out["findings"] if f["product"] == "kesl")
    bis = [o for o in kesl["obligations"] if o["regulation"] == "bis-icts-2024-kaspersky"]
    got = {
        "no-new-agreements": next(o["status"] for o in bis if o["since"] == "2024-07-20"),
        "no-resale": next(
            o["status"] for o in bis if o["since"] == "2024-09-29" and o["action"].startswith("No resale")
        ),
    }
    assert got == seller_statuses
    # no updates from 2024-09-29 on: that day the definitions are 0 days old, before it there is no age
    assert (kesl["definitions_age_days"] is None) == (as_of < "2024-09-29")
    if as_of == "2024-09-29":
        assert kesl["definitions_age_days"] == 0


def test_federal_contractor_gets_far_reporting_deadlines(linux_root: Path) -> None:
    # Identified on Friday 2024-11-08: Veterans Day (Mon 11th) is not a business day.
    _, out = scan_json("--root", str(linux_root), "--as-of", "2024-11-08", "--role", "federal-contractor")
    kesl = next(f for f in out["findings"] if f["product"] == "kesl")
    far = [o for o in kesl["obligations"] if o["regulation"] == "ndaa-1634-far-52-204-23"]
    deadlines = sorted(o["deadline"] for o in far if o["deadline"])
    assert deadlines == ["2024-11-14", "2024-11-25"]
    assert {o["status"] for o in far} == {"prohibited", "due"}
    regs = {o["regulation"] for o in kesl["obligations"]}
    assert "dhs-bod-17-01" not in regs  # binds federal agencies, not contractors


def test_federal_agency_bod_deadlines_are_overdue(linux_root: Path) -> None:
    _, out = scan_json("--root", str(linux_root), "--as-of", "2025-01-02", "--role", "federal-agency")
    kesl = next(f for f in out["findings"] if f["product"] == "kesl")
    bod = {o["deadline"]: o["status"] for o in kesl["obligations"] if o["regulation"] == "dhs-bod-17-01"}
    assert bod == {"2017-10-13": "overdue", "2017-11-12": "overdue", "2017-12-12": "overdue"}
    _, early = scan_json("--root", str(linux_root), "--as-of", "2017-10-01", "--role", "federal-agency")
    kesl = next(f for f in early["findings"] if f["product"] == "kesl")
    bod = {o["deadline"]: o["status"] for o in kesl["obligations"] if o["regulation"] == "dhs-bod-17-01"}
    assert bod == {"2017-10-13": "required", "2017-11-12": "due", "2017-12-12": "required"}
    ndaa = {o["status"] for o in kesl["obligations"] if o["regulation"] == "ndaa-1634-far-52-204-23"}
    assert ndaa == {"not-yet-in-force"}


def test_state_and_telecom_rules(linux_root: Path) -> None:
    _, tx = scan_json("--root", str(linux_root), "--role", "state-agency", "--jurisdiction", "US-TX")
    kesl = next(f for f in tx["findings"] if f["product"] == "kesl")
    assert "tx-prohibited-technologies-2022" in {o["regulation"] for o in kesl["obligations"]}
    assert "nh-rsa-21-r-15" not in {o["regulation"] for o in kesl["obligations"]}
    _, nh = scan_json("--root", str(linux_root), "--role", "state-agency", "--jurisdiction", "US-NH")
    kesl = next(f for f in nh["findings"] if f["product"] == "kesl")
    assert "nh-rsa-21-r-15" in {o["regulation"] for o in kesl["obligations"]}
    _, tel = scan_json("--root", str(linux_root), "--role", "telecom", "--as-of", "2022-03-24")
    kesl = next(f for f in tel["findings"] if f["product"] == "kesl")
    fcc = [o for o in kesl["obligations"] if o["regulation"] == "fcc-covered-list-kaspersky"]
    assert [o["status"] for o in fcc] == ["not-yet-in-force"]


def test_exceptions_file_makes_findings_accepted(linux_root: Path, tmp_path: Path) -> None:
    exc = tmp_path / "exceptions.yaml"
    exc.write_text(
        "exceptions:\n"
        "  - {host: srv-app-*, product: '*', reason: 'air-gapped build server, replacement scheduled',"
        " approver: 'J. Doe (CISO)', expires: 2025-12-31}\n",
        encoding="utf-8",
    )
    code, out = scan_json("--root", str(linux_root), "--as-of", "2025-06-01", "--exceptions", str(exc))
    assert code == 0  # everything accepted: nothing left to fail CI
    assert {f["verdict"] for f in out["findings"]} == {"accepted"}
    assert out["findings"][0]["exception"]["approver"] == "J. Doe (CISO)"
    code, out = scan_json("--root", str(linux_root), "--as-of", "2026-01-01", "--exceptions", str(exc))
    assert code == 1 and "accepted" not in {f["verdict"] for f in out["findings"]}


def test_bad_input_under_root_is_reported_and_scan_goes_on(tmp_path: Path) -> None:
    root = build_linux_root(tmp_path / "root")
    status = root / "var/lib/dpkg/status"
    status.write_bytes(status.read_bytes() + b"\nPackage: broken\xff\xfe\nStatus: install ok\n")
    (root / "opt" / "loop").symlink_to("loop")
    os.mkfifo(root / "etc" / "systemd" / "system" / "fifo.service")
    code, out = scan_json("--root", str(root))
    assert code == 1
    assert "kesl" in verdicts(out)
    errors = out["targets"][0]["errors"]
    assert any("var/lib/dpkg/status:" in e for e in errors)
    assert any("fifo.service" in e and "not a regular file" in e for e in errors)
    assert all("\n" not in e for e in errors)


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert runner.invoke(app, ["scan", "--root", str(tmp_path / "missing")]).exit_code == 2
    assert runner.invoke(app, ["scan", "--as-of", "yesterday"]).exit_code == 2
    assert runner.invoke(app, ["scan", "--role", "king"]).exit_code == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    res = runner.invoke(app, ["scan", "--root", str(empty), "--format", "json"])
    assert res.exit_code == 2  # nothing could be read
    assert "not a recognised" in json.loads(res.stdout)["targets"][0]["errors"][0]


def test_live_scan_of_this_machine_runs_as_a_real_command(tmp_path: Path) -> None:
    out = tmp_path / "me.json"
    proc = subprocess.run(
        [sys.executable, "-m", "banscan.cli", "scan", "--format", "json", "--quiet", "--output", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode in (0, 1), proc.stderr
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["targets"][0]["format"].startswith("live:")
    assert data["targets"][0]["records"] > 0
    assert data["summary"]["hosts"] == 1
