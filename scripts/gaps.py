"""The gap signal, measured: does the service call a need unmet where no platform fits it, and only there?

``scripts/evaluate.py`` asks every dev query three ways, as the service answers them (calibrated scores, fit
labels, the unmet-demand cut):
- as it is (it has a fitting platform);
- with every platform labelled for it left out (then nothing fits);
- and each written no-fit item (``eval/nofit``: needs no demo platform can pilot).
These functions turn what came back into the figures ``docs/evaluation.md`` explains: gap recall, false-gap rate,
AUC between the two groups' best scores, the precision of each fit label at rank 1 and the expected calibration
error, per language slice, each rate with a bootstrap interval over queries.

Label precision and calibration error are read on the needs as they come (the dev queries and the written no-fit
needs, about one in three without a fit). The dev queries asked again without their platforms count for gap
recall only: as part of that population they would ask every fitting need a second time as a no-fit one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

#: Language slices of the gap table: the query's own language (no-fit needs have no platform language), and the
#: short queries (titles alone), which are not part of "overall".
GAP_SLICES = ("overall", "zh", "en", "short")


@dataclass(frozen=True, slots=True)
class Asked:
    """One query as the service answered it."""

    id: str
    slices: tuple[str, ...]
    #: Some stored platform fits it (a dev query asked as it is).
    has_fit: bool
    #: Its first result is a labelled platform (never, for a no-fit query).
    first_relevant: bool
    #: The first result's calibrated score and fit label (None: no result at all).
    best: float | None
    fit: str | None
    #: Which no-fit group it is from: "written" (eval/nofit), "removed" (a dev query without its platforms), "".
    source: str = ""


def unmet(a: Asked, cut: float) -> bool:
    """The service's verdict: nothing scores at least ``cut`` (or nothing came back)."""
    return a.best is None or a.best < cut


def auc(positives: list[float], negatives: list[float]) -> float:
    """P(a random fitting query's best score > a random no-fit query's), ties counting half (Mann-Whitney)."""
    if not positives or not negatives:
        return math.nan
    p = np.asarray(positives)[:, None]
    n = np.asarray(negatives)[None, :]
    return float(((p > n).sum() + 0.5 * (p == n).sum()) / (p.size * n.size))


def ece(asked: Iterable[Asked], bins: int = 10) -> float:
    """Expected calibration error of the first result's score as the chance that it is relevant: the share-
    weighted gap between mean score and observed share relevant, over ten equal-width score bins."""
    rows = [(a.best, a.first_relevant) for a in asked if a.best is not None]
    if not rows:
        return math.nan
    total = 0.0
    for b in range(bins):
        inside = [(s, r) for s, r in rows if min(int(s * bins), bins - 1) == b]
        if inside:
            mean_s = sum(s for s, _ in inside) / len(inside)
            share = sum(r for _, r in inside) / len(inside)
            total += len(inside) / len(rows) * abs(mean_s - share)
    return total


def gap_metrics(
    asked: list[Asked], cut: float, interval: Callable[[list[float]], tuple[float, float]]
) -> dict[str, dict]:
    """Each slice's gap figures at the unmet-demand ``cut``; rates come as ``[value, low, high]`` with the
    bootstrap ``interval`` over the queries the rate counts."""
    out: dict[str, dict] = {}
    for s in GAP_SLICES:
        rows = [a for a in asked if s in a.slices]
        fitting = [a for a in rows if a.has_fit and (a.first_relevant or a.best is None)]
        no_fit = [a for a in rows if not a.has_fit]
        if not rows or not no_fit:
            continue

        def rate(values: list[float]) -> list[float]:
            if not values:
                return [math.nan, math.nan, math.nan]
            lo, hi = interval(values)
            return [round(sum(values) / len(values), 4), round(lo, 4), round(hi, 4)]

        natural = [a for a in rows if a.source != "removed"]
        by_label = {
            label: [float(a.first_relevant) for a in natural if a.fit == label]
            for label in ("good", "possible")
        }
        out[s] = {
            "gap_recall": rate([float(unmet(a, cut)) for a in no_fit]),
            "false_gap_rate": rate([float(unmet(a, cut)) for a in fitting]),
            "auc": round(
                auc([a.best or 0.0 for a in fitting], [a.best or 0.0 for a in no_fit]),
                4,
            ),
            "good_precision": rate(by_label["good"]),
            "possible_precision": rate(by_label["possible"]),
            "ece": round(ece(natural), 4),
            "n_fitting": len(fitting),
            "n_no_fit": len(no_fit),
            "n_good": len(by_label["good"]),
            "n_possible": len(by_label["possible"]),
        }
        for source in ("written", "removed"):
            group = [a for a in no_fit if a.source == source]
            if group:
                out[s][f"gap_recall_{source}"] = round(sum(unmet(a, cut) for a in group) / len(group), 4)
    return out


def print_gap_table(table: dict[str, dict], cut: float, out: Callable[[str], None] = print) -> None:
    def cell(v: list[float]) -> str:
        return "-" if math.isnan(v[0]) else f"{v[0]:.3f} [{v[1]:.2f}, {v[2]:.2f}]"

    out(f"gap signal at the unmet-demand cut {cut} (calibrated best score below it = unmet demand)")
    out(
        f"{'slice':<9}{'gap recall':>22}{'false gaps':>22}{'AUC':>7}{'good prec. @1':>24}"
        f"{'possible prec. @1':>24}{'ECE':>7}  queries (fitting / no fit / good / possible)"
    )
    for s, r in table.items():
        out(
            f"{s:<9}{cell(r['gap_recall']):>22}{cell(r['false_gap_rate']):>22}{r['auc']:>7.3f}"
            f"{cell(r['good_precision']):>24}{cell(r['possible_precision']):>24}{r['ece']:>7.3f}  "
            f"{r['n_fitting']} / {r['n_no_fit']} / {r['n_good']} / {r['n_possible']}"
        )
    overall = table.get("overall", {})
    if "gap_recall_written" in overall:
        out(
            f"gap recall by source (overall): written no-fit needs {overall['gap_recall_written']:.3f}, "
            f"dev needs without their platforms {overall.get('gap_recall_removed', math.nan):.3f}"
        )


def unmet_cut(asked: list[Asked], max_false_gaps: float = 0.10) -> float:
    """The highest unmet-demand cut (in steps of 0.01, so no single query decides it) that calls at most
    ``max_false_gaps`` of the fitting needs (first result relevant) unmet demand, among summaries and among
    short queries alike.

    The fit labels need no such search: the score of a first result is calibrated as the chance that it is
    relevant, so "good" (relevant at least 85% of the time) starts at 0.85 and "possible" (at least half) at
    0.5; ``gap_metrics`` measures how well they keep that promise.
    """
    firsts = [a for a in asked if a.best is not None and a.has_fit and a.first_relevant]
    groups = [[a for a in firsts if "short" not in a.slices], [a for a in firsts if "short" in a.slices]]
    steps = [i / 100 for i in range(1, 100)]
    return max(
        (t for t in steps if all(sum(a.best < t for a in g) <= max_false_gaps * len(g) for g in groups)),  # type: ignore[operator]
        default=0.0,
    )


def print_tradeoff(asked: list[Asked], cuts: list[float], out: Callable[[str], None] = print) -> None:
    """What another unmet-demand cut would do (``?threshold=`` on the coverage report, or the setting): false
    gaps and gap recall of summaries, overall."""
    rows = [a for a in asked if "overall" in a.slices]
    fitting = [a for a in rows if a.has_fit and (a.first_relevant or a.best is None)]
    parts = []
    for cut in cuts:
        recall = {
            s: sum(unmet(a, cut) for a in rows if a.source == s) / max(1, sum(a.source == s for a in rows))
            for s in ("written", "removed")
        }
        false = sum(unmet(a, cut) for a in fitting) / max(1, len(fitting))
        parts.append(f"{cut:.2f}: {false:.2f} / {recall['written']:.2f} / {recall['removed']:.2f}")
    out("other cuts (summaries; false gaps / gap recall of written no-fit needs / of dev needs without their")
    out("platforms): " + ", ".join(parts))
