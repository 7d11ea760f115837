"""Storing an uploaded inventory: one result per host it names, a few hundred hosts per
transaction, hosts matched by identifier, else by a unique hostname, else created — all within
one organisation, the uploader's."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from banscan.models import Finding as ResultFinding
from banscan.models import ScanResult
from banscan.store.apply import Incoming, store_batch
from banscan.store.audit import audit_org
from banscan.store.db import Database
from banscan.store.ingest import parse_result
from banscan.store.models import DEFAULT_ORG_ID, Host

IMPORT_BATCH = 500  # hosts stored per transaction by a bulk import


def ingest_import(
    db: Database,
    result: ScanResult,
    *,
    actor: str,
    remote_addr: str,
    filename: str,
    sha256: str,
    site: str = "",
    org_id: int = DEFAULT_ORG_ID,
) -> list[dict[str, Any]]:
    """Store one result per host the scanned inventory names (as `filename`, without the
    server's temporary path) in organisation `org_id`; hosts it creates get `site`. Audited as
    one import."""
    findings: dict[str, list[ResultFinding]] = {}
    for f in result.findings:
        findings.setdefault(f.host, []).append(f)
    names = [n for n in dict.fromkeys([*result.hosts, *findings]) if n and len(n) <= 255 and "\x00" not in n]
    out: list[dict[str, Any]] = []
    for start in range(0, len(names), IMPORT_BATCH):
        chunk = names[start : start + IMPORT_BATCH]
        parsed = []
        for name in chunk:
            per_host = dataclasses.replace(result, findings=findings.get(name, []), hosts=[name]).to_json()
            for t in per_host["targets"]:
                t["target"] = filename
                t["errors"] = []
            parsed.append(parse_result(json.dumps(per_host, ensure_ascii=False).encode("utf-8")))
        with db.write_session() as session:
            ids = import_hosts(session, chunk, site, org_id=org_id)
            items = [Incoming(ids[n], *p, source="import") for n, p in zip(chunk, parsed, strict=True)]
            stored = store_batch(session, items)
            session.commit()
        for name, outcome in zip(chunk, stored, strict=True):
            if isinstance(outcome, Exception):
                raise outcome
            out.append({"host_id": ids[name], "hostname": name, **outcome.to_json()})
    with db.writing() as session:
        audit_org(session, org_id, actor, "import", filename, remote_addr, sha256=sha256, hosts=len(out))
    return out


def import_hosts(db: Session, names: list[str], site: str, *, org_id: int = DEFAULT_ORG_ID) -> dict[str, int]:
    """The hosts of organisation `org_id` inventory rows name: by identifier, else by a unique
    hostname, else new ones (at `site`; hosts already known keep theirs). Hosts of other
    organisations are never matched."""
    for attempt in range(2):
        known = db.execute(
            select(Host.identifier, Host.id).where(Host.org_id == org_id, Host.identifier.in_(names))
        )
        ids: dict[str, int] = {identifier: host_id for identifier, host_id in known}
        rest = [n for n in names if n not in ids]
        by_name: dict[str, list[int]] = {}
        if rest:
            for hostname, host_id in db.execute(
                select(Host.hostname, Host.id).where(Host.org_id == org_id, Host.hostname.in_(rest))
            ):
                by_name.setdefault(hostname, []).append(host_id)
        for n in rest:
            if len(by_name.get(n, ())) == 1:
                ids[n] = by_name[n][0]
        new = [n for n in names if n not in ids]
        if not new:
            return ids
        rows = [
            {
                "org_id": org_id,
                "identifier": n,
                "hostname": n,
                "platform": "",
                "site": site,
                "source": "import",
            }
            for n in new
        ]
        try:
            with db.begin_nested():
                created = db.execute(insert(Host).returning(Host.id, sort_by_parameter_order=True), rows)
                ids.update(zip(new, created.scalars(), strict=True))
            return ids
        except IntegrityError:  # some were created meanwhile by another request: look again
            if attempt:
                raise
    raise AssertionError("unreachable")
