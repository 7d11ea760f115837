"""The audit report as Markdown (for wikis, tickets and pull requests): same content as the
HTML report, with the charts given as tables."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from banscan.catalog.schema import CatalogSource
from banscan.documents import PLATFORM_LABELS, VERDICT_ORDER, AppliesView, FindingView, ReportContext
from banscan.documents.bod import BodDocument
from banscan.documents.bod import render_markdown as bod_markdown
from banscan.documents.far import FarDocument, as_documents
from banscan.documents.far import render_markdown as far_markdown
from banscan.documents.html import VERDICT_MEANING
from banscan.documents.plan import markdown_attestation, markdown_header, markdown_packs
from banscan.documents.plan import md_escape as e
from banscan.policy.deadlines import overdue_text


def deadline_text(fv: FindingView) -> str:
    """ "**overdue** since 2024-10-04 (35 days)", "next 2024-12-05", or ""."""
    if fv.overdue_since:
        late = overdue_text(fv.overdue_since, fv.days_overdue, label="**overdue**")
        return f"{late}; next {fv.next_deadline}" if fv.next_deadline else late
    return f"next {fv.next_deadline}" if fv.next_deadline else ""


def _cell(text: str) -> str:
    return e(text).replace("\n", " ")


def _duties(a: AppliesView) -> str:
    """ "overdue 2024-10-04 (report-3-days); prohibited (contractor-prohibited)"."""
    parts = []
    for d in a.duties:
        text = str(d.state) + (f" {d.deadline}" if d.deadline else "")
        label = d.rule or d.kind
        parts.append(f"{text} ({_cell(label)})" if label else text)
    return "; ".join(parts)


def _counts_table(title: str, rows: dict[str, Counter[str]]) -> list[str]:
    cols = [v for v in VERDICT_ORDER if any(c.get(v) for c in rows.values())]
    out = [f"**{title}**", "", "| | " + " | ".join(cols) + " | total |", "|---|" + "---:|" * (len(cols) + 1)]
    for label, c in sorted(rows.items(), key=lambda kv: (-sum(kv[1].values()), kv[0])):
        out.append(
            f"| {_cell(label)} | " + " | ".join(str(c.get(v, 0)) for v in cols) + f" | {sum(c.values())} |"
        )
    return [*out, ""]


def render_markdown(
    ctx: ReportContext,
    *,
    far: FarDocument | Sequence[FarDocument] | None = None,
    bod: BodDocument | None = None,
) -> str:
    out = [
        f"# {e(ctx.title)}",
        "",
        *markdown_header(ctx.about),
        f"As of **{ctx.as_of}** · role {', '.join(ctx.roles)} · catalog {ctx.catalog.meta.version} · "
        f"{len(ctx.merged.results)} result file(s)",
        "",
        *markdown_packs(ctx.packs),
    ]
    out += [f"> **Warning:** {e(w)}\n" for w in ctx.warnings]
    out += ["## Summary", ""]
    if not ctx.findings_known:
        out += [
            f"> **Findings unknown.** {e('; '.join(ctx.incomplete))}. This report cannot say whether banned "
            "software is present on those hosts.",
            "",
        ]
    elif ctx.clean:
        out += [
            f"**No banned software found** on {ctx.hosts_scanned} host(s) scanned (as of {ctx.as_of}).",
            "",
        ]
    out += [
        f"- Hosts scanned: {ctx.hosts_scanned}",
        f"- Hosts with findings: {ctx.hosts_with_findings}",
        f"- Hosts with covered findings: {ctx.hosts_with_covered}",
        f"- Overdue obligations: {ctx.overdue}" + (f" on {ctx.overdue_hosts} host(s)" if ctx.overdue else ""),
        f"- Open deadlines: {ctx.due}" + (f" (next {ctx.next_due})" if ctx.next_due else ""),
    ]
    if ctx.definitions_age_max is not None:
        out.append(
            f"- Definitions age: up to {ctx.definitions_age_max} days without updates"
            f" (none permitted {ctx.definitions_since})"
        )
    if ctx.hosts_unnamed:
        out.append(
            f"- {ctx.hosts_unnamed} scanned host(s) had no findings (names not recorded in the results)"
        )
    out += ["", "| Verdict | Findings | Meaning |", "|---|---:|---|"]
    out += [f"| {v} | {ctx.by_verdict[v]} | {VERDICT_MEANING[v]} |" for v in VERDICT_ORDER]
    out += [f"| **total** | {len(ctx.findings)} | |", ""]

    if ctx.findings:
        out += ["## Findings by product, operating system and site", ""]
        by_product: dict[str, Counter[str]] = {}
        by_os: dict[str, Counter[str]] = {}
        by_site: dict[str, Counter[str]] = {}
        for hv in ctx.hosts:
            for fv in hv.findings:
                v = fv.finding.verdict.value
                by_product.setdefault(fv.finding.product_name, Counter())[v] += 1
                by_os.setdefault(PLATFORM_LABELS.get(hv.platform, hv.platform), Counter())[v] += 1
                by_site.setdefault(hv.site or "(no site)", Counter())[v] += 1
        out += _counts_table("By product", by_product)
        out += _counts_table("By operating system", by_os)
        if ctx.sites is not None:
            out += _counts_table("By site", by_site)
        else:
            out += ["_By site: no site mapping given (`--sites FILE`); omitted._", ""]
    days = ctx.trend_days
    if len(days) >= 2:
        out += [
            "## Trend",
            "",
            "Per scan date, each host counted from its newest result as of that date.",
            "",
            "| Date | Estate | Hosts | Hosts with findings | Hosts with covered | "
            + " | ".join(VERDICT_ORDER)
            + " |",
            "|---|---|---:|---:|---:|" + "---:|" * len(VERDICT_ORDER),
        ]
        for p in ctx.trend:
            counts = " | ".join(str(p.by_verdict[v]) for v in VERDICT_ORDER)
            out.append(
                f"| {p.day} | {_cell(p.estate)} | {p.hosts} | {p.hosts_with_findings} | "
                f"{p.hosts_with_covered} | {counts} |"
            )
        out.append("")
    elif len(days) == 1:
        covered = sum(p.covered for p in ctx.trend)
        out += [
            f"_Trend: every result given is from one date ({days[0]}): {covered} covered finding(s) "
            "on that date; a trend needs scans from two or more dates._",
            "",
        ]

    out += ["## Hosts", ""]
    if not ctx.hosts:
        out += ["No host has findings.", ""]
    for hv in ctx.hosts:
        site = f", site {e(hv.site)}" if hv.site else ""
        out += [
            f"### {e(hv.name)} — {hv.platform_label}{site}",
            "",
            f"Scanned as of {hv.as_of} ({e(hv.result_path)}).",
            "",
        ]
        if not hv.findings:
            out += ["No findings in the newest scan of this host.", ""]
            continue
        out += [
            "| Product | Verdict | Confidence | First identified | Deadline |",
            "|---|---|---|---|---|",
        ]
        for fv in hv.findings:
            f = fv.finding
            exc = (
                f" (exception until {f.exception.get('expires')}, {f.exception.get('approver')})"
                if f.exception
                else ""
            )
            dl = deadline_text(fv) or "—"
            out.append(
                f"| {_cell(fv.label)}{_cell(exc)} | {f.verdict.value} | {f.confidence.value} | {fv.first_identified} | {dl} |"
            )
        out.append("")
        for fv in hv.findings:
            out.append(f"Evidence for {e(fv.label)}:")
            out += ["- `" + ln.replace("`", "'") + "`" for ln in fv.evidence_lines()]
            out.append("")

    out += ["## Accepted exceptions", ""]
    if ctx.exceptions:
        out += ["| Host | Product | Reason | Approver | Expires | Ticket |", "|---|---|---|---|---|---|"]
        for x in ctx.exceptions:
            out.append(
                f"| {_cell(x.host)} | {_cell(x.product)} | {_cell(x.reason)} | {_cell(x.approver)} | {x.expires} | {_cell(x.ticket) or '—'} |"
            )
    else:
        out.append("No finding is under an exception.")
    out.append("")

    out += ["## Regulations", ""]
    for r in ctx.regulations:
        out += [f"### {e(r.short)}", "", f"- Title: {e(r.title)}", f"- Citation: {e(r.citation)}"]
        if r.authority:
            out.append(f"- Authority: {e(r.authority)} ({r.jurisdiction})")
        states = ", ".join(f"{n} {s}" for s, n in sorted(r.states.items()))
        out.append(f"- Status: {r.status}" + (f" ({states})" if states else ""))
        if r.exemptions:
            out.append("- Exemptions: " + "; ".join(e(x) for x in r.exemptions))
        out.append("")
        if r.rules:
            out += ["| Kind | From | Requirement | Deadline | Binds |", "|---|---|---|---|---|"]
            for rule in r.rules:
                binds = ", ".join(rule.roles) + ("" if rule.applies_to_role else " (not this role)")
                out.append(
                    f"| {rule.kind} | {rule.effective} | {_cell(rule.action)} | {rule.deadline or '—'} | {binds} |"
                )
            out.append("")
        if r.applies:
            out += ["Applies to:", "", "| Host | Product | Obligations |", "|---|---|---|"]
            out += [f"| {_cell(a.host)} | {_cell(a.product)} | {_duties(a)} |" for a in r.applies]
        else:
            out.append("Applies to no finding in these results.")
        out.append("")

    if as_documents(far):
        out += [far_markdown(as_documents(far)), ""]
    if bod:
        out += [bod_markdown(bod), ""]

    out += [
        "## Methodology",
        "",
        f"Findings by banscan {', '.join(ctx.banscan_versions)} with catalog {', '.join(ctx.catalog_versions)}; "
        f"this report uses catalog {ctx.catalog.meta.version} (released {ctx.catalog.meta.released}).",
        "",
        "| Result file | As of | Generated | Role | Catalog | Findings |",
        "|---|---|---|---|---|---:|",
    ]
    for lr in ctx.merged.results:
        n = str(len(lr.result.findings)) if lr.findings_known else "missing"
        out.append(
            f"| {_cell(lr.path)} | {lr.result.as_of} | {lr.result.generated_at} | {lr.result.role} | "
            f"{lr.result.catalog_version} | {n} |"
        )
    out += ["", "Targets:", "", "| Target | Format | Records | Errors |", "|---|---|---:|---:|"]
    out += [f"| {_cell(t)} | {fmt} | {rec} | {len(errs)} |" for _, t, fmt, rec, errs in ctx.targets]
    out += [
        "",
        "Collectors that produced evidence: " + (", ".join(f"`{c}`" for c in ctx.collectors) or "none"),
        "",
    ]
    out += ["### What was not scanned, and why", ""]
    out += [f"- {e(x)}" for x in ctx.errors] or ["Every target was read without errors."]
    out += ["", *_source_tables(ctx.legal_sources, ctx.technical_sources)]
    out += ["", *markdown_attestation(ctx.about, "report")]
    return "\n".join(out)


def _link(url: str | None) -> str:
    return url.replace("|", "%7C").replace(" ", "%20") if url else "—"


def _links(s: CatalogSource) -> str:
    """The original's address, then the copy consulted (if one was read in its place)."""
    out = _link(s.url) if s.url else "original address not recorded"
    if s.consulted:
        out += f"<br>copy consulted: {_link(s.consulted)}"
    return out


def _source_tables(legal: list[CatalogSource], technical: list[CatalogSource]) -> list[str]:
    """Legal sources (citation, publisher, date, link) apart from technical ones (publisher or
    repository, path, commit, link)."""
    out = ["### Legal sources", ""]
    if legal:
        out += ["| Citation | Title | Publisher | Date | Link |", "|---|---|---|---|---|"]
        out += [
            f"| {_cell(s.citation or '—')} | {_cell(s.title)} | {_cell(s.publisher)} | "
            f"{s.published.isoformat() if s.published else '—'} | {_links(s)} |"
            for s in legal
        ]
    else:
        out.append("None cited.")
    out += ["", "### Technical sources", ""]
    if technical:
        out += [
            "| Publisher / repository | Title | Path | Commit | Link | Strength |",
            "|---|---|---|---|---|---|",
        ]
        out += [
            f"| {_cell(s.repository or s.publisher)} | {_cell(s.title)} | "
            f"{f'`{_cell(s.path)}`' if s.path else '—'} | {f'`{s.commit}`' if s.commit else '—'} | "
            f"{_links(s)} | {s.strength.value} |"
            for s in technical
        ]
    else:
        out.append("None cited.")
    out.append("")
    return out
