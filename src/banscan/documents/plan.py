"""Transition plan: per host and product, the steps from *found* to *verified gone*.

Order of steps for each product on a host:

1. replace — install (or confirm) the approved replacement first: the organisation's
   `approved_alternatives:` from a config YAML when one fits the host's platform and the
   product's category, else the catalog's alternatives for that platform and category,
   built-in ones first;
2. prepare — what blocks removal: self-protection, an uninstall password, the management
   console that must run the uninstall task;
3. remove — commands built from the evidence (package names, MSI product codes, launchd plists,
   app bundles, leftover folders); nothing is guessed that the evidence does not show;
4. verify — re-scan the host and confirm the product is gone.

What the evidence cannot show comes from the catalog (a product's `removal`): its own prepare
and remove steps, the step a management agent puts on its vendor's other products on the same
host, and steps for every product of a vendor (its removal tool). A product without them gets
steps worded from its category and name.

Rendered as Markdown, as CSV for ticket import (one row per step) and as JSON. Due dates come
from the finding's obligations (the earliest open deadline), an exception's expiry, or the
config's `due_date`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import shlex
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, field_validator

from banscan.catalog.schema import PLATFORMS, Catalog, Category
from banscan.documents import About, FindingView, HostView, ReportContext, load_yaml_config, pack_label
from banscan.documents.removal import RemovalData, host_managers, removal_data, uniq_steps
from banscan.documents.vendors import covered_brand, pack_of
from banscan.models import Evidence, Finding, ObligationStatus, Verdict
from banscan.output.csv import safe_cell
from banscan.policy.calendar import parse_date
from banscan.policy.deadlines import days_text

PLAN_SCHEMA = "banscan/plan/v1"
# A step's due date: overdue (it has passed), due, or "" (no date).
DueState: TypeAlias = ObligationStatus | Literal[""]
CSV_COLUMNS = (
    "host",
    "site",
    "platform",
    "product",
    "product_name",
    "verdict",
    "step",
    "phase",
    "action",
    "command",
    "owner",
    "due_date",
    "due_state",
    "due_basis",
)
GUID_RE = re.compile(r"\{[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}")
_PLANNED = (Verdict.COVERED, Verdict.REVIEW, Verdict.REMNANT, Verdict.ACCEPTED)
# Categories removed without a replacement (nothing to replace, or a carved-out service).
_NO_REPLACEMENT = frozenset(
    {"browser-extension", "removal-tool", "certificate", "threat-intelligence", "training", "services"}
)
_LINUX_PKG = {
    "dpkg": "apt-get purge -y {}",
    "rpm": "rpm -e {}",
    "snap": "snap remove {}",
    "flatpak": "flatpak uninstall -y {}",
}


class ApprovedAlternative(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    platforms: list[str] = Field(min_length=1)
    categories: list[str] = Field(min_length=1)
    install: dict[str, str] = Field(default_factory=dict, description="platform → install command")
    note: str | None = None

    @field_validator("platforms")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        bad = [p for p in v if p not in PLATFORMS]
        if bad:
            raise ValueError(f"unknown platform(s) {bad}; expected some of {PLATFORMS}")
        return v

    @field_validator("categories")
    @classmethod
    def _known_categories(cls, v: list[str]) -> list[str]:
        known = [c.value for c in Category]
        bad = [c for c in v if c not in known]
        if bad:
            raise ValueError(f"unknown category(ies) {bad}; expected some of {known}")
        return v


class PlanConfig(BaseModel):
    """`--config FILE`: the organisation's approved replacements, default owner and target date."""

    model_config = ConfigDict(extra="forbid")

    approved_alternatives: list[ApprovedAlternative] = Field(default_factory=list)
    owner: str = ""
    due_date: dt.date | None = None


def load_plan_config(path: Path) -> PlanConfig:
    return load_yaml_config(path, PlanConfig)


@dataclass
class Step:
    step: int
    phase: str  # replace | prepare | remove | verify | review
    action: str
    command: str = ""
    owner: str = ""
    due_date: str = ""
    due_basis: str = ""
    due_state: DueState = ""  # overdue (due_date has passed) | due | "" (no date)

    @property
    def due_text(self) -> str:
        """ "overdue since 2017-10-13", "2024-12-05", or ""."""
        if self.due_state == ObligationStatus.OVERDUE and self.due_date:
            return f"overdue since {self.due_date}"
        return self.due_date


@dataclass
class ProductPlan:
    host: str
    site: str
    platform: str
    product: str
    product_name: str
    version: str | None
    verdict: str
    category: str
    replacement: str
    replacement_source: str  # "approved list" | "catalog (built in)" | "catalog" | ""
    steps: list[Step] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class HostPlan:
    host: str
    site: str
    platform: str
    products: list[ProductPlan] = field(default_factory=list)
    informational: list[str] = field(default_factory=list)


@dataclass
class Replacement:
    name: str
    source: str
    builtin: bool
    install: str = ""
    note: str = ""


def choose_replacement(
    catalog: Catalog, config: PlanConfig, platform: str, category: str, pack: str | None = None
) -> Replacement | None:
    """The organisation's approved choice first, else the catalog's (built-in first) — those of
    the product's own pack when it is known, so one ban's replacements are not offered for
    another's products."""
    if category in _NO_REPLACEMENT:
        return None
    for a in config.approved_alternatives:
        if (platform in a.platforms or "any" in a.platforms) and category in a.categories:
            return Replacement(a.name, "approved list", False, a.install.get(platform, ""), a.note or "")
    options = [
        a
        for a in catalog.alternatives
        if platform in a.platforms
        and category in {c.value for c in a.categories}
        and (pack is None or a.pack == pack)
    ]
    options.sort(key=lambda a: not a.builtin)  # stable: catalog order within each group
    if not options:
        return None
    best = options[0]
    return Replacement(
        best.name, "catalog (built in)" if best.builtin else "catalog", best.builtin, "", best.note or ""
    )


def _order(fv: FindingView) -> tuple[int, str]:
    f = fv.finding
    if f.verdict is Verdict.REMNANT:
        rank = 6
    elif f.product.endswith("generic") or "unlisted" in f.product:
        rank = 5
    elif f.category == "management":
        rank = 4
    elif f.category == "management-agent":
        rank = 3
    elif f.category == "browser-extension":
        rank = 2
    else:
        rank = 1
    return (rank, f.product)


def _due(fv: FindingView, config: PlanConfig, role: str, today: dt.date | None) -> tuple[str, str, DueState]:
    """(date, basis, state): the organisation's target, an exception's expiry, the deadline a rule
    has already passed (overdue: say so, never as a date still ahead), or the next one."""
    f = fv.finding
    if config.due_date:
        late = today is not None and config.due_date < today
        return (
            config.due_date.isoformat(),
            "organisation target date (config due_date)",
            ObligationStatus.OVERDUE if late else ObligationStatus.DUE,
        )
    if f.verdict is Verdict.ACCEPTED and f.exception and f.exception.get("expires"):
        expires = f.exception["expires"]
        late = today is not None and expires < today.isoformat()
        return (
            expires,
            f"exception expires (approved by {f.exception.get('approver', '?')})",
            (ObligationStatus.OVERDUE if late else ObligationStatus.DUE),
        )
    if fv.overdue_since:
        regs = sorted({ov.regulation for ov in fv.obligations if ov.state.overdue})
        ago = f" {days_text(fv.days_overdue)} ago" if fv.days_overdue else ""
        return fv.overdue_since, f"{', '.join(regs)}: deadline passed{ago}", ObligationStatus.OVERDUE
    if fv.next_deadline:
        regs = sorted({ov.regulation for ov in fv.obligations if ov.obligation.deadline == fv.next_deadline})
        return fv.next_deadline, ", ".join(regs), ObligationStatus.DUE
    return "", f"no dated obligation for role {role}", ""


def _ev(f: Finding, *sources: str) -> list[Evidence]:
    return [e for e in f.evidence if not sources or e.source in sources]


def _uniq(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))


def _q(value: str) -> str:
    return shlex.quote(value)


def product_codes(f: Finding) -> list[str]:
    """MSI product codes shown by Uninstall-key evidence (the key name is the product code)."""
    codes = []
    for e in f.evidence:
        if e.source == "windows-uninstall" or "\\uninstall\\" in e.location.lower():
            for text in (e.location, e.value):
                m = GUID_RE.search(text)
                if m and "\\uninstall\\" in text.lower():
                    codes.append(m.group(0).upper())
    return _uniq(codes)


def _linux_remove(f: Finding) -> list[tuple[str, str]]:
    steps: list[tuple[str, str]] = []
    units = _uniq(e.value for e in _ev(f, "systemd", "init.d") if e.kind == "service")
    if units:
        steps.append(
            (
                "Stop and disable the product's services.",
                "systemctl disable --now " + " ".join(map(_q, units)),
            )
        )
    packaged = False
    for src, template in _LINUX_PKG.items():
        pkgs = _uniq(e.value for e in _ev(f, src) if e.kind == "package")
        if pkgs:
            packaged = True
            steps.append(
                (
                    f"Remove the {src} package(s) {', '.join(pkgs)} (evidence: {src} database).",
                    template.format(" ".join(map(_q, pkgs))),
                )
            )
    mods = _uniq(e.value for e in _ev(f, "kmod"))
    if mods:
        steps.append(
            ("Unload the kernel module(s) left loaded (or reboot).", "modprobe -r " + " ".join(map(_q, mods)))
        )
    folders = _uniq(e.value for e in f.evidence if e.kind == "path" and e.source == "paths")
    if folders:
        owner_check = "dpkg -S" if any(e.source == "dpkg" for e in f.evidence) else "dpkg -S / rpm -qf"
        what = "after the packages are removed, delete" if packaged else "delete"
        steps.append(
            (
                f"If still present, {what} the leftover folder(s) — first check no installed package owns "
                f"them ({owner_check} PATH).",
                "rm -rf -- " + " ".join(map(_q, folders)),
            )
        )
    return steps


def _mac_remove(f: Finding) -> list[tuple[str, str]]:
    steps: list[tuple[str, str]] = []
    daemons = _uniq(e.location for e in _ev(f, "macos-launchd") if "/LaunchDaemons/" in e.location)
    agents = _uniq(e.location for e in _ev(f, "macos-launchd") if "/LaunchAgents/" in e.location)
    if daemons:
        steps.append(
            (
                "Stop the product's launch daemons.",
                "; ".join(f"sudo launchctl bootout system {_q(p)}" for p in daemons),
            )
        )
    if agents:
        steps.append(
            (
                "Stop the product's launch agents (as each logged-in user).",
                "; ".join(f"launchctl bootout gui/$(id -u) {_q(p)}" for p in agents),
            )
        )
    apps = _uniq(
        m.group(1)
        for e in _ev(f, "macos-apps")
        if (m := re.match(r"^(.*?\.app)(/|$)", e.location)) is not None
    )
    if apps:
        steps.append(
            (
                "Run the product's own uninstaller if it has one; otherwise delete the application bundle(s).",
                "sudo rm -rf -- " + " ".join(map(_q, apps)),
            )
        )
    exts = _uniq(e.value for e in _ev(f, "macos-extensions") if e.kind == "driver")
    if exts:
        steps.append(
            (
                f"System extension(s) {', '.join(exts)} are removed with the app or by MDM; confirm none is "
                "still listed.",
                "systemextensionsctl list",
            )
        )
    leftovers = _uniq(
        [
            *(e.value for e in _ev(f, "macos-support-folders") if e.kind == "path"),
            *daemons,
            *agents,
        ]
    )
    if leftovers:
        steps.append(
            (
                "Delete leftover support folders and launchd plists.",
                "sudo rm -rf -- " + " ".join(map(_q, leftovers)),
            )
        )
    receipts = _uniq(
        [
            *(e.value for e in _ev(f, "macos-receipts") if e.kind == "receipt"),
        ]
    )
    if receipts:
        steps.append(
            (
                "Forget the installer receipt(s) so inventories stop reporting the package.",
                "; ".join(f"sudo pkgutil --forget {_q(r)}" for r in receipts),
            )
        )
    return steps


def _windows_remove(f: Finding) -> list[tuple[str, str]]:
    steps: list[tuple[str, str]] = []
    codes = product_codes(f)
    for code in codes:
        steps.append(
            (
                f"Uninstall the MSI package {code} (product code from its Uninstall registry key).",
                f"msiexec /x {code} /qn /norestart /l*v %TEMP%\\uninstall-{code.strip('{}')}.log",
            )
        )
    if not codes:
        steps.append(("Uninstall it from Settings > Apps > Installed apps (Programs and Features).", ""))
    return steps


def _extension_remove(f: Finding) -> list[tuple[str, str]]:
    ids = _uniq(e.value for e in f.evidence if e.kind == "extension_id")
    profiles = _uniq(e.location for e in f.evidence if e.kind == "extension_id")
    where = f" (found in: {'; '.join(profiles)})" if profiles else ""
    steps = [(f"Remove the browser extension from each browser profile{where}.", "")]
    if ids:
        steps.append(
            (
                "Keep it off managed browsers: add the extension id to the ExtensionInstallBlocklist "
                "policy (Chrome/Edge) or block it in Firefox policies.",
                "ExtensionInstallBlocklist: " + ", ".join(ids),
            )
        )
    return steps


def _certificate_remove(f: Finding, platform: str) -> list[tuple[str, str]]:
    names = _uniq(e.value for e in f.evidence if e.kind in ("certificate", "signer"))
    steps: list[tuple[str, str]] = []
    for name in names or ["(see evidence)"]:
        if platform == "windows":
            cmd = f'certutil -delstore Root "{name}"'
        elif platform == "macos":
            cmd = f"sudo security delete-certificate -c {_q(name)} /Library/Keychains/System.keychain"
        else:
            cmd = "update-ca-certificates --fresh  # after deleting the certificate file"
        steps.append((f"Remove the still-trusted root certificate {name!r} from the trust store.", cmd))
    return steps


def _remove_steps(f: Finding, platform: str, data: RemovalData | None = None) -> list[tuple[str, str]]:
    data = data or RemovalData()
    if f.category == "browser-extension" or any(e.kind == "extension_id" for e in f.evidence):
        return uniq_steps([*_extension_remove(f), *data.of("remove", vendor=False)])
    if f.category == "certificate" or any(e.kind == "certificate" for e in f.evidence):
        return uniq_steps([*_certificate_remove(f, platform), *data.of("remove", vendor=False)])
    if platform == "linux":
        steps = _linux_remove(f)
    elif platform == "macos":
        steps = _mac_remove(f)
    elif platform == "windows":
        steps = _windows_remove(f)
    else:
        steps = []
    if not steps and f.category == Category.NETWORK_APPLIANCE.value:
        places = "; ".join(_uniq(f"{e.kind}={e.value} @ {e.location}" for e in f.evidence[:5]))
        steps = [
            (
                "Take the device out of service once its replacement carries its traffic, and record"
                f" its disposal (serial number, date); the evidence shows: {places}.",
                "",
            )
        ]
    elif not steps:
        places = "; ".join(_uniq(f"{e.kind}={e.value} @ {e.location}" for e in f.evidence[:5]))
        steps = [(f"Remove it with the platform's usual uninstall method; the evidence shows: {places}.", "")]
    return uniq_steps([*steps, *data.of("remove")])


def _prepare_steps(f: Finding, platform: str, data: RemovalData | None = None) -> list[tuple[str, str]]:
    """The catalog's own prepare steps for the product; else the step of its vendor's management
    agent on the host, the vendor's own, a step worded from its category and name (a management
    server or agent), or self-defense for a protection product."""
    data = data or RemovalData()
    steps: list[tuple[str, str]] = []
    own = data.of("prepare", vendor=False)
    if own:
        steps.extend(own)
    elif data.managed:
        steps.append((data.managed, ""))
    elif data.of("prepare"):
        steps.extend(data.of("prepare"))
    elif f.category == "management":
        steps.append(
            (
                f"This is {f.product_name}, management software: first move what it manages to the "
                "replacement and keep what records you need (policies, event history); remove it last.",
                "",
            )
        )
    elif f.category == "management-agent":
        steps.append(
            (
                f"{f.product_name} connects the host to a management console: remove it after the other "
                "products, since the console may use it to run their uninstall tasks.",
                "",
            )
        )
    elif platform in ("windows", "macos") and f.category in (
        "endpoint-protection",
        "parental-control",
        "vpn",
    ):
        steps.append(
            (
                "Turn off the application's self-defense (Settings) and quit it before uninstalling; a parental "
                "control or protection product may ask for its own password.",
                "",
            )
        )
    return steps


def _replace_step(
    rep: Replacement | None, platform: str, category: str, already: str | None
) -> tuple[str, str] | None:
    if rep is None:
        return None
    if already:
        return (
            f"Replacement {rep.name} — installed for {already}; confirm it covers this product's role.",
            "",
        )
    if rep.builtin:
        extra = (
            " It turns itself on when third-party anti-virus is removed; check it after removal."
            if ("re-enables" in rep.note or platform == "windows")
            else ""
        )
        return (
            f"Confirm the built-in replacement {rep.name} is available and not disabled by policy.{extra}",
            rep.install,
        )
    return (
        f"Install and enrol the replacement {rep.name} ({rep.source}) before removing this product.",
        rep.install,
    )


def _verify_command(host: str, platform: str) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]", "_", host)
    base = f"banscan scan --format json --output {name}-verify.json"
    return base


def _network_verify_command(host: str) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]", "_", host)
    return f"nmap -sV -O -oX {name}-verify.xml {host} && banscan scan {name}-verify.xml --format json"


def build_plan(ctx: ReportContext, config: PlanConfig | None = None) -> list[HostPlan]:
    """One HostPlan per host with planned findings; informational ones are listed, not planned."""
    cfg = config or PlanConfig()
    plans: list[HostPlan] = []
    for hv in ctx.hosts:
        plans.append(_host_plan(ctx, cfg, hv))
    return [p for p in plans if p.products or p.informational]


def _host_plan(ctx: ReportContext, cfg: PlanConfig, hv: HostView) -> HostPlan:
    hp = HostPlan(host=hv.name, site=hv.site or "", platform=hv.platform)
    managers = host_managers(ctx.catalog, (fv.finding for fv in hv.findings))
    installed: dict[str, str] = {}  # replacement name → product it was installed for
    for fv in sorted(hv.findings, key=_order):
        f = fv.finding
        if f.verdict not in _PLANNED:
            hp.informational.append(f"{f.product_name} ({f.verdict.value}): no action required")
            continue
        rep = (
            None
            if f.verdict is Verdict.REMNANT
            else choose_replacement(ctx.catalog, cfg, hv.platform, f.category, pack_of(ctx.catalog, f))
        )
        pp = ProductPlan(
            host=hv.name,
            site=hv.site or "",
            platform=hv.platform,
            product=f.product,
            product_name=f.product_name,
            version=f.version,
            verdict=f.verdict.value,
            category=f.category,
            replacement=rep.name if rep else "",
            replacement_source=rep.source if rep else "",
        )
        due, basis, due_state = _due(fv, cfg, ctx.role, parse_date(ctx.as_of))
        raw: list[tuple[str, str, str]] = []
        if f.verdict is Verdict.REVIEW:
            raw.append(
                (
                    "review",
                    f"Confirm whether this is {covered_brand(ctx.catalog, f)} software: the evidence is not conclusive "
                    f"({len(f.evidence)} item(s), confidence {f.confidence.value}). If it is, carry out the steps below; "
                    "if not, record why and add an exception.",
                    "",
                )
            )
        if f.verdict is Verdict.ACCEPTED and f.exception:
            pp.notes.append(
                f"Under an exception approved by {f.exception.get('approver', '?')} until "
                f"{f.exception.get('expires', '?')} ({f.exception.get('reason', '')}); plan removal before it expires."
            )
        if rep is None and f.verdict is not Verdict.REMNANT and f.category not in _NO_REPLACEMENT:
            pp.notes.append(
                f"No replacement for {f.category or 'this category'} on {hv.platform_label} in the approved list "
                "or the catalog; choose one before removal."
            )
        step = _replace_step(rep, hv.platform, f.category, installed.get(rep.name) if rep else None)
        if step:
            raw.append(("replace", *step))
            if rep and rep.name not in installed:
                installed[rep.name] = f.product_name
        data = removal_data(ctx.catalog, f, hv.platform, managers)
        raw.extend(("prepare", a, c) for a, c in _prepare_steps(f, hv.platform, data))
        raw.extend(("remove", a, c) for a, c in _remove_steps(f, hv.platform, data))
        verify = f"Re-scan {hv.name} and confirm no finding for {f.product_name} remains"
        if rep and rep.builtin and hv.platform == "windows":
            raw.append(
                (
                    "verify",
                    "Confirm Microsoft Defender Antivirus is running with real-time protection on.",
                    "Get-MpComputerStatus",
                )
            )
        if f.category == Category.NETWORK_APPLIANCE.value:  # seen on the network, not on a host
            verify = (
                f"Scan the network or export the inventory again and confirm no finding for"
                f" {f.product_name} remains at {hv.name}"
            )
        raw.append(
            (
                "verify",
                verify + "; keep the result with this plan as evidence.",
                _network_verify_command(hv.name)
                if f.category == Category.NETWORK_APPLIANCE.value
                else _verify_command(hv.name, hv.platform),
            )
        )
        for n, (phase, action, command) in enumerate(raw, start=1):
            pp.steps.append(Step(n, phase, action, command, cfg.owner, due, basis, due_state))
        hp.products.append(pp)
    return hp


# --- rendering -------------------------------------------------------------------------------


def rows(plans: list[HostPlan]) -> list[dict[str, str]]:
    out = []
    for hp in plans:
        for pp in hp.products:
            for s in pp.steps:
                out.append(
                    {
                        "host": pp.host,
                        "site": pp.site,
                        "platform": pp.platform,
                        "product": pp.product,
                        "product_name": pp.product_name,
                        "verdict": pp.verdict,
                        "step": str(s.step),
                        "phase": s.phase,
                        "action": s.action,
                        "command": s.command,
                        "owner": s.owner,
                        "due_date": s.due_date,
                        "due_state": str(s.due_state),
                        "due_basis": s.due_basis,
                    }
                )
    return out


def render_csv(plans: list[HostPlan]) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for r in rows(plans):
        w.writerow([safe_cell(r[c]) for c in CSV_COLUMNS])
    return out.getvalue()


def render_json(plans: list[HostPlan], ctx: ReportContext) -> str:
    doc: dict[str, Any] = {
        "schema": PLAN_SCHEMA,
        "as_of": ctx.as_of,
        "role": ctx.role,
        "catalog_version": ctx.catalog.meta.version,
        "packs": ctx.packs,
        "inputs": [r.path for r in ctx.merged.results],
        "incomplete": ctx.incomplete,
        "hosts": [asdict(hp) for hp in plans],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def md_escape(text: str) -> str:
    """Escape Markdown inline syntax in text that came from scanned machines."""
    text = re.sub(r"([\\`*_\[\]<>|~])", r"\\\1", text)
    return "\\" + text if text.startswith(("#", "+", "-", "=")) else text


def markdown_header(about: About) -> list[str]:
    """Organisation and preparer lines for a Markdown document (after its title)."""
    e = md_escape
    out = []
    org = " · ".join(e(x) for x in (about.organisation, about.unit) if x)
    if org:
        out.append(f"**{org}**  ")
    by = f" by {e(about.preparer.line)}" if about.preparer.line else ""
    out += [f"Prepared {about.prepared}{by}", ""]
    return out


def markdown_packs(packs: list[dict[str, str]]) -> list[str]:
    """The packs a document was judged by, as a Markdown line (none when the results do not say)."""
    if not packs:
        return []
    return ["Judged by pack(s): " + "; ".join(md_escape(pack_label(p)) for p in packs), ""]


def markdown_attestation(about: About, kind: str) -> list[str]:
    """The attestation with signature and date lines, for a Markdown document's end."""
    e = md_escape
    who = ", ".join(e(x) for x in (about.certifier.name, about.certifier.title) if x) or "name and title"
    return [
        "## Attestation",
        "",
        e(about.statement(kind)),
        "",
        f"Signature: ______________________________ ({who})  ",
        "Date: ______________",
        "",
    ]


def _fence(command: str) -> str:
    ticks = "```"
    while ticks in command:
        ticks += "`"
    return f"{ticks}\n{command}\n{ticks}"


def render_markdown(plans: list[HostPlan], ctx: ReportContext) -> str:
    lines = [
        "# Transition plan",
        "",
        *markdown_header(ctx.about),
        f"As of {ctx.as_of} · role {ctx.role} · catalog {ctx.catalog.meta.version} · "
        f"inputs: {', '.join(md_escape(r.path) for r in ctx.merged.results)}",
        "",
        *markdown_packs(ctx.packs),
    ]
    for w in ctx.warnings:
        lines += [f"> **Warning:** {md_escape(w)}", ""]
    if not plans:
        if ctx.findings_known:
            lines += ["**No banned software found — nothing to plan.**", ""]
        else:
            lines += ["**The input does not record findings; no plan can be made from it.**", ""]
        return "\n".join(lines)
    lines += [
        "Each product: install or confirm the replacement first, prepare (self-protection, management "
        "console), remove, then re-scan to verify.",
        "",
    ]
    for hp in plans:
        site = f" · site {md_escape(hp.site)}" if hp.site else ""
        lines += [f"## {md_escape(hp.host)} ({hp.platform}{site})", ""]
        for pp in hp.products:
            ver = f" {md_escape(pp.version)}" if pp.version else ""
            lines += [f"### {md_escape(pp.product_name)}{ver} — {pp.verdict}", ""]
            first = pp.steps[0] if pp.steps else None
            if first is not None and first.due_state == ObligationStatus.OVERDUE:
                lines.append(f"- **Overdue** since {first.due_date} ({md_escape(first.due_basis)})")
            else:
                due = first.due_date if first is not None else ""
                lines.append(f"- Due: {due or 'no date'} ({md_escape(first.due_basis if first else '')})")
            if pp.replacement:
                lines.append(f"- Replacement: {md_escape(pp.replacement)} ({pp.replacement_source})")
            for n in pp.notes:
                lines.append(f"- Note: {md_escape(n)}")
            lines.append("")
            for s in pp.steps:
                lines.append(f"{s.step}. **{s.phase}** — {md_escape(s.action)}")
                if s.command:
                    lines += ["", *("   " + ln for ln in _fence(s.command).splitlines())]
                lines.append("")
        for note in hp.informational:
            lines += [f"- {md_escape(note)}", ""]
    lines += markdown_attestation(ctx.about, "plan")
    return "\n".join(lines)
