"""Benchmark of the fleet server on SQLite, loopback only, bounded in time.

    python bench/bench_server.py                      # both parts, defaults below
    python bench/bench_server.py --agents 32 --seconds 10
    python bench/bench_server.py --hosts 100000 --skip-ingest
    python bench/bench_server.py --write-readme       # also record the figures in README-server.md
    python bench/bench_server.py --big-report 7000x12i --agents 8   # one 15 MB result among small ones

1. Ingest: N agents (httpx async, one connection each) enrol with a server process on
   127.0.0.1 and post realistic results (the Linux root fixture scanned with and without
   Kaspersky, each post with a fresh generated_at) for a fixed time. Prints results/s and the
   p50/p99 latency of POST /api/v1/report. Targets: >= 500 results/s, p99 <= 100 ms.
2. Overview: seeds 100 000 hosts straight through the store's tables in bulk (20 % with 1-3
   findings, their transitions and one report each; 40 sites, one host in ten without a
   site; 0-3 of 60 tags, a quarter of the hosts without any), then times GET / (the
   overview page, cached and recomputed) and GET /hosts in-process with an admin API token.
   Target: overview <= 200 ms.

Rate limits are off in the benchmark server (the production defaults would throttle one
agent to 1 result/s). Nothing here runs in the test suite or reaches beyond 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
README = Path(__file__).resolve().parent / "README-server.md"
SECRET = "bench-enrol-secret-0001"


# ---------------------------------------------------------------- the server process


def serve(db: str, port: int) -> None:
    """Run the server without rate limits (the child process of the ingest benchmark)."""
    import logging

    import uvicorn

    from banscan.server.app import create_app
    from banscan.server.state import ServerSettings

    logging.basicConfig(level=logging.WARNING)
    settings = ServerSettings(
        user_rate_limit=None, agent_rate_limit=None, anon_rate_limit=None, secure_cookies=False
    )
    app = create_app(db, enroll_secret=SECRET, settings=settings)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, server_header=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def results_to_post() -> dict[str, dict[str, Any]]:
    from banscan.catalog.loader import load_catalog
    from banscan.scan import ScanOptions, run_scan
    from linux_root import build_linux_root

    base = Path(tempfile.mkdtemp(prefix="bench-roots-"))
    opts = ScanOptions(as_of=dt.date(2025, 3, 3), echo_errors=False)
    cat = load_catalog()
    return {
        "dirty": run_scan(cat, opts, roots=[build_linux_root(base / "dirty")]).to_json(),
        "clean": run_scan(cat, opts, roots=[build_linux_root(base / "clean", kaspersky=False)]).to_json(),
    }


async def _enroll(client: Any, url: str, n: int) -> str:
    r = await client.post(
        url + "/api/v1/enroll",
        json={"enroll_secret": SECRET, "host_identifier": f"bench-{n}", "hostname": f"bench-{n:04d}"},
    )
    r.raise_for_status()
    token: str = r.json()["token"]
    return token


class _Conn:
    """One keep-alive HTTP/1.1 connection speaking just enough to POST a report.

    A lean client, so the client's own cost (httpx spent ~5 ms of CPU per request here, on
    the same two cores as the server) does not decide the figures."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, url: str) -> _Conn:
        host, port = url.removeprefix("http://").split(":")
        return cls(*await asyncio.open_connection(host, int(port)))

    async def post(self, head: bytes, body: bytes) -> tuple[int, bytes]:
        self.writer.write(head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        header = await self.reader.readuntil(b"\r\n\r\n")
        status = int(header.split(b" ", 2)[1])
        length = 0
        for line in header.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


def _templates(results: dict[str, dict[str, Any]]) -> dict[str, tuple[bytes, bytes]]:
    """Each result serialised once, split where its generated_at goes (set per post)."""
    mark = "@generated-at@"
    out = {}
    for name, result in results.items():
        before, after = json.dumps(dict(result, generated_at=mark)).encode().split(mark.encode())
        out[name] = (before, after)
    return out


async def _agent(
    url: str,
    token: str,
    n: int,
    bodies: dict[str, tuple[bytes, bytes]],
    stop_at: float,
    lat: list[float],
) -> int:
    conn = await _Conn.open(url)
    head = (
        f"POST /api/v1/report HTTP/1.1\r\nHost: {url.removeprefix('http://')}\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
    ).encode()
    base = dt.datetime(2025, 3, 1, tzinfo=dt.UTC) + dt.timedelta(days=n)
    sent = 0
    try:
        while time.monotonic() < stop_at:
            before, after = bodies["dirty" if (n + sent) % 5 == 0 else "clean"]
            body = before + (base + dt.timedelta(seconds=sent)).isoformat().encode() + after
            t0 = time.perf_counter()
            status, answer = await conn.post(head, body)
            lat.append(time.perf_counter() - t0)
            if status != 201:
                raise RuntimeError(f"report refused: {status} {answer[:200]!r}")
            sent += 1
    finally:
        conn.close()
    return sent


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc), for CPU per result."""
    import os

    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _ingest(
    url: str, agents: int, seconds: float, results: dict[str, dict[str, Any]], server_pid: int
) -> dict[str, Any]:
    import httpx

    limits = httpx.Limits(max_connections=agents, max_keepalive_connections=agents)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        # enrol first (argon2 on the secret is deliberately slow), warm up, then measure posting
        tokens = await asyncio.gather(*(_enroll(client, url, n) for n in range(agents)))
    bodies = _templates(results)
    warm = time.monotonic() + 1.0
    warmed = await asyncio.gather(*(_agent(url, t, -n - 1, bodies, warm, []) for n, t in enumerate(tokens)))
    lat: list[float] = []
    t0 = time.monotonic()
    cpu0, server0 = time.process_time(), _cpu_seconds(server_pid)
    stop_at = t0 + seconds
    counts = await asyncio.gather(*(_agent(url, t, n, bodies, stop_at, lat) for n, t in enumerate(tokens)))
    elapsed = time.monotonic() - t0
    cpu1, server1 = time.process_time(), _cpu_seconds(server_pid)
    lat.sort()
    total = sum(counts)
    return {
        "agents": agents,
        "acknowledged": sum(warmed) + total,  # every 201, warm-up included
        "seconds": round(elapsed, 2),
        "results": total,
        "results_per_s": round(total / elapsed, 1),
        "p50_ms": round(1000 * lat[len(lat) // 2], 1),
        "p90_ms": round(1000 * lat[int(len(lat) * 0.90)], 1),
        "p99_ms": round(1000 * lat[min(len(lat) - 1, int(len(lat) * 0.99))], 1),
        "max_ms": round(1000 * lat[-1], 1),
        # CPU per result: what a faster machine or a second core would buy
        "server_cpu_ms_per_result": round(1000 * (server1 - server0) / max(1, total), 2),
        "client_cpu_ms_per_result": round(1000 * (cpu1 - cpu0) / max(1, total), 2),
    }


@contextlib.contextmanager
def _database(pg_admin: str | None, folder: Path) -> Iterator[str]:
    """A fresh database URL: a SQLite file in `folder`, or a new PostgreSQL database (dropped
    afterwards)."""
    if not pg_admin:
        yield f"sqlite:///{folder / 'ingest.db'}"
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from banscan.store.db import normalize_url

    admin = create_engine(normalize_url(pg_admin), isolation_level="AUTOCOMMIT")
    name = f"banscan_bench_{random.randrange(16**8):08x}"
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(pg_admin).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def bench_ingest(agents: int, seconds: float, pg_admin: str | None = None) -> dict[str, Any]:
    results = results_to_post()
    tmp = Path(tempfile.mkdtemp(prefix="bench-server-"))
    with _database(pg_admin, tmp) as db:
        port = free_port()
        log = (tmp / "server.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", db, str(port)], stdout=log, stderr=subprocess.STDOUT
        )
        url = f"http://127.0.0.1:{port}"
        try:
            import httpx

            deadline = time.monotonic() + 30
            while True:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"server did not start; see {tmp / 'server.log'}")
                try:
                    if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            out = asyncio.run(_ingest(url, agents, seconds, results, proc.pid))
            out["body_bytes"] = len(json.dumps(results["dirty"]))
            out["database"] = "PostgreSQL" if pg_admin else "SQLite"
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        # An acknowledged result is a stored one: count them in the database the server left.
        from sqlalchemy import func, select

        from banscan.store.db import Database
        from banscan.store.models import Report

        store = Database(db)
        with store.reading() as s:
            out["stored"] = s.scalar(select(func.count()).select_from(Report))
        store.dispose()
    if out["stored"] != out["acknowledged"]:
        raise RuntimeError(f"{out['acknowledged']} results acknowledged but {out['stored']} stored")
    return out


# ---------------------------------------------------------------- one large report among small ones


def big_result(base: dict[str, Any], findings: int, evidence: int, invented: bool) -> dict[str, Any]:
    """`base` with `findings` findings of `evidence` items each: invented product ids (as in the
    issue: a server before the catalog check took them), or unlisted Kaspersky products."""
    template = base["findings"][0]
    out = dict(base, findings=[])
    for i in range(findings):
        product = f"invented-product-{i}" if invented else f"kaspersky-lab-unlisted-kaspersky-tool-{i}"
        ev = [
            {
                "source": "bench",
                "kind": "path",
                "value": f"/opt/kaspersky/tool-{i}/lib/module-{j}.so",
                "location": "/",
                "confidence": "strong",
            }
            for j in range(evidence)
        ]
        out["findings"].append(dict(template, product=product, product_name=f"Tool {i}", evidence=ev))
    return out


async def _timed_agent(
    url: str, token: str, n: int, bodies: dict[str, tuple[bytes, bytes]], stop_at: float, spans: list[Any]
) -> None:
    conn = await _Conn.open(url)
    head = (
        f"POST /api/v1/report HTTP/1.1\r\nHost: {url.removeprefix('http://')}\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
    ).encode()
    base = dt.datetime(2025, 3, 1, tzinfo=dt.UTC) + dt.timedelta(days=n)
    sent = 0
    try:
        while time.monotonic() < stop_at:
            before, after = bodies["dirty" if (n + sent) % 5 == 0 else "clean"]
            body = before + (base + dt.timedelta(seconds=sent)).isoformat().encode() + after
            t0 = time.perf_counter()
            status, answer = await conn.post(head, body)
            spans.append((t0, time.perf_counter()))
            if status != 201:
                raise RuntimeError(f"report refused: {status} {answer[:200]!r}")
            sent += 1
    finally:
        conn.close()


async def _big_among_small(url: str, agents: int, seconds: float, big: bytes) -> dict[str, Any]:
    import httpx

    async with httpx.AsyncClient(timeout=120) as client:
        tokens = await asyncio.gather(*(_enroll(client, url, n) for n in range(agents + 1)))
    bodies = _templates(results_to_post())
    spans: list[tuple[float, float]] = []
    stop_at = time.monotonic() + seconds
    small = asyncio.gather(
        *(_timed_agent(url, t, n, bodies, stop_at, spans) for n, t in enumerate(tokens[1:]))
    )
    await asyncio.sleep(1.0)
    conn = await _Conn.open(url)
    head = (
        f"POST /api/v1/report HTTP/1.1\r\nHost: {url.removeprefix('http://')}\r\n"
        f"Authorization: Bearer {tokens[0]}\r\nContent-Type: application/json\r\n"
    ).encode()
    b0 = time.perf_counter()
    status, answer = await conn.post(head, big)
    b1 = time.perf_counter()
    conn.close()
    await small
    during = sorted(e - s for s, e in spans if s < b1 and e > b0)  # small posts the big one overlapped
    every = sorted(e - s for s, e in spans)
    return {
        "big_status": status,
        "big_answer": answer[:160].decode("utf-8", "replace"),
        "big_seconds": round(b1 - b0, 2),
        "small_posts": len(every),
        "small_during_big": len(during),
        "small_p50_ms_during_big": round(1000 * during[len(during) // 2], 1) if during else None,
        "small_max_ms_during_big": round(1000 * during[-1], 1) if during else None,
        "small_p99_ms": round(1000 * every[min(len(every) - 1, int(len(every) * 0.99))], 1),
    }


def bench_big_report(
    agents: int, seconds: float, findings: int, evidence: int, invented: bool
) -> dict[str, Any]:
    """`agents` agents post small results for `seconds` while one more posts one large result."""
    big = big_result(results_to_post()["dirty"], findings, evidence, invented)
    big["generated_at"] = "2025-03-01T00:00:00+00:00"
    raw = json.dumps(big).encode()
    tmp = Path(tempfile.mkdtemp(prefix="bench-big-"))
    db = f"sqlite:///{tmp / 'big.db'}"
    port = free_port()
    log = (tmp / "server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", db, str(port)], stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        import httpx

        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start; see {tmp / 'server.log'}")
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        out = asyncio.run(_big_among_small(url, agents, seconds, raw))
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
    return {
        "findings": findings,
        "evidence": evidence,
        "invented": invented,
        "big_mb": round(len(raw) / 1e6, 1),
        **out,
    }


# ---------------------------------------------------------------- 100 000 hosts


def seed(db_url: str, hosts: int, share: float = 0.2, rng_seed: int = 7) -> dict[str, int]:
    """Bulk-insert hosts, reports, findings and transitions through the store's tables."""
    from sqlalchemy import insert

    from banscan.store.db import Database
    from banscan.store.migrate import upgrade_db
    from banscan.store.models import Finding, Host, HostTag, Report, Transition, TransitionEvent

    upgrade_db(db_url)
    db = Database(db_url)
    rng = random.Random(rng_seed)
    products = [
        ("kesl", "Kaspersky Endpoint Security for Linux", "endpoint-protection", "covered"),
        ("kes-windows", "Kaspersky Endpoint Security for Windows", "endpoint-protection", "covered"),
        ("ksc-network-agent", "Kaspersky Security Center Network Agent", "management-agent", "covered"),
        ("kaspersky-generic", "Kaspersky software (product not identified)", "endpoint-protection", "review"),
        ("kaspersky-root-certificate", "Kaspersky root certificate", "certificate", "remnant"),
        ("ultraav", "UltraAV", "endpoint-protection", "informational"),
    ]
    platforms = ["windows"] * 6 + ["linux"] * 3 + ["macos"]
    # 40 sites of uneven size; one host in ten has none
    sites = [f"site-{n:02d}" for n in range(40) for _ in range(1 + n % 5)]
    site_rng = random.Random(rng_seed + 1)  # its own draws: the rest of the data stays as before
    # 60 tags of uneven popularity; 0-3 per host (a quarter have none)
    tags = [f"tag-{n:02d}" for n in range(60) for _ in range(1 + n % 7)]
    tag_rng = random.Random(rng_seed + 2)  # likewise
    states = ["found"] * 6 + ["replacement-installed"] * 2 + ["removed", "verified"]
    start = dt.datetime(2024, 10, 1)
    evidence = [{"source": "bench", "kind": "package", "value": "x", "location": "y", "confidence": "strong"}]
    counts = {"hosts": 0, "host_tags": 0, "findings": 0, "transitions": 0}
    batch = 5000
    with db.writing() as s:
        for lo in range(1, hosts + 1, batch):
            hi = min(hosts, lo + batch - 1)
            host_rows, tag_rows, report_rows, finding_rows, trans_rows, event_rows = [], [], [], [], [], []
            for hid in range(lo, hi + 1):
                seen = start + dt.timedelta(days=rng.randrange(0, 400), seconds=rng.randrange(86400))
                host_rows.append(
                    {
                        "id": hid,
                        "identifier": f"host-{hid:06d}",
                        "hostname": f"ws-{hid:06d}",
                        "platform": rng.choice(platforms),
                        "site": "" if site_rng.random() < 0.1 else site_rng.choice(sites),
                        "source": "agent",
                        "created_at": seen,
                        "last_seen_at": seen,
                        "last_generated_at": seen,
                        "last_report_id": hid,
                    }
                )
                for tag in sorted({tag_rng.choice(tags) for _ in range(tag_rng.choice((0, 1, 1, 2, 2, 3)))}):
                    tag_rows.append({"host_id": hid, "tag": tag})
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
                if rng.random() < share:
                    for product, name, category, verdict in rng.sample(products, rng.randint(1, 3)):
                        first = seen - dt.timedelta(days=rng.randrange(0, 60))
                        present = rng.random() > 0.15
                        finding_rows.append(
                            {
                                "host_id": hid,
                                "product": product,
                                "product_name": name,
                                "vendor": "Kaspersky Lab",
                                "category": category,
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
                        state = rng.choice(states) if present else "verified"
                        trans_rows.append(
                            {
                                "id": tid,
                                "host_id": hid,
                                "product": product,
                                "state": state,
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
            if tag_rows:
                s.execute(insert(HostTag), tag_rows)
            s.execute(insert(Report), report_rows)
            if finding_rows:
                s.execute(insert(Finding), finding_rows)
                s.execute(insert(Transition), trans_rows)
                s.execute(insert(TransitionEvent), event_rows)
            counts["hosts"] += len(host_rows)
            counts["host_tags"] += len(tag_rows)
            counts["findings"] += len(finding_rows)
    db.dispose()
    return counts


def bench_overview(hosts: int, runs: int) -> dict[str, Any]:
    from banscan.server.app import create_app
    from banscan.store.accounts import create_api_token

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    tmp = Path(tempfile.mkdtemp(prefix="bench-overview-"))
    db_url = f"sqlite:///{tmp / 'fleet.db'}"
    t0 = time.perf_counter()
    counts = seed(db_url, hosts)
    seeded = time.perf_counter() - t0
    token = create_api_token(db_url, "bench", "admin")
    from banscan.server.state import ServerSettings

    app = create_app(db_url, settings=ServerSettings(user_rate_limit=None))
    headers = {"Authorization": f"Bearer {token}"}
    out: dict[str, Any] = {**counts, "seed_s": round(seeded, 1)}
    with TestClient(app, base_url="https://testserver") as client:
        for name, path in [
            ("overview", "/"),
            ("overview_federal_contractor", "/?role=federal-contractor"),
            ("hosts_page", "/hosts?verdict=covered"),
            ("summary_api", "/api/v1/summary"),
        ]:
            times = []
            for _ in range(runs):
                t = time.perf_counter()
                r = client.get(path, headers=headers)
                times.append(time.perf_counter() - t)
                assert r.status_code == 200, (path, r.status_code, r.text[:200])
            out[name + "_ms"] = {
                "median": round(1000 * statistics.median(times), 1),
                "max": round(1000 * max(times), 1),
            }
        # The same page with the aggregates recomputed on every view (no short-lived cache).
        settings = app.state.banscan.settings
        settings.overview_cache_seconds = 0
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            assert client.get("/", headers=headers).status_code == 200
            times.append(time.perf_counter() - t)
        out["overview_uncached_ms"] = {
            "median": round(1000 * statistics.median(times), 1),
            "max": round(1000 * max(times), 1),
        }
        page = client.get("/", headers=headers).text
        assert f'id="stat-hosts">{hosts}<' in page
        assert 'data-site="(no site)"' in page and 'data-site="site-39"' in page
        assert 'data-tag="tag-55"' in page and 'id="by-tag-more-count">40<' in page
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


def write_readme(ingest: list[dict[str, Any]] | None, overview: dict[str, Any] | None) -> None:
    import os
    import platform

    text = README.read_text(encoding="utf-8") if README.exists() else "# Fleet server benchmark\n"
    machine = f"{os.cpu_count()} cores, Python {platform.python_version()}, {dt.date.today().isoformat()}"
    if ingest:
        pg = ingest[0].get("database") == "PostgreSQL"
        store = (
            "PostgreSQL on the same machine (its server's own CPU counted nowhere below)"
            if pg
            else "SQLite in WAL mode with synchronous=FULL"
        )
        lines = [
            "## Ingest (POST /api/v1/report)" + (", PostgreSQL" if pg else ""),
            "",
            f"Last run: {machine}. Each agent is a keep-alive HTTP/1.1 connection (asyncio, about",
            "0.05 ms of CPU per request, on the same cores as the server) posting a ~"
            f"{ingest[0]['body_bytes'] // 1024} KiB result",
            "(the Linux root fixture, 1 in 5 with Kaspersky) with a fresh `generated_at` each time, for",
            f"{ingest[0]['seconds']} s after a 1 s warm-up. One uvicorn process (uvloop, httptools, access log",
            f"off, rate limits off), {store}, group commit. After each",
            "run the reports in the database are counted: every acknowledged result was stored.",
            "",
            "| agents | results/s | p50 | p90 | p99 | max | server CPU per result | stored |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for r in ingest:
            lines.append(
                f"| {r['agents']} | {r['results_per_s']} | {r['p50_ms']} ms | {r['p90_ms']} ms | "
                f"{r['p99_ms']} ms | {r['max_ms']} ms | {r['server_cpu_ms_per_result']} ms | {r['stored']} |"
            )
        target = next((r for r in ingest if r["agents"] == 32), ingest[0])
        ok_rate = "met" if target["results_per_s"] >= 500 else "NOT met"
        ok_p99 = "met" if target["p99_ms"] <= 100 else "NOT met"
        lines += [
            "",
            (
                "For comparison: the targets are set for SQLite, the embedded default."
                if pg
                else f"Targets, at {target['agents']} agents: >= 500 results/s ({ok_rate}: "
                f"{target['results_per_s']}), p99 <= 100 ms ({ok_p99}: {target['p99_ms']} ms)."
            ),
            "Agents wait for each answer before posting again, so beyond what keeps the server busy more",
            "agents mostly queue: latency grows with their number; throughput grows only through larger",
            "batches per commit. Runs on this shared two-core machine vary by about a quarter.",
        ]
        text = _replace_block(text, "ingest-postgresql" if pg else "ingest", lines)
    if overview:
        uncached = overview["overview_uncached_ms"]["median"]
        ok = "met" if uncached <= 200 else "NOT met"
        row = "| {} | {} ms | {} ms | {} |"
        lines = [
            "## Dashboard with 100 000 hosts",
            "",
            f"Last run: {machine}. {overview['hosts']} hosts, {overview['findings']} findings, "
            f"{overview['transitions']} transitions,",
            f"one report per host, seeded in bulk in {overview['seed_s']} s; pages rendered in-process",
            "(TestClient, admin API token), aggregates computed in SQL and reused while no report,",
            "transition or host is added (for at most `overview_cache_seconds`, 5 s by default).",
            "",
            "| page | median | max | target |",
            "| --- | --- | --- | --- |",
            row.format(
                "GET / (overview, cache off: every view recomputed)",
                uncached,
                overview["overview_uncached_ms"]["max"],
                f"<= 200 ms ({ok})",
            ),
            row.format("GET / (overview, cached)", *overview["overview_ms"].values(), ""),
            row.format(
                "GET /?role=federal-contractor", *overview["overview_federal_contractor_ms"].values(), ""
            ),
            row.format("GET /hosts?verdict=covered", *overview["hosts_page_ms"].values(), ""),
            row.format("GET /api/v1/summary", *overview["summary_api_ms"].values(), ""),
        ]
        text = _replace_block(text, "overview", lines)
    README.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--agents", default="32", help="concurrent agents; several runs: 8,32,128")
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--hosts", type=int, default=100_000)
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--pg", metavar="ADMIN_URL", help="ingest into a new PostgreSQL database made here")
    p.add_argument("--skip-ingest", action="store_true")
    p.add_argument("--skip-overview", action="store_true")
    p.add_argument("--write-readme", action="store_true")
    p.add_argument(
        "--big-report",
        metavar="FINDINGSxEVIDENCE",
        help="instead: one result this large (e.g. 7000x12) among --agents small ones; add 'i' "
        "for invented product ids (7000x12i)",
    )
    p.add_argument("--serve", nargs=2, metavar=("DB", "PORT"), help=argparse.SUPPRESS)
    ns = p.parse_args(argv)
    if ns.serve:
        serve(ns.serve[0], int(ns.serve[1]))
        return 0
    if ns.big_report:
        spec = ns.big_report.lower()
        findings, evidence = (int(x) for x in spec.rstrip("i").split("x"))
        agents = int(str(ns.agents).split(",")[0])
        out = bench_big_report(agents, min(ns.seconds, 60.0), findings, evidence, spec.endswith("i"))
        print("big report:", json.dumps(out))
        return 0
    ingest = overview = None
    if not ns.skip_ingest:
        ingest = []
        for n in (int(x) for x in str(ns.agents).split(",")):
            ingest.append(bench_ingest(n, min(ns.seconds, 60.0), ns.pg))
            print("ingest:", json.dumps(ingest[-1]))
    if not ns.skip_overview:
        overview = bench_overview(ns.hosts, ns.runs)
        print("overview:", json.dumps(overview))
    if ns.write_readme:
        write_readme(ingest, overview)
        print(f"wrote {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
