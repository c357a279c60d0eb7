"""What a forecast is worth on the shelf: a reorder-policy simulation per series and fold.

The policy (the same for every model, using only that model's forecast and interval known at the
origin):
- Opening stock at the origin covers the lead time with the point forecast:
  opening = sum of predictions of days 1..L (L = lead_time_days).
- One order is placed at the origin and arrives at the start of day L + 1. It covers the review
  period (days L+1..L+R) up to the service-level quantile of the demand over it:
  order = sum of predictions + z(service_level) * sqrt(sum of daily sigma^2), where a day's sigma is
  read from the model's interval: (high - prediction) / z((1 + nominal) / 2), i.e. the upper half of
  the interval taken as a normal tail (days independent). No interval: sigma 0, the point forecast.
- Days 1..L+R are simulated against actual demand with lost sales (no backorders): each day sells
  min(demand, stock); the rest is short. Stock left after the lead time is carried over.
- A censored day's demand is unknown: it sells nothing in the simulation and is left out of the
  stock-out rate and units short (its stock still costs holding).

Money: a unit short costs its margin (price - cost, at least 0); a unit held overnight costs
unit cost * holding_cost_rate_per_year / 365. A series without a price uses default_unit_price,
without a cost price * (1 - default_margin_rate); the outputs count those series.
"""

from __future__ import annotations

from statistics import NormalDist
from typing import Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, model_validator

from sme_platform.lib.training.history import SERIES_KEYS, TrainingInputError, require_columns
from sme_platform.lib.training.metrics import RESULT_KEYS, with_segments

BUSINESS_COLUMNS = [
    "stock_out_rate",
    "units_short",
    "days_on_hand",
    "lost_margin",
    "holding_cost",
    "business_cost",
    "series_price_assumed",
    "series_cost_assumed",
]
MAX_HORIZON = 14
DAYS_PER_YEAR = 365


class BusinessAssumptions(BaseModel):
    """The money and policy assumptions the business agrees to (stated in every result)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    lead_time_days: int = Field(default=2, ge=0)
    review_period_days: int = Field(default=7, ge=1)
    service_level: float = Field(default=0.9, gt=0.0, lt=1.0)
    holding_cost_rate_per_year: float = Field(default=0.25, ge=0.0)
    default_margin_rate: float = Field(default=0.35, ge=0.0, lt=1.0)
    default_unit_price: float = Field(default=10.0, gt=0.0)
    lost_sale_cost: Literal["margin"] = "margin"

    @model_validator(mode="after")
    def _fits_the_horizon(self) -> BusinessAssumptions:
        if self.lead_time_days + self.review_period_days > MAX_HORIZON:
            raise ValueError(
                f"lead_time_days + review_period_days must be at most {MAX_HORIZON} (the forecast "
                f"horizon), got {self.lead_time_days} + {self.review_period_days}"
            )
        return self


def simulate_series(
    forecasts: pl.DataFrame, assumptions: BusinessAssumptions, nominal: float = 0.8
) -> pl.DataFrame:
    """Per model, fold and series: the simulated days and their stock, shortage and money."""
    require_columns(
        forecasts,
        [
            "model",
            "fold",
            *SERIES_KEYS,
            "category",
            "horizon",
            "actual",
            "censored",
            "prediction",
            "high",
            "unit_price",
            "unit_cost",
        ],
        "forecast frame",
    )
    lead = assumptions.lead_time_days
    days = lead + assumptions.review_period_days
    series_keys = ["model", "fold", *SERIES_KEYS]
    rows = forecasts.filter(pl.col("horizon") <= days)
    z_service = NormalDist().inv_cdf(assumptions.service_level)
    z_interval = NormalDist().inv_cdf((1 + nominal) / 2)
    in_lead = pl.col("horizon") <= lead
    # One integer per series (its first row's index): the windows below group by it rather than
    # by four keys, and sorting by it is far cheaper than sorting by the string keys.
    daily = (
        rows.lazy()
        .with_row_index("_row")
        .with_columns(_series=pl.col("_row").min().over(series_keys))
        .sort("_series", "horizon")
        .with_columns(
            demand=pl.when(pl.col("censored")).then(0.0).otherwise(pl.col("actual")),
            sigma=(
                (pl.col("high") - pl.col("prediction")).clip(lower_bound=0.0) / z_interval
            ).fill_null(0.0),
        )
        .with_columns(
            opening=pl.col("prediction").filter(in_lead).sum().over("_series"),
            order=(
                pl.col("prediction").filter(~in_lead).sum()
                + z_service * (pl.col("sigma").filter(~in_lead) ** 2).sum().sqrt()
            )
            .clip(lower_bound=0.0)
            .over("_series"),
            cumulative_demand=pl.col("demand").cum_sum().over("_series"),
            lead_demand=pl.col("demand").filter(in_lead).sum().over("_series"),
        )
        .with_columns(
            # Lost sales: stock only falls between arrivals, and never below 0, so the stock
            # at the end of a day is the opening (plus the order once arrived) less the demand
            # since, floored at 0 - one expression, no day-by-day loop.
            end_stock=pl.when(in_lead)
            .then((pl.col("opening") - pl.col("cumulative_demand")).clip(lower_bound=0.0))
            .otherwise(
                (
                    (pl.col("opening") - pl.col("lead_demand")).clip(lower_bound=0.0)
                    + pl.col("order")
                    - (pl.col("cumulative_demand") - pl.col("lead_demand"))
                ).clip(lower_bound=0.0)
            )
        )
        .with_columns(
            available=pl.col("end_stock").shift(1).over("_series").fill_null(pl.col("opening"))
            + pl.when(pl.col("horizon") == lead + 1).then(pl.col("order")).otherwise(0.0)
        )
        .with_columns(short=(pl.col("demand") - pl.col("available")).clip(lower_bound=0.0))
    )
    per_series = (
        daily.group_by("_series")
        .agg(
            pl.col(*series_keys, "category").first(),
            horizons=pl.col("horizon").n_unique(),
            unit_price=pl.col("unit_price").first(),
            unit_cost=pl.col("unit_cost").first(),
            simulated_days=pl.len(),
            known_days=(~pl.col("censored")).sum(),
            # A censored day has no known demand, hence no shortage: never a stock-out day.
            stock_out_days=(pl.col("short") > 0).sum(),
            units_short=pl.col("short").sum(),
            demand=pl.col("demand").sum(),
            stock_days=pl.col("end_stock").sum(),
            opening=pl.col("opening").first(),
            order=pl.col("order").first(),
        )
        .with_columns(
            price_assumed=pl.col("unit_price").is_null(),
            cost_assumed=pl.col("unit_cost").is_null(),
            price=pl.col("unit_price").fill_null(assumptions.default_unit_price),
        )
        .with_columns(
            cost=pl.col("unit_cost").fill_null(
                pl.col("price") * (1 - assumptions.default_margin_rate)
            )
        )
        .with_columns(
            lost_margin=pl.col("units_short") * (pl.col("price") - pl.col("cost")).clip(0.0),
            holding_cost=pl.col("stock_days")
            * pl.col("cost")
            * assumptions.holding_cost_rate_per_year
            / DAYS_PER_YEAR,
        )
        .drop("_series")
        .collect()
    )
    # Checked after the fact (one pass over the data): the closed form above needs each series'
    # days 1..lead+review exactly once.
    incomplete = per_series.filter(
        (pl.col("horizons") != days) | (pl.col("simulated_days") != days)
    )
    if incomplete.height:
        first = incomplete.select(*series_keys, "horizons", "simulated_days").row(0, named=True)
        raise TrainingInputError(
            f"forecast frame: the simulation needs horizons 1..{days} once per series; "
            f"{incomplete.height} series differ, first: {first}"
        )
    return per_series.drop("horizons").sort(series_keys)


def business_by_segment(
    forecasts: pl.DataFrame, assumptions: BusinessAssumptions, nominal: float = 0.8
) -> pl.DataFrame:
    """One row per model, fold and segment: stock-out rate, units short, days on hand, money.

    stock_out_rate = days with unmet demand / known simulated days; days_on_hand = average stock
    (over all simulated days) / average daily demand (over known days), null without demand;
    business_cost = lost_margin + holding_cost.
    """
    per_series = simulate_series(forecasts, assumptions, nominal)
    return (
        with_segments(per_series)
        .group_by(RESULT_KEYS)
        .agg(
            stock_out_days=pl.col("stock_out_days").sum(),
            known_days=pl.col("known_days").sum(),
            simulated_days=pl.col("simulated_days").sum(),
            stock_days=pl.col("stock_days").sum(),
            demand=pl.col("demand").sum(),
            units_short=pl.col("units_short").sum(),
            lost_margin=pl.col("lost_margin").sum(),
            holding_cost=pl.col("holding_cost").sum(),
            series_price_assumed=pl.col("price_assumed").sum().cast(pl.Int64),
            series_cost_assumed=pl.col("cost_assumed").sum().cast(pl.Int64),
        )
        .with_columns(
            stock_out_rate=pl.when(pl.col("known_days") > 0).then(
                pl.col("stock_out_days") / pl.col("known_days")
            ),
            days_on_hand=pl.when(pl.col("demand") > 0).then(
                (pl.col("stock_days") / pl.col("simulated_days"))
                / (pl.col("demand") / pl.col("known_days"))
            ),
            business_cost=pl.col("lost_margin") + pl.col("holding_cost"),
        )
        .select(*RESULT_KEYS, *BUSINESS_COLUMNS)
        .sort(RESULT_KEYS)
    )
