"""The Spark SQL side of a scan: the osquery line checks as expressions the JVM evaluates on
every line, so that only a few lines reach Python.

The catalog's prefilter is not among them: as a Java regex (`Prefilter.pattern()`, even
factored into a trie) it cost 15-20 µs a line, against about 1 µs for Hyperscan in a pandas
UDF (`banscan.engines.spark.osquery.hit_udf`).

`GATE` accepts only osquery event lines whose every line-level decision the JVM makes exactly
as `banscan.inputs.osquery.records_from_lines` and `host_of` make it: one JSON object (nothing
after it) of scalar members and flat objects, with `hostIdentifier`, `hostname` and `name`
strings, `decorations` a flat object whose `hostname` is a string, and `columns` a flat object
of non-null scalars. Together with valid UTF-8, no `\\u` escape (a key spelled with escapes is
not the key the gate sees) and a JSON parse that rejects duplicate keys, such a line has a
host the JVM names and columns it can list; every other line goes to Python.
"""

from __future__ import annotations

# `\uXXXX` not preceded by an odd number of backslashes (as Prefilter.sql_may_fold says)
ESCAPE_REGEX = r"(^|[^\\])(\\\\)*\\u[0-9a-fA-F]{4}"
BLANK_REGEX = "^[ \\t\\r\\n\\x0b\\x0c]*$"  # bytes.strip() leaves nothing: a line the reader skips


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
