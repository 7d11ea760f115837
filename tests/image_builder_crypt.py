"""Encrypted volumes built without root or device-mapper: LUKS and BitLocker (below).

`cryptsetup luksFormat` writes a LUKS header to a regular file with no kernel help; only
opening it (`cryptsetup open`) needs dm-crypt. So the header is written by cryptsetup, with
a volume key chosen here (`--volume-key-file`), and the payload is encrypted here, as
dm-crypt would: AES-XTS (`aes-xts-plain64`) over 512-byte sectors, the tweak being the sector
number from the start of the payload (64-bit little-endian, padded to 16 bytes). The header
is read back to learn where the payload starts and which cipher it names, so a cryptsetup
that chose otherwise fails the build rather than producing an unreadable volume.

The key-slot key derivation is PBKDF2 with 1000 iterations (the least cryptsetup takes) to
keep building fast; the volume is otherwise what a distribution installer makes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from image_builder import SECTOR, run

LUKS_MAGIC = b"LUKS\xba\xbe"
HEADROOM = 16 * 1024 * 1024  # room for any header cryptsetup writes before the payload


def cryptsetup() -> str:
    """The cryptsetup command, or skip the calling test saying what to install."""
    path = os.environ.get("PATH", "") + os.pathsep + "/usr/sbin:/sbin"
    found = shutil.which("cryptsetup", path=path)
    if found is None:
        pytest.skip(
            "cryptsetup is not installed (Debian/Ubuntu: apt-get install cryptsetup-bin; "
            "or run scripts/install-system-deps)"
        )
    return found


@dataclass(frozen=True)
class LuksHeader:
    version: int
    cipher: str  # "aes-xts-plain64"
    key_bytes: int
    payload_offset: int  # bytes
    sector_size: int


def read_header(path: Path) -> LuksHeader:
    """What a LUKS1 or LUKS2 header says about the payload."""
    with path.open("rb") as fh:
        head = fh.read(4096)
        if not head.startswith(LUKS_MAGIC):
            raise ValueError(f"{path}: no LUKS header")
        version = struct.unpack_from(">H", head, 6)[0]
        if version == 1:
            name = head[8:40].rstrip(b"\0").decode()
            mode = head[40:72].rstrip(b"\0").decode()
            offset, key_bytes = struct.unpack_from(">II", head, 104)
            return LuksHeader(1, f"{name}-{mode}", key_bytes, offset * SECTOR, SECTOR)
        header_size = struct.unpack_from(">Q", head, 8)[0]
        fh.seek(4096)
        area = fh.read(header_size - 4096)
    meta = json.loads(area.rstrip(b"\0"))
    segment = meta["segments"]["0"]
    slot = next(iter(meta["keyslots"].values()))
    return LuksHeader(
        2, segment["encryption"], int(slot["key_size"]), int(segment["offset"]), int(segment["sector_size"])
    )


def xts_encrypt(key: bytes, data: bytes, sector_size: int = SECTOR) -> bytes:
    """aes-xts-plain64 as dm-crypt applies it: each sector on its own, tweaked by its number."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    if len(data) % sector_size:
        data += bytes(sector_size - len(data) % sector_size)
    out = bytearray()
    for number, start in enumerate(range(0, len(data), sector_size)):
        tweak = number.to_bytes(16, "little")
        encryptor = Cipher(algorithms.AES(key), modes.XTS(tweak)).encryptor()
        out += encryptor.update(data[start : start + sector_size]) + encryptor.finalize()
    return bytes(out)


def luks_volume(payload: Path, out: Path, passphrase: str, *, version: int = 1) -> Path:
    """A LUKS volume (`version` 1 or 2) whose decrypted content is the file system `payload`,
    unlocked by `passphrase`."""
    pytest.importorskip("cryptography", reason="the cryptography package encrypts the payload")
    tool = cryptsetup()
    key = hashlib.sha512(f"volume key of {out.name}".encode()).digest()  # AES-256-XTS: 64 bytes
    secrets = out.with_name(out.name + ".secrets")
    secrets.mkdir(exist_ok=True)
    key_file, volume_key = secrets / "passphrase", secrets / "volume-key"
    key_file.write_bytes(passphrase.encode())
    volume_key.write_bytes(key)
    size = payload.stat().st_size
    with out.open("wb") as fh:
        fh.truncate(HEADROOM + size)
    args: list[str | Path] = [tool, "luksFormat", "--batch-mode", "--type", f"luks{version}"]
    args += ["--cipher", "aes-xts-plain64", "--key-size", "512", "--hash", "sha256"]
    args += ["--pbkdf-force-iterations", "1000", "--key-file", key_file, _volume_key_option(tool), volume_key]
    if version == 2:
        args += ["--pbkdf", "pbkdf2", "--sector-size", "512"]
        args += ["--luks2-metadata-size", "16k", "--luks2-keyslots-size", "256k"]
    run(*args, out)
    shutil.rmtree(secrets)
    header = read_header(out)
    if (header.cipher, header.key_bytes, header.sector_size) != ("aes-xts-plain64", 64, SECTOR):
        raise ValueError(
            f"{out}: cryptsetup wrote {header}, not aes-xts-plain64 / 512 bits / 512-byte sectors"
        )
    with out.open("r+b") as fh:
        fh.truncate(header.payload_offset + size)
        fh.seek(header.payload_offset)
        fh.write(xts_encrypt(key, payload.read_bytes()))
    return out


def _volume_key_option(tool: str) -> str:
    """`--volume-key-file` (cryptsetup 2.4 and later) or its older name `--master-key-file`."""
    usage = subprocess.run([tool, "--help"], capture_output=True, text=True, timeout=30).stdout
    return "--volume-key-file" if "--volume-key-file" in usage else "--master-key-file"


# ---- BitLocker ----------------------------------------------------------------------------------
#
# No Linux tool makes BitLocker volumes, and the public test images are larger than a test should
# carry; the volume is written here from the format as libbde documents and reads it (Windows 7
# and later layout, XTS-AES 128 as Windows 10 and 11 use by default):
#
# - sector 0: the BitLocker volume header (`-FVE-FS-`, the BitLocker GUID at 160 and the
#   offsets of the three FVE metadata blocks at 176, 184 and 192);
# - three FVE metadata blocks of 64 KiB, in clear: block header (version 2, the encrypted size,
#   16 volume-header sectors and where they went), metadata header (volume GUID, encryption
#   method 0x8004, creation time) and entries: a VMK protected by the password, a VMK
#   protected by the recovery password, the FVEK encrypted with the VMK, the location of the
#   volume header block and the drive description;
# - a key protected by a password or recovery password is AES-CCM-encrypted (12-byte nonce,
#   the 16-byte MAC first) under a stretched key: SHA-256 over (last hash, initial hash, salt,
#   counter) 0x100000 times, the initial hash being SHA-256 of SHA-256 of the UTF-16LE password,
#   or SHA-256 of the 16 bytes the recovery password's eight groups (each a multiple of 11)
#   stand for;
# - every other sector is AES-XTS encrypted with the FVEK, tweaked by its sector number; the
#   file system's first 8 KiB are stored (encrypted at their new place) in the volume header
#   block, and the reader sees zeros where the metadata and that block lie, so they are put
#   after the end of the file system.

BDE_GUID = bytes.fromhex("3bd66749292ed84a8399f6a339e3d001")  # 4967d63b-2e29-4ad8-8399-f6a339e3d001
XTS_AES_128 = 0x8004
PROTECTED_BY_RECOVERY_PASSWORD = 0x0800
PROTECTED_BY_PASSWORD = 0x2000
METADATA_BLOCK = 64 * 1024
HEADER_BLOCK = 8192  # the file system's first 16 sectors
FILETIME = 133_852_608_000_000_000  # 2025-03-01 00:00 UTC
STRETCH_ROUNDS = 0x100000


@dataclass(frozen=True)
class BitLockerKeys:
    password: str
    recovery_password: str  # eight groups of six digits


def recovery_password_for(seed: str) -> str:
    """A valid recovery password: eight 16-bit values, each written times 11 in six digits."""
    digest = hashlib.sha256(seed.encode()).digest()
    values = struct.unpack("<8H", digest[:16])
    return "-".join(f"{v * 11:06d}" for v in values)


def _stretch(initial: bytes, salt: bytes) -> bytes:
    last = bytes(32)
    for count in range(STRETCH_ROUNDS):
        last = hashlib.sha256(last + initial + salt + count.to_bytes(8, "little")).digest()
    return last


def _password_key(password: str, salt: bytes) -> bytes:
    once = hashlib.sha256(password.encode("utf-16-le")).digest()
    return _stretch(hashlib.sha256(once).digest(), salt)


def _recovery_key(recovery_password: str, salt: bytes) -> bytes:
    values = [int(group) // 11 for group in recovery_password.split("-")]
    return _stretch(hashlib.sha256(struct.pack("<8H", *values)).digest(), salt)


def _entry(kind: int, value_type: int, value: bytes) -> bytes:
    return struct.pack("<HHHH", 8 + len(value), kind, value_type, 1) + value


def _ccm_key(key: bytes, nonce_counter: int, method: int, secret: bytes) -> bytes:
    """An AES-CCM encrypted key entry's value: nonce, then MAC and key container encrypted."""
    from cryptography.hazmat.primitives.ciphers.aead import AESCCM

    nonce = FILETIME.to_bytes(8, "little") + nonce_counter.to_bytes(4, "little")
    container = struct.pack("<IHHI", 12 + len(secret), 1, 0, method) + secret
    sealed = AESCCM(key, tag_length=16).encrypt(nonce, container, None)
    return nonce + sealed[-16:] + sealed[:-16]  # BitLocker stores the MAC first


def _volume_master_key(
    identifier: bytes, protection: int, salt: bytes, key: bytes, vmk: bytes, nonce: int
) -> bytes:
    head = identifier + FILETIME.to_bytes(8, "little") + struct.pack("<HH", 0, protection)
    stretch = _entry(0, 0x0003, struct.pack("<I", 0x1001) + salt)
    sealed = _entry(0, 0x0005, _ccm_key(key, nonce, 0x2000, vmk))
    return _entry(0x0002, 0x0008, head + stretch + sealed)


def bitlocker_volume(payload: Path, out: Path, keys: BitLockerKeys, *, description: str = "") -> Path:
    """A BitLocker volume (XTS-AES 128) holding the file system `payload`, unlocked by
    `keys.password` or `keys.recovery_password`."""
    pytest.importorskip("cryptography", reason="the cryptography package encrypts the volume")
    data = payload.read_bytes()
    size = -(-len(data) // SECTOR) * SECTOR
    data += bytes(size - len(data))
    metadata = [size + i * METADATA_BLOCK for i in range(3)]
    header_block = size + 3 * METADATA_BLOCK
    total = header_block + HEADER_BLOCK
    seed = hashlib.sha256(out.name.encode()).digest()
    vmk, fvek = hashlib.sha256(seed + b"vmk").digest(), hashlib.sha256(seed + b"fvek").digest()
    salts = hashlib.sha256(seed + b"salts").digest()
    password_salt, recovery_salt = salts[:16], salts[16:]
    entries = _volume_master_key(
        seed[:16], PROTECTED_BY_PASSWORD, password_salt, _password_key(keys.password, password_salt), vmk, 1
    )
    entries += _volume_master_key(
        seed[16:],
        PROTECTED_BY_RECOVERY_PASSWORD,
        recovery_salt,
        _recovery_key(keys.recovery_password, recovery_salt),
        vmk,
        2,
    )
    entries += _entry(0x0003, 0x0005, _ccm_key(vmk, 3, XTS_AES_128, fvek))
    entries += _entry(0x000F, 0x000F, struct.pack("<QQ", header_block, HEADER_BLOCK))
    if description:
        entries += _entry(0x0007, 0x0002, (description + "\0").encode("utf-16-le"))
    meta_size = 48 + len(entries)
    meta_header = struct.pack("<IIII", meta_size, 1, 48, meta_size) + seed[:16]
    meta_header += struct.pack("<IHHQ", 4, XTS_AES_128, 0, FILETIME)
    block_header = b"-FVE-FS-" + struct.pack("<HHHHQII", 0, 2, 4, 4, total, 0, HEADER_BLOCK // SECTOR)
    block_header += struct.pack("<QQQQ", *metadata, header_block)
    block = block_header + meta_header + entries

    image = bytearray(total)
    image[HEADER_BLOCK:size] = _xts_at(fvek, data[HEADER_BLOCK:size], HEADER_BLOCK)
    image[header_block:total] = _xts_at(fvek, data[:HEADER_BLOCK], header_block)
    for offset in metadata:
        image[offset : offset + len(block)] = block
    image[0:SECTOR] = _bitlocker_header(metadata)
    out.write_bytes(bytes(image))
    return out


def _xts_at(key: bytes, data: bytes, offset: int) -> bytes:
    """`data` encrypted as the sectors it occupies at `offset` (each tweaked by its number)."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    out = bytearray()
    first = offset // SECTOR
    for index in range(len(data) // SECTOR):
        encryptor = Cipher(algorithms.AES(key), modes.XTS((first + index).to_bytes(16, "little"))).encryptor()
        out += encryptor.update(data[index * SECTOR : (index + 1) * SECTOR]) + encryptor.finalize()
    return bytes(out)


def _bitlocker_header(metadata: list[int]) -> bytes:
    """Sector 0 as Windows 7 and later write it: a FAT32-like boot sector naming -FVE-FS-."""
    header = bytearray(SECTOR)
    header[0:11] = b"\xeb\x58\x90-FVE-FS-"
    struct.pack_into("<HB", header, 11, SECTOR, 8)  # bytes per sector, sectors per cluster
    header[21] = 0xF8  # fixed disk
    struct.pack_into("<HH", header, 24, 0x3F, 0xFF)  # sectors per track, heads
    header[64], header[66] = 0x80, 0x29
    struct.pack_into("<I", header, 67, 0x2B5E_17C4)  # volume serial number
    header[71:90] = b"NO NAME    FAT32   "
    header[160:176] = BDE_GUID
    struct.pack_into("<QQQ", header, 176, *metadata)
    header[510:512] = b"\x55\xaa"
    return bytes(header)
