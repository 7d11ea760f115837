"""CycloneDX (1.4–1.6, JSON and XML) and SPDX (2.2/2.3, JSON and tag-value) SBOM inputs: records,
hosts, detection, what the matcher decides end to end, and hostile or broken documents."""

from __future__ import annotations

import io
import json
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from banscan.catalog.loader import load_catalog
from banscan.errors import ErrorSink
from banscan.inputs import cyclonedx, spdx
from banscan.inputs.registry import detect, read_target
from banscan.models import InventoryRecord, RecordKind
from banscan.scan import ScanOptions, run_scan

DATA = Path(__file__).parent / "data" / "inputs" / "sbom"
CDX_JSON, CDX_XML = cyclonedx.READERS
SPDX_JSON, SPDX_TV, _SPDX3 = spdx.READERS


def read(
    reader: Any, path: Path, default_host: str = "fallback-host"
) -> tuple[list[InventoryRecord], list[str]]:
    sink = ErrorSink(echo=False)
    stream = io.BufferedReader(io.BytesIO(path.read_bytes()))  # type: ignore[arg-type]
    records = list(reader.read(stream, path.name, sink, default_host))
    return records, sink.lines


def read_file(path: Path) -> tuple[str, list[InventoryRecord], list[str]]:
    """Through the registry, as `banscan scan --input` reads it: format detected from the bytes."""
    sink = ErrorSink(echo=False)
    target, records = read_target(str(path), sink)
    got = list(records)
    return target.format, got, sink.lines


def essence(rec: InventoryRecord) -> tuple[Any, ...]:
    """Everything but where the record came from (the same SBOM in JSON and XML must agree)."""
    extra = tuple(kv for kv in rec.extra if kv[0] != "bom_path")
    return (rec.host, rec.kind, rec.name, rec.version, rec.publisher, rec.purl, rec.cpe, extra)


def findings(path: Path) -> tuple[set[tuple[str, str, str]], list[str], Any]:
    result = run_scan(
        load_catalog(), ScanOptions(as_of=date(2025, 1, 15), echo_errors=False), inputs=[str(path)]
    )
    errors = [e for t in result.targets for e in t.errors]
    return {(f.host, f.product, f.verdict.value) for f in result.findings}, errors, result


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(content.encode() if isinstance(content, str) else content)
    return p


# --- detection ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("wks-042-inventory-1.6.cdx.json", "cyclonedx-json"),
        ("wks-042-inventory-1.4.cdx.xml", "cyclonedx-xml"),
        ("sg-5000-firmware-1.4.cdx.json", "cyclonedx-json"),
        ("sg-5000-firmware-1.6.cdx.xml", "cyclonedx-xml"),
        ("scan-engine-vendor-1.5.cdx.json", "cyclonedx-json"),
        ("srv-db-01.spdx.json", "spdx-json"),
        ("scanner-image.spdx", "spdx-tag-value"),
        ("xxe.cdx.xml", "cyclonedx-xml"),
    ],
)
def test_detected_from_the_first_bytes(name: str, fmt: str) -> None:
    head = (DATA / name).read_bytes()[:65536]
    reader = detect(head, "input")  # the file name plays no part
    assert reader is not None and reader.name == fmt


def test_other_json_and_xml_are_not_claimed() -> None:
    for head in (
        b'{"rows": [{"name": "bomFormat CycloneDX"}]}',
        b'<?xml version="1.0"?><bom><components/></bom>',  # no CycloneDX namespace
        b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"/>',
        b"PackageName: kesl\nPackageVersion: 12.1\n",
    ):
        assert [r.sniff(head, "x") for r in (CDX_JSON, CDX_XML, SPDX_JSON, SPDX_TV)] == [0, 0, 0, 0]
    # SPDX JSON is not CycloneDX and the other way round
    assert CDX_JSON.sniff((DATA / "srv-db-01.spdx.json").read_bytes(), "x") == 0
    assert SPDX_JSON.sniff((DATA / "wks-042-inventory-1.6.cdx.json").read_bytes(), "x") == 0


def test_utf16_cyclonedx_xml_is_sniffed() -> None:
    text = (
        (DATA / "wks-042-inventory-1.4.cdx.xml").read_text().replace('encoding="UTF-8"', 'encoding="UTF-16"')
    )
    assert CDX_XML.sniff(text.encode("utf-16"), "x") == 95


# --- CycloneDX records --------------------------------------------------------------------------


def test_cyclonedx_16_json_inventory() -> None:
    records, errors = read(CDX_JSON, DATA / "wks-042-inventory-1.6.cdx.json")
    assert errors == []
    assert [r.name for r in records] == [
        "Kaspersky Endpoint Security for Windows",
        "7-Zip 23.01 (x64)",
        "Google Chrome",
        "openssl",
    ]
    kes = records[0]
    assert kes.host == "WKS-042"  # metadata.component (a device) is the host, not a record
    assert kes.kind is RecordKind.SBOM_COMPONENT
    assert kes.version == "11.1.1.126"
    assert kes.publisher == "AO Kaspersky Lab"
    assert kes.cpe == "cpe:2.3:a:kaspersky:endpoint_security:11.1.1.126:*:*:*:*:windows:*:*"
    assert kes.purl is None
    assert kes.source.collector == "cyclonedx"
    assert kes.source.location == "wks-042-inventory-1.6.cdx.json:components[0]"
    assert dict(kes.extra) == {
        "type": "application",
        "bom_ref": "c1",
        "supplier": "AO Kaspersky Lab",
        "bom_path": "components[0]",
    }
    chrome, openssl = records[2], records[3]
    assert chrome.publisher == "Google LLC"  # no `publisher`: the supplier's name
    assert openssl.publisher is None
    assert openssl.purl == "pkg:generic/openssl/openssl@3.0.15"
    assert openssl.get("group") == "org.openssl"


def test_cyclonedx_14_xml_gives_the_same_records_as_json() -> None:
    from_json, _ = read(CDX_JSON, DATA / "wks-042-inventory-1.6.cdx.json")
    from_xml, errors = read(CDX_XML, DATA / "wks-042-inventory-1.4.cdx.xml")
    assert errors == []
    assert [essence(r) for r in from_xml] == [essence(r) for r in from_json]
    assert from_xml[3].source.location == "wks-042-inventory-1.4.cdx.xml:/bom/components/component[4]"
    assert from_xml[3].get("bom_path") == "components[3]"


@pytest.mark.parametrize(
    ("reader", "name"),
    [(CDX_JSON, "sg-5000-firmware-1.4.cdx.json"), (CDX_XML, "sg-5000-firmware-1.6.cdx.xml")],
)
def test_nested_components_of_appliance_firmware(reader: Any, name: str) -> None:
    records, errors = read(reader, DATA / name)
    assert errors == []
    assert {r.host for r in records} == {"SecureGate SG-5000"}
    assert [(r.name, r.get("bom_path")) for r in records] == [
        ("SecureGate OS", "components[0]"),
        ("linux", "components[0].components[0]"),
        ("busybox", "components[0].components[1]"),
        ("sg-antivirus", "components[0].components[2]"),
        ("Kaspersky Anti-Virus SDK", "components[0].components[2].components[0]"),
        ("zlib", "components[1]"),
    ]
    sdk = records[4]
    assert sdk.version == "8.9.2"
    assert sdk.publisher == "AO Kaspersky Lab"
    assert sdk.purl == "pkg:generic/kaspersky/kavsdk@8.9.2"
    assert sdk.get("type") == "library"
    assert sdk.get("bom_ref") == "fw/av/kavsdk"
    where = sdk.source.location.split(":", 1)[1]
    if reader is CDX_XML:
        assert where == "/bom/components/component[1]/components/component[3]/components/component[1]"
    else:
        assert where == "components[0].components[2].components[0]"


def test_json_and_xml_firmware_agree() -> None:
    a, _ = read(CDX_JSON, DATA / "sg-5000-firmware-1.4.cdx.json")
    b, _ = read(CDX_XML, DATA / "sg-5000-firmware-1.6.cdx.xml")
    assert [essence(r) for r in a] == [essence(r) for r in b]


def test_software_subject_is_the_host_and_a_record() -> None:
    """An SBOM of a product (here the vendor's own) names that product as its subject."""
    records, errors = read(CDX_JSON, DATA / "scan-engine-vendor-1.5.cdx.json")
    assert errors == []
    assert [(r.name, r.get("bom_path")) for r in records] == [
        ("Kaspersky Scan Engine", "metadata.component"),
        ("libcurl", "components[0]"),
        ("boost", "components[1]"),
    ]
    assert {r.host for r in records} == {"Kaspersky Scan Engine"}
    assert records[0].publisher == "AO Kaspersky Lab"


def test_no_subject_uses_the_default_host(tmp_path: Path) -> None:
    doc = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "version": 1,
        "components": [{"type": "library", "name": "zlib"}],
    }
    records, errors = read(CDX_JSON, write(tmp_path, "x.json", json.dumps(doc)), default_host="build-17")
    assert errors == [] and [r.host for r in records] == ["build-17"]


def test_publisher_fallbacks(tmp_path: Path) -> None:
    comps = [
        {"type": "library", "name": "a", "publisher": "P", "supplier": {"name": "S"}},
        {"type": "library", "name": "b", "supplier": {"name": "S"}, "manufacturer": {"name": "M"}},
        {"type": "library", "name": "c", "manufacturer": {"name": "M"}, "author": "A"},
        {"type": "library", "name": "d", "author": "A"},
        {"type": "library", "name": "e", "authors": [{"name": "Au"}]},
        {"type": "library", "name": "f"},
    ]
    doc = {"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1, "components": comps}
    records, errors = read(CDX_JSON, write(tmp_path, "x.json", json.dumps(doc)))
    assert errors == []
    assert [r.publisher for r in records] == ["P", "S", "M", "A", "Au", None]


def test_odd_components_are_reported_one_line_each(tmp_path: Path) -> None:
    comps: list[Any] = [
        "not-an-object",
        {"type": "library", "purl": "pkg:npm/%40scope/left-pad@1.3.0?x=1#sub"},  # no name: from the purl
        {"type": "library", "version": "1", "components": [{"type": "library", "name": "inner"}]},
        {"type": "library", "name": 7, "version": 1.2},
    ]
    doc = {"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1, "components": comps}
    records, errors = read(CDX_JSON, write(tmp_path, "odd.json", json.dumps(doc)))
    # numbers are read as text: the document still reaches the matcher
    assert [(r.name, r.version) for r in records] == [("left-pad", None), ("inner", None), ("7", "1.2")]
    assert errors[0].startswith("odd.json:")  # schema failure first, once
    assert "(components read anyway)" in errors[0]
    assert errors[1:] == [
        "odd.json:components[0]: component is not a JSON object; skipped",
        "odd.json:components[2]: component has no name; skipped (its nested components are read)",
    ]


def test_nesting_is_bounded(tmp_path: Path) -> None:
    inner: dict[str, Any] = {"type": "library", "name": "level-40"}
    for level in range(39, -1, -1):
        inner = {"type": "library", "name": f"level-{level}", "components": [inner]}
    doc = {"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1, "components": [inner]}
    records, errors = read(CDX_JSON, write(tmp_path, "deep.json", json.dumps(doc)))
    assert len(records) == cyclonedx.MAX_DEPTH + 1
    assert records[-1].name == f"level-{cyclonedx.MAX_DEPTH}"
    assert len(errors) == 1 and f"nested deeper than {cyclonedx.MAX_DEPTH} levels" in errors[0]


def test_xml_with_prefixed_namespace(tmp_path: Path) -> None:
    xml = (
        '<?xml version="1.0"?>\n<cdx:bom xmlns:cdx="http://cyclonedx.org/schema/bom/1.5" version="1">'
        '<cdx:components><cdx:component type="application"><cdx:name>Kaspersky Free</cdx:name>'
        "<cdx:version>21.3.10.391</cdx:version></cdx:component></cdx:components></cdx:bom>"
    )
    path = write(tmp_path, "p.xml", xml)
    assert CDX_XML.sniff(path.read_bytes(), "p.xml") == 95
    records, errors = read(CDX_XML, path)
    assert errors == []
    assert [(r.name, r.version) for r in records] == [("Kaspersky Free", "21.3.10.391")]


# --- CycloneDX: broken and hostile documents ----------------------------------------------------


def test_truncated_json_is_one_error_with_line_and_column() -> None:
    fmt, records, errors = read_file(DATA / "truncated.cdx.json")
    assert fmt == "cyclonedx-json" and records == []
    assert errors == [f"{DATA / 'truncated.cdx.json'}:21:28: not valid JSON: Unterminated string starting at"]


def test_missing_spec_version_is_reported_and_components_still_read() -> None:
    fmt, records, errors = read_file(DATA / "missing-spec-version.cdx.json")
    assert fmt == "cyclonedx-json"
    assert len(errors) == 1
    assert errors[0].endswith(
        "missing-spec-version.cdx.json: not valid CycloneDX 1.6: 'specVersion' is a required property "
        "(components read anyway)"
    )
    assert [r.name for r in records] == ["Kaspersky Endpoint Security for Windows", "Notepad++ (64-bit x64)"]
    assert {r.host for r in records} == {"WKS-107"}


def test_wrong_component_type_in_xml_names_the_line() -> None:
    _, records, errors = read_file(DATA / "bad-component-type-1.6.cdx.xml")
    assert len(errors) == 1
    assert "bad-component-type-1.6.cdx.xml:9: not valid CycloneDX 1.6:" in errors[0]
    assert "'desktop-app'" in errors[0] and errors[0].endswith("(components read anyway)")
    assert [r.name for r in records] == ["Kaspersky Endpoint Security for Windows", "VLC media player"]
    assert records[0].get("type") == "desktop-app"


def test_wrong_type_in_json_names_the_component(tmp_path: Path) -> None:
    doc = json.loads((DATA / "wks-042-inventory-1.6.cdx.json").read_text())
    doc["components"][1]["type"] = "desktop-app"
    records, errors = read(CDX_JSON, write(tmp_path, "t.json", json.dumps(doc)))
    assert len(errors) == 1 and errors[0].startswith(
        "t.json:components[1].type: not valid CycloneDX 1.6: 'desktop-app'"
    )
    assert len(records) == 4


def test_long_lists_are_validated_in_chunks_with_true_indices(tmp_path: Path) -> None:
    """`uniqueItems` makes schema validation quadratic; long lists are checked a chunk at a time."""
    comps = [{"type": "library", "name": f"lib{i}", "version": "1.0", "bom-ref": f"r{i}"} for i in range(700)]
    comps[612]["type"] = "widget"
    doc = {"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1, "components": comps}
    start = time.monotonic()
    records, errors = read(CDX_JSON, write(tmp_path, "big.json", json.dumps(doc)))
    assert time.monotonic() - start < 30
    assert len(records) == 700
    assert len(errors) == 1 and errors[0].startswith("big.json:components[612].type: ")


def test_unknown_spec_version_is_read_without_validation(tmp_path: Path) -> None:
    doc = {
        "bomFormat": "CycloneDX",
        "specVersion": "9.9",
        "components": [{"type": "application", "name": "Kaspersky Plus"}],
    }
    records, errors = read(CDX_JSON, write(tmp_path, "v.json", json.dumps(doc)))
    assert [r.name for r in records] == ["Kaspersky Plus"]
    assert errors == [
        "v.json: specVersion '9.9' is not one this reader can validate; components read without validation"
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[1, 2]", "not a CycloneDX document: the top level is not a JSON object"),
        ('{"bomFormat": "CycloneDX", "components": {"a": 1}}', None),
        ("[" * 100_000, "not readable: JSON nested too deeply"),
    ],
)
def test_json_of_the_wrong_shape(tmp_path: Path, content: str, message: str | None) -> None:
    records, errors = read(CDX_JSON, write(tmp_path, "w.json", content))
    assert records == []
    if message is not None:
        assert errors == [f"w.json: {message}"]
    else:
        assert errors[-1] == "w.json:components: is not a JSON array; no components read"


def test_xxe_is_refused_without_reading_the_file() -> None:
    fmt, records, errors = read_file(DATA / "xxe.cdx.xml")
    assert fmt == "cyclonedx-xml" and records == []
    assert errors == [f"{DATA / 'xxe.cdx.xml'}: refused XML: entities are not allowed (entity 'xxe')"]
    assert "root:" not in errors[0]


def test_billion_laughs_is_refused_quickly() -> None:
    start = time.monotonic()
    _, records, errors = read_file(DATA / "billion-laughs.cdx.xml")
    assert time.monotonic() - start < 5
    assert records == []
    assert errors == [
        f"{DATA / 'billion-laughs.cdx.xml'}: refused XML: entities are not allowed (entity 'lol')"
    ]


def test_external_dtd_is_not_fetched(tmp_path: Path) -> None:
    """A DOCTYPE naming a remote DTD parses offline (nothing is fetched) and the BOM is read."""
    xml = (
        (DATA / "wks-042-inventory-1.4.cdx.xml")
        .read_text()
        .replace("<bom ", '<!DOCTYPE bom SYSTEM "http://198.51.100.7/bom.dtd">\n<bom ', 1)
    )
    records, _ = read(CDX_XML, write(tmp_path, "d.xml", xml))
    assert len(records) == 4


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("<bom xmlns='http://cyclonedx.org/schema/bom/1.6'><components>", "m.xml:1:"),
        (
            "<feed xmlns='http://cyclonedx.org/schema/bom/1.6'/>",
            "m.xml: not a CycloneDX document: the root element is <feed>",
        ),
    ],
)
def test_malformed_xml_is_one_error(tmp_path: Path, content: str, expected: str) -> None:
    records, errors = read(CDX_XML, write(tmp_path, "m.xml", content))
    assert records == [] and len(errors) == 1 and errors[0].startswith(expected)


def test_oversized_input_is_skipped(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(cyclonedx, "MAX_BYTES", 100)
    monkeypatch.setattr(spdx, "MAX_BYTES", 100)
    for reader, name in ((CDX_JSON, "wks-042-inventory-1.6.cdx.json"), (SPDX_JSON, "srv-db-01.spdx.json")):
        records, errors = read(reader, DATA / name)
        assert records == [] and errors == [f"{name}: larger than 100 bytes; skipped"]


def test_empty_file_is_reported_by_the_registry(tmp_path: Path) -> None:
    path = write(tmp_path, "empty.cdx.json", b"")
    _, records, errors = read_file(path)
    assert records == [] and errors == [f"{path}: empty input (0 bytes)"]


# --- SPDX records -------------------------------------------------------------------------------


def test_spdx_23_json_packages() -> None:
    records, errors = read(SPDX_JSON, DATA / "srv-db-01.spdx.json")
    assert errors == []
    assert {r.host for r in records} == {"srv-db-01"}  # the package documentDescribes names
    assert [r.name for r in records] == ["srv-db-01", "kesl", "openssl", "bash"]
    kesl = records[1]
    assert kesl.kind is RecordKind.SBOM_COMPONENT
    assert kesl.version == "12.1.0.1297"
    assert kesl.publisher == "AO Kaspersky Lab"
    assert kesl.purl == "pkg:deb/debian/kesl@12.1.0.1297?arch=amd64&distro=debian-12"
    assert kesl.source.collector == "spdx"
    assert kesl.source.location == "srv-db-01.spdx.json:packages[1]"
    assert dict(kesl.extra) == {
        "spdx_id": "SPDXRef-Package-deb-kesl-4d1b7c",
        "purpose": "APPLICATION",
        "supplier": "AO Kaspersky Lab",
    }
    openssl, bash = records[2], records[3]
    assert openssl.publisher == "Debian OpenSSL Team"
    assert openssl.cpe == "cpe:2.3:a:openssl:openssl:3.0.15-1\\~deb12u1:*:*:*:*:*:*:*"
    assert bash.publisher is None  # NOASSERTION
    assert bash.purl is not None and bash.purl.startswith("pkg:deb/debian/bash@")  # PACKAGE_MANAGER spelling
    assert records[0].get("purpose") == "OPERATING-SYSTEM"


def test_spdx_tag_value_packages() -> None:
    records, errors = read(SPDX_TV, DATA / "scanner-image.spdx")
    assert errors == []
    assert {r.host for r in records} == {"registry.example.com/ops/scanner:2.4"}
    assert [(r.name, r.source.location) for r in records] == [
        ("registry.example.com/ops/scanner:2.4", "scanner-image.spdx:12"),
        ("kesl", "scanner-image.spdx:23"),
        ("libretls", "scanner-image.spdx:35"),
    ]
    kesl, libretls = records[1], records[2]
    assert (kesl.version, kesl.publisher) == ("12.1.0-1297", "AO Kaspersky Lab")
    assert kesl.purl == "pkg:rpm/redhat/kesl@12.1.0-1297?arch=x86_64&distro=rhel-9.4"
    assert libretls.publisher is None
    assert libretls.cpe == "cpe:2.3:a:libretls_project:libretls:3.3.4-r3:*:*:*:*:*:*:*"
    assert libretls.purl == "pkg:apk/alpine/libretls@3.3.4-r3?distro=3.15.0"
    assert dict(libretls.extra) == {"spdx_id": "SPDXRef-Package-343391d704e00fbd", "purpose": "LIBRARY"}


def test_spdx_json_missing_required_fields_is_reported_and_packages_still_read() -> None:
    good, _ = read(SPDX_JSON, DATA / "srv-db-01.spdx.json")
    records, errors = read(SPDX_JSON, DATA / "missing-fields.spdx.json")
    assert len(errors) == 1
    assert errors[0].startswith("missing-fields.spdx.json: not valid SPDX: ")
    assert "CreationInfo does not exist" in errors[0] and errors[0].endswith("(packages read leniently)")
    assert "set_field" not in errors[0]
    # the lenient reader agrees with the library on everything but the supplier it rejected
    assert [essence(r) for r in records[:3]] == [essence(r) for r in good[:3]]
    assert records[3].publisher == "Acme Debian mirror"
    assert [r.source.location for r in records] == [
        f"missing-fields.spdx.json:packages[{i}]" for i in range(4)
    ]


def test_spdx_tag_value_errors_fall_back_to_line_reading() -> None:
    good, _ = read(SPDX_TV, DATA / "scanner-image.spdx")
    records, errors = read(SPDX_TV, DATA / "damaged.spdx")
    assert len(errors) == 1
    assert errors[0].startswith("damaged.spdx: not valid SPDX: Unknown tag provided in line 27")
    assert [essence(r) for r in records] == [essence(r) for r in good]
    assert [r.source.location for r in records] == ["damaged.spdx:12", "damaged.spdx:23", "damaged.spdx:36"]


def test_spdx_lenient_json_matches_the_library() -> None:
    """Both ways of reading a valid document give the same records."""
    raw = json.loads((DATA / "srv-db-01.spdx.json").read_text())
    sink = ErrorSink(echo=False)
    lenient = list(spdx._records(spdx._lenient_json(raw, "f", sink), "f", sink, "h"))
    library, _ = read(SPDX_JSON, DATA / "srv-db-01.spdx.json")
    assert [essence(r) for r in lenient] == [essence(r) for r in library]


def _spdx22(describes: bool, relationship: bool, name: str | None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "spdxVersion": "SPDX-2.2",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "documentNamespace": "https://sbom.example.com/kiosk-7",
        "creationInfo": {"created": "2023-05-02T10:00:00Z", "creators": ["Tool: example-inventory-2.0"]},
        "packages": [
            {"SPDXID": "SPDXRef-kiosk", "name": "KIOSK-7", "downloadLocation": "NOASSERTION"},
            {
                "SPDXID": "SPDXRef-kis",
                "name": "Kaspersky Internet Security",
                "versionInfo": "21.3.10.391",
                "downloadLocation": "NOASSERTION",
                "originator": "Organization: AO Kaspersky Lab",
                "externalRefs": [
                    {
                        "referenceCategory": "SECURITY",
                        "referenceType": "cpe22Type",
                        "referenceLocator": "cpe:/a:kaspersky:internet_security:21.3.10.391",
                    }
                ],
            },
        ],
    }
    if name is not None:
        doc["name"] = name
    if describes:
        doc["documentDescribes"] = ["SPDXRef-kiosk"]
    if relationship:
        doc["relationships"] = [
            {
                "spdxElementId": "SPDXRef-DOCUMENT",
                "relationshipType": "DESCRIBES",
                "relatedSpdxElement": "SPDXRef-kiosk",
            }
        ]
    return doc


@pytest.mark.parametrize(
    ("describes", "relationship", "name", "host", "n_errors"),
    [
        (True, False, "kiosk-7 inventory", "KIOSK-7", 0),
        (False, True, "kiosk-7 inventory", "KIOSK-7", 0),
        (False, False, "kiosk-7 inventory", "kiosk-7 inventory", 0),
        (False, False, None, "fallback-host", 1),  # `name` is required: reported, read leniently
        (False, True, None, "KIOSK-7", 1),
    ],
)
def test_spdx_22_host(
    tmp_path: Path, describes: bool, relationship: bool, name: str | None, host: str, n_errors: int
) -> None:
    path = write(tmp_path, "k.spdx.json", json.dumps(_spdx22(describes, relationship, name)))
    records, errors = read(SPDX_JSON, path)
    assert len(errors) == n_errors
    assert {r.host for r in records} == {host}
    kis = records[1]
    assert kis.publisher == "AO Kaspersky Lab"  # from the originator
    assert kis.cpe == "cpe:/a:kaspersky:internet_security:21.3.10.391"


@pytest.mark.parametrize(
    ("value", "name"),
    [
        ("Organization: AO Kaspersky Lab (support@kaspersky.com)", "AO Kaspersky Lab"),
        ("Organization: AO Kaspersky Lab", "AO Kaspersky Lab"),
        ("Person: Debian OpenSSL Team <pkg-openssl-devel@alioth-lists.debian.net>", "Debian OpenSSL Team"),
        ("Tool: trivy-0.58.0", "trivy-0.58.0"),
        ("NOASSERTION", None),
        ("Organization: ", None),
        ("Kaspersky Lab", "Kaspersky Lab"),
        (None, None),
        ({"name": "x"}, None),
    ],
)
def test_actor_name(value: Any, name: str | None) -> None:
    assert spdx.actor_name(value) == name


def test_spdx_truncated_json(tmp_path: Path) -> None:
    text = (DATA / "srv-db-01.spdx.json").read_text()[:900]
    records, errors = read(SPDX_JSON, write(tmp_path, "t.spdx.json", text))
    assert records == [] and len(errors) == 1 and errors[0].startswith("t.spdx.json:")
    place = errors[0].split(":")[1:3]
    assert all(p.isdigit() for p in place) and "not valid JSON" in errors[0]


def test_spdx_tag_value_with_nothing_but_garbage_after_the_header(tmp_path: Path) -> None:
    path = write(tmp_path, "g.spdx", "SPDXVersion: SPDX-2.3\n\x00\x01 garbage\nPackageName kesl\n")
    records, errors = read(SPDX_TV, path)
    assert records == [] and len(errors) == 1 and "(packages read leniently)" in errors[0]


# --- end to end: what the matcher decides -------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("wks-042-inventory-1.6.cdx.json", {("WKS-042", "kes-windows", "covered")}),
        ("wks-042-inventory-1.4.cdx.xml", {("WKS-042", "kes-windows", "covered")}),
        # the SDK inside a third-party appliance is found on the appliance (the SBOM's subject)
        ("sg-5000-firmware-1.4.cdx.json", {("SecureGate SG-5000", "kav-sdk", "covered")}),
        ("sg-5000-firmware-1.6.cdx.xml", {("SecureGate SG-5000", "kav-sdk", "covered")}),
        ("scan-engine-vendor-1.5.cdx.json", {("Kaspersky Scan Engine", "kaspersky-scan-engine", "covered")}),
        ("srv-db-01.spdx.json", {("srv-db-01", "kesl", "covered")}),
        ("scanner-image.spdx", {("registry.example.com/ops/scanner:2.4", "kesl", "covered")}),
        # broken documents are still matched
        ("missing-spec-version.cdx.json", {("WKS-107", "kes-windows", "covered")}),
        ("bad-component-type-1.6.cdx.xml", {("KIOSK-03", "kes-windows", "covered")}),
        ("missing-fields.spdx.json", {("srv-db-01", "kesl", "covered")}),
        ("damaged.spdx", {("registry.example.com/ops/scanner:2.4", "kesl", "covered")}),
        # refused or unreadable: nothing to match, and the run goes on
        ("xxe.cdx.xml", set()),
        ("billion-laughs.cdx.xml", set()),
        ("truncated.cdx.json", set()),
    ],
)
def test_scan_findings_per_host(name: str, expected: set[tuple[str, str, str]]) -> None:
    got, errors, _ = findings(DATA / name)
    assert got == expected
    assert len(errors) <= 1


def test_scan_evidence_points_into_the_sbom() -> None:
    _, _, result = findings(DATA / "sg-5000-firmware-1.6.cdx.xml")
    (finding,) = result.findings
    assert finding.version == "8.9.2"
    kinds = {e.kind: e for e in finding.evidence}
    assert kinds["display_name"].confidence.value == "definitive"
    assert kinds["purl"].value == "pkg:generic/kaspersky/kavsdk@8.9.2"
    assert kinds["purl"].location.endswith(
        "sg-5000-firmware-1.6.cdx.xml:/bom/components/component[1]/components/component[3]/components/component[1]"
    )


def test_purl_and_cpe_alone_identify_the_vendor(tmp_path: Path) -> None:
    """Components whose names are unknown to the catalog but whose purl or CPE names Kaspersky.

    The catalog's vendor-wide purl and CPE patterns (`pkg:*/kaspersky/…`, `cpe:2.3:a:kaspersky:…`)
    are `strong`, not `definitive`, evidence for the unidentified-product entry; the matcher still
    decides `covered` for kaspersky-generic (the vendor's products are covered whichever it is),
    and both components land in one finding for the host.
    """
    comps = [
        {
            "type": "library",
            "name": "libkavehost",
            "version": "3.1",
            "purl": "pkg:generic/kaspersky/libkavehost@3.1",
        },
        {
            "type": "library",
            "name": "kav-updater",
            "version": "1",
            "cpe": "cpe:2.3:a:kaspersky:updater:1:*:*:*:*:*:*:*",
        },
    ]
    doc = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "version": 1,
        "metadata": {"component": {"type": "device", "name": "NAS-7"}},
        "components": comps,
    }
    got, errors, result = findings(write(tmp_path, "nas.cdx.json", json.dumps(doc)))
    assert errors == []
    assert got == {("NAS-7", "kaspersky-generic", "covered")}
    (finding,) = result.findings
    assert finding.confidence.value == "strong"
    assert {e.kind for e in finding.evidence} == {"purl", "cpe"}


def test_ordinary_sbom_has_no_findings(tmp_path: Path) -> None:
    doc = json.loads((DATA / "wks-042-inventory-1.6.cdx.json").read_text())
    doc["components"] = doc["components"][1:]
    got, errors, result = findings(write(tmp_path, "clean.cdx.json", json.dumps(doc)))
    assert got == set() and errors == []
    assert result.targets[0].records == 3
