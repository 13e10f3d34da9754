#!/usr/bin/env python
"""Load test: two API processes on PostgreSQL, concurrent clients mixing matches and writes, then a check that
no write was lost and every write is visible through both processes.

    python scripts/load.py                              # 16 clients, 60 s, 2,000 synthetic platforms + demo data
    python scripts/load.py --clients 32 --seconds 120 --platforms 10000
    python scripts/load.py --database-url postgresql+psycopg://user@host/db   # an existing database

Without ``--database-url`` a throw-away PostgreSQL cluster is started (Debian's server binaries; fsync on). Two
``pilotmatch serve`` processes share the database (and an index folder) with the in-process worker off, one
``pilotmatch worker`` delivers notifications, and each client sends 90% ``POST /v1/match`` and 10% writes
(creates, edits, deletes of platforms), alternating between the two processes like a round-robin balancer.
Every write carries a unique marker word; at the end each surviving platform must be found by its marker through
both processes (and its old marker no longer), and each deleted one must be gone. Prints throughput, latency
p50/p99 per kind, errors, lost writes.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from matcher.importing import import_platforms, seed_demo  # noqa: E402
from matcher.runtime import Runtime  # noqa: E402
from matcher.settings import Settings  # noqa: E402
from scripts.bench import QUERIES, pct, synthetic_platforms  # noqa: E402
from scripts.pg_cluster import create_database, throwaway_cluster  # noqa: E402

ADMIN = "load-admin-key-0123456789"
AUTH = {"Authorization": f"Bearer {ADMIN}"}


@dataclass
class Tally:
    """What the clients saw; shared by every client thread under ``lock``."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    latency: dict[str, list[float]] = field(default_factory=lambda: {"match": [], "write": []})
    errors: list[str] = field(default_factory=list)
    #: platform id -> its current marker (None once deleted)
    platforms: dict[int, str | None] = field(default_factory=dict)
    #: markers a platform had before an edit: they must no longer find it
    old_markers: dict[str, int] = field(default_factory=dict)


def marker() -> str:
    return "lt" + secrets.token_hex(5)


def profile(mark: str) -> dict:
    return {
        "name": f"Load-test pilot line {mark}",
        "tier": "reserve",
        "area": "emerging_future",
        "capabilities": f"Pilot verification of {mark} specimens: coating, curing and ageing tests on a small line.",
    }


def client_loop(bases: list[str], until: float, tally: Tally, seed: int) -> None:
    rnd = random.Random(seed)
    turn = seed
    with httpx.Client(timeout=30) as http:
        while time.monotonic() < until:
            base = bases[turn % len(bases)]
            turn += 1
            started = time.perf_counter()
            try:
                if rnd.random() < 0.9:
                    kind = "match"
                    r = http.post(f"{base}/v1/match", json={"text": rnd.choice(QUERIES), "limit": 10})
                    ok = r.status_code == 200
                else:
                    kind = "write"
                    r, ok = write(http, base, rnd, tally)
            except httpx.HTTPError as exc:
                with tally.lock:
                    tally.errors.append(f"{type(exc).__name__}: {exc}")
                continue
            elapsed = (time.perf_counter() - started) * 1000
            with tally.lock:
                tally.latency[kind].append(elapsed)
                if not ok:
                    tally.errors.append(
                        f"{r.request.method} {r.request.url.path} -> {r.status_code} {r.text[:200]}"
                    )


def write(http: httpx.Client, base: str, rnd: random.Random, tally: Tally) -> tuple[httpx.Response, bool]:
    with tally.lock:
        live = [pid for pid, m in tally.platforms.items() if m is not None]
    roll = rnd.random()
    if roll < 0.6 or len(live) < 5:
        mark = marker()
        r = http.post(f"{base}/v1/platforms", json=profile(mark), headers=AUTH)
        if r.status_code == 201:
            with tally.lock:
                tally.platforms[r.json()["id"]] = mark
        return r, r.status_code == 201
    pid = rnd.choice(live)
    if roll < 0.9:
        mark = marker()
        new = profile(mark)  # name and text both carry the marker
        body = {"name": new["name"], "capabilities": new["capabilities"]}
        r = http.patch(f"{base}/v1/platforms/{pid}", json=body, headers=AUTH)
        if r.status_code == 200:
            with tally.lock:
                old = tally.platforms.get(pid)
                if old is not None:  # another client may have deleted it meanwhile
                    tally.old_markers[old] = pid
                    tally.platforms[pid] = mark
        return r, r.status_code in (200, 404)
    r = http.delete(f"{base}/v1/platforms/{pid}", headers=AUTH)
    if r.status_code == 204:
        with tally.lock:
            tally.platforms[pid] = None
    return r, r.status_code in (204, 404)


def found(http: httpx.Client, base: str, mark: str) -> list[int]:
    """Platforms whose profile contains the marker word (the lexical evidence names it)."""
    r = http.post(f"{base}/v1/match", json={"text": f"{mark} specimens", "limit": 10})
    r.raise_for_status()
    return [m["platform_id"] for m in r.json()["matches"] if mark in m["evidence"]["terms"]]


def verify(bases: list[str], tally: Tally) -> list[str]:
    """Every surviving platform is found by its marker through every process; edited and deleted ones are not
    found by what they no longer say."""
    problems = []
    with httpx.Client(timeout=30) as http:
        for base in bases:
            for pid, mark in tally.platforms.items():
                if mark is None:
                    if http.get(f"{base}/v1/platforms/{pid}").status_code != 404:
                        problems.append(f"{base}: deleted platform {pid} still readable")
                    continue
                if pid not in found(http, base, mark):
                    problems.append(f"{base}: platform {pid} not matchable by its marker {mark}")
            for mark, pid in tally.old_markers.items():
                if tally.platforms.get(pid) is not None and pid in found(http, base, mark):
                    name = http.get(f"{base}/v1/platforms/{pid}").json().get("name")
                    problems.append(f"{base}: platform {pid} ({name}) still found by its old marker {mark}")
    return problems


def start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "api.cli", *cmd],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )


def wait_healthy(base: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{base} exited with {proc.returncode}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit(f"{base} did not become healthy")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument(
        "--platforms", type=int, default=2000, help="Synthetic platforms loaded before the run."
    )
    parser.add_argument(
        "--database-url", default=None, help="Use this PostgreSQL database instead of a new one."
    )
    args = parser.parse_args(argv)

    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="pilotmatch-load-")))
        url = args.database_url
        if url is None:
            dsn = stack.enter_context(throwaway_cluster(durable=True))
            url = create_database(dsn, "load")
        settings = Settings(database_url=url, index_dir=folder / "indexes", admin_key=ADMIN)
        rt = Runtime.open(settings)
        seed_demo(rt)
        import_platforms(rt, synthetic_platforms(args.platforms), batch=1000)
        rt.close()  # the snapshot both processes start from

        env = os.environ | {
            "PILOTMATCH_DATABASE_URL": url,
            "PILOTMATCH_INDEX_DIR": str(settings.index_dir),
            "PILOTMATCH_ADMIN_KEY": ADMIN,
            "PILOTMATCH_RUN_WORKER_IN_PROCESS": "false",
            # Three processes on this machine's cores: one compute thread each (see limit_compute_threads).
            "PILOTMATCH_EMBEDDING_THREADS": os.environ.get("PILOTMATCH_EMBEDDING_THREADS", "1"),
        }
        ports = [free_port(), free_port()]
        bases = [f"http://127.0.0.1:{p}" for p in ports]
        procs = [start(["serve", "--port", str(p)], env, folder / f"serve-{p}.log") for p in ports]
        procs.append(start(["worker"], env, folder / "worker.log"))
        try:
            for base, proc in zip(bases, procs, strict=False):
                wait_healthy(base, proc)
            tally = Tally()
            until = time.monotonic() + args.seconds
            threads = [
                threading.Thread(target=client_loop, args=(bases, until, tally, i))
                for i in range(args.clients)
            ]
            started = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.perf_counter() - started
            time.sleep(1.0)  # the sync target: every write visible everywhere within a second
            problems = verify(bases, tally)
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(timeout=30)

    total = sum(len(v) for v in tally.latency.values())
    writes = tally.platforms
    print(f"{args.clients} clients, {elapsed:.0f} s, 2 API processes + 1 worker on PostgreSQL")
    print(f"requests: {total:,} ({total / elapsed:,.0f}/s), errors: {len(tally.errors)}")
    for kind, values in tally.latency.items():
        if values:
            print(
                f"  {kind:<6} {len(values):6,}   p50 {statistics.median(values):7.1f} ms   p99 {pct(values, 99):7.1f} ms"
            )
    print(
        f"platforms written: {len(writes):,} created, {len(tally.old_markers):,} edited, "
        f"{sum(m is None for m in writes.values()):,} deleted; lost or invisible writes: {len(problems)}"
    )
    for line in tally.errors[:5] + problems[:10]:
        print("  ", line)
    return 1 if tally.errors or problems else 0


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if __name__ == "__main__":
    sys.exit(main())
