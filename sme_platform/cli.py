"""The `sme-platform` command: generate demo data, run the graph, start the UI."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from sme_platform.lib.project import REPO_ROOT, SQL_MODELS_DIR, ProjectPaths

app = typer.Typer(
    help="sme_platform: a company's exports to validated tables, features, models and KPIs.",
    no_args_is_help=True,
    add_completion=False,
)
# Outside a terminal (logs, CI) rich would wrap at 80 columns and cut table names.
console = Console(width=None if sys.stdout.isatty() else 120)

ProjectDir = Annotated[
    Path,
    typer.Option(
        "--project-dir",
        envvar="SME_PLATFORM_DIR",
        help="Project folder holding sources.yaml and data/ (default: the repo root).",
        file_okay=False,
    ),
]


def _activate(project_dir: Path) -> ProjectPaths:
    """Point Dagster and the definitions at the project: its own instance and warehouse."""
    paths = ProjectPaths.at(project_dir)
    if not paths.sources_file.exists():
        console.print(
            f"[red]{paths.sources_file} not found[/red]: is {paths.root} a project folder?"
        )
        raise typer.Exit(2)
    os.environ["SME_PLATFORM_DIR"] = str(paths.root)
    os.environ["DAGSTER_HOME"] = str(paths.ensure_dagster_home())
    return paths


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


@app.command()
def generate(
    project_dir: ProjectDir = REPO_ROOT,
    scale: Annotated[
        str, typer.Option(help="tiny, small (~1M sales lines), medium (~10M), large (~100M)")
    ] = "small",
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same files.")] = 42,
    days: Annotated[int, typer.Option(help="Days of history to write.")] = 730,
    start_date: Annotated[str, typer.Option(help="First day, YYYY-MM-DD.")] = "2024-01-01",
    defect_rate: Annotated[float, typer.Option(help="Share of rows with injected defects.")] = 0.0,
    drift_from: Annotated[
        str | None, typer.Option(help="Change demand from this day, YYYY-MM-DD.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Output folder (default: <project>/data/demo/exports).")
    ] = None,
) -> None:
    """Write the demo company's exports (daily CSV/Parquet files, JSON lines) deterministically."""
    from sme_platform.lib.demo_data import generate_demo_data

    paths = ProjectPaths.at(project_dir)
    target = out or paths.demo_exports
    tasks: dict[str, int] = {}
    with _progress() as progress:

        def report(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(f"generate {stage}", total=total)
            progress.update(tasks[stage], completed=done, total=total)

        manifest = generate_demo_data(
            target,
            scale=scale,
            seed=seed,
            start_date=date.fromisoformat(start_date),
            days=days,
            defect_rate=defect_rate,
            drift_from=date.fromisoformat(drift_from) if drift_from else None,
            progress=report,
        )
    counts = manifest.get("row_counts", {})
    console.print(
        f"Wrote demo exports to [bold]{target}[/bold]: "
        + ", ".join(f"{name} {count:,}" for name, count in counts.items() if isinstance(count, int))
    )
    if manifest.get("defect_counts"):
        console.print(f"Injected defects: {manifest['defect_counts']}")


@app.command()
def run(
    project_dir: ProjectDir = REPO_ROOT,
    select: Annotated[
        str | None,
        typer.Option(
            help="Asset selection, e.g. 'key:\"raw/sales_lines\"+' (default: the whole graph)."
        ),
    ] = None,
) -> None:
    """Materialize the whole graph (or a selection) through the project's Dagster instance."""
    paths = _activate(project_dir)
    _stop_on_configuration_problems(paths)
    # The summary reads the warehouse too: the turn lasts until it is printed.
    with _warehouse_turn(paths) as run_id:
        success = _materialize(select, run_id)
        print_summary(paths)
    if not success:
        raise typer.Exit(1)


@app.command()
def demo(
    project_dir: ProjectDir = REPO_ROOT,
    scale: Annotated[str, typer.Option(help="tiny, small, medium or large")] = "small",
    defect_rate: Annotated[
        float, typer.Option(help="Share of rows with injected defects.")
    ] = 0.002,
) -> None:
    """Generate the demo company's data, materialize everything, print a summary."""
    from sme_platform.lib.config.schema import with_schema_modeline

    paths = ProjectPaths.at(project_dir)
    if not paths.sources_file.exists():
        paths.root.mkdir(parents=True, exist_ok=True)
        demo_mapping = (REPO_ROOT / "sources.yaml").read_text(encoding="utf-8")
        paths.sources_file.write_text(
            with_schema_modeline(demo_mapping, paths.sources_file), encoding="utf-8"
        )
        console.print(f"Wrote the demo company's mapping to {paths.sources_file}")
    generate(project_dir=project_dir, scale=scale, defect_rate=defect_rate)
    run(project_dir=project_dir, select=None)


@app.command()
def check(project_dir: ProjectDir = REPO_ROOT) -> None:
    """Validate sources.yaml and the SQL models' headers: one line per problem, exit code 2."""
    result = _stop_on_configuration_problems(ProjectPaths.at(project_dir))
    console.print(result.summary)


@app.command()
def schema(
    output: Annotated[Path, typer.Option(help="Where to write the JSON Schema.")] = Path(
        "schemas/sources.schema.json"
    ),
) -> None:
    """Write the JSON Schema of sources.yaml (generated from its pydantic models)."""
    from sme_platform.lib.config.schema import write_sources_schema

    console.print(f"Wrote {write_sources_schema(REPO_ROOT / output)}")


def _stop_on_configuration_problems(paths: ProjectPaths):
    """Before any run: every problem of sources.yaml and the SQL headers, one line each, exit 2."""
    from sme_platform.lib.config.check import check_configuration

    result = check_configuration(paths.root, SQL_MODELS_DIR)
    if result.ok:
        return result
    # Plain print: rich would wrap long lines and read "[...]" in them as markup.
    for line in result.problems:
        print(line)
    print(f"{len(result.problems)} configuration problem(s); nothing was run.")
    raise typer.Exit(2)


@app.command()
def summary(project_dir: ProjectDir = REPO_ROOT) -> None:
    """Print what the warehouse holds: rows per table, quarantine and why, rejected files."""
    import duckdb

    paths = ProjectPaths.at(project_dir)
    try:
        print_summary(paths)
    except duckdb.IOException as error:
        # DuckDB lets no other process open a file while a run writes it.
        if "lock" not in str(error).lower():
            raise
        from sme_platform.defs.runs import warehouse_lock

        holder = warehouse_lock(paths).current_holder()
        writer = holder.describe() if holder else "another process"
        console.print(
            f"[yellow]{paths.warehouse} is being written by {writer}[/yellow]: the summary "
            "can read it once that run ends (`sme-platform summary` again). Meanwhile the last "
            f"published snapshot is readable at any time: {paths.analyst_database}"
        )
        raise typer.Exit(1) from None


@app.command()
def ui(
    project_dir: ProjectDir = REPO_ROOT,
    port: Annotated[int, typer.Option(help="Port for the web UI.")] = 3000,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
) -> None:
    """Start the Dagster UI (dagster dev) on this project's instance."""
    _activate(project_dir)
    _fail_dead_runs(marked_by="sme-platform ui")
    command = [
        str(Path(sys.executable).with_name("dagster")),
        "dev",
        "-w",
        str(REPO_ROOT / "workspace.yaml"),
        "--host",
        host,
        "--port",
        str(port),
    ]
    console.print(f"Dagster UI on http://{host}:{port} (Ctrl-C to stop)")
    raise typer.Exit(subprocess.call(command, cwd=REPO_ROOT))


@contextmanager
def _warehouse_turn(paths: ProjectPaths) -> Iterator[str]:
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
            on_wait=lambda line: _print_line(line, "yellow"),
        )
    except (WarehouseBusyError, WarehouseLockError) as error:
        _print_line(str(error), "red")
        raise typer.Exit(1) from error
    try:
        _fail_dead_runs(marked_by=f"run {run_id}")
        yield run_id
    finally:
        lock.release()


def _fail_dead_runs(marked_by: str) -> None:
    """Runs whose process died (SIGKILL, power loss) would hold the instance's run queue, which
    counts runs in progress, and Dagster's default launcher cannot notice: mark them failed."""
    import dagster as dg

    from sme_platform.defs.runs import fail_dead_runs

    for line in fail_dead_runs(dg.DagsterInstance.get(), marked_by=marked_by):
        _print_line(line, "yellow")


def _print_line(line: str, style: str) -> None:
    # Whole, never wrapped at the console's width: people search logs for these lines.
    console.print(line, style=style, markup=False, soft_wrap=True)


def _materialize(select: str | None, run_id: str) -> bool:
    import dagster as dg

    from sme_platform.definitions import defs
    from sme_platform.defs.runs import cli_run_tags

    instance = dg.DagsterInstance.get()
    job = defs.resolve_job_def("materialize_all")
    asset_graph = defs.resolve_asset_graph()
    keys = (
        dg.AssetSelection.from_string(select).resolve(asset_graph)
        if select
        else asset_graph.get_all_asset_keys()
    )
    watcher = _RunWatcher(instance, run_id, total=len(keys))
    with _progress() as progress:
        watcher.attach(progress)
        # The console gets warnings and errors only; the full event log is in the UI.
        result = job.execute_in_process(
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
            instance=instance,
            asset_selection=list(keys),
            run_id=run_id,
            tags=cli_run_tags(run_id),
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
            console.print(f"[red]step {event.step_key} failed[/red]: {error.message.strip()}")
    _print_failed_checks(result)
    return result.success


class _RunWatcher:
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


def _print_failed_checks(result) -> None:
    for event in result.all_events:
        if event.event_type_value != "ASSET_CHECK_EVALUATION":
            continue
        evaluation = event.event_specific_data
        if not evaluation.passed:
            console.print(
                f"[yellow]check {evaluation.asset_key.to_user_string()}:{evaluation.check_name} "
                f"failed ({evaluation.severity.value})[/yellow]: {evaluation.description}"
            )


# Tables to show as examples, the first this project has (a tickets-only company has no sales).
REPORT_EXAMPLES = ("reports.sales_kpis_monthly", "reports.support_kpis_monthly")


def print_summary(paths: ProjectPaths) -> None:
    from sme_platform.lib.summary import summarize_warehouse

    summary = summarize_warehouse(paths.warehouse)
    table = Table(title=f"Warehouse {summary.warehouse}")
    for column in ("table", "rows", "quarantined", "warnings", "files", "rejected files"):
        table.add_column(column, justify="left" if column == "table" else "right")
    for item in summary.tables:
        table.add_row(
            f"raw.{item.table}",
            f"{item.rows:,}",
            f"{item.quarantined:,}",
            f"{item.warned:,}",
            f"{item.files_loaded:,}",
            f"{item.files_rejected:,}",
        )
    console.print(table)
    for item in summary.tables:
        if item.quarantine_by_rule:
            reasons = ", ".join(
                f"{rule} {count:,}" for rule, count in item.quarantine_by_rule.items()
            )
            console.print(f"quarantine.{item.table}: {reasons}")
    if summary.absent:
        console.print(f"No source (left empty): {', '.join(summary.absent)}")
    if summary.models:
        per_schema = Counter(name.split(".")[0] for name in summary.models)
        console.print(
            "SQL models built: "
            + ", ".join(f"{schema} {count}" for schema, count in per_schema.items())
            + "; e.g. "
            + ", ".join(
                f"{name} {summary.models[name]:,} rows"
                for name in ("marts.sales_daily", *REPORT_EXAMPLES)
                if name in summary.models
            )
        )
    if summary.skipped_models:  # why each: the asset's metadata, governance.skipped_models
        console.print(f"skipped (no source): {', '.join(summary.skipped_models)}")
    for asset, check, severity, description in summary.failing_checks[:10]:
        console.print(f"[yellow]failing check[/yellow] {asset}:{check} ({severity}): {description}")
    for _path, message in summary.rejected_files[:10]:
        console.print(f"[red]rejected file[/red] {message}")
    # Point at a table this project has, one with quarantined rows if any.
    example = next(
        (t.table for t in summary.tables if t.quarantined),
        summary.tables[0].table if summary.tables else "sales_lines",
    )
    console.print(
        "Next: `make ui` (or `sme-platform ui`) to browse lineage and checks. Quarantined rows, "
        "with their rule, file, row and original values, are in the quarantine.* tables:\n"
        f'  .venv/bin/duckdb -readonly {paths.warehouse} "select rule, count(*) from '
        f'quarantine.{example} group by all"'
    )
    if paths.analyst_database.exists():
        console.print(
            "Analysts: the validated tables, PII masked, readable at any time (see README):\n"
            f'  .venv/bin/duckdb -readonly {paths.analyst_database} "select * from '
            f'{next((n for n in REPORT_EXAMPLES if n in summary.models), REPORT_EXAMPLES[0])}"'
        )


if __name__ == "__main__":
    app()
