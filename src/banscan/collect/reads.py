"""What the collectors read from a root, as patterns: the files a disk image must yield for a scan
of it to equal a scan of the same tree mounted (`banscan.images` copies exactly these out).

Each collector declares `reads`, a tuple of patterns relative to the root, `/`-separated:

- a literal segment matches that name; `*`, `?` and `[...]` match within one segment
  (`fnmatch`); `!(a|b)` matches any one segment but those (each may hold `*` …), so a walk
  can skip a huge sibling (the distribution's own kernel modules); `**` matches any number of
  segments, none included;
- names compare case-insensitively on Windows and macOS roots (their file systems do), exactly
  on Linux;
- a pattern selects files (their content is needed), directories (they are listed; their
  entries are not copied unless a pattern selects them too) and symbolic links (kept as links);
- a pattern ending in `/` selects directories only (and links, which may lead to one): for a
  folder listed for its sub-folders, whose files (a program's own DLLs…) are never read.

A symbolic link is kept wherever a pattern selects it or goes through it (`lib` → `usr/lib`
on the way to `lib/systemd/system`); what it points to is copied only where a pattern selects
that too, so collectors also declare the usual targets of the links they read through.

`selector(os)` gathers the patterns of every collector for `os`, with what layout and host
detection read, into a `PathSelector` that says which entries to copy and which directories a
walk need enter at all, so a walk of a multi-gigabyte file system visits only those.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from banscan.collect.base import OS

# What `collect.detect` reads to tell the layout, name the host and find its machine id.
DETECTION: tuple[str, ...] = (
    # layout
    "Windows/System32/config",
    "System/Library/CoreServices/SystemVersion.plist",
    "Applications",
    "Library",
    "etc",
    "etc/os-release",
    "usr/lib/os-release",  # where etc/os-release usually links to
    "var/lib/dpkg",
    "var/lib/rpm",
    "usr/lib",
    "usr/bin",
    "opt",
    # host name
    "etc/hostname",
    "Library/Preferences/SystemConfiguration/preferences.plist",
    "Windows/System32/config/SYSTEM",
    # machine id (Windows: MachineGuid in SOFTWARE; macOS: the names of ByHost preferences)
    "etc/machine-id",
    "var/lib/dbus/machine-id",
    "Windows/System32/config/SOFTWARE",
    "Users/*/",
    "Library/Preferences/ByHost/*.plist",
    "Users/*/Library/Preferences/ByHost/*.plist",
)

_NOT = re.compile(r"^!\((.*)\)$")


def _segment(pattern: str, fold: bool) -> re.Pattern[str] | None:
    """A compiled segment pattern; None for `**`."""
    if pattern == "**":
        return None
    flags = re.IGNORECASE if fold else 0
    negated = _NOT.match(pattern)
    if negated is None:
        return re.compile(fnmatch.translate(pattern), flags)
    others = "|".join(fnmatch.translate(p) for p in negated.group(1).split("|"))
    return re.compile(rf"(?!(?:{others}))(?s:.+)", flags)


@dataclass(frozen=True)
class _Pattern:
    parts: tuple[re.Pattern[str] | None, ...]
    dirs_only: bool

    def matches(self, names: tuple[str, ...], is_dir: bool | None) -> bool:
        if self.dirs_only and is_dir is False:
            return False
        return _match(self.parts, names, whole=True)

    def may_contain(self, names: tuple[str, ...]) -> bool:
        """Whether something below the directory `names` could match."""
        return _match(self.parts, names, whole=False)


def _match(parts: tuple[re.Pattern[str] | None, ...], names: tuple[str, ...], *, whole: bool) -> bool:
    """Whether `names` matches `parts` (whole), or is a proper prefix of something that could."""
    if not names:
        return all(p is None for p in parts) if whole else bool(parts)
    if not parts:
        return False
    head, rest = parts[0], parts[1:]
    if head is None:  # `**`: none, or one more segment and `**` again
        return _match(rest, names, whole=whole) or _match(parts, names[1:], whole=whole)
    return head.fullmatch(names[0]) is not None and _match(rest, names[1:], whole=whole)


def _names(rel: str) -> tuple[str, ...]:
    return tuple(s for s in rel.strip("/").split("/") if s)


class PathSelector:
    """Which entries of a root to copy, and which directories to enter."""

    def __init__(self, patterns: Iterable[str], *, fold_case: bool) -> None:
        self.patterns = tuple(sorted(set(patterns)))
        self._compiled = tuple(
            _Pattern(tuple(_segment(s, fold_case) for s in _names(p)), dirs_only=p.endswith("/"))
            for p in self.patterns
        )

    def selects(self, rel: str, *, is_dir: bool | None = None) -> bool:
        """Whether the entry at `rel` (root-relative, `/`-separated) is needed. `is_dir` is
        False for a file, True for a directory, None when unknown (a link): only a known file
        is refused by the directory-only patterns."""
        names = _names(rel)
        return any(p.matches(names, is_dir) for p in self._compiled)

    def enters(self, rel: str) -> bool:
        """Whether a walk need look inside the directory at `rel` ("" for the root)."""
        names = _names(rel)
        return any(p.may_contain(names) for p in self._compiled)


@cache
def selector(os: OS | None) -> PathSelector:
    """What a scan of a root of `os` reads (None: the layout is not known yet, so what every
    layout's detection reads)."""
    from banscan.collect.registry import all_collectors

    patterns = list(DETECTION)
    if os is not None:
        for collector in all_collectors():
            if os in collector.os and not collector.live_only:
                patterns.extend(collector.reads)
    return PathSelector(patterns, fold_case=os != "linux")
