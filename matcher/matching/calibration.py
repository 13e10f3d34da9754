"""Score calibration: one number that means the same across queries and languages.

The raw score (the sum of factor contributions) says how well a platform fits compared with other platforms for
the same query, but its absolute level varies with the query: a long, specific summary scores every platform
higher than a five-word phrase does. So the calibrated score is a logistic fit of the dev set's graded labels
(soft targets grade/2) on two features: the raw score and its gap below the query's best raw score,

    P(fit) = sigmoid(intercept + raw_weight * raw + gap_weight * (raw - best))

Both weights are kept non-negative, so within one query the calibrated score rises with the raw score and
ranking order is unchanged. Measured on held-out dev queries (``scripts/evaluate.py --calibrate``), the gap
feature lowers the Brier score and no longer calls a correct first suggestion a "weak fit" just because the query
was short. The calibration enters the explanation as its own ``calibration`` term so the explanation still sums
to the score.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from importlib import resources

import numpy as np

log = logging.getLogger("pilotmatch.calibration")


@dataclass(frozen=True, slots=True)
class ScoreCalibration:
    """``P(fit | raw, raw - best)``; the identity (raw score unchanged) when not fitted."""

    intercept: float = 0.0
    raw_weight: float = 0.0
    gap_weight: float = 0.0

    @property
    def fitted(self) -> bool:
        return self.raw_weight > 0

    def __call__(self, raw: float, best: float | None = None) -> float:
        """The calibrated score of ``raw`` when the query's best raw score is ``best`` (None: this is the best
        known, as for a pair scored on its own)."""
        if not self.fitted:
            return raw
        gap = raw - max(best, raw) if best is not None else 0.0
        z = self.intercept + self.raw_weight * raw + self.gap_weight * gap
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
    return ScoreCalibration(entry["intercept"], entry["raw_weight"], entry["gap_weight"])


def fit_calibration(raw_scores: list[float], best_scores: list[float], grades: list[int]) -> ScoreCalibration:
    """Logistic regression of the soft target ``grade / 2`` on (raw, raw - best), by scikit-learn.

    The soft target is fitted as two stacked binary targets (grade >= 1 and grade >= 2), so a suitable
    platform counts half and an ideal one fully. A weight that comes out negative is dropped (set to 0 and the
    rest refitted), so the map stays monotonic.
    """
    from sklearn.linear_model import LogisticRegression

    raw = np.asarray(raw_scores, dtype=float)
    gap = raw - np.maximum(np.asarray(best_scores, dtype=float), raw)
    grades_ = np.asarray(grades)
    y = np.concatenate([(grades_ >= 1).astype(int), (grades_ >= 2).astype(int)])
    columns = [raw, gap]
    for _ in range(2):
        x = np.vstack([np.column_stack(columns)] * 2)
        model = LogisticRegression(C=100.0, max_iter=5000).fit(x, y)
        weights = list(model.coef_[0])
        if min(weights) >= 0 or len(columns) == 1:
            break
        columns = [raw]  # the gap weight came out negative: fit on the raw score alone
    raw_weight = max(0.0, float(weights[0]))
    gap_weight = max(0.0, float(weights[1])) if len(weights) > 1 else 0.0
    return ScoreCalibration(round(float(model.intercept_[0]), 5), round(raw_weight, 5), round(gap_weight, 5))
