"""Live registry of the running Windows machine, through winreg (Windows only).

The 64-bit view is opened explicitly so a 32-bit Python still sees the native keys, and
WOW6432Node is then read as an ordinary subkey, exactly as in an offline SOFTWARE hive.
User hives are the profiles currently loaded under HKEY_USERS.
"""

from __future__ import annotations

import sys
import winreg
from collections.abc import Iterator

from banscan.collect.base import CollectContext
from banscan.collect.windows.view import Hive, HiveError, HiveKind, RegKey, RegValue

assert sys.platform == "win32"  # imported only on Windows; type checkers skip the rest elsewhere

ACCESS = winreg.KEY_READ | winreg.KEY_WOW64_64KEY
PROFILES = r"SOFTWARE\Microsoft\Windows NT\CurrentVersion\ProfileList"


class LiveKey:
    def __init__(self, root: int, path: str, name: str) -> None:
        self._root = root
        self._path = path
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    def _open(self, path: str) -> winreg.HKEYType:
        return winreg.OpenKey(self._root, path, 0, ACCESS)

    def subkey(self, path: str) -> RegKey | None:
        parts = [p for p in path.split("\\") if p]
        if not parts:
            return self
        full = "\\".join([self._path, *parts]) if self._path else "\\".join(parts)
        try:
            with self._open(full):
                pass
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise HiveError(f"{full}: {exc.strerror or exc}") from exc
        return LiveKey(self._root, full, parts[-1])

    def subkeys(self) -> Iterator[RegKey]:
        names: list[str] = []
        try:
            with self._open(self._path) as handle:
                for i in range(winreg.QueryInfoKey(handle)[0]):
                    names.append(winreg.EnumKey(handle, i))
        except OSError as exc:
            raise HiveError(f"{self._path}: {exc.strerror or exc}") from exc
        base = f"{self._path}\\" if self._path else ""
        return iter([LiveKey(self._root, base + n, n) for n in names])

    def values(self) -> dict[str, RegValue]:
        out: dict[str, RegValue] = {}
        try:
            with self._open(self._path) as handle:
                for i in range(winreg.QueryInfoKey(handle)[1]):
                    name, value, _type = winreg.EnumValue(handle, i)
                    if isinstance(value, str | int | bytes):
                        out[name] = value
                    elif isinstance(value, list):
                        out[name] = [str(v) for v in value]
        except OSError as exc:
            raise HiveError(f"{self._path}: {exc.strerror or exc}") from exc
        return out


class LiveView:
    def __init__(self, ctx: CollectContext) -> None:
        self.ctx = ctx

    def hives(self, kind: HiveKind) -> Iterator[Hive]:
        if kind == "user":
            yield from self._users()
            return
        name = "SOFTWARE" if kind == "software" else "SYSTEM"
        where = f"HKLM\\{name}"
        yield Hive(kind, where, where, LiveKey(winreg.HKEY_LOCAL_MACHINE, name, name), where)

    def _users(self) -> Iterator[Hive]:
        try:
            with winreg.OpenKey(winreg.HKEY_USERS, "", 0, ACCESS) as handle:
                sids = [winreg.EnumKey(handle, i) for i in range(winreg.QueryInfoKey(handle)[0])]
        except OSError as exc:
            self.ctx.errors.report("HKU", None, exc.strerror or str(exc))
            return
        for sid in sids:
            if not sid.startswith("S-1-5-21-") or sid.endswith("_Classes"):
                continue  # system accounts and the per-user Classes views are not people
            where = f"HKU\\{sid}"
            yield Hive("user", where, where, LiveKey(winreg.HKEY_USERS, sid, sid), where, _user_name(sid))


def _user_name(sid: str) -> str:
    """The profile folder name for a SID (what offline scans call the user), else the SID."""
    try:
        with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, f"{PROFILES}\\{sid}", 0, ACCESS) as handle:
            path, _ = winreg.QueryValueEx(handle, "ProfileImagePath")
    except OSError:
        return sid
    return str(path).rstrip("\\").rsplit("\\", 1)[-1] or sid
