"""The Dagster definitions: every stage's assets, one resource, one job, one schedule.

Thin on purpose: stages live in sme_platform/defs/<stage>/, logic in sme_platform/lib/.
Writes to the DuckDB warehouse are serialized by running each run's steps in one process
(in_process_executor) and runs one at a time (the instance's run queue).
"""

import dagster as dg

from sme_platform.defs.ingestion.assets import INGESTION_ASSETS
from sme_platform.defs.jobs import all_assets_job, ingestion_job
from sme_platform.defs.resources import project_resource
from sme_platform.defs.schedules import nightly_schedule

DEFAULT_OWNER = "team:data"

defs = dg.Definitions(
    assets=INGESTION_ASSETS,
    jobs=[all_assets_job, ingestion_job],
    schedules=[nightly_schedule],
    resources={"project": project_resource()},
    executor=dg.in_process_executor,
).map_asset_specs(
    # Governance policy, applied once: every asset has an owner.
    func=lambda spec: spec if spec.owners else spec.replace_attributes(owners=[DEFAULT_OWNER])
)
