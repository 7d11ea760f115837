"""Catalog sources name their original publisher; copies are only ever the copy consulted.

Legal texts are cited by the Federal Register (or agency) document itself, news by outlet,
title and date, public code by repository, path and commit. Mirrors, pastes and manual
sites may appear as a source's `url` only when its strength is `unverified`.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
import yaml

from banscan.catalog.loader import CatalogError, load_catalog
from banscan.catalog.schema import Catalog, CatalogSource, SourceStrength
from banscan.models import Confidence

MINI = Path(__file__).parent / "data" / "mini_catalog.yaml"

# Hosts that copy, mirror or paste what others published (kept here, apart from the schema's
# own list, so the test does not just restate the code under test).
COPY_HOSTS = (
    "pastebin.com",
    "justia.com",
    "samsearch.co",
    "cleat.ai",
    "audcor.com",
    "chjunkong.com",
    "technosolution.org",
    "vuink.com",
    "goldseiten-forum.com",
    "allsportstshirts.net",
    "manualslib.com",
    "manualshive.com",
    "docplayer.net",
    "docslib.org",
    "vdocuments.us",
    "notice-facile.com",
    "scribd.com",
    "pawtectors.org",
    "govregs.com",
    "checkoutapi.com",
    "hacklido.com",
)


def _host(url: str | None) -> str:
    return (urlsplit(url).hostname or "").lower() if url else ""


def _on(url: str | None, hosts: tuple[str, ...]) -> bool:
    h = _host(url)
    return any(h == x or h.endswith("." + x) for x in hosts)


def _is_fr(s: CatalogSource) -> bool:
    return s.id.startswith("fr-") or "federal register" in s.publisher.lower()


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def test_every_source_names_publisher_and_topic(catalog: Catalog) -> None:
    for s in catalog.sources:
        assert s.publisher.strip(), s.id
        assert s.topic in ("legal", "technical"), s.id


def test_regulations_cite_only_legal_sources(catalog: Catalog) -> None:
    for r in catalog.regulations:
        for sid in r.sources:
            assert catalog.source(sid).topic == "legal", (r.id, sid)
    for e in catalog.entities:
        if e.entity_list:
            for sid in e.entity_list.sources:
                assert catalog.source(sid).topic == "legal", (e.id, sid)


def test_no_source_url_is_a_copy_unless_unverified(catalog: Catalog) -> None:
    for s in catalog.sources:
        if _on(s.url, COPY_HOSTS):
            assert s.strength == SourceStrength.UNVERIFIED, (s.id, s.url)
        if s.consulted:
            assert s.consulted != s.url, s.id


def test_federal_register_documents_by_number_citation_and_address(catalog: Catalog) -> None:
    fr = [s for s in catalog.sources if _is_fr(s)]
    assert {"fr-2024-13532", "fr-2024-13695", "fr-2017-19838", "fr-2021-01234", "fr-2024-28742"} <= {
        s.id for s in fr
    }
    for s in fr:
        assert _on(s.url, ("federalregister.gov", "govinfo.gov")), (s.id, s.url)
        assert s.citation and re.match(r"\d+ FR \d+", s.citation), s.id
        assert s.published is not None, s.id
        assert s.topic == "legal" and s.strength == SourceStrength.PRIMARY, s.id
    final = catalog.source("fr-2024-13532")
    assert final.url == "https://www.federalregister.gov/d/2024-13532"
    assert final.citation == "89 FR 52434 (FR Doc 2024-13532)"
    assert final.published is not None and final.published.isoformat() == "2024-06-24"
    assert catalog.source("fr-2024-13695").citation.startswith("89 FR 52362")  # type: ignore[union-attr]
    assert catalog.source("fr-2017-19838").citation.startswith("82 FR 43782")  # type: ignore[union-attr]
    assert catalog.source("fr-2021-01234").citation.startswith("86 FR 4909")  # type: ignore[union-attr]


def test_agency_and_regulator_originals(catalog: Catalog) -> None:
    bis = catalog.source("bis-press-2024-06-20")
    assert _host(bis.url) == "www.bis.gov" and _on(bis.consulted, ("vuink.com",))
    for sid in ("far-4-2002", "far-4-2004", "far-52-204-23", "far-subpart-4-20"):
        assert _host(catalog.source(sid).url) == "www.acquisition.gov", sid
    fcc = catalog.source("fcc-covered-list-2022")
    assert _on(fcc.url, ("fcc.gov",)) and fcc.citation and "DA 22-320" in fcc.citation
    assert _on(catalog.source("fcc-covered-list").url, ("fcc.gov",))
    for s in catalog.sources:
        if s.strength == SourceStrength.PRIMARY:
            host = _host(s.url)
            assert host.endswith((".gov", ".mil")) or re.search(r"\.state\.[a-z]{2}\.us$", host), s.id


def test_news_by_outlet_title_and_date(catalog: Catalog) -> None:
    outlets = {
        "helpnetsecurity-ultraav-2024": "Help Net Security",
        "techcrunch-ultraav-2024": "TechCrunch",
        "securityweek-ultraav-2024": "SecurityWeek",
        "oodaloop-2024": "OODA Loop",
        "concordmonitor-nh-kaspersky-2018": "Concord Monitor",
    }
    for sid, outlet in outlets.items():
        s = catalog.source(sid)
        assert outlet in s.publisher, sid
        assert outlet not in s.title, sid  # the title is the story's own headline
    for sid in ("helpnetsecurity-ultraav-2024", "oodaloop-2024", "concordmonitor-nh-kaspersky-2018"):
        assert catalog.source(sid).published is not None, sid
    # Stories read only through copies: the copy is consulted, the outlet is still the source.
    for sid in ("techcrunch-ultraav-2024", "securityweek-ultraav-2024"):
        s = catalog.source(sid)
        assert s.consulted and s.url is None and s.note, sid


def test_public_code_names_repository_path_and_commit(catalog: Catalog) -> None:
    code = [s for s in catalog.sources if s.strength == SourceStrength.PUBLIC_CODE]
    assert len(code) >= 20
    for s in code:
        assert s.repository and s.path and s.commit, s.id
        assert re.fullmatch(r"[0-9a-f]{40}", s.commit), s.id
        assert unquote(s.url or "") == f"https://github.com/{s.repository}/blob/{s.commit}/{s.path}", s.id
        assert s.topic == "technical", s.id
    assert catalog.source("public-code-unrecorded").strength == SourceStrength.UNVERIFIED


def test_pastes_are_unverified_and_only_consulted(catalog: Catalog) -> None:
    for s in catalog.sources:
        for url in (s.url, s.consulted):
            if _on(url, ("pastebin.com",)):
                assert s.strength == SourceStrength.UNVERIFIED, s.id
                assert s.url is None, s.id


def test_no_definitive_identifier_rests_only_on_unverified_sources(catalog: Catalog) -> None:
    for p in catalog.products:
        for i in p.identifiers:
            if i.confidence == Confidence.DEFINITIVE:
                strengths = {catalog.source(s).strength for s in i.sources}
                assert strengths - {SourceStrength.UNVERIFIED}, (p.id, i.kind.value, i.value)


def test_only_unverified_sources_cap_confidence() -> None:
    assert SourceStrength.UNVERIFIED.max_confidence == Confidence.STRONG
    for s in SourceStrength:
        if s != SourceStrength.UNVERIFIED:
            assert s.max_confidence == Confidence.DEFINITIVE, s


# --- hand-made bad catalogs are refused, naming the entry ---------------------------------


def _mini() -> dict[str, Any]:
    data = yaml.safe_load(MINI.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _refused(tmp_path: Path, data: dict[str, Any]) -> str:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    with pytest.raises(CatalogError) as err:
        load_catalog(path)
    msg = str(err.value)
    assert str(path) in msg
    return msg


def test_mini_catalog_is_valid() -> None:
    assert load_catalog(MINI).source("law").topic == "legal"


def test_mirror_only_federal_register_source_without_publisher_is_refused(tmp_path: Path) -> None:
    data = _mini()
    data["sources"].append(
        {
            "id": "fr-copy",
            "title": "Final Determination (copy)",
            "url": "https://regulations.justia.com/regulations/fedreg/2024/06/24/2024-13532.html",
            "topic": "legal",
            "strength": "primary",
        }
    )
    msg = _refused(tmp_path, data)
    assert "fr-copy" in msg and "publisher" in msg


def test_federal_register_source_on_a_mirror_is_refused(tmp_path: Path) -> None:
    data = _mini()
    data["sources"].append(
        {
            "id": "fr-mirror",
            "title": "Final Determination",
            "publisher": "Office of the Federal Register",
            "topic": "legal",
            "url": "https://regulations.justia.com/regulations/fedreg/2024/06/24/2024-13532.html",
            "strength": "primary",
        }
    )
    msg = _refused(tmp_path, data)
    assert "fr-mirror" in msg
    assert "mirror" in msg and "federalregister.gov" in msg and "citation" in msg
    assert "government" in msg  # a primary source off the publisher's own domain


def test_secondary_source_on_a_paste_is_refused_but_unverified_is_not(tmp_path: Path) -> None:
    data = _mini()
    paste = {
        "id": "paste",
        "title": "A paste",
        "publisher": "Pastebin user",
        "topic": "technical",
        "url": "https://pastebin.com/abcdef",
        "strength": "secondary",
    }
    data["sources"].append(paste)
    msg = _refused(tmp_path, data)
    assert "paste" in msg and "consulted" in msg
    ok = copy.deepcopy(data)
    ok["sources"][-1]["strength"] = "unverified"
    path = tmp_path / "ok.yaml"
    path.write_text(yaml.safe_dump(ok, allow_unicode=True, sort_keys=False), encoding="utf-8")
    assert load_catalog(path).source("paste").strength == SourceStrength.UNVERIFIED


def test_public_code_without_commit_is_refused(tmp_path: Path) -> None:
    data = _mini()
    data["sources"].append(
        {
            "id": "rules",
            "title": "Detection rules",
            "publisher": "SigmaHQ",
            "topic": "technical",
            "repository": "SigmaHQ/sigma",
            "path": "rules/x.yml",
            "url": "https://github.com/SigmaHQ/sigma/blob/master/rules/x.yml",
            "strength": "public-code",
        }
    )
    msg = _refused(tmp_path, data)
    assert "rules" in msg and "commit" in msg


def test_public_code_url_must_hold_the_commit(tmp_path: Path) -> None:
    data = _mini()
    sha = "0123456789abcdef0123456789abcdef01234567"
    data["sources"].append(
        {
            "id": "rules",
            "title": "Detection rules",
            "publisher": "SigmaHQ",
            "topic": "technical",
            "repository": "SigmaHQ/sigma",
            "path": "rules/x.yml",
            "commit": sha,
            "url": "https://github.com/SigmaHQ/sigma/blob/master/rules/x.yml",
            "strength": "public-code",
        }
    )
    assert "blob/<commit>" in _refused(tmp_path, data)
    data["sources"][-1]["url"] = f"https://github.com/SigmaHQ/sigma/blob/{sha}/rules/x.yml"
    path = tmp_path / "ok.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    assert load_catalog(path).source("rules").commit == sha


def test_regulation_citing_a_technical_source_is_refused(tmp_path: Path) -> None:
    data = _mini()
    data["regulations"][0]["sources"] = ["law", "doc"]
    msg = _refused(tmp_path, data)
    assert f"regulation {data['regulations'][0]['id']}" in msg and "'doc'" in msg and "legal" in msg


def test_definitive_identifier_on_unverified_source_alone_is_refused(tmp_path: Path) -> None:
    data = _mini()
    ident = data["products"][0]["identifiers"][0]
    assert ident["confidence"] == "definitive"
    ident["sources"] = ["code"]  # unverified: public code whose repository was not recorded
    msg = _refused(tmp_path, data)
    assert data["products"][0]["id"] in msg and "definitive" in msg


def test_source_errors_name_file_and_entry_in_a_catalog_folder(tmp_path: Path) -> None:
    import shutil

    from banscan.catalog.loader import default_catalog_dir

    folder = tmp_path / "catalog"
    shutil.copytree(default_catalog_dir(), folder, ignore=shutil.ignore_patterns("__pycache__"))
    path = folder / "sources.yaml"
    sources = yaml.safe_load(path.read_text(encoding="utf-8"))
    for s in sources:
        if s["id"] == "fr-2024-13532":
            s["url"] = s.pop("consulted")
            del s["publisher"]
    path.write_text(yaml.safe_dump(sources, allow_unicode=True, sort_keys=False), encoding="utf-8")
    with pytest.raises(CatalogError) as err:
        load_catalog(folder)
    msg = str(err.value)
    assert "sources.yaml" in msg and "fr-2024-13532" in msg and "publisher" in msg
