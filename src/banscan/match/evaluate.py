"""Accuracy of the matcher on a labelled corpus of real inventory records.

A wrong `covered` costs a user more than a missing one, so the catalog and the verdict rules
are measured on records taken from public material (detection lists, package catalogues,
driver registries), each with its provenance — not only on fixtures written for the tests.
Each record is matched alone, as the one row a real inventory often carries about a thing.

Corpus lines (JSON Lines):
    {"id": "pos-0001", "label": "kaspersky" | "banned" | "carve-out" | "successor" | "other",
     "ambiguous": false, "category": "driver", "prov": "ms-altitudes",
     "record": {"kind": "driver", "name": "klif.sys", "publisher": null, ...}}

`label` says what the record is (`banned`: software another pack of the catalog bans, for
corpora of other bans); `ambiguous` marks names whose identity is uncertain alone
(a bare `avp.exe`): those must be found but may stay `review`. `expect` names the verdict when
it is not the label's: a folder, data file or registry key of a Kaspersky product alone is a
footprint, `remnant`.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from banscan.catalog.schema import Catalog
from banscan.match.matcher import Matcher
from banscan.models import Finding, InventoryRecord, RecordKind, Source, Verdict

LABELS = ("kaspersky", "banned", "carve-out", "successor", "other")
# The verdict each label must get (the positives' share of `covered` is a threshold, not a rule).
EXPECTED = {
    "kaspersky": {Verdict.COVERED},
    "banned": {Verdict.COVERED},
    "carve-out": {Verdict.INFORMATIONAL},
    "successor": {Verdict.INFORMATIONAL},
    "other": set(),
}
_RECORD_FIELDS = (
    "version",
    "publisher",
    "path",
    "bundle_id",
    "team_id",
    "signer",
    "sha256",
    "purl",
    "cpe",
    "extension_id",
)


class CorpusError(ValueError):
    """A corpus line that cannot be read; the message names file and line."""


@dataclass(frozen=True, slots=True)
class Case:
    id: str
    label: str
    category: str
    ambiguous: bool
    prov: str
    record: InventoryRecord
    expect: Verdict | None = None

    @property
    def wanted(self) -> set[Verdict]:
        return {self.expect} if self.expect is not None else EXPECTED[self.label]


@dataclass(slots=True)
class Outcome:
    case: Case
    findings: list[Finding]

    @property
    def verdicts(self) -> set[Verdict]:
        return {f.verdict for f in self.findings}

    @property
    def found(self) -> bool:
        return bool(self.findings)

    @property
    def verdict(self) -> str:
        """The most serious verdict given, or 'none'."""
        for v in (Verdict.COVERED, Verdict.REMNANT, Verdict.REVIEW, Verdict.INFORMATIONAL, Verdict.ACCEPTED):
            if v in self.verdicts:
                return str(v.value)
        return "none"

    @property
    def correct(self) -> bool:
        want = self.case.wanted
        if not want:
            return not self.findings
        return self.verdicts == want


@dataclass(slots=True)
class Report:
    outcomes: list[Outcome] = field(default_factory=list)

    def by(self, label: str) -> list[Outcome]:
        return [o for o in self.outcomes if o.case.label == label]

    def table(self) -> list[tuple[str, str, int, int, int, int, int, int]]:
        """(label, category, records, found, covered, review, remnant, informational)."""
        rows: dict[tuple[str, str], Counter[str]] = {}
        for o in self.outcomes:
            c = rows.setdefault((o.case.label, o.case.category), Counter())
            c["records"] += 1
            c["found"] += o.found
            for v in o.verdicts:
                c[v.value] += 1
        return [
            (
                label,
                cat,
                c["records"],
                c["found"],
                c["covered"],
                c["review"],
                c["remnant"],
                c["informational"],
            )
            for (label, cat), c in sorted(rows.items(), key=lambda kv: (LABELS.index(kv[0][0]), kv[0][1]))
        ]

    def misses(self) -> list[Outcome]:
        """Positives not found or not covered (ambiguous ones only when not found), negatives flagged."""
        out = []
        for o in self.outcomes:
            if o.case.label == "kaspersky" and o.case.ambiguous:
                if not o.found:
                    out.append(o)
            elif not o.correct:
                out.append(o)
        return out


def _record(case_id: str, raw: dict[str, Any], where: str) -> InventoryRecord:
    try:
        kind = RecordKind(raw["kind"])
    except (KeyError, ValueError):
        raise CorpusError(f"{where}: record.kind must be one of {[k.value for k in RecordKind]}") from None
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise CorpusError(f"{where}: record.name is required")
    extra = raw.get("extra") or {}
    if not isinstance(extra, dict):
        raise CorpusError(f"{where}: record.extra must be an object")
    fields = {k: str(raw[k]) for k in _RECORD_FIELDS if raw.get(k) is not None}
    return InventoryRecord(
        host=case_id,  # every record alone: one row is all a real inventory often has
        source=Source("corpus", where),
        kind=kind,
        name=name,
        extra=tuple((str(k), str(v)) for k, v in extra.items()),
        **fields,  # type: ignore[arg-type]
    )


def read_corpus(path: Path) -> Iterator[Case]:
    """Cases of one JSON Lines file; raises CorpusError naming file:line on a bad line."""
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            where = f"{path.name}:{n}"
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise CorpusError(f"{where}: {exc.msg}") from None
            if not isinstance(obj, dict) or not isinstance(obj.get("record"), dict):
                raise CorpusError(f"{where}: expected an object with a record")
            label = obj.get("label")
            if label not in LABELS:
                raise CorpusError(f"{where}: label must be one of {LABELS}")
            case_id = str(obj.get("id") or where)
            try:
                expect = Verdict(obj["expect"]) if obj.get("expect") else None
            except ValueError:
                raise CorpusError(f"{where}: expect must be a verdict") from None
            yield Case(
                id=case_id,
                label=str(label),
                category=str(obj.get("category") or obj["record"].get("kind")),
                ambiguous=bool(obj.get("ambiguous", False)),
                prov=str(obj.get("prov") or ""),
                record=_record(case_id, obj["record"], where),
                expect=expect,
            )


def evaluate(catalog: Catalog, cases: Iterable[Case]) -> Report:
    """Match every case alone and keep what the matcher said about it."""
    matcher = Matcher(catalog)
    listed = list(cases)
    matcher.add_all(c.record for c in listed)
    by_host: dict[str, list[Finding]] = {}
    for f in matcher.findings():
        by_host.setdefault(f.host, []).append(f)
    return Report([Outcome(c, by_host.get(c.id, [])) for c in listed])
