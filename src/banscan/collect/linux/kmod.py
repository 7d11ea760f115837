"""Kernel modules: loaded ones (live), third-party module files, and modules set to load at boot.

A whole /lib/modules tree holds thousands of distribution modules that no vendor product
ships, so only the trees where out-of-tree modules go (extra, updates, misc, dkms, or any
folder that is not the distribution's own "kernel") are listed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import ClassVar

from banscan.collect import fs
from banscan.collect.base import OS, CollectContext
from banscan.collect.linux._common import inside, record, unique_dirs
from banscan.models import InventoryRecord, RecordKind

MODULE_TREES = ("lib/modules", "usr/lib/modules")
LOAD_DIRS = ("etc/modules-load.d", "run/modules-load.d", "usr/lib/modules-load.d", "lib/modules-load.d")
_DISTRO_TREES = frozenset({"kernel", "build", "source", "vdso"})
_MODULE_FILE = re.compile(r"^(?P<name>.+)\.ko(?:\.(?:xz|gz|zst|bz2))?$")
# `reads` patterns: the trees `_files` walks (not the distribution's), the names it matches
_OUT_OF_TREE = "!(" + "|".join(sorted(_DISTRO_TREES)) + ")"
_MODULE_NAMES = tuple(f"?*.ko{ext}" for ext in ("", ".xz", ".gz", ".zst", ".bz2"))


class KmodCollector:
    """DRIVER records for kernel modules."""

    name: ClassVar[str] = "kmod"
    os: ClassVar[tuple[OS, ...]] = ("linux",)
    live_only: ClassVar[bool] = False
    reads: ClassVar[tuple[str, ...]] = (
        *(p for t in MODULE_TREES for p in (t, f"{t}/*/", f"{t}/*/{_OUT_OF_TREE}/**/")),
        *(f"{t}/*/{_OUT_OF_TREE}/**/{name}" for t in MODULE_TREES for name in _MODULE_NAMES),
        *(p for d in LOAD_DIRS for p in (d, f"{d}/*.conf")),
        "etc/modules",
    )

    def collect(self, ctx: CollectContext) -> Iterator[InventoryRecord]:
        if ctx.live:
            yield from self._loaded(ctx)
        yield from self._files(ctx)
        yield from self._autoload(ctx)

    @staticmethod
    def _loaded(ctx: CollectContext) -> Iterator[InventoryRecord]:
        path = ctx.path("proc/modules")
        text = fs.read_text(ctx, path)
        for no, line in enumerate((text or "").splitlines(), start=1):
            cols = line.split()
            if not cols:
                continue
            extra = [("loaded", "true")]
            if len(cols) > 4:
                extra.append(("state", cols[4]))
            if len(cols) > 6 and cols[6].startswith("("):
                extra.append(("taint", cols[6].strip("()")))
            yield record(
                ctx, "kmod", f"{inside(ctx, path)}:{no}", RecordKind.DRIVER, cols[0], extra=tuple(extra)
            )

    @staticmethod
    def _files(ctx: CollectContext) -> Iterator[InventoryRecord]:
        for tree in unique_dirs(ctx, MODULE_TREES):
            for kernel in fs.list_dir(ctx, tree):
                if not fs.is_dir(ctx, kernel):
                    continue
                for sub in fs.list_dir(ctx, kernel):
                    if sub.name in _DISTRO_TREES or not fs.is_dir(ctx, sub):
                        continue
                    for path, is_dir in fs.walk(ctx, sub, max_depth=8):
                        m = None if is_dir else _MODULE_FILE.match(path.name)
                        if m is None:
                            continue
                        shown = inside(ctx, path)
                        yield record(
                            ctx,
                            "kmod",
                            shown,
                            RecordKind.DRIVER,
                            m.group("name"),
                            path=shown,
                            extra=(("kernel", kernel.name), ("tree", sub.name)),
                        )

    @staticmethod
    def _autoload(ctx: CollectContext) -> Iterator[InventoryRecord]:
        files = [
            f for d in unique_dirs(ctx, LOAD_DIRS) for f in fs.list_dir(ctx, d) if f.name.endswith(".conf")
        ]
        files.append(ctx.path("etc/modules"))
        for conf in files:
            text = fs.read_text(ctx, conf, limit=1 << 20)
            for no, line in enumerate((text or "").splitlines(), start=1):
                words = line.split("#", 1)[0].strip().split()
                if not words or words[0].startswith(";"):
                    continue
                yield record(
                    ctx,
                    "kmod",
                    f"{inside(ctx, conf)}:{no}",
                    RecordKind.DRIVER,
                    words[0],
                    extra=(("autoload", "true"),),
                )
