"""Accuracy on real public records (tests/data/accuracy): every Kaspersky record found, nearly all
called covered, carve-outs informational, and no other vendor's record flagged at all.

The corpus was gathered from public detection lists, package catalogues and driver registries;
the provenance files name the repository, path and commit (or page) of every record. The figures
by category are printed by bench/bench_accuracy.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from banscan.catalog.loader import load_catalog
from banscan.match.evaluate import CorpusError, Report, evaluate, read_corpus
from banscan.models import Verdict

CORPUS = Path(__file__).parent / "data" / "accuracy"
POSITIVES = CORPUS / "positives.jsonl"
NEGATIVES = CORPUS / "negatives.jsonl"


@pytest.fixture(scope="module")
def report() -> Report:
    cases = [c for f in (POSITIVES, NEGATIVES) for c in read_corpus(f)]
    return evaluate(load_catalog().with_packs(["kaspersky"]), cases)  # the corpus is Kaspersky's


def _show(outcomes: list) -> str:  # type: ignore[type-arg]
    return "\n".join(
        f"{o.case.id} {o.case.record.kind.value} {o.case.record.name!r} -> {o.verdict} "
        f"{[f.product for f in o.findings]}"
        for o in outcomes[:40]
    )


def test_corpus_is_large_enough_and_every_record_has_provenance() -> None:
    for data, prov, minimum in (
        (POSITIVES, CORPUS / "provenance-positives.yaml", 300),
        (NEGATIVES, CORPUS / "provenance-negatives.yaml", 5000),
    ):
        sources = yaml.safe_load(prov.read_text(encoding="utf-8"))
        known = {s["id"]: s for s in sources}
        for s in sources:
            assert s.get("publisher"), s["id"]
            assert s.get("url") or (s.get("repository") and s.get("path")), s["id"]
            if s.get("repository") and s.get("path"):  # a file (not an issue thread): which version
                assert len(s.get("commit") or "") == 40, f"{s['id']}: commit of the version read"
        lines = [json.loads(x) for x in data.read_text(encoding="utf-8").splitlines() if x.strip()]
        assert len(lines) >= minimum, data.name
        assert len({x["id"] for x in lines}) == len(lines)
        missing = {x["prov"] for x in lines} - set(known)
        assert not missing, f"{data.name}: records cite unknown provenance {sorted(missing)}"


def test_every_kaspersky_record_is_found(report: Report) -> None:
    lost = [o for o in report.by("kaspersky") if not o.found]
    assert not lost, f"{len(lost)} Kaspersky records not found:\n{_show(lost)}"


def test_at_least_95_percent_of_kaspersky_records_are_covered(report: Report) -> None:
    pos = [o for o in report.by("kaspersky") if not o.case.ambiguous and o.case.expect is None]
    covered = [o for o in pos if o.verdict == "covered"]
    rest = [o for o in pos if o.verdict != "covered"]
    assert len(covered) >= 0.95 * len(pos), f"{len(covered)}/{len(pos)} covered; not covered:\n{_show(rest)}"


def test_records_with_an_expected_verdict_get_it(report: Report) -> None:
    """Footprints alone are remnants; the vendor's uninstaller and its open-source libraries
    are left to a person (review)."""
    expected = [o for o in report.by("kaspersky") if o.case.expect is not None]
    assert {o.case.expect for o in expected} >= {Verdict.REMNANT, Verdict.REVIEW}
    wrong = [o for o in expected if not o.correct]
    assert not wrong, f"records not given their expected verdict:\n{_show(wrong)}"


def test_no_other_vendors_record_is_flagged(report: Report) -> None:
    flagged = [o for o in report.by("other") if o.found]
    assert not flagged, f"{len(flagged)} non-Kaspersky records flagged:\n{_show(flagged)}"


def test_carve_outs_and_successors_are_informational(report: Report) -> None:
    wrong = [o for o in report.by("carve-out") + report.by("successor") if not o.correct]
    assert not wrong, _show(wrong)


def test_ambiguous_names_stay_review(report: Report) -> None:
    amb = [o for o in report.by("kaspersky") if o.case.ambiguous]
    wrong = [o for o in amb if o.verdict == "covered"]
    assert not wrong, f"a name uncertain alone was called covered:\n{_show(wrong)}"


def test_a_bad_corpus_line_names_file_and_line(tmp_path: Path) -> None:
    p = tmp_path / "bad.jsonl"
    p.write_text(
        '{"id": "a", "label": "other", "record": {"kind": "app", "name": "x"}}\n'
        '{"id": "b", "label": "other", "record": {"kind": "gadget", "name": "y"}}\n',
        encoding="utf-8",
    )
    with pytest.raises(CorpusError, match=r"^bad\.jsonl:2: record\.kind"):
        list(read_corpus(p))
