"""Phone and tablet app inventories: Android `pm list packages`, Apple Configurator `cfgutil`,
Jamf Pro API v2 mobile devices, and Intune's discovered-apps export for iOS and Android.

Fixtures in tests/fixtures/mobile follow the documented or published layouts; hosts, paths,
version codes, uids and ids are made up:

- `GOV-PIXEL-0142.txt`: `adb shell pm list packages -f -i -U --show-versioncode` as Android 14
  prints it (PackageManagerShellCommand: `package:PATH=NAME versionCode:N  installer=X uid:N`,
  two spaces before `installer=`, `installer=null` for system apps, `~~…==` install folders);
  `GOV-GALAXY-0077.txt`: plain `pm list packages` with CRLF line ends (adb through a pty).
- `cfgutil_get_name_installedApps.json`: `cfgutil --format JSON get name installedApps` for two
  devices, printed on one line as cfgutil 2.x does, with its empty `Errors` per device; the app
  keys (`itunesName`, `displayName`, `bundleIdentifier`, `bundleVersion`) are those public tools
  read from real output. `cfgutil_installedApps_pretty.json`: `get installedApps` (no name),
  pretty-printed.
- `jamf_v2_mobile_device_detail.json`, `jamf_v2_mobile_devices_detail.json`: Jamf Pro API
  `v2/mobile-devices/{id}/detail` and `v2/mobile-devices/detail`, with the schema's keys.
- `AppInvRawData_mobile.csv`: Intune's AppInvRawData columns with iOS and Android rows (UTF-8
  with a BOM, every field quoted, CRLF, as the CSV tests assume; the Platform values `iOS` and
  `Android` are assumed).
- `catalog/bytedance.yaml`: a test catalog naming ByteDance's apps by bundle id and name.

Each fixture holds ByteDance apps (com.zhiliaoapp.musically, com.ss.android.ugc.trill,
com.ss.android.ugc.aweme) among ordinary apps and decoys with similar names (TikTak, Tick Tock,
musically, trill).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fuzz_harness as harness
from banscan.catalog.loader import load_catalog
from banscan.inputs import mobile
from banscan.inputs.base import SNIFF_BYTES
from banscan.inputs.mobile import AndroidPmReader, CfgutilReader, PmPackage, parse_pm_line
from banscan.inputs.registry import all_readers, detect, reader_named
from banscan.match.matcher import Matcher
from banscan.models import RecordKind
from test_inputs_mdm import loc, read, write

FIXTURES = Path(__file__).parent / "fixtures" / "mobile"
DATA = Path(__file__).parent / "data"
CATALOG = FIXTURES / "catalog" / "bytedance.yaml"
PIXEL = FIXTURES / "GOV-PIXEL-0142.txt"
GALAXY = FIXTURES / "GOV-GALAXY-0077.txt"
CFG_NAMED = FIXTURES / "cfgutil_get_name_installedApps.json"
CFG_PRETTY = FIXTURES / "cfgutil_installedApps_pretty.json"
JAMF_DETAIL = FIXTURES / "jamf_v2_mobile_device_detail.json"
JAMF_LIST = FIXTURES / "jamf_v2_mobile_devices_detail.json"
INTUNE = FIXTURES / "AppInvRawData_mobile.csv"


def findings(*paths: Path) -> dict[tuple[str, str], str]:
    m = Matcher(load_catalog(CATALOG))
    for p in paths:
        m.add_all(read(p)[0])
    return {(f.host, f.product): f.verdict.value for f in m.findings()}


# ---- Android `pm list packages` -------------------------------------------------------------


def test_pm_list_with_file_installer_uid_and_version_code() -> None:
    recs, errors, fmt = read(PIXEL)
    assert fmt == "android-pm" and errors == [] and len(recs) == 11
    assert {r.host for r in recs} == {"GOV-PIXEL-0142"}  # the file's name: pm names no device
    assert all(r.kind is RecordKind.APP and r.name == r.bundle_id for r in recs)
    tiktok = recs[6]
    assert (tiktok.name, tiktok.version, tiktok.path, loc(tiktok)) == (
        "com.zhiliaoapp.musically",
        "2023705030",
        "/data/app/~~aT7kQ2vN9xR4mB1cZ8pL3w==/com.zhiliaoapp.musically-Vn3qR8sK1tY6wE0uI4oP9a==/base.apk",
        "GOV-PIXEL-0142.txt:7",
    )
    assert dict(tiktok.extra) == {"platform": "android", "installer": "com.android.vending", "uid": "10287"}
    assert tiktok.source.collector == "android-pm"
    # a system package: no installer (`installer=null`), and `android` has no dot
    assert (recs[0].name, recs[0].path, dict(recs[0].extra)) == (
        "android",
        "/system/framework/framework-res.apk",
        {"platform": "android", "uid": "1000"},
    )


def test_pm_list_plain_with_crlf() -> None:
    recs, errors, fmt = read(GALAXY)
    assert fmt == "android-pm" and errors == []
    assert [r.bundle_id for r in recs][5:9] == [
        "com.microsoft.office.outlook",
        "com.ss.android.ugc.trill",
        "com.ss.android.ugc.aweme",
        "com.trillmusic.player",
    ]
    assert all(r.version is None and r.path is None and r.extra == (("platform", "android"),) for r in recs)
    assert loc(recs[7]) == "GOV-GALAXY-0077.txt:8"


def test_pm_list_saved_by_powershell_is_utf16(tmp_path: Path) -> None:
    text = GALAXY.read_bytes().decode()
    path = write(tmp_path, "GOV-GALAXY-0077.txt", b"\xff\xfe" + text.encode("utf-16-le"))
    recs, errors, fmt = read(path)
    assert fmt == "android-pm" and errors == []
    assert [(r.name, loc(r)) for r in recs] == [(r.name, loc(r)) for r in read(GALAXY)[0]]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("package:com.whatsapp", PmPackage("com.whatsapp")),
        ("package:com.whatsapp\r\n", PmPackage("com.whatsapp")),
        (
            "package:/data/app/~~x9==/com.x-y0==/base.apk=com.x",
            PmPackage("com.x", apk="/data/app/~~x9==/com.x-y0==/base.apk"),
        ),
        ("package:com.x  installer=com.android.vending", PmPackage("com.x", installer="com.android.vending")),
        ("package:com.x  installer=null", PmPackage("com.x")),
        ("package:com.x uid:10234", PmPackage("com.x", uid="10234")),
        ("package:com.x uid:10234,1010234", PmPackage("com.x", uid="10234,1010234")),
        ("package:com.x versionCode:1200", PmPackage("com.x", version_code="1200")),
        (
            "package:/system/app/Stk/Stk.apk=com.android.stk versionCode:34  installer=null uid:1001",
            PmPackage("com.android.stk", apk="/system/app/Stk/Stk.apk", version_code="34", uid="1001"),
        ),
        ("package:com.x\tuid:10234 ", PmPackage("com.x", uid="10234")),
    ],
)
def test_pm_line_options(line: str, expected: PmPackage) -> None:
    assert parse_pm_line(line) == expected


@pytest.mark.parametrize(
    "line",
    [
        "package:",
        "package: com.x",
        "Package:com.x",
        "package:com.x extra",
        "package:com.x versionCode:",
        "package:com.x versionCode:7 versionCode:7",
        "package:com.x uid:10234,",
        "package:/system/app/My App/base.apk=com.x",  # install paths have no spaces
        " package:com.x",
        "package:com..x",
        "package:1com.x",
        "package:/data/app/~~abc==/com.zhiliaoapp.musi",  # -f line cut before `=NAME`
        "package:=com.x",
        "packages:com.x",
        "com.x",
        "Error: java.lang.SecurityException: Shell does not have permission",
    ],
)
def test_pm_line_rejects(line: str) -> None:
    assert parse_pm_line(line) is None


def test_pm_bad_lines_are_one_error_each_and_the_rest_is_read(tmp_path: Path) -> None:
    text = (
        "package:com.android.vending\n"
        "package:/data/app/~~abc==/com.zhiliaoapp.musi\n"  # truncated
        "package:com.whatsapp versionCo\n"  # cut in an option
        "Exception occurred while executing 'list':\n"
        "\n"
        "package:com.ss.android.ugc.trill\n"
    )
    path = write(tmp_path, "phone.txt", text)
    recs, errors, fmt = read(path, "android-pm")
    assert fmt == "android-pm"
    assert [r.name for r in recs] == ["com.android.vending", "com.ss.android.ugc.trill"]
    assert [loc(r) for r in recs] == ["phone.txt:1", "phone.txt:6"]
    assert errors == [
        f"{path}:2: not a `pm list packages` line ('package:/data/app/~~abc==/com.zhiliaoapp.musi'); skipped",
        f"{path}:3: not a `pm list packages` line ('package:com.whatsapp versionCo'); skipped",
        f"{path}:4: not a `pm list packages` line (\"Exception occurred while executing 'list':\"); skipped",
    ]


def test_pm_truncated_last_line_is_detected_and_reported(tmp_path: Path) -> None:
    text = PIXEL.read_text()
    path = write(tmp_path, "cut.txt", text[: text.index("com.tiktak.stopwatch-") + 5])
    recs, errors, fmt = read(path)
    assert fmt == "android-pm" and len(recs) == 9
    assert errors == [
        f"{path}:10: not a `pm list packages` line ('package:/data/app/~~Qw2eR5tY8uI1oP4aS7dF0g==/com.t'); skipped"
    ]


def test_pm_forced_on_other_text_reports_ten_lines_then_a_count(tmp_path: Path) -> None:
    path = write(tmp_path, "README.txt", "".join(f"line {i} of a README\n" for i in range(15)))
    recs, errors, _ = read(path, "android-pm")
    assert recs == [] and len(errors) == 11
    assert errors[0] == f"{path}:1: not a `pm list packages` line ('line 0 of a README'); skipped"
    assert errors[-1] == f"{path}: 5 more lines that are not `pm list packages` output skipped"


def test_pm_binary_data_stops_with_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, "phone.txt", b"package:com.whatsapp\npackage:com.x\x00\x01\x02\npackage:com.y\n")
    recs, errors, _ = read(path, "android-pm")
    assert [r.name for r in recs] == ["com.whatsapp"]
    assert errors == [f"{path}:2: binary data, not `pm list packages` output; rest of file skipped"]


def test_pm_line_cost_is_linear() -> None:
    line = "package:a" + " " * 60_000 + "x"
    started = time.perf_counter()
    assert parse_pm_line(line) is None and AndroidPmReader().sniff(line.encode(), "x.txt") == 0
    assert time.perf_counter() - started < 0.5


def test_pm_overlong_line_stops(tmp_path: Path) -> None:
    path = write(
        tmp_path, "phone.txt", "package:com.whatsapp\npackage:" + "a" * (mobile.MAX_LINE + 10) + "\n"
    )
    recs, errors, _ = read(path, "android-pm")
    assert [r.name for r in recs] == ["com.whatsapp"]
    assert errors == [f"{path}:2: line longer than {mobile.MAX_LINE} characters; rest of file skipped"]


# ---- Apple Configurator `cfgutil` -----------------------------------------------------------


def test_cfgutil_get_name_installed_apps() -> None:
    recs, errors, fmt = read(CFG_NAMED)
    assert fmt == "cfgutil-json" and errors == []
    assert [(r.host, r.name, r.bundle_id, r.version) for r in recs] == [
        ("GOV-IPHONE-0311", "Outlook", "com.microsoft.Office.Outlook", "4.2437.0"),
        ("GOV-IPHONE-0311", "Teams", "com.microsoft.skype.teams", "6.21.1"),
        ("GOV-IPHONE-0311", "TikTok", "com.zhiliaoapp.musically", "37.5.0"),
        ("GOV-IPHONE-0311", "TikTak", "com.tiktak.stopwatch", "41"),
        ("GOV-IPHONE-0311", "Comp Portal", "com.microsoft.CompanyPortal", "5.2411.0"),
        ("GOV-IPAD-0020", "Outlook", "com.microsoft.Office.Outlook", "4.2437.0"),
        ("GOV-IPAD-0020", "TickTock", "com.ticktocktimer.app", "3.1"),
    ]
    tiktok = recs[2]
    assert tiktok.kind is RecordKind.APP and tiktok.source.collector == "cfgutil-json"
    # one-line JSON: the app is placed by its index under its device
    assert loc(tiktok) == "cfgutil_get_name_installedApps.json:0x1A75D23A2B803A.installedApps[2]"
    assert dict(tiktok.extra) == {"platform": "ios", "ecid": "0x1A75D23A2B803A"}
    assert dict(recs[3].extra)["itunes_name"] == "TikTak Stopwatch - Lap Timer"


def test_cfgutil_without_names_uses_the_ecid_and_lines() -> None:
    recs, errors, fmt = read(CFG_PRETTY)
    assert fmt == "cfgutil-json" and errors == []
    assert [(r.host, r.name, r.bundle_id, loc(r)) for r in recs] == [
        ("0x8294E3A41001C", "Chrome", "com.google.chrome.ios", "cfgutil_installedApps_pretty.json:6"),
        ("0x8294E3A41001C", "TikTok", "com.zhiliaoapp.musically", "cfgutil_installedApps_pretty.json:12"),
    ]


def test_cfgutil_device_errors_are_reported_and_other_devices_read(tmp_path: Path) -> None:
    doc = {
        "Command": "get",
        "Output": {
            "0xA1": {
                "name": "GOV-IPHONE-0001",
                "deviceType": "iPhone15,4",
                "serialNumber": "F71SHPP0HG6W",
                "installedApps": [
                    {"displayName": "TikTok", "bundleIdentifier": "com.zhiliaoapp.musically"},
                    "not an app",
                    {"bundleVersion": "1"},
                    {"bundleIdentifier": "com.example.noname"},
                ],
            },
            "0xB2": {"installedApps": {"Message": "oops"}},
            "Errors": {
                "0xA1": {},
                "0xB2": {"Message": "The device is locked.", "Code": -402653030},
                "0xC3": {"installedApps": {"Domain": "x", "Message": "The value is missing.", "Code": 1}},
            },
        },
        "Type": "CommandOutput",
        "Devices": ["0xA1", "0xB2", "0xC3"],
    }
    path = write(tmp_path, "cfg.json", json.dumps(doc))
    recs, errors, fmt = read(path)
    assert fmt == "cfgutil-json"
    assert [(r.host, r.name, r.bundle_id) for r in recs] == [
        ("GOV-IPHONE-0001", "TikTok", "com.zhiliaoapp.musically"),
        ("GOV-IPHONE-0001", "com.example.noname", "com.example.noname"),
    ]
    assert dict(recs[0].extra) == {
        "platform": "ios",
        "ecid": "0xA1",
        "serial_number": "F71SHPP0HG6W",
        "device_type": "iPhone15,4",
    }
    assert errors == [
        f"{path}:0xA1.installedApps[1]: an installedApps entry is not an object; skipped",
        f"{path}:0xA1.installedApps[2]: app without bundleIdentifier or name; skipped",
        f"{path}:1: device 0xB2: 'installedApps' is not a list",
        f"{path}:1: device 0xB2: cfgutil error: The device is locked.",
        f"{path}:1: device 0xC3: cfgutil could not get installedApps: The value is missing.",
    ]


def test_cfgutil_error_output(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "cfg.json",
        '{"Command":"get","Output":{},"Type":"Error","Message":"No devices found","Code":1}',
    )
    assert read(path, "cfgutil-json")[1] == [f"{path}:1: cfgutil reported an error: No devices found"]


def test_cfgutil_truncated_json_is_one_line(tmp_path: Path) -> None:
    full = CFG_NAMED.read_text()
    path = write(tmp_path, "cut.json", full[: len(full) // 2])
    recs, errors, fmt = read(path)
    assert fmt == "cfgutil-json" and recs == []
    assert len(errors) == 1 and errors[0].startswith(f"{path}:1: invalid JSON: ")


def test_cfgutil_output_of_another_property(tmp_path: Path) -> None:
    text = '{"Command":"list","Output":{"0x1":{"name":"x","deviceType":"iPhone16,1"}},"Type":"CommandOutput","Devices":["0x1"]}'
    path = write(tmp_path, "list.json", text)
    recs, errors, fmt = read(path)
    assert fmt == "cfgutil-json" and recs == []
    assert errors == [
        f"{path}: cfgutil output without installedApps (save `cfgutil --format JSON get name installedApps`)"
    ]


def test_cfgutil_forced_on_other_json(tmp_path: Path) -> None:
    path = write(tmp_path, "other.json", '{"spdxVersion": "SPDX-2.3"}')
    assert read(path, "cfgutil-json")[1] == [f"{path}: not cfgutil JSON output: no 'Output' object"]
    path = write(tmp_path, "bin.json", b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe")
    assert read(path, "cfgutil-json")[1] == [f"{path}: not UTF-8 or UTF-16 text (byte offset 0); skipped"]


# ---- Jamf Pro API v2 mobile devices (jamf-json) ---------------------------------------------


def test_jamf_v2_mobile_device_detail() -> None:
    recs, errors, fmt = read(JAMF_DETAIL)
    assert fmt == "jamf-json" and errors == []
    assert [(r.host, r.name, r.version, r.bundle_id, loc(r)) for r in recs] == [
        (
            "GOV-IPHONE-0412",
            "Microsoft Outlook",
            "4.2437.0",
            "com.microsoft.Office.Outlook",
            "jamf_v2_mobile_device_detail.json:28",
        ),
        (
            "GOV-IPHONE-0412",
            "TikTok",
            "375013",
            "com.zhiliaoapp.musically",
            "jamf_v2_mobile_device_detail.json:34",
        ),
        (
            "GOV-IPHONE-0412",
            "Tick Tock Timer",
            "31",
            "com.ticktocktimer.app",
            "jamf_v2_mobile_device_detail.json:40",
        ),
    ]
    assert dict(recs[1].extra) == {
        "jamf_id": "118",
        "udid": "00008110-000A1C2E3B44801E",
        "serial_number": "F2LZK0QJN70D",
        "platform": "ios",
        "short_version": "37.5.0",
    }


def test_jamf_v2_mobile_devices_detail_list() -> None:
    recs, errors, fmt = read(JAMF_LIST)
    assert fmt == "jamf-json" and errors == []
    assert [(r.host, r.name, r.bundle_id, loc(r)) for r in recs] == [
        (
            "GOV-IPHONE-0533",
            "Microsoft Teams",
            "com.microsoft.skype.teams",
            "jamf_v2_mobile_devices_detail.json:20",
        ),
        ("GOV-IPHONE-0533", "TikTok", "com.zhiliaoapp.musically", "jamf_v2_mobile_devices_detail.json:30"),
        (
            "GOV-IPAD-0031",
            "TikTak Stopwatch",
            "com.tiktak.stopwatch",
            "jamf_v2_mobile_devices_detail.json:58",
        ),
    ]
    assert dict(recs[1].extra) == {
        "jamf_id": "204",
        "udid": "00008120-001C3D5E7F90A02E",
        "serial_number": "HX7WQ2M9PL",
        "platform": "iOS",
        "short_version": "37.4.0",
        "management_status": "UNMANAGED",
    }


def test_jamf_v2_details_in_a_list_and_a_bad_entry(tmp_path: Path) -> None:
    one = json.loads(JAMF_DETAIL.read_text())
    two = {"id": "9", "name": "GOV-IPAD-0009", "udid": "U", "ios": {"applications": [3, {"name": "TikTok"}]}}
    path = write(tmp_path, "details.json", json.dumps([one, two], indent=1))
    recs, errors, fmt = read(path)
    assert fmt == "jamf-json"
    assert [(r.host, r.name, r.bundle_id) for r in recs][-2:] == [
        ("GOV-IPHONE-0412", "Tick Tock Timer", "com.ticktocktimer.app"),
        ("GOV-IPAD-0009", "TikTok", None),
    ]
    assert len(errors) == 1 and errors[0].startswith(f"{path}:") and "not an object; skipped" in errors[0]


# ---- Intune discovered apps for iOS and Android (intune-csv) --------------------------------


def test_intune_discovered_apps_with_mobile_rows() -> None:
    recs, errors, fmt = read(INTUNE)
    assert fmt == "intune-csv" and errors == []
    assert [(r.host, r.name, r.version, dict(r.extra)["platform"]) for r in recs] == [
        ("GOV-IPHONE-0377", "TikTok", "37.5.0", "iOS"),
        ("GOV-IPHONE-0377", "Microsoft Outlook", "4.2437.0", "iOS"),
        ("GOV-GALAXY-0091", "TikTok", "2023704030", "Android"),
        ("GOV-GALAXY-0091", "Tick Tock Timer", "31", "Android"),
    ]
    assert all(r.bundle_id is None for r in recs)  # the export has no bundle id column


# ---- detection ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (PIXEL, "android-pm"),
        (GALAXY, "android-pm"),
        (CFG_NAMED, "cfgutil-json"),
        (CFG_PRETTY, "cfgutil-json"),
        (JAMF_DETAIL, "jamf-json"),
        (JAMF_LIST, "jamf-json"),
        (INTUNE, "intune-csv"),
    ],
)
def test_detected_by_content(path: Path, expected: str) -> None:
    reader = detect(path.read_bytes()[:SNIFF_BYTES], "input.dat")  # not by the file's name
    assert reader is not None and reader.name == expected


@pytest.mark.parametrize(
    "text",
    [
        "This phone's apps are listed below.\npackage:com.whatsapp\nSee the policy for details.\n",
        "package:com.a\npackage:com.b\nnote: these are the apps\nnote: and more\n",
        "package com.example;\n\npublic class Main {}\n",
        'package main\n\nimport "fmt"\n',
        "package:\n  name: banscan\n  version: 1.0\n",
        "requests==2.32.3\nurllib3==2.2.3\n",
        "Package: kesl\nVersion: 12.0.0-1\nArchitecture: amd64\n",
        "ii  kesl  12.0.0-1  amd64  Kaspersky Endpoint Security\n",
        "package,version\ncom.zhiliaoapp.musically,37.5.0\n",
        "ApplicationKey,ApplicationName,DeviceName\r\nk,TikTok,PC\r\n",
        '{"Command": "get", "Result": {}}',
        '{"Output": {"0x1": {"installedApps": []}}}',
        '{"value": [{"@odata.type": "#microsoft.graph.detectedApp", "displayName": "TikTok"}]}',
    ],
)
def test_other_inputs_are_not_taken_for_mobile_formats(text: str) -> None:
    head = text.encode()
    assert all(r.sniff(head, "x.txt") == 0 for r in mobile.READERS)
    found = detect(head, "x.txt")
    assert found is None or found.name not in ("android-pm", "cfgutil-json")


def test_no_existing_test_input_is_taken_for_a_mobile_format() -> None:
    files = [p for p in sorted(DATA.rglob("*")) if p.is_file() and p.stat().st_size < 8 * 1024 * 1024]
    assert len(files) > 20
    for p in files:
        head = p.read_bytes()[:SNIFF_BYTES]
        assert [r.name for r in mobile.READERS if r.sniff(head, p.name)] == [], p


def test_readers_are_registered() -> None:
    names = [r.name for r in all_readers()]
    assert "android-pm" in names and "cfgutil-json" in names
    assert isinstance(reader_named("android-pm"), AndroidPmReader)
    assert isinstance(reader_named("cfgutil-json"), CfgutilReader)


# ---- matching -------------------------------------------------------------------------------


def test_bytedance_apps_are_found_by_bundle_id_and_decoys_are_not() -> None:
    got = findings(PIXEL, GALAXY, CFG_NAMED, CFG_PRETTY, JAMF_DETAIL, JAMF_LIST, INTUNE)
    assert got == {
        ("GOV-PIXEL-0142", "tiktok"): "covered",
        ("GOV-GALAXY-0077", "tiktok"): "covered",
        ("GOV-GALAXY-0077", "douyin"): "covered",
        ("GOV-IPHONE-0311", "tiktok"): "covered",
        ("0x8294E3A41001C", "tiktok"): "covered",
        ("GOV-IPHONE-0412", "tiktok"): "covered",
        ("GOV-IPHONE-0533", "tiktok"): "covered",
        # Intune's export names the app but not its bundle id: a name alone asks for review
        ("GOV-IPHONE-0377", "tiktok"): "review",
        ("GOV-GALAXY-0091", "tiktok"): "review",
    }


# ---- robustness -----------------------------------------------------------------------------

_SEEDS = tuple(p.read_bytes() for p in sorted(FIXTURES.iterdir()) if p.is_file())


@pytest.mark.parametrize("reader", ["android-pm", "cfgutil-json", "jamf-json"])
def test_mutated_inputs_never_escape_a_reader(reader: str) -> None:
    @settings(
        max_examples=40,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(
        st.one_of(
            st.builds(
                lambda rng, seed: harness.mutate(rng, seed, _SEEDS),
                st.randoms(use_true_random=False),
                st.sampled_from(_SEEDS),
            ),
            st.binary(max_size=600),
        )
    )
    def run(data: bytes) -> None:
        harness.read_with(reader, data)
        harness.detect_with(data)

    run()
