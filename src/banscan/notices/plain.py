"""The plain-text part: 72 columns, underlined headings and indented items, so that a terminal
mail client (mutt, alpine) shows it as a document, not as one long paragraph."""

from __future__ import annotations

import re
import textwrap

from banscan.notices.model import NoticeContent, NoticeDeadline, NoticeRegulation
from banscan.notices.words import when_text

WIDTH = 72


def _fill(text: str, indent: str = "", *, first: str | None = None) -> str:
    return textwrap.fill(
        text,
        width=WIDTH,
        initial_indent=indent if first is None else first,
        subsequent_indent=indent,
        break_long_words=False,  # links stay whole
        break_on_hyphens=False,
    )


def _heading(text: str) -> list[str]:
    return ["", text, "=" * len(text), ""]


def _duty(d: NoticeDeadline) -> list[str]:
    return [_fill(when_text(d), "    ", first="  * "), _fill(d.action, "    "), ""]


def _regulation(r: NoticeRegulation) -> list[str]:
    where = "" if r.jurisdiction == "US" else f" ({r.jurisdiction})"
    lines = [_fill(f"{r.short}{where}"), _fill(r.citation, "  "), _fill(f"Authority: {r.authority}", "  ")]
    if r.covers:
        lines.append(_fill("Covers: " + ", ".join(r.covers), "  "))
    lines.append("")
    for d in r.deadlines:
        lines += _duty(d)
    for e in r.exemptions:
        lines.append(_fill(f"Exempt: {e}", "    ", first="  "))
    if r.source_url:
        lines.append(_fill(f"Source: {r.source_url}", "  "))
    return [*lines, ""]


def render_text(c: NoticeContent, ack_url: str | None = None) -> str:
    """The text body; with `ack_url`, ending with the acknowledgement link."""
    lines = [
        _fill(f"Notice from {c.coordinator} to {c.member}"),
        _fill(
            f"For {c.role_label} in {c.jurisdiction}, as of {c.as_of.isoformat()} (catalog {c.catalog_version})"
        ),
    ]
    for para in c.extra.split("\n\n") if c.extra else []:
        lines += ["", _fill(para)]
    lines += _heading("What is banned")
    for p in c.packs:
        if p.title:
            lines.append(_fill(p.title))
        lines.append(_fill(p.description, "  "))
        if p.last_permitted_update:
            day = p.last_permitted_update.isoformat()
            lines.append(_fill(f"From {day} its products may get no signature or codebase updates.", "  "))
        lines.append("")
    lines += _heading(f"What {c.role_label} must do")
    for r in c.regulations:
        lines += _regulation(r)
    if c.alternatives:
        lines += _heading("Alternatives (built-in first; listing is not an endorsement)")
        for a in c.alternatives:
            built = "; built in" if a.builtin else ""
            lines.append(
                _fill(f"{a.name} ({a.vendor}; {', '.join(a.platforms)}{built})", "    ", first="  * ")
            )
            if a.note:
                lines.append(_fill(a.note, "    "))
    lines += _heading("More")
    lines.append(_fill(f"What is banned, since when and what to do: {c.explainer_url}"))
    if ack_url:
        lines += _heading("Acknowledge this notice")
        lines.append(
            _fill(f"Open this link to tell {c.coordinator} that {c.member} has received this notice:")
        )
        lines += ["", ack_url, "", _fill("The link works once and expires.")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n") + "\n"
