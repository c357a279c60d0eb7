"""`sme-platform models | approve | rollback | retrain`: the model registry from the command line.

`models` reads the registry; `approve` and `rollback` run the release jobs of
sme_platform/defs/release/jobs.py in this process, through the project's instance (so they are
in the run history next to the UI's), each in its turn for the warehouse like every run.
"""

# No `from __future__ import annotations`: typer reads the commands' annotations, which name the
# --project-dir option that cli.py passes in.
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from sme_platform.cli_output import console, innermost_message, print_line, report_busy_warehouse
from sme_platform.lib.project import REPO_ROOT, ProjectPaths
from sme_platform.lib.release.decisions import decision_label

# A refused approval or rollback is an answer, not a crash: its one line is printed here,
# without the stack trace Dagster's console logger would add (the UI's run log keeps it).
QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


def add_model_commands(
    app: typer.Typer,
    project_dir_option: Any,
    activate: Callable[[Path], ProjectPaths],
    check_configuration: Callable[[ProjectPaths], Any],
) -> None:
    """Register the commands on `app`; `project_dir_option`, `activate` and
    `check_configuration` are cli.py's, so every command finds its project folder and stops on
    a broken configuration the same way."""

    @app.command()
    def retrain(
        by: Annotated[str, typer.Option("--by", help="Your full name.")],
        reason: Annotated[str, typer.Option("--reason", help="Why the model is trained now.")],
        project_dir: project_dir_option = REPO_ROOT,
    ) -> None:
        """Train the demand model again now, before its cadence (forecasting.yaml retraining:):
        features, training, the gate and the forecasts, on the data already loaded; audited."""
        from sme_platform.cli_runs import run_retraining
        from sme_platform.lib.training.retraining import RETRAIN_TRIGGER_TAG

        if not by.strip() or not reason.strip():
            console.print("[red]retrain needs a name (--by) and a reason (--reason)[/red]")
            raise typer.Exit(2)
        paths = activate(project_dir)
        check_configuration(paths)
        trigger = f"requested by {by.strip()}: {reason.strip()}"
        if not run_retraining(paths, {RETRAIN_TRIGGER_TAG: trigger, "trigger": "person"}):
            raise typer.Exit(1)

    @app.command()
    def models(
        name: Annotated[
            str | None, typer.Argument(help="Model name (default: every registered model).")
        ] = None,
        version: Annotated[
            str | None,
            typer.Argument(help="One version (e.g. v2): what it learned from, and its history."),
        ] = None,
        project_dir: project_dir_option = REPO_ROOT,
    ) -> None:
        """List model versions: status and the decision behind it, holdout WAPE, bias, business
        cost, approval. With a version: its provenance and every audit event about it."""
        paths = ProjectPaths.at(project_dir)
        if version is not None and name is not None:
            from sme_platform.cli_model_detail import print_version_detail

            raise typer.Exit(print_version_detail(paths, name, version))
        raise typer.Exit(print_versions(paths, name))

    @app.command()
    def approve(
        model: Annotated[str, typer.Argument(help="Model name, e.g. demand_forecast.")],
        version: Annotated[str, typer.Argument(help="The challenger's version, e.g. v3.")],
        by: Annotated[str, typer.Option("--by", help="Your full name.")],
        note: Annotated[str, typer.Option("--note", help="What you reviewed, and why.")],
        project_dir: project_dir_option = REPO_ROOT,
    ) -> None:
        """Approve a challenger (required for a high-impact model before its release)."""
        raise typer.Exit(run_approval(activate(project_dir), model, version, by, note))

    @app.command()
    def rollback(
        model: Annotated[str, typer.Argument(help="Model name, e.g. demand_forecast.")],
        by: Annotated[str, typer.Option("--by", help="Your full name.")],
        reason: Annotated[str, typer.Option("--reason", help="Why the champion goes.")],
        to: Annotated[
            str | None,
            typer.Option("--to", help="Former champion to reinstate (default: the previous)."),
        ] = None,
        project_dir: project_dir_option = REPO_ROOT,
    ) -> None:
        """Reinstate the previous (or a named former) champion, then re-score the forecasts."""
        raise typer.Exit(run_rollback(activate(project_dir), model, to, by, reason))


def print_versions(paths: ProjectPaths, name: str | None) -> int:
    """The registry as a table; the exit code (1 when it cannot be read or the name is unknown)."""
    import duckdb

    from sme_platform.lib.release.decisions import latest_decisions
    from sme_platform.lib.release.registry import list_versions
    from sme_platform.lib.warehouse import connect

    if not paths.warehouse.exists():
        console.print(f"No model registered yet: there is no warehouse at {paths.warehouse}.")
        return 0
    try:
        with connect(paths.warehouse, read_only=True) as con:
            versions = list_versions(con)
            decisions = latest_decisions(con)
    except duckdb.IOException as error:
        report_busy_warehouse(error, paths, "list the models again when it ends")
        return 1
    shown = [v for v in versions if name is None or v.model_name == name]
    if not shown:
        known = sorted({v.model_name for v in versions})
        if name is None:
            console.print("No model registered yet.")
            return 0
        console.print(
            f"No versions of {name} (registered models: {', '.join(known) or 'none'}).",
            markup=False,
        )
        return 1
    captions = ["why: sme-platform models NAME VERSION"]
    if any(v.high_impact for v in shown):
        captions.append("* high impact: released only after an approval (sme-platform approve)")
    table = Table(title="Model versions (holdout figures)", caption="\n".join(captions))
    # Only the decision wraps: at the 120 columns of a log every other column stays whole (a
    # model name cut to "demand_foreca…" helps no one).
    for column in ("model", "version"):
        table.add_column(column, no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("decision", min_width=10)
    table.add_column("created", no_wrap=True)
    for column in ("WAPE", "bias", "business cost"):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("approved by", no_wrap=True)
    for v in shown:
        table.add_row(
            v.model_name,
            v.version,
            _status_label(v),
            _decision_label(v, decisions.get((v.model_name, v.version))),
            f"{v.created_at:%Y-%m-%d}",
            _number(v.metrics.get("wape"), "{:.3f}"),
            _number(v.metrics.get("bias"), "{:+.1%}"),
            _number(v.metrics.get("business_cost"), "{:,.1f}"),
            # Text, not markup: the approver's name is what a person typed.
            Text(_approval_label(v)),
        )
    console.print(table)
    return 0


def _status_label(version) -> str:
    return version.status + (" *" if version.high_impact else "")


def _decision_label(version, event) -> str:
    """The decision that gave the version its status (the audit log's newest about it); for a
    running canary, its share of the business."""
    if version.status == "challenger" and version.canary_share is not None:
        return f"canary on {version.canary_share:.0%}"
    return decision_label(event)


def _approval_label(version) -> str:
    """Who approved it, or that an approval is awaited: a high-impact version the gate passed
    stays a challenger without a canary until a named person approves it."""
    if version.approved_by:
        return version.approved_by
    waiting = version.status == "challenger" and version.canary_share is None
    return "awaited" if waiting and version.high_impact else ""


def run_release_job(job, run_config: dict, paths: ProjectPaths, tags: dict | None = None) -> bool:
    """Execute a release job in this process through the project's instance, in its turn for
    the warehouse; print why it failed, if it did."""
    import dagster as dg

    from sme_platform.cli_runs import warehouse_turn
    from sme_platform.defs.resources import ProjectResource
    from sme_platform.defs.runs import cli_run_tags

    with warehouse_turn(paths) as run_id:
        result = job.execute_in_process(
            run_config={**run_config, **QUIET_LOGS},
            instance=dg.DagsterInstance.get(),
            resources={"project": ProjectResource(project_dir=str(paths.root))},
            run_id=run_id,
            tags={**cli_run_tags(run_id), **(tags or {})},
            raise_on_error=False,
        )
    if not result.success:
        for event in result.all_events:
            if event.is_step_failure:
                error = innermost_message(event.event_specific_data.error)
                print_line(f"{job.name} failed: {error}", "red")
        print_line(f"run {run_id} failed; nothing was changed", "red")
    return result.success


def run_rollback(paths: ProjectPaths, model: str, to: str | None, by: str, reason: str) -> int:
    from sme_platform.defs.release.jobs import (
        ANALYST_DATABASE_KEY,
        DEMAND_FORECAST_KEY,
        RESCORED_BY_LAUNCHER_TAG,
        rollback_model_job,
        rollback_run_config,
    )
    from sme_platform.lib.release.registry import champion
    from sme_platform.lib.warehouse import connect

    rescore = _graph_has(DEMAND_FORECAST_KEY)
    # When this command re-scores, the sensor (which re-scores after rollbacks launched from
    # the UI) must not do it a second time.
    tags = {RESCORED_BY_LAUNCHER_TAG: "true"} if rescore else {}
    if not run_release_job(
        rollback_model_job, rollback_run_config(model, to, by, reason), paths, tags
    ):
        return 1
    with connect(paths.warehouse, read_only=True) as con:
        reinstated = champion(con, model)
    console.print(
        f"{model}: {reinstated.version} is champion again "
        f"(rolled back by {by.strip()}: {reason.strip()})",
        markup=False,
    )
    if not rescore:
        console.print(
            f"The graph has no {DEMAND_FORECAST_KEY.to_user_string()} asset: re-score the "
            "forecasts with `sme-platform run`.",
            markup=False,
        )
        return 0
    success = follow_up_run(
        paths,
        [DEMAND_FORECAST_KEY, ANALYST_DATABASE_KEY],
        "Re-scoring the forecasts with the reinstated champion and publishing the analyst "
        "database:",
    )
    return 0 if success else 1


def run_approval(paths: ProjectPaths, model: str, version: str, by: str, note: str) -> int:
    """The approval job, then the release at once: the release step, the forecasts and the
    analyst database (the approved challenger becomes champion, or starts its canary)."""
    from sme_platform.defs.release.jobs import (
        AFTER_APPROVAL,
        RESCORED_BY_LAUNCHER_TAG,
        approve_model_job,
        approve_run_config,
    )
    from sme_platform.lib.release.registry import get_version, normalize_version
    from sme_platform.lib.warehouse import connect

    follow_up = [key for key in AFTER_APPROVAL if _graph_has(key)]
    # When this command releases, the sensor (which does it after approvals launched from the
    # UI) must not do it a second time.
    tags = {RESCORED_BY_LAUNCHER_TAG: "true"} if follow_up else {}
    config = approve_run_config(model, version, by, note)
    if not run_release_job(approve_model_job, config, paths, tags):
        return 1
    version = normalize_version(version)
    console.print(f"{model} {version} approved by {by.strip()}: {note.strip()}", markup=False)
    if follow_up and not follow_up_run(
        paths, follow_up, "Releasing it (the release step, the forecasts, the analyst database):"
    ):
        return 1
    with connect(paths.warehouse, read_only=True) as con:
        released = get_version(con, model, version)
    console.print(_release_state(released), markup=False)
    return 0


def _release_state(version) -> str:
    label = f"{version.model_name} {version.version}"
    if version.status == "champion":
        return f"{label} is champion: ml.demand_forecast is its forecast."
    if version.status == "challenger" and version.canary_share is not None:
        return (
            f"{label} runs a canary on {version.canary_share:.0%} of the locations (of the "
            "series, with one location); the champion forecasts the rest until the actuals "
            "judge it."
        )
    return (
        f"{label} is {version.status}, approved: the release step releases it in the next run "
        "that has a trained model to judge (see the release step's log)."
    )


def follow_up_run(paths: ProjectPaths, keys: list, saying: str) -> bool:
    """A release job's follow-up: `keys` materialized in a run of its own, in its turn."""
    from sme_platform.cli_runs import materialize, warehouse_turn

    console.print(saying)
    with warehouse_turn(paths) as run_id:
        return materialize(" or ".join(f'key:"{key.to_user_string()}"' for key in keys), run_id)


def _graph_has(key) -> bool:
    from sme_platform.definitions import defs

    return key in defs.resolve_asset_graph().get_all_asset_keys()


def _number(value: Any, pattern: str) -> str:
    return "" if value is None else pattern.format(value)
