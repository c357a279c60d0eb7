"""What sources.yaml says about a source (its description and owner), on its ingestion asset."""

import dagster as dg

from sme_platform.lib.sources import SourcesConfig


def with_source_details(spec: dg.AssetSpec, sources: SourcesConfig) -> dg.AssetSpec:
    """raw/<table>'s spec with the source's description first and its owner, when given."""
    if len(spec.key.path) != 2 or spec.key.path[0] != "raw":
        return spec
    source = sources.get(spec.key.path[1])
    if source is None:
        return spec
    changes: dict = {}
    if source.description:
        changes["description"] = f"{source.description} (sources.yaml)\n\n{spec.description}"
    if source.owner:
        changes["owners"] = [source.owner]
    return spec.replace_attributes(**changes) if changes else spec
