"""The feature store stage: the demand feature set, versioned, with its leakage gate."""

import json

import dagster as dg

from sme_platform.defs.governance.checks import as_check_results, report_checks, skipped
from sme_platform.defs.resources import ProjectResource
from sme_platform.defs.sql_models.assets import MODEL_GRAPH, model_key
from sme_platform.lib.features.demand import definition_hash
from sme_platform.lib.features.events_refresh import refresh_demand_events
from sme_platform.lib.features.gaps import CHECK_NAME as GAP_CHECK
from sme_platform.lib.features.gaps import history_outcome, sales_gaps
from sme_platform.lib.features.leakage import check_leakage
from sme_platform.lib.features.learned_history import history_start
from sme_platform.lib.features.origins import NoDemandData
from sme_platform.lib.features.store import STAGING_MODELS, materialize_feature_set
from sme_platform.lib.features.validity import feature_value_problems
from sme_platform.lib.governance import CheckOutcome
from sme_platform.lib.sql_models.up_to_date import FULL_REFRESH_TAG, previous_outcomes
from sme_platform.lib.training.config import load_forecasting_config
from sme_platform.lib.training.registration import tonights_decision
from sme_platform.lib.training.retraining import RETRAIN_TRIGGER_TAG

DEMAND_FEATURES_KEY = dg.AssetKey(["features", "demand_features"])
CHECKS = {
    "no_leakage": "A sample of feature rows, recomputed from only the data known at each "
    "row's origin by a second implementation, matches the stored values.",
    "feature_values_valid": "No required feature is null, none is negative, shares lie in "
    "0..1, one row per series and origin.",
    GAP_CHECK: "No run of 3 or more days without a sale anywhere inside the "
    "history the features see (a missing or late file reads as days without demand); a "
    "warning: a closed period is a real answer.",
}


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            DEMAND_FEATURES_KEY,
            group_name="features",
            description=(
                "Demand features per series (SKU x location) and forecast origin, point-in-time "
                "correct (only data known before the origin, late files included), versioned by "
                "the hash of their definition, settings and input data versions; provenance in "
                "features.feature_set_versions, targets in features.demand_targets. "
                "Grain: one row per feature set version, series and origin."
            ),
            deps=[model_key(m) for m in STAGING_MODELS if m in MODEL_GRAPH.models],
            code_version=definition_hash(),
            kinds={"duckdb"},
            tags={"stage": "features"},
        )
    ],
    check_specs=[
        # The history check warns (a closed period is a real answer): it never blocks.
        dg.AssetCheckSpec(
            name, asset=DEMAND_FEATURES_KEY, blocking=name != GAP_CHECK, description=text
        )
        for name, text in CHECKS.items()
    ],
    name="demand_features",
)
def demand_features(context: dg.AssetExecutionContext, project: ProjectResource):
    config = load_forecasting_config(project.paths.root)
    settings = config.demand_forecast
    code_versions = {m: MODEL_GRAPH.models[m].code_version for m in STAGING_MODELS}
    run_id = context.run.run_id
    full_refresh = context.run.tags.get(FULL_REFRESH_TAG) == "true"
    trigger = context.run.tags.get(RETRAIN_TRIGGER_TAG)
    decisions = []

    def trains_on(candidate):
        # Training and backtest rows only for a night that trains (the retraining policy).
        decisions.append(tonights_decision(con, config, candidate, trigger))
        return decisions[-1].train

    with project.warehouse() as con:
        try:
            feature_set = materialize_feature_set(
                con, settings, code_versions, run_id, full_refresh, trains_on
            )
        except NoDemandData as reason:
            yield from skipped(context, con, DEMAND_FEATURES_KEY, CHECKS, str(reason))
            return
        judged = {"feature_set_version": feature_set.version}
        previous = (
            previous_outcomes(
                con,
                DEMAND_FEATURES_KEY.to_user_string(),
                set(CHECKS),
                feature_set.run_id,
                judged,
                f"feature set {feature_set.version}",
            )
            if feature_set.reused
            else None
        )
        if previous is not None:
            # The stored version's rows were judged when it was built: not judged again.
            results = as_check_results(DEMAND_FEATURES_KEY, previous)
        else:
            results = _judge(con, feature_set, settings, judged, run_id)
    yield dg.MaterializeResult(
        metadata=_metadata(feature_set, settings, decisions[-1] if decisions else None),
        data_version=dg.DataVersion(feature_set.version),
    )
    yield from results


def _judge(con, feature_set, settings, judged: dict, run_id: str) -> list:
    if feature_set.reused:
        refresh_demand_events(con, run_id)  # the leakage check recomputes from the events
    leakage = check_leakage(con, feature_set.version, seed=settings.sample_seed)
    problems = feature_value_problems(con, feature_set.version)
    first_day, newest_day = (
        history_start(feature_set.calendar, settings),
        feature_set.calendar.newest_day,
    )
    gaps = sales_gaps(con, first_day, newest_day)
    outcomes = [
        CheckOutcome(
            "no_leakage",
            leakage.passed,
            "error",
            f"{leakage.rows_checked} rows recomputed ({leakage.late_rows_in_sample} with late "
            f"data unseen at their origin): {len(leakage.mismatches)} mismatch(es)",
            {
                "mismatches": leakage.mismatches[:20],
                "rows_checked": leakage.rows_checked,
                **judged,
            },
        ),
        CheckOutcome(
            "feature_values_valid",
            not problems,
            "error",
            "all rows valid" if not problems else f"rows breaking rules: {problems}",
            {"problems": problems, **judged},
        ),
        history_outcome(gaps, first_day, newest_day, judged),
    ]
    return report_checks(con, DEMAND_FEATURES_KEY, outcomes, run_id)


def _metadata(feature_set, settings, decision) -> dict:
    calendar = feature_set.calendar
    counts = feature_set.counts
    if feature_set.scoring_only:
        why = decision.reason if decision else "the run that built it trained no model"
        rows = f"{counts.get('scoring_series')} active series forecast; no training rows: {why}"
    else:
        rows = (
            f"{counts.get('scoring_series')} active series forecast; training on "
            f"{counts.get('training_series')} of {counts.get('candidate_series')} series, "
            f"sampled by series to fit {settings.training_row_budget:,} rows"
        )
    return {
        "feature_set_version": feature_set.version,
        "reused_stored_version": feature_set.reused,
        "dagster/row_count": feature_set.row_count,
        "target_rows": feature_set.target_rows,
        "newest_day": calendar.newest_day.isoformat(),
        "scoring_origin": calendar.scoring_origin.isoformat(),
        "fold_origins": {k: v.isoformat() for k, v in calendar.model_fold_origins().items()},
        "series_and_budget": rows,
        "scoring_only": feature_set.scoring_only,
        "counts": feature_set.counts,
        "input_versions": dg.MetadataValue.json(feature_set.input_versions),
        "settings": dg.MetadataValue.json(json.loads(settings.model_dump_json())),
    }


FEATURE_ASSETS = [demand_features]
