#!/usr/bin/env python
"""Speed and memory benchmark: bulk import, match latency over HTTP, and each part of a match alone.

    python scripts/bench.py                    # 10,000 synthetic platforms
    python scripts/bench.py --platforms 2000 --queries 100

    python scripts/bench.py --platforms 100000 --fanout 0
    python scripts/bench.py --assignment       # programme assignment: 1,000 technologies x 10,000 platforms

Prints: the default embedder's own batch throughput on the import texts, the bulk import rate through the same
service the CLI and API use (and its ratio to the embedder's), the time a new `pilotmatch serve` process takes
from its snapshot to healthy, /v1/match latency p50/p99 over HTTP against that process (warm, sequential), its
resident memory, the same latencies for query embedding and for each index alone, and the approximate dense
index's recall@10 against exact search over the same vectors. Numbers only, no assertions: compare them with the
targets in docs/performance.md.

``--assignment`` measures the capacity-aware assignment instead (nothing else): the whole path (each technology's
candidates from the real matcher, then the solver) on the demo data, and the solver alone on 1,000 technologies
x 10,000 platforms whose candidates are synthetic, with score curves resampled from the demo's real ones.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

BENCH_ADMIN_KEY = "bench-admin-key-0123456789abcdef"
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import numpy as np  # noqa: E402
import psutil  # noqa: E402
from sqlmodel import select  # noqa: E402

from matcher import (  # noqa: E402
    PlatformCreate,
    Runtime,
    Settings,
    default_taxonomy,
)
from matcher.importing import import_platforms  # noqa: E402
from matcher.matching.text import is_mostly_english, lexical_tokens, normalize_text  # noqa: E402

ZH_PROCESS = [
    "中试放大",
    "工艺验证",
    "性能测试",
    "可靠性试验",
    "小批量试制",
    "连续化生产",
    "配方优化",
    "样机验证",
]
ZH_OBJECT = [
    "正极材料",
    "电解液",
    "碳纤维复合材料",
    "功率模块",
    "抗体药物",
    "发酵菌种",
    "减速器",
    "传感器芯片",
    "光伏组件",
    "催化剂",
    "高温合金",
    "液晶面板",
    "燃料电池电堆",
    "工业软件",
    "医用导管",
    "纺织纤维",
]
EN_PROCESS = [
    "pilot scale-up",
    "process verification",
    "performance testing",
    "reliability testing",
    "small-batch production",
    "continuous manufacturing",
    "formulation",
    "prototype validation",
]
EN_OBJECT = [
    "cathode materials",
    "electrolytes",
    "carbon-fibre composites",
    "power modules",
    "antibodies",
    "fermentation strains",
    "reducers",
    "sensor chips",
    "PV modules",
    "catalysts",
    "superalloys",
    "display panels",
    "fuel-cell stacks",
    "industrial software",
    "catheters",
    "textile fibres",
]
QUERIES = [
    "高镍三元正极材料烧结工艺放大，需要百吨级中试线验证",
    "We need pilot-scale fermentation to scale up an engineered yeast strain for bio-based nylon monomers.",
    "碳化硅MOSFET功率模块的可靠性试验与车规认证",
    "Durability testing of a PEM fuel-cell stack under automotive drive cycles",
    "人形机器人关节执行器寿命测试和小批量试制",
    "Process verification of a continuous-flow synthesis route for an API intermediate",
    "钙钛矿叠层光伏组件的稳定性测试和中试线验证",
    "Small-batch production of a flexible OLED encapsulation film",
]


def synthetic_platforms(n: int, seed: int = 7) -> list[PlatformCreate]:
    rnd = random.Random(seed)
    tax = default_taxonomy()
    directions = list(tax.directions.values())
    out = []
    for i in range(n):
        d = rnd.choice(directions)
        if rnd.random() < 0.75:
            objs = rnd.sample(ZH_OBJECT, 3)
            caps = (
                f"面向{d.name_zh}领域，提供{objs[0]}、{objs[1]}的{rnd.choice(ZH_PROCESS)}与{rnd.choice(ZH_PROCESS)}服务，"
                f"建有{rnd.randint(2, 12)}条中试线，年服务项目{rnd.randint(10, 200)}项。{d.description_zh}。"
                f"可开展{objs[2]}{rnd.choice(ZH_PROCESS)}，配套检测平台与工程化团队。"
            )
            name = f"{d.name_zh}{objs[0]}中试平台{i}"
        else:
            objs = rnd.sample(EN_OBJECT, 3)
            caps = (
                f"Pilot platform for {d.name_en.lower()}: {rnd.choice(EN_PROCESS)} and {rnd.choice(EN_PROCESS)} of "
                f"{objs[0]} and {objs[1]}, {rnd.randint(2, 12)} pilot lines, about {rnd.randint(10, 200)} projects "
                f"a year. {d.description_en}. We also run {rnd.choice(EN_PROCESS)} for {objs[2]}."
            )
            name = f"{d.name_en} {objs[0]} pilot platform {i}"
        out.append(
            PlatformCreate(
                external_id=f"bench-{i}",
                name=name,
                tier=rnd.choice(tax.tier_codes),
                area=d.area,
                directions=[d.code],
                service_types=rnd.sample(tax.service_type_codes, 2),
                capabilities=caps,
                province=rnd.choice(tax.province_codes),
                trl_min=rnd.randint(3, 5),
                trl_max=rnd.randint(6, 9),
                capacity=rnd.randint(0, 8),
            )
        )
    return out


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q / 100 * (len(values) - 1)))]


def timed(fn, repeat: int) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def fanout(deliveries: int) -> None:
    """Notifications created and delivered per second to a local receiver that answers 200."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from matcher import DeliveryWorker, TechnologyCreate, create_endpoint, create_technology

    class Ok(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", 0)))
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    per_tech = 20
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            database_url=f"sqlite:///{tmp}/fanout.db",
            index_dir=Path(tmp) / "indexes",
            admin_key=BENCH_ADMIN_KEY,
            webhook_allow_private=True,
            notify_min_score=0.0,
            notify_top_k=100,
        )
        rt = Runtime.open(settings)
        import_platforms(rt.db, rt.engine, rt.settings, synthetic_platforms(per_tech, seed=11))
        from sqlmodel import select

        from matcher.platforms.models import Platform

        with rt.session() as s:
            ids = [p.id for p in s.exec(select(Platform)).all()]
        for pid in ids:
            create_endpoint(rt.db, rt.settings, pid, url, None)
        t = time.perf_counter()
        for i in range(max(1, deliveries // per_tech)):
            create_technology(
                rt.db,
                rt.engine,
                rt.settings,
                TechnologyCreate(summary=f"{random.choice(QUERIES)} (variant {i})"),
            )
        created_s = time.perf_counter() - t
        from matcher.notifications.models import WebhookDelivery

        with rt.session() as s:
            total = len(s.exec(select(WebhookDelivery.id)).all())
        worker = DeliveryWorker(rt.db, rt.engine, rt.settings, rt.follower)
        t = time.perf_counter()
        sent = 0
        while sent < total:
            n = worker.run_once()
            if n == 0:
                break
            sent += n
        sent_s = time.perf_counter() - t
        rt.close()
    server.shutdown()
    print(
        f"fan-out: {total} notifications created in {created_s:.1f} s ({total / created_s:,.0f}/s, matching "
        f"included); {sent} delivered in {sent_s:.1f} s ({sent / sent_s:,.0f} deliveries/s, one worker)"
    )


def demo_assignment(k: int) -> list[list[float]]:
    """The whole path on the demo: every demo technology assigned through the service the API calls. Prints its
    time and objectives; returns each technology's real candidate scores, best first (the synthetic set's shape)."""
    from matcher import seed_demo
    from matcher.accounts.principal import Principal
    from matcher.programmes.candidates import technology_candidates
    from matcher.programmes.schemas import AssignmentRequest
    from matcher.programmes.service import run_assignment
    from matcher.technologies.models import Technology

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            database_url=f"sqlite:///{tmp}/demo.db",
            index_dir=Path(tmp) / "indexes",
            admin_key=BENCH_ADMIN_KEY,
        )
        rt = Runtime.open(settings)
        seed_demo(rt.db, rt.engine, rt.settings)
        with rt.session() as s:
            techs = list(s.exec(select(Technology).order_by(Technology.id)).all())
        body = AssignmentRequest(technology_ids=[t.id for t in techs], per_technology=k, min_score=0)
        run_assignment(rt.db, rt.engine, body, Principal("admin"))  # warm: first matches load lazy parts
        t = time.perf_counter()
        run = run_assignment(rt.db, rt.engine, body, Principal("admin"))
        total = time.perf_counter() - t
        t = time.perf_counter()
        curves = [
            sorted((c.score for c in technology_candidates(rt.db, rt.engine, x, k)), reverse=True)
            for x in techs
        ]
        candidates_s = time.perf_counter() - t
        platforms = rt.engine.count("platforms")
        rt.close()
    r = run.result
    pairs = sum(len(a["platform_ids"]) for a in r["assignments"])
    print(
        f"assignment, whole path on the demo ({len(techs)} technologies x {platforms} active platforms, k={k}): "
        f"{total:.2f} s ({candidates_s / len(techs) * 1000:.0f} ms per technology for its candidates); "
        f"{r['candidates']} candidate pairs, {pairs} assigned; objective {r['objective']:.3f} vs greedy "
        f"{r['greedy_objective']:.3f}"
    )
    return curves


def synthetic_assignment(curves: list[list[float]], technologies: int, platforms: int, k: int) -> None:
    """The solver alone at a large fair's scale. Platforms fall in 40 fields; a technology's candidates are drawn
    from one field, favouring its popular platforms (so slots run short where demand gathers), and scored with a
    real demo technology's curve by rank plus noise. Capacities 1-5. Seeded: the same set every run."""
    from matcher.programmes.candidates import candidate_limit
    from matcher.programmes.solver import Candidate, greedy, solve

    rnd = np.random.default_rng(17)
    fields = 40
    per_field = platforms // fields
    n = min(candidate_limit(k), per_field)
    popularity = 1 / np.arange(1, per_field + 1) ** 0.8
    popularity /= popularity.sum()
    capacities = {p: int(c) for p, c in enumerate(rnd.integers(1, 6, platforms))}
    candidates = []
    for t in range(technologies):
        field = int(rnd.integers(fields))
        chosen = rnd.choice(per_field, size=n, replace=False, p=popularity)
        curve = np.array((curves[int(rnd.integers(len(curves)))] + [0.0] * n)[:n])
        scores = np.sort(np.clip(curve + rnd.normal(0, 0.03, n), 0.0, 1.0))[::-1]
        candidates += [
            Candidate(t, field * per_field + int(p), round(float(sc), 6))
            for p, sc in zip(chosen, scores, strict=True)
        ]
    t0 = time.perf_counter()
    best = solve(candidates, k, capacities)
    solve_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    base = greedy(candidates, k, capacities)
    greedy_s = time.perf_counter() - t0
    short = technologies - sum(1 for pairs in best.by_technology().values() if len(pairs) == k)
    print(
        f"assignment, solver alone ({technologies:,} technologies x {platforms:,} platforms, k={k}, {n} candidates "
        f"each = {len(candidates):,} pairs, capacities 1-5): HiGHS {solve_s:.2f} s, objective {best.objective:.3f} "
        f"vs greedy {base.objective:.3f} ({(best.objective / base.objective - 1) * 100:+.2f}%, greedy "
        f"{greedy_s * 1000:.0f} ms); {len(best.pairs):,} pairs assigned, {short} technologies short of k"
    )


def serve(settings: Settings, folder: Path) -> tuple[subprocess.Popen[bytes], str, float]:
    """Start `pilotmatch serve` on the benchmark's database; returns (process, base URL, seconds to healthy)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = os.environ | {
        "PILOTMATCH_DATABASE_URL": settings.database_url,
        "PILOTMATCH_INDEX_DIR": str(settings.index_dir),
        "PILOTMATCH_ADMIN_KEY": BENCH_ADMIN_KEY,
        "PILOTMATCH_EMBEDDING_MODEL": settings.embedding_model,
        "PILOTMATCH_LOG_LEVEL": "INFO",
        # Sequential timing from one address, hundreds a minute: the rate limit would answer most with 429.
        "PILOTMATCH_MATCH_RATE_LIMIT": "0",
    }
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(folder / "serve.log").open("wb"),
    )
    base = f"http://127.0.0.1:{port}"
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"serve exited; see {folder / 'serve.log'}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return proc, base, time.perf_counter() - started
        except httpx.TransportError:
            time.sleep(0.05)


def recall_at_10(settings: Settings, qvecs: np.ndarray) -> tuple[float, bool, list[float]]:
    """Item-level recall@10 of the saved platform index against exact search over the same vectors, and the
    saved index's own search times."""
    from matcher.matching.dense import PASSAGE_SLOTS, DenseIndex, all_vectors
    from matcher.matching.snapshots import IndexManifest

    manifest = IndexManifest.read(Path(settings.index_dir) / "platforms.manifest.json")
    assert manifest is not None
    index = DenseIndex.load(
        Path(settings.index_dir) / f"platforms.{manifest.generation}.faiss",
        manifest.dim,
        settings.dense_nprobe,
    )
    ids, vectors = all_vectors(index._index, manifest.dim)
    items = ids // PASSAGE_SLOTS
    recalls, search_ms = [], []
    for q in qvecs:
        scores = vectors @ q
        exact: list[int] = []
        for r in np.argsort(-scores)[:200].tolist():
            if int(items[r]) not in exact:
                exact.append(int(items[r]))
            if len(exact) == 10:
                break
        t = time.perf_counter()
        found = {h.item_id for h in index.search(q, 10)}
        search_ms.append((time.perf_counter() - t) * 1000)
        recalls.append(len(found & set(exact)) / 10)
    return float(np.mean(recalls)), index.approximate, search_ms


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--platforms", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=300, help="Sequential HTTP matches to time.")
    parser.add_argument(
        "--startup-log", action="store_true", help="Print the new API process's first log lines (start-up)."
    )
    parser.add_argument("--model", default=None, help="Embedding model (default: the configured one).")
    parser.add_argument(
        "--floor-sample", type=int, default=5000, help="Profiles the embedder-alone floor is measured on."
    )
    parser.add_argument(
        "--fanout", type=int, default=1000, help="Webhook deliveries for the fan-out figure (0: skip)."
    )
    parser.add_argument("--only-fanout", action="store_true", help="Run just the fan-out figure.")
    parser.add_argument(
        "--assignment",
        action="store_true",
        help="Run just the programme assignment figures (with --technologies, --platforms, --per-technology).",
    )
    parser.add_argument(
        "--technologies", type=int, default=1000, help="Technologies in the assignment figure."
    )
    parser.add_argument("--per-technology", type=int, default=3, help="k of the assignment figure.")
    args = parser.parse_args(argv)
    if args.assignment:
        curves = demo_assignment(args.per_technology)
        synthetic_assignment(curves, args.technologies, args.platforms, args.per_technology)
        return 0
    if args.only_fanout:
        fanout(args.fanout)
        return 0

    items = synthetic_platforms(args.platforms)
    with tempfile.TemporaryDirectory() as tmp:
        overrides = {"embedding_model": args.model} if args.model else {}
        settings = Settings(
            database_url=f"sqlite:///{tmp}/bench.db",
            index_dir=Path(tmp) / "indexes",
            admin_key=BENCH_ADMIN_KEY,
            **overrides,
        )
        rt = Runtime.open(settings)
        engine = rt.engine
        print(f"models: {engine.model_key} (dim {engine.vectors.dim}), platforms: {len(items)}")

        # The floor: the embedders alone (the multilingual one on every passage, the English one on each passage
        # or its gloss, as an import runs them) on exactly the passages an import embeds (a sample of them).
        from matcher.matching.documents import platform_doc
        from matcher.platforms.models import Platform

        sample = items[: args.floor_sample]
        chars = settings.passage_chars
        docs = [
            platform_doc(Platform(id=i + 1, **p.model_dump()), chars, engine.model_key)
            for i, p in enumerate(sample)
        ]
        passages = [p for d in docs for p in d.passages]
        t = time.perf_counter()
        engine.vectors.platform_docs(docs)
        embed_seconds = time.perf_counter() - t
        embed_rate = len(sample) / embed_seconds
        print(
            f"embedder alone: {embed_rate:,.0f} profiles/s ({len(passages) / embed_seconds:,.0f} passages/s, "
            f"on {len(sample):,} profiles)"
        )

        t = time.perf_counter()
        import_platforms(rt.db, rt.engine, rt.settings, items, batch=1000)
        import_seconds = time.perf_counter() - t
        import_rate = len(items) / import_seconds
        print(
            f"bulk import: {import_rate:,.0f} profiles/s ({import_seconds:.1f} s), "
            f"{import_rate / embed_rate:.0%} of the embedder's own throughput"
        )

        queries = [normalize_text(q) for q in QUERIES]
        qvecs = engine.vectors.embedder.embed_queries(queries)
        engine.corpora.platforms.lexical.search(
            lexical_tokens(queries[0]), 10
        )  # builds BM25, as the first match would
        embed_ms = timed(lambda: engine.vectors.embedder.embed_queries([random.choice(queries)]), 200)
        english_queries = [q for q in queries if is_mostly_english(q)]
        english_ms = (
            timed(lambda: engine.vectors.english.embed_queries([random.choice(english_queries)]), 200)  # type: ignore[union-attr]
            if engine.vectors.english is not None
            else []
        )
        k = settings.candidate_pool
        exact_ms = timed(lambda: engine.corpora.platforms.dense.search(random.choice(qvecs), k), 200)
        lex_ms = timed(
            lambda: engine.corpora.platforms.lexical.search(lexical_tokens(random.choice(queries)), k), 200
        )
        translated_ms = timed(
            lambda: engine.corpora.platforms.lexical.search(
                engine.lexicon.translate(lexical_tokens(random.choice(queries))), k
            ),
            200,
        )
        passages_total = engine.corpora.platforms.dense.passage_count
        # Recall is measured on queries like the corpus: the benchmark queries plus profile texts.
        probe = [normalize_text(p.capabilities[:200]) for p in random.Random(3).sample(items, 192)]
        probe_vecs = np.vstack([qvecs, engine.vectors.embedder.embed_queries(probe)])
        t = time.perf_counter()
        rt.close()  # saves the snapshot; a large corpus switches to the approximate index here
        save_s = time.perf_counter() - t

        # A fresh API process starts from the snapshot; time it, then match through it over HTTP. It starts
        # twice: the first start may read model and library files back from disk (a long import leaves them
        # unread for many minutes, and a host that pages out idle file cache, as this one's DAMON does, evicts
        # them); the second start is the one a restart on a busy server sees.
        folder = Path(tmp)
        first, _, first_startup_s = serve(settings, folder)
        first.terminate()
        first.wait(timeout=30)
        first_log = (folder / "serve.log").read_text()
        proc, base, startup_s = serve(settings, folder)
        try:
            with httpx.Client(base_url=base, timeout=30) as client:
                for q in queries:
                    client.post("/v1/match", json={"text": q})  # warm
                http_ms = timed(
                    lambda: client.post("/v1/match", json={"text": random.choice(queries)}), args.queries
                )
                # Per query language: English queries also run the English model (see docs/matching.md).
                by_language = {
                    name: timed(
                        lambda group=group: client.post("/v1/match", json={"text": random.choice(group)}),
                        args.queries // 2,
                    )
                    for name, group in (
                        ("Chinese", [q for q in queries if not is_mostly_english(q)]),
                        ("English", english_queries),
                    )
                }
            rss = psutil.Process(proc.pid).memory_info().rss / 2**20
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        log_text = (folder / "serve.log").read_text()
        loaded = re.search(r"event=index_loaded seconds=([\d.]+)", log_text)
        models = re.search(r"event=models_loaded seconds=([\d.]+)", log_text)
        if args.startup_log:
            print("first start-up log:\n  " + "\n  ".join(first_log.splitlines()[:4]))
            print("second start-up log:\n  " + "\n  ".join(log_text.splitlines()[:40]))
        recall, approximate, ann_ms = recall_at_10(settings, probe_vecs)

    def line(name: str, ms: list[float]) -> None:
        print(f"{name:<32} p50 {statistics.median(ms):7.2f} ms   p99 {pct(ms, 99):7.2f} ms")

    print(f"snapshot save at shutdown: {save_s:.1f} s ({passages_total:,} passages)")
    print(
        f"start-up of a new API process from the snapshot: {startup_s:.1f} s to healthy "
        f"(models {models.group(1) if models else '?'} s, indexes {loaded.group(1) if loaded else '?'} s; the "
        f"rest is Python); the first start after the import: {first_startup_s:.1f} s"
    )
    line("/v1/match over HTTP", http_ms)
    for name, ms in by_language.items():
        line(f"  {name} queries only", ms)
    line("query embedding alone", embed_ms)
    if english_ms:
        line("English query embedding alone", english_ms)
    line("dense search alone (exact)", exact_ms)
    line(f"dense search alone ({'IVF' if approximate else 'exact'})", ann_ms)
    line("lexical search alone", lex_ms)
    line("translated lexical search alone", translated_ms)
    print(
        f"dense index after restart: {'approximate (IVF)' if approximate else 'exact'}, "
        f"recall@10 against exact search {recall:.3f} on {len(probe_vecs)} queries"
    )
    print(f"memory of the API process (RSS after the matches): {rss:,.0f} MiB")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory of this benchmark process (import included): {peak:,.0f} MiB")
    if args.fanout:
        fanout(args.fanout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
