"""The human-readable table (Rich): findings coloured by verdict, a summary, and read errors."""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table
from rich.text import Text

from banscan.models import VERDICT_SEVERITY, Finding, ScanResult, Verdict
from banscan.output.csv import describe_evidence
from banscan.policy import deadlines

VERDICT_STYLES: dict[Verdict, str] = {
    Verdict.COVERED: "bold red",
    Verdict.REVIEW: "yellow",
    Verdict.REMNANT: "magenta",
    Verdict.INFORMATIONAL: "cyan",
    Verdict.ACCEPTED: "green",
}
VERDICT_ORDER = VERDICT_SEVERITY
EVIDENCE_WIDTH = 60
WIDE = 120  # narrower terminals get one block of lines per finding instead of the table


def render(
    result: ScanResult, *, width: int = 120, color: bool = False, errors_on_stderr: bool = False
) -> str:
    """The table as text; `color=True` keeps the styles as ANSI escapes for a terminal.
    `errors_on_stderr`: the input errors were already printed there, one line each, so the
    table counts them instead of printing each a second time."""
    console = Console(
        file=io.StringIO(),
        width=width,
        force_terminal=color,
        color_system="standard" if color else None,
        record=True,
        highlight=False,
        emoji=False,
    )
    hosts = _host_count(result)
    errors = error_lines(result)
    if result.findings:
        if width >= WIDE:
            console.print(_table(result))
        else:
            for block_line in _stacked(result):
                console.print(block_line)
        console.print(Text(summary_line(result)))
    elif errors and not any(t.records for t in result.targets):
        # Nothing was read: "no banned software" would claim a clean estate nobody looked at.
        console.print(
            Text(f"Nothing could be read ({_count(len(errors), 'input error')}).", style="bold red")
        )
        if errors_on_stderr:
            return console.export_text(styles=color)
    else:
        console.print(Text(f"No banned software found on {_hosts(hosts)}.", style="bold green"))
    if errors_on_stderr:
        if errors:
            console.print(Text(f"{_count(len(errors), 'input error')}, reported on stderr.", style="red"))
    else:
        for line in errors:
            console.print(Text(line, style="red"))
    return console.export_text(styles=color)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def summary_line(result: ScanResult) -> str:
    """E.g. "2 hosts scanned, 1 with findings: 3 covered, 1 review"."""
    with_findings = len({f.host for f in result.findings})
    counts = result.summary()["by_verdict"]
    parts = [f"{counts[v.value]} {v.value}" for v in VERDICT_ORDER if counts.get(v.value)]
    text = f"{_hosts(_host_count(result))} scanned, {with_findings} with findings"
    return text + (": " + ", ".join(parts) if parts else "")


def error_lines(result: ScanResult) -> list[str]:
    return [f"Error reading {t.target} ({t.format}): {err}" for t in result.targets for err in t.errors]


def _table(result: ScanResult) -> Table:
    title = f"banscan findings (catalog {result.catalog_version}, as of {result.as_of}, role {result.role})"
    table = Table(title=title, title_justify="left", show_lines=False)
    table.add_column("Host", no_wrap=True)
    table.add_column("Product")
    table.add_column("Verdict", no_wrap=True)
    table.add_column("Confidence", no_wrap=True)
    table.add_column("Evidence")
    table.add_column("Deadline", no_wrap=True)
    table.add_column("No updates for", no_wrap=True)
    for f in result.findings:
        style = VERDICT_STYLES[f.verdict]
        table.add_row(
            Text(f.host),
            Text(_product(f)),
            Text(f.verdict.value, style=style),
            Text(f.confidence.value),
            Text(_evidence(f)),
            _deadline(f),
            Text(f"{f.definitions_age_days} days" if f.definitions_age_days else "-"),
            style=style if f.verdict is Verdict.COVERED else None,
        )
    return table


def _stacked(result: ScanResult) -> list[Text]:
    """One block per finding for narrow terminals (80 columns): host, verdict and what is due on
    the first line, the product and the strongest evidence indented below — nothing cut short."""
    title = f"banscan findings (catalog {result.catalog_version}, as of {result.as_of}, role {result.role})"
    lines = [Text(title, style="bold"), Text("")]
    for f in result.findings:
        style = VERDICT_STYLES[f.verdict]
        head = Text()
        head.append(f.host, style="bold")
        head.append("  ")
        head.append(f.verdict.value, style=style)
        head.append(f" ({f.confidence.value})")
        due = _deadline(f)
        if due.plain.startswith("overdue"):
            head.append("  ")
            head.append(due)
        elif due.plain != "-":
            head.append(f"  due {due.plain}")
        if f.definitions_age_days:
            head.append(f"  no updates for {f.definitions_age_days} days")
        lines.append(head)
        lines.append(Text("  " + _product(f)))
        lines.append(Text("  evidence " + _evidence(f, limit=None), style="dim"))
    return lines


def _deadline(f: Finding) -> Text:
    dl = deadlines.of(f)
    if dl.overdue_since:
        return Text(dl.text(), style="bold red")
    return Text(dl.next_deadline or "-")


def _product(f: Finding) -> str:
    name = f"{f.product_name} {f.version}" if f.version else f.product_name
    if f.brand and f.brand != f.product_name:
        name += f" (sold as {f.brand})"
    if f.verdict is Verdict.ACCEPTED and f.exception:
        until = f.exception.get("expires")
        name += f" [exception{' until ' + until if until else ''}]"
    return name


def _evidence(f: Finding, limit: int | None = EVIDENCE_WIDTH) -> str:
    if not f.evidence:
        return "0"
    first = describe_evidence(f.evidence[0])
    if limit is not None and len(first) > limit:
        first = first[: limit - 1] + "…"
    return f"{len(f.evidence)}: {first}"


def _host_count(result: ScanResult) -> int:
    return len(set(result.hosts) | {f.host for f in result.findings})


def _hosts(n: int) -> str:
    return f"{n} host" if n == 1 else f"{n} hosts"
