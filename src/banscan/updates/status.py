"""`banscan catalog status`: the catalog in use and the signed metadata that vouches for it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from banscan.catalog import installed
from banscan.catalog.loader import built_in_catalog, load_catalog


def catalog_status(now: dt.datetime | None = None) -> dict[str, Any]:
    """In use (version, digest, source, verified), the built-in fallback, the installed
    catalog's record, and each trusted role's version, expiry, keys and threshold."""
    from banscan.updates.client import metadata_dir, role_summary, source_record

    now = now or dt.datetime.now(dt.UTC)
    use = load_catalog()
    origin = use.origin
    doc: dict[str, Any] = {
        "in_use": {
            "version": use.meta.version,
            "source": origin.source if origin else "unknown",
            "sha256": origin.sha256 if origin else "",
            "verified": bool(origin and origin.verified),
            "location": origin.location if origin else "",
        },
        "built_in": {"version": built_in_catalog().meta.version},
        "notes": [],
    }
    got = installed.active()
    if got is not None:
        doc["installed"] = {
            "version": got.version,
            "sha256": got.sha256,
            "repository": got.repository,
            "installed_at": got.installed_at,
        }
        if origin is None or origin.source != "installed":
            doc["notes"].append(
                "the installed catalog is not in use: the built-in one is newer, or the installed "
                "file is missing or not the one verified"
            )
    roles = role_summary(metadata_dir())
    if roles:
        for info in roles.values():
            if "expires" in info:
                info["expired"] = dt.datetime.fromisoformat(info["expires"]) <= now
        doc["trust"] = {**source_record(), "roles": roles}
        if any(info.get("expired") for info in roles.values()):
            doc["notes"].append(
                "trusted metadata has expired: run `banscan catalog update` to check for changes"
            )
    return doc
