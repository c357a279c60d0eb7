"""What an asset's upstream last produced, read from its latest materialization's metadata
(the feature set version, the model version): lineage through Dagster, not "the newest row"."""

import dagster as dg


def latest_metadata_value(
    context: dg.AssetExecutionContext, key: dg.AssetKey, name: str
) -> str | None:
    event = context.instance.get_latest_materialization_event(key)
    if event is None or event.asset_materialization is None:
        return None
    value = event.asset_materialization.metadata.get(name)
    return None if value is None else str(value.value)
