"""Fleet policies generated from the same queries as the osquery pack.

A Fleet policy passes when its query returns a row, so each policy is the pack's queries
for one group and platform wrapped as `SELECT 1 WHERE NOT EXISTS (...) AND ...`: a clean
host returns one row (pass), a host with any match returns none (fail). The resolution
text comes from the catalog's alternatives, built-in ones first.
"""

from __future__ import annotations

from collections import defaultdict

import yaml

from banscan.catalog.schema import Alternative, Catalog, Category
from banscan.rules.leftout import left_out_lines
from banscan.rules.osquery import GROUPS, OS_PLATFORMS, PackQuery, build_queries, group_of, osquery_left_out
from banscan.rules.words import (
    export_description,
    names_text,
    prohibition_text,
    vendor_names,
    vendor_registry_keys,
)

# osquery/Fleet platform names → catalog platform names.
_CATALOG_PLATFORM = {"windows": "windows", "darwin": "macos", "linux": "linux"}
_PLATFORM_TITLE = {"windows": "Windows", "darwin": "macOS", "linux": "Linux"}
_REMOVAL = {
    "windows": "Uninstall it from Settings > Apps (or Programs and Features), reboot, and check that "
    "its services, drivers and {keys} are gone.",
    "darwin": "Quit the app, run its own uninstaller or remove the app and its launchd jobs and system "
    "extensions, then restart.",
    "linux": "Remove the packages with the package manager (apt purge / dnf remove), stop and disable "
    "their systemd units, and unload their kernel modules.",
}
_CERTIFICATES = {
    "windows": "Delete {what} from the machine's certificate stores "
    "(certlm.msc > Trusted Root Certification Authorities).",
    "darwin": "Delete {what} from the System keychain (Keychain Access).",
    "linux": "Delete {what} from the system trust store and refresh it.",
}
_LEFTOVERS = "Delete what the uninstall of {vendors} software left behind (folders, keys, services)."


def policy_name(catalog: Catalog, group: str, platform: str, products: list[str]) -> str:
    """What a passing host has none of, worded from the catalog: whose software, and for covered
    software the jurisdictions whose rules cover it."""
    vendors = names_text(vendor_names(catalog, products))
    text = {
        "covered": f"no software of {vendors} covered by {prohibition_text(catalog, products)}",
        "review": f"no software of {vendors} that needs a person's review",
        "remnant": f"no leftovers of uninstalled software of {vendors}",
    }[group]
    return f"banscan: {text} ({_PLATFORM_TITLE[platform]})"


def _remnant_text(catalog: Catalog, platform: str, products: list[str]) -> str:
    """Certificates by name where the leftovers are certificates, else the vendors' leftovers."""
    listed = [catalog.product(p) for p in products if not p.endswith("-unlisted")]
    certs = [p.name for p in listed if p.category == Category.CERTIFICATE]
    lines = [_CERTIFICATES[platform].format(what=names_text(certs, limit=6))] if certs else []
    if len(certs) < len(products):
        lines.append(_LEFTOVERS.format(vendors=names_text(vendor_names(catalog, products))))
    return " ".join(lines)


def _removal_text(catalog: Catalog, platform: str, products: list[str]) -> str:
    keys = vendor_registry_keys(catalog, products)
    named = ", ".join(f"HKLM\\SOFTWARE\\{k}" for k in keys[:3])
    return _REMOVAL[platform].format(keys=f"{named} keys" if named else "registry keys")


def _alternatives(catalog: Catalog, platform: str, categories: set[Category]) -> list[Alternative]:
    cat_platform = _CATALOG_PLATFORM[platform]
    found = [
        a
        for a in catalog.alternatives
        if cat_platform in a.platforms and categories.intersection(a.categories)
    ]
    return sorted(found, key=lambda a: (not a.builtin, a.name))


def resolution(catalog: Catalog, group: str, platform: str, products: list[str]) -> str:
    """What to do when the policy fails: remove, then what to use instead (built-in first)."""
    lines = [
        _remnant_text(catalog, platform, products)
        if group == "remnant"
        else _removal_text(catalog, platform, products)
    ]
    if group == "review":
        lines.insert(0, "Decide with the software's owner whether it is covered; if it is, remove it.")
    categories = {catalog.product(p).category for p in products if not p.endswith("-unlisted")}
    alts = _alternatives(catalog, platform, categories)
    if alts and group != "remnant":
        names = [f"{a.name} ({a.vendor}{', built in' if a.builtin else ''})" for a in alts]
        lines.append("Alternatives: " + "; ".join(names) + ".")
    lines.append("Run `banscan scan` afterwards to confirm nothing is left.")
    return " ".join(lines)


def policy_query(queries: list[PackQuery]) -> str:
    """A query that returns one row exactly when none of the detection queries does."""
    return "SELECT 1 WHERE " + " AND ".join(f"NOT EXISTS ({q.sql})" for q in queries)


def build_policies(catalog: Catalog) -> list[dict[str, object]]:
    """Fleet policy specs (the `spec` of each `kind: policy` document)."""
    by_key: dict[tuple[str, str], list[PackQuery]] = defaultdict(list)
    for q in build_queries(catalog):
        by_key[(q.group, q.platform)].append(q)
    specs: list[dict[str, object]] = []
    for group in GROUPS:
        for platform in OS_PLATFORMS:
            queries = by_key.get((group, platform))
            if not queries:
                continue
            products = list(dict.fromkeys(p for q in queries for p in q.products))
            tables = sorted({q.source for q in queries})
            specs.append(
                {
                    "name": policy_name(catalog, group, platform, products),
                    "query": policy_query(queries),
                    "description": (
                        f"Generated from banscan catalog {catalog.meta.version}. Fails when osquery finds "
                        f"any of {len(products)} catalog products ({', '.join(products)}) through "
                        f"{', '.join(t.replace('_', ' ') for t in tables)}."
                    ),
                    "resolution": resolution(catalog, group, platform, products),
                    "platform": platform,
                    "critical": group == "covered",
                }
            )
    return specs


def header(catalog: Catalog) -> str:
    """YAML comment lines: what the policies are for, and what their queries leave out."""
    products = (p.id for p in catalog.products if group_of(p) is not None)
    lines = [export_description(catalog, "Fleet policies", products)]
    left = left_out_lines(osquery_left_out(catalog))
    if left:
        lines.append("Left out (no policy looks for these):")
        lines += [f"- {line}" for line in left]
    return "".join(f"# {line}\n" for line in lines)


def render_fleet_policies(catalog: Catalog) -> str:
    """YAML documents (`apiVersion: v1`, `kind: policy`) for `fleetctl apply -f`, after comment
    lines that say what they cover and what they leave out."""
    docs = [{"apiVersion": "v1", "kind": "policy", "spec": spec} for spec in build_policies(catalog)]
    return header(catalog) + yaml.safe_dump_all(
        docs,
        explicit_start=True,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=1 << 20,
    )
