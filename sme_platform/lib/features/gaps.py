"""Days with no sale anywhere inside the history a feature set sees: a missing file, mostly.

A delivery that never came looks like a company that sold nothing: every series' lags and means
fall over those days, and a model trained then learns the hole (a month missing from a sales-only
export made a model pass the gate on figures four times lower than the complete data gave). No
rule of a single file can see it, so the feature set says so, as a warning: a closed period is
a real answer too. When the file arrives, lib/training/retraining.py retrains (the history
moved)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb

from sme_platform.lib.features.events import EVENTS_TABLE
from sme_platform.lib.governance import CheckOutcome

CHECK_NAME = "sales_history_complete"

# Two days without a sale anywhere is a weekend of a shop closed on Saturday and Sunday, or
# Christmas and the day after; three in a row, across every location, rarely is.
MIN_GAP_DAYS = 3


@dataclass(frozen=True)
class SalesGap:
    first_day: date
    last_day: date

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    def describe(self) -> str:
        return f"{self.first_day}..{self.last_day} ({self.days} days)"


def sales_gaps(
    con: duckdb.DuckDBPyConnection, newest_day: date, history_days: int
) -> list[SalesGap]:
    """Runs of at least MIN_GAP_DAYS days between two days with sales, within the
    `history_days` up to `newest_day`, on which no series sold anything (as the events hold
    them now). Before the first sale is not a gap: the history starts there."""
    rows = con.execute(
        f"""
        with sold as (
            select distinct date from {EVENTS_TABLE}
            where units > 0 and date <= $newest and date > $newest::date - $days::integer
        ),
        ordered as (select date, lag(date) over (order by date) as previous from sold)
        select previous + 1, date - 1 from ordered
        where previous is not null and date_diff('day', previous, date) - 1 >= $min
        order by 1
        """,
        {"newest": newest_day, "days": history_days, "min": MIN_GAP_DAYS},
    ).fetchall()
    return [SalesGap(first, last) for first, last in rows]


def history_outcome(
    gaps: list[SalesGap], newest_day: date, history_days: int, judged: dict
) -> CheckOutcome:
    """The feature set's warning check: the gaps, or that there are none."""
    if not gaps:
        return CheckOutcome(
            CHECK_NAME,
            True,
            "warn",
            f"a sale somewhere on every day of the {history_days} days up to {newest_day} "
            f"(or gaps under {MIN_GAP_DAYS} days)",
            {"gaps": [], **judged},
        )
    listed = ", ".join(g.describe() for g in gaps[:5]) + (" ..." if len(gaps) > 5 else "")
    return CheckOutcome(
        CHECK_NAME,
        False,
        "warn",
        f"no sale anywhere on {len(gaps)} run(s) of days: {listed}. A missing or late file? "
        "The features read those days as days without demand; when the file arrives the model "
        "is retrained (forecasting.yaml retraining: history_change_share)",
        {
            "gaps": [
                {"first_day": str(g.first_day), "last_day": str(g.last_day), "days": g.days}
                for g in gaps
            ],
            **judged,
        },
    )
