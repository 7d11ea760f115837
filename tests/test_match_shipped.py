"""Precision of the shipped catalog: what must be covered, and what must never be."""

from __future__ import annotations

import pytest

from banscan.catalog.loader import load_catalog
from banscan.match.matcher import Matcher
from banscan.models import Finding, InventoryRecord, RecordKind, Source, Verdict

CAT = load_catalog()


def run(*records: InventoryRecord) -> list[Finding]:
    m = Matcher(CAT)
    m.add_all(records)
    return m.findings()


def rec(kind: RecordKind, name: str, **kw: str) -> InventoryRecord:
    return InventoryRecord(host="h", source=Source("t", "loc"), kind=kind, name=name, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "record",
    [
        rec(RecordKind.PROCESS, "avp.exe", path=r"C:\Tools\avp.exe"),
        rec(RecordKind.PROCESS, "avp"),
        rec(RecordKind.PATH, "Kaspersky Lab", path=r"C:\ProgramData\Kaspersky Lab"),
    ],
    ids=["process-avp.exe", "process-avp", "programdata-folder"],
)
def test_weak_signals_alone_are_review_at_most(record: InventoryRecord) -> None:
    assert {f.verdict for f in run(record)} <= {Verdict.REVIEW}


@pytest.mark.parametrize(
    "record",
    [
        rec(
            RecordKind.FILE,
            "Kaspersky vs Defender review.pdf",
            path="/home/ann/Documents/Kaspersky vs Defender review.pdf",
        ),
        rec(RecordKind.PATH, "kaspersky-notes", path="/home/ann/kaspersky-notes"),
        rec(RecordKind.APP, "Microsoft Defender Antivirus", publisher="Microsoft Corporation"),
        rec(RecordKind.APP, "ESET Endpoint Antivirus", publisher="ESET, spol. s r.o."),
        rec(RecordKind.PACKAGE, "clamav", publisher="ClamAV Team"),
        rec(RecordKind.PROCESS, "MsMpEng.exe"),
    ],
    ids=["document", "home-folder", "defender", "eset", "clamav", "defender-process"],
)
def test_unrelated_things_are_not_findings(record: InventoryRecord) -> None:
    assert run(record) == []


def test_new_product_of_kaspersky_is_found_by_publisher_and_brand() -> None:
    (f,) = run(
        rec(RecordKind.APP, "Kaspersky Quantum Shield 2031", publisher="AO Kaspersky Lab", version="31.0")
    )
    assert (
        f.product == "kaspersky-lab-unlisted-kaspersky-quantum-shield"
        and f.product_name == "Kaspersky Quantum Shield 2031"
    )
    assert f.verdict == Verdict.COVERED


def test_carve_out_names_outrank_the_brand() -> None:
    ti = [p for p in CAT.products if p.status.value == "carved-out"]
    assert ti
    name = next(i.value for p in ti for i in p.identifiers if i.kind.value == "display_name")
    fs = run(rec(RecordKind.APP, name, publisher="AO Kaspersky Lab"))
    assert [f.verdict for f in fs] == [Verdict.INFORMATIONAL]


def test_successor_software_is_informational_never_covered() -> None:
    fs = run(rec(RecordKind.APP, "UltraAV"), rec(RecordKind.APP, "UltraVPN"))
    assert fs and {f.verdict for f in fs} == {Verdict.INFORMATIONAL}
