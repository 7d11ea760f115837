"""Accuracy of the section 889 pack and of the Texas pack's named software on real public records
(tests/data/accuracy-ndaa): the vendors' programs as winget manifests and Homebrew casks describe
them, found with the verdict the pack gives them, and other camera, network, phone and office
vendors' programs left alone.

Each pack is measured with the catalog narrowed to it, as a scan with that pack selected would
match. Known misses are named below with their reason (README.md of the corpus gives the
figures); a new miss, or a record of the list that is no longer what it was, fails. The figures
by category are printed by `bench/bench_accuracy.py --corpus ... --packs ...`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from banscan.catalog.loader import load_catalog
from banscan.match.evaluate import Outcome, Report, evaluate, read_corpus
from banscan.models import Verdict

CORPUS = Path(__file__).parent / "data" / "accuracy-ndaa"
TEXAS = CORPUS / "us-tx"
DATA_FILES = (
    CORPUS / "positives.jsonl",
    CORPUS / "negatives.jsonl",
    TEXAS / "positives.jsonl",
    TEXAS / "negatives.jsonl",
)

# Third-party clients of listed services whose names carry no listed name: not found.
TEXAS_THIRD_PARTY_MISSES = {"tpos-0030": "wewechat", "tpos-0031": "trazyn.weweChat"}


def _report(folder: Path, pack: str) -> Report:
    cases = [c for name in ("positives.jsonl", "negatives.jsonl") for c in read_corpus(folder / name)]
    return evaluate(load_catalog().with_packs([pack]), cases)


@pytest.fixture(scope="module")
def ndaa() -> Report:
    return _report(CORPUS, "ndaa-889")


@pytest.fixture(scope="module")
def texas() -> Report:
    return _report(TEXAS, "us-tx")


def _show(outcomes: list[Outcome]) -> str:
    return "\n".join(
        f"{o.case.id} {o.case.record.kind.value} {o.case.record.name!r} {o.case.record.publisher!r} "
        f"-> {o.verdict} {[f.product for f in o.findings]}"
        for o in outcomes[:40]
    )


def _named(outcomes: list[Outcome]) -> dict[str, str]:
    return {o.case.id: o.case.record.name for o in outcomes}


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def test_corpus_is_large_enough_and_every_record_has_provenance() -> None:
    cited: dict[str, set[str]] = {"positives": set(), "negatives": set()}
    ids: list[str] = []
    for path, minimum in zip(DATA_FILES, (50, 300, 25, 150), strict=True):
        lines = _lines(path)
        assert len(lines) >= minimum, path
        ids += [x["id"] for x in lines]
        cited[path.stem] |= {x["prov"] for x in lines}
        assert all(x["line"] is None or isinstance(x["line"], int) for x in lines), path
    assert len(set(ids)) == len(ids), "record ids repeat across the corpus files"
    for name, provs in cited.items():
        sources = yaml.safe_load((CORPUS / f"provenance-{name}.yaml").read_text(encoding="utf-8"))
        known = {s["id"] for s in sources}
        for s in sources:
            assert s["publisher"] and s["repository"] and s["path"] and s["licence"], s["id"]
            assert re.fullmatch(r"[0-9a-f]{40}", s["commit"]), s["id"]
            assert s["url"] == f"https://github.com/{s['repository']}/blob/{s['commit']}/{s['path']}", s["id"]
        assert provs <= known, f"{name}: records cite unknown provenance {sorted(provs - known)}"
        assert known <= provs, f"{name}: provenance no record cites {sorted(known - provs)}"


def test_decoys_cover_the_vendors_a_scan_may_confuse() -> None:
    negatives = _lines(CORPUS / "negatives.jsonl")
    groups = {x["category"] for x in negatives}
    assert {"camera-vms", "network-telecom", "device-maker", "cn-software", "look-alike"} <= groups
    publishers = {x["record"].get("publisher") for x in negatives}
    # HONOR's own device manager, Hikvision's and Dahua's competitors, by their real publishers
    assert {
        "Honor Device Co., Ltd.",
        "Axis Communications AB",
        "Hanwha Vision America",
        "Network Optix",
    } <= publishers
    texas = {x["record"]["name"] for x in _lines(TEXAS / "negatives.jsonl")}
    assert {"Signal", "WhatsApp", "LibreOffice", "ONLYOFFICE Desktop Editors"} <= texas


def test_section_889_software_is_found_for_review(ndaa: Report) -> None:
    positives = ndaa.by("banned")
    assert {o.case.expect for o in positives} == {Verdict.REVIEW}
    lost = [o for o in positives if not o.found]
    assert not lost, f"not found:\n{_show(lost)}"
    # found by a Huawei publisher alone ("Cloud", "Project": names too common to list), still review
    wrong = [o for o in positives if not o.correct]
    assert not wrong, f"wrong verdict:\n{_show(wrong)}"
    # the listed Huawei and Dahua products themselves, not only their publishers, are found
    products = {f.product for o in positives for f in o.findings}
    assert {"huawei-hisuite", "huawei-ideashare", "huawei-cloud-meeting", "dahua-smartpss-lite"} <= products


def test_no_decoy_is_flagged_by_the_section_889_pack(ndaa: Report) -> None:
    flagged = [o for o in ndaa.by("other") if o.found]
    assert not flagged, f"{len(flagged)} decoys flagged:\n{_show(flagged)}"


def test_texas_listed_software_is_found_covered(texas: Report) -> None:
    listed = [o for o in texas.by("banned") if o.case.category != "third-party-client"]
    lost = [o for o in listed if not o.found]
    assert not lost, _show(lost)
    sure = [o for o in listed if not o.case.ambiguous]
    wrong = [o for o in sure if not o.correct]
    assert not wrong, f"not covered:\n{_show(wrong)}"
    assert len([o for o in listed if o.case.ambiguous]) == 4  # the bare cask tokens


def test_texas_third_party_clients_and_decoys(texas: Report) -> None:
    clients = [o for o in texas.by("banned") if o.case.category == "third-party-client"]
    wrong = [o for o in clients if not o.correct]
    assert _named(wrong) == TEXAS_THIRD_PARTY_MISSES, _show(wrong)
    # the Baidu ones carry the Baidu brand: for a person to review (Baidu's unlisted products)
    assert {o.verdict for o in clients if o.found} == {"review"}
    flagged = [o for o in texas.by("other") if o.found]
    assert not flagged, f"decoys flagged:\n{_show(flagged)}"  # RedNotebook is not RedNote
