"""`banscan scan --deep`: a progress line and a summary on a terminal's stderr, nothing on a pipe.

The command runs in a child process whose stderr is a pseudo-terminal (or a pipe); stdout is
always a pipe and must hold only the result.
"""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from banscan.deep.stats import DeepStats, Estimate
from banscan.output.progress import DeepProgress, progress_text

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")

MARK = b"Kaspersky Anti-Virus Personal Root Certificate"
ELF = b"\x7fELF\x02\x01\x01" + b"\x00" * 57 + b"\x00" * 200 + MARK + b"\x00" * 100


def _tree(root: Path) -> Path:
    (root / "bin").mkdir(parents=True)
    (root / "doc").mkdir()
    (root / "bin" / "tool").write_bytes(ELF)
    with zipfile.ZipFile(root / "doc" / "bundle.zip", "w") as z:
        z.writestr("agent.so", ELF)
    for i in range(40):
        (root / "doc" / f"page{i}.html").write_text("<!DOCTYPE html><p>AO Kaspersky Lab</p>" * 50)
    (root / "doc" / "empty").write_bytes(b"")
    return root


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "CI", "FORCE_COLOR")}
    env.update(TERM="xterm-256color", COLUMNS="120", LINES="40")
    return env


def _run_on_pty(args: list[str]) -> tuple[int, bytes, bytes]:
    """Run banscan with stderr on a pseudo-terminal; (exit code, stdout, terminal output)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "banscan", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=slave,
        env=_env(),
    )
    os.close(slave)
    assert proc.stdout is not None
    out, term = bytearray(), bytearray()
    fds = [proc.stdout.fileno(), master]
    while fds:
        ready, _, _ = select.select(fds, [], [], 60)
        assert ready, "banscan did not finish within 60 s"
        for fd in ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the terminal's other end closed (Linux raises EIO)
                chunk = b""
            if not chunk:
                fds.remove(fd)
            else:
                (out if fd != master else term).extend(chunk)
    os.close(master)
    return proc.wait(timeout=60), bytes(out), bytes(term)


def test_progress_and_summary_on_a_terminal(tmp_path: Path) -> None:
    tree = _tree(tmp_path / "t")
    code, out, term = _run_on_pty(["scan", "--deep", str(tree), "--format", "json", "--host", "h1"])
    assert code == 1  # the marker is a finding
    result = json.loads(out)  # stdout holds the result and nothing else
    assert result["findings"]
    text = term.decode("utf-8", "replace")
    assert " files · " in text and "/s" in text  # the progress line
    assert "\x1b[" in text  # drawn with terminal controls, on stderr only
    assert f"deep scan of {tree}: 43 files" in text  # the summary
    assert "read 2 files" in text
    assert "cannot hold code we detect" in text and ": 40 (" in text
    assert "empty: 1 (" in text
    assert b"\x1b[" not in out


def test_nothing_on_a_pipe(tmp_path: Path) -> None:
    tree = _tree(tmp_path / "t")
    args = [sys.executable, "-m", "banscan", "scan", "--deep", str(tree), "--format", "json"]
    proc = subprocess.run(args, capture_output=True, env=_env(), timeout=120, check=False)
    assert proc.returncode == 1
    json.loads(proc.stdout)
    assert proc.stderr == b""  # no progress, no summary, no control sequences
    # --stats asks for the summary even so, still on stderr and without a progress line
    proc = subprocess.run([*args, "--stats"], capture_output=True, env=_env(), timeout=120, check=False)
    json.loads(proc.stdout)
    err = proc.stderr.decode()
    assert err.startswith(f"banscan: deep scan of {tree}: 43 files")
    assert "\x1b[" not in err and " · " not in err


def test_quiet_terminal_shows_nothing(tmp_path: Path) -> None:
    tree = _tree(tmp_path / "t")
    code, out, term = _run_on_pty(["scan", "--deep", str(tree), "--format", "json", "--quiet"])
    assert code == 1
    json.loads(out)
    assert term == b""


def test_progress_text_estimates() -> None:
    stats = DeepStats(label="x", estimate=Estimate(files=1000, bytes=10_000_000, exact=True))
    stats.started = 100.0
    stats.files_seen, stats.bytes_seen = 250, 2_500_000
    line = progress_text(stats, now=110.0)
    assert line.startswith("250 files · 2.5 MB · 250.0 KB/s · 25%")
    assert "~30.0 s left (est.)" in line
    stats.estimate = None
    assert "so far" in progress_text(stats, now=110.0)


def test_progress_keeps_runs_for_the_summary() -> None:
    progress = DeepProgress(live=False)
    stats = DeepStats(label="/srv")
    progress.started(stats)
    progress.update(stats)
    progress.finished(stats)
    assert progress.summary()[0].startswith("deep scan of /srv: 0 files")
