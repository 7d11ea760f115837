"""Build a small offline Windows root from real registry hives, for collector tests.

The hives are real files (decompressed from the registry hive fixtures beside the clone) with
keys merged in by `hivexregedit`, so the offline collectors parse genuine hive structures,
not mocks. A SOFTWARE hive is made from a real NTUSER.DAT: a parser reads paths relative to
the hive root, so merged `Microsoft\\Windows\\...` keys behave exactly as in a SOFTWARE hive.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import lzma
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

HIVES = "windows-hives"
USER = "alice"
COMPUTER_NAME = "KL-WKS-042"
LAST_UPDATE = 1705046720  # 2024-01-12T08:05:20Z, stored as a DWORD like the product does
CERT_SUBJECT_CN = "Kaspersky Anti-Virus Personal Root Certificate"

KES_GUID = "{9A017278-F7F4-4DF9-A482-0B9B2D6B3C4E}"
NAGENT_GUID = "{2924BEDA-E0D7-4DAF-A224-50D2E0B12F5B}"
BARE_GUID = "{11111111-2222-3333-4444-555555555555}"

UNINSTALL = r"Microsoft\Windows\CurrentVersion\Uninstall"


def hivexregedit() -> str:
    """Path of hivexregedit, or skip the calling test with the reason."""
    exe = shutil.which("hivexregedit")
    if exe is None:
        pytest.skip("hivexregedit is not installed (Debian/Ubuntu: apt-get install libwin-hivex-perl)")
    return exe


def reg_string(value: str) -> str:
    """A REG_SZ value for hivexregedit: ASCII as a quoted string, anything else as hex(1)."""
    if value.isascii():
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return "hex(1):" + _hex((value + "\0").encode("utf-16-le"))


def reg_expand(value: str) -> str:
    """A REG_EXPAND_SZ value (UTF-16LE + NUL)."""
    return "hex(2):" + _hex((value + "\0").encode("utf-16-le"))


def reg_dword(value: int) -> str:
    return f"dword:{value:08x}"


def reg_binary(value: bytes) -> str:
    return "hex:" + _hex(value)


def _hex(data: bytes) -> str:
    """Comma-separated hex, wrapped with `\\` continuation lines as regedit writes them."""
    parts = [f"{b:02x}" for b in data]
    lines = [",".join(parts[i : i + 24]) for i in range(0, len(parts), 24)]
    return ",\\\n  ".join(lines)


Keys = list[tuple[str, dict[str, str]]]


def _with_parents(keys: Keys) -> Keys:
    """Add every missing parent key before its children (hivexregedit needs them)."""
    out: Keys = []
    seen: set[str] = set()
    for path, values in keys:
        parts = path.split("\\")
        for i in range(1, len(parts)):
            parent = "\\".join(parts[:i])
            if parent.lower() not in seen:
                seen.add(parent.lower())
                out.append((parent, {}))
        if path.lower() in seen:
            out = [(p, {**v, **values}) if p.lower() == path.lower() else (p, v) for p, v in out]
        else:
            seen.add(path.lower())
            out.append((path, values))
    return out


def merge(hive: Path, prefix: str, keys: Keys) -> None:
    """Merge keys (paths relative to the hive root) into a hive file with hivexregedit."""
    lines = ["Windows Registry Editor Version 5.00", ""]
    for path, values in _with_parents(keys):
        lines.append(f"[\\{path}]")
        lines.extend(f'"{name}"={value}' for name, value in values.items())
        lines.append("")
    regfile = hive.with_name(hive.name + ".reg")
    regfile.write_text("\n".join(lines) + "\n", encoding="ascii")
    try:
        subprocess.run(
            [hivexregedit(), "--merge", "--prefix", prefix, str(hive), str(regfile)],
            check=True,
            capture_output=True,
            text=True,
        )
    finally:
        regfile.unlink()


def unpack(shared_fixtures: Path, name: str, dest: Path) -> Path:
    """Decompress one of the xz hive fixtures to `dest`, reading it in place."""
    src = shared_fixtures / HIVES / name
    if not src.is_file():
        pytest.skip(f"registry hive fixture {name} is missing")
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(lzma.decompress(src.read_bytes()))
    return dest


@functools.lru_cache(maxsize=1)
def root_certificate_der() -> bytes:
    """A self-signed test root with the subject Kaspersky's HTTPS-scanning root uses."""
    crypto = pytest.importorskip("cryptography")
    del crypto
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "RU"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "AO Kaspersky Lab"),
            x509.NameAttribute(NameOID.COMMON_NAME, CERT_SUBJECT_CN),
        ]
    )
    start = dt.datetime(2023, 1, 1, tzinfo=dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(0x4B4C)
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


def cert_thumbprint() -> str:
    return hashlib.sha1(root_certificate_der()).hexdigest().upper()


def cert_blob(der: bytes) -> bytes:
    """The `Blob` value of a system-store certificate: (prop id, 1, length, data) records."""
    sha1 = hashlib.sha1(der).digest()
    out = b""
    for prop_id, data in ((0x03, sha1), (0x20, der)):
        out += struct.pack("<III", prop_id, 1, len(data)) + data
    return out


def _app(name: str, version: str, publisher: str, **more: str) -> dict[str, str]:
    values = {"DisplayName": reg_string(name), "DisplayVersion": reg_string(version)}
    values["Publisher"] = reg_string(publisher)
    for k, v in more.items():
        values[k] = reg_string(v)
    return values


def software_keys(kaspersky: bool) -> Keys:
    keys: Keys = [
        (
            rf"{UNINSTALL}\7-Zip",
            _app(
                "7-Zip 23.01 (x64)",
                "23.01",
                "Igor Pavlov",
                InstallLocation="C:\\Program Files\\7-Zip\\",
                UninstallString='"C:\\Program Files\\7-Zip\\Uninstall.exe"',
            ),
        ),
        (
            rf"WOW6432Node\{UNINSTALL}\Google Chrome",
            _app("Google Chrome", "120.0.6099.130", "Google LLC", InstallDate="20231220"),
        ),
        (rf"{UNINSTALL}\{BARE_GUID}", {"WindowsInstaller": reg_dword(1)}),
        (r"Google\Update", {"path": reg_string("C:\\Program Files (x86)\\Google\\Update")}),
    ]
    if kaspersky:
        keys += [
            (
                rf"WOW6432Node\{UNINSTALL}\{KES_GUID}",
                _app(
                    "Kaspersky Endpoint Security for Windows",
                    "12.5.0.539",
                    "AO Kaspersky Lab",
                    InstallLocation="C:\\Program Files (x86)\\Kaspersky Lab\\Kaspersky Endpoint Security for Windows\\",
                    UninstallString=f"MsiExec.exe /X{KES_GUID}",
                    InstallDate="20240115",
                ),
            ),
            (
                rf"WOW6432Node\{UNINSTALL}\{NAGENT_GUID}",
                _app(
                    "Kaspersky Security Center Network Agent",
                    "15.0.0.12912",
                    "AO Kaspersky Lab",
                    InstallLocation="C:\\Program Files (x86)\\Kaspersky Lab\\NetworkAgent\\",
                ),
            ),
            (
                rf"{UNINSTALL}\AVP21.3",
                _app("Антивирус Касперского", "21.3.10.391", "АО «Лаборатория Касперского»"),
            ),
            (r"KasperskyLab\protected\AVP21.3\Data", {"LastSuccessfulUpdate": reg_dword(LAST_UPDATE)}),
            (r"KasperskyLab\protected\AVP21.3\settings", {"SettingsVersion": reg_dword(1)}),
            (r"WOW6432Node\KasperskyLab\Components\34\1103\1.0.0.0", {"Version": reg_string("15.0.0.12912")}),
        ]
        try:
            der = root_certificate_der()
        except pytest.skip.Exception:
            der = b""
        if der:
            thumb = hashlib.sha1(der).hexdigest().upper()
            blob = {"Blob": reg_binary(cert_blob(der))}
            keys.append((rf"Microsoft\SystemCertificates\ROOT\Certificates\{thumb}", blob))
    return keys


def _service(type_: int, start: int, image: str, display: str, group: str | None = None) -> dict[str, str]:
    values = {"Type": reg_dword(type_), "Start": reg_dword(start), "ErrorControl": reg_dword(1)}
    values["ImagePath"] = reg_expand(image)
    values["DisplayName"] = reg_string(display)
    if group:
        values["Group"] = reg_string(group)
    return values


def system_keys(kaspersky: bool) -> Keys:
    keys: Keys = [
        (r"ControlSet001\Control\ComputerName\ComputerName", {"ComputerName": reg_string(COMPUTER_NAME)}),
        (r"ControlSet002\Control\ComputerName\ComputerName", {"ComputerName": reg_string("OLD-NAME")}),
    ]
    if kaspersky:
        nagent = '"C:\\Program Files (x86)\\Kaspersky Lab\\NetworkAgent\\klnagent.exe"'
        avp = '"C:\\Program Files (x86)\\Kaspersky Lab\\Kaspersky Anti-Virus 21.3\\avp.exe" -r'
        keys += [
            (
                r"ControlSet001\Services\klif",
                _service(2, 1, "system32\\DRIVERS\\klif.sys", "Kaspersky Lab KLIF", "FSFilter Anti-Virus"),
            ),
            (
                r"ControlSet001\Services\klnagent",
                _service(0x10, 2, nagent, "Kaspersky Security Center Network Agent"),
            ),
            (r"ControlSet001\Services\AVP21.3", _service(0x10, 2, avp, "Kaspersky Anti-Virus Service 21.3")),
            (
                r"ControlSet001\Services\KSDE1.0.0",
                _service(1, 3, "system32\\DRIVERS\\ksde.sys", "Kaspersky Lab KSDE 1.0.0", "NDIS"),
            ),
        ]
    return keys


def user_keys(kaspersky: bool) -> Keys:
    if not kaspersky:
        return [(r"Software\Microsoft\Windows\CurrentVersion\Run", {})]
    return [
        (
            rf"Software\{UNINSTALL}\Kaspersky Password Manager",
            _app("Kaspersky Password Manager", "24.0.0.427", "AO Kaspersky Lab"),
        ),
        (r"Software\KasperskyLab\AVP21.3", {"LastLicenseNotificationTime": reg_dword(LAST_UPDATE)}),
    ]


FOLDERS_COMMON = ("Program Files/7-Zip", "Program Files (x86)/Google/Chrome", "ProgramData/Microsoft")
FOLDERS_KASPERSKY = (
    "Program Files (x86)/Kaspersky Lab/Kaspersky Endpoint Security for Windows",
    "Program Files (x86)/Kaspersky Lab/NetworkAgent",
    "ProgramData/Kaspersky Lab/AVP21.3",
)


def build_windows_root(path: Path, shared_fixtures: Path, *, kaspersky: bool = True) -> Path:
    """Create an offline Windows root at `path` and return it.

    Holds `Windows/System32/config/{SOFTWARE,SYSTEM}`, `Users/alice/NTUSER.DAT`, a
    `Users/Public` folder without a hive, and Program Files folders. With `kaspersky`
    the hives and folders carry Kaspersky products; without it only ordinary software.
    """
    hivexregedit()
    config = path / "Windows" / "System32" / "config"
    software = unpack(shared_fixtures, "NTUSER.DAT.xz", config / "SOFTWARE")
    merge(software, r"HKEY_LOCAL_MACHINE\SOFTWARE", software_keys(kaspersky))
    system = unpack(shared_fixtures, "SYSTEM.xz", config / "SYSTEM")
    merge(system, r"HKEY_LOCAL_MACHINE\SYSTEM", system_keys(kaspersky))
    ntuser = unpack(shared_fixtures, "NTUSER.DAT.xz", path / "Users" / USER / "NTUSER.DAT")
    merge(ntuser, r"HKEY_CURRENT_USER", user_keys(kaspersky))
    (path / "Users" / "Public" / "Documents").mkdir(parents=True)
    for folder in FOLDERS_COMMON + (FOLDERS_KASPERSKY if kaspersky else ()):
        (path / folder).mkdir(parents=True, exist_ok=True)
    if kaspersky:
        exe = path / "Program Files (x86)/Kaspersky Lab/NetworkAgent/klnagent.exe"
        exe.write_bytes(b"MZ test placeholder")
    return path
