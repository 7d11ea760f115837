"""Sites and tags of hosts: what a valid one is, setting them, and filtering hosts by them.

A host has at most one site (`hosts.site`, '' when not set) and up to `MAX_TAGS` tags (rows of
`host_tags`). Both are short labels chosen by people: surrounding blanks are dropped, control
characters, line separators, unpaired surrogates and bidirectional controls (`banscan.text`:
they make a label read as another) are refused, and a tag may not contain a
comma (the dashboard's form and the CSV export separate tags with commas). Tags are kept
sorted and without duplicates. `NO_SITE` names the hosts without a site in the summary and in
the `site=` filter, so it cannot be a site itself. The summary lists the `SUMMARY_TAGS` tags
with the most hosts.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from sqlalchemy import ColumnElement, Select, case, delete, func, insert, select
from sqlalchemy.orm import Session

from banscan.store.models import Host, HostTag
from banscan.store.scope import OrgScope
from banscan.text import has_bidi

MAX_SITE = 100
MAX_TAG = 64
MAX_TAGS = 20
NO_SITE = "(no site)"
SUMMARY_TAGS = 20
_REFUSED = {"Cc", "Cs", "Zl", "Zp"}


def _check_text(value: str, what: str, limit: int) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string")
    value = value.strip()
    if len(value) > limit:
        raise ValueError(f"{what} longer than {limit} characters")
    if any(unicodedata.category(c) in _REFUSED for c in value):
        raise ValueError(f"{what} must not contain control characters")
    if has_bidi(value):
        raise ValueError(f"{what} must not contain bidirectional control characters (such as U+202E)")
    return value


def clean_site(value: str) -> str:
    """The site as stored ('' for none); ValueError if it cannot be one."""
    site = _check_text(value, "site", MAX_SITE)
    if site == NO_SITE:
        raise ValueError(f"{NO_SITE!r} is reserved for hosts without a site")
    return site


def clean_tag(value: str) -> str:
    tag = _check_text(value, "tag", MAX_TAG)
    if not tag:
        raise ValueError("a tag must not be empty")
    if "," in tag:
        raise ValueError("a tag must not contain a comma")
    return tag


def clean_tags(values: Iterable[str]) -> list[str]:
    """Tags as stored: each checked, duplicates dropped, sorted; at most MAX_TAGS."""
    tags = sorted({clean_tag(v) for v in values})
    if len(tags) > MAX_TAGS:
        raise ValueError(f"at most {MAX_TAGS} tags")
    return tags


def split_tags(text: str) -> list[str]:
    """Tags typed into one field, separated by commas; blanks between commas are ignored."""
    return clean_tags(part for part in text.split(",") if part.strip())


def set_tags(session: Session, host_id: int, tags: Iterable[str]) -> list[str]:
    """Replace the host's tags (flushes); returns them as stored."""
    cleaned = clean_tags(tags)
    session.execute(delete(HostTag).where(HostTag.host_id == host_id))
    if cleaned:
        session.execute(insert(HostTag), [{"host_id": host_id, "tag": t} for t in cleaned])
    return cleaned


def set_labels(
    session: Session,
    host_id: int,
    *,
    orgs: OrgScope,
    site: str | None = None,
    tags: Iterable[str] | None = None,
) -> Host | None:
    """Set a host's site and/or its tags (None: left as they are); the host, None if unknown
    or not one `orgs` may change (a member's host shared with its coordinator is read-only)."""
    host = session.scalar(select(Host).where(Host.id == host_id, orgs.writable_hosts()).with_for_update())
    if host is None:
        return None
    if site is not None:
        host.site = clean_site(site)
    if tags is not None:
        set_tags(session, host_id, tags)
    session.flush()
    return host


def tags_of(session: Session, host_ids: list[int]) -> dict[int, list[str]]:
    """The tags of each of these hosts (a page of them), sorted."""
    out: dict[int, list[str]] = {i: [] for i in host_ids}
    if not host_ids:
        return out
    for host_id, tag in session.execute(
        select(HostTag.host_id, HostTag.tag).where(HostTag.host_id.in_(host_ids))
    ):
        out[host_id].append(tag)
    for tags in out.values():
        tags.sort()  # as clean_tags sorts, whatever the database's collation
    return out


def site_condition(site: str) -> ColumnElement[bool]:
    """Hosts at this site; `NO_SITE` selects the hosts without one."""
    return Host.site == ("" if site == NO_SITE else site)


def tag_condition(tag: str) -> ColumnElement[bool]:
    """Hosts with this tag (an uncorrelated IN, evaluated once with ix_host_tags_tag_host)."""
    return Host.id.in_(select(HostTag.host_id).where(HostTag.tag == tag))


def tag_host_counts(*, orgs: OrgScope) -> Select[str, int]:
    """Hosts `orgs` may read per tag (tags none of them has left out): one pass over
    ix_host_tags_tag_host, whose entries come in tag order (PostgreSQL's planner may read the two-column table itself instead, which costs
    the same)."""
    # Counted as `tag_host_counts_among` does (the IN in the count, the subquery built once):
    # in the WHERE clause it would lead SQLite to the host_id index and a sort by tag.
    mine = func.count(case((orgs.host_ids(HostTag.host_id), 1)))
    return select(HostTag.tag, mine).group_by(HostTag.tag).having(mine > 0)


def tag_host_counts_among(tags: list[str], hosts: Select[int]) -> Select[str, int]:
    """Hosts per tag, for these tags only and counting only the hosts `hosts` selects (ids): a
    range of ix_host_tags_tag_host per tag, each host id probed in the subquery's result, which
    is built once. (In the WHERE clause the IN would lead SQLite to look up every (tag, host)
    pair instead: five times slower with 100 000 hosts.)"""
    return (
        select(HostTag.tag, func.count(case((HostTag.host_id.in_(hosts), 1))))
        .where(HostTag.tag.in_(tags))
        .group_by(HostTag.tag)
    )


def site_label(site: str) -> str:
    return site or NO_SITE


def known_sites(session: Session, *, orgs: OrgScope) -> list[str]:
    """Every site some host `orgs` may read has, sorted, `NO_SITE` first when one has none."""
    q = select(Host.site).where(orgs.hosts()).distinct().order_by(Host.site)
    return [site_label(s) for s in session.scalars(q)]


TAG_CHOICES = 500  # tags offered as suggestions in the host list's filter (any can be typed)


def known_tags(session: Session, limit: int | None = None, *, orgs: OrgScope) -> list[str]:
    """Tags in use on hosts `orgs` may read, sorted; with `limit`, the most used ones (a fleet
    may have thousands)."""
    mine = orgs.host_ids(HostTag.host_id)
    if limit is None:
        return list(session.scalars(select(HostTag.tag).where(mine).distinct().order_by(HostTag.tag)))
    n = func.count().label("n")
    top = (
        select(HostTag.tag, n).where(mine).group_by(HostTag.tag).order_by(n.desc(), HostTag.tag).limit(limit)
    )
    return sorted(session.scalars(select(top.subquery().c.tag)))
