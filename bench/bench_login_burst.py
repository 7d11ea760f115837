"""A burst of wrong logins against a real server, and how long /healthz takes meanwhile.

    python bench/bench_login_burst.py [--logins 76] [--hashes 2,76]

Starts `banscan serve`'s app in a uvicorn process on a loopback port (SQLite, production
argon2 parameters, rate limits off so that every login reaches the password check), makes one
user, then sends `--logins` wrong-password logins at once while asking /healthz one after the
other. Run once per `--hashes` value (`max_concurrent_hashes`; the queue is left at its
default of 32). Loopback only, bounded: each run ends when the burst has been answered.
The table printed goes into bench/README-accounts.md by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

PASSWORD = "correct horse battery staple"


def serve(db: str, port: int, hashes: int) -> None:
    import uvicorn

    from banscan.server.app import create_app
    from banscan.server.state import ServerSettings

    settings = ServerSettings(
        user_rate_limit=None,
        anon_rate_limit=None,
        agent_rate_limit=None,
        secure_cookies=False,
        max_concurrent_hashes=hashes,
    )
    app = create_app(db, settings=settings)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def burst(url: str, logins: int) -> dict[str, object]:
    limits = httpx.Limits(max_connections=logins + 4)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120) as c:
        csrf = (await c.get("/api/v1/csrf")).json()["csrf_token"]
        health: list[float] = []
        done = asyncio.Event()

        async def probe() -> None:
            async with httpx.AsyncClient(base_url=url, timeout=120) as h:
                while not done.is_set():
                    t = time.perf_counter()
                    r = await h.get("/healthz")
                    assert r.status_code == 200
                    health.append(time.perf_counter() - t)
                    await asyncio.sleep(0.01)

        async def one(n: int) -> int:
            r = await c.post(
                "/login",
                data={"username": "alice", "password": f"wrong {n}", "csrf_token": csrf},
                headers={"Accept": "application/json"},
            )
            return r.status_code

        prober = asyncio.create_task(probe())
        await asyncio.sleep(0.2)
        start = time.perf_counter()
        codes = await asyncio.gather(*(one(n) for n in range(logins)))
        elapsed = time.perf_counter() - start
        done.set()
        await prober
    return {
        "elapsed": elapsed,
        "codes": {code: codes.count(code) for code in sorted(set(codes))},
        "health_p50_ms": statistics.median(health) * 1000,
        "health_max_ms": max(health) * 1000,
        "health_n": len(health),
    }


def run(logins: int, hashes: int) -> dict[str, object]:
    from banscan.store.accounts import create_user

    with tempfile.TemporaryDirectory() as tmp:
        db = f"sqlite:///{Path(tmp) / 'bench.db'}"
        create_user(db, "alice", PASSWORD, "admin")
        port = free_port()
        proc = subprocess.Popen([sys.executable, __file__, "--serve", db, str(port), str(hashes)])
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(200):
                try:
                    if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.05)
            return asyncio.run(burst(url, logins))
        finally:
            proc.terminate()
            proc.wait(10)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--serve", nargs=3, metavar=("DB", "PORT", "HASHES"))
    p.add_argument("--logins", type=int, default=76)
    p.add_argument("--hashes", default=f"{os.cpu_count() or 1},76")
    args = p.parse_args(argv)
    if args.serve:
        serve(args.serve[0], int(args.serve[1]), int(args.serve[2]))
        return 0
    print(f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, {args.logins} wrong logins at once")
    print("| max_concurrent_hashes | answers | burst answered in | /healthz p50 | /healthz max | probes |")
    print("| --- | --- | --- | --- | --- | --- |")
    for hashes in (int(h) for h in args.hashes.split(",")):
        r = run(args.logins, hashes)
        print(
            f"| {hashes} | {r['codes']} | {r['elapsed']:.2f} s | {r['health_p50_ms']:.1f} ms "
            f"| {r['health_max_ms']:.1f} ms | {r['health_n']} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
