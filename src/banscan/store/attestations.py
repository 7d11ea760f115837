"""Attestations: an organisation's officer states its status as of a day, with their account.

The status is computed by the server, never taken from the caller, and carries aggregates only
(counts per product, deadlines, exceptions), never a host's name or identifier: a coordinator
reads its members' attestations whatever they share with it.

- Findings remaining: the organisation's own hosts' findings of verdict `covered` or `review`
  identified by the end of the day and not gone by then (`first_identified`, `gone_at`; the
  verdict as it stands now), counted per product, with each product's removal records as they
  stood that day (the last step recorded by then, `TransitionEvent`).
- The plan: the deadlines those findings are due by, evaluated as of the day for the
  organisation's role and jurisdiction (the server's where it has none) from each finding's
  first identification, per product and rule. No date is stored for a removal beyond these.
- Exceptions: accepted findings remaining that day, per product, reason and expiry (what the
  result recording the acceptance says), with host names in free text written out as `[host]`.

`digest` is the SHA-256 of the content's canonical JSON (keys sorted, no spaces, UTF-8), so a
copy can be checked against the record; the content holds who signed, when and their statement.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from banscan.catalog.schema import ROLES, Catalog
from banscan.policy.deadlines import summarize
from banscan.policy.engine import UnknownJurisdiction, normalise_jurisdiction
from banscan.removal import STATES
from banscan.store.audit import audit_org
from banscan.store.board import exception_items
from banscan.store.deadlines import Policy
from banscan.store.models import (
    Attestation,
    Finding,
    Host,
    Organisation,
    Transition,
    TransitionEvent,
    User,
    utcnow,
)
from banscan.store.orgs import descendants
from banscan.store.paging import as_date, iso
from banscan.store.scope import OrgScope
from banscan.text import has_bidi

FORMAT = 1  # of the content; bumped when its members change meaning
EARLIEST = dt.date(2017, 1, 1)  # before any rule the catalog knows
MAX_STATEMENT = 2000
REMAINING = ("covered", "review")
HOST_MARK = "[host]"


# ---------------------------------------------------------------- checks


def check_as_of(as_of: dt.date, today: dt.date | None = None) -> dt.date:
    """`as_of` if it is a day one may attest to: not after today (UTC), not before 2017."""
    today = today or utcnow().date()
    if as_of > today:
        raise ValueError(f"as_of {as_of.isoformat()} is in the future: attest to a day up to {today}")
    if as_of < EARLIEST:
        raise ValueError(f"as_of {as_of.isoformat()} is before {EARLIEST.isoformat()}")
    return as_of


def check_statement(text: str) -> str:
    """The statement stripped, with its line ends made `\\n`; ValueError when too long or with
    control or bidirectional characters."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    if len(text) > MAX_STATEMENT:
        raise ValueError(f"the statement must be at most {MAX_STATEMENT} characters")
    if any((ord(c) < 32 and c not in "\n\t") or c == "\x7f" for c in text) or has_bidi(text):
        raise ValueError("the statement must not contain control or bidirectional characters")
    return text


# ---------------------------------------------------------------- the status


def canonical_json(content: Any) -> bytes:
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def content_digest(content: Any) -> str:
    return hashlib.sha256(canonical_json(content)).hexdigest()


def org_policy(org: Organisation, server: Policy, as_of: dt.date) -> Policy:
    """What the organisation's obligations are evaluated for: its role and jurisdiction, else
    the server's (`server`), as of `as_of`."""
    role = org.role if org.role in ROLES else server.role
    try:
        jurisdiction = normalise_jurisdiction(org.jurisdiction) if org.jurisdiction else server.jurisdiction
    except UnknownJurisdiction:
        jurisdiction = server.jurisdiction
    return Policy(server.catalog, role, as_of, jurisdiction)


def _end_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)


def _there_on(day: dt.date) -> ColumnElement[bool]:
    """Findings identified by the end of `day` and not gone by then."""
    return and_(
        Finding.first_identified <= day,
        or_(Finding.present.is_(True), Finding.gone_at >= _end_of(day)),
    )


def _own(org_id: int) -> OrgScope:
    return OrgScope(org_id, frozenset({org_id}), frozenset({org_id}))


def _product_name(catalog: Catalog, product: str) -> str:
    try:
        return catalog.product(product).name
    except KeyError:
        return product


def _removal_states(session: Session, org_id: int, day: dt.date) -> dict[str, dict[str, int]]:
    """Per product, the remaining findings' removal records by the state their last step
    recorded by the end of `day` put them in."""
    mine = _own(org_id)
    last = (
        select(func.max(TransitionEvent.id))
        .where(
            TransitionEvent.at < _end_of(day),
            TransitionEvent.transition_id.in_(select(Transition.id).where(mine.host_ids(Transition.host_id))),
        )
        .group_by(TransitionEvent.transition_id)
    )
    q = (
        select(Finding.product, TransitionEvent.to_state, func.count())
        .join(Transition, and_(Transition.host_id == Finding.host_id, Transition.product == Finding.product))
        .join(TransitionEvent, TransitionEvent.transition_id == Transition.id)
        .where(
            TransitionEvent.id.in_(last),
            Finding.verdict.in_(REMAINING),
            _there_on(day),
            mine.host_ids(Finding.host_id),
        )
        .group_by(Finding.product, TransitionEvent.to_state)
    )
    out: dict[str, dict[str, int]] = {}
    for product, state, n in session.execute(q):
        out.setdefault(product, {})[state] = n
    return out


def _remaining(
    session: Session, org_id: int, policy: Policy
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The findings remaining per product, and the deadlines they are due by (the plan)."""
    day = policy.as_of
    q = (
        select(Finding.product, Finding.verdict, Finding.category, Finding.first_identified, func.count())
        .where(Finding.verdict.in_(REMAINING), _there_on(day), _own(org_id).host_ids(Finding.host_id))
        .group_by(Finding.product, Finding.verdict, Finding.category, Finding.first_identified)
    )
    products: dict[str, dict[str, Any]] = {}
    plan: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for product, verdict, category, first, n in session.execute(q):
        entry = products.setdefault(
            product,
            {
                "product": product,
                "product_name": _product_name(policy.catalog, product),
                "covered": 0,
                "review": 0,
                "total": 0,
                "overdue": 0,
                "next_deadline": None,
                "overdue_since": None,
            },
        )
        entry[verdict] += n
        entry["total"] += n
        obligations = policy.obligations(product, verdict, category or "", as_date(first), day)
        summary = summarize(obligations)
        if summary.overdue_since is not None:
            entry["overdue"] += n
            entry["overdue_since"] = min(filter(None, (entry["overdue_since"], summary.overdue_since)))
        if summary.next_deadline is not None:
            entry["next_deadline"] = min(filter(None, (entry["next_deadline"], summary.next_deadline)))
        for o in obligations:
            if o.deadline and o.status.is_open:
                item = plan.setdefault(
                    (o.deadline, product, o.regulation, o.action),
                    {
                        "deadline": o.deadline,
                        "product": product,
                        "regulation": o.regulation,
                        "action": o.action,
                        "overdue": 0,
                        "pending": 0,
                    },
                )
                item["overdue" if o.status.overdue else "pending"] += n
    states = _removal_states(session, org_id, day)
    for product, entry in products.items():
        recorded = states.get(product, {})
        # a finding identified before any step was recorded for it is still where it starts
        entry["removal"] = {state: recorded.get(state, 0) for state in STATES}
        entry["removal"]["found"] += entry["total"] - sum(recorded.values())
    ordered = sorted(products.values(), key=lambda e: (-e["total"], e["product"]))
    return ordered, sorted(plan.values(), key=lambda p: (p["deadline"], p["product"], p["regulation"]))


def _redactor(session: Session, org_id: int) -> re.Pattern[str] | None:
    """A pattern matching the organisation's host names and identifiers as whole words."""
    names = {
        n
        for pair in session.execute(select(Host.hostname, Host.identifier).where(Host.org_id == org_id))
        for n in pair
        if n
    }
    if not names:
        return None
    alternatives = "|".join(re.escape(n) for n in sorted(names, key=lambda n: (-len(n), n)))
    return re.compile(rf"(?<![\w.-])(?:{alternatives})(?![\w-])", re.IGNORECASE)


def _exceptions(session: Session, org_id: int, policy: Policy) -> list[dict[str, Any]]:
    """Accepted findings remaining that day, per product, reason and expiry."""
    rows = [
        (f, "")
        for f in session.scalars(
            select(Finding)
            .where(
                Finding.verdict == "accepted", _there_on(policy.as_of), _own(org_id).host_ids(Finding.host_id)
            )
            .order_by(Finding.id)
        )
    ]
    if not rows:
        return []
    hosts = _redactor(session, org_id)

    def clean(text: str) -> str:
        return hosts.sub(HOST_MARK, text) if hosts is not None else text

    groups: dict[tuple[str, ...], dict[str, Any]] = {}
    for item in exception_items(session, rows, policy.as_of):
        entry = {
            "product": item["product"],
            "product_name": _product_name(policy.catalog, item["product"]),
            "original_verdict": item["original_verdict"],
            "reason": clean(item["reason"]),
            "approver": clean(item["approver"]),
            "expires": item["expires"],
            "expired": item["expired"],
        }
        key = tuple(str(v) for v in entry.values())
        groups.setdefault(key, {**entry, "findings": 0})["findings"] += 1
    return sorted(groups.values(), key=lambda e: (e["product"], e["expires"], e["reason"]))


def status_of(session: Session, org_id: int, as_of: dt.date, *, server: Policy) -> dict[str, Any]:
    """What an officer of organisation `org_id` would attest to as of `as_of`: its own hosts'
    findings remaining per product, the deadlines they are due by and its exceptions, evaluated
    for its role and jurisdiction (`server`: the server's catalog, role and jurisdiction; its day
    is not used). Aggregates only: no host's name or identifier. ValueError for an unknown
    organisation."""
    org = session.get(Organisation, org_id)
    if org is None:
        raise ValueError(f"no organisation {org_id}")
    policy = org_policy(org, server, as_of)
    products, plan = _remaining(session, org_id, policy)
    exceptions = _exceptions(session, org_id, policy)
    hosts = session.scalar(
        select(func.count(func.distinct(Finding.host_id))).where(
            Finding.verdict.in_(REMAINING), _there_on(as_of), _own(org_id).host_ids(Finding.host_id)
        )
    )
    return {
        "format": FORMAT,
        "organisation": {"slug": org.slug, "name": org.name},
        "as_of": as_of.isoformat(),
        "role": policy.role,
        "jurisdiction": policy.jurisdiction,
        "catalog": policy.catalog.meta.version,
        "totals": {
            "hosts_with_remaining": int(hosts or 0),
            "remaining": sum(p["total"] for p in products),
            "overdue": sum(p["overdue"] for p in products),
            "exceptions": sum(e["findings"] for e in exceptions),
        },
        "remaining": products,
        "plan": plan,
        "exceptions": exceptions,
    }


# ---------------------------------------------------------------- signing


def attest(
    session: Session, user: User, as_of: dt.date, statement: str, remote_addr: str = "", *, server: Policy
) -> Attestation:
    """Record `user`'s attestation of their organisation's status as of `as_of`, computed now;
    audited against the organisation. PermissionError unless `user` is an enabled admin;
    ValueError for a day in the future or before 2017, or a statement refused."""
    if user.role != "admin" or user.disabled:
        raise PermissionError("only an admin of the organisation may attest its status")
    as_of = check_as_of(as_of)
    statement = check_statement(statement)
    now = utcnow()
    content = status_of(session, user.org_id, as_of, server=server)
    content["signature"] = {"by": user.username, "at": iso(now), "statement": statement}
    row = Attestation(
        org_id=user.org_id,
        as_of=as_of,
        user_id=user.id,
        signed_by=user.username,
        signed_at=now,
        statement=statement,
        content=content,
        digest=content_digest(content),
    )
    session.add(row)
    session.flush()
    audit_org(
        session,
        user.org_id,
        user.username,
        "attestation.sign",
        f"attestation:{row.id}",
        remote_addr,
        as_of=as_of.isoformat(),
        digest=row.digest,
    )
    return row


def verify_digest(att: Attestation) -> bool:
    """Whether the record is as signed: its content hashes to its digest, and the content names
    the day, signer and statement the row does."""
    content: dict[str, Any] = att.content if isinstance(att.content, dict) else {}
    signed = content.get("signature")
    signature: dict[str, Any] = signed if isinstance(signed, dict) else {}
    return (
        content_digest(att.content) == att.digest
        and content.get("as_of") == as_date(att.as_of).isoformat()
        and signature.get("by") == att.signed_by
        and signature.get("statement") == att.statement
    )


# ---------------------------------------------------------------- reading


def attestations_of(
    session: Session, org_id: int, *, limit: int = 100, offset: int = 0
) -> tuple[list[Attestation], int]:
    """A page of an organisation's attestations, the most recently signed first, and how many
    it has."""
    total = session.scalar(select(func.count()).select_from(Attestation).where(Attestation.org_id == org_id))
    rows = session.scalars(
        select(Attestation)
        .where(Attestation.org_id == org_id)
        .order_by(Attestation.signed_at.desc(), Attestation.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return list(rows), int(total or 0)


def latest_attestations(session: Session, org_ids: Iterable[int]) -> dict[int, Attestation]:
    """Each organisation's last attestation recorded (none for one that has not attested)."""
    ids = sorted(set(org_ids))
    if not ids:
        return {}
    latest = select(func.max(Attestation.id)).where(Attestation.org_id.in_(ids)).group_by(Attestation.org_id)
    return {a.org_id: a for a in session.scalars(select(Attestation).where(Attestation.id.in_(latest)))}


def attestation_json(
    att: Attestation, org: Organisation, *, content: bool = True, names: bool = True
) -> dict[str, Any]:
    """The attestation as shown. Without `names` (a coordinator reading a member that does not
    share its hosts, and so not its users either) the signer is "an officer of" the member: the
    digest is still checked here, against the record as signed."""
    signer = att.signed_by if names else f"an officer of {org.name}"
    out: dict[str, Any] = {
        "id": att.id,
        "organisation": {"slug": org.slug, "name": org.name},
        "as_of": as_date(att.as_of).isoformat(),
        "signed_by": signer,
        "signed_at": iso(att.signed_at),
        "statement": att.statement,
        "digest": att.digest,
        "verified": verify_digest(att),
        "totals": att.content.get("totals") if isinstance(att.content, dict) else None,
    }
    if content:
        shown = att.content
        if not names and isinstance(shown, dict) and isinstance(shown.get("signature"), dict):
            shown = {**shown, "signature": {**shown["signature"], "by": signer}}
        out["content"] = shown
    return out


def readable_orgs(session: Session, org_id: int) -> list[int]:
    """Whose attestations a caller of organisation `org_id` reads: its own and those of its
    members, their members and so on (aggregates, which every member shares with its
    coordinators)."""
    return [org_id, *descendants(session, org_id)]


def readable_attestation(
    session: Session, attestation_id: int, *, org_id: int
) -> tuple[Attestation, Organisation] | None:
    """An attestation a caller of organisation `org_id` reads, with its organisation; None for
    none, or one of another organisation (a sibling's, a coordinator's)."""
    att = session.get(Attestation, attestation_id)
    if att is None or att.org_id not in readable_orgs(session, org_id):
        return None
    org = session.get(Organisation, att.org_id)
    return (att, org) if org is not None else None


def members_latest(session: Session, org_id: int) -> list[tuple[Organisation, Attestation | None]]:
    """A coordinator's members (and theirs), by name, each with its last attestation."""
    below = descendants(session, org_id)
    if not below:
        return []
    latest = latest_attestations(session, below)
    orgs = session.scalars(select(Organisation).where(Organisation.id.in_(below)).order_by(Organisation.name))
    return [(o, latest.get(o.id)) for o in orgs]
