"""Governance: the analyst database, published after the models it holds are built, and the
audit log's hash chain, verified every night.

It depends on every SQL model, so it is the last step of a whole-graph run, and a run in which
any model failed its gate does not publish: analysts keep the last good snapshot. Its own two
checks are gates too: they run on the new file before it is renamed into place, and a failure
keeps the previous snapshot, fails the step and is recorded in governance.check_results.
"""

import dagster as dg

from sme_platform.defs.governance.audit import (
    AUDIT_LOG_KEY,
    HEAD_HASH,
    HEAD_ID,
    verify_audit_log,
)
from sme_platform.defs.governance.catalog import CATALOG_KEY, build_catalog_asset
from sme_platform.defs.governance.checks import report_checks
from sme_platform.defs.monitoring.assets import MONITORING_KEY
from sme_platform.defs.release.jobs import ANALYST_DATABASE_KEY, DEMAND_FORECAST_KEY
from sme_platform.defs.reports.assets import KPI_DASHBOARD_KEY
from sme_platform.defs.resources import ProjectResource
from sme_platform.defs.sql_models.assets import MODEL_GRAPH, model_key
from sme_platform.lib.analyst_database import publish_analyst_database
from sme_platform.lib.erasure import register as erasure_register
from sme_platform.lib.governance import DEFAULT_OWNER, CheckOutcome
from sme_platform.lib.sql_models.graph import ModelGraph


def after_every_stage(graph: ModelGraph, *more: dg.AssetKey) -> list[dg.AssetKey]:
    """Every SQL model, the forecasts and their monitoring (and `more`): a governance step
    depending on them runs after the stages that write what it reads."""
    return [model_key(name) for name in graph.order] + [DEMAND_FORECAST_KEY, MONITORING_KEY, *more]


CHECKS = ("pii_masked", "published_rows_match_warehouse")


def build_analyst_database_asset(graph: ModelGraph = MODEL_GRAPH) -> dg.AssetsDefinition:
    spec = dg.AssetSpec(
        ANALYST_DATABASE_KEY,
        group_name="governance",
        owners=[DEFAULT_OWNER],
        description=(
            "data/analytics.duckdb: staging, marts and reports with PII masked, plus "
            "governance.published_tables, governance.catalog and governance.check_results. "
            "Published atomically (a fresh file renamed into place) so analysts can query it at "
            "any time, also during a run. "
            "Grain: one snapshot per successful run."
        ),
        deps=after_every_stage(graph, CATALOG_KEY),  # the catalog is published with it
        code_version="2",  # 2: verified before it is renamed into place
        kinds={"duckdb"},
        tags={"stage": "governance"},
    )
    checks = [dg.AssetCheckSpec(name, asset=ANALYST_DATABASE_KEY, blocking=True) for name in CHECKS]

    @dg.multi_asset(specs=[spec], check_specs=checks, name="publish_analyst_database")
    def analyst_database(context: dg.AssetExecutionContext, project: ProjectResource):
        target = project.paths.analyst_database
        with project.warehouse() as con:
            # after an erasure, from an empty file: the last snapshot's free blocks hold its values
            fresh = erasure_register.pending(con, "analyst_published")
            published = publish_analyst_database(con, graph, target, context.run.run_id, fresh)
            if published.published and fresh:
                erasure_register.mark_done(con, "analyst_published")
            check_results = report_checks(
                con, ANALYST_DATABASE_KEY, published.checks, context.run.run_id
            )
        if not published.published:
            yield from check_results
            raise dg.Failure(
                description=f"{target} not replaced: {published.refusal}. The previous "
                "snapshot stays in place for analysts."
            )
        yield dg.MaterializeResult(
            asset_key=ANALYST_DATABASE_KEY,
            metadata={
                "path": str(target),
                "tables": published.tables,
                "masked_columns": published.masked_columns,
                "size_mib": round(published.bytes / 2**20, 1),
                # Only what changed since the last snapshot is copied again.
                "copied": published.copied,
                "days_replaced": published.replayed,  # incremental models: only their new days
                "kept_from_last_snapshot": len(published.tables) - len(published.copied),
            },
        )
        yield from check_results

    return analyst_database


def build_audit_log_asset(graph: ModelGraph = MODEL_GRAPH) -> dg.AssetsDefinition:
    @dg.asset(
        key=AUDIT_LOG_KEY,
        group_name="governance",
        owners=[DEFAULT_OWNER],
        description=(
            "governance.audit_log: every event an auditor may ask about (files loaded and "
            "rejected, rows quarantined, checks failed, model decisions, approvals, rollbacks, "
            "publications, erasures), append-only and hash-chained. Materialized by verifying "
            "the chain against the heads recorded in Dagster's event log; each run records the "
            "head it left as an observation. Grain: one row per event."
        ),
        # After the stages that append to it, so a whole-graph run verifies what it wrote.
        deps=after_every_stage(graph),
        check_specs=[
            dg.AssetCheckSpec(
                "audit_chain_intact",
                asset=AUDIT_LOG_KEY,
                blocking=True,
                description="Every entry hashes to its stored hash, follows the one before it, "
                "and agrees with every head recorded in Dagster's event log (sme-platform audit "
                "verify runs the same).",
            )
        ],
        code_version="1",
        kinds={"duckdb"},
        tags={"stage": "governance"},
    )
    def audit_log(context: dg.AssetExecutionContext, project: ProjectResource):
        with project.warehouse() as con:
            verification = verify_audit_log(context.instance, con)
            first = verification.first
            outcome = CheckOutcome(
                "audit_chain_intact",
                verification.intact,
                "error",
                verification.summary(),
                {
                    "entries": verification.entries,
                    "heads_checked": verification.heads_checked,
                    "findings": len(verification.findings),
                    "first_finding_entry": first.event_id if first else None,
                    "first_finding_kind": first.kind if first else None,
                },
            )
            results = report_checks(con, AUDIT_LOG_KEY, [outcome], context.run.run_id)
        head = verification.head
        metadata = {
            "dagster/row_count": verification.entries,
            "verification": verification.summary(),
            "heads_checked": verification.heads_checked,
        }
        if head is not None and verification.intact:
            # A verified head is one more record outside the file for later nights to check.
            metadata.update({HEAD_ID: head[0], HEAD_HASH: head[1]})
        yield dg.MaterializeResult(metadata=metadata)
        yield from results

    return audit_log


GOVERNANCE_ASSETS = [
    build_catalog_asset(after_every_stage(MODEL_GRAPH, KPI_DASHBOARD_KEY)),
    build_analyst_database_asset(),
    build_audit_log_asset(),
]
