"""The history a feature set version's model learns from: every day of sales its features can
see, from the lookback of the oldest training origin to the newest day. Each version keeps what
that history held when it was built (counts.history_from, history_units, history_gaps), so
lib/training/retraining.py can tell when a late or replaced file has moved it since."""

from __future__ import annotations

from datetime import date, timedelta

import duckdb

from sme_platform.lib.features.demand import LOOKBACK_DAYS
from sme_platform.lib.features.events import EVENTS_TABLE
from sme_platform.lib.features.gaps import sales_gaps
from sme_platform.lib.features.origins import ForecastCalendar, oldest_training_origin
from sme_platform.lib.features.settings import ForecastSettings

HISTORY_FROM = "history_from"
HISTORY_UNITS = "history_units"
HISTORY_GAPS = "history_gaps"


def history_start(calendar: ForecastCalendar, settings: ForecastSettings) -> date:
    """The first day of sales a version's features can see: the lookback of its oldest training
    origin (with the defaults 644 days before the newest day: the 364-day training window, the
    folds and the holdout after it, and 182 days of lookback)."""
    return oldest_training_origin(calendar, settings) - timedelta(days=LOOKBACK_DAYS)


def history_units(con: duckdb.DuckDBPyConnection, first_day: date, last_day: date) -> float:
    """Units sold from `first_day` to `last_day`, as the events hold them now. Kept with each
    version over its history (counts.history_units, from counts.history_from): when a late or
    replaced file changes that history later, retraining.py can tell how much of what a model
    learned from has moved."""
    return float(
        con.execute(
            f"""select coalesce(sum(units), 0) from {EVENTS_TABLE}
                where date between $first and $last""",
            {"first": first_day, "last": last_day},
        ).fetchone()[0]
    )


def history_counts(
    con: duckdb.DuckDBPyConnection, calendar: ForecastCalendar, settings: ForecastSettings
) -> dict:
    """What a version's history held when it was built: its first day, the units sold in it,
    and the runs of days without a sale anywhere (lib/features/gaps.py), for retraining.py."""
    first = history_start(calendar, settings)
    gaps = sales_gaps(con, first, calendar.newest_day)
    return {
        HISTORY_FROM: first.isoformat(),
        HISTORY_UNITS: history_units(con, first, calendar.newest_day),
        HISTORY_GAPS: [[g.first_day.isoformat(), g.last_day.isoformat()] for g in gaps],
    }
