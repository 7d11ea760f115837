"""Windows collectors against real registry hives (with merged keys) and .reg exports."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from banscan.collect.base import CollectContext, Collector
from banscan.collect.detect import make_context
from banscan.collect.windows import COLLECTORS
from banscan.collect.windows.certs import RootCertificatesCollector, der_from_blob
from banscan.collect.windows.hostname import windows_host_name
from banscan.collect.windows.paths import ProgramFoldersCollector
from banscan.collect.windows.processes import ProcessesCollector
from banscan.collect.windows.regkeys import RegistryKeysCollector
from banscan.collect.windows.secctr import records_from_json
from banscan.collect.windows.services import ServicesCollector, image_file
from banscan.collect.windows.uninstall import UninstallCollector
from banscan.errors import ErrorSink
from banscan.inputs.regfile import parse_data, parse_reg, records_from_regfile
from banscan.models import InventoryRecord, RecordKind, Source
from windows_root import (
    BARE_GUID,
    CERT_SUBJECT_CN,
    COMPUTER_NAME,
    KES_GUID,
    NAGENT_GUID,
    build_windows_root,
    cert_blob,
    cert_thumbprint,
    merge,
    reg_binary,
    reg_dword,
    root_certificate_der,
    unpack,
)

UNINST = r"Microsoft\Windows\CurrentVersion\Uninstall"
SOFTWARE = "Windows/System32/config/SOFTWARE"
SYSTEM = "Windows/System32/config/SYSTEM"
NTUSER = "Users/alice/NTUSER.DAT"
KL = "AO Kaspersky Lab"


@pytest.fixture(scope="module")
def kaspersky_root(tmp_path_factory: pytest.TempPathFactory, shared_fixtures: Path) -> Path:
    return build_windows_root(tmp_path_factory.mktemp("win") / "root", shared_fixtures)


@pytest.fixture(scope="module")
def clean_root(tmp_path_factory: pytest.TempPathFactory, shared_fixtures: Path) -> Path:
    return build_windows_root(tmp_path_factory.mktemp("clean") / "root", shared_fixtures, kaspersky=False)


def context(root: Path) -> CollectContext:
    ctx = make_context(root, ErrorSink(echo=False))
    assert ctx is not None
    return ctx


def run(collector: Collector, ctx: CollectContext) -> list[InventoryRecord]:
    return list(collector.collect(ctx))


def app(
    name: str,
    version: str,
    publisher: str,
    hive: str,
    rel: str,
    key: str,
    path: str | None = None,
    **extra: str,
) -> InventoryRecord:
    pairs: list[tuple[str, str]] = []
    for field in ("uninstall_string", "install_date"):
        if field in extra:
            pairs.append((field, extra[field]))
    pairs.append(("key", key))
    for field in ("product_code", "user"):
        if field in extra:
            pairs.append((field, extra[field]))
    return InventoryRecord(
        host=COMPUTER_NAME,
        source=Source("windows-uninstall", f"{hive}:{rel}"),
        kind=RecordKind.APP,
        name=name,
        version=version,
        publisher=publisher,
        path=path,
        extra=tuple(pairs),
    )


@pytest.mark.needs_shared
@pytest.mark.needs_hivex
class TestOfflineHives:
    def test_root_is_detected_and_named_from_system_hive(self, kaspersky_root: Path) -> None:
        ctx = context(kaspersky_root)
        assert ctx.os == "windows"
        assert ctx.host == COMPUTER_NAME
        assert windows_host_name(ctx) == COMPUTER_NAME
        assert ctx.errors.lines == []

    def test_uninstall_records_are_exact(self, kaspersky_root: Path) -> None:
        ctx = context(kaspersky_root)
        kes = rf"WOW6432Node\{UNINST}\{KES_GUID}"
        nagent = rf"WOW6432Node\{UNINST}\{NAGENT_GUID}"
        chrome = rf"WOW6432Node\{UNINST}\Google Chrome"
        user_rel = rf"Software\{UNINST}\Kaspersky Password Manager"
        expected = [
            app(
                "7-Zip 23.01 (x64)",
                "23.01",
                "Igor Pavlov",
                SOFTWARE,
                rf"{UNINST}\7-Zip",
                rf"HKLM\SOFTWARE\{UNINST}\7-Zip",
                "C:\\Program Files\\7-Zip\\",
                uninstall_string='"C:\\Program Files\\7-Zip\\Uninstall.exe"',
            ),
            app(
                "Антивирус Касперского",
                "21.3.10.391",
                "АО «Лаборатория Касперского»",
                SOFTWARE,
                rf"{UNINST}\AVP21.3",
                rf"HKLM\SOFTWARE\{UNINST}\AVP21.3",
            ),
            app(
                "Google Chrome",
                "120.0.6099.130",
                "Google LLC",
                SOFTWARE,
                chrome,
                rf"HKLM\SOFTWARE\{chrome}",
                install_date="20231220",
            ),
            app(
                "Kaspersky Security Center Network Agent",
                "15.0.0.12912",
                KL,
                SOFTWARE,
                nagent,
                rf"HKLM\SOFTWARE\{nagent}",
                "C:\\Program Files (x86)\\Kaspersky Lab\\NetworkAgent\\",
                product_code=NAGENT_GUID,
            ),
            app(
                "Kaspersky Endpoint Security for Windows",
                "12.5.0.539",
                KL,
                SOFTWARE,
                kes,
                rf"HKLM\SOFTWARE\{kes}",
                "C:\\Program Files (x86)\\Kaspersky Lab\\Kaspersky Endpoint Security for Windows\\",
                uninstall_string=f"MsiExec.exe /X{KES_GUID}",
                install_date="20240115",
                product_code=KES_GUID,
            ),
            app(
                "Kaspersky Password Manager",
                "24.0.0.427",
                KL,
                NTUSER,
                user_rel,
                rf"HKCU\{user_rel}",
                user="alice",
            ),
        ]
        assert run(UninstallCollector(), ctx) == expected
        assert ctx.errors.lines == []

    def test_key_without_display_name_is_skipped(self, kaspersky_root: Path) -> None:
        records = run(UninstallCollector(), context(kaspersky_root))
        assert not any(BARE_GUID in (r.get("key") or "") for r in records)

    def test_cyrillic_values_round_trip(self, kaspersky_root: Path) -> None:
        records = run(UninstallCollector(), context(kaspersky_root))
        (rec,) = [r for r in records if r.version == "21.3.10.391"]
        assert rec.name == "Антивирус Касперского"
        assert rec.publisher == "АО «Лаборатория Касперского»"
        # the same text spelled as code points, so an editor's encoding cannot fake a pass
        assert (
            rec.name
            == "\u0410\u043d\u0442\u0438\u0432\u0438\u0440\u0443\u0441 \u041a\u0430\u0441\u043f\u0435\u0440\u0441\u043a\u043e\u0433\u043e"
        )

    def test_services_and_drivers(self, kaspersky_root: Path) -> None:
        ctx = context(kaspersky_root)
        records = run(ServicesCollector(), ctx)
        by_name = {r.name: r for r in records}
        cs = r"ControlSet001\Services"

        def rec(
            name: str, kind: RecordKind, path: str, display: str, start: str, group: str | None
        ) -> InventoryRecord:
            extra = [("display_name", display), ("start", start)]
            if group:
                extra.append(("group", group))
            extra.append(("image_path", path))
            extra.append(("key", rf"HKLM\SYSTEM\{cs}\{name}"))
            return InventoryRecord(
                host=COMPUTER_NAME,
                source=Source("windows-services", rf"{SYSTEM}:{cs}\{name}"),
                kind=kind,
                name=name,
                path=image_file(path),
                extra=tuple(extra),
            )

        nagent = '"C:\\Program Files (x86)\\Kaspersky Lab\\NetworkAgent\\klnagent.exe"'
        avp = '"C:\\Program Files (x86)\\Kaspersky Lab\\Kaspersky Anti-Virus 21.3\\avp.exe" -r'
        assert by_name["klif"] == rec(
            "klif",
            RecordKind.DRIVER,
            "system32\\DRIVERS\\klif.sys",
            "Kaspersky Lab KLIF",
            "system",
            "FSFilter Anti-Virus",
        )
        assert by_name["klnagent"] == rec(
            "klnagent", RecordKind.SERVICE, nagent, "Kaspersky Security Center Network Agent", "auto", None
        )
        assert by_name["AVP21.3"] == rec(
            "AVP21.3", RecordKind.SERVICE, avp, "Kaspersky Anti-Virus Service 21.3", "auto", None
        )
        assert by_name["KSDE1.0.0"] == rec(
            "KSDE1.0.0",
            RecordKind.DRIVER,
            "system32\\DRIVERS\\ksde.sys",
            "Kaspersky Lab KSDE 1.0.0",
            "demand",
            "NDIS",
        )
        # the real hive's own services are there too, typed by their Type value
        # the executable is the ImagePath without quotes and arguments
        assert (
            by_name["AVP21.3"].path
            == "C:\\Program Files (x86)\\Kaspersky Lab\\Kaspersky Anti-Virus 21.3\\avp.exe"
        )
        assert by_name["ACPI"].kind is RecordKind.DRIVER
        assert by_name["BITS"].kind is RecordKind.SERVICE
        assert len(records) > 300
        assert ctx.errors.lines == []

    def test_current_control_set_is_followed(self, tmp_path: Path, kaspersky_root: Path) -> None:
        root = tmp_path / "root"
        config = root / "Windows" / "System32" / "config"
        config.mkdir(parents=True)
        shutil.copy(kaspersky_root / SYSTEM, config / "SYSTEM")
        merge(config / "SYSTEM", r"HKEY_LOCAL_MACHINE\SYSTEM", [("Select", {"Current": reg_dword(2)})])
        ctx = context(root)
        assert ctx.host == "OLD-NAME"
        assert "klif" not in {r.name for r in run(ServicesCollector(), ctx)}

    def test_vendor_registry_keys(self, kaspersky_root: Path) -> None:
        records = run(RegistryKeysCollector(), context(kaspersky_root))
        kl = [r for r in records if "KasperskyLab" in (r.path or "")]
        src = "windows-registry-keys"
        assert kl == [
            InventoryRecord(
                host=COMPUTER_NAME,
                source=Source(src, f"{SOFTWARE}:KasperskyLab"),
                kind=RecordKind.REGISTRY_KEY,
                name="KasperskyLab",
                path=r"SOFTWARE\KasperskyLab",
                extra=(("key", r"HKLM\SOFTWARE\KasperskyLab"),),
            ),
            InventoryRecord(
                host=COMPUTER_NAME,
                source=Source(src, rf"{SOFTWARE}:KasperskyLab\protected\AVP21.3"),
                kind=RecordKind.REGISTRY_KEY,
                name="AVP21.3",
                path=r"SOFTWARE\KasperskyLab\protected\AVP21.3",
                extra=(
                    ("key", r"HKLM\SOFTWARE\KasperskyLab\protected\AVP21.3"),
                    ("vendor_key", "KasperskyLab"),
                    ("last_successful_update", "1705046720"),
                    ("last_successful_update_utc", "2024-01-12T08:05:20Z"),
                ),
            ),
            InventoryRecord(
                host=COMPUTER_NAME,
                source=Source(src, rf"{SOFTWARE}:WOW6432Node\KasperskyLab"),
                kind=RecordKind.REGISTRY_KEY,
                name="KasperskyLab",
                path=r"SOFTWARE\WOW6432Node\KasperskyLab",
                extra=(("key", r"HKLM\SOFTWARE\WOW6432Node\KasperskyLab"),),
            ),
            InventoryRecord(
                host=COMPUTER_NAME,
                source=Source(src, rf"{NTUSER}:Software\KasperskyLab"),
                kind=RecordKind.REGISTRY_KEY,
                name="KasperskyLab",
                path=r"Software\KasperskyLab",
                extra=(("key", r"HKCU\Software\KasperskyLab"), ("user", "alice")),
            ),
        ]
        names = {r.name for r in records if r.source.location.startswith(SOFTWARE)}
        assert {"Google", "Microsoft"} <= names
        assert "WOW6432Node" not in names

    def test_root_certificate(self, kaspersky_root: Path) -> None:
        pytest.importorskip("cryptography")
        ctx = context(kaspersky_root)
        thumb = cert_thumbprint()
        rel = rf"Microsoft\SystemCertificates\ROOT\Certificates\{thumb}"
        subject = f"CN={CERT_SUBJECT_CN},O=AO Kaspersky Lab,C=RU"
        assert run(RootCertificatesCollector(), ctx) == [
            InventoryRecord(
                host=COMPUTER_NAME,
                source=Source("windows-root-certificates", f"{SOFTWARE}:{rel}"),
                kind=RecordKind.CERTIFICATE,
                name=CERT_SUBJECT_CN,
                extra=(
                    ("sha1", thumb),
                    ("subject", subject),
                    ("issuer", subject),
                    ("not_after", "2032-12-29T00:00:00Z"),
                    ("key", rf"HKLM\SOFTWARE\{rel}"),
                ),
            )
        ]

    def test_program_folders(self, kaspersky_root: Path) -> None:
        records = run(ProgramFoldersCollector(), context(kaspersky_root))
        assert [(r.kind, r.name, r.path, r.get("parent")) for r in records] == [
            (RecordKind.PATH, "7-Zip", r"C:\Program Files\7-Zip", None),
            (RecordKind.PATH, "Google", r"C:\Program Files (x86)\Google", None),
            (RecordKind.PATH, "Chrome", r"C:\Program Files (x86)\Google\Chrome", "Google"),
            (RecordKind.PATH, "Kaspersky Lab", r"C:\Program Files (x86)\Kaspersky Lab", None),
            (
                RecordKind.PATH,
                "Kaspersky Endpoint Security for Windows",
                r"C:\Program Files (x86)\Kaspersky Lab\Kaspersky Endpoint Security for Windows",
                "Kaspersky Lab",
            ),
            (
                RecordKind.PATH,
                "NetworkAgent",
                r"C:\Program Files (x86)\Kaspersky Lab\NetworkAgent",
                "Kaspersky Lab",
            ),
            (RecordKind.PATH, "Kaspersky Lab", r"C:\ProgramData\Kaspersky Lab", None),
            (RecordKind.PATH, "AVP21.3", r"C:\ProgramData\Kaspersky Lab\AVP21.3", "Kaspersky Lab"),
            (RecordKind.PATH, "Microsoft", r"C:\ProgramData\Microsoft", None),
        ]

    def test_clean_root_has_no_kaspersky_trace(self, clean_root: Path) -> None:
        ctx = context(clean_root)
        records = [r for c in COLLECTORS if not c.live_only for r in c.collect(ctx)]
        assert {r.name for r in records if r.kind is RecordKind.APP} == {"7-Zip 23.01 (x64)", "Google Chrome"}
        assert not [r for r in records if "kaspersky" in repr(r).lower() or "касперск" in repr(r).lower()]
        assert ctx.errors.lines == []

    def test_damaged_empty_and_missing_hives(
        self, tmp_path: Path, kaspersky_root: Path, shared_fixtures: Path
    ) -> None:
        root = tmp_path / "root"
        config = root / "Windows" / "System32" / "config"
        config.mkdir(parents=True)
        shutil.copy(kaspersky_root / SOFTWARE, config / "SOFTWARE")
        unpack(shared_fixtures, "corrupted_system_hive.xz", config / "SYSTEM")
        (root / "Users" / "empty").mkdir(parents=True)
        (root / "Users" / "empty" / "NTUSER.DAT").write_bytes(b"")
        (root / "Users" / "nohive").mkdir()
        (root / "Users" / "text").mkdir()
        (root / "Users" / "text" / "ntuser.dat").write_bytes(b"not a hive at all")
        ctx = context(root)
        records = [r for c in COLLECTORS if not c.live_only for r in c.collect(ctx)]
        assert len([r for r in records if r.kind is RecordKind.APP]) == 5  # SOFTWARE still read
        lines = ctx.errors.lines
        system_lines = [ln for ln in lines if ln.startswith(str(config / "SYSTEM"))]
        assert len(system_lines) == 1
        assert system_lines[0].startswith(f"{config / 'SYSTEM'}: damaged registry hive: ")
        assert f"{root / 'Users' / 'empty' / 'NTUSER.DAT'}: registry hive is empty (0 bytes)" in lines
        assert f"{root / 'Users' / 'text' / 'ntuser.dat'}: not a registry hive (no 'regf' signature)" in lines
        assert len(lines) == 3  # nothing about the profile without a hive

    def test_missing_hive_is_reported(self, tmp_path: Path) -> None:
        (tmp_path / "Windows" / "System32" / "config").mkdir(parents=True)
        ctx = context(tmp_path)
        assert run(UninstallCollector(), ctx) == []
        config = tmp_path / "Windows" / "System32" / "config"
        assert ctx.errors.lines == [  # SYSTEM was looked for to name the host
            f"{config / 'SYSTEM'}: registry hive not found",
            f"{config / 'SOFTWARE'}: registry hive not found",
        ]

    def test_link_out_of_root_is_not_followed(self, tmp_path: Path, kaspersky_root: Path) -> None:
        outside = tmp_path / "outside"
        outside.mkdir()
        shutil.copy(kaspersky_root / NTUSER, outside / "NTUSER.DAT")
        root = tmp_path / "root"
        (root / "Windows" / "System32" / "config").mkdir(parents=True)
        (root / "Users" / "mallory").mkdir(parents=True)
        os.symlink(outside / "NTUSER.DAT", root / "Users" / "mallory" / "NTUSER.DAT")
        ctx = context(root)
        ctx.errors = ErrorSink(echo=False)
        assert [r for r in run(UninstallCollector(), ctx) if r.get("user")] == []

    def test_bad_certificate_blob(self, tmp_path: Path, kaspersky_root: Path) -> None:
        root = tmp_path / "root"
        config = root / "Windows" / "System32" / "config"
        config.mkdir(parents=True)
        shutil.copy(kaspersky_root / SOFTWARE, config / "SOFTWARE")
        store = r"Microsoft\SystemCertificates\ROOT\Certificates"
        merge(
            config / "SOFTWARE",
            r"HKEY_LOCAL_MACHINE\SOFTWARE",
            [(rf"{store}\00BAD", {"Blob": reg_binary(b"\x20\0\0\0")})],
        )
        ctx = context(root)
        records = run(RootCertificatesCollector(), ctx)
        assert "00BAD" not in {r.get("sha1") for r in records}
        assert [ln for ln in ctx.errors.lines if "SOFTWARE" in ln] == [
            rf"{config / 'SOFTWARE'}:{store}\00BAD: certificate Blob does not hold a readable certificate"
        ]


def test_cert_blob_property_parsing() -> None:
    der = root_certificate_der()
    assert der_from_blob(cert_blob(der)) == der
    assert der_from_blob(cert_blob(der)[:-1]) is None
    assert der_from_blob(b"") is None


def test_collector_declarations() -> None:
    assert {c.name for c in COLLECTORS} == {
        "windows-uninstall",
        "windows-services",
        "windows-registry-keys",
        "windows-root-certificates",
        "windows-program-folders",
        "windows-security-center",
        "windows-processes",
    }
    assert all(c.os == ("windows",) for c in COLLECTORS)
    assert {c.name for c in COLLECTORS if c.live_only} == {"windows-security-center", "windows-processes"}


def test_processes_on_a_live_context() -> None:
    ctx = CollectContext(root=Path("/"), os="windows", host="me", live=True, errors=ErrorSink(echo=False))
    records = run(ProcessesCollector(), ctx)
    mine = [r for r in records if r.get("pid") == str(os.getpid())]
    assert len(mine) == 1 and mine[0].kind is RecordKind.PROCESS and mine[0].name


def test_security_center_json() -> None:
    text = (
        '[{"displayName":"Kaspersky Endpoint Security for Windows","instanceGuid":"{X}",'
        '"pathToSignedProductExe":"C:\\\\Program Files (x86)\\\\Kaspersky Lab\\\\avp.exe",'
        '"productState":266240,"timestamp":"Mon, 15 Jan 2024"},'
        '{"displayName":"Windows Defender","productState":393472}]'
    )
    recs = list(records_from_json(text, "h"))
    assert [(r.kind, r.name, r.path) for r in recs] == [
        (
            RecordKind.SECURITY_PRODUCT,
            "Kaspersky Endpoint Security for Windows",
            r"C:\Program Files (x86)\Kaspersky Lab\avp.exe",
        ),
        (RecordKind.SECURITY_PRODUCT, "Windows Defender", None),
    ]
    assert recs[0].get("enabled") == "true" and recs[0].get("definitions_up_to_date") == "true"
    assert recs[1].get("enabled") == "false"
    single = '{"displayName":"Kaspersky Free","productState":266256}'
    (one,) = records_from_json(single, "h")
    assert one.get("definitions_up_to_date") == "false"


# --- .reg export files -------------------------------------------------------------------

REG_V5 = r"""Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall\{9A017278-F7F4-4DF9-A482-0B9B2D6B3C4E}]
"DisplayName"="Kaspersky Endpoint Security for Windows"
"DisplayVersion"="12.5.0.539"
"Publisher"="AO Kaspersky Lab"
"UninstallString"="MsiExec.exe /X{9A017278-F7F4-4DF9-A482-0B9B2D6B3C4E}"
"InstallLocation"=hex(2):43,00,3a,00,5c,00,50,00,72,00,6f,00,67,00,72,00,61,00,6d,\
  00,20,00,46,00,69,00,6c,00,65,00,73,00,20,00,28,00,78,00,38,00,36,00,29,00,\
  5c,00,4b,00,4c,00,00,00
"NoModify"=dword:00000001
"Comment"="say \"hi\" from C:\\temp\\"
@="default"
"Gone"="x"
"Gone"=-
"Multi"=hex(7):61,00,00,00,62,00,00,00,00,00

[HKEY_CURRENT_USER\Software\Microsoft\Windows\CurrentVersion\Uninstall\Кошелёк]
"DisplayName"="Антивирус Касперского"
"Broken"=dword:zz

[-HKEY_LOCAL_MACHINE\SOFTWARE\Old]
"DisplayName"="ignored"

[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall\NoName]
"DisplayVersion"="1.0"
this line is garbage
"""


def utf16(text: str) -> bytes:
    return b"\xff\xfe" + text.replace("\n", "\r\n").encode("utf-16-le")


def test_reg_parser_utf16_with_continuations_and_escapes() -> None:
    errors: list[tuple[int, str]] = []
    sections = list(parse_reg(utf16(REG_V5), lambda n, m: errors.append((n, m))))
    keys = [k for k, _, _ in sections]
    assert keys == [
        r"HKEY_LOCAL_MACHINE\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall\{9A017278-F7F4-4DF9-A482-0B9B2D6B3C4E}",
        r"HKEY_CURRENT_USER\Software\Microsoft\Windows\CurrentVersion\Uninstall\Кошелёк",
        r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall\NoName",
    ]
    values = sections[0][1]
    assert values == {
        "DisplayName": "Kaspersky Endpoint Security for Windows",
        "DisplayVersion": "12.5.0.539",
        "Publisher": "AO Kaspersky Lab",
        "UninstallString": "MsiExec.exe /X{9A017278-F7F4-4DF9-A482-0B9B2D6B3C4E}",
        "InstallLocation": "C:\\Program Files (x86)\\KL",
        "NoModify": 1,
        "Comment": 'say "hi" from C:\\temp\\',
        "": "default",
        "Multi": ["a", "b"],
    }
    assert sections[0][2] == 3
    assert sections[1][1] == {"DisplayName": "Антивирус Касперского"}
    assert errors == [
        (20, "unreadable value data for 'Broken'"),
        (27, "unrecognised line: this line is garbage"),
    ]


def test_records_from_regfile() -> None:
    sink = ErrorSink(echo=False)
    recs = list(records_from_regfile("pc1.reg", utf16(REG_V5), "PC1", sink))
    assert [(r.name, r.version, r.publisher, r.path, r.source.location) for r in recs] == [
        (
            "Kaspersky Endpoint Security for Windows",
            "12.5.0.539",
            KL,
            "C:\\Program Files (x86)\\KL",
            "pc1.reg:3",
        ),
        ("Антивирус Касперского", None, None, None, "pc1.reg:18"),
    ]
    assert recs[0].get("key") == (
        r"HKLM\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall\{9A017278-F7F4-4DF9-A482-0B9B2D6B3C4E}"
    )
    assert recs[0].get("product_code") == KES_GUID
    assert recs[0].host == "PC1" and recs[0].source.collector == "regfile"
    assert sink.lines == [
        "pc1.reg:20: unreadable value data for 'Broken'",
        "pc1.reg:27: unrecognised line: this line is garbage",
    ]


def test_regedit4_ansi_and_missing_header() -> None:
    data = (
        "REGEDIT4\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\A]\r\n"
        '"DisplayName"="Caf\xe9"\r\n"Path"=hex(2):43,3a,5c,00\r\n'
    ).encode("cp1252")
    ((_key, values, _line),) = parse_reg(data)
    assert values == {"DisplayName": "Café", "Path": "C:\\"}
    errors: list[tuple[int, str]] = []
    list(parse_reg(b'[HKEY_LOCAL_MACHINE\\X]\n"a"="b"\n', lambda n, m: errors.append((n, m))))
    assert errors == [(1, "missing 'Windows Registry Editor Version 5.00' or 'REGEDIT4' header")]


@pytest.mark.parametrize(
    ("spec", "value"),
    [
        ('"plain"', "plain"),
        ("dword:0000ffff", 0xFFFF),
        ("hex(b):01,00,00,00,00,00,00,00", 1),
        ("hex:de,ad", b"\xde\xad"),
        ("hex(1):41,00,00,00", "A"),
        ('"unterminated', None),
        ("dword:123456789", None),
        ("hex(2):zz", None),
        ("bogus", None),
    ],
)
def test_reg_data_specs(spec: str, value: object) -> None:
    assert parse_data(spec) == value
