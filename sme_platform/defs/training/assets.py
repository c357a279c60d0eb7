"""The training stage: the demand model trained, backtested against baselines and statistical
peers on the same folds, judged by the reorder simulation, and registered as a candidate."""

import dagster as dg
import polars as pl

from sme_platform.defs.features.assets import DEMAND_FEATURES_KEY
from sme_platform.defs.governance.checks import report_checks, skipped
from sme_platform.defs.resources import ProjectResource
from sme_platform.defs.upstream import latest_metadata_value
from sme_platform.lib.features.origins import HOLDOUT
from sme_platform.lib.features.store import stored_version
from sme_platform.lib.release.registry import list_versions
from sme_platform.lib.training.config import MODEL_NAME, load_forecasting_config
from sme_platform.lib.training.frames import holiday_country, holiday_dates
from sme_platform.lib.training.pipeline import (
    NOMINAL_COVERAGE,
    history_shortfall,
    run_training,
)
from sme_platform.lib.training.registration import (
    already_trained,
    overall,
    register_candidate,
    stored_results,
    tonights_decision,
    training_code_version,
)
from sme_platform.lib.training.retraining import (
    RETRAIN_TRIGGER_TAG,
    record_trigger,
)
from sme_platform.lib.training.training_checks import training_checks

DEMAND_MODEL_KEY = dg.AssetKey(["training", "demand_forecast_model"])


class ScoringRowsOnly(RuntimeError):
    """The model is to be trained on a feature set built without training rows."""


CHECKS = {
    "backtest_complete": "Every method (LightGBM, baselines, peers) has results on every fold "
    "and the holdout, with a simulated business cost.",
    "interval_coverage": "The model's prediction intervals cover the actuals within 5 points of "
    "their nominal coverage, on average over the folds.",
}


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            DEMAND_MODEL_KEY,
            group_name="training",
            description=(
                "The demand model: a global LightGBM (Poisson) forecasting daily units per SKU "
                "and location 1..14 days ahead, backtested on 4 rolling origins and a holdout "
                "against seasonal naive, a 28-day mean and statsforecast peers, ranked by the "
                "simulated cost of the reorders its forecasts would drive; registered as a "
                "candidate in ml.model_registry (artifact in data/models/), results in "
                "ml.backtest_results. Trained on the cadence of forecasting.yaml's retraining: "
                "(every 7 days of new data), on a new recipe or source, or on a trigger (drift, "
                "live error, a person); otherwise the newest version stands and the metadata "
                "says why. Grain: one model version per retraining."
            ),
            deps=[DEMAND_FEATURES_KEY],
            code_version=training_code_version(),
            kinds={"lightgbm"},
            tags={"stage": "training"},
        )
    ],
    check_specs=[
        dg.AssetCheckSpec(
            name, asset=DEMAND_MODEL_KEY, blocking=name == "backtest_complete", description=text
        )
        for name, text in CHECKS.items()
    ],
    name="demand_forecast_model",
)
def demand_forecast_model(context: dg.AssetExecutionContext, project: ProjectResource):
    config = load_forecasting_config(project.paths.root)
    run_id = context.run.run_id
    version = latest_metadata_value(context, DEMAND_FEATURES_KEY, "feature_set_version")
    with project.warehouse() as con:
        feature_set = stored_version(con, version) if version else None
        if feature_set is None:
            reason = "no demand feature set (no sales to learn from)"
            yield from skipped(context, con, DEMAND_MODEL_KEY, CHECKS, reason)
            return
        trained = already_trained(con, MODEL_NAME, feature_set.version, config.gate)
        if trained is not None:
            reason = (
                f"{trained.version} was trained on feature set {feature_set.version} by this "
                f"code already (run {trained.run_id}): not trained again"
            )
            yield from _standing_version(context, con, trained, feature_set.version, reason, run_id)
            return
        decision = tonights_decision(
            con, config, feature_set, context.run.tags.get(RETRAIN_TRIGGER_TAG)
        )
        if not decision.train:
            newest = list_versions(con, MODEL_NAME)[-1]
            yield from _standing_version(
                context, con, newest, feature_set.version, decision.reason, run_id
            )
            return
        if feature_set.scoring_only:
            raise ScoringRowsOnly(
                f"feature set {feature_set.version} holds scoring rows only (the run that built "
                f"it, {feature_set.run_id}, was to train no model), but {MODEL_NAME} is to be "
                f"trained now ({decision.reason}): materialize features/demand_features in the "
                "same run (the retrain_demand_forecast job does)"
            )
        reason = history_shortfall(con, feature_set.version, feature_set.calendar)
        if reason is not None:
            yield from skipped(context, con, DEMAND_MODEL_KEY, CHECKS, reason)
            return
        context.log.info(f"{MODEL_NAME}: training a new version ({decision.reason})")
        if decision.triggered_by:
            record_trigger(con, MODEL_NAME, decision.triggered_by, feature_set.version, run_id)
        refused = already_trained(con, MODEL_NAME, feature_set.version)
        if refused is not None:
            context.log.info(
                f"{MODEL_NAME} {refused.version} was refused under another gate configuration: "
                "trained again as a new version, to be judged by forecasting.yaml's gate now"
            )
        country = holiday_country(con, config.demand_forecast.holiday_country)
        holidays_on = holiday_dates(country, feature_set.calendar.holiday_years)
        outcome = run_training(
            con,
            feature_set.version,
            config.demand_forecast,
            feature_set.calendar,
            holidays_on,
            config.business,
            config.autoets_series,
        )
        registered = register_candidate(
            con,
            project.paths,
            config,
            MODEL_NAME,
            feature_set.version,
            feature_set.input_versions,
            country,
            outcome,
            run_id,
        )
        results = report_checks(
            con,
            DEMAND_MODEL_KEY,
            training_checks(outcome.results, NOMINAL_COVERAGE, outcome.zero_day_share),
            run_id,
        )
    holdout = overall(outcome.results, HOLDOUT).sort("business_cost")
    yield dg.MaterializeResult(
        metadata={
            "model_name": MODEL_NAME,
            "model_version": registered.version.version,
            "feature_set_version": feature_set.version,
            "artifact": str(project.paths.models_dir / registered.version.artifact_path),
            "artifact_sha256": registered.version.artifact_sha256,
            "holdout": dg.MetadataValue.md(_markdown(holdout)),
            "training_rows": outcome.backtest.training_rows,
            "level_factors": outcome.backtest.level_factors,
            "level_warmup": outcome.backtest.warmup,
            "holiday_country": country or "none",
            # A locations' country the holidays package does not know gives none: said here.
            "public_holidays": len(holidays_on),
            "peers": outcome.notes,
            "seconds": outcome.seconds,
            "trained_because": decision.reason,
        },
        data_version=dg.DataVersion(registered.version.version),
    )
    yield from results


def _standing_version(context, con, version, feature_set_version: str, reason: str, run_id):
    """A version stands (already trained on these features, or not retrained tonight): its
    stored backtest is checked again and it is named downstream, so the release judges the
    running canary and the serving model forecasts tonight."""
    context.log.info(f"{MODEL_NAME}: {reason}")
    results = report_checks(
        con,
        DEMAND_MODEL_KEY,
        training_checks(
            stored_results(con, MODEL_NAME, version.version),
            NOMINAL_COVERAGE,
            (version.backtest or {}).get("zero_day_share"),
        ),
        run_id,
    )
    yield dg.MaterializeResult(
        metadata={
            "model_name": MODEL_NAME,
            "model_version": version.version,
            "feature_set_version": feature_set_version,
            "trained_on_feature_set": version.feature_set_version,
            "reused": reason,
        },
        data_version=dg.DataVersion(version.version),
    )
    yield from results


def _markdown(rows: pl.DataFrame) -> str:
    lines = [
        "| method | business cost | WAPE | bias | interval coverage | units short |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows.to_dicts():
        lines.append(
            f"| {r['model']} | {r['business_cost']:,.0f} | {r['wape']:.3f} | "
            f"{r['bias']:+.1%} | {r['interval_coverage']:.2f} | {r['units_short']:,.0f} |"
        )
    return "\n".join(lines)


TRAINING_ASSETS = [demand_forecast_model]
