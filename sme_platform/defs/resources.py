"""The one resource every stage uses: the project folder, its sources and its warehouse."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import duckdb

from sme_platform.lib.project import ProjectPaths
from sme_platform.lib.sources import SourcesConfig, load_sources
from sme_platform.lib.warehouse import connect


class ProjectResource(dg.ConfigurableResource):
    """A company's project folder: `sources.yaml`, `data/` and `data/warehouse.duckdb`."""

    project_dir: str

    @property
    def paths(self) -> ProjectPaths:
        return ProjectPaths.at(self.project_dir)

    def sources(self) -> SourcesConfig:
        return load_sources(self.paths.root)

    @contextmanager
    def warehouse(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with connect(self.paths.warehouse) as con:
            yield con


def project_resource() -> ProjectResource:
    # Resolved when a run starts, not at import. `sme-platform run|ui` set SME_PLATFORM_DIR to the
    # project folder; no `.env` sets a default, because `dagster dev` lets a `.env` override the
    # environment, which would point the UI of one company at another's warehouse.
    return ProjectResource(project_dir=dg.EnvVar("SME_PLATFORM_DIR"))
