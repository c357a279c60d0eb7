"""What the tables refreshed over the days that changed share (the demand events, the live
forecast accuracy): how a refresh is described, and which days the staging models they read
replaced since the builds the last refresh consumed (governance.model_builds)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import duckdb

from sme_platform.lib.sql_models.incremental import DayRange, describe_ranges
from sme_platform.lib.sql_models.up_to_date import builds_since, last_build

_EPOCH = datetime(1970, 1, 1)


@dataclass(frozen=True)
class DayRefresh:
    mode: str  # full, incremental or unchanged
    ranges: tuple[DayRange, ...]
    reason: str
    rows_written: int
    noun: str = "row"  # what a row is, in the description

    def describe(self) -> str:
        if self.mode == "full":
            return f"full: {self.reason}; {self.rows_written} {self.noun}(s)"
        if self.mode == "unchanged":
            return "unchanged: no day changed since the last refresh"
        ranges = describe_ranges(list(self.ranges))
        return f"incremental: {ranges}; {self.rows_written} {self.noun}(s)"

    def ranges_json(self) -> str:
        return json.dumps([[start.isoformat(), end.isoformat()] for start, end in self.ranges])


def builds_consumed(con: duckdb.DuckDBPyConnection, models: tuple[str, ...]) -> str:
    """The newest build of each model, as JSON for the refresh's record."""
    built = {}
    for model in models:
        build = last_build(con, model)
        built[model] = build.built_at.isoformat() if build else None
    return json.dumps(built)


def days_rebuilt_since(
    con: duckdb.DuckDBPyConnection,
    consumed: str,
    by_day: tuple[str, ...],
    whole: tuple[str, ...] = (),
) -> tuple[list[DayRange] | None, str]:
    """The day ranges the `by_day` models' incremental builds replaced since the builds in
    `consumed` (builds_consumed's record); None and why when one of them was rebuilt in full,
    or one of the `whole` models (read whole: any build changes every day) was rebuilt."""
    built = json.loads(consumed)
    for model in whole:
        for build in builds_since(con, model, _parse(built.get(model))):
            return None, f"{model} was rebuilt in run {build.run_id[:8]}"
    changed: list[DayRange] = []
    for model in by_day:
        for build in builds_since(con, model, _parse(built.get(model))):
            if build.mode != "incremental":
                return None, f"{model} was rebuilt in full in run {build.run_id[:8]}"
            changed += build.ranges
    return changed, ""


def _parse(timestamp: str | None) -> datetime:
    return datetime.fromisoformat(timestamp) if timestamp else _EPOCH
