"""Values that cross the pipeline's boundaries: collect → normalise → match → policy → report.

They are plain frozen dataclasses so every stage can be tested alone and nothing downstream
can change what a collector saw.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum, StrEnum
from typing import Any


class RecordKind(str, Enum):
    """What kind of thing a collector observed; decides which catalog identifiers apply."""

    PACKAGE = "package"  # dpkg / rpm / snap / flatpak / winget package
    APP = "app"  # installed application (Uninstall key, macOS .app, Intune row)
    SERVICE = "service"  # Windows service, systemd unit, launchd job
    DRIVER = "driver"  # Windows driver, kernel module, kext/system extension
    PROCESS = "process"
    EXTENSION = "extension"  # browser extension
    RECEIPT = "receipt"  # macOS installer receipt
    REGISTRY_KEY = "registry-key"
    PATH = "path"  # an install folder or file that exists
    FILE = "file"  # a file whose content was examined (deep scan)
    SBOM_COMPONENT = "sbom-component"
    CERTIFICATE = "certificate"
    SECURITY_PRODUCT = "security-product"  # Windows Security Center entry
    DEVICE = "device"  # a network device: a scanned host, an SNMP agent, a DHCP client, a CMDB row


@dataclass(frozen=True, slots=True)
class Source:
    """Where a record came from: which collector, and the place inside its input."""

    collector: str
    location: str  # file:line, registry path, URL

    def __str__(self) -> str:
        return f"{self.collector}:{self.location}"


@dataclass(frozen=True, slots=True)
class InventoryRecord:
    """One observed thing. Collectors fill what they know; the matcher never reads files."""

    host: str
    source: Source
    kind: RecordKind
    name: str
    version: str | None = None
    publisher: str | None = None
    path: str | None = None
    bundle_id: str | None = None
    team_id: str | None = None
    signer: str | None = None
    sha256: str | None = None
    purl: str | None = None
    cpe: str | None = None
    extension_id: str | None = None
    extra: tuple[tuple[str, str], ...] = ()

    def get(self, key: str) -> str | None:
        """Return a typed field or an extra by name; used by the field-driven matcher."""
        if key in _RECORD_FIELDS:
            value = getattr(self, key)
            return value if isinstance(value, str) or value is None else str(value)
        for k, v in self.extra:
            if k == key:
                return v
        return None


_RECORD_FIELDS = frozenset(
    {
        "host",
        "name",
        "version",
        "publisher",
        "path",
        "bundle_id",
        "team_id",
        "signer",
        "sha256",
        "purl",
        "cpe",
        "extension_id",
    }
)


class Verdict(str, Enum):
    """Outcome of a finding, as defined in the JSON contract."""

    COVERED = "covered"
    REVIEW = "review"
    REMNANT = "remnant"
    INFORMATIONAL = "informational"
    ACCEPTED = "accepted"

    @property
    def severity(self) -> int:
        """Position in VERDICT_SEVERITY: 0 is the most urgent."""
        return VERDICT_SEVERITY.index(self)


# The one order of verdicts for every list, table, chart and a host's "worst" verdict: what a
# person must act on first. A remnant (leftovers of software that was certainly there) comes before
# review (a doubt to settle); accepted findings are under an exception; informational ones ask nothing.
VERDICT_SEVERITY: tuple[Verdict, ...] = (
    Verdict.COVERED,
    Verdict.REMNANT,
    Verdict.REVIEW,
    Verdict.ACCEPTED,
    Verdict.INFORMATIONAL,
)
VERDICT_NAMES: tuple[str, ...] = tuple(v.value for v in VERDICT_SEVERITY)


class Confidence(str, Enum):
    """Strength of evidence; ordered weak < strong < definitive."""

    WEAK = "weak"
    STRONG = "strong"
    DEFINITIVE = "definitive"

    @property
    def rank(self) -> int:
        return _CONF_RANK[self]


_CONF_RANK = {Confidence.WEAK: 1, Confidence.STRONG: 2, Confidence.DEFINITIVE: 3}


@dataclass(frozen=True, slots=True)
class Evidence:
    """Why the matcher believes a record belongs to a product."""

    source: str  # collector name
    kind: str  # identifier kind that matched (display_name, package, team_id …)
    value: str  # the observed value
    location: str
    confidence: Confidence
    identifier: str = ""  # the catalog pattern that matched
    catalog_source: str = ""  # id of the public source behind the identifier

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "kind": self.kind,
            "value": self.value,
            "location": self.location,
            "confidence": self.confidence.value,
            "identifier": self.identifier,
        }


class ObligationStatus(StrEnum):
    """What one obligation asks of a finding as of a date: the `status` of the JSON contract.

    Members are listed most urgent first (a regulation's summary status is the first one any of
    its obligations has). A StrEnum equals, hashes and formats as its value, so it is written to
    JSON, CSV and templates as the plain string and compares equal to it."""

    OVERDUE = "overdue"  # a deadline passed and what it asked is still owed
    DUE = "due"  # a report to make by a deadline still ahead
    REQUIRED = "required"  # an action to take (by a deadline still ahead, when it has one)
    PROHIBITED = "prohibited"
    ADVISORY = "advisory"
    NOT_YET_IN_FORCE = "not-yet-in-force"
    EXEMPT = "exempt"  # the finding's category is exempt from the regulation
    ENDED = "ended"  # the obligation no longer applies

    @property
    def is_open(self) -> bool:
        """Still asks something by a date: required, due, or overdue (a passed deadline is still owed)."""
        return self in _OPEN_STATUSES

    @property
    def is_pending(self) -> bool:
        """Open and not late: required or due. Only these give a finding its "next deadline"; an
        overdue one is shown as overdue, never as a date still ahead."""
        return self in _PENDING_STATUSES

    @property
    def overdue(self) -> bool:
        """A deadline passed and what it asked is still owed."""
        return self is ObligationStatus.OVERDUE

    @property
    def in_effect(self) -> bool:
        """Applies as of the date: neither not yet in force, ended, nor exempt. Only these have a
        deadline a report tracks."""
        return self not in _NOT_IN_EFFECT_STATUSES


_PENDING_STATUSES = frozenset({ObligationStatus.REQUIRED, ObligationStatus.DUE})
_OPEN_STATUSES = _PENDING_STATUSES | {ObligationStatus.OVERDUE}
_NOT_IN_EFFECT_STATUSES = frozenset(
    {ObligationStatus.NOT_YET_IN_FORCE, ObligationStatus.EXEMPT, ObligationStatus.ENDED}
)


@dataclass(frozen=True, slots=True)
class Obligation:
    """What one regulation requires of this finding for the chosen role, as of a date."""

    regulation: str
    status: ObligationStatus
    since: str | None
    action: str
    deadline: str | None
    citation: str = ""
    exemptions: tuple[str, ...] = ()
    days_overdue: int | None = None  # days past the deadline as of the evaluation date

    def to_json(self) -> dict[str, Any]:
        return {
            "regulation": self.regulation,
            "status": self.status.value,
            "since": self.since,
            "action": self.action,
            "deadline": self.deadline,
            "days_overdue": self.days_overdue,
            "citation": self.citation,
            "exemptions": list(self.exemptions),
        }


@dataclass(slots=True)
class Finding:
    """A product found on a host, with all its evidence, verdict and obligations."""

    host: str
    product: str
    product_name: str
    vendor: str
    verdict: Verdict
    confidence: Confidence
    evidence: list[Evidence] = field(default_factory=list)
    obligations: list[Obligation] = field(default_factory=list)
    category: str = ""
    version: str | None = None
    exception: dict[str, str] | None = None
    definitions_age_days: int | None = None
    brand: str | None = None  # the name it is sold under, when identified by maker or signer
    first_identified: str | None = None  # ISO date: the first scan or report that showed it

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "host": self.host,
            "product": self.product,
            "product_name": self.product_name,
            "vendor": self.vendor,
            "category": self.category,
            "version": self.version,
            "verdict": self.verdict.value,
            "confidence": self.confidence.value,
            "evidence": [e.to_json() for e in self.evidence],
            "obligations": [o.to_json() for o in self.obligations],
            "definitions_age_days": self.definitions_age_days,
        }
        if self.first_identified is not None:
            out["first_identified"] = self.first_identified
        if self.exception is not None:
            out["exception"] = self.exception
        if self.brand is not None:
            out["brand"] = self.brand
        return out


@dataclass(slots=True)
class TargetResult:
    """One input that was read (this machine, a root, a file) and what went wrong reading it."""

    target: str
    format: str
    records: int = 0
    errors: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "format": self.format,
            "records": self.records,
            "errors": list(self.errors),
        }


@dataclass(slots=True)
class ScanResult:
    """Everything one run produced; `to_json()` is the documented JSON contract."""

    banscan_version: str
    catalog_version: str
    as_of: str
    role: str
    targets: list[TargetResult] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)
    generated_at: str = ""
    jurisdiction: str = "US"
    # the catalog that judged: sha256, source (built-in, installed, path), verified, repository
    catalog: dict[str, Any] = field(default_factory=dict)
    # the packs (bans) the catalog was narrowed to: id, title, version
    packs: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        by_verdict: dict[str, int] = {}
        for f in self.findings:
            by_verdict[f.verdict.value] = by_verdict.get(f.verdict.value, 0) + 1
        return {
            "hosts": len(self.hosts),
            "hosts_with_findings": len({f.host for f in self.findings}),
            "findings": len(self.findings),
            "by_verdict": by_verdict,
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": "banscan/result/v1",
            "banscan_version": self.banscan_version,
            "catalog_version": self.catalog_version,
            "catalog": {"version": self.catalog_version, **self.catalog},
            "packs": list(self.packs),
            "as_of": self.as_of,
            "role": self.role,
            "jurisdiction": self.jurisdiction,
            "generated_at": self.generated_at,
            "targets": [t.to_json() for t in self.targets],
            "hosts": list(self.hosts),
            "findings": [f.to_json() for f in self.findings],
            "summary": self.summary(),
        }
