"""Helpers shared by the macOS collectors: plist loading, in-system paths, user folders."""

from __future__ import annotations

import datetime as _dt
import plistlib
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from banscan.collect import fs
from banscan.collect.base import CollectContext

PLIST_LIMIT = 8 * 1024 * 1024
MAX_DIR_ENTRIES = 5000

# Folders that are bundles themselves; a search for apps never descends into them.
BUNDLE_SUFFIXES = (
    ".app",
    ".bundle",
    ".framework",
    ".plugin",
    ".kext",
    ".systemextension",
    ".pkg",
    ".xpc",
    ".appex",
    ".lproj",
)


def sys_path(ctx: CollectContext, path: Path) -> str:
    """The path as the scanned Mac itself would show it ("/Applications/X.app")."""
    try:
        rel = path.relative_to(ctx.root)
    except ValueError:
        return str(path)
    text = rel.as_posix()
    return "/" if text in ("", ".") else "/" + text


def load_plist(ctx: CollectContext, path: Path, *, limit: int = PLIST_LIMIT) -> Any | None:
    """Parse an XML or binary plist; None if missing. Bad content is reported as one line."""
    data = fs.read_document(ctx, path, what="plist", limit=limit)
    if data is None:
        return None
    if not data.strip():
        ctx.errors.report(path, None, "invalid plist: file is empty")
        return None
    try:
        return plistlib.loads(data)
    except Exception as exc:  # noqa: BLE001 - any parser failure on hostile input is one error line
        ctx.errors.report(path, None, f"invalid plist: {_plist_reason(data, exc)}")
        return None


def load_plist_dict(ctx: CollectContext, path: Path, *, limit: int = PLIST_LIMIT) -> dict[str, Any] | None:
    """Like load_plist, but the top level must be a dictionary (reported otherwise)."""
    value = load_plist(ctx, path, limit=limit)
    if value is None:
        return None
    if not isinstance(value, dict):
        ctx.errors.report(path, None, f"invalid plist: top level is {_kind(value)}, expected a dictionary")
        return None
    return value


def _plist_reason(data: bytes, exc: Exception) -> str:
    if data.startswith(b"bplist"):
        detail = str(exc).strip()
        if not detail or detail == "Invalid file":
            return "truncated or corrupt binary plist"
        return f"corrupt binary plist ({type(exc).__name__}: {detail})"
    detail = str(exc).strip() or type(exc).__name__
    if detail == "Invalid file":
        detail = "neither an XML nor a binary property list"
    if isinstance(exc, RecursionError):
        detail = "nesting too deep"
    return detail


def _kind(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    return f"a {type(value).__name__}"


def text(value: object) -> str | None:
    """A non-empty, stripped string, or None for anything else."""
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return None


def first_text(data: Mapping[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = text(data.get(key))
        if value is not None:
            return value
    return None


def scalar(value: object) -> str | None:
    """A plist scalar rendered as text for `extra` (dates as ISO 8601)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, _dt.datetime):
        return value.isoformat()
    if isinstance(value, int | float):
        return str(value)
    return text(value)


def extras(pairs: Mapping[str, object]) -> tuple[tuple[str, str], ...]:
    """Build InventoryRecord.extra from a mapping, dropping empty values."""
    out: list[tuple[str, str]] = []
    for key, value in pairs.items():
        rendered = scalar(value)
        if rendered is not None:
            out.append((key, rendered))
    return tuple(out)


def list_entries(ctx: CollectContext, path: Path) -> list[Path]:
    """Directory entries without hidden names, bounded in number."""
    entries = [p for p in fs.list_dir(ctx, path) if not p.name.startswith(".")]
    if len(entries) > MAX_DIR_ENTRIES:
        ctx.errors.report(path, None, f"{len(entries)} entries; only the first {MAX_DIR_ENTRIES} were read")
        entries = entries[:MAX_DIR_ENTRIES]
    return entries


def real_dir(ctx: CollectContext, path: Path) -> Path | None:
    """The real path of a directory inside the root, or None (loops are reported once)."""
    real = fs.resolve(ctx, path)
    if real is None:
        return None
    try:
        return real if real.is_dir() else None
    except OSError:
        return None


def user_homes(ctx: CollectContext) -> Iterator[tuple[str, Path]]:
    """(user name, home folder) for every folder under /Users."""
    for home in list_entries(ctx, ctx.path("Users")):
        if real_dir(ctx, home) is not None:
            yield home.name, home


_COPYRIGHT_NOISE = re.compile(
    r"(?i)(copyright|all\s+rights\s+reserved\.?|\(c\)|©|\b\d{4}(\s*[-–—]\s*\d{4})?\b|,)",
)
_KEEP_DOT = {"inc", "ltd", "co", "corp", "llc", "gmbh", "s.a", "b.v", "s.r.o", "plc", "ag", "l.p"}


def publisher_from_copyright(copyright_text: str | None) -> str | None:
    """The holder named in a copyright line: "© 1997-2021 AO Kaspersky Lab." → "AO Kaspersky Lab"."""
    if not copyright_text:
        return None
    holder = _COPYRIGHT_NOISE.sub(" ", copyright_text.splitlines()[0])
    holder = " ".join(holder.split()).strip(" ,;:-–—")
    if holder.endswith("."):
        last = holder.rsplit(" ", 1)[-1].rstrip(".").lower()
        if last not in _KEEP_DOT:
            holder = holder.rstrip(".").rstrip()
    if holder.lower().startswith("by "):
        holder = holder[3:].strip()
    if not holder or len(holder) > 200 or not any(ch.isalpha() for ch in holder):
        return None
    return holder
