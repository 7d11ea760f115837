"""Regulations → dated obligations for one finding, for one role, as of one day.

Everything here is read from the catalog's regulations; a new rule is a new entry, not
new code. Status words used in the JSON contract:

- `not-yet-in-force`  the rule exists but its date has not come (as of the chosen day)
- `prohibited`        a prohibition in force
- `required`          an action in force whose deadline (if any) has not passed
- `due`               a report in force whose deadline has not passed
- `overdue`           an action or report whose deadline has passed (`days_overdue` says by how much)
- `advisory`          guidance in force without legal penalty
- `exempt`            the product falls under the regulation's exemptions
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from banscan.catalog.schema import Catalog, ObligationRule, Pack, Product, Regulation, Relation
from banscan.match.matcher import unlisted_entity
from banscan.models import Finding, Obligation, ObligationStatus, Verdict
from banscan.policy.calendar import add_business_days, parse_date

# Verdicts whose products are subject to obligations (informational ones only get exemptions).
_SUBJECT = {Verdict.COVERED, Verdict.REVIEW, Verdict.REMNANT, Verdict.ACCEPTED}


# ISO 3166-2:US subdivisions: the states, the District of Columbia and the outlying areas.
# fmt: off
US_SUBDIVISIONS = (
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "FL", "GA", "HI", "ID", "IL", "IN", "IA", "KS", "KY", "LA", "ME",
    "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA",
    "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY", "DC", "AS", "GU", "MP", "PR", "UM", "VI",
)
# fmt: on
KNOWN_JURISDICTIONS = ("US", *(f"US-{c}" for c in US_SUBDIVISIONS))


class UnknownJurisdiction(ValueError):
    """A jurisdiction code that names no US state or territory."""


def normalise_jurisdiction(code: str) -> str:
    """`US`, `US-TX`, `us-tx`, `TX` → the ISO 3166-2 code; anything else is refused, never dropped
    silently (an unknown code would match no rule at all, federal ones included)."""
    text = code.strip().upper().replace("_", "-")
    if text in ("US", "USA"):
        return "US"
    if text.startswith("US-"):
        text = text[3:]
    if text in US_SUBDIVISIONS:
        return f"US-{text}"
    raise UnknownJurisdiction(
        f"unknown jurisdiction {code!r}: use US, or US-<state> such as US-TX (known: {', '.join(KNOWN_JURISDICTIONS)})"
    )


def jurisdiction_applies(reg: Regulation, jurisdiction: str) -> bool:
    """A US-wide rule applies in every US jurisdiction; a state rule only in its state."""
    if reg.jurisdiction == jurisdiction:
        return True
    return jurisdiction.startswith(reg.jurisdiction + "-")


def _entities_of(catalog: Catalog, finding: Finding) -> tuple[set[str], Relation]:
    try:
        product: Product | None = catalog.product(finding.product)
    except KeyError:
        product = None
    if product is None:  # an unlisted product of a covered entity
        ent_id = finding.product.split("-unlisted")[0]
        return {ent_id}, Relation.OWN
    ents = set(product.integrates)
    if product.relation == Relation.OWN:
        ents.add(product.vendor)
    return ents, product.relation


def obligations_for(
    catalog: Catalog,
    finding: Finding,
    role: str,
    as_of: dt.date,
    *,
    identified: dt.date | None = None,
    jurisdiction: str = "US",
) -> list[Obligation]:
    """Every obligation that applies to this finding for `role` as of `as_of`."""
    if finding.verdict not in _SUBJECT:
        return []
    ents, relation = _entities_of(catalog, finding)
    found_on = identified or as_of
    out: list[Obligation] = []
    for reg in catalog.regulations:
        if role not in reg.binds or not jurisdiction_applies(reg, jurisdiction):
            continue
        if not ents & set(reg.covers_entities) or relation not in reg.covers_relations:
            continue
        if finding.category in {c.value for c in reg.exempt_categories}:
            out.append(
                Obligation(
                    regulation=reg.id,
                    status=ObligationStatus.EXEMPT,
                    since=reg.issued.isoformat(),
                    action="Exempt: " + "; ".join(reg.exemptions),
                    deadline=None,
                    citation=reg.citation,
                    exemptions=tuple(reg.exemptions),
                )
            )
            continue
        for rule in reg.obligations:
            if role not in rule.roles:
                continue
            out.append(_evaluate(reg, rule, as_of, found_on))
    return out


def _evaluate(reg: Regulation, rule: ObligationRule, as_of: dt.date, found_on: dt.date) -> Obligation:
    deadline: dt.date | None = rule.deadline
    start = max(found_on, rule.effective)
    business, calendar = rule.terms_on(start)  # the period in force when it was identified
    if deadline is None and business is not None:
        deadline = add_business_days(start, business)
    elif deadline is None and calendar is not None:
        deadline = start + dt.timedelta(days=calendar)
    if as_of < rule.effective:
        status = ObligationStatus.NOT_YET_IN_FORCE
    elif rule.ends is not None and as_of > rule.ends:
        status = ObligationStatus.ENDED
    elif rule.kind == "prohibition":
        status = ObligationStatus.PROHIBITED
    elif rule.kind == "advisory":
        status = ObligationStatus.ADVISORY
    elif deadline is not None and as_of > deadline:
        status = ObligationStatus.OVERDUE
    else:
        status = ObligationStatus.DUE if rule.kind == "reporting" else ObligationStatus.REQUIRED
    return Obligation(
        regulation=reg.id,
        status=status,
        since=rule.effective.isoformat(),
        action=" ".join(rule.action.split()),
        deadline=deadline.isoformat() if deadline else None,
        citation=reg.citation,
        exemptions=tuple(reg.exemptions),
        days_overdue=(as_of - deadline).days if status.overdue and deadline else None,
    )


def evaluate_rule(
    reg: Regulation, rule: ObligationRule, as_of: dt.date, *, identified: dt.date | None = None
) -> Obligation:
    """One obligation of a regulation as of `as_of`, for an item identified on `identified`
    (default `as_of`): the status and deadline a finding would get, for texts that speak of a
    rule before anything is found (notices to member organisations)."""
    return _evaluate(reg, rule, as_of, identified or as_of)


def pack_of(catalog: Catalog, product: str) -> Pack | None:
    """The pack of a product id: the listed product's own, or an unlisted product's entity's
    (`<entity>-unlisted-…`); None in a catalog without packs or for an id it does not know."""
    try:
        pid = catalog.product(product).pack
    except KeyError:
        entity = catalog.entity(unlisted_entity(product) or "")
        pid = entity.pack if entity is not None else ""
    return catalog.pack(pid) if pid else None


def last_permitted_update(catalog: Catalog, product: str) -> dt.date | None:
    """The day from which the product may get no updates: its pack's `last_permitted_update`
    (None for a pack whose rules stop no updates, and for ids no pack holds). A catalog without
    packs is one ban, whose `meta.last_permitted_update` covers every product."""
    if not catalog.packs:
        return catalog.meta.last_permitted_update
    pack = pack_of(catalog, product)
    return pack.last_permitted_update if pack is not None else None


def definitions_age(catalog: Catalog, finding: Finding, as_of: dt.date) -> int | None:
    """Days a product has gone without permitted updates: None before its pack's cut-off, and
    for products whose pack stops no updates (a ban on use leaves the vendor's updates alone)."""
    if finding.verdict not in (Verdict.COVERED, Verdict.REVIEW, Verdict.ACCEPTED):
        return None
    cutoff = last_permitted_update(catalog, finding.product)
    if cutoff is None or as_of < cutoff:
        return None  # updates still permitted: the definitions are not (yet) frozen
    return (as_of - cutoff).days


def update_cutoffs(catalog: Catalog, products: Iterable[str]) -> list[tuple[dt.date, list[str]]]:
    """The cut-offs these products fall under, earliest first, each with the jurisdictions that
    stop the updates (the pack's; `US` for a catalog without packs): what "no updates since"
    says of a set of findings."""
    out: dict[dt.date, dict[str, None]] = {}
    for product in dict.fromkeys(products):
        day = last_permitted_update(catalog, product)
        if day is None:
            continue
        pack = pack_of(catalog, product)
        where = out.setdefault(day, {})
        where.update(dict.fromkeys(pack.jurisdictions if pack is not None else ["US"]))
    return [(day, list(where)) for day, where in sorted(out.items())]


def apply_policy(
    catalog: Catalog,
    findings: list[Finding],
    role: str,
    as_of: dt.date,
    *,
    jurisdiction: str = "US",
    identified: dict[tuple[str, str], dt.date] | None = None,
) -> None:
    """Fill first identification, obligations and definitions age on each finding in place.

    `identified` maps (host, product) to the earliest day an earlier scan, report or import showed
    it (host names compared case-insensitively); deadlines that run from identification count
    from the earlier of that day, the finding's own `first_identified` and `as_of`."""
    known = {(h.lower(), p): d for (h, p), d in (identified or {}).items()}
    for f in findings:
        days = [as_of]
        if (h := known.get((f.host.lower(), f.product))) is not None:
            days.append(h)
        if (own := parse_date(f.first_identified)) is not None:
            days.append(own)
        first = min(days)
        f.first_identified = first.isoformat()
        f.obligations = obligations_for(catalog, f, role, as_of, identified=first, jurisdiction=jurisdiction)
        f.definitions_age_days = definitions_age(catalog, f, as_of)
