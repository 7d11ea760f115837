"""Which observed field of a record is compared with which kind of catalog identifier.

This table is the whole link between collectors and the catalog: a collector fills
InventoryRecord fields, the catalog says what kind of identifier a value is, and this
mapping decides where each kind is looked for.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from banscan.catalog.schema import IdentifierKind as K
from banscan.inputs.oui import candidate_assignments, is_assignable, parse_mac
from banscan.models import InventoryRecord
from banscan.models import RecordKind as R

# Record kinds whose `name` is the name of installed software (as opposed to a process,
# a folder or a unit): the name is evidence about what is installed.
SOFTWARE_KINDS = frozenset({R.APP, R.PACKAGE, R.SBOM_COMPONENT, R.SECURITY_PRODUCT, R.EXTENSION, R.RECEIPT})

_NAME_AS: dict[R, tuple[K, ...]] = {
    R.APP: (K.DISPLAY_NAME, K.PACKAGE),
    R.PACKAGE: (K.PACKAGE, K.DISPLAY_NAME),
    R.SBOM_COMPONENT: (K.DISPLAY_NAME, K.PACKAGE),
    R.SECURITY_PRODUCT: (K.DISPLAY_NAME,),
    R.EXTENSION: (K.DISPLAY_NAME,),
    R.RECEIPT: (K.RECEIPT, K.BUNDLE_ID, K.DISPLAY_NAME),
    # Windows lists kernel drivers as services (sc query type= driver; osquery's services table),
    # so a service name is compared with driver names too.
    R.SERVICE: (K.SERVICE, K.DRIVER),
    R.DRIVER: (K.DRIVER,),
    R.PROCESS: (K.PROCESS,),
    R.CERTIFICATE: (K.CERTIFICATE,),
    R.REGISTRY_KEY: (),
    R.PATH: (),
    R.FILE: (),
    # A device's name is what it says it is (an nmap service's product, a model, sysDescr's
    # first line): compared with catalogued product names as an installed program's would be.
    R.DEVICE: (K.DISPLAY_NAME,),
}

_PATH_AS: dict[R, tuple[K, ...]] = {
    R.REGISTRY_KEY: (K.REGISTRY_KEY,),
}


_SERVICE_KEY = re.compile(
    r"(?:^|[\\/])(?:CurrentControlSet|ControlSet\d{3})[\\/]Services[\\/]([^\\/]+)$", re.I
)
_GUID = re.compile(r"\{[0-9A-Fa-f]{8}(?:-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}\}")
# Record kinds that are a file or folder on disk: their file name is compared with the names of
# files the vendor ships (libraries, programs, installers).
_FILE_KINDS = frozenset({R.FILE, R.PATH, R.PROCESS})


# Identifier kinds only device records are compared with: a MAC address block (IEEE assignment)
# and an SNMP agent's enterprise number. The line prefilter has no tokens for them (a MAC is
# written in too many ways, and a thousand OUIs would make it keep every line), so a path that
# prefilters never reads device columns as candidates alone: the CSV bulk path leaves a file
# with such columns to the per-record reader (`DEVICE_EXTRAS`), and device inputs (nmap XML,
# SNMP walks, DHCP leases, NetBox exports) are never read in bulk.
DEVICE_KINDS = frozenset({K.MAC_OUI, K.SNMP_ENTERPRISE})
# The extras (and column roles) a device's identity comes from.
DEVICE_EXTRAS = frozenset({"mac", "mac_oui", "snmp_enterprise"})

# Every record field and extra that `observed` and the matcher's entity checks (publisher,
# signer, brand in the name) read. A record whose values here hold no prefilter token yields no
# evidence, so the CSV bulk path looks for tokens in these columns only (an OS or e-mail column
# saying "Windows" on every row makes no candidate). `tests/test_match.py` holds every other
# field and extra to Kaspersky's identifiers and checks that nothing is found.
MATCHED_FIELDS = (
    "name",
    "path",
    "publisher",
    "bundle_id",
    "team_id",
    "signer",
    "extension_id",
    "purl",
    "cpe",
)
MATCHED_EXTRAS = frozenset(
    {"product_code", "identifying_number", "subject", "product_name", "byte_signature", *DEVICE_EXTRAS}
)


def _basename(value: str) -> str:
    return value.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]


def observed(record: InventoryRecord) -> Iterator[tuple[K, str, str]]:
    """Yield (identifier kind, observed value, field name) for every comparison to make."""
    kind = record.kind
    if record.name:
        for k in _NAME_AS.get(kind, ()):
            yield k, record.name, "name"
        if kind == R.REGISTRY_KEY and not record.path:
            yield K.REGISTRY_KEY, record.name, "name"  # a key listed by its path alone
    if kind == R.REGISTRY_KEY:
        # HKLM\SYSTEM\CurrentControlSet\Services\<name>: a service's or driver's registration.
        m = _SERVICE_KEY.search(record.path or record.name or "")
        if m:
            yield K.SERVICE, m.group(1), "service_key"
            yield K.DRIVER, m.group(1), "service_key"
    if record.path:
        for k in _PATH_AS.get(kind, (K.PATH,)):
            yield k, record.path, "path"
        if kind == R.PROCESS:
            yield K.PROCESS, record.path, "path"
    if kind in _FILE_KINDS:
        file_name = _basename(record.path or record.name or "")
        if file_name:
            yield K.FILE_NAME, file_name, "file_name"
    yield from _product_codes(record)
    if record.publisher:
        yield K.PUBLISHER, record.publisher, "publisher"
    if record.bundle_id:
        yield K.BUNDLE_ID, record.bundle_id, "bundle_id"
        if kind == R.DRIVER:
            yield K.DRIVER, record.bundle_id, "bundle_id"
        if kind == R.SERVICE:
            yield K.SERVICE, record.bundle_id, "bundle_id"
        if kind == R.PACKAGE:
            yield K.PACKAGE, record.bundle_id, "bundle_id"
    if record.team_id:
        yield K.TEAM_ID, record.team_id, "team_id"
    if record.signer:
        yield K.SIGNER, record.signer, "signer"
    if record.extension_id:
        yield K.EXTENSION_ID, record.extension_id, "extension_id"
    if record.purl:
        yield K.PURL, record.purl, "purl"
    if record.cpe:
        yield K.CPE, record.cpe, "cpe"
    if kind == R.CERTIFICATE:
        subject = record.get("subject")
        if subject:
            yield K.CERTIFICATE, subject, "subject"
    if kind == R.FILE:
        # A binary's own version resource names its product (ProductName), unlike its file name.
        product_name = record.get("product_name")
        if product_name:
            yield K.DISPLAY_NAME, product_name, "product_name"
        # The deep scan's YARA rules report which catalog byte signature they found.
        signature = record.get("byte_signature")
        if signature:
            yield K.BYTE_SIGNATURE, signature, "byte_signature"
    if kind == R.SERVICE:
        display = record.get("display_name")
        if display:
            yield K.DISPLAY_NAME, display, "display_name"
    if kind == R.DEVICE:
        yield from _device(record)
    if kind == R.APP:
        # A macOS bundle's CFBundleGetInfoString (osquery apps.info_string) may name the product
        # an app belongs to when its own name is generic ("Net configurator").
        info = record.get("get_info_string") or record.get("info_string")
        if info:
            yield K.DISPLAY_NAME, info, "get_info_string"


def _device(record: InventoryRecord) -> Iterator[tuple[K, str, str]]:
    """A device's MAC block and SNMP enterprise number. The reader resolved the block in the
    IEEE registry where one is installed (the longest assignment holding the address); without
    it the address's 24-, 28- and 36-bit prefixes are each compared with the catalog's
    assignments. A locally administered address names no vendor and is never compared."""
    oui = record.get("mac_oui")
    if oui:
        yield K.MAC_OUI, oui, "mac_oui"
    else:
        mac = parse_mac(record.get("mac"))
        if mac is not None and is_assignable(mac):
            for prefix in candidate_assignments(mac):
                yield K.MAC_OUI, prefix, "mac_oui"
    enterprise = record.get("snmp_enterprise")
    if enterprise:
        yield K.SNMP_ENTERPRISE, enterprise, "snmp_enterprise"


def _product_codes(record: InventoryRecord) -> Iterator[tuple[K, str, str]]:
    """A Windows Installer ProductCode: an extra of Uninstall entries and MSI files, or the name of
    an Uninstall subkey."""
    # osquery's programs table calls it identifying_number.
    code = record.get("product_code") or record.get("identifying_number")
    if code:
        yield K.PRODUCT_CODE, code, "product_code"
        return
    if record.kind == R.REGISTRY_KEY:
        key = record.path or record.name
        leaf = _basename(key)
        if _GUID.fullmatch(leaf) and "uninstall" in key.lower():
            yield K.PRODUCT_CODE, leaf, "product_code"
