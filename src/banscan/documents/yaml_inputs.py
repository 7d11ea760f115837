"""The YAML inputs of `banscan report` and `banscan plan`: commented templates and error lines.

`--far-context FILE` is read into `far.FarContext`, `--config FILE` into `plan.PlanConfig`,
`--about FILE` into `about.AboutFile` (all through `load_yaml_config`, below; `banscan.documents`
exports it and `ReportInputError`).
`banscan report --far-context-template`, `banscan plan --config-template` and
`--about-template` (either command) print the templates below; each names every key, says
whether it is required and what it changes, and loads as it stands.

A file that does not validate is refused with one line naming the file and the key:
`ctx.yaml: contract_numbr: unknown key (did you mean contract_number? known: …)` or
`ctx.yaml: contractor: required key missing`.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar, get_args

import yaml
from pydantic import BaseModel, ValidationError


class ReportInputError(Exception):
    """A report input other than a result file (sites CSV, context YAML) is unusable."""


_M = TypeVar("_M", bound=BaseModel)


def load_yaml_config(path: Path, model: type[_M]) -> _M:
    """A YAML settings file validated by `model`; errors name the file and the place."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReportInputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise ReportInputError(f"{where}: invalid YAML: {getattr(exc, 'problem', exc)}") from None
    try:
        return model.model_validate(raw or {})
    except ValidationError as exc:
        raise ReportInputError(describe_error(path, model, exc)) from None


FAR_CONTEXT_TEMPLATE = """\
# banscan report --far-context FILE: the contract data a scan cannot know, for the FAR
# reports (--document far, or FAR sections in the audit report): one per reporting clause that
# applies to the findings, e.g. FAR 52.204-23(c) (Kaspersky) or FAR 52.204-25(d) (section 889).
# Print this template with `banscan report --far-context-template`. Unknown keys are refused.
# Dates are YYYY-MM-DD; an empty value (key: with nothing after it) means "not set".

# Required. The contractor's legal name, first line of the report.
contractor: Example Federal Services LLC
# Optional. Printed after the contractor's name.
cage_code: 1ABC2
uei: ZQGGHJH74DW7

# Optional. Who submits the report ("Reported by"). A blank name is listed under
# "To complete before submitting".
reporter:
  name: Pat Lee
  title: Contracts Manager
  email: pat.lee@example.com
  phone: +1 703 555 0142

# Required: at least one contract. Each contract gets its own report, listing the findings on
# the hosts it covers. For a single contract, contract_number, order_numbers,
# contracting_officer and agency may instead be given at the top level (without hosts).
contracts:
  - contract_number: 47QTCA-22-D-00AB   # required
    order_numbers: [47QFCA-24-F-0042]   # optional; a list (one string is accepted at the top level)
    contracting_officer: Jordan Smith   # optional
    agency: General Services Administration   # optional
    # Optional. Host names or globs (*, ?, [..]; case-insensitive) whose findings belong to
    # this contract. Default: every host.
    hosts: ["*"]

# Optional. What you know of the suppliers named in the reports (FAR 52.204-25(d) asks for
# their unique entity identifier and CAGE code "if known"). `name` is the supplier or brand as
# the report names it (e.g. Huawei Technologies Company, or Huawei); uei and cage_code optional.
suppliers:
  - name: Example Camera Supplier Inc.
    uei: ""
    cage_code: ""

# Optional. Date the covered articles were identified; it starts the first report (3 business
# days under 52.204-23, one under 52.204-25). Empty: each finding's first identification in the
# result files.
date_identified:
# Optional. How the articles were identified. Empty: "Automated scan with banscan <version>
# (catalog <version>)".
how_identified: ""
# Optional. Date the first report was submitted; the follow-up (10-business-day) report is
# due 10 business days after it. Empty: counted from identification, and the report says so.
initial_report_submitted:

# Optional, but the Contracting Officer expects them: left empty, each is listed under
# "To complete before submitting" and shown as "(to be completed)".
# Mitigation actions undertaken or recommended (first and follow-up reports), e.g.
#   Affected hosts isolated from the contract enclave; replacements being installed.
mitigation: ""
# Efforts undertaken to prevent use or submission of the covered article (10-business-day).
prevention_efforts: ""
# The reasons that led to its use or submission (10-business-day; 52.204-23 asks for them).
reasons: ""
# Additional efforts to prevent recurrence (10-business-day).
future_prevention: ""
"""

PLAN_CONFIG_TEMPLATE = """\
# banscan plan --config FILE (and banscan report --config FILE): your organisation's approved
# replacements, the owner of each step and a target date. Every key is optional.
# Print this template with `banscan plan --config-template`. Unknown keys are refused.

# Who carries out each step: the plan's owner column. Default: blank.
owner: it-security@example.com
# One target date (YYYY-MM-DD) for every step, instead of the dates from the findings (an
# exception's expiry, else the earliest open regulatory deadline). Empty: those dates.
due_date:

# Replacements your organisation approved. For each product, the first entry whose platforms
# and categories fit is the replacement the plan installs first (and the FAR mitigation and
# the BOD plan of action name); with none, the catalog's alternatives, built-in ones first.
approved_alternatives:
  - name: CrowdStrike Falcon   # required
    # Required. Some of: windows, macos, linux, android, ios, appliance, any.
    platforms: [windows, macos, linux]
    # Required. Catalog categories it replaces, e.g. endpoint-protection, management-agent,
    # vpn, password-manager, parental-control, server, mobile.
    categories: [endpoint-protection]
    # Optional. The install command per platform, shown with the plan's replace step.
    install:
      linux: sudo apt-get install -y falcon-sensor
    # Optional. Free text kept with the choice.
    note: Approved by the Change Advisory Board (CAB-2024-0412).
"""

ABOUT_TEMPLATE = """\
# banscan report --about FILE (and banscan plan --about FILE): who the document is for and
# from, and who certifies it. Every key is optional; unknown keys are refused. Options such as
# --organisation, --preparer or --logo override the values here.
# Print this template with `banscan report --about-template`.

# The organisation and unit the document is about, printed at its head and on every page.
organisation: Example Federal Services LLC
unit: Security Operations
# Optional. A PNG or SVG file (at most 512 KiB), relative to this file; embedded in the document.
logo:

# Who prepared the document, and when (YYYY-MM-DD; empty: the day it is written).
preparer:
  name: Pat Lee
  title: Compliance Analyst
  email: pat.lee@example.com
prepared:

# The statement the certifying person signs. Empty: the document's standard statement.
attestation:
# Who certifies it: printed under the signature and date lines.
certifier:
  name: Dana Whitfield
  title: Chief Information Security Officer
"""


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside an annotation such as `list[Contract]` or `Reporter | None`."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _model_at(model: type[BaseModel], loc: Sequence[int | str]) -> type[BaseModel]:
    """The model that holds the key at `loc` (list indexes stay on the item's model)."""
    current = model
    for part in loc:
        if isinstance(part, int):
            continue
        info = current.model_fields.get(part)
        sub = _model_in(info.annotation) if info is not None else None
        if sub is None:
            break
        current = sub
    return current


def known_keys(model: type[BaseModel]) -> list[str]:
    """The keys a mapping validated by `model` may hold (a model may accept shortcut keys)."""
    extra: tuple[str, ...] = getattr(model, "extra_keys", ())
    return list(dict.fromkeys([*model.model_fields, *extra]))


def _where(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def describe_error(path: Path, model: type[BaseModel], exc: ValidationError) -> str:
    """One line naming the file and the key: an unknown key first, else the first error."""
    errors = exc.errors()
    e = next((x for x in errors if x["type"] == "extra_forbidden"), errors[0])
    loc = tuple(e["loc"])
    where = _where(loc)
    if e["type"] == "extra_forbidden" and loc:
        known = known_keys(_model_at(model, loc[:-1]))
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        return f"{path}: {where}: unknown key ({hint}known: {', '.join(known)})"
    if e["type"] == "missing":
        return f"{path}: {where}: required key missing"
    if e["type"] in ("model_type", "model_attributes_type", "dict_type"):
        return f"{path}: {where}: expected keys and values (a mapping), not {type(e['input']).__name__}"
    return f"{path}: {where}: {e['msg']}"
