"""Ingestion: each canonical table loaded from the company's files into raw.<table>.

One asset (one step) per table, so a table whose gate fails stops only what depends on it. A table
whose source is absent is not loaded, not failed: it stays the empty canonical table, with the
reason in the run log and the metadata, so the SQL models downstream still build (a company
without inventory exports gets sales marts with unknown stock-outs, not no marts).
Foreign keys are checked against the parent tables as loaded; parents load first in a run
because their steps carry a higher `dagster/priority`, not through a dependency edge, so that a
child still loads (with the foreign key check skipped) when a parent's source is absent.
"""

import dagster as dg

from sme_platform.defs.governance.checks import report_checks
from sme_platform.defs.ingestion.metadata import materialization_metadata
from sme_platform.defs.resources import ProjectResource
from sme_platform.lib.canonical import CANONICAL_TABLES, CanonicalTable
from sme_platform.lib.erasure.serve import Places, erase_returning
from sme_platform.lib.governance import DEFAULT_OWNER
from sme_platform.lib.ingestion import LoadStatus, ingest_table, table_data_version
from sme_platform.lib.ingestion.checks import (
    BLOCKING_CHECKS,
    CHECK_NAMES,
    absent_source_checks,
    evaluate_checks,
)
from sme_platform.lib.warehouse import ensure_ingestion_tables

GROUP = "ingestion"


def raw_key(table: str) -> dg.AssetKey:
    return dg.AssetKey(["raw", table])


def _load_priority(table: CanonicalTable) -> int:
    """Tables that others reference load first: the deeper a table, the lower its priority."""
    depth = 0
    parents = set(table.parent_tables)
    while parents:
        depth += 1
        parents = {p for parent in parents for p in CANONICAL_TABLES[parent].parent_tables}
    return 10 - depth


def build_ingestion_asset(table: CanonicalTable) -> dg.AssetsDefinition:
    key = raw_key(table.name)
    spec = dg.AssetSpec(
        key,
        group_name=GROUP,
        owners=[DEFAULT_OWNER],
        description=f"{table.description} Loaded as-is with lineage columns; grain: {table.grain}.",
        skippable=True,
        code_version=table.contract_version,
        kinds={"duckdb"},
        tags={"stage": "ingestion", **({"pii": "true"} if table.pii_columns else {})},
        metadata={
            "pii_columns": list(table.pii_columns),
            "primary_key": list(table.primary_key),
            "foreign_keys": [
                f"{fk.column} -> raw.{fk.parent_table}.{fk.parent_column}"
                for fk in table.foreign_keys
            ],
        },
    )
    checks = [
        dg.AssetCheckSpec(name, asset=key, blocking=name in BLOCKING_CHECKS) for name in CHECK_NAMES
    ]

    @dg.multi_asset(
        specs=[spec],
        check_specs=checks,
        name=f"ingest_{table.name}",
        can_subset=True,
        op_tags={"dagster/priority": str(_load_priority(table))},
    )
    def ingest(context: dg.AssetExecutionContext, project: ProjectResource):
        source_config = project.sources()
        source = source_config.get(table.name)
        with project.warehouse() as con:
            if source is None:
                yield from _absent(context, con, "sources.yaml has no source for it")
                return
            result = ingest_table(
                con,
                source,
                run_id=context.run.run_id,
                rejected_files_dir=project.paths.rejected_files,
            )
            if result.status == LoadStatus.NO_FILES:
                yield from _absent(context, con, f"no file matches {source.path_pattern}")
                return
            for rejected in result.rejected_files:
                context.log.error(rejected.message)
            places = Places.of(project.paths)
            run_id = context.run.run_id
            for erasure in erase_returning(
                con, table.name, places=places, sources=source_config, run_id=run_id
            ):
                context.log.warning(
                    f"an erased customer is back in raw/{table.name}: {erasure.summary()}"
                )  # the run's end writes the warehouse anew (governance.erasures says it is due)
            yield dg.MaterializeResult(
                asset_key=key,
                metadata=materialization_metadata(con, source, result),
                data_version=dg.DataVersion(table_data_version(con, table.name)),
            )
            outcomes = evaluate_checks(con, source, result)
            yield from report_checks(con, key, outcomes, context.run.run_id)

    def _absent(context, con, reason: str):
        context.log.warning(f"raw/{table.name} not loaded: {reason}")
        ensure_ingestion_tables(con, table)
        rows = con.execute(f"select count(*) from raw.{table.name}").fetchone()[0]
        yield dg.MaterializeResult(
            asset_key=key,
            metadata={"source": f"absent: {reason}", "dagster/row_count": rows, "rows_read": 0},
            data_version=dg.DataVersion(table_data_version(con, table.name)),
        )
        outcomes = absent_source_checks(table.name, reason)
        yield from report_checks(con, key, outcomes, context.run.run_id)

    return ingest


INGESTION_ASSETS = [build_ingestion_asset(table) for table in CANONICAL_TABLES.values()]
