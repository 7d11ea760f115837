"""Auditable exceptions: a finding that an approver accepted, until the acceptance expires.

The file is YAML (or JSON) with a list under `exceptions:`; each entry names a host (or a
glob of hosts), a product id (or glob), the reason, who approved it and when it expires.
An excepted finding is still reported, as `accepted`, with the exception attached; an
expired exception stops applying and the finding returns to its own verdict.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from banscan.models import Finding, Verdict


class ExceptionEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = Field(min_length=1, description="host name or glob, e.g. 'lab-*'")
    product: str = Field(min_length=1, description="catalog product id or glob")
    reason: str = Field(min_length=1)
    approver: str = Field(min_length=1)
    expires: dt.date
    ticket: str | None = None


class ExceptionsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    exceptions: list[ExceptionEntry] = Field(default_factory=list)


class ExceptionsError(Exception):
    pass


def load_exceptions(path: Path) -> list[ExceptionEntry]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ExceptionsError(f"{path}: cannot read: {exc}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ExceptionsError(f"{where}: invalid YAML: {getattr(exc, 'problem', exc)}") from exc
    try:
        return ExceptionsFile.model_validate(raw or {}).exceptions
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(x) for x in err["loc"])
        raise ExceptionsError(f"{path}: {loc}: {err['msg']}") from None


def apply_exceptions(findings: list[Finding], entries: list[ExceptionEntry], as_of: dt.date) -> None:
    """Mark findings covered by a live exception as accepted (in place)."""
    for f in findings:
        if f.verdict == Verdict.INFORMATIONAL:
            continue
        for e in entries:
            if not (
                fnmatch.fnmatchcase(f.host.lower(), e.host.lower())
                and fnmatch.fnmatchcase(f.product, e.product)
            ):
                continue
            if e.expires < as_of:
                continue
            f.exception = {
                "reason": e.reason,
                "approver": e.approver,
                "expires": e.expires.isoformat(),
                "original_verdict": f.verdict.value,
                **({"ticket": e.ticket} if e.ticket else {}),
            }
            f.verdict = Verdict.ACCEPTED
            break
