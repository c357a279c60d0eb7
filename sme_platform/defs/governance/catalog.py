"""The asset catalog (governance.catalog), built from the definitions themselves and the
instance's last materializations, and the graph's snapshot that review compares."""

from datetime import UTC, datetime, timedelta

import dagster as dg

from sme_platform.defs.governance.checks import report_checks
from sme_platform.defs.resources import ProjectResource
from sme_platform.defs.sql_models.assets import MODEL_GRAPH
from sme_platform.lib.analyst_database import declared_masks
from sme_platform.lib.canonical import CANONICAL_TABLES
from sme_platform.lib.catalog import CatalogEntry, completeness, write_catalog
from sme_platform.lib.governance import DEFAULT_OWNER

CATALOG_KEY = dg.AssetKey(["governance", "catalog"])
ROW_COUNT = "dagster/row_count"


def catalog_entries(graph, instance: dg.DagsterInstance, masks: dict) -> list[CatalogEntry]:
    """One entry per asset of `graph` (an AssetGraph); `masks` as declared_masks gives them."""
    # Not the stubs a partial job makes of the assets its selection depends on.
    keys = sorted(
        (key for key in graph.get_all_asset_keys() if graph.get(key).is_materializable),
        key=lambda k: k.to_user_string(),
    )
    latest = instance.get_latest_materialization_events(keys)
    entries = []
    for key in keys:
        node = graph.get(key)
        blocking = {spec.key.name for spec in node.assets_def.check_specs if spec.blocking}
        checks = sorted(
            f"{c.name} (blocking)" if c.name in blocking else c.name for c in node.check_keys
        )
        event = latest.get(key)
        row_count = None
        if event is not None and event.asset_materialization is not None:
            value = event.asset_materialization.metadata.get(ROW_COUNT)
            row_count = int(value.value) if value is not None else None
        entries.append(
            CatalogEntry(
                asset=key.to_user_string(),
                group_name=node.group_name,
                description=node.description,
                owners=list(node.owners),
                pii=_pii(key, masks),
                checks=checks,
                freshness=_freshness(node.freshness_policy),
                upstream=sorted(k.to_user_string() for k in node.parent_keys),
                downstream=sorted(k.to_user_string() for k in node.child_keys),
                last_materialized_at=(
                    datetime.fromtimestamp(event.timestamp, UTC).replace(tzinfo=None)
                    if event
                    else None
                ),
                last_run_id=event.run_id if event else None,
                row_count=row_count,
            )
        )
    return entries


def graph_snapshot(definitions: dg.Definitions) -> dict:
    """Assets (group, owners, checks, upstream), jobs, schedules and sensors, as plain data:
    what a review should see change."""
    graph = definitions.resolve_asset_graph()
    entries = catalog_entries(graph, dg.DagsterInstance.ephemeral(), {})
    return {
        "assets": {
            e.asset: {
                "group": e.group_name,
                "owners": e.owners,
                "checks": e.checks,
                "upstream": e.upstream,
                "freshness": e.freshness,
            }
            for e in entries
        },
        "jobs": sorted(
            job.name for job in definitions.resolve_all_job_defs() if not job.name.startswith("__")
        ),
        "schedules": {
            s.name: {"cron": s.cron_schedule, "job": s.job_name} for s in definitions.schedules
        },
        "sensors": sorted(s.name for s in definitions.sensors),
    }


def build_catalog_asset(upstream: list[dg.AssetKey]) -> dg.AssetsDefinition:
    @dg.asset(
        key=CATALOG_KEY,
        group_name="governance",
        owners=[DEFAULT_OWNER],
        description=(
            "governance.catalog: every asset with its description, grain, owners, group, PII "
            "columns and their masks, checks, freshness policy, upstream and downstream assets, "
            "last materialization and row count (the analyst database publishes it too). "
            "Grain: one row per asset, replaced each run."
        ),
        deps=upstream,
        check_specs=[
            dg.AssetCheckSpec(
                "catalog_complete",
                asset=CATALOG_KEY,
                blocking=True,
                description="Every asset has an owner, a description and at least one check.",
            )
        ],
        code_version="1",
        kinds={"duckdb"},
        tags={"stage": "governance"},
    )
    def catalog(context: dg.AssetExecutionContext, project: ProjectResource):
        # The job's graph: the whole repository's in a job of the definitions, every asset
        # (selected or not); the assets given in dg.materialize.
        graph = context.job_def.asset_layer.asset_graph
        with project.warehouse() as con:
            entries = catalog_entries(graph, context.instance, declared_masks(con, MODEL_GRAPH))
            write_catalog(con, entries, context.run.run_id)
            results = report_checks(con, CATALOG_KEY, [completeness(entries)], context.run.run_id)
        yield dg.MaterializeResult(
            metadata={
                "dagster/row_count": len(entries),
                "with_pii": sum(1 for e in entries if e.pii),
                "incomplete": [e.asset for e in entries if e.problems()],
            }
        )
        yield from results

    return catalog


def _pii(key: dg.AssetKey, masks: dict) -> list[str]:
    layer, name = key.path[0], key.path[-1]
    if layer == "raw" and name in CANONICAL_TABLES:
        columns = [c.name for c in CANONICAL_TABLES[name].columns if c.pii]
        return [f"{column} (raw: never published)" for column in columns]
    declared = masks.get(f"{layer}.{name}", {})
    return [f"{column} ({mask})" for column, mask in sorted(declared.items()) if mask != "none"]


def _freshness(policy) -> str | None:
    if policy is None or not hasattr(policy, "fail_window"):
        return None

    def hours(window) -> str:
        span = timedelta(days=window.days, seconds=window.seconds)
        return f"{span.total_seconds() / 3600:g} h"

    warn = f"warn after {hours(policy.warn_window)}, " if policy.warn_window else ""
    return f"{warn}fail after {hours(policy.fail_window)}"
