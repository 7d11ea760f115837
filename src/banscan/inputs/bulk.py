"""The bulk path for huge line-oriented inputs (osquery result logs of millions of rows).

One pass over the file's bytes in chunks (each cut at its last newline) does everything:

* a multi-literal scan (Hyperscan when the `hyperscan` package is installed, else YARA or
  Aho-Corasick, same results, slower) finds the lines with a prefilter token
  (`banscan.match.prefilter`), the first non-ASCII byte of each line, and `\\u` escapes; lines
  with non-ASCII text or escapes are checked exactly with `Prefilter.passes_folded`, which
  folds only their non-ASCII parts (cached, so repeated product names cost one check);
* hosts are counted without parsing lines: osqueryd writes the same `"decorations":{…}` (or
  `"hostIdentifier":"…"`) bytes on every line of a host, and a host's lines come in runs, so
  each run is named once from its first line and its extent is proven with `bytes.count`
  (every line in the range holds the same bytes) over lines that look whole (a table of line
  ends and shapes per chunk, `_line_table`, with `DAMAGE_PATTERNS` found in the same scan);
  a line that does not look like that is parsed as JSON and named as
  `banscan.inputs.osquery.host_of` names it, or kept for the reader when it is not JSON;
* line numbers are counted only up to the kept lines.

Plain files are split by byte range (at newlines) over one worker process per core; gzip and
zstd inputs are decompressed as the per-record reader does (`banscan.inputs.base.open_input`)
in a thread while the main thread scans. Only the kept lines (prefilter hits, lines that need
the reader to name their host, lines with invalid UTF-8) go through the ordinary per-record
reader, with their original numbers, so records, evidence locations and error lines are those
of the per-record path, and hosts without a kept line still count. A file with a line longer
than the reader's limit is read by the per-record path instead.
"""

from __future__ import annotations

import bisect
import contextlib
import itertools
import json
import multiprocessing
import os
import queue
import re
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from banscan.errors import ErrorSink
from banscan.inputs.base import ExpandLimits, default_host_for
from banscan.match.matcher import Matcher
from banscan.match.prefilter import Prefilter, prefilter_for
from banscan.models import TargetResult

if TYPE_CHECKING:
    from banscan.inputs.csvexport import CsvReader

BULK_MIN_BYTES = 64 * 1024 * 1024  # smaller result logs are read record by record
CSV_BULK_MIN_BYTES = 16 * 1024 * 1024  # and smaller CSV exports (the per-record reader is slower)
COMPRESSION_GUESS = 8  # a gzip or zstd input is taken to hold this many times its size in text
MAX_LINE_BYTES = 16 * 1024 * 1024  # as osquery's reader
READ_BYTES = 1024 * 1024  # per read (at most MAX_LINE_BYTES): a chunk stays in the CPU caches
MAX_WORKERS = 8
MAX_STREAM_SHARES = 3  # workers on one compressed input (each inflates all of it)
MIN_WORKER_BYTES = 32 * 1024 * 1024  # a byte range smaller than this is not worth a process
BULK_READERS = frozenset({"osquery"})

_GZIP = b"\x1f\x8b"
_ZSTD = b"\x28\xb5\x2f\xfd"
_DECO = b'"decorations"'  # the keys; any JSON whitespace may stand around the colon after them
_HID = b'"hostIdentifier"'
_JSON_SPACE = b" \t\r"
_NL = b"\n"
_CACHE_MAX = 200_000  # decoration and hostIdentifier byte strings remembered per worker
# The marks of a damaged result line, as logs get damaged: a crash's NUL padding, two records
# run together (a lost newline, or a writer cut off and another's record following), a line
# that does not start an object. A line with one is parsed (and, if it is not JSON, given to
# the reader, which reports it) instead of being named from its bytes.
DAMAGE_PATTERNS = (
    rb"\x00",
    rb"\}[ \t\r]*\{",
    # an object opening after anything but a key, an array's start or a line's start, or after
    # a comma that follows anything but an object (an array of objects)
    rb'[^:,\[ \t\r\n][ \t\r]*\{"',
    rb'[^}\] \t\r\n][ \t\r]*,[ \t\r]*\{"',
    rb"^[ \t\r]*[^ \t\r\n{]",
)


def text_size_guess(path: str) -> int:
    """The input's size, times COMPRESSION_GUESS when it is gzip or zstd (0 when unreadable)."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as fh:
            magic = fh.read(4)
    except OSError:
        return 0
    return size * COMPRESSION_GUESS if magic[:2] == _GZIP or magic == _ZSTD else size


def smallest_bulk_input() -> int:
    """Inputs whose `text_size_guess` is at most this are read record by record."""
    return min(BULK_MIN_BYTES, CSV_BULK_MIN_BYTES)


def csv_reader_named(reader_name: str) -> CsvReader | None:
    """The CSV export reader of that name (the bulk path reads every one of them)."""
    from banscan.inputs.csvexport import READERS, CsvReader

    for reader in READERS:
        if isinstance(reader, CsvReader) and reader.name == reader_name:
            return reader
    return None


def should_use_bulk(path: str, reader_name: str) -> bool:
    """Whether `path`, detected as `reader_name`, is big and line-oriented enough for bulk_scan."""
    if path == "-":
        return False
    if reader_name in BULK_READERS:
        threshold = BULK_MIN_BYTES
    elif csv_reader_named(reader_name) is not None:
        return text_size_guess(path) > CSV_BULK_MIN_BYTES
    else:
        return False
    if text_size_guess(path) <= threshold:
        return False
    from banscan.inputs.base import InputError, open_input

    try:
        stream, _ = open_input(path)
    except (OSError, InputError):
        return False
    try:
        head = stream.read(4096)
    except (OSError, EOFError, ValueError):
        return False
    finally:
        stream.close()
    body = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    return body.startswith(b"{")  # not an `osqueryi --json` array (or UTF-16): lines


# ---- the literal scan ---------------------------------------------------------------------


def hyperscan_available() -> bool:
    try:
        import hyperscan  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass
class Hits:
    """Offsets in a chunk: token hits, non-ASCII lines, `\\u` escapes, fallback-regex hits."""

    token: list[int] = field(default_factory=list)
    which: list[int] = field(default_factory=list)  # per token hit: its index in ascii_tokens
    fold: list[int] = field(default_factory=list)
    regex: list[int] = field(default_factory=list)
    damage: list[int] = field(default_factory=list)  # marks of a damaged line (`DAMAGE_PATTERNS`)


class _Scanner:
    """Finds the offsets of a chunk that make its line a candidate (see `Hits`)."""

    def __init__(self, prefilter: Prefilter, *, damage: bool = False) -> None:
        self.prefilter = prefilter
        self.damage = damage  # also look for `DAMAGE_PATTERNS` (result logs)
        self.ascii_tokens = [t for t in prefilter.tokens if t.isascii()]
        self._fallback = prefilter.fallback_regex()
        self.confirmed: dict[bytes, bool] = {}  # confirmations remembered (see `candidates`)

    def scan(self, chunk: bytes | bytearray, size: int) -> Hits:
        raise NotImplementedError

    def _fallback_hits(self, chunk: bytes | bytearray, size: int, hits: Hits) -> None:
        """Lines where a literal-less catalog regex matches (Python `re`, as `passes` runs it)."""
        if self._fallback is None:
            return
        text = bytes(memoryview(chunk)[:size]).lower().decode("latin-1")  # ASCII lines: as passes() sees them
        pos = 0
        while (m := self._fallback.search(text, pos)) is not None:
            hits.regex.append(m.start())
            nl = text.find("\n", m.start())
            if nl < 0:
                break
            pos = nl + 1


class HyperscanScanner(_Scanner):
    """Vectorscan/Hyperscan block mode: ASCII tokens without case, the first non-ASCII byte of
    each line and `\\u`, in one pass."""

    def __init__(self, prefilter: Prefilter, *, damage: bool = False) -> None:
        import hyperscan

        super().__init__(prefilter, damage=damage)
        exprs = [t.encode() for t in self.ascii_tokens]
        flags = [hyperscan.HS_FLAG_CASELESS] * len(exprs)
        self._n_tokens = len(exprs)
        exprs += [rb"^[^\n\x80-\xff]*[\x80-\xff]", rb"\\u"]
        flags += [hyperscan.HS_FLAG_MULTILINE, 0]
        self._n_fold = len(exprs)
        if damage:
            exprs += list(DAMAGE_PATTERNS)
            flags += [hyperscan.HS_FLAG_MULTILINE] * len(DAMAGE_PATTERNS)
        from banscan.hsdb import database

        self._db = database(exprs, list(range(len(exprs))), flags)
        self._scratch = hyperscan.Scratch(self._db)

    def scan(self, chunk: bytes | bytearray, size: int) -> Hits:
        hits = Hits()
        n_tokens, token, which, fold = self._n_tokens, hits.token.append, hits.which.append, hits.fold.append
        n_fold, damage = self._n_fold, hits.damage.append

        def on_match(ident: int, _from: int, to: int, _flags: int, _ctx: object) -> None:
            if ident < n_tokens:
                token(to - 1)
                which(ident)
            elif ident < n_fold:
                fold(to - 1)
            else:
                damage(to - 1)

        self._db.scan(
            cast(bytes, memoryview(chunk)[:size]), match_event_handler=on_match, scratch=self._scratch
        )
        self._fallback_hits(chunk, size, hits)
        return hits


class PlainScanner(_Scanner):
    """Without Hyperscan: YARA (a dependency already, for byte signatures) or Aho-Corasick for
    the tokens, `bytes.find` for non-ASCII bytes and `\\u`. Same hits, several times slower."""

    _TABLE = bytes(
        b + 32 if 65 <= b <= 90 else (0x80 if b >= 0x80 else b) for b in range(256)
    )  # A-Z to a-z, every non-ASCII byte to 0x80

    _DAMAGE = re.compile(b"|".join(DAMAGE_PATTERNS), re.MULTILINE)

    def __init__(self, prefilter: Prefilter, *, use_yara: bool = True, damage: bool = False) -> None:
        import ahocorasick

        super().__init__(prefilter, damage=damage)
        self._auto: Any = ahocorasick.Automaton()
        for i, t in enumerate(self.ascii_tokens):
            self._auto.add_word(t, i)
        if self.ascii_tokens:
            self._auto.make_automaton()
        self._yara: Any = None
        if use_yara and self.ascii_tokens:
            try:
                import yara
            except ImportError:
                return
            strings = " ".join(f'$t{i} = "{t}" nocase' for i, t in enumerate(self.ascii_tokens))
            self._yara = yara.compile(source=f"rule tokens {{ strings: {strings} condition: any of them }}")

    def _yara_tokens(self, data: bytes) -> list[tuple[int, int]] | None:
        """(end offset, token index) by YARA; None when it stopped recording a string (too many hits)."""
        import yara

        overflow = False

        def on_warning(*_args: object) -> int:
            nonlocal overflow
            overflow = True
            return int(yara.CALLBACK_CONTINUE)

        matches = self._yara.match(data=data, warnings_callback=on_warning)
        if overflow:
            return None
        return [
            (i.offset + i.matched_length - 1, int(s.identifier[2:]))
            for m in matches
            for s in m.strings
            for i in s.instances
        ]

    def scan(self, chunk: bytes | bytearray, size: int) -> Hits:
        hits = Hits()
        data = bytes(memoryview(chunk)[:size])
        lowered = data.translate(self._TABLE)
        if self.ascii_tokens:
            found = self._yara_tokens(data) if self._yara is not None else None
            if found is None:
                found = list(self._auto.iter(lowered.decode("latin-1")))
            hits.token.extend(end for end, _ in found)
            hits.which.extend(i for _, i in found)
        for text, needle in ((lowered, b"\x80"), (data, b"\\u")):
            pos = 0
            while (at := text.find(needle, pos)) >= 0:
                hits.fold.append(at)
                nl = text.find(_NL, at)
                if nl < 0:
                    break
                pos = nl + 1
        if self.damage:
            hits.damage.extend(m.start() for m in self._DAMAGE.finditer(data))
        self._fallback_hits(chunk, size, hits)
        return hits


def make_scanner(
    prefilter: Prefilter, *, use_hyperscan: bool | None = None, damage: bool = False
) -> _Scanner:
    """Hyperscan when installed (or asked for), else the plain scanner; `damage`: also mark
    damaged result lines (`DAMAGE_PATTERNS`)."""
    if use_hyperscan is None:
        use_hyperscan = hyperscan_available()
    return (HyperscanScanner if use_hyperscan else PlainScanner)(prefilter, damage=damage)


# ---- host counting ------------------------------------------------------------------------


_NONE = ""  # a line without a host of its own: the reader names it


class _Hosts:
    """Every host a chunk's lines name, as `banscan.inputs.osquery.host_of` would."""

    def __init__(self) -> None:
        self.names: dict[str, None] = {}
        self._deco: dict[bytes, str | None] = {}  # decorations bytes → hostname (None: irregular)
        self._hid: dict[bytes, str | None] = {}
        self._run = 4096  # bytes of the last run: the first guess for the next

    def _deco_host(self, blob: bytes) -> str | None:
        """`"decorations":{…}` → its hostname ('' for none); None when not a flat JSON object."""
        hit = self._deco.get(blob)
        if hit is None and blob not in self._deco:
            try:
                deco = json.loads(b"{" + blob + b"}")["decorations"]
            except (ValueError, KeyError, TypeError, RecursionError):
                hit = None
            else:
                name = deco.get("hostname") if isinstance(deco, dict) else None
                hit = name if isinstance(name, str) else _NONE
            if len(self._deco) >= _CACHE_MAX:
                self._deco.clear()
            self._deco[blob] = hit
        return hit

    def _hid_host(self, blob: bytes) -> str | None:
        """`"hostIdentifier":"…"` → its value; None when escaped and not valid JSON."""
        hit = self._hid.get(blob)
        if hit is None and blob not in self._hid:
            raw = blob[blob.index(b'"', len(_HID)) :]  # the value, from its opening quote
            try:
                value = json.loads(raw) if b"\\" in raw else raw[1:-1].decode("utf-8")
            except ValueError:
                value = None
            hit = value if isinstance(value, str) else None
            if len(self._hid) >= _CACHE_MAX:
                self._hid.clear()
            self._hid[blob] = hit
        return hit

    def _slow(self, line: bytes) -> str:
        from banscan.inputs.osquery import host_of

        try:
            obj = json.loads(line)
        except (ValueError, RecursionError):  # the reader reports the line
            return _NONE
        return host_of(obj, _NONE) if isinstance(obj, dict) else _NONE

    def walk(
        self,
        chunk: bytearray,
        size: int,
        keep: list[int],
        kept: list[tuple[int, int]],
        damaged: list[int] | None = None,
    ) -> int:
        """Name the hosts of chunk[:size] (whole lines); returns its line count.

        `keep` (sorted line starts) and the lines whose host only the reader can tell (none
        named, not JSON) go to `kept` as (line number in the chunk, line start), in order.
        `damaged` (offsets of marks of damage): their lines are parsed rather than named from
        their bytes (and kept when they do not parse).
        """
        count, find, rfind = chunk.count, chunk.find, chunk.rfind
        ends, odd = _line_table(chunk, size, damaged or [])
        lines = len(ends)
        keep.append(size)  # sentinels
        odd.append(lines)
        k = o = i = 0
        while i < lines:
            pos = ends[i - 1] if i else 0
            eol = ends[i]
            if keep[k] == pos:
                kept.append((i + 1, pos))
                k += 1
            while odd[o] < i:
                o += 1
            kd = kh = b""
            host = ""  # "": only the slow path can tell
            # Only a whole-looking line is named from its bytes; any other (cut, or with a mark
            # of damage: perhaps not JSON, so the reader names no host for it) is parsed below.
            d = find(_DECO, pos, eol) if odd[o] != i else -2
            if d >= 0:
                v = _value_at(chunk, d + len(_DECO), eol)
                c = find(b"}", v, eol) if v >= 0 and chunk[v] == 0x7B else -1  # {
                kd = bytes(chunk[d : c + 1]) if c >= 0 and count(_DECO, d + 1, eol) == 0 else b""
                host = (self._deco_host(kd) or "") if kd else ""
                if not host and (not kd or self._deco_host(kd) is None):
                    kd = b""  # not a flat object: parsed whole below
            if not host and (kd or d == -1):
                h = find(_HID, pos, eol)
                v = _value_at(chunk, h + len(_HID), eol) if h >= 0 else -1
                if v >= 0 and chunk[v] == 0x22:  # "
                    q = find(b'"', v + 1, eol)
                    while q > 0 and chunk[q - 1] == 0x5C:  # an escaped quote: not the end
                        q = find(b'"', q + 1, eol)
                    if q >= 0 and count(_HID, q, eol) == 0:  # one key: a repeated one is parsed
                        kh = bytes(chunk[h : q + 1])
                        host = self._hid_host(kh) or ""
            i += 1
            if not host:
                host = self._slow(bytes(chunk[pos:eol]))
                kd = kh = b""
                if not host:
                    if not kept or kept[-1][1] != pos:
                        kept.append((i, pos))
                    continue
            self.names[host] = None
            if not kd and not kh:
                continue
            # Extend the run: ranges of whole-looking lines that all hold the same bytes, up to
            # the next line that does not look whole.
            key = kd or kh
            end = eol
            cap = ends[odd[o] - 1] if odd[o] < lines else size
            window = self._run
            while end < cap:
                lim = min(cap, end + window)
                last = rfind(key, end, lim)
                if last < 0:
                    break
                line = bisect.bisect_right(ends, last)  # the line holding it
                stop = ends[line]
                n = line + 1 - i
                ok = count(key, end, stop) == n
                if ok and kd and kh:
                    ok = count(kh, end, stop) == n
                elif ok and not kd:
                    ok = find(_DECO, end, stop) < 0
                if not ok:
                    if window <= 2 * (eol - pos):
                        break
                    window //= 4
                    continue
                while keep[k] < stop:
                    kept.append((bisect.bisect_right(ends, keep[k]) + 1, keep[k]))
                    k += 1
                i = line + 1
                end = stop
                if lim - stop > eol - pos:
                    break  # the run ended inside the window
                window *= 2
            self._run = max(4096, (end - pos) + (end - pos) // 4)
        return lines


def _line_table(chunk: bytearray, size: int, damaged: list[int]) -> tuple[list[int], list[int]]:
    """(where each line of chunk[:size] ends, past its newline; the sorted indexes of the lines
    that do not look whole): a whole-looking line ends with `}` before its LF or CRLF, holds no
    offset of `damaged`, and holds as many `{` as `}` (not cut after an inner object; counted
    line by line only when the chunk's counts differ, so a cut line in the same chunk as a
    string with a lone `}` passes). Vectorised: counting bytes with `bytes.count` for every run
    cost more than the rest of the pass."""
    import numpy as np  # here: a small scan never needs it, and it takes 0.1 s to import

    a = np.frombuffer(chunk, np.uint8, size)
    lf = np.flatnonzero(a == 0x0A)
    last = a[lf - 1]  # an empty first line reads the chunk's last byte, a LF: not whole
    cr = np.flatnonzero(last == 0x0D)
    if len(cr):
        last[cr] = a[np.maximum(lf[cr] - 2, 0)]
    whole = last == 0x7D
    if np.count_nonzero(a == 0x7B) != np.count_nonzero(a == 0x7D):  # then line by line
        braces = (a == 0x7B).view(np.int8) - (a == 0x7D).view(np.int8)
        whole &= np.add.reduceat(braces, np.concatenate(([0], lf[:-1] + 1)), dtype=np.int32) == 0
    if damaged:
        whole[np.searchsorted(lf, np.asarray(damaged))] = False
    return (lf + 1).tolist(), np.flatnonzero(~whole).tolist()


def _value_at(chunk: bytearray, at: int, eol: int) -> int:
    """Where the value after a key ending at `at` starts (past `:` and any JSON whitespace, as
    `json.dumps` and many exporters write it), or -1 when no colon follows."""
    while at < eol and chunk[at] in _JSON_SPACE:
        at += 1
    if at >= eol or chunk[at] != 0x3A:  # :
        return -1
    at += 1
    while at < eol and chunk[at] in _JSON_SPACE:
        at += 1
    return at if at < eol else -1


# ---- one byte range ----------------------------------------------------------------------


@dataclass
class Part:
    """What one pass over a byte range (or a stream) found."""

    rows: int = 0
    hosts: list[str] = field(default_factory=list)
    kept: list[tuple[int, bytes]] = field(default_factory=list)  # (line number in the part, line)
    too_long: bool = False
    # a share of a stream (`scan_stream_share`): (chunk index, rows, kept lines) of each chunk
    chunks: list[tuple[int, int, int]] = field(default_factory=list)


def candidates(
    scanner: _Scanner,
    chunk: bytes | bytearray,
    size: int,
    *,
    per_value: bool = False,
    hits: Hits | None = None,
) -> list[int]:
    """Sorted starts of the lines of chunk[:size] (whole lines) that may hold a matching record:
    a prefilter token (confirmed by its words where the token alone is common), non-ASCII text
    or `\\u` escapes that fold to a token, invalid UTF-8 (the reader reports it), or a hit of a
    literal-less catalog regex.

    `per_value`: every record field comes from one JSON string of the line (osquery result
    logs), so a common token is confirmed within the string that holds it: the same path or
    program name on every host is confirmed once (remembered), not once a line. `hits`: the
    scanner's hits on the chunk, when already taken.
    """
    if hits is None:
        hits = scanner.scan(chunk, size)
    keep: set[int] = set()
    rfind, find = chunk.rfind, chunk.find
    pf = scanner.prefilter
    tokens, conditions = scanner.ascii_tokens, pf.conditions
    tentative: dict[int, list[int]] = {}  # line start → ends of its tokens that must be confirmed
    for off, i in zip(hits.token, hits.which, strict=True):
        start = rfind(_NL, 0, off) + 1
        if start in keep:
            continue
        if tokens[i] in conditions:
            tentative.setdefault(start, []).append(off)
        else:
            keep.add(start)
    checked: set[int] = set()  # lines decided below
    confirmed = scanner.confirmed
    for start, offs in tentative.items():
        if start in keep:
            continue
        checked.add(start)
        eol = find(_NL, start, size)
        line = bytes(chunk[start:eol])
        if not line.isascii() or b"\\u" in line:
            if pf.keeps_folded(line) or not _utf8(line):  # invalid UTF-8: the reader reports it
                keep.add(start)
            continue
        if not per_value or b'\\"' in line:  # an escaped quote: strings cannot be told apart
            keys = [line]
        else:
            keys = [
                line[line.rfind(b'"', 0, off - start) + 1 : _end_quote(line, off - start)] for off in offs
            ]
        for key in dict.fromkeys(keys):
            hit = confirmed.get(key)
            if hit is None:
                hit = pf.confirms_line(key.lower())
                if len(confirmed) >= _CACHE_MAX:
                    confirmed.clear()
                confirmed[key] = hit
            if hit:
                keep.add(start)
                break
    for off in hits.fold:
        start = rfind(_NL, 0, off) + 1
        if start in keep or start in checked:
            continue
        checked.add(start)
        line = bytes(chunk[start : find(_NL, start, size)])
        if not _utf8(line) or (pf.passes_folded(line) and pf.keeps_folded(line)):
            keep.add(start)
    for off in hits.regex:
        start = rfind(_NL, 0, off) + 1
        if start not in keep and pf.passes(bytes(chunk[start : find(_NL, start, size)])):
            keep.add(start)
    return sorted(keep)


class _Worker:
    def __init__(self, prefilter: Prefilter, use_hyperscan: bool | None) -> None:
        self.prefilter = prefilter
        self.scanner = make_scanner(prefilter, use_hyperscan=use_hyperscan, damage=True)
        self.hosts = _Hosts()
        self.part = Part()

    def chunk(self, chunk: bytearray, size: int) -> None:
        """Scan chunk[:size], whole lines ending with a newline."""
        hits = self.scanner.scan(chunk, size)
        keep = candidates(self.scanner, chunk, size, per_value=True, hits=hits)
        find = chunk.find
        numbered: list[tuple[int, int]] = []
        rows = self.hosts.walk(chunk, size, keep, numbered, hits.damage)
        base = self.part.rows
        for no, start in numbered:
            self.part.kept.append((base + no, bytes(chunk[start : find(_NL, start, size) + 1])))
        self.part.rows += rows

    def finish(self) -> Part:
        self.part.hosts = list(self.hosts.names)
        return self.part


def _end_quote(line: bytes, at: int) -> int:
    """Where the string holding `line[at]` ends (its closing quote, or the line's end)."""
    end = line.find(b'"', at)
    return end if end >= 0 else len(line)


def _utf8(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


Readinto = Callable[[memoryview], int]


def line_chunks(readinto: Readinto) -> Iterator[tuple[bytearray, int] | None]:
    """(buffer, size): chunks of whole lines, newline-terminated, in one reused buffer (valid
    until the next chunk); None for a line over the reader's limit."""
    buf = bytearray(READ_BYTES + MAX_LINE_BYTES + 1)
    view = memoryview(buf)
    have = 0  # the partial last line of the previous chunk, moved to the front
    while True:
        got = readinto(view[have : have + READ_BYTES])
        if not got:
            if have:
                buf[have] = 0x0A
                yield buf, have + 1
            return
        total = have + got
        cut = buf.rfind(_NL, have, total) + 1
        if not cut:
            if total >= MAX_LINE_BYTES:
                yield None
                return
            have = total
            continue
        if have and buf.find(_NL, have, total) >= MAX_LINE_BYTES:
            yield None
            return
        yield buf, cut
        have = total - cut
        if have >= MAX_LINE_BYTES:
            yield None
            return
        view[:have] = view[cut:total]


def scan_range(
    path: str,
    start: int,
    end: int,
    prefilter: Prefilter,
    use_hyperscan: bool | None = None,
    progress: Any = None,
    slot: int = 0,
) -> Part:
    """Scan the lines of a plain file that start in [start, end) (start is a line start)."""
    worker = _Worker(prefilter, use_hyperscan)
    with open(path, "rb", buffering=0) as fh:
        fh.seek(start)
        left = end - start

        def readinto(view: memoryview) -> int:
            nonlocal left
            if left <= 0:
                return 0
            got = fh.readinto(view[: min(len(view), left)]) or 0
            left -= got
            return got

        for chunk in line_chunks(readinto):
            if chunk is None:
                worker.part.too_long = True
                return worker.part
            worker.chunk(*chunk)
            if progress is not None:
                progress[slot] = end - start - left
    return worker.finish()


@contextlib.contextmanager
def read_ahead(stream: BinaryIO) -> Iterator[Readinto]:
    """A `readinto` fed by a thread that reads (and decompresses: zlib and zstd let go of the
    GIL) the next pieces of `stream` while the caller scans the last one."""
    ahead: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=2)
    done = threading.Event()

    def reader() -> None:
        try:
            while not done.is_set():
                data = stream.read(READ_BYTES)
                ahead.put(data)
                if not data:
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the scanning thread
            ahead.put(exc)

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    finished = False

    def readinto(view: memoryview) -> int:
        nonlocal finished
        if finished:
            return 0
        item = ahead.get()
        if isinstance(item, BaseException):
            finished = True
            raise item
        if not item:
            finished = True
            return 0
        view[: len(item)] = item
        return len(item)

    try:
        yield readinto
    finally:
        done.set()
        while thread.is_alive():
            with contextlib.suppress(queue.Empty):
                ahead.get(timeout=0.1)


def scan_stream_share(
    path: str,
    limits: ExpandLimits | None,
    prefilter: Prefilter,
    use_hyperscan: bool | None = None,
    share: int = 0,
    shares: int = 1,
    progress: Any = None,
) -> Part:
    """Scan every `shares`-th chunk, from chunk `share`, of a gzip or zstd input.

    A compressed stream cannot be split by byte range, so each worker inflates all of it (a
    thread reads ahead while this one scans) and scans its share of the chunks, which are the
    same in every worker (whole lines out of reads of the same size). `progress`: a shared
    counter of the compressed bytes read.
    """
    from banscan.inputs.base import bytes_consumed, open_input

    stream, _ = open_input(path, limits)
    worker = _Worker(prefilter, use_hyperscan)
    position = bytes_consumed(stream) if progress is not None else None
    with stream, read_ahead(stream) as readinto:
        for index, chunk in enumerate(line_chunks(readinto)):
            if chunk is None:
                worker.part.too_long = True
                return worker.part
            if index % shares == share:
                rows, kept = worker.part.rows, len(worker.part.kept)
                worker.chunk(*chunk)
                worker.part.chunks.append((index, worker.part.rows - rows, len(worker.part.kept) - kept))
            if position is not None:
                progress[0] = position()
    return worker.finish()


def _merge_shares(parts: list[Part]) -> Part:
    """The shares of a stream as one part, in chunk order."""
    merged = Part(too_long=any(p.too_long for p in parts))
    if merged.too_long:
        return merged
    entries: list[tuple[int, int, list[tuple[int, bytes]]]] = []
    for part in parts:
        at = before = 0
        for index, rows, n_kept in part.chunks:
            entries.append((index, rows, [(no - before, line) for no, line in part.kept[at : at + n_kept]]))
            at += n_kept
            before += rows
    entries.sort(key=lambda e: e[0])
    if [e[0] for e in entries] != list(range(len(entries))):
        raise RuntimeError("the bulk workers read different chunks of the stream")
    hosts: dict[str, None] = {}
    for part in parts:
        hosts.update(dict.fromkeys(part.hosts))
    for _, rows, lines in entries:
        merged.kept.extend((merged.rows + no, line) for no, line in lines)
        merged.rows += rows
    merged.hosts = list(hosts)
    return merged


def shares_for(path: str) -> int:
    """Workers for a compressed input: each inflates the whole stream, so few (two on most
    machines), and one for a small input."""
    return max(1, min(MAX_STREAM_SHARES, workers_for(text_size_guess(path))))


def _split(path: str, size: int, parts: int) -> list[tuple[int, int]]:
    """`parts` byte ranges of a file, each starting at a line start."""
    cuts = [0]
    with open(path, "rb") as fh:
        for i in range(1, parts):
            fh.seek(max(cuts[-1], size * i // parts))
            if cuts[-1] and fh.tell() == cuts[-1]:
                continue
            fh.seek(max(0, fh.tell() - 1))
            fh.readline()
            at = fh.tell()
            if cuts[-1] < at < size:
                cuts.append(at)
    cuts.append(size)
    return list(itertools.pairwise(cuts))


def workers_for(size: int) -> int:
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(MAX_WORKERS, cpus, size // MIN_WORKER_BYTES))


def _child(conn: Any, target: Callable[..., Part], args: tuple[Any, ...]) -> None:
    try:
        conn.send(target(*args))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        conn.send(exc)
    finally:
        conn.close()


def _in_workers(
    target: Callable[..., Part], jobs: list[tuple[Any, ...]], progress: _Progress | None
) -> list[Part]:
    """Run `target(*job)` for every job in its own process; their parts, in job order."""
    # fork (Linux): the workers start at once with the catalog already loaded; elsewhere spawn
    ctx: Any = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    procs = []
    for job in jobs:
        recv, send = ctx.Pipe(duplex=False)
        p = ctx.Process(target=_child, args=(send, target, job), daemon=True)
        p.start()
        send.close()
        procs.append((p, recv))
    if progress is not None:
        progress.start()  # a thread: only once the workers are forked
    results: list[Part | BaseException] = []
    for p, recv in procs:
        try:
            results.append(recv.recv())
        except EOFError:
            results.append(RuntimeError("a bulk worker process died"))
        p.join()
    parts: list[Part] = []
    for res in results:
        if isinstance(res, BaseException):
            raise res
        parts.append(res)
    return parts


def _plain(prefilter: Prefilter) -> Prefilter:
    """The prefilter as sent to a worker (no cached engines)."""
    return Prefilter(
        tokens=list(prefilter.tokens), regexes=list(prefilter.regexes), conditions=dict(prefilter.conditions)
    )


def scan_compressed(
    path: str,
    limits: ExpandLimits | None,
    prefilter: Prefilter,
    *,
    shares: int,
    progress: _Progress | None = None,
) -> Part:
    """Scan a gzip or zstd input over `shares` processes (`scan_stream_share`)."""
    use_hs = hyperscan_available()
    shared = progress.shared if progress else None
    if shares <= 1:
        if progress is not None:
            progress.start()
        return scan_stream_share(path, limits, prefilter, use_hs, 0, 1, shared)
    plain = _plain(prefilter)
    jobs = [(path, limits, plain, use_hs, i, shares, shared if i == 0 else None) for i in range(shares)]
    return _merge_shares(_in_workers(scan_stream_share, jobs, progress))


def scan_file(
    path: str, prefilter: Prefilter, *, workers: int | None = None, progress: _Progress | None = None
) -> Part:
    """Scan a plain file over `workers` processes (by byte range), merged in file order."""
    size = os.path.getsize(path)
    n = workers if workers is not None else workers_for(size)
    use_hs = hyperscan_available()
    ranges = _split(path, size, n) if n > 1 else [(0, size)]
    if len(ranges) == 1:
        if progress is not None:
            progress.start()
        return scan_range(path, 0, size, prefilter, use_hs, progress.shared if progress else None, 0)
    plain = _plain(prefilter)
    shared = progress.shared if progress else None
    jobs = [(path, a, b, plain, use_hs, shared, i) for i, (a, b) in enumerate(ranges)]
    parts = _in_workers(scan_range, jobs, progress)
    merged = Part()
    hosts: dict[str, None] = {}
    for res in parts:
        merged.too_long |= res.too_long
        merged.kept.extend((merged.rows + no, line) for no, line in res.kept)
        merged.rows += res.rows
        hosts.update(dict.fromkeys(res.hosts))
    merged.hosts = list(hosts)
    return merged


# ---- progress ----------------------------------------------------------------------------


class _Progress:
    """The bulk path's bar on stderr (output.progress.ByteProgress), fed from the workers'
    shared byte counters."""

    def __init__(self, path: str, size: int, slots: int, show: bool | None = None) -> None:
        self.size = size
        from banscan.output import progress as bars

        self.enabled = size > bars.PROGRESS_MIN_BYTES and (sys.stderr.isatty() if show is None else show)
        self.path = path
        self.shared: Any = (
            multiprocessing.get_context().Array("q", slots, lock=False) if self.enabled else None
        )
        self._bar: Any = None

    def start(self) -> None:
        if not self.enabled:
            return
        from banscan.output.progress import ByteProgress

        shared = self.shared
        self._bar = ByteProgress(os.path.basename(self.path), self.size, lambda: int(sum(shared)))
        self._bar.start()

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()


# ---- the bulk path -------------------------------------------------------------------------


def bulk_scan(
    path: str,
    matcher: Matcher,
    errors: ErrorSink,
    reader_name: str,
    *,
    host: str | None = None,
    workers: int | None = None,
    limits: ExpandLimits | None = None,
    progress: bool | None = None,
) -> TargetResult:
    """Scan one big result log: one pass finds kept lines and hosts, the per-record reader
    reads the kept lines (CSV exports: `banscan.inputs.bulkcsv`). `progress`: show a bar on stderr (None: when it is a terminal).

    `target.records` counts the file's rows (lines). Falls back to the per-record path for a
    file with a line over the reader's limit.
    """
    from banscan.inputs.base import InputError
    from banscan.inputs.osquery import records_from_lines

    if reader_name not in BULK_READERS:
        raise ValueError(f"no bulk path for input format {reader_name!r}")
    target = TargetResult(target=path, format=reader_name)
    start = len(errors.lines)
    prefilter = prefilter_for(matcher.catalog)
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as fh:
            magic = fh.read(4)
        if magic[:2] == _GZIP or magic == _ZSTD:
            bar = _Progress(path, size, 1, progress)
            try:
                shares = workers if workers is not None else shares_for(path)
                part = scan_compressed(path, limits, prefilter, shares=shares, progress=bar)
            finally:
                bar.stop()
        else:
            n = workers if workers is not None else workers_for(size)
            bar = _Progress(path, size, n, progress)
            try:
                part = scan_file(path, prefilter, workers=n, progress=bar)
            finally:
                bar.stop()
    except (OSError, EOFError, InputError) as exc:
        errors.report(path, None, getattr(exc, "strerror", None) or str(exc))
        target.errors.extend(errors.lines[start:])
        return target
    if part.too_long:
        return _per_record(path, matcher, errors, reader_name, host, target, start, limits)

    default_host = host or default_host_for(path)
    matcher.add_all(records_from_lines(part.kept, path, errors, default_host))
    for name in sorted(part.hosts):
        matcher.hosts.setdefault(name, None)
    target.records = part.rows
    target.errors.extend(errors.lines[start:])
    return target


def _per_record(
    path: str,
    matcher: Matcher,
    errors: ErrorSink,
    reader_name: str,
    host: str | None,
    target: TargetResult,
    start: int,
    limits: ExpandLimits | None = None,
) -> TargetResult:
    """The ordinary path, for a file the bulk reader cannot take (a line over the size limit)."""
    from banscan.inputs.registry import read_target

    del errors.lines[start:]
    sub, records = read_target(path, errors, host=host, limits=limits, input_format=reader_name, forced=False)
    matcher.add_all(records)
    target.records = sub.records
    target.errors = sub.errors
    return target
