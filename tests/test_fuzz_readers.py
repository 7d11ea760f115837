"""Property tests over every input reader, format detection, the deep scan and plists: mutated
real samples (tests/data, the deep-scan fixtures), random bytes and generated documents never
make an exception leave a reader, and every error is one line naming the file.

Kept short for the suite (a modest `max_examples` per target, derandomized so CI is stable);
bench/fuzz_readers.py runs the same checks for as long as asked.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fuzz_harness as harness

SUITE = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


def mutated(seeds: tuple[bytes, ...]) -> st.SearchStrategy[bytes]:
    return st.builds(
        lambda rng, seed: harness.mutate(rng, seed, seeds),
        st.randoms(use_true_random=False),
        st.sampled_from(seeds),
    )


_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=20),
    st.sampled_from(["Kaspersky Endpoint Security", "AO Kaspersky Lab", "com.kaspersky.kav", "12.5"]),
)
_keys = st.one_of(
    st.text(max_size=8),
    st.sampled_from(
        [
            "name",
            "version",
            "software",
            "hosts",
            "host",
            "hostname",
            "columns",
            "diffResults",
            "snapshot",
            "added",
            "removed",
            "installed_versions",
            "components",
            "metadata",
            "component",
            "packages",
            "@graph",
            "value",
            "detectedApps",
            "results",
            "applications",
            "general",
            "values",
            "software_titles",
            "externalRefs",
            "decorations",
        ]
    ),
)
json_values: st.SearchStrategy[Any] = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_keys, inner, max_size=5)),
    max_leaves=30,
)

# Top-level shapes that make each JSON reader take its own paths.
_ENVELOPES: dict[str, dict[str, Any]] = {
    "osquery": {"name": "pack_programs", "hostIdentifier": "h", "calendarTime": "x", "unixTime": 1},
    "fleet": {"software_titles": [], "counts_updated_at": "x"},
    "intune-json": {"@odata.context": "detectedApps", "value": []},
    "jamf-json": {"totalCount": 1, "results": []},
    "cyclonedx-json": {"bomFormat": "CycloneDX", "specVersion": "1.6"},
    "spdx-json": {"spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT"},
    "spdx3-jsonld": {"@context": "https://spdx.org/rdf/3.0.1/spdx-context.jsonld", "@graph": []},
}


def generated(reader: str) -> st.SearchStrategy[bytes]:
    """Documents built for the reader: its envelope with generated values under its keys."""
    envelope = _ENVELOPES.get(reader)
    if envelope is None:
        rows = st.lists(st.lists(st.text(max_size=12), min_size=1, max_size=6), max_size=8)
        sep = st.sampled_from([",", ";", "\t"])
        return st.builds(
            lambda r, s, seed: seed.split(b"\n", 1)[0] + b"\n" + "\n".join(s.join(x) for x in r).encode(),
            rows,
            sep,
            st.sampled_from(harness.seeds(reader)),
        )

    def build(extra: dict[str, Any]) -> bytes:
        text = json.dumps({**envelope, **extra})
        return (text + "\n").encode() if reader == "osquery" else text.encode()

    return st.builds(build, st.dictionaries(_keys, json_values, max_size=6))


@pytest.mark.parametrize("reader", harness.reader_names())
def test_reader_survives_mutated_and_generated_inputs(reader: str) -> None:
    seeds = harness.seeds(reader)

    @SUITE
    @given(st.one_of(mutated(seeds), generated(reader), st.binary(max_size=600)))
    def run(data: bytes) -> None:
        harness.read_with(reader, data)

    run()


def test_detection_survives_mutated_inputs() -> None:
    every = tuple(s for name in harness.reader_names() for s in harness.seeds(name))

    @SUITE
    @given(st.one_of(mutated(every), st.binary(max_size=600)))
    def run(data: bytes) -> None:
        harness.detect_with(data)

    run()


def test_deep_scan_survives_mutated_files() -> None:
    seeds = harness.deep_seeds()

    @settings(SUITE, max_examples=80)
    @given(st.one_of(mutated(seeds), st.binary(max_size=600)))
    def run(data: bytes) -> None:
        harness.deep_with(data)

    run()


def test_plists_survive_mutation() -> None:
    seeds = harness.plist_seeds()

    @SUITE
    @given(st.one_of(mutated(seeds), st.binary(max_size=300)))
    def run(data: bytes) -> None:
        harness.plist_with(data)

    run()


@pytest.mark.parametrize("reader", ["osquery", "fleet", "intune-json", "cyclonedx-json", "spdx-json"])
def test_deep_nesting_is_one_line_per_record(reader: str) -> None:
    """5,000 `[` where a value goes: one error line, no RecursionError."""
    documents = [s for s in harness.seeds(reader) if s.lstrip(b"\xef\xbb\xbf \r\n").startswith(b"{")]
    assert documents
    for seed in documents[:2]:
        text = seed.decode("utf-8", "replace")
        at = text.find(":") + 1
        data = (text[:at] + "[" * 5000 + text[at:]).encode()
        out = harness.read_with(reader, data)
        assert out.errors, reader
