"""The Spark SQL side of a scan: the catalog's prefilter and the osquery line checks as
expressions the JVM evaluates on every line, so that only a few lines reach Python.

The prefilter regex is `Prefilter.pattern()` factored into a trie: the same alternatives, so the
same lines match, but Java's regex engine tries every alternative at every position, and the
flat list of a hundred-odd tokens costs hundreds of microseconds a line where the trie costs
tens.

`GATE` accepts only osquery event lines whose every line-level decision the JVM makes exactly
as `banscan.inputs.osquery.records_from_lines` and `host_of` make it: one JSON object (nothing
after it) of scalar members and flat objects, with `hostIdentifier`, `hostname` and `name`
strings, `decorations` a flat object whose `hostname` is a string, and `columns` a flat object
of non-null scalars. Together with valid UTF-8, no `\\u` escape (a key spelled with escapes is
not the key the gate sees) and a JSON parse that rejects duplicate keys, such a line has a
host the JVM names and columns it can list; every other line goes to Python.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from banscan.match.prefilter import Prefilter, case_free_char

# `\uXXXX` not preceded by an odd number of backslashes (as Prefilter.sql_may_fold says)
ESCAPE_REGEX = r"(^|[^\\])(\\\\)*\\u[0-9a-fA-F]{4}"
BLANK_REGEX = "^[ \\t\\r\\n\\x0b\\x0c]*$"  # bytes.strip() leaves nothing: a line the reader skips


@dataclass
class _Node:
    children: dict[str, _Node] = field(default_factory=dict)
    end: bool = False


def _trie(tokens: list[str]) -> str:
    root = _Node()
    for token in tokens:
        node = root
        for ch in token:
            node = node.children.setdefault(ch, _Node())
        node.end = True

    def emit(node: _Node) -> str:
        if not node.children:
            return ""
        alts = [case_free_char(ch) + emit(node.children[ch]) for ch in sorted(node.children)]
        body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        return f"(?:{body})?" if node.end else body

    return emit(root)


def prefilter_regex(prefilter: Prefilter) -> str:
    """`prefilter.pattern()` as a trie: a line matches one exactly when it matches the other.

    A token that contains another token is dropped (any line holding it holds the shorter one),
    so no alternative is a prefix of another; a lookahead on the possible first characters
    lets the engine skip most positions at once.
    """
    tokens = sorted(set(prefilter.tokens))
    kept = [t for t in tokens if t and not any(o != t and o in t for o in tokens)]
    parts: list[str] = []
    if kept:
        firsts = "".join(sorted({_first_chars(t[0]) for t in kept}))
        parts.append(f"(?=[{firsts}])(?:{_trie(kept)})")
    parts.extend(prefilter.regexes)
    return "|".join(parts) if parts else "(?!)"


def _first_chars(ch: str) -> str:
    forms = {ch, ch.lower(), ch.upper()} if len(ch.upper()) == 1 else {ch}
    return "".join(re.escape(c) if c in "\\]^-[" else c for c in sorted(forms))


def sql_string(text: str) -> str:
    """A Spark SQL string literal (backslashes and quotes escaped; the parser unescapes them)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


# ---- the osquery gate ------------------------------------------------------------------

_WS = r"[ \t\r\n]*+"
_STR = r'"[^"\\\x00-\x1f]*+(?:\\["\\/bfnrt][^"\\\x00-\x1f]*+)*+"'
_NUM = r"-?+(?:0|[1-9][0-9]*+)(?:\.[0-9]++)?+(?:[eE][+-]?+[0-9]++)?+"
_SCALAR = f"(?:{_STR}|{_NUM}|true|false|null)"
_FILLED = f"(?:{_STR}|{_NUM}|true|false)"  # no null: `_strings` would drop the column


def _object(member: str) -> str:
    return f"\\{{{_WS}(?:{member}{_WS}(?:,{_WS}{member}{_WS})*+)?+\\}}"


def _member(key: str, value: str) -> str:
    return f"{key}{_WS}:{_WS}{value}"


_FLAT = _object(_member(_STR, _SCALAR))
_DECO = _object(f'(?:{_member(chr(34) + "hostname" + chr(34), _STR)}|(?!"hostname"){_member(_STR, _SCALAR)})')
_COLUMNS = _object(_member(_STR, _FILLED))
_TYPED = '"(?:hostIdentifier|hostname|name|decorations|columns)"'
_TOP_MEMBER = (
    "(?:"
    + "|".join(
        [
            _member('"(?:hostIdentifier|hostname|name)"', _STR),
            _member('"decorations"', _DECO),
            _member('"columns"', _COLUMNS),
            f"(?!{_TYPED}){_member(_STR, f'(?:{_SCALAR}|{_FLAT})')}",
        ]
    )
    + ")"
)
GATE = f"^{_WS}{_object(_TOP_MEMBER)}{_WS}$"
