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
from banscan.rules.osquery import GROUPS, OS_PLATFORMS, PackQuery, build_queries

# osquery/Fleet platform names → catalog platform names.
_CATALOG_PLATFORM = {"windows": "windows", "darwin": "macos", "linux": "linux"}
_PLATFORM_TITLE = {"windows": "Windows", "darwin": "macOS", "linux": "Linux"}
_GROUP_TEXT = {
    "covered": "no Kaspersky software covered by a US prohibition",
    "review": "no Kaspersky software that needs a person's review",
    "remnant": "no leftovers of uninstalled Kaspersky software",
}
_REMOVAL = {
    "windows": "Uninstall it from Settings > Apps (or Programs and Features), reboot, and check that "
    "its services, drivers and HKLM\\SOFTWARE\\KasperskyLab keys are gone.",
    "darwin": "Quit the app, run its own uninstaller or remove the app and its launchd jobs and system "
    "extensions, then restart.",
    "linux": "Remove the packages with the package manager (apt purge / dnf remove), stop and disable "
    "their systemd units, and unload their kernel modules.",
}
_REMNANT = {
    "windows": "Delete the Kaspersky root certificates from the machine's certificate stores "
    "(certlm.msc > Trusted Root Certification Authorities).",
    "darwin": "Delete the Kaspersky root certificates from the System keychain (Keychain Access).",
    "linux": "Delete the Kaspersky root certificates from the system trust store and refresh it.",
}


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
    lines = [_REMNANT[platform] if group == "remnant" else _REMOVAL[platform]]
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
                    "name": f"banscan: {_GROUP_TEXT[group]} ({_PLATFORM_TITLE[platform]})",
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


def render_fleet_policies(catalog: Catalog) -> str:
    """YAML documents (`apiVersion: v1`, `kind: policy`) for `fleetctl apply -f`."""
    docs = [{"apiVersion": "v1", "kind": "policy", "spec": spec} for spec in build_policies(catalog)]
    return yaml.safe_dump_all(
        docs,
        explicit_start=True,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=1 << 20,
    )
