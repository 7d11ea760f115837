"""The deep scan in worker processes: the same records and error lines as in threads, in the
same order; a big scan moves to processes by itself and a small one does not; a worker that
dies costs one error line for the file that killed it, and the rest of the scan goes on."""

from __future__ import annotations

import os
import tarfile
import zipfile
from pathlib import Path

import pytest

import deep_fixtures as fx
from banscan.catalog.loader import load_catalog
from banscan.catalog.schema import Catalog
from banscan.deep import pool
from banscan.deep.pool import BatchRunner
from banscan.deep.scan import DeepScanner
from banscan.errors import ErrorSink
from banscan.models import InventoryRecord

CRASH_NAME = "kills-the-worker.bin"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Findings at several depths and in archives, decoys, and one unreadable member."""
    top = tmp_path_factory.mktemp("pooltree")
    apk = fx.build_apk("com.kaspersky.who_calls", fx.KASPERSKY_SUBJECT)
    macho = fx.build_macho("com.kaspersky.kav", "2Y8XE5CQ94")
    for i in range(3):
        d = top / f"site{i}" / "bin"
        d.mkdir(parents=True)
        (d / "kav").write_bytes(macho)
        with zipfile.ZipFile(d / "bundle.zip", "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("readme.txt", "nothing here")
            z.writestr(f"apps/app{i}.apk", apk)
        fx.decoy_folder(top / f"site{i}" / "docs")
    (top / "site0" / "broken.zip").write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    with tarfile.open(top / "site1" / "tools.tar.gz", "w:gz") as t:
        t.add(top / "site0" / "bin" / "kav", arcname="mac/kav")
    return top


def _scan(
    paths: list[Path], catalog: Catalog, **kw: object
) -> tuple[list[InventoryRecord], list[str], DeepScanner]:
    sink = ErrorSink(echo=False)
    scanner = DeepScanner(sink, catalog=catalog, **kw)  # type: ignore[arg-type]
    recs = list(scanner.scan_paths(paths))
    return recs, list(sink.lines), scanner


def test_processes_give_what_threads_give(tree: Path, catalog: Catalog) -> None:
    threads, t_err, t_scan = _scan([tree], catalog, workers=2, processes=False)
    procs, p_err, p_scan = _scan([tree], catalog, workers=2, processes=True)
    assert len([r for r in threads if r.bundle_id]) >= 7  # 3 Mach-O, 3 APKs, 1 in the tarball
    assert procs == threads  # records, in walk order
    assert p_err == t_err and any("broken.zip" in line for line in p_err)
    assert (p_scan.files_seen, p_scan.files_examined) == (t_scan.files_seen, t_scan.files_examined)
    assert p_scan.stats.members == t_scan.stats.members > 0


def _crash_on_named_file() -> None:
    """Runs in each worker process: examining CRASH_NAME ends the process, as a crash would."""
    original = DeepScanner._file_inner

    def file_inner(self: DeepScanner, entry, errs, fs):  # type: ignore[no-untyped-def]
        if entry.shown.endswith(CRASH_NAME):
            os._exit(70)
        return original(self, entry, errs, fs)

    DeepScanner._file_inner = file_inner  # type: ignore[method-assign]


def test_a_dead_worker_costs_one_line(tree: Path, catalog: Catalog, tmp_path: Path) -> None:
    folder = tmp_path / "t"
    folder.mkdir()
    (folder / "a-kav").write_bytes((tree / "site0" / "bin" / "kav").read_bytes())
    (folder / CRASH_NAME).write_bytes(b"anything")
    (folder / "z-kav").write_bytes((tree / "site0" / "bin" / "kav").read_bytes())
    recs, errors, scanner = _scan([folder], catalog, workers=2, processes=True, _setup=_crash_on_named_file)
    assert sorted(Path(r.path or "").name for r in recs) == ["a-kav", "z-kav"]
    assert errors == [f"{folder / CRASH_NAME}: examining this file stopped a worker process; not examined"]
    assert scanner.files_seen == 3


def _double(batch: list[int]) -> list[int]:
    return [2 * n for n in batch]


def _nothing() -> None:
    return None


def _runner(processes: bool | None) -> BatchRunner[int, int]:
    return BatchRunner(
        _double, _double, _nothing, (), workers=2, size=lambda n: 1, crashed=lambda n: -1, processes=processes
    )


def test_small_runs_stay_in_threads_and_big_ones_move(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pool, "PROCESS_AFTER_FILES", 50)
    small = _runner(None)
    assert list(small.run(iter([[1, 2], [3]]))) == [2, 4, 6]
    assert not small.used_processes
    big = _runner(None)
    batches = [list(range(i, i + 10)) for i in range(0, 200, 10)]
    assert list(big.run(iter(batches))) == [2 * n for n in range(200)]
    assert big.used_processes
    never = _runner(False)
    assert list(never.run(iter(batches))) == [2 * n for n in range(200)]
    assert not never.used_processes


def test_one_worker_runs_here() -> None:
    one = BatchRunner(_double, _double, _nothing, (), workers=1, size=lambda n: 1, crashed=lambda n: -1)
    assert list(one.run(iter([[1], [2, 3]]))) == [2, 4, 6]
    assert not one.used_processes


def test_an_unguarded_main_module_falls_back_to_threads(tree: Path, tmp_path: Path) -> None:
    """A program that starts a scan from an unguarded main module cannot start worker
    processes (each would run the program again): the scan runs in threads and is complete."""
    import subprocess
    import sys

    script = tmp_path / "unguarded.py"
    script.write_text(
        "from banscan.deep.scan import DeepScanner\n"
        "from banscan.errors import ErrorSink\n"
        "sink = ErrorSink(echo=False)\n"
        "scanner = DeepScanner(sink, workers=2, processes=True)\n"
        f"recs = list(scanner.scan_paths([{str(tree)!r}]))\n"
        "print('RESULT', len(recs), len([r for r in recs if r.bundle_id]), len(sink.lines), scanner.files_seen)\n"
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    results = [line for line in done.stdout.splitlines() if line.startswith("RESULT")]
    threads, errors, scanner = _scan([tree], load_catalog(), workers=2, processes=False)
    expected = (
        f"RESULT {len(threads)} {len([r for r in threads if r.bundle_id])} {len(errors)} {scanner.files_seen}"
    )
    assert results == [expected]
