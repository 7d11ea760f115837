"""Deep scan end to end: binaries built here, records through the real matcher."""

from __future__ import annotations

import hashlib
import signal
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import deep_fixtures as fx
from banscan.catalog.loader import load_catalog
from banscan.collect.base import CollectContext
from banscan.deep import DeepCollector, deep_records
from banscan.errors import ErrorSink
from banscan.match.matcher import Matcher
from banscan.models import Finding, InventoryRecord, RecordKind


@contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    def boom(signum: int, frame: object) -> None:
        raise TimeoutError(f"deep scan took more than {seconds} s")

    old = signal.signal(signal.SIGALRM, boom)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@pytest.fixture(scope="session")
def catalog():  # type: ignore[no-untyped-def]
    return load_catalog()


def scan(paths: list[Path], catalog, seconds: int = 30) -> tuple[list[InventoryRecord], list[str]]:  # type: ignore[no-untyped-def]
    sink = ErrorSink(echo=False)
    with time_limit(seconds):
        recs = list(deep_records([str(p) for p in paths], sink, host="h1", catalog=catalog))
    return recs, sink.lines


def findings(recs: list[InventoryRecord], catalog) -> list[Finding]:  # type: ignore[no-untyped-def]
    m = Matcher(catalog)
    m.add_all(recs)
    return m.findings()


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="session")
def bins(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("deepbins")
    out: dict[str, Path] = {}
    apk = fx.build_apk("com.kaspersky.who_calls", fx.KASPERSKY_SUBJECT)
    out["apk_zip"] = d / "outer.zip"
    with zipfile.ZipFile(out["apk_zip"], "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("readme.txt", "nothing here")
        z.writestr("inner/dir/app.apk", apk)
    out["apk_bytes"] = d / "app.apk"
    out["apk_bytes"].write_bytes(apk)
    (d / "kav").write_bytes(fx.build_macho("com.kaspersky.kav", "2Y8XE5CQ94"))
    out["macho"] = d / "kav"
    if fx.missing(fx.MINGW_GCC, fx.MINGW_WINDRES) is None:
        out["kes"] = fx.build_pe(
            d / "kes.exe",
            company="AO Kaspersky Lab",
            product="Kaspersky Endpoint Security for Windows",
            original="avp.exe",
            copyright="Copyright (C) AO Kaspersky Lab",
        )
        out["contoso"] = fx.build_pe(
            d / "contoso.exe",
            company="Contoso Ltd",
            product="Contoso Secure Agent",
            original="agent.exe",
            copyright="Copyright (C) Contoso Ltd",
        )
        if fx.missing("osslsigncode") is None:
            cert_pem, key_pem, _, _ = fx.make_cert(fx.KASPERSKY_SUBJECT)
            out["signed"] = fx.sign_pe(out["contoso"], d / "contoso-signed.exe", cert_pem, key_pem)
    if fx.missing("gcc") is None:
        out["elf"] = fx.build_elf(d / "certtool", "Kaspersky Anti-Virus Personal Root Certificate")
    return out


def need(bins: dict[str, Path], key: str, tools: tuple[str, ...]) -> Path:
    if key not in bins:
        pytest.skip(fx.missing(*tools) or f"{key} fixture not built")
    return bins[key]


def test_pe_version_resources(bins, catalog) -> None:  # type: ignore[no-untyped-def]
    kes = need(bins, "kes", (fx.MINGW_GCC, fx.MINGW_WINDRES))
    recs, errors = scan([kes], catalog)
    assert errors == []
    ident = [r for r in recs if r.publisher]
    assert len(ident) == 1
    r = ident[0]
    assert r.kind == RecordKind.FILE
    assert r.name == "Kaspersky Endpoint Security for Windows"
    assert r.publisher == "AO Kaspersky Lab"
    assert r.get("original_filename") == "avp.exe"
    assert r.get("legal_copyright") == "Copyright (C) AO Kaspersky Lab"
    assert r.get("file_type") == "pe"
    assert r.sha256 == sha(kes)
    assert r.path == str(kes)
    fs = findings(recs, catalog)
    # ProductName names the product; CompanyName corroborates it: covered, one finding.
    kes_f = next(f for f in fs if f.product == "kes-windows")
    assert kes_f.verdict.value == "covered"
    ev = [(e.kind, e.value, e.location) for e in kes_f.evidence]
    assert ("display_name", "Kaspersky Endpoint Security for Windows", str(kes)) in ev
    assert ("publisher", "AO Kaspersky Lab", str(kes)) in ev


def test_signed_under_another_brand(bins, catalog) -> None:  # type: ignore[no-untyped-def]
    signed = need(bins, "signed", (fx.MINGW_GCC, "osslsigncode"))
    recs, errors = scan([signed], catalog)
    assert errors == []
    ident = next(r for r in recs if r.publisher)
    assert ident.name == "Contoso Secure Agent"
    assert ident.publisher == "Contoso Ltd"
    assert ident.signer == "CN=AO Kaspersky Lab, O=AO Kaspersky Lab, C=RU"
    assert ident.get("issuer") == "CN=AO Kaspersky Lab, O=AO Kaspersky Lab, C=RU"
    assert ident.get("serial") == "1234abcd"
    # The test certificate chains to no trusted root: reported, flagged as not valid.
    assert ident.get("signature_valid") == "false"
    assert ident.get("signature_status") == "untrusted root"
    fs = findings(recs, catalog)
    signer_ev = [(f.product, e) for f in fs for e in f.evidence if e.kind == "signer"]
    assert signer_ev, [f.to_json() for f in fs]
    product, ev = signer_ev[0]
    assert product.startswith("kaspersky-lab")
    assert ev.value == "CN=AO Kaspersky Lab, O=AO Kaspersky Lab, C=RU"
    assert ev.location == str(signed)


def test_tampered_signature_is_reported_as_mismatch(bins, catalog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    signed = need(bins, "signed", (fx.MINGW_GCC, "osslsigncode"))
    data = bytearray(signed.read_bytes())
    data[0x400] ^= 0xFF  # inside the first section
    bad = tmp_path / "tampered.exe"
    bad.write_bytes(bytes(data))
    recs, _ = scan([bad], catalog)
    ident = next(r for r in recs if r.signer)
    assert ident.get("signature_valid") == "false"
    assert (ident.get("signature_status") or "").startswith("digest mismatch")
    # A signature that no longer verifies is weak evidence of who made the file.
    signer_ev = [e for f in findings(recs, catalog) for e in f.evidence if e.kind == "signer"]
    assert signer_ev and {e.confidence.value for e in signer_ev} == {"weak"}


def test_apk_nested_in_zip(bins, catalog) -> None:  # type: ignore[no-untyped-def]
    outer = bins["apk_zip"]
    recs, errors = scan([outer], catalog)
    assert errors == []
    r = next(r for r in recs if r.bundle_id)
    assert r.bundle_id == "com.kaspersky.who_calls"
    assert r.version == "2.5.1"
    assert r.path == f"{outer}!inner/dir/app.apk"
    assert r.source.location == f"{outer}!inner/dir/app.apk!AndroidManifest.xml"
    assert r.get("archive_path") == "inner/dir/app.apk"
    assert r.get("file_type") == "apk"
    assert r.signer == "CN=AO Kaspersky Lab, O=AO Kaspersky Lab, C=RU"
    assert r.sha256 == sha(bins["apk_bytes"])
    fs = findings(recs, catalog)
    who = next(f for f in fs if f.product == "kaspersky-who-calls")
    assert who.verdict.value == "covered"
    kinds = {e.kind for e in who.evidence}
    assert {"bundle_id", "signer"} <= kinds
    assert all(e.location == f"{outer}!inner/dir/app.apk!AndroidManifest.xml" for e in who.evidence)


def test_macho_team_id_and_identifier(bins, catalog) -> None:  # type: ignore[no-untyped-def]
    recs, errors = scan([bins["macho"]], catalog)
    assert errors == []
    r = recs[0]
    assert (r.team_id, r.bundle_id) == ("2Y8XE5CQ94", "com.kaspersky.kav")
    fs = findings(recs, catalog)
    assert fs and fs[0].verdict.value == "covered"
    assert {e.kind for e in fs[0].evidence} >= {"team_id", "bundle_id"}


def test_elf_byte_signature(bins, catalog) -> None:  # type: ignore[no-untyped-def]
    elf = need(bins, "elf", ("gcc",))
    recs, errors = scan([elf], catalog)
    assert errors == []
    hits = [r for r in recs if r.get("byte_signature")]
    assert [h.get("byte_signature") for h in hits] == ["Kaspersky Anti-Virus Personal Root Certificate"]
    assert (hits[0].get("yara_rule") or "").startswith("banscan_")
    assert hits[0].sha256 == sha(elf)
    fs = findings(recs, catalog)
    assert [(f.product, f.verdict.value) for f in fs] == [("kaspersky-personal-root-certificate", "remnant")]
    assert fs[0].evidence[0].kind == "byte_signature"
    assert fs[0].evidence[0].location == str(elf)


def test_binaries_in_a_tarball_and_a_folder(bins, catalog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import tarfile

    elf = need(bins, "elf", ("gcc",))
    tgz = tmp_path / "tools.tar.gz"
    with tarfile.open(tgz, "w:gz") as t:
        t.add(elf, arcname="bin/certtool")
        t.add(bins["macho"], arcname="mac/kav")
    folder = tmp_path / "tree"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "tools.tgz").write_bytes(tgz.read_bytes())
    recs, errors = scan([folder], catalog)
    assert errors == []
    paths = sorted({r.path for r in recs if r.path})
    assert paths == [f"{folder}/sub/tools.tgz!bin/certtool", f"{folder}/sub/tools.tgz!mac/kav"]


def test_decoy_documents_give_no_findings(catalog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = fx.decoy_folder(tmp_path / "news")
    recs, errors = scan([folder], catalog)
    assert errors == []
    assert recs == []
    assert findings(recs, catalog) == []


def test_collector_on_a_root(bins, catalog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "root"
    (root / "opt" / "vendor").mkdir(parents=True)
    (root / "opt" / "vendor" / "kav").write_bytes(bins["macho"].read_bytes())
    fx.decoy_folder(root / "home" / "u" / "Documents")
    sink = ErrorSink(echo=False)
    ctx = CollectContext(root=root, os="linux", host="img", live=False, errors=sink)
    with time_limit(30):
        recs = list(DeepCollector(catalog).collect(ctx))
    assert sink.lines == []
    assert [(r.host, r.path, r.source.collector) for r in recs] == [("img", "/opt/vendor/kav", "deep")]


def test_msi_properties(catalog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import subprocess

    if fx.missing("msibuild"):
        pytest.skip("msibuild is not installed (apt-get install msitools)")
    idt = tmp_path / "Property.idt"
    idt.write_text(
        "Property\tValue\ns72\tl0\nProperty\tProperty\n"
        "ProductName\tKaspersky Endpoint Security for Windows\nManufacturer\tAO Kaspersky Lab\n"
        "ProductVersion\t12.5.0.539\n"
    )
    msi = tmp_path / "kes.msi"
    subprocess.run(["msibuild", str(msi), "-i", str(idt)], check=True, capture_output=True)
    recs, errors = scan([msi], catalog)
    assert errors == []
    r = next(r for r in recs if r.publisher)
    assert (r.name, r.publisher, r.version) == (
        "Kaspersky Endpoint Security for Windows",
        "AO Kaspersky Lab",
        "12.5.0.539",
    )
    assert r.get("file_type") == "msi"
    assert r.kind == RecordKind.APP  # what the installer says it installs
    assert [f.product for f in findings(recs, catalog)] == ["kes-windows"]


def test_cli_deep_paths(tmp_path: Path) -> None:
    import json
    import zipfile

    from typer.testing import CliRunner

    from banscan.cli import app

    runner = CliRunner()
    decoys = fx.decoy_folder(tmp_path / "news")
    res = runner.invoke(
        app, ["scan", "--deep", str(decoys), "--format", "json", "--quiet", "--host", "fs-01"]
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["findings"] == []
    outer = tmp_path / "drop" / "bundle.zip"
    outer.parent.mkdir()
    with zipfile.ZipFile(outer, "w") as z:
        z.writestr("inner/who-calls.apk", fx.build_apk("com.kaspersky.who_calls"))
    res = runner.invoke(
        app, ["scan", "--deep", str(outer.parent), "--format", "json", "--quiet", "--host", "fs-01"]
    )
    assert res.exit_code == 1, res.output
    out = json.loads(res.stdout)
    assert out["targets"][0]["format"] == "deep"
    f = next(f for f in out["findings"] if f["product"] == "kaspersky-who-calls")
    assert f["host"] == "fs-01"
    assert any("bundle.zip!inner/who-calls.apk" in e["location"] for e in f["evidence"])
