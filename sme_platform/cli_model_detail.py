"""`sme-platform models NAME VERSION`: one version as an auditor reads it.

What it was trained on and with (feature set, data and code versions, artifact and its hash),
its holdout figures, its approval, and every audit event about it with its reason in full: why
it is champion, or why the gate refused it.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text

from sme_platform.cli_output import console, print_line, report_busy_warehouse
from sme_platform.lib.project import ProjectPaths


def print_version_detail(paths: ProjectPaths, name: str, version: str) -> int:
    """The version and its history; the exit code (1 when it is unknown or cannot be read)."""
    import duckdb

    from sme_platform.lib.release.decisions import (
        decision_label,
        newest_decision,
        version_history,
    )
    from sme_platform.lib.release.registry import RegistryError, get_version
    from sme_platform.lib.warehouse import connect

    if not paths.warehouse.exists():
        console.print(f"No model registered yet: there is no warehouse at {paths.warehouse}.")
        return 1
    try:
        with connect(paths.warehouse, read_only=True) as con:
            found = get_version(con, name, version)
            history = version_history(con, name, found.version)
    except RegistryError as error:
        print_line(str(error), "red")
        return 1
    except duckdb.IOException as error:
        report_busy_warehouse(error, paths, "ask again when it ends")
        return 1
    latest = newest_decision(history)
    decided = decision_label(latest)
    if decided:
        decided = f" ({decided} on {latest.occurred_at:%Y-%m-%d %H:%M} UTC)"
    console.print(
        f"{name} {found.version}: {found.status}{decided}",
        markup=False,
        style="bold",
    )
    console.print(_facts(found, paths), markup=False)
    events = Table(title=f"Audit log of {name} {found.version} (governance.audit_log)")
    for column in ("when (UTC)", "event"):
        events.add_column(column, no_wrap=True)
    events.add_column("by", overflow="fold", max_width=44)
    events.add_column("why", overflow="fold", ratio=1)
    for event in history:
        # Text, not markup: a reason or a name is what a person typed ("[red]" stays as is).
        events.add_row(
            f"{event.occurred_at:%Y-%m-%d %H:%M:%S}",
            event.event,
            Text(event.actor),
            Text(event.reason),
        )
    if not history:
        events.caption = "no event recorded about this version"
    console.print(events)
    return 0


def _facts(version, paths: ProjectPaths) -> Table:
    metrics = version.metrics or {}
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="dim")
    facts.add_column(overflow="fold")
    rows = [
        ("created", f"{version.created_at:%Y-%m-%d %H:%M:%S} UTC"),
        ("trained by", f"run {version.run_id}" if version.run_id else "unknown"),
        ("feature set", version.feature_set_version),
        ("code version", version.code_version),
        ("training data", _data_versions(version.training_data_versions)),
        ("artifact", str(paths.data_dir / "models" / version.artifact_path)),
        ("sha256", version.artifact_sha256),
        ("holdout", _holdout(metrics)),
        ("level correction", _level_correction(version.parameters or {})),
        ("cost against others", _cost_against_others(version.business or {})),
        ("high impact", "yes: released only after an approval" if version.high_impact else "no"),
        ("approved", _approval(version)),
        ("previous champion", version.previous_champion_version or ""),
        ("status since", f"{version.status_changed_at:%Y-%m-%d %H:%M:%S} UTC"),
    ]
    for label, value in rows:
        if value:
            facts.add_row(label, Text(value))
    return facts


def _holdout(metrics: dict[str, Any]) -> str:
    parts = [
        ("WAPE", metrics.get("wape"), "{:.3f}"),
        ("bias", metrics.get("bias"), "{:+.1%}"),
        ("interval coverage", metrics.get("interval_coverage"), "{:.1%}"),
        ("business cost", metrics.get("business_cost"), "{:,.1f}"),
        ("stock-out rate", metrics.get("stock_out_rate"), "{:.1%}"),
    ]
    return ", ".join(
        f"{label} {pattern.format(value)}" for label, value, pattern in parts if value is not None
    )


def _level_correction(parameters: dict[str, Any]) -> str:
    """What the forecasts are scaled by and where that came from (lib/training/backtest.py):
    an auditor asking why a forecast is 7 % above the trees' finds it here."""
    factor = parameters.get("level_factor")
    if not isinstance(factor, int | float):
        return ""
    text = (
        f"forecasts x {factor:.3f}: units sold over units forecast on the backtest's windows, "
        "shrunk toward 1"
    )
    warmup = parameters.get("level_warmup") or {}
    if warmup.get("skipped"):
        return f"{text}; {warmup['skipped']}"
    if warmup.get("origin") and warmup.get("sold") is not None:
        return (
            f"{text}, the warm-up fold from {warmup['origin']} included ({warmup['sold']:,.0f} "
            f"sold, {warmup['forecast']:,.0f} forecast)"
        )
    return text


def _cost_against_others(business: dict[str, Any]) -> str:
    """Its simulated cost against each other method's, with the 90 % interval over series
    (lib/training/cost_uncertainty): whether a lead is more than the luck of a few series."""
    intervals = business.get("cost_against_others") or {}
    every, holdout = intervals.get("all_windows") or {}, intervals.get("holdout") or {}
    lines = []
    # The rivals closest to the model (or ahead of it) first.
    for method in sorted(every, key=lambda m: -(every[m].get("ratio") or 0.0)):
        parts = [
            f"{_share(figures)} {where}"
            for figures, where in (
                (every[method], "over every window"),
                (holdout.get(method), "on the holdout"),
            )
            if figures and figures.get("low") is not None
        ]
        if parts:
            lines.append(f"{method}: {'; '.join(parts)}")
    return "\n".join(lines)


def _share(figures: dict[str, float]) -> str:
    # Said as the gate and the run summary say it.
    from sme_platform.lib.training.cost_uncertainty import interval_text

    return f"{figures['ratio'] * 100:+.1f} % ({interval_text(figures)})"


def _approval(version) -> str:
    if not version.approved_by:
        return ""
    when = f" on {version.approved_at:%Y-%m-%d %H:%M}" if version.approved_at else ""
    note = f": {version.approval_note}" if version.approval_note else ""
    return f"by {version.approved_by}{when}{note}"


def _data_versions(versions: Any) -> str:
    """The staging tables' data versions it learned from ('staging.sales_lines a6ecbbef, ...')."""
    if not isinstance(versions, dict):
        return ""
    models = versions.get("models") or {}
    return ", ".join(f"{table} {digest}" for table, digest in sorted(models.items()))
