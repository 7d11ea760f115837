"""Reports an auditor or contracting officer can file, and transition plans per host.

`build_context` folds one or more result files (see `load`) and the catalog into one
`ReportContext`; the HTML, PDF and Markdown writers, the FAR 52.204-23 and BOD 17-01
documents all render that same context, so they never disagree.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from banscan.catalog.schema import Catalog, CatalogSource, Regulation
from banscan.documents.about import About
from banscan.documents.load import LoadedResult, Merged, merge
from banscan.documents.yaml_inputs import ReportInputError, load_yaml_config
from banscan.models import VERDICT_NAMES, Evidence, Finding, Obligation, ObligationStatus, ScanResult, Verdict
from banscan.output.csv import describe_evidence
from banscan.policy import deadlines
from banscan.policy.calendar import parse_date
from banscan.policy.engine import definitions_age, obligations_for, update_cutoffs
from banscan.policy.periods import period_text, where_text

VERDICT_ORDER = VERDICT_NAMES
VERDICT_LABELS = {
    "covered": "Covered",
    "review": "Review",
    "remnant": "Remnant",
    "informational": "Informational",
    "accepted": "Accepted (exception)",
}
PLATFORM_LABELS = {
    "windows": "Windows",
    "macos": "macOS",
    "linux": "Linux",
    "android": "Android",
    "ios": "iOS",
    "appliance": "Appliance",
    "unknown": "Unknown",
}


@dataclass
class ObligationView:
    obligation: Obligation
    state: ObligationStatus  # the status as of the report date (a passed deadline makes it overdue)

    @property
    def regulation(self) -> str:
        return self.obligation.regulation


@dataclass
class FindingView:
    finding: Finding
    first_identified: str
    obligations: list[ObligationView]
    next_deadline: str | None  # the earliest deadline still ahead
    deadline_state: ObligationStatus | None  # overdue | due | None
    overdue_since: str | None = None  # the earliest deadline passed and still owed
    days_overdue: int | None = None

    @property
    def evidence(self) -> list[Evidence]:
        return self.finding.evidence

    @property
    def label(self) -> str:
        f = self.finding
        return f"{f.product_name} {f.version}" if f.version else f.product_name

    def evidence_lines(self) -> list[str]:
        return [describe_evidence(e) for e in self.finding.evidence]


@dataclass
class HostView:
    name: str
    platform: str
    site: str | None
    result_path: str
    as_of: str
    findings: list[FindingView] = field(default_factory=list)

    @property
    def worst(self) -> str:
        verdicts = {fv.finding.verdict.value for fv in self.findings}
        for v in VERDICT_ORDER:
            if v in verdicts:
                return v
        return "clean"

    @property
    def platform_label(self) -> str:
        return PLATFORM_LABELS.get(self.platform, self.platform)


@dataclass
class RuleView:
    id: str
    kind: str
    effective: str
    action: str
    deadline: str  # a date, "N business days from identification", or ""
    roles: list[str]
    applies_to_role: bool


@dataclass
class DutyView:
    """One obligation of a finding under a regulation: the rule it comes from, its state as of
    the report date and its deadline."""

    rule: str  # the catalog rule id ("report-3-days"), or "" when none matches (an exemption)
    kind: str  # prohibition, reporting, advisory, action, or "exempt"
    state: ObligationStatus
    deadline: str


@dataclass
class AppliesView:
    """A finding a regulation applies to, once, with every obligation it carries under it."""

    host: str
    product: str
    duties: list[DutyView]

    @property
    def state(self) -> str:
        """The most urgent state of its obligations."""
        states = {d.state for d in self.duties}
        return next((s for s in ObligationStatus if s in states), "")


@dataclass
class RegulationView:
    id: str
    short: str
    title: str
    citation: str
    authority: str
    jurisdiction: str
    note: str
    exemptions: list[str]
    rules: list[RuleView]
    applies: list[AppliesView]  # one per finding, with all of its obligations under this regulation
    states: dict[ObligationStatus, int]  # obligations per state
    sources: list[CatalogSource]

    @property
    def status(self) -> str:
        """The most urgent state of any of its obligations (ObligationStatus is in that order)."""
        for s in ObligationStatus:
            if self.states.get(s):
                return s
        return "no findings"


@dataclass
class ExceptionView:
    host: str
    product: str
    reason: str
    approver: str
    expires: str
    ticket: str
    original_verdict: str
    days_left: int | None


@dataclass
class TrendPoint:
    """One estate on one scan date: each of its hosts counted once, from the newest result naming
    it as of that date (a host's findings carry forward until its next scan)."""

    day: str
    estate: str
    hosts: int
    hosts_with_findings: int
    hosts_with_covered: int
    by_verdict: dict[str, int]

    @property
    def covered(self) -> int:
        return self.by_verdict.get("covered", 0)

    @property
    def findings(self) -> int:
        return sum(self.by_verdict.values())


ALL_HOSTS = "All hosts"
NO_SITE = "(no site)"


def _result_day(r: LoadedResult) -> dt.date | None:
    return parse_date(r.result.as_of) or parse_date(r.result.generated_at[:10])


def estate_trend(merged: Merged, sites: dict[str, str] | None = None) -> list[TrendPoint]:
    """Findings per estate and scan date. An estate is a site of the `--sites` mapping (hosts it
    does not name are "(no site)"), else every host given. Results whose findings are unknown,
    or that have no date, add nothing."""
    dated = sorted(
        ((day, r) for r in merged.results if r.findings_known and (day := _result_day(r)) is not None),
        key=lambda dr: (dr[0], dr[1].sort_key),
    )
    current: dict[str, Counter[str]] = {}  # host → verdict counts from its newest result so far
    out: list[TrendPoint] = []
    i = 0
    for day in sorted({d for d, _ in dated}):
        while i < len(dated) and dated[i][0] <= day:
            r = dated[i][1].result
            for h in dict.fromkeys([*r.hosts, *(f.host for f in r.findings)]):
                current[h] = Counter(f.verdict.value for f in r.findings if f.host == h)
            i += 1
        estates: dict[str, list[Counter[str]]] = {}
        for h, counts in current.items():
            estate = (sites.get(h.lower()) or NO_SITE) if sites is not None else ALL_HOSTS
            estates.setdefault(estate, []).append(counts)
        for estate, hosts in estates.items():
            out.append(
                TrendPoint(
                    day=day.isoformat(),
                    estate=estate,
                    hosts=len(hosts),
                    hosts_with_findings=sum(1 for c in hosts if sum(c.values())),
                    hosts_with_covered=sum(1 for c in hosts if c.get("covered")),
                    by_verdict={v: sum(c.get(v, 0) for c in hosts) for v in VERDICT_ORDER},
                )
            )
    return sorted(out, key=lambda p: (p.estate == NO_SITE, p.estate.lower(), p.day))


def legal_sources(sources: list[CatalogSource]) -> list[CatalogSource]:
    """The legal sources among `sources`, in their order."""
    return [s for s in sources if s.topic == "legal"]


def technical_sources(sources: list[CatalogSource]) -> list[CatalogSource]:
    """The technical sources among `sources`, in their order."""
    return [s for s in sources if s.topic != "legal"]


@dataclass
class ReportContext:
    title: str
    as_of: str
    generated_at: str
    role: str
    roles: list[str]
    merged: Merged
    catalog: Catalog
    hosts: list[HostView]
    findings: list[FindingView]
    by_verdict: dict[str, int]
    hosts_scanned: int
    hosts_unnamed: int
    hosts_with_findings: int
    hosts_with_covered: int
    overdue: int
    due: int
    overdue_hosts: int
    next_due: str | None
    definitions_age_max: int | None
    # "in the US since 2024-09-29": the cut-offs of the findings' packs ("" when none stops updates)
    definitions_since: str
    regulations: list[RegulationView]
    exceptions: list[ExceptionView]
    trend: list[TrendPoint]
    sources: list[CatalogSource]
    collectors: list[str]
    targets: list[tuple[str, str, str, int, list[str]]]  # file, target, format, records, errors
    errors: list[str]
    warnings: list[str]
    sites: dict[str, str] | None
    charts: dict[str, object] = field(default_factory=dict)  # name → charts.Chart (filled by html)
    about: About = field(default_factory=About)  # organisation, preparer, attestation (`--about`)

    @property
    def trend_days(self) -> list[str]:
        """The scan dates of the trend, oldest first."""
        return sorted({p.day for p in self.trend})

    @property
    def findings_known(self) -> bool:
        return self.merged.findings_known

    @property
    def legal_sources(self) -> list[CatalogSource]:
        """Rules, their texts and legal commentary, listed apart from technical sources."""
        return legal_sources(self.sources)

    @property
    def technical_sources(self) -> list[CatalogSource]:
        """Product, identifier and detection sources."""
        return technical_sources(self.sources)

    @property
    def incomplete(self) -> list[str]:
        return self.merged.missing

    @property
    def clean(self) -> bool:
        """True when every input's findings are known and none were found."""
        return self.findings_known and not self.findings

    @property
    def catalog_versions(self) -> list[str]:
        return sorted({r.result.catalog_version for r in self.merged.results})

    @property
    def banscan_versions(self) -> list[str]:
        return sorted({r.result.banscan_version for r in self.merged.results})

    @property
    def packs(self) -> list[dict[str, str]]:
        """The packs (bans) the results were judged by: id, title and version, each once, in the
        order the results name them; none when the results do not record them."""
        seen: dict[tuple[str, str], dict[str, str]] = {}
        for r in self.merged.results:
            for p in r.result.packs:
                key = (str(p.get("id") or ""), str(p.get("version") or ""))
                if key[0] and key not in seen:
                    seen[key] = {"id": key[0], "title": str(p.get("title") or key[0]), "version": key[1]}
        return list(seen.values())


def pack_label(pack: dict[str, str]) -> str:
    """ "Kaspersky Lab software (kaspersky 2026.12.1)": a pack as documents name it."""
    ref = " ".join(x for x in (pack.get("id", ""), pack.get("version", "")) if x)
    title = pack.get("title") or pack.get("id", "")
    return f"{title} ({ref})" if ref and ref != title else title


def load_sites(path: Path) -> dict[str, str]:
    """A CSV mapping host → site: two columns (`host,site`), header optional."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ReportInputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    out: dict[str, str] = {}
    for n, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
            continue
        if len(row) < 2:
            raise ReportInputError(f"{path}:{n}: expected two columns host,site")
        host, site = row[0].strip(), row[1].strip()
        if n == 1 and host.lower() == "host" and site.lower() == "site":
            continue
        out[host.lower()] = site
    if not out:
        raise ReportInputError(f"{path}: no host,site rows")
    return out


_LINUX_COLLECTORS = {"dpkg", "rpm", "snap", "flatpak", "systemd", "init.d", "kmod", "process", "paths"}


def host_platforms(merged: Merged, catalog: Catalog) -> dict[str, str]:
    """Each host's OS: from the scan target when unambiguous, else from its evidence and products."""
    out: dict[str, str] = {}
    for host in merged.hosts:
        r = merged.host_result[host]
        votes: Counter[str] = Counter()
        oses = {t.format.split(":", 1)[1] for t in r.result.targets if ":" in t.format}
        hosts_in_result = {h for h in r.result.hosts}
        if len(oses) == 1 and len(r.result.targets) == 1 and len(hosts_in_result) == 1:
            votes[next(iter(oses))] += 100
        for f in r.result.findings:
            if f.host != host:
                continue
            for e in f.evidence:
                src = e.source
                if src.startswith("windows-"):
                    votes["windows"] += 3
                elif src.startswith("macos-"):
                    votes["macos"] += 3
                elif src in _LINUX_COLLECTORS:
                    votes["linux"] += 2 if src in ("process", "paths") else 3
                loc = e.location
                if loc.startswith(("HKLM\\", "HKCU\\", "HKEY_", "C:\\", "c:\\")):
                    votes["windows"] += 1
                elif loc.startswith(("/Applications/", "/Library/", "/Users/", "/System/", "/private/")):
                    votes["macos"] += 1
            try:
                plats = catalog.product(f.product).platforms
            except KeyError:
                plats = []
            if len(plats) == 1 and plats[0] in PLATFORM_LABELS:
                votes[plats[0]] += 1
        out[host] = votes.most_common(1)[0][0] if votes else "unknown"
    return out


def obligation_state(o: Obligation, as_of: dt.date | None) -> ObligationStatus:
    """The status as of the report date: a deadline of an obligation in effect that has passed is
    overdue."""
    if not o.status.in_effect or o.deadline is None or as_of is None:
        return o.status
    deadline = parse_date(o.deadline)
    if deadline is None:
        return o.status
    if deadline < as_of:
        return ObligationStatus.OVERDUE
    return ObligationStatus.DUE if o.status.overdue else o.status


def _cutoffs_text(catalog: Catalog, products: list[str]) -> str:
    return "; ".join(
        f"in {where_text(where)} since {day}" for day, where in update_cutoffs(catalog, products)
    )


def reevaluate(
    catalog: Catalog, f: Finding, result: ScanResult, day: dt.date | None, first_identified: str
) -> None:
    """Obligations of `f` as of the report day, counted from its earliest identification across
    all inputs (a later scan must not restart the clock), for the role and jurisdiction its
    result was evaluated for."""
    f.first_identified = first_identified
    if day is None:
        return
    f.obligations = obligations_for(
        catalog,
        f,
        result.role,
        day,
        identified=parse_date(first_identified),
        jurisdiction=result.jurisdiction,
    )
    f.definitions_age_days = definitions_age(catalog, f, day)


def build_context(
    results: list[LoadedResult],
    catalog: Catalog,
    *,
    as_of: dt.date | None = None,
    sites: dict[str, str] | None = None,
    title: str | None = None,
) -> ReportContext:
    """Everything a report says, computed once from the results and the catalog."""
    merged = merge(results)
    report_day = as_of or parse_date(merged.as_of)
    as_of_text = report_day.isoformat() if report_day else "unknown"
    roles = sorted({r.result.role for r in merged.results})
    role = merged.latest.result.role
    warnings: list[str] = []
    if len(roles) > 1:
        warnings.append(
            f"The results were evaluated for different roles ({', '.join(roles)}); "
            f"obligations are shown as each result states them."
        )
    versions = {r.result.catalog_version for r in merged.results}
    if versions - {catalog.meta.version, "unknown"}:
        warnings.append(
            f"Results were produced with catalog {', '.join(sorted(versions))}; regulation texts and "
            f"sources below are from catalog {catalog.meta.version}."
        )
    for m in merged.missing:
        warnings.append(f"Incomplete input — {m}. What the file did not record is unknown, not clean.")

    platforms = host_platforms(merged, catalog)
    host_views: dict[str, HostView] = {}
    for h in merged.hosts:
        r = merged.host_result[h]
        host_views[h] = HostView(
            name=h,
            platform=platforms.get(h, "unknown"),
            site=(sites or {}).get(h.lower()) if sites is not None else None,
            result_path=r.path,
            as_of=r.result.as_of,
        )
    views: list[FindingView] = []
    for f in sorted(
        merged.findings, key=lambda f: (f.host.lower(), VERDICT_ORDER.index(f.verdict.value), f.product)
    ):
        first = merged.first_seen.get((f.host, f.product), merged.host_result[f.host].result.as_of)
        reevaluate(catalog, f, merged.host_result[f.host].result, report_day, first)
        obls = [ObligationView(o, obligation_state(o, report_day)) for o in f.obligations]
        dl = deadlines.of(f)
        fv = FindingView(
            finding=f,
            first_identified=first,
            obligations=obls,
            next_deadline=dl.next_deadline,
            deadline_state=dl.state,
            overdue_since=dl.overdue_since,
            days_overdue=dl.days_overdue,
        )
        views.append(fv)
        host_views[f.host].findings.append(fv)

    by_verdict = {v: 0 for v in VERDICT_ORDER}
    for fv in views:
        by_verdict[fv.finding.verdict.value] += 1
    overdue = sum(1 for fv in views for ov in fv.obligations if ov.state.overdue)
    overdue_hosts = len({fv.finding.host for fv in views for ov in fv.obligations if ov.state.overdue})
    due_dates = sorted(
        ov.obligation.deadline
        for fv in views
        for ov in fv.obligations
        if ov.state.is_pending and ov.obligation.deadline
    )
    ages = [fv.finding.definitions_age_days for fv in views if fv.finding.definitions_age_days is not None]

    regulations = _regulations(catalog, views, roles)
    exceptions = _exceptions(views, report_day)
    trend = estate_trend(merged, sites)
    source_ids: list[str] = []
    for rv in regulations:
        source_ids.extend(s.id for s in rv.sources)
    for fv in views:
        try:
            source_ids.extend(catalog.product(fv.finding.product).sources)
        except KeyError:
            continue
    sources = []
    for sid in dict.fromkeys(source_ids):
        try:
            sources.append(catalog.source(sid))
        except KeyError:
            continue
    targets = [
        (r.path, t.target, t.format, t.records, list(t.errors))
        for r in merged.results
        for t in r.result.targets
    ]
    errors = [
        f"{t.target} ({t.format}, in {r.path}): {e}"
        for r in merged.results
        for t in r.result.targets
        for e in t.errors
    ]
    return ReportContext(
        title=title or "Banned software audit report",
        as_of=as_of_text,
        generated_at=dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        role=role,
        roles=roles,
        merged=merged,
        catalog=catalog,
        hosts=[host_views[h] for h in merged.hosts],
        findings=views,
        by_verdict=by_verdict,
        hosts_scanned=merged.hosts_scanned,
        hosts_unnamed=merged.hosts_unnamed,
        hosts_with_findings=len({fv.finding.host for fv in views}),
        hosts_with_covered=len({fv.finding.host for fv in views if fv.finding.verdict is Verdict.COVERED}),
        overdue=overdue,
        due=len(due_dates),
        overdue_hosts=overdue_hosts,
        next_due=due_dates[0] if due_dates else None,
        definitions_age_max=max(ages) if ages else None,
        definitions_since=_cutoffs_text(catalog, [fv.finding.product for fv in views]),
        regulations=regulations,
        exceptions=exceptions,
        trend=trend,
        sources=sources,
        collectors=sorted({e.source for fv in views for e in fv.finding.evidence}),
        targets=targets,
        errors=errors,
        warnings=warnings,
        sites=sites,
    )


def _rule_of(reg: Regulation | None, o: Obligation) -> tuple[str, str]:
    """(rule id, kind) of the catalog rule an obligation was evaluated from (by its action)."""
    if o.status is ObligationStatus.EXEMPT:
        return "", "exempt"
    action = " ".join(o.action.split())
    for rule in reg.obligations if reg is not None else []:
        if " ".join(rule.action.split()) == action:
            return rule.id, rule.kind
    return "", ""


def _regulations(catalog: Catalog, views: list[FindingView], roles: list[str]) -> list[RegulationView]:
    known = {r.id: r for r in catalog.regulations}
    applies: dict[str, list[AppliesView]] = {}
    states: dict[str, Counter[ObligationStatus]] = {}
    citations: dict[str, str] = {}
    for fv in views:
        rows: dict[str, AppliesView] = {}
        for ov in fv.obligations:
            o = ov.obligation
            row = rows.get(o.regulation)
            if row is None:
                row = rows[o.regulation] = AppliesView(fv.finding.host, fv.finding.product_name, [])
                applies.setdefault(o.regulation, []).append(row)
            rule, kind = _rule_of(known.get(o.regulation), o)
            row.duties.append(DutyView(rule=rule, kind=kind, state=ov.state, deadline=o.deadline or ""))
            states.setdefault(o.regulation, Counter())[ov.state] += 1
            citations.setdefault(o.regulation, o.citation)
    out: list[RegulationView] = []
    for reg_id in list(applies) + [r.id for r in catalog.regulations if r.id not in applies]:
        reg = known.get(reg_id)
        if reg is None:
            out.append(
                RegulationView(
                    id=reg_id,
                    short=reg_id,
                    title=reg_id,
                    citation=citations.get(reg_id, ""),
                    authority="",
                    jurisdiction="",
                    note="Not in the catalog used for this report.",
                    exemptions=[],
                    rules=[],
                    applies=applies.get(reg_id, []),
                    states=dict(states.get(reg_id, {})),
                    sources=[],
                )
            )
            continue
        if reg_id not in applies and not set(roles) & set(reg.binds):
            continue  # neither applies to these findings nor binds this role
        srcs = []
        for sid in reg.sources:
            try:
                srcs.append(catalog.source(sid))
            except KeyError:
                continue
        out.append(
            RegulationView(
                id=reg.id,
                short=reg.short,
                title=" ".join(reg.title.split()),
                citation=reg.citation,
                authority=reg.authority,
                jurisdiction=reg.jurisdiction,
                note=" ".join((reg.note or "").split()),
                exemptions=list(reg.exemptions),
                rules=[
                    RuleView(
                        id=rule.id,
                        kind=rule.kind,
                        effective=rule.effective.isoformat(),
                        action=" ".join(rule.action.split()),
                        deadline=rule.deadline.isoformat() if rule.deadline else period_text(rule),
                        roles=list(rule.roles),
                        applies_to_role=bool(set(rule.roles) & set(roles)),
                    )
                    for rule in reg.obligations
                ],
                applies=applies.get(reg_id, []),
                states=dict(states.get(reg_id, {})),
                sources=srcs,
            )
        )
    return out


def _exceptions(views: list[FindingView], day: dt.date | None) -> list[ExceptionView]:
    out = []
    for fv in views:
        exc = fv.finding.exception
        if not exc:
            continue
        expires = parse_date(exc.get("expires"))
        out.append(
            ExceptionView(
                host=fv.finding.host,
                product=fv.finding.product_name,
                reason=exc.get("reason", ""),
                approver=exc.get("approver", ""),
                expires=exc.get("expires", ""),
                ticket=exc.get("ticket", ""),
                original_verdict=exc.get("original_verdict", ""),
                days_left=(expires - day).days if expires and day else None,
            )
        )
    return out


__all__ = [
    "VERDICT_LABELS",
    "VERDICT_ORDER",
    "About",
    "AppliesView",
    "DutyView",
    "FindingView",
    "HostView",
    "ReportContext",
    "ReportInputError",
    "TrendPoint",
    "build_context",
    "estate_trend",
    "load_sites",
    "load_yaml_config",
    "pack_label",
]
