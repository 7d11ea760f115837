"""A maintainers' key set for signing catalog repositories: one folder, one PEM file per key.

`banscan catalog keys init DIR` makes Ed25519 keys for testing and for small deployments:
`root-1.pem` … (the root role's keys, of which `threshold` must sign), `targets-1.pem`,
`snapshot-1.pem`, `timestamp-1.pem`, and `roles.json` with the thresholds. The files are
PKCS#8 PEM, encrypted when `BANSCAN_KEY_PASSPHRASE` is set, and written readable by their owner
only. Real root keys are kept offline (a hardware token or an offline machine) and brought out
only to sign a new root; the timestamp key is the one an automated job holds.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)
from securesystemslib.signer import CryptoSigner, Signer

from banscan.updates import TOP_ROLES

ROLES_FILE = "roles.json"
PASSPHRASE_ENV = "BANSCAN_KEY_PASSPHRASE"
_KEY_FILE = re.compile(r"^(root|targets|snapshot|timestamp)-(\d+)\.pem$")


class KeyError_(Exception):
    """A key set cannot be read or written; the message names the file."""


@dataclass
class KeySet:
    """Signers per top-level role, and each role's threshold."""

    signers: dict[str, list[Signer]] = field(default_factory=dict)
    thresholds: dict[str, int] = field(default_factory=dict)

    def keyids(self, role: str) -> list[str]:
        return [s.public_key.keyid for s in self.signers.get(role, [])]


def _passphrase() -> bytes | None:
    value = os.environ.get(PASSPHRASE_ENV)
    return value.encode() if value else None


def init_keys(folder: Path, *, root_keys: int = 1, root_threshold: int = 1) -> KeySet:
    """Make a new key set in `folder` (which must hold no key yet)."""
    if not 1 <= root_threshold <= root_keys:
        raise KeyError_(f"root threshold {root_threshold} must be between 1 and the number of root keys")
    folder.mkdir(parents=True, exist_ok=True)
    if any(_KEY_FILE.match(p.name) for p in folder.iterdir()):
        raise KeyError_(f"{folder}: already holds keys; a new key set goes in an empty folder")
    password = _passphrase()
    encryption = BestAvailableEncryption(password) if password else NoEncryption()
    counts = {"root": root_keys, "targets": 1, "snapshot": 1, "timestamp": 1}
    for role in TOP_ROLES:
        for n in range(1, counts[role] + 1):
            key = Ed25519PrivateKey.generate()
            pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, encryption)
            path = folder / f"{role}-{n}.pem"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(pem)
    thresholds = {role: (root_threshold if role == "root" else 1) for role in TOP_ROLES}
    (folder / ROLES_FILE).write_text(
        json.dumps({"thresholds": thresholds}, indent=2) + "\n", encoding="utf-8"
    )
    return load_keys(folder)


def load_keys(folder: Path) -> KeySet:
    """Read a key set: every `<role>-<n>.pem` of the folder, thresholds from roles.json."""
    if not folder.is_dir():
        raise KeyError_(f"{folder}: not a folder of keys")
    keys = KeySet()
    password = _passphrase()
    for path in sorted(folder.iterdir()):
        m = _KEY_FILE.match(path.name)
        if not m:
            continue
        try:
            private = load_pem_private_key(path.read_bytes(), password)
        except (OSError, ValueError, TypeError) as exc:
            hint = f" (set {PASSPHRASE_ENV} for an encrypted key)" if password is None else ""
            raise KeyError_(f"{path}: not a readable private key: {exc}{hint}") from exc
        if not isinstance(private, Ed25519PrivateKey):
            raise KeyError_(f"{path}: not an Ed25519 key")
        keys.signers.setdefault(m.group(1), []).append(CryptoSigner(private))
    try:
        doc = json.loads((folder / ROLES_FILE).read_text(encoding="utf-8"))
        thresholds = doc.get("thresholds", {}) if isinstance(doc, dict) else {}
    except FileNotFoundError:
        thresholds = {}
    except (OSError, ValueError) as exc:
        raise KeyError_(f"{folder / ROLES_FILE}: {exc}") from exc
    for role in TOP_ROLES:
        if not keys.signers.get(role):
            raise KeyError_(f"{folder}: no key for the {role} role ({role}-1.pem)")
        value = thresholds.get(role, 1)
        if not isinstance(value, int) or not 1 <= value <= len(keys.signers[role]):
            raise KeyError_(
                f"{folder / ROLES_FILE}: the {role} threshold must be 1 to {len(keys.signers[role])}"
            )
        keys.thresholds[role] = value
    return keys
