"""The shipped catalog data: it validates, covers every product line, and rates evidence honestly."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from banscan.catalog.loader import CatalogError, default_catalog_dir, load_catalog
from banscan.catalog.schema import (
    Catalog,
    IdentifierKind,
    MatchKind,
    ProductStatus,
    Relation,
    SourceStrength,
)
from banscan.models import Confidence

OWN_PRODUCTS = [
    # consumer
    "kaspersky-for-windows",
    "kaspersky-standard",
    "kaspersky-plus",
    "kaspersky-premium",
    "kaspersky-free",
    "kaspersky-anti-virus",
    "kaspersky-internet-security",
    "kaspersky-total-security",
    "kaspersky-crystal",
    "kaspersky-pure",
    "kaspersky-small-office-security",
    "kaspersky-security-cloud",
    "kaspersky-vpn-secure-connection",
    "kaspersky-password-manager",
    "kaspersky-safe-kids",
    "kaspersky-protection-extension",
    # business endpoint and management
    "kes-windows",
    "kes-mac",
    "kesl",
    "kaspersky-endpoint-agent",
    "kav-windows-workstations",
    "ksc",
    "ksc-linux",
    "ksc-web-console",
    "ksc-network-agent",
    "kaspersky-edr",
    "kaspersky-kata",
    "kaspersky-sandbox",
    "kaspersky-mdr",
    "kaspersky-industrial-cybersecurity",
    # server and gateway
    "kaspersky-security-windows-server",
    "kav4fs",
    "kav-samba",
    "kav-proxy",
    "kav-checkpoint",
    "kav-exchange",
    "kav-isa-tmg",
    "kaspersky-embedded-systems-security",
    "kaspersky-security-mail-server",
    "kaspersky-security-internet-gateway",
    "kaspersky-hybrid-cloud-security",
    # mobile
    "kaspersky-android-security",
    "kes-android",
    "kaspersky-who-calls",
    "kaspersky-ios",
    # OEM, SDK, OS
    "kaspersky-anti-virus-engine",
    "kav-sdk",
    "kaspersky-scan-engine",
    "kasperskyos",
    "kaspersky-thin-client",
    # free tools
    "kvrt",
    "kavremover",
    "tdsskiller",
    # shared identifiers
    "kaspersky-generic",
]
CARVE_OUTS = [
    "kaspersky-threat-intelligence",
    "kaspersky-threat-data-feeds",
    "kaspersky-cybertrace",
    "kaspersky-opentip",
    "kaspersky-security-awareness",
    "kaspersky-asap",
    "kaspersky-adaptive-online-training",
    "kaspersky-consulting",
]
INTEGRATIONS = ["juniper-srx-kaspersky-av", "orange-security-suite", "checkpoint-threatcloud-kaspersky-feed"]
SUCCESSORS = ["ultraav", "ultravpn"]
REMNANTS = ["kaspersky-personal-root-certificate", "kaspersky-antivirus-ca-certificate"]
# Offerings with nothing to install; they may carry no identifier.
SERVICES_ONLY = {"kaspersky-consulting"}

MOBILE_IDS = {
    "com.kms.free": "kaspersky-android-security",
    "com.kaspersky.security.cloud": "kaspersky-security-cloud",
    "com.kaspersky.kes": "kes-android",
    "com.kaspersky.safekids": "kaspersky-safe-kids",
    "com.kaspersky.who_calls": "kaspersky-who-calls",
    "com.kaspersky.secure.connection": "kaspersky-vpn-secure-connection",
    "com.kaspersky.securityadvisor": "kaspersky-ios",
    "com.kaspersky.passwordmanager": "kaspersky-password-manager",
}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def _values(cat: Catalog, kind: IdentifierKind) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for p in cat.products:
        for i in p.identifiers:
            if i.kind == kind:
                out.setdefault(i.value, set()).add(p.id)
    return out


def test_shipped_catalog_validates(catalog: Catalog) -> None:
    assert catalog.products
    assert catalog.sources
    assert catalog.alternatives
    # the explicit folder path and the packaged default load the same data
    again = load_catalog(default_catalog_dir())
    assert [p.id for p in again.products] == [p.id for p in catalog.products]


@pytest.mark.parametrize("pid", OWN_PRODUCTS + CARVE_OUTS + INTEGRATIONS + SUCCESSORS + REMNANTS)
def test_product_line_present(catalog: Catalog, pid: str) -> None:
    assert catalog.product(pid).id == pid


def test_own_products_are_kaspersky_and_covered(catalog: Catalog) -> None:
    for pid in OWN_PRODUCTS:
        p = catalog.product(pid)
        assert p.relation == Relation.OWN, pid
        assert p.vendor == "kaspersky-lab", pid
        assert p.status in (ProductStatus.COVERED, ProductStatus.REVIEW), pid


# Names any program can take: alone they never prove Kaspersky software.
GENERIC_PROCESS_NAMES = {"avp.exe", "avp", "avpui", "kav.exe", "setup.exe", "startup.exe"}


def test_definitive_process_and_path_identifiers_are_specific_and_recorded(catalog: Catalog) -> None:
    """A process or path proves a product only when its name is one vendor's own (klnagent.exe,
    /opt/kaspersky/kesl) and a recorded source shows it; generic names never do."""
    for p in catalog.products:
        for i in p.identifiers:
            if i.kind not in (IdentifierKind.PROCESS, IdentifierKind.PATH):
                continue
            if i.kind == IdentifierKind.PROCESS and i.value.lower() in GENERIC_PROCESS_NAMES:
                assert i.confidence == Confidence.WEAK, (p.id, i.value)
            if i.confidence == Confidence.DEFINITIVE:
                strengths = {catalog.source(s).strength for s in i.sources}
                assert strengths & {SourceStrength.VENDOR, SourceStrength.PUBLIC_CODE}, (p.id, i.value)


def test_kaspersky_lab_folders_are_weak(catalog: Catalog) -> None:
    """The bare install/data folders are masqueraded by attackers (Forest Blizzard)."""
    generic = catalog.product("kaspersky-generic")
    bare = [
        i
        for i in generic.identifiers
        if i.kind == IdentifierKind.PATH and i.value.endswith("\\Kaspersky Lab\\*")
    ]
    assert len(bare) >= 2
    for i in bare:
        assert i.confidence == Confidence.WEAK, i.value
    for i in generic.identifiers:
        if i.kind == IdentifierKind.PATH and "ProgramData" in i.value:
            assert i.confidence == Confidence.WEAK, i.value


def test_definitive_identifiers_rest_on_strong_sources(catalog: Catalog) -> None:
    """Recorded public code may carry `definitive`; pastes, copies and unrecorded code may not."""
    capped = {SourceStrength.UNVERIFIED}
    for p in catalog.products:
        for i in p.identifiers:
            if i.confidence == Confidence.DEFINITIVE:
                strengths = {catalog.source(s).strength for s in i.sources}
                assert strengths - capped, (p.id, i.value)


def test_carve_outs(catalog: Catalog) -> None:
    for pid in CARVE_OUTS:
        p = catalog.product(pid)
        assert p.status == ProductStatus.CARVED_OUT, pid
        assert p.relation == Relation.OWN, pid
    assert catalog.product("kaspersky-consulting").category.value == "services"


def test_successors_are_informational(catalog: Catalog) -> None:
    for pid in SUCCESSORS:
        p = catalog.product(pid)
        assert p.relation == Relation.SUCCESSOR
        assert p.status == ProductStatus.INFORMATIONAL
        assert p.vendor == "Pango Group"
        assert not p.integrates
    for p in catalog.products:
        if p.relation == Relation.SUCCESSOR:
            assert p.id in SUCCESSORS


def test_integrations_name_kaspersky(catalog: Catalog) -> None:
    for pid in INTEGRATIONS:
        p = catalog.product(pid)
        assert p.relation in (Relation.WHITE_LABEL, Relation.EMBEDDED_ENGINE, Relation.PLATFORM_PLUGIN)
        assert p.integrates == ["kaspersky-lab"]
        assert p.vendor != "kaspersky-lab"
    assert catalog.product("checkpoint-threatcloud-kaspersky-feed").status == ProductStatus.INFORMATIONAL
    assert catalog.product("juniper-srx-kaspersky-av").status == ProductStatus.REVIEW


def test_unsourced_licensees_are_left_out(catalog: Catalog) -> None:
    names = " ".join(f"{p.id} {p.name} {p.vendor}".lower() for p in catalog.products)
    for rumour in ("zyxel", "netgear", "clearswift", "bullguard", "qihoo", "g data", "f-secure"):
        assert rumour not in names, rumour


def test_remnants(catalog: Catalog) -> None:
    root = catalog.product("kaspersky-personal-root-certificate")
    assert root.remnant and root.status == ProductStatus.COVERED
    kinds = {(i.kind, i.value) for i in root.identifiers}
    assert (IdentifierKind.CERTIFICATE, "Kaspersky Anti-Virus Personal Root Certificate") in kinds
    assert (IdentifierKind.BYTE_SIGNATURE, "Kaspersky Anti-Virus Personal Root Certificate") in kinds
    older = catalog.product("kaspersky-antivirus-ca-certificate")
    assert older.remnant
    assert all(i.confidence == Confidence.WEAK for i in older.identifiers)


def test_apple_team_id_and_chrome_extension(catalog: Catalog) -> None:
    team = _values(catalog, IdentifierKind.TEAM_ID)
    assert "2Y8XE5CQ94" in team
    ext = _values(catalog, IdentifierKind.EXTENSION_ID)
    assert ext.get("amkpcclbbgegoafihnpgomddadjhcadd") == {"kaspersky-protection-extension"}


def test_mobile_ids_on_the_right_products(catalog: Catalog) -> None:
    bundles = _values(catalog, IdentifierKind.BUNDLE_ID)
    for bundle, pid in MOBILE_IDS.items():
        assert pid in bundles.get(bundle, set()), bundle


def test_key_windows_and_linux_identifiers(catalog: Catalog) -> None:
    services = _values(catalog, IdentifierKind.SERVICE)
    for name in ("KAVFS", "klnagent", "KSDE1.0.0", "KSCWebConsoleMessageQueue", "kesl", "klnagent64"):
        assert name in services, name
    drivers = {v.lower() for v in _values(catalog, IdentifierKind.DRIVER)}
    for name in ("klif", "klhk", "klflt", "klim6", "com.kaspersky.kav.sysext"):
        assert name in drivers, name
    assert not any(d.endswith(".sys") for d in drivers)
    packages = _values(catalog, IdentifierKind.PACKAGE)
    assert packages["kesl"] == {"kesl"}
    assert packages["ksc64"] == {"ksc-linux"}
    assert packages["klnagent64"] == {"ksc-network-agent"}
    assert packages["Kaspersky.KasperskyTotalSecurity"] == {"kaspersky-total-security"}
    receipts = _values(catalog, IdentifierKind.RECEIPT)
    assert "com.kaspersky.kav.core" in receipts


def test_avp_service_regex(catalog: Catalog) -> None:
    regexes = [
        i.value
        for i in catalog.product("kaspersky-generic").identifiers
        if i.kind == IdentifierKind.SERVICE and i.match == MatchKind.REGEX
    ]
    assert regexes
    rx = re.compile(regexes[0], re.IGNORECASE)
    assert rx.search("AVP18.0.0") and rx.search("AVP21.3")
    assert not rx.search("AVPX") and not rx.search("kAVP21-extra")


def test_regex_identifiers_compile_and_hit_examples(catalog: Catalog) -> None:
    for p in catalog.products:
        for i in p.identifiers:
            if i.match == MatchKind.REGEX:
                re.compile(i.value, re.IGNORECASE)
    examples = {
        IdentifierKind.CPE: "cpe:2.3:a:kaspersky:total_security:21.3:*:*:*:*:*:*:*",
        IdentifierKind.PURL: "pkg:generic/kaspersky/kes@12.5",
        IdentifierKind.REGISTRY_KEY: r"HKLM\SOFTWARE\WOW6432Node\KasperskyLab\protected\KES\Data",
    }
    generic = catalog.product("kaspersky-generic")
    for kind, sample in examples.items():
        rxs = [i.value for i in generic.identifiers if i.kind == kind and i.match == MatchKind.REGEX]
        assert any(re.search(r, sample, re.IGNORECASE) for r in rxs), kind
    assert not any(
        re.search(i.value, "cpe:2.3:a:microsoft:defender:1", re.IGNORECASE)
        for i in generic.identifiers
        if i.kind == IdentifierKind.CPE
    )


def test_cyrillic_names(catalog: Catalog) -> None:
    kav = {i.value for i in catalog.product("kaspersky-anti-virus").identifiers}
    assert "Антивирус Касперского" in kav
    kes = {
        i.value: i
        for i in catalog.product("kes-windows").identifiers
        if i.kind == IdentifierKind.DISPLAY_NAME
    }
    ru = kes["Kaspersky Endpoint Security для Windows"]
    # A full product name only Kaspersky uses, shown by Kaspersky's own Russian help.
    assert ru.confidence == Confidence.DEFINITIVE
    assert any(catalog.source(s).strength == SourceStrength.VENDOR for s in ru.sources)


def test_every_product_has_identifiers(catalog: Catalog) -> None:
    for p in catalog.products:
        if p.id in SERVICES_ONLY:
            continue
        assert p.identifiers, p.id


def test_public_code_sources_name_their_repository(catalog: Catalog) -> None:
    for s in catalog.sources:
        if s.strength == SourceStrength.PUBLIC_CODE:
            assert s.repository and s.path and s.commit, s.id
            assert s.url and s.url.startswith(f"https://github.com/{s.repository}/"), s.id
    assert catalog.source("public-code-unrecorded").strength == SourceStrength.UNVERIFIED


def test_alternatives(catalog: Catalog) -> None:
    alts = {a.id: a for a in catalog.alternatives}
    for aid in (
        "microsoft-defender-antivirus",
        "xprotect-gatekeeper",
        "microsoft-defender-for-endpoint",
        "clamav",
        "google-play-protect",
        "bitwarden",
        "1password",
        "icloud-keychain",
        "microsoft-family-safety",
        "apple-screen-time",
        "wireguard",
        "crowdstrike-falcon",
        "sentinelone-singularity",
        "sophos-endpoint",
        "eset-protect",
        "bitdefender-gravityzone",
        "trend-micro-vision-one",
    ):
        assert aid in alts, aid
        assert alts[aid].sources
    for platform in ("windows", "macos", "android"):
        assert any(
            a.builtin and platform in a.platforms and "endpoint-protection" in {c.value for c in a.categories}
            for a in catalog.alternatives
        ), platform


# --- negative tests: a broken copy of the catalog must be refused --------------------------


def _copy_catalog(tmp_path: Path) -> Path:
    dest = tmp_path / "catalog"
    shutil.copytree(default_catalog_dir(), dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def _edit_product(folder: Path, filename: str, pid: str, edit) -> None:  # type: ignore[no-untyped-def]
    path = folder / "products" / filename
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    for entry in data:
        if entry["id"] == pid:
            edit(entry)
            break
    else:
        raise AssertionError(f"{pid} not in {filename}")
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def test_copy_of_catalog_loads(tmp_path: Path) -> None:
    folder = _copy_catalog(tmp_path)
    assert len(load_catalog(folder).products) == len(load_catalog().products)


def test_product_without_sources_is_refused(tmp_path: Path) -> None:
    folder = _copy_catalog(tmp_path)
    _edit_product(folder, "kaspersky-business.yaml", "kesl", lambda e: e.__setitem__("sources", []))
    with pytest.raises(CatalogError) as err:
        load_catalog(folder)
    msg = str(err.value)
    assert "kesl" in msg
    assert "sources" in msg
    assert "kaspersky-business.yaml" in msg


def test_definitive_identifier_on_unrecorded_public_code_is_refused(tmp_path: Path) -> None:
    folder = _copy_catalog(tmp_path)

    def weaken(entry: dict) -> None:  # type: ignore[type-arg]
        entry["identifiers"][0]["sources"] = ["public-code-unrecorded"]
        assert entry["identifiers"][0]["confidence"] == "definitive"

    _edit_product(folder, "kaspersky-business.yaml", "kesl", weaken)
    with pytest.raises(CatalogError) as err:
        load_catalog(folder)
    msg = str(err.value)
    assert "kesl" in msg
    assert "definitive" in msg


def test_unknown_source_is_refused(tmp_path: Path) -> None:
    folder = _copy_catalog(tmp_path)

    def cite_nothing(entry: dict) -> None:  # type: ignore[type-arg]
        entry["identifiers"][0]["sources"] = ["no-such-source"]

    _edit_product(folder, "kaspersky-consumer.yaml", "kaspersky-premium", cite_nothing)
    with pytest.raises(CatalogError, match=r"kaspersky-premium.*no-such-source"):
        load_catalog(folder)


def test_a_product_id_in_the_form_of_an_unlisted_one_is_refused(tmp_path: Path) -> None:
    """`<entity>-unlisted[-<name>]` ids belong to the matcher's products the catalog does not list."""
    folder = _copy_catalog(tmp_path)
    _edit_product(folder, "kaspersky-business.yaml", "kesl", lambda e: e.__setitem__("id", "kesl-unlisted-x"))
    with pytest.raises(CatalogError, match=r"kesl-unlisted-x.*unlisted"):
        load_catalog(folder)
