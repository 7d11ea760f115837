"""Builders for the deep-scan test binaries: PE (mingw-w64 + windres, signed with
osslsigncode), ELF (gcc), APK (a hand-encoded binary AndroidManifest.xml), Mach-O (a
synthetic image with a code signature), archives, hostile inputs and a decoy folder.

Everything is built into a temporary folder at test time; nothing binary is committed.
"""

from __future__ import annotations

import datetime as dt
import io
import shutil
import struct
import subprocess
import zipfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

MINGW_GCC = "x86_64-w64-mingw32-gcc"
MINGW_WINDRES = "x86_64-w64-mingw32-windres"
KASPERSKY_SUBJECT = [("CN", "AO Kaspersky Lab"), ("O", "AO Kaspersky Lab"), ("C", "RU")]

_OIDS = {
    "CN": NameOID.COMMON_NAME,
    "O": NameOID.ORGANIZATION_NAME,
    "C": NameOID.COUNTRY_NAME,
    "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
}


def missing(*tools: str) -> str | None:
    """A skip reason naming the first missing tool, or None."""
    for t in tools:
        if shutil.which(t) is None:
            return f"{t} is not installed (apt-get install mingw-w64 osslsigncode)"
    return None


# -- certificates --------------------------------------------------------------------------


def make_cert(subject: list[tuple[str, str]]) -> tuple[bytes, bytes, x509.Certificate, rsa.RSAPrivateKey]:
    """A self-signed code-signing certificate: (cert PEM, key PEM, cert, key)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(_OIDS[k], v) for k, v in reversed(subject)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(0x1234ABCD)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return cert_pem, key_pem, cert, key


# -- PE ------------------------------------------------------------------------------------

_RC = """1 VERSIONINFO
FILEVERSION 12,5,0,539
PRODUCTVERSION 12,5,0,539
FILEOS 0x40004
FILETYPE 0x1
BEGIN
  BLOCK "StringFileInfo"
  BEGIN
    BLOCK "040904b0"
    BEGIN
      VALUE "CompanyName", "{company}"
      VALUE "FileDescription", "{product}"
      VALUE "ProductName", "{product}"
      VALUE "ProductVersion", "12.5.0.539"
      VALUE "OriginalFilename", "{original}"
      VALUE "LegalCopyright", "{copyright}"
    END
  END
  BLOCK "VarFileInfo"
  BEGIN
    VALUE "Translation", 0x409, 1200
  END
END
"""


def build_pe(out: Path, *, company: str, product: str, original: str, copyright: str) -> Path:
    work = out.parent / (out.stem + "-build")
    work.mkdir(parents=True, exist_ok=True)
    (work / "main.c").write_text("int main(void) { return 0; }\n")
    (work / "version.rc").write_text(
        _RC.format(company=company, product=product, original=original, copyright=copyright)
    )
    subprocess.run([MINGW_WINDRES, "version.rc", "-O", "coff", "-o", "version.o"], cwd=work, check=True)
    subprocess.run([MINGW_GCC, "-s", "-o", str(out), "main.c", "version.o"], cwd=work, check=True)
    return out


def sign_pe(src: Path, out: Path, cert_pem: bytes, key_pem: bytes) -> Path:
    work = out.parent / (out.stem + "-sign")
    work.mkdir(parents=True, exist_ok=True)
    (work / "cert.pem").write_bytes(cert_pem)
    (work / "key.pem").write_bytes(key_pem)
    subprocess.run(
        ["osslsigncode", "sign", "-certs", "cert.pem", "-key", "key.pem", "-h", "sha256",
         "-n", "Agent", "-in", str(src), "-out", str(out)],
        cwd=work, check=True, capture_output=True,
    )  # fmt: skip
    return out


# -- ELF -----------------------------------------------------------------------------------


def build_elf(out: Path, text: str) -> Path:
    work = out.parent / (out.stem + "-build")
    work.mkdir(parents=True, exist_ok=True)
    (work / "m.c").write_text(
        f'#include <stdio.h>\nconst char *cert_name = "{text}";\n'
        "int main(void) { puts(cert_name); return 0; }\n"
    )
    subprocess.run(["gcc", "-o", str(out), "m.c"], cwd=work, check=True)
    return out


# -- Android binary XML --------------------------------------------------------------------

ANDROID_NS = "http://schemas.android.com/apk/res/android"


def axml_manifest(package: str, version_name: str = "1.0") -> bytes:
    """A binary AndroidManifest.xml: <manifest package=… android:versionName=…/> (UTF-16 pool)."""
    strings = ["android", ANDROID_NS, "manifest", "package", "versionName", package, version_name]
    idx = {s: i for i, s in enumerate(strings)}
    # string pool
    offsets, body = [], b""
    for s in strings:
        offsets.append(len(body))
        enc = s.encode("utf-16-le")
        body += struct.pack("<H", len(s)) + enc + b"\x00\x00"
    while len(body) % 4:
        body += b"\x00"
    hsize = 28
    strings_start = hsize + 4 * len(strings)
    pool = struct.pack(
        "<HHIIIIII", 0x0001, hsize, strings_start + len(body), len(strings), 0, 0, strings_start, 0
    )
    pool += b"".join(struct.pack("<I", o) for o in offsets) + body
    # resource map for the android: attribute (versionName = 0x0101021c)
    resmap = struct.pack("<HHI", 0x0180, 8, 12) + struct.pack("<I", 0x0101021C)
    ns_start = struct.pack("<HHIII", 0x0100, 16, 24, 1, 0xFFFFFFFF) + struct.pack(
        "<II", idx["android"], idx[ANDROID_NS]
    )

    def attr(ns: int, name: str, value: str) -> bytes:
        return struct.pack("<IIIHBBI", ns, idx[name], idx[value], 8, 0, 0x03, idx[value])

    attrs = attr(0xFFFFFFFF, "package", package) + attr(idx[ANDROID_NS], "versionName", version_name)
    ext = struct.pack("<IIHHHHHH", 0xFFFFFFFF, idx["manifest"], 20, 20, 2, 0, 0, 0)
    el_body = struct.pack("<II", 1, 0xFFFFFFFF) + ext + attrs
    start = struct.pack("<HHI", 0x0102, 16, 8 + len(el_body)) + el_body
    end_body = struct.pack("<II", 1, 0xFFFFFFFF) + struct.pack("<II", 0xFFFFFFFF, idx["manifest"])
    end = struct.pack("<HHI", 0x0103, 16, 8 + len(end_body)) + end_body
    ns_end = struct.pack("<HHIII", 0x0101, 16, 24, 1, 0xFFFFFFFF) + struct.pack(
        "<II", idx["android"], idx[ANDROID_NS]
    )
    chunks = pool + resmap + ns_start + start + end + ns_end
    return struct.pack("<HHI", 0x0003, 8, 8 + len(chunks)) + chunks


def build_apk(package: str, subject: list[tuple[str, str]] | None = None, dex_text: str = "") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("AndroidManifest.xml", axml_manifest(package, "2.5.1"))
        dex = b"dex\n035\x00" + b"\x00" * 104 + dex_text.encode() + b"\x00" * 16
        z.writestr("classes.dex", dex)
        z.writestr("res/values/strings.txt", "Kaspersky " * 50)
        manifest = b"Manifest-Version: 1.0\r\nCreated-By: test\r\n\r\n"
        z.writestr("META-INF/MANIFEST.MF", manifest)
        if subject is not None:
            _, _, cert, key = make_cert(subject)
            block = (
                pkcs7.PKCS7SignatureBuilder()
                .set_data(manifest)
                .add_signer(cert, key, hashes.SHA256())
                .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.DetachedSignature])
            )
            z.writestr("META-INF/CERT.SF", manifest)
            z.writestr("META-INF/CERT.RSA", block)
    return buf.getvalue()


# -- Mach-O --------------------------------------------------------------------------------


def build_macho(identifier: str, team_id: str) -> bytes:
    """A 64-bit little-endian Mach-O with an LC_CODE_SIGNATURE whose CodeDirectory carries
    `identifier` and `team_id` (no code; enough for the signature parser)."""
    ident = identifier.encode() + b"\x00"
    team = team_id.encode() + b"\x00"
    cd_hdr = 52
    cd = struct.pack(
        ">IIIIIIIIIBBBBIII",
        0xFADE0C02,
        0,
        0x20200,
        0,
        0,
        cd_hdr,
        0,
        0,
        0,
        32,
        2,
        0,
        12,
        0,
        0,
        cd_hdr + len(ident),
    )
    cd = cd + ident + team
    cd = cd[:4] + struct.pack(">I", len(cd)) + cd[8:]
    superblob = struct.pack(">III", 0xFADE0CC0, 12 + 8 + len(cd), 1) + struct.pack(">II", 0, 20) + cd
    sig_off = 4096
    lc = struct.pack("<IIII", 0x1D, 16, sig_off, len(superblob))
    header = struct.pack("<IiiIIIII", 0xFEEDFACF, 0x01000007, 3, 2, 1, len(lc), 0, 0)
    body = header + lc
    return body + b"\x00" * (sig_off - len(body)) + superblob


# -- hostile inputs and decoys --------------------------------------------------------------


def zip_bomb(path: Path, size: int = 200 * 1024 * 1024) -> Path:
    chunk = b"\x00" * (4 * 1024 * 1024)
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z,
        z.open("zeros.bin", "w") as fh,
    ):
        for _ in range(size // len(chunk)):
            fh.write(chunk)
    return path


def decoy_folder(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    para = (
        "Kaspersky Lab and AO Kaspersky Lab products were banned; Kaspersky Endpoint Security for "
        "Windows, Kaspersky Anti-Virus Personal Root Certificate, com.kaspersky.who_calls. "
    )
    (folder / "article.html").write_text(
        "<!DOCTYPE html><html><head><title>Kaspersky ban</title></head><body>"
        + "".join(f"<p>{para}</p>" for _ in range(100))
        + "</body></html>"
    )
    (folder / "article.txt").write_text(para * 100)
    (folder / "processes.txt").write_text(
        "\n".join(
            [
                "avp.exe",
                "avpui.exe",
                "kavtray.exe",
                "klnagent.exe",
                "kavfs.exe",
                "ksde.exe",
                "AO Kaspersky Lab",
            ]
        )
    )
    pdf_text = "".join(f"({para}) Tj\n" for _ in range(100))
    (folder / "report.pdf").write_bytes(
        b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\nstream\n" + pdf_text.encode() + b"endstream\n%%EOF\n"
    )
    with zipfile.ZipFile(folder / "memo.docx", "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document>" + para * 100 + "</w:document>")
    (folder / "notes.md").write_text("# AO Kaspersky Lab\n" + para * 100)
    return folder
