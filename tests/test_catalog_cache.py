"""The validated catalog is kept in the cache folder, keyed by its content: a second run reads
it back instead of parsing YAML, a damaged or foreign entry is rebuilt, a changed catalog is
never served from an old entry."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from banscan import cache
from banscan.catalog import loader


@pytest.fixture
def fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("BANSCAN_CACHE_DIR", str(tmp_path / "cache"))
    loader._load_dir_cached.cache_clear()
    yield tmp_path / "cache" / "catalog"
    loader._load_dir_cached.cache_clear()


def _parses(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    seen: list[Path] = []
    real = loader._raw_from_dir

    def spy(folder: Path):  # type: ignore[no-untyped-def]
        seen.append(folder)
        return real(folder)

    monkeypatch.setattr(loader, "_raw_from_dir", spy)
    return seen


def test_a_second_load_reads_the_validated_catalog_back(fresh: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parses = _parses(monkeypatch)
    first = loader.built_in_catalog()
    assert len(parses) == 1 and len(list(fresh.glob("*.bin"))) == 1
    loader._load_dir_cached.cache_clear()
    again = loader.built_in_catalog()
    assert len(parses) == 1  # no YAML read
    assert again == first and again.origin == first.origin and again.origin is not None


def test_a_damaged_entry_is_rebuilt(fresh: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    loader.built_in_catalog()
    (entry,) = fresh.glob("*.bin")
    data = bytearray(entry.read_bytes())
    data[len(data) // 2] ^= 0xFF
    entry.write_bytes(bytes(data))
    loader._load_dir_cached.cache_clear()
    parses = _parses(monkeypatch)
    assert loader.built_in_catalog().products
    assert len(parses) == 1


def test_an_entry_that_is_no_catalog_is_rebuilt(fresh: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    loader.built_in_catalog()
    (entry,) = fresh.glob("*.bin")
    cache.write_blob("catalog", entry.stem, b"not a pickle")
    loader._load_dir_cached.cache_clear()
    parses = _parses(monkeypatch)
    assert loader.built_in_catalog().products
    assert len(parses) == 1


def test_a_changed_catalog_is_never_served_from_an_old_entry(
    fresh: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "data"
    shutil.copytree(loader.default_catalog_dir(), copy)
    monkeypatch.setattr(loader, "default_catalog_dir", lambda: copy)
    before = loader.built_in_catalog()
    meta = copy / "catalog.yaml"
    meta.write_text(
        meta.read_text(encoding="utf-8").replace(before.meta.version, "9999.1.1"), encoding="utf-8"
    )
    loader._load_dir_cached.cache_clear()
    after = loader.built_in_catalog()
    assert after.meta.version == "9999.1.1" != before.meta.version
    assert len(list(fresh.glob("*.bin"))) == 2
