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


def test_version_option_and_plan_help(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from banscan import __version__
    from banscan.cli import app

    runner = CliRunner()
    for flag in ("--version", "-V"):
        res = runner.invoke(app, [flag])
        assert res.exit_code == 0 and res.output.startswith(f"banscan {__version__} (catalog ")
    plan_help = runner.invoke(app, ["plan", "--help"], env={"COLUMNS": "200"}).output
    assert "trend" not in plan_help and "newest result" in plan_help


def test_output_file_is_confirmed_on_stderr(tmp_path: Path) -> None:
    inventory = tmp_path / "inv.json"
    inventory.write_text(
        '{"name":"pack_banscan_programs","hostIdentifier":"pc-7","calendarTime":"Mon Dec  1 10:00:00 2026 UTC",'
        '"unixTime":1796205600,"columns":{"name":"Kaspersky Endpoint Security for Windows",'
        '"version":"12.3.0.493","publisher":"AO Kaspersky Lab"},"action":"added"}\n',
        encoding="utf-8",
    )
    out = tmp_path / "r.json"
    cmd = [sys.executable, "-m", "banscan.cli", "scan", "-f", "json", "-o", str(out), str(inventory)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.strip() == f"banscan: wrote {out} (json): 1 finding on 1 host"
    assert out.is_file()
    quiet = subprocess.run([*cmd, "--quiet"], capture_output=True, text=True, check=False)
    assert quiet.returncode == 1 and quiet.stderr == ""


def test_every_data_file_of_the_package_is_shipped() -> None:
    """A catalog pack, template or migration left out of `package-data` works from a clone and
    is missing from an installed wheel: every file beside the code must match a pattern."""
    import tomllib

    src = Path(__file__).resolve().parents[1] / "src" / "banscan"
    with open(src.parents[1] / "pyproject.toml", "rb") as fh:
        patterns = tomllib.load(fh)["tool"]["setuptools"]["package-data"]["banscan"]
    shipped = {p for pattern in patterns for p in src.glob(pattern) if p.is_file()}
    data = {
        p
        for p in src.rglob("*")
        if p.is_file()
        and p.suffix not in (".py", ".pyc")
        and "__pycache__" not in p.parts
        and p.name != ".keep"
    }
    assert sorted(str(p.relative_to(src)) for p in data - shipped) == []
