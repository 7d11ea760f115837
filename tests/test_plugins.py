"""Plug-in lists: every reader, collector and output format is registered once, under a name of
its own, and every choice the command line offers has an implementation."""

from __future__ import annotations

from collections import Counter

from typer.testing import CliRunner

from banscan.cli import app
from banscan.collect.registry import all_collectors
from banscan.inputs.registry import all_readers, reader_named
from banscan.models import ScanResult
from banscan.output.formats import OutputFormat, renderer


def _dupes(names: list[str]) -> list[str]:
    return [n for n, c in Counter(names).items() if c > 1]


def test_input_readers_have_unique_names_and_are_found_by_them() -> None:
    readers = all_readers()
    names = [r.name for r in readers]
    assert len(readers) >= 10 and all(names) and not _dupes(names)
    for r in readers:
        assert reader_named(r.name) is r
        assert callable(r.sniff) and callable(r.read)


def test_collectors_have_unique_names() -> None:
    names = [c.name for c in all_collectors()]
    assert names and all(names) and not _dupes(names)


def test_every_output_format_renders() -> None:
    empty = ScanResult(banscan_version="0", catalog_version="0", as_of="2024-11-08", role="user")
    for fmt in OutputFormat:
        text = renderer(fmt)(empty)
        assert isinstance(text, str) and text, fmt


def test_the_command_line_offers_exactly_the_output_formats() -> None:
    res = CliRunner().invoke(app, ["scan", "--format", "nonesuch"])
    assert res.exit_code == 2
    for fmt in OutputFormat:
        assert fmt.value in res.output, fmt
