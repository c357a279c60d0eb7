"""The demand model in a few lines for the run summary: who serves, what it costs, what it saves."""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from sme_platform.lib.monitoring.summary_lines import monitoring_lines
from sme_platform.lib.release.registry import get_version
from sme_platform.lib.training.cost_uncertainty import interval_text
from sme_platform.lib.warehouse import table_exists

HOLDOUT = "holdout"
DEMAND_MODEL_NAME = "demand_forecast"
# The role of the rows a fallback baseline publishes while no version has passed the gate.
FALLBACK_ROLE = "fallback"
# How far the agreed service level may be from the cost-optimal one before the summary says so.
SERVICE_LEVEL_TOLERANCE = 0.02
# The most audit events of the last run the summary lists (the newest ones).
MAX_RUN_EVENTS = 8


@dataclass
class MethodFigures:
    method: str
    business_cost: float
    wape: float | None
    bias: float | None
    coverage: float | None


@dataclass
class ForecastSummary:
    model_name: str
    champion: str | None
    champion_trained_on: str | None  # feature set version
    holdout_days: int = 0
    holdout_series: int = 0
    methods: list[MethodFigures] = field(default_factory=list)
    # The model's audit events of the newest run that recorded any (trained, the gate's
    # decision, a canary started or judged, approved, rolled back, published), one line each.
    last_run_events: list[str] = field(default_factory=list)
    forecast_rows: int = 0
    fallback: str | None = None  # the baseline served while no version has passed the gate
    # (a method name: lib/release/fallback.served_fallback)
    # Per method, its business cost summed over every backtest window (the folds and the
    # holdout): what the gate compares with the baselines under `baseline_window: all_folds`.
    window_costs: dict[str, float] = field(default_factory=dict)
    windows: int = 0
    monitoring: list[str] = field(default_factory=list)  # drift and live accuracy, one line each
    # The reorder simulation's agreed service level, and the one its money makes cheapest
    # (business.cost_optimal_service_level), as the shown version recorded them.
    service_level: float | None = None
    cost_optimal_service_level: float | None = None
    # The model's cost against each method's with its interval over series, per window
    # ("holdout", "all_windows"): lib/training/cost_uncertainty; {} before it was recorded.
    cost_intervals: dict = field(default_factory=dict)

    def interval_note(self, method: str, window: str) -> str:
        """ " (+16.8 %; 90 % interval over series -0.5 % to +31.2 %)" for the model against
        `method` on `window`, or "" when the version recorded none."""
        figures = self.cost_intervals.get(window, {}).get(method)
        if not figures or figures.get("low") is None:
            return ""
        return f" ({figures['ratio'] * 100:+.1f} %; {interval_text(figures)})"

    @property
    def service_level_note(self) -> str | None:
        """What the simulated costs reward when the agreed service level is far from the
        cost-optimal one, or None."""
        agreed, optimal = self.service_level, self.cost_optimal_service_level
        if agreed is None or optimal is None or abs(optimal - agreed) < SERVICE_LEVEL_TOLERANCE:
            return None
        if agreed < optimal:
            relation, dominant = "below", "units short"
            rewarded = "more looks cheaper for the extra stock it orders"
        else:
            relation, dominant = "above", "holding costs"
            rewarded = "less looks cheaper for the stock it does not hold"
        return (
            f"The reorder simulation's service level {agreed:.2f} is {relation} {optimal:.3f}, "
            "the cost-optimal one for the stated margins and holding cost (critical ratio, "
            f"median series): {dominant} dominate every method's simulated cost, and a method "
            f"that forecasts {rewarded}, not for forecasting better. Set business.service_level "
            "in forecasting.yaml to what the business means to hold."
        )

    @property
    def saving_against_best_alternative(self) -> tuple[str, float] | None:
        """(method, money saved) against the cheapest baseline or peer on the holdout."""
        ours = next((m for m in self.methods if m.method == "lightgbm"), None)
        others = [m for m in self.methods if m.method not in ("lightgbm", "champion")]
        if ours is None or not others:
            return None
        best = min(others, key=lambda m: m.business_cost)
        return best.method, best.business_cost - ours.business_cost

    @property
    def saving_over_windows(self) -> tuple[str, float] | None:
        """(method, money saved) against the cheapest baseline or peer over every window."""
        others = {m: c for m, c in self.window_costs.items() if m not in ("lightgbm", "champion")}
        if "lightgbm" not in self.window_costs or not others or self.windows < 2:
            return None
        best = min(others, key=lambda m: (others[m], m))
        return best, others[best] - self.window_costs["lightgbm"]


def served_fallback(con: duckdb.DuckDBPyConnection) -> str | None:
    """The baseline ml.demand_forecast serves now (a method name: lib/release/fallback.py), or
    None when a registered version's forecasts are published, or none are."""
    if not table_exists(con, "ml", "demand_forecast"):
        return None
    (version,) = con.execute(
        "select any_value(model_version) filter (where role = $role) from ml.demand_forecast",
        {"role": FALLBACK_ROLE},
    ).fetchone()
    return version.removeprefix(f"{FALLBACK_ROLE}:") if version else None


def summarize_forecasting(
    con: duckdb.DuckDBPyConnection, model_name: str
) -> ForecastSummary | None:
    if not table_exists(con, "ml", "model_registry"):
        return None
    row = con.execute(
        "select version, feature_set_version from ml.model_registry "
        "where model_name = ? and status = 'champion'",
        [model_name],
    ).fetchone()
    latest = con.execute(
        "select max_by(version, created_at) from ml.model_registry where model_name = ?",
        [model_name],
    ).fetchone()[0]
    shown = row[0] if row else latest
    summary = ForecastSummary(model_name, row[0] if row else None, row[1] if row else None)
    if shown:
        # As the version recorded them (one registered before the cost-optimal level was: None).
        business = get_version(con, model_name, shown).business
        summary.service_level = business.get("assumptions", {}).get("service_level")
        summary.cost_optimal_service_level = business.get("cost_optimal_service_level")
        summary.cost_intervals = business.get("cost_against_others") or {}
    if shown and table_exists(con, "ml", "backtest_results"):
        rows = con.execute(
            """select model, business_cost, wape, bias, interval_coverage, days, series
               from ml.backtest_results
               where model_name = ? and model_version = ? and fold = ?
                 and segment_type = 'overall'
               order by business_cost""",
            [model_name, shown, HOLDOUT],
        ).fetchall()
        summary.methods = [MethodFigures(*r[:5]) for r in rows]
        windows = con.execute(
            """select model, sum(business_cost), count(distinct fold) from ml.backtest_results
               where model_name = ? and model_version = ? and segment_type = 'overall'
                 and fold <> 'calibration' and model <> 'champion'
               group by model""",
            [model_name, shown],
        ).fetchall()
        summary.window_costs = {method: cost for method, cost, _ in windows}
        summary.windows = min((n for _, _, n in windows), default=0)
        if rows:
            summary.holdout_days = max(r[5] or 0 for r in rows)
            summary.holdout_series = max(r[6] or 0 for r in rows)
    if table_exists(con, "governance", "audit_log"):
        events = con.execute(
            """select event, model_version, reason from governance.audit_log
               where model_name = ? and run_id = (
                   select max_by(run_id, event_id) from governance.audit_log
                   where model_name = ? and run_id is not null)
               order by event_id""",
            [model_name, model_name],
        ).fetchall()
        lines = [f"{version} {event}: {reason}" for event, version, reason in events]
        if len(lines) > MAX_RUN_EVENTS:
            earlier = len(lines) - MAX_RUN_EVENTS
            lines = [f"... {earlier} earlier", *lines[-MAX_RUN_EVENTS:]]
        summary.last_run_events = lines
    if table_exists(con, "ml", "demand_forecast"):
        summary.forecast_rows = con.execute("select count(*) from ml.demand_forecast").fetchone()[0]
        summary.fallback = served_fallback(con)
    if summary.champion:
        summary.monitoring = monitoring_lines(con, model_name, summary.champion)
    return summary
