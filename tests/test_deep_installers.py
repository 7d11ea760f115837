"""Installers identified by their own metadata (MSI, .deb, .rpm, macOS .pkg), built here,
through the real matcher: one product, one finding."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

import deep_fixtures as fx
from banscan.models import Finding, InventoryRecord, RecordKind
from test_deep_scan import findings, scan

KASPERSKY = "AO Kaspersky Lab <support@kaspersky.com>"
KES_CODE = "{0C8B8E4B-6F3E-4B58-9D4C-1A2B3C4D5E6F}"


@pytest.fixture(scope="module")
def catalog():  # type: ignore[no-untyped-def]
    from banscan.catalog.loader import load_catalog

    return load_catalog()


def identity(recs: list[InventoryRecord]) -> list[InventoryRecord]:
    """The records that describe software (not byte-signature hits)."""
    return [r for r in recs if not r.get("byte_signature")]


def products(fs: list[Finding]) -> list[str]:
    return [f.product for f in fs]


def kesl_deb(compression: str = "xz", files: dict[str, bytes] | None = None) -> bytes:
    control = fx.control_text("kesl", "12.1.0.1297", KASPERSKY, "Kaspersky Endpoint Security for Linux")
    return fx.build_deb(control, files, compression=compression)


# -- MSI ------------------------------------------------------------------------------------------


def test_msi_is_one_app_record_and_one_finding(catalog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    if fx.missing("wixl"):
        pytest.skip("wixl is not installed (apt-get install wixl)")
    msi = fx.build_msi_wixl(
        tmp_path / "kes.msi",
        name="Kaspersky Endpoint Security for Windows",
        manufacturer="AO Kaspersky Lab",
        version="12.5.0.539",
        product_code=KES_CODE,
    )
    recs, errors = scan([msi], catalog)
    assert errors == []
    # The publisher also sits in the string pool, where a byte signature finds it: not reported
    # again as a second, weaker product.
    assert len(recs) == 1, recs
    r = recs[0]
    assert r.kind == RecordKind.APP
    assert (r.name, r.publisher, r.version) == (
        "Kaspersky Endpoint Security for Windows",
        "AO Kaspersky Lab",
        "12.5.0.539",
    )
    assert r.get("product_code") == KES_CODE
    assert r.path == str(msi) and r.source.location == str(msi)
    assert r.get("file_type") == "msi"
    fs = findings(recs, catalog)
    assert products(fs) == ["kes-windows"], [f.to_json() for f in fs]
    assert fs[0].version == "12.5.0.539"
    assert all(e.location == str(msi) for e in fs[0].evidence)
    assert fs[0].verdict.value == "covered"


def test_msi_of_another_vendor_gives_no_finding(catalog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    if fx.missing("wixl"):
        pytest.skip("wixl is not installed (apt-get install wixl)")
    msi = fx.build_msi_wixl(
        tmp_path / "agent.msi",
        name="Contoso Secure Agent",
        manufacturer="Contoso Ltd",
        version="3.1.0",
        product_code="{9A8B7C6D-5E4F-4A3B-8C2D-1E0F9A8B7C6D}",
    )
    recs, errors = scan([msi], catalog)
    assert errors == []
    assert [(r.kind, r.name) for r in recs] == [(RecordKind.APP, "Contoso Secure Agent")]
    assert findings(recs, catalog) == []


# -- Debian packages -------------------------------------------------------------------------------


@pytest.mark.parametrize("compression", ["xz", "gz", "zst", "bz2", ""])
def test_deb_control_file(catalog, tmp_path: Path, compression: str) -> None:  # type: ignore[no-untyped-def]
    deb = tmp_path / "kesl_12.1.0.1297_amd64.deb"
    deb.write_bytes(kesl_deb(compression))
    recs, errors = scan([deb], catalog)
    assert errors == []
    assert len(recs) == 1, recs
    r = recs[0]
    assert r.kind == RecordKind.PACKAGE
    assert (r.name, r.version, r.publisher) == ("kesl", "12.1.0.1297", "AO Kaspersky Lab")
    assert r.get("maintainer") == KASPERSKY
    assert r.get("architecture") == "amd64"
    assert r.get("summary") == "Kaspersky Endpoint Security for Linux"
    assert r.get("file_type") == "deb"
    assert r.path == str(deb)
    member = "control.tar" + (f".{compression}" if compression else "")
    assert r.source.location == f"{deb}!{member}!control"
    fs = findings(recs, catalog)
    assert products(fs) == ["kesl"], [f.to_json() for f in fs]
    assert fs[0].verdict.value == "covered"
    assert fs[0].version == "12.1.0.1297"


def test_deb_built_by_dpkg_deb(catalog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    if fx.missing("dpkg-deb"):
        pytest.skip("dpkg-deb is not installed")
    control = fx.control_text(
        "klnagent64", "15.1.0-20748", KASPERSKY, "Kaspersky Security Center Network Agent"
    )
    deb = fx.build_deb_dpkg(
        tmp_path / "klnagent64_15.1.0-20748_amd64.deb", control, {"opt/kaspersky/klnagent64/readme": b"x\n"}
    )
    recs, errors = scan([deb], catalog)
    assert errors == []
    assert [(r.kind, r.name, r.version) for r in recs] == [(RecordKind.PACKAGE, "klnagent64", "15.1.0-20748")]
    assert recs[0].source.location.startswith(f"{deb}!control.tar.")
    fs = findings(recs, catalog)
    assert products(fs) == ["ksc-network-agent"], [f.to_json() for f in fs]
    # The package name and the covered publisher: two independent strong identifiers.
    assert fs[0].verdict.value == "covered"


def test_deb_inside_a_zip(catalog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    outer = tmp_path / "drop.zip"
    with zipfile.ZipFile(outer, "w") as z:
        z.writestr("linux/kesl_12.1.0.1297_amd64.deb", kesl_deb("gz"))
    recs, errors = scan([outer], catalog)
    assert errors == []
    assert len(recs) == 1
    r = recs[0]
    assert r.path == f"{outer}!linux/kesl_12.1.0.1297_amd64.deb"
    assert r.source.location == f"{outer}!linux/kesl_12.1.0.1297_amd64.deb!control.tar.gz!control"
    assert r.get("archive_path") == "linux/kesl_12.1.0.1297_amd64.deb"
    assert products(findings(recs, catalog)) == ["kesl"]


def test_deb_binaries_restating_the_package_add_no_second_product(catalog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # A binary inside the package that carries the vendor's name: the package already says so.
    elf = b"\x7fELF\x02\x01\x01" + b"\x00" * 57 + b"Copyright (C) AO Kaspersky Lab\x00"
    deb = tmp_path / "kesl.deb"
    deb.write_bytes(kesl_deb("xz", {"./opt/kaspersky/kesl/bin/kesl": elf}))
    recs, errors = scan([deb], catalog)
    assert errors == []
    assert [r.kind for r in recs] == [RecordKind.PACKAGE]
    assert products(findings(recs, catalog)) == ["kesl"]


def test_deb_of_another_vendor_still_opened_for_copies(catalog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    control = fx.control_text("contoso-tools", "2.0", "Contoso Ltd <ops@contoso.example>", "Contoso tools")
    deb = tmp_path / "contoso-tools.deb"
    deb.write_bytes(
        fx.build_deb(control, {"./usr/lib/contoso/kav": fx.build_macho("com.kaspersky.kav", "2Y8XE5CQ94")})
    )
    recs, errors = scan([deb], catalog)
    assert errors == []
    pkg = next(r for r in recs if r.kind == RecordKind.PACKAGE)
    assert pkg.name == "contoso-tools"
    inner = next(r for r in recs if r.kind == RecordKind.FILE)
    assert inner.path == f"{deb}!data.tar.xz!./usr/lib/contoso/kav"
    assert inner.team_id == "2Y8XE5CQ94"
    fs = findings(recs, catalog)
    assert len(fs) == 1 and all(e.location == inner.path for e in fs[0].evidence)


# -- RPM packages --------------------------------------------------------------------------------------


def test_rpm_built_by_rpmbuild(catalog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    if fx.missing("rpmbuild"):
        pytest.skip("rpmbuild is not installed (apt-get install rpm)")
    rpm = fx.build_rpm_rpmbuild(
        tmp_path,
        name="kesl",
        version="12.1.0.1297",
        release="1",
        vendor="AO Kaspersky Lab",
        summary="Kaspersky Endpoint Security for Linux",
    )
    recs, errors = scan([rpm], catalog)
    assert errors == []
    assert len(recs) == 1, recs
    r = recs[0]
    assert r.kind == RecordKind.PACKAGE
    assert (r.name, r.version, r.publisher) == ("kesl", "12.1.0.1297-1", "AO Kaspersky Lab")
    assert r.get("architecture") == "x86_64"
    assert r.get("summary") == "Kaspersky Endpoint Security for Linux"
    assert r.get("file_type") == "rpm"
    assert r.source.location == str(rpm)
    fs = findings(recs, catalog)
    assert products(fs) == ["kesl"], [f.to_json() for f in fs]
    assert fs[0].verdict.value == "covered"


def test_rpm_written_here_and_read_by_rpm_too(catalog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "klnagent64-15.1.0-20748.x86_64.rpm"
    path.write_bytes(
        fx.build_rpm(
            {
                "name": "klnagent64",
                "version": "15.1.0",
                "release": "20748",
                "vendor": "AO Kaspersky Lab",
                "arch": "x86_64",
                "summary": "Kaspersky Security Center Network Agent",
            }
        )
    )
    if shutil.which("rpm"):
        shown = subprocess.run(
            ["rpm", "-qp", "--nosignature", "--nodigest", "--qf", "%{NAME} %{VERSION}-%{RELEASE}", str(path)],
            capture_output=True,
            text=True,
        )
        assert shown.stdout == "klnagent64 15.1.0-20748", shown.stderr
    recs, errors = scan([path], catalog)
    assert errors == []
    assert [(r.kind, r.name, r.version, r.publisher) for r in recs] == [
        (RecordKind.PACKAGE, "klnagent64", "15.1.0-20748", "AO Kaspersky Lab")
    ]
    fs = findings(recs, catalog)
    assert products(fs) == ["ksc-network-agent"]
    assert fs[0].verdict.value == "covered"


# -- macOS flat packages ---------------------------------------------------------------------------------


def test_pkg_receipt_and_title(catalog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pkg = tmp_path / "kesmac.pkg"
    pkg.write_bytes(
        fx.build_pkg("com.kaspersky.kav.core", "12.1.0.427", "Kaspersky Endpoint Security for Mac")
    )
    recs, errors = scan([pkg], catalog)
    assert errors == []
    by_kind = {r.kind: r for r in recs}
    assert set(by_kind) == {RecordKind.RECEIPT, RecordKind.APP}, recs
    receipt = by_kind[RecordKind.RECEIPT]
    assert (receipt.name, receipt.version) == ("com.kaspersky.kav.core", "12.1.0.427")
    assert receipt.source.location == f"{pkg}!core.pkg/PackageInfo"
    app = by_kind[RecordKind.APP]
    assert (app.name, app.version) == ("Kaspersky Endpoint Security for Mac", "12.1.0.427")
    assert app.source.location == f"{pkg}!Distribution"
    assert app.get("pkg_identifiers") == "com.kaspersky.kav.core"
    fs = findings(recs, catalog)
    assert products(fs) == ["kes-mac"], [f.to_json() for f in fs]
    assert fs[0].verdict.value == "covered"


def test_component_pkg_without_distribution(catalog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pkg = tmp_path / "core.pkg"
    pkg.write_bytes(fx.build_pkg("com.kaspersky.kav.core", "12.1.0.427", None))
    recs, errors = scan([pkg], catalog)
    assert errors == []
    assert [(r.kind, r.name) for r in recs] == [(RecordKind.RECEIPT, "com.kaspersky.kav.core")]
    assert products(findings(recs, catalog)) == ["kes-mac"]


# -- decoys ------------------------------------------------------------------------------------------------


def test_installers_of_another_vendor_give_no_finding(catalog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "installers"
    folder.mkdir()
    maint = "Contoso Ltd <ops@contoso.example>"
    (folder / "contoso-agent_3.1_amd64.deb").write_bytes(
        fx.build_deb(fx.control_text("contoso-agent", "3.1", maint, "Contoso endpoint agent"))
    )
    (folder / "contoso-agent-3.1-1.x86_64.rpm").write_bytes(
        fx.build_rpm({"name": "contoso-agent", "version": "3.1", "release": "1", "vendor": "Contoso Ltd"})
    )
    (folder / "ContosoAgent.pkg").write_bytes(fx.build_pkg("com.contoso.agent", "3.1", "Contoso Agent"))
    recs, errors = scan([folder], catalog)
    assert errors == []
    assert sorted((r.kind.value, r.name) for r in recs) == [
        ("app", "Contoso Agent"),
        ("package", "contoso-agent"),
        ("package", "contoso-agent"),
        ("receipt", "com.contoso.agent"),
    ]
    assert findings(recs, catalog) == []


def test_cli_deep_scan_of_installers(tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from banscan.cli import app

    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "kesl_12.1.0.1297_amd64.deb").write_bytes(kesl_deb())
    (drop / "kesmac.pkg").write_bytes(
        fx.build_pkg("com.kaspersky.kav.core", "12.1.0.427", "Kaspersky Endpoint Security for Mac")
    )
    res = CliRunner().invoke(app, ["scan", "--deep", str(drop), "--format", "json", "--quiet", "--host", "h"])
    assert res.exit_code == 1, res.output
    out = json.loads(res.stdout)
    assert sorted(f["product"] for f in out["findings"]) == ["kes-mac", "kesl"]
