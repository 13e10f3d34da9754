"""Score calibration: one number that means the same across queries and languages.

The raw score (the sum of factor contributions) is mapped through an isotonic (monotonic, piecewise-linear) fit
of the dev set's graded labels (``scripts/evaluate.py --calibrate``, soft targets grade/2), so 0.7 reads "a good
fit" for a long English summary and a short Chinese phrase alike. The map is monotonic and ranking sorts by the
raw score, so it never changes the order; it enters the explanation as its own ``calibration`` term so the
explanation still sums to the score.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from importlib import resources

import numpy as np

log = logging.getLogger("pilotmatch.calibration")


@dataclass(frozen=True, slots=True)
class ScoreCalibration:
    """A monotonic piecewise-linear map from raw score to calibrated score (isotonic fit); identity if empty."""

    xs: tuple[float, ...] = ()
    ys: tuple[float, ...] = ()

    @property
    def fitted(self) -> bool:
        return len(self.xs) >= 2

    def __call__(self, raw: float) -> float:
        if not self.fitted:
            return raw
        return float(np.interp(raw, self.xs, self.ys))


def load_calibration(model_id: str) -> ScoreCalibration:
    """The fitted calibration for ``model_id`` from ``matcher/data/calibration.json``, or identity."""
    try:
        raw = json.loads(
            resources.files("matcher").joinpath("data/calibration.json").read_text(encoding="utf-8")
        )
    except FileNotFoundError:
        raw = {}
    entry = raw.get(model_id)
    if entry is None:
        log.warning("event=no_calibration model=%s action=raw_scores", model_id)
        return ScoreCalibration()
    return ScoreCalibration(xs=tuple(entry["xs"]), ys=tuple(entry["ys"]))


def fit_calibration(raw_scores: list[float], grades: list[int]) -> ScoreCalibration:
    """Isotonic regression of the soft target ``grade / 2`` on the raw score (scikit-learn's PAV)."""
    from sklearn.isotonic import IsotonicRegression

    iso = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
    iso.fit(np.asarray(raw_scores, dtype=float), np.asarray(grades, dtype=float) / 2.0)
    xs = [round(float(x), 5) for x in iso.X_thresholds_]
    ys = [round(float(y), 5) for y in iso.y_thresholds_]
    return ScoreCalibration(xs=tuple(xs), ys=tuple(ys))
