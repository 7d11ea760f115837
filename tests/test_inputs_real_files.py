"""Inputs as real tools write them: SPDX 3.0 JSON-LD, SBOMs whose format key comes last, osquery
logs without calendarTime, `reg export` files with multi-line values, and a 2 MB CycloneDX 1.4 BOM.

Fixtures are in tests/data/inputs_real/ (see its README.md); the large inputs are generated here.
"""

from __future__ import annotations

import gzip
import io
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import zstandard

from banscan.catalog.loader import load_catalog
from banscan.errors import ErrorSink
from banscan.inputs import cyclonedx, spdx
from banscan.inputs.osquery import OsqueryReader
from banscan.inputs.regfile import RegFileReader, parse_reg
from banscan.inputs.registry import detect, detect_in_stream, read_target, top_level_keys
from banscan.models import InventoryRecord, RecordKind
from banscan.scan import ScanOptions, run_scan

DATA = Path(__file__).parent / "data" / "inputs_real"
SPDX3 = DATA / "srv-app-04.spdx3.json"
REG = DATA / "uninstall-export.reg"
OSQ = DATA / "shipped-no-calendartime.log"
UNINSTALL = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall"


def read_path(path: Path) -> tuple[str, list[InventoryRecord], list[str]]:
    """Through the registry, as `banscan scan --input` reads it: format detected from the bytes."""
    sink = ErrorSink(echo=False)
    target, records = read_target(str(path), sink)
    got = list(records)
    return target.format, got, sink.lines


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(content.encode() if isinstance(content, str) else content)
    return p


def findings(path: Path) -> tuple[set[tuple[str, str, str]], list[str]]:
    result = run_scan(
        load_catalog(), ScanOptions(as_of=date(2025, 1, 15), echo_errors=False), inputs=[str(path)]
    )
    errors = [e for t in result.targets for e in t.errors]
    return {(f.host, f.product, f.verdict.value) for f in result.findings}, errors


# --- 1. SPDX 3.0 JSON-LD ------------------------------------------------------------------------


def test_spdx3_jsonld_is_detected_and_read() -> None:
    fmt, records, errors = read_path(SPDX3)
    assert fmt == "spdx3-jsonld" and errors == []
    assert {r.host for r in records} == {"srv-app-04"}  # the package the SBOM's rootElement names
    assert [(r.name, r.version, r.publisher) for r in records] == [
        ("srv-app-04", "debian-12.8", None),
        ("kesl", "12.1.0.1297", "AO Kaspersky Lab"),  # suppliedBy → the Organization element
        ("openssl", "3.0.15-1~deb12u1", "OpenSSL Software Foundation"),  # originatedBy, inline
        ("bash", "5.2.15-2+b7", "Debian"),  # suppliedBy NoAssertionElement → originatedBy
    ]
    kesl = records[1]
    assert kesl.kind is RecordKind.SBOM_COMPONENT and kesl.source.collector == "spdx"
    assert kesl.purl == "pkg:deb/debian/kesl@12.1.0.1297?arch=amd64&distro=debian-12"
    assert kesl.cpe == "cpe:2.3:a:kaspersky:endpoint_security:12.1.0.1297:*:*:*:*:linux:*:*"
    assert kesl.source.location == f"{SPDX3}:@graph[7]"
    assert dict(kesl.extra) == {
        "spdx_id": "https://sbom.example.com/spdx/srv-app-04/Package/kesl",
        "purpose": "application",
        "supplier": "AO Kaspersky Lab",
    }
    assert records[2].purl is not None and records[2].purl.startswith("pkg:deb/debian/openssl@")
    assert records[2].cpe is not None and records[2].cpe.startswith("cpe:2.3:a:openssl:openssl:")


def test_spdx3_jsonld_gives_the_same_records_as_spdx2() -> None:
    """The SPDX 2.3 document of the same host reads to the same names, versions, publishers, purls."""
    spdx2 = Path(__file__).parent / "data" / "inputs" / "sbom" / "srv-db-01.spdx.json"
    _, v2, _ = read_path(spdx2)
    _, v3, _ = read_path(SPDX3)
    by_name = {r.name: r for r in v3}
    for r in v2[1:2]:  # kesl
        assert (by_name[r.name].version, by_name[r.name].publisher, by_name[r.name].purl) == (
            r.version,
            r.publisher,
            r.purl,
        )


def test_spdx3_context_300_and_detection(tmp_path: Path) -> None:
    text = SPDX3.read_text().replace("rdf/3.0.1/spdx-context", "rdf/3.0.0/spdx-context")
    path = write(tmp_path, "old.spdx3.json", text)
    fmt, records, errors = read_path(path)
    assert (fmt, len(records), errors) == ("spdx3-jsonld", 4, [])
    found = detect(SPDX3.read_bytes()[:300], "x.json")
    assert found is not None and found.name == "spdx3-jsonld"
    # other JSON-LD is not claimed
    assert detect(b'{"@context": "https://schema.org", "@graph": []}', "x.jsonld") is None


def test_spdx3_type_spellings_and_id_aliases(tmp_path: Path) -> None:
    doc = {
        "@context": ["https://spdx.org/rdf/3.0.1/spdx-context.jsonld"],
        "@graph": [
            {"@type": "Organization", "@id": "urn:org:kl", "name": "Organization: AO Kaspersky Lab"},
            {
                "@type": "https://spdx.org/rdf/3.0.1/terms/Software/Package",
                "@id": "urn:pkg:kes",
                "name": "Kaspersky Endpoint Security for Windows",
                "software_packageVersion": "12.5.0.539",
                "suppliedBy": "urn:org:kl",
                "externalIdentifier": {
                    "externalIdentifierType": "cpe22",
                    "identifier": "cpe:/a:kaspersky:kes",
                },
            },
        ],
    }
    fmt, records, errors = read_path(write(tmp_path, "aliases.json", json.dumps(doc)))
    assert (fmt, errors) == ("spdx3-jsonld", [])
    (rec,) = records
    assert (rec.publisher, rec.cpe, rec.host) == ("AO Kaspersky Lab", "cpe:/a:kaspersky:kes", "aliases")


def test_spdx3_bad_elements_are_one_line_each_and_the_rest_is_read(tmp_path: Path) -> None:
    graph: list[Any] = [
        "https://example.com/not-an-object",
        {"spdxId": "urn:x", "name": "no type"},
        {"type": "software_Package", "spdxId": "urn:nameless", "software_packageVersion": "1"},
        {
            "type": "software_Package",
            "spdxId": "urn:kesl",
            "name": "kesl",
            "externalIdentifier": [
                7,
                {"externalIdentifierType": "packageUrl", "identifier": "pkg:deb/kesl@12"},
            ],
        },
    ]
    doc = {"@context": "https://spdx.org/rdf/3.0.1/spdx-context.jsonld", "@graph": graph}
    path = write(tmp_path, "bad.spdx3.json", json.dumps(doc))
    fmt, records, errors = read_path(path)
    assert fmt == "spdx3-jsonld"
    assert [(r.name, r.purl) for r in records] == [("kesl", "pkg:deb/kesl@12")]
    assert errors == [
        f"{path}:@graph[0]: element is not a JSON object; skipped",
        f"{path}:@graph[1]: element has no type; skipped",
        f"{path}:@graph[3].externalIdentifier[0]: is not a JSON object; ignored",
        f"{path}:@graph[2]: package has no name; skipped",
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            '{"@context": "https://spdx.org/rdf/3.0.1/spdx-context.jsonld", "@graph": {}}',
            "@graph: is missing",
        ),
        ('{"@context": "https://spdx.org/rdf/3.0.1/spdx-context.jsonld", "@graph": [', "not valid JSON"),
        ("[" * 100_000 + "]" * 100_000, None),
    ],
)
def test_spdx3_wrong_shapes_are_one_error(tmp_path: Path, content: str, message: str | None) -> None:
    reader = spdx.READERS[2]
    sink = ErrorSink(echo=False)
    stream = io.BufferedReader(io.BytesIO(content.encode()))  # type: ignore[arg-type]
    assert list(reader.read(stream, "f.json", sink, "h")) == []
    assert len(sink.lines) == 1
    if message:
        assert message in sink.lines[0]


def test_spdx3_scan_finds_the_banned_package() -> None:
    got, errors = findings(SPDX3)
    assert got == {("srv-app-04", "kesl", "covered")} and errors == []


# --- 2. the format key after a long array -------------------------------------------------------


def spdx23_late_version(packages: int) -> bytes:
    pkgs = [
        {
            "SPDXID": f"SPDXRef-Package-deb-lib{i}",
            "name": f"lib{i}",
            "versionInfo": f"1.{i}",
            "downloadLocation": "NOASSERTION",
            "supplier": "Organization: Debian",
            "externalRefs": [
                {
                    "referenceCategory": "PACKAGE-MANAGER",
                    "referenceType": "purl",
                    "referenceLocator": f"pkg:deb/debian/lib{i}@1.{i}",
                }
            ],
        }
        for i in range(packages)
    ]
    pkgs.append(
        {
            "SPDXID": "SPDXRef-Package-deb-kesl",
            "name": "kesl",
            "versionInfo": "12.1.0.1297",
            "downloadLocation": "NOASSERTION",
            "supplier": "Organization: AO Kaspersky Lab",
        }
    )
    doc = {
        "packages": pkgs,
        "relationships": [],
        "name": "srv-late-01",
        "SPDXID": "SPDXRef-DOCUMENT",
        "dataLicense": "CC0-1.0",
        "documentNamespace": "https://sbom.example.com/spdxdocs/srv-late-01",
        "creationInfo": {"created": "2025-01-09T22:15:03Z", "creators": ["Tool: custom-exporter-2.1"]},
        "spdxVersion": "SPDX-2.3",
    }
    return json.dumps(doc, indent=2).encode()


def cyclonedx_late_format(components: int) -> bytes:
    doc = {
        "components": [
            {"type": "library", "name": f"lib{i}", "version": f"1.{i}", "purl": f"pkg:npm/lib{i}@1.{i}"}
            for i in range(components)
        ]
        + [
            {
                "type": "application",
                "name": "Kaspersky Endpoint Security for Windows",
                "version": "12.5.0.539",
            }
        ],
        "metadata": {"component": {"type": "device", "name": "WKS-LATE"}},
        "version": 1,
        "specVersion": "1.4",
        "bomFormat": "CycloneDX",
    }
    return json.dumps(doc, indent=1).encode()


def test_spdx_json_with_spdx_version_last_is_detected(tmp_path: Path) -> None:
    data = spdx23_late_version(5000)
    assert b'"spdxVersion"' not in data[:1_000_000] and detect(data[:65536], "x.json") is None
    fmt, records, errors = read_path(write(tmp_path, "late.spdx.json", data))
    assert (fmt, errors) == ("spdx-json", [])
    assert len(records) == 5001 and records[-1].name == "kesl" and records[0].host == "srv-late-01"


@pytest.mark.parametrize("wrap", ["plain", "gzip", "zstd"])
def test_cyclonedx_json_with_bom_format_last_is_detected(tmp_path: Path, wrap: str) -> None:
    data = cyclonedx_late_format(3000)
    assert detect(data[:65536], "x.json") is None
    if wrap == "gzip":
        data = gzip.compress(data)
    elif wrap == "zstd":  # a stream that cannot seek back: the scanned part is spooled
        data = zstandard.ZstdCompressor().compress(data)
    fmt, records, errors = read_path(write(tmp_path, f"late.{wrap}", data))
    assert (fmt, errors) == ("cyclonedx-json", [])
    assert len(records) == 3001 and records[-1].name == "Kaspersky Endpoint Security for Windows"
    assert {r.host for r in records} == {"WKS-LATE"}


def test_late_keys_from_a_stream_that_cannot_seek() -> None:
    data = spdx23_late_version(50)

    class Pipe(io.RawIOBase):
        def __init__(self) -> None:
            self.inner = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def readinto(self, b: Any) -> int:
            chunk = self.inner.read(min(len(b), 1000))
            b[: len(chunk)] = chunk
            return len(chunk)

    stream = io.BufferedReader(Pipe())
    head = stream.peek(100)[:100]
    reader, again = detect_in_stream(stream, head, "<stdin>")  # type: ignore[arg-type]
    assert reader is not None and reader.name == "spdx-json"
    assert again.read() == data  # nothing lost: read from the start again


def test_top_level_keys_across_any_chunking() -> None:
    doc = {
        "packages": [{"name": 'a"]}[{\\', "n": [1, {"q": "}"}], "u": "ü"} for _ in range(30)],
        "deep": [[[[[["]"]]]]]],
        "nested": {"a": [[]], "b": "}}}"},
        "num": -1.5e3,
        "t": True,
        "nul": None,
        "s": 'He said "hi" \\',
        "spdxVersion": "SPDX-2.3",
    }
    expected = {k: [] if isinstance(v, list) else {} if isinstance(v, dict) else v for k, v in doc.items()}
    for indent in (None, 2):
        data = b"\xef\xbb\xbf" + json.dumps(doc, indent=indent, ensure_ascii=False).encode()
        for size in (1, 2, 3, 7, 64, 1 << 20):
            chunks = [data[i : i + size] for i in range(0, len(data), size)]
            assert top_level_keys(chunks) == expected, (indent, size)
    # stops at the first key that settles it, and at anything that is not a JSON object
    assert top_level_keys([b'{"a": 1, "spdxVersion": "x", "b": [' + b"0," * 100], lambda k: True) == {
        "a": 1,
        "spdxVersion": "x",
    }
    assert top_level_keys([b"[1, 2]"]) == {}
    assert top_level_keys([b'{"a": 1, "b": ']) == {"a": 1}


def test_unrecognised_json_is_still_one_error(tmp_path: Path) -> None:
    path = write(tmp_path, "other.json", json.dumps({"items": [{"x": i} for i in range(20000)], "kind": "x"}))
    fmt, records, errors = read_path(path)
    assert (fmt, records) == ("unknown", [])
    assert errors == [f"{path}: unrecognised input format (use --input-format to name it)"]


# --- 3. osquery result logs without calendarTime -----------------------------------------------


def test_osquery_log_without_calendar_time_is_detected_and_read() -> None:
    fmt, records, errors = read_path(OSQ)
    assert (fmt, errors) == ("osquery", [])
    got = {(r.host, r.kind.value, r.name, r.version) for r in records}
    assert got == {  # Firefox was added and then removed: netted away
        ("WS-FIN-07", "app", "Kaspersky Endpoint Security for Windows", "12.5.0.539"),
        ("srv-app-04", "package", "kesl", "12.1.0.1297"),
        ("srv-app-04", "package", "openssl", "3.0.15-1~deb12u1"),
    }


ROW = {"name": "kesl", "version": "12.1.0.1297", "arch": "amd64", "status": "install ok installed"}


@pytest.mark.parametrize(
    "line",
    [
        {"name": "deb_packages", "hostIdentifier": "h", "columns": ROW, "action": "added"},
        {"name": "deb_packages", "hostIdentifier": "h", "snapshot": [ROW]},
        {"name": "deb_packages", "unixTime": 1736500502, "columns": ROW},
        {"hostIdentifier": "h", "diffResults": {"added": [ROW], "removed": []}, "epoch": 0},
        {"name": "deb_packages", "columns": ROW},
    ],
)
def test_osquery_envelope_subsets_are_detected(line: dict[str, Any]) -> None:
    head = (json.dumps(line) + "\n").encode() * 3
    found = detect(head, "x.log")
    assert found is not None and found.name == "osquery"


def test_osquery_snapshot_line_longer_than_the_head_is_detected() -> None:
    rows = [dict(ROW, name=f"pkg{i}") for i in range(3000)]
    line = json.dumps({"snapshot": rows, "action": "snapshot", "name": "deb", "hostIdentifier": "h"})
    head = line.encode()[:65536]
    assert OsqueryReader().sniff(head, "x.log") >= 80


def test_other_json_lines_are_not_osquery() -> None:
    assert OsqueryReader().sniff(b'{"name": "x", "hostIdentifier": "h"}\n{"a": 1}\n', "x.log") == 0
    assert OsqueryReader().sniff(b'{"level": "info", "msg": "started"}\n', "x.log") == 0


# --- 4. reg export files ------------------------------------------------------------------------


def test_reg_export_with_multi_line_values_reads_every_uninstall_subkey() -> None:
    fmt, records, errors = read_path(REG)
    assert (fmt, errors) == ("reg", [])
    got = [(r.get("key").rsplit("\\", 1)[-1], r.name, r.version, r.publisher, r.path) for r in records]  # type: ignore[union-attr]
    assert got == [
        ("7-Zip", "7-Zip 24.08 (x64)", "24.08", "Igor Pavlov", "C:\\Program Files\\7-Zip\\"),
        (
            "{9A017278-F7F4-4DF9-A482-0B9B2D6B3C4E}",
            "Kaspersky Endpoint Security for Windows",
            "12.5.0.539",
            "AO Kaspersky Lab",
            "C:\\Program Files (x86)\\Kaspersky Lab\\KES.12.5.0\\",  # hex(2), over 5 lines
        ),
        ("Notepad++", "Notepad++ (64-bit x64)", "8.7.1", "Notepad++ Team", None),
        (
            "Mozilla Firefox 133.0 (x64 en-US)",
            "Mozilla Firefox (x64 en-US)",
            "133.0",
            "Mozilla",
            "C:\\Program Files\\Mozilla Firefox",
        ),
        ("WinRAR archiver", "WinRAR 7.01 (64-bit)", "7.01.0", "win.rar GmbH", "C:\\Program Files\\WinRAR\\"),
        (
            "{2924BEDA-E0D7-4DAF-A224-50D2E0B12F5B}",
            "Kaspersky Security Center Network Agent",
            "14.2.0.26967",
            "Kaspersky",
            "C:\\Program Files (x86)\\Kaspersky Lab\\NetworkAgent\\",
        ),
        (
            "{F8CFEB22-A2E7-3971-9EDA-4B11EDEFC185}",
            "Microsoft Visual C++ 2015-2022 Redistributable (x86) - 14.40.33816",
            "14.40.33816",
            "Microsoft Corporation",
            None,
        ),
    ]
    assert records[0].host == "uninstall-export" and records[1].source.location == f"{REG}:24"
    assert records[1].get("product_code") == "{9A017278-F7F4-4DF9-A482-0B9B2D6B3C4E}"
    assert records[0].get("uninstall_string") == '"C:\\Program Files\\7-Zip\\Uninstall.exe"'


def test_reg_export_values_are_decoded() -> None:
    sink = ErrorSink(echo=False)
    sections = {
        key.rsplit("\\", 1)[-1]: values
        for key, values, _ in parse_reg(REG.read_bytes(), filename="f", errors=sink)
    }
    kes = sections["{9A017278-F7F4-4DF9-A482-0B9B2D6B3C4E}"]
    assert kes["Comments"] == (
        'Kaspersky Endpoint Security for Windows\nManaged by Kaspersky Security Center "KSC-01"\nDo not remove manually'
    )
    assert kes["Readme"] == "%ProgramFiles(x86)%\\Kaspersky Lab\\KES.12.5.0\\Doc\\en\\readme.txt"  # hex(2)
    assert kes["Features"] == [  # hex(7) over several lines
        "Core",
        "FileThreatProtection",
        "WebThreatProtection",
        "MailThreatProtection",
        "NetworkThreatProtection",
        "Firewall",
        "BehaviorDetection",
        "ExploitPrevention",
        "HostIntrusionPrevention",
        "RemediationEngine",
    ]
    assert kes["InstallProperties"] == bytes(range(40)) + b"\x90\xfa\x12\x00" * 12  # hex:
    assert kes["HelpTelephone"] == "" and kes["EstimatedSize"] == 0x74D3C
    assert (
        sections["Notepad++"]["Comments"] == 'Notepad++ "free" source code editor\nand Notepad replacement\n'
    )
    assert sink.lines == []


def test_reg_export_converted_twice_to_crlf() -> None:
    """CR CR LF line ends (a CRLF file passed once more through a text-mode writer)."""
    text = REG.read_bytes()[2:].decode("utf-16-le").replace("\r\n", "\r\r\n")
    data = b"\xff\xfe" + text.encode("utf-16-le")
    sink = ErrorSink(echo=False)
    records = list(RegFileReader().read(io.BufferedReader(io.BytesIO(data)), "x.reg", sink, "H"))  # type: ignore[arg-type]
    assert sink.lines == [] and len(records) == 7
    assert records[1].path == "C:\\Program Files (x86)\\Kaspersky Lab\\KES.12.5.0\\"


REGEDIT4 = (
    "REGEDIT4\r\n\r\n"
    f"[{UNINSTALL}\\KAVFS]\r\n"
    '"DisplayName"="Kaspersky Security 11 для Windows Server"\r\n'
    '"DisplayVersion"="11.0.1.897"\r\n'
    '"Publisher"="АО \\"Лаборатория Касперского\\""\r\n'
    '"InstallLocation"=hex(2):43,3a,5c,50,72,6f,67,72,61,6d,20,46,69,6c,65,73,20,28,\\\r\n'
    "  78,38,36,29,5c,4b,61,73,70,65,72,73,6b,79,20,4c,61,62,5c,00\r\n"
    '"Components"=hex(7):41,56,00,46,57,00,00\r\n'
    '"Notes"="first line\r\n'
    'second \\\\ line"\r\n'
)


def test_regedit4_ansi_export(tmp_path: Path) -> None:
    path = write(tmp_path, "kavfs.reg", REGEDIT4.encode("cp1251"))
    fmt, records, errors = read_path(path)
    assert (fmt, len(records)) == ("reg", 1)
    (rec,) = records
    assert rec.version == "11.0.1.897"
    assert rec.path == "C:\\Program Files (x86)\\Kaspersky Lab\\"
    assert errors == []
    sink = ErrorSink(echo=False)
    ((_, values, _),) = list(parse_reg(REGEDIT4.encode("utf-8"), filename="k.reg", errors=sink))
    assert values["Components"] == ["AV", "FW"] and values["Notes"] == "first line\nsecond \\ line"
    assert values["Publisher"] == 'АО "Лаборатория Касперского"'


def test_reg_bad_values_are_one_line_each_and_the_rest_is_read(tmp_path: Path) -> None:
    text = (
        "Windows Registry Editor Version 5.00\r\n\r\n"
        f"[{UNINSTALL}\\A]\r\n"  # 3
        '"DisplayName"="Kaspersky Free"\r\n'
        '"Broken"=dword:zz\r\n'  # 5
        '"Stray"="has "a stray" quote"\r\n'  # 6
        '"Cut"=hex(2):41,00,\\\r\n'  # 7: the continuation never comes
        '"DisplayVersion"="21.3"\r\n'
        "garbage line\r\n"  # 9
        '"Open"="never closed\r\n'  # 10
        f"[{UNINSTALL}\\B]\r\n"
        '"DisplayName"="Kaspersky Password Manager"\r\n'
    )
    path = write(tmp_path, "bad.reg", b"\xff\xfe" + text.encode("utf-16-le"))
    _, records, errors = read_path(path)
    assert [(r.name, r.version) for r in records] == [
        ("Kaspersky Free", "21.3"),
        ("Kaspersky Password Manager", None),
    ]
    assert errors == [
        f"{path}:5: unreadable value data for 'Broken'",
        f"{path}:6: unreadable value data for 'Stray'",
        f"{path}:7: hex data for 'Cut' ends in '\\' but no continuation line follows",
        f"{path}:9: unrecognised line: garbage line",
        f"{path}:10: string value 'Open' is not closed; skipped",
    ]


def test_reg_unclosed_string_does_not_swallow_the_next_key(tmp_path: Path) -> None:
    text = (
        "Windows Registry Editor Version 5.00\n\n"
        f"[{UNINSTALL}\\A]\n"
        '"DisplayName"="A"\n'
        '"Comments"="never closed\n'
        f"[{UNINSTALL}\\B]\n"
        '"DisplayName"="B"\n'
    )
    _, records, errors = read_path(write(tmp_path, "u.reg", text))
    assert [r.name for r in records] == ["A", "B"]
    assert len(errors) == 1 and errors[0].endswith(":5: string value 'Comments' is not closed; skipped")


# --- 5. a 2 MB CycloneDX 1.3/1.4 BOM ------------------------------------------------------------


def cyclonedx_bom(version: str, components: int) -> dict[str, Any]:
    return {
        "bomFormat": "CycloneDX",
        "specVersion": version,
        "serialNumber": "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79",
        "version": 1,
        "metadata": {
            "timestamp": "2025-01-10T08:41:27Z",
            "tools": [{"vendor": "CycloneDX", "name": "cyclonedx-npm", "version": "1.19.3"}],
            "component": {"type": "application", "name": "portal-frontend", "version": "4.2.0"},
        },
        "components": [
            {
                "type": "library",
                "bom-ref": f"pkg:npm/%40acme/lib-{i}@1.{i % 97}.{i % 13}",
                "group": "@acme",
                "name": f"lib-{i}",
                "version": f"1.{i % 97}.{i % 13}",
                "description": f"Utility library number {i} for the portal front end",
                "hashes": [{"alg": "SHA-512", "content": f"{i:0128x}"}],
                "licenses": [
                    {"license": {"id": "MIT", "url": f"https://opensource.org/licenses/MIT?lib={i}"}},
                ],
                "purl": f"pkg:npm/%40acme/lib-{i}@1.{i % 97}.{i % 13}",
                "externalReferences": [
                    {"type": "website", "url": f"https://github.com/acme/lib-{i}#readme"},
                    {"type": "issue-tracker", "url": f"https://github.com/acme/lib-{i}/issues"},
                    {"type": "vcs", "url": f"git+https://github.com/acme/lib-{i}.git"},
                    {
                        "type": "distribution",
                        "url": f"https://registry.npmjs.org/@acme/lib-{i}/-/lib-{i}.tgz",
                    },
                ],
            }
            for i in range(components)
        ],
    }


@pytest.mark.parametrize("version", ["1.3", "1.4"])
def test_two_megabyte_cyclonedx_is_read_whole(tmp_path: Path, version: str) -> None:
    bom = cyclonedx_bom(version, 2600)
    data = json.dumps(bom, indent=2).encode()
    assert len(data) > 2_000_000
    fmt, records, errors = read_path(write(tmp_path, f"portal-{version}.cdx.json", data))
    assert (fmt, errors) == ("cyclonedx-json", [])
    assert len(records) == 2601  # the subject (an application) and every component
    assert records[-1].name == "lib-2599" and records[-1].purl == "pkg:npm/%40acme/lib-2599@1.77.12"


def test_large_cyclonedx_schema_errors_are_still_reported(tmp_path: Path) -> None:
    bom = cyclonedx_bom("1.4", 2600)
    bom["components"][700]["type"] = "malware"  # not in the 1.4 type enum
    path = write(tmp_path, "bad-type.cdx.json", json.dumps(bom))
    _, records, errors = read_path(path)
    assert len(records) == 2601
    assert len(errors) == 1
    assert errors[0].startswith(
        f"{path}:components[700].type: not valid CycloneDX 1.4: 'malware' is not one of"
    )
    # a checked string format (date-time) is still reported; a malformed URL is not checked
    bom = cyclonedx_bom("1.4", 300)
    bom["metadata"]["timestamp"] = "10 January 2025"
    bom["components"][3]["externalReferences"][0]["url"] = "http://exa mple.com/<bad>"
    path = write(tmp_path, "bad-date.cdx.json", json.dumps(bom))
    _, records, errors = read_path(path)
    assert len(records) == 301
    assert len(errors) == 1 and errors[0].startswith(f"{path}:metadata.timestamp: not valid CycloneDX 1.4:")
    assert "date-time" in errors[0]
    assert cyclonedx.CHECKED_FORMATS == ("date-time", "idn-email")
