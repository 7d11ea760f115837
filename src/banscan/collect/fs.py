"""Careful file access for collectors: never follow a link out of the scanned root, never
open a device or FIFO, never read more than a bound, and turn every OS error into one
reported line instead of an exception.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

from banscan.collect.base import CollectContext

_MAX_HOPS = 40


def resolve(ctx: CollectContext, path: Path) -> Path | None:
    """Resolve symlinks of `path` as the scanned system would, staying inside ctx.root.

    A live scan uses the OS's own resolution. An offline root treats absolute link targets
    as relative to the root. Returns None (and reports) on a loop or an escape.
    """
    if ctx.live:
        try:
            return path.resolve(strict=True)
        except RuntimeError:
            ctx.errors.report(path, None, "symbolic link loop")
        except FileNotFoundError:
            return None
        except OSError as exc:
            ctx.errors.report(path, None, exc.strerror or str(exc))
        return None
    root = ctx.root.resolve()
    try:
        rel = path.relative_to(ctx.root)
    except ValueError:
        rel = Path(os.path.relpath(path, ctx.root))
    parts = list(rel.parts)
    cur = root
    hops = 0
    while parts:
        part = parts.pop(0)
        if part in ("", "."):
            continue
        if part == "..":
            cur = cur.parent if cur != root else root
            continue
        nxt = cur / part
        try:
            st = nxt.lstat()
        except FileNotFoundError:
            return None
        except OSError as exc:
            ctx.errors.report(path, None, exc.strerror or str(exc))
            return None
        if stat.S_ISLNK(st.st_mode):
            hops += 1
            if hops > _MAX_HOPS:
                ctx.errors.report(path, None, "symbolic link loop")
                return None
            try:
                target = os.readlink(nxt)
            except OSError as exc:
                ctx.errors.report(path, None, exc.strerror or str(exc))
                return None
            tparts = Path(target).parts
            if os.path.isabs(target):
                cur = root
                tparts = tparts[1:]
            parts = list(tparts) + parts
            continue
        cur = nxt
    return cur


def regular_file(ctx: CollectContext, path: Path, *, report_missing: bool = False) -> Path | None:
    """The real path of a regular file inside the root, or None (reporting why if it matters)."""
    real = resolve(ctx, path)
    if real is None:
        if report_missing:
            ctx.errors.report(path, None, "not found")
        return None
    try:
        st = real.stat()
    except OSError as exc:
        ctx.errors.report(path, None, exc.strerror or str(exc))
        return None
    if stat.S_ISDIR(st.st_mode):
        return None
    if not stat.S_ISREG(st.st_mode):
        ctx.errors.report(path, None, "not a regular file (device, FIFO or socket); skipped")
        return None
    return real


def read_bytes(
    ctx: CollectContext, path: Path, *, limit: int | None = None, report_missing: bool = False
) -> bytes | None:
    """Read a whole regular file, up to `limit` bytes; None if it cannot or should not be read."""
    real = regular_file(ctx, path, report_missing=report_missing)
    if real is None:
        return None
    cap = ctx.max_file_bytes if limit is None else limit
    try:
        size = real.stat().st_size
        if size > cap:
            ctx.errors.report(path, None, f"file is {size} bytes, over the {cap}-byte limit; skipped")
            return None
        with real.open("rb") as fh:
            return fh.read(cap + 1)[:cap]
    except OSError as exc:
        ctx.errors.report(path, None, exc.strerror or str(exc))
        return None


def decode_text(ctx: CollectContext, path: Path, data: bytes) -> str:
    """Decode UTF-8 (BOM or not); on bad bytes report the offset once and decode leniently."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        ctx.errors.report(path, f"{line}", f"not valid UTF-8 at byte {exc.start}; undecodable bytes replaced")
        return data.decode("utf-8-sig", errors="replace")


def read_text(ctx: CollectContext, path: Path, *, limit: int | None = None) -> str | None:
    data = read_bytes(ctx, path, limit=limit)
    return None if data is None else decode_text(ctx, path, data)


def list_dir(ctx: CollectContext, path: Path) -> list[Path]:
    """Entries of a directory inside the root, sorted; [] if it is missing or unreadable."""
    real = resolve(ctx, path)
    if real is None:
        return []
    try:
        if not real.is_dir():
            return []
        names = sorted(os.listdir(real))
    except PermissionError as exc:
        ctx.errors.report(path, None, exc.strerror or "permission denied")
        return []
    except OSError as exc:
        ctx.errors.report(path, None, exc.strerror or str(exc))
        return []
    return [path / n for n in names]


def is_dir(ctx: CollectContext, path: Path) -> bool:
    real = resolve(ctx, path)
    try:
        return real is not None and real.is_dir()
    except OSError:
        return False


def exists(ctx: CollectContext, path: Path) -> bool:
    real = resolve(ctx, path)
    try:
        return real is not None and real.exists()
    except OSError:
        return False


def walk(ctx: CollectContext, top: Path, *, max_depth: int = 6) -> Iterator[tuple[Path, bool]]:
    """Yield (path, is_dir) below `top` without following symlinks, to a bounded depth."""
    real_top = resolve(ctx, top)
    if real_top is None:
        return
    stack: list[tuple[Path, Path, int]] = [(top, real_top, 0)]
    while stack:
        shown, real, depth = stack.pop()
        try:
            with os.scandir(real) as it:
                entries = sorted(it, key=lambda e: e.name)
        except PermissionError as exc:
            ctx.errors.report(shown, None, exc.strerror or "permission denied")
            continue
        except OSError as exc:
            ctx.errors.report(shown, None, exc.strerror or str(exc))
            continue
        for entry in entries:
            try:
                is_d = entry.is_dir(follow_symlinks=False)
            except OSError:
                is_d = False
            child = shown / entry.name
            yield child, is_d
            if is_d and depth + 1 < max_depth:
                stack.append((child, Path(entry.path), depth + 1))


def read_document(ctx: CollectContext, path: Path, *, what: str, limit: int | None = None) -> bytes | None:
    """Bytes of a file that should be a document (JSON, plist …): None if it does not exist;
    a folder where the file should be is reported as an invalid document."""
    real = resolve(ctx, path)
    if real is None:
        return None
    try:
        if real.is_dir():
            ctx.errors.report(path, None, f"invalid {what}: is a directory, not a file")
            return None
    except OSError as exc:
        ctx.errors.report(path, None, exc.strerror or str(exc))
        return None
    return read_bytes(ctx, path, limit=limit)
