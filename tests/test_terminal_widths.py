"""`banscan scan` and `banscan catalog list` on a real terminal 80 and 200 columns wide.

Each command runs in a child process whose standard input, output and error are a
pseudo-terminal given its size with TIOCSWINSZ (and no $COLUMNS), as in a terminal window. No
line may be wider than the terminal, and nothing that names something may be cut short: host
names and product names (wrapped over lines at most, never ending in "…"), and the catalog ids
in `catalog list`, each whole on its line.
"""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")

if sys.platform != "win32":
    import fcntl
    import pty
    import struct
    import termios

DATA = Path(__file__).parent / "data" / "inputs"
FIXTURES = [DATA / "fleet" / "software-by-host.csv", DATA / "mdm" / "intune_detectedapps.json"]
AS_OF = "2025-01-15"
SIZES = [(80, 24), (200, 50)]
ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")

# Names longer than an 80-column line, a long host name, a white-labelled product.
LONG_NAMES = """\
hostname,name,version,source,vendor,bundle_identifier,extension_id,generated_cpe
ws-finance-workstation-0042.corp.example.org,Kaspersky Security & VPN,11.98.4.10,programs,AO Kaspersky Lab,,,
ws-finance-workstation-0042.corp.example.org,Orange Security Suite,21.3.10.391,programs,Orange,,,
ws-finance-workstation-0042.corp.example.org,Kaspersky Anti-Virus 8.0 for Microsoft ISA Server and Forefront TMG,8.5.0.1,programs,Kaspersky Lab,,,
lnx-01,Kaspersky Open Single Management Platform,1.0.0.1,programs,AO Kaspersky Lab,,,
"""


def run_on_terminal(args: list[str], columns: int, rows: int, cwd: Path) -> tuple[int, list[str]]:
    """Run `python -m banscan ARGS` on a pseudo-terminal of `columns` x `rows`; the exit code and
    the lines it showed, without escape sequences and carriage returns."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR")}
    env["TERM"] = "xterm-256color"
    proc = subprocess.Popen(
        [sys.executable, "-m", "banscan", *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=cwd,
        env=env,
        start_new_session=True,
    )
    os.close(slave)
    shown = bytearray()
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 120)
            assert ready, f"banscan {' '.join(args)} did not finish within 120 s"
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the other end closed (Linux raises EIO)
                chunk = b""
            if not chunk:
                break
            shown.extend(chunk)
    finally:
        os.close(master)
    code = proc.wait(timeout=60)
    text = ESCAPES.sub("", shown.decode("utf-8")).replace("\r", "")
    return code, text.splitlines()


def assert_fits(lines: list[str], columns: int) -> None:
    from rich.cells import cell_len

    assert lines, "nothing was shown"
    wide = [(cell_len(line), line) for line in lines if cell_len(line) > columns]
    assert wide == [], f"lines wider than {columns} columns: {wide}"


def row_cells(line: str) -> list[str]:
    return [c.strip() for c in re.split("[│┃]", line.strip().strip("│┃"))]


def table_rows(lines: list[str]) -> list[list[str]]:
    """The rows of a Rich box table: each cell's text over the row's lines, joined by spaces.
    A row starts on the line whose first cell is not empty."""
    rows: list[list[list[str]]] = []
    for line in lines:
        if not line.startswith(("│", "┃")):
            continue
        cells = row_cells(line)
        if cells[0] or not rows:
            rows.append([[] for _ in cells])
        for parts, cell in zip(rows[-1], cells, strict=True):
            if cell:
                parts.append(cell)
    return [[" ".join(parts) for parts in row] for row in rows]


def squeeze(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """The folder to run in and the inputs, given relative to it where they can be."""
    where = tmp_path_factory.mktemp("widths")
    (where / "long-names.csv").write_text(LONG_NAMES, encoding="utf-8")
    return where, ["long-names.csv", *map(str, FIXTURES)]


@pytest.fixture(scope="module")
def expected(inputs: tuple[Path, list[str]]) -> list[tuple[str, str]]:
    """(host, product as the table names it) for every finding, from the JSON output."""
    where, paths = inputs
    proc = subprocess.run(
        [sys.executable, "-m", "banscan", "scan", *paths, "--as-of", AS_OF, "--format", "json"],
        capture_output=True,
        text=True,
        cwd=where,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    out: list[tuple[str, str]] = []
    for f in json.loads(proc.stdout)["findings"]:
        name = f"{f['product_name']} {f['version']}" if f.get("version") else f["product_name"]
        if f.get("brand") and f["brand"] != f["product_name"]:
            name += f" (sold as {f['brand']})"
        out.append((f["host"], name))
    assert len(out) >= 8 and any(len(name) > 78 for _, name in out)
    return out


@pytest.mark.parametrize(("columns", "rows"), SIZES)
def test_scan_fits_the_terminal_and_cuts_no_name(
    inputs: tuple[Path, list[str]], expected: list[tuple[str, str]], columns: int, rows: int
) -> None:
    where, paths = inputs
    code, lines = run_on_terminal(["scan", *paths, "--as-of", AS_OF], columns, rows, where)
    assert code == 1, "\n".join(lines)
    assert_fits(lines, columns)
    assert any(line.startswith(f"{len({h for h, _ in expected})} hosts scanned") for line in lines)
    table = table_rows(lines)
    if table:  # wide terminals: one table, a finding per row
        assert table[0][:2] == ["Host", "Product"]
        shown = sorted((row[0], row[1]) for row in table[1:])
        assert shown == sorted(expected)
    else:  # narrow ones: a block of lines per finding, nothing cut short
        assert not any("…" in line for line in lines), "\n".join(lines)
        everything = squeeze(" ".join(lines))
        for host, product in expected:
            assert squeeze(host) in everything and squeeze(product) in everything, (host, product)
        blocks = [line for line in lines if line and not line.startswith(" ")]
        assert all(any(line.startswith(host) for line in blocks) for host, _ in expected)


@pytest.mark.parametrize(("columns", "rows"), SIZES)
def test_catalog_list_ids_are_whole(tmp_path: Path, columns: int, rows: int) -> None:
    from banscan.catalog.loader import load_catalog

    catalog = load_catalog()
    code, lines = run_on_terminal(["catalog", "list"], columns, rows, tmp_path)
    assert code == 0, "\n".join(lines)
    assert_fits(lines, columns)
    table = table_rows(lines)
    assert table[0][0] == "id"
    # each id on one line of its own cell, never wrapped or cut
    id_cells = [row_cells(line)[0] for line in lines if line.startswith("│")]
    assert sorted(c for c in id_cells if c) == sorted(p.id for p in catalog.products)

    names = {row[0]: row[1] for row in table[1:]}
    cut = {
        pid: names[pid]
        for pid in names
        if "".join(names[pid].split()) != "".join(catalog.product(pid).name.split())
    }
    assert cut == {}
