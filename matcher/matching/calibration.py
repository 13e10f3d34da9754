"""Score calibration: one number that means the same across queries and languages.

The raw score (the sum of factor contributions) says how well a platform fits compared with other platforms for
the same query, but its absolute level varies with the query: a long, specific summary scores every platform
higher than a five-word phrase does. So the calibrated score is a logistic fit of the dev set's labels (relevant:
grade 1 or 2) on the raw score, its gap below the query's best raw score and the query's shape (``QueryShape``:
how English it is and how long),

    P(relevant) = sigmoid(intercept + raw_weight * raw + gap_weight * (raw - best)
                          + english_weight * english + length_weight * log(1 + tokens))

The weights of the first result (raw score and shape) are fitted on first results alone, needs no platform fits
among them (eval/nofit), so a need's best score says how likely it is that its first result is relevant: the fit
labels and the unmet-demand verdict read it. The gap weight is then fitted on the other results.

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

#: About twice the longest labelled need (70 tokens): the length term reads no further.
LONGEST_FITTED = 150


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
        """Log length, capped at ``LONGEST_FITTED`` tokens: the fit saw nothing longer, so a longer text is read
        as that long rather than pushed down by an extrapolated trend."""
        return math.log1p(min(self.tokens, LONGEST_FITTED))


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
    """Fit "relevant" (grade >= 1) in two steps, so a query's first result reads as the chance that it is
    relevant, which is what the fit labels and the unmet-demand verdict promise:

    1. a logistic regression (scikit-learn) on the first results alone (``raw == best``): the raw score, the
       English share and the log length;
    2. with those weights fixed, the gap weight that best fits the other results (one bounded scalar, by
       log-likelihood), so a result far below its query's best reads lower than the same raw score at the top.

    The raw-score and gap weights are kept non-negative, so the map stays monotonic in the raw score; the shape
    weights may take either sign.
    """
    from scipy.optimize import minimize_scalar
    from sklearn.linear_model import LogisticRegression

    raw = np.asarray(raw_scores, dtype=float)
    gap = raw - np.maximum(np.asarray(best_scores, dtype=float), raw)
    english = np.asarray([s.english for s in shapes], dtype=float)
    length = np.asarray([s.length for s in shapes], dtype=float)
    y = (np.asarray(grades) >= 1).astype(int)
    first = gap >= 0
    model = LogisticRegression(C=100.0, max_iter=5000).fit(
        np.column_stack([raw, english, length])[first], y[first]
    )
    raw_w, english_w, length_w = (float(w) for w in model.coef_[0])
    intercept = float(model.intercept_[0])
    raw_w = max(0.0, raw_w)
    rest = ~first
    base = intercept + raw_w * raw[rest] + english_w * english[rest] + length_w * length[rest]

    def loss(g: float) -> float:
        z = base + g * gap[rest]
        return float(np.sum(np.logaddexp(0.0, z) - y[rest] * z))

    gap_w = float(minimize_scalar(loss, bounds=(0.0, 100.0), method="bounded").x) if rest.any() else 0.0
    return ScoreCalibration(
        round(intercept, 5), round(raw_w, 5), round(gap_w, 5), round(english_w, 5), round(length_w, 5)
    )
