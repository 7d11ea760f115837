"""The catalog's prefilter is built once per catalog content and read back from the cache:
the same prefilter, whichever way it came; a damaged or foreign cache entry is built again;
a cache that cannot be written costs only time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from banscan.catalog.loader import load_catalog
from banscan.match import prefilter as pfmod


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BANSCAN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(pfmod, "_BUILT", {})
    return tmp_path / "cache"


def _entries(cache: Path) -> list[Path]:
    return sorted((cache / "prefilter").glob("*.json"))


def _no_build(catalog: object) -> object:
    raise AssertionError("built again instead of read from the cache")


def test_built_once_then_read_back(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    catalog = load_catalog()
    built = pfmod.prefilter_for(catalog)
    assert len(_entries(cache)) == 1
    monkeypatch.setattr(pfmod, "_BUILT", {})
    monkeypatch.setattr(pfmod, "build_prefilter", _no_build)
    again = pfmod.prefilter_for(load_catalog())
    assert (again.tokens, again.regexes, again.labels) == (built.tokens, built.regexes, built.labels)
    assert again.pattern() == built.pattern()


@pytest.mark.parametrize(
    "damage",
    [
        lambda doc: {**doc, "body": {**doc["body"], "tokens": doc["body"]["tokens"][1:]}},  # a token dropped
        lambda doc: {"body": {"tokens": [1], "regexes": [], "labels": {}}},  # wrong types
        lambda doc: [],
    ],
)
def test_a_damaged_entry_is_built_again(cache: Path, monkeypatch: pytest.MonkeyPatch, damage) -> None:  # type: ignore[no-untyped-def]
    catalog = load_catalog()
    built = pfmod.prefilter_for(catalog)
    (entry,) = _entries(cache)
    entry.write_text(json.dumps(damage(json.loads(entry.read_text()))))
    monkeypatch.setattr(pfmod, "_BUILT", {})
    again = pfmod.prefilter_for(load_catalog())
    assert again.tokens == built.tokens
    assert json.loads(entry.read_text())["body"]["tokens"] == built.tokens  # and stored whole again


def test_another_catalog_has_its_own_entry(cache: Path) -> None:
    catalog = load_catalog()
    pfmod.prefilter_for(catalog)
    other = catalog.model_copy(update={"products": catalog.products[:5]})
    pfmod.prefilter_for(other)
    assert len(_entries(cache)) == 2


def test_an_unwritable_cache_costs_only_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder would be")
    monkeypatch.setenv("BANSCAN_CACHE_DIR", str(blocker))
    monkeypatch.setattr(pfmod, "_BUILT", {})
    got = pfmod.prefilter_for(load_catalog())
    assert "kaspersky" in got.tokens


def test_confirmation_needs_every_word_of_an_identifier(cache: Path) -> None:
    """A token that stands for longer identifiers confirms a line only when the line holds all
    the words of one of them; the words of each of its identifiers do confirm."""
    pf = pfmod.prefilter_for(load_catalog())
    assert pf.conditions, "the catalog has identifiers whose chosen word is not the whole identifier"
    for token, sets in pf.conditions.items():
        assert not pf.confirms(token, f'{{"name":"x{token}x"}}'.encode()), token
        for words in sets:
            line = '{"name":"' + " ".join(w for w in words if w != pfmod.WHOLE) + '"}'
            assert pf.confirms(token, line.encode()), (token, words)


def test_no_confirmation_where_normalising_adds_words() -> None:
    """`%SystemRoot%\\drivers\\acme.sys` is matched as "c:/windows/drivers/acme.sys": a raw line
    need not hold "windows", so a token standing for such a path confirms every line."""
    plain = pfmod._Requirement("p name:Acme Guard Windows", ((frozenset({"acme", "guard", "windows"}),),))
    spelled = pfmod._Requirement(
        "p path glob:C:\\Windows\\Acme\\*", ((frozenset({"c", "windows", "acme"}),),), verbatim=False
    )
    assert pfmod._conditions([plain], ["guard"]) == {"guard": [["acme", "guard", "windows"]]}
    assert pfmod._conditions([plain, spelled], ["acme"]) == {}


def test_process_names_confirm_only_as_whole_words() -> None:
    """A process compared whole (`stpass.exe`) keeps the lines where it stands as a name, in
    any of the ways an osquery line spells it, and not "LastPass" rows."""
    req = pfmod._Requirement("p process iexact:stpass.exe", ((frozenset({"stpass"}),),), whole=True)
    pf = pfmod.Prefilter(tokens=["stpass"], conditions=pfmod._conditions([req], ["stpass"]))
    kept = [
        b'{"name":"stpass.exe"}',
        b'{"path":"c:\\\\program files\\\\x\\\\stpass.exe"}',  # escaped backslashes
        b'{"cmdline":"\\tstpass.exe -r"}',  # a tab escape right before it
        b'{"path":"\\/opt\\/stpass"}',  # escaped slashes
        b'{"name":"stpass"}',
    ]
    dropped = [
        b'{"name":"lastpass: free password manager"}',
        b'{"name":"stpassword.exe"}',
        b'{"n":"xstpass"}',
    ]
    assert [pf.confirms("stpass", line) for line in kept] == [True] * len(kept)
    assert [pf.confirms("stpass", line) for line in dropped] == [False] * len(dropped)


def _lines_for(pf: pfmod.Prefilter) -> list[bytes]:
    """Lines that hold every word of a set, all but one, the words glued to letters, or only
    the token, for every conditioned token of the catalog; and decoys."""
    out = [b'{"name":"lastpass: free password manager","path":"c:\\\\windows\\\\system32"}', b""]
    for token, sets in pf.conditions.items():
        out.append(f'{{"name":"x{token}x"}}'.encode())
        for ws in sets:
            words = [w for w in ws if w != pfmod.WHOLE]
            out.append(('{"name":"' + " ".join(words) + '"}').encode())
            out.append(('{"cmd":"\\t' + "\\\\".join(words) + '.exe"}').encode())
            out.append(('{"name":"a' + "b".join(words) + 'c"}').encode())
            if len(words) > 1:
                out.append(('{"name":"' + " ".join(words[1:]) + '"}').encode())
    return out


@pytest.mark.parametrize("hyperscan", [True, False])
def test_one_scan_confirms_as_the_sets_do(
    hyperscan: bool, monkeypatch: pytest.MonkeyPatch, cache: Path
) -> None:
    """`confirms_line` (every set as a Hyperscan logical combination, or the Python check
    without Hyperscan) gives, line for line, what checking each present token's sets gives."""
    import sys

    if not hyperscan:
        monkeypatch.setitem(sys.modules, "hyperscan", None)
    pf = pfmod.prefilter_for(load_catalog())
    fresh = pfmod.Prefilter(tokens=pf.tokens, regexes=pf.regexes, conditions=pf.conditions)
    assert (fresh._confirm_engine is not None) == hyperscan
    lines = _lines_for(fresh)
    expected = [any(fresh.confirms(t, ln) for t in fresh.conditions if t.encode() in ln) for ln in lines]
    assert [fresh.confirms_line(ln) for ln in lines] == expected
    assert any(expected) and not all(expected)


def test_hyperscan_databases_are_compiled_once_then_loaded(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hyperscan = pytest.importorskip("hyperscan")
    from banscan import hsdb

    exprs, ids, flags = [b"kaspersky", b"avp\\.exe"], [0, 1], [hyperscan.HS_FLAG_CASELESS, 0]
    found: list[int] = []

    def scan(db: object) -> list[int]:
        found.clear()
        db.scan(b"C:\\KASPERSKY\\avp.exe", match_event_handler=lambda i, *_: found.append(i))  # type: ignore[attr-defined]
        return sorted(found)

    assert scan(hsdb.database(exprs, ids, flags)) == [0, 1]
    blobs = list((cache / "hyperscan").glob("*.bin"))
    assert len(blobs) == 1
    compiled: list[object] = []
    real = hyperscan.Database

    def counting(*args: object, **kwargs: object) -> object:
        compiled.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(hyperscan, "Database", counting)
    assert scan(hsdb.database(exprs, ids, flags)) == [0, 1]  # loaded: nothing compiled
    assert compiled == []
    assert scan(hsdb.database(exprs, ids, [0, 0])) == [1]  # other flags: another entry
    assert len(compiled) == 1 and len(list((cache / "hyperscan").glob("*.bin"))) == 2
    blobs[0].write_bytes(blobs[0].read_bytes()[:-10])  # damaged: compiled again, same answers
    assert scan(hsdb.database(exprs, ids, flags)) == [0, 1]
    assert len(compiled) == 2
