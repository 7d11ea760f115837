"""Offline registry: hive files of a mounted or copied Windows root, read with regipy.

Hives are found case-insensitively (copies keep Windows' mixed case) through the careful
file access functions, so a link can never lead outside the root. regipy is the parser for untrusted
bytes: any exception it raises, and any corruption it only logs, becomes a HiveError.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from banscan.collect import fs
from banscan.collect.base import CollectContext
from banscan.collect.windows.view import Hive, HiveError, HiveKind, RegKey, RegValue, report_hive_error

CONFIG = ("Windows", "System32", "config")
HIVE_MAX_BYTES = 1 << 30  # real SOFTWARE hives reach hundreds of MB; regipy holds one in memory
_REGF = b"regf"


class _Complaints(logging.Handler):
    """regipy logs some corruption (a bad value record) instead of raising; catch those."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.local = threading.local()

    def emit(self, record: logging.LogRecord) -> None:
        msgs: list[str] | None = getattr(self.local, "msgs", None)
        if msgs is not None:
            msgs.append(record.getMessage())


_COMPLAINTS = _Complaints()
_regipy_log = logging.getLogger("regipy")
_regipy_log.addHandler(_COMPLAINTS)
_regipy_log.propagate = False  # its messages become our one-line hive errors instead


def _call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run one regipy call; raise HiveError if it fails or logs corruption."""
    msgs: list[str] = []
    _COMPLAINTS.local.msgs = msgs
    try:
        result = fn(*args, **kwargs)
        if isinstance(result, Iterator):
            result = list(result)
    except Exception as exc:  # parser of untrusted bytes: any failure means damage
        raise HiveError(f"damaged registry hive: {type(exc).__name__}: {exc}") from exc
    finally:
        _COMPLAINTS.local.msgs = None
    if msgs:
        raise HiveError(f"damaged registry hive: {msgs[0]}")
    return result


class OfflineKey:
    """A regipy NKRecord seen through the RegKey protocol."""

    def __init__(self, record: Any) -> None:
        self._record = record

    @property
    def name(self) -> str:
        return str(_call(lambda: self._record.name))

    def subkey(self, path: str) -> RegKey | None:
        record = self._record
        for part in (p for p in path.split("\\") if p):
            if not record.header.subkey_count:
                return None
            record = _call(record.get_subkey, part, raise_on_missing=False)
            if record is None:
                return None
        return OfflineKey(record)

    def subkeys(self) -> Iterator[RegKey]:
        if not self._record.header.subkey_count:
            return iter(())
        return iter([OfflineKey(r) for r in _call(self._record.iter_subkeys) or ()])

    def values(self) -> dict[str, RegValue]:
        out: dict[str, RegValue] = {}
        for v in _call(self._record.iter_values, trim_values=False) or ():
            name = "" if v.name == "(default)" else str(v.name)
            out[name] = _normalise(v.value)
        return out


def _normalise(value: Any) -> RegValue:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, str | int | bytes):
        return value
    if isinstance(value, list):
        return [str(v) for v in value]
    return str(value)


def ci_child(ctx: CollectContext, parent: Path, name: str) -> Path | None:
    """A child of `parent` whose name matches case-insensitively (exact case preferred)."""
    entries = fs.list_dir(ctx, parent)
    for entry in entries:
        if entry.name == name:
            return entry
    for entry in entries:
        if entry.name.lower() == name.lower():
            return entry
    return None


def ci_find(ctx: CollectContext, *parts: str) -> Path | None:
    cur: Path | None = ctx.root
    for part in parts:
        if cur is None:
            return None
        cur = ci_child(ctx, cur, part)
    return cur


def open_hive(
    ctx: CollectContext, path: Path, kind: HiveKind, prefix: str, user: str | None = None
) -> Hive | None:
    """Open one hive file inside the root; report (once) and return None if it is unusable."""
    shown = str(path)
    real = fs.regular_file(ctx, path)
    if real is None:
        return None
    try:
        size = real.stat().st_size
        with real.open("rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        report_hive_error(ctx, shown, exc.strerror or str(exc))
        return None
    if size == 0:
        report_hive_error(ctx, shown, "registry hive is empty (0 bytes)")
        return None
    if size > HIVE_MAX_BYTES:
        report_hive_error(ctx, shown, f"registry hive is {size} bytes, over the {HIVE_MAX_BYTES}-byte limit")
        return None
    if magic != _REGF:
        report_hive_error(ctx, shown, "not a registry hive (no 'regf' signature)")
        return None
    try:
        from regipy.registry import RegistryHive

        parsed = _call(RegistryHive, str(real))
    except HiveError as exc:
        report_hive_error(ctx, shown, str(exc))
        return None
    rel = path.relative_to(ctx.root).as_posix() if path.is_relative_to(ctx.root) else shown
    return Hive(kind, rel, prefix, OfflineKey(parsed.root), shown, user)


class OfflineView:
    """Hives of an offline root: config\\SOFTWARE, config\\SYSTEM and each Users\\*\\NTUSER.DAT."""

    def __init__(self, ctx: CollectContext) -> None:
        self.ctx = ctx

    def hives(self, kind: HiveKind) -> Iterator[Hive]:
        if kind == "user":
            yield from self._user_hives()
            return
        name = "SOFTWARE" if kind == "software" else "SYSTEM"
        config = ci_find(self.ctx, *CONFIG)
        path = ci_child(self.ctx, config, name) if config is not None else None
        if path is None:
            if config is not None:
                report_hive_error(self.ctx, str(config / name), "registry hive not found")
            return
        hive = open_hive(self.ctx, path, kind, f"HKLM\\{name}")
        if hive is not None:
            yield hive

    def _user_hives(self) -> Iterator[Hive]:
        users = ci_find(self.ctx, "Users")
        if users is None:
            return
        for home in fs.list_dir(self.ctx, users):
            # "All Users" and "Default User" are links to other folders: reading them twice adds nothing.
            if home.is_symlink() or not fs.is_dir(self.ctx, home):
                continue
            ntuser = ci_child(self.ctx, home, "NTUSER.DAT")
            if ntuser is None:
                continue  # Public and never-logged-on profiles have no hive; that is normal
            hive = open_hive(self.ctx, ntuser, "user", "HKCU", user=home.name)
            if hive is not None:
                yield hive
