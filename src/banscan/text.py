"""Text that can mislead whoever reads it: the Unicode bidirectional controls.

An override such as U+202E RIGHT-TO-LEFT OVERRIDE makes "srv-01‮txt.exe" read as
"srv-01exe.txt", and an unclosed embedding or isolate reorders whatever follows it on the line
(a table cell, a CSV row). Labels people choose (site, tags, names given to the server) refuse
them; text that comes from scanned machines (host names in inventories, product names, evidence)
is kept as it is and shown with each control spelled out, `[U+202E]`.
"""

from __future__ import annotations

import re

# LRE RLE PDF LRO RLO, LRI RLI FSI PDI, LRM RLM, and the Arabic letter mark.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
_BIDI = re.compile("[" + "".join(sorted(BIDI_CONTROLS)) + "]")


def has_bidi(text: str) -> bool:
    """Whether `text` holds a bidirectional control."""
    return _BIDI.search(text) is not None


def show_bidi(text: str) -> str:
    """`text` with each bidirectional control written out as `[U+XXXX]`."""
    return _BIDI.sub(lambda m: f"[U+{ord(m.group()):04X}]", text)
