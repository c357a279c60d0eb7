"""Tiny hand-made and simulated inputs for the lib/training tests."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

START = dt.date(2024, 1, 1)


def history_frame(rows: list[tuple[str, str, dt.date, float, bool]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={
            "sku": pl.String,
            "location_id": pl.String,
            "date": pl.Date,
            "units": pl.Float64,
            "censored": pl.Boolean,
        },
        orient="row",
    )


def series_history(
    sku: str, location_id: str, units: list[float], censored: list[bool] | None = None
) -> list[tuple[str, str, dt.date, float, bool]]:
    """One series from START, one day per value."""
    censored = censored or [False] * len(units)
    return [
        (sku, location_id, START + dt.timedelta(days=day), float(value), flag)
        for day, (value, flag) in enumerate(zip(units, censored, strict=True))
    ]


def intermittent_history(
    series: int, days: int, seed: int, locations: int = 2, censor_share: float = 0.0
) -> pl.DataFrame:
    """Simulated intermittent demand: each series sells on a random share of days (20-100 %), a
    Poisson number of units when it does (mean rate from a log-normal); optionally some zero days
    censored (stocked out)."""
    rng = np.random.default_rng(seed)
    frames = []
    for index in range(series):
        rate = rng.lognormal(0.0, 1.0)
        occurrence = rng.uniform(0.2, 1.0)
        sells = rng.random(days) < occurrence
        units = np.where(sells, rng.poisson(rate / occurrence, days), 0).astype(float)
        censored = (units == 0) & (rng.random(days) < censor_share)
        frames.append(
            pl.DataFrame(
                {
                    "sku": f"sku_{index:03d}",
                    "location_id": f"loc_{index % locations}",
                    "date": pl.date_range(START, START + dt.timedelta(days=days - 1), eager=True),
                    "units": units,
                    "censored": censored,
                }
            )
        )
    return pl.concat(frames)


def rolling_origins(first_origin_day: int, folds: list[str], step: int = 14):
    """(fold, origin) pairs every `step` days from START + first_origin_day."""
    return [
        (fold, START + dt.timedelta(days=first_origin_day + step * position))
        for position, fold in enumerate(folds)
    ]
