"""One small registry interface for offline hive files and the live registry.

Collectors walk keys through `RegKey` and never know whether the data came from regipy or
winreg, so the same code reads a mounted disk image and the running machine. A damaged hive
surfaces as `HiveError`; `report_hive_error` turns it into one line per hive file.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal, Protocol

from banscan.collect.base import CollectContext

RegValue = str | int | bytes | list[str]
HiveKind = Literal["software", "system", "user"]


class HiveError(Exception):
    """A hive (or a live key) could not be read; carries a one-line reason."""


class RegKey(Protocol):
    """A registry key; every method may raise HiveError on damaged data."""

    @property
    def name(self) -> str: ...

    def subkey(self, path: str) -> RegKey | None:
        """A descendant by backslash path (case-insensitive), or None if absent."""
        ...

    def subkeys(self) -> Iterator[RegKey]: ...

    def values(self) -> dict[str, RegValue]:
        """All values by name; the default value is named ""."""
        ...


@dataclass(frozen=True)
class Hive:
    """One opened hive and how to name things inside it.

    `location` names the hive in Source locations (a path inside the root, or `HKLM\\SOFTWARE`
    live); `prefix` is the registry path the hive is mounted at (`HKLM\\SOFTWARE`, `HKCU`).
    """

    kind: HiveKind
    location: str
    prefix: str
    root: RegKey
    report_as: str
    user: str | None = None

    def key_path(self, rel: str) -> str:
        return f"{self.prefix}\\{rel}" if rel else self.prefix

    def source(self, rel: str) -> str:
        return f"{self.location}:{rel}" if rel else self.location


class RegistryView(Protocol):
    def hives(self, kind: HiveKind) -> Iterator[Hive]: ...


def report_hive_error(ctx: CollectContext, hive: Hive | str, message: str) -> None:
    """Report a hive problem once per hive: a damaged file would otherwise flood the log."""
    where = hive.report_as if isinstance(hive, Hive) else hive
    if any(line.startswith(f"{where}: ") for line in ctx.errors.lines):
        return
    ctx.errors.report(where, None, message)


def children(ctx: CollectContext, hive: Hive, key: RegKey | None) -> Iterator[RegKey]:
    """Subkeys of `key`, stopping (with one report) if the list itself is damaged."""
    if key is None:
        return
    try:
        yield from key.subkeys()
    except HiveError as exc:
        report_hive_error(ctx, hive, str(exc))


def find(ctx: CollectContext, hive: Hive, path: str) -> RegKey | None:
    """Look a key up under the hive root; a damaged path is reported and treated as absent."""
    try:
        return hive.root.subkey(path)
    except HiveError as exc:
        report_hive_error(ctx, hive, str(exc))
        return None


def values_of(ctx: CollectContext, hive: Hive, key: RegKey) -> dict[str, RegValue] | None:
    try:
        return key.values()
    except HiveError as exc:
        report_hive_error(ctx, hive, str(exc))
        return None


def text(value: RegValue | None) -> str | None:
    """A value as display text: strings trimmed of NULs, numbers in decimal, lists joined."""
    if value is None or isinstance(value, bytes):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        joined = "; ".join(v for v in value if v)
        return joined or None
    cleaned = value.split("\0", 1)[0].strip()
    return cleaned or None


def current_control_set(ctx: CollectContext, hive: Hive) -> str:
    """`ControlSet00N` named by `Select\\Current`; ControlSet001 when that is missing."""
    select = find(ctx, hive, "Select")
    current = None
    if select is not None:
        vals = values_of(ctx, hive, select) or {}
        current = vals.get("Current")
    if isinstance(current, int) and 0 < current < 1000:
        name = f"ControlSet{current:03d}"
        if find(ctx, hive, name) is not None:
            return name
    return "ControlSet001"
