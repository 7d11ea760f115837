"""A coordinator's notice to one member organisation, composed from the catalog alone.

Which packs: those asked for, else every pack whose rules reach the member's jurisdiction and bind
its role (`banscan scan --pack` semantics). Which rules: the regulations of those packs that bind
the role in the jurisdiction, each obligation for the role with its status as of the notice's
date (the policy engine's own reading). No pack, product or rule is named in this code.
"""

from __future__ import annotations

import datetime as dt

from banscan.catalog.schema import ROLES, Catalog, Regulation, SourceStrength
from banscan.models import ObligationStatus
from banscan.notices.model import (
    Notice,
    NoticeAlternative,
    NoticeContent,
    NoticeDeadline,
    NoticeError,
    NoticePack,
    NoticeRegulation,
)
from banscan.notices.render import bodies, subject_of
from banscan.notices.words import clean_line, clean_paragraphs, http_url
from banscan.policy.engine import (
    UnknownJurisdiction,
    evaluate_rule,
    jurisdiction_applies,
    normalise_jurisdiction,
)
from banscan.policy.periods import period_text
from banscan.server.explainer import PLATFORM_LABELS, ROLE_LABELS, category_label

_URGENCY = list(ObligationStatus)  # most urgent first


def compose_notice(
    catalog: Catalog,
    *,
    coordinator: str,
    member: str,
    role: str,
    jurisdiction: str,
    as_of: dt.date,
    explainer_url: str,
    packs: list[str] | None = None,
    extra: str = "",
) -> Notice:
    """The notice `coordinator` sends `member` (acting as `role` in `jurisdiction`) as of `as_of`;
    NoticeError when a pack or role is unknown or no rule of the packs binds the member."""
    who_from, who_to = clean_line(coordinator), clean_line(member)
    if not who_from or not who_to:
        raise NoticeError("a notice needs the coordinator's and the member's names")
    if role not in ROLES:
        raise NoticeError(f"unknown role {clean_line(role)!r}; the catalog's roles are {', '.join(ROLES)}")
    try:
        where = normalise_jurisdiction(jurisdiction)
    except UnknownJurisdiction as exc:
        raise NoticeError(str(exc)) from None
    link = http_url(explainer_url, "the explainer link")
    narrowed = _narrow(catalog, packs, where, role)
    regulations = [
        _regulation(narrowed, r, role, as_of)
        for r in narrowed.regulations
        if role in r.binds and jurisdiction_applies(r, where) and any(role in o.roles for o in r.obligations)
    ]
    if not regulations:
        asked = ", ".join(packs) if packs else "any pack"
        raise NoticeError(f"no rule of {asked} binds {role} in {where}: there is nothing to notify")
    regulations.sort(key=lambda r: (min(_URGENCY.index(d.status) for d in r.deadlines), r.id))
    content = NoticeContent(
        coordinator=who_from,
        member=who_to,
        role=role,
        role_label=ROLE_LABELS.get(role, role),
        jurisdiction=where,
        as_of=as_of,
        explainer_url=link,
        extra=clean_paragraphs(extra),
        catalog_version=narrowed.meta.version,
        packs=_packs(narrowed, {r.pack for r in regulations}, where),
        regulations=tuple(regulations),
        alternatives=_alternatives(narrowed),
    )
    text, html = bodies(content)
    return Notice(
        subject=subject_of(content),
        text=text,
        html=html,
        regulations=tuple(r.id for r in regulations),
        deadlines=tuple(d for r in regulations for d in r.deadlines),
        content=content,
    )


def _narrow(catalog: Catalog, packs: list[str] | None, jurisdiction: str, role: str) -> Catalog:
    """The catalog as `banscan scan --pack` narrows it; an unknown pack is a NoticeError (checked
    here, so the command line's usage error never fires inside a server)."""
    from banscan.cli.common import narrow_to_packs

    known = [p.id for p in catalog.packs]
    unknown = [p for p in packs or [] if p not in known]
    if unknown and catalog.packs:
        raise NoticeError(f"no pack {', '.join(map(repr, unknown))}; the catalog has {', '.join(known)}")
    return narrow_to_packs(catalog, packs, jurisdiction, role)


def _regulation(catalog: Catalog, reg: Regulation, role: str, as_of: dt.date) -> NoticeRegulation:
    deadlines: list[NoticeDeadline] = []
    for rule in reg.obligations:
        if role not in rule.roles:
            continue
        ob = evaluate_rule(reg, rule, as_of)
        deadlines.append(
            NoticeDeadline(
                regulation=reg.id,
                obligation=rule.id,
                kind=rule.kind,
                status=ob.status,
                action=ob.action,
                effective=rule.effective,
                # a period counted from identification has no date until something is found
                deadline=rule.deadline,
                period=period_text(rule) if rule.deadline is None else "",
                days_overdue=ob.days_overdue,
                ends=rule.ends,
            )
        )
    # most urgent first; then the earliest fixed date, the shortest period, the earliest start
    periods = {
        r.id: min((x for x in r.terms_on(as_of) if x is not None), default=10**6) for r in reg.obligations
    }
    deadlines.sort(
        key=lambda d: (
            _URGENCY.index(d.status),
            d.deadline or dt.date.max,
            periods[d.obligation],
            d.effective,
            d.obligation,
        )
    )
    names = [e.name for e in (catalog.entity(i) for i in reg.covers_entities) if e is not None]
    return NoticeRegulation(
        id=reg.id,
        short=reg.short,
        title=" ".join(reg.title.split()),
        citation=" ".join(reg.citation.split()),
        authority=reg.authority,
        jurisdiction=reg.jurisdiction,
        pack=reg.pack,
        covers=tuple(dict.fromkeys(names)),
        exemptions=tuple(reg.exemptions),
        deadlines=tuple(deadlines),
        source_url=_source_url(catalog, reg),
    )


def _source_url(catalog: Catalog, reg: Regulation) -> str | None:
    """The regulation's first http(s) source, a primary one (the regulator's own text) first."""
    known = {s.id: s for s in catalog.sources}
    found = [known[i] for i in reg.sources if i in known and known[i].url]
    for s in sorted(found, key=lambda s: s.strength != SourceStrength.PRIMARY):
        try:
            return http_url(s.url or "", "a source")
        except NoticeError:
            continue
    return None


def _packs(catalog: Catalog, used: set[str], jurisdiction: str) -> tuple[NoticePack, ...]:
    """The packs the listed rules come from; a catalog without packs is one ban, told by its meta."""
    if not catalog.packs:
        meta = catalog.meta
        return (NoticePack("", "", " ".join(meta.description.split()), meta.last_permitted_update),)
    return tuple(
        NoticePack(
            id=p.id,
            title=p.title,
            description=" ".join(p.description.split()),
            last_permitted_update=p.last_permitted_update if p.applies_in(jurisdiction) else None,
        )
        for p in catalog.packs
        if p.id in used
    )


def _alternatives(catalog: Catalog) -> tuple[NoticeAlternative, ...]:
    """The narrowed catalog's alternatives, built-in ones first (as the explainer lists them)."""
    return tuple(
        NoticeAlternative(
            id=a.id,
            name=a.name,
            vendor=a.vendor,
            builtin=a.builtin,
            platforms=tuple(PLATFORM_LABELS.get(p, p) for p in a.platforms),
            categories=tuple(category_label(c.value) for c in a.categories),
            note=" ".join(a.note.split()) if a.note else None,
        )
        for a in sorted(catalog.alternatives, key=lambda a: (not a.builtin, a.name.lower()))
    )
