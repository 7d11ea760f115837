"""How a failure inside an image is worded in its one error line."""

from __future__ import annotations

import re

# libyal errors chain every layer's complaint, `libqcow_cluster_table_read: unable to read …`,
# the deepest first: that one says what is wrong with the image.
_LAYER = re.compile(r"\blib[a-z0-9]+_\w+: ([^']+?)(?:\.\s|\.?'|\.?$)")


def reason(exc: BaseException) -> str:
    """The exception's message on one line, at most 200 characters: for a libyal error, the
    deepest layer's complaint."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    found = _LAYER.search(text)
    if found is not None:
        text = found.group(1).strip()
    return text if len(text) <= 200 else text[:199] + "…"
