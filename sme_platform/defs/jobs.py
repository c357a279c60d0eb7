"""Jobs: the whole graph (what the nightly schedule and `sme-platform run` materialize)."""

import dagster as dg

all_assets_job = dg.define_asset_job(
    "materialize_all",
    selection=dg.AssetSelection.all(),
    description="Materialize the whole graph: ingestion and every stage after it, with checks.",
)
ingestion_job = dg.define_asset_job(
    "ingest_new_files",
    selection=dg.AssetSelection.groups("ingestion"),
    description="Load new source files into raw, quarantining what breaks the contracts.",
)
