"""A long input read record by record shows a progress bar on stderr (bytes of the file read,
rate, time left) when the CLI asks for one (a terminal, not --quiet); short inputs, stdin and
--quiet show none."""

from __future__ import annotations

import gzip
import io
import os
import threading
from datetime import date
from pathlib import Path
from typing import ClassVar

import pytest
from rich.console import Console

from banscan.catalog.loader import load_catalog
from banscan.inputs.base import bytes_consumed, open_input
from banscan.output.progress import ByteProgress
from banscan.scan import ScanOptions, run_scan

HEADER = "ApplicationKey,ApplicationName,ApplicationPublisher,ApplicationVersion,DeviceName\r\n"


def _intune(path: Path, rows: int, *, keys: int = 0) -> Path:
    """An export of `rows` rows; `keys`: bytes of random key a row (so it compresses badly)."""
    lines = [HEADER] + [
        f"{{K{i}{os.urandom(keys).hex()}}},App {i % 50},Vendor,1.{i % 7},PC-{i // 20:05d}\r\n"
        for i in range(rows)
    ]
    lines[5] = "{K}," + "Kaspersky Endpoint Security for Windows,AO Kaspersky Lab,12.6.0.438,PC-00000\r\n"
    path.write_text("".join(lines), encoding="utf-8")
    return path


@pytest.mark.parametrize("compressed", [False, True])
def test_bytes_consumed_follows_the_file(tmp_path: Path, compressed: bool) -> None:
    # compressed: larger than the decompressor's read-ahead (512 KiB for ISA-L's gzip)
    plain = _intune(tmp_path / "apps.csv", 80_000 if compressed else 20_000, keys=24 if compressed else 0)
    path = plain
    if compressed:
        path = tmp_path / "apps.csv.gz"
        path.write_bytes(gzip.compress(plain.read_bytes()))
    stream, _ = open_input(str(path))
    with stream:
        position = bytes_consumed(stream)
        assert position is not None
        stream.read(1000)
        early = position()
        while stream.read(64 * 1024):
            pass
        assert 0 < early < position() <= path.stat().st_size
        assert position() == path.stat().st_size


def test_stdin_has_no_position() -> None:
    assert bytes_consumed(io.BufferedReader(io.BytesIO(b"x"))) is None  # type: ignore[arg-type]


class _Recorder:
    started: ClassVar[list[tuple[str, int]]] = []
    seen: ClassVar[list[int]] = []

    def __init__(self, label: str, total: int, position) -> None:  # type: ignore[no-untyped-def]
        self.label, self.total, self.position = label, total, position

    def start(self) -> None:
        _Recorder.started.append((self.label, self.total))
        _Recorder.seen.append(self.position())  # the input is open: its head has been read

    def stop(self) -> None:
        pass


@pytest.mark.parametrize(
    ("progress", "threshold", "expected"), [(True, 1, 1), (False, 1, 0), (True, 10**12, 0)]
)
def test_a_long_input_gets_a_bar(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, progress: bool, threshold: int, expected: int
) -> None:
    path = _intune(tmp_path / "AppInvRawData.csv", 5_000)
    monkeypatch.setattr("banscan.output.progress.PROGRESS_MIN_BYTES", threshold)
    monkeypatch.setattr("banscan.output.progress.ByteProgress", _Recorder)
    _Recorder.started, _Recorder.seen = [], []
    result = run_scan(
        load_catalog(),
        ScanOptions(as_of=date(2025, 1, 15), echo_errors=False, progress=progress),
        inputs=[str(path)],
    )
    assert {f.host for f in result.findings} == {"PC-00000"}
    assert _Recorder.started == [("AppInvRawData.csv", path.stat().st_size)] * expected
    assert len(_Recorder.seen) == expected
    assert all(0 <= at <= path.stat().st_size for at in _Recorder.seen)


def test_the_bar_says_how_far_and_how_fast() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120, color_system=None)
    waiting = threading.Event()
    bar = ByteProgress("fleet.csv", 200_000_000, lambda: 50_000_000, console=console)
    bar.start()
    for _ in range(200):  # drawn a few times a second; a loaded machine may take longer
        if "50.0/200.0 MB" in out.getvalue():
            break
        waiting.wait(0.05)
    bar.stop()
    text = out.getvalue()
    assert "fleet.csv" in text and "50.0/200.0 MB" in text


class _Ends(_Recorder):
    """Also records how far the bar had got when it stopped."""

    ended: ClassVar[list[int]] = []

    def stop(self) -> None:
        _Ends.ended.append(self.position())


@pytest.mark.parametrize(("kind", "workers"), [("csv", None), ("osquery", 1), ("osquery", 2)])
def test_bulk_paths_draw_the_bar_to_the_end_of_compressed_inputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str, workers: int | None
) -> None:
    from banscan.errors import ErrorSink
    from banscan.inputs import bulk, bulkcsv
    from banscan.inputs.csvexport import IntuneCsvReader
    from banscan.match.matcher import Matcher

    if kind == "csv":
        plain = _intune(tmp_path / "apps.csv", 80_000, keys=24)
    else:
        plain = tmp_path / "results.log"
        line = '{"name":"p","hostIdentifier":"h%d","columns":{"name":"App %s"},"action":"added"}\n'
        plain.write_text("".join(line % (i // 50, os.urandom(24).hex()) for i in range(60_000)))
    path = plain.with_name(plain.name + ".gz")
    path.write_bytes(gzip.compress(plain.read_bytes()))
    monkeypatch.setattr("banscan.output.progress.PROGRESS_MIN_BYTES", 1)
    monkeypatch.setattr("banscan.output.progress.ByteProgress", _Ends)
    _Recorder.started, _Recorder.seen, _Ends.ended = [], [], []
    matcher = Matcher(load_catalog())
    if kind == "csv":
        target = bulkcsv.bulk_csv_scan(
            str(path), matcher, ErrorSink(echo=False), IntuneCsvReader(), progress=True
        )
    else:
        target = bulk.bulk_scan(
            str(path), matcher, ErrorSink(echo=False), "osquery", workers=workers, progress=True
        )
    assert not target.errors and target.records == (80_000 if kind == "csv" else 60_000)
    assert _Recorder.started == [(path.name, path.stat().st_size)]
    assert _Ends.ended == [path.stat().st_size]  # compressed bytes: the whole file was read
