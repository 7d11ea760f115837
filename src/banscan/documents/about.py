"""Who a report or plan is for and from: organisation, logo, preparer, date of preparation, and
the attestation the certifying person signs.

`banscan report --about FILE` and `banscan plan --about FILE` read a YAML file (every key
optional; `banscan report --about-template` prints this example, commented, from
`yaml_inputs.ABOUT_TEMPLATE`):

    organisation: Example Federal Services LLC
    unit: Security Operations
    logo: logo.png            # PNG or SVG, at most 512 KiB; relative to this file
    preparer: {name: Pat Lee, title: Compliance Analyst, email: pat.lee@example.com}
    prepared: 2024-11-12      # default: today
    attestation: I certify that …   # default: the standard text of the document
    certifier: {name: Dana Whitfield, title: Chief Information Security Officer}

Options (`--organisation`, `--unit`, `--logo`, `--preparer`, `--preparer-title`,
`--preparer-email`, `--prepared`, `--certifier`, `--certifier-title`, `--attestation`)
override the file's values. The logo is embedded as a `data:` URI, so the document stays one
self-contained file; an unreadable or unsupported logo is refused with one line naming it.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from banscan.documents.yaml_inputs import ReportInputError, load_yaml_config

LOGO_MAX_BYTES = 512 * 1024
_PNG = b"\x89PNG\r\n\x1a\n"
_SVG_START = re.compile(rb"^\s*(?:<\?xml[^>]*\?>\s*)?(?:<!--.*?-->\s*|<!DOCTYPE[^>]*>\s*)*<svg[\s>]", re.S)

REPORT_ATTESTATION = (
    "I certify that this report was prepared from the scan results listed under Inputs, and that "
    "to the best of my knowledge and belief it is accurate and complete."
)
PLAN_ATTESTATION = (
    "I have reviewed this transition plan and approve it: the steps, owners and dates above are "
    "the ones this organisation will carry out."
)


class Person(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = ""
    title: str = ""
    email: str = ""

    @property
    def line(self) -> str:
        """ "Pat Lee, Compliance Analyst (pat.lee@example.com)", or ""."""
        text = ", ".join(x for x in (self.name, self.title) if x)
        return f"{text} ({self.email})" if self.email and text else text or self.email


def _person(value: Any) -> Any:
    return {"name": value} if isinstance(value, str) else value


class AboutFile(BaseModel):
    """The `--about` YAML file."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    extra_keys: ClassVar[tuple[str, ...]] = ("organization",)  # US spelling

    organisation: str = Field(default="", validation_alias=AliasChoices("organisation", "organization"))
    unit: str = ""
    logo: str = ""
    preparer: Person = Field(default_factory=Person)
    prepared: dt.date | None = None
    attestation: str = ""
    certifier: Person = Field(default_factory=Person)

    @field_validator("preparer", "certifier", mode="before")
    @classmethod
    def _name_alone(cls, value: Any) -> Any:
        """`preparer: Pat Lee` is a name alone; empty is nobody."""
        return Person() if value is None else _person(value)

    @field_validator("organisation", "unit", "logo", "attestation", mode="before")
    @classmethod
    def _empty(cls, value: Any) -> Any:
        return "" if value is None else value


@dataclass
class About:
    """What a document prints about its organisation, preparer and certifier."""

    organisation: str = ""
    unit: str = ""
    logo_uri: str = ""  # data: URI, or "" for no logo
    preparer: Person = field(default_factory=Person)
    prepared: str = field(default_factory=lambda: dt.date.today().isoformat())
    attestation: str = ""  # "" → the document's standard statement
    certifier: Person = field(default_factory=Person)

    def statement(self, kind: str) -> str:
        """The attestation text for a "report" or a "plan"."""
        return self.attestation or (PLAN_ATTESTATION if kind == "plan" else REPORT_ATTESTATION)


def logo_data_uri(path: Path, named_in: Path | None = None) -> str:
    """A PNG or SVG file as a data: URI; one-line errors name the file (and the YAML naming it)."""
    where = f"{named_in}: logo: {path}" if named_in else f"{path}"
    try:
        size = path.stat().st_size
        if size > LOGO_MAX_BYTES:
            raise ReportInputError(
                f"{where}: logo is {size // 1024} KiB; at most {LOGO_MAX_BYTES // 1024} KiB is embedded"
            )
        data = path.read_bytes()
    except OSError as exc:
        raise ReportInputError(f"{where}: cannot read logo: {exc.strerror or exc}") from None
    if data.startswith(_PNG):
        mime = "image/png"
    elif _SVG_START.match(data[:4096]):
        mime = "image/svg+xml"
    else:
        raise ReportInputError(f"{where}: logo is neither a PNG nor an SVG file")
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


def resolve_about(
    path: Path | None = None,
    *,
    organisation: str | None = None,
    unit: str | None = None,
    logo: Path | None = None,
    preparer: str | None = None,
    preparer_title: str | None = None,
    preparer_email: str | None = None,
    prepared: str | None = None,
    attestation: str | None = None,
    certifier: str | None = None,
    certifier_title: str | None = None,
) -> About:
    """The `--about` file (if any) with the options laid over it; ReportInputError names the file
    and the key, or the option."""
    f = load_yaml_config(path, AboutFile) if path is not None else AboutFile()
    if prepared is not None:
        try:
            prepared_day: dt.date | None = dt.date.fromisoformat(prepared)
        except ValueError:
            raise ReportInputError(f"--prepared {prepared}: expected a date, YYYY-MM-DD") from None
    else:
        prepared_day = f.prepared
    if logo is not None:
        logo_uri = logo_data_uri(logo)
    elif f.logo:
        base = path.parent if path is not None else Path()
        logo_uri = logo_data_uri(base / f.logo, named_in=path)
    else:
        logo_uri = ""

    def pick(option: str | None, value: str) -> str:
        return value if option is None else option.strip()

    return About(
        organisation=pick(organisation, f.organisation),
        unit=pick(unit, f.unit),
        logo_uri=logo_uri,
        preparer=Person(
            name=pick(preparer, f.preparer.name),
            title=pick(preparer_title, f.preparer.title),
            email=pick(preparer_email, f.preparer.email),
        ),
        prepared=(prepared_day or dt.date.today()).isoformat(),
        attestation=" ".join(pick(attestation, f.attestation).split()),
        certifier=Person(
            name=pick(certifier, f.certifier.name),
            title=pick(certifier_title, f.certifier.title),
            email=f.certifier.email,
        ),
    )


__all__ = [
    "LOGO_MAX_BYTES",
    "About",
    "AboutFile",
    "Person",
    "logo_data_uri",
    "resolve_about",
]
