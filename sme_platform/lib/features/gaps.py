"""Days with no sale anywhere inside the history a feature set sees: a missing file, mostly.

A delivery that never came looks like a company that sold nothing: every series' lags and means
fall over those days, and a model trained then learns the hole (a month missing from a sales-only
export made a model pass the gate on figures four times lower than the complete data gave). No
rule of a single file can see it, so the feature set says so, as a warning: a closed period is
a real answer too. Each feature set version keeps the gaps of its history
(counts.history_gaps): when a file fills one later, lib/training/retraining.py retrains the model
that learned the hole."""

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


def sales_gaps(con: duckdb.DuckDBPyConnection, first_day: date, newest_day: date) -> list[SalesGap]:
    """Runs of at least MIN_GAP_DAYS days between two days with sales on which no series sold
    anything (as the events hold them now), the part of each from `first_day` to `newest_day`.
    A run that began before `first_day` counts its days inside; before the first sale ever is
    not a gap: the history starts there."""
    rows = con.execute(
        f"""
        with sold as (select distinct date from {EVENTS_TABLE} where units > 0 and date <= $newest),
        ordered as (select date, lag(date) over (order by date) as previous from sold),
        inside as (
            select greatest(previous + 1, $first::date) as gap_first, date - 1 as gap_last
            from ordered where previous is not null and date > $first::date
        )
        select gap_first, gap_last from inside
        where date_diff('day', gap_first, gap_last) + 1 >= $min
        order by 1
        """,
        {"first": first_day, "newest": newest_day, "min": MIN_GAP_DAYS},
    ).fetchall()
    return [SalesGap(first, last) for first, last in rows]


def filled_gaps(
    con: duckdb.DuckDBPyConnection, recorded: list[list[str]]
) -> list[tuple[SalesGap, float]]:
    """The recorded gaps (counts.history_gaps: [first, last] ISO days) that hold sales now, with
    their units: a late file arrived for days a model learned as days without demand."""
    filled = []
    for first, last in recorded:
        gap = SalesGap(date.fromisoformat(first), date.fromisoformat(last))
        units = con.execute(
            f"select coalesce(sum(units), 0) from {EVENTS_TABLE} where date between ? and ?",
            [gap.first_day, gap.last_day],
        ).fetchone()[0]
        if units > 0:
            filled.append((gap, float(units)))
    return filled


def history_outcome(
    gaps: list[SalesGap], first_day: date, newest_day: date, judged: dict
) -> CheckOutcome:
    """The feature set's warning check: the gaps, or that there are none."""
    if not gaps:
        return CheckOutcome(
            CHECK_NAME,
            True,
            "warn",
            f"a sale somewhere on every day from {first_day} to {newest_day} "
            f"(or gaps under {MIN_GAP_DAYS} days)",
            {"gaps": [], **judged},
        )
    listed = ", ".join(g.describe() for g in gaps[:5]) + (" ..." if len(gaps) > 5 else "")
    return CheckOutcome(
        CHECK_NAME,
        False,
        "warn",
        f"no sale anywhere on {len(gaps)} run(s) of days: {listed}. A missing or late file? "
        "The features read those days as days without demand; when a file fills them, the "
        "model trained on them is retrained",
        {
            "gaps": [
                {"first_day": str(g.first_day), "last_day": str(g.last_day), "days": g.days}
                for g in gaps
            ],
            **judged,
        },
    )
