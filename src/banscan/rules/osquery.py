"""An osquery query pack generated from the catalog.

One query per (group, platform, table column): every catalog identifier whose kind that
column holds becomes one `SELECT` branch over a common table expression, so the osquery
table is read once and each result row names the product, the identifier and the observed
value that matched (`banscan_product`, `banscan_identifier`, `banscan_value`).

Groups follow the matcher's verdicts: `covered`, `review` (review products) and `remnant`;
programs published by a covered entity that no catalog entry names go where the matcher puts
them, `covered`, or `review` for an entity whose unlisted products a person judges
(`unlisted_review`). Carved-out and informational products are left out: a pack is for
finding what must go.

Not expressed, because osquery cannot read them cheaply or at all: file paths (the file
table needs a directory per query; `banscan scan` walks them), Authenticode signers
(authenticode needs a path), purl/cpe (no osquery table holds them), Windows package ids
(winget is not an osquery table) and Android/iOS identifiers (osquery runs on neither). The
pack says so: its `left_out` lines name each such identifier (rules/leftout.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace

from banscan.catalog.schema import (
    Catalog,
    Entity,
    Identifier,
    IdentifierKind,
    MatchKind,
    Product,
    ProductStatus,
)
from banscan.match.index import identifiers
from banscan.match.matcher import UNLISTED_SUFFIX
from banscan.match.normalize import LEGAL_FORMS, LEGAL_FORMS_CYRILLIC
from banscan.rules.leftout import NO_SQL, PHONE_APPS, LeftOut, kind_reason, left_out_lines
from banscan.rules.sqlgen import Unsupported, name_like, name_regex, predicate, regex_pred, sql_str
from banscan.rules.words import export_description, names_text, vendor_names

K = IdentifierKind
OS_PLATFORMS = ("windows", "darwin", "linux")
GROUPS = ("covered", "review", "remnant")
INTERVAL = 3600
# Catalog platforms → osquery platforms. Appliances that run osquery run Linux.
_PLATFORM_MAP: dict[str, tuple[str, ...]] = {
    "windows": ("windows",),
    "macos": ("darwin",),
    "linux": ("linux",),
    "appliance": ("linux",),
    "any": OS_PLATFORMS,
}
_LEGAL_WORDS = (*sorted(LEGAL_FORMS), *LEGAL_FORMS_CYRILLIC)
_REG_ROOTS = ("HKEY_LOCAL_MACHINE\\SOFTWARE", "HKEY_LOCAL_MACHINE\\SOFTWARE\\WOW6432Node")
# Keys listed one level deep as well: registered COM ProgIDs and the machine's autorun values.
_REG_LISTS = (
    "HKEY_LOCAL_MACHINE\\SOFTWARE\\Classes",
    "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run",
)
_REG_SKIP = frozenset({"software", "wow6432node", "hkey", "local", "machine", "hklm"})


@dataclass(frozen=True)
class Source:
    """One osquery column that holds identifiers of some kinds; `cte` selects it as `v`."""

    name: str
    kinds: frozenset[IdentifierKind]
    cte: str
    columns: tuple[str, ...]  # context columns the CTE also selects
    suffixes: tuple[str, ...] = ()  # type suffixes the table keeps and banscan strips
    name_suffix: str = ""  # literal ending on names in this column (".app")


def _src(
    name: str,
    table: str,
    column: str,
    extras: Iterable[str],
    *kinds: IdentifierKind,
    suffixes: tuple[str, ...] = (),
    name_suffix: str = "",
) -> Source:
    extras = tuple(extras)
    cols = ", ".join((f"{column} AS v", *extras))
    aliases = tuple(e.split(" AS ")[-1].split(".")[-1] for e in extras)
    return Source(name, frozenset(kinds), f"SELECT {cols} FROM {table}", aliases, suffixes, name_suffix)


def _browser(table: str, column: str, kind: IdentifierKind) -> Source:
    """Browser add-ons are per user: osquery returns them only when joined with users."""
    extras = (
        f"{table}.name AS name",
        f"{table}.version AS version",
        f"{table}.path AS path",
        "users.username AS username",
    )
    return _src(
        f"{table}_{column}", f"users CROSS JOIN {table} USING (uid)", f"{table}.{column}", extras, kind
    )


def _browsers(*tables: str) -> list[Source]:
    out: list[Source] = []
    for t in tables:
        out += [_browser(t, "identifier", K.EXTENSION_ID), _browser(t, "name", K.DISPLAY_NAME)]
    return out


_PROC = ("pid", "path", "cmdline")
# Kernel drivers are services too: every one has a key under ...\Services, which osquery
# lists cheaply (one level), whereas the `drivers` table sees only Plug-and-Play devices.
_SERVICES_KEY = "HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services"
_REG_SERVICES = Source(
    "registry_services",
    frozenset({K.DRIVER}),
    f"SELECT name AS v, path, type FROM registry WHERE key = {sql_str(_SERVICES_KEY)} AND type = 'subkey'",
    ("path", "type"),
)
SOURCES: dict[str, list[Source]] = {
    "windows": [
        _src(
            "programs_name", "programs", "name", ("version", "publisher", "install_location"), K.DISPLAY_NAME
        ),
        _src("services_display_name", "services", "display_name", ("name", "status", "path"), K.DISPLAY_NAME),
        _src("services_name", "services", "name", ("display_name", "status", "path"), K.SERVICE),
        _src("drivers_service", "drivers", "service", ("image", "description", "provider"), K.DRIVER),
        _REG_SERVICES,
        _src("processes_name", "processes", "name", _PROC, K.PROCESS, suffixes=(".exe",)),
        _src(
            "certificates_common_name",
            "certificates",
            "common_name",
            ("subject", "path", "sha1"),
            K.CERTIFICATE,
        ),
        *_browsers("chrome_extensions", "firefox_addons"),
    ],
    "darwin": [
        _src(
            "apps_name",
            "apps",
            "name",
            ("path", "bundle_identifier", "bundle_short_version"),
            K.DISPLAY_NAME,
            name_suffix=".app",
        ),
        _src(
            "apps_display_name",
            "apps",
            "display_name",
            ("path", "bundle_identifier", "bundle_short_version"),
            K.DISPLAY_NAME,
        ),
        _src(
            "apps_bundle_identifier",
            "apps",
            "bundle_identifier",
            ("name", "path", "bundle_short_version"),
            K.BUNDLE_ID,
        ),
        _src("homebrew_packages_name", "homebrew_packages", "name", ("version", "type", "path"), K.PACKAGE),
        _src("package_receipts_package_id", "package_receipts", "package_id", ("version", "path"), K.RECEIPT),
        _src("launchd_label", "launchd", "label", ("path", "program"), K.SERVICE),
        _src("kernel_extensions_name", "kernel_extensions", "name", ("version", "path"), K.DRIVER),
        _src(
            "system_extensions_identifier",
            "system_extensions",
            "identifier",
            ("version", "state", "path"),
            K.DRIVER,
        ),
        _src("system_extensions_team", "system_extensions", "team", ("identifier", "path"), K.TEAM_ID),
        _src(
            "signature_team_identifier",
            "apps JOIN signature ON signature.path = apps.path",
            "signature.team_identifier",
            ("apps.path AS path", "apps.bundle_identifier AS bundle_identifier"),
            K.TEAM_ID,
        ),
        _src("processes_name", "processes", "name", _PROC, K.PROCESS),
        _src(
            "certificates_common_name",
            "certificates",
            "common_name",
            ("subject", "path", "sha1"),
            K.CERTIFICATE,
        ),
        *_browsers("chrome_extensions", "firefox_addons", "safari_extensions"),
    ],
    "linux": [
        _src("deb_packages_name", "deb_packages", "name", ("version", "arch", "status"), K.PACKAGE),
        _src("rpm_packages_name", "rpm_packages", "name", ("version", "release", "arch"), K.PACKAGE),
        _src(
            "systemd_units_id",
            "systemd_units",
            "id",
            ("active_state", "fragment_path"),
            K.SERVICE,
            suffixes=(".service",),
        ),
        _src("kernel_modules_name", "kernel_modules", "name", ("status", "address"), K.DRIVER),
        _src("processes_name", "processes", "name", _PROC, K.PROCESS),
        *_browsers("chrome_extensions", "firefox_addons"),
    ],
}
PRODUCT_PUBLISHER = (
    "a product's own publisher names: the publisher query looks for covered entities' names, "
    "whose programs it reports as the entity's"
)
_PUBLISHER = _src(
    "programs_publisher", "programs", "publisher", ("name", "version", "install_location"), K.PUBLISHER
)
_REGISTRY_COLUMNS = ("key", "name", "type", "data")


@dataclass(frozen=True)
class PackQuery:
    """One generated query and what it looks for."""

    name: str
    group: str
    platform: str
    source: str
    sql: str
    products: tuple[str, ...]
    description: str = ""


@dataclass
class _Branches:
    items: list[str] = field(default_factory=list)
    products: dict[str, None] = field(default_factory=dict)
    seen: set[tuple[str, str]] = field(default_factory=set)

    def add(self, product: str, pred: str, select: str) -> None:
        if (product, pred) in self.seen:
            return
        self.seen.add((product, pred))
        self.products.setdefault(product, None)
        self.items.append(f"{select} FROM t WHERE {pred}")


def group_of(product: Product) -> str | None:
    """Which pack group a product's findings belong to; None for carved-out/informational."""
    if product.remnant:
        return "remnant"
    if product.status == ProductStatus.COVERED:
        return "covered"
    if product.status == ProductStatus.REVIEW:
        return "review"
    return None


def identifier_platforms(product: Product, ident: Identifier) -> set[str]:
    out: set[str] = set()
    for p in ident.platforms or product.platforms:
        out.update(_PLATFORM_MAP.get(p, ()))
    return out


def _select(
    product: str, group: str, kind: str, identifier: str, confidence: str, columns: tuple[str, ...]
) -> str:
    cols = [
        f"{sql_str(product)} AS banscan_product",
        f"{sql_str(group)} AS banscan_status",
        f"{sql_str(kind)} AS banscan_kind",
        f"{sql_str(identifier)} AS banscan_identifier",
        f"{sql_str(confidence)} AS banscan_confidence",
        "t.v AS banscan_value",
        *(f"t.{c}" for c in columns),
    ]
    return "SELECT " + ", ".join(cols)


def identifier_ref(ident: Identifier) -> str:
    """The identifier as the matcher's Evidence.identifier spells it."""
    return f"{ident.match.value}:{ident.value}"


def registry_anchor(pattern: str) -> str:
    """The first literal key name in a registry regex (e.g. KasperskyLab), to bound the walk."""
    text = re.sub(r"\[[^\]]*\]|\\.", " ", pattern)
    for run in re.findall(r"[A-Za-z0-9_]+", text):
        if run.lower() not in _REG_SKIP and len(run) >= 3:
            return str(run)
    raise Unsupported(f"registry regex {pattern!r} names no key to start from")


def _registry_source(anchors: Iterable[str]) -> Source:
    """registry needs a key constraint: the SOFTWARE roots and listed keys (one level) and each
    anchor's subtree."""
    cols = "path AS v, key, name, type, data"
    parts = [f"SELECT {cols} FROM registry WHERE key = {sql_str(r)}" for r in (*_REG_ROOTS, *_REG_LISTS)]
    for a in sorted(set(anchors)):
        for r in _REG_ROOTS:
            base = r + "\\" + a
            subtree = base + "\\%%"  # osquery's registry glob: %% walks the subtree
            parts.append(f"SELECT {cols} FROM registry WHERE key = {sql_str(base)}")
            parts.append(f"SELECT {cols} FROM registry WHERE key LIKE {sql_str(subtree)}")
    return Source("registry_key", frozenset({K.REGISTRY_KEY}), " UNION ALL ".join(parts), _REGISTRY_COLUMNS)


def _products(catalog: Catalog, group: str) -> Iterator[Product]:
    for p in catalog.products:
        if group_of(p) == group:
            yield p


def _identifier_branches(catalog: Catalog, group: str, platform: str, source: Source) -> _Branches:
    out = _Branches()
    for product in _products(catalog, group):
        for ident in identifiers(catalog, product):
            if ident.kind not in source.kinds or platform not in identifier_platforms(product, ident):
                continue
            try:
                pred = predicate(ident, "t.v", source.suffixes, source.name_suffix)
            except Unsupported:
                continue
            sel = _select(
                product.id,
                group,
                ident.kind.value,
                identifier_ref(ident),
                ident.confidence.value,
                source.columns,
            )
            out.add(product.id, pred, sel)
    return out


def _publisher_source(catalog: Catalog) -> Source:
    """programs by publisher, without programs named as a carved-out or informational product:
    the matcher attributes those programs' publisher to that product instead."""
    excluded: list[str] = []
    for p in catalog.products:
        if group_of(p) is None:
            for ident in identifiers(catalog, p):
                if ident.kind == K.DISPLAY_NAME and "windows" in identifier_platforms(p, ident):
                    excluded.append(predicate(ident, "name"))
    guard = f" WHERE publisher IS NOT NULL AND NOT ({' OR '.join(excluded)})" if excluded else ""
    return replace(_PUBLISHER, cte=_PUBLISHER.cte + guard)


def publisher_group(entity: Entity) -> str:
    """The group of an entity's programs that no catalog entry names, as the matcher judges them:
    `covered`, or `review` where the entity's rule reaches only some of its products."""
    return "review" if entity.unlisted_review else "covered"


def _publisher_branches(catalog: Catalog, group: str) -> _Branches:
    """Programs published by a covered entity: the publisher names who made the program, so they
    are that entity's software (the matcher's rule), whatever the catalog calls them."""
    out = _Branches()
    for ent in catalog.entities:
        if not ent.covered or publisher_group(ent) != group:
            continue
        product = f"{ent.id}{UNLISTED_SUFFIX}"
        sel = _select(product, group, "publisher", f"entity:{ent.id}", "definitive", _PUBLISHER.columns)
        for n in ent.all_names():
            try:
                rx = regex_pred("t.v", name_regex(n, MatchKind.NAME, skip_words=_LEGAL_WORDS))
            except Unsupported:
                continue
            like = name_like(n, _LEGAL_WORDS)
            out.add(product, f"(lower(t.v) LIKE {sql_str(like)} ESCAPE '\\' AND {rx})" if like else rx, sel)
    return out


def _sources(catalog: Catalog, platform: str) -> list[Source]:
    srcs = list(SOURCES[platform])
    if platform == "windows":
        anchors: list[str] = []
        for p in catalog.products:
            for ident in p.identifiers:
                if ident.kind == K.REGISTRY_KEY and ident.match == MatchKind.REGEX:
                    try:
                        anchors.append(registry_anchor(ident.value))
                    except Unsupported:
                        continue
        if anchors:
            srcs.append(_registry_source(anchors))
    return srcs


def build_queries(catalog: Catalog) -> list[PackQuery]:
    """Every pack query, in a stable order (group, platform, source)."""
    out: list[PackQuery] = []
    for group in GROUPS:
        for platform in OS_PLATFORMS:
            for source in _sources(catalog, platform):
                branches = _identifier_branches(catalog, group, platform, source)
                if branches.items:
                    out.append(_query(catalog, group, platform, source, branches))
            if group in ("covered", "review") and platform == "windows":
                branches = _publisher_branches(catalog, group)
                if branches.items:
                    out.append(_query(catalog, group, platform, _publisher_source(catalog), branches))
    return out


def _query(catalog: Catalog, group: str, platform: str, source: Source, branches: _Branches) -> PackQuery:
    sql = f"WITH t AS ({source.cte}) " + " UNION ALL ".join(branches.items)
    products = tuple(branches.products)
    listed = ", ".join(products[:12]) + (f" and {len(products) - 12} more" if len(products) > 12 else "")
    desc = (
        f"banscan catalog {catalog.meta.version}: {group} software of "
        f"{names_text(vendor_names(catalog, products))} on {platform} "
        f"found through {source.name.replace('_', ' ')} ({listed})."
    )
    return PackQuery(
        f"banscan_{group}_{platform}_{source.name}", group, platform, source.name, sql, products, desc
    )


def osquery_left_out(catalog: Catalog) -> list[LeftOut]:
    """The identifiers of exported products (covered, review, remnant) that no query looks for:
    phone apps, kinds no osquery column holds, values osquery SQL cannot express."""
    out: list[LeftOut] = []
    sources = {platform: _sources(catalog, platform) for platform in OS_PLATFORMS}
    for product in catalog.products:
        if group_of(product) is None:
            continue
        for ident in product.identifiers:
            platforms = identifier_platforms(product, ident)
            reason = PHONE_APPS if not platforms else _why_not(ident, platforms, sources)
            if reason is not None:
                out.append(LeftOut(product.id, ident.kind.value, ident.value, reason))
    return out


def _why_not(ident: Identifier, platforms: set[str], sources: dict[str, list[Source]]) -> str | None:
    """None when a query of some platform expresses the identifier, else why none does."""
    holders = [s for p in platforms for s in sources[p] if ident.kind in s.kinds]
    for src in holders:
        try:
            predicate(ident, "t.v", src.suffixes, src.name_suffix)
        except Unsupported:
            continue
        return None
    if holders:
        return NO_SQL
    if ident.kind == K.PUBLISHER:
        return PRODUCT_PUBLISHER
    return kind_reason(ident.kind, platforms)


def render_osquery_pack(catalog: Catalog) -> str:
    """The pack as JSON text (osquery's pack format), ready for `--pack` or a config's `packs`.

    Beside `platform` and `queries` it says what it is (`description`) and what it could not
    express (`left_out`, one line per reason); osquery reads neither key (Pack::initialize in
    osquery/config/packs.cpp reads shard, platform, version, oncall, discovery and queries)."""
    queries = {
        q.name: {
            "query": q.sql,
            "interval": INTERVAL,
            "platform": q.platform,
            "description": q.description,
            "removed": False,
            "snapshot": True,
        }
        for q in build_queries(catalog)
    }
    pack = {
        "platform": ",".join(OS_PLATFORMS),
        "description": export_description(
            catalog, "osquery pack", (p.id for p in catalog.products if group_of(p) is not None)
        ),
        "left_out": left_out_lines(osquery_left_out(catalog)),
        "queries": queries,
    }
    return json.dumps(pack, indent=2, ensure_ascii=False) + "\n"
