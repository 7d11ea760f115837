"""Browser extensions on Linux, Windows and macOS.

Chromium family (Chrome, Chromium, Edge, Brave, Vivaldi): every profile's
Extensions/<id>/<version>/manifest.json; the name is resolved from
_locales/<default_locale>/messages.json when the manifest says "__MSG_key__".

Firefox: every profile's extensions.json (the add-on database Firefox keeps itself), one
record per add-on of type "extension".
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path, PurePath
from typing import Any, ClassVar

from banscan.collect import fs
from banscan.collect.base import OS, CollectContext, Collector
from banscan.models import InventoryRecord, RecordKind, Source

JSON_LIMIT = 4 * 1024 * 1024
EXTENSIONS_JSON_LIMIT = 64 * 1024 * 1024
MAX_ENTRIES = 5000

_CHROME_ID = re.compile(r"[a-p]{32}")
_MSG = re.compile(r"__MSG_([A-Za-z0-9_@]+)__")

# (folder below the user's home, browser) — the folder holding the profiles.
CHROMIUM_DIRS: dict[str, tuple[tuple[str, str], ...]] = {
    "linux": (
        (".config/google-chrome", "chrome"),
        (".config/google-chrome-beta", "chrome-beta"),
        (".config/chromium", "chromium"),
        ("snap/chromium/common/chromium", "chromium"),
        (".var/app/com.google.Chrome/config/google-chrome", "chrome"),
        (".config/microsoft-edge", "edge"),
        (".config/BraveSoftware/Brave-Browser", "brave"),
        (".config/vivaldi", "vivaldi"),
    ),
    "macos": (
        ("Library/Application Support/Google/Chrome", "chrome"),
        ("Library/Application Support/Google/Chrome Beta", "chrome-beta"),
        ("Library/Application Support/Chromium", "chromium"),
        ("Library/Application Support/Microsoft Edge", "edge"),
        ("Library/Application Support/BraveSoftware/Brave-Browser", "brave"),
        ("Library/Application Support/Vivaldi", "vivaldi"),
    ),
    "windows": (
        ("AppData/Local/Google/Chrome/User Data", "chrome"),
        ("AppData/Local/Google/Chrome Beta/User Data", "chrome-beta"),
        ("AppData/Local/Chromium/User Data", "chromium"),
        ("AppData/Local/Microsoft/Edge/User Data", "edge"),
        ("AppData/Local/BraveSoftware/Brave-Browser/User Data", "brave"),
        ("AppData/Local/Vivaldi/User Data", "vivaldi"),
    ),
}

FIREFOX_DIRS: dict[str, tuple[str, ...]] = {
    "linux": (
        ".mozilla/firefox",
        "snap/firefox/common/.mozilla/firefox",
        ".var/app/org.mozilla.firefox/.mozilla/firefox",
    ),
    "macos": ("Library/Application Support/Firefox/Profiles",),
    "windows": ("AppData/Roaming/Mozilla/Firefox/Profiles",),
}

# Windows profile folders that are links or templates, not people.
_WINDOWS_SKIP_USERS = {"all users", "default user"}

# Where user_homes finds homes, for `reads` patterns.
_HOMES: dict[str, tuple[str, ...]] = {
    "linux": ("home/*", "root"),
    "macos": ("Users/*",),
    "windows": ("Users/*",),
}


def _reads(folders: dict[str, tuple[str, ...]], below: tuple[str, ...]) -> tuple[str, ...]:
    """`reads` patterns: `below` each browser folder of every home, on every layout."""
    found = (
        f"{home}/{folder}/{rel}"
        for os_name, places in folders.items()
        for home in _HOMES[os_name]
        for folder in places
        for rel in below
    )
    return ("home/*/", "Users/*/", *found)


# --- paths -------------------------------------------------------------------------------


def sys_path(ctx: CollectContext, path: Path) -> str:
    """The path as the scanned system shows it: "/home/u/…" or "C:\\Users\\u\\…"."""
    try:
        rel = path.relative_to(ctx.root)
    except ValueError:
        return str(path)
    if ctx.os == "windows":
        return "C:\\" + "\\".join(rel.parts)
    text = rel.as_posix()
    return "/" if text in ("", ".") else "/" + text


def _entries(ctx: CollectContext, path: Path) -> list[Path]:
    entries = fs.list_dir(ctx, path)
    if len(entries) > MAX_ENTRIES:
        ctx.errors.report(path, None, f"{len(entries)} entries; only the first {MAX_ENTRIES} were read")
        entries = entries[:MAX_ENTRIES]
    return entries


def _is_real_dir(ctx: CollectContext, path: Path) -> bool:
    real = fs.resolve(ctx, path)
    try:
        return real is not None and real.is_dir()
    except OSError:
        return False


def child(ctx: CollectContext, parent: Path, rel: str) -> Path | None:
    """parent/rel if it exists; on Windows each part is matched case-insensitively."""
    cur = parent
    for part in PurePath(rel).parts:
        if not _is_real_dir(ctx, cur):
            return None
        direct = cur / part
        if fs.exists(ctx, direct):
            cur = direct
            continue
        if ctx.os != "windows":
            return None
        match = next((p for p in fs.list_dir(ctx, cur) if p.name.lower() == part.lower()), None)
        if match is None:
            return None
        cur = match
    return cur


def user_homes(ctx: CollectContext) -> Iterator[tuple[str, Path]]:
    """(user, home) pairs for the layout of the scanned system."""
    if ctx.os == "linux":
        candidates = [(p.name, p) for p in _entries(ctx, ctx.path("home"))]
        candidates.append(("root", ctx.path("root")))
    else:
        users = child(ctx, ctx.root, "Users")
        candidates = [(p.name, p) for p in _entries(ctx, users)] if users is not None else []
    for user, home in candidates:
        if user.startswith(".") or (ctx.os == "windows" and user.lower() in _WINDOWS_SKIP_USERS):
            continue
        if _is_real_dir(ctx, home):
            yield user, home


# --- JSON --------------------------------------------------------------------------------


def _strip_comments(src: str) -> str:
    """Drop // and /* */ comments and trailing commas outside strings (Chromium accepts them)."""
    out: list[str] = []
    i, n = 0, len(src)
    in_string = False
    while i < n:
        ch = src[i]
        if in_string:
            out.append(ch)
            if ch == "\\" and i + 1 < n:
                out.append(src[i + 1])
                i += 2
                continue
            if ch == '"':
                in_string = False
            i += 1
            continue
        if ch == '"':
            in_string = True
        elif src.startswith("//", i):
            end = src.find("\n", i)
            i = n if end < 0 else end
            continue
        elif src.startswith("/*", i):
            end = src.find("*/", i + 2)
            i = n if end < 0 else end + 2
            out.append(" ")
            continue
        elif ch == ",":
            j = i + 1
            while j < n and src[j] in " \t\r\n":
                j += 1
            if j < n and src[j] in "}]":
                i += 1
                continue
        out.append(ch)
        i += 1
    return "".join(out)


def load_json(
    ctx: CollectContext, path: Path, *, limit: int = JSON_LIMIT, lenient: bool = False
) -> Any | None:
    """Parse a JSON file; None if missing. Bad JSON is one error line with line:col."""
    data = fs.read_document(ctx, path, what="JSON", limit=limit)
    if data is None:
        return None
    source = fs.decode_text(ctx, path, data)
    try:
        return json.loads(source)
    except json.JSONDecodeError as exc:
        if lenient:
            try:
                return json.loads(_strip_comments(source))
            except (json.JSONDecodeError, RecursionError):
                pass
        ctx.errors.report(path, f"{exc.lineno}:{exc.colno}", f"invalid JSON: {exc.msg}")
    except RecursionError:
        ctx.errors.report(path, None, "invalid JSON: nesting too deep")
    return None


def _text(value: object) -> str | None:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return None


def _extras(pairs: dict[str, object]) -> tuple[tuple[str, str], ...]:
    out: list[tuple[str, str]] = []
    for key, value in pairs.items():
        if isinstance(value, bool):
            out.append((key, "true" if value else "false"))
        elif isinstance(value, int | float):
            out.append((key, str(value)))
        else:
            rendered = _text(value)
            if rendered is not None:
                out.append((key, rendered))
    return tuple(out)


# --- Chromium ----------------------------------------------------------------------------


def _locale_message(ctx: CollectContext, ext_dir: Path, manifest: dict[str, Any], key: str) -> str | None:
    """The message `key` from _locales/<default_locale>/messages.json (keys are case-insensitive)."""
    locales_dir = ext_dir / "_locales"
    wanted: list[str] = []
    default = _text(manifest.get("default_locale"))
    if default:
        wanted += [default, default.replace("-", "_")]
    wanted += ["en", "en_US", "en_GB"]
    tried: set[str] = set()
    for locale in wanted:
        if locale in tried:
            continue
        tried.add(locale)
        messages = load_json(ctx, locales_dir / locale / "messages.json", lenient=True)
        if not isinstance(messages, dict):
            continue
        for msg_key, entry in messages.items():
            if isinstance(msg_key, str) and msg_key.lower() == key.lower() and isinstance(entry, dict):
                message = _text(entry.get("message"))
                if message:
                    return message
    return None


def _resolve_msg(
    ctx: CollectContext, ext_dir: Path, manifest: dict[str, Any], value: str | None
) -> str | None:
    if value is None:
        return None
    match = _MSG.fullmatch(value)
    if match is None:
        return value
    return _locale_message(ctx, ext_dir, manifest, match.group(1)) or value


class ChromiumExtensions:
    name: ClassVar[str] = "browser-chromium"
    os: ClassVar[tuple[OS, ...]] = ("linux", "windows", "macos")
    live_only: ClassVar[bool] = False
    reads: ClassVar[tuple[str, ...]] = _reads(
        {os_name: tuple(f for f, _ in dirs) for os_name, dirs in CHROMIUM_DIRS.items()},
        (
            "*/",  # profiles
            "*/Extensions/*/*/",  # <id>/<version>
            "*/Extensions/*/*/manifest.json",
            "*/Extensions/*/*/_locales/*/messages.json",
        ),
    )

    def collect(self, ctx: CollectContext) -> Iterator[InventoryRecord]:
        for user, home in user_homes(ctx):
            for rel, browser in CHROMIUM_DIRS.get(ctx.os, ()):
                data_dir = child(ctx, home, rel)
                if data_dir is None:
                    continue
                for profile in _entries(ctx, data_dir):
                    extensions = child(ctx, profile, "Extensions")
                    if extensions is not None and _is_real_dir(ctx, extensions):
                        yield from self._profile(ctx, extensions, browser, profile.name, user)

    def _profile(
        self, ctx: CollectContext, extensions: Path, browser: str, profile: str, user: str
    ) -> Iterator[InventoryRecord]:
        for id_dir in _entries(ctx, extensions):
            if not _CHROME_ID.fullmatch(id_dir.name):
                continue  # "Temp" and other housekeeping folders
            for version_dir in _entries(ctx, id_dir):
                manifest_path = version_dir / "manifest.json"
                if not _is_real_dir(ctx, version_dir) or not fs.exists(ctx, manifest_path):
                    continue
                record = self._extension(ctx, manifest_path, id_dir.name, browser, profile, user)
                if record is not None:
                    yield record

    def _extension(
        self, ctx: CollectContext, manifest_path: Path, ext_id: str, browser: str, profile: str, user: str
    ) -> InventoryRecord | None:
        manifest = load_json(ctx, manifest_path, lenient=True)
        if manifest is None:
            return None
        if not isinstance(manifest, dict):
            ctx.errors.report(manifest_path, None, "invalid manifest: top level is not an object")
            return None
        ext_dir = manifest_path.parent
        raw_name = _text(manifest.get("name"))
        name = _resolve_msg(ctx, ext_dir, manifest, raw_name) or ext_id
        author = manifest.get("author")
        if isinstance(author, dict):
            author = author.get("name") or author.get("email")
        version = _text(manifest.get("version")) or ext_dir.name.split("_", 1)[0] or None
        return InventoryRecord(
            host=ctx.host,
            source=Source(self.name, sys_path(ctx, manifest_path)),
            kind=RecordKind.EXTENSION,
            name=name,
            version=version,
            publisher=_text(author),
            path=sys_path(ctx, ext_dir),
            extension_id=ext_id,
            extra=_extras(
                {
                    "browser": browser,
                    "profile": profile,
                    "user": user,
                    "raw_name": raw_name if raw_name != name else None,
                    "manifest_version": manifest.get("manifest_version"),
                    "update_url": manifest.get("update_url"),
                }
            ),
        )


# --- Firefox -----------------------------------------------------------------------------


class FirefoxExtensions:
    name: ClassVar[str] = "browser-firefox"
    os: ClassVar[tuple[OS, ...]] = ("linux", "windows", "macos")
    live_only: ClassVar[bool] = False
    reads: ClassVar[tuple[str, ...]] = _reads(FIREFOX_DIRS, ("*/extensions.json",))

    def collect(self, ctx: CollectContext) -> Iterator[InventoryRecord]:
        for user, home in user_homes(ctx):
            for rel in FIREFOX_DIRS.get(ctx.os, ()):
                profiles = child(ctx, home, rel)
                if profiles is None:
                    continue
                for profile in _entries(ctx, profiles):
                    db = child(ctx, profile, "extensions.json")
                    if db is not None:
                        yield from self._database(ctx, db, profile.name, user)

    def _database(
        self, ctx: CollectContext, path: Path, profile: str, user: str
    ) -> Iterator[InventoryRecord]:
        db = load_json(ctx, path, limit=EXTENSIONS_JSON_LIMIT)
        if db is None:
            return
        addons = db.get("addons") if isinstance(db, dict) else None
        if not isinstance(addons, list):
            ctx.errors.report(path, None, 'invalid extensions.json: no "addons" array')
            return
        shown = sys_path(ctx, path)
        for index, addon in enumerate(addons):
            if not isinstance(addon, dict):
                ctx.errors.report(path, f"addons[{index}]", "not an object; skipped")
                continue
            if addon.get("type") not in ("extension", "webextension"):
                continue  # themes, dictionaries, language packs
            addon_id = _text(addon.get("id"))
            locale = addon.get("defaultLocale")
            locale = locale if isinstance(locale, dict) else {}
            name = _text(locale.get("name")) or addon_id
            if name is None:
                ctx.errors.report(path, f"addons[{index}]", "extension without id or name; skipped")
                continue
            yield InventoryRecord(
                host=ctx.host,
                source=Source(self.name, f"{shown}:addons[{index}]"),
                kind=RecordKind.EXTENSION,
                name=name,
                version=_text(addon.get("version")),
                publisher=_text(locale.get("creator")),
                path=_text(addon.get("path")),
                extension_id=addon_id,
                extra=_extras(
                    {
                        "browser": "firefox",
                        "profile": profile,
                        "user": user,
                        "location": addon.get("location"),
                        "active": addon.get("active"),
                        "user_disabled": addon.get("userDisabled"),
                        "source_uri": addon.get("sourceURI"),
                    }
                ),
            )


COLLECTORS: list[Collector] = [ChromiumExtensions(), FirefoxExtensions()]
