"""Who a report or plan is for and from: `--about FILE` and the options over it put the
organisation, logo, preparer, date of preparation and an attestation block with signature and
date lines into the HTML, PDF and Markdown documents; a bad file is refused in one line."""

from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner, Result

from banscan.cli.plan import plan_command
from banscan.cli.report import report_command
from banscan.documents import ReportInputError
from banscan.documents.about import (
    LOGO_MAX_BYTES,
    PLAN_ATTESTATION,
    REPORT_ATTESTATION,
    AboutFile,
    resolve_about,
)
from banscan.documents.yaml_inputs import ABOUT_TEMPLATE
from test_reports_data import estate_files

app = typer.Typer()
app.command("report")(report_command)
app.command("plan")(plan_command)

ABOUT = """\
organisation: Example Federal Services LLC
unit: Security Operations
logo: logo.png
preparer:
  name: Pat Lee
  title: Compliance Analyst
  email: pat.lee@example.com
prepared: 2024-11-12
attestation: I certify that the hosts listed were scanned on the dates shown.
certifier: {name: Dana Whitfield, title: Chief Information Security Officer}
"""


def _run(*args: str | Path) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args])


def _png() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (48, 16), (0, 114, 178)).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def about_file(tmp_path: Path) -> Path:
    (tmp_path / "logo.png").write_bytes(_png())
    p = tmp_path / "about.yaml"
    p.write_text(ABOUT, encoding="utf-8")
    return p


def _errors(res: Result) -> list[str]:
    return [ln for ln in res.output.splitlines() if ln.startswith("banscan: error:")]


def _visible(html: str) -> str:
    body = html[html.index("<body") :]
    text = re.sub(r"<[^>]+>", " ", body.replace("<wbr>", ""))
    return re.sub(r"\s+", " ", text)


def test_report_html_has_organisation_logo_preparer_and_attestation(about_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    res = _run("report", estate_files()[1], "--about", about_file, "-o", out)
    assert res.exit_code == 0, res.output
    html = out.read_text(encoding="utf-8")
    text = _visible(html)
    head = text[: text.index("Summary")]
    assert "Example Federal Services LLC" in head and "Security Operations" in head
    assert "Prepared 2024-11-12 by Pat Lee , Compliance Analyst · pat.lee@example.com" in head
    logo = re.search(
        r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)" alt="Example Federal Services LLC">', html
    )
    assert logo and base64.b64decode(logo.group(1)) == _png()
    tail = text[text.index("Attestation") :]
    assert "I certify that the hosts listed were scanned on the dates shown." in tail
    assert "Signature — Dana Whitfield , Chief Information Security Officer" in tail and "Date" in tail
    assert html.count('class="line"') == 2  # a line to sign on and a line for the date
    assert not re.search(r'(src|href)="(?!data:|#)', html)  # still self-contained


def test_options_override_the_file(about_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    res = _run(
        "report",
        estate_files()[1],
        "--about",
        about_file,
        "--organisation",
        "Other Agency",
        "--preparer",
        "Sam Roe",
        "--prepared",
        "2024-12-01",
        "--certifier",
        "Lee Park",
        "-o",
        out,
    )
    assert res.exit_code == 0, res.output
    text = _visible(out.read_text(encoding="utf-8"))
    assert "Other Agency" in text and "Example Federal Services" not in text
    assert "Prepared 2024-12-01 by Sam Roe , Compliance Analyst" in text  # title kept from the file
    assert "Signature — Lee Park , Chief Information Security Officer" in text


def test_without_about_the_block_is_there_to_fill_in(tmp_path: Path) -> None:
    import datetime as dt

    out = tmp_path / "r.html"
    assert _run("report", estate_files()[1], "-o", out).exit_code == 0
    text = _visible(out.read_text(encoding="utf-8"))
    assert f"Prepared {dt.date.today().isoformat()}" in text  # default: today
    assert REPORT_ATTESTATION in text and "Signature, name and title Date" in text


def test_plan_html_and_markdown_have_the_block(about_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "p.html"
    res = _run("plan", estate_files()[1], "--about", about_file, "--attestation", "", "-f", "html", "-o", out)
    assert res.exit_code == 0, res.output
    text = _visible(out.read_text(encoding="utf-8"))
    assert "Example Federal Services LLC" in text and "Prepared 2024-11-12 by Pat Lee" in text
    assert PLAN_ATTESTATION in text  # an empty --attestation restores the standard statement
    res = _run("plan", estate_files()[1], "--about", about_file, "-f", "md")
    assert res.exit_code == 0, res.output
    md = res.stdout
    assert "**Example Federal Services LLC · Security Operations**" in md
    assert "Prepared 2024-11-12 by Pat Lee, Compliance Analyst (pat.lee@example.com)" in md
    assert md.rstrip().endswith("Date: ______________")
    assert (
        "Signature: ______________________________ (Dana Whitfield, Chief Information Security Officer)" in md
    )


def test_plan_pdf_has_the_block(about_file: Path, tmp_path: Path) -> None:
    pytest.importorskip("weasyprint", reason="WeasyPrint is not installed")
    exe = shutil.which("pdftotext")
    if exe is None:
        pytest.skip("pdftotext is not installed (Debian: apt-get install poppler-utils)")
    out = tmp_path / "r.pdf"
    res = _run("plan", estate_files()[1], "--about", about_file, "-f", "pdf", "-o", out)
    assert res.exit_code == 0, res.output
    text = subprocess.run([exe, "-layout", str(out), "-"], check=True, capture_output=True, text=True).stdout
    pages = text.split("\f")
    assert "Example Federal Services LLC" in pages[0] and "Prepared 2024-11-12 by Pat Lee" in pages[0]
    # the organisation heads every page
    assert all("Example Federal Services LLC · Security Operations" in p for p in pages if p.strip())
    last = [p for p in pages if p.strip()][-1]
    assert "Attestation" in last and "I certify that the hosts listed were scanned" in last
    assert re.search(r"Signature — Dana Whitfield, Chief Information Security Officer\s+Date", last)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            "organisation: X\npreparer: {name: A, titel: B}\n",
            r"preparer\.titel: unknown key \(did you mean title\?",
        ),
        ("organisation: [unclosed\n", r":\d+:\d+: invalid YAML"),
        ("prepared: next tuesday\n", r"prepared: "),
        ("logo: missing.png\n", r"logo: \S*missing\.png: cannot read logo"),
        ("logo: notes.txt\n", r"notes\.txt: logo is neither a PNG nor an SVG file"),
        ("- a list\n", r"expected keys and values"),
    ],
)
def test_a_bad_about_file_is_one_line(tmp_path: Path, content: str, expected: str) -> None:
    (tmp_path / "notes.txt").write_text("not an image", encoding="utf-8")
    p = tmp_path / "about.yaml"
    p.write_text(content, encoding="utf-8")
    for command in ("report", "plan"):
        res = _run(command, estate_files()[1], "--about", p, "-f", "md")
        assert res.exit_code == 2, res.output
        errors = _errors(res)
        assert len(errors) == 1 and len(res.output.strip().splitlines()) == 1, res.output
        assert str(p) in errors[0] and re.search(expected, errors[0]), errors[0]


def test_bad_logo_and_date_options_are_one_line(tmp_path: Path) -> None:
    big = tmp_path / "big.png"
    big.write_bytes(_png() + b"\0" * LOGO_MAX_BYTES)
    cases: list[tuple[tuple[str, str | Path], str]] = [
        (("--logo", big), f"{big}: logo is"),
        (("--logo", tmp_path / "none.svg"), f"{tmp_path / 'none.svg'}: cannot read logo"),
        (("--prepared", "12/11/2024"), "--prepared 12/11/2024: expected a date"),
    ]
    for args, expected in cases:
        res = _run("report", estate_files()[1], *args)
        assert res.exit_code == 2 and len(_errors(res)) == 1, res.output
        assert expected in _errors(res)[0]


def test_svg_logo_is_embedded(tmp_path: Path) -> None:
    svg = tmp_path / "logo.svg"
    svg.write_text(
        '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>\n'
    )
    about = resolve_about(logo=svg, organisation="Org")
    assert about.logo_uri.startswith("data:image/svg+xml;base64,")
    with pytest.raises(ReportInputError, match="neither a PNG nor an SVG"):
        (tmp_path / "x.svg").write_text("<html></html>")
        resolve_about(logo=tmp_path / "x.svg")


def test_readme_documents_every_key() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    start = readme.index("### Organisation, preparer and attestation: `--about`")
    section = readme[start : readme.index("\n## ", start)]
    for key in AboutFile.model_fields:
        assert f"`{key}`" in section, key
    for option in ("--about-template", "--organisation", "--logo", "--preparer", "--certifier", "--prepared"):
        assert option in section, option


def test_the_template_loads_and_names_every_key() -> None:
    raw = yaml.safe_load(ABOUT_TEMPLATE)
    model = AboutFile.model_validate(raw)
    assert model.organisation and model.preparer.name and model.certifier.title
    for key in AboutFile.model_fields:
        assert re.search(rf"^{key}:", ABOUT_TEMPLATE, re.M), key
    res = _run("report", "--about-template")
    assert res.exit_code == 0 and res.stdout == ABOUT_TEMPLATE
    assert _run("plan", "--about-template").stdout == ABOUT_TEMPLATE
    # a preparer given as a name alone, and the US spelling
    assert AboutFile.model_validate({"organization": "Org", "preparer": "Pat Lee"}).preparer.name == "Pat Lee"
