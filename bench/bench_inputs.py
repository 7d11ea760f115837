"""Benchmarks for the input readers on inputs shaped like real ones, generated in a temp dir.

Writes a 2 MB CycloneDX 1.4 JSON (licenses and externalReferences URLs on every component), an
SPDX 2.3 JSON of 5,000 packages with `spdxVersion` last, an SPDX 3.0.1 JSON-LD, a 100,000-line
osquery result log without calendarTime, and a `reg export` (UTF-16LE) of 2,000 Uninstall subkeys
with multi-line values; then reads each through banscan.inputs.registry.read_target (format
detection included, as `banscan scan --input` reads them) and prints seconds and records.

Run with `.venv/bin/python bench/bench_inputs.py`; the figures in bench/README.md come from it.
Tests never assert timings.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def cyclonedx_14(path: Path, target_bytes: int = 2_000_000) -> None:
    def component(i: int) -> dict[str, Any]:
        return {
            "type": "library",
            "bom-ref": f"pkg:npm/%40acme/lib-{i}@1.{i % 97}.{i % 13}",
            "group": "@acme",
            "name": f"lib-{i}",
            "version": f"1.{i % 97}.{i % 13}",
            "hashes": [{"alg": "SHA-512", "content": f"{i:0128x}"}],
            "licenses": [{"license": {"id": "MIT", "url": f"https://opensource.org/licenses/MIT?lib={i}"}}],
            "purl": f"pkg:npm/%40acme/lib-{i}@1.{i % 97}.{i % 13}",
            "externalReferences": [
                {"type": "website", "url": f"https://github.com/acme/lib-{i}#readme"},
                {"type": "issue-tracker", "url": f"https://github.com/acme/lib-{i}/issues"},
                {"type": "vcs", "url": f"git+https://github.com/acme/lib-{i}.git"},
                {"type": "distribution", "url": f"https://registry.npmjs.org/@acme/lib-{i}/-/lib-{i}.tgz"},
            ],
        }

    per = len(json.dumps(component(10**6), indent=2)) + 2
    bom = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.4",
        "serialNumber": "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79",
        "version": 1,
        "metadata": {
            "timestamp": "2025-01-10T08:41:27Z",
            "component": {"type": "application", "name": "portal-frontend", "version": "4.2.0"},
        },
        "components": [component(i) for i in range(target_bytes // per + 1)],
    }
    path.write_text(json.dumps(bom, indent=2))


def spdx23_version_last(path: Path, packages: int = 5000) -> None:
    doc = {
        "packages": [
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
        ],
        "relationships": [],
        "name": "srv-late-01",
        "SPDXID": "SPDXRef-DOCUMENT",
        "dataLicense": "CC0-1.0",
        "documentNamespace": "https://sbom.example.com/spdxdocs/srv-late-01",
        "creationInfo": {"created": "2025-01-09T22:15:03Z", "creators": ["Tool: custom-exporter-2.1"]},
        "spdxVersion": "SPDX-2.3",
    }
    path.write_text(json.dumps(doc, indent=2))


def spdx30_jsonld(path: Path, packages: int = 5000) -> None:
    base = "https://sbom.example.com/spdx/srv-app-04"
    graph: list[dict[str, Any]] = [
        {"type": "CreationInfo", "@id": "_:ci", "created": "2025-01-10T08:41:27Z", "specVersion": "3.0.1"},
        {
            "type": "Organization",
            "spdxId": f"{base}/Organization/debian",
            "creationInfo": "_:ci",
            "name": "Debian",
        },
        {
            "type": "SpdxDocument",
            "spdxId": f"{base}/SpdxDocument",
            "creationInfo": "_:ci",
            "name": "srv-app-04",
            "rootElement": [f"{base}/Package/0"],
        },
    ]
    for i in range(packages):
        graph.append(
            {
                "type": "software_Package",
                "spdxId": f"{base}/Package/{i}",
                "creationInfo": "_:ci",
                "name": f"lib{i}",
                "software_packageVersion": f"1.{i}",
                "suppliedBy": f"{base}/Organization/debian",
                "externalIdentifier": [
                    {
                        "type": "ExternalIdentifier",
                        "externalIdentifierType": "packageUrl",
                        "identifier": f"pkg:deb/debian/lib{i}@1.{i}",
                    }
                ],
            }
        )
    path.write_text(
        json.dumps({"@context": "https://spdx.org/rdf/3.0.1/spdx-context.jsonld", "@graph": graph})
    )


def osquery_log(path: Path, lines: int = 100_000) -> None:
    with path.open("w") as out:
        for i in range(lines):
            host = f"WS-{i % 500:04d}"
            row = {
                "name": f"Application {i % 2000}",
                "version": f"{i % 7}.{i % 11}.{i % 13}",
                "publisher": f"Vendor {i % 300}",
                "install_location": f"C:\\Program Files\\Vendor {i % 300}\\App {i % 2000}\\",
                "identifying_number": "",
                "uninstall_string": f"C:\\Program Files\\Vendor {i % 300}\\uninstall.exe",
            }
            line = {
                "name": "pack/windows/programs",
                "hostIdentifier": host,
                "unixTime": 1736500502 + i,
                "epoch": 0,
                "counter": i,
                "decorations": {"hostname": host},
                "columns": row,
                "action": "added",
            }
            out.write(json.dumps(line, separators=(",", ":")) + "\n")


def reg_export(path: Path, keys: int = 2000) -> None:
    def hexval(name: str, kind: int, data: bytes) -> str:
        line, lines = f'"{name}"=hex({kind:x}):', []
        parts = [f"{b:02x}" for b in data]
        for j, p in enumerate(parts):
            piece = p + ("," if j < len(parts) - 1 else "")
            if len(line) + len(piece) > 77:
                lines.append(line + "\\")
                line = "  "
            line += piece
        return "\r\n".join([*lines, line])

    root = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall"
    out = ["Windows Registry Editor Version 5.00", "", f"[{root}]", ""]
    for i in range(keys):
        location = f"C:\\Program Files (x86)\\Vendor {i % 300}\\Application {i}\\"
        out += [
            f"[{root}\\{{{i:08X}-F7F4-4DF9-A482-0B9B2D6B3C4E}}]",
            f'"DisplayName"="Application {i} \\"Pro\\""',
            f'"DisplayVersion"="{i % 7}.{i % 11}.{i}"',
            f'"Publisher"="Vendor {i % 300}"',
            hexval("InstallLocation", 2, (location + "\0").encode("utf-16-le")),
            f'"Comments"="Application {i}\r\nline two\r\nline three"',
            hexval(
                "Features", 7, "\0".join(f"Feature{k}" for k in range(8)).encode("utf-16-le") + b"\0\0\0\0"
            ),
            '"EstimatedSize"=dword:00074d3c',
            "",
        ]
    path.write_bytes(b"\xff\xfe" + "\r\n".join(out).encode("utf-16-le"))


INPUTS: list[tuple[str, str, Callable[[Path], None]]] = [
    ("CycloneDX 1.4 JSON, 2 MB", "portal.cdx.json", cyclonedx_14),
    ("SPDX 2.3 JSON, 5,000 packages, spdxVersion last", "late.spdx.json", spdx23_version_last),
    ("SPDX 3.0.1 JSON-LD, 5,000 packages", "srv.spdx3.json", spdx30_jsonld),
    ("osquery log, 100,000 lines, no calendarTime", "shipped.log", osquery_log),
    ("reg export, 2,000 Uninstall keys, multi-line values", "uninstall.reg", reg_export),
]


def read_once(path: Path) -> tuple[float, str, int, int]:
    from banscan.errors import ErrorSink
    from banscan.inputs.registry import read_target

    sink = ErrorSink(echo=False)
    t0 = time.perf_counter()
    target, records = read_target(str(path), sink)
    n = sum(1 for _ in records)
    return time.perf_counter() - t0, target.format, n, len(sink.lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for label, name, make in INPUTS:
            path = Path(tmp) / name
            make(path)
            size = path.stat().st_size
            runs = [read_once(path) for _ in range(max(args.repeats, 1))]
            times = [r[0] for r in runs]
            _, fmt, records, errors = runs[-1]
            print(
                f"{label}: {size / 1e6:.1f} MB, format {fmt}, {records} records, {errors} errors, "
                f"median {statistics.median(times):.2f} s (min {min(times):.2f} s, first {times[0]:.2f} s)"
            )


if __name__ == "__main__":
    main()
