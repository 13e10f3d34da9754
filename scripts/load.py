#!/usr/bin/env python
"""Load tests of the API over real sockets on 127.0.0.1. Two modes:

``--mode mixed`` (the default): two API processes on PostgreSQL, concurrent clients mixing matches and writes,
then a check that no write was lost and every write is visible through both processes.

    python scripts/load.py                              # 16 clients, 60 s, 2,000 synthetic platforms + demo data
    python scripts/load.py --clients 32 --seconds 120 --platforms 10000
    python scripts/load.py --database-url postgresql+psycopg://user@host/db   # an existing database

Without ``--database-url`` a throw-away PostgreSQL cluster is started (Debian's server binaries; fsync on). Two
``pilotmatch serve`` processes share the database (and an index folder) with the in-process worker off, one
``pilotmatch worker`` delivers notifications, and each client sends 90% ``POST /v1/match`` and 10% writes
(creates, edits, deletes of platforms), alternating between the two processes like a round-robin balancer.
Every write carries a unique marker word; at the end each surviving platform must be found by its marker through
both processes (and its old marker no longer), and each deleted one must be gone. Prints throughput, latency
p50/p99 per kind, errors, lost writes. The match rate limit is off here (every client comes from 127.0.0.1).

``--mode long-text``: does a flood of long texts starve short ones? One ``pilotmatch serve`` on SQLite with the
demo data and the service's default admission settings. Short clients send a one-word match every
``--short-interval`` seconds (within the anonymous rate limit): 10 s to warm up, alone for
``--baseline-seconds``, then while ``--long-clients`` clients send 20,000-character texts (the longest a match accepts) back to back, trying again
0.2 s after a refusal (they ignore ``Retry-After``, as a careless or hostile client would). Every client has its
own loopback address (127.0.1.x long, 127.0.2.x short), so each has its own rate limit as distinct hosts would.
Prints the one-word match's p50/p99 alone and under the load, and how many requests of each kind were answered
200, 429 and 503.

    python scripts/load.py --mode long-text                         # 20 long clients, 4 short, 60 s
    # admission effectively off, to compare:
    python scripts/load.py --mode long-text --server-env PILOTMATCH_MATCH_CONCURRENCY=64 --server-env PILOTMATCH_MATCH_QUEUE=10000 \\
        --server-env PILOTMATCH_MATCH_RATE_LIMIT=0
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
    parser.add_argument("--mode", choices=["mixed", "long-text"], default="mixed")
    parser.add_argument("--clients", type=int, default=16, help="mixed: concurrent clients.")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument(
        "--platforms",
        type=int,
        default=None,
        help="Synthetic platforms loaded before the run (mixed: 2,000; long-text: none, the demo data only).",
    )
    parser.add_argument(
        "--database-url", default=None, help="mixed: use this PostgreSQL database instead of a new one."
    )
    parser.add_argument("--long-clients", type=int, default=20, help="long-text: clients sending long texts.")
    parser.add_argument("--short-clients", type=int, default=4, help="long-text: clients sending one word.")
    parser.add_argument(
        "--short-interval",
        type=float,
        default=0.6,
        help="long-text: seconds between one short client's matches (0.6: 100 a minute, under the default limit).",
    )
    parser.add_argument(
        "--baseline-seconds", type=float, default=15, help="long-text: short clients alone first."
    )
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="long-text: a setting for the API process (repeatable), e.g. PILOTMATCH_MATCH_CONCURRENCY=4.",
    )
    args = parser.parse_args(argv)
    if args.mode == "long-text":
        return long_text(args)
    args.platforms = 2000 if args.platforms is None else args.platforms
    return mixed(args)


def mixed(args: argparse.Namespace) -> int:
    """Matches and writes through two processes on PostgreSQL; every write must be visible through both."""
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
            # Every client comes from 127.0.0.1: the per-address match limit would refuse most of them.
            "PILOTMATCH_MATCH_RATE_LIMIT": "0",
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


#: One-word matches the short clients send (what a person types into the search box).
ONE_WORDS = ["电解槽", "光伏", "hydrogen", "battery", "疫苗", "减速器", "fermentation", "碳纤维"]
#: The longest text a match accepts (``MatchRequest.text``).
LONG_CHARS = 20_000


def long_text_body(rnd: random.Random) -> dict:
    """A 20,000-character description made of the benchmark queries, in a different order each time."""
    parts: list[str] = []
    while sum(len(p) + 1 for p in parts) < LONG_CHARS:
        parts.append(rnd.choice(QUERIES))
    return {"text": " ".join(parts)[:LONG_CHARS], "limit": 10}


@dataclass
class Counts:
    """Answers one kind of client got, by status, and the latency of the 200s (ms)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    status: dict[int | str, int] = field(default_factory=dict)
    ok_ms: list[float] = field(default_factory=list)

    def add(self, status: int | str, ms: float | None = None) -> None:
        with self.lock:
            self.status[status] = self.status.get(status, 0) + 1
            if status == 200 and ms is not None:
                self.ok_ms.append(ms)

    def line(self) -> str:
        other = {k: v for k, v in self.status.items() if k not in (200, 429, 503)}
        text = f"200: {self.status.get(200, 0):,}  429: {self.status.get(429, 0):,}  503: {self.status.get(503, 0):,}"
        return text + (f"  other: {other}" if other else "")


def loopback_client(address: str) -> httpx.Client:
    """A client whose connections come from ``address`` (any 127.x.y.z is this machine's loopback), so the
    server sees a distinct host and applies its own rate limit to it."""
    return httpx.Client(timeout=120, transport=httpx.HTTPTransport(local_address=address))


def long_client(base: str, address: str, until: float, counts: Counts, seed: int) -> None:
    rnd = random.Random(seed)
    with loopback_client(address) as http:
        while time.monotonic() < until:
            started = time.perf_counter()
            try:
                r = http.post(f"{base}/v1/match", json=long_text_body(rnd))
            except httpx.HTTPError as exc:
                counts.add(type(exc).__name__)
                continue
            counts.add(r.status_code, (time.perf_counter() - started) * 1000)
            if r.status_code in (429, 503):
                time.sleep(0.2)


def short_client(base: str, address: str, until: float, interval: float, counts: Counts, seed: int) -> None:
    rnd = random.Random(seed)
    with loopback_client(address) as http:
        next_at = time.monotonic() + rnd.random() * interval  # spread the clients' phases
        while True:
            time.sleep(max(0.0, next_at - time.monotonic()))
            if time.monotonic() >= until:
                return
            next_at += interval
            started = time.perf_counter()
            try:
                r = http.post(f"{base}/v1/match", json={"text": rnd.choice(ONE_WORDS), "limit": 10})
            except httpx.HTTPError as exc:
                counts.add(type(exc).__name__)
                continue
            counts.add(r.status_code, (time.perf_counter() - started) * 1000)


def run_short(
    base: str, args: argparse.Namespace, until: float, counts: Counts, network: str = "127.0.2"
) -> list[threading.Thread]:
    return [
        threading.Thread(
            target=short_client,
            args=(base, f"{network}.{i + 1}", until, args.short_interval, counts, 100 + i),
        )
        for i in range(args.short_clients)
    ]


def run_all(threads: list[threading.Thread]) -> float:
    """Start the threads, wait for all of them, and return the seconds that took."""
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - started


def long_text(args: argparse.Namespace) -> int:
    """One-word matches alone, then beside clients flooding the service with 20,000-character texts."""
    server_env = dict(item.split("=", 1) for item in args.server_env)
    with tempfile.TemporaryDirectory(prefix="pilotmatch-load-") as tmp:
        folder = Path(tmp)
        settings = Settings(
            database_url=f"sqlite:///{folder / 'pilotmatch.db'}",
            index_dir=folder / "indexes",
            admin_key=ADMIN,
        )
        rt = Runtime.open(settings)
        seed_demo(rt)
        if args.platforms:
            import_platforms(rt, synthetic_platforms(args.platforms), batch=1000)
        platforms = rt.engine.count("platforms")
        rt.close()
        env = os.environ | {
            "PILOTMATCH_DATABASE_URL": settings.database_url,
            "PILOTMATCH_INDEX_DIR": str(settings.index_dir),
            "PILOTMATCH_ADMIN_KEY": ADMIN,
            "PILOTMATCH_RUN_WORKER_IN_PROCESS": "false",
            **server_env,
        }
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        proc = start(["serve", "--port", str(port)], env, folder / "serve.log")
        try:
            wait_healthy(base, proc)
            with httpx.Client(timeout=120) as http:  # warm both models and the indexes
                for q in ONE_WORDS:
                    http.post(f"{base}/v1/match", json={"text": q})
                http.post(f"{base}/v1/match", json=long_text_body(random.Random(0)))
                admission = http.get(f"{base}/readyz").json().get("matching", {})
            # A new process pages in code and model files for a while: a first round at the measured pace is
            # discarded (from other addresses, so the measured clients start with full buckets).
            run_all(run_short(base, args, time.monotonic() + 10, Counts(), network="127.0.3"))
            alone = Counts()
            run_all(run_short(base, args, time.monotonic() + args.baseline_seconds, alone))
            loaded, long = Counts(), Counts()
            until = time.monotonic() + args.seconds
            elapsed = run_all(
                run_short(base, args, until, loaded)
                + [
                    threading.Thread(target=long_client, args=(base, f"127.0.1.{i + 1}", until, long, i))
                    for i in range(args.long_clients)
                ]
            )
        finally:
            proc.terminate()
            proc.wait(timeout=30)

    def latency(c: Counts) -> str:
        if not c.ok_ms:
            return "no answers"
        return (
            f"n {len(c.ok_ms):5,}   p50 {statistics.median(c.ok_ms):7.1f} ms   p99 {pct(c.ok_ms, 99):7.1f} ms"
            f"   max {max(c.ok_ms):7.1f} ms"
        )

    gate = (
        f"concurrency {admission.get('concurrency')}, queue {admission.get('queue')}"
        if admission
        else "not reported"
    )
    print(
        f"long-text load: {args.long_clients} clients x {LONG_CHARS:,}-character texts, {args.short_clients} "
        f"clients x one word every {args.short_interval} s; {args.seconds:.0f} s of load (the last queued answer "
        f"after {elapsed:.0f} s); 1 API process on SQLite, "
        f"{platforms:,} platforms; match gate: {gate}"
        + (f"; {' '.join(args.server_env)}" if args.server_env else "")
    )
    print(f"  one word, alone        {latency(alone)}")
    print(f"  one word, under load   {latency(loaded)}")
    print(f"  one word answers       {loaded.line()}")
    print(f"  long text answers      {long.line()}   (200s: {latency(long)})")
    return 1 if any(not isinstance(k, int) for k in {**loaded.status, **long.status}) else 0


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if __name__ == "__main__":
    sys.exit(main())
