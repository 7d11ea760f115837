"""The catalog's byte signatures, compiled once to YARA rules and run over executable content.

Each rule stands for one (product, byte_signature identifier) pair; its metadata carries the
product id and the identifier's exact value, which the deep scan puts in a record's
`byte_signature` extra for the matcher to compare. Text identifiers match as ASCII and
UTF-16LE (version resources are UTF-16); `{ 4D 5A ?? }` values are YARA hex strings and
`/…/` values are YARA regular expressions.

Only executable-like content is scanned (see filetype.EXECUTABLE_LIKE): documents mentioning
a vendor are not evidence of its software.

When every signature is a plain text (the shipped catalog), a Hyperscan pass for exactly the
bytes YARA would look for (each text's UTF-8 bytes, and those bytes each followed by a zero
byte for `wide`) decides first whether YARA needs to run at all: it is an order of magnitude
faster, and almost no file holds any of them. A file where it finds one is scanned by YARA as
before, so the hits are YARA's own.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any

from banscan.catalog.schema import Catalog, IdentifierKind
from banscan.deep.filetype import Buffer


class YaraUnavailable(RuntimeError):
    """yara-python is not installed or the rules do not compile."""


@dataclass(frozen=True, slots=True)
class Hit:
    rule: str
    product: str
    identifier: str


def _rule_name(product_id: str, n: int) -> str:
    return "banscan_" + re.sub(r"[^A-Za-z0-9_]", "_", product_id) + f"_{n}"


def _string_literal(value: str) -> str:
    out = []
    for ch in value:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif 0x20 <= ord(ch) < 0x7F:
            out.append(ch)
        else:
            out.extend(f"\\x{b:02x}" for b in ch.encode("utf-8"))
    return '"' + "".join(out) + '"'


def _meta(value: str) -> str:
    return _string_literal(value)


def rules_source(catalog: Catalog) -> str:
    """YARA source with one rule per (product, byte_signature identifier) of the catalog."""
    parts = [f"// banscan byte signatures, catalog {catalog.meta.version}\n"]
    for product in catalog.products:
        n = 0
        for ident in product.identifiers:
            if ident.kind != IdentifierKind.BYTE_SIGNATURE:
                continue
            n += 1
            value = ident.value.strip()
            if value.startswith("{") and value.endswith("}"):
                string = value
            elif len(value) > 2 and value.startswith("/") and value.endswith("/"):
                string = value + " ascii wide"
            else:
                string = _string_literal(ident.value) + " ascii wide"
            parts.append(
                f"rule {_rule_name(product.id, n)}\n{{\n"
                f"    meta:\n"
                f"        banscan_product = {_meta(product.id)}\n"
                f"        identifier = {_meta(ident.value)}\n"
                f"        confidence = {_meta(ident.confidence.value)}\n"
                f"    strings:\n"
                f"        $s = {string}\n"
                f"    condition:\n"
                f"        $s\n}}\n"
            )
    return "\n".join(parts)


def literal_patterns(catalog: Catalog) -> list[bytes] | None:
    """The byte strings the catalog's rules match (`ascii` and `wide` forms of each text), or
    None when a signature is a hex string or a regular expression (no exact prefilter)."""
    out: list[bytes] = []
    for product in catalog.products:
        for ident in product.identifiers:
            if ident.kind != IdentifierKind.BYTE_SIGNATURE:
                continue
            value = ident.value.strip()
            if (value.startswith("{") and value.endswith("}")) or (
                len(value) > 2 and value.startswith("/") and value.endswith("/")
            ):
                return None
            raw = ident.value.encode("utf-8")  # what _string_literal spells, byte for byte
            if not raw:
                return None
            out += [raw, bytes(b for c in raw for b in (c, 0))]  # YARA's `wide` interleaves zeros
    return out


class _Prefilter:
    """Whether a buffer holds any of some byte strings (Hyperscan, one scratch per thread)."""

    MAX = 2**31  # block mode takes an unsigned length; larger buffers go straight to YARA

    def __init__(self, patterns: list[bytes]) -> None:
        import hyperscan

        from banscan.hsdb import database

        self._hs: Any = hyperscan
        exprs = [b"".join(b"\\x%02x" % c for c in p) for p in patterns]
        self._db: Any = database(exprs, list(range(len(exprs))), [hyperscan.HS_FLAG_SINGLEMATCH] * len(exprs))
        self._exprs = exprs
        self._stream_db: Any = None
        self._lock = threading.Lock()
        self._local = threading.local()

    def stream(self) -> StreamCheck:
        """A check fed piece by piece (a member as it is inflated), compiled on first use."""
        from banscan.hsdb import database

        with self._lock:
            if self._stream_db is None:
                hs = self._hs
                n = len(self._exprs)
                flags = [hs.HS_FLAG_SINGLEMATCH] * n
                self._stream_db = database(self._exprs, list(range(n)), flags, mode=hs.HS_MODE_STREAM)
        scratch = getattr(self._local, "stream_scratch", None)
        if scratch is None:
            scratch = self._local.stream_scratch = self._hs.Scratch(self._stream_db)
        return StreamCheck(self._hs, self._stream_db, scratch)

    def may_match(self, data: Buffer) -> bool:
        if len(memoryview(data)) >= self.MAX:
            return True
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = self._hs.Scratch(self._db)
        try:
            self._db.scan(data, match_event_handler=_stop, scratch=scratch)
        except self._hs.ScanTerminated:
            return True
        except self._hs.HyperscanError:
            return True  # let YARA decide (and report)
        return False


class StreamCheck:
    """Whether bytes fed in pieces hold any of the prefilter's strings (across piece
    boundaries): `maybe` turns True at the first one, and YARA must then see the whole."""

    def __init__(self, hs: Any, db: Any, scratch: Any) -> None:
        self._hs = hs
        self._scratch = scratch
        # The stream opens on entering its context (and the handler must outlive it: a
        # module-level function, not a lambda).
        self._ctx: Any = db.stream(match_event_handler=_stop)
        self._stream: Any = self._ctx.__enter__()
        self._open = True
        self.maybe = False

    def feed(self, data: Buffer) -> bool:
        if not self.maybe and self._open:
            try:
                self._stream.scan(data, scratch=self._scratch)
            except self._hs.ScanTerminated:
                self.maybe = True
            except self._hs.HyperscanError:
                self.maybe = True  # let YARA decide
        return self.maybe

    def close(self) -> None:
        """End the stream (literal strings were reported by feed as they ended); idempotent."""
        if not self._open:
            return
        self._open = False
        try:
            self._ctx.__exit__(None, None, None)
        except self._hs.ScanTerminated:
            self.maybe = True
        except self._hs.HyperscanError:
            pass


def _stop(*_args: object) -> bool:
    return True  # the first match is enough: halt the scan


class ByteSignatures:
    """Compiled rules; `scan(data)` lists the identifiers found in a buffer."""

    def __init__(self, source: str, literals: list[bytes] | None = None) -> None:
        try:
            import yara
        except ImportError as exc:
            raise YaraUnavailable("yara-python is not installed; byte signatures are not checked") from exc
        try:
            self._rules = yara.compile(source=source)
        except yara.Error as exc:
            raise YaraUnavailable(f"byte-signature rules do not compile: {exc}") from exc
        self._error = yara.Error
        self.source = source
        self._literals = literals
        self._prefilter: _Prefilter | None = None
        if literals is not None:
            try:
                self._prefilter = _Prefilter(literals) if literals else None
            except Exception:  # noqa: BLE001 - no Hyperscan (or it refuses): YARA alone, as before
                self._prefilter = None
        self.no_signatures = literals is not None and not literals

    def __reduce__(self) -> tuple[type[ByteSignatures], tuple[str, list[bytes] | None]]:
        """Sent to worker processes as source and literals, compiled again there."""
        return (ByteSignatures, (self.source, self._literals))

    def stream_check(self) -> StreamCheck | None:
        """A piece-by-piece prefilter for content too big to hold, or None when there is no
        exact prefilter (then the content must be read whole and given to `scan`)."""
        if self._prefilter is None or self.no_signatures:
            return None
        try:
            return self._prefilter.stream()
        except Exception:  # noqa: BLE001 - Hyperscan refuses stream mode here: read it whole
            return None

    @classmethod
    def from_catalog(cls, catalog: Catalog) -> ByteSignatures:
        return cls(rules_source(catalog), literal_patterns(catalog))

    def scan(self, data: Buffer, *, timeout: int = 60) -> list[Hit]:
        """Rules matching `data`; raises ValueError with a one-line reason if YARA fails."""
        if self.no_signatures:
            return []
        if self._prefilter is not None and not self._prefilter.may_match(data):
            return []
        try:
            matches = self._rules.match(data=data, timeout=timeout)
        except self._error as exc:
            raise ValueError(f"YARA scan failed: {exc}") from exc
        hits = []
        for m in matches:
            meta = m.meta
            hits.append(
                Hit(
                    rule=m.rule,
                    product=str(meta.get("banscan_product", "")),
                    identifier=str(meta["identifier"]),
                )
            )
        return hits
