"""Every model's forecasts judged the same way: accuracy and the reorder simulation per model,
fold and segment, as the rows of ml.backtest_results (the caller adds run_id, model_name,
model_version and created_at), and the ranking the business agrees to: by simulated cost.
"""

from __future__ import annotations

import polars as pl

from sme_platform.lib.training.business import (
    BUSINESS_COLUMNS,
    BusinessAssumptions,
    business_by_segment,
)
from sme_platform.lib.training.history import (
    FORECAST_SCHEMA,
    SERIES_KEYS,
    TrainingInputError,
    require_columns,
)
from sme_platform.lib.training.metrics import (
    ACCURACY_COLUMNS,
    HOLDOUT_FOLD,
    RESULT_KEYS,
    accuracy_by_segment,
)
from sme_platform.lib.training.safety_stock import ProtectionQuantile

# The columns of ml.backtest_results this module fills, in the table's order.
RESULT_COLUMNS = [
    *RESULT_KEYS,
    *ACCURACY_COLUMNS,
    *[c for c in BUSINESS_COLUMNS if not c.startswith("series_")],
]
# Not in ml.backtest_results: how many series of the segment used the default price / cost.
ASSUMPTION_COLUMNS = ["series_price_assumed", "series_cost_assumed"]
ROW_KEYS = ["model", "fold", *SERIES_KEYS, "horizon"]


def combine_forecasts(forecast_frames: list[pl.DataFrame]) -> pl.DataFrame:
    """The frames stacked, checked: one row per model, fold, series and horizon, and every model
    on the same folds, series and horizons (a comparison on different rows is not fair)."""
    if not forecast_frames:
        raise TrainingInputError("evaluate: no forecast frame given")
    for frame in forecast_frames:
        model = frame.get_column("model")[0] if "model" in frame.columns and frame.height else "?"
        require_columns(frame, list(FORECAST_SCHEMA), f"forecast frame of model {model}")
    forecasts = pl.concat(
        [
            frame.select(pl.col(c).cast(dtype) for c, dtype in FORECAST_SCHEMA.items())
            for frame in forecast_frames
        ]
    )
    # One group-by over the row keys answers both checks (a struct-wide duplicate scan and a
    # separate unique would each cost as much at 100k series).
    per_row = forecasts.group_by(ROW_KEYS[1:]).agg(rows=pl.len(), models=pl.col("model").n_unique())
    duplicated = per_row.filter(pl.col("rows") != pl.col("models"))
    if duplicated.height:
        raise TrainingInputError(
            "evaluate: one row per model, fold, sku, location_id and horizon expected; "
            f"{duplicated.height} key(s) repeated, first: "
            f"{duplicated.select(ROW_KEYS[1:]).row(0, named=True)}"
        )
    rows_per_model = (
        forecasts.group_by("model").len().filter(pl.col("len") != per_row.height).sort("model")
    )
    if rows_per_model.height:
        first = rows_per_model.row(0, named=True)
        raise TrainingInputError(
            f"evaluate: model {first['model']} has {first['len']} of the {per_row.height} fold "
            "x series x horizon rows the models cover together: all models must forecast the "
            "same rows"
        )
    return forecasts


def evaluate(
    forecast_frames: list[pl.DataFrame],
    assumptions: BusinessAssumptions | None = None,
    nominal: float = 0.8,
    protection_quantiles: dict[str, ProtectionQuantile] | None = None,
) -> pl.DataFrame:
    """One row per model, fold and segment: accuracy (lib/training/metrics) joined with the
    reorder simulation (lib/training/business), intervals as filled in the frames."""
    assumptions = assumptions or BusinessAssumptions()
    forecasts = combine_forecasts(forecast_frames)
    accuracy = accuracy_by_segment(forecasts, nominal)
    business = business_by_segment(forecasts, assumptions, nominal, protection_quantiles)
    # Full join: a segment whose every day is censored has no accuracy row but a simulation.
    return (
        accuracy.join(business, on=RESULT_KEYS, how="full", coalesce=True)
        .select(*RESULT_COLUMNS, *ASSUMPTION_COLUMNS)
        .sort(RESULT_KEYS)
    )


def rank_by_business_cost(results: pl.DataFrame, fold: str = HOLDOUT_FOLD) -> pl.DataFrame:
    """The models' overall rows on one fold, cheapest simulated business cost first (rank 1);
    ties broken by model name so the order is stable."""
    require_columns(results, [*RESULT_KEYS, "business_cost"], "backtest results")
    rows = results.filter((pl.col("fold") == fold) & (pl.col("segment_type") == "overall"))
    if rows.is_empty():
        raise TrainingInputError(
            f"backtest results have no overall row for fold {fold!r} "
            f"(folds: {', '.join(sorted(results.get_column('fold').unique())) or 'none'})"
        )
    return (
        rows.sort(["business_cost", "model"], nulls_last=True)
        .with_row_index("rank", offset=1)
        .with_columns(pl.col("rank").cast(pl.Int64))
    )
