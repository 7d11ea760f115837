"""A notice's subject and its two bodies, from its content: composed once for the dashboard, and
again for each email with that recipient's acknowledgement link."""

from __future__ import annotations

from banscan.notices.html import render_html
from banscan.notices.model import NoticeContent
from banscan.notices.plain import render_text
from banscan.notices.words import clean_line, http_url


def subject_of(c: NoticeContent) -> str:
    """ "<coordinator> to <member>: <what is banned> — what <role> must do", one line."""
    titles = [p.title for p in c.packs if p.title]
    if len(titles) > 1:
        what = f"{titles[0]} and {len(titles) - 1} more"
    else:
        what = titles[0] if titles else ", ".join(r.short for r in c.regulations)
    return clean_line(f"{c.coordinator} to {c.member}: {what} — what {c.role_label} must do")


def bodies(c: NoticeContent, ack_url: str | None = None) -> tuple[str, str]:
    """(text, HTML); with `ack_url` (http(s) only), both end with the acknowledgement link."""
    link = http_url(ack_url, "the acknowledgement link") if ack_url is not None else None
    return render_text(c, link), render_html(c, subject_of(c), link)
