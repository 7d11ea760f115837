"""The exports are checked by running them: every osquery/Fleet query is executed by SQLite
against tables with osquery's column names (tests/data/osquery_schema.sql), and the YARA
rules are compiled and matched with yara-python."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from banscan.catalog.loader import load_catalog
from banscan.catalog.schema import Catalog, Identifier, IdentifierKind, MatchKind, Product
from banscan.match.index import CatalogIndex
from banscan.models import Confidence
from banscan.rules import render_fleet_policies, render_osquery_pack, render_yara
from banscan.rules.osquery import (
    SOURCES,
    PackQuery,
    build_queries,
    group_of,
    identifier_platforms,
    identifier_ref,
)
from banscan.rules.sqlgen import glob_to_like, lower_regex, sql_str

yara = pytest.importorskip("yara")

SCHEMA = (Path(__file__).parent / "data" / "osquery_schema.sql").read_text(encoding="utf-8")
K = IdentifierKind
UID = 501

# Which table and column each generated source reads (the test's own knowledge of osquery).
COLUMN = {
    "programs_name": ("programs", "name"),
    "programs_publisher": ("programs", "publisher"),
    "services_display_name": ("services", "display_name"),
    "services_name": ("services", "name"),
    "drivers_service": ("drivers", "service"),
    "processes_name": ("processes", "name"),
    "certificates_common_name": ("certificates", "common_name"),
    "apps_name": ("apps", "name"),
    "apps_display_name": ("apps", "display_name"),
    "apps_bundle_identifier": ("apps", "bundle_identifier"),
    "homebrew_packages_name": ("homebrew_packages", "name"),
    "package_receipts_package_id": ("package_receipts", "package_id"),
    "launchd_label": ("launchd", "label"),
    "kernel_extensions_name": ("kernel_extensions", "name"),
    "system_extensions_identifier": ("system_extensions", "identifier"),
    "system_extensions_team": ("system_extensions", "team"),
    "deb_packages_name": ("deb_packages", "name"),
    "rpm_packages_name": ("rpm_packages", "name"),
    "systemd_units_id": ("systemd_units", "id"),
    "kernel_modules_name": ("kernel_modules", "name"),
}
for _t in ("chrome_extensions", "firefox_addons", "safari_extensions"):
    COLUMN[f"{_t}_identifier"] = (_t, "identifier")
    COLUMN[f"{_t}_name"] = (_t, "name")

# A value each catalog regex matches, as an osquery table would show it. A new regex
# identifier in the catalog needs a sample here, or test_every_identifier_matches fails.
_SW = "HKEY_LOCAL_MACHINE\\SOFTWARE\\WOW6432Node\\KasperskyLab\\"
REGEX_SAMPLES = {
    "^pkg:pypi/opentip(@|\\?|$)": "pkg:pypi/opentip@1.2",
    "KasperskyLab[\\\\/]protected[\\\\/]KES[0-9]": _SW + "protected\\KES21",
    "KasperskyLab[\\\\/]Components[\\\\/]34[\\\\/]Connectors[\\\\/]KES([\\\\/]|$)": _SW
    + "Components\\34\\Connectors\\KES\\11.0.0.0",
    "KasperskyLab[\\\\/]Components[\\\\/]34[\\\\/]1103([\\\\/]|$)": _SW + "Components\\34\\1103\\1.0.0.0",
    "KasperskyLab[\\\\/]protected[\\\\/]AVP12([\\\\/]|$)": _SW + "protected\\AVP12\\settings",
    "KasperskyLab[\\\\/]protected[\\\\/]AVP80([\\\\/]|$)": _SW + "protected\\AVP80",
    "KasperskyLab[\\\\/]protected[\\\\/]ksos\\d*": _SW + "protected\\ksos8",
    "KasperskyLab[\\\\/]protected[\\\\/]AVP9[\\\\/]settings": _SW + "protected\\AVP9\\settings",
    "KasperskyLab[\\\\/]Components[\\\\/]34[\\\\/]Connectors[\\\\/]KAVFSEE([\\\\/]|$)": _SW
    + "Components\\34\\Connectors\\KAVFSEE\\11.0",
    "(^|[\\\\/])SOFTWARE[\\\\/](WOW6432Node[\\\\/])?KasperskyLab([\\\\/]|$)": "HKEY_LOCAL_MACHINE\\SOFTWARE\\KasperskyLab",
    "(^|[\\\\/])SOFTWARE[\\\\/](WOW6432Node[\\\\/])?KasperskyLab[\\\\/]protected[\\\\/]": _SW
    + "protected\\KSDE",
    "SOFTWARE[\\\\/](WOW6432Node[\\\\/])?KasperskyLab[\\\\/]Exclusions": "HKEY_LOCAL_MACHINE\\SOFTWARE\\KasperskyLab\\Exclusions",
    "(^|[\\\\/])kl[a-z0-9]+\\.kes-\\d+-\\d+(\\.sys)?$": "klbackupflt.kes-12-1",
    "(^|[\\\\/])klupd_kes-\\d+-\\d+_": "klupd_kes-12-1_arkmon",
    "(^|[\\\\/])klupd_k4w-\\d+-\\d+_": "klupd_k4w-21-3_klbg",
    "(^|[\\\\/])klupd_": "klupd_klif_mark",
    "^KSDE\\d+(\\.\\d+)*$": "KSDE5.2",
    "^AVP\\d+(\\.\\d+)*$": "AVP21.3",
    "(^|[\\\\/])avp(32|cc|m|upd)(\\.exe)?$": "AVPUPD.EXE",
    "^com\\.kaspersky\\.": "com.kaspersky.kav.helper",
    "^kl[a-z]+_klfoc$": "kladminserver_klfoc",
    "^anti_ransom(_gui)?\\.exe$": "anti_ransom_gui.exe",
    "CurrentVersion[\\\\/]Run[\\\\/]AVP$": "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run\\AVP",
    "(^|[\\\\/])Kaspersky\\.[a-z]": "HKEY_LOCAL_MACHINE\\SOFTWARE\\Classes\\Kaspersky.IeVirtualKeyboardPlugin.JavascriptApi",
    "^(avpservice|avzkrnl|ksdeuimain|ckahcomm|ckahrule|ckahum)\\.dll$": "ckahum.dll",
    "^(avs_eka|eka_meta)\\.dll$": "eka_meta.dll",
    "^cf_(anti_malware_facade|mgmt_facade|response_provider)\\.dll$": "cf_mgmt_facade.dll",
    "^kasperskylab\\.[a-z0-9_.]+\\.dll$": "KasperskyLab.UI.Core.dll",
    "^klhkum(\\..+)?\\.dll$": "klhkum.x64.dll",
    "^ks4\\.0\\d\\d\\.\\d+\\.\\d+\\.\\d+[a-z]{2}_\\d+\\.exe$": "ks4.021.2.16.590en_25092.exe",
    "^kuu\\d+(\\.\\d+){3}(_[a-z0-9_-]+)?_[a-z]{2}\\.(tar\\.gz|zip)$": "kuu4.2.0.1432_x86_64_en.tar.gz",
    "^pkg:maven/com\\.kaspersky\\.android-components/": "pkg:maven/com.kaspersky.android-components/kaspresso@1.6.0",
}

# Values ordinary hosts have, plus near misses; no export may report any of them.
ORDINARY = [
    "Microsoft Edge",
    "Google Chrome",
    "7-Zip 23.01 (x64)",
    "Avast Free Antivirus",
    "svchost.exe",
    "WinDefend",
    "com.apple.Safari",
    "openssh-server",
    "kasperskyish",
    "Kaspersky Endpoint Securityx",
    "klifx",
    "Kaspersky Threat Intelligence Portal",  # carved out
    "Kaspersky CyberTrace",  # carved out
    "UltraAV",  # informational (successor)
    "Check Point Harmony Endpoint",  # informational
    "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft",
    "2Y8XE5CQ9",
    "Microsoft Root Certificate Authority 2011",
]


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="module")
def queries(catalog: Catalog) -> list[PackQuery]:
    return build_queries(catalog)


def _regex_match(text: str | None, pattern: str, index: int) -> str | None:
    """osquery's regex_match(): the index-th group of the first match, or NULL."""
    if text is None:
        return None
    m = re.search(pattern, text)
    return m.group(index) if m else None


def connect() -> sqlite3.Connection:
    db = sqlite3.connect(":memory:")
    db.create_function("regex_match", 3, _regex_match, deterministic=True)
    db.executescript(SCHEMA)
    db.execute("INSERT INTO users (uid, username, directory) VALUES (?, 'alice', '/home/alice')", (UID,))
    return db


def insert(db: sqlite3.Connection, table: str, **cols: object) -> None:
    names = ", ".join(cols)
    db.execute(f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' for _ in cols)})", tuple(cols.values()))


def put(db: sqlite3.Connection, source: str, value: str, *, name: str = "Some Program") -> None:
    """Store `value` where `source` reads it, with whatever rows osquery would also show."""
    if source in ("registry_key", "registry_services"):
        if source == "registry_services":
            key = "HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services"
            path = key + "\\" + value
        else:
            path = value
            key = value.rsplit("\\", 1)[0]
        insert(db, "registry", key=key, path=path, name=path.rsplit("\\", 1)[-1], type="subkey", mtime=0)
    elif source == "signature_team_identifier":
        path = f"/Applications/App{abs(hash(value))}.app"
        insert(db, "apps", name="App.app", path=path, bundle_identifier="com.example.app")
        insert(db, "signature", path=path, signed=1, team_identifier=value)
    else:
        table, column = COLUMN[source]
        extra: dict[str, object] = {}
        if table in ("chrome_extensions", "firefox_addons", "safari_extensions"):
            extra["uid"] = UID
        if table == "programs" and column == "publisher":
            extra["name"] = name
        insert(db, table, **{column: value}, **extra)


def run(db: sqlite3.Connection, sql: str) -> list[dict[str, object]]:
    cur = db.execute(sql)
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]


def source_kinds(platform: str, source: str) -> frozenset[IdentifierKind]:
    for s in SOURCES[platform]:
        if s.name == source:
            return s.kinds
    return frozenset({K.REGISTRY_KEY}) if source == "registry_key" else frozenset({K.PUBLISHER})


def sample(ident: Identifier, source: str, platform: str) -> tuple[str, str]:
    """(value as the osquery table shows it, value as banscan's own collectors report it)."""
    v, m = ident.value, ident.match
    if m == MatchKind.REGEX:
        if v not in REGEX_SAMPLES:
            pytest.fail(f"add a REGEX_SAMPLES entry for catalog regex {v!r}")
        s = REGEX_SAMPLES[v]
        return s, s
    if m == MatchKind.NAME and ident.kind == K.DISPLAY_NAME:
        s = f"{v.split(' ', 1)[0]}® {v.split(' ', 1)[1]} 11.4 (x64)" if " " in v else f"{v} 2021"
        return (s + ".app" if source == "apps_name" else s), s
    if m == MatchKind.PREFIX:
        s = f"{v} 11.4 Extra" if ident.kind == K.DISPLAY_NAME else f"{v}.agent"
        return s, s
    if m == MatchKind.CONTAINS:
        s = f"Issued {v} R3"
        return s, s
    if m == MatchKind.GLOB:
        s = v.replace("*", "x")
        return s, s
    s = v if m == MatchKind.EXACT else v.upper()
    # osquery keeps the type suffix banscan strips: avp.exe (Windows processes), kesl.service
    suffix = {("processes_name", "windows"): ".exe", ("systemd_units_id", "linux"): ".service"}.get(
        (source, platform), ""
    )
    if suffix:
        base = s[: -len(suffix)] if s.lower().endswith(suffix) else s
        return base + (suffix.upper() if m != MatchKind.EXACT else suffix), s
    return s, s


def branch_identifiers(catalog: Catalog, q: PackQuery) -> Iterator[tuple[Product, Identifier]]:
    kinds = source_kinds(q.platform, q.source)
    for pid in q.products:
        if pid.endswith("-unlisted"):
            continue
        p = catalog.product(pid)
        for ident in p.identifiers:
            if ident.kind in kinds and q.platform in identifier_platforms(p, ident):
                yield p, ident


# -- osquery pack ---------------------------------------------------------------------------


def test_pack_is_osquery_pack_json(catalog: Catalog) -> None:
    pack = json.loads(render_osquery_pack(catalog))
    # osquery's Pack::initialize reads platform and queries (and shard, version, oncall, discovery)
    # and passes over other keys: description and left_out are for the people who deploy it
    assert set(pack) == {"platform", "description", "left_out", "queries"}
    assert catalog.meta.version in pack["description"] and "Kaspersky Lab" in pack["description"]
    assert pack["left_out"] and all(isinstance(line, str) for line in pack["left_out"])
    assert pack["queries"]
    for name, q in pack["queries"].items():
        assert re.fullmatch(r"[a-z0-9_]+", name)
        assert set(q) == {"query", "interval", "platform", "description", "removed", "snapshot"}
        assert q["platform"] in ("windows", "darwin", "linux")
        assert isinstance(q["interval"], int) and q["interval"] > 0
        assert q["snapshot"] is True and q["removed"] is False
        assert catalog.meta.version in q["description"]


def test_every_query_runs_on_empty_tables(queries: list[PackQuery]) -> None:
    db = connect()
    for q in queries:
        assert run(db, q.sql) == [], q.name


def test_schema_catches_wrong_columns() -> None:
    """The tables are strict: a query naming a column osquery lacks fails, as it would in osquery."""
    db = connect()
    with pytest.raises(sqlite3.OperationalError):
        run(db, "SELECT product_name FROM programs")
    with pytest.raises(sqlite3.OperationalError):
        run(db, "SELECT 1 FROM winget_packages")


def test_every_identifier_matches(catalog: Catalog, queries: list[PackQuery]) -> None:
    """Each identifier's SQL finds a value banscan's own matcher also accepts; ordinary values
    are never returned."""
    index = CatalogIndex(catalog)
    for q in queries:
        if q.source == "programs_publisher":
            continue
        db = connect()
        expected: set[tuple[str, str, str]] = set()
        for product, ident in branch_identifiers(catalog, q):
            table_value, own_value = sample(ident, q.source, q.platform)
            hits = {(p.product.id, identifier_ref(p.ident)) for p in index.lookup(ident.kind, own_value)}
            assert (product.id, identifier_ref(ident)) in hits, f"{own_value!r} is no sample for {ident}"
            put(db, q.source, table_value)
            expected.add((product.id, identifier_ref(ident), table_value))
        for value in ORDINARY:
            put(db, q.source, value)
        rows = run(db, q.sql)
        got = {
            (str(r["banscan_product"]), str(r["banscan_identifier"]), str(r["banscan_value"])) for r in rows
        }
        assert expected, q.name
        assert expected <= got, f"{q.name}: missing {sorted(expected - got)}"
        leaked = {r["banscan_value"] for r in rows} & set(ORDINARY)
        assert not leaked, f"{q.name} reported ordinary values {leaked}"
        assert all(r["banscan_status"] == q.group for r in rows)


def _products_for(queries: list[PackQuery], db: sqlite3.Connection, platform: str, source: str) -> set[str]:
    out: set[str] = set()
    for q in queries:
        if q.platform == platform and q.source == source:
            out |= {str(r["banscan_product"]) for r in run(db, q.sql)}
    return out


@pytest.mark.parametrize(
    "name",
    [
        "Kaspersky Endpoint Security 11.11.0 for Windows",
        "Kaspersky Endpoint Security для Windows",
        "Kaspersky Security Center 14 Network Agent",
        "Агент администрирования Kaspersky Security Center 13.2",
        "Kaspersky Security Center 14",
        "Kaspersky Total Security",
        "Kaspersky Anti-Virus",
        "Антивирус Касперского",
        "Kaspersky Anti-Virus for Windows Servers Enterprise Edition",
        "Kaspersky",
        "KASPERSKY® FREE",
        "Kaspersky Threat Intelligence Portal",
        "Kaspersky Lab Products Remover",
        "Microsoft Edge",
    ],
)
def test_program_names_agree_with_matcher(catalog: Catalog, queries: list[PackQuery], name: str) -> None:
    """The SQL names the same products for a program name as banscan's own matcher."""
    db = connect()
    insert(db, "programs", name=name, version="1.0")
    index = CatalogIndex(catalog)
    want = {
        p.product.id
        for p in index.lookup(K.DISPLAY_NAME, name)
        if group_of(p.product) and "windows" in identifier_platforms(p.product, p.ident)
    }
    assert _products_for(queries, db, "windows", "programs_name") == want


def test_publisher_query(catalog: Catalog, queries: list[PackQuery]) -> None:
    (q,) = [q for q in queries if q.source == "programs_publisher" and q.group == "covered"]
    db = connect()
    insert(db, "programs", name="Kaspersky Secret Tool 2", publisher="AO Kaspersky Lab")
    insert(db, "programs", name="Kaspersky Helper", publisher="Kaspersky Lab, Inc.")
    insert(db, "programs", name="Helper", publisher="АО «Лаборатория Касперского»")
    insert(db, "programs", name="Kaspersky Threat Intelligence Portal", publisher="AO Kaspersky Lab")
    insert(db, "programs", name="Edge", publisher="Microsoft Corporation")
    insert(db, "programs", name="Other", publisher="Kaspersky Lab Fan Club")
    rows = run(db, q.sql)
    assert {(r["name"], r["banscan_product"]) for r in rows} == {
        ("Kaspersky Secret Tool 2", "kaspersky-lab-unlisted"),
        ("Kaspersky Helper", "kaspersky-lab-unlisted"),
        ("Helper", "kaspersky-lab-unlisted"),
    }
    assert {r["banscan_identifier"] for r in rows} == {"entity:kaspersky-lab"}


def test_realistic_hosts(queries: list[PackQuery]) -> None:
    win = connect()
    insert(
        win, "programs", name="Kaspersky Endpoint Security 11.11.0 for Windows", publisher="AO Kaspersky Lab"
    )
    insert(win, "services", name="klnagent", display_name="Kaspersky Security Center Network Agent")
    insert(win, "processes", pid=4242, name="avp.exe", path="C:\\Program Files (x86)\\Kaspersky Lab\\avp.exe")
    put(win, "registry_key", _SW + "protected\\KES11")
    put(win, "registry_services", "klif")
    found = {str(r["banscan_product"]) for q in queries if q.platform == "windows" for r in run(win, q.sql)}
    assert {"kes-windows", "ksc-network-agent", "kaspersky-generic", "kaspersky-lab-unlisted"} <= found
    mac = connect()
    insert(
        mac, "apps", name="Kaspersky Security Cloud.app", path="/Applications/Kaspersky Security Cloud.app"
    )
    insert(mac, "apps", name="Kaspersky Anti-Virus.app", bundle_identifier="com.kaspersky.kav", path="/x.app")
    insert(mac, "system_extensions", identifier="com.kaspersky.kav.sysext", team="2Y8XE5CQ94", path="/y")
    found = {str(r["banscan_product"]) for q in queries if q.platform == "darwin" for r in run(mac, q.sql)}
    assert found == {"kaspersky-security-cloud", "kaspersky-anti-virus", "kaspersky-generic"}
    lin = connect()
    insert(
        lin, "deb_packages", name="kesl", version="12.1.0.1297", arch="amd64", status="install ok installed"
    )
    insert(lin, "systemd_units", id="kesl-supervisor.service", active_state="active")
    insert(lin, "rpm_packages", name="klnagent64", version="14.2.0", release="35148", arch="x86_64")
    found = {str(r["banscan_product"]) for q in queries if q.platform == "linux" for r in run(lin, q.sql)}
    assert found == {"kesl", "ksc-network-agent"}


def test_sql_helpers() -> None:
    assert sql_str("it's") == "'it''s'"
    assert glob_to_like("C:\\Kaspersky Lab\\AVP*_%") == "C:\\\\Kaspersky Lab\\\\AVP%\\_\\%"
    assert glob_to_like("a?[bc]d") == "a__d"
    assert lower_regex("^KSDE\\d+\\D\\W[A-Z]$") == "^ksde\\d+\\D\\W[a-z]$"
    with pytest.raises(ValueError):
        lower_regex("(?i)kaspersky")
    db = connect()
    # quoting survives hostile values; LIKE escapes take % and _ literally
    insert(db, "programs", name="x'y%z_")
    assert run(db, f"SELECT name FROM programs WHERE name = {sql_str(chr(120) + chr(39) + 'y%z_')}")
    pattern = glob_to_like("x'y%z_")
    assert run(db, f"SELECT name FROM programs WHERE name LIKE {sql_str(pattern)} ESCAPE '\\'")
    insert(db, "programs", name="x'yAzB")
    assert len(run(db, f"SELECT name FROM programs WHERE name LIKE {sql_str(pattern)} ESCAPE '\\'")) == 1


# -- Fleet ----------------------------------------------------------------------------------

# fleet/server/fleet/policies.go PolicySpec (json keys) and its platform check.
FLEET_SPEC_KEYS = {"name", "query", "description", "critical", "resolution", "team", "platform"}
FLEET_ATTACH = re.compile(r"(?i)attach[^\w]+.*[^\w]+as[^\w]+")  # Fleet refuses queries like this


def _host(catalog: Catalog, queries: list[PackQuery], platform: str) -> sqlite3.Connection:
    """A host with a sample of every identifier the platform's queries look for."""
    db = connect()
    for q in queries:
        if q.platform != platform:
            continue
        if q.source == "programs_publisher":
            insert(db, "programs", name="Kaspersky Secret Tool", publisher="AO Kaspersky Lab")
            continue
        for _, ident in branch_identifiers(catalog, q):
            put(db, q.source, sample(ident, q.source, q.platform)[0])
    return db


def _clean(queries: list[PackQuery], platform: str) -> sqlite3.Connection:
    db = connect()
    for source in {q.source for q in queries if q.platform == platform}:
        for value in ORDINARY:
            put(db, source, value)
    return db


def test_fleet_policies(catalog: Catalog, queries: list[PackQuery]) -> None:
    docs = list(yaml.safe_load_all(render_fleet_policies(catalog)))
    assert docs
    names = [d["spec"]["name"] for d in docs]
    assert len(names) == len(set(names))
    hosts = {p: _host(catalog, queries, p) for p in ("windows", "darwin", "linux")}
    clean = {p: _clean(queries, p) for p in ("windows", "darwin", "linux")}
    for doc in docs:
        assert set(doc) == {"apiVersion", "kind", "spec"}
        assert doc["apiVersion"] == "v1" and doc["kind"] == "policy"
        spec = doc["spec"]
        assert set(spec) <= FLEET_SPEC_KEYS and {"name", "query", "description", "resolution"} <= set(spec)
        assert spec["platform"] in ("windows", "darwin", "linux")
        assert isinstance(spec["critical"], bool)
        assert all(isinstance(spec[k], str) and spec[k].strip() for k in ("name", "query", "resolution"))
        assert not FLEET_ATTACH.search(spec["query"])
        platform = spec["platform"]
        assert run(hosts[platform], spec["query"]) == [], f"{spec['name']} passes on a Kaspersky host"
        assert run(clean[platform], spec["query"]) == [{"1": 1}], f"{spec['name']} fails on a clean host"


def test_fleet_resolution_puts_builtin_first(catalog: Catalog) -> None:
    docs = list(yaml.safe_load_all(render_fleet_policies(catalog)))
    (win,) = [d["spec"] for d in docs if d["spec"]["platform"] == "windows" and d["spec"]["critical"]]
    text = win["resolution"]
    assert "Microsoft Defender Antivirus" in text
    builtin = [a.name for a in catalog.alternatives if a.builtin and "windows" in a.platforms]
    others = [a.name for a in catalog.alternatives if not a.builtin and "windows" in a.platforms]
    positions = [text.find(n) for n in builtin if n in text]
    later = [text.find(n) for n in others if n in text]
    assert positions and later and max(positions) < min(later)


# -- YARA -----------------------------------------------------------------------------------

_PAD = b"\x00" * 64


def _byte_signatures(catalog: Catalog) -> list[tuple[Product, int, Identifier]]:
    return [
        (p, i, ident)
        for p in catalog.products
        if group_of(p)
        for i, ident in enumerate(p.identifiers)
        if ident.kind == K.BYTE_SIGNATURE
    ]


def _rule_names(matches: list[object]) -> set[str]:
    return {m.rule for m in matches}  # type: ignore[attr-defined]


def test_yara_rules(catalog: Catalog) -> None:
    rules = yara.compile(source=render_yara(catalog))
    sigs = _byte_signatures(catalog)
    assert sigs
    seen: set[str] = set()
    for product, index, ident in sigs:
        data = ident.value.encode()
        pe = rules.match(data=b"MZ" + _PAD + data + _PAD)
        hits = [m for m in pe if m.meta["banscan_ref"] == f"{product.id}#{index}"]
        assert len(hits) == 1, ident.value
        meta = hits[0].meta
        # meta maps the match back to the catalog identifier
        ref_product, ref_index = meta["banscan_ref"].split("#")
        assert catalog.product(ref_product).identifiers[int(ref_index)] == ident
        assert meta["banscan_product"] == product.id
        assert meta["banscan_identifier"] == meta["identifier"] == ident.value
        assert meta["catalog_version"] == catalog.meta.version
        assert meta["confidence"] == ident.confidence.value
        assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", hits[0].rule)
        seen.add(hits[0].rule)
        # executables only: the same bytes in a document never match
        assert rules.match(data=b"License text: " + data + _PAD) == []
        assert rules.match(data=b"%PDF-1.7 " + data) == []
        # UTF-16LE (wide) strings inside an ELF and a Mach-O
        wide = ident.value.encode("utf-16-le")
        assert hits[0].rule in _rule_names(rules.match(data=b"\x7fELF" + _PAD + wide))
        assert hits[0].rule in _rule_names(rules.match(data=b"\xcf\xfa\xed\xfe" + _PAD + data))
    assert len(seen) == len(sigs)
    assert rules.match(data=b"MZ" + _PAD + b"Microsoft Corporation") == []


def test_yara_certificate_rules_accept_der(catalog: Catalog) -> None:
    rules = yara.compile(source=render_yara(catalog))
    der = b"\x30\x82\x03\x10" + _PAD + b"Kaspersky Anti-Virus Personal Root Certificate"
    metas = [m.meta["banscan_product"] for m in rules.match(data=der)]
    assert metas == ["kaspersky-personal-root-certificate"]
    # DER is accepted only for certificate products
    assert rules.match(data=b"\x30\x82\x03\x10" + _PAD + b"AO Kaspersky Lab") == []


def test_yara_escapes_and_non_ascii(catalog: Catalog) -> None:
    src = catalog.products[0].sources[0]
    extra = [
        Identifier(
            kind=K.BYTE_SIGNATURE, value="Лаборатория Касперского", confidence=Confidence.WEAK, sources=[src]
        ),
        Identifier(
            kind=K.BYTE_SIGNATURE, value='Kaspersky "Lab"\\x', confidence=Confidence.WEAK, sources=[src]
        ),
        Identifier(
            kind=K.BYTE_SIGNATURE,
            value="kasperskylab",
            match=MatchKind.IEXACT,
            confidence=Confidence.WEAK,
            sources=[src],
        ),
        Identifier(
            kind=K.BYTE_SIGNATURE, value="{ 4B 4C 49 46 ?? 30 }", confidence=Confidence.WEAK, sources=[src]
        ),
        Identifier(
            kind=K.BYTE_SIGNATURE, value="/klupd_[a-z]+_arkmon/", confidence=Confidence.WEAK, sources=[src]
        ),
    ]
    product = catalog.product("kes-windows")
    changed = product.model_copy(update={"identifiers": [*product.identifiers, *extra]})
    cat = catalog.model_copy(
        update={"products": [changed if p.id == product.id else p for p in catalog.products]}
    )
    rules = yara.compile(source=render_yara(cat))
    base = len(product.identifiers)

    def refs(data: bytes) -> set[str]:
        return {m.meta["banscan_ref"] for m in rules.match(data=data)}

    cyr = "Лаборатория Касперского"
    assert f"kes-windows#{base}" in refs(b"MZ" + _PAD + cyr.encode())
    assert f"kes-windows#{base}" in refs(b"MZ" + _PAD + cyr.encode("utf-16-le"))
    assert f"kes-windows#{base}" not in refs(_PAD + cyr.encode())
    quoted = 'Kaspersky "Lab"\\x'
    assert f"kes-windows#{base + 1}" in refs(b"MZ" + _PAD + quoted.encode())
    hit = [
        m
        for m in rules.match(data=b"MZ" + _PAD + quoted.encode())
        if m.meta["banscan_ref"].endswith(f"#{base + 1}")
    ]
    assert hit[0].meta["banscan_identifier"] == quoted
    assert f"kes-windows#{base + 2}" in refs(b"MZ" + _PAD + b"KASPERSKYLAB")
    assert f"kes-windows#{base + 3}" in refs(b"MZ" + _PAD + b"KLIF_0")
    assert f"kes-windows#{base + 4}" in refs(b"MZ" + _PAD + "klupd_kes_arkmon".encode("utf-16-le"))
    assert f"kes-windows#{base + 4}" not in refs(b"klupd_kes_arkmon")
