"""The `sme-platform` command: generate demo data, run the graph, start the UI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from sme_platform.cli_audit import add_audit_commands
from sme_platform.cli_erase import add_erase_commands
from sme_platform.cli_models import add_model_commands
from sme_platform.cli_output import (
    console,
    print_access,
    print_summary,
    progress_bar,
    report_busy_warehouse,
)
from sme_platform.cli_reports import add_report_commands
from sme_platform.cli_runs import (
    mark_dead_runs_failed,
    materialize,
    stop_on_configuration_problems,
    warehouse_turn,
)
from sme_platform.cli_stories import (
    DEFAULT_DAYS,
    DEFAULT_START,
    drift_start,
    run_drift_story,
    run_release_story,
)
from sme_platform.lib.project import REPO_ROOT, ProjectPaths
from sme_platform.lib.run_history import keep_run_history_open

app = typer.Typer(
    help="sme_platform: a company's exports to validated tables, features, models and KPIs.",
    no_args_is_help=True,
    add_completion=False,
)

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
    keep_run_history_open()
    return paths


Catalog = Annotated[
    str,
    typer.Option(
        help="home (home goods, sized by --scale) or long-tail (~30,000 SKUs, ~150 stores, "
        "~1.5M sales lines over 730 days, most SKU x store pairs selling a few times a year; "
        "sales only, no inventory exports)"
    ),
]


@app.command()
def generate(
    project_dir: ProjectDir = REPO_ROOT,
    scale: Annotated[
        str | None,
        typer.Option(
            help="tiny, small (~1M sales lines, the default), medium (~10M), large (~100M); "
            "home catalogue only"
        ),
    ] = None,
    catalog: Catalog = "home",
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same files.")] = 42,
    days: Annotated[int, typer.Option(help="Days of history to write.")] = DEFAULT_DAYS,
    start_date: Annotated[
        str, typer.Option(help="First day, YYYY-MM-DD.")
    ] = DEFAULT_START.isoformat(),
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
    with progress_bar() as progress:

        def report(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(f"generate {stage}", total=total)
            progress.update(tasks[stage], completed=done, total=total)

        manifest = generate_demo_data(
            target,
            scale=scale,
            catalog=catalog,
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
    if manifest.get("absent_sources"):
        console.print(
            f"No exports for {', '.join(manifest['absent_sources'])}: the project's sources.yaml "
            "must leave them out (`sme-platform demo --catalog long-tail` writes such a mapping)"
        )


@app.command()
def run(
    project_dir: ProjectDir = REPO_ROOT,
    select: Annotated[
        str | None,
        typer.Option(
            help="Asset selection, e.g. 'key:\"raw/sales_lines\"+' (default: the whole graph)."
        ),
    ] = None,
    full_refresh: Annotated[
        bool,
        typer.Option(
            help="Build every SQL model again, even those whose inputs and code are unchanged."
        ),
    ] = False,
) -> None:
    """Materialize the whole graph (or a selection) through the project's Dagster instance."""
    from sme_platform.lib.monitoring.drift_worker import started_early
    from sme_platform.lib.sql_models.up_to_date import FULL_REFRESH_TAG

    # The whole graph measures drift: its Evidently worker imports while this process starts.
    with started_early(wanted=select is None):
        paths = _activate(project_dir)
        stop_on_configuration_problems(paths)
        tags = {FULL_REFRESH_TAG: "true"} if full_refresh else {}
        # The summary reads the warehouse too: the turn lasts until it is printed.
        with warehouse_turn(paths) as run_id:
            success = materialize(select, run_id, tags=tags)
            print_summary(paths)
    if not success:
        raise typer.Exit(1)


@app.command()
def demo(
    project_dir: ProjectDir = REPO_ROOT,
    scale: Annotated[
        str | None, typer.Option(help="tiny, small (the default), medium or large")
    ] = None,
    catalog: Catalog = "home",
    defect_rate: Annotated[
        float, typer.Option(help="Share of rows with injected defects.")
    ] = 0.002,
    release_story: Annotated[
        bool,
        typer.Option(
            help="Run three nights: the last days' sales and stock files arrive late (a week "
            "on night 2, one order cycle on night 3), so a newer model is judged, runs a canary "
            "and is judged on the money of the late order against the champion (in a new "
            "project folder)."
        ),
    ] = False,
    drift_story: Annotated[
        bool,
        typer.Option(
            help="Run two nights and a retraining: demand changes from the first of the last "
            "--late-days days, which arrive on night 2; the monitoring finds the drift, the "
            "retraining sensor asks for a new model and the gate judges it (in a new project "
            "folder)."
        ),
    ] = False,
    late_days: Annotated[
        int | None,
        typer.Option(
            help="Days in each late delivery: the release story's two (default 7, then one "
            "order cycle, the lead time plus review period of forecasting.yaml, 9 unless "
            "changed: a week of data for the weekly retraining, then the sales of one whole "
            "order for the canary to be judged on), the drift story's one (default 14)."
        ),
    ] = None,
) -> None:
    """Generate the demo company's data, materialize everything, print a summary."""
    from sme_platform.lib.config.schema import with_schema_modeline
    from sme_platform.lib.demo_data.mapping import demo_mapping, unexported_sources

    paths = ProjectPaths.at(project_dir)
    if release_story and drift_story:
        console.print("[red]--release-story and --drift-story[/red]: one story at a time")
        raise typer.Exit(2)
    story = "release" if release_story else "drift" if drift_story else None
    if story and paths.warehouse.exists():
        console.print(
            f"[red]{paths.warehouse} exists[/red]: the {story} story starts from an empty "
            "warehouse (its first night must not have seen the late files); give it a project "
            "folder of its own (--project-dir NEW)"
        )
        raise typer.Exit(2)
    if not paths.sources_file.exists():
        paths.root.mkdir(parents=True, exist_ok=True)
        mapping = demo_mapping(catalog, (REPO_ROOT / "sources.yaml").read_text(encoding="utf-8"))
        paths.sources_file.write_text(
            with_schema_modeline(mapping, paths.sources_file), encoding="utf-8"
        )
        console.print(f"Wrote the demo company's mapping to {paths.sources_file}")
    if not (paths.root / "forecasting.yaml").exists():
        shutil.copyfile(REPO_ROOT / "forecasting.yaml", paths.root / "forecasting.yaml")
    unexported = unexported_sources(catalog, paths.sources_file.read_text(encoding="utf-8"))
    if unexported:
        console.print(
            f"[red]{paths.sources_file} maps {', '.join(unexported)}[/red], which the {catalog} "
            "company does not export: give it a project folder of its own (--project-dir NEW)"
        )
        raise typer.Exit(2)
    # Before generating (minutes at scale): a misspelt key should not wait for the data.
    stop_on_configuration_problems(paths)
    if drift_story:
        late_days = late_days or 14
    drift_from = drift_start(late_days).isoformat() if drift_story else None
    generate(
        project_dir=project_dir,
        scale=scale,
        catalog=catalog,
        defect_rate=defect_rate,
        start_date=DEFAULT_START.isoformat(),
        days=DEFAULT_DAYS,
        drift_from=drift_from,
    )

    def night() -> None:
        run(project_dir=paths.root, select=None, full_refresh=False)

    if release_story:
        run_release_story(paths, late_days, night)
    elif drift_story:
        run_drift_story(paths, late_days, night)
    else:
        night()


@app.command()
def check(project_dir: ProjectDir = REPO_ROOT) -> None:
    """Validate the configuration files, then each source's newest file against its mapping:
    a line per problem, exit 2. Then which platform files are open to others."""
    from sme_platform.lib.ingestion.newest_files import newest_file_problems

    paths = ProjectPaths.at(project_dir)
    console.print(stop_on_configuration_problems(paths).summary)
    files = newest_file_problems(paths.root)
    for line in files:
        print(line)  # plain: rich would read "[...]" in a header as markup
    print_access(paths)
    if files:
        raise typer.Exit(2)


@app.command()
def schema(
    output: Annotated[Path, typer.Option(help="Where to write the JSON Schema.")] = Path(
        "schemas/sources.schema.json"
    ),
) -> None:
    """Write the JSON Schema of sources.yaml (generated from its pydantic models)."""
    from sme_platform.lib.config.schema import write_sources_schema

    console.print(f"Wrote {write_sources_schema(REPO_ROOT / output)}")


@app.command()
def summary(project_dir: ProjectDir = REPO_ROOT) -> None:
    """Print what the warehouse holds: rows per table, quarantine and why, rejected files."""
    import duckdb

    paths = ProjectPaths.at(project_dir)
    try:
        print_summary(paths)
    except duckdb.IOException as error:
        report_busy_warehouse(
            error,
            paths,
            "the summary can read it once that run ends (`sme-platform summary` again). "
            f"Meanwhile the last published snapshot is readable at any time: "
            f"{paths.analyst_database}",
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
    mark_dead_runs_failed(marked_by="sme-platform ui")
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


add_model_commands(app, ProjectDir, _activate, stop_on_configuration_problems)
add_audit_commands(app, ProjectDir, _activate)
add_report_commands(app, ProjectDir, _activate)
add_erase_commands(app, ProjectDir, _activate)

if __name__ == "__main__":
    app()
