"""The demo's stories over several nights (`sme-platform demo --release-story | --drift-story`):
the last days' files held back and delivered late, as real exports arrive, so the release and
monitoring loops that need nights can be watched on one machine in minutes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

from sme_platform.cli_output import console
from sme_platform.cli_runs import run_retraining
from sme_platform.lib.project import ProjectPaths

# The drift story's cadence: monthly, so that what brings the next model is the drift.
DRIFT_STORY_CADENCE_DAYS = 28
RELEASE_STORY_FIRST_DELIVERY = 7
DEFAULT_START = date(2024, 1, 1)
DEFAULT_DAYS = 730


def order_cycle_days(project_root: Path) -> int:
    """The days one order covers (lead time + review period, forecasting.yaml): the release
    story delivers this many days a night, so its canary is judged on one order's sales
    (lib/release/canary_cost)."""
    from sme_platform.lib.training.config import load_forecasting_config

    return load_forecasting_config(project_root).business.order_cycle_days


def drift_start(late_days: int, start: date = DEFAULT_START, days: int = DEFAULT_DAYS) -> date:
    """The first held-back day: the demand changes from there, after the champion's data."""
    return start + timedelta(days=days - late_days)


def run_release_story(
    paths: ProjectPaths, late_days: int | None, run_night: Callable[[], None]
) -> None:
    """Night 2 brings RELEASE_STORY_FIRST_DELIVERY days (a week: the retraining cadence trains a
    challenger on them, which starts a canary), night 3 one order cycle (the canary is judged on
    the money of one whole order); or two deliveries of `late_days` days."""
    from sme_platform.lib.demo_data.late_deliveries import plan_late_deliveries

    sizes = (
        [late_days, late_days]
        if late_days
        else [RELEASE_STORY_FIRST_DELIVERY, order_cycle_days(paths.root)]
    )
    deliveries = plan_late_deliveries(paths.demo_exports, sizes=sizes)
    _nights(paths, deliveries, run_night)


def run_drift_story(paths: ProjectPaths, late_days: int, run_night: Callable[[], None]) -> None:
    """Night 1 trains the champion on the days before the drift; night 2 brings `late_days`
    days of changed demand (a monthly cadence does not retrain); the monitoring measures the
    drift and the retraining sensor, evaluated here as the daemon would, asks for a retraining
    run, which is run at once: a new version trained on the drifted days and judged by the gate."""
    from sme_platform.lib.demo_data.late_deliveries import plan_late_deliveries

    _monthly_cadence(paths)
    deliveries = plan_late_deliveries(paths.demo_exports, late_days, count=1)
    _nights(paths, deliveries, run_night)
    _retrain_as_the_sensor_asks(paths)


def _nights(paths: ProjectPaths, deliveries, run_night: Callable[[], None]) -> None:
    from sme_platform.lib.demo_data.late_deliveries import deliver, hold_back

    nights = len(deliveries) + 1
    hold_back(paths.demo_exports, paths.demo_held_back, deliveries)
    console.print(
        f"[bold]Night 1 of {nights}[/bold]: everything but the sales and stock files from "
        f"{deliveries[0].first_day} on (held back in {paths.demo_held_back})"
    )
    run_night()
    for delivery in deliveries:
        deliver(paths.demo_exports, paths.demo_held_back, delivery)
        console.print(
            f"[bold]Night {delivery.night} of {nights}[/bold]: {delivery.what} arrived "
            f"({len(delivery.files)} files)"
        )
        run_night()


def _monthly_cadence(paths: ProjectPaths) -> None:
    config = paths.root / "forecasting.yaml"
    text = config.read_text(encoding="utf-8")
    cadence = "  every_days: 7 "
    if cadence not in text:
        raise ValueError(f"{config}: no `{cadence.strip()}` line to set the story's cadence in")
    config.write_text(
        text.replace(cadence, f"  every_days: {DRIFT_STORY_CADENCE_DAYS} ", 1), encoding="utf-8"
    )
    console.print(
        f"Retraining cadence: every {DRIFT_STORY_CADENCE_DAYS} days of new data ({config}), so "
        "between retrainings only a drift or a grown live error brings a new model"
    )


def _retrain_as_the_sensor_asks(paths: ProjectPaths) -> None:
    import dagster as dg
    from dagster._core.storage.tags import RUN_KEY_TAG

    from sme_platform.defs.monitoring.sensors import retrain_demand_forecast_on_drift
    from sme_platform.defs.resources import ProjectResource
    from sme_platform.lib.training.retraining import RETRAIN_TRIGGER_TAG

    instance = dg.DagsterInstance.get()
    with dg.build_sensor_context(
        instance=instance, resources={"project": ProjectResource(project_dir=str(paths.root))}
    ) as context:
        request = retrain_demand_forecast_on_drift(context)
    if not isinstance(request, dg.RunRequest):
        console.print(f"The retraining sensor: {request.skip_message}", markup=False)
        return
    console.print(
        f"The retraining sensor asks for run {request.run_key}: "
        f"{request.tags[RETRAIN_TRIGGER_TAG]}",
        markup=False,
    )
    run_retraining(paths, {**request.tags, RUN_KEY_TAG: request.run_key})
