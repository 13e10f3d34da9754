#!/usr/bin/env python
"""Evaluate match quality on the labelled dev set (``eval/dev/*.jsonl``) against the demo platforms.

Prints one table: rows are channels (lexical alone, each dense model alone, fusion, full ranking), columns are
NDCG@10, MRR, Recall@10 and Hit@1, overall and per slice (zh→zh, en→en, en→zh, zh→en, paraphrase). Exits 1 if
the full ranking is worse (NDCG@10) than the best single channel on any slice.

    python scripts/evaluate.py                      # default model plus the other built-ins
    python scripts/evaluate.py --models use-multilingual-v3
    python scripts/evaluate.py --tune               # grid-search the fusion settings on the dev set

Relevance: a platform is relevant with grade >= 1; NDCG uses gains 2^grade - 1. The slice of a query is its
language and the dominant language of its grade-2 platforms (a tie counts as the query's language); paraphrase
items form their own slice. The "short" slice asks each item's title alone (a few words, as typed into a search
box) with the same labels; it is not part of "overall".

Below the table, the full ranking's NDCG@10 per slice comes with a 95% bootstrap interval over items: with 21 to
150 queries a slice's mean moves by a few hundredths with the draw of items, so a difference smaller than the
interval's half-width is not evidence that one ranking is better.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gaps import Asked, gap_metrics, print_gap_table, print_tradeoff, unmet_cut  # noqa: E402

from matcher import (  # noqa: E402
    MatchQuery,
    NeedFacts,
    Runtime,
    Settings,
)
from matcher.importing import demo_platforms, import_platforms  # noqa: E402
from matcher.matching.calibration import load_calibration  # noqa: E402
from matcher.matching.fusion import Fusion, LanguageAwareFusion, make_fusion  # noqa: E402
from matcher.matching.ranking import Ranker  # noqa: E402
from matcher.matching.text import language_mix, normalize_text  # noqa: E402
from matcher.settings import FusionSettings, RankWeights  # noqa: E402

SLICES = ("overall", "zh→zh", "en→en", "en→zh", "zh→en", "paraphrase", "short")
METRICS = ("ndcg@10", "mrr", "recall@10", "hit@1")


@dataclass(frozen=True)
class DevItem:
    id: str
    text: str
    need: NeedFacts
    relevant: dict[str, int]
    slices: tuple[str, ...]


def _lines(folder: Path) -> list[dict]:
    return [
        json.loads(line)
        for path in sorted(folder.glob("*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


def _need(raw: dict) -> NeedFacts:
    return NeedFacts(
        directions=tuple(raw.get("directions") or ()),
        trl=raw.get("trl"),
        service_types=tuple(raw.get("wanted_service_types") or ()),
    )


def _text(raw: dict) -> str:
    """As the service reads a summary: full-width forms to ASCII, traditional to simplified script."""
    return normalize_text("\n".join(x for x in (raw.get("title"), raw["summary"]) if x))


def load_no_fit_set(folder: Path) -> list[DevItem]:
    """The written no-fit needs (``eval/nofit``): no demo platform can pilot them. Each is asked as its summary
    (slices overall and its language) and as its title alone (short)."""
    items = []
    for raw in _lines(folder):
        text = _text(raw)
        items.append(DevItem(raw["id"], text, _need(raw), {}, ("overall", language_mix(text).dominant)))
        if raw.get("title"):
            items.append(
                DevItem(raw["id"] + ":title", normalize_text(raw["title"]), _need(raw), {}, ("short",))
            )
    return items


def load_dev_set(folder: Path, platform_lang: dict[str, str]) -> list[DevItem]:
    items = []
    for raw in _lines(folder):
        text = _text(raw)
        qlang = language_mix(text).dominant
        ideal = [p for p, g in raw["relevant"].items() if g == 2]
        langs = [platform_lang[p] for p in ideal if p in platform_lang]
        # A tie (one Chinese and one English ideal platform) is not a cross-language need: it counts in the
        # query's own language. (A plain max over a set broke ties by hash order, so 12 items moved between
        # slices from run to run.)
        plang = (
            max(sorted(set(langs)), key=lambda lang: (langs.count(lang), lang == qlang)) if langs else qlang
        )
        slices = ["overall", f"{qlang}→{plang}"]
        if raw.get("paraphrase"):
            slices.append("paraphrase")
        need = _need(raw)
        items.append(DevItem(raw["id"], text, need, raw["relevant"], tuple(slices)))
        if raw.get("title"):
            # The same need typed as a short phrase (as people do in a search box): its own slice.
            title = normalize_text(raw["title"])
            items.append(DevItem(raw["id"] + ":title", title, need, raw["relevant"], ("short",)))
    return items


def metrics(ranked: list[str], relevant: dict[str, int]) -> dict[str, float]:
    gains = [2 ** relevant.get(p, 0) - 1 for p in ranked[:10]]
    dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains))
    ideal = sorted((2**g - 1 for g in relevant.values()), reverse=True)[:10]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    first = next((i for i, p in enumerate(ranked) if relevant.get(p, 0) > 0), None)
    hits = sum(1 for p in ranked[:10] if relevant.get(p, 0) > 0)
    return {
        "ndcg@10": dcg / idcg if idcg else 0.0,
        "mrr": 1.0 / (first + 1) if first is not None else 0.0,
        "recall@10": hits / len(relevant) if relevant else 0.0,
        "hit@1": 1.0 if ranked and relevant.get(ranked[0], 0) > 0 else 0.0,
    }


def aggregate(per_item: list[tuple[DevItem, dict[str, float]]]) -> dict[str, dict[str, float]]:
    sums: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    counts: dict[str, int] = defaultdict(int)
    for item, m in per_item:
        for s in item.slices:
            counts[s] += 1
            for k, v in m.items():
                sums[s][k] += v
    return {s: {k: sums[s][k] / counts[s] for k in METRICS} | {"n": counts[s]} for s in SLICES if counts[s]}


def bootstrap_interval(
    values: list[float], rounds: int = 2000, level: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of per-item ``values`` (items resampled with replacement).

    The seed is fixed so a rerun prints the same interval; ``rounds`` = 2000 puts the interval's ends within about
    0.002 of their limit.
    """
    if not values:
        return (math.nan, math.nan)
    v = np.asarray(values, dtype=np.float64)
    means = v[np.random.default_rng(seed).integers(0, len(v), size=(rounds, len(v)))].mean(axis=1)
    tail = (1.0 - level) / 2.0
    lo, hi = np.quantile(means, [tail, 1.0 - tail])
    return float(lo), float(hi)


def intervals(per_item: list[tuple[DevItem, dict[str, float]]], metric: str = "ndcg@10") -> dict[str, tuple]:
    """Each slice's bootstrap interval of ``metric``."""
    by_slice: dict[str, list[float]] = defaultdict(list)
    for item, m in per_item:
        for s in item.slices:
            by_slice[s].append(m[metric])
    return {s: bootstrap_interval(by_slice[s]) for s in SLICES if by_slice[s]}


class Evaluator:
    """A runtime over the demo platforms for one embedding model, able to rank with any fusion/weights."""

    def __init__(self, model: str, workdir: Path, *, as_service: bool = False) -> None:
        """``as_service`` runs as the service does: with the English channel (``Settings.english_model``) and
        pseudo-relevance feedback (``Settings.expansion_weight``). Without it, a model is read alone, as it is:
        the single-model rows compare models, not what the service builds on them."""
        service = Settings()
        settings = Settings(
            database_url=f"sqlite:///{workdir / model.replace('/', '_')}.db",
            index_dir=workdir / f"idx-{model.replace('/', '_')}",
            embedding_model=model,
            english_model=service.english_model if as_service else "",
            expansion_weight=service.expansion_weight if as_service else 0.0,
        )
        workdir.mkdir(parents=True, exist_ok=True)
        self.rt = Runtime.open(settings)
        import_platforms(self.rt.db, self.rt.engine, self.rt.settings, demo_platforms())
        with self.rt.session() as s:
            from sqlmodel import select

            from matcher.platforms.models import Platform

            self.ext = {p.id: p.external_id for p in s.exec(select(Platform)).all()}
        self.vectors: dict[str, object] = {}
        self.cal = self.rt.engine.vectors.embedder.calibration
        #: The ranking's tie-breaker (platform id -> answer rate); empty: every platform at 0.5, as when no
        #: platform has been notified yet.
        self.tie_break: dict[int, float] = {}

    def rank(self, item: DevItem, fusion: Fusion, weights: RankWeights | None) -> list[str]:
        engine = self.rt.engine
        engine.fusion = fusion
        engine.ranker = Ranker(weights or _relevance_only(), engine.taxonomy)
        engine.ranker.tie_break = self.tie_break
        if item.id not in self.vectors:
            self.vectors[item.id] = engine.embed_query(item.text)
        need = item.need if weights is not None else NeedFacts()
        query = MatchQuery(item.text, need=need, limit=10, vector=self.vectors[item.id], include_weak=True)  # type: ignore[arg-type]
        return [self.ext[m.platform_id] for m in engine.match(query).matches]

    def per_item(
        self, items: list[DevItem], fusion: Fusion, weights: RankWeights | None
    ) -> list[tuple[DevItem, dict[str, float]]]:
        return [(it, metrics(self.rank(it, fusion, weights), it.relevant)) for it in items]

    def evaluate(self, items: list[DevItem], fusion: Fusion, weights: RankWeights | None) -> dict:
        return aggregate(self.per_item(items, fusion, weights))


def tie_break_effect(ev: Evaluator, items: list[DevItem], fusion: Fusion, weights: RankWeights) -> str:
    """The responsiveness tie-breaker's effect: the full ranking with random answer rates (seed 0) for every
    platform, against the same ranking without them."""
    plain = [ev.rank(it, fusion, weights) for it in items]
    rng = random.Random(0)
    ev.tie_break = {pid: rng.random() for pid in sorted(ev.ext)}
    try:
        broken = [ev.rank(it, fusion, weights) for it in items]
    finally:
        ev.tie_break = {}
    before = aggregate([(it, metrics(r, it.relevant)) for it, r in zip(items, plain, strict=True)])
    after = aggregate([(it, metrics(r, it.relevant)) for it, r in zip(items, broken, strict=True)])
    changed = sum(a != b for a, b in zip(plain, broken, strict=True))
    return (
        "responsiveness tie-break (random answer rates, seed 0): NDCG@10 overall "
        f"{after['overall']['ndcg@10']:.4f} against {before['overall']['ndcg@10']:.4f} without; "
        f"{changed} of {len(items)} rankings changed"
    )


def _relevance_only() -> RankWeights:
    return RankWeights(
        relevance=1.0,
        sector_fit=0,
        trl_fit=0,
        service_types=0,
        region=0,
        capacity=0,
        tier=0,
        sector_priority=0,
    )


def print_table(rows: list[tuple[str, dict]], out: Callable[[str], None] = print) -> None:
    header = f"{'channel':<34}" + "".join(f"{s:>26}" for s in SLICES)
    out(header)
    sub = f"{'':<34}" + "".join(f"{'ndcg  mrr   r@10  h@1':>26}" for _ in SLICES)
    out(sub)
    for name, res in rows:
        cells = []
        for s in SLICES:
            if s in res:
                r = res[s]
                cells.append(
                    f"{r['ndcg@10']:.3f} {r['mrr']:.3f} {r['recall@10']:.3f} {r['hit@1']:.2f}".rjust(26)
                )
            else:
                cells.append("-".rjust(26))
        out(f"{name:<34}" + "".join(cells))
    counts = rows[0][1] if rows else {}
    out("queries per slice: " + ", ".join(f"{s}={counts[s]['n']}" for s in SLICES if s in counts))


def tune(ev: Evaluator, items: list[DevItem], base: FusionSettings, rounds: int = 2) -> FusionSettings:
    """Coordinate descent over the fusion settings for the best mean NDCG@10 over all slices (not just overall,
    so no language pair or query length is sacrificed for another)."""
    mid, slope = ev.cal
    grid: dict[str, tuple[float, ...]] = {
        "lexical_weight_zh": (0.2, 0.35, 0.5, 0.8, 1.2),
        "lexical_weight_en": (0.35, 0.5, 0.8, 1.2, 1.6),
        "cross_language_weight": (0.0, 0.25, 0.5, 0.8, 1.2),
        "lexical_saturation": (0.1, 0.2, 0.35, 0.5),
        "lexical_gate": (0.0, 0.25, 0.5, 1.0),
        "dense_midpoint": (mid - 0.1, mid - 0.05, mid, mid + 0.05, mid + 0.1),
        "dense_slope": (4.0, 6.0, 8.0, 12.0),
    }
    current = base.model_copy(update={"dense_midpoint": mid, "dense_slope": slope})
    grid = {"lexical_gate": grid.pop("lexical_gate"), **grid}

    def objective(fs: FusionSettings) -> float:
        res = ev.evaluate(items, LanguageAwareFusion(fs, ev.cal), Settings().rank)
        return sum(res[s]["ndcg@10"] for s in SLICES if s in res) / len(res)

    best_score = objective(current)
    for _ in range(rounds):
        for name, values in grid.items():
            for v in values:
                candidate = current.model_copy(update={name: round(v, 4)})
                score = objective(candidate)
                if score > best_score + 1e-6:
                    current, best_score = candidate, score
                    print(f"  tune: mean-slice NDCG@10 {score:.4f} with {name}={v:.3g}", file=sys.stderr)
    return current


def tune_rank(ev: Evaluator, items: list[DevItem], fusion: FusionSettings, base: RankWeights) -> RankWeights:
    """Coordinate descent over the fit factors the dev set can speak to (sector fit, TRL fit, service types).

    Tier and sector priority are policy, not relevance, and region and capacity have no signal in the dev set,
    so those keep their documented values.
    """
    grid = {
        "sector_fit": (0.0, 0.03, 0.06, 0.1),
        "trl_fit": (0.0, 0.01, 0.02, 0.03, 0.05),
        "service_types": (0.0, 0.01, 0.02, 0.03, 0.05),
    }

    def objective(w: RankWeights) -> float:
        res = ev.evaluate(items, LanguageAwareFusion(fusion, ev.cal), w)
        return sum(res[s]["ndcg@10"] for s in SLICES if s in res) / len(res)

    current, best_score = base, objective(base)
    for name, values in grid.items():
        for v in values:
            candidate = current.model_copy(update={name: v})
            score = objective(candidate)
            if score > best_score + 1e-6:
                current, best_score = candidate, score
                print(f"  tune: mean-slice NDCG@10 {score:.4f} with rank.{name}={v}", file=sys.stderr)
    return current


def calibrate(ev: Evaluator, items: list[DevItem], no_fit_items: list[DevItem], depth: int = 20) -> None:
    """Fit the score calibration on the full ranking's top ``depth`` results of every dev query (summaries and
    short queries alike) and every written no-fit need, print a reliability table, store the fit in
    ``matcher/data/calibration.json`` and print the label and unmet-demand cuts it supports (``choose_cuts``)."""
    from matcher.matching.calibration import QueryShape, fit_calibration
    from matcher.matching.query import QueryTerms

    engine = ev.rt.engine
    engine.fusion = LanguageAwareFusion(engine.settings.fusion, ev.cal)
    engine.ranker = Ranker(engine.settings.rank, engine.taxonomy)  # no calibration: scores are raw
    bases = sorted({it.id.split(":")[0] for it in items + no_fit_items})
    # Every dev query has a fitting platform, but real needs sometimes have none (the gaps the coverage report
    # exists to show). Without such queries the fit would learn "a query's first result usually fits" and hide
    # every gap, so the written no-fit needs (eval/nofit) are fitted with them, as the needs come: about one in
    # three without a fit. (Dev needs asked without their platforms measure gap recall; fitting on them too
    # would ask each fitting need again as a no-fit one.)
    raw, best, grades, base_of, fits, shapes = [], [], [], [], [], []
    for it in items + no_fit_items:
        base = it.id.split(":")[0]
        terms = QueryTerms.of(it.text, engine.lexicon)
        shape = QueryShape.of(terms.lang, terms.tokens)
        vec = ev.vectors.get(it.id)
        if vec is None:
            vec = ev.vectors[it.id] = engine.embed_query(it.text)
        query = MatchQuery(
            it.text, need=it.need, limit=depth + len(it.relevant), vector=vec, include_weak=True
        )  # type: ignore[arg-type]
        results = engine.match(query).matches
        shown = results[:depth]
        for m in shown:
            raw.append(m.score)
            best.append(shown[0].score)
            grades.append(it.relevant.get(ev.ext[m.platform_id], 0))
            base_of.append(base)
            fits.append(bool(it.relevant))
            shapes.append(shape)
    # Reliability on pairs the fit has not seen: fit on half the dev items (summary and title together), read
    # the table on the other half, and the other way round.
    fold = {b: i % 2 for i, b in enumerate(bases)}
    half = [fold[b] for b in base_of]
    held: list[tuple[float, int, bool, bool]] = []  # (calibrated score, grade, first result, query has a fit)
    for k in (0, 1):
        train = [i for i, h in enumerate(half) if h != k]
        fit = fit_calibration(
            [raw[i] for i in train],
            [best[i] for i in train],
            [shapes[i] for i in train],
            [grades[i] for i in train],
        )
        held += [
            (fit(raw[i], best[i], shapes[i]), grades[i], raw[i] == best[i], fits[i])
            for i, h in enumerate(half)
            if h == k
        ]
    cal = fit_calibration(raw, best, shapes, grades)
    brier = sum((p - (g > 0)) ** 2 for p, g, _, _ in held) / len(held)
    print(
        f"calibration for {engine.model_key}: logistic on (raw, raw - best, English share, log length): "
        f"intercept {cal.intercept}, raw {cal.raw_weight}, gap {cal.gap_weight}, English {cal.english_weight}, "
        f"length {cal.length_weight}; target relevant (grade >= 1); fitted on {len(raw)} (query, platform) pairs "
        f"({len(no_fit_items)} of them written no-fit queries); reliability below on "
        f"held-out queries (2-fold), Brier {brier:.4f}"
    )
    print(
        f"{'calibrated score':<18}{'pairs':>7}{'mean score':>12}{'share relevant':>16}{'first results':>15}"
    )
    bins: dict[int, list[tuple[float, int, bool]]] = defaultdict(list)
    for p, g, first, _ in held:
        bins[min(int(p * 10), 9)].append((p, g, first))
    for b in range(10):
        rows = bins.get(b, [])
        if not rows:
            continue
        mean_p = sum(p for p, _, _ in rows) / len(rows)
        share = sum(1 for _, g, _ in rows if g > 0) / len(rows)
        tops = [g for _, g, first in rows if first]
        top_share = f"{sum(g > 0 for g in tops) / len(tops):.3f} of {len(tops)}" if tops else "-"
        print(
            f"{b / 10:.1f}-{(b + 1) / 10:.1f}{'':<11}{len(rows):>7}{mean_p:>12.3f}{share:>16.3f}{top_share:>15}"
        )
    firsts = [p for p, g, first, _ in held if first and g > 0]
    gaps = [p for p, _, first, has_fit in held if first and not has_fit]
    good, possible = engine.settings.good_fit_score, engine.settings.possible_fit_score
    cut = engine.settings.unmet_demand_score
    print(
        f"first results that are relevant ({len(firsts)}): {sum(p >= good for p in firsts) / len(firsts):.0%} "
        f"read 'good' (>= {good}), {sum(p < possible for p in firsts) / len(firsts):.0%} read 'weak' "
        f"(< {possible}), {sum(p < cut for p in firsts) / len(firsts):.0%} fall below the unmet-demand cut "
        f"({cut}); first results of queries with no fitting platform ({len(gaps)}): "
        f"{sum(p < possible for p in gaps) / len(gaps):.0%} read 'weak', {sum(p < cut for p in gaps) / len(gaps):.0%} "
        "fall below the cut (held-out halves)"
    )
    path = ROOT / "matcher" / "data" / "calibration.json"
    stored = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    stored[engine.model_key] = {
        "intercept": cal.intercept,
        "raw_weight": cal.raw_weight,
        "gap_weight": cal.gap_weight,
        "english_weight": cal.english_weight,
        "length_weight": cal.length_weight,
        "pairs": len(raw),
        "brier_held_out": round(brier, 4),
        "fitted_on": "eval/dev and eval/nofit (summaries and titles), top 20 of the full ranking, target "
        "relevant (grade >= 1); first results, then the gap on the rest",
    }
    path.write_text(json.dumps(stored, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"stored in {path.relative_to(ROOT)}")
    cut = unmet_cut(ask_for_gaps(ev, [it for it in items if it.relevant], no_fit_items))
    print(
        f"unmet-demand cut the dev set supports (false gaps <= 10% among summaries and among short queries): "
        f"{cut}; set it as PILOTMATCH_UNMET_DEMAND_SCORE"
    )


def ask_for_gaps(ev: Evaluator, items: list[DevItem], no_fit: list[DevItem]) -> list[Asked]:
    """Every dev query as it is and with its labelled platforms left out, and every written no-fit need, asked as
    the service answers (its fusion, ranking factors, calibration and fit labels)."""
    engine = ev.rt.engine
    engine.fusion = LanguageAwareFusion(engine.settings.fusion, ev.cal)
    engine.ranker = Ranker(
        engine.settings.rank, engine.taxonomy, calibration=load_calibration(engine.model_key)
    )
    ids = {ext: pid for pid, ext in ev.ext.items()}

    def first(it: DevItem, excluded: frozenset[int] = frozenset()) -> tuple[float | None, str | None, bool]:
        vec = ev.vectors.get(it.id)
        if vec is None:
            vec = ev.vectors[it.id] = engine.embed_query(it.text)
        query = MatchQuery(it.text, need=it.need, limit=1, vector=vec, excluded_platform_ids=excluded)  # type: ignore[arg-type]
        top = engine.match(query).matches
        if not top:
            return None, None, False
        return top[0].score, top[0].fit, it.relevant.get(ev.ext[top[0].platform_id], 0) > 0

    def slices(it: DevItem) -> tuple[str, ...]:
        return ("short",) if "short" in it.slices else ("overall", language_mix(it.text).dominant)

    asked = []
    for it in items:
        best, fit, relevant = first(it)
        asked.append(Asked(it.id, slices(it), True, relevant, best, fit))
        best, fit, _ = first(it, frozenset(ids[e] for e in it.relevant if e in ids))
        asked.append(Asked(it.id + ":removed", slices(it), False, False, best, fit, "removed"))
    for it in no_fit:
        best, fit, _ = first(it)
        asked.append(Asked(it.id, it.slices, False, False, best, fit, "written"))
    return asked


def direction_accuracy(ev: Evaluator, dev_folder: Path) -> dict[str, tuple[int, float, float]]:
    """Accuracy@1 and @3 of direction inference against labelled directions: the demo platforms that list
    theirs (inferred from the taxonomy's descriptions, as for a profile without directions), and the dev
    technologies that do (inferred from the most relevant platforms' directions, as the service does; the
    technology's own labels are never seen)."""
    engine = ev.rt.engine
    sets: dict[str, list[tuple[str, set[str]]]] = {"platforms": [], "technologies": []}
    for p in demo_platforms():
        if p.directions:
            sets["platforms"].append((normalize_text(f"{p.name}\n{p.capabilities}"), set(p.directions)))
    for path in sorted(dev_folder.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            raw = json.loads(line) if line.strip() else None
            if raw and raw.get("directions"):
                text = normalize_text("\n".join(x for x in (raw.get("title"), raw["summary"]) if x))
                sets["technologies"].append((text, set(raw["directions"])))
    out = {}
    for name, rows in sets.items():
        vectors = [engine.embed_query(t) for t, _ in rows]
        top1 = top3 = 0
        for (text, labels), vec in zip(rows, vectors, strict=True):
            if name == "technologies":  # as the service infers them: from the most relevant platforms
                got = [
                    d.code for d in engine.match(MatchQuery(text, limit=1, vector=vec)).inferred_directions
                ]
            else:  # a platform's own profile: from the taxonomy's descriptions
                got = [d.code for d in engine.directions.infer(vec.main, text)]
            top1 += bool(got) and got[0] in labels
            top3 += bool(set(got[:3]) & labels)
        out[name] = (len(rows), top1 / len(rows), top3 / len(rows))
    return out


def export_labels(settings: Settings, path: Path) -> int:
    """Turn what the service has learnt (platforms' answers, engagements, recorded feedback) into evaluation lines
    in the dev-set format, graded as ``matcher.engagements.labels`` explains.

    Platforms are named by ``external_id`` when they have one (as in the dev set), else by ``id``. Rejections are
    kept with their reasons and each label says what it rests on (``evidence``), so a reviewer can merge them
    into ``eval/dev`` after reading.
    """
    from sqlmodel import Session, select

    from matcher.db import create_db_engine
    from matcher.engagements.labels import graded_labels
    from matcher.platforms.models import Platform
    from matcher.technologies.models import Technology

    engine = create_db_engine(settings.database_url)
    labels = graded_labels(engine)
    lines = []
    with Session(engine) as s:
        platforms = {p.id: p.external_id or str(p.id) for p in s.exec(select(Platform)).all()}
        for tid, pairs in sorted(labels.items()):
            tech = s.get(Technology, tid)
            if tech is None or not pairs:
                continue
            named = {platforms.get(pid, str(pid)): label for pid, label in pairs.items()}
            lines.append(
                {
                    "id": f"feedback-t{tid}",
                    "lang": language_mix(tech.summary).dominant,
                    "title": tech.title,
                    "summary": tech.summary,
                    "trl": tech.trl,
                    "directions": tech.directions,
                    "wanted_service_types": tech.service_types,
                    "paraphrase": False,
                    "relevant": {p: x.grade for p, x in named.items() if x.grade > 0},
                    "rejected": {p: x.reason or "unspecified" for p, x in named.items() if x.grade == 0},
                    "evidence": {p: x.evidence for p, x in named.items()},
                }
            )
    engine.dispose()
    path.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), encoding="utf-8")
    return len(lines)


def gate_failures(rows: list[tuple[str, dict]], full: dict) -> list[str]:
    """The slices on which the full ranking (``full``) has a lower NDCG@10 than the best single channel (a row
    named ``lexical...`` or ``dense...``): the script fails when there is any."""
    failures = []
    singles = [r for name, r in rows if name.startswith(("lexical", "dense"))]
    for s in SLICES:
        if s not in full:
            continue
        best_single = max(r[s]["ndcg@10"] for r in singles if s in r)
        if full[s]["ndcg@10"] + 1e-9 < best_single:
            failures.append(
                f"{s}: full ranking NDCG@10 {full[s]['ndcg@10']:.3f} < best single channel {best_single:.3f}"
            )
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--models",
        nargs="+",
        default=["use-multilingual-v3", "multilingual-e5-small", "all-minilm-l6-v2"],
        help="Embedders to compare; the first is used for fusion and the full ranking.",
    )
    parser.add_argument("--dev-set", type=Path, default=ROOT / "eval" / "dev")
    parser.add_argument(
        "--no-fit-set",
        type=Path,
        default=ROOT / "eval" / "nofit",
        help="Needs no demo platform can pilot, for the gap signal.",
    )
    parser.add_argument("--fusion", default="language-aware", help="Fusion for the 'full ranking' row.")
    parser.add_argument("--tune", action="store_true", help="Grid-search fusion settings first.")
    parser.add_argument(
        "--calibrate",
        action="store_true",
        help="Fit the score calibration for the first model, store it, exit.",
    )
    parser.add_argument("--json", type=Path, help="Also write the results as JSON to this file.")
    parser.add_argument(
        "--tie-break-effect",
        action="store_true",
        help="Also rank with random answer rates as the responsiveness tie-breaker, and print what changes.",
    )
    parser.add_argument(
        "--export-labels",
        type=Path,
        metavar="FILE",
        help="Write the labels stored in PILOTMATCH_DATABASE_URL (answers, engagements, feedback) as dev-set "
        "lines and exit.",
    )
    args = parser.parse_args(argv)
    if args.export_labels:
        n = export_labels(Settings(), args.export_labels)
        print(f"wrote {n} labelled technologies to {args.export_labels}")
        return 0

    platform_lang = {
        p.external_id: language_mix(f"{p.name} {p.capabilities}").dominant for p in demo_platforms()
    }
    items = load_dev_set(args.dev_set, platform_lang)
    settings = Settings()
    rows: list[tuple[str, dict]] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        if args.calibrate:
            ev = Evaluator(args.models[0], Path(tmp), as_service=True)
            calibrate(ev, items, load_no_fit_set(args.no_fit_set))
            ev.rt.close()
            return 0
        evaluators = {m: Evaluator(m, Path(tmp)) for m in args.models}
        # The fusion and full-ranking rows run as the service does: the first model, the English channel and
        # feedback.
        primary = Evaluator(args.models[0], Path(tmp) / "service", as_service=True)
        fusion_settings = tune(primary, items, settings.fusion) if args.tune else settings.fusion
        rows.append(
            (
                "lexical (BM25)",
                primary.evaluate(items, make_fusion("lexical", fusion_settings, primary.cal), None),
            )
        )
        rows.append(
            (
                "lexical translated (BM25)",
                primary.evaluate(items, make_fusion("translated", fusion_settings, primary.cal), None),
            )
        )
        for m, ev in evaluators.items():
            rows.append(
                (f"dense {m}", ev.evaluate(items, make_fusion("dense", fusion_settings, ev.cal), None))
            )
        rows.append(
            ("fusion rrf", primary.evaluate(items, make_fusion("rrf", fusion_settings, primary.cal), None))
        )
        rows.append(
            (
                "fusion language-aware",
                primary.evaluate(items, LanguageAwareFusion(fusion_settings, primary.cal), None),
            )
        )
        full_fusion = (
            LanguageAwareFusion(fusion_settings, primary.cal)
            if args.fusion == "language-aware"
            else make_fusion(args.fusion, fusion_settings, primary.cal)
        )
        rank_weights = (
            tune_rank(primary, items, fusion_settings, settings.rank) if args.tune else settings.rank
        )
        full_items = primary.per_item(items, full_fusion, rank_weights)
        full = aggregate(full_items)
        for s, (lo, hi) in intervals(full_items).items():
            full[s]["ndcg@10_ci95"] = [round(lo, 4), round(hi, 4)]
        rows.append((f"full ranking ({args.models[0]} + English)", full))
        tie_effect = (
            tie_break_effect(primary, items, full_fusion, rank_weights) if args.tie_break_effect else None
        )
        directions = direction_accuracy(primary, args.dev_set)
        asked = ask_for_gaps(primary, items, load_no_fit_set(args.no_fit_set))
        gaps = gap_metrics(asked, settings.unmet_demand_score, bootstrap_interval)
        for ev in [*evaluators.values(), primary]:
            ev.rt.close()
    print_table(rows)
    print(
        "full ranking NDCG@10, 95% bootstrap interval over items: "
        + ", ".join(
            f"{s} {full[s]['ndcg@10']:.3f} [{full[s]['ndcg@10_ci95'][0]:.3f}, {full[s]['ndcg@10_ci95'][1]:.3f}]"
            for s in SLICES
            if s in full
        )
    )
    if tie_effect:
        print(tie_effect)
    print_gap_table(gaps, settings.unmet_demand_score)
    print_tradeoff(asked, [0.2, 0.3, 0.4, 0.5, 0.6])
    for name, (n, a1, a3) in directions.items():
        print(f"direction inference on {n} labelled {name}: accuracy@1 {a1:.3f}, accuracy@3 {a3:.3f}")
    print(f"({len(items)} queries, {time.perf_counter() - started:.1f} s)")
    if args.tune:
        print(f"best fusion settings: {fusion_settings.model_dump()}")
        print(f"best rank weights: {rank_weights.model_dump()}")
    if args.json:
        args.json.write_text(
            json.dumps(dict(rows) | {"gap signal": gaps}, indent=2, ensure_ascii=False), encoding="utf-8"
        )

    failures = gate_failures(rows, full)
    if failures:
        print("FAIL: the full ranking is worse than a single channel on:\n  " + "\n  ".join(failures))
        return 1
    print("OK: the full ranking is at least as good as every single channel on every slice.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
