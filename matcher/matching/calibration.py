"""Score calibration: one number that means the same across queries and languages.

The raw score (the sum of factor contributions) says how well a platform fits compared with other platforms for
the same query, but its absolute level varies with the query: a long, specific summary scores every platform
higher than a five-word phrase does. So the calibrated score is a logistic fit of the dev set's labels (relevant:
grade 1 or 2) on the raw score, its gap below the query's best raw score and the query's shape (``QueryShape``:
how English it is and how long),

    P(relevant) = sigmoid(intercept + raw_weight * raw + gap_weight * (raw - best)
                          + english_weight * english + length_weight * log(1 + tokens))

The fit sees needs no platform fits as well (eval/nofit, and dev needs asked without their platforms), so a
need's best score also says how likely it is that anything fits it: the unmet-demand verdict reads it.

The score weights are kept non-negative and the shape is the same for every platform of a query, so within one
query the calibrated score rises with the raw score and ranking order is unchanged. ``scripts/evaluate.py
--calibrate`` fits it and prints its reliability on held-out dev queries. The calibration enters the explanation
as its own ``calibration`` term so the explanation still sums to the score.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

import numpy as np

from matcher.matching.text import LanguageMix

log = logging.getLogger("pilotmatch.calibration")


@dataclass(frozen=True, slots=True)
class QueryShape:
    """What calibration reads of a query besides its scores: how English it is (0-1) and how long (in the
    lexical channel's tokens). The same need scores at different levels in Chinese and in English, and as a
    summary or as a few words; these put such levels on one scale."""

    english: float = 0.0
    tokens: int = 0

    @classmethod
    def of(cls, lang: LanguageMix, tokens: Sequence[str]) -> QueryShape:
        return cls(round(lang.en, 4), len(tokens))

    @property
    def length(self) -> float:
        return math.log1p(self.tokens)


@dataclass(frozen=True, slots=True)
class ScoreCalibration:
    """``P(relevant | raw, raw - best, query shape)``; the identity (raw score unchanged) when not fitted."""

    intercept: float = 0.0
    raw_weight: float = 0.0
    gap_weight: float = 0.0
    english_weight: float = 0.0
    length_weight: float = 0.0

    @property
    def fitted(self) -> bool:
        return self.raw_weight > 0

    def __call__(self, raw: float, best: float | None = None, shape: QueryShape | None = None) -> float:
        """The calibrated score of ``raw`` when the query's best raw score is ``best`` (None: this is the best
        known, as for a pair scored on its own) and the query is of ``shape``. The shape terms are the same for
        every platform of one query, so they never reorder its results."""
        if not self.fitted:
            return raw
        gap = raw - max(best, raw) if best is not None else 0.0
        shape = shape or QueryShape()
        z = (
            self.intercept
            + self.raw_weight * raw
            + self.gap_weight * gap
            + self.english_weight * shape.english
            + self.length_weight * shape.length
        )
        return 1.0 / (1.0 + math.exp(-z))


def load_calibration(model_id: str) -> ScoreCalibration:
    """The fitted calibration for ``model_id`` from ``matcher/data/calibration.json``, or identity."""
    try:
        raw = json.loads(
            resources.files("matcher").joinpath("data/calibration.json").read_text(encoding="utf-8")
        )
    except FileNotFoundError:
        raw = {}
    entry = raw.get(model_id)
    if entry is None or "raw_weight" not in entry:
        log.warning("event=no_calibration model=%s action=raw_scores", model_id)
        return ScoreCalibration()
    return ScoreCalibration(
        entry["intercept"],
        entry["raw_weight"],
        entry["gap_weight"],
        entry.get("english_weight", 0.0),
        entry.get("length_weight", 0.0),
    )


def fit_calibration(
    raw_scores: list[float], best_scores: list[float], shapes: list[QueryShape], grades: list[int]
) -> ScoreCalibration:
    """Logistic regression of "relevant" (grade >= 1) on (raw, raw - best, English share, log length), by
    scikit-learn.

    The target is what the fit labels promise ("the first result is relevant at least 85% of the time"), so the
    score reads as the chance that the platform is a relevant one. A score weight that comes out negative is
    dropped (set to 0 and the rest refitted), so the map stays monotonic in the raw score; the shape weights may
    take either sign.
    """
    from sklearn.linear_model import LogisticRegression

    raw = np.asarray(raw_scores, dtype=float)
    gap = raw - np.maximum(np.asarray(best_scores, dtype=float), raw)
    english = np.asarray([s.english for s in shapes], dtype=float)
    length = np.asarray([s.length for s in shapes], dtype=float)
    y = (np.asarray(grades) >= 1).astype(int)
    use_gap = True
    for _ in range(2):
        columns = [raw, gap, english, length] if use_gap else [raw, english, length]
        model = LogisticRegression(C=100.0, max_iter=5000).fit(np.column_stack(columns), y)
        weights = [float(w) for w in model.coef_[0]]
        if not use_gap or weights[1] >= 0:
            break
        use_gap = False  # the gap weight came out negative: fit without it
    if not use_gap:
        weights.insert(1, 0.0)
    return ScoreCalibration(
        round(float(model.intercept_[0]), 5),
        round(max(0.0, weights[0]), 5),
        round(max(0.0, weights[1]), 5),
        round(weights[2], 5),
        round(weights[3], 5),
    )
