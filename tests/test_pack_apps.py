"""The gov-apps pack (No TikTok on Government Devices Act, OMB M-23-13, FAR 52.204-27): TikTok found
in the app inventories agencies hold for their phones (adb `pm list packages`, Apple Configurator,
Jamf Pro, Intune), ByteDance's other apps left to a person, look-alikes and other short-video
apps left alone, each role's dated duties, the pack chosen by role, what the exports can carry,
and accuracy on public app records (tests/data/accuracy-apps)."""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from banscan.catalog.loader import load_catalog
from banscan.cli import app
from banscan.cli.common import narrow_to_packs
from banscan.match.evaluate import Report, evaluate, read_corpus
from banscan.match.matcher import Matcher
from banscan.models import Finding, InventoryRecord, RecordKind, Source, Verdict
from banscan.policy.engine import obligations_for
from banscan.rules import render_fleet_policies, render_osquery_pack, render_yara
from banscan.rules.osquery import build_queries
from test_inputs_mdm import read, write
from test_inputs_mobile import (
    CFG_NAMED,
    CFG_PRETTY,
    GALAXY,
    INTUNE,
    JAMF_DETAIL,
    JAMF_LIST,
    PIXEL,
)

CATALOG = load_catalog().with_packs(["gov-apps"])
DATA = Path(__file__).parent / "data"
CORPUS = DATA / "accuracy-apps"
M_23_13 = "no-tiktok-gov-devices-m-23-13"
FAR = "far-52-204-27-bytedance"


def findings(*paths: Path) -> dict[tuple[str, str], str]:
    m = Matcher(CATALOG)
    for p in paths:
        recs, errors, _ = read(p)
        assert errors == [], errors
        m.add_all(recs)
    return {(f.host, f.product): f.verdict.value for f in m.findings()}


# ---- TikTok in real inventory formats --------------------------------------------------------


def test_tiktok_is_found_in_every_mobile_inventory() -> None:
    got = findings(PIXEL, GALAXY, CFG_NAMED, CFG_PRETTY, JAMF_DETAIL, JAMF_LIST, INTUNE)
    assert got == {
        ("GOV-PIXEL-0142", "tiktok"): "covered",  # pm list -f -i -U: com.zhiliaoapp.musically
        ("GOV-GALAXY-0077", "tiktok"): "covered",  # plain pm list: com.ss.android.ugc.trill
        ("GOV-GALAXY-0077", "douyin"): "review",  # com.ss.android.ugc.aweme: ByteDance's, not TikTok
        ("GOV-IPHONE-0311", "tiktok"): "covered",  # cfgutil, one-line JSON
        ("0x8294E3A41001C", "tiktok"): "covered",  # cfgutil without device names
        ("GOV-IPHONE-0412", "tiktok"): "covered",  # Jamf Pro v2 mobile device detail
        ("GOV-IPHONE-0533", "tiktok"): "covered",  # Jamf Pro v2 mobile devices list
        # Intune's discovered apps carry no bundle id: the store name "TikTok", matched whole, is
        # the app's own (iOS and Android rows alike)
        ("GOV-IPHONE-0377", "tiktok"): "covered",
        ("GOV-GALAXY-0091", "tiktok"): "covered",
    }


def test_evidence_names_the_id_and_where_it_was_read() -> None:
    m = Matcher(CATALOG)
    m.add_all(read(PIXEL)[0])
    (f,) = m.findings()
    ev = next(e for e in f.evidence if e.kind == "bundle_id")
    assert (ev.value, ev.source, ev.location.rsplit("/", 1)[-1]) == (
        "com.zhiliaoapp.musically",
        "android-pm",
        "GOV-PIXEL-0142.txt:7",
    )
    assert ev.identifier == "iexact:com.zhiliaoapp.musically"
    assert "uad-ng-lists-bytedance" in ev.catalog_source.split(",")
    assert f.version == "2023705030"


_PM_DECOYS = (
    "package:/data/app/~~k2Jd8==/com.instagram.android-Qa1==/base.apk=com.instagram.android versionCode:375123456  installer=com.android.vending uid:10311\n"
    "package:/data/app/~~p4Lx2==/com.snapchat.android-Wq9==/base.apk=com.snapchat.android versionCode:130012  installer=com.android.vending uid:10312\n"
    "package:/data/app/~~z8Nc5==/co.triller.droid-Er3==/base.apk=co.triller.droid versionCode:2101  installer=com.android.vending uid:10313\n"
    "package:/data/app/~~m1Bv7==/com.google.android.youtube-Ty6==/base.apk=com.google.android.youtube versionCode:1545123  installer=null uid:10140\n"
    "package:/data/app/~~Qw2eR5==/com.tiktak.stopwatch-Hj3k==/base.apk=com.tiktak.stopwatch versionCode:41  installer=com.google.android.packageinstaller uid:10301\n"
    "package:/data/app/~~Zx4cV7==/com.musically.lyrics-Op5a==/base.apk=com.musically.lyrics versionCode:1200  installer=com.android.vending uid:10302\n"
    "package:/data/app/~~Rt5yU8==/com.trillmusic.player-Lk9j==/base.apk=com.trillmusic.player versionCode:77  installer=com.android.vending uid:10314\n"
)


def _cfgutil(device: str, apps: list[tuple[str, str, str]]) -> str:
    """`cfgutil --format JSON get name installedApps` for one device, on one line as cfgutil prints it."""
    doc = {
        "Command": "get",
        "Output": {
            "0x3C11A0B2E4F601": {
                "name": device,
                "installedApps": [
                    {"itunesName": n, "displayName": n, "bundleIdentifier": b, "bundleVersion": v}
                    for n, b, v in apps
                ],
            },
            "Errors": {"0x3C11A0B2E4F601": {}},
        },
        "Type": "CommandOutput",
        "Devices": ["0x3C11A0B2E4F601"],
    }
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


def _intune(rows: list[tuple[str, str, str, str, str]]) -> bytes:
    """Intune's AppInvRawData export with the fixture's header (UTF-8 with a BOM, every field
    quoted, CRLF): one row per (name, publisher, version, device, platform)."""
    head = INTUNE.read_bytes().split(b"\r\n", 1)[0]
    lines = []
    for i, (name, publisher, version, device, platform) in enumerate(rows):
        cells = [f"{i:064x}", name, publisher, version, version, f"d{i}", device, platform, "18.2", platform]
        lines.append(",".join(f'"{c}"' for c in [*cells, "u", "a.b@agency.example.gov", "A B"]))
    return head + b"\r\n" + "\r\n".join(lines).encode("utf-8") + b"\r\n"


def test_other_bytedance_apps_are_for_review_and_look_alikes_are_left_alone(tmp_path: Path) -> None:
    pm = write(tmp_path, "GOV-PIXEL-0200.txt", _PM_DECOYS)
    cfg = write(
        tmp_path,
        "cfgutil.json",
        _cfgutil(
            "GOV-IPHONE-0600",
            [
                ("Instagram", "com.burbn.instagram", "358.0.0"),
                ("Snapchat", "com.toyopagroup.picaboo", "13.10.0"),
                ("YouTube", "com.google.ios.youtube", "19.49.7"),
                ("Tik Tok Timer", "com.example.tiktoktimer", "2.0"),
                ("TikTik", "com.example.tiktik", "1.4"),
                ("CapCut", "com.lemon.lvoverseas", "13.2.0.97"),
                ("Lemon8", "com.bd.nproject", "7.6.1.2"),
                ("TikTok Studio", "com.ss.iphone.tt.creator", "367002"),
                ("TikTok Now", "com.ss.iphone.ugc.now", "1.2.0"),
            ],
        ),
    )
    intune = write(
        tmp_path,
        "AppInvRawData.csv",
        _intune(
            [
                ("Tik Tok Timer", "Tick Tock Apps", "3.1", "GOV-IPHONE-0701", "iOS"),
                ("TikTik", "", "1.4", "GOV-IPHONE-0701", "iOS"),
                ("Triller", "Triller Inc.", "31.2", "GOV-GALAXY-0702", "Android"),
                ("Instagram", "Instagram", "358.0.0", "GOV-GALAXY-0702", "Android"),
                ("CapCut", "", "13.2.0", "GOV-GALAXY-0702", "Android"),
            ]
        ),
    )
    assert read(pm)[2] == "android-pm" and read(cfg)[2] == "cfgutil-json" and read(intune)[2] == "intune-csv"
    assert findings(pm, cfg, intune) == {
        ("GOV-IPHONE-0600", "capcut"): "review",
        ("GOV-IPHONE-0600", "lemon8"): "review",
        ("GOV-IPHONE-0600", "tiktok-studio"): "review",
        ("GOV-IPHONE-0600", "tiktok-now"): "review",
        ("GOV-GALAXY-0702", "capcut"): "review",
    }


def _app(name: str, **fields: str) -> InventoryRecord:
    return InventoryRecord(host="h", source=Source("test", "t:1"), kind=RecordKind.APP, name=name, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "record",
    [
        _app("Tik Tok Timer"),
        _app("TikTak Stopwatch - Lap Timer", bundle_id="com.tiktak.stopwatch"),
        _app("TikTok Downloader - No Watermark", bundle_id="com.example.ttdownloader"),
        _app("Triller", bundle_id="co.triller.droid"),
        _app("Snapchat", bundle_id="com.snapchat.android"),
        _app("Instagram", bundle_id="com.instagram.android"),
        _app("musical lyrics", bundle_id="com.musically.lyrics"),
        _app("com.zhiliaoapp.musically.helper", bundle_id="com.zhiliaoapp.musically.helper"),
        _app("CapCut Templates", bundle_id="com.example.capcuttemplates"),
        _app("Lemonade", bundle_id="com.lemonadeInc.Lemonade"),
    ],
    ids=lambda r: r.name,
)
def test_look_alikes_are_not_flagged(record: InventoryRecord) -> None:
    m = Matcher(CATALOG)
    m.add(record)
    assert m.findings() == []


def test_a_bytedance_program_the_catalog_does_not_list_is_for_review() -> None:
    m = Matcher(CATALOG)
    m.add(_app("Effect House", publisher="Bytedance Pte. Ltd."))
    m.add(
        InventoryRecord(
            host="h2", source=Source("test", "t:2"), kind=RecordKind.APP, name="ByteDance Mini App IDE"
        )
    )
    got = {(f.host, f.product): f.verdict for f in m.findings()}
    assert got == {
        ("h", "bytedance-pte-unlisted-effect-house"): Verdict.REVIEW,
        ("h2", "bytedance-unlisted-bytedance-mini-app-ide"): Verdict.REVIEW,
    }


# ---- dated duties by role ---------------------------------------------------------------------


def _finding(name: str, bundle_id: str) -> Finding:
    m = Matcher(CATALOG)
    m.add(_app(name, bundle_id=bundle_id))
    (f,) = m.findings()
    return f


def _duties(f: Finding, role: str, day: str) -> dict[str, tuple[str, str, str | None]]:
    """The obligations for `role` as of `day`, keyed by the first words of their action."""
    obls = obligations_for(CATALOG, f, role, dt.date.fromisoformat(day))
    return {" ".join(o.action.split()[:3]): (o.regulation, o.status.value, o.deadline) for o in obls}


def test_agencies_had_30_days_from_m_23_13_to_find_remove_and_block_tiktok() -> None:
    tiktok = _finding("TikTok", "com.zhiliaoapp.musically")
    assert _duties(tiktok, "federal-agency", "2023-03-15") == {
        "Identify the use": (M_23_13, "required", "2023-03-29"),
        "Establish an internal": (M_23_13, "required", "2023-03-29"),
        "Remove and disallow": (M_23_13, "required", "2023-03-29"),
        "Prohibit internet traffic": (M_23_13, "required", "2023-03-29"),
        "Ensure that new": (M_23_13, "required", "2023-05-28"),
        "Insert the clause": (FAR, "not-yet-in-force", None),
    }
    later = obligations_for(CATALOG, tiktok, "federal-agency", dt.date(2023, 4, 3))
    removal = next(o for o in later if o.action.startswith("Remove and disallow"))
    assert (removal.status.value, removal.since, removal.days_overdue) == ("overdue", "2023-02-27", 5)
    clause = next(
        o
        for o in obligations_for(CATALOG, tiktok, "federal-agency", dt.date(2023, 6, 2))
        if o.regulation == FAR
    )
    assert (clause.status.value, clause.since) == ("required", "2023-06-02")


def test_contractors_are_bound_by_far_52_204_27_from_june_2_2023() -> None:
    tiktok = _finding("TikTok", "com.ss.android.ugc.trill")
    assert _duties(tiktok, "federal-contractor", "2023-06-01") == {
        "Do not have": (FAR, "not-yet-in-force", None),
        "Insert the substance": (FAR, "not-yet-in-force", None),
    }
    assert _duties(tiktok, "federal-contractor", "2023-06-02") == {
        "Do not have": (FAR, "prohibited", None),
        "Insert the substance": (FAR, "required", None),
    }
    (prohibition,) = [
        o
        for o in obligations_for(CATALOG, tiktok, "federal-contractor", dt.date(2025, 1, 6))
        if o.status == "prohibited"
    ]
    assert "equipment provided by the Contractor's employees" in prohibition.action
    assert any("written notification" in e for e in prohibition.exemptions)
    assert "88 FR 36430" in prohibition.citation


def test_review_apps_carry_the_same_duties_and_a_home_user_none() -> None:
    capcut = _finding("CapCut", "com.lemon.lvoverseas")
    assert capcut.verdict is Verdict.REVIEW
    assert _duties(capcut, "federal-contractor", "2024-01-10") == {
        "Do not have": (FAR, "prohibited", None),
        "Insert the substance": (FAR, "required", None),
    }
    tiktok = _finding("TikTok", "com.zhiliaoapp.musically")
    for role in ("user", "seller", "state-agency", "telecom"):
        assert obligations_for(CATALOG, tiktok, role, dt.date(2024, 1, 10)) == [], role


# ---- the pack chosen by role ------------------------------------------------------------------


def test_the_pack_binds_federal_roles_only() -> None:
    full = load_catalog()
    for role, jurisdiction in (
        ("federal-agency", "US"),
        ("federal-contractor", "US"),
        ("federal-contractor", "US-TX"),
    ):
        assert "gov-apps" in {p.id for p in narrow_to_packs(full, None, jurisdiction, role).packs}, role
    for role in ("user", "seller", "telecom"):
        assert "gov-apps" not in {p.id for p in narrow_to_packs(full, None, "US", role).packs}, role


def _scan(out: Path, *args: str) -> dict[str, Any]:
    r = CliRunner().invoke(
        app, ["scan", str(PIXEL), "--as-of", "2024-03-01", "-f", "json", "-o", str(out), "-q", *args]
    )
    assert r.exit_code in (0, 1), r.output
    doc: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return doc


def test_a_home_users_phone_is_judged_only_when_asked(tmp_path: Path) -> None:
    user = _scan(tmp_path / "u.json", "--role", "user")
    assert user["findings"] == [] and "gov-apps" not in {p["id"] for p in user["packs"]}
    asked = _scan(tmp_path / "a.json", "--role", "user", "--pack", "gov-apps")
    (f,) = asked["findings"]
    assert (f["product"], f["verdict"], f["obligations"]) == ("tiktok", "covered", [])
    agency = _scan(tmp_path / "g.json", "--role", "federal-agency")
    (f,) = agency["findings"]
    overdue = [o for o in f["obligations"] if o["regulation"] == M_23_13 and o["status"] == "overdue"]
    assert len(overdue) == 5 and {o["deadline"] for o in overdue} == {"2023-03-29", "2023-05-28"}


# ---- exports ----------------------------------------------------------------------------------

_MOBILE_IDS = (
    "com.zhiliaoapp.musically",
    "com.ss.android.ugc.trill",
    "com.lemon.lvoverseas",
    "com.bd.nproject",
)


def _osquery_db() -> sqlite3.Connection:
    """SQLite with osquery's tables (tests/data/osquery_schema.sql) and its regex_match()."""

    def regex_match(text: str | None, pattern: str, index: int) -> str | None:
        m = re.search(pattern, text) if text is not None else None
        return m.group(index) if m else None

    db = sqlite3.connect(":memory:")
    db.create_function("regex_match", 3, regex_match, deterministic=True)
    db.executescript((DATA / "osquery_schema.sql").read_text(encoding="utf-8"))
    return db


def test_osquery_and_fleet_carry_the_windows_programs_and_no_mobile_ids() -> None:
    """osquery has no table of phone apps: bundle ids of Android and iOS apps cannot be exported,
    so the export names them as left out; only the Windows programs (CapCut, Douyin) and the
    publishers are queried."""
    pack = json.loads(render_osquery_pack(CATALOG))
    text = json.dumps(pack["queries"])
    assert not any(i in text for i in _MOBILE_IDS)
    assert all(any(i in line for line in pack["left_out"]) for i in _MOBILE_IDS)
    assert not any("tiktok" in q.products for q in build_queries(CATALOG))
    review = pack["queries"]["banscan_review_windows_programs_name"]
    db = _osquery_db()
    for name in ("CapCut", "抖音", "TikTok", "Cap Cut Pro Templates", "Microsoft Teams"):
        db.execute("INSERT INTO programs (name, version, publisher) VALUES (?, '1.0', 'x')", (name,))
    rows = db.execute(review["query"]).fetchall()
    assert sorted(r[0] for r in rows) == ["capcut", "douyin"]
    fleet = list(yaml.safe_load_all(render_fleet_policies(CATALOG)))
    assert any("capcut" in d["spec"]["description"] for d in fleet)
    policies = "".join(yaml.safe_dump(d) for d in fleet)  # the policies, without the header's comments
    assert not any(i in policies for i in _MOBILE_IDS)


def test_yara_has_nothing_to_carry() -> None:
    # the pack lists no byte signatures: the rule file is its header alone
    assert "rule " not in render_yara(CATALOG)


# ---- accuracy on public app records -----------------------------------------------------------


@pytest.fixture(scope="module")
def report() -> Report:
    cases = [c for f in ("positives.jsonl", "negatives.jsonl") for c in read_corpus(CORPUS / f)]
    return evaluate(CATALOG, cases)


def _show(outcomes: list[Any]) -> str:
    return "\n".join(
        f"{o.case.id} {o.case.record.name!r} {o.case.record.bundle_id} -> {o.verdict} {[f.product for f in o.findings]}"
        for o in outcomes[:40]
    )


def test_corpus_is_large_enough_and_every_record_has_provenance() -> None:
    for name, minimum in (("positives", 10), ("negatives", 1000)):
        sources = yaml.safe_load((CORPUS / f"provenance-{name}.yaml").read_text(encoding="utf-8"))
        known = {s["id"] for s in sources}
        for s in sources:
            assert s["publisher"] and s["repository"] and s["path"], s["id"]
            assert re.fullmatch(r"[0-9a-f]{40}", s["commit"]), s["id"]
            assert s["commit"] in s["url"] and s["url"].startswith(
                f"https://github.com/{s['repository']}/"
            ), s["id"]
        lines = [
            json.loads(x)
            for x in (CORPUS / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
            if x.strip()
        ]
        assert len(lines) >= minimum, name
        assert len({x["id"] for x in lines}) == len(lines)
        assert {x["prov"] for x in lines} <= known, name
    negatives = list(read_corpus(CORPUS / "negatives.jsonl"))
    android = {c.record.bundle_id for c in negatives if c.category == "android-package"}
    ios = {c.record.bundle_id for c in negatives if c.category == "ios-app"}
    assert len(android) >= 100 and len(ios) >= 100
    # other short-video and social apps are among them, by their real ids
    assert {"com.instagram.android", "com.facebook.katana"} <= android
    assert {"com.burbn.instagram", "com.toyopagroup.picaboo", "com.google.ios.youtube"} <= ios


def test_every_bytedance_record_is_found_with_its_verdict(report: Report) -> None:
    positives = report.by("banned")
    assert positives and {o.case.expect for o in positives} == {None, Verdict.REVIEW}
    wrong = [o for o in positives if not o.correct]
    assert not wrong, f"ByteDance records not given their verdict:\n{_show(wrong)}"
    assert sum(o.verdict == "covered" for o in positives) >= 5


def test_no_other_app_is_flagged(report: Report) -> None:
    flagged = [o for o in report.by("other") if o.found]
    assert not flagged, f"{len(flagged)} other apps flagged:\n{_show(flagged)}"
