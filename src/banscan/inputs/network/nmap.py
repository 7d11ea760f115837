"""nmap's XML output (`nmap -oX`), as its DTD (docs/nmap.dtd in the nmap repository) defines it.

Each host that is up is one device, named by its first host name (user-given or PTR), else its
IP address, else its MAC address. A host gives:

* one record for the device itself: the MAC address (`<address addrtype="mac">`, on the local
  segment only) resolved in the IEEE registry, nmap's own name for the MAC's vendor (`vendor`,
  kept as `nmap_mac_vendor`), the IP address, and from the OS detection the perfect matches only
  (accuracy 100, which nmap prints as "OS details"; lesser guesses are alternatives, not
  findings): the match's name, its classes' vendor and device type, and their CPEs;
* one record per open port whose service detection names a product or CPE (`-sV`): the
  product as name, its version, device type and CPEs. A product string or CPE that names the
  maker (nmap's match lines: "Dahua IP camera rtspd", `cpe:/h:huawei:…`) is stronger evidence
  of what the device is than the MAC block, which names who made its network interface.

The XML is parsed as a stream with defusedxml's expat reader: entity declarations (entity
expansion bombs) and external references are refused with one line; nmap's own `<!DOCTYPE
nmaprun>` is allowed. A file cut short (an interrupted scan) keeps the hosts completed before the
cut and reports where it ends. Hosts are located by the line of their `<host>` element.
"""

from __future__ import annotations

import re
import xml.sax
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO, ClassVar
from xml.sax.expatreader import ExpatLocator
from xml.sax.handler import ContentHandler

import defusedxml.sax
from defusedxml import DefusedXmlException, DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden

from banscan.errors import ErrorSink
from banscan.inputs.base import InputReader
from banscan.inputs.network.device import device_record, registry_for
from banscan.inputs.oui import OuiRegistry
from banscan.models import InventoryRecord

CHUNK = 256 * 1024
PERFECT = 100  # nmap's accuracy of an exact OS match
OPEN_STATES = frozenset({"open", "open|filtered"})
_ROOT = re.compile(rb"<nmaprun[\s>]")


@dataclass
class _Port:
    line: int
    portid: str
    protocol: str
    state: str = ""
    name: str = ""
    product: str = ""
    version: str = ""
    extrainfo: str = ""
    devicetype: str = ""
    cpes: list[str] = field(default_factory=list)


@dataclass
class _OsClass:
    vendor: str
    osfamily: str
    devicetype: str
    accuracy: int
    cpes: list[str] = field(default_factory=list)


@dataclass
class _OsMatch:
    name: str
    accuracy: int
    classes: list[_OsClass] = field(default_factory=list)


@dataclass
class _Host:
    line: int
    state: str = "up"  # hosts without <status> (hand-made files) count as up
    ipv4: str = ""
    ipv6: str = ""
    mac: str = ""
    mac_vendor: str = ""
    hostnames: list[str] = field(default_factory=list)
    ports: list[_Port] = field(default_factory=list)
    matches: list[_OsMatch] = field(default_factory=list)
    loose_classes: list[_OsClass] = field(default_factory=list)  # nmap 3.x: <osclass> under <os>


def _accuracy(text: str | None) -> int:
    try:
        return int(text or "0")
    except ValueError:
        return 0


class _Handler(ContentHandler):
    """Builds one `_Host` at a time; finished hosts wait in `done` until the reader takes them."""

    def __init__(self) -> None:
        super().__init__()
        self.done: list[_Host] = []
        self.root: str | None = None
        self.host: _Host | None = None
        self.port: _Port | None = None
        self.osmatch: _OsMatch | None = None
        self.osclass: _OsClass | None = None
        self.cpe_text: list[str] | None = None
        self._locator: Any = None

    def setDocumentLocator(self, locator: Any) -> None:
        self._locator = locator

    def _line(self) -> int:
        return int(self._locator.getLineNumber()) if self._locator is not None else 0

    def startElement(self, name: str, attrs: Any) -> None:
        if self.root is None:
            self.root = name
            if name != "nmaprun":
                raise _NotNmap(name)
            return
        a = {k: attrs.getValue(k) for k in attrs.getNames()}
        if name == "host":
            self.host = _Host(self._line())
            return
        host = self.host
        if host is None:
            return  # <hosthint>, <taskbegin> …: not a host
        if name == "status":
            host.state = a.get("state", "")
        elif name == "address":
            kind, addr = a.get("addrtype", "ipv4"), a.get("addr", "")
            if kind == "mac":
                host.mac, host.mac_vendor = addr, a.get("vendor", "")
            elif kind == "ipv6":
                host.ipv6 = host.ipv6 or addr
            else:
                host.ipv4 = host.ipv4 or addr
        elif name == "hostname" and a.get("name"):
            host.hostnames.append(a["name"])
        elif name == "port":
            self.port = _Port(self._line(), a.get("portid", ""), a.get("protocol", ""))
            host.ports.append(self.port)
        elif name == "state" and self.port is not None:
            self.port.state = a.get("state", "")
        elif name == "service" and self.port is not None:
            p = self.port
            p.name, p.product, p.version = a.get("name", ""), a.get("product", ""), a.get("version", "")
            p.extrainfo, p.devicetype = a.get("extrainfo", ""), a.get("devicetype", "")
        elif name == "osmatch":
            self.osmatch = _OsMatch(a.get("name", ""), _accuracy(a.get("accuracy")))
            host.matches.append(self.osmatch)
        elif name == "osclass":
            self.osclass = _OsClass(
                a.get("vendor", ""), a.get("osfamily", ""), a.get("type", ""), _accuracy(a.get("accuracy"))
            )
            (self.osmatch.classes if self.osmatch is not None else host.loose_classes).append(self.osclass)
        elif name == "cpe":
            self.cpe_text = []

    def characters(self, content: str) -> None:
        if self.cpe_text is not None:
            self.cpe_text.append(content)

    def endElement(self, name: str) -> None:
        if name == "cpe" and self.cpe_text is not None:
            cpe = "".join(self.cpe_text).strip()
            self.cpe_text = None
            if cpe:
                if self.osclass is not None:
                    self.osclass.cpes.append(cpe)
                elif self.port is not None:
                    self.port.cpes.append(cpe)
        elif name == "osclass":
            self.osclass = None
        elif name == "osmatch":
            self.osmatch = None
        elif name == "port":
            self.port = None
        elif name == "host" and self.host is not None:
            self.done.append(self.host)
            self.host = None


class _NotNmap(Exception):
    def __init__(self, root: str) -> None:
        super().__init__(root)
        self.root = root


def _host_name(h: _Host, default_host: str) -> str:
    return next(iter(h.hostnames), "") or h.ipv4 or h.ipv6 or h.mac or default_host


def host_records(
    h: _Host, filename: str, default_host: str, registry: OuiRegistry | None
) -> Iterator[InventoryRecord]:
    """The records of one host that is up (see the module's description)."""
    host = _host_name(h, default_host)
    perfect = [m for m in h.matches if m.accuracy >= PERFECT]
    classes = [c for m in perfect for c in m.classes] + [c for c in h.loose_classes if c.accuracy >= PERFECT]
    cpes = list(dict.fromkeys(cpe for c in classes for cpe in c.cpes))
    os_name = perfect[0].name if perfect else ""
    device_type = next((c.devicetype for c in classes if c.devicetype), "")
    where = f"{filename}:{h.line}"
    common = [("ip", h.ipv4 or h.ipv6), ("hostname", next(iter(h.hostnames), ""))]
    yield device_record(
        host=host,
        collector=NmapXmlReader.name,
        location=where,
        name=os_name or device_type,
        mac=h.mac,
        registry=registry,
        cpe=cpes[0] if cpes else None,
        extra=[
            *common,
            ("nmap_mac_vendor", h.mac_vendor),
            ("os_vendor", next((c.vendor for c in classes if c.vendor), "")),
            ("device_type", device_type),
        ],
    )
    for extra_cpe in cpes[1:]:
        yield device_record(
            host=host, collector=NmapXmlReader.name, location=where, name=os_name, cpe=extra_cpe, extra=common
        )
    for p in h.ports:
        if p.state not in OPEN_STATES or not (p.product or p.cpes):
            continue
        extra = [
            *common,
            ("port", f"{p.portid}/{p.protocol}"),
            ("service", p.name),
            ("device_type", p.devicetype),
        ]
        extra.append(("extrainfo", p.extrainfo))
        service_cpes: list[str | None] = [*p.cpes] or [None]
        for cpe in service_cpes:
            yield device_record(
                host=host,
                collector=NmapXmlReader.name,
                location=f"{filename}:{p.line}",
                name=p.product,
                version=p.version,
                cpe=cpe,
                extra=extra,
            )


class NmapXmlReader:
    """`nmap -oX` output: one device per host that is up."""

    name: ClassVar[str] = "nmap-xml"

    def sniff(self, head: bytes, filename: str) -> int:
        text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        if not text.startswith(b"<"):
            return 0
        return 95 if _ROOT.search(head[:8192]) else 0

    def read(
        self, stream: BinaryIO, filename: str, errors: ErrorSink, default_host: str
    ) -> Iterator[InventoryRecord]:
        handler = _Handler()
        parser: Any = defusedxml.sax.make_parser()
        parser.setContentHandler(handler)
        handler.setDocumentLocator(ExpatLocator(parser))  # `feed` alone never hands one over
        parser.setFeature(xml.sax.handler.feature_namespaces, False)
        registry = registry_for(errors, filename)
        hosts = 0
        try:
            while True:
                chunk = stream.read(CHUNK)
                if not chunk:
                    parser.close()
                else:
                    parser.feed(chunk)
                for h in handler.done:
                    if h.state == "up":
                        hosts += 1
                        yield from host_records(h, filename, default_host, registry)
                handler.done.clear()
                if not chunk:
                    break
        except _NotNmap as exc:
            errors.report(filename, None, f"not nmap XML output: the root element is <{exc.root}>")
        except (EntitiesForbidden, DTDForbidden) as exc:
            errors.report(
                filename, None, f"refused XML: entity declarations are not allowed ({type(exc).__name__})"
            )
        except ExternalReferenceForbidden:
            errors.report(filename, None, "refused XML: external references are not allowed")
        except DefusedXmlException as exc:
            errors.report(filename, None, f"refused XML: {exc}")
        except xml.sax.SAXParseException as exc:
            where = f"{exc.getLineNumber()}:{exc.getColumnNumber()}"
            errors.report(
                filename,
                where,
                f"not well-formed XML: {exc.getMessage()} (a scan cut short?); "
                f"the {hosts} hosts before it were read",
            )


READERS: list[InputReader] = [NmapXmlReader()]
