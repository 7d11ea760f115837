"""The catalog prefilter is a superset: every line whose record the matcher reports passes it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from anyascii import anyascii
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from banscan.catalog.loader import load_catalog
from banscan.catalog.schema import Catalog, IdentifierKind, MatchKind
from banscan.inputs import bulk
from banscan.match.matcher import Matcher
from banscan.match.prefilter import Prefilter, build_prefilter, prefilter_for, regex_choices
from banscan.models import InventoryRecord, RecordKind, Source

K = IdentifierKind
R = RecordKind

CATALOG = load_catalog()
PREFILTER = prefilter_for(CATALOG)
_SCANNER = bulk.make_scanner(PREFILTER)
MATCHER_INDEX = Matcher(CATALOG).index
_ASCII_TOKENS = [t.encode() for t in PREFILTER.tokens if t.isascii()]

# Which record field carries a value of each identifier kind (see match/fields.py).
_FIELD: dict[K, tuple[R, str]] = {
    K.DISPLAY_NAME: (R.APP, "name"),
    K.PACKAGE: (R.PACKAGE, "name"),
    K.PUBLISHER: (R.APP, "publisher"),
    K.BUNDLE_ID: (R.APP, "bundle_id"),
    K.TEAM_ID: (R.APP, "team_id"),
    K.SIGNER: (R.FILE, "signer"),
    K.PROCESS: (R.PROCESS, "name"),
    K.SERVICE: (R.SERVICE, "name"),
    K.DRIVER: (R.DRIVER, "name"),
    K.REGISTRY_KEY: (R.REGISTRY_KEY, "path"),
    K.PATH: (R.PATH, "path"),
    K.EXTENSION_ID: (R.EXTENSION, "extension_id"),
    K.RECEIPT: (R.RECEIPT, "name"),
    K.PURL: (R.SBOM_COMPONENT, "purl"),
    K.CPE: (R.SBOM_COMPONENT, "cpe"),
    K.CERTIFICATE: (R.CERTIFICATE, "name"),
}
IDENTS = [
    (p.id, i)
    for p in CATALOG.products
    for i in p.identifiers
    if i.kind in _FIELD and i.kind != IdentifierKind.BYTE_SIGNATURE
]
ENTITY_NAMES = [n for e in CATALOG.entities if e.covered for n in [*e.all_names(), *e.brand_tokens]]
# Cyrillic letters that transliterate to one Latin letter: a record may spell a Latin word with them.
_CYR = {anyascii(c).lower(): c for c in "абвгдезиклмнопрстуфхАБВГДЕЗИКЛМНОПРСТУФХ" if len(anyascii(c)) == 1}


def _glob_sample(draw: st.DrawFn, value: str) -> str:
    filler = st.text(alphabet="abcXYZ019 -_\\/", max_size=6)
    return re.sub(r"[*?]", lambda _m: draw(filler), value)


@st.composite
def _value(draw: st.DrawFn) -> tuple[K, str]:
    _pid, ident = draw(st.sampled_from(IDENTS))
    if ident.match == MatchKind.REGEX:
        return ident.kind, draw(st.from_regex(ident.value, fullmatch=draw(st.booleans())))
    if ident.match == MatchKind.GLOB:
        return ident.kind, _glob_sample(draw, ident.value)
    return ident.kind, ident.value


def _noise(draw: st.DrawFn, text: str) -> str:
    """Random case, marks, punctuation, versions and Cyrillic look-alike letters."""
    out = []
    for ch in text:
        r = draw(st.integers(0, 9))
        if r == 0 and ch.lower() in _CYR:
            out.append(_CYR[ch.lower()])
        elif r <= 3:
            out.append(ch.swapcase())
        else:
            out.append(ch)
    text = "".join(out)
    if draw(st.booleans()):
        text = text.replace(" ", draw(st.sampled_from([" ", "  ", "-", "_", "® ", " 11.2 "])), 1)
    if draw(st.booleans()):
        text += draw(st.sampled_from(["", " 21.3.10.391", " (x64)", " MR5", "™"]))
    return text


@st.composite
def records(draw: st.DrawFn) -> InventoryRecord:
    if draw(st.integers(0, 4)) == 0:  # a covered entity named as publisher, signer or brand
        name = _noise(draw, draw(st.sampled_from(ENTITY_NAMES)))
        field = draw(st.sampled_from(["publisher", "signer", "name"]))
        values: dict[str, Any] = {"name": draw(st.sampled_from(["Suite", "Agent", "Tool"])), field: name}
        if field == "name":
            values["name"] = f"{name} {values['name']}"
        return InventoryRecord(host="h", source=Source("t", "f:1"), kind=R.APP, **values)
    kind, value = draw(_value())
    if kind in (K.DISPLAY_NAME, K.PACKAGE, K.PUBLISHER, K.PROCESS, K.SERVICE, K.DRIVER, K.CERTIFICATE):
        value = _noise(draw, value) if draw(st.booleans()) else value
    elif draw(st.booleans()):
        value = "".join(c.swapcase() if draw(st.booleans()) else c for c in value)
    rkind, field = _FIELD[kind]
    values = {"name": "x", field: value}
    return InventoryRecord(host="h", source=Source("t", "f:1"), kind=rkind, **values)


def _line(record: InventoryRecord, ascii_only: bool) -> bytes:
    cols = {
        k: v
        for k in ("name", "version", "publisher", "path", "bundle_id", "team_id", "signer", "purl", "cpe")
        if (v := getattr(record, k))
    }
    if record.extension_id:
        cols["identifier"] = record.extension_id
    obj = {"name": "pack", "hostIdentifier": record.host, "columns": cols, "action": "added"}
    return json.dumps(obj, ensure_ascii=ascii_only).encode("utf-8")


def _matches(record: InventoryRecord) -> bool:
    m = Matcher(CATALOG, MATCHER_INDEX)
    m.add(record)
    return bool(m.findings())


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records(), st.booleans())
def test_prefilter_is_a_superset_of_the_matcher(record: InventoryRecord, ascii_only: bool) -> None:
    if not _matches(record):
        return
    line = _line(record, ascii_only)
    assert PREFILTER.passes(line), (record, line)
    # as the bulk engines check it: ASCII tokens in the raw line, then the non-ASCII parts
    assert any(t in line.lower() for t in _ASCII_TOKENS) or PREFILTER.passes_folded(line), line
    text = line.decode("utf-8")
    if text.isascii() and "\\u" not in text:
        assert PREFILTER.python_regex().search(line), line
    # and the bulk paths' whole decision (tokens confirmed by their words, folded parts too)
    assert bulk.candidates(_SCANNER, line + b"\n", len(line) + 1) == [0], line
    assert bulk.candidates(_SCANNER, line + b"\n", len(line) + 1, per_value=True) == [0], line


_FRAGMENTS = [
    *'aksprey KASPERSKY-ü®ÅåКкаАспеСПЕрРиИйЙ{}:,"0123\u0301',
    "\\u0410",
    "\\u043a",
    "\\u041A",
    "\\\\",
]
_PART = st.lists(st.sampled_from(_FRAGMENTS), max_size=16).map("".join)


@settings(max_examples=300, deadline=None)
@given(st.lists(_PART, min_size=1, max_size=6))
def test_passes_folded_is_passes_for_lines_without_an_ascii_token(parts: list[str]) -> None:
    """The engines' shortcut: ASCII tokens searched in the raw line, then only non-ASCII parts."""
    line = '{"columns":{"name":"' + '","'.join(parts) + '"}}'
    raw = line.encode("utf-8")
    ascii_hit = any(t in raw.lower() for t in _ASCII_TOKENS)
    assert PREFILTER.passes(raw) == (ascii_hit or PREFILTER.passes_folded(raw)), line


def test_keeps_folded_confirms_common_words_in_folded_lines() -> None:
    """A line with non-ASCII text whose only token is a common word is not a candidate; the
    same word beside the rest of an identifier, folded or escaped, is."""
    assert not PREFILTER.keeps_folded('{"name":"Microsoft® Windows® Operating System Update"}'.encode())
    assert not PREFILTER.keeps_folded('"Aktualisierung für Windows","Microsoft Corporation"'.encode())
    assert PREFILTER.keeps_folded('{"name":"Kaspersky® Endpoint Security für Windows"}'.encode())
    assert PREFILTER.keeps_folded(
        '{"name":"Endpoint Security for Windows","publisher":"АО Касперский"}'.encode()
    )
    assert PREFILTER.keeps_folded(b'{"name":"K\\u0430spersky Endpoint Security for Windows"}')
    assert PREFILTER.keeps_folded('"Антивирус Касперского","Windows"'.encode())


def test_passes_folded_examples() -> None:
    assert PREFILTER.passes_folded('{"name":"Антивирус Касперского"}'.encode())
    assert PREFILTER.passes_folded(b'{"name":"K\\u0430spersky"}')
    assert PREFILTER.passes_folded('{"name":"Kaspe\u0301rsky"}'.encode())  # a combining mark
    assert not PREFILTER.passes_folded('{"name":"Aktualisierung für Microsoft® Office"}'.encode())
    assert not PREFILTER.passes_folded(b'{"path":"C:\\\\Users\\\\x"}')


def test_catalog_tokens_are_lower_case_words_derived_from_data() -> None:
    for tok in PREFILTER.tokens:
        assert tok == tok.lower() and re.fullmatch(r"[^\W_]+", tok), tok
    # Every Cyrillic form of a covered entity is caught as written, without folding.
    for e in CATALOG.entities:
        for name in e.cyrillic:
            assert PREFILTER.python_regex().search(name.upper().encode()), name


def test_known_lines_pass_and_plain_lines_do_not() -> None:
    keep = [
        '{"columns":{"name":"KASPERSKY ENDPOINT SECURITY 12 for Windows"}}',
        '{"columns":{"name":"Антивирус Касперского"}}',
        '{"columns":{"name":"\\u0410\\u043d\\u0442\\u0438\\u0432\\u0438\\u0440\\u0443\\u0441 \\u041a\\u0410\\u0421\\u041f\\u0415\\u0420\\u0421\\u041a\\u041e\\u0413\\u041e"}}',
        '{"columns":{"name":"Kаspersky Free"}}',  # Cyrillic а inside a Latin word
        '{"columns":{"path":"C:\\\\Windows\\\\System32\\\\drivers\\\\KLIF.SYS"}}',
    ]
    drop = [
        '{"columns":{"name":"Google Chrome","publisher":"Google LLC"}}',
        '{"columns":{"name":"Norton 360"}}',
    ]
    for line in keep:
        assert PREFILTER.passes(line.encode()), line
    for line in drop:
        assert not PREFILTER.passes(line.encode()), line


def test_sql_predicate_agrees_with_python_in_duckdb() -> None:
    duckdb = pytest.importorskip("duckdb")
    lines = [
        "KasperskyLab", "avp.exe", "Антивирус КАСПЕРСКОГО", "\\u041a\\u0430\\u0441\\u043f\\u0435\\u0440\\u0441\\u043a\\u0438\\u0439",
        "chrome", "Kåspersky", "C:\\\\Users\\\\u\\\\x",
    ]  # fmt: skip
    con = duckdb.connect()
    got = con.execute(
        f"SELECT x, {PREFILTER.sql_predicate('x')}, {PREFILTER.sql_may_fold('x')} FROM unnest(?) t(x)",
        [lines],
    ).fetchall()
    for text, hit, may_fold in got:
        if PREFILTER.passes(text.encode()):
            assert hit or may_fold, text
        assert not hit or PREFILTER.passes(text.encode()), text
    assert dict((t, h) for t, h, _ in got)["chrome"] is False
    assert dict((t, f) for t, _, f in got)["C:\\\\Users\\\\u\\\\x"] is False


def test_regex_literals_and_fallback() -> None:
    assert regex_choices(r"^pkg:[a-z]+/(kaspersky|kaspersky-lab|kasperskylab)/") != []
    assert (frozenset({"avp"}),) in regex_choices(r"(^|[\\/])avp(32|cc|m|upd)(\.exe)?$")
    assert regex_choices(r"^[a-z]+\d*$") == []


def _tiny_catalog(regex: str) -> Catalog:
    data = CATALOG.model_dump()
    product = next(p for p in data["products"] if p["identifiers"])
    ident = dict(product["identifiers"][0])
    ident.update(kind="service", match="regex", value=regex)
    product["identifiers"] = [ident]
    data["products"] = [product]
    return Catalog.model_validate(data)


def test_regex_without_a_literal_is_kept_whole() -> None:
    pf: Prefilter = build_prefilter(_tiny_catalog(r"^[xz]\d{3}q?$"))
    assert any(r.startswith("(?i:") for r in pf.regexes)
    assert pf.passes(b'{"columns":{"name":"Z123"}}')
    assert not pf.passes(b'{"columns":{"name":"chrome"}}')


def test_words_common_in_real_inventories_are_not_tokens_when_an_identifier_has_another() -> None:
    """The measured list (public records, sources named in the file) steers the choice: no
    Kaspersky identifier needs "windows", "system32" or "service" to be found."""
    import yaml

    from banscan.match.prefilter import common_words

    common = common_words()
    assert {"windows", "system32", "service", "microsoft", "program", "files"} <= common
    doc = yaml.safe_load((Path(__file__).parents[1] / "src/banscan/match/data/common_words.yaml").read_text())
    assert all(s.get("provenance") or (s.get("commit") and s.get("url")) for s in doc["sources"])
    assert not common & set(PREFILTER.tokens)
