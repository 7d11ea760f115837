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


# -- installer packages ----------------------------------------------------------------------


def build_msi_wixl(out: Path, *, name: str, manufacturer: str, version: str, product_code: str) -> Path:
    """A real MSI built by wixl (msitools) with one small file in an embedded cabinet."""
    work = out.parent / (out.stem + "-wixl")
    work.mkdir(parents=True, exist_ok=True)
    (work / "readme.txt").write_text("readme\n")
    (work / "product.wxs").write_text(
        f"""<?xml version="1.0" encoding="utf-8"?>
<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">
  <Product Id="{product_code}" Name="{name}" Language="1033" Version="{version}"
           Manufacturer="{manufacturer}" UpgradeCode="{{1D2C3B4A-5F6E-4D7C-8B9A-0F1E2D3C4B5A}}">
    <Package InstallerVersion="200" Compressed="yes" Comments="{name}"/>
    <Media Id="1" Cabinet="product.cab" EmbedCab="yes"/>
    <Directory Id="TARGETDIR" Name="SourceDir">
      <Directory Id="ProgramFilesFolder">
        <Directory Id="INSTALLDIR" Name="{name}">
          <Component Id="Main" Guid="{{2E3F4A5B-6C7D-4E8F-9A0B-1C2D3E4F5A6B}}">
            <File Id="readme" Name="readme.txt" Source="readme.txt"/>
          </Component>
        </Directory>
      </Directory>
    </Directory>
    <Feature Id="Main" Level="1"><ComponentRef Id="Main"/></Feature>
  </Product>
</Wix>
"""
    )
    subprocess.run(["wixl", "-o", str(out), "product.wxs"], cwd=work, check=True, capture_output=True)
    return out


def ar_archive(members: list[tuple[str, bytes]]) -> bytes:
    """A System V ar archive (the .deb container)."""
    out = [b"!<arch>\n"]
    for name, data in members:
        hdr = f"{name:<16}{0:<12}{0:<6}{0:<6}{'100644':<8}{len(data):<10}".encode() + b"`\n"
        out.append(hdr + data + (b"\n" if len(data) % 2 else b""))
    return b"".join(out)


def tar_bytes(files: dict[str, bytes]) -> bytes:
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as t:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755 if name.endswith(("bin/kesl", "/agent")) else 0o644
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def compress(data: bytes, how: str) -> bytes:
    import bz2
    import gzip
    import lzma

    if how == "gz":
        return gzip.compress(data, mtime=0)
    if how == "xz":
        return lzma.compress(data)
    if how == "bz2":
        return bz2.compress(data)
    if how == "zst":
        import zstandard

        return zstandard.ZstdCompressor().compress(data)
    assert how == "", how
    return data


def control_text(package: str, version: str, maintainer: str, description: str, arch: str = "amd64") -> str:
    return (
        f"Package: {package}\nVersion: {version}\nArchitecture: {arch}\nMaintainer: {maintainer}\n"
        f"Installed-Size: 12\nSection: misc\nPriority: optional\n"
        f"Description: {description}\n more text on a continuation line\n"
    )


def build_deb(
    control: str,
    data_files: dict[str, bytes] | None = None,
    *,
    compression: str = "xz",
    control_tar: bytes | None = None,
) -> bytes:
    """A .deb written here (ar + tar): debian-binary, control.tar.*, data.tar.*."""
    suffix = f".{compression}" if compression else ""
    if control_tar is None:
        control_tar = compress(tar_bytes({"./control": control.encode(), "./md5sums": b""}), compression)
    data_tar = compress(tar_bytes(data_files or {"./usr/share/doc/readme": b"readme\n"}), compression)
    return ar_archive(
        [
            ("debian-binary", b"2.0\n"),
            (f"control.tar{suffix}", control_tar),
            (f"data.tar{suffix}", data_tar),
        ]
    )


def build_deb_dpkg(out: Path, control: str, files: dict[str, bytes]) -> Path:
    """A .deb built by dpkg-deb from a staging folder."""
    stage = out.parent / (out.stem + "-stage")
    (stage / "DEBIAN").mkdir(parents=True, exist_ok=True)
    (stage / "DEBIAN" / "control").write_text(control)
    for name, data in files.items():
        p = stage / name.lstrip("./")
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    subprocess.run(
        ["dpkg-deb", "--root-owner-group", "-Zxz", "--build", str(stage), str(out)],
        check=True,
        capture_output=True,
    )
    return out


RPM_TAGS = {
    "name": 1000,
    "version": 1001,
    "release": 1002,
    "summary": 1004,
    "vendor": 1011,
    "packager": 1015,
    "arch": 1022,
}


def rpm_header_blob(tags: list[tuple[int, int, bytes, int]]) -> bytes:
    """A header structure: (tag, type, data, count) entries, data aligned as rpm does."""
    index, store = b"", b""
    for tag, typ, data, count in tags:
        if typ == 4:
            store += b"\x00" * (-len(store) % 4)
        index += struct.pack(">IIII", tag, typ, len(store), count)
        store += data
    return b"\x8e\xad\xe8\x01\x00\x00\x00\x00" + struct.pack(">II", len(tags), len(store)) + index + store


def build_rpm(fields: dict[str, str], payload: bytes = b"") -> bytes:
    """An .rpm written here: lead, signature header (SIZE), header with string tags, payload."""
    header = rpm_header_blob(
        [(RPM_TAGS[k], 6, v.encode() + b"\x00", 1) for k, v in fields.items()]
        + [(1124, 6, b"cpio\x00", 1), (1125, 6, b"gzip\x00", 1)]
    )
    import gzip

    body = payload or gzip.compress(b"07070100000000" + b"0" * 96 + b"TRAILER!!!\x00", mtime=0)
    sig = rpm_header_blob([(1000, 4, struct.pack(">I", len(header) + len(body)), 1)])
    sig += b"\x00" * (-len(sig) % 8)
    name = f"{fields.get('name', '')}-{fields.get('version', '')}".encode()[:65]
    lead = struct.pack(">4sBBhh66shh16s", b"\xed\xab\xee\xdb", 3, 0, 0, 1, name, 1, 5, b"")
    return lead + sig + header + body


def build_rpm_rpmbuild(
    out_dir: Path, *, name: str, version: str, release: str, vendor: str, summary: str
) -> Path:
    """A binary .rpm built by rpmbuild (one small file), copied to out_dir."""
    top = out_dir / (name + "-rpmbuild")
    for d in ("SPECS", "BUILD", "RPMS", "SOURCES", "SRPMS", "BUILDROOT"):
        (top / d).mkdir(parents=True, exist_ok=True)
    spec = top / "SPECS" / f"{name}.spec"
    spec.write_text(
        f"Name: {name}\nVersion: {version}\nRelease: {release}\nSummary: {summary}\n"
        f"License: Proprietary\nVendor: {vendor}\nBuildArch: x86_64\n\n"
        f"%description\n{summary}\n\n%install\nmkdir -p %{{buildroot}}/opt/vendor/{name}\n"
        f"echo readme > %{{buildroot}}/opt/vendor/{name}/readme\n\n"
        f"%files\n/opt/vendor/{name}/readme\n"
    )
    subprocess.run(
        ["rpmbuild", "-bb", "--define", f"_topdir {top}", "--define", "_build_id_links none", str(spec)],
        check=True,
        capture_output=True,
    )
    built = next((top / "RPMS").rglob("*.rpm"))
    target = out_dir / built.name
    shutil.copyfile(built, target)
    return target


def xar_archive(files: dict[str, bytes], *, toc_extra: str = "") -> bytes:
    """A xar (flat .pkg) with zlib-compressed members; "dir/name" keys become nested <file>s."""
    import hashlib
    import zlib

    heap = hashlib.sha1(b"").digest()  # placeholder for the TOC checksum (20 bytes at offset 0)
    tree: dict[str, object] = {}
    entries: dict[str, tuple[int, int, int]] = {}
    for path, data in files.items():
        packed = zlib.compress(data)
        entries[path] = (len(heap), len(packed), len(data))
        heap += packed
        node = tree
        parts = path.split("/")
        for part in parts[:-1]:
            node = node.setdefault(part, {})  # type: ignore[assignment]
        node[parts[-1]] = path
    ids = iter(range(1, 10_000))

    def render(node: dict[str, object]) -> str:
        out = ""
        for name, v in node.items():
            if isinstance(v, dict):
                out += f'<file id="{next(ids)}"><name>{name}</name><type>directory</type>{render(v)}</file>'
            else:
                off, length, size = entries[str(v)]
                out += (
                    f'<file id="{next(ids)}"><name>{name}</name><type>file</type><data>'
                    f"<length>{length}</length><offset>{off}</offset><size>{size}</size>"
                    '<encoding style="application/x-gzip"/></data></file>'
                )
        return out

    toc = (
        '<?xml version="1.0" encoding="UTF-8"?><xar><toc><checksum style="sha1"><offset>0</offset>'
        f"<size>20</size></checksum>{toc_extra}{render(tree)}</toc></xar>"
    ).encode()
    toc_c = zlib.compress(toc)
    header = struct.pack(">4sHHQQI", b"xar!", 28, 1, len(toc_c), len(toc), 1)
    heap = hashlib.sha1(toc_c).digest() + heap[20:]
    return header + toc_c + heap


def build_pkg(identifier: str, version: str, title: str | None) -> bytes:
    """A flat product archive: Distribution (title, pkg-ref) and component core.pkg/PackageInfo."""
    info = (
        f'<?xml version="1.0" encoding="utf-8"?><pkg-info format-version="2" identifier="{identifier}" '
        f'version="{version}" install-location="/" auth="root"><payload numberOfFiles="1" installKBytes="1"/>'
        "</pkg-info>"
    ).encode()
    files = {"core.pkg/PackageInfo": info, "core.pkg/Payload": b"\x1f\x8b" + b"\x00" * 30}
    if title is not None:
        files["Distribution"] = (
            '<?xml version="1.0" encoding="utf-8"?><installer-gui-script minSpecVersion="2">'
            f"<title>{title}</title><choices-outline><line choice='core'/></choices-outline>"
            f'<choice id="core"><pkg-ref id="{identifier}"/></choice>'
            f'<pkg-ref id="{identifier}" version="{version}">#core.pkg</pkg-ref>'
            "</installer-gui-script>"
        ).encode()
    return xar_archive(files)
