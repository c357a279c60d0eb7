"""Ingestion: each canonical table loaded from the company's files into raw.<table>.

One multi-asset so that tables load parents first (foreign keys are checked against the parents
loaded in the same run) and so that a table whose source is absent is skipped, not failed: its
downstream assets are skipped with it.
"""

import dagster as dg

from sme_platform.defs.ingestion.metadata import check_results, materialization_metadata
from sme_platform.defs.resources import ProjectResource
from sme_platform.lib.canonical import CANONICAL_TABLES
from sme_platform.lib.ingestion import ingest_table
from sme_platform.lib.ingestion.checks import BLOCKING_CHECKS, CHECK_NAMES, evaluate_checks

GROUP = "ingestion"


def raw_key(table: str) -> dg.AssetKey:
    return dg.AssetKey(["raw", table])


RAW_SPECS = [
    dg.AssetSpec(
        raw_key(table.name),
        group_name=GROUP,
        description=f"{table.description} Loaded as-is with lineage columns; grain: {table.grain}.",
        skippable=True,
        kinds={"duckdb"},
        tags={"stage": "ingestion", **({"pii": "true"} if table.pii_columns else {})},
        metadata={"pii_columns": list(table.pii_columns), "primary_key": list(table.primary_key)},
    )
    for table in CANONICAL_TABLES.values()
]
RAW_CHECKS = [
    dg.AssetCheckSpec(name, asset=raw_key(table), blocking=name in BLOCKING_CHECKS)
    for table in CANONICAL_TABLES
    for name in CHECK_NAMES
]


@dg.multi_asset(specs=RAW_SPECS, check_specs=RAW_CHECKS, can_subset=True, name="ingest_sources")
def ingest_sources(context: dg.AssetExecutionContext, project: ProjectResource):
    sources = project.sources()
    selected = {key.path[-1] for key in context.selected_asset_keys}
    with project.warehouse() as con:
        for table in CANONICAL_TABLES:  # parents first
            if table not in selected:
                continue
            spec = sources.get(table)
            if spec is None:
                context.log.info(f"raw/{table} skipped: sources.yaml has no source for {table}")
                continue
            result = ingest_table(con, spec, run_id=context.run.run_id)
            if result.status == "no_files":
                context.log.warning(f"raw/{table} skipped: no file matches {spec.path_pattern}")
                continue
            for rejected in result.rejected_files:
                context.log.error(rejected.message)
            yield dg.MaterializeResult(
                asset_key=raw_key(table), metadata=materialization_metadata(con, spec, result)
            )
            yield from check_results(raw_key(table), evaluate_checks(con, spec, result))
