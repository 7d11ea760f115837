"""Which catalog judged each host: what a result says of its catalog, the versions the hosts'
latest results were judged by, and which of those are older than the server's current catalog.

Versions are compared numerically part by part (`banscan.catalog.installed.version_key`), which
SQL cannot do; but a fleet uses a handful of catalog versions, so the distinct versions of the
hosts' latest reports are read (one grouped join over `hosts.last_report_id`, a primary-key
lookup per host), compared here, and the older ones go back into SQL as a list.
"""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import ColumnElement, false, func, select
from sqlalchemy.orm import Session, defer

from banscan.catalog.installed import version_key
from banscan.store.models import Host, Report
from banscan.store.scope import OrgScope

SOURCES = ("built-in", "installed", "path")  # banscan.catalog.origin: where a scanner loaded it
_SHA256 = re.compile(r"[0-9a-f]{64}\Z")
UNKNOWN = ""  # the version of a result that named none


def report_catalog(data: dict[str, Any]) -> dict[str, Any]:
    """The catalog columns of a report from a result's `catalog` member (banscan/result/v1 allows
    any member; only well-formed values are kept, anything else is stored as unknown)."""
    doc = data.get("catalog")
    doc = doc if isinstance(doc, dict) else {}
    sha = doc.get("sha256")
    source = doc.get("source")
    verified = doc.get("verified")
    version = data.get("catalog_version")
    if not isinstance(version, str) or not version:
        version = doc.get("version") if isinstance(doc.get("version"), str) else ""
    return {
        "catalog_version": str(version)[:64],
        "catalog_sha256": sha.lower() if isinstance(sha, str) and _SHA256.match(sha.lower()) else None,
        "catalog_source": source if source in SOURCES else None,
        "catalog_verified": verified if isinstance(verified, bool) else None,
    }


def is_older(version: str | None, current: str | None) -> bool:
    """Whether a result judged by catalog `version` was judged by one older than `current`.
    An unknown or unreadable version is not called older: nothing says it is."""
    if not version or not current:
        return False
    try:
        return version_key(version) < version_key(current)
    except ValueError:  # a part str.isdigit() accepts but int() does not (superscripts)
        return False


def latest_versions(session: Session, *, orgs: OrgScope) -> dict[str, int]:
    """Hosts `orgs` may read per catalog version of their latest result (`UNKNOWN`: it named
    none)."""
    q = (
        select(Report.catalog_version, func.count())
        .select_from(Host)
        .join(Report, Report.id == Host.last_report_id)
        .where(orgs.hosts())
        .group_by(Report.catalog_version)
    )
    return {str(v or UNKNOWN): int(n) for v, n in session.execute(q)}


def older_versions(session: Session, current: str, *, orgs: OrgScope) -> list[str]:
    """The versions of the latest results of hosts `orgs` may read older than `current`."""
    return sorted(v for v in latest_versions(session, orgs=orgs) if is_older(v, current))


def outdated_condition(session: Session, current: str, *, orgs: OrgScope) -> ColumnElement[bool]:
    """On `hosts`: the latest result was judged by a catalog older than `current`."""
    old = older_versions(session, current, orgs=orgs)
    if not old:
        return false()
    judged = select(Report.id).where(Report.id == Host.last_report_id, Report.catalog_version.in_(old))
    return judged.exists()


def catalog_summary(session: Session, current: str, *, orgs: OrgScope) -> dict[str, Any]:
    """The catalogs the latest results of hosts `orgs` may read were judged by, against the
    server's `current` one: hosts per version (newest first), how many are out of date, and how
    many named none."""
    counts = latest_versions(session, orgs=orgs)
    readable, odd = [], []
    for v in counts:
        if v == UNKNOWN:
            continue
        try:
            readable.append((version_key(v), v))
        except ValueError:
            odd.append(v)
    ordered = [v for _, v in sorted(readable, reverse=True)] + sorted(odd)
    by_version = [{"version": v, "hosts": counts[v], "outdated": is_older(v, current)} for v in ordered]
    return {
        "current": current,
        "hosts_outdated": sum(e["hosts"] for e in by_version if e["outdated"]),
        "hosts_unknown": counts.get(UNKNOWN, 0),
        "by_version": by_version,
    }


def catalog_json(r: Report | None, current: str | None) -> dict[str, Any] | None:
    """The catalog a report was judged by and, given the server's `current` one, whether it is
    older (`outdated`)."""
    if r is None:
        return None
    out: dict[str, Any] = {
        "version": r.catalog_version or None,
        "sha256": r.catalog_sha256,
        "source": r.catalog_source,
        "verified": r.catalog_verified,
    }
    if current is not None:
        out["outdated"] = is_older(r.catalog_version, current)
    return out


def reports_by_id(session: Session, report_ids: list[int]) -> dict[int, Report]:
    """Reports by id, for a page of hosts' latest reports (their bodies left unread)."""
    ids = sorted({i for i in report_ids if i is not None})
    if not ids:
        return {}
    q = select(Report).where(Report.id.in_(ids)).options(defer(Report.body))
    return {r.id: r for r in session.scalars(q)}


UPDATE_OUTCOMES = ("installed", "current", "refused")


def update_note(body: str) -> dict[str, str] | None:
    """What an agent's catalog update before the scan did, as its result says (`catalog.update`):
    outcome and, when refused, why; None when the result does not say."""
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return update_of(doc)


def update_of(doc: Any) -> dict[str, str] | None:
    """`update_note` of a result already parsed."""
    found = doc.get("catalog") if isinstance(doc, dict) else None
    update = found.get("update") if isinstance(found, dict) else None
    if not isinstance(update, dict) or update.get("outcome") not in UPDATE_OUTCOMES:
        return None
    out = {"outcome": str(update["outcome"])}
    for key, limit in (("reason", 500), ("version", 64), ("trust", 32)):
        value = update.get(key)
        if isinstance(value, str) and value:
            out[key] = " ".join(value.split())[:limit]
    return out
