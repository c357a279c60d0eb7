"""The fallback forecast's intervals come from every backtest fold, not the calibration fold
alone: a calibration fold inside a closure (every actual 0) gave [0, 0] to every series."""

from __future__ import annotations

import numpy as np
import polars as pl

from sme_platform.lib.training.baselines import MOVING_AVERAGE, SEASONAL_NAIVE
from sme_platform.lib.training.conformal import apply_intervals
from sme_platform.lib.training.pipeline import CALIBRATION, fallback_interval_quantiles

SERIES = 120
HORIZON = 14


def fold_rows(fold: str, model: str, closed: bool, seed: int) -> pl.DataFrame:
    """One fold of a baseline's forecasts: in a closure nothing sells and the baseline, looking
    at the closed week before, forecasts 0; open, both are Poisson(1) whole numbers."""
    rng = np.random.default_rng(seed)
    rows = SERIES * HORIZON
    return pl.DataFrame(
        {
            "fold": fold,
            "model": model,
            "sku": np.repeat(np.arange(SERIES), HORIZON).astype(str),
            "horizon": np.tile(np.arange(1, HORIZON + 1), SERIES),
            "prediction": np.zeros(rows) if closed else rng.poisson(1.0, rows).astype(float),
            "actual": np.zeros(rows) if closed else rng.poisson(1.0, rows).astype(float),
            "censored": False,
        }
    )


def backtest(models=(SEASONAL_NAIVE, MOVING_AVERAGE)) -> pl.DataFrame:
    folds = [(CALIBRATION, True), ("fold_1", False), ("fold_2", False), ("holdout", False)]
    return pl.concat(
        [
            fold_rows(fold, model, closed, seed=index * 10 + number)
            for index, (fold, closed) in enumerate(folds)
            for number, model in enumerate(models)
        ]
    )


def test_a_calibration_fold_in_a_closure_leaves_the_fallback_a_real_interval():
    quantiles = fallback_interval_quantiles(backtest())
    assert set(quantiles) == {SEASONAL_NAIVE, MOVING_AVERAGE}
    tonight = pl.DataFrame({"model": SEASONAL_NAIVE, "horizon": [1, 8], "prediction": [0.0, 0.0]})
    served = apply_intervals(tonight, pl.DataFrame(quantiles[SEASONAL_NAIVE]))
    # Two in three open days sell something where a Poisson(1) baseline said 0 (e^-1 = 0.37
    # sell nothing): the 90th percentile of those days is a sale of 1 or more, not 0.
    assert served.get_column("low").to_list() == [0.0, 0.0]
    assert min(served.get_column("high").to_list()) >= 1.0
    # From every fold: 3 open folds and the closed one, all rows uncensored.
    calibration_rows = sum(row["calibration_rows"] for row in quantiles[SEASONAL_NAIVE])
    assert calibration_rows == 4 * SERIES * HORIZON


def test_only_the_baselines_that_can_be_served_are_kept():
    frame = backtest(models=(SEASONAL_NAIVE, "lightgbm"))
    assert set(fallback_interval_quantiles(frame)) == {SEASONAL_NAIVE}
