"""Split-conformal prediction intervals from residuals, the same way for every model.

Fit: on a calibration frame (forecast rows whose actuals are known, the "calibration" fold), the
residuals actual - prediction of uncensored rows are grouped per model, horizon bucket (1-7, 8-14)
and prediction-size bucket, and their (1 - nominal)/2 and (1 + nominal)/2 quantiles kept.
Residuals are scaled by sqrt(prediction + 1) (see `_scale`), and scaled back when applied:
low = prediction + lower quantile x scale, high = prediction + upper quantile x scale, both at
least 0.

Why size buckets: on intermittent demand the spread of the residuals grows with the level of the
forecast (a series forecast at 0.1 a day is off by 0 or 1, one at 20 a day by several units), so
one residual distribution per model gives too-wide intervals on slow series and too-narrow ones on
fast series. Buckets are quantiles of the calibration predictions (equal counts), merged until each
holds at least `min_rows_per_bucket` rows so their quantiles are stable.

Calibration: the "calibration" fold only (`with_conformal_intervals`), the same for every later
fold and the holdout, so no fold calibrates on its own actuals; earlier backtest folds are not
added for later ones, so every fold's intervals come from the same residuals. The intervals of
the calibration fold itself are in-sample; read its coverage with that in mind.

Holds the forecast: low <= prediction <= high, always. On a slow series the calibrated bounds
alone can both lie below the forecast: a day that sells nothing nine times in ten has the
interval [0, 0] while its mean forecast is 0.06 (half the demo's published rows, a fifth of
Online Retail's, were like that), which reads as a bug to anyone looking at one row. The bounds
are widened to the forecast. With whole-unit demand this changes no coverage where the forecast
is below 1 (no whole number lies between the old bound and the forecast) and little elsewhere.

Zero days: where a bucket sold nothing on more of its calibration days than the lower tail
((1 - nominal) / 2), its lower bound is 0 and its upper bound the nominal quantile of its
residuals (one tail, the whole nominal). Two tails there put the lower bound between 0 and 1
on the bucket's larger forecasts (the lower quantile is a zero day of a smaller forecast in
the same bucket): with whole-unit demand that bound excludes 0, on days that mostly sell
nothing. Measured before this rule, on the small benchmark's judged windows (benchmarks/
forecast.py), 11 % of every continuous method's intervals were like that on the demo, Online
Retail and the long-tail shape; on the long tail the model's interval around a forecast of
0.05 was [0.045, 0.054], which holds no whole number at all. Marginal coverage looked right
(0.81, 0.82 and 0.86 at nominal 0.8) only because those rows' zero days counted as misses.

Limit, stated rather than hidden: demand is counted in whole units, so where a day sells
nothing more often than nominal, any interval that contains 0 covers more than nominal;
coverage there is above nominal by construction (the long-tail shape, 97 % of its days without
a sale: 0.97). A model whose forecasts are themselves whole numbers (seasonal naive) puts many
rows on the same few forecast values, so its size buckets are coarse and it tends to
over-cover.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from sme_platform.lib.training.history import TrainingInputError, require_columns

# The prediction intervals' nominal coverage. 0.9 rather than 0.8: on intermittent demand most
# days of most series sell nothing (85 % on the demo, 65 % on Online Retail), and an interval
# holding 0 covers those days whatever its nominal ("Zero days" above). At 0.8
# the honest intervals covered 0.87 on both; at 0.9, 0.92 and 0.93 (the model, the small
# benchmark's judged windows). It is also the default service level (forecasting.yaml, business:).
NOMINAL_COVERAGE = 0.9

HORIZON_BUCKETS: tuple[tuple[int, int], ...] = ((1, 7), (8, 14))
QUANTILE_COLUMNS = [
    "model",
    "horizon_from",
    "horizon_to",
    "size_from",
    "residual_low",
    "residual_high",
    "low_is_zero",
    "calibration_rows",
    "nominal",
]


def size_edges(predictions: np.ndarray, size_buckets: int, min_rows: int) -> list[float]:
    """Lower edges of the prediction-size buckets (the first is -inf), each bucket >= min_rows."""
    ordered = np.sort(predictions)
    cuts = [ordered[(len(ordered) * k) // size_buckets] for k in range(1, size_buckets)]
    edges = [-np.inf, *sorted(set(float(cut) for cut in cuts))]
    while len(edges) > 1:
        counts = np.bincount(
            np.searchsorted(edges, predictions, side="right") - 1, minlength=len(edges)
        )
        small = [index for index, count in enumerate(counts) if count < min_rows]
        if not small:
            break
        # Merge the first too-small bucket into its neighbour: drop the edge between them.
        index = small[0]
        edges.pop(index if index > 0 else 1)
    return edges


def _scale(prediction: pl.Expr) -> pl.Expr:
    """Residuals are measured in units of sqrt(prediction + 1): counts spread like a Poisson
    variable, whose deviation grows with the square root of its level, so within a size bucket
    a forecast of 18 a day gets a wider interval than one of 4 (one residual per bucket gave a
    promotion day's forecast of 18 the same +2.5 units as an ordinary day's 4)."""
    return (prediction.clip(lower_bound=0.0) + 1.0).sqrt()


def _horizon_bucket(horizon_buckets: Sequence[tuple[int, int]]) -> pl.Expr:
    expression = pl.lit(None, dtype=pl.Int64())
    for start, end in reversed(horizon_buckets):
        expression = (
            pl.when(pl.col("horizon").is_between(start, end))
            .then(pl.lit(start))
            .otherwise(expression)
        )
    return expression.alias("horizon_from")


def fit_residual_quantiles(
    calibration_frame: pl.DataFrame,
    nominal: float = 0.8,
    horizon_buckets: Sequence[tuple[int, int]] = HORIZON_BUCKETS,
    size_buckets: int = 4,
    min_rows_per_bucket: int = 50,
) -> pl.DataFrame:
    """Residual quantiles per model, horizon bucket and prediction-size bucket (see module doc)."""
    if not 0 < nominal < 1:
        raise TrainingInputError(f"nominal coverage must be between 0 and 1, got {nominal}")
    require_columns(
        calibration_frame, ["model", "horizon", "actual", "censored", "prediction"], "calibration"
    )
    rows = (
        calibration_frame.filter(~pl.col("censored"))
        .with_columns(_horizon_bucket(horizon_buckets))
        .with_columns(
            residual=(pl.col("actual") - pl.col("prediction")) / _scale(pl.col("prediction"))
        )
    )
    outside = rows.filter(pl.col("horizon_from").is_null())
    if outside.height:
        raise TrainingInputError(
            f"calibration: horizon {outside.get_column('horizon')[0]} is in no horizon bucket "
            f"{list(horizon_buckets)}"
        )
    bucket_ends = {start: end for start, end in horizon_buckets}
    fitted = []
    for (model, horizon_from), group in rows.group_by(
        ["model", "horizon_from"], maintain_order=True
    ):
        predictions = group.get_column("prediction").to_numpy()
        edges = size_edges(predictions, size_buckets, min_rows_per_bucket)
        bucketed = group.with_columns(
            size_from=pl.Series(
                np.asarray(edges)[np.searchsorted(edges, predictions, side="right") - 1]
            )
        )
        fitted.append(
            bucketed.group_by("size_from")
            .agg(
                # "lower"/"higher": an observed residual, never an interpolated one, so with
                # whole-unit demand the bounds land on reachable values and cover at least nominal.
                residual_low=pl.col("residual").quantile((1 - nominal) / 2, interpolation="lower"),
                residual_high=pl.col("residual").quantile(
                    (1 + nominal) / 2, interpolation="higher"
                ),
                upper_only_high=pl.col("residual").quantile(nominal, interpolation="higher"),
                low_is_zero=(pl.col("actual") <= 0).mean() > (1 - nominal) / 2,
                calibration_rows=pl.len(),
            )
            # A bucket selling nothing on more days than the lower tail: see "Zero days".
            .with_columns(
                residual_high=pl.when(pl.col("low_is_zero"))
                .then(pl.col("upper_only_high"))
                .otherwise(pl.col("residual_high"))
            )
            .with_columns(
                model=pl.lit(model),
                horizon_from=pl.lit(horizon_from),
                horizon_to=pl.lit(bucket_ends[horizon_from]),
                nominal=pl.lit(nominal),
            )
        )
    if not fitted:
        raise TrainingInputError("calibration: no uncensored row to compute residuals from")
    return (
        pl.concat(fitted)
        .select(QUANTILE_COLUMNS)
        .with_columns(pl.col("horizon_from", "horizon_to").cast(pl.Int64))
        .sort("model", "horizon_from", "size_from")
    )


def apply_intervals(
    frame: pl.DataFrame, quantiles: pl.DataFrame, scaled: bool = True
) -> pl.DataFrame:
    """The frame with low and high filled from the residual quantiles of its model and buckets.

    Every model in the frame must have been calibrated (a model without intervals would be
    compared unfairly), else an error names it.
    """
    require_columns(frame, ["model", "horizon", "prediction"], "forecast frame")
    require_columns(
        quantiles, [c for c in QUANTILE_COLUMNS if c != "low_is_zero"], "residual quantiles"
    )
    uncalibrated = sorted(
        set(frame.get_column("model").unique()) - set(quantiles.get_column("model").unique())
    )
    if uncalibrated:
        raise TrainingInputError(
            f"no residual quantiles for model(s) {', '.join(uncalibrated)}: calibrate every "
            "model on the calibration fold first"
        )
    horizon_buckets = (
        quantiles.select("horizon_from", "horizon_to").unique().sort("horizon_from").rows()
    )
    original_columns = [c for c in frame.columns if c not in ("low", "high")]
    keyed = frame.with_row_index("_row").with_columns(_horizon_bucket(horizon_buckets))
    outside = keyed.filter(pl.col("horizon_from").is_null())
    if outside.height:
        raise TrainingInputError(
            f"forecast frame: horizon {outside.get_column('horizon')[0]} is in no calibrated "
            f"horizon bucket {horizon_buckets}"
        )
    # The lowest bucket starts at -inf; read back from JSON (the registry stores the quantiles
    # with the model, and JSON has no infinity) it is null: it is -inf again here.
    quantiles = quantiles.with_columns(pl.col("size_from").fill_null(float("-inf")))
    if "low_is_zero" not in quantiles.columns:  # stored before the zero-day rule: two tails
        quantiles = quantiles.with_columns(low_is_zero=pl.lit(False))
    joined = (
        keyed.sort("prediction")
        .join_asof(
            quantiles.sort("size_from"),
            left_on="prediction",
            right_on="size_from",
            by=["model", "horizon_from"],
            strategy="backward",
            # Sorted by prediction as a whole, hence within every model and horizon bucket.
            check_sortedness=False,
        )
        .sort("_row")
    )
    missing = joined.filter(pl.col("residual_low").is_null())
    if missing.height:
        first = missing.row(0, named=True)
        raise TrainingInputError(
            f"no residual quantiles for model {first['model']} at horizon {first['horizon']}"
        )
    # `scaled=False`: quantiles fitted in plain units, as models registered before the scaling
    # stored them; an artifact is applied with the method it was calibrated with.
    scale = _scale(pl.col("prediction")) if scaled else pl.lit(1.0)
    # The interval always holds the forecast itself (see the module doc, "Holds the forecast").
    bounds = joined.with_columns(
        low=pl.min_horizontal(
            pl.when(pl.col("low_is_zero"))
            .then(0.0)
            .otherwise(pl.col("prediction") + pl.col("residual_low") * scale)
            .clip(lower_bound=0.0),
            pl.col("prediction").clip(lower_bound=0.0),
        ),
        high=pl.max_horizontal(
            pl.col("prediction") + pl.col("residual_high") * scale,
            pl.col("prediction").clip(lower_bound=0.0),
        ),
    )
    columns = [*original_columns]
    insert_at = columns.index("prediction") + 1 if "prediction" in columns else len(columns)
    columns[insert_at:insert_at] = ["low", "high"]
    return bounds.select(columns)


def with_conformal_intervals(
    forecasts: pl.DataFrame,
    nominal: float = 0.8,
    calibration_fold: str = "calibration",
    **fit_options,
) -> pl.DataFrame:
    """Every row's interval from the residuals of its model on the calibration fold (the same
    calibration for all later folds and the holdout)."""
    require_columns(forecasts, ["fold"], "forecast frame")
    calibration = forecasts.filter(pl.col("fold") == calibration_fold)
    if calibration.is_empty():
        raise TrainingInputError(
            f"forecast frame has no {calibration_fold!r} fold to calibrate the intervals on "
            f"(folds: {', '.join(sorted(forecasts.get_column('fold').unique()))})"
        )
    quantiles = fit_residual_quantiles(calibration, nominal=nominal, **fit_options)
    return apply_intervals(forecasts, quantiles)
