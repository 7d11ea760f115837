"""Benchmark of the coordinator's board: 500 member organisations, 200 000 hosts.

    python bench/bench_coordinator.py                         # SQLite file in a temporary folder
    python bench/bench_coordinator.py --pg postgresql://postgres@127.0.0.1/postgres
    python bench/bench_coordinator.py --write-readme          # also record the figures in README-server.md

The tree: one coordinator (a state CIO office) with 50 agencies, each with 9 sites: 500
members, every other one sharing its hosts. 200 000 hosts spread unevenly over the members (a
few large agencies, many small sites), each with one report; one host in five with 1-3
Kaspersky findings (15 % of them gone) and a removal record each; three notices from the
coordinator to every member, most acknowledged; an attestation or two from half the members.
Everything is inserted in bulk straight through the store's tables.

Timed, for the coordinator's API token: the board's queries alone (`store.coordinator.figures`,
no cache) and GET /coordinator in-process — the first view (figures computed, templates
compiled), the views after it (figures reused while nothing changed, as the overview's are),
and views recomputed every time (cache off). Targets: <= 1 s for the first view, <= 300 ms
warm. Nothing here runs in the test suite (its builder is smoke-tested with small numbers).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import random
import secrets
import statistics
import sys
import tempfile
import textwrap
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

README = Path(__file__).resolve().parent / "README-server.md"
COORDINATOR_ID = 2  # the default organisation is 1
AGENCIES = 50
PRODUCTS = [
    ("kesl", "Kaspersky Endpoint Security for Linux", "covered"),
    ("kes-windows", "Kaspersky Endpoint Security for Windows", "covered"),
    ("ksc-network-agent", "Kaspersky Security Center Network Agent", "covered"),
    ("kaspersky-generic", "Kaspersky software (product not identified)", "review"),
    ("ultraav", "UltraAV", "informational"),
]
STATES = ["found"] * 6 + ["replacement-installed"] * 2 + ["removed", "verified"]


def _organisations(members: int) -> list[dict[str, Any]]:
    """The coordinator, then its agencies, then each agency's sites, `members` in all."""
    now = dt.datetime(2026, 1, 5, 9, 0)
    rows = [{"id": COORDINATOR_ID, "slug": "state-cio", "name": "State CIO office", "parent_id": None}]
    agencies = min(AGENCIES, members)
    for a in range(agencies):
        rows.append({"id": COORDINATOR_ID + 1 + a, "slug": f"agency-{a:02d}", "name": f"Agency {a:02d}"})
        rows[-1]["parent_id"] = COORDINATOR_ID
    for n in range(members - agencies):
        parent = COORDINATOR_ID + 1 + n % agencies
        rows.append(
            {"id": COORDINATOR_ID + 1 + agencies + n, "slug": f"site-{n:03d}", "name": f"Site {n:03d}"}
        )
        rows[-1]["parent_id"] = parent
    for i, r in enumerate(rows):
        r.update(
            share_with_coordinators="hosts" if i % 2 else "aggregates", contact="", email="", created_at=now
        )
    return rows


def build(db_url: str, members: int = 500, hosts: int = 200_000, rng_seed: int = 11) -> dict[str, int]:
    """Bulk-insert the tree, hosts, reports, findings, removal records, notices and
    attestations; the counts made."""
    from sqlalchemy import insert

    from banscan.store.db import Database
    from banscan.store.migrate import upgrade_db
    from banscan.store.models import (
        Attestation,
        Finding,
        Host,
        Notice,
        NoticeRecipient,
        Organisation,
        Report,
        Transition,
        TransitionEvent,
    )

    upgrade_db(db_url)
    db = Database(db_url)
    rng = random.Random(rng_seed)
    orgs = _organisations(members)
    member_ids = [o["id"] for o in orgs[1:]]
    # uneven sizes: agencies weigh 20, sites 1 to 6
    weights = [20 if o["parent_id"] == COORDINATOR_ID else rng.randint(1, 6) for o in orgs[1:]]
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    counts = {"members": len(member_ids), "hosts": 0, "findings": 0, "transitions": 0, "covered_present": 0}
    evidence = [{"source": "bench", "kind": "package", "value": "x", "location": "y", "confidence": "strong"}]
    batch = 5000
    with db.writing() as s:
        s.execute(insert(Organisation), orgs)
        owners = rng.choices(member_ids, weights=weights, k=hosts)
        for lo in range(0, hosts, batch):
            host_rows, report_rows, finding_rows, trans_rows, event_rows = [], [], [], [], []
            for i in range(lo, min(hosts, lo + batch)):
                hid = i + 1
                seen = now - dt.timedelta(days=rng.randrange(0, 40), seconds=rng.randrange(86400))
                host_rows.append(
                    {
                        "id": hid,
                        "org_id": owners[i],
                        "identifier": f"host-{hid:06d}",
                        "hostname": f"ws-{hid:06d}",
                        "platform": rng.choice(("windows", "windows", "linux", "macos")),
                        "site": "",
                        "source": "agent",
                        "created_at": seen,
                        "last_seen_at": seen,
                        "last_generated_at": seen,
                        "last_report_id": hid,
                    }
                )
                report_rows.append(
                    {
                        "id": hid,
                        "host_id": hid,
                        "idempotency_key": f"{hid:064d}",
                        "generated_at": seen,
                        "received_at": seen,
                        "source": "agent",
                        "applied": True,
                        "findings_count": 0,
                        "body": "{}",
                    }
                )
                if rng.random() >= 0.2:
                    continue
                for product, name, verdict in rng.sample(PRODUCTS, rng.randint(1, 3)):
                    first = seen - dt.timedelta(days=rng.randrange(0, 500))
                    present = rng.random() > 0.15
                    counts["covered_present"] += int(present and verdict == "covered")
                    finding_rows.append(
                        {
                            "host_id": hid,
                            "product": product,
                            "product_name": name,
                            "vendor": "Kaspersky Lab",
                            "category": "endpoint-protection",
                            "verdict": verdict,
                            "confidence": "strong",
                            "present": present,
                            "first_seen": first,
                            "last_seen": seen,
                            "gone_at": None if present else seen,
                            "evidence": evidence,
                            "obligations": [],
                            "last_report_id": hid,
                        }
                    )
                    counts["transitions"] += 1
                    tid = counts["transitions"]
                    trans_rows.append(
                        {
                            "id": tid,
                            "host_id": hid,
                            "product": product,
                            "state": rng.choice(STATES) if present else "verified",
                            "updated_at": seen,
                            "updated_by": "system",
                        }
                    )
                    event_rows.append(
                        {
                            "transition_id": tid,
                            "at": first,
                            "actor": "system",
                            "to_state": "found",
                            "note": "",
                        }
                    )
            s.execute(insert(Host), host_rows)
            s.execute(insert(Report), report_rows)
            if finding_rows:
                s.execute(insert(Finding), finding_rows)
                s.execute(insert(Transition), trans_rows)
                s.execute(insert(TransitionEvent), event_rows)
            counts["hosts"] += len(host_rows)
            counts["findings"] += len(finding_rows)
        for n, days in enumerate((90, 45, 10)):
            sent = now - dt.timedelta(days=days)
            s.execute(
                insert(Notice),
                [
                    {
                        "id": n + 1,
                        "org_id": COORDINATOR_ID,
                        "title": f"Notice {n + 1}",
                        "packs": ["kaspersky"],
                        "extra": "",
                        "created_by": "officer",
                        "created_at": sent,
                        "expires_at": sent + dt.timedelta(days=90),
                    }
                ],
            )
            s.execute(
                insert(NoticeRecipient),
                [
                    {
                        "notice_id": n + 1,
                        "org_id": m,
                        "subject": f"Notice {n + 1}",
                        "body_text": "",
                        "body_html": "",
                        "acknowledged_at": sent + dt.timedelta(days=2) if rng.random() < 0.7 else None,
                    }
                    for m in member_ids
                ],
            )
        attestations = [
            {
                "org_id": m,
                "as_of": (now - dt.timedelta(days=d)).date(),
                "signed_by": "ciso",
                "signed_at": now - dt.timedelta(days=d),
                "statement": "",
                "content": {},
                "digest": "0" * 64,
            }
            for m in member_ids[::2]
            for d in rng.sample(range(1, 120), rng.randint(1, 2))
        ]
        s.execute(insert(Attestation), attestations)
    db.dispose()
    return counts


def board_rows(db_url: str, report_days: int = 7, catalog: Any = None) -> list[Any]:
    """The board's rows of the coordinator, straight from the store (no server, no cache)."""
    from banscan.catalog.loader import load_catalog
    from banscan.store import coordinator as board
    from banscan.store.db import Database
    from banscan.store.scope import build_scope

    db = Database(db_url)
    try:
        with db.reading() as s:
            policy = board.BoardPolicy(
                catalog or load_catalog(), "user", "US", dt.date.today(), report_days, dt.datetime.now(dt.UTC)
            )
            tree = board.members(s, COORDINATOR_ID)
            counted = board.figures(s, COORDINATOR_ID, [m.id for m in tree], policy)
            return board.rows(tree, counted, policy, orgs=build_scope(s, COORDINATOR_ID))
    finally:
        db.dispose()


@contextlib.contextmanager
def _database(pg_admin: str | None) -> Iterator[str]:
    """A SQLite file in a temporary folder, or a new PostgreSQL database dropped afterwards."""
    if pg_admin is None:
        with tempfile.TemporaryDirectory(prefix="bench-coordinator-") as tmp:
            yield f"sqlite:///{Path(tmp) / 'fleet.db'}"
        return
    from sqlalchemy import create_engine, text

    name = f"banscan_bench_{secrets.token_hex(4)}"
    engine = create_engine(pg_admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield pg_admin.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


def _ms(times: list[float]) -> dict[str, float]:
    return {"median": round(1000 * statistics.median(times), 1), "max": round(1000 * max(times), 1)}


def bench(members: int, hosts: int, runs: int, pg_admin: str | None) -> dict[str, Any]:
    from banscan.server.app import create_app
    from banscan.server.state import ServerSettings
    from banscan.store.accounts import add_api_token
    from banscan.store.db import Database

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    with _database(pg_admin) as db_url:
        t0 = time.perf_counter()
        counts = build(db_url, members, hosts)
        out: dict[str, Any] = {
            "backend": "postgresql" if pg_admin else "sqlite",
            **counts,
            "seed_s": round(time.perf_counter() - t0, 1),
        }
        db = Database(db_url)
        with db.writing() as s:
            token, _ = add_api_token(s, "bench", "viewer", created_by="bench", org_id=COORDINATOR_ID)
        db.dispose()

        from banscan.catalog.loader import load_catalog

        catalog = load_catalog()
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            rows = board_rows(db_url, catalog=catalog)
            times.append(time.perf_counter() - t)
        assert len(rows) == members and sum(r.figures.hosts for r in rows) == hosts
        out["figures_ms"] = _ms(times)

        app = create_app(db_url, settings=ServerSettings(user_rate_limit=None))
        _ = app.state.banscan.catalog  # loaded once per server, before any board is drawn
        headers = {"Authorization": f"Bearer {token}"}
        with TestClient(app, base_url="https://testserver") as client:

            def view(path: str = "/coordinator") -> float:
                t = time.perf_counter()
                r = client.get(path, headers=headers)
                assert r.status_code == 200, (path, r.status_code, r.text[:300])
                return time.perf_counter() - t

            out["page_first_ms"] = round(1000 * view(), 1)
            out["page_warm_ms"] = _ms([view() for _ in range(runs)])
            out["page_sorted_warm_ms"] = _ms(
                [
                    view("/coordinator?sort=covered&order=desc&status=overdue&role=federal-agency")
                    for _ in range(runs)
                ]
            )
            out["api_warm_ms"] = _ms([view("/api/v1/coordinator/members?limit=500") for _ in range(runs)])
            out["csv_warm_ms"] = _ms([view("/coordinator.csv") for _ in range(runs)])
            app.state.banscan.settings.overview_cache_seconds = 0
            out["page_uncached_ms"] = _ms([view() for _ in range(runs)])
            out["pdf_ms"] = round(1000 * view("/coordinator.pdf"), 1)
        app.state.banscan.db.dispose()
    return out


# ---------------------------------------------------------------- report


def _replace_block(text: str, name: str, body: list[str]) -> str:
    """Put `body` between the `<!-- generated:name -->` markers (the rest is written by hand)."""
    start, end = f"<!-- generated:{name} -->", f"<!-- /generated:{name} -->"
    block = "\n".join([start, *body, end])
    if start in text and end in text:
        return text[: text.index(start)] + block + text[text.index(end) + len(end) :]
    return text.rstrip("\n") + "\n\n" + block + "\n"


def write_readme(results: list[dict[str, Any]], command: str) -> None:
    import os
    import platform

    first = results[0]
    about = (
        f"`{command}` — last run: {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{dt.date.today().isoformat()}. {first['members']} members, {first['hosts']} hosts, "
        f"{first['findings']} findings, {first['transitions']} removal records, seeded in bulk; pages "
        "rendered in-process (TestClient, the coordinator's API token). First view: figures computed "
        "and templates compiled; warm: figures reused while nothing counted changed (at most "
        "`overview_cache_seconds`); uncached: recomputed on every view."
    )
    lines = [
        "## Coordinator board (500 members, 200 000 hosts)",
        "",
        *textwrap.wrap(about, 100, break_on_hyphens=False, break_long_words=False),
        "",
        "| backend | figures (queries) | first view | warm view | warm, filtered and sorted | API, 500 rows "
        "| CSV | uncached view | PDF, 500 rows |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        lines.append(
            f"| {r['backend']} | {r['figures_ms']['median']} ms | {r['page_first_ms']} ms | "
            f"{r['page_warm_ms']['median']} ms | {r['page_sorted_warm_ms']['median']} ms | "
            f"{r['api_warm_ms']['median']} ms | {r['csv_warm_ms']['median']} ms | "
            f"{r['page_uncached_ms']['median']} ms | {r['pdf_ms']} ms |"
        )
    sqlite = next((r for r in results if r["backend"] == "sqlite"), first)
    met = "met" if sqlite["page_first_ms"] <= 1000 else "missed"
    met_warm = "met" if sqlite["page_warm_ms"]["median"] <= 300 else "missed"
    lines += [
        "",
        f"Targets ({sqlite['backend']}): first view <= 1 s ({met}: {sqlite['page_first_ms']} ms), "
        f"warm <= 300 ms ({met_warm}: {sqlite['page_warm_ms']['median']} ms). Medians of the runs.",
    ]
    text = README.read_text(encoding="utf-8") if README.exists() else "# Fleet server benchmark\n"
    README.write_text(_replace_block(text, "coordinator", lines), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--members", type=int, default=500)
    p.add_argument("--hosts", type=int, default=200_000)
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--pg", metavar="ADMIN_URL", help="also on a new PostgreSQL database made here")
    p.add_argument("--write-readme", action="store_true")
    ns = p.parse_args(argv)
    results = [bench(ns.members, ns.hosts, ns.runs, None)]
    print("coordinator:", json.dumps(results[-1]))
    if ns.pg:
        results.append(bench(ns.members, ns.hosts, ns.runs, ns.pg))
        print("coordinator:", json.dumps(results[-1]))
    if ns.write_readme:
        write_readme(results, "python bench/" + Path(__file__).name + " " + " ".join(argv or sys.argv[1:]))
        print(f"wrote {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
