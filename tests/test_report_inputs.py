"""The YAML inputs of `banscan report` and `banscan plan`: templates, documentation, one-line errors.

`--far-context FILE` (FarContext) and `--config FILE` (PlanConfig) are documented key by key in
the README; `--far-context-template` and `--config-template` print a commented example with every
key that loads as printed; an unknown or a missing required key is refused with one line naming
the file and the key, exit status 2.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer
from pydantic import BaseModel
from typer.testing import CliRunner, Result

from banscan.cli.plan import plan_command
from banscan.cli.report import report_command
from banscan.documents import ReportInputError
from banscan.documents.far import Contract, FarContext, Reporter, build_far, load_far_context
from banscan.documents.plan import ApprovedAlternative, PlanConfig, build_plan, load_plan_config
from test_reports_data import estate_files, far_context_file, late_context

app = typer.Typer()
app.command("report")(report_command)
app.command("plan")(plan_command)
runner = CliRunner()
README = Path(__file__).resolve().parents[1] / "README.md"


def _run(*args: str | Path) -> Result:
    return runner.invoke(app, [str(a) for a in args])


def _keys(model: type[BaseModel]) -> list[str]:
    return list(model.model_fields)


def _yaml_keys(text: str) -> set[str]:
    """Every key written in a YAML text, in use or not (`key:` at a line's start, after `- `)."""
    return set(re.findall(r"^\s*(?:-\s+)?([a-z_]+):", text, re.M))


# --- templates ----------------------------------------------------------------------------------


def test_far_context_template_prints_without_results_and_loads(tmp_path: Path) -> None:
    res = _run("report", "--far-context-template")
    assert res.exit_code == 0, res.output
    text = res.stdout
    assert text.startswith("#") and "--far-context" in text
    for model in (FarContext, Contract, Reporter):
        assert set(_keys(model)) <= _yaml_keys(text), model.__name__
    # every key is explained by a comment
    comments = sum(1 for line in text.splitlines() if line.lstrip().startswith("#") or " # " in line)
    assert comments >= len(_keys(FarContext))
    p = tmp_path / "contract.yaml"
    p.write_text(text, encoding="utf-8")
    ctx = load_far_context(p)
    assert ctx.contractor and ctx.contracts[0].contract_number and ctx.reporter.name
    assert ctx.date_identified is None and ctx.mitigation == ""  # nothing a contractor must write is invented
    doc = build_far(late_context(), ctx)
    assert any("mitigation" in m for m in doc.missing)  # …so the document asks for it


def test_far_context_template_works_through_the_cli(tmp_path: Path) -> None:
    p = tmp_path / "contract.yaml"
    p.write_text(_run("report", "--far-context-template").stdout, encoding="utf-8")
    late = estate_files()[1]
    res = _run("report", late, "--document", "far", "--far-context", p, "--format", "md")
    assert res.exit_code == 0, res.output
    assert "Example Federal Services LLC" in res.stdout and "47QTCA-22-D-00AB" in res.stdout


def test_config_template_prints_without_results_and_loads(tmp_path: Path) -> None:
    res = _run("plan", "--config-template")
    assert res.exit_code == 0, res.output
    text = res.stdout
    assert text.startswith("#") and "--config" in text
    for model in (PlanConfig, ApprovedAlternative):
        assert set(_keys(model)) <= _yaml_keys(text), model.__name__
    p = tmp_path / "org.yaml"
    p.write_text(text, encoding="utf-8")
    cfg = load_plan_config(p)
    assert cfg.owner and cfg.approved_alternatives and cfg.due_date is None
    plans = build_plan(late_context(), cfg)
    names = {pp.replacement for hp in plans for pp in hp.products}
    assert cfg.approved_alternatives[0].name in names
    res = _run("plan", estate_files()[1], "--config", p, "--format", "csv")
    assert res.exit_code == 0, res.output


# --- documentation ------------------------------------------------------------------------------


def test_readme_documents_every_key() -> None:
    text = README.read_text(encoding="utf-8")
    start = text.index("### Report inputs: `--far-context` and `--config`")
    section = text[start : text.index("\n## ", start)]
    for model in (FarContext, Contract, Reporter, PlanConfig, ApprovedAlternative):
        for key in _keys(model):
            assert f"`{key}`" in section or f".{key}`" in section, (model.__name__, key)
    assert "--far-context-template" in section and "--config-template" in section
    for row in (line for line in section.splitlines() if line.startswith("| `")):
        assert row.count("|") == 5, row  # key, type, required, what it changes


# --- errors -------------------------------------------------------------------------------------


def _err_lines(res: Result) -> list[str]:
    return [line for line in res.output.splitlines() if line.strip()]


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        (
            "contractor: ACME\ncontract_numbr: C-1\n",
            "{p}: contract_numbr: unknown key (did you mean contract_number? known: contractor, ",
        ),
        (
            "contractor: ACME\ncontracts:\n  - {contract_number: C-1, hostz: ['srv-*']}\n",
            "{p}: contracts[0].hostz: unknown key (did you mean hosts? known: contract_number, "
            "order_numbers, contracting_officer, agency, hosts)",
        ),
        (
            "contractor: ACME\ncontract_number: C-1\nreporter: {nmae: Pat}\n",
            "{p}: reporter.nmae: unknown key (did you mean name? known: name, title, email, phone)",
        ),
        ("contract_number: C-1\n", "{p}: contractor: required key missing"),
        ("contractor: ACME\n", "{p}: contracts: required key missing"),
        (
            "contractor: ACME\ncontracts:\n  - {order_numbers: [O-1]}\n",
            "{p}: contracts[0].contract_number: required key missing",
        ),
        ("- contractor: ACME\n", "{p}: (top level): expected keys and values (a mapping), not list"),
    ],
)
def test_far_context_errors_are_one_line_naming_file_and_key(
    tmp_path: Path, yaml_text: str, expected: str
) -> None:
    p = tmp_path / "ctx.yaml"
    p.write_text(yaml_text, encoding="utf-8")
    with pytest.raises(ReportInputError) as info:
        load_far_context(p)
    assert str(info.value).startswith(expected.format(p=p)), str(info.value)
    assert "\n" not in str(info.value)
    res = _run("report", estate_files()[1], "--document", "far", "--far-context", p, "--format", "md")
    assert res.exit_code == 2
    assert _err_lines(res) == [f"banscan: error: {info.value}"]


def test_unknown_key_lists_every_known_key(tmp_path: Path) -> None:
    p = tmp_path / "ctx.yaml"
    p.write_text("contractor: ACME\ncontract_number: C-1\nzzz: 1\n", encoding="utf-8")
    with pytest.raises(ReportInputError) as info:
        load_far_context(p)
    known = str(info.value).split("known: ", 1)[1].rstrip(")").split(", ")
    # the single-contract shortcut keys are known at the top level too
    assert set(known) == {
        *_keys(FarContext),
        "contract_number",
        "order_numbers",
        "contracting_officer",
        "agency",
    }
    assert "did you mean" not in str(info.value)


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        (
            "ownr: it-security\n",
            "{p}: ownr: unknown key (did you mean owner? known: approved_alternatives, owner, due_date)",
        ),
        (
            "approved_alternatives:\n  - {name: X, platforms: [linux], categories: [endpoint-protection], instal: {}}\n",
            "{p}: approved_alternatives[0].instal: unknown key (did you mean install? known: name, platforms, ",
        ),
        (
            "approved_alternatives:\n  - {name: X, platforms: [linux]}\n",
            "{p}: approved_alternatives[0].categories: required key missing",
        ),
        (
            "approved_alternatives:\n  - {name: X, platforms: [linux], categories: [antivirus]}\n",
            "{p}: approved_alternatives[0].categories: Value error, unknown category(ies) ['antivirus']",
        ),
        ("due_date: next week\n", "{p}: due_date: Input should be a valid date"),
    ],
)
def test_config_errors_are_one_line_for_plan_and_report(
    tmp_path: Path, yaml_text: str, expected: str
) -> None:
    p = tmp_path / "org.yaml"
    p.write_text(yaml_text, encoding="utf-8")
    with pytest.raises(ReportInputError) as info:
        load_plan_config(p)
    assert str(info.value).startswith(expected.format(p=p)), str(info.value)
    assert "\n" not in str(info.value)
    late = estate_files()[1]
    for args in (("plan", late, "--config", p), ("report", late, "--format", "md", "--config", p)):
        res = _run(*args)
        assert res.exit_code == 2, args
        assert _err_lines(res) == [f"banscan: error: {info.value}"]


def test_existing_contexts_still_load() -> None:
    ctx = load_far_context(far_context_file())  # the single-contract shortcut form
    assert ctx.contracts[0].contract_number == "47QTCA-22-D-00AB"
