"""SQL models: every file under dbt_like_sql/ an asset, found, not listed.

Group = folder, dependencies = the tables the SQL reads, code version = hash of the file. The
tests in a model's header are its asset checks; an error-severity test is blocking: the build
that fails it is not published (the previous version stays) and the step fails, so nothing
downstream materializes in that run. A model whose inputs have no source in sources.yaml is
materialized empty with the reason in its metadata (`skipped`), and its checks pass saying why
they were skipped (lib/sql_models/absent.py decides which).
"""

import dagster as dg

from sme_platform.defs.governance.checks import as_check_results, report_checks
from sme_platform.defs.ingestion.assets import raw_key
from sme_platform.defs.resources import ProjectResource
from sme_platform.lib.canonical import CANONICAL_TABLES
from sme_platform.lib.governance import record_model_skip
from sme_platform.lib.project import REPO_ROOT, SQL_MODELS_DIR
from sme_platform.lib.sql_models.absent import SkipPlan, plan_skips
from sme_platform.lib.sql_models.build import BuildOutcome, run_published_tests
from sme_platform.lib.sql_models.graph import ModelGraph, SqlModel, load_model_graph
from sme_platform.lib.sql_models.planned_build import build_and_record
from sme_platform.lib.sql_models.up_to_date import (
    FULL_REFRESH_TAG,
    build_code_version,
    model_code_fingerprint,
    model_data_version,
    previous_outcomes,
    standing_build,
)
from sme_platform.lib.warehouse import table_exists

MODELS_DIR = SQL_MODELS_DIR
PLATFORM_VERSION = build_code_version()


def model_key(qualified_name: str) -> dg.AssetKey:
    """schema.table -> its asset key; raw.<table> gives the ingestion asset's key."""
    return dg.AssetKey(qualified_name.split("."))


def skip_plan(project: ProjectResource, graph: ModelGraph, con) -> SkipPlan:
    """What this project's sources.yaml leaves without data: tables with no source and no rows
    (a source taken out of sources.yaml keeps the rows it loaded, and the models built on them
    keep being built). A project folder without one (models over tables loaded by other means,
    as in tests of the models alone) lacks nothing."""
    if not project.paths.sources_file.exists():
        return plan_skips(graph, ())
    sources = project.sources()
    return plan_skips(
        graph,
        [t for t in CANONICAL_TABLES if sources.get(t) is None and not _has_rows(con, t)],
    )


def _has_rows(con, table: str) -> bool:
    if not table_exists(con, "raw", table):
        return False
    return con.execute(f"select exists (select 1 from raw.{table})").fetchone()[0]


def build_sql_model_asset(model: SqlModel, graph: ModelGraph) -> dg.AssetsDefinition:
    key = model_key(model.qualified_name)
    header = model.header
    spec = dg.AssetSpec(
        key,
        group_name=model.schema,
        description=header.description,
        owners=[header.owner],
        deps=[raw_key(t) for t in model.raw_references]
        + [model_key(m) for m in model.model_references],
        code_version=model.code_version,
        kinds={"duckdb", "sql"},
        tags={"stage": model.schema, **({"pii": "true"} if header.pii else {})},
        metadata={
            "sql_path": (
                str(model.path.relative_to(REPO_ROOT))
                if model.path.is_relative_to(REPO_ROOT)
                else str(model.path)
            ),
            "materialization": header.materialization,
            "pii_columns": header.pii,
        },
    )
    checks = [
        dg.AssetCheckSpec(
            test.name, asset=key, blocking=test.severity == "error", description=test.description
        )
        for test in header.tests
    ]

    # can_subset: a check can be run alone from the UI, on the published table, without a
    # rebuild (the "Execute" button on a check).
    @dg.multi_asset(
        specs=[spec],
        check_specs=checks,
        name=model.qualified_name.replace(".", "__"),
        can_subset=True,
    )
    def sql_model(context: dg.AssetExecutionContext, project: ProjectResource):
        selected = {check.name for check in context.selected_asset_check_keys}
        run_id = context.run.run_id
        if key not in context.selected_asset_keys:
            with project.warehouse() as con:
                skipped_tests = skip_plan(project, graph, con).tests_of(model.qualified_name)
                results = run_published_tests(con, model, selected, skipped_tests)
                yield from report_checks(con, key, [r.outcome for r in results], run_id)
            return
        with project.warehouse() as con:
            plan = skip_plan(project, graph, con)
            skipped = plan.models.get(model.qualified_name)
            skipped_tests = plan.tests_of(model.qualified_name)
            fingerprint = model_code_fingerprint(model, skipped, skipped_tests, PLATFORM_VERSION)
            version = model_data_version(con, model, fingerprint)
            full_refresh = context.run.tags.get(FULL_REFRESH_TAG) == "true"
            standing = None if full_refresh else standing_build(con, model, version)
            previous = (
                previous_outcomes(con, key.to_user_string(), selected, standing.run_id)
                if standing
                else None
            )
        if standing is not None and previous is not None:
            reason = (
                f"up to date: inputs and code unchanged since run {standing.run_id[:8]} "
                f"({standing.built_at:%Y-%m-%d %H:%M} UTC)"
            )
            context.log.info(f"{model.qualified_name} {reason}")
            yield dg.MaterializeResult(
                asset_key=key,
                metadata={"dagster/row_count": standing.row_count, "up_to_date": reason},
                data_version=dg.DataVersion(version),
            )
            yield from as_check_results(key, previous)
            return
        if skipped:
            context.log.info(f"{model.qualified_name} built empty, tests skipped: {skipped}")
        with project.warehouse() as con:
            outcome, how = build_and_record(
                con,
                model,
                skipped=skipped,
                skipped_tests=skipped_tests,
                fingerprint=fingerprint,
                data_version=version,
                run_id=run_id,
                full_refresh=full_refresh,
            )
            context.log.info(f"{model.qualified_name} built ({how})")
            if outcome.published:
                record_model_skip(con, model.qualified_name, skipped, run_id)
            reported = report_checks(con, key, [t.outcome for t in outcome.tests], run_id)
        check_results = [result for result in reported if result.check_name in selected]
        if not outcome.published:
            yield from check_results
            failed = ", ".join(t.test.name for t in outcome.blocking_failures)
            raise dg.Failure(
                description=f"{model.qualified_name} not published: blocking test(s) {failed} "
                "failed on the new build; the previous version stays in place"
            )
        yield dg.MaterializeResult(
            asset_key=key,
            metadata={**_metadata(outcome), "build": how},
            data_version=dg.DataVersion(version),
        )
        yield from check_results

    return sql_model


def _metadata(outcome: BuildOutcome) -> dict:
    metadata = {
        "dagster/row_count": outcome.row_count,
        "dagster/column_schema": dg.TableSchema(
            columns=[dg.TableColumn(name, data_type) for name, data_type in outcome.columns]
        ),
        "seconds": round(outcome.seconds, 2),
    }
    if outcome.skipped:
        metadata["skipped"] = outcome.skipped
    if outcome.lineage_error:
        metadata["column_lineage_missing"] = outcome.lineage_error
    else:
        metadata["dagster/column_lineage"] = dg.TableColumnLineage(
            deps_by_column={
                column: [
                    dg.TableColumnDep(asset_key=model_key(table), column_name=source_column)
                    for table, source_column in sources
                ]
                for column, sources in outcome.column_lineage.items()
            }
        )
    return metadata


# Read when the definitions load, as dbt's manifest is: the graph is the SQL files.
MODEL_GRAPH = load_model_graph(MODELS_DIR)
SQL_MODEL_ASSETS = [
    build_sql_model_asset(MODEL_GRAPH.models[name], MODEL_GRAPH) for name in MODEL_GRAPH.order
]
