"""DHCP server leases: ISC dhcpd's `dhcpd.leases` and dnsmasq's leases file.

ISC dhcpd (`dhcpd-leases`, format of the dhcpd.leases(5) manual page): blocks `lease ADDRESS {
… }` with `hardware ethernet MAC;`, `client-hostname "NAME";`, `binding state STATE;` and
`set vendor-class-identifier = "…";` (written when the server's configuration records option 60).
The file is an append-only journal: a client's later block supersedes its earlier ones, so each
MAC address is one device, as its last block describes it. IPv6 blocks (`ia-na`, `ia-ta`,
`ia-pd`) carry no MAC address and are skipped.

dnsmasq (`dnsmasq-leases`): one lease a line, `EXPIRY MAC IP HOSTNAME CLIENT-ID` (`*` for an
unknown host name or client id); IPv6 lines (an IAID where the MAC would be) and the `duid` line
are skipped.

A device is named by the host name its client sent, else by its IP address. The MAC address is
resolved in the IEEE registry; a locally administered (randomised) address names no vendor.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO, ClassVar

from banscan.errors import ErrorSink
from banscan.inputs.base import InputReader, head_of
from banscan.inputs.csvsniff import head_text
from banscan.inputs.mobile import _text_lines
from banscan.inputs.network.device import device_record, registry_for, shown
from banscan.inputs.oui import parse_mac
from banscan.models import InventoryRecord

BAD_LINES_SHOWN = 10
_LEASE = re.compile(r"^\s*lease\s+(?P<ip>[0-9A-Fa-f.:]+)\s*\{\s*$")
_IA = re.compile(r"^\s*ia-(?:na|ta|pd)\s")
_STATEMENTS = {
    "mac": re.compile(r"^\s*hardware\s+ethernet\s+(?P<v>[0-9A-Fa-f:]+)\s*;"),
    "hostname": re.compile(r'^\s*client-hostname\s+"(?P<v>(?:[^"\\]|\\.)*)"\s*;'),
    "binding_state": re.compile(r"^\s*binding\s+state\s+(?P<v>[\w-]+)\s*;"),
    "vendor_class": re.compile(r'^\s*set\s+vendor-class-identifier\s*=\s*"(?P<v>(?:[^"\\]|\\.)*)"\s*;'),
    "ends": re.compile(r"^\s*ends\s+(?P<v>[^;]*);"),
}
_DNSMASQ = re.compile(r"^(?P<expiry>\d+) (?P<mac>\S+) (?P<ip>[0-9A-Fa-f.:]+) (?P<host>\S+) (?P<cid>\S+)$")


@dataclass
class _Lease:
    line: int
    ip: str
    values: dict[str, str] = field(default_factory=dict)


def _isc_sniff(text: str) -> int:
    if "dhcpd.leases(5)" in text:
        return 95
    return 80 if any(_LEASE.match(ln) for ln in text.splitlines()[:200]) else 0


class IscLeasesReader:
    """ISC dhcpd's `dhcpd.leases` (see the module's description)."""

    name: ClassVar[str] = "dhcpd-leases"

    def sniff(self, head: bytes, filename: str) -> int:
        text = head_text(head)
        return _isc_sniff(text) if text is not None else 0

    def read(
        self, stream: BinaryIO, filename: str, errors: ErrorSink, default_host: str
    ) -> Iterator[InventoryRecord]:
        registry = registry_for(errors, filename)
        by_mac: dict[str, _Lease] = {}
        lease: _Lease | None = None
        skipping = 0  # depth of an IPv6 block being skipped
        for lineno, raw in _text_lines(stream, filename, errors, head_of(stream), "a dhcpd.leases file"):
            line = raw.strip()
            if skipping:
                skipping += line.count("{") - line.count("}")
                continue
            if lease is None:
                m = _LEASE.match(raw)
                if m is not None:
                    lease = _Lease(lineno, m.group("ip"))
                elif _IA.match(raw):
                    skipping = raw.count("{") - raw.count("}") or 1
                elif line and not line.startswith(("#", "server-duid", "authoring-byte-order", "failover")):
                    errors.report(filename, lineno, f"not a lease statement ({shown(line)}); skipped")
                continue
            if line == "}":
                mac = parse_mac(lease.values.get("mac"))
                if mac is not None:
                    by_mac.pop(mac, None)
                    by_mac[mac] = lease  # the journal's last word on this client
                lease = None
                continue
            for key, rx in _STATEMENTS.items():
                sm = rx.match(raw)
                if sm is not None:
                    lease.values[key] = sm.group("v")
                    break
        if lease is not None:
            errors.report(
                filename, lease.line, f"lease {lease.ip} is not closed (file cut short?); its block skipped"
            )
        for mac, le in by_mac.items():
            v = le.values
            yield device_record(
                host=v.get("hostname") or le.ip,
                collector=self.name,
                location=f"{filename}:{le.line}",
                name=None,
                mac=mac,
                registry=registry,
                extra=[
                    ("ip", le.ip),
                    ("hostname", v.get("hostname")),
                    ("binding_state", v.get("binding_state")),
                    ("vendor_class", v.get("vendor_class")),
                    ("lease_ends", v.get("ends")),
                ],
            )


def _hardware(field: str) -> bool:
    """A MAC address, or the IAID an IPv6 lease has in its place."""
    return field.isdigit() or parse_mac(field) is not None


class DnsmasqLeasesReader:
    """dnsmasq's leases file (see the module's description)."""

    name: ClassVar[str] = "dnsmasq-leases"

    def sniff(self, head: bytes, filename: str) -> int:
        text = head_text(head)
        if text is None:
            return 0
        lines = [ln.strip() for ln in text.splitlines()[:200] if ln.strip() and not ln.startswith("duid ")]
        if len(head) >= 64 * 1024:
            lines = lines[:-1]
        good = sum(1 for ln in lines if (m := _DNSMASQ.match(ln)) and _hardware(m.group("mac")))
        if good == 0 or good * 10 < len(lines) * 9:
            return 0
        return 75

    def read(
        self, stream: BinaryIO, filename: str, errors: ErrorSink, default_host: str
    ) -> Iterator[InventoryRecord]:
        registry = registry_for(errors, filename)
        bad = 0
        for lineno, raw in _text_lines(stream, filename, errors, head_of(stream), "a dnsmasq leases file"):
            line = raw.strip()
            if not line or line.startswith("duid "):
                continue
            m = _DNSMASQ.match(line)
            mac = parse_mac(m.group("mac")) if m is not None else None
            if m is None or not _hardware(m.group("mac")):
                bad += 1
                if bad <= BAD_LINES_SHOWN:
                    errors.report(filename, lineno, f"not a dnsmasq lease line ({shown(line)}); skipped")
                continue
            if mac is None:
                continue  # an IPv6 lease: an IAID, not a MAC address
            name = m.group("host") if m.group("host") != "*" else None
            yield device_record(
                host=name or m.group("ip"),
                collector=self.name,
                location=f"{filename}:{lineno}",
                name=None,
                mac=mac,
                registry=registry,
                extra=[("ip", m.group("ip")), ("hostname", name), ("lease_expiry", m.group("expiry"))],
            )
        if bad > BAD_LINES_SHOWN:
            errors.report(
                filename, None, f"{bad - BAD_LINES_SHOWN} more lines that are not dnsmasq leases skipped"
            )


READERS: list[InputReader] = [IscLeasesReader(), DnsmasqLeasesReader()]
