"""Inventory files through `banscan scan`: detection, column maps, stdin, directories, errors."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from typer.testing import CliRunner

from banscan.cli import app

runner = CliRunner()
DATA = Path(__file__).parent / "data" / "inputs"

REG = """Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\\SOFTWARE\\WOW6432Node\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\{7EC66A95-AC2D-4127-940B-0445A526AB2F}]
"DisplayName"="Kaspersky Endpoint Security for Windows"
"DisplayVersion"="12.5.0.539"
"Publisher"="AO Kaspersky Lab"

[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\7-Zip]
"DisplayName"="7-Zip 23.01 (x64)"
"Publisher"="Igor Pavlov"
"""


def scan(*args: str, stdin: bytes | None = None) -> tuple[int, dict]:  # type: ignore[type-arg]
    res = runner.invoke(app, ["scan", "--format", "json", "--quiet", *args], input=stdin)
    return res.exit_code, json.loads(res.stdout)


def test_reg_export_utf16_file_named_after_host(tmp_path: Path) -> None:
    f = tmp_path / "WKS-042.reg"
    f.write_bytes(b"\xff\xfe" + REG.replace("\n", "\r\n").encode("utf-16-le"))
    code, out = scan(str(f))
    assert code == 1
    assert out["targets"] == [{"target": str(f), "format": "reg", "records": 2, "errors": []}]
    assert [(x["host"], x["product"], x["verdict"]) for x in out["findings"]] == [
        ("WKS-042", "kes-windows", "covered")
    ]
    assert out["findings"][0]["evidence"][0]["location"].startswith(f"{f}:")


def test_generic_csv_with_column_map_and_gzip(tmp_path: Path) -> None:
    f = tmp_path / "export.csv.gz"
    f.write_bytes(
        gzip.compress(
            b"Computer;App;Vendor\nPC-1;Kaspersky Small Office Security;AO Kaspersky Lab\nPC-2;Notepad++;Don Ho\n"
        )
    )
    code, out = scan(str(f), "--columns", "host=Computer,name=App,publisher=Vendor")
    assert code == 1
    assert {x["host"] for x in out["findings"]} == {"PC-1"}
    assert out["summary"]["hosts"] == 2
    res = runner.invoke(app, ["scan", str(f), "--columns", "computer"])
    assert res.exit_code == 2 and "--columns" in res.output


def test_stdin_and_directory_of_inputs(tmp_path: Path) -> None:
    code, out = scan("-", stdin=REG.encode("utf-8"))
    assert code == 1 and out["findings"][0]["host"] == "stdin"
    d = tmp_path / "exports"
    d.mkdir()
    (d / "a.reg").write_text(REG, encoding="utf-8")
    (d / "b.txt").write_bytes(b"\x00\x01binary junk")
    (d / "empty.csv").write_bytes(b"")
    code, out = scan(str(d))
    assert code == 1
    by_name = {Path(t["target"]).name: t for t in out["targets"]}
    assert by_name["a.reg"]["records"] == 2
    assert by_name["b.txt"]["errors"] and "unrecognised input format" in by_name["b.txt"]["errors"][0]
    assert by_name["empty.csv"]["errors"] == [f"{d / 'empty.csv'}: empty input (0 bytes)"]


def test_unreadable_inputs_only_exit_2(tmp_path: Path) -> None:
    f = tmp_path / "junk.bin"
    f.write_bytes(b"\x7fELF\x00\x00garbage")
    code, out = scan(str(f))
    assert code == 2
    assert out["targets"][0]["records"] == 0 and out["targets"][0]["errors"]


def test_hosts_csv_lists_affected_hosts_most_urgent_first() -> None:
    import csv
    import io

    res = runner.invoke(
        app, ["scan", str(DATA / "osquery"), "--format", "hosts-csv", "--quiet", "--as-of", "2025-01-15"]
    )
    assert res.exit_code == 1
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert rows[0]["host"] == "WS-FIN-01" and int(rows[0]["covered"]) >= 2
    assert "kes-windows" in rows[0]["products"].split(";")
    assert {r["host"] for r in rows} >= {"web-02", "db-04", "kiosk-12", "mbp-design-03"}
    assert all(r["max_definitions_age_days"] == "108" for r in rows)
    assert [int(r["covered"]) for r in rows] == sorted((int(r["covered"]) for r in rows), reverse=True)


def test_zstd_compressed_osquery_log(tmp_path: Path) -> None:
    import zstandard

    src = DATA / "osquery" / "osqueryd.results.log"
    f = tmp_path / "osqueryd.results.log.zst"
    f.write_bytes(zstandard.ZstdCompressor().compress(src.read_bytes()))
    code, out = scan(str(f))
    _, plain = scan(str(src))
    assert code == 1
    assert out["targets"][0]["format"] == "osquery"
    key = sorted((x["host"], x["product"], x["verdict"]) for x in out["findings"])
    assert key and key == sorted((x["host"], x["product"], x["verdict"]) for x in plain["findings"])
