"""Net-SNMP `snmpwalk` output: the system group and interface addresses of SNMP agents.

Lines are `OID = TYPE: VALUE` as net-snmp prints them, with the OID and OID values in any of its
output forms: `SNMPv2-MIB::sysObjectID.0 = OID: SNMPv2-SMI::enterprises.2011.2.224.1` (MIBs
loaded), `.1.3.6.1.2.1.1.2.0 = OID: .1.3.6.1.4.1.2011.2.224.1` (`-On`), `iso.3.6.1.2.1.1.2.0 =
OID: iso.3.6.1.4.1.2011…` (no MIBs), `sysObjectID.0 = OID: enterprises.2011…` (`-Os`) and the
full `-Of` names. A STRING that spans lines (sysDescr often does) continues until the next
`OID = …` line. What is read:

* `sysObjectID.0`: the enterprise number under 1.3.6.1.4.1 (IANA's Private Enterprise Number
  the agent reports) as `snmp_enterprise`; a vendor MIB's symbolic name that hides the number
  is reported once (walk with `-On` to keep it);
* `sysDescr.0` (its first line is the device's name), `sysName.0`;
* `ifPhysAddress.N` (`IF-MIB`, 1.3.6.1.2.1.2.2.1.6): the device's own MAC addresses, resolved in
  the IEEE registry; one record per distinct MAC block.

One walk per file names its device by the file name. Several walks in one file are separated by a
comment line `# host: NAME` before each (e.g. `echo "# host: $h"; snmpwalk -v2c -c public $h
system; snmpwalk … ifPhysAddress`), which names the device; a walk that starts again at
`sysDescr.0` without such a line is another device, named by its `sysName.0`, else by the file
name and its number in the file (`walks#2`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO, ClassVar

from banscan.errors import ErrorSink
from banscan.inputs.base import SNIFF_BYTES, InputReader, head_of
from banscan.inputs.csvsniff import head_text
from banscan.inputs.mobile import _text_lines
from banscan.inputs.network.device import device_record, registry_for, shown
from banscan.inputs.oui import OuiRegistry, is_assignable, parse_mac
from banscan.models import InventoryRecord

BAD_LINES_SHOWN = 10
_VAR = re.compile(
    r"^(?P<oid>[.A-Za-z0-9][\w.:()\-\[\]\"']*) = (?:(?P<type>[A-Za-z][\w -]*): ?(?P<value>.*)|(?P<bare>.*))$"
)
_HOST = re.compile(r"^#+\s*host:\s*(?P<name>\S.*?)\s*$", re.IGNORECASE)
_NUMERIC = {
    "1.3.6.1.2.1.1.1": "sysDescr",
    "1.3.6.1.2.1.1.2": "sysObjectID",
    "1.3.6.1.2.1.1.5": "sysName",
    "1.3.6.1.2.1.2.2.1.6": "ifPhysAddress",
}
_WANTED = frozenset(_NUMERIC.values())
_ENTERPRISE = re.compile(r"(?:^|[.:])enterprises\.(\d+)(?:\.|$)")  # SNMPv2-SMI::enterprises.2011, -Of, -Os
_ENTERPRISE_NUMERIC = re.compile(r"\.?(?:1|iso)\.3\.6\.1\.4\.1\.(\d+)(?:\.|$)")  # -On, no MIBs
_NO_VALUE = ("No Such Object", "No Such Instance", "No more variables")


def object_of(oid: str) -> tuple[str, str] | None:
    """(object name, index) of the objects read here, from any net-snmp OID spelling."""
    text = oid.split("::", 1)[-1].lstrip(".")
    text = re.sub(r"^iso(?=\.)", "1", text)
    if re.fullmatch(r"[\d.]+", text):
        for prefix, name in _NUMERIC.items():
            if text.startswith(prefix + "."):
                return name, text[len(prefix) + 1 :]
        return None
    parts = text.split(".")
    for i in range(len(parts) - 1, -1, -1):
        if parts[i] in _WANTED:
            return parts[i], ".".join(parts[i + 1 :])
    return None


def enterprise_of(value: str) -> str | None:
    """The Private Enterprise Number a sysObjectID value lies under, or None."""
    v = _unquote(value)
    m = _ENTERPRISE.search(v) or _ENTERPRISE_NUMERIC.match(v)
    return m.group(1) if m else None


def _looks_like_oid(text: str) -> bool:
    """An OID as net-snmp prints one (a continued STRING's line `Build = 3` is not one)."""
    return "::" in text or text[:1] in ".0123456789" or text.startswith("iso.")


def _unquote(value: str) -> str:
    v = value.strip()
    if len(v) >= 2 and v[0] == v[-1] == '"':
        v = v[1:-1]
    return v


@dataclass
class _Walk:
    line: int
    header: str | None = None
    descr: str | None = None
    object_id: str | None = None
    object_line: int = 0
    name: str | None = None
    macs: list[tuple[int, str]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return self.descr is None and self.object_id is None and self.name is None and not self.macs


class SnmpWalkReader:
    """`snmpwalk` output, one walk or several (see the module's description)."""

    name: ClassVar[str] = "snmp-walk"

    def sniff(self, head: bytes, filename: str) -> int:
        text = head_text(head)
        if text is None:
            return 0
        lines = [ln for ln in text.splitlines()[:400] if ln.strip() and not ln.startswith("#")]
        if len(head) >= SNIFF_BYTES:
            lines = lines[:-1]  # the last line may be cut short by the head's end
        vars_ = [m for ln in lines if (m := _VAR.match(ln)) is not None and m.group("type")]
        if not vars_:
            return 0
        known = sum(1 for m in vars_ if object_of(m.group("oid")) is not None)
        if known == 0 or len(vars_) * 2 < len(lines):
            return 0  # multi-line strings aside, most lines are `OID = TYPE: value`
        return 85

    def read(
        self, stream: BinaryIO, filename: str, errors: ErrorSink, default_host: str
    ) -> Iterator[InventoryRecord]:
        registry = registry_for(errors, filename)
        walks: list[_Walk] = []
        walk = _Walk(1)
        current: tuple[str, list[str]] | None = None  # object whose STRING may go on, and its lines
        bad = 0

        def settle() -> None:
            nonlocal current
            if current is not None and current[0] == "sysDescr":
                walk.descr = _unquote("\n".join(current[1]).strip())
            current = None

        for lineno, raw in _text_lines(stream, filename, errors, head_of(stream), "snmpwalk output"):
            line = raw.rstrip("\r\n")
            header = _HOST.match(line)
            if header is not None:
                settle()
                if not walk.empty or walk.header:
                    walks.append(walk)
                walk = _Walk(lineno, header.group("name"))
                continue
            m = _VAR.match(line)
            if m is None or (m.group("type") is None and not _looks_like_oid(m.group("oid"))):
                if current is not None:
                    current[1].append(line)
                elif line.strip() and not line.startswith("#"):
                    bad += 1
                    if bad <= BAD_LINES_SHOWN:
                        errors.report(filename, lineno, f"not an snmpwalk line ({shown(line)}); skipped")
                continue
            settle()
            obj = object_of(m.group("oid"))
            if obj is None:
                continue
            what, index = obj
            value = m.group("value") if m.group("type") else (m.group("bare") or "")
            if any(value.startswith(n) or m.group("type") == n for n in _NO_VALUE):
                continue
            if what == "sysDescr" and index == "0":
                if walk.descr is not None or walk.object_id is not None:
                    walks.append(walk)  # the next device's walk, without a header
                    walk = _Walk(lineno)
                current = ("sysDescr", [value])
            elif what == "sysObjectID" and index == "0":
                walk.object_id, walk.object_line = value.strip(), lineno
            elif what == "sysName" and index == "0":
                walk.name = _unquote(value) or None
            elif what == "ifPhysAddress":
                mac = parse_mac(_unquote(value))
                if mac is not None:
                    walk.macs.append((lineno, mac))
        settle()
        if not walk.empty or walk.header:
            walks.append(walk)
        if bad > BAD_LINES_SHOWN:
            errors.report(
                filename, None, f"{bad - BAD_LINES_SHOWN} more lines that are not snmpwalk output skipped"
            )
        for n, w in enumerate(walks, start=1):
            yield from self._records(w, n, len(walks), filename, errors, default_host, registry)

    def _records(
        self,
        w: _Walk,
        n: int,
        count: int,
        filename: str,
        errors: ErrorSink,
        default_host: str,
        registry: OuiRegistry | None,
    ) -> Iterator[InventoryRecord]:
        host = w.header or w.name or (default_host if count == 1 else f"{default_host}#{n}")
        enterprise = enterprise_of(w.object_id) if w.object_id else None
        if w.object_id and enterprise is None:
            errors.report(
                filename,
                w.object_line,
                f"sysObjectID {shown(w.object_id)} names no enterprise number (walk with -On to keep it)",
            )
        descr = (w.descr or "").strip()
        first = descr.splitlines()[0].strip() if descr else ""
        extra: list[tuple[str, str | None]] = [
            ("snmp_enterprise", enterprise),
            ("sys_object_id", w.object_id),
            ("sys_name", w.name),
            ("sys_descr", descr[:500]),
        ]
        yield device_record(
            host=host, collector=self.name, location=f"{filename}:{w.line}", name=first, extra=extra
        )
        seen: set[str] = set()
        for lineno, mac in w.macs:
            if not is_assignable(mac) or mac[:6] in seen:
                continue  # one record per MAC block; locally administered ones name no vendor
            seen.add(mac[:6])
            yield device_record(
                host=host,
                collector=self.name,
                location=f"{filename}:{lineno}",
                name=first,
                mac=mac,
                registry=registry,
                extra=[("sys_name", w.name)],
            )


READERS: list[InputReader] = [SnmpWalkReader()]
