"""Browser-extension collectors on macOS, Linux and Windows layouts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from banscan.collect import browsers
from banscan.collect.base import CollectContext
from banscan.collect.browsers import ChromiumExtensions, FirefoxExtensions
from banscan.collect.detect import make_context
from banscan.errors import ErrorSink
from banscan.models import InventoryRecord, RecordKind
from macos_root import KASPERSKY_CHROME_ID, UBLOCK_CHROME_ID, build_macos_root, write_json

EDGE_ID = "odfafepnkmbhccpbejgmiehpchacaeak"  # uBlock Origin on Edge Add-ons


def context(root: Path) -> CollectContext:
    ctx = make_context(root, ErrorSink(echo=False))
    assert ctx is not None
    return ctx


def windows_context(root: Path) -> CollectContext:
    return CollectContext(root=root, os="windows", host="WS-0142", live=False, errors=ErrorSink(echo=False))


def records(ctx: CollectContext) -> list[InventoryRecord]:
    return [r for c in browsers.COLLECTORS for r in c.collect(ctx)]


def one(recs: list[InventoryRecord], **fields: str) -> InventoryRecord:
    found = [r for r in recs if all(r.get(k) == v for k, v in fields.items())]
    assert len(found) == 1, [(r.name, r.extension_id, r.extra) for r in recs]
    return found[0]


def chrome_extension(
    extensions_dir: Path,
    ext_id: str,
    version: str,
    manifest: dict[str, Any],
    messages: dict[str, dict[str, Any]] | None = None,
) -> Path:
    folder = extensions_dir / ext_id / f"{version}_0"
    write_json(folder / "manifest.json", {"version": version, "manifest_version": 3, **manifest})
    for locale, msgs in (messages or {}).items():
        write_json(folder / "_locales" / locale / "messages.json", msgs)
    return folder


def kaspersky_manifest() -> dict[str, Any]:
    return {"name": "__MSG_appName__", "default_locale": "en", "description": "__MSG_appDescription__"}


KASPERSKY_MESSAGES = {"en": {"appName": {"message": "Kaspersky Protection", "description": "Extension name"}}}


def firefox_db(addons: list[Any]) -> dict[str, Any]:
    return {"schemaVersion": 36, "addons": addons}


UBLOCK_ADDON = {
    "id": "uBlock0@raymondhill.net",
    "version": "1.57.2",
    "type": "extension",
    "defaultLocale": {"name": "uBlock Origin", "creator": "Raymond Hill & contributors"},
    "active": True,
    "userDisabled": False,
    "location": "app-profile",
}


# --- macOS --------------------------------------------------------------------------------


def test_collectors_cover_every_os() -> None:
    assert [c.name for c in browsers.COLLECTORS] == ["browser-chromium", "browser-firefox"]
    for c in browsers.COLLECTORS:
        assert set(c.os) == {"linux", "windows", "macos"}
        assert c.live_only is False


def test_macos_chrome_extension_name_from_locale_messages(tmp_path: Path) -> None:
    ctx = context(build_macos_root(tmp_path / "mac"))
    recs = list(ChromiumExtensions().collect(ctx))
    kav = one(recs, extension_id=KASPERSKY_CHROME_ID)
    assert kav.kind is RecordKind.EXTENSION
    assert kav.name == "Kaspersky Protection"
    assert kav.version == "20.0.543.1521"
    assert kav.get("raw_name") == "__MSG_appName__"
    assert kav.get("browser") == "chrome"
    assert kav.get("profile") == "Default"
    assert kav.get("user") == "ivan"
    assert kav.path == (
        "/Users/ivan/Library/Application Support/Google/Chrome/Default/Extensions/"
        f"{KASPERSKY_CHROME_ID}/20.0.543.1521_0"
    )
    assert kav.source.location == f"{kav.path}/manifest.json"
    ublock = one(recs, extension_id=UBLOCK_CHROME_ID)
    assert ublock.name == "uBlock Origin"
    assert ublock.publisher == "Raymond Hill & contributors"
    assert ublock.get("update_url") == "https://clients2.google.com/service/update2/crx"
    assert len(recs) == 2  # the Temp folder is not an extension
    assert ctx.errors.lines == []


def test_macos_firefox_extensions_json(tmp_path: Path) -> None:
    ctx = context(build_macos_root(tmp_path / "mac"))
    recs = list(FirefoxExtensions().collect(ctx))
    ublock = one(recs, extension_id="uBlock0@raymondhill.net")
    assert ublock.name == "uBlock Origin"
    assert ublock.version == "1.57.2"
    assert ublock.publisher == "Raymond Hill & contributors"
    assert ublock.get("browser") == "firefox"
    assert ublock.get("profile") == "x8k2q1vd.default-release"
    assert ublock.get("location") == "app-profile"
    assert ublock.get("active") == "true"
    assert ublock.path is not None and ublock.path.endswith("/extensions/uBlock0@raymondhill.net.xpi")
    assert ublock.source.location.endswith("/x8k2q1vd.default-release/extensions.json:addons[0]")
    assert "Dark" not in {r.name for r in recs}  # themes are not extensions
    assert ctx.errors.lines == []


def test_clean_macos_root_has_no_kaspersky_extension(tmp_path: Path) -> None:
    ctx = context(build_macos_root(tmp_path / "mac", kaspersky=False))
    recs = records(ctx)
    assert recs
    assert all(r.extension_id != KASPERSKY_CHROME_ID for r in recs)
    assert all("kaspersky" not in r.name.lower() for r in recs)


# --- Linux --------------------------------------------------------------------------------


@pytest.fixture
def linux(tmp_path: Path) -> Path:
    root = tmp_path / "linux"
    (root / "etc").mkdir(parents=True)
    (root / "etc/hostname").write_text("build-07\n", encoding="utf-8")
    (root / "usr/bin").mkdir(parents=True)
    home = root / "home/alice"
    chrome_extension(
        home / ".config/google-chrome/Default/Extensions",
        KASPERSKY_CHROME_ID,
        "20.0.543.1521",
        kaspersky_manifest(),
        KASPERSKY_MESSAGES,
    )
    chrome_extension(
        home / ".config/google-chrome/Profile 1/Extensions",
        UBLOCK_CHROME_ID,
        "1.57.2",
        {"name": "uBlock Origin"},
    )
    (home / ".config/google-chrome/Local State").write_text("{}", encoding="utf-8")
    chrome_extension(
        home / ".config/BraveSoftware/Brave-Browser/Default/Extensions",
        UBLOCK_CHROME_ID,
        "1.56.0",
        {"name": "uBlock Origin"},
    )
    chrome_extension(
        root / "root/snap/chromium/common/chromium/Default/Extensions",
        KASPERSKY_CHROME_ID,
        "20.0.543.1521",
        kaspersky_manifest(),
        KASPERSKY_MESSAGES,
    )
    ff = home / ".mozilla/firefox"
    write_json(ff / "a1b2c3d4.default-release/extensions.json", firefox_db([UBLOCK_ADDON]))
    (ff / "profiles.ini").write_text("[Profile0]\nName=default-release\n", encoding="utf-8")
    (ff / "Crash Reports").mkdir()
    return root


def test_linux_chromium_family_and_firefox(linux: Path) -> None:
    ctx = context(linux)
    assert ctx.os == "linux"
    recs = records(ctx)
    assert ctx.errors.lines == []
    chrome_kav = one(recs, extension_id=KASPERSKY_CHROME_ID, user="alice")
    assert chrome_kav.name == "Kaspersky Protection"
    assert chrome_kav.get("browser") == "chrome"
    assert chrome_kav.host == "build-07"
    assert chrome_kav.path == (
        f"/home/alice/.config/google-chrome/Default/Extensions/{KASPERSKY_CHROME_ID}/20.0.543.1521_0"
    )
    snap = one(recs, extension_id=KASPERSKY_CHROME_ID, user="root")
    assert snap.get("browser") == "chromium"
    assert one(recs, extension_id=UBLOCK_CHROME_ID, browser="chrome").get("profile") == "Profile 1"
    assert one(recs, extension_id=UBLOCK_CHROME_ID, browser="brave").version == "1.56.0"
    ff = one(recs, extension_id="uBlock0@raymondhill.net")
    assert ff.get("profile") == "a1b2c3d4.default-release"
    assert ff.source.location == (
        "/home/alice/.mozilla/firefox/a1b2c3d4.default-release/extensions.json:addons[0]"
    )


def test_message_keys_are_case_insensitive_and_fall_back_to_english(linux: Path) -> None:
    exts = linux / "home/alice/.config/chromium/Default/Extensions"
    chrome_extension(
        exts,
        "a" * 32,
        "1.0",
        {"name": "__MSG_EXTNAME__", "default_locale": "ru"},
        {"en": {"extName": {"message": "Shown in English"}}},
    )
    chrome_extension(
        exts,
        "b" * 32,
        "2.0",
        {"name": "__MSG_missing__", "default_locale": "en"},
        {"en": {"other": {"message": "x"}}},
    )
    chrome_extension(
        exts,
        "c" * 32,
        "3.0",
        {"name": "__MSG_extName__", "default_locale": "de"},
        {"de": {"extName": {"message": "Kaspersky Schutz"}}, "en": {"extName": {"message": "no"}}},
    )
    ctx = context(linux)
    recs = list(ChromiumExtensions().collect(ctx))
    assert one(recs, extension_id="a" * 32).name == "Shown in English"
    assert one(recs, extension_id="b" * 32).name == "__MSG_missing__"  # unresolved: keep the raw name
    assert one(recs, extension_id="c" * 32).name == "Kaspersky Schutz"
    assert ctx.errors.lines == []


def test_manifest_with_comments_and_trailing_commas_is_accepted(linux: Path) -> None:
    folder = linux / "home/alice/.config/chromium/Default/Extensions" / ("d" * 32) / "4.1_0"
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(
        '{\n  // written by hand\n  "name": "Commented // not a comment",\n'
        '  /* block */ "version": "4.1",\n  "permissions": ["tabs",],\n}\n',
        encoding="utf-8",
    )
    ctx = context(linux)
    rec = one(list(ChromiumExtensions().collect(ctx)), extension_id="d" * 32)
    assert rec.name == "Commented // not a comment"
    assert rec.version == "4.1"
    assert ctx.errors.lines == []


# --- Windows ------------------------------------------------------------------------------


def test_windows_profiles_with_mixed_case_folders(tmp_path: Path) -> None:
    root = tmp_path / "win"
    edge = root / "users/Bob/AppData/Local/microsoft/EDGE/user data"
    chrome_extension(edge / "Default/Extensions", EDGE_ID, "1.57.2", {"name": "uBlock Origin"})
    chrome = root / "users/Bob/AppData/Local/Google/Chrome/User Data"
    chrome_extension(
        chrome / "Profile 3/Extensions",
        KASPERSKY_CHROME_ID,
        "20.0.543.1521",
        kaspersky_manifest(),
        KASPERSKY_MESSAGES,
    )
    ff = root / "users/Bob/AppData/Roaming/mozilla/firefox/profiles/zz9.default-release"
    write_json(ff / "extensions.json", firefox_db([UBLOCK_ADDON]))
    (root / "users/Public").mkdir(parents=True)
    (root / "users/All Users").symlink_to("/ProgramData")
    ctx = windows_context(root)
    recs = records(ctx)
    assert ctx.errors.lines == []
    kav = one(recs, extension_id=KASPERSKY_CHROME_ID)
    assert kav.name == "Kaspersky Protection"
    assert kav.get("profile") == "Profile 3"
    assert kav.path == (
        "C:\\users\\Bob\\AppData\\Local\\Google\\Chrome\\User Data\\Profile 3\\Extensions\\"
        f"{KASPERSKY_CHROME_ID}\\20.0.543.1521_0"
    )
    assert one(recs, extension_id=EDGE_ID).get("browser") == "edge"
    assert one(recs, extension_id="uBlock0@raymondhill.net").get("user") == "Bob"


# --- bad input ----------------------------------------------------------------------------


def test_manifest_that_is_not_json(linux: Path) -> None:
    folder = linux / "home/alice/.config/google-chrome/Default/Extensions" / ("e" * 32) / "1.0_0"
    folder.mkdir(parents=True)
    manifest = folder / "manifest.json"
    manifest.write_text('{\n  "name": "Broken",\n  "version": 1.0.0\n}\n', encoding="utf-8")
    ctx = context(linux)
    recs = list(ChromiumExtensions().collect(ctx))
    assert ctx.errors.lines == [f"{manifest}:3:17: invalid JSON: Expecting ',' delimiter"]
    assert one(recs, extension_id=KASPERSKY_CHROME_ID, user="alice").name == "Kaspersky Protection"
    assert all(r.extension_id != "e" * 32 for r in recs)


def test_manifest_edge_cases(linux: Path) -> None:
    exts = linux / "home/alice/.config/google-chrome/Default/Extensions"
    (exts / ("f" * 32) / "1.0_0" / "manifest.json").mkdir(parents=True)
    write_json(exts / ("g" * 32) / "1.0_0" / "manifest.json", ["not", "an", "object"])
    latin1 = exts / ("h" * 32) / "1.0_0" / "manifest.json"
    latin1.parent.mkdir(parents=True)
    latin1.write_bytes(b'{"name": "Caf\xe9 Helper", "version": "1.0"}')
    bad_messages = chrome_extension(exts, "i" * 32, "1.0", {"name": "__MSG_n__", "default_locale": "en"})
    (bad_messages / "_locales/en").mkdir(parents=True)
    (bad_messages / "_locales/en/messages.json").write_text('{"n": {"message": "x"', encoding="utf-8")
    ctx = context(linux)
    recs = list(ChromiumExtensions().collect(ctx))
    lines = ctx.errors.lines
    assert len(lines) == 4, lines
    assert (
        lines[0]
        == f"{exts / ('f' * 32) / '1.0_0' / 'manifest.json'}: invalid JSON: is a directory, not a file"
    )
    assert lines[1].endswith("manifest.json: invalid manifest: top level is not an object")
    assert lines[2] == f"{latin1}:1: not valid UTF-8 at byte 13; undecodable bytes replaced"
    assert lines[3].startswith(f"{bad_messages / '_locales/en/messages.json'}:1:")
    assert one(recs, extension_id="h" * 32).name == "Caf\ufffd Helper"
    assert one(recs, extension_id="i" * 32).name == "__MSG_n__"
    assert one(recs, extension_id=KASPERSKY_CHROME_ID, user="alice").name == "Kaspersky Protection"


def test_extensions_json_that_is_not_json(linux: Path) -> None:
    bad = linux / "home/alice/.mozilla/firefox/broken.default/extensions.json"
    bad.parent.mkdir(parents=True)
    bad.write_text('{"schemaVersion": 36,\n "addons": [\n  {"id": "x@y", }\n]}', encoding="utf-8")
    no_addons = write_json(
        linux / "home/alice/.mozilla/firefox/empty.default/extensions.json", {"schemaVersion": 36}
    )
    mixed = write_json(
        linux / "home/alice/.mozilla/firefox/mixed.default/extensions.json",
        firefox_db(["junk", {"type": "extension"}, {**UBLOCK_ADDON, "defaultLocale": None}]),
    )
    ctx = context(linux)
    recs = list(FirefoxExtensions().collect(ctx))
    assert ctx.errors.lines == [
        f"{bad}:3:17: invalid JSON: Expecting property name enclosed in double quotes",
        f'{no_addons}: invalid extensions.json: no "addons" array',
        f"{mixed}:addons[0]: not an object; skipped",
        f"{mixed}:addons[1]: extension without id or name; skipped",
    ]
    assert one(recs, extension_id="uBlock0@raymondhill.net", profile="mixed.default").name == (
        "uBlock0@raymondhill.net"
    )
    assert one(recs, extension_id="uBlock0@raymondhill.net", profile="a1b2c3d4.default-release").name == (
        "uBlock Origin"
    )


def test_symlink_loop_in_profile_folder(linux: Path) -> None:
    exts = linux / "home/alice/.config/google-chrome/Default/Extensions"
    (exts / ("j" * 32)).symlink_to("j" * 32)
    ctx = context(linux)
    recs = list(ChromiumExtensions().collect(ctx))
    assert len(ctx.errors.lines) == 1 and "symbolic link loop" in ctx.errors.lines[0]
    assert one(recs, extension_id=KASPERSKY_CHROME_ID, user="alice").name == "Kaspersky Protection"


def test_json_error_positions_match_the_json_module(tmp_path: Path) -> None:
    text = '{"a": [1, 2,, 3]}'
    with pytest.raises(json.JSONDecodeError) as info:
        json.loads(text)
    bad = tmp_path / "x.json"
    bad.write_text(text, encoding="utf-8")
    ctx = CollectContext(root=tmp_path, os="linux", host="h", live=False, errors=ErrorSink(echo=False))
    assert browsers.load_json(ctx, bad) is None
    assert ctx.errors.lines == [
        f"{bad}:{info.value.lineno}:{info.value.colno}: invalid JSON: {info.value.msg}"
    ]
