"""The HTML part: one self-contained page (inline styles, no scripts, no images, no requests),
rendered by Jinja with autoescape, so a member's name or a catalog text is never markup.

The template lives here rather than in a templates folder: it is one page, and a string beside
its code ships in every wheel without a package-data pattern."""

from __future__ import annotations

from functools import cache

import jinja2

from banscan.notices.model import NoticeContent
from banscan.notices.words import when_text

_TEMPLATE = """\
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ subject }}</title>
</head>
<body style="margin:0;padding:16px;font-family:Arial,Helvetica,sans-serif;font-size:15px;line-height:1.45;color:#1a1a1a;background:#ffffff">
<div style="max-width:720px;margin:0 auto">
<p style="margin:0 0 4px 0;font-size:13px;color:#555555">Notice from {{ c.coordinator }}</p>
<h1 style="margin:0 0 8px 0;font-size:22px">To {{ c.member }}</h1>
<p style="margin:0 0 16px 0;color:#555555">For {{ c.role_label }} in {{ c.jurisdiction }}, as of {{ c.as_of.isoformat() }} (catalog {{ c.catalog_version }})</p>
{% for para in paragraphs %}
<p>{{ para }}</p>
{% endfor %}
<h2 style="font-size:18px;border-bottom:1px solid #cccccc;padding-bottom:4px">What is banned</h2>
{% for p in c.packs %}
<div style="margin:0 0 12px 0">
{% if p.title %}<p style="margin:0;font-weight:bold">{{ p.title }}</p>{% endif %}
<p style="margin:4px 0">{{ p.description }}</p>
{% if p.last_permitted_update %}
<p style="margin:4px 0"><strong>From {{ p.last_permitted_update.isoformat() }}</strong> its products may get no signature or codebase updates.</p>
{% endif %}
</div>
{% endfor %}
<h2 style="font-size:18px;border-bottom:1px solid #cccccc;padding-bottom:4px">What {{ c.role_label }} must do</h2>
{% for r in c.regulations %}
<div style="margin:0 0 16px 0" id="reg-{{ r.id }}">
<h3 style="margin:0;font-size:16px">{{ r.short }}{% if r.jurisdiction != "US" %} ({{ r.jurisdiction }}){% endif %}</h3>
<p style="margin:2px 0;font-size:13px;color:#555555">{{ r.citation }} &middot; {{ r.authority }}</p>
{% if r.covers %}<p style="margin:2px 0;font-size:13px">Covers: {{ r.covers | join(", ") }}</p>{% endif %}
<ul style="margin:6px 0;padding-left:20px">
{% for d in r.deadlines %}
<li style="margin:0 0 6px 0"><strong style="color:{{ colours.get(d.status, '#1a1a1a') }}">{{ when(d) }}</strong><br>{{ d.action }}</li>
{% endfor %}
</ul>
{% for e in r.exemptions %}<p style="margin:2px 0;font-size:13px">Exempt: {{ e }}</p>{% endfor %}
{% if r.source_url %}<p style="margin:2px 0;font-size:13px">Source: <a href="{{ r.source_url }}">{{ r.source_url }}</a></p>{% endif %}
</div>
{% endfor %}
{% if c.alternatives %}
<h2 style="font-size:18px;border-bottom:1px solid #cccccc;padding-bottom:4px">Alternatives</h2>
<p style="font-size:13px;color:#555555">Built-in options first; listing is not an endorsement.</p>
<ul style="padding-left:20px">
{% for a in c.alternatives %}
<li style="margin:0 0 4px 0"><strong>{{ a.name }}</strong> ({{ a.vendor }}; {{ a.platforms | join(", ") }}{% if a.builtin %}; built in{% endif %}){% if a.note %}<br><span style="font-size:13px">{{ a.note }}</span>{% endif %}</li>
{% endfor %}
</ul>
{% endif %}
<h2 style="font-size:18px;border-bottom:1px solid #cccccc;padding-bottom:4px">More</h2>
<p>What is banned, since when and what to do: <a href="{{ c.explainer_url }}">{{ c.explainer_url }}</a></p>
{% if ack_url %}
<h2 style="font-size:18px;border-bottom:1px solid #cccccc;padding-bottom:4px">Acknowledge this notice</h2>
<p>Tell {{ c.coordinator }} that {{ c.member }} has received this notice:</p>
<p><a href="{{ ack_url }}" style="display:inline-block;padding:8px 14px;background:#1f4e79;color:#ffffff;text-decoration:none;border-radius:4px">Acknowledge receipt</a></p>
<p style="font-size:13px;color:#555555">Or open this address: {{ ack_url }}<br>The link works once and expires.</p>
{% endif %}
</div>
</body>
</html>
"""

# Status colours: late and forbidden in red, owed in amber, the rest in the text colour.
_COLOURS = {"overdue": "#b00020", "prohibited": "#b00020", "required": "#8a5300", "due": "#8a5300"}


@cache
def _template() -> jinja2.Template:
    env = jinja2.Environment(
        loader=jinja2.DictLoader({"notice.html": _TEMPLATE}),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["when"] = when_text
    env.globals["colours"] = _COLOURS
    return env.get_template("notice.html")


def render_html(c: NoticeContent, subject: str, ack_url: str | None = None) -> str:
    """The HTML body; with `ack_url`, ending with the acknowledgement link."""
    return _template().render(
        c=c, subject=subject, paragraphs=c.extra.split("\n\n") if c.extra else [], ack_url=ack_url
    )
