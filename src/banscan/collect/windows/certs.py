"""Trusted root certificates from the registry certificate stores.

An HTTPS-scanning product installs its own root CA, and that root can stay behind after the
product is removed, so the machine's (and each user's) Root stores are listed. The `Blob`
value is a list of (property id, reserved, length, data) records; property 0x20 is the DER
certificate. The key name is the SHA-1 thumbprint.
"""

from __future__ import annotations

import functools
import struct
import warnings
from collections.abc import Iterator
from typing import ClassVar

from banscan.collect.base import OS, CollectContext
from banscan.collect.windows.hives import open_view
from banscan.collect.windows.view import HiveKind, children, find, values_of
from banscan.models import InventoryRecord, RecordKind, Source

CERT_PROP_ID = 0x20  # CERT_CERT_PROP_ID
MACHINE_STORES = (
    r"Microsoft\SystemCertificates\ROOT\Certificates",
    r"Policies\Microsoft\SystemCertificates\Root\Certificates",
)
USER_STORES = (r"Software\Microsoft\SystemCertificates\Root\Certificates",)


def der_from_blob(blob: bytes) -> bytes | None:
    """The DER certificate inside a store Blob, or None if the blob holds none or is cut short."""
    offset = 0
    while offset + 12 <= len(blob):
        prop_id, _reserved, length = struct.unpack_from("<III", blob, offset)
        offset += 12
        if offset + length > len(blob):
            return None
        if prop_id == CERT_PROP_ID:
            return blob[offset : offset + length]
        offset += length
    return None


@functools.lru_cache(maxsize=4096)
def describe(der: bytes) -> dict[str, str] | None:
    """Subject, issuer and validity of a DER certificate; None if it does not parse."""
    try:
        from cryptography import x509
        from cryptography.x509.oid import NameOID
    except ImportError:
        return {}
    try:
        with warnings.catch_warnings():
            # Old roots with non-positive serials still parse; they are inventoried, not judged.
            warnings.simplefilter("ignore")
            cert = x509.load_der_x509_certificate(der)
        subject = cert.subject
        cns = subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        out = {"subject": subject.rfc4514_string(), "issuer": cert.issuer.rfc4514_string()}
        if cns:
            out["cn"] = str(cns[0].value)
        out["not_after"] = cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
        return out
    except ValueError:
        return None


class RootCertificatesCollector:
    name: ClassVar[str] = "windows-root-certificates"
    os: ClassVar[tuple[OS, ...]] = ("windows",)
    live_only: ClassVar[bool] = False
    reads: ClassVar[tuple[str, ...]] = (
        "Windows/System32/config",
        "Windows/System32/config/SOFTWARE",
        "Users/*/",
        "Users/*/NTUSER.DAT",
    )

    def collect(self, ctx: CollectContext) -> Iterator[InventoryRecord]:
        view = open_view(ctx)
        places: tuple[tuple[HiveKind, tuple[str, ...]], ...] = (
            ("software", MACHINE_STORES),
            ("user", USER_STORES),
        )
        for kind, stores in places:
            for hive in view.hives(kind):
                for store in stores:
                    for key in children(ctx, hive, find(ctx, hive, store)):
                        rel = f"{store}\\{key.name}"
                        blob = (values_of(ctx, hive, key) or {}).get("Blob")
                        if not isinstance(blob, bytes):
                            continue
                        der = der_from_blob(blob)
                        info = describe(der) if der else None
                        if info is None:
                            ctx.errors.report(
                                hive.report_as, rel, "certificate Blob does not hold a readable certificate"
                            )
                            continue
                        extra = [("sha1", key.name.upper())]
                        extra += [(k, v) for k, v in info.items() if k != "cn"]
                        extra.append(("key", hive.key_path(rel)))
                        if hive.user:
                            extra.append(("user", hive.user))
                        yield InventoryRecord(
                            host=ctx.host,
                            source=Source(self.name, hive.source(rel)),
                            kind=RecordKind.CERTIFICATE,
                            name=info.get("cn") or info.get("subject") or key.name.upper(),
                            extra=tuple(extra),
                        )
