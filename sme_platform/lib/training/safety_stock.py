"""The reorder simulation's safety stock: each method's protection quantile, calibrated.

What a method missed over the protection interval (days 1..L+R from the origin: lead time and
review period) on the calibration fold, in units of sqrt(forecast + 1), at the service level;
lib/training/business orders q x sqrt(forecast over days 1..L+R + 1) beyond the forecast.

Per forecast-size bucket (as the daily intervals, lib/training/conformal): a method's misses do
not all grow with the square root of its forecast. The model's 90th-percentile miss grew with its
forecast to the power 0.84 on the demo and 0.90 on Online Retail (the peers': 0.59 to 0.83), so
one quantile for every size left the series it forecast most short of safety stock and gave the
slow ones too much. Buckets are quantiles of the calibration forecasts, merged until each holds
MIN_MISSES_PER_BUCKET rows beyond the service level (so at 0.99 and 2,000 series, one bucket).
A version registered before the buckets kept one number: it is used for every size.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from sme_platform.lib.training.conformal import size_edges
from sme_platform.lib.training.history import SERIES_KEYS

if TYPE_CHECKING:  # business imports this module: the assumptions' type only
    from sme_platform.lib.training.business import BusinessAssumptions

PROTECTION_SIZE_BUCKETS = 4
MIN_MISSES_PER_BUCKET = 20
# A model's safety-stock quantile: one number (versions before the size buckets) or
# {"edges": [...], "quantiles": [...]} (fit_protection_quantiles).
ProtectionQuantile = float | dict[str, list[float]]


def fit_protection_quantiles(
    calibration: pl.DataFrame, assumptions: BusinessAssumptions
) -> dict[str, ProtectionQuantile]:
    """Per model, the service-level quantile of (units sold - units forecast) over the protection
    interval (days 1..L+R from the origin) of each series, in units of sqrt(forecast + 1), per
    bucket of the forecast over that interval, on the calibration rows: {"edges": the lower
    edges of the buckets after the first, "quantiles": one per bucket}. Censored days are left
    out of both sums (their demand is unknown)."""
    last = assumptions.order_cycle_days
    level = assumptions.service_level
    window = (
        calibration.filter(pl.col("horizon").is_between(1, last) & ~pl.col("censored"))
        .group_by("model", "fold", *SERIES_KEYS)
        .agg(sold=pl.col("actual").sum(), forecast=pl.col("prediction").sum())
        .with_columns(
            residual=(pl.col("sold") - pl.col("forecast"))
            / (pl.col("forecast").clip(lower_bound=0.0) + 1.0).sqrt()
        )
    )
    min_rows = math.ceil(MIN_MISSES_PER_BUCKET / (1 - level))
    quantiles: dict[str, ProtectionQuantile] = {}
    for (model,), group in window.group_by(["model"], maintain_order=True):
        forecast = group.get_column("forecast").to_numpy()
        residual = group.get_column("residual").to_numpy()
        edges = size_edges(forecast, PROTECTION_SIZE_BUCKETS, min_rows)[1:]  # without -inf
        bucket = np.searchsorted(edges, forecast, side="right")
        quantiles[model] = {
            "edges": [float(edge) for edge in edges],
            # "higher": an observed miss, never an interpolated one.
            "quantiles": [
                float(np.quantile(residual[bucket == index], level, method="higher"))
                for index in range(len(edges) + 1)
            ],
        }
    return quantiles


def protection_quantile_of(
    quantile: ProtectionQuantile | None, protected_forecast: np.ndarray
) -> np.ndarray:
    """Each series' protection quantile from its forecast over the protection interval: one
    number for every size (a version registered before the size buckets), or the quantile of
    the forecast's bucket; None (nothing calibrated): NaN, the daily-interval fallback."""
    if quantile is None:
        return np.full(len(protected_forecast), np.nan)
    if isinstance(quantile, int | float):
        return np.full(len(protected_forecast), float(quantile))
    by_bucket = np.asarray(quantile["quantiles"], dtype=np.float64)
    return by_bucket[np.searchsorted(quantile["edges"], protected_forecast, side="right")]
