"""The catalog compiled into a line prefilter: literal tokens that every matching line contains.

Bulk inputs (osquery result logs, CSV exports) have millions of lines and almost none of them
are about a covered vendor. A line whose record could match any catalog identifier, or name a
covered entity as publisher, signer or brand, contains at least one of the prefilter's tokens
(compared without case), so a fast engine (DuckDB, Spark, grep) can drop every other line
before the per-record reader and matcher see it. The tokens are derived from the catalog, the
same way the index normalises it (see `banscan.match.index`):

* for equality, prefix and contains matches, an alphanumeric word of the normalised value
  (normalisation never splits or invents letters and digits inside a word, and inventory
  formats never escape them);
* for regular expressions, a word of a literal that every match must contain (found in the
  parsed pattern); an expression without one is kept whole, as a regex entry;
* for globs, a word of one of their literal segments;
* for covered entities, a word of each name, legal name, alias and Cyrillic form (as the
  entity index normalises them) and each brand token.

Words are chosen greedily: the one that covers most identifiers not yet covered, then the one
rarest in the catalog, then the longest (a word of three or more characters when there is one).

Records are compared after transliteration (Cyrillic → Latin) and NFKC, so a line with
non-ASCII text, or with JSON `\\uXXXX` escapes, can match a Latin token only once folded.
Cyrillic spellings of the tokens (stems of the catalog's own Cyrillic words) are tokens too,
with their `\\u`-escaped forms as regex entries, so an engine that sees only `pattern` still
keeps the usual Cyrillic lines; `passes()` is the exact check, folding such lines first.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.resources
import json
import re
import threading
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import ahocorasick
from anyascii import anyascii

from banscan.catalog.schema import Catalog, IdentifierKind, MatchKind
from banscan.match.fields import DEVICE_KINDS
from banscan.match.index import identifiers, normalise, normaliser
from banscan.match.normalize import norm_name, norm_org

# Python 3.11+: the parser is private but stable enough to read a pattern's tree from.
_sre_p: Any = importlib.import_module("re._parser")
_sre_c: Any = importlib.import_module("re._constants")

MIN_TOKEN = 3  # shorter words only when an identifier has nothing longer
COMMON_WORDS_FILE = "common_words.yaml"  # in banscan/match/data (scripts/build-common-words)
GOOD_TOKEN = 5  # words this long are preferred; among them, the one covering most identifiers
# File-format words: in every path, uninstall string and process of an inventory, so a token
# only when an identifier has no other word.
FORMAT_WORDS = frozenset(
    [
        "exe",
        "dll",
        "sys",
        "msi",
        "msp",
        "app",
        "pkg",
        "dmg",
        "deb",
        "rpm",
        "apk",
        "ipa",
        "jar",
        "bin",
        "lnk",
        "cab",
        "zip",
        "inf",
        "cat",
        "ocx",
        "cpl",
        "scr",
        "plist",
        "kext",
    ]
)
_RUN = re.compile(r"[^\W_]+")  # letters and digits: never escaped in JSON or CSV
_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")
_U_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")
_PART_CACHE_MAX = 100_000  # distinct non-ASCII parts of lines remembered by passes_folded
_MARK_NON_ASCII = bytes(b if b < 0x80 else 0x80 for b in range(256))

# A choice: alternatives, one of which every match contains; an alternative is a set of words
# that are all required, so any one of them is enough. A requirement is satisfied by any choice.
Alternative = frozenset[str]
Choice = tuple[Alternative, ...]


@dataclass(frozen=True)
class _Requirement:
    label: str
    choices: tuple[Choice, ...]
    fallback: str | None = None  # a regex (for lower-cased text) when no choice exists
    # False when normalisation can add words the raw value lacks (a Windows folder variable
    # spelled out: "%SystemRoot%" becomes "c:/windows"): then no line is dropped for lacking them
    verbatim: bool = True
    # True for names compared whole after `norm_token` (processes, services, drivers, modules):
    # the raw value's base name is the identifier, so its words stand whole in a matching line
    whole: bool = False


def words(text: str) -> list[str]:
    """Lower-case runs of letters and digits in `text`."""
    return [w for w in _RUN.findall(text.lower()) if w]


def _alt(text: str) -> Alternative | None:
    ws = words(text)
    return frozenset(ws) if ws else None


# ---- required literals of a regular expression ------------------------------------------------


def _choices_of(seq: Any) -> list[tuple[str, ...]]:
    """Literal alternatives (tuples) such that every match of `seq` contains one of each tuple."""
    out: list[tuple[str, ...]] = []
    run: list[str] = []

    def flush() -> None:
        if run:
            out.append(("".join(run),))
            run.clear()

    for op, av in seq:
        if op is _sre_c.LITERAL:
            run.append(chr(av))
            continue
        flush()
        if op is _sre_c.SUBPATTERN:
            out.extend(_choices_of(av[-1]))
        elif op is getattr(_sre_c, "ATOMIC_GROUP", None):
            out.extend(_choices_of(av))
        elif op in (_sre_c.MAX_REPEAT, _sre_c.MIN_REPEAT, getattr(_sre_c, "POSSESSIVE_REPEAT", None)):
            lo, _hi, sub = av
            if lo >= 1:
                out.extend(_choices_of(sub))
        elif op is _sre_c.BRANCH:
            alts: list[str] = []
            for branch in av[1]:
                best = _best_literal_choice(_choices_of(branch))
                if best is None:
                    alts = []
                    break
                alts.extend(best)
            if alts:
                out.append(tuple(dict.fromkeys(alts)))
        elif op is _sre_c.IN and len(av) == 1 and av[0][0] is _sre_c.LITERAL:
            run.append(chr(av[0][1]))  # [x]
        # anything else (classes, anchors, any, lookarounds, group references) ends the run
    flush()
    return out


def _best_literal_choice(choices: list[tuple[str, ...]]) -> tuple[str, ...] | None:
    usable = [c for c in choices if all(_alt(s) for s in c)]
    if not usable:
        return None
    return max(usable, key=lambda c: (min(max(len(w) for w in words(s)) for s in c), -len(c)))


def regex_choices(pattern: str) -> list[Choice]:
    """Word choices every match of `pattern` (searched without case) contains; [] if none proven."""
    try:
        tree = _sre_p.parse(pattern)
    except re.error:
        return []
    out: list[Choice] = []
    for lits in _choices_of(tree):
        alts = [_alt(s) for s in lits]
        if alts and all(a is not None for a in alts):
            out.append(tuple(a for a in alts if a is not None))
    return out


def _anchorless(pattern: str) -> str:
    """A regex for the identifier inside a longer line: `^`/`$`/`\\A`/`\\Z` outside classes dropped."""
    out: list[str] = []
    i, in_class = 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            if not in_class and nxt in "AZz":
                i += 2
                continue
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            if c == "]":
                in_class = False
        elif c == "[":
            in_class = True
            if pattern[i + 1 : i + 2] == "^":
                out.append("[^")
                i += 2
                if pattern[i : i + 1] == "]":
                    out.append("]")
                    i += 1
                continue
            if pattern[i + 1 : i + 2] == "]":
                out.append("[]")
                i += 2
                continue
        elif c in "^$":
            i += 1
            continue
        out.append(c)
        i += 1
    return "(?i:" + "".join(out) + ")"


def _glob_choices(key: str) -> list[Choice]:
    out: list[Choice] = []
    for segment in re.split(r"\[[^\]]*\]|[*?]", key):
        alt = _alt(segment)
        if alt:
            out.append((alt,))
    return out


# ---- the catalog's requirements --------------------------------------------------------------


def _requirements(catalog: Catalog) -> list[_Requirement]:
    reqs: list[_Requirement] = []
    for product in catalog.products:
        for ident in identifiers(catalog, product):
            if ident.kind == IdentifierKind.BYTE_SIGNATURE:
                continue  # matched by the deep scan against file bytes, never against records
            if ident.kind in DEVICE_KINDS:
                continue  # device records never meet the prefilter (see `fields.DEVICE_KINDS`)
            label = f"{product.id} {ident.kind.value} {ident.match.value}:{ident.value}"
            if ident.match == MatchKind.REGEX:
                choices = regex_choices(ident.value)
                reqs.append(
                    _Requirement(label, tuple(choices), None if choices else _anchorless(ident.value))
                )
                continue
            how = normaliser(ident.kind, ident.match)
            key = normalise(how, ident.value)
            verbatim = how != "path" or not key.startswith("c:")
            if ident.match == MatchKind.GLOB:
                choices = _glob_choices(key)
                fallback = None if choices else "(?i:" + re.escape(key.strip("*?")) + ")"
                reqs.append(_Requirement(label, tuple(choices), fallback, verbatim))
                continue
            alt = _alt(key)
            reqs.append(
                _Requirement(
                    label,
                    ((alt,),) if alt else (),
                    None if alt else "(?i:" + re.escape(key) + ")",
                    verbatim,
                    whole=how == "token"
                    and ident.match in (MatchKind.EXACT, MatchKind.IEXACT, MatchKind.NAME),
                )
            )
    for entity in catalog.entities:
        if not entity.covered:
            continue  # the matcher reports only covered entities
        for name in entity.all_names():
            alt = _alt(norm_org(name))
            if alt:
                reqs.append(_Requirement(f"entity {entity.id}: {name}", ((alt,),)))
        for tok in entity.brand_tokens:
            alt = _alt(norm_name(tok))
            if alt:
                reqs.append(_Requirement(f"entity {entity.id} brand: {tok}", ((alt,),)))
    return reqs


def _satisfied(req: _Requirement, tokens: Iterable[str]) -> bool:
    toks = list(tokens)
    return any(all(any(t in w for w in alt for t in toks) for alt in choice) for choice in req.choices)


def _select(reqs: Sequence[_Requirement]) -> list[str]:
    """Greedy cover: usable words first (3+ characters, not a file-format word like "exe",
    which is in every path of an inventory, nor a word common in real inventories such as
    "windows" or "service": `common_words`), preferring 5+ characters ("open" keeps every line
    with "opened" or "openssh"); then most requirements covered; rarest; longest."""
    corpus = [w for r in reqs for c in r.choices for a in c for w in a]

    @functools.cache
    def df(tok: str) -> int:
        return sum(1 for w in corpus if tok in w)

    common = common_words()

    def quality(tok: str) -> tuple[bool, bool, bool, int]:
        return (len(tok) >= MIN_TOKEN, tok not in FORMAT_WORDS, tok not in common, min(len(tok), GOOD_TOKEN))

    def usable(tok: str) -> bool:
        return all(quality(tok)[:3])

    def branch(r: _Requirement) -> list[str] | None:
        """One usable word for each alternative of the requirement's smallest choice of several
        alternatives (the six DLL names of `^(avpservice|…|ckahum)\\.dll$` rather than "dll")."""
        for choice in sorted((c for c in r.choices if len(c) > 1), key=len):
            words = [[w for w in sorted(alt) if usable(w)] for alt in choice]
            if all(words):
                return [max(ws, key=lambda w: (quality(w), -df(w), len(w))) for ws in words]
        return None

    chosen: list[str] = []
    unsat = [r for r in reqs if r.choices]
    while unsat:
        cands = {w for r in unsat for c in r.choices if len(c) == 1 for w in c[0]}
        picked: list[str] | None = None
        if cands:

            def score(
                tok: str, unsat: list[_Requirement] = unsat
            ) -> tuple[tuple[bool, bool, bool, int], int, int, int, str]:
                covered = sum(1 for r in unsat if _satisfied(r, [tok]))
                return (quality(tok), covered, -df(tok), len(tok), tok)

            best = max(sorted(cands), key=score)
            picked = [best]
            if not usable(best):  # only poor single words left: usable branches where there are
                for r in unsat:
                    if _satisfied(r, [best]) and (words := branch(r)) is not None:
                        picked = words
                        break
        else:  # only branch choices left: one word per alternative of the smallest choice
            choice = min(unsat[0].choices, key=len)
            picked = [max(sorted(alt), key=lambda w: (quality(w), -df(w), len(w))) for alt in choice]
        chosen.extend(picked)
        unsat = [r for r in unsat if not _satisfied(r, chosen)]
    return _minimal(chosen)


@functools.cache
def common_words() -> frozenset[str]:
    """Words that many rows of real inventories hold (measured on public records; the file
    names its sources). Empty if the file is missing: the choice is then only slower to use."""
    import yaml

    try:
        text = (
            importlib.resources.files("banscan.match").joinpath("data", COMMON_WORDS_FILE).read_text("utf-8")
        )
        words = yaml.safe_load(text).get("words") or {}
    except (OSError, ValueError, AttributeError, yaml.YAMLError):
        return frozenset()
    return frozenset(w for w in words if isinstance(w, str))


def _minimal(tokens: Iterable[str]) -> list[str]:
    """Drop tokens that contain another token: a line with the longer one has the shorter."""
    uniq = sorted(set(tokens), key=lambda t: (len(t), t))
    out: list[str] = []
    for t in uniq:
        if not any(o in t for o in out):
            out.append(t)
    return sorted(out)


def _non_ascii_words(catalog: Catalog) -> list[str]:
    texts: list[str] = []
    for e in catalog.entities:
        if e.covered:
            texts += e.all_names() + list(e.brand_tokens)
    for p in catalog.products:
        texts += [p.name, *p.aliases]
        texts += [i.value for i in p.identifiers if i.kind != IdentifierKind.BYTE_SIGNATURE]
    return sorted({w for t in texts for w in words(t) if not w.isascii()})


def _common_prefix(ws: list[str]) -> str:
    first, last = min(ws), max(ws)
    n = 0
    while n < min(len(first), len(last)) and first[n] == last[n]:
        n += 1
    return first[:n]


def _stems(words_by_token: dict[str, list[str]]) -> list[str]:
    """Per token, the common prefix of the non-ASCII words that fold to it (a stem), if long enough."""
    out: list[str] = []
    for ws in words_by_token.values():
        prefix = _common_prefix(ws)
        if len(prefix) >= 4 and all(w.startswith(prefix) for w in ws):
            out.append(prefix)
        else:
            out.extend(ws)
    return out


def fold_line(text: str) -> str:
    """A whole line folded as the normalisers fold a value: NFKC, transliterated, case-folded."""
    text = unicodedata.normalize("NFKC", text)
    if not text.isascii():
        text = _NON_ASCII_RUN.sub(lambda m: anyascii(m.group()), text)
    return text.casefold()


def unescape_json_u(text: str) -> str:
    """`\\uXXXX` escapes decoded (surrogate pairs joined); everything else left alone."""
    if "\\u" not in text:
        return text
    decoded = _U_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
    return decoded.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _hex_any_case(code: int) -> str:
    return "".join(f"[{d}{d.upper()}]" if d.isalpha() else d for d in f"{code:04x}")


def _escaped_form(token: str) -> str:
    """Regex for `token` written with JSON `\\uXXXX` escapes: either letter case, either hex case."""
    parts: list[str] = []
    for ch in token:
        if ch.isascii():
            parts.append(case_free_char(ch))
            continue
        forms = sorted({_hex_any_case(ord(c)) for c in (ch, ch.lower(), ch.upper()) if len(c) == 1})
        parts.append(r"\\u" + (forms[0] if len(forms) == 1 else "(?:" + "|".join(forms) + ")"))
    return "".join(parts)


def case_free_char(ch: str) -> str:
    """One character in any letter case (`[kK]`), as `pattern()` spells its tokens."""
    lo, up = ch.lower(), ch.upper()
    if lo == up or len(up) != 1:
        return re.escape(ch)
    if ch.isascii():
        return f"[{lo}{up}]"
    return f"(?:{lo}|{up})"


def _case_free(token: str) -> str:
    """Regex for `token` in any letter case, spelled out (no flags, no lower()): fast in RE2."""
    return "".join(case_free_char(c) for c in token)


def _bytes_form(token: str) -> bytes:
    """Regex bytes for `token` in UTF-8, any case (IGNORECASE on bytes folds ASCII only)."""
    parts: list[bytes] = []
    for ch in token:
        if ch.isascii():
            parts.append(re.escape(ch.encode()))
            continue
        forms = sorted({c.encode() for c in (ch, ch.lower(), ch.upper()) if len(c) == 1})
        parts.append(b"(?:" + b"|".join(re.escape(f) for f in forms) + b")")
    return b"".join(parts)


@dataclass
class Prefilter:
    """Literal tokens (lower case) and regexes such that every line that can match contains one."""

    tokens: list[str]
    regexes: list[str] = field(default_factory=list)
    labels: dict[str, list[str]] = field(default_factory=dict)  # token → requirements it covers
    # token → word sets: a line holding the token can match only if it holds every word of
    # one of its sets (see `confirms`); a token absent here confirms itself. A set that starts
    # with WHOLE holds words that stand whole in the line (names of processes, services,
    # drivers: "stpass" of `stpass.exe`, not of "LastPass").
    conditions: dict[str, list[list[str]]] = field(default_factory=dict)

    def confirms(self, token: str, lowered: bytes) -> bool:
        """Whether an ASCII line (lower case, no `\\u` escapes) that holds `token` holds all
        the words of some identifier the token stands for. One word per identifier finds the
        candidate lines; this drops those with only a common word ("windows" of "Endpoint
        Security for Windows") before they are parsed."""
        sets = self._condition_bytes.get(token)
        if sets is None:
            return True
        for whole, words in sets:
            if all((_stands_whole(w, lowered) if whole else w in lowered) for w in words):
                return True
        return False

    def confirms_line(self, lowered: bytes) -> bool:
        """`confirms` for every conditioned token at once: whether some identifier behind them
        has all its words in the line. One Hyperscan call (every word set compiled as a
        logical combination) instead of a Python check per set; the same answer either way."""
        engine = self._confirm_engine
        if engine is None:
            return any(self.confirms(t, lowered) for t in self.conditions if t.encode() in lowered)
        return engine.hit(lowered)

    @functools.cached_property
    def _confirm_engine(self) -> _Combinations | None:
        try:
            return _Combinations(self._condition_bytes)
        except Exception:  # noqa: BLE001 - no Hyperscan (or it refuses): the Python check
            return None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        for cached in ("_confirm_engine", "_part_cache", "_folded_parts"):
            state.pop(cached, None)  # compiled (or filled) per process
        return state

    @functools.cached_property
    def _condition_bytes(self) -> dict[str, list[tuple[bool, tuple[bytes, ...]]]]:
        out: dict[str, list[tuple[bool, tuple[bytes, ...]]]] = {}
        for t, sets in self.conditions.items():
            out[t] = [(ws[:1] == [WHOLE], tuple(w.encode() for w in ws if w != WHOLE)) for ws in sets]
        return out

    def pattern(self) -> str:
        """One regex (RE2, Java and Python syntax) that finds any token in any letter case.

        Letters are spelled as classes (`[kK]`) instead of a case-insensitive flag: RE2 (DuckDB)
        runs such a pattern several times faster than `(?i)` or `lower()`.
        """
        return "|".join([_case_free(t) for t in self.tokens] + self.regexes)

    def sql_predicate(self, column: str) -> str:
        """A DuckDB filter on a text column (Spark: `col rlike '<pattern>'`, same regex)."""
        quoted = self.pattern().replace("'", "''")
        return f"regexp_matches({column}, '{quoted}')"

    def sql_may_fold(self, column: str) -> str:
        """Lines the predicate cannot judge alone: non-ASCII text or `\\u` escapes (see `passes`)."""
        escape = r"(^|[^\\])(\\\\)*\\u[0-9a-fA-F]{4}"
        return (
            f"(strlen({column}) <> length({column})"
            f" OR (contains({column}, '\\u') AND regexp_matches({column}, '{escape}')))"
        )

    def python_regex(self) -> re.Pattern[bytes]:
        """The prefilter on raw UTF-8 lines (any case); see `passes` for the complete check."""
        return self._bytes_rx

    @functools.cached_property
    def _bytes_rx(self) -> re.Pattern[bytes]:
        parts = [_bytes_form(t) for t in self.tokens]
        parts += [r.encode("utf-8") for r in self.regexes]
        return re.compile(b"|".join(parts) if parts else b"(?!)", re.IGNORECASE)

    @functools.cached_property
    def _automaton(self) -> Any:
        auto = ahocorasick.Automaton()
        for t in self.tokens:
            auto.add_word(t, t)
        if self.tokens:
            auto.make_automaton()
        return auto

    @functools.cached_property
    def _fallback_rx(self) -> re.Pattern[str] | None:
        fallbacks = [r for r in self.regexes if r.startswith("(?i:")]
        return re.compile("|".join(fallbacks)) if fallbacks else None

    def _text_hit(self, text: str) -> bool:
        if self.tokens and next(self._automaton.iter(text), None) is not None:
            return True
        return self._fallback_rx is not None and self._fallback_rx.search(text) is not None

    def fallback_regex(self) -> re.Pattern[str] | None:
        """The literal-less catalog regexes (searched in lower-cased text), or None."""
        return self._fallback_rx

    def passes_folded(self, line: bytes) -> bool:
        """`passes` for a line whose ASCII text has no token: only its non-ASCII parts are folded.

        For an engine that searched the raw line for the ASCII tokens (any case) without a hit.
        Tokens are letters and digits and folding is character-local, so a token found in the
        folded line lies inside one of the line's `"`-separated parts: only the parts with
        non-ASCII bytes or `\\u` are checked, each distinct part once (cached). With
        literal-less regexes in the catalog, which may span parts, the whole line is checked.
        """
        if self._fallback_rx is not None:
            return self.passes(line)
        cache = self._part_cache
        for part in _odd_parts(line):
            hit = cache.get(part)
            if hit is None:
                if len(cache) >= _PART_CACHE_MAX:
                    cache.clear()
                hit = cache[part] = self.passes(part)
            if hit:
                return True
        return False

    def keeps_folded(self, line: bytes) -> bool:
        """`passes` with conditioned tokens confirmed, for a line with non-ASCII text or `\\u`
        escapes ("Microsoft® Windows® …" holds the common word "windows" and nothing else).

        The tokens are looked for in the raw line (lower case) beside its non-ASCII parts
        folded (as `passes_folded` folds them); a line whose tokens are all conditioned ones is
        kept only if the words of some identifier behind them are there too (`confirms_line`).
        """
        if self._fallback_rx is not None:
            return self.passes(line)
        folded = self._folded_parts
        parts: list[str] = []
        for part in _odd_parts(line):
            text = folded.get(part)
            if text is None:
                if len(folded) >= _PART_CACHE_MAX:
                    folded.clear()
                text = folded[part] = fold_line(unescape_json_u(part.decode("utf-8", "replace")))
            parts.append(text)
        combined = " ".join([line.decode("utf-8", "replace").lower(), *parts])
        found = {token for _, token in self._automaton.iter(combined)}
        if not found:
            return False
        if any(t not in self.conditions for t in found):
            return True
        return self.confirms_line(combined.encode("utf-8"))

    @functools.cached_property
    def _folded_parts(self) -> dict[bytes, str]:
        return {}

    @functools.cached_property
    def _part_cache(self) -> dict[bytes, bool]:
        return {}

    def passes(self, line: bytes | str) -> bool:
        """Whether a raw line may hold a matching record: the complete (superset) check.

        Tokens are looked for in the line as written (any case) and, for a line with non-ASCII
        text or `\\u` escapes, in the line decoded and folded as the normalisers fold values.
        """
        text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
        if self._text_hit(text.lower()):
            return True
        if text.isascii() and "\\u" not in text:
            return False
        return self._text_hit(fold_line(unescape_json_u(text)))


def build_prefilter(catalog: Catalog) -> Prefilter:
    """Compile the catalog's identifiers and covered entities into a prefilter."""
    reqs = _requirements(catalog)
    tokens = _select(reqs)
    regexes = sorted({r.fallback for r in reqs if r.fallback})
    by_token: dict[str, list[str]] = {}
    for w in _non_ascii_words(catalog):
        folded = words(fold_line(w))
        hit = next((t for t in tokens if any(t in f for f in folded)), None)
        if hit is not None:
            by_token.setdefault(hit, []).append(w)
    cyrillic = _minimal(_stems(by_token))
    labels = {t: [r.label for r in reqs if _satisfied(r, [t])] for t in tokens}
    return Prefilter(
        tokens=tokens + [c for c in cyrillic if c not in tokens],
        regexes=regexes + [_escaped_form(c) for c in cyrillic],
        labels=labels,
        conditions=_conditions(reqs, tokens),
    )


class _Combinations:
    """Every condition set as one Hyperscan database: a word is a quiet sub-expression (a
    whole word: not after or before a letter or digit, a JSON escape letter aside), a set of
    several words their logical AND, a one-word set the word itself. If Hyperscan refuses
    the database, `Prefilter` falls back to the Python check."""

    def __init__(self, conditions: dict[str, list[tuple[bool, tuple[bytes, ...]]]]) -> None:
        import hyperscan

        self._hs: Any = hyperscan
        words: dict[tuple[bool, bytes], int] = {}
        exprs: list[bytes] = []
        ids: list[int] = []
        flags: list[int] = []

        def pattern(whole: bool, word: bytes) -> bytes:
            # no ^ or $ (anchors at the ends make matches Hyperscan cannot combine): a line
            # is scanned between two spaces instead
            return rb"(?:[^a-z0-9]|\\[tnrbf])" + word + rb"[^a-z0-9]" if whole else word

        combos: set[tuple[tuple[bool, bytes], ...]] = set()
        for sets in conditions.values():
            for whole, ws in sets:
                combos.add(tuple(sorted((whole, w) for w in set(ws))))
        next_id = 1
        for combo in sorted(combos):
            if len(combo) == 1:
                exprs.append(pattern(*combo[0]))
                ids.append(next_id)
                flags.append(hyperscan.HS_FLAG_SINGLEMATCH)
                next_id += 1
                continue
            for key in combo:
                if key not in words:
                    words[key] = -1  # numbered below, after every combination
        sub_base = 1_000_000
        for n, key in enumerate(sorted(words)):
            words[key] = sub_base + n
            exprs.append(pattern(*key))
            ids.append(sub_base + n)
            flags.append(hyperscan.HS_FLAG_QUIET)
        for combo in sorted(combos):
            if len(combo) > 1:
                exprs.append(" & ".join(str(words[key]) for key in combo).encode())
                ids.append(next_id)
                flags.append(hyperscan.HS_FLAG_COMBINATION)
                next_id += 1
        from banscan.hsdb import database

        self._db: Any = database(exprs, ids, flags) if exprs else None
        self._empty = not exprs
        self._local = threading.local()

    def hit(self, line: bytes) -> bool:
        if self._empty or not line:
            return False
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = self._hs.Scratch(self._db)
        try:
            self._db.scan(b" " + line + b" ", match_event_handler=_stop_scan, scratch=scratch)
        except self._hs.ScanTerminated:
            return True
        return False


def _odd_parts(line: bytes) -> Iterator[bytes]:
    """The `"`-separated parts of a line that hold non-ASCII bytes or `\\u` escapes."""
    marked = line.translate(_MARK_NON_ASCII)
    for needle in (b"\x80", b"\\u"):
        at = marked.find(needle)
        while at >= 0:
            start = line.rfind(b'"', 0, at) + 1
            end = line.find(b'"', at)
            yield line[start:] if end < 0 else line[start:end]
            if end < 0:
                break
            at = marked.find(needle, end)


def _stop_scan(*_args: object) -> bool:
    return True  # one confirmed identifier is enough


WHOLE = "^"  # marks a condition set of whole words (never a word itself: words are letters and digits)
_ESCAPES = frozenset(b"tnrbf")  # JSON's one-letter escapes: `\\tstpass` still starts a word


def _stands_whole(word: bytes, line: bytes) -> bool:
    """Whether `word` occurs in `line` with no letter or digit right before or after it (a
    letter of a JSON escape such as `\\t` right before it counts as a separator)."""
    at = line.find(word)
    while at >= 0:
        end = at + len(word)
        before = line[at - 1] if at else 0x20
        left = not (0x30 <= before <= 0x39 or 0x61 <= before <= 0x7A) or (
            at >= 2 and line[at - 2] == 0x5C and before in _ESCAPES
        )
        after = line[end] if end < len(line) else 0x20
        if left and not (0x30 <= after <= 0x39 or 0x61 <= after <= 0x7A):
            return True
        at = line.find(word, at + 1)
    return False


def _conditions(reqs: Sequence[_Requirement], tokens: list[str]) -> dict[str, list[list[str]]]:
    """Per ASCII token, the word sets of the identifiers it stands for: for each requirement
    the token satisfies, the alternatives of the choice it satisfies (every match holds all the
    words of one of them; whole words for names compared whole, see `_Requirement.whole`), or
    the alternatives that hold it where it covers only some. A token that is itself one of the
    substring sets confirms itself."""
    out: dict[str, list[list[str]]] = {}
    for t in tokens:
        if not t.isascii():
            continue
        sets: set[tuple[bool, frozenset[str]]] = set()
        verbatim = True
        for r in reqs:
            choice = next((c for c in r.choices if all(any(t in w for w in alt) for alt in c)), None)
            # A token chosen for one alternative of a choice (`_select`'s branches): a match
            # through that alternative holds all its words; a match through another holds
            # that alternative's own token.
            alts = (
                list(choice)
                if choice is not None
                else [a for c in r.choices for a in c if any(t in w for w in a)]
            )
            if alts:
                sets.update((r.whole, alt) for alt in alts)
                verbatim = verbatim and r.verbatim
        if not verbatim or not sets or any(not whole and ws == {t} for whole, ws in sets):
            continue
        if all(w.isascii() for _, alt in sets for w in alt):
            out[t] = sorted(([WHOLE] if whole else []) + sorted(alt) for whole, alt in sets)
    return out


_BUILT: dict[int, tuple[Catalog, Prefilter]] = {}
# Bump when build_prefilter chooses differently for the same catalog: older cache entries
# are then never read again.
PREFILTER_FORMAT = 8


def prefilter_for(catalog: Catalog) -> Prefilter:
    """The prefilter of a catalog, built once per catalog content and kept in the user's cache
    (building it takes about a second; reading it back, a millisecond)."""
    hit = _BUILT.get(id(catalog))
    if hit is None or hit[0] is not catalog:
        if len(_BUILT) >= 8:
            _BUILT.clear()
        hit = _BUILT[id(catalog)] = (catalog, _cached_or_built(catalog))
    return hit[1]


def _cached_or_built(catalog: Catalog) -> Prefilter:
    from banscan import __version__, cache

    common = "\n".join(sorted(common_words()))
    key = hashlib.sha256(
        f"{__version__}\n{PREFILTER_FORMAT}\n{common}\n".encode() + catalog.model_dump_json().encode()
    ).hexdigest()
    doc = cache.read_json("prefilter", key)
    got = _from_doc(doc) if doc is not None else None
    if got is not None:
        return got
    built = build_prefilter(catalog)
    body = {
        "tokens": built.tokens,
        "regexes": built.regexes,
        "labels": built.labels,
        "conditions": built.conditions,
    }
    cache.write_json("prefilter", key, {"body": body, "sha256": _digest(body)})
    return built


def _digest(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _from_doc(doc: Any) -> Prefilter | None:
    """A cached prefilter, only if it is whole and well-formed (else it is built again)."""
    if not isinstance(doc, dict) or not isinstance(doc.get("body"), dict):
        return None
    body = doc["body"]
    if doc.get("sha256") != _digest(body):
        return None
    tokens, regexes, labels = body.get("tokens"), body.get("regexes"), body.get("labels")
    conditions = body.get("conditions")
    if not (
        isinstance(tokens, list)
        and all(isinstance(t, str) for t in tokens)
        and isinstance(regexes, list)
        and all(isinstance(r, str) for r in regexes)
        and isinstance(labels, dict)
        and all(isinstance(v, list) and all(isinstance(x, str) for x in v) for v in labels.values())
        and isinstance(conditions, dict)
        and all(
            isinstance(v, list)
            and all(isinstance(ws, list) and all(isinstance(w, str) for w in ws) for ws in v)
            for v in conditions.values()
        )
    ):
        return None
    return Prefilter(tokens=tokens, regexes=regexes, labels=labels, conditions=conditions)
