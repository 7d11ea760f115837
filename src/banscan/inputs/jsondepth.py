"""JSON with a nesting bound, for every reader of JSON that someone else wrote.

`json.loads` recurses once per nested array or object, so a line of 5,000 `[` raises
RecursionError (not a ValueError), and a value nested a few hundred levels deep parses but then
overflows the stack of whatever walks it next (schema validators). `loads` refuses a document
nested deeper than MAX_DEPTH with `TooDeep`, a ValueError, so the readers' usual handling of
invalid JSON reports it as one line.

The check is cheap: a document with no more than MAX_DEPTH opening brackets in all cannot be too
deep and is parsed at once; otherwise the depth is measured with C-speed byte operations (escapes
and string contents dropped, then innermost `[]` pairs removed one level per pass, so the cost is
one pass per level actually present, at most MAX_DEPTH + 1). Line-oriented readers instead catch
RecursionError per line (`loads_line`), which costs nothing on the lines that parse.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

MAX_DEPTH = 128  # real inventories and results nest under 20 levels; CycloneDX's 32 components ≈ 70

_KEEP = b'[]{}"'
_DROP = bytes(b for b in range(256) if b not in _KEEP)
_STRING = re.compile(rb'"[^"]*"')
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[\]{}]', re.DOTALL)


class TooDeep(ValueError):
    """A JSON document or line nested deeper than the limit (a ValueError, as invalid JSON is)."""

    def __init__(self, limit: int = MAX_DEPTH) -> None:
        super().__init__("JSON nested too deeply")
        self.limit = limit


def depth(data: str | bytes, limit: int = MAX_DEPTH) -> int:
    """How deep the arrays and objects of JSON text nest (exact for valid JSON; for broken text an
    estimate that errs high). Stops counting once past `limit`."""
    raw = data.encode("utf-8", "replace") if isinstance(data, str) else bytes(data)
    openers = raw.count(b"[") + raw.count(b"{")
    if openers <= limit:
        return openers  # cannot nest deeper than it has openers
    if b"\\" in raw:
        raw = raw.replace(b"\\\\", b"").replace(b'\\"', b"")  # escapes only occur inside strings
    shape = raw.translate(None, _DROP)
    # Adjacent quotes are an empty string or the end of one string and the start of the next with
    # nothing between: dropping them loses no bracket. What is left are strings holding brackets.
    shape = _STRING.sub(b"", shape.replace(b'""', b""))
    shape = shape.replace(b'"', b"").replace(b"{", b"[").replace(b"}", b"]")
    passes = 0
    while shape and passes <= limit:
        shorter = shape.replace(b"[]", b"")
        if len(shorter) == len(shape):
            break
        passes += 1
        shape = shorter
    return passes + shape.count(b"[")  # openers never closed (a truncated document) nest further


def too_deep(data: str | bytes, limit: int = MAX_DEPTH) -> bool:
    return depth(data, limit) > limit


def loads(data: str | bytes, limit: int = MAX_DEPTH) -> Any:
    """`json.loads` that raises TooDeep (a ValueError) for a document nested deeper than `limit`."""
    if too_deep(data, limit):
        raise TooDeep(limit)
    try:
        return json.loads(data)
    except RecursionError:
        raise TooDeep(limit) from None


def loads_line(parse: Callable[[str], Any], text: str, limit: int = MAX_DEPTH) -> Any:
    """One line parsed by `parse` (json.loads or orjson.loads); TooDeep instead of RecursionError.

    Nothing is checked before parsing: the lines that parse pay nothing. (orjson refuses more than
    1,024 levels itself, with a ValueError.)"""
    try:
        return parse(text)
    except RecursionError:
        raise TooDeep(limit) from None


def raw_decode(decoder: json.JSONDecoder, text: str, pos: int, limit: int = MAX_DEPTH) -> tuple[Any, int]:
    """`decoder.raw_decode(text, pos)` with TooDeep instead of RecursionError."""
    try:
        return decoder.raw_decode(text, pos)
    except RecursionError:
        raise TooDeep(limit) from None


def skip_value(text: str, pos: int) -> int | None:
    """The index after the array or object starting at text[pos] (strings inside skipped), or None
    when it is never closed. For stepping over a value too deep to parse; Python speed."""
    level = 0
    for m in _TOKEN.finditer(text, pos):
        tok = m.group()
        if tok in ("[", "{"):
            level += 1
        elif tok in ("]", "}"):
            level -= 1
            if level <= 0:
                return m.end()
        elif level <= 0:
            return m.end()  # a string where a value starts
    return None
