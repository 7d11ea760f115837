"""App inventories of phones and tablets: Android `pm list packages` and Apple Configurator.

Bans on apps (the No TikTok on Government Devices Act, OMB M-23-13, FAR 52.204-27, state lists)
are about government phones, and the catalog names such apps by bundle id: an iOS bundle
identifier or an Android package name (`IdentifierKind.BUNDLE_ID`). So every record here is an
APP carrying that id in `bundle_id`, with the platform as an extra.

Android (`android-pm`): the output of `adb shell pm list packages` (or `cmd package list
packages`), as the Android Open Source Project's PackageManagerShellCommand prints it, one line
per package: `package:` [APK path `=`] name [` versionCode:`N] [`  installer=`X] [` uid:`N] for
the options `-f`, `--show-versioncode`, `-i` and `-U`. The output names no device, so the host
is the file's name (save one file per phone, e.g. `adb -s SERIAL shell pm list packages -f -i
--show-versioncode > GOV-PIXEL-0142.txt`). There is no display name: `name` is the package name
too, `version` the versionCode (an integer build number), `path` the APK. A file that PowerShell
redirected (UTF-16 with a BOM) is read as well. Sniffing is strict: nine in ten of the first
lines must be such package lines, so other text is never taken for it.

Apple Configurator (`cfgutil-json`): `cfgutil --format JSON get installedApps` (add `name` to
the properties, `get name installedApps`, to have the devices named), which prints
`{"Command": "get", "Output": {ECID: {"installedApps": [...], ...}, "Errors": {ECID: {...}}},
"Type": "CommandOutput", "Devices": [ECID, ...]}`. Each app gives `bundleIdentifier`,
`displayName` (the home-screen label; `itunesName` is the App Store title) and `bundleVersion`.
The host is the device's `name` when the output has it, else its ECID. The layout is that of
cfgutil 2.x output as public tools capture and parse it (it was not checked against Apple's own
documentation). Per-device errors under `Errors` are reported, one line each.

Jamf Pro mobile devices are read by `jamf-json` (`banscan.inputs.mdm`), and Microsoft Intune's
discovered-apps reports for iOS and Android (AppInvAggregate, AppInvRawData, AppInvByDevice) by
`intune-csv`; those exports carry no bundle id, so their apps are matched by name.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, ClassVar

from banscan.errors import ErrorSink
from banscan.inputs.base import SNIFF_BYTES, InputReader, head_of
from banscan.inputs.csvsniff import UTF8_BOM, UTF16_BE_BOM, UTF16_LE_BOM, head_text
from banscan.inputs.mdm import LocatedJson, parse_located
from banscan.models import InventoryRecord, RecordKind, Source

MAX_LINE = 64 * 1024  # a package line is a path and a name; longer is not pm output
MAX_JSON_BYTES = 256 * 1024 * 1024
BAD_LINES_SHOWN = 10  # lines that are not pm output reported one by one; the rest are counted

# ---- Android `pm list packages` --------------------------------------------------------------

# Android's rule for package names (PackageParser.validateName): dot-separated segments, each a
# letter then letters, digits or underscores. System packages such as `android` have no dot.
_PACKAGE = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)*")
_DIGITS = re.compile(r"-?\d+")
_UIDS = re.compile(r"\d+(?:,\d+)*")  # one per user with `--user all`


@dataclass(frozen=True, slots=True)
class PmPackage:
    """One line of `pm list packages` output."""

    package: str
    apk: str | None = None
    version_code: str | None = None
    installer: str | None = None
    uid: str | None = None


def parse_pm_line(line: str) -> PmPackage | None:
    """The package a `pm list packages` line names, or None when it is not such a line.

    The line is split at white space (install paths hold none), so its cost stays linear in
    its length: `package:[APK=]NAME`, then any of `versionCode:N`, `installer=X`, `uid:N`."""
    if not line.startswith("package:"):
        return None
    first, *options = line.split()
    apk, eq, package = first[len("package:") :].rpartition("=")  # a path may hold `=`, a name never
    if not _PACKAGE.fullmatch(package) or (eq and not apk):
        return None
    found: dict[str, str] = {}
    for option in options:
        if option.startswith("versionCode:") and _DIGITS.fullmatch(value := option[len("versionCode:") :]):
            key = "version_code"
        elif option.startswith("installer="):
            key, value = "installer", option[len("installer=") :]
        elif option.startswith("uid:") and _UIDS.fullmatch(value := option[len("uid:") :]):
            key = "uid"
        else:
            return None
        if key in found:
            return None
        found[key] = value
    installer = found.get("installer")
    return PmPackage(
        package=package,
        apk=apk or None,
        version_code=found.get("version_code"),
        installer=installer if installer and installer != "null" else None,
        uid=found.get("uid"),
    )


def _text_lines(
    stream: BinaryIO, filename: str, errors: ErrorSink, head: bytes, what: str
) -> Iterator[tuple[int, str]]:
    """Numbered lines of a text file (UTF-8, or UTF-16 with a BOM); stops at binary data."""
    utf16 = head.startswith((UTF16_LE_BOM, UTF16_BE_BOM))
    text: io.TextIOWrapper | None = None
    if utf16:
        text = io.TextIOWrapper(stream, encoding="utf-16", errors="replace", newline="")  # type: ignore[type-var]
    lineno = 0
    try:
        while True:
            if text is not None:
                line = text.readline(MAX_LINE + 1)
            else:
                raw = stream.readline(MAX_LINE + 1)
                if lineno == 0:
                    raw = raw.removeprefix(UTF8_BOM)
                if b"\x00" in raw:
                    errors.report(filename, lineno + 1, f"binary data, not {what}; rest of file skipped")
                    return
                line = raw.decode("utf-8", errors="replace")
            if not line:
                return
            lineno += 1
            if len(line) > MAX_LINE:
                errors.report(
                    filename, lineno, f"line longer than {MAX_LINE} characters; rest of file skipped"
                )
                return
            if "\x00" in line:
                errors.report(filename, lineno, f"binary data, not {what}; rest of file skipped")
                return
            yield lineno, line
    finally:
        if text is not None:
            text.detach()  # the caller owns the binary stream


class AndroidPmReader:
    """`adb shell pm list packages [-f] [-i] [-U] [--show-versioncode]` saved to a file."""

    name: ClassVar[str] = "android-pm"
    WHAT: ClassVar[str] = "`pm list packages` output"

    def sniff(self, head: bytes, filename: str) -> int:
        text = head_text(head)
        if text is None:
            return 0
        lines = text.splitlines()
        if len(head) >= SNIFF_BYTES:
            lines = lines[:-1]  # the last line may be cut short by the head's end
        lines = [line for line in lines[:400] if line.strip()]
        if not lines:
            return 0
        good = sum(1 for line in lines if parse_pm_line(line) is not None)
        if good == 0 or good * 10 < len(lines) * 9:
            return 0
        return 90 if good >= 3 else 60

    def read(
        self, stream: BinaryIO, filename: str, errors: ErrorSink, default_host: str
    ) -> Iterator[InventoryRecord]:
        bad = 0
        for lineno, line in _text_lines(stream, filename, errors, head_of(stream), self.WHAT):
            if not line.strip():
                continue
            pkg = parse_pm_line(line)
            if pkg is None:
                bad += 1
                if bad <= BAD_LINES_SHOWN:
                    errors.report(
                        filename, lineno, f"not a `pm list packages` line ({_shown(line)}); skipped"
                    )
                continue
            extra = [("platform", "android")]
            extra += [(k, v) for k, v in (("installer", pkg.installer), ("uid", pkg.uid)) if v]
            yield InventoryRecord(
                host=default_host,
                source=Source(self.name, f"{filename}:{lineno}"),
                kind=RecordKind.APP,
                name=pkg.package,
                version=pkg.version_code,
                path=pkg.apk,
                bundle_id=pkg.package,
                extra=tuple(extra),
            )
        if bad > BAD_LINES_SHOWN:
            errors.report(
                filename,
                None,
                f"{bad - BAD_LINES_SHOWN} more lines that are not `pm list packages` output skipped",
            )


def _shown(line: str, limit: int = 60) -> str:
    text = " ".join(line.split())
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


# ---- Apple Configurator `cfgutil` ------------------------------------------------------------


def _text(value: Any) -> str | None:
    """A JSON string or number as trimmed text; None for anything else or empty."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str | int | float):
        return str(value).strip() or None
    return None


def _platform(device_type: str | None) -> str:
    """The platform of a device cfgutil manages, from its `deviceType` (e.g. iPhone16,1) when the
    output has it: an iPhone, iPad or iPod (the usual case, and the guess without it) is `ios`."""
    if device_type and device_type.startswith("AppleTV"):
        return "tvos"
    if device_type and device_type.startswith("RealityDevice"):
        return "visionos"
    return "ios"


class CfgutilReader:
    """`cfgutil --format JSON get [name] installedApps` saved to a file."""

    name: ClassVar[str] = "cfgutil-json"

    def sniff(self, head: bytes, filename: str) -> int:
        text = head_text(head)
        if text is None or text.lstrip()[:1] != "{":
            return 0
        if '"Output"' not in text or '"Command"' not in text:
            return 0
        if '"installedApps"' in text:
            return 90
        return 40 if '"CommandOutput"' in text else 0

    def read(
        self, stream: BinaryIO, filename: str, errors: ErrorSink, default_host: str
    ) -> Iterator[InventoryRecord]:
        data = stream.read(MAX_JSON_BYTES + 1)
        if len(data) > MAX_JSON_BYTES:
            errors.report(filename, None, f"larger than {MAX_JSON_BYTES} bytes; skipped")
            return
        doc = parse_located(data, filename, errors)
        del data  # the text alone is kept while the records are read
        if doc is not None:
            yield from self._records(doc, filename, errors)

    def _records(self, doc: LocatedJson, filename: str, errors: ErrorSink) -> Iterator[InventoryRecord]:
        root = doc.root
        start = len(errors.lines)
        if isinstance(root, dict) and root.get("Type") == "Error":
            message = _text(root.get("Message")) or "no message"
            errors.report(filename, doc.line_of(root), f"cfgutil reported an error: {message}")
            return
        output = root.get("Output") if isinstance(root, dict) else None
        if not isinstance(output, dict):
            errors.report(filename, None, "not cfgutil JSON output: no 'Output' object")
            return
        found = False
        for ecid, device in output.items():
            if ecid == "Errors":
                self._device_errors(doc, device, filename, errors)
                continue
            if not isinstance(device, dict):
                errors.report(filename, doc.line_of(output), f"device {ecid}: not an object; skipped")
                continue
            apps = device.get("installedApps")
            if apps is None:
                continue
            found = True
            if not isinstance(apps, list):
                errors.report(filename, doc.line_of(device), f"device {ecid}: 'installedApps' is not a list")
                continue
            yield from self._apps(doc, ecid, device, apps, filename, errors)
        if not found and len(errors.lines) == start:
            errors.report(
                filename,
                None,
                "cfgutil output without installedApps (save `cfgutil --format JSON get name installedApps`)",
            )

    def _apps(
        self,
        doc: LocatedJson,
        ecid: str,
        device: dict[str, Any],
        apps: list[Any],
        filename: str,
        errors: ErrorSink,
    ) -> Iterator[InventoryRecord]:
        host = _text(device.get("name")) or ecid
        device_type = _text(device.get("deviceType"))
        extra_device = [
            (k, v)
            for k, v in (
                ("platform", _platform(device_type)),
                ("ecid", ecid),
                ("udid", _text(device.get("UDID"))),
                ("serial_number", _text(device.get("serialNumber"))),
                ("device_type", device_type),
            )
            if v
        ]
        # cfgutil prints its JSON on one line: there an app is placed by its index, not its line
        one_line = "\n" not in doc.text.strip()
        for i, app in enumerate(apps):
            line = doc.line_of(app) if isinstance(app, dict) and not one_line else None
            where: str | int = line if line is not None else f"{ecid}.installedApps[{i}]"
            if not isinstance(app, dict):
                errors.report(filename, where, "an installedApps entry is not an object; skipped")
                continue
            bundle_id = _text(app.get("bundleIdentifier"))
            display = _text(app.get("displayName"))
            itunes = _text(app.get("itunesName"))
            name = display or itunes or bundle_id
            if name is None:
                errors.report(filename, where, "app without bundleIdentifier or name; skipped")
                continue
            extra = list(extra_device)
            if itunes and itunes != name:
                extra.append(("itunes_name", itunes))
            yield InventoryRecord(
                host=host,
                source=Source(self.name, f"{filename}:{where}"),
                kind=RecordKind.APP,
                name=name,
                version=_text(app.get("bundleVersion")),
                bundle_id=bundle_id,
                extra=tuple(extra),
            )

    def _device_errors(self, doc: LocatedJson, value: Any, filename: str, errors: ErrorSink) -> None:
        """`Output.Errors`: per device, {} (no error), an error, or an error per property."""
        if not isinstance(value, dict):
            return
        for ecid, err in value.items():
            if not isinstance(err, dict) or not err:
                continue
            where = doc.line_of(err)
            if "Message" in err or "Code" in err:
                message = _text(err.get("Message")) or f"code {_text(err.get('Code'))}"
                errors.report(filename, where, f"device {ecid}: cfgutil error: {message}")
                continue
            for prop, detail in err.items():
                reason = _text(detail.get("Message")) if isinstance(detail, dict) else _text(detail)
                errors.report(
                    filename, where, f"device {ecid}: cfgutil could not get {prop}: {reason or 'no message'}"
                )


READERS: list[InputReader] = [AndroidPmReader(), CfgutilReader()]
