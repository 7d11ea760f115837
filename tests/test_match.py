"""Matcher behaviour on a small catalog: what becomes covered, what only review, and why."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from banscan.catalog.loader import load_catalog
from banscan.catalog.schema import Catalog
from banscan.match.matcher import Matcher, unlisted_entity
from banscan.match.normalize import norm_name, norm_org, norm_path, norm_token
from banscan.models import Confidence, Finding, InventoryRecord, RecordKind, Source, Verdict

MINI = Path(__file__).parent / "data" / "mini_catalog.yaml"


@pytest.fixture(scope="module")
def cat() -> Catalog:
    return load_catalog(MINI)


def rec(kind: RecordKind, name: str, host: str = "h1", **kw: Any) -> InventoryRecord:
    return InventoryRecord(host=host, source=Source("test", f"fixture:{name}"), kind=kind, name=name, **kw)


def run(cat: Catalog, *records: InventoryRecord) -> list[Finding]:
    m = Matcher(cat)
    m.add_all(records)
    return m.findings()


def only(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, [f"{f.product}:{f.verdict}" for f in findings]
    return findings[0]


# -- normalisation ---------------------------------------------------------------------------
def test_norm_name_strips_versions_marks_case_and_transliterates() -> None:
    assert (
        norm_name("AcmeAV® Endpoint Security 11.2 for Windows (x64)")
        == "acmeav endpoint security for windows"
    )
    assert norm_name("Антивирус  Акме 2019") == "antivirus akme"
    assert norm_org("АО «Лаборатория Акме»") == norm_org("Лаборатория Акме")
    assert norm_org("Acme AV Lab JSC") == norm_org("AO Acme AV Lab")
    assert norm_token(r"C:\Program Files\AcmeAV.EXE") == "acmeav"
    assert norm_path("C:\\Program Files (x86)\\Acme\\") == "c:/program files (x86)/acme"


def test_norm_path_spells_out_windows_folder_variables() -> None:
    want = "c:/program files (x86)/acme av lab/agent"
    for text in (
        r"%ProgramFiles(x86)%\Acme AV Lab\Agent",
        r"%ProgramFiles (x86)%\Acme AV Lab\Agent",
        r"?:\Program Files (x86)\Acme AV Lab\Agent",
        "\\Program Files (x86)\\Acme AV Lab\\Agent\\",
    ):
        assert norm_path(text) == want, text
    assert norm_path(r"%ALLUSERSPROFILE%\Acme") == norm_path(r"C:\ProgramData\Acme") == "c:/programdata/acme"
    assert norm_path("/opt/acme/") == "/opt/acme"


@given(st.text(max_size=60))
def test_norm_name_is_idempotent(text: str) -> None:
    once = norm_name(text)
    assert norm_name(once) == once


# -- verdicts --------------------------------------------------------------------------------
def test_definitive_display_name_is_covered_with_version(cat: Catalog) -> None:
    f = only(run(cat, rec(RecordKind.APP, "AcmeAV Endpoint Security 12 for Windows", version="12.5.0.539")))
    assert (f.product, f.verdict, f.confidence) == ("acme-endpoint", Verdict.COVERED, Confidence.DEFINITIVE)
    assert f.version == "12.5.0.539"
    assert f.evidence[0].kind == "display_name"
    assert f.evidence[0].location == "fixture:AcmeAV Endpoint Security 12 for Windows"


def test_cyrillic_display_name_is_covered(cat: Catalog) -> None:
    f = only(run(cat, rec(RecordKind.APP, "Антивирус Акме", publisher="АО «Лаборатория Акме»")))
    assert f.product == "acme-endpoint" and f.verdict == Verdict.COVERED
    assert {e.kind for e in f.evidence} == {"display_name", "publisher"}


def test_lone_process_is_review_not_covered(cat: Catalog) -> None:
    f = only(run(cat, rec(RecordKind.PROCESS, "acmeav.exe", path="/usr/bin/acmeav")))
    assert f.verdict == Verdict.REVIEW and f.confidence == Confidence.WEAK


def test_folder_alone_is_review(cat: Catalog) -> None:
    f = only(run(cat, rec(RecordKind.PATH, "Acme AV Lab", path=r"C:\Program Files (x86)\Acme AV Lab\Tools")))
    assert f.product == "acme-endpoint" and f.verdict == Verdict.REVIEW


def test_prefix_alone_is_strong_review_then_two_independent_strong_make_covered(cat: Catalog) -> None:
    # A package record (not an installed program, whose leading brand would settle it).
    f = only(run(cat, rec(RecordKind.PACKAGE, "AcmeAV Endpoint Agent")))
    assert f.verdict == Verdict.REVIEW and f.confidence == Confidence.STRONG
    f = only(run(cat, rec(RecordKind.PACKAGE, "AcmeAV Endpoint Agent"), rec(RecordKind.DRIVER, "klacme.sys")))
    assert f.verdict == Verdict.COVERED and {e.kind for e in f.evidence} == {
        "display_name",
        "brand_name",
        "driver",
    }


def test_regex_service_and_token_suffixes(cat: Catalog) -> None:
    f = only(run(cat, rec(RecordKind.SERVICE, "ACMEAV21.3")))
    assert f.product == "acme-endpoint" and f.evidence[0].kind == "service"
    # Not the versioned service pattern: only the brand word remains, which is weak for a service.
    f = only(run(cat, rec(RecordKind.SERVICE, "ACMEAVX")))
    assert (f.product, f.verdict, f.confidence) == (
        "acme-av-unlisted-acmeavx",
        Verdict.REVIEW,
        Confidence.WEAK,
    )


def test_package_exact_and_path_prefix_boundaries(cat: Catalog) -> None:
    f = only(run(cat, rec(RecordKind.PACKAGE, "acmeav-linux", version="1.0")))
    assert f.verdict == Verdict.COVERED
    # Prefix on path components only: /opt/acme/acmeav-old is a different folder.
    fs = run(cat, rec(RecordKind.PATH, "acmeav-old", path="/opt/acme/acmeav-old"))
    assert [f.product for f in fs] == ["acme-shared"]  # the vendor's root, not acme-linux's folder
    # An install folder with no package of the product left: what an uninstall leaves behind.
    f = only(run(cat, rec(RecordKind.PATH, "bin", path="/opt/acme/acmeav/bin")))
    assert f.product == "acme-linux" and f.verdict == Verdict.REMNANT


def test_exact_match_is_case_sensitive_where_declared(cat: Catalog) -> None:
    f = only(run(cat, rec(RecordKind.PACKAGE, "AcmeAV-Linux")))
    assert f.product == "acme-av-unlisted-acmeav-linux" and f.verdict == Verdict.REVIEW


def test_unlisted_product_of_covered_publisher_is_a_finding(cat: Catalog) -> None:
    f = only(
        run(cat, rec(RecordKind.APP, "AcmeAV Cloud Shield 2030", publisher="AO Acme AV Lab", version="1.2"))
    )
    assert (
        f.product == "acme-av-unlisted-acmeav-cloud-shield" and f.product_name == "AcmeAV Cloud Shield 2030"
    )
    assert f.verdict == Verdict.COVERED
    # The publisher alone names who made it: covered as that entity's product, under its own name.
    f = only(run(cat, rec(RecordKind.APP, "Totally New Tool", publisher="Acme AV Lab ZAO")))
    assert (f.product, f.verdict, f.confidence) == (
        "acme-av-unlisted-totally-new-tool",
        Verdict.COVERED,
        Confidence.DEFINITIVE,
    )
    assert f.product_name == "Totally New Tool" and f.brand == "Totally New Tool"


def test_unlisted_products_of_one_entity_on_one_host_keep_distinct_stable_ids(cat: Catalog) -> None:
    """Each unlisted product is a finding of its own, under an id its name gives (versions and
    case aside), so the result, the server and the removal tracking key it the same way."""
    pub = "AO Acme AV Lab"
    records = [
        rec(RecordKind.APP, "AcmeAV Cloud Shield 2030", publisher=pub),
        rec(RecordKind.APP, "Totally New Tool", publisher=pub),
        rec(RecordKind.APP, "Totally New Tool", host="h2", publisher=pub),
    ]
    found = {(f.host, f.product) for f in run(cat, *records)}
    assert found == {
        ("h1", "acme-av-unlisted-acmeav-cloud-shield"),
        ("h1", "acme-av-unlisted-totally-new-tool"),
        ("h2", "acme-av-unlisted-totally-new-tool"),
    }
    # The next version of the same product keeps its id; a long name is cut and hashed.
    f = only(run(cat, rec(RecordKind.APP, "ACMEAV Cloud Shield 2031 (x64)", publisher=pub)))
    assert f.product == "acme-av-unlisted-acmeav-cloud-shield"
    long_name = "Totally New Tool " + " ".join(f"part{i}" for i in range(40))
    ids = {only(run(cat, rec(RecordKind.APP, long_name + end, publisher=pub))).product for end in ("", " x")}
    assert len(ids) == 2 and all(len(i) <= len("acme-av-unlisted-") + 64 for i in ids)
    assert {unlisted_entity(i) for i in ids} == {"acme-av"}
    assert unlisted_entity("acme-av-unlisted") == "acme-av" and unlisted_entity("acme-linux") is None


def test_cloud_extension_publisher_namespace_names_entity(cat: Catalog) -> None:
    """Azure VM extensions are published under dotted namespaces such as "KasperskyLab.Azure"."""
    f = only(run(cat, rec(RecordKind.APP, "CloudAgent", publisher="AcmeAVLab.SecurityAgent")))
    assert (f.product, f.verdict) == ("acme-av-unlisted-cloudagent", Verdict.COVERED)
    assert [e.kind for e in f.evidence] == ["publisher"]
    # Only the first segment names the publisher; a namespace merely mentioning it does not.
    assert run(cat, rec(RecordKind.APP, "CloudAgent", publisher="Contoso.AcmeAVLab")) == []
    assert run(cat, rec(RecordKind.APP, "CloudAgent", publisher="Contoso.Monitoring")) == []


def test_signer_subject_names_entity(cat: Catalog) -> None:
    f = only(
        run(
            cat,
            rec(RecordKind.FILE, "setup.exe", signer="CN=AO Acme AV Lab, O=AO Acme AV Lab, L=Moscow, C=RU"),
        )
    )
    assert f.product == "acme-av-unlisted-setup-exe" and f.evidence[0].kind == "signer"


def test_document_or_folder_mentioning_brand_is_not_a_finding(cat: Catalog) -> None:
    assert (
        run(cat, rec(RecordKind.PATH, "acmeav-review.pdf", path="/home/u/Documents/acmeav-review.pdf")) == []
    )
    assert run(cat, rec(RecordKind.PROCESS, "python3", path="/usr/bin/python3")) == []


def test_carve_out_and_successor_are_informational(cat: Catalog) -> None:
    fs = run(
        cat,
        rec(RecordKind.APP, "AcmeAV Threat Intelligence Portal Connector", publisher="AO Acme AV Lab"),
        rec(RecordKind.APP, "SuccessorAV", publisher="Successor Corp"),
    )
    assert {(f.product, f.verdict) for f in fs} == {
        ("acme-ti", Verdict.INFORMATIONAL),
        ("successor-av", Verdict.INFORMATIONAL),
    }


def test_remnant_certificate(cat: Catalog) -> None:
    f = only(run(cat, rec(RecordKind.CERTIFICATE, "AcmeAV Personal Root Certificate")))
    assert f.verdict == Verdict.REMNANT


def test_integration_is_review_even_with_definitive_looking_evidence(cat: Catalog) -> None:
    f = only(run(cat, rec(RecordKind.APP, "Box Firewall Full AV", publisher="Box Networks")))
    assert f.product == "oem-box" and f.verdict == Verdict.REVIEW


def test_most_specific_product_wins_a_record(cat: Catalog) -> None:
    # Name matches acme-endpoint exactly; the path would hint at acme-linux, but the record's
    # identity is its name, so it is one finding, not two.
    f = only(run(cat, rec(RecordKind.APP, "AcmeAV Endpoint Security for Windows", path="/opt/acme/acmeav")))
    assert f.product == "acme-endpoint"


def test_evidence_is_aggregated_per_host_and_product(cat: Catalog) -> None:
    fs = run(
        cat,
        rec(RecordKind.APP, "AcmeAV Endpoint Security for Windows", host="a"),
        rec(RecordKind.DRIVER, "klacme", host="a"),
        rec(RecordKind.APP, "AcmeAV Endpoint Security for Windows", host="b"),
    )
    assert [(f.host, f.product, len(f.evidence)) for f in fs] == [
        ("a", "acme-endpoint", 2),
        ("b", "acme-endpoint", 1),
    ]


def test_bundle_team_and_extension_ids(cat: Catalog) -> None:
    f = only(run(cat, rec(RecordKind.APP, "Something", bundle_id="com.acmeav.mac", team_id="2Y8ACME")))
    assert f.product == "acme-mac" and f.verdict == Verdict.COVERED
    f = only(
        run(cat, rec(RecordKind.EXTENSION, "Protection", extension_id="abcdefghijklmnopabcdefghijklmnop"))
    )
    assert f.product == "acme-mac" and f.verdict == Verdict.REVIEW


# -- identity, not field count ---------------------------------------------------------------
def test_brand_leading_an_installed_program_is_covered_inside_a_name_review(cat: Catalog) -> None:
    f = only(run(cat, rec(RecordKind.APP, "AcmeAV Rescue Disk 2031")))
    assert (f.product, f.verdict, f.confidence) == (
        "acme-av-unlisted-acmeav-rescue-disk",
        Verdict.COVERED,
        Confidence.DEFINITIVE,
    )
    assert f.brand is None  # it wears its maker's brand
    # A third party's connector that mentions the brand is not the vendor's product.
    f = only(run(cat, rec(RecordKind.APP, "Threat feed connector for AcmeAV")))
    assert f.verdict == Verdict.REVIEW
    # A package of that name (e.g. a client library in an SBOM) is only strong on its own.
    f = only(run(cat, rec(RecordKind.SBOM_COMPONENT, "acmeav-api-client")))
    assert f.verdict == Verdict.REVIEW


def test_signer_alone_is_covered_unless_the_signature_is_forged(cat: Catalog) -> None:
    signer = "CN=AO Acme AV Lab, O=AO Acme AV Lab, L=Moscow, C=RU"
    f = only(run(cat, rec(RecordKind.FILE, "contoso-shield.exe", signer=signer)))
    assert f.verdict == Verdict.COVERED
    forged = rec(
        RecordKind.FILE, "setup.exe", signer=signer, extra=(("signature_status", "digest mismatch"),)
    )
    f = only(run(cat, forged))
    assert (f.verdict, f.confidence) == (Verdict.REVIEW, Confidence.WEAK)


def test_white_label_keeps_the_brand_it_wears(cat: Catalog) -> None:
    # Sold as "Contoso Shield", signed by the covered entity.
    f = only(run(cat, rec(RecordKind.APP, "Contoso Shield", signer="AO Acme AV Lab", version="3.1")))
    assert (f.product, f.verdict, f.brand) == (
        "acme-av-unlisted-contoso-shield",
        Verdict.COVERED,
        "Contoso Shield",
    )
    # A macOS app under another name whose code signature carries the vendor's Team ID.
    f = only(
        run(cat, rec(RecordKind.APP, "Contoso Shield", team_id="2Y8SHARED", bundle_id="com.contoso.shield"))
    )
    assert (f.product, f.verdict, f.brand) == ("acme-shared", Verdict.COVERED, "Contoso Shield")


def test_unit_and_driver_names_match_in_any_listed_form(cat: Catalog) -> None:
    for name in ("acmeav-linux", "acmeav-linux.service", "/usr/lib/systemd/system/acmeav-linux.service"):
        f = only(run(cat, rec(RecordKind.SERVICE, name)))
        assert f.product == "acme-linux", name
    f = only(run(cat, rec(RecordKind.DRIVER, "KLSHARED.SYS")))
    assert (f.product, f.verdict) == ("acme-shared", Verdict.COVERED)


def test_a_program_file_is_the_software_a_folder_is_a_footprint(cat: Catalog) -> None:
    f = only(run(cat, rec(RecordKind.PATH, "acmeav", path="/opt/acme/acmeav/bin/acmeavd")))
    assert (f.product, f.verdict) == ("acme-linux", Verdict.REVIEW)  # strong path alone: installed, unsure
    f = only(run(cat, rec(RecordKind.PATH, "avbases", path="/opt/acme/acmeav/var/avbases")))
    assert f.verdict == Verdict.REMNANT


def test_product_codes_and_shipped_file_names_identify_the_product(cat: Catalog) -> None:
    code = "{11111111-2222-3333-4444-555555555555}"
    uninstall = r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall"
    for record in (
        rec(RecordKind.REGISTRY_KEY, code.lower(), path=f"{uninstall}\\{code.lower()}"),
        rec(RecordKind.APP, "Agent", extra=(("product_code", code),)),
        rec(RecordKind.FILE, "acmecore.dll"),
        rec(RecordKind.FILE, "ACMEWIN_12.3.0.493_en_aes256.exe"),
        rec(RecordKind.PATH, "acmecore.dll", path=r"D:\Apps\Acme AV Lab\bin\acmecore.dll"),
    ):
        f = only(run(cat, record))
        assert (f.product, f.verdict) == ("acme-endpoint", Verdict.COVERED), record
    # The same GUID under another key is not an installed program.
    assert run(cat, rec(RecordKind.REGISTRY_KEY, code, path=rf"HKCR\CLSID\{code}")) == []
    assert run(cat, rec(RecordKind.FILE, "notacmecore.dll")) == []


def test_drivers_listed_as_services_and_service_registry_keys(cat: Catalog) -> None:
    # Windows lists kernel drivers as services; a Services key is a service's registration.
    f = only(run(cat, rec(RecordKind.SERVICE, "KLSHARED")))
    assert (f.product, f.verdict) == ("acme-shared", Verdict.COVERED)
    key = r"HKLM\SYSTEM\CurrentControlSet\Services\klshared"
    f = only(run(cat, rec(RecordKind.REGISTRY_KEY, "klshared", path=key)))
    assert (f.product, f.verdict) == ("acme-shared", Verdict.COVERED)
    assert run(cat, rec(RecordKind.REGISTRY_KEY, "x", path=key + r"\Parameters")) == []


def test_aliases_name_their_product(cat: Catalog) -> None:
    f = only(run(cat, rec(RecordKind.APP, "AcmeAV Server Shield 4.2 (x64)")))
    assert (f.product, f.verdict) == ("acme-linux", Verdict.COVERED)
    # An abbreviation without the brand word names other software as often: not matched.
    assert run(cat, rec(RecordKind.APP, "ALX")) == []


def test_shared_footprints_join_the_identified_product_of_the_host(cat: Catalog) -> None:
    fs = run(
        cat,
        rec(RecordKind.PACKAGE, "acmeav-linux", host="a"),
        rec(RecordKind.PATH, "acme", path="/opt/acme", host="a"),
        rec(RecordKind.DRIVER, "klshared", host="a"),
        rec(RecordKind.PATH, "acme", path="/opt/acme", host="b"),
    )
    assert [(f.host, f.product, f.verdict) for f in fs] == [
        ("a", "acme-linux", Verdict.COVERED),
        ("b", "acme-shared", Verdict.REMNANT),
    ]
    (a,) = [f for f in fs if f.host == "a"]
    assert {e.kind for e in a.evidence} == {"package", "path", "driver"}


def test_shared_evidence_never_joins_a_carve_out(cat: Catalog) -> None:
    fs = run(
        cat,
        rec(RecordKind.APP, "AcmeAV Threat Intelligence Portal", publisher="AO Acme AV Lab"),
        rec(RecordKind.DRIVER, "klshared"),
    )
    assert {(f.product, f.verdict) for f in fs} == {
        ("acme-ti", Verdict.INFORMATIONAL),
        ("acme-shared", Verdict.COVERED),
    }


# -- which fields can give evidence -------------------------------------------------------------


def test_only_matched_fields_give_evidence() -> None:
    """The CSV bulk path looks for tokens only in `MATCHED_FIELDS` and `MATCHED_EXTRAS`: every
    other field and extra holding Kaspersky's names and identifiers must find nothing."""
    from dataclasses import fields

    from banscan.match.fields import MATCHED_EXTRAS, MATCHED_FIELDS

    full = load_catalog()
    others = {f.name for f in fields(InventoryRecord)} - set(MATCHED_FIELDS)
    assert others == {"host", "source", "kind", "version", "sha256", "extra"}  # a new field: decide
    kes = "Kaspersky Endpoint Security for Windows"
    code = "{305A9EC9-294E-4555-A7C5-E1C767E01C11}"  # a KES product code in the catalog
    extras = tuple(
        (k, v)
        for k in ("os", "user", "device_id", "application_key", "short_version", "install_date", "platform")
        for v in (kes, code)
    )
    for kind in RecordKind:
        quiet = InventoryRecord(
            host=kes, source=Source(kes, kes), kind=kind, name="Google Chrome", version=kes, extra=extras
        )
        assert not run(full, quiet), kind
    for key in MATCHED_EXTRAS & {"product_code", "identifying_number"}:
        loud = InventoryRecord(
            host="h",
            source=Source("t", "f:1"),
            kind=RecordKind.APP,
            name="Google Chrome",
            extra=((key, code),),
        )
        assert run(full, loud), key
