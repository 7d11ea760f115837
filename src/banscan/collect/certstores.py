"""Trusted certificates outside the Windows registry: the Kaspersky HTTPS-scanning root
("Kaspersky Anti-Virus Personal Root Certificate") can stay trusted after an uninstall.

- Linux CA bundles and anchor folders (PEM): etc/ssl/certs/ca-certificates.crt,
  etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem, etc/pki/tls/certs/ca-bundle.crt,
  usr/local/share/ca-certificates/*.crt, etc/pki/ca-trust/source/anchors/*, etc/ssl/certs/*.pem.
- NSS databases (Firefox profiles and ~/.pki/nssdb, every OS): cert9.db is SQLite; table
  `nssPublic` keeps each PKCS#11 attribute in a column named a<hex attribute id>, and the
  certificate's DER value (CKA_VALUE, 0x11) is column `a11`. Opened read-only and immutable.
  The older cert8.db (Berkeley DB) is searched for DER certificates like a keychain.
- macOS keychains (Library/Keychains/System.keychain, Users/*/Library/Keychains/
  login.keychain-db): the file is searched for DER certificates (SEQUENCE of SEQUENCE with
  two-byte lengths), each parsed with cryptography; bounded to 64 MiB per file.
The Windows ROOT stores are read by the Windows collector (collect/windows/certs.py).

Records: kind CERTIFICATE, name = subject CN, extras subject, issuer, not_after, sha1,
store (the file, as the scanned system names it). Every certificate is listed; the matcher
decides which ones matter.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from banscan.collect import fs
from banscan.collect.base import OS, CollectContext, Collector
from banscan.collect.windows.certs import describe
from banscan.models import InventoryRecord, RecordKind, Source

_PEM = re.compile(
    rb"-----BEGIN (?:TRUSTED )?CERTIFICATE-----\s+([A-Za-z0-9+/=\s]+?)-----END (?:TRUSTED )?CERTIFICATE-----"
)
_MAX_BUNDLE = 16 * 1024 * 1024
_MAX_KEYCHAIN = 64 * 1024 * 1024
_MAX_CERTS = 20_000


def _shown(ctx: CollectContext, path: Path) -> str:
    try:
        rel = path.relative_to(ctx.root).as_posix()
    except ValueError:
        return path.as_posix()
    return "/" + rel if ctx.os != "windows" else rel.replace("/", "\\")


def _record(
    ctx: CollectContext, collector: str, store: str, der: bytes, where: str
) -> InventoryRecord | None:
    info = describe(der)
    if not info:
        return None
    extra = [(k, v) for k, v in info.items() if k != "cn"]
    extra += [("sha1", hashlib.sha1(der).hexdigest().upper()), ("store", store)]
    return InventoryRecord(
        host=ctx.host,
        source=Source(collector, where),
        kind=RecordKind.CERTIFICATE,
        name=info.get("cn") or info.get("subject") or "certificate",
        extra=tuple(extra),
    )


def pem_certificates(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(line number, DER) of each PEM certificate in a bundle."""
    import base64
    import binascii

    for m in _PEM.finditer(data):
        try:
            der = base64.b64decode(b"".join(m.group(1).split()), validate=True)
        except (binascii.Error, ValueError):
            continue
        yield data.count(b"\n", 0, m.start()) + 1, der


def der_certificates(blob: bytes) -> Iterator[tuple[int, bytes]]:
    """(offset, DER) of certificates embedded anywhere in a binary file."""
    pos = blob.find(b"\x30\x82")
    found = 0
    while pos != -1 and found < _MAX_CERTS:
        if blob[pos + 4 : pos + 6] == b"\x30\x82":
            length = int.from_bytes(blob[pos + 2 : pos + 4], "big") + 4
            if 200 <= length <= 64 * 1024 and pos + length <= len(blob):
                der = blob[pos : pos + length]
                if describe(der):
                    found += 1
                    yield pos, der
                    pos = blob.find(b"\x30\x82", pos + length)
                    continue
        pos = blob.find(b"\x30\x82", pos + 1)


def _glob(ctx: CollectContext, pattern: str) -> list[Path]:
    """Expand a root-relative pattern whose parts may hold `*` (one folder level each)."""
    level = [ctx.root]
    for part in pattern.split("/"):
        if "*" in part:
            rx = re.compile("^" + re.escape(part).replace(r"\*", ".*") + "$")
            level = [c for p in level for c in fs.list_dir(ctx, p) if rx.match(c.name)]
        else:
            level = [p / part for p in level]
    return level


class LinuxCABundlesCollector:
    """Certificates in the system's PEM trust bundles and anchor folders."""

    name: ClassVar[str] = "ca-bundles"
    os: ClassVar[tuple[OS, ...]] = ("linux",)
    live_only: ClassVar[bool] = False
    STORES: ClassVar[tuple[str, ...]] = (
        "etc/ssl/certs/ca-certificates.crt",
        "etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
        "etc/pki/tls/certs/ca-bundle.crt",
        "etc/ssl/cert.pem",
        "usr/local/share/ca-certificates/*.crt",
        "usr/local/share/ca-certificates/*/*.crt",
        "etc/pki/ca-trust/source/anchors/*",
        "etc/ssl/certs/*.pem",
    )
    # etc/ssl/certs/*.pem link into usr/share/ca-certificates on Debian and Ubuntu; on Red Hat
    # etc/ssl/certs itself links to etc/pki/tls/certs
    reads: ClassVar[tuple[str, ...]] = (
        *STORES,
        "usr/share/ca-certificates/*/*.crt",
        "etc/pki/tls/certs/*.pem",
    )

    def collect(self, ctx: CollectContext) -> Iterator[InventoryRecord]:
        seen: set[tuple[str, str]] = set()
        for pattern in self.STORES:
            for path in _glob(ctx, pattern):
                if not fs.exists(ctx, path) or fs.is_dir(ctx, path):
                    continue
                data = fs.read_bytes(ctx, path, limit=_MAX_BUNDLE)
                if not data:
                    continue
                store = _shown(ctx, path)
                certs = list(pem_certificates(data))
                if not certs and data[:2] == b"\x30\x82":
                    certs = [(1, data)]
                for line, der in certs:
                    key = (hashlib.sha1(der).hexdigest(), store if "*" not in pattern else "")
                    if key in seen:
                        continue
                    seen.add(key)
                    rec = _record(ctx, self.name, store, der, f"{store}:{line}")
                    if rec is None:
                        ctx.errors.report(store, line, "certificate does not parse")
                    else:
                        yield rec


_NSS_DBS = (
    "etc/pki/nssdb",
    "root/.pki/nssdb",
    "home/*/.pki/nssdb",
    "root/.mozilla/firefox/*",
    "home/*/.mozilla/firefox/*",
    "home/*/snap/firefox/common/.mozilla/firefox/*",
    "Users/*/Library/Application Support/Firefox/Profiles/*",
    "Users/*/AppData/Roaming/Mozilla/Firefox/Profiles/*",
)


class NSSCollector:
    """Certificates in NSS databases (Firefox profiles, the shared ~/.pki/nssdb)."""

    name: ClassVar[str] = "nss-certificates"
    os: ClassVar[tuple[OS, ...]] = ("linux", "macos", "windows")
    live_only: ClassVar[bool] = False
    reads: ClassVar[tuple[str, ...]] = tuple(f"{d}/{db}" for d in _NSS_DBS for db in ("cert9.db", "cert8.db"))

    def collect(self, ctx: CollectContext) -> Iterator[InventoryRecord]:
        for pattern in _NSS_DBS:
            for folder in _glob(ctx, pattern):
                db9 = folder / "cert9.db"
                if fs.exists(ctx, db9):
                    yield from self._cert9(ctx, db9)
                db8 = folder / "cert8.db"
                if fs.exists(ctx, db8):
                    yield from _blob_store(ctx, self.name, db8)

    def _cert9(self, ctx: CollectContext, path: Path) -> Iterator[InventoryRecord]:
        store = _shown(ctx, path)
        real = fs.regular_file(ctx, path)
        if real is None:
            return
        uri = "file:" + urllib.parse.quote(str(real)) + "?mode=ro&immutable=1"
        try:
            con = sqlite3.connect(uri, uri=True)
        except sqlite3.Error as exc:
            ctx.errors.report(store, None, f"cannot open NSS database: {exc}")
            return
        try:
            rows = con.execute(
                "SELECT id, a11 FROM nssPublic WHERE a11 IS NOT NULL LIMIT ?", (_MAX_CERTS,)
            ).fetchall()
        except sqlite3.Error as exc:
            ctx.errors.report(store, None, f"not a readable NSS cert9 database: {exc}")
            return
        finally:
            con.close()
        for row_id, value in rows:
            if not isinstance(value, bytes) or value[:1] != b"\x30":
                continue
            rec = _record(ctx, self.name, store, value, f"{store}:nssPublic:{row_id}")
            if rec is not None:
                yield rec


def _blob_store(ctx: CollectContext, collector: str, path: Path) -> Iterator[InventoryRecord]:
    store = _shown(ctx, path)
    data = fs.read_bytes(ctx, path, limit=_MAX_KEYCHAIN)
    if data is None:
        return
    seen: set[str] = set()
    for offset, der in der_certificates(data):
        digest = hashlib.sha1(der).hexdigest()
        if digest in seen:
            continue
        seen.add(digest)
        rec = _record(ctx, collector, store, der, f"{store}@{offset}")
        if rec is not None:
            yield rec


class KeychainCollector:
    """Certificates stored in macOS keychains (system and per-user)."""

    name: ClassVar[str] = "keychain-certificates"
    os: ClassVar[tuple[OS, ...]] = ("macos",)
    live_only: ClassVar[bool] = False
    STORES: ClassVar[tuple[str, ...]] = (
        "Library/Keychains/System.keychain",
        "Library/Keychains/System.keychain-db",
        "Users/*/Library/Keychains/login.keychain-db",
        "Users/*/Library/Keychains/login.keychain",
    )
    reads: ClassVar[tuple[str, ...]] = STORES

    def collect(self, ctx: CollectContext) -> Iterator[InventoryRecord]:
        for pattern in self.STORES:
            for path in _glob(ctx, pattern):
                if fs.exists(ctx, path):
                    yield from _blob_store(ctx, self.name, path)


CERT_COLLECTORS: list[Collector] = [LinuxCABundlesCollector(), NSSCollector(), KeychainCollector()]
