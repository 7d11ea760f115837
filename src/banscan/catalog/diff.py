"""What changed between two catalogs: the release notes of a catalog update.

Entries are matched by id within each section. A product's identifiers are matched by what they
compare (kind, match and value) and a regulation's obligations by their id, so an identifier that
was added or removed is told apart from one whose confidence or sources changed, and a moved
deadline from a new duty. Values are compared as the catalog's JSON form, so the diff of two
catalogs is the same whether they were read from folders, YAML or JSON.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias, TypeVar

from pydantic import BaseModel

from banscan.catalog.schema import (
    Alternative,
    Catalog,
    CatalogMeta,
    CatalogSource,
    Entity,
    Identifier,
    MatchKind,
    ObligationRule,
    Product,
    Regulation,
)

Json: TypeAlias = Any  # a value as `model_dump(mode="json")` gives it

# The release stamp: reported as the versions compared, not as a change of content.
_STAMP = ("version", "released")
_SHORT = 60  # longest text shown in full as "old → new"
_LABEL = 80  # longest entry name shown in text


@dataclass(frozen=True)
class FieldChange:
    """A field whose value differs; `old` and `new` as in the catalog's JSON (None when unset)."""

    field: str
    old: Json
    new: Json

    def to_json(self) -> dict[str, Json]:
        return {"field": self.field, "old": self.old, "new": self.new}


@dataclass(frozen=True)
class Item:
    """An identifier or obligation found on one side only, with everything it holds."""

    key: str  # how it is named in text: "process avp.exe", an obligation's id
    data: dict[str, Json]


@dataclass(frozen=True)
class ItemChange:
    """An identifier or obligation on both sides whose other fields differ."""

    key: str
    identity: dict[str, Json]  # the fields it was matched by
    fields: tuple[FieldChange, ...]

    def to_json(self) -> dict[str, Json]:
        return {**self.identity, "fields": [c.to_json() for c in self.fields]}


@dataclass(frozen=True)
class ItemsDiff:
    """The identifiers of one product, or the obligations of one regulation, that changed."""

    added: tuple[Item, ...] = ()
    removed: tuple[Item, ...] = ()
    changed: tuple[ItemChange, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def to_json(self) -> dict[str, Json]:
        return {
            "added": [i.data for i in self.added],
            "removed": [i.data for i in self.removed],
            "changed": [c.to_json() for c in self.changed],
        }


@dataclass(frozen=True)
class Entry:
    """An entry found in one catalog only."""

    id: str
    name: str

    def to_json(self) -> dict[str, Json]:
        return {"id": self.id, "name": self.name}


@dataclass(frozen=True)
class EntryChange:
    """An entry in both catalogs that differs: its own fields, and its identifiers or obligations
    (`parts`) apart, since those are what detection and deadlines turn on."""

    id: str
    name: str
    fields: tuple[FieldChange, ...] = ()
    parts: ItemsDiff = field(default_factory=ItemsDiff)


@dataclass(frozen=True)
class SectionDiff:
    """One section of the catalog (products, entities, …): entries added, removed and changed.

    `kind` names one entry in text ("product"); `part` names the nested list compared item by
    item ("identifiers", "obligations"), or is None for sections without one.
    """

    section: str
    kind: str
    part: str | None = None
    part_kind: str | None = None
    added: tuple[Entry, ...] = ()
    removed: tuple[Entry, ...] = ()
    changed: tuple[EntryChange, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def to_json(self) -> dict[str, Json]:
        changed: list[dict[str, Json]] = []
        for c in self.changed:
            row: dict[str, Json] = {"id": c.id, "name": c.name, "fields": [f.to_json() for f in c.fields]}
            if self.part is not None:
                row[self.part] = c.parts.to_json()
            changed.append(row)
        return {
            "added": [e.to_json() for e in self.added],
            "removed": [e.to_json() for e in self.removed],
            "changed": changed,
        }


@dataclass(frozen=True)
class CatalogDiff:
    """What changed from `old_version` to `new_version`; `meta` holds changes to the catalog's own
    fields other than its version and release date."""

    old_version: str
    new_version: str
    old_released: str
    new_released: str
    meta: tuple[FieldChange, ...]
    products: SectionDiff
    entities: SectionDiff
    regulations: SectionDiff
    alternatives: SectionDiff
    sources: SectionDiff

    @property
    def sections(self) -> tuple[SectionDiff, ...]:
        """The sections in the order release notes list them: what is detected first."""
        return (self.products, self.entities, self.regulations, self.alternatives, self.sources)

    @property
    def empty(self) -> bool:
        """True when both catalogs hold the same entries (a new version stamp alone is no change)."""
        return not self.meta and all(s.empty for s in self.sections)

    def to_json(self) -> dict[str, Json]:
        """A stable JSON form: entries sorted by id, identifiers by kind, match and value,
        obligations by id, fields in the schema's order."""
        out: dict[str, Json] = {
            "old_version": self.old_version,
            "new_version": self.new_version,
            "old_released": self.old_released,
            "new_released": self.new_released,
            "empty": self.empty,
            "meta": [c.to_json() for c in self.meta],
        }
        for s in self.sections:
            out[s.section] = s.to_json()
        return out


# --- comparing -----------------------------------------------------------------------------------

_M = TypeVar("_M", bound=BaseModel)
_E = TypeVar("_E", Product, Entity, Regulation, Alternative, CatalogSource)


def _field_changes(old: BaseModel, new: BaseModel, skip: Sequence[str] = ()) -> tuple[FieldChange, ...]:
    """The top-level fields whose JSON values differ, in the schema's order."""
    a = old.model_dump(mode="json")
    b = new.model_dump(mode="json")
    return tuple(
        FieldChange(name, a.get(name), b.get(name))
        for name in type(new).model_fields
        if name not in skip and a.get(name) != b.get(name)
    )


def _paired(
    old: Sequence[_M], new: Sequence[_M], key: Callable[[_M], tuple[Hashable, ...]]
) -> tuple[list[_M], list[_M], list[tuple[_M, _M]]]:
    """Match two lists by `key` (the n-th repeat of a key on one side pairs with the n-th on the
    other); returns (added, removed, pairs) in key order."""

    def keyed(items: Sequence[_M]) -> dict[tuple[Hashable, ...], _M]:
        seen: Counter[tuple[Hashable, ...]] = Counter()
        out: dict[tuple[Hashable, ...], _M] = {}
        for it in items:
            k = key(it)
            out[(*k, seen[k])] = it
            seen[k] += 1
        return out

    a, b = keyed(old), keyed(new)

    def order(k: tuple[Hashable, ...]) -> tuple[str, ...]:
        return tuple(str(x) for x in k)

    added = [b[k] for k in sorted(b.keys() - a.keys(), key=order)]
    removed = [a[k] for k in sorted(a.keys() - b.keys(), key=order)]
    pairs = [(a[k], b[k]) for k in sorted(a.keys() & b.keys(), key=order)]
    return added, removed, pairs


def _identifier_key(i: Identifier) -> tuple[Hashable, ...]:
    # The same value under another match kind matches other software (a name vs. a prefix).
    return (i.kind.value, i.match.value, i.value)


def _identifier_name(i: Identifier) -> str:
    text = f"{i.kind.value} {_text(i.value)}"
    return text if i.match == MatchKind.NAME else f"{text} ({i.match.value})"


def _identifiers(old: Product, new: Product) -> ItemsDiff:
    added, removed, pairs = _paired(old.identifiers, new.identifiers, _identifier_key)
    return ItemsDiff(
        added=tuple(Item(_identifier_name(i), i.model_dump(mode="json")) for i in added),
        removed=tuple(Item(_identifier_name(i), i.model_dump(mode="json")) for i in removed),
        changed=tuple(
            ItemChange(
                _identifier_name(b),
                {"kind": b.kind.value, "match": b.match.value, "value": b.value},
                changes,
            )
            for a, b in pairs
            if (changes := _field_changes(a, b))
        ),
    )


def _obligation_key(o: ObligationRule) -> tuple[Hashable, ...]:
    return (o.id,)


def _obligations(old: Regulation, new: Regulation) -> ItemsDiff:
    added, removed, pairs = _paired(old.obligations, new.obligations, _obligation_key)
    return ItemsDiff(
        added=tuple(Item(o.id, o.model_dump(mode="json")) for o in added),
        removed=tuple(Item(o.id, o.model_dump(mode="json")) for o in removed),
        changed=tuple(
            ItemChange(b.id, {"id": b.id}, changes)
            for a, b in pairs
            if (changes := _field_changes(a, b, skip=("id",)))
        ),
    )


def _entry_id(e: _E) -> tuple[Hashable, ...]:
    return (e.id,)


def _section(
    section: str,
    kind: str,
    old: Sequence[_E],
    new: Sequence[_E],
    name: Callable[[_E], str],
    part: tuple[str, str, Callable[[_E, _E], ItemsDiff]] | None = None,
) -> SectionDiff:
    """Compare one section; `part` is (field, singular, compare) for the nested list compared
    item by item rather than as one field."""
    added, removed, pairs = _paired(old, new, _entry_id)
    skip = ("id", part[0]) if part else ("id",)
    changed: list[EntryChange] = []
    for a, b in pairs:
        fields = _field_changes(a, b, skip)
        parts = part[2](a, b) if part else ItemsDiff()
        if fields or not parts.empty:
            changed.append(EntryChange(b.id, name(b), fields, parts))
    return SectionDiff(
        section=section,
        kind=kind,
        part=part[0] if part else None,
        part_kind=part[1] if part else None,
        added=tuple(Entry(e.id, name(e)) for e in added),
        removed=tuple(Entry(e.id, name(e)) for e in removed),
        changed=tuple(changed),
    )


def _meta_changes(old: CatalogMeta, new: CatalogMeta) -> tuple[FieldChange, ...]:
    return _field_changes(old, new, skip=_STAMP)


def diff_catalogs(old: Catalog, new: Catalog) -> CatalogDiff:
    """What changed from `old` to `new`, section by section."""

    def product_name(p: Product) -> str:
        return p.name

    def entity_name(e: Entity) -> str:
        return e.name

    def regulation_name(r: Regulation) -> str:
        return r.short

    def alternative_name(a: Alternative) -> str:
        return a.name

    def source_name(s: CatalogSource) -> str:
        return s.title

    return CatalogDiff(
        old_version=old.meta.version,
        new_version=new.meta.version,
        old_released=old.meta.released.isoformat(),
        new_released=new.meta.released.isoformat(),
        meta=_meta_changes(old.meta, new.meta),
        products=_section(
            "products",
            "product",
            old.products,
            new.products,
            product_name,
            ("identifiers", "identifier", _identifiers),
        ),
        entities=_section("entities", "entity", old.entities, new.entities, entity_name),
        regulations=_section(
            "regulations",
            "regulation",
            old.regulations,
            new.regulations,
            regulation_name,
            ("obligations", "obligation", _obligations),
        ),
        alternatives=_section(
            "alternatives", "alternative", old.alternatives, new.alternatives, alternative_name
        ),
        sources=_section("sources", "source", old.sources, new.sources, source_name),
    )


# --- release notes -------------------------------------------------------------------------------


def _text(value: str) -> str:
    """A text value as written in a note: quoted when it holds spaces, so its ends are visible."""
    return f'"{value}"' if not value or any(c.isspace() for c in value) else value


def _label(value: str) -> str:
    return _text(value if len(value) <= _LABEL else value[: _LABEL - 1] + "…")


def _short(value: Json) -> str | None:
    """`value` as one short word or phrase, or None when it is too long to show in full."""
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str) and len(value) <= _SHORT and "\n" not in value:
        return _text(value)
    return None


def _is_scalar(value: Json) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _describe(change: FieldChange, prefix: str = "") -> list[str]:
    """How one field changed, in a few words: old → new for short values, the members added and
    removed for lists, the sub-fields for a mapping, else that it changed."""
    name = prefix + change.field
    old, new = change.old, change.new
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for k in dict.fromkeys([*old, *new]):
            if old.get(k) != new.get(k):
                out += _describe(FieldChange(str(k), old.get(k), new.get(k)), name + ".")
        return out
    if isinstance(old, list) and isinstance(new, list) and all(_is_scalar(x) for x in [*old, *new]):
        came = list((Counter(new) - Counter(old)).elements())
        gone = list((Counter(old) - Counter(new)).elements())
        if not came and not gone:
            return [f"{name} reordered"]
        words = [f"+{_short(x)}" for x in came] + [f"-{_short(x)}" for x in gone]
        if any(_short(x) is None for x in [*came, *gone]):
            return [f"{name} {len(came)} added, {len(gone)} removed"]
        return [f"{name} {' '.join(words)}"]
    a, b = _short(old), _short(new)
    if a is not None and b is not None:
        return [f"{name} {a} → {b}"]
    if old is None:
        return [f"{name} added"]
    if new is None:
        return [f"{name} removed"]
    return [f"{name} changed"]


def _describe_all(changes: Sequence[FieldChange]) -> str:
    return "; ".join(line for c in changes for line in _describe(c))


def _obligation_summary(data: dict[str, Json]) -> str:
    bits = [str(data.get("kind")), f"effective {data.get('effective')}"]
    if data.get("deadline"):
        bits.append(f"deadline {data['deadline']}")
    return f" ({', '.join(bits)})"


def _section_lines(s: SectionDiff) -> list[str]:
    counts = f"{len(s.added)} added, {len(s.removed)} removed, {len(s.changed)} changed"
    lines = [f"{s.section}: {counts}"]
    lines += [f"  + {s.kind} {e.id} {_label(e.name)}" for e in s.added]
    lines += [f"  - {s.kind} {e.id} {_label(e.name)}" for e in s.removed]
    for c in s.changed:
        if c.fields:
            lines.append(f"  ~ {s.kind} {c.id}: {_describe_all(c.fields)}")
        sub = s.part_kind or "item"
        for item in c.parts.added:
            extra = _obligation_summary(item.data) if s.part == "obligations" else ""
            lines.append(f"  + {sub} {c.id}: {item.key}{extra}")
        for item in c.parts.removed:
            lines.append(f"  - {sub} {c.id}: {item.key}")
        for ch in c.parts.changed:
            lines.append(f"  ~ {sub} {c.id}: {ch.key}: {_describe_all(ch.fields)}")
    return lines


def render_text(diff: CatalogDiff) -> str:
    """Release notes: one line per change, grouped by section; a single line when nothing changed."""
    if diff.old_version == diff.new_version:
        versions = f"catalog {diff.old_version}"
    else:
        versions = f"catalog {diff.old_version} → {diff.new_version}"
    if diff.empty:
        return f"no changes: {versions} — both catalogs hold the same entries\n"
    head = versions
    if diff.old_released != diff.new_released:
        head += f" (released {diff.old_released} → {diff.new_released})"
    lines = [head]
    if diff.meta:
        lines.append("catalog:")
        lines += [f"  ~ {line}" for c in diff.meta for line in _describe(c)]
    for s in diff.sections:
        if not s.empty:
            lines += _section_lines(s)
    return "\n".join(lines) + "\n"
