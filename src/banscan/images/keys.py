"""Keys for encrypted volumes, as the credentials dfvfs unlocks them with.

Kept apart from the volume scanner so the command line can build them without loading dfvfs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

# (dfvfs credential type, value): `password`, `recovery_password`, `startup_key` (a .BEK file),
# `key_data`; each volume is offered only the types its format accepts.
Credential = tuple[str, str]


KEY_FILE_MAX = 8192  # bytes: a passphrase file is small; a larger file is no passphrase


def credentials_from(keys: Sequence[str], recovery_passwords: Sequence[str]) -> list[Credential]:
    """What `--key` and `--recovery-password` offer each encrypted volume: a key is tried as a
    password or passphrase (BitLocker, LUKS); when it names a file, as a BitLocker startup key
    (.BEK) and, if the file holds text, as the passphrase it holds (a LUKS key file, as
    `cryptsetup --key-file` and crypttab read it: every byte, newline included); and as raw
    key data when it is hex. Each volume takes the kinds its format knows."""
    out: list[Credential] = []
    for key in keys:
        out.append(("password", key))
        if Path(key).is_file():
            out.append(("startup_key", key))
            held = _passphrase_in(Path(key))
            if held is not None:
                out.append(("password", held))
        if len(key) in (32, 64, 128) and all(c in "0123456789abcdefABCDEF" for c in key):
            out.append(("key_data", key))
    out.extend(("recovery_password", value) for value in recovery_passwords)
    return out


def _passphrase_in(path: Path) -> str | None:
    """The text of a small file of printable text (tabs and line ends allowed), else None: a
    startup key or a random binary key file is no passphrase."""
    try:
        with path.open("rb") as fh:
            data = fh.read(KEY_FILE_MAX + 1)
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    if not text or len(data) > KEY_FILE_MAX or any(c < " " and c not in "\t\r\n" for c in text):
        return None
    return text
