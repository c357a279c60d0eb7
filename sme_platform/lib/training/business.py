"""What a forecast is worth on the shelf: a reorder-policy simulation per series and fold.

The policy (periodic review, order-up-to; the same for every model, using only that model's
forecast and interval known at the origin):
- The stock on the shelf at the origin is what it is, whichever model is judged: it covers the
  lead time's actual demand exactly (opening = units demanded on days 1..L, L =
  lead_time_days). An earlier version opened with each model's own lead-time forecast, which
  judged a model also on a stock it never ordered: on Online Retail (no sales on Saturdays) a
  model that forecast the weekend right opened with a quarter of the flat methods' stock, and
  their surplus carried into the review period as free safety stock.
- One order is placed at the origin and arrives at the start of day L + 1. It brings the stock up
  to the order-up-to level for the protection interval (days 1..L+R, R = review_period_days):
  level = forecast over days 1..L+R + safety stock; order = max(level - opening, 0).
  Safety stock with the model's protection-interval residuals calibrated (`protection_quantiles`:
  what it missed over days 1..L+R on the calibration fold, per model and forecast-size bucket,
  in units of sqrt(forecast + 1)): q(service_level, size) * sqrt(forecast over days 1..L+R + 1).
  This reads the tail of the very quantity ordered for, where a daily interval summed as
  independent normal days (the fallback, below) missed the lumpy orders of wholesale customers.
  The quantiles and why they are per size: lib/training/safety_stock. Without calibration:
  z(service_level) * sqrt(sum of daily sigma^2), a day's sigma read from the interval as
  (high - prediction) / z((1 + nominal) / 2); no interval: the point forecast.
- Days 1..L+R are simulated against actual demand with lost sales (no backorders): each day sells
  min(demand, stock); the rest is short.
- A censored day's demand is unknown: it sells nothing in the simulation and is left out of the
  stock-out rate and units short (its stock still costs holding).

Money: a unit short costs its margin (price - cost, at least 0); a unit held overnight costs
unit cost * holding_cost_rate_per_year / 365. A series without a price uses default_unit_price,
without a cost price * (1 - default_margin_rate); the outputs count those series.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict, Field, model_validator

from sme_platform.lib.training.history import SERIES_KEYS, TrainingInputError, require_columns
from sme_platform.lib.training.metrics import RESULT_KEYS, with_segments
from sme_platform.lib.training.safety_stock import ProtectionQuantile, protection_quantile_of

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

    @property
    def order_cycle_days(self) -> int:
        """The days one order covers: the lead time and the review period after its origin."""
        return self.lead_time_days + self.review_period_days

    @model_validator(mode="after")
    def _fits_the_horizon(self) -> BusinessAssumptions:
        if self.order_cycle_days > MAX_HORIZON:
            raise ValueError(
                f"lead_time_days + review_period_days must be at most {MAX_HORIZON} (the forecast "
                f"horizon), got {self.lead_time_days} + {self.review_period_days}"
            )
        return self


def simulate_series(
    forecasts: pl.DataFrame,
    assumptions: BusinessAssumptions,
    nominal: float = 0.8,
    protection_quantiles: dict[str, ProtectionQuantile] | None = None,
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
    days = assumptions.order_cycle_days
    series_keys = ["model", "fold", *SERIES_KEYS]
    z_interval = NormalDist().inv_cdf((1 + nominal) / 2)
    # One row per series with its simulated days as lists: a single group-by over the string
    # keys (in the order the series first appear), then the days are (series x day) arrays put
    # in horizon order by numpy - sorting 1.4M rows in polars first would cost seconds.
    per_series = (
        forecasts.filter(pl.col("horizon").is_between(1, days))
        .with_columns(
            demand=pl.when(pl.col("censored")).then(0.0).otherwise(pl.col("actual")),
            # A day's sigma from the upper half of its interval; no interval: 0.
            sigma=(
                (pl.col("high") - pl.col("prediction")).clip(lower_bound=0.0) / z_interval
            ).fill_null(0.0),
        )
        .group_by(series_keys, maintain_order=True)
        .agg(
            pl.col("category", "unit_price", "unit_cost").first(),
            pl.col("horizon", "demand", "censored", "prediction", "sigma"),
            horizons=pl.col("horizon").n_unique(),
            simulated_days=pl.len(),
        )
    )
    incomplete = per_series.filter(
        (pl.col("horizons") != days) | (pl.col("simulated_days") != days)
    )
    if incomplete.height:
        first = incomplete.select(*series_keys, "horizons", "simulated_days").row(0, named=True)
        raise TrainingInputError(
            f"forecast frame: the simulation needs horizons 1..{days} once per series; "
            f"{incomplete.height} series differ, first: {first}"
        )

    day_order = np.argsort(per_series.get_column("horizon").list.to_array(days).to_numpy(), axis=1)

    def matrix(column: str) -> np.ndarray:
        values = per_series.get_column(column).list.to_array(days).to_numpy()
        return np.take_along_axis(values, day_order, axis=1)

    demand, prediction = matrix("demand"), matrix("prediction")
    window_quantile = None
    if protection_quantiles:
        protected_forecast = prediction.sum(axis=1)
        models = per_series.get_column("model").to_numpy()
        window_quantile = np.full(len(models), np.nan)
        for model, quantile in protection_quantiles.items():
            chosen = models == model
            if chosen.any():
                window_quantile[chosen] = protection_quantile_of(
                    quantile, protected_forecast[chosen]
                )
    outcome = _simulate_days(demand, prediction, matrix("sigma"), assumptions, window_quantile)
    censored = matrix("censored")
    return (
        per_series.drop("horizon", "horizons", "demand", "censored", "prediction", "sigma")
        .with_columns(
            known_days=pl.Series((~censored).sum(axis=1), dtype=pl.Int64),
            # A censored day sells nothing and has no known demand: never a stock-out day.
            stock_out_days=pl.Series((outcome.short > 0).sum(axis=1), dtype=pl.Int64),
            units_short=outcome.short.sum(axis=1),
            demand=demand.sum(axis=1),
            stock_days=outcome.end_stock.sum(axis=1),
            opening=outcome.opening,
            order=outcome.order,
        )
        .pipe(with_price_and_cost, assumptions)
        .with_columns(
            lost_margin=pl.col("units_short") * (pl.col("price") - pl.col("cost")).clip(0.0),
            holding_cost=pl.col("stock_days")
            * pl.col("cost")
            * assumptions.holding_cost_rate_per_year
            / DAYS_PER_YEAR,
        )
    )


def with_price_and_cost(frame: pl.DataFrame, assumptions: BusinessAssumptions) -> pl.DataFrame:
    """`price` and `cost` per row: the known unit price and cost, else the stated assumptions
    (and whether each was assumed)."""
    return frame.with_columns(
        price_assumed=pl.col("unit_price").is_null(),
        cost_assumed=pl.col("unit_cost").is_null(),
        price=pl.col("unit_price").fill_null(assumptions.default_unit_price),
    ).with_columns(
        cost=pl.col("unit_cost").fill_null(pl.col("price") * (1 - assumptions.default_margin_rate))
    )


def cost_optimal_service_level(
    forecasts: pl.DataFrame, assumptions: BusinessAssumptions
) -> float | None:
    """The service level the stated money makes cheapest: the newsvendor critical ratio
    Cu / (Cu + Co) of the median series, where a unit short loses its margin (Cu = price - cost)
    and a unit left over is held about one review period (Co = cost * holding rate * R / 365).

    Why it is reported: when the agreed `service_level` is well below it, units short dominate
    every method's simulated cost, and a method that forecasts more (or forecasts sales on days
    a shop is closed, within the lead time) looks cheaper for the extra stock it orders, not for
    forecasting better. With the default assumptions (35 % margin, 25 % a year, 7-day review) it
    is 0.991 against a service level of 0.9. None without series or money at stake."""
    require_columns(forecasts, [*SERIES_KEYS, "unit_price", "unit_cost"], "forecast frame")
    held_days = assumptions.review_period_days / DAYS_PER_YEAR
    ratios = (
        forecasts.group_by(SERIES_KEYS)
        .agg(pl.col("unit_price").mean(), pl.col("unit_cost").mean())
        .pipe(with_price_and_cost, assumptions)
        .with_columns(
            short=(pl.col("price") - pl.col("cost")).clip(0.0),
            left_over=pl.col("cost") * assumptions.holding_cost_rate_per_year * held_days,
        )
        .filter(pl.col("short") + pl.col("left_over") > 0)
        .select(pl.col("short") / (pl.col("short") + pl.col("left_over")))
        .to_series()
    )
    return None if ratios.is_empty() else float(ratios.median())


@dataclass
class _DaysOutcome:
    opening: np.ndarray  # per series
    order: np.ndarray  # per series
    short: np.ndarray  # series x day
    end_stock: np.ndarray  # series x day


def _simulate_days(
    demand: np.ndarray,
    prediction: np.ndarray,
    sigma: np.ndarray,
    assumptions: BusinessAssumptions,
    window_quantile: np.ndarray | None = None,
) -> _DaysOutcome:
    """The policy of the module docstring, all series at once, one step per simulated day."""
    lead = assumptions.lead_time_days
    z_service = NormalDist().inv_cdf(assumptions.service_level)
    opening = demand[:, :lead].sum(axis=1)
    protected_forecast = prediction.sum(axis=1)
    safety = z_service * np.sqrt((sigma**2).sum(axis=1))
    if window_quantile is not None:
        calibrated = ~np.isnan(window_quantile)
        safety = np.where(
            calibrated,
            np.nan_to_num(window_quantile) * np.sqrt(protected_forecast.clip(min=0.0) + 1.0),
            safety,
        )
    order = np.maximum(protected_forecast + safety - opening, 0.0)
    stock = opening.copy()
    short = np.zeros_like(demand)
    end_stock = np.zeros_like(demand)
    for day in range(demand.shape[1]):
        if day == lead:
            stock += order  # the order placed at the origin arrives at the start of day L + 1
        sold = np.minimum(stock, demand[:, day])  # lost sales: no backorders
        short[:, day] = demand[:, day] - sold
        stock -= sold
        end_stock[:, day] = stock
    return _DaysOutcome(opening=opening, order=order, short=short, end_stock=end_stock)


def business_by_segment(
    forecasts: pl.DataFrame,
    assumptions: BusinessAssumptions,
    nominal: float = 0.8,
    protection_quantiles: dict[str, ProtectionQuantile] | None = None,
) -> pl.DataFrame:
    """One row per model, fold and segment: stock-out rate, units short, days on hand, money.

    stock_out_rate = days with unmet demand / known simulated days; days_on_hand = average stock
    (over all simulated days) / average daily demand (over known days), null without demand;
    business_cost = lost_margin + holding_cost.
    """
    per_series = simulate_series(forecasts, assumptions, nominal, protection_quantiles)
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
