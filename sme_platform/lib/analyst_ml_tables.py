"""The ML stages' tables the analyst database publishes beside the SQL models, with the
description its catalog gives each."""

import duckdb

from sme_platform.lib.audit.log import AUDIT_TABLE
from sme_platform.lib.training.conformal import NOMINAL_COVERAGE

# The ML stages' tables analysts read, none holding personal data: what each model forecast, how
# it was judged, which version serves and why, and where its features came from.
ML_TABLES = {
    "ml.demand_forecast": (
        f"The next 14 days of demand per SKU and location with a {NOMINAL_COVERAGE * 100:.0f} % "
        "interval, from the champion (or the canary challenger on its share), with model and "
        "feature versions. "
        "Grain: one row per SKU, location and forecast day."
    ),
    "ml.backtest_results": (
        "Backtest of every trained version against baselines and statistical peers: accuracy "
        "and simulated reorder cost. Grain: one row per run, method, fold and segment."
    ),
    "ml.model_registry": (
        "Model versions with status, metrics, provenance and approvals. "
        "Grain: one row per model version."
    ),
    "governance.audit_log": (
        "Every event an auditor may ask about: files loaded and rejected, rows quarantined, "
        "checks failed, model decisions (trained, gate passed or refused and why, approved by "
        "whom, canary, promoted, rolled back), publications; hash-chained. "
        "Grain: one row per event, append-only."
    ),
    "governance.catalog": (
        "Every asset of the platform: description, grain, owners, group, PII columns and "
        "masks, checks, freshness policy, upstream and downstream, last build and row count. "
        "Grain: one row per asset."
    ),
    "features.feature_set_versions": (
        "Provenance of each feature set version: input data versions, settings, row counts. "
        "Grain: one row per feature set version."
    ),
    "monitoring.feature_drift": (
        "The serving model's inputs against its training rows, per night (Evidently): drift "
        "score, method, threshold, drifted, report path. Grain: one row per night, model "
        "version and feature."
    ),
    "monitoring.forecast_accuracy": (
        "Live accuracy of the published forecasts once actuals arrived: WAPE and bias. "
        "Grain: one row per model version, role, day and segment."
    ),
    "monitoring.prediction_drift": (
        "The serving model's forecasts against its first forecasts, per night (Evidently): "
        "score, method, threshold, drifted, mean forecast of each. Grain: one row per night "
        "and model version."
    ),
    "monitoring.scoring_latency": (
        "How fast the forecasts were scored: rows, seconds, rows per second, versions scored. "
        "Grain: one row per publishing run."
    ),
    "monitoring.data_quality_daily": (
        "Per day and source: rows read, quarantined (share), files loaded and rejected. "
        "Grain: one row per load day and source."
    ),
    "monitoring.check_failures_daily": (
        "Per day and stage: checks run and failed, and which. Grain: one row per day and stage."
    ),
    "monitoring.business_impact": (
        "The current period's money: ordering from the served forecasts against the cheapest "
        "baseline or peer at the same origins, simulated on the days sold since. "
        "Grain: one row per monitoring run."
    ),
}


def append_audit_entries(con, alias: str, in_snapshot: bool) -> str | None:
    """The audit log grows by appending (and every snapshot's publication is an entry of the
    next): add the entries the snapshot lacks, if its last entry is still the warehouse's (the
    same id and hash); what was appended, or None to copy the table whole."""
    if not in_snapshot:
        return None
    try:
        last = con.execute(
            f"select event_id, entry_hash from {alias}.{AUDIT_TABLE} order by event_id desc limit 1"
        ).fetchone()
    except duckdb.BinderException:  # a snapshot from before the hash chain
        return None
    if last is None or con.execute(
        f"select entry_hash from {AUDIT_TABLE} where event_id = ?", [last[0]]
    ).fetchone() != (last[1],):
        return None
    added = con.execute(
        f"""insert into {alias}.{AUDIT_TABLE} select * from {AUDIT_TABLE}
            where event_id > ? order by event_id""",
        [last[0]],
    ).fetchone()[0]
    return f"{added} entry(ies) appended after entry {last[0]}"
