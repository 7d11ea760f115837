"""The command-line package: a plain scan never loads the fleet server, and the server commands'
default database is the store's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

DATA = Path(__file__).parent / "data" / "inputs"

# Runs `banscan scan` in a fresh interpreter, then prints which modules it had loaded.
SCAN_THEN_LIST_MODULES = """
import json, sys
from typer.testing import CliRunner
from banscan.cli import app
res = CliRunner().invoke(app, ["scan", sys.argv[1], "--format", "json", "--quiet"])
print(json.dumps({"exit": res.exit_code, "modules": sorted(sys.modules)}))
"""


def test_a_scan_never_imports_the_server_or_the_store() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", SCAN_THEN_LIST_MODULES, str(DATA / "osquery" / "kiosk-12.json")],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    out = json.loads(proc.stdout.splitlines()[-1])
    assert out["exit"] in (0, 1)
    web = ("fastapi", "starlette", "uvicorn", "sqlalchemy", "alembic", "banscan.server", "banscan.store")
    assert [m for m in out["modules"] if m.startswith(web)] == []
    assert "banscan.cli.serve" in out["modules"]  # the commands are all registered, just not run


def test_server_commands_default_to_the_stores_database() -> None:
    from banscan.cli.common import DEFAULT_DB
    from banscan.store.db import DEFAULT_URL

    assert DEFAULT_DB == DEFAULT_URL
