"""How the `sme-platform` command runs the graph: its turn for the warehouse, the run itself
executed in this process through the project's instance, and a progress bar that follows it."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.markup import escape
from rich.progress import Progress

from sme_platform.cli_output import (
    console,
    innermost_message,
    print_failed_checks,
    print_line,
    print_summary,
    progress_bar,
)
from sme_platform.lib.project import ProjectPaths


@contextmanager
def warehouse_turn(paths: ProjectPaths) -> Iterator[str]:
    """Wait while another run writes the warehouse, then hold it for the next run (whose id
    this yields); runs whose process died are marked failed first."""
    from sme_platform.defs.runs import warehouse_lock
    from sme_platform.lib.run_lock import (
        LockHolder,
        WarehouseBusyError,
        WarehouseLockError,
        lock_timeout_seconds,
    )

    run_id = str(uuid.uuid4())
    lock = warehouse_lock(paths)
    try:
        lock.acquire(
            LockHolder.for_this_process(run_id, "from the CLI"),
            timeout_seconds=lock_timeout_seconds(os.environ),
            on_wait=lambda line: print_line(line, "yellow"),
        )
    except (WarehouseBusyError, WarehouseLockError) as error:
        print_line(str(error), "red")
        raise typer.Exit(1) from error
    try:
        mark_dead_runs_failed(marked_by=f"run {run_id}")
        yield run_id
    finally:
        lock.release()


def mark_dead_runs_failed(marked_by: str) -> None:
    """Runs whose process died (SIGKILL, power loss) would hold the instance's run queue, which
    counts runs in progress, and Dagster's default launcher cannot notice: mark them failed."""
    import dagster as dg

    from sme_platform.defs.runs import fail_dead_runs

    for line in fail_dead_runs(dg.DagsterInstance.get(), marked_by=marked_by):
        print_line(line, "yellow")


def materialize(
    select: str | None,
    run_id: str,
    job_name: str = "materialize_all",
    tags: dict[str, str] | None = None,
    run_config: dict | None = None,
) -> bool:
    import dagster as dg

    from sme_platform.definitions import defs
    from sme_platform.defs.runs import cli_run_tags

    instance = dg.DagsterInstance.get()
    job = defs.resolve_job_def(job_name)
    asset_graph = defs.resolve_asset_graph()
    keys = (
        dg.AssetSelection.from_string(select).resolve(asset_graph)
        if select
        else job.asset_layer.selected_asset_keys
    )
    watcher = RunWatcher(instance, run_id, total=len(keys))
    with progress_bar() as progress:
        watcher.attach(progress)
        # The console gets warnings and errors only; the full event log is in the UI.
        result = job.execute_in_process(
            run_config={
                "loggers": {"console": {"config": {"log_level": "WARNING"}}},
                **(run_config or {}),
            },
            instance=instance,
            asset_selection=list(keys),
            run_id=run_id,
            tags={**cli_run_tags(run_id), **(tags or {})},
            raise_on_error=False,
        )
        watcher.stop()
    console.print(
        f"Run [bold]{run_id}[/bold]: {'succeeded' if result.success else 'FAILED'}"
        f" (Dagster instance {instance.root_directory})"
    )
    for event in result.all_events:
        if event.is_step_failure:
            error = event.event_specific_data.error
            # escaped: a message may hold [brackets] rich would read as markup
            console.print(
                f"[red]step {event.step_key} failed[/red]: {escape(innermost_message(error))}"
            )
    print_failed_checks(result)
    return result.success


def run_retraining(paths: ProjectPaths, tags: dict[str, str]) -> bool:
    """The retraining job (features and everything after them) in the warehouse's turn, tagged
    with why (`sme-platform retrain`, the drift story's sensor request), then the summary."""
    from sme_platform.defs.jobs import retrain_demand_forecast_job

    with warehouse_turn(paths) as run_id:
        success = materialize(None, run_id, job_name=retrain_demand_forecast_job.name, tags=tags)
        print_summary(paths)
    not_retrained = success and model_reused_in(run_id)
    if not_retrained:
        print_line(
            f"Not retrained: {not_retrained}. Training is reproducible: the same data and code "
            "give the same model, so there is nothing new to learn. Retrain once new data is "
            "loaded (or forecasting.yaml's demand_forecast settings change).",
            "yellow",
        )
    return success and not not_retrained


def model_reused_in(run_id: str) -> str | None:
    """Why the run's training step named a standing version instead of training one (its
    materialization's `reused` metadata), or None when it trained one or did not run."""
    import dagster as dg

    from sme_platform.defs.training.assets import DEMAND_MODEL_KEY

    records = (
        dg.DagsterInstance.get()
        .get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
        .records
    )
    for record in records:
        materialization = record.event_log_entry.asset_materialization
        if materialization is not None and materialization.asset_key == DEMAND_MODEL_KEY:
            reused = materialization.metadata.get("reused")
            return None if reused is None else str(reused.value)
    return None


class RunWatcher:
    """Moves a progress bar as the run records materializations in the instance."""

    def __init__(self, instance, run_id: str, total: int):
        self.instance, self.run_id, self.total = instance, run_id, total
        self._stop = threading.Event()

    def attach(self, progress: Progress) -> None:
        task = progress.add_task("materialize assets", total=self.total)

        def poll() -> None:
            import dagster as dg

            while not self._stop.wait(0.5):
                records = self.instance.get_records_for_run(
                    self.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
                ).records
                progress.update(task, completed=len(records))
            progress.update(task, completed=self.total)

        self._thread = threading.Thread(target=poll, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def stop_on_configuration_problems(paths: ProjectPaths):
    """Before any run: every problem of the configuration files, one line each, exit 2."""
    from sme_platform.lib.config.check import check_configuration
    from sme_platform.lib.project import SQL_MODELS_DIR

    result = check_configuration(paths.root, SQL_MODELS_DIR)
    if result.ok:
        return result
    # Plain print: rich would wrap long lines and read "[...]" in them as markup.
    for line in result.problems:
        print(line)
    print(f"{len(result.problems)} configuration problem(s); nothing was run.")
    raise typer.Exit(2)
