"""Shared test helpers: where the registry-hive fixtures live, and small builders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_fixtures_dir() -> Path | None:
    """The read-only fixture folder kept beside the clone (``../shared/fixtures``), if present."""
    env = os.environ.get("BANSCAN_SHARED_FIXTURES")
    candidates = [Path(env)] if env else []
    candidates += [p / "shared" / "fixtures" for p in REPO.parents]
    for c in candidates:
        if c.is_dir():
            return c
    return None


@pytest.fixture(scope="session")
def shared_fixtures() -> Path:
    d = shared_fixtures_dir()
    if d is None:
        pytest.skip("registry hive fixtures (../shared/fixtures) are not beside this clone")
    return d


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Compiled catalog artefacts go to a folder of this test run (and its subprocesses), not
    to the user's cache."""
    os.environ["BANSCAN_CACHE_DIR"] = str(tmp_path_factory.mktemp("banscan-cache"))
    # and no catalog a user installed with `banscan catalog update` judges the tests
    os.environ["BANSCAN_DATA_DIR"] = str(tmp_path_factory.mktemp("banscan-data"))


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Temporary folders made during the test go here, to see that none is left behind."""
    import tempfile

    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder
