"""The release stage: the promotion gate (a blocking check that says why), the canary judged on
live actuals, and the batch forecasts published from the version the registry names."""

import dagster as dg

from sme_platform.defs.features.assets import DEMAND_FEATURES_KEY
from sme_platform.defs.governance.checks import report_checks, skipped
from sme_platform.defs.release.jobs import DEMAND_FORECAST_KEY
from sme_platform.defs.resources import ProjectResource
from sme_platform.defs.standing import INPUTS_KEY, inputs_key, standing_results
from sme_platform.defs.training.assets import DEMAND_MODEL_KEY
from sme_platform.defs.upstream import latest_metadata_value
from sme_platform.lib.asset_code_versions import forecast_code_version, release_code_version
from sme_platform.lib.features.store import stored_version
from sme_platform.lib.release.fallback import choose_fallback, publish_fallback
from sme_platform.lib.release.flow import (
    canary_challenger,
    judge_canary,
    release_candidate,
    waiting_for_release,
)
from sme_platform.lib.release.forecast_check import forecast_complete
from sme_platform.lib.release.forecasts import publish_forecasts
from sme_platform.lib.release.gate_check import gate_outcome
from sme_platform.lib.release.registry import champion
from sme_platform.lib.training.config import MODEL_NAME, load_forecasting_config
from sme_platform.lib.training.pipeline import NOMINAL_COVERAGE
from sme_platform.lib.warehouse import table_exists

RELEASE_KEY = dg.AssetKey(["release", "demand_forecast_release"])
FORECAST_CODE_VERSION = forecast_code_version()


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            RELEASE_KEY,
            group_name="release",
            description=(
                "The release decision for the demand model: the running canary judged on the "
                "actuals that arrived, then the new candidate against the champion (scored on "
                "the same holdout; the champion's own recipe on newer data is left to the "
                "canary, since the champion trained on those days) and the best baseline or "
                "peer, by simulated business cost, "
                "bias and per-segment regression; high-impact models wait for a named approval. "
                "Every decision is a row of governance.audit_log. Grain: one decision per run."
            ),
            deps=[DEMAND_MODEL_KEY],
            code_version=release_code_version(),
            kinds={"python"},
            tags={"stage": "release"},
        )
    ],
    check_specs=[
        dg.AssetCheckSpec(
            "promotion_gate",
            asset=RELEASE_KEY,
            blocking=True,
            description="Passed: the candidate is champion or in canary. Failed (warn): refused "
            "or awaiting approval, with the reasons and figures; the champion, if any, keeps "
            "serving. The forecasts wait for this decision.",
        )
    ],
    name="demand_forecast_release",
)
def demand_forecast_release(context: dg.AssetExecutionContext, project: ProjectResource):
    config = load_forecasting_config(project.paths.root)
    run_id = context.run.run_id
    candidate = latest_metadata_value(context, DEMAND_MODEL_KEY, "model_version")
    feature_version = latest_metadata_value(context, DEMAND_FEATURES_KEY, "feature_set_version")
    with project.warehouse() as con:
        if candidate is None or feature_version is None:
            reason = "no model trained this run (see training/demand_forecast_model)"
            yield from skipped(context, con, RELEASE_KEY, ["promotion_gate"], reason)
            return
        canary_decision = judge_canary(con, MODEL_NAME, config.gate, config.business, run_id)
        years = stored_version(con, feature_version).calendar.holiday_years
        for approved in waiting_for_release(con, MODEL_NAME):
            release_candidate(
                con,
                project.paths.models_dir,
                MODEL_NAME,
                approved.version,
                feature_version,
                years,
                config.gate,
                config.business,
                NOMINAL_COVERAGE,
                run_id,
            )
        released = release_candidate(
            con,
            project.paths.models_dir,
            MODEL_NAME,
            candidate,
            feature_version,
            years,
            config.gate,
            config.business,
            NOMINAL_COVERAGE,
            run_id,
        )
        serving = champion(con, MODEL_NAME)
        gate = gate_outcome(released, serving)
        results = report_checks(con, RELEASE_KEY, [gate], run_id)
    yield dg.MaterializeResult(
        metadata={
            "candidate": candidate,
            "decision": released.decision.outcome if released.decision else "judged before",
            "reasons": "\n".join(
                released.decision.reasons if released.decision else released.notes
            ),
            "champion": serving.version if serving else "none",
            "canary": canary_decision.reason if canary_decision else "no canary running",
            "notes": released.notes,
        }
    )
    yield from results


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            DEMAND_FORECAST_KEY,
            group_name="release",
            description=(
                "ml.demand_forecast: the next 14 days of demand per active series (SKU x "
                f"location) with a {NOMINAL_COVERAGE * 100:.0f} % prediction interval, from the "
                "champion (and from the canary challenger on its share of the series), the "
                "model and feature set "
                "versions on every row; while no version has passed the gate, from the cheapest "
                "baseline or peer of the newest backtest (role fallback); published to the "
                "analyst "
                "database. "
                "Grain: one row per SKU, location and forecast day."
            ),
            deps=[RELEASE_KEY, DEMAND_FEATURES_KEY],
            code_version=FORECAST_CODE_VERSION,
            kinds={"duckdb", "lightgbm"},
            tags={"stage": "release"},
        )
    ],
    check_specs=[
        dg.AssetCheckSpec(
            "forecast_complete",
            asset=DEMAND_FORECAST_KEY,
            blocking=True,
            description="Every active series has every horizon once; predictions and interval "
            "bounds are not negative, and no interval's low bound is above its high one.",
        )
    ],
    name="demand_forecast",
)
def demand_forecast(context: dg.AssetExecutionContext, project: ProjectResource):
    run_id = context.run.run_id
    feature_version = latest_metadata_value(context, DEMAND_FEATURES_KEY, "feature_set_version")
    with project.warehouse() as con:
        feature_set = stored_version(con, feature_version) if feature_version else None
        serving = champion(con, MODEL_NAME)
        choice = choose_fallback(con, MODEL_NAME) if serving is None else None
        if feature_set is None or (serving is None and choice is None):
            reason = "no feature set or no backtested model: nothing to forecast with"
            yield from skipped(context, con, DEMAND_FORECAST_KEY, ["forecast_complete"], reason)
            return
        if serving is None:
            yield from _publish_fallback(context, con, choice, feature_set, run_id)
            return
        challenger = canary_challenger(con, MODEL_NAME)
        inputs = inputs_key(
            champion=serving.version,
            canary=(challenger.version, challenger.canary_share) if challenger else None,
            feature_set=feature_set.version,
            code=FORECAST_CODE_VERSION,
        )
        standing = standing_results(
            context, con, DEMAND_FORECAST_KEY, inputs, {"forecast_complete"}, "the forecast"
        )
        if standing is not None and table_exists(con, "ml", "demand_forecast"):
            yield from standing
            return
        published = publish_forecasts(
            con,
            project.paths.models_dir,
            MODEL_NAME,
            feature_set.version,
            feature_set.calendar.holiday_years,
            run_id,
        )
        results = report_checks(
            con,
            DEMAND_FORECAST_KEY,
            [forecast_complete(con, feature_set.version, published.rows)],
            run_id,
        )
    yield dg.MaterializeResult(
        metadata={
            "dagster/row_count": published.rows,
            "series": published.series,
            "champion": published.champion_version,
            "canary": published.canary_version or "none",
            "canary_series": published.canary_series,
            "scoring_rows_per_second": round(published.rows_per_second),
            "seconds_per_batch": published.batch_seconds,
            "feature_set_version": feature_set.version,
            INPUTS_KEY: inputs,
        },
        data_version=dg.DataVersion(f"{published.champion_version}:{feature_set.version}"),
    )
    yield from results


RELEASE_ASSETS = [demand_forecast_release, demand_forecast]


def _publish_fallback(context, con, choice, feature_set, run_id):
    """No version has passed the gate: the cheapest baseline or peer of its backtest serves
    meanwhile."""
    rows = publish_fallback(
        con, choice, feature_set.version, feature_set.calendar.horizon_days, run_id
    )
    context.log.warning(choice.reason)
    results = report_checks(
        con, DEMAND_FORECAST_KEY, [forecast_complete(con, feature_set.version, rows.height)], run_id
    )
    yield dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows.height,
            "series": rows.select("sku", "location_id").n_unique(),
            "champion": "none",
            "fallback": choice.model_version,
            "fallback_reason": choice.reason,
            "feature_set_version": feature_set.version,
        },
        data_version=dg.DataVersion(f"{choice.model_version}:{feature_set.version}"),
    )
    yield from results
