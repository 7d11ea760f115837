"""Debian/Ubuntu packages from dpkg's own status database.

`var/lib/dpkg/status` is what dpkg itself trusts, so it is read directly rather than by
running dpkg-query. The parser is forgiving: one bad stanza is reported (file and line) and
the rest of the file is still read, because a damaged database is exactly where a removal
may have gone half-way.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import ClassVar

from banscan.collect import fs
from banscan.collect.base import OS, CollectContext
from banscan.collect.linux._common import inside, record
from banscan.models import InventoryRecord, RecordKind

STATUS_FILE = "var/lib/dpkg/status"
_FIELD = re.compile(r"^([A-Za-z0-9][!-9;-~]*):[ \t]*(.*)$")


@dataclass
class Stanza:
    """One paragraph of the status file, with the problems met while reading it."""

    line: int
    fields: dict[str, str] = field(default_factory=dict)
    problems: list[tuple[int, str]] = field(default_factory=list)


def parse_stanzas(data: bytes) -> Iterator[Stanza]:
    """Split RFC 822-style paragraphs; never raises, records problems on the stanza."""
    lines = data.split(b"\n")
    truncated_at = None
    if lines and lines[-1] != b"":
        truncated_at = len(lines)  # the file does not end with a newline: the last line is cut
    cur: Stanza | None = None
    last_key: str | None = None
    for no, raw in enumerate(lines, start=1):
        raw = raw.rstrip(b"\r")
        if raw.strip() == b"":
            if cur is not None:
                yield cur
            cur, last_key = None, None
            continue
        if cur is None:
            cur = Stanza(line=no)
        if no == truncated_at:
            cur.problems.append((no, "file ends in the middle of a line (truncated?); line ignored"))
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            cur.problems.append((no, f"not valid UTF-8 at column {exc.start + 1}; bytes replaced"))
            text = raw.decode("utf-8", errors="replace")
        if "\x00" in text:
            cur.problems.append((no, "NUL bytes in line; line ignored"))
            continue
        if text[0] in " \t":
            if last_key is None:
                cur.problems.append((no, "continuation line outside a field; ignored"))
            else:
                cur.fields[last_key] += "\n" + text.strip()
            continue
        m = _FIELD.match(text)
        if m is None:
            cur.problems.append((no, "not a 'Field: value' line; ignored"))
            last_key = None
            continue
        last_key = m.group(1).lower()
        cur.fields[last_key] = m.group(2).strip()
    if cur is not None:
        yield cur


class DpkgCollector:
    """Every package dpkg knows about that is not fully purged."""

    name: ClassVar[str] = "dpkg"
    os: ClassVar[tuple[OS, ...]] = ("linux",)
    live_only: ClassVar[bool] = False
    reads: ClassVar[tuple[str, ...]] = (STATUS_FILE,)

    def collect(self, ctx: CollectContext) -> Iterator[InventoryRecord]:
        path = ctx.path(STATUS_FILE)
        data = fs.read_bytes(ctx, path)
        if data is None:
            return
        shown = inside(ctx, path)
        for st in parse_stanzas(data):
            rec, skipped = self._record(ctx, shown, st)
            if st.problems or skipped:
                parts = [f"stanza at line {st.line}"]
                if skipped:
                    parts.append(skipped)
                where = st.line
                if st.problems:
                    where, message = st.problems[0]
                    more = len(st.problems) - 1
                    parts.append(f"line {where}: {message}" + (f" (and {more} more)" if more else ""))
                ctx.errors.report(path, where, "; ".join(parts))
            if rec is not None:
                yield rec

    @staticmethod
    def _record(ctx: CollectContext, shown: str, st: Stanza) -> tuple[InventoryRecord | None, str]:
        """The record for a stanza, or None and why it was skipped ("" if it needs no word)."""
        f = st.fields
        package = f.get("package", "").strip()
        if not package:
            return None, "no Package field; skipped"
        status = f.get("status", "").split()
        if len(status) != 3:
            return None, f"package {package}: missing or malformed Status field; skipped"
        state = status[2]
        if state == "not-installed":
            return None, ""
        extra: list[tuple[str, str]] = [("manager", "dpkg"), ("status", state)]
        if status[0] != "install":
            extra.append(("selection", status[0]))
        if f.get("architecture"):
            extra.append(("architecture", f["architecture"]))
        summary = f.get("description", "").split("\n", 1)[0].strip()
        if summary:
            extra.append(("summary", summary))
        rec = record(
            ctx,
            "dpkg",
            f"{shown}:{st.line}",
            RecordKind.PACKAGE,
            package,
            version=f.get("version") or None,
            publisher=f.get("maintainer") or None,
            extra=tuple(extra),
        )
        return rec, ""
