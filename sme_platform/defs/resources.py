"""The one resource every stage uses: the project folder, its sources and its warehouse."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import duckdb
from pydantic import PrivateAttr

from sme_platform.defs.governance.audit import record_head
from sme_platform.defs.runs import take_turn
from sme_platform.lib.access import enforce as enforce_access
from sme_platform.lib.audit.log import chain_head, migrate_audit_log
from sme_platform.lib.erasure import register as erasure_register
from sme_platform.lib.monitoring.drift_worker import DriftWorker, plans_drift, take_worker
from sme_platform.lib.project import ProjectPaths
from sme_platform.lib.run_lock import WarehouseLock, WarehouseLockError
from sme_platform.lib.sources import SourcesConfig, load_sources
from sme_platform.lib.warehouse import connect, hold_open, rewrite_database


class ProjectResource(dg.ConfigurableResource):
    """A company's project folder: `sources.yaml`, `data/` and `data/warehouse.duckdb`.

    A run using it holds the warehouse lock from its start to its end (one writer at a time:
    a second run waits here, before its first step, instead of failing on DuckDB's lock). The
    definitions' in_process_executor sets a resource up once per run, so that is once per run.
    The warehouse is held open for the run too (warehouse.hold_open): steps' connections then
    share one DuckDB instance rather than each opening and checkpointing the file. A run whose
    plan measures drift starts the Evidently worker process here, so that it imports Evidently
    while the steps before it run (drift_worker.py).
    """

    project_dir: str
    _turn: WarehouseLock | None = PrivateAttr(default=None)
    _held: duckdb.DuckDBPyConnection | None = PrivateAttr(default=None)
    _drift_worker: DriftWorker | None = PrivateAttr(default=None)
    _audit_head: tuple[int, str] | None = PrivateAttr(default=None)
    _run_sources: SourcesConfig | None = PrivateAttr(default=None)

    @property
    def paths(self) -> ProjectPaths:
        return ProjectPaths.at(self.project_dir)

    def sources(self) -> SourcesConfig:
        """sources.yaml as this run read it first: every step of a run maps the same files
        (an edit while it runs counts from the next run), and parsing it per step cost a small
        night about 0.3 s. Outside a run (sensors), read each time."""
        if self._turn is None:
            return load_sources(self.paths.root)
        if self._run_sources is None:
            self._run_sources = load_sources(self.paths.root)
        return self._run_sources

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # Sensors and schedules are evaluated with this resource outside any run: they read
        # sources.yaml only, and must not wait for (or block) a run writing the warehouse.
        if context.run is None or context.instance is None:
            return
        log = context.log.info if context.log else print
        self._turn = take_turn(context.instance, context.run, self.paths, log=log)
        # The platform's files are its user's alone, and so is every file this run creates.
        for change in enforce_access(self.paths):
            (context.log.warning if context.log else print)(f"access restored: {change}")
        try:
            self._held = hold_open(self.paths.warehouse)
            # A log from before the hash chain is chained once, before any step appends to it;
            # the head at the start tells the teardown whether the run moved it.
            migrate_audit_log(self._held)
            self._audit_head = chain_head(self._held)
        except BaseException:
            if self._held is not None:
                self._held.close()
                self._held = None
            self._turn.release()
            self._turn = None
            raise
        if plans_drift(context.instance, context.run):
            self._drift_worker = take_worker()

    @property
    def drift_worker(self) -> DriftWorker | None:
        """The run's Evidently worker process, if its plan measures drift."""
        return self._drift_worker

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._drift_worker is not None:
            self._drift_worker.close()
            self._drift_worker = None
        try:
            # Closed before the turn is given up: the last close checkpoints the file.
            if self._held is not None:
                if context.instance is not None and context.run is not None:
                    record_head(context.instance, self._held, context.run.run_id, self._audit_head)
                # An erasure this run's load made, or one whose own rewrite failed: the file
                # may hold erased values in its free blocks until it is written anew.
                rewrite = erasure_register.pending(self._held, "warehouse_rewritten")
                self._held.close()
                self._held = None
                if rewrite:
                    rewrite_database(self.paths.warehouse)  # failed: the next run's end tries
                    with connect(self.paths.warehouse) as con:
                        erasure_register.mark_done(con, "warehouse_rewritten")
        finally:
            self._run_sources = None
            if self._turn is not None:
                self._turn.release()
                self._turn = None

    def rewrite_warehouse(self) -> int:
        """Write the warehouse anew (warehouse.rewrite_database) in the middle of a run: the
        run's held connection is closed for it and opened again on the new file. The caller
        holds no connection of its own at this point. Returns the new size in bytes."""
        if self._turn is None or self._held is None:
            raise WarehouseLockError(
                f"{self.paths.warehouse} is rewritten by a run only, holding its turn"
            )
        self._held.close()
        try:
            return rewrite_database(self.paths.warehouse)
        finally:
            self._held = hold_open(self.paths.warehouse)

    @contextmanager
    def warehouse(self) -> Iterator[duckdb.DuckDBPyConnection]:
        if self._turn is None:
            raise WarehouseLockError(
                f"{self.paths.warehouse} is written by runs only, each holding "
                f"{self.paths.warehouse_lock}; this resource was not set up by a run (a sensor, "
                "a schedule or a direct call), so it may not open the warehouse"
            )
        with connect(self.paths.warehouse) as con:
            yield con


def project_resource() -> ProjectResource:
    # Resolved when a run starts, not at import. `sme-platform run|ui` set SME_PLATFORM_DIR to the
    # project folder; no `.env` sets a default, because `dagster dev` lets a `.env` override the
    # environment, which would point the UI of one company at another's warehouse.
    return ProjectResource(project_dir=dg.EnvVar("SME_PLATFORM_DIR"))
