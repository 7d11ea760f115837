"""Accuracy on real public records: found / covered / false positives by label and category.

Run with `.venv/bin/python bench/bench_accuracy.py` (add `--misses` to list what was missed or
wrongly flagged, with each record's provenance). The corpus is tests/data/accuracy/*.jsonl;
its provenance files name the repository, path and commit (or page) of every record. Another
pack's corpus is measured with the catalog narrowed to that pack, e.g.
`--corpus tests/data/accuracy-ndaa --packs ndaa-889` or
`--corpus tests/data/accuracy-ndaa/us-tx --packs us-tx`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

_COLUMNS = ("records", "found", "covered", "review", "remnant", "info")
CORPUS = Path(__file__).resolve().parent.parent / "tests" / "data" / "accuracy"


def main(argv: list[str] | None = None) -> int:
    from banscan.catalog.loader import load_catalog
    from banscan.match.evaluate import evaluate, read_corpus

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=CORPUS, help="folder of *.jsonl corpus files")
    ap.add_argument("--catalog", help="catalog folder or file (default: the shipped one)")
    ap.add_argument("--packs", help="comma-separated packs to narrow the catalog to (default: all)")
    ap.add_argument("--misses", action="store_true", help="list every miss and false positive")
    args = ap.parse_args(argv)

    files = sorted(args.corpus.glob("*.jsonl"))
    if not files:
        print(f"{args.corpus}: no *.jsonl corpus files", file=sys.stderr)
        return 2
    cases = [c for f in files for c in read_corpus(f)]
    catalog = load_catalog(args.catalog)
    if args.packs:
        catalog = catalog.with_packs([p.strip() for p in args.packs.split(",") if p.strip()])
    report = evaluate(catalog, cases)

    def line(label: str, category: str, counts: tuple[int, ...] | list[int]) -> str:
        return f"{label:<10} {category:<18}" + "".join(f" {c:>8}" for c in counts)

    print(f"{'label':<10} {'category':<18}" + "".join(f" {h:>8}" for h in _COLUMNS))
    totals: dict[str, list[int]] = {}
    for label, category, *counts in report.table():
        print(line(label, category, counts))
        t = totals.setdefault(label, [0] * len(counts))
        for i, v in enumerate(counts):
            t[i] += v
    print()
    for label, t in totals.items():
        print(line(label, "(all)", t))
    positives = report.by("kaspersky") + report.by("banned")
    pos = [o for o in positives if not o.case.ambiguous and o.case.expect is None]
    covered = sum(1 for o in pos if o.verdict == "covered")
    feet = [o for o in positives if o.case.expect is not None]
    found = sum(1 for o in positives if o.found)
    flagged = [o for o in report.by("other") if o.found]
    print()
    print(f"positives found: {found}/{len(positives)}")
    if pos:
        print(f"unambiguous positives covered: {covered}/{len(pos)} = {covered / len(pos):.1%}")
    for verdict in sorted({o.case.expect.value for o in feet if o.case.expect}):
        group = [o for o in feet if o.case.expect and o.case.expect.value == verdict]
        right = sum(1 for o in group if o.correct)
        print(f"records expected {verdict} (footprints, policy calls): {right}/{len(group)}")
    print(f"negatives flagged: {len(flagged)}/{len(report.by('other'))}")
    if args.misses:
        print()
        for o in report.misses():
            r = o.case.record
            extra = f" publisher={r.publisher!r}" if r.publisher else ""
            print(
                f"{o.case.id} [{o.case.label}/{o.case.category}] {r.kind.value} {r.name!r}{extra} -> "
                f"{o.verdict} {[f.product for f in o.findings]} (prov {o.case.prov})"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
