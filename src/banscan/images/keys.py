"""Keys for encrypted volumes, as the credentials dfvfs unlocks them with.

Kept apart from the volume scanner so the command line can build them without loading dfvfs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

# (dfvfs credential type, value): `password`, `recovery_password`, `startup_key` (a .BEK file),
# `key_data`; each volume is offered only the types its format accepts.
Credential = tuple[str, str]


def credentials_from(keys: Sequence[str], recovery_passwords: Sequence[str]) -> list[Credential]:
    """What `--key` and `--recovery-password` offer each encrypted volume: a key is tried as a
    password or passphrase (BitLocker, LUKS), as a BitLocker startup key (.BEK) when it names
    a file, and as raw key data when it is hex; each volume takes the kinds its format knows."""
    out: list[Credential] = []
    for key in keys:
        out.append(("password", key))
        if Path(key).is_file():
            out.append(("startup_key", key))
        if len(key) in (32, 64, 128) and all(c in "0123456789abcdefABCDEF" for c in key):
            out.append(("key_data", key))
    out.extend(("recovery_password", value) for value in recovery_passwords)
    return out
