"""Late deliveries for the demo's stories (`sme-platform demo --release-story | --drift-story`;
the drift story holds back one delivery, of the days after the change of demand).

One run of the demo shows the first model becoming champion; the rest of the release loop needs
nights. So the story holds back the last days' sales and stock files and makes them arrive
later, as real exports do, in two deliveries: night 1 runs without them (the first model to
beat the baselines becomes champion); on night 2 the older half arrives (a model trained on the
newer data is judged, and if it passes it starts a canary on a share of the locations, scoring
the days still to come); on night 3 the newest days arrive, the actuals the canary is judged on
against the champion (promoted, or rolled back when worse), and a third model faces the gate.
The price plan is there from night 1: a price plan that arrives late is known only from the day
it arrived, so no earlier origin could have used it (point in time), and a model trained then
learns nothing from it. The files are moved, not copied or rewritten: what arrives is what the
generator wrote.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from sme_platform.lib.demo_data.layout import (
    MANIFEST_FILE,
    inventory_file,
    sales_file,
)


@dataclass(frozen=True)
class Delivery:
    night: int
    what: str
    first_day: date
    files: tuple[str, ...]  # relative to the exports folder


def plan_late_deliveries(
    exports: Path, late_days: int = 7, count: int = 2, sizes: Sequence[int] | None = None
) -> list[Delivery]:
    """`count` deliveries of `late_days` days each, or one delivery per entry of `sizes` (days,
    oldest delivery first), the newest last, held back from night 1."""
    manifest_path = exports / MANIFEST_FILE
    if not manifest_path.is_file():
        raise FileNotFoundError(f"no demo manifest at {manifest_path}: generate the demo first")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    first_day = date.fromisoformat(manifest["period"]["first_day"])
    last_day = date.fromisoformat(manifest["period"]["last_day"])
    history_days = (last_day - first_day).days + 1
    if sizes is None:
        if count < 1:
            raise ValueError(f"count must be at least 1 delivery, not {count}")
        if not 1 <= late_days <= (history_days - 1) // count:
            raise ValueError(
                f"late_days must be between 1 and {(history_days - 1) // count} ({count} "
                f"deliveries and at least one day before them in {history_days} days), "
                f"not {late_days}"
            )
        sizes = [late_days] * count
    elif not sizes or min(sizes) < 1 or sum(sizes) > history_days - 1:
        raise ValueError(
            f"delivery sizes {list(sizes)}: at least one delivery, each of at least 1 day, "
            f"and at least one day before them in {history_days} days"
        )
    sales_format = manifest["scale_spec"]["sales_format"]
    deliveries = []
    first_late = last_day - timedelta(days=sum(sizes) - 1)
    for index, size in enumerate(sizes):
        start = first_late + timedelta(days=sum(sizes[:index]))
        days = [start + timedelta(days=k) for k in range(size)]
        files = tuple(
            name
            for day in days
            for name in (sales_file(day, sales_format), inventory_file(day))
            if (exports / name).is_file()
        )
        deliveries.append(
            Delivery(
                index + 2, f"the sales and stock files of {days[0]} to {days[-1]}", days[0], files
            )
        )
    return deliveries


def hold_back(exports: Path, held_back: Path, deliveries: list[Delivery]) -> None:
    for delivery in deliveries:
        _move(delivery.files, exports, held_back)


def deliver(exports: Path, held_back: Path, delivery: Delivery) -> None:
    _move(delivery.files, held_back, exports)


def _move(names: tuple[str, ...], source: Path, target: Path) -> None:
    for name in names:
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.move(source / name, target / name)
