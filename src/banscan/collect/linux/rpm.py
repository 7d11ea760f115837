"""RPM packages, read with the system's own rpm tool.

The rpm database (sqlite, Berkeley DB or ndb) is not something to parse by hand, so the
installed `rpm` binary of the scanning machine does the reading. For an offline root the
database files are first copied to a temporary folder: rpm may create lock or index files
beside a database it opens, and the scanned system must not be changed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from banscan.collect import fs
from banscan.collect.base import OS, CollectContext
from banscan.collect.linux._common import inside, record
from banscan.models import InventoryRecord, RecordKind

DB_DIRS = ("usr/lib/sysimage/rpm", "var/lib/rpm")
DB_FILES = ("rpmdb.sqlite", "Packages.db", "Packages")
QUERY_FORMAT = r"%{NAME}\t%{VERSION}-%{RELEASE}\t%{VENDOR}\t%{ARCH}\t%{SUMMARY}\n"
TIMEOUT_S = 300
MAX_COPY_BYTES = 2 * 1024 * 1024 * 1024
MISSING_TOOL = "rpm database present but the rpm tool is not installed; rpm packages not listed"


def find_db(ctx: CollectContext) -> Path | None:
    """The folder (as a path under ctx.root) holding an rpm database, if any."""
    for rel in DB_DIRS:
        folder = ctx.path(rel)
        if any(fs.exists(ctx, folder / name) for name in DB_FILES):
            return folder
    return None


def parse_query(text: str) -> Iterator[tuple[str, str | None, str | None, str | None, str | None]]:
    """(name, version-release, vendor, arch, summary) per line of QUERY_FORMAT output."""
    for line in text.splitlines():
        cols = line.split("\t", 4)
        if len(cols) < 2 or not cols[0].strip():
            continue
        cols += [""] * (5 - len(cols))
        name, *rest = (c.strip() for c in cols)
        vals = [None if v in ("", "(none)") else v for v in rest]
        yield name, vals[0], vals[1], vals[2], vals[3]


class RpmCollector:
    """Packages in the rpm database of the scanned system."""

    name: ClassVar[str] = "rpm"
    os: ClassVar[tuple[OS, ...]] = ("linux",)
    live_only: ClassVar[bool] = False
    # every database file but Berkeley DB environment files and dot files, as `_copy_db` copies
    reads: ClassVar[tuple[str, ...]] = tuple(p for d in DB_DIRS for p in (d, f"{d}/!(__db.*|.*)"))

    def collect(self, ctx: CollectContext) -> Iterator[InventoryRecord]:
        db = find_db(ctx)
        if db is None:
            return
        tool = shutil.which("rpm")
        if tool is None:
            ctx.errors.report(db, None, MISSING_TOOL)
            return
        if ctx.live:
            output = self._run(ctx, db, [tool, "-qa", "--queryformat", QUERY_FORMAT])
        else:
            with tempfile.TemporaryDirectory(prefix="banscan-rpmdb-") as tmp:
                if not self._copy_db(ctx, db, Path(tmp)):
                    return
                output = self._run(ctx, db, [tool, "--dbpath", tmp, "-qa", "--queryformat", QUERY_FORMAT])
        if output is None:
            return
        shown = inside(ctx, db)
        for name, version, vendor, arch, summary in parse_query(output):
            extra = [("manager", "rpm")]
            if arch:
                extra.append(("architecture", arch))
            if summary:
                extra.append(("summary", summary))
            location = f"{shown}:{name}-{version}" if version else f"{shown}:{name}"
            yield record(
                ctx,
                "rpm",
                location,
                RecordKind.PACKAGE,
                name,
                version=version,
                publisher=vendor,
                extra=tuple(extra),
            )

    @staticmethod
    def _copy_db(ctx: CollectContext, db: Path, dest: Path) -> bool:
        """Copy the database's regular files (not BDB environment files) into `dest`."""
        total = 0
        for entry in fs.list_dir(ctx, db):
            if entry.name.startswith(("__db.", ".")):
                continue
            real = fs.regular_file(ctx, entry)
            if real is None:
                continue
            try:
                total += real.stat().st_size
                if total > MAX_COPY_BYTES:
                    ctx.errors.report(db, None, f"rpm database over {MAX_COPY_BYTES} bytes; not read")
                    return False
                shutil.copyfile(real, dest / entry.name)
            except OSError as exc:
                ctx.errors.report(entry, None, f"cannot copy rpm database file: {exc.strerror or exc}")
                return False
        return True

    @staticmethod
    def _run(ctx: CollectContext, db: Path, cmd: list[str]) -> str | None:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "HOME": "/nonexistent"}
        try:
            done = subprocess.run(  # a fixed argument list, never a shell
                cmd, capture_output=True, timeout=TIMEOUT_S, check=False, env=env, stdin=subprocess.DEVNULL
            )
        except subprocess.TimeoutExpired:
            ctx.errors.report(
                db, None, f"rpm query did not finish within {TIMEOUT_S} s; rpm packages not listed"
            )
            return None
        except OSError as exc:
            ctx.errors.report(db, None, f"cannot run rpm: {exc.strerror or exc}")
            return None
        out = done.stdout.decode("utf-8", errors="replace")
        if done.returncode != 0:
            err = done.stderr.decode("utf-8", errors="replace").strip().splitlines()
            ctx.errors.report(
                db, None, f"rpm exited with {done.returncode}: {err[-1] if err else 'no message'}"
            )
        return out
