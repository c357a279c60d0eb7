"""Jobs: the whole graph (what the nightly schedule and `sme-platform run` materialize)."""

import dagster as dg

# On demand, each its own job with config: not part of the nightly graph.
COMPLIANCE_REPORT_KEY = dg.AssetKey(["reports", "compliance_report"])
ERASURES_KEY = dg.AssetKey(["governance", "erasures"])
ON_DEMAND = dg.AssetSelection.assets(COMPLIANCE_REPORT_KEY, ERASURES_KEY)

all_assets_job = dg.define_asset_job(
    "materialize_all",
    selection=dg.AssetSelection.all() - ON_DEMAND,
    description="Materialize the whole graph: ingestion and every stage after it, with checks "
    "(not the compliance report nor erasures, which are on demand).",
)
compliance_report_job = dg.define_asset_job(
    "compliance_report",
    selection=dg.AssetSelection.assets(COMPLIANCE_REPORT_KEY),
    description="Write the compliance report for a period (config: period_start, period_end; "
    "sme-platform report compliance --from DATE --to DATE).",
)
erase_customer_job = dg.define_asset_job(
    "erase_customer",
    selection=dg.AssetSelection.assets(ERASURES_KEY),
    description="Erase one customer's personal data everywhere the platform keeps it, their "
    "sales and tickets kept under a pseudonym; audited (config: customer_id, requested_by, "
    "reason; sme-platform erase customer ID --by NAME --reason TEXT).",
)
ingestion_job = dg.define_asset_job(
    "ingest_new_files",
    selection=dg.AssetSelection.groups("ingestion"),
    description="Load new source files into raw, quarantining what breaks the contracts.",
)
# The demand model's retraining: its features and everything after them (training, the gate,
# the forecasts, their monitoring, the reports and the analyst database), not the ingestion
# and SQL models: the data is what the last night loaded.
retrain_demand_forecast_job = dg.define_asset_job(
    "retrain_demand_forecast",
    selection=dg.AssetSelection.assets(dg.AssetKey(["features", "demand_features"])).downstream()
    - ON_DEMAND,
    description="Rebuild the demand features from the loaded data and train a new version of "
    "the demand model, judged by the gate (started by the drift sensor or sme-platform retrain).",
)
