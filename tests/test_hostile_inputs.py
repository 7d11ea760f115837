"""Hostile input and honest mistakes: deep JSON nesting, decompression bombs, a format forced on
the wrong file, a corrupt archive among readable files, and whatever else goes wrong unforeseen.
Each is one error line naming the file, the rest of the input is still read, and the exit status
means what it says (0 clean, 1 findings, 2 nothing could be read or usage)."""

from __future__ import annotations

import gzip
import io
import json
import random
import re
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from banscan.catalog.loader import load_catalog
from banscan.cli import app
from banscan.errors import ErrorSink
from banscan.inputs import bulk
from banscan.inputs.base import ExpandLimits, open_input
from banscan.inputs.jsondepth import MAX_DEPTH, TooDeep, depth, loads
from banscan.inputs.registry import detect_in_stream, read_target, top_level_keys
from banscan.match.matcher import Matcher

runner = CliRunner()
DATA = Path(__file__).parent / "data" / "inputs"
DEEP = "[" * 5000
KES_LINE = (
    '{"name":"pack/Global/Installed programs","hostIdentifier":"WS-1","calendarTime":"Tue Jan  7 '
    '09:15:02 2025 UTC","unixTime":1736241302,"columns":{"name":"Kaspersky Endpoint Security for '
    'Windows","version":"12.5.0.539","publisher":"AO Kaspersky Lab"},"action":"added"}'
)


def scan_json(*args: str) -> tuple[int, dict[str, Any], str]:
    res = runner.invoke(app, ["scan", "--format", "json", *args])
    return res.exit_code, json.loads(res.stdout), res.stderr


def one_target(out: dict[str, Any]) -> dict[str, Any]:
    assert len(out["targets"]) == 1
    target: dict[str, Any] = out["targets"][0]
    return target


# ---- 1. deep nesting --------------------------------------------------------------------------


def test_depth_measure_is_cheap_and_exact() -> None:
    assert depth('{"a": [1, {"b": "[[[["}]}', limit=2) == 3  # strings do not count
    assert depth('["]", ["]", ["]", [[]]]]]', limit=2) > 2  # brackets in strings do not hide levels
    assert depth('["\\"[[[[[", "\\\\"]', limit=1) == 1
    assert not TooDeep().args[0].count("\n")
    with pytest.raises(TooDeep):
        loads(DEEP)
    with pytest.raises(TooDeep):
        loads("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1))
    assert loads("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None
    big = json.dumps({"components": [{"name": f"c{i}", "x": [[i]]} for i in range(20000)]})
    started = time.perf_counter()
    assert depth(big) == 5
    assert time.perf_counter() - started < 1.0


def test_osquery_log_deep_line_is_one_error_and_the_rest_is_read(tmp_path: Path) -> None:
    log = tmp_path / "osqueryd.results.log"
    other = KES_LINE.replace("WS-1", "WS-2")
    log.write_text(KES_LINE + "\n" + DEEP + "\n" + other + "\n" + '{"a":' * 3000 + "\n")
    code, out, stderr = scan_json(str(log))
    assert code == 1  # the Kaspersky line after the deep one is still read
    assert [(f["host"], f["product"]) for f in out["findings"]] == [
        ("WS-1", "kes-windows"),
        ("WS-2", "kes-windows"),
    ]
    assert one_target(out)["errors"] == [
        f"{log}:2: not readable: JSON nested too deeply; skipped",
        f"{log}:4: not readable: JSON nested too deeply; skipped",
    ]
    assert "Traceback" not in stderr


def test_osqueryi_array_deep_row_is_skipped(tmp_path: Path) -> None:
    rows = json.loads((DATA / "osquery" / "kiosk-12.json").read_text())
    text = "[" + json.dumps(rows[0]) + ", " + DEEP + "]" * 5000 + ", " + json.dumps(rows[1]) + "]"
    f = tmp_path / "kiosk.json"
    f.write_text(text)
    sink = ErrorSink(echo=False)
    target, records = read_target(str(f), sink, input_format="osquery")
    got = list(records)
    assert len(got) == 2
    assert target.errors == [f"{f}:row 2: not readable: JSON nested too deeply; skipped"]


@pytest.mark.parametrize(
    ("fmt", "text"),
    [
        ("fleet", '{"software": ' + DEEP + "}"),
        ("fleet", '{"software_titles": [], "counts_updated_at": "x", "x": ' + DEEP + "}"),
        ("intune-json", '{"@odata.context": "detectedApps", "value": ' + DEEP + "}"),
        ("jamf-json", '{"totalCount": 1, "results": ' + DEEP + "}"),
        ("cyclonedx-json", '{"bomFormat": "CycloneDX", "components": ' + DEEP + "}"),
        ("spdx-json", '{"spdxVersion": "SPDX-2.3", "packages": ' + DEEP + "}"),
        ("spdx3-jsonld", '{"@context": "https://spdx.org/rdf/3.0.1/spdx-context.jsonld", "@graph": ' + DEEP),
    ],
)
def test_deep_json_documents_are_one_error_line(tmp_path: Path, fmt: str, text: str) -> None:
    f = tmp_path / "inventory.json"
    f.write_text(text)
    for forced in (fmt, None):
        code, out, stderr = scan_json("--quiet", str(f), *(["--input-format", forced] if forced else []))
        target = one_target(out)
        assert code == 2, (forced, target)
        assert len(target["errors"]) == 1 and target["errors"][0].startswith(f"{f}"), target
        assert "Traceback" not in stderr


def test_bulk_path_deep_line(tmp_path: Path) -> None:
    log = tmp_path / "big.log"
    log.write_text(KES_LINE + "\n" + DEEP + "\n" + '{"decorations":{"x":' + DEEP + "\n" + KES_LINE + "\n")
    matcher = Matcher(load_catalog())
    sink = ErrorSink(echo=False)
    target = bulk.bulk_scan(str(log), matcher, sink, "osquery", workers=1)
    assert [f.product for f in matcher.findings()] == ["kes-windows"]
    assert target.errors == [
        f"{log}:2: not readable: JSON nested too deeply; skipped",
        f"{log}:3: not readable: JSON nested too deeply; skipped",
    ]


def test_streaming_key_scan_stops_at_the_depth_limit() -> None:
    started = time.perf_counter()
    deep = b'{"a": ' + b"[" * 300_000 + b"]" * 300_000 + b', "spdxVersion": "SPDX-2.3"}'
    assert top_level_keys([deep]) == {"a": []}
    reader, _stream = detect_in_stream(io.BufferedReader(io.BytesIO(deep)), deep[:65536], "x.json")
    assert reader is None
    shallow = b'{"a": ' + b"[" * 100 + b"]" * 100 + b', "spdxVersion": "SPDX-2.3"}'
    assert top_level_keys([shallow]) == {"a": [], "spdxVersion": "SPDX-2.3"}
    assert time.perf_counter() - started < 5


@pytest.mark.parametrize("command", ["report", "plan"])
def test_deep_result_file_for_report_and_plan(tmp_path: Path, command: str) -> None:
    f = tmp_path / "result.json"
    f.write_text(DEEP)
    res = runner.invoke(app, [command, str(f), "--output", str(tmp_path / "out")])
    assert res.exit_code == 2, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert lines == [f"banscan: error: {f}: not a banscan result: JSON nested too deeply"]


# ---- 2. the CLI's last word ---------------------------------------------------------------------


def run_main(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str]:
    from banscan.cli import main

    monkeypatch.setattr(sys, "argv", ["banscan", *args])
    with pytest.raises(SystemExit) as exited:
        main()
    code = exited.value.code
    return (code if isinstance(code, int) else 0), capsys.readouterr().err


@pytest.fixture
def boom(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("BANSCAN_DEBUG", raising=False)

    def fail(*_a: object, **_k: object) -> None:
        raise KeyError("something nobody foresaw")

    monkeypatch.setattr("banscan.scan.run_scan", fail)
    yield


def test_unexpected_error_is_one_line_and_exit_2(
    boom: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    f = tmp_path / "x.csv"
    f.write_text("name\nfoo\n")
    code, err = run_main(monkeypatch, capsys, "scan", str(f))
    assert code == 2
    assert err.splitlines() == [
        "banscan: error: unexpected error: KeyError: 'something nobody foresaw' (--debug shows the traceback)"
    ]


@pytest.mark.parametrize("how", ["flag", "env"])
def test_debug_shows_the_traceback(
    boom: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path, how: str
) -> None:
    f = tmp_path / "x.csv"
    f.write_text("name\nfoo\n")
    if how == "env":
        monkeypatch.setenv("BANSCAN_DEBUG", "1")
        code, err = run_main(monkeypatch, capsys, "scan", str(f))
    else:
        code, err = run_main(monkeypatch, capsys, "--debug", "scan", str(f))
    assert code == 2
    assert "Traceback (most recent call last)" in err
    assert err.splitlines()[-1] == "banscan: error: unexpected error: KeyError: 'something nobody foresaw'"


def test_os_error_names_its_file_and_eof_is_not_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.delenv("BANSCAN_DEBUG", raising=False)
    f = tmp_path / "x.csv"
    f.write_text("name\nfoo\n")

    def denied(*_a: object, **_k: object) -> None:
        raise PermissionError(13, "Permission denied", "/srv/inventory/hosts.csv")

    monkeypatch.setattr("banscan.scan.run_scan", denied)
    code, err = run_main(monkeypatch, capsys, "scan", str(f))
    assert code == 2
    assert err.startswith("banscan: error: /srv/inventory/hosts.csv: unexpected error: PermissionError")

    def eof(*_a: object, **_k: object) -> None:
        raise EOFError("Compressed file ended before the end-of-stream marker was reached")

    monkeypatch.setattr("banscan.scan.run_scan", eof)
    code, err = run_main(monkeypatch, capsys, "scan", str(f))
    assert code == 2 and "Aborted" not in err


def test_main_keeps_the_exit_codes(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    clean = tmp_path / "clean.csv"
    clean.write_text("Computer,App\nPC-1,Notepad++\n")
    dirty = tmp_path / "dirty.csv"
    dirty.write_text("Computer,App\nPC-1,Kaspersky Endpoint Security for Windows\n")
    out = ["--format", "json", "--output", str(tmp_path / "out.json")]
    assert run_main(monkeypatch, capsys, "scan", str(clean), *out)[0] == 0
    assert run_main(monkeypatch, capsys, "scan", str(dirty), *out)[0] == 1
    code, err = run_main(monkeypatch, capsys, "scan", "--role", "nobody", str(clean))
    assert code == 2 and "--role" in err
    code, err = run_main(monkeypatch, capsys, "scan", "--no-such-option")
    assert code == 2 and "No such option" in err
    assert run_main(monkeypatch, capsys, "--help")[0] == 0


def test_a_reader_that_breaks_is_one_line_and_the_next_input_is_read(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("BANSCAN_DEBUG", raising=False)
    from banscan.inputs import regfile

    def broken(*_a: object, **_k: object) -> Iterator[Any]:
        raise ZeroDivisionError("division by zero")
        yield

    monkeypatch.setattr(regfile.RegFileReader, "read", broken)
    reg = tmp_path / "a.reg"
    reg.write_text("Windows Registry Editor Version 5.00\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\x]\r\n")
    csv = tmp_path / "b.csv"
    csv.write_text("Computer,App\nPC-1,Kaspersky Endpoint Security for Windows\n")
    code, out, _ = scan_json("--quiet", str(reg), str(csv))
    assert code == 1
    assert out["targets"][0]["errors"] == [f"{reg}: unexpected error: ZeroDivisionError: division by zero"]
    assert out["targets"][1]["records"] == 1


# ---- 3. the server answers 4xx ------------------------------------------------------------------


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient
    from banscan.server.app import create_app
    from banscan.store.accounts import create_api_token

    url = f"sqlite:///{tmp_path / 'banscan.db'}"
    application = create_app(url)
    client = TestClient(application, base_url="https://testserver")
    client.headers["Authorization"] = f"Bearer {create_api_token(url, 'test-admin', 'admin')}"
    client.db_url = url  # type: ignore[attr-defined]
    yield client
    client.close()
    application.state.banscan.db.dispose()


def test_import_of_deeply_nested_json_is_422(server: Any) -> None:
    for name, content, fmt in [
        ("osqueryd.results.log", DEEP + "\n", "osquery"),
        ("fleet.json", '{"software": ' + DEEP + "}", "fleet"),
        ("result.json", DEEP, "osquery"),
    ]:
        for form in ({"format": fmt}, {}):
            r = server.post("/api/v1/imports", files={"file": (name, content.encode())}, data=form)
            assert r.status_code == 422, (name, form, r.status_code, r.text)
            errors = r.json()["detail"]["errors"]
            assert errors and all("\n" not in e and e.startswith(name) for e in errors)
            if form:
                assert any("nested too deeply" in e for e in errors), errors


def test_import_reader_failure_is_422_with_one_line(server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*_a: object, **_k: object) -> None:
        raise RuntimeError("reader exploded\non two lines")

    monkeypatch.setattr("banscan.scan.run_scan", fail)
    r = server.post("/api/v1/imports", files={"file": ("hosts.csv", b"Computer,App\nPC-1,Notepad\n")})
    assert r.status_code == 422, r.text
    assert r.json()["detail"] == {
        "reason": "nothing could be read from the upload",
        "errors": ["hosts.csv: unexpected error: RuntimeError: reader exploded on two lines"],
    }


def test_import_page_shows_the_422(server: Any) -> None:
    from banscan.store.accounts import create_user

    create_user(server.db_url, "alice", "correct horse battery staple", "admin")
    del server.headers["Authorization"]
    page = server.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    r = server.post(
        "/login",
        data={"username": "alice", "password": "correct horse battery staple", "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', server.get("/imports").text)
    assert csrf
    r = server.post(
        "/imports",
        data={"csrf_token": csrf.group(1), "format": "osquery"},
        files={"file": ("osqueryd.results.log", (DEEP + "\n").encode())},
    )
    assert r.status_code == 422 and 'id="import-error"' in r.text
    assert "nested too deeply" in r.text


# ---- 4. deep scan: what was read ----------------------------------------------------------------


def test_corrupt_zip_among_readable_files(tmp_path: Path) -> None:
    folder = tmp_path / "drop"
    folder.mkdir()
    for i in range(19):
        (folder / f"note-{i}.txt").write_text(f"nothing here {i}\n")
    bad = folder / "bundle.zip"
    bad.write_bytes(b"PK\x03\x04 this is not a zip archive at all")
    code, out, _ = scan_json("--quiet", "--deep", str(folder), "--host", "fs-01")
    target = one_target(out)
    assert (code, target["records"]) == (0, 19)
    assert len(target["errors"]) == 1 and target["errors"][0].startswith(f"{bad}: zip archive unreadable")
    code, out, _ = scan_json("--quiet", "--deep", str(bad), "--host", "fs-01")
    assert (code, one_target(out)["records"]) == (2, 0)  # nothing could be read


# ---- 5. compressed inputs within limits ---------------------------------------------------------


def test_expand_limits_are_the_deep_scans() -> None:
    from banscan.deep.archives import Limits

    deep, inputs = Limits(), ExpandLimits()
    assert (inputs.max_ratio, inputs.ratio_floor, inputs.max_total) == (
        deep.max_ratio,
        deep.ratio_floor,
        deep.max_total,
    )


def _bomb(path: Path, rows: int = 60_000) -> Path:
    line = (
        KES_LINE.replace("Kaspersky Endpoint Security for Windows", "Notepad").replace(
            "AO Kaspersky Lab", "Don Ho"
        )
        + "\n"
    ).encode()
    with gzip.open(path, "wb", compresslevel=9) as fh:
        for _ in range(rows // 10_000):
            fh.write(line * 10_000)
    return path


def test_gzip_bomb_stops_with_one_line(tmp_path: Path) -> None:
    bomb = _bomb(tmp_path / "results.log.gz")
    started = time.monotonic()
    code, out, _ = scan_json("--quiet", str(bomb))
    assert time.monotonic() - started < 20
    target = one_target(out)
    assert code == 2
    assert len(target["errors"]) == 1
    assert re.match(
        rf"{re.escape(str(bomb))}: gzip input expands over 100:1 \(\d+ bytes from \d+\); likely",
        target["errors"][0],
    )
    code, out, _ = scan_json("--quiet", "--max-ratio", "100000", str(bomb))
    assert (code, one_target(out)["errors"]) == (0, [])


def test_total_expanded_size_limit_and_the_option(tmp_path: Path) -> None:
    import zstandard

    notepad = KES_LINE.replace("Kaspersky Endpoint Security for Windows", "Notepad++")
    notepad = notepad.replace("AO Kaspersky Lab", "Don Ho")
    rng = random.Random(5)  # rows that compress as real ones do (~10:1), not as a bomb
    rows = [notepad.replace("12.5.0.539", f"8.{i}.{rng.randbytes(12).hex()}") for i in range(15_000)]
    rows.append(KES_LINE)
    text = ("\n".join(rows) + "\n").encode()  # 3.5 MB
    gz = tmp_path / "results.log.gz"
    gz.write_bytes(gzip.compress(text))
    zst = tmp_path / "results.log.zst"
    zst.write_bytes(zstandard.ZstdCompressor().compress(text))
    for f, kind in ((gz, "gzip"), (zst, "zstd")):
        code, out, _ = scan_json("--quiet", "--max-expanded-size", "2M", str(f))
        assert code == 2
        assert one_target(out)["errors"] == [
            f"{f}: {kind} input expands past the 2097152-byte limit for compressed inputs; reading stopped "
            "(raise it with --max-expanded-size)"
        ]
        code, out, _ = scan_json("--quiet", "--max-expanded-size", "64M", str(f))
        assert code == 1 and one_target(out)["records"] == 15_001
    res = runner.invoke(app, ["scan", "--max-expanded-size", "lots", str(gz)])
    assert res.exit_code == 2 and "--max-expanded-size" in res.stderr


@pytest.mark.parametrize("workers", [1, 2])
def test_bulk_path_gzip_keeps_the_limits(tmp_path: Path, workers: int) -> None:
    bomb = _bomb(tmp_path / "results.log.gz")
    sink = ErrorSink(echo=False)
    target = bulk.bulk_scan(str(bomb), Matcher(load_catalog()), sink, "osquery", workers=workers)
    assert len(target.errors) == 1 and "likely decompression bomb" in target.errors[0]


@pytest.mark.parametrize("damage", ["truncated", "corrupt"])
def test_damaged_gzip_is_one_line(tmp_path: Path, damage: str) -> None:
    data = gzip.compress((KES_LINE + "\n").encode() * 2000)
    f = tmp_path / "results.log.gz"
    if damage == "truncated":
        f.write_bytes(data[: len(data) // 2])
    else:
        f.write_bytes(data[:40] + bytes(b ^ 0x5A for b in data[40:80]) + data[80:])
    code, out, stderr = scan_json("--quiet", str(f))
    target = one_target(out)
    assert code == 2 and len(target["errors"]) == 1, target
    assert target["errors"][0].startswith(f"{f}: gzip input is {damage}")
    assert "Traceback" not in stderr


def test_open_input_closes_the_file_under_the_decompressor(tmp_path: Path) -> None:
    f = tmp_path / "x.csv.gz"
    f.write_bytes(gzip.compress(b"name\nfoo\n"))
    stream, _ = open_input(str(f))
    assert stream.read() == b"name\nfoo\n"
    stream.close()
    assert stream.closed


# ---- 6. a forced format that reads nothing ------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "name", "content"),
    [
        ("fleet", "host.json", '{"host": {"hostname": "ws-1", "id": 3}}'),
        ("fleet", "srv-db-01.spdx.json", None),
        ("fleet", "AppInvRawData.csv", None),
        ("intune-csv", "lansweeper_software.csv", None),
        ("cyclonedx-json", "bom.json", '{"bomFormat": "CycloneDX", "specVersion": "1.6"}'),
        ("osquery", "empty.log", "\n\n\n"),
    ],
)
def test_forced_format_that_reads_nothing_is_exit_2(
    tmp_path: Path, fmt: str, name: str, content: str | None
) -> None:
    f = tmp_path / name
    if content is None:
        source = {
            "srv-db-01.spdx.json": DATA / "sbom" / "srv-db-01.spdx.json",
            "AppInvRawData.csv": DATA / "csv" / "intune_appinvrawdata.csv",
            "lansweeper_software.csv": DATA / "csv" / "lansweeper_software.csv",
        }[name]
        f.write_bytes(source.read_bytes())
    else:
        f.write_text(content)
    res = runner.invoke(app, ["scan", "--input-format", fmt, str(f)])
    assert res.exit_code == 2, res.output
    assert "No banned software found" not in res.stdout or f"Error reading {f}" in res.stdout
    code, out, _ = scan_json("--quiet", "--input-format", fmt, str(f))
    target = one_target(out)
    assert (code, target["records"]) == (2, 0)
    assert target["errors"] and all(e.startswith(str(f)) for e in target["errors"])
