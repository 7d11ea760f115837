"""Catalog identifiers turned into osquery SQL predicates.

osquery cannot run banscan's normaliser, so each match kind is rewritten into SQL that
accepts what the normaliser would accept on that side: equality for exact kinds, `LIKE`
for prefixes, contains and globs, and `regex_match()` (osquery's SQLite function) for
regular expressions and for names, whose normalisation (case, marks, punctuation, version
and architecture noise) is itself written as a regular expression.

Every regular expression handed to osquery is matched against `lower(column)` and written
in lower case, because osquery's regex engine has no portable case-insensitive flag and
SQLite's `lower()` folds ASCII only. Literals are always quoted by `sql_str`.
"""

from __future__ import annotations

import re
import unicodedata

from banscan.catalog.schema import Identifier, IdentifierKind, MatchKind
from banscan.match.normalize import fold, norm_token

# Identifier kinds compared as product or company names (see match/index.py).
NAME_KINDS = frozenset(
    {IdentifierKind.DISPLAY_NAME, IdentifierKind.PUBLISHER, IdentifierKind.SIGNER, IdentifierKind.CERTIFICATE}
)
TOKEN_KINDS = frozenset({IdentifierKind.PROCESS, IdentifierKind.SERVICE, IdentifierKind.DRIVER})

# The pieces of banscan's name normalisation, as a regular expression over lower-cased text.
# Separators are ASCII punctuation and space plus the marks and quotes norm_name drops; a
# non-ASCII letter is never a separator, so a Cyrillic word cannot be skipped as noise.
_SEP = r"(?:[\s!-/:-@\[-`{-~]|®|™|©|℗|«|»|“|”|„)"
_NOISE = (
    r"(?:v?[0-9]+(?:[._][0-9]+)*[a-z]?|x86_64|x64|x86|amd64|arm64|64 ?bit|32 ?bit|mr[0-9]+|sp[0-9]+|cf[0-9]+)"
)
_END = r"(?![a-z0-9])"
_MARKS = re.compile(r"[®™©℗]")
_NOISE_WORD = re.compile(
    r"^(?:v?\d+(?:[._]\d+)*[a-z]?|x64|x86|x86_64|amd64|arm64|64bit|32bit|mr\d+|sp\d+|cf\d+)$"
)

# SQL features the generated queries need; tests register `regex_match` in plain SQLite.
REGEX_FUNCTION = "regex_match"


class Unsupported(ValueError):
    """This identifier cannot be expressed as osquery SQL (it is left to banscan scan)."""


def sql_str(value: str) -> str:
    """A SQL string literal: single quotes doubled, NUL refused."""
    if "\x00" in value:
        raise Unsupported("NUL byte in a SQL literal")
    return "'" + value.replace("'", "''") + "'"


def like_escape(value: str) -> str:
    """Text for a LIKE pattern with `%`, `_` and the escape character itself taken literally."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def glob_to_like(glob: str) -> str:
    """fnmatch glob → LIKE pattern (escape `\\`): `*` → `%`, `?` and `[...]` → `_`."""
    out: list[str] = []
    i = 0
    while i < len(glob):
        c = glob[i]
        if c == "*":
            out.append("%")
        elif c == "?":
            out.append("_")
        elif c == "[" and "]" in glob[i + 2 :]:
            out.append("_")  # a character class matches one character; LIKE cannot say which
            i = glob.index("]", i + 2)
        else:
            out.append(like_escape(c))
        i += 1
    return "".join(out)


def ascii_lower(text: str) -> str:
    """What SQLite's lower() does: ASCII letters only."""
    return "".join(c.lower() if c.isascii() else c for c in text)


def lower_regex(pattern: str) -> str:
    """A catalog regex made to match lower-cased text: literals lowered, escapes (`\\D`, `\\W`) kept."""
    if "(?" in pattern.replace("(?:", "") or "\\p" in pattern or "\\P" in pattern:
        raise Unsupported(f"regex {pattern!r} uses syntax osquery's regex engine may not share")
    out: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            out.append(pattern[i : i + 2])
            i += 2
            continue
        out.append(c.lower() if c.isascii() else c)
        i += 1
    return "".join(out)


def _char(c: str) -> str:
    """One character of a name word as a regex over ASCII-lowered text."""
    if c.isascii():
        return c if c.isalnum() else "\\" + c
    lo, up = c.lower(), c.upper()
    return f"(?:{lo}|{up})" if lo != up else c


def name_words(value: str) -> list[str]:
    """norm_name's words, but untransliterated: osquery sees the Cyrillic, not its Latin form."""
    text = _MARKS.sub(" ", unicodedata.normalize("NFKC", value)).casefold()
    words = [w for w in re.split(r"[\W_]+", text) if w]
    return [w for w in words if not (w.isascii() and _NOISE_WORD.match(w))]


def _junk(extra_words: tuple[str, ...]) -> str:
    extra = "".join(f"|(?:{p}){_END}" for p in _skip_pats(extra_words))
    return rf"(?:{_SEP}|{_NOISE}{_END}{extra})*"


def name_regex(value: str, mode: MatchKind, suffix: str = "", skip_words: tuple[str, ...] = ()) -> str:
    """Regex over lower(column) accepting what norm_name equality/prefix/contains would.

    Equality is written as "nothing but these words, separators and noise" so the noise
    pattern appears once; the LIKE prefilter from `name_like` supplies the word order.
    `suffix` is a literal ending the source adds (".app"); `skip_words` may appear anywhere
    and are ignored (legal forms in publisher names).
    """
    words = [w for w in name_words(value) if w not in skip_words]
    if not words:
        raise Unsupported(f"name {value!r} has no words left after normalisation")
    junk = _junk(skip_words)
    pats = ["".join(_char(c) for c in w) for w in dict.fromkeys(words)]
    if mode == MatchKind.NAME and all(w.isascii() for w in words):
        alts = "|".join(pats + [f"(?:{p})" for p in _skip_pats(skip_words)])
        tail = f"(?:{re.escape(suffix.lower())})?" if suffix else ""
        return f"^(?:{_SEP}|{_NOISE}{_END}|(?:{alts}){_END})+{tail}$"
    body = f"{_SEP}{junk}".join(pats_in_order(words))
    if mode == MatchKind.NAME:
        tail = f"(?:{re.escape(suffix.lower())})?" if suffix else ""
        return f"^{junk}{body}(?:{_SEP}{junk})?{tail}$"
    if mode == MatchKind.PREFIX:
        return f"^{junk}{body}{_END}"
    return f"(?:^|[^a-z0-9]){body}{_END}"


def pats_in_order(words: list[str]) -> list[str]:
    return ["".join(_char(c) for c in w) for w in words]


def _skip_pats(words: tuple[str, ...]) -> list[str]:
    return ["".join(_char(c) for c in w) for w in words]


def name_like(value: str, skip_words: tuple[str, ...] = ()) -> str | None:
    """A cheap LIKE prefilter for name matches: the ASCII words in order, joined by `%`."""
    words = [w for w in name_words(value) if w.isascii() and w not in skip_words]
    if not words:
        return None
    return "%" + "%".join(like_escape(w) for w in words) + "%"


def regex_pred(col: str, pattern: str) -> str:
    return f"{REGEX_FUNCTION}(lower({col}), {sql_str(pattern)}, 0) IS NOT NULL"


def predicate(ident: Identifier, col: str, suffixes: tuple[str, ...] = (), name_suffix: str = "") -> str:
    """SQL condition over `col` true when the identifier matches the observed value.

    `suffixes` are type suffixes the osquery table keeps but banscan strips (".exe" in
    processes.name, ".service" in systemd_units.id).
    """
    kind, match, value = ident.kind, ident.match, ident.value
    if kind in NAME_KINDS and match in (MatchKind.NAME, MatchKind.PREFIX, MatchKind.CONTAINS):
        rx = regex_pred(col, name_regex(value, match, name_suffix))
        like = name_like(value)
        return f"(lower({col}) LIKE {sql_str(like)} ESCAPE '\\' AND {rx})" if like else rx
    if match == MatchKind.REGEX:
        return regex_pred(col, lower_regex(value))
    if match == MatchKind.GLOB:
        return f"lower({col}) LIKE {sql_str(glob_to_like(ascii_lower(fold(value))))} ESCAPE '\\'"
    if match in (MatchKind.PREFIX, MatchKind.CONTAINS):
        text = like_escape(ascii_lower(fold(value.strip())))
        pattern = text + "%" if match == MatchKind.PREFIX else "%" + text + "%"
        return f"lower({col}) LIKE {sql_str(pattern)} ESCAPE '\\'"
    # Equality: EXACT keeps case; IEXACT and NAME (on non-name kinds) ignore it.
    exact = match == MatchKind.EXACT
    base = value.strip()
    if kind in TOKEN_KINDS:
        base = _strip_suffix(base, suffixes) if exact else norm_token(base)
    elif not exact:
        base = fold(base)
    forms = [base] + [base + s for s in suffixes]
    if exact:
        return f"{col} IN ({', '.join(sql_str(f) for f in forms)})"
    lowered = dict.fromkeys(ascii_lower(f) for f in forms)
    return f"lower({col}) IN ({', '.join(sql_str(f) for f in lowered)})"


def _strip_suffix(value: str, suffixes: tuple[str, ...]) -> str:
    for s in suffixes:
        if value.lower().endswith(s) and len(value) > len(s):
            return value[: -len(s)]
    return value
