"""Where problems with input go: one line each, naming the file and the place, never a stop.

Every reader, collector and analyser reports through an ErrorSink; the scan result lists the
lines under `targets[].errors` and, unless asked to be quiet, echoes them to stderr.

An error nobody foresaw (a bug a hostile input reached) is one line too (`unexpected`); with
BANSCAN_DEBUG=1 in the environment (`banscan --debug …` sets it) its traceback is shown as well.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class ErrorSink:
    """Collects one-line errors ("file:place: message") and echoes them to stderr."""

    lines: list[str] = field(default_factory=list)
    echo: bool = True
    writer: Callable[[str], object] = field(default=lambda s: sys.stderr.write(s + "\n"))

    def report(self, where: str | Path, place: str | int | None, message: str) -> None:
        loc = str(where) if place in (None, "") else f"{where}:{place}"
        line = one_line(f"{loc}: {' '.join(str(message).split())}")
        self.lines.append(line)
        if self.echo:
            self.writer(f"banscan: error: {line}")


# Control characters (C0, DEL, C1) and Unicode line separators, shown as escapes: an error line
# stays one line, and a hostile name cannot send terminal escape sequences to stderr.
_CONTROLS = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F, *range(0x80, 0xA0))} | {
    0x2028: "\\u2028",
    0x2029: "\\u2029",
}


def one_line(text: str) -> str:
    """`text` with control characters and line separators escaped (`\\n` as `\\x0a`)."""
    return text.translate(_CONTROLS)


DEBUG_ENV = "BANSCAN_DEBUG"


def debug_enabled() -> bool:
    """Whether tracebacks of unexpected errors are wanted (BANSCAN_DEBUG set, not 0/false/no)."""
    return os.environ.get(DEBUG_ENV, "").strip().lower() not in ("", "0", "false", "no", "off")


def unexpected(exc: BaseException) -> str:
    """One line for an exception no reader foresaw: its type and message."""
    text = " ".join(str(exc).split())
    if len(text) > 300:
        text = text[:299] + "…"
    return one_line(f"unexpected error: {type(exc).__name__}" + (f": {text}" if text else ""))
