"""A trained candidate into the registry: its artifact, its provenance and its backtest rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb
import polars as pl

from sme_platform.lib.code_version import imported_modules, modules_hash
from sme_platform.lib.features import holiday_countries
from sme_platform.lib.features.store import FeatureSetVersion
from sme_platform.lib.project import ProjectPaths
from sme_platform.lib.release.gate import GateConfig
from sme_platform.lib.release.registry import (
    ModelVersion,
    VersionMetadata,
    list_versions,
    register_version,
)
from sme_platform.lib.training import pipeline
from sme_platform.lib.training.backtest import LIGHTGBM
from sme_platform.lib.training.business import cost_optimal_service_level
from sme_platform.lib.training.config import MODEL_NAME, ForecastingConfig
from sme_platform.lib.training.metrics import HOLDOUT_FOLD
from sme_platform.lib.training.pipeline import TrainingOutcome
from sme_platform.lib.training.retraining import (
    RetrainingDecision,
    refused_under_another_gate,
    retraining_decision,
)

RESULTS_TABLE = "ml.backtest_results"
SUMMARY_COLUMNS = [
    "wape",
    "mae",
    "bias",
    "interval_coverage",
    "stock_out_rate",
    "units_short",
    "days_on_hand",
    "business_cost",
]


TRAINING_PACKAGE = "sme_platform.lib.training"
# Where a version keeps its baselines' interval quantiles.
FALLBACK_INTERVALS_KEY = "fallback_intervals"


def training_code_version() -> str:
    """Hash of the code that trains and judges (the training pipeline, every training module it
    imports, and the lookup of the holidays it trains with): a new hash is a new way of
    training, so the next run trains and judges again."""
    return modules_hash(*imported_modules(pipeline, holiday_countries, within=TRAINING_PACKAGE))


@dataclass(frozen=True)
class RegisteredCandidate:
    version: ModelVersion
    holdout: pl.DataFrame  # overall holdout rows of every method, cheapest first


def already_trained(
    con: duckdb.DuckDBPyConnection,
    model_name: str,
    feature_set_version: str,
    gate: GateConfig | None = None,
) -> ModelVersion | None:
    """The version trained on this feature set version by this training code, if any: the same
    data and code give the same model (training is reproducible), so it is not trained again.

    Except a version the gate refused under another gate configuration than `gate`: a data team
    that changes the gate expects the next run to judge by it, so the model is trained again as a
    new version (the same bytes) and judged afresh; the first refusal stays in the audit log."""
    code_version = training_code_version()
    matches = [
        v
        for v in list_versions(con, model_name)
        if v.feature_set_version == feature_set_version and v.code_version == code_version
    ]
    if not matches:
        return None
    newest = matches[-1]
    if gate is not None and refused_under_another_gate(con, model_name, newest.version, gate):
        return None
    return newest


def stored_results(con: duckdb.DuckDBPyConnection, model_name: str, version: str) -> pl.DataFrame:
    return con.execute(
        f"select * from {RESULTS_TABLE} where model_name = ? and model_version = ? "
        "and model != 'champion'",
        [model_name, version],
    ).pl()


def overall(results: pl.DataFrame, fold: str | None = None) -> pl.DataFrame:
    rows = results.filter(pl.col("segment_type") == "overall")
    return rows if fold is None else rows.filter(pl.col("fold") == fold)


def register_candidate(
    con: duckdb.DuckDBPyConnection,
    paths: ProjectPaths,
    config: ForecastingConfig,
    model_name: str,
    feature_set_version: str,
    input_versions: dict,
    holiday_country: str | None,
    outcome: TrainingOutcome,
    run_id: str,
) -> RegisteredCandidate:
    final = outcome.backtest.final_model
    holdout = overall(outcome.results, HOLDOUT_FOLD).sort("business_cost", "model")
    mean_over_folds = (
        overall(outcome.results).group_by("model").agg(pl.col(SUMMARY_COLUMNS).mean()).sort("model")
    )
    metadata = VersionMetadata(
        feature_set_version=feature_set_version,
        training_data_versions=input_versions,
        code_version=training_code_version(),
        parameters={
            "lightgbm": final.parameters,
            "level_factor": final.level_factor,
            # The warm-up fold the calibration fold's level correction came from (backtest.py).
            "level_warmup": outcome.backtest.warmup,
            "recent_mean_weight": final.recent_mean_weight,
            "recent_mean_windows": list(final.recent_mean_windows),
            # The forecast is exp(LightGBM's raw score + log of this level): model.offset.
            "offset_windows": list(final.offset_windows),
            "num_boost_round": final.booster.current_iteration(),
            "categories": final.categories,
            "interval": {
                "method": "split-conformal residual quantiles per horizon and forecast size, "
                "in units of sqrt(prediction + 1), from the model's backtest residuals on "
                "every fold",
                "scaled": True,
                "nominal": pipeline.NOMINAL_COVERAGE,
                "quantiles": outcome.final_quantiles.to_dicts(),
            },
            "protection_quantile": outcome.final_protection_quantile,
            # Every method's, from the calibration fold: the live ROI orders for the baselines
            # with the safety stock the backtest gave them (lib/monitoring/live_roi.py).
            "method_protection_quantiles": outcome.protection_quantiles,
            # The baselines' intervals (calibration fold), for the fallback forecast served
            # while no version has passed the gate (lib/release/fallback.py).
            FALLBACK_INTERVALS_KEY: outcome.baseline_quantiles,
            "horizon_days": config.demand_forecast.horizon_days,
            "holiday_country": holiday_country,
            "training_rows": outcome.backtest.training_rows,
            "settings": config.demand_forecast.model_dump(),
        },
        metrics=_row(holdout, LIGHTGBM),
        backtest={
            "mean_over_folds": mean_over_folds.to_dicts(),
            "peer_notes": outcome.notes,
            "seconds": outcome.seconds,
            "feature_importance": dict(list(final.feature_importance().items())[:15]),
            # What the interval_coverage check allows above nominal (lib/training/training_checks).
            "zero_day_share": outcome.zero_day_share,
        },
        business={
            "assumptions": config.business.model_dump(),
            # Beside the agreed service level, the one its money makes cheapest (the run
            # summary says when they are far apart: lib/training/forecast_summary.py).
            "cost_optimal_service_level": cost_optimal_service_level(
                outcome.forecasts.filter(
                    (pl.col("model") == LIGHTGBM) & (pl.col("fold") == HOLDOUT_FOLD)
                ),
                config.business,
            ),
            # The model's cost against every other method's with a 90 % interval over series:
            # how sure the gate's comparison is (lib/training/cost_uncertainty).
            "cost_against_others": outcome.cost_intervals,
            "holdout": {
                row["model"]: {
                    k: row[k]
                    for k in (
                        "business_cost",
                        "lost_margin",
                        "holding_cost",
                        "units_short",
                        "stock_out_rate",
                    )
                }
                for row in holdout.to_dicts()
            },
        },
    )
    version = register_version(
        con,
        paths.models_dir,
        model_name,
        final.text(),
        metadata,
        run_id=run_id,
        high_impact=config.gate.high_impact,
    )
    record_backtest_results(con, outcome.results, model_name, version.version, run_id)
    return RegisteredCandidate(version, holdout)


def _row(frame: pl.DataFrame, model_name: str) -> dict:
    rows = frame.filter(pl.col("model") == model_name).to_dicts()
    return rows[0] if rows else {}


def record_backtest_results(
    con: duckdb.DuckDBPyConnection,
    results: pl.DataFrame,
    model_name: str,
    version: str,
    run_id: str,
) -> None:
    """Append the rows to ml.backtest_results (one row per run, method, fold and segment)."""
    rows = results.with_columns(
        pl.lit(run_id).alias("run_id"),
        pl.lit(model_name).alias("model_name"),
        pl.lit(version).alias("model_version"),
        pl.lit(datetime.now(UTC).replace(tzinfo=None)).alias("created_at"),
    )
    con.execute("create schema if not exists ml")
    con.register("_backtest_rows", rows.to_arrow())
    try:
        con.execute(
            f"create table if not exists {RESULTS_TABLE} as "
            "select run_id, model_name, model_version, * exclude (run_id, model_name, "
            "model_version) from _backtest_rows where false"
        )
        con.execute(f"insert into {RESULTS_TABLE} by name select * from _backtest_rows")
    finally:
        con.unregister("_backtest_rows")


def tonights_decision(
    con: duckdb.DuckDBPyConnection,
    config: ForecastingConfig,
    feature_set: FeatureSetVersion,
    trigger: str | None,
) -> RetrainingDecision:
    """The retraining policy's decision on `feature_set` for the demand model, with this code and
    `config`. The features step asks it first (are training rows needed tonight?), the training
    step again on the stored set: the same inputs, the same answer."""
    return retraining_decision(
        con,
        MODEL_NAME,
        feature_set,
        config.demand_forecast,
        training_code_version(),
        config.retraining,
        trigger,
        config.gate,
    )
