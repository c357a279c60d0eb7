"""A sensor that starts ingestion when export files arrive or change (off until switched on in
the UI: the nightly schedule covers a company that exports once a day)."""

import hashlib
import json

import dagster as dg

from sme_platform.defs.ingestion.assets import raw_key
from sme_platform.defs.jobs import ingestion_job
from sme_platform.defs.resources import ProjectResource
from sme_platform.lib.ingestion.watch import changed_tables, source_signatures


@dg.sensor(
    job=ingestion_job,
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Loads the tables whose export files arrived or changed since the last look.",
)
def new_export_files(context: dg.SensorEvaluationContext, project: ProjectResource):
    current = source_signatures(project.sources())
    previous = json.loads(context.cursor) if context.cursor else {}
    tables = changed_tables(previous, current)
    context.update_cursor(json.dumps(current, sort_keys=True))
    if not tables:
        return dg.SkipReason("no export file arrived or changed")
    state = hashlib.sha256(json.dumps(current, sort_keys=True).encode()).hexdigest()[:16]
    return dg.RunRequest(
        run_key=f"files-{state}",
        asset_selection=[raw_key(table) for table in tables],
        tags={"trigger": "new_export_files", "tables": ",".join(tables)},
    )
