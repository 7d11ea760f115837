"""Kaspersky's HTTPS-scanning root left trusted in Linux bundles, NSS databases and keychains."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

import deep_fixtures as fx
from banscan.catalog.loader import load_catalog
from banscan.collect.base import CollectContext
from banscan.collect.certstores import (
    CERT_COLLECTORS,
    KeychainCollector,
    LinuxCABundlesCollector,
    NSSCollector,
)
from banscan.deep.yarascan import rules_source
from banscan.errors import ErrorSink
from banscan.match.matcher import Matcher
from banscan.models import RecordKind

ROOT_SUBJECT = [
    ("CN", "Kaspersky Anti-Virus Personal Root Certificate"),
    ("O", "AO Kaspersky Lab"),
    ("C", "RU"),
]
OTHER_SUBJECT = [("CN", "Example Root CA"), ("O", "Example"), ("C", "US")]


@pytest.fixture(scope="module")
def certs() -> dict[str, bytes]:
    k_pem, _, k_cert, _ = fx.make_cert(ROOT_SUBJECT)
    o_pem, _, o_cert, _ = fx.make_cert(OTHER_SUBJECT)
    return {
        "k_pem": k_pem,
        "o_pem": o_pem,
        "k_der": k_cert.public_bytes(serialization.Encoding.DER),
        "o_der": o_cert.public_bytes(serialization.Encoding.DER),
    }


def ctx_for(root: Path, os_name: str) -> CollectContext:
    return CollectContext(root=root, os=os_name, host="h", live=False, errors=ErrorSink(echo=False))  # type: ignore[arg-type]


def remnants(records: list, ctx: CollectContext) -> list:  # type: ignore[type-arg]
    m = Matcher(load_catalog())
    m.add_all(records)
    return m.findings()


def test_linux_bundle(tmp_path: Path, certs: dict[str, bytes]) -> None:
    bundle = tmp_path / "etc/ssl/certs/ca-certificates.crt"
    bundle.parent.mkdir(parents=True)
    bundle.write_bytes(certs["o_pem"] + certs["k_pem"])
    local = tmp_path / "usr/local/share/ca-certificates/kav.crt"
    local.parent.mkdir(parents=True)
    local.write_bytes(certs["k_pem"])
    ctx = ctx_for(tmp_path, "linux")
    recs = list(LinuxCABundlesCollector().collect(ctx))
    assert ctx.errors.lines == []
    assert [(r.name, r.get("store")) for r in recs] == [
        ("Example Root CA", "/etc/ssl/certs/ca-certificates.crt"),
        ("Kaspersky Anti-Virus Personal Root Certificate", "/etc/ssl/certs/ca-certificates.crt"),
        ("Kaspersky Anti-Virus Personal Root Certificate", "/usr/local/share/ca-certificates/kav.crt"),
    ]
    assert all(r.kind == RecordKind.CERTIFICATE for r in recs)
    assert (
        recs[1].get("subject") == "CN=Kaspersky Anti-Virus Personal Root Certificate,O=AO Kaspersky Lab,C=RU"
    )
    fs = remnants(recs, ctx)
    assert [(f.product, f.verdict.value) for f in fs] == [("kaspersky-personal-root-certificate", "remnant")]
    locs = {e.location for e in fs[0].evidence}
    assert "/usr/local/share/ca-certificates/kav.crt:1" in locs


def test_nss_cert9(tmp_path: Path, certs: dict[str, bytes]) -> None:
    prof = tmp_path / "home/ann/.mozilla/firefox/abcd.default-release"
    prof.mkdir(parents=True)
    con = sqlite3.connect(prof / "cert9.db")
    con.execute("CREATE TABLE nssPublic (id PRIMARY KEY UNIQUE ON CONFLICT ABORT, a0, a3, a11, a81, a101)")
    con.execute(
        "INSERT INTO nssPublic (id, a0, a3, a11) VALUES (1, ?, ?, ?)",
        (b"\x00\x00\x00\x01", b"kav", certs["k_der"]),
    )
    con.execute("INSERT INTO nssPublic (id, a0, a3) VALUES (2, ?, ?)", (b"\x00\x00\x00\x03", b"trust"))
    con.commit()
    con.close()
    ctx = ctx_for(tmp_path, "linux")
    recs = list(NSSCollector().collect(ctx))
    assert ctx.errors.lines == []
    assert [r.name for r in recs] == ["Kaspersky Anti-Virus Personal Root Certificate"]
    assert recs[0].source.location == "/home/ann/.mozilla/firefox/abcd.default-release/cert9.db:nssPublic:1"
    assert remnants(recs, ctx)[0].verdict.value == "remnant"


def test_nss_garbage_is_one_error(tmp_path: Path) -> None:
    db = tmp_path / "root/.pki/nssdb/cert9.db"
    db.parent.mkdir(parents=True)
    db.write_bytes(b"not a database" * 100)
    ctx = ctx_for(tmp_path, "linux")
    assert list(NSSCollector().collect(ctx)) == []
    assert len(ctx.errors.lines) == 1 and "cert9.db" in ctx.errors.lines[0]


def test_keychain(tmp_path: Path, certs: dict[str, bytes]) -> None:
    kc = tmp_path / "Users/bob/Library/Keychains/login.keychain-db"
    kc.parent.mkdir(parents=True)
    kc.write_bytes(
        b"kych"
        + b"\x00" * 300
        + certs["o_der"]
        + b"\x30\x82\xff\xff"
        + b"\x01" * 99
        + certs["k_der"]
        + b"\x00" * 64
    )
    ctx = ctx_for(tmp_path, "macos")
    recs = list(KeychainCollector().collect(ctx))
    assert [r.name for r in recs] == ["Example Root CA", "Kaspersky Anti-Virus Personal Root Certificate"]
    assert recs[1].get("store") == "/Users/bob/Library/Keychains/login.keychain-db"


def test_exports() -> None:
    assert {c.name for c in CERT_COLLECTORS} == {"ca-bundles", "nss-certificates", "keychain-certificates"}
    src = rules_source(load_catalog())
    assert 'identifier = "Kaspersky Anti-Virus Personal Root Certificate"' in src
    assert 'banscan_product = "kaspersky-personal-root-certificate"' in src
