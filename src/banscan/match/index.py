"""The catalog compiled once into lookup structures: hash maps for exact and normalised
names, one Aho-Corasick automaton for every prefix/contains pattern, and a short list of
regular expressions and globs. Matching a record is then a handful of dictionary probes.
"""

from __future__ import annotations

import fnmatch
import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import ahocorasick

from banscan.catalog.schema import Catalog, Entity, Identifier, IdentifierKind, MatchKind, Product
from banscan.match.normalize import norm_id, norm_name, norm_org, norm_path, norm_token
from banscan.models import Confidence

# How each identifier kind's values are normalised, on both sides of a comparison.
_NAME_KINDS = {
    IdentifierKind.DISPLAY_NAME,
    IdentifierKind.PUBLISHER,
    IdentifierKind.SIGNER,
    IdentifierKind.CERTIFICATE,
}
_TOKEN_KINDS = {IdentifierKind.PROCESS, IdentifierKind.SERVICE, IdentifierKind.DRIVER}
_PATH_KINDS = {IdentifierKind.PATH, IdentifierKind.REGISTRY_KEY}


def normaliser(kind: IdentifierKind, match: MatchKind) -> str:
    """Name of the normalisation applied to values of this kind for this match kind."""
    if kind in _TOKEN_KINDS and match in (MatchKind.EXACT, MatchKind.IEXACT, MatchKind.NAME):
        # A unit, service, driver or process is one name however it is listed: `kesl`,
        # `kesl.service`, `/usr/lib/systemd/system/kesl.service`, `KLIF.SYS`.
        return "token"
    if match in (MatchKind.EXACT, MatchKind.REGEX):
        return "raw"
    if kind in _PATH_KINDS:
        return "path"
    if kind in _TOKEN_KINDS:
        return "token"
    if kind in _NAME_KINDS and match in (MatchKind.NAME, MatchKind.CONTAINS, MatchKind.PREFIX):
        return "name"
    return "id"


_NORMALISERS: dict[str, Callable[[str], str]] = {
    "raw": lambda s: s,
    "path": norm_path,
    "token": norm_token,
    "name": norm_name,
    "id": norm_id,
}


def normalise(how: str, value: str) -> str:
    return _NORMALISERS[how](value)


@dataclass(frozen=True, slots=True)
class Pattern:
    """One identifier of one product, as compiled."""

    product: Product
    ident: Identifier
    key: str  # normalised value

    @property
    def specificity(self) -> int:
        """Exact forms beat partial ones when two products claim the same observed value."""
        return {
            MatchKind.NAME: 3,
            MatchKind.EXACT: 3,
            MatchKind.IEXACT: 3,
            MatchKind.PREFIX: 2,
            MatchKind.GLOB: 2,
            MatchKind.CONTAINS: 1,
            MatchKind.REGEX: 1,
        }[self.ident.match]


class CatalogIndex:
    """Built once per catalog; `lookup(kind, value)` yields every pattern that matches."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._equal: dict[tuple[IdentifierKind, str, str], list[Pattern]] = defaultdict(list)
        self._regex: dict[IdentifierKind, list[tuple[re.Pattern[str], Pattern, str]]] = defaultdict(list)
        self._auto = ahocorasick.Automaton()
        auto_items: dict[str, list[tuple[Pattern, str]]] = defaultdict(list)
        self._how_by_kind: dict[IdentifierKind, set[str]] = defaultdict(set)
        for product in catalog.products:
            for ident in identifiers(catalog, product):
                how = normaliser(ident.kind, ident.match)
                key = normalise(how, ident.value)
                pat = Pattern(product, ident, key)
                self._how_by_kind[ident.kind].add(how)
                if ident.match in (MatchKind.NAME, MatchKind.EXACT, MatchKind.IEXACT):
                    self._equal[(ident.kind, how, key)].append(pat)
                elif ident.match in (MatchKind.PREFIX, MatchKind.CONTAINS):
                    auto_items[key].append((pat, how))
                elif ident.match == MatchKind.REGEX:
                    self._regex[ident.kind].append((re.compile(ident.value, re.IGNORECASE), pat, how))
                else:  # GLOB
                    rx = re.compile(fnmatch.translate(key), re.IGNORECASE | re.DOTALL)
                    self._regex[ident.kind].append((rx, pat, how))
        for key, items in auto_items.items():
            self._auto.add_word(key, (key, items))
        self._has_auto = bool(auto_items)
        if self._has_auto:
            self._auto.make_automaton()
        self.entities = EntityIndex(catalog.entities)

    def lookup(self, kind: IdentifierKind, value: str) -> Iterator[Pattern]:
        """Every catalog pattern of `kind` that matches the observed `value`."""
        if not value:
            return
        hows = self._how_by_kind.get(kind)
        if not hows:
            return
        cache: dict[str, str] = {}
        for how in hows:
            nv = cache.setdefault(how, normalise(how, value))
            yield from self._equal.get((kind, how, nv), ())
        for rx, pat, how in self._regex.get(kind, ()):
            nv = cache.setdefault(how, normalise(how, value))
            if pat.ident.match == MatchKind.GLOB:
                if rx.fullmatch(nv):
                    yield pat
            elif rx.search(nv):
                yield pat
        if self._has_auto:
            for how in hows & {"path", "token", "name", "id"}:
                nv = cache.setdefault(how, normalise(how, value))
                for end, (key, items) in self._auto.iter(nv):
                    start = end - len(key) + 1
                    for pat, phow in items:
                        if pat.ident.kind != kind or phow != how:
                            continue
                        if _partial_ok(pat.ident.match, how, nv, start, end):
                            yield pat


def identifiers(catalog: Catalog, product: Product) -> list[Identifier]:
    """A product's identifiers plus its branded aliases, read as installed-software names.

    An alias that carries its vendor's brand word ("Kaspersky Secure Connection") names the
    product as surely as its catalogued display names, so it is as strong as the product's
    best source allows. A bare abbreviation ("KES", "KIS", "Network Agent") names other
    software as often as this product, so it is not matched at all.
    """
    known = {
        norm_name(i.value)
        for i in product.identifiers
        if i.kind == IdentifierKind.DISPLAY_NAME and i.match == MatchKind.NAME
    }
    brands = [
        norm_name(tok)
        for e in catalog.entities
        if e.id == product.vendor or e.id in product.integrates
        for tok in e.brand_tokens
    ]
    strengths = {s.id: s.strength.max_confidence for s in catalog.sources}
    best = max(
        (strengths[s] for s in product.sources if s in strengths),
        key=lambda c: c.rank,
        default=Confidence.WEAK,
    )
    out = list(product.identifiers)
    for alias in product.aliases:
        key = norm_name(alias)
        words = key.split()
        branded = len(words) >= 2 and any(w.startswith(b) for w in words for b in brands if b)
        if not branded or key in known:
            continue
        known.add(key)
        out.append(
            Identifier(
                kind=IdentifierKind.DISPLAY_NAME,
                value=alias,
                match=MatchKind.NAME,
                confidence=best,
                sources=list(product.sources),
                note="product alias",
            )
        )
    return out


def _partial_ok(match: MatchKind, how: str, text: str, start: int, end: int) -> bool:
    """Prefix/contains hits must sit on word (or path-component) boundaries."""
    after = text[end + 1] if end + 1 < len(text) else ""
    if match == MatchKind.PREFIX:
        if start != 0:
            return False
        if how == "path":
            return after in ("", "/")
        return after == "" or not after.isalnum()
    before = text[start - 1] if start > 0 else ""
    if how == "path":
        return before in ("", "/") and after in ("", "/")
    return (before == "" or not before.isalnum()) and (after == "" or not after.isalnum())


class EntityIndex:
    """Covered entities by every name they go by, and their brand words inside product names."""

    def __init__(self, entities: list[Entity]) -> None:
        self.by_org: dict[str, Entity] = {}
        for e in entities:
            for n in e.all_names():
                key = norm_org(n)
                if key:
                    self.by_org.setdefault(key, e)
        brands: list[tuple[str, Entity]] = [(norm_name(t), e) for e in entities for t in e.brand_tokens]
        self._brand = [(re.compile(rf"(?<![a-z0-9]){re.escape(tok)}\w*"), e) for tok, e in brands if tok]

    def organisation(self, value: str | None) -> Entity | None:
        """The entity a publisher or signer string names, if any."""
        if not value:
            return None
        key = norm_org(value)
        hit = self.by_org.get(key)
        if hit is not None:
            return hit
        # Cloud extension publishers are dotted namespaces ("KasperskyLab.Azure",
        # "Microsoft.Azure.Security"): the first segment names the organisation.
        if "." in value and " " not in value.strip():
            head = value.strip().split(".", 1)[0]
            hit = self.by_org.get(norm_org(head)) if len(head) >= 4 else None
            if hit is not None:
                return hit
        # Certificate subjects: look at CN= and O= parts separately.
        if "=" in value:
            for part in re.split(r",(?=\s*[A-Za-z0-9.]+=)", value):
                k, _, v = part.partition("=")
                if k.strip().upper() in ("CN", "O") and v.strip():
                    hit = self.by_org.get(norm_org(v.strip().strip('"')))
                    if hit is not None:
                        return hit
        return None

    def brand(self, value: str | None) -> Entity | None:
        """The entity whose brand word appears in a product name, if any."""
        return self.brand_at(value)[0]

    def brand_at(self, value: str | None) -> tuple[Entity | None, bool]:
        """The entity whose brand word appears in a name, and whether the name starts with it."""
        if not value:
            return None, False
        nv = norm_name(value)
        for rx, e in self._brand:
            m = rx.search(nv)
            if m:
                return e, m.start() == 0
        return None, False
