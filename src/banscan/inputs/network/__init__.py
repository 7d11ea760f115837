"""Network device inventories: nmap XML, SNMP walks, DHCP leases and NetBox device exports.

Each reader yields DEVICE records (one device is one host of the result) for the same matcher
as host software: the device's MAC block (resolved in the IEEE registry, `banscan.inputs.oui`),
its SNMP enterprise number, the products and CPEs a scanner names, and the manufacturer an
inventory states. Which of those point to a covered vendor is catalog data, never code here.
"""

from __future__ import annotations

from banscan.inputs.base import InputReader
from banscan.inputs.network import dhcp, netbox, nmap, snmp

READERS: list[InputReader] = [*nmap.READERS, *snmp.READERS, *dhcp.READERS, *netbox.READERS]
