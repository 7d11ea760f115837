"""Synthetic osquery result logs for the Spark engine's agreement tests: every way a line can
be written or broken that changes what the reader does with it."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

PROGRAMS = [
    {"name": "Google Chrome", "version": "131.0", "publisher": "Google LLC", "identifying_number": "{A}", "uninstall_string": "x"},
    {"name": "Microsoft Visual C++ 2015 Redistributable", "version": "14.0", "publisher": "Microsoft Corporation", "identifying_number": "{C}", "uninstall_string": "x"},
    {"name": "Bitdefender Endpoint Security Tools", "version": "7.9", "publisher": "Bitdefender", "identifying_number": "{D}", "uninstall_string": "C:\\Windows\\system32\\msiexec.exe /x"},
]  # fmt: skip
KASPERSKY = [
    ("programs", {"name": "Kaspersky Endpoint Security for Windows", "version": "12.6.0.438", "publisher": "AO Kaspersky Lab", "identifying_number": "{K1}", "uninstall_string": "x"}),
    ("programs", {"name": "Антивирус Касперского", "version": "21.3.10.391", "publisher": "АО «Лаборатория Касперского»", "identifying_number": "{K2}", "uninstall_string": "x"}),
    ("deb_packages", {"name": "kesl", "version": "12.1.0-1297", "maintainer": "AO Kaspersky Lab", "status": "install ok installed", "arch": "amd64"}),
    ("chrome_extensions", {"name": "Kaspersky Protection", "identifier": "amkpcclbbgegoafihnpgomddadjhcadd", "browser_type": "chrome", "version": "4.0"}),
    ("processes", {"pid": "4312", "name": "avp.exe", "path": "C:\\Program Files (x86)\\Kaspersky Lab\\KES.12.6.0\\avp.exe", "cmdline": "avp.exe -r", "parent": "752"}),
]  # fmt: skip


def event(host: int, table: str, cols: dict[str, Any], action: str = "added", **how: Any) -> str:
    """One osqueryd event line; `how` varies its spelling (spaced, ascii, no_deco, hid)."""
    obj: dict[str, Any] = {
        "name": f"pack_inventory_{table}",
        "hostIdentifier": how.get("hid", f"uuid-{host:04d}"),
        "calendarTime": "Mon Jan 13 10:00:00 2025 UTC",
        "unixTime": 1736762400,
        "epoch": 0,
        "counter": host,
        "numerics": False,
        "decorations": {"host_uuid": f"UUID-{host:04d}", "hostname": f"host-{host:04d}"},
        "columns": cols,
        "action": action,
    }
    if how.get("no_deco"):
        del obj["decorations"]
    seps = (", ", ": ") if how.get("spaced") else (",", ":")
    return json.dumps(obj, ensure_ascii=bool(how.get("ascii")), separators=seps)


def fleet_lines(hosts: int = 24, **how: Any) -> list[bytes]:
    """Hosts with ordinary software, some with Kaspersky (added, or added and removed again)."""
    lines: list[str] = []
    for h in range(hosts):
        spelling = {
            **how,
            "no_deco": how.get("no_deco") or h % 5 == 3,
            "ascii": how.get("ascii") or h % 6 == 1,
        }
        for cols in PROGRAMS:
            lines.append(event(h, "programs", cols, **spelling))
        if h % 4 == 1:
            for table, cols in KASPERSKY[h % len(KASPERSKY) :][:2]:
                lines.append(event(h, table, cols, **spelling))
        if h % 7 == 2:  # added, then removed: gone by the end of the log
            lines.append(event(h, *KASPERSKY[0], **spelling))
            lines.append(event(h, *KASPERSKY[0], action="removed", **spelling))
    return [line.encode("utf-8") for line in lines]


def odd_lines() -> list[bytes]:
    """Lines the JVM cannot read and must leave to the reader, and lines the reader skips."""
    kes = KASPERSKY[0][1]
    snapshot = {
        "snapshot": [PROGRAMS[0], {**kes, "identifying_number": "{S}"}, "not a row"],
        "name": "pack_programs_snapshot",
        "hostIdentifier": "snap-host",
        "calendarTime": "Mon Jan 13 10:00:00 2025 UTC",
    }
    diff = {
        "diffResults": {"added": [PROGRAMS[1]], "removed": []},
        "name": "batch",
        "hostIdentifier": "diff-host",
    }
    return [
        b"",
        b"   ",
        b'{"name": "broken", "hostIdentifier": "uuid-0011", "columns": {"name": "Kaspersky Free"',
        b'{"hostIdentifier":"h\xff","columns":{"name":"Tool \xfe","identifying_number":"{X}","uninstall_string":"x"}}',
        json.dumps(snapshot).encode(),
        json.dumps(diff).encode(),
        b'["a JSON list"]',
        b'{"hostIdentifier": "status-only", "message": "osqueryd started"}',
        # numbers where strings are expected: the JVM leaves these to the reader
        b'{"name":"pack_inventory_programs","hostIdentifier":42,"decorations":{"hostname":7},"columns":'
        + json.dumps(PROGRAMS[0]).encode()
        + b',"action":"added"}',
        # an unknown table (counted, named in one line per file)
        b'{"name":"pack_system_info","hostIdentifier":"uuid-0001","decorations":{"hostname":"host-0001"},'
        b'"columns":{"hostname":"h1","cpu_brand":"x","physical_memory":"1"},"action":"added"}',
        # a row with no decorations and no host at all: named after the file
        b'{"name":"pack_inventory_programs","columns":' + json.dumps(kes).encode() + b',"action":"added"}',
        # a key spelled with an escape, a duplicated key: the reader's reading wins
        b'{"name":"pack_inventory_programs","host\\u0049dentifier":"escaped-id","columns":'
        + json.dumps(PROGRAMS[1]).encode()
        + b',"action":"added"}',
        b'{"name":"pack_inventory_programs","hostIdentifier":"first","hostIdentifier":"dup-last","columns":'
        + json.dumps(PROGRAMS[2]).encode()
        + b',"action":"added"}',
        b'{"name":"pack_inventory_programs","hostIdentifier":"trailing","columns":'
        + json.dumps(PROGRAMS[0]).encode()
        + b'} {"extra": 1}',
    ]


def write(path: Path, lines: list[bytes], *, crlf: bool = False, final_newline: bool = True) -> Path:
    sep = b"\r\n" if crlf else b"\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(sep.join(lines) + (sep if final_newline else b""))
    return path


def corpus(root: Path) -> Path:
    """A folder of result logs: compact, spaced, CRLF, no decorations, odd lines, gzip."""
    d = root / "logs"
    write(d / "compact.log", fleet_lines())
    write(d / "spaced.log", fleet_lines(hosts=9, spaced=True), final_newline=False)
    write(d / "crlf.log", fleet_lines(hosts=7), crlf=True)
    write(d / "nodeco.log", fleet_lines(hosts=6, no_deco=True, spaced=True))
    mixed = fleet_lines(hosts=10)
    write(d / "odd.log", mixed[:5] + odd_lines() + mixed[5:])
    (d / "zipped.log.gz").write_bytes(gzip.compress(b"\n".join(fleet_lines(hosts=8, ascii=True)) + b"\n"))
    return d
