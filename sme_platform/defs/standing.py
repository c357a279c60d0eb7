"""An ML asset whose inputs are those of its last materialization is not computed again.

The forecasts, the monitoring (and the SQL models and feature sets, by their own data versions)
are cheap to keep and costly to redo: on a night with nothing new, they would score and measure
the same thing again. Such an asset states its inputs as one key (the versions and settings it
was computed from, and its own code); when the key equals the one in its latest
materialization's metadata, the run materializes it again with that metadata, says "up to date"
and why, and reports the checks' last results as not run again (previous_outcomes).
"""

from __future__ import annotations

import dagster as dg

from sme_platform.defs.governance.checks import as_check_results
from sme_platform.lib.code_version import json_digest
from sme_platform.lib.sql_models.up_to_date import previous_outcomes

INPUTS_KEY = "inputs_key"


def inputs_key(**inputs) -> str:
    return json_digest(inputs)


def standing_results(
    context: dg.AssetExecutionContext,
    con,
    key: dg.AssetKey,
    current_inputs: str,
    check_names: set[str],
    what: str,
) -> list | None:
    """The results that re-materialize `key` as it stands, or None when it must be computed."""
    event = context.instance.get_latest_materialization_event(key)
    if event is None or event.asset_materialization is None:
        return None
    metadata = dict(event.asset_materialization.metadata)
    stored = metadata.get(INPUTS_KEY)
    if stored is None or stored.value != current_inputs:
        return None
    previous = previous_outcomes(con, key.to_user_string(), check_names, event.run_id, what=what)
    if previous is None:
        return None
    reason = f"up to date: inputs unchanged since run {event.run_id[:8]}"
    context.log.info(f"{key.to_user_string()} {reason}")
    metadata["up_to_date"] = dg.MetadataValue.text(reason)
    return [
        dg.MaterializeResult(asset_key=key, metadata=metadata),
        *as_check_results(key, previous),
    ]
