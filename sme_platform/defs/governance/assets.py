"""Governance: the analyst database, published after the models it holds are built.

It depends on every SQL model, so it is the last step of a whole-graph run, and a run in which
any model failed its gate does not publish: analysts keep the last good snapshot.
"""

import dagster as dg

from sme_platform.defs.governance.checks import report_checks
from sme_platform.defs.resources import ProjectResource
from sme_platform.defs.sql_models.assets import MODEL_GRAPH, model_key
from sme_platform.lib.analyst_database import publish_analyst_database, verify_analyst_database
from sme_platform.lib.governance import CheckOutcome

ANALYST_DATABASE_KEY = dg.AssetKey(["governance", "analyst_database"])
CHECKS = ("pii_masked", "published_rows_match_warehouse")


def build_analyst_database_asset() -> dg.AssetsDefinition:
    graph = MODEL_GRAPH
    spec = dg.AssetSpec(
        ANALYST_DATABASE_KEY,
        group_name="governance",
        description=(
            "data/analytics.duckdb: staging, marts and reports with PII masked, plus "
            "governance.catalog and governance.check_results. Published atomically (a fresh "
            "file renamed into place) so analysts can query it at any time, also during a run. "
            "Grain: one snapshot per successful run."
        ),
        deps=[model_key(name) for name in graph.order],
        code_version="1",
        kinds={"duckdb"},
        tags={"stage": "governance"},
    )
    checks = [dg.AssetCheckSpec(name, asset=ANALYST_DATABASE_KEY) for name in CHECKS]

    @dg.multi_asset(specs=[spec], check_specs=checks, name="publish_analyst_database")
    def analyst_database(context: dg.AssetExecutionContext, project: ProjectResource):
        target = project.paths.analyst_database
        with project.warehouse() as con:
            published = publish_analyst_database(con, graph, target, context.run.run_id)
            verified = verify_analyst_database(con, graph, target, published.masked_columns)
            outcomes = [
                CheckOutcome(name, passed, "error", text) for name, passed, text in verified
            ]
            check_results = report_checks(con, ANALYST_DATABASE_KEY, outcomes, context.run.run_id)
        yield dg.MaterializeResult(
            asset_key=ANALYST_DATABASE_KEY,
            metadata={
                "path": str(target),
                "tables": published.tables,
                "masked_columns": published.masked_columns,
                "size_mib": round(published.bytes / 2**20, 1),
            },
        )
        yield from check_results

    return analyst_database


GOVERNANCE_ASSETS = [build_analyst_database_asset()]
