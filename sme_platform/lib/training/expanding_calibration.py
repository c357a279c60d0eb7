"""Each backtest window's safety stock calibrated as production calibrates it.

Production orders the final model's safety stock from its misses on every backtest window
(pipeline.run_training: `final_protection_quantile`). The judge does the same out of sample:
each window after the calibration fold is judged with the protection quantiles of the
calibration fold and every window before it (never its own), so the holdout is judged with the
safety stock of five windows, as production orders with six.

Until 2026-12-04 every window was judged with the calibration fold's quantiles alone
(`judge_with_calibration_fold`, kept for benchmarks/model_variants.py --calibration). That fold
is the one the model forecasts without its level correction (no fold before it to correct
from): the model's forecast there was 12 % below what sold on the demo and 30 % on the long
tail, where the peers' were as biased as on later folds. Its misses were wide, so every later
(corrected) window got a safety stock larger than its forecasts needed; at the demo's service
level (0.9, far below the cost-optimal 0.996) the simulated cost is almost all lost margin, and
the extra stock made the model look 11 points cheaper against the cheapest peer over every
window than with this judgement (README, "The calibration window decided most of the margin").
"""

from __future__ import annotations

from collections.abc import Iterator

import polars as pl

from sme_platform.lib.training.business import BusinessAssumptions
from sme_platform.lib.training.evaluate import evaluate
from sme_platform.lib.training.metrics import RESULT_KEYS
from sme_platform.lib.training.safety_stock import ProtectionQuantile, fit_protection_quantiles


def window_order(forecasts: pl.DataFrame) -> list[str]:
    """The folds oldest first (by their origin; the calibration fold is the oldest)."""
    origins = forecasts.group_by("fold").agg(pl.col("origin_date").min()).sort("origin_date")
    return origins.get_column("fold").to_list()


def judge_with_expanding_calibration(
    everything: pl.DataFrame,
    judged: pl.DataFrame,
    assumptions: BusinessAssumptions,
    nominal: float,
) -> pl.DataFrame:
    """ml.backtest_results rows of every window of `judged` (the windows after the calibration
    fold, their intervals filled: pipeline.judge_methods), each judged with the safety stock
    that the windows of `everything` before it calibrate."""
    folds = window_order(everything)
    if len(folds) < 2:
        raise ValueError(
            f"an expanding calibration needs a calibration window and a window to judge; "
            f"the forecasts hold {', '.join(folds) or 'no fold'}"
        )
    results = [
        evaluate([window], assumptions, nominal, protection)
        for window, protection in windows_with_protection(everything, judged, assumptions)
    ]
    return pl.concat(results).sort(RESULT_KEYS)


def windows_with_protection(
    everything: pl.DataFrame, judged: pl.DataFrame, assumptions: BusinessAssumptions
) -> Iterator[tuple[pl.DataFrame, dict[str, ProtectionQuantile]]]:
    """Each window of `judged` after the calibration fold, with the protection quantiles of the
    windows of `everything` before it."""
    folds = window_order(everything)
    for position, fold in enumerate(folds[1:], start=1):
        before = everything.filter(pl.col("fold").is_in(folds[:position]))
        window = judged.filter(pl.col("fold") == fold)
        yield window, fit_protection_quantiles(before, assumptions)


def judge_with_calibration_fold(
    everything: pl.DataFrame,
    judged: pl.DataFrame,
    assumptions: BusinessAssumptions,
    nominal: float,
) -> pl.DataFrame:
    """The judgement before 2026-12-04: every window of `judged` with the safety stock of the
    calibration fold (the oldest window of `everything`) alone."""
    calibration = everything.filter(pl.col("fold") == window_order(everything)[0])
    protection = fit_protection_quantiles(calibration, assumptions)
    return evaluate([judged], assumptions, nominal, protection)
