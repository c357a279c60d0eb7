"""What the `sme-platform` command prints: progress bars, run outcomes and the warehouse summary."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from sme_platform.lib.project import ProjectPaths

# Outside a terminal (logs, CI) rich would wrap at 80 columns and cut table names.
console = Console(width=None if sys.stdout.isatty() else 120)


def progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def print_line(line: str, style: str) -> None:
    # Whole, never wrapped at the console's width: people search logs for these lines.
    console.print(line, style=style, markup=False, soft_wrap=True)


def report_busy_warehouse(error: Exception, paths: ProjectPaths, then: str) -> None:
    """Print "<warehouse> is being written by <writer>: <then>" when `error` is DuckDB refusing
    to open the warehouse because another process writes it (it allows one writing process per
    file, and no reader beside it), naming the run that holds the platform's lock if one does;
    any other error is raised again."""
    import duckdb

    if not isinstance(error, duckdb.IOException) or "lock" not in str(error).lower():
        raise error
    from sme_platform.defs.runs import warehouse_lock

    holder = warehouse_lock(paths).current_holder()
    writer = holder.describe() if holder else "another process"
    print_line(f"{paths.warehouse} is being written by {writer}: {then}", "yellow")


def print_failed_checks(result) -> None:
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
    if summary.forecasting is not None:
        print_forecasting(summary.forecasting)
    if summary.skipped_models:  # why each: the asset's metadata, governance.skipped_models
        console.print(f"skipped (no source): {', '.join(summary.skipped_models)}")
    for asset, check, severity, description in summary.failing_checks[:10]:
        console.print(f"[yellow]failing check[/yellow] {asset}:{check} ({severity}): {description}")
    for _path, message in summary.rejected_files[:10]:
        console.print(f"[red]rejected file[/red] {message}")
    for line in summary.governance:
        console.print(f"Governance: {line}", markup=False)
    if summary.governance:
        console.print(
            "Compliance report on demand: sme-platform report compliance --from DATE --to DATE",
            markup=False,
        )
    # Point at a table this project has, one with quarantined rows if any.
    example = next(
        (t.table for t in summary.tables if t.quarantined),
        summary.tables[0].table if summary.tables else "sales_lines",
    )
    console.print(
        "Next: `make ui` (or `sme-platform ui`) to browse lineage and checks. Quarantined rows, "
        "with their rule, file, row and original values, are in the quarantine.* tables:\n"
        f'  {duckdb_command()} -readonly {paths.warehouse} "select rule, count(*) from '
        f'quarantine.{example} group by all"'
    )
    dashboard = paths.reports_dir / "kpi.html"
    if dashboard.exists():
        console.print(f"KPI dashboard (opens offline in a browser): {dashboard}", markup=False)
    if paths.analyst_database.exists():
        console.print(
            "Analysts: the validated tables, PII masked, readable at any time (see README):\n"
            f'  {duckdb_command()} -readonly {paths.analyst_database} "select * from '
            f'{next((n for n in REPORT_EXAMPLES if n in summary.models), REPORT_EXAMPLES[0])}"'
        )


def duckdb_command() -> str:
    """The DuckDB CLI installed beside this Python: relative to the working folder when it is
    inside it (`.venv/bin/duckdb` from the repository), else its full path (a project folder
    elsewhere, `--project-dir`)."""
    cli = Path(sys.executable).parent / "duckdb"
    if not cli.exists():
        return "duckdb"
    try:
        return str(cli.relative_to(Path.cwd()))
    except ValueError:
        return str(cli)


def print_forecasting(forecasting) -> None:
    """The demand model: who serves, its holdout figures beside every baseline's and peer's,
    and the money its forecasts would have saved against the best of them."""
    serving = forecasting.champion or "none yet"
    served_by = (
        f" from the fallback {forecasting.fallback} (the cheapest "
        "baseline or peer of the backtest, until a version is champion)"
        if forecasting.fallback
        else ""
    )
    console.print(
        f"Demand forecast: champion {serving}; {forecasting.forecast_rows:,} forecast rows in "
        f"ml.demand_forecast{served_by}"
    )
    if forecasting.methods:
        table = Table(
            title=f"Holdout: last {forecasting.holdout_days} days, "
            f"{forecasting.holdout_series:,} series (simulated reorders, ranked by cost)"
        )
        for column in ("method", "business cost", "WAPE", "bias", "interval coverage"):
            table.add_column(column, justify="left" if column == "method" else "right")
        for m in forecasting.methods:
            table.add_row(
                m.method,
                f"{m.business_cost:,.0f}",
                "-" if m.wape is None else f"{m.wape:.3f}",
                "-" if m.bias is None else f"{m.bias:+.1%}",
                "-" if m.coverage is None else f"{m.coverage:.2f}",
            )
        console.print(table)
    windows = (
        f"all {forecasting.windows} backtest windows "
        f"({forecasting.windows} x {forecasting.holdout_days} days)"
    )
    for saving, where, window in (
        (forecasting.saving_against_best_alternative, "the holdout", "holdout"),
        (forecasting.saving_over_windows, windows, "all_windows"),
    ):
        if saving is not None:
            method, money = saving
            console.print(
                f"Over {where}, ordering from the model's forecasts would "
                f"{'save' if money > 0 else 'cost'} {abs(money):,.0f} in lost margin and holding "
                f"cost against {method}, the cheapest alternative there"
                + forecasting.interval_note(method, window),
                markup=False,
            )
    if forecasting.service_level_note:
        console.print(forecasting.service_level_note, markup=False)
    if forecasting.last_run_events:
        console.print("The model's decisions in the last run that made any:")
        for line in forecasting.last_run_events:
            console.print(f"  {line}", markup=False)
    for line in forecasting.monitoring:
        console.print(line, markup=False)


def print_access(paths: ProjectPaths) -> None:
    """Each of the platform's files open to others (the next run closes it), or that none is."""
    from sme_platform.lib.access import inspect

    states = inspect(paths)
    open_to_others = [state for state in states if not state.ok]
    for state in open_to_others:
        print(f"access: {state.describe()} (the next run sets it)")  # plain: no wrapping
    if not open_to_others:
        present = sum(1 for state in states if state.actual is not None)
        console.print(f"access OK: {present} protected path(s) as they must be")


def innermost_message(error) -> str:
    """The library's message, not Dagster's "error occurred while executing op" around it."""
    while error.cause is not None:
        error = error.cause
    message = error.message.strip()
    # Dagster's message starts with the exception's module and class: "pkg.mod.Error: text".
    prefix, separator, text = message.partition(f"{error.cls_name}: ")
    return text if separator and " " not in prefix else message
