"""The catalog's schema: what a valid entry is.

Detection is data. Every entity, product, identifier and regulation names the public
sources it rests on; validation refuses an entry without one, and refuses a `definitive`
identifier whose only sources are unverified (pastes, forum posts, unknown mirrors, public code
whose repository, path and commit were not recorded).

Every source names its original publisher. A mirror, copy or paste that was actually read is
recorded apart as `consulted`, never as the source's `url`.
"""

from __future__ import annotations

import datetime as dt
import re
from enum import Enum
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from banscan.models import Confidence

if TYPE_CHECKING:
    from banscan.catalog.origin import CatalogOrigin


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceStrength(str, Enum):
    """How much a public source can carry; caps the confidence of what rests on it."""

    PRIMARY = "primary"  # Federal Register, statute, regulator's own page
    VENDOR = "vendor"  # the software vendor's own documentation or manifests
    SECONDARY = "secondary"  # law firms, reputable press (named outlet, title, date)
    PUBLIC_CODE = "public-code"  # detection rules, scripts, fixtures: recorded repository, path, commit
    UNVERIFIED = "unverified"  # pastes, forum posts, unknown mirrors, unrecorded public code

    @property
    def max_confidence(self) -> Confidence:
        if self is SourceStrength.UNVERIFIED:
            return Confidence.STRONG
        return Confidence.DEFINITIVE


SourceTopic = Literal["legal", "technical"]

# Hosts that only copy, mirror, aggregate or paste what others published. A source's `url`
# may point at one only when its strength is `unverified`; otherwise it belongs in `consulted`.
MIRROR_HOSTS: tuple[str, ...] = (
    "pastebin.com",
    "justia.com",
    "samsearch.co",
    "cleat.ai",
    "audcor.com",
    "chjunkong.com",
    "technosolution.org",
    "vuink.com",
    "goldseiten-forum.com",
    "allsportstshirts.net",
    "manualslib.com",
    "manualshive.com",
    "docplayer.net",
    "docslib.org",
    "vdocuments.us",
    "notice-facile.com",
    "scribd.com",
    "pawtectors.org",
    "govregs.com",
    "checkoutapi.com",
    "hacklido.com",
    "clateway.com",
    "98chat.xyz",
)
FEDERAL_REGISTER_HOSTS: tuple[str, ...] = ("federalregister.gov", "govinfo.gov")
_FR_CITATION = re.compile(r"\d+ FR \d+")
_COMMIT = r"^[0-9a-f]{40}$"


def url_host(url: str | None) -> str:
    """The lower-case host of a URL ('' if none), without a leading 'www.'."""
    if not url:
        return ""
    host = (urlsplit(url).hostname or "").lower()
    return host[4:] if host.startswith("www.") else host


def on_host(url: str | None, hosts: tuple[str, ...]) -> bool:
    """True if the URL's host is one of `hosts` or a subdomain of one."""
    host = url_host(url)
    return any(host == h or host.endswith("." + h) for h in hosts)


def is_mirror(url: str | None) -> bool:
    return on_host(url, MIRROR_HOSTS)


def is_government_host(url: str | None) -> bool:
    """A government's own domain: .gov, .mil or a US state's state.XX.us."""
    host = url_host(url)
    return host.endswith((".gov", ".mil")) or re.search(r"(^|\.)state\.[a-z]{2}\.us$", host) is not None


class CatalogSource(_Strict):
    """A public source, named by its original publisher.

    Legal texts carry their `citation` (e.g. "89 FR 52434 (FR Doc 2024-13532)"); public code its
    `repository`, `path` and the `commit` that was read; a copy actually read in place of the
    original (mirror, paste, archive) is `consulted`, never `url`.
    """

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    title: str
    publisher: str = Field(min_length=1, description="the organisation that published it")
    topic: SourceTopic = Field(
        description="legal: rules, their texts and legal commentary or news about them; "
        "technical: product, identifier and detection sources"
    )
    url: str | None = None
    strength: SourceStrength
    citation: str | None = None
    published: dt.date | None = None
    repository: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9_.-]+$")
    path: str | None = None
    commit: str | None = Field(default=None, pattern=_COMMIT)
    consulted: str | None = None
    note: str | None = None

    @property
    def is_federal_register(self) -> bool:
        """A Federal Register document: published by the Office of the Federal Register, or cited
        first by volume and page (e.g. "89 FR 52434 ..."); later rules cited in passing do not count."""
        return "federal register" in self.publisher.lower() or bool(
            self.citation and _FR_CITATION.match(self.citation)
        )

    @model_validator(mode="after")
    def _names_its_original(self) -> CatalogSource:
        problems = source_problems(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self


def source_problems(s: CatalogSource) -> list[str]:
    """What is wrong with one source on its own (no cross-references)."""
    out: list[str] = []
    if not s.publisher.strip():
        out.append("publisher is blank")
    for name, value in (("url", s.url), ("consulted", s.consulted)):
        if value is not None and urlsplit(value).scheme not in ("http", "https"):
            out.append(f"{name} {value!r} is not an http(s) address")
    if s.consulted and s.consulted == s.url:
        out.append("consulted repeats url; record a copy there only when it is not the original")
    if s.url and is_mirror(s.url) and s.strength != SourceStrength.UNVERIFIED:
        out.append(
            f"url is on a mirror or paste host ({url_host(s.url)}); give the original publisher's "
            "address and record the copy as `consulted`, or make the strength unverified"
        )
    if s.strength == SourceStrength.PRIMARY:
        if not s.url:
            out.append("a primary source needs a url on its publisher's own domain")
        elif not is_government_host(s.url):
            out.append(
                f"a primary source's url must be on the publisher's own (government) domain, not {url_host(s.url)}"
            )
    if s.is_federal_register:
        if not on_host(s.url, FEDERAL_REGISTER_HOSTS):
            out.append("a Federal Register document needs a federalregister.gov or govinfo.gov url")
        if not s.citation:
            out.append(
                "a Federal Register document needs its citation (e.g. '89 FR 52434 (FR Doc 2024-13532)')"
            )
    if s.citation and s.published is None:
        out.append("a cited legal text needs its `published` date")
    if s.strength == SourceStrength.PUBLIC_CODE:
        missing = [f for f in ("repository", "path", "commit") if not getattr(s, f)]
        if missing:
            out.append(f"public-code needs {', '.join(missing)} (else strength unverified)")
        elif not (
            s.url
            and s.url.startswith(f"https://github.com/{s.repository}/")
            and s.commit is not None
            and s.commit in s.url
        ):
            out.append(f"public-code url must be https://github.com/{s.repository}/blob/<commit>/<path>")
    return out


class IdentifierKind(str, Enum):
    """Which observed field an identifier is compared with (see match/fields.py)."""

    DISPLAY_NAME = "display_name"  # installed-app names (Uninstall DisplayName, .app name, inventory rows)
    PACKAGE = "package"  # dpkg/rpm/snap/flatpak/winget package names
    PUBLISHER = "publisher"
    BUNDLE_ID = "bundle_id"  # macOS/iOS bundle ids, Android package names
    TEAM_ID = "team_id"  # Apple Developer Team ID
    SIGNER = "signer"  # Authenticode / code-signing subject
    PROCESS = "process"  # executable basename of a running process
    SERVICE = "service"  # Windows service, systemd unit, launchd label
    DRIVER = "driver"  # Windows driver, Linux kernel module, macOS kext / system extension
    REGISTRY_KEY = "registry_key"
    PATH = "path"  # install folders and files
    EXTENSION_ID = "extension_id"  # browser extension id
    RECEIPT = "receipt"  # macOS installer receipt package id
    PURL = "purl"
    CPE = "cpe"
    CERTIFICATE = "certificate"  # certificate subject (trusted roots)
    BYTE_SIGNATURE = "byte_signature"  # compiled to YARA for the deep scan
    FILE_NAME = "file_name"  # a file the vendor ships, by name: a library, a program, an installer
    PRODUCT_CODE = "product_code"  # Windows Installer ProductCode {GUID} (the Uninstall key's name)
    MAC_OUI = "mac_oui"  # IEEE MA-L/MA-M/MA-S assignment of a MAC address block: "28:57:BE"
    SNMP_ENTERPRISE = "snmp_enterprise"  # IANA Private Enterprise Number under a device's sysObjectID


class MatchKind(str, Enum):
    """How an identifier's value is compared with an observed value."""

    NAME = "name"  # equal after name normalisation (case, punctuation, versions, Cyrillic)
    EXACT = "exact"
    IEXACT = "iexact"
    PREFIX = "prefix"  # case-insensitive prefix
    CONTAINS = "contains"  # normalised, on word boundaries
    REGEX = "regex"  # case-insensitive, searched
    GLOB = "glob"  # case-insensitive, whole value; `*` crosses separators


class Identifier(_Strict):
    kind: IdentifierKind
    value: str = Field(min_length=1)
    match: MatchKind = MatchKind.NAME
    confidence: Confidence
    sources: list[str] = Field(min_length=1)
    platforms: list[str] = Field(default_factory=list)
    note: str | None = None

    @field_validator("value")
    @classmethod
    def _no_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("identifier value is blank")
        return v


class EntityListing(_Strict):
    listed: bool
    since: dt.date | None = None
    citation: str | None = None
    sources: list[str] = Field(default_factory=list)


class Entity(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    name: str
    country: str | None = None
    covered: bool = True
    legal_names: list[str] = Field(default_factory=list)
    former_names: list[str] = Field(default_factory=list)
    aliases: list[str] = Field(default_factory=list)
    cyrillic: list[str] = Field(default_factory=list)
    brand_tokens: list[str] = Field(
        default_factory=list,
        description="word stems that name the brand inside product names (regex pass)",
    )
    parent: str | None = None
    entity_list: EntityListing | None = None
    sources: list[str] = Field(min_length=1)
    pack: str = Field(default="", description="the pack it belongs to (set by the loader from its folder)")
    unlisted_review: bool | Literal["software"] = Field(
        default=False,
        description=(
            "a product of this entity the catalog does not list (known by brand, publisher or signer"
            " alone) is for a person to review, not covered: the rule reaches only some of the"
            " entity's products (by purpose or use); `software`: only when software shows it, while"
            " a network device an inventory says the entity made stays covered (equipment covered"
            " whatever its use, software only as evidence of it)"
        ),
    )

    def all_names(self) -> list[str]:
        return [self.name, *self.legal_names, *self.former_names, *self.aliases, *self.cyrillic]


class ProductStatus(str, Enum):
    COVERED = "covered"  # within a regulation's scope
    REVIEW = "review"  # may contain covered code; a person must decide
    CARVED_OUT = "carved-out"  # the vendor's, but expressly not covered
    INFORMATIONAL = "informational"  # worth knowing (e.g. successor software), never covered


class Relation(str, Enum):
    OWN = "own"  # the covered vendor's own product
    WHITE_LABEL = "white-label"
    EMBEDDED_ENGINE = "embedded-engine"
    PLATFORM_PLUGIN = "platform-plugin"
    SUCCESSOR = "successor"  # software pushed onto former users


class Category(str, Enum):
    ENDPOINT_PROTECTION = "endpoint-protection"
    VPN = "vpn"
    PASSWORD_MANAGER = "password-manager"
    PARENTAL_CONTROL = "parental-control"
    SDK_ENGINE = "sdk-engine"
    SERVER = "server"
    MANAGEMENT = "management"
    MANAGEMENT_AGENT = "management-agent"
    BROWSER_EXTENSION = "browser-extension"
    MOBILE = "mobile"
    REMOVAL_TOOL = "removal-tool"
    OPERATING_SYSTEM = "operating-system"
    THREAT_INTELLIGENCE = "threat-intelligence"
    TRAINING = "training"
    SERVICES = "services"
    NETWORK_APPLIANCE = "network-appliance"
    CERTIFICATE = "certificate"
    CALLER_ID = "caller-id"
    BROWSER = "browser"


PLATFORMS = ("windows", "macos", "linux", "android", "ios", "appliance", "any")


class RemovalStep(_Strict):
    """A step of taking a product off a host that its evidence cannot show (what blocks the
    uninstall, the vendor's own removal tool), worded for the transition plan."""

    phase: Literal["prepare", "remove"]
    action: str = Field(min_length=1)
    command: str = ""
    platforms: list[str] = Field(default_factory=list, description="where it applies; empty: everywhere")
    tool: str | None = Field(default=None, description="the vendor's tool the step runs, by name")
    url: str | None = Field(default=None, description="where the vendor publishes the tool or procedure")

    @field_validator("platforms")
    @classmethod
    def _known_platforms(cls, v: list[str]) -> list[str]:
        bad = [p for p in v if p not in PLATFORMS]
        if bad:
            raise ValueError(f"unknown platform(s) {bad}; expected some of {PLATFORMS}")
        return v

    @field_validator("url")
    @classmethod
    def _http(cls, v: str | None) -> str | None:
        if v is not None and urlsplit(v).scheme not in ("http", "https"):
            raise ValueError(f"url {v!r} is not an http(s) address")
        return v

    def applies_on(self, platform: str) -> bool:
        return not self.platforms or platform in self.platforms or "any" in self.platforms


class Removal(_Strict):
    """How a product comes off a host beyond what the evidence shows: its own steps, the step it
    puts on the vendor's other products when it manages them (a management agent), or steps for
    every product of its vendor (`vendor_wide`, e.g. the vendor's removal tool)."""

    steps: list[RemovalStep] = Field(default_factory=list)
    manages: str | None = Field(
        default=None,
        description="a management agent's prepare step for its vendor's other products on the same host",
    )
    vendor_wide: bool = Field(
        default=False,
        description="the steps apply to every product of the vendor, its unlisted software included",
    )
    sources: list[str] = Field(min_length=1)
    note: str | None = None

    @model_validator(mode="after")
    def _says_something(self) -> Removal:
        if not self.steps and not self.manages:
            raise ValueError("a removal needs steps or a `manages` step")
        return self


class Product(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    name: str
    vendor: str  # entity id for own products; free text for third parties
    integrates: list[str] = Field(default_factory=list, description="entity ids whose code it embeds")
    category: Category
    platforms: list[str] = Field(min_length=1)
    status: ProductStatus = ProductStatus.COVERED
    relation: Relation = Relation.OWN
    confidence: Confidence = Field(
        default=Confidence.DEFINITIVE,
        description="how sure the catalog is that this product is what its status says",
    )
    aliases: list[str] = Field(default_factory=list)
    identifiers: list[Identifier] = Field(default_factory=list)
    remnant: bool = Field(
        default=False, description="matches mean leftovers of an uninstall (e.g. a trusted root)"
    )
    shared: bool = Field(
        default=False,
        description=(
            "identifiers common to several of the vendor's products (install roots, shared drivers):"
            " on a host where a product of the vendor is identified they are evidence for it,"
            " not a finding of their own"
        ),
    )
    note: str | None = None
    removal: Removal | None = Field(
        default=None, description="steps of its removal that its evidence cannot show (transition plans)"
    )
    sources: list[str] = Field(min_length=1)
    pack: str = Field(default="", description="the pack it belongs to (set by the loader from its folder)")

    @field_validator("platforms")
    @classmethod
    def _known_platforms(cls, v: list[str]) -> list[str]:
        bad = [p for p in v if p not in PLATFORMS]
        if bad:
            raise ValueError(f"unknown platform(s) {bad}; expected one of {PLATFORMS}")
        return v


Role = Literal[
    "user",
    "seller",
    "federal-contractor",
    "federal-agency",
    "state-agency",
    "telecom",
]
ROLES: tuple[str, ...] = (
    "user",
    "seller",
    "federal-contractor",
    "federal-agency",
    "state-agency",
    "telecom",
)


# What a reporting obligation asks to be reported, field by field (`banscan report --document
# far` fills them): items found (the first report) and the narrative of a follow-up report.
ReportField = Literal[
    "contract_number",
    "order_numbers",
    "supplier",
    "supplier_uei",
    "supplier_cage_code",
    "brand",
    "model_or_product",
    "item_description",
    "date_identified",
    "mitigation",
    "further_mitigation",
    "prevention_efforts",
    "reasons",
    "future_prevention",
]
FOLLOW_UP_FIELDS: tuple[str, ...] = (
    "further_mitigation",
    "prevention_efforts",
    "reasons",
    "future_prevention",
)


class ReportContents(_Strict):
    """What one reporting obligation asks for, as its clause words it: the paragraph, the fields,
    and the report it follows (whose submission starts its days)."""

    paragraph: str = Field(min_length=1, description="where the clause asks for it, e.g. 52.204-23(c)(2)(i)")
    fields: list[ReportField] = Field(min_length=1)
    after: str | None = Field(
        default=None, description="the id of the report it follows; its days count from that one's submission"
    )


class ReportingClause(_Strict):
    """The report a regulation asks for, as a document: the clause, where it goes and what it
    calls the items reported; its obligations with `report` say what each report holds."""

    clause: str = Field(min_length=1, description="e.g. FAR 52.204-23")
    paragraph: str = Field(default="", description="the clause's reporting paragraph, e.g. (c)")
    to: str = Field(min_length=1, description="where the report goes")
    article: str = Field(min_length=1, description="an item reported, e.g. covered article")
    articles: str = Field(min_length=1, description="items reported, e.g. covered articles")
    covered: str = Field(min_length=1, description="whose items, e.g. Kaspersky Lab covered entities")


class Amendment(_Strict):
    """A later period for a duty counted from identification, for items identified from
    `effective` on: an amended clause (FAR 52.204-23(c)(2)(i) went from 1 to 3 business days on
    2023-12-04) keeps the old period for what was identified before."""

    effective: dt.date
    due_business_days: int | None = Field(default=None, ge=1)
    due_calendar_days: int | None = Field(default=None, ge=1)
    citation: str = Field(min_length=1, description="the amending rule")
    sources: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _one_period(self) -> Amendment:
        if (self.due_business_days is None) == (self.due_calendar_days is None):
            raise ValueError("an amendment sets one of due_business_days and due_calendar_days")
        return self


class ObligationRule(_Strict):
    """A dated duty: from `effective` on, `roles` must do `action` (or may no longer do it)."""

    id: str
    roles: list[Role] = Field(min_length=1)
    effective: dt.date
    kind: Literal["prohibition", "action", "reporting", "advisory"]
    action: str
    deadline: dt.date | None = Field(default=None, description="a fixed calendar deadline")
    due_business_days: int | None = Field(
        default=None, description="deadline counted in US business days from identification"
    )
    due_calendar_days: int | None = None
    ends: dt.date | None = None
    report: ReportContents | None = Field(
        default=None, description="what the report holds (reporting obligations of a `reporting` clause)"
    )
    amendments: list[Amendment] = Field(
        default_factory=list, description="later periods, each for items identified from its date on"
    )

    @model_validator(mode="after")
    def _report_is_reporting(self) -> ObligationRule:
        if self.report is not None and self.kind != "reporting":
            raise ValueError(
                f"obligation {self.id}: `report` belongs to reporting obligations, not {self.kind}"
            )
        days = [a.effective for a in self.amendments]
        if days != sorted(set(days)) or any(d <= self.effective for d in days):
            raise ValueError(f"obligation {self.id}: amendments come after `effective`, in date order")
        if self.amendments and self.due_business_days is None and self.due_calendar_days is None:
            raise ValueError(f"obligation {self.id}: only a period counted from identification is amended")
        return self

    def terms_on(self, identified: dt.date) -> tuple[int | None, int | None]:
        """The (business days, calendar days) in force for an item identified on `identified`:
        the period of the last amendment in effect by then, else the rule's own."""
        days = (self.due_business_days, self.due_calendar_days)
        for a in self.amendments:
            if identified >= a.effective:
                days = (a.due_business_days, a.due_calendar_days)
        return days


class Regulation(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str
    short: str
    citation: str
    authority: str
    jurisdiction: str = Field(description="ISO-style: US, US-TX, US-NH")
    issued: dt.date
    covers_entities: list[str] = Field(min_length=1)
    covers_relations: list[Relation] = Field(default_factory=lambda: [Relation.OWN])
    binds: list[Role] = Field(min_length=1)
    obligations: list[ObligationRule] = Field(min_length=1)
    exemptions: list[str] = Field(default_factory=list)
    exempt_categories: list[Category] = Field(default_factory=list)
    reporting: ReportingClause | None = Field(
        default=None, description="the report its reporting obligations make up (FAR-style documents)"
    )
    note: str | None = None
    sources: list[str] = Field(min_length=1)
    pack: str = Field(default="", description="the pack it belongs to (set by the loader from its folder)")

    @model_validator(mode="after")
    def _reports_hold_together(self) -> Regulation:
        reports = {o.id: o for o in self.obligations if o.report is not None}
        if reports and self.reporting is None:
            raise ValueError("obligations with `report` need the regulation's `reporting` clause")
        if self.reporting is not None and not reports:
            raise ValueError("`reporting` needs at least one reporting obligation with `report`")
        firsts = [o.id for o in reports.values() if o.report and o.report.after is None]
        if reports and len(firsts) != 1:
            raise ValueError(f"exactly one report may come first (no `after`), not {firsts}")
        for o in reports.values():
            after = o.report.after if o.report else None
            if after is not None and (after not in reports or after == o.id):
                raise ValueError(f"obligation {o.id}: report after {after!r}, which is no other report here")
        return self

    def reports(self) -> list[ObligationRule]:
        """Its reporting obligations with `report`, each after the one it follows."""
        todo = {o.id: o for o in self.obligations if o.report is not None}
        out: list[ObligationRule] = []
        prev: str | None = None
        while todo:
            nxt = next((o for o in todo.values() if o.report and o.report.after == prev), None)
            if nxt is None:
                break
            out.append(todo.pop(nxt.id))
            prev = nxt.id
        return out


class Alternative(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    name: str
    vendor: str
    platforms: list[str] = Field(min_length=1)
    categories: list[Category] = Field(min_length=1)
    builtin: bool = False
    note: str | None = None
    sources: list[str] = Field(min_length=1)
    pack: str = Field(default="", description="the pack it belongs to (set by the loader from its folder)")


class Pack(_Strict):
    """One ban as data: its products, entities, regulations and alternatives come from one
    folder of the catalog (`pack.yaml` beside the list files; further packs under `packs/`)."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str
    version: str
    released: dt.date
    description: str
    jurisdictions: list[str] = Field(min_length=1, description="where its rules apply: US, US-TX …")
    sources: list[str] = Field(min_length=1)
    last_permitted_update: dt.date | None = Field(
        default=None,
        description=(
            "from this day on its products may get no signature or codebase updates in its"
            " jurisdictions (a rule of the pack says so): findings of them count their days"
            " without updates from it; none for a pack whose rules stop no updates"
        ),
    )
    last_permitted_update_sources: list[str] = Field(
        default_factory=list,
        description="the pack's sources that state `last_permitted_update` (some of `sources`)",
    )

    @model_validator(mode="after")
    def _update_cutoff_is_sourced(self) -> Pack:
        # a date that silences every finding's updates must say where it comes from; the pack's
        # own sources are checked against the catalog's, so these are too
        cited = self.last_permitted_update_sources
        if self.last_permitted_update is not None and not cited:
            raise ValueError("last_permitted_update needs last_permitted_update_sources")
        if self.last_permitted_update is None and cited:
            raise ValueError("last_permitted_update_sources without last_permitted_update")
        stray = [s for s in cited if s not in self.sources]
        if stray:
            raise ValueError(f"last_permitted_update_sources {stray} are not among the pack's sources")
        return self

    def applies_in(self, jurisdiction: str) -> bool:
        """Whether its rules reach `jurisdiction` (US rules reach US-TX; US-TX's not US-NH)."""
        return any(jurisdiction == j or jurisdiction.startswith(f"{j}-") for j in self.jurisdictions)


class CatalogMeta(_Strict):
    schema_version: Literal[1]
    version: str
    released: dt.date
    description: str
    last_permitted_update: dt.date = Field(
        description="after this day covered products receive no signature updates in the US"
    )


class Catalog(_Strict):
    meta: CatalogMeta
    sources: list[CatalogSource]
    entities: list[Entity]
    products: list[Product]
    regulations: list[Regulation]
    alternatives: list[Alternative] = Field(default_factory=list)
    packs: list[Pack] = Field(default_factory=list)
    _origin: CatalogOrigin | None = PrivateAttr(default=None)

    def pack(self, pid: str) -> Pack | None:
        for p in self.packs:
            if p.id == pid:
                return p
        return None

    def with_packs(self, ids: list[str]) -> Catalog:
        """The catalog narrowed to the entities, products, regulations and alternatives of some
        packs, plus what their rules reach in other packs (the products of a covered vendor, the
        entities they name, those products' alternatives; every source stays). Same origin."""
        keep = set(ids)
        regulations = [r for r in self.regulations if r.pack in keep]
        # a pack's rule may cover a vendor whose products another pack lists (a state list naming
        # Kaspersky): those products are judged too, so the rule is never left with nothing to find
        parents = {e.id: e.parent for e in self.entities}
        covered = {eid for r in regulations for eid in r.covers_entities}

        def under_rule(eid: str | None) -> bool:
            seen: set[str] = set()
            while eid and eid not in seen:
                if eid in covered:
                    return True
                seen.add(eid)
                eid = parents.get(eid)
            return False

        products = [
            p
            for p in self.products
            if p.pack in keep or under_rule(p.vendor) or any(map(under_rule, p.integrates))
        ]
        with_products = keep | {p.pack for p in products}
        # the packs' entities, and any other pack's they name (a vendor, an integrated engine)
        named = {e.id for e in self.entities if e.pack in keep}
        named.update(p.vendor for p in products)
        named.update(eid for p in products for eid in p.integrates)
        named.update(eid for r in regulations for eid in r.covers_entities)
        for eid in list(named):
            while (eid := parents.get(eid)) and eid not in named:  # type: ignore[assignment]
                named.add(eid)
        narrowed = self.model_copy(
            update={
                "entities": [e for e in self.entities if e.id in named],
                "products": products,
                "regulations": regulations,
                "alternatives": [a for a in self.alternatives if a.pack in with_products],
                "packs": [p for p in self.packs if p.id in keep],
            }
        )
        narrowed._origin = self._origin
        return narrowed

    @property
    def origin(self) -> CatalogOrigin | None:
        """Where the loader found this catalog (None for one built in memory)."""
        return self._origin

    @model_validator(mode="after")
    def _referential_integrity(self) -> Catalog:
        problems = list(_integrity_problems(self))
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def product(self, pid: str) -> Product:
        for p in self.products:
            if p.id == pid:
                return p
        raise KeyError(pid)

    def entity(self, eid: str) -> Entity | None:
        for e in self.entities:
            if e.id == eid:
                return e
        return None

    def source(self, sid: str) -> CatalogSource:
        for s in self.sources:
            if s.id == sid:
                return s
        raise KeyError(sid)


def _integrity_problems(cat: Catalog) -> list[str]:
    out: list[str] = []
    src = {s.id: s for s in cat.sources}
    ents = {e.id for e in cat.entities}

    def dup(kind: str, ids: list[str]) -> None:
        seen: set[str] = set()
        for i in ids:
            if i in seen:
                out.append(f"duplicate {kind} id {i!r}")
            seen.add(i)

    dup("source", [s.id for s in cat.sources])
    dup("entity", [e.id for e in cat.entities])
    dup("product", [p.id for p in cat.products])
    dup("regulation", [r.id for r in cat.regulations])
    dup("alternative", [a.id for a in cat.alternatives])
    dup("pack", [p.id for p in cat.packs])
    packs = {p.id for p in cat.packs}
    for kind, items in (
        ("entity", cat.entities),
        ("product", cat.products),
        ("regulation", cat.regulations),
        ("alternative", cat.alternatives),
    ):
        for item in items:
            if packs and item.pack not in packs:
                out.append(f"{kind} {item.id}: pack {item.pack!r} is not one of the catalog's packs")
    for pk in cat.packs:
        for sid in pk.sources:
            if sid not in src:
                out.append(f"pack {pk.id}: unknown source {sid!r}")

    def refs(where: str, ids: list[str]) -> None:
        for i in ids:
            if i not in src:
                out.append(f"{where}: unknown source {i!r}")

    for e in cat.entities:
        refs(f"entity {e.id}", e.sources)
        if e.entity_list:
            refs(f"entity {e.id} entity_list", e.entity_list.sources)
            for sid in e.entity_list.sources:
                if sid in src and src[sid].topic != "legal":
                    out.append(f"entity {e.id} entity_list: source {sid!r} is {src[sid].topic}, not legal")
        if e.parent and e.parent not in ents:
            out.append(f"entity {e.id}: unknown parent {e.parent!r}")
    for p in cat.products:
        refs(f"product {p.id}", p.sources)
        if p.removal is not None:
            refs(f"product {p.id} removal", p.removal.sources)
        if p.id.endswith("-unlisted") or "-unlisted-" in p.id:
            out.append(f"product {p.id}: ids with '-unlisted' name products the catalog does not list")
        if p.relation == Relation.OWN and p.vendor not in ents:
            out.append(f"product {p.id}: vendor {p.vendor!r} is not a catalog entity")
        for eid in p.integrates:
            if eid not in ents:
                out.append(f"product {p.id}: integrates unknown entity {eid!r}")
        if p.status == ProductStatus.INFORMATIONAL and p.relation == Relation.OWN and not p.remnant:
            pass
        if p.relation == Relation.SUCCESSOR and p.status in (ProductStatus.COVERED, ProductStatus.REVIEW):
            out.append(f"product {p.id}: successor software can only be informational")
        for n, ident in enumerate(p.identifiers):
            where = f"product {p.id} identifier {n} ({ident.kind.value}={ident.value!r})"
            refs(where, ident.sources)
            known = [src[s] for s in ident.sources if s in src]
            if known and ident.confidence == Confidence.DEFINITIVE:
                best = max(s.strength.max_confidence.rank for s in known)
                if best < Confidence.DEFINITIVE.rank:
                    out.append(
                        f"{where}: 'definitive' needs a source stronger than unverified "
                        "(primary, vendor, secondary, or public code with repository, path and commit)"
                    )
    for r in cat.regulations:
        refs(f"regulation {r.id}", r.sources)
        for sid in r.sources:
            if sid in src and src[sid].topic != "legal":
                out.append(
                    f"regulation {r.id}: source {sid!r} is {src[sid].topic}; a regulation cites legal sources only"
                )
        for eid in r.covers_entities:
            if eid not in ents:
                out.append(f"regulation {r.id}: covers unknown entity {eid!r}")
        for rule in r.obligations:
            for amendment in rule.amendments:
                refs(
                    f"regulation {r.id} obligation {rule.id} amendment {amendment.effective}",
                    amendment.sources,
                )
    for a in cat.alternatives:
        refs(f"alternative {a.id}", a.sources)
    return out
