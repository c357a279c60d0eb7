"""A release step for the demand model: the canary running since an earlier night is judged on
the actuals that arrived, the new candidate faces the gate (scored beside the champion on the
same holdout), and an approved challenger waiting for its approval is released.

Order matters: a canary promoted tonight is the champion the new candidate must beat.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from sme_platform.lib.features.origins import HOLDOUT
from sme_platform.lib.features.store import stored_version
from sme_platform.lib.release.canary import CanaryDecision, compare
from sme_platform.lib.release.canary_cost import canary_cost
from sme_platform.lib.release.gate import CHAMPION_METHOD, GateConfig, GateDecision, decide
from sme_platform.lib.release.logged_forecasts import FORECAST_LOG, simulation_frame
from sme_platform.lib.release.promotion import apply_canary_decision, apply_gate_decision
from sme_platform.lib.release.recipe import champion_judged_live
from sme_platform.lib.release.registry import ModelVersion, champion, get_version, list_versions
from sme_platform.lib.release.status import transition
from sme_platform.lib.training.business import BusinessAssumptions
from sme_platform.lib.training.evaluate import evaluate
from sme_platform.lib.training.registration import RESULTS_TABLE, record_backtest_results
from sme_platform.lib.training.scoring import load_registered, score
from sme_platform.lib.warehouse import table_exists


@dataclass
class ReleaseOutcome:
    candidate: ModelVersion | None
    decision: GateDecision | None
    canary: CanaryDecision | None = None
    champion: ModelVersion | None = None
    notes: list[str] = field(default_factory=list)


def canary_challenger(con: duckdb.DuckDBPyConnection, model_name: str) -> ModelVersion | None:
    running = [
        v
        for v in list_versions(con, model_name)
        if v.status == "challenger" and v.canary_share is not None
    ]
    return running[-1] if running else None


def judge_canary(
    con: duckdb.DuckDBPyConnection,
    model_name: str,
    config: GateConfig,
    assumptions: BusinessAssumptions,
    run_id: str,
) -> CanaryDecision | None:
    """Compare the running canary with the champion on the business cost of the order cycles
    sold since it started (lib/release/canary_cost), with WAPE and bias on the days whose
    actuals have arrived beside it, from the forecasts both made for the canary's series
    (ml.forecast_log); a stocked-out day with no sale is censored (left out), as in the
    backtest."""
    challenger = canary_challenger(con, model_name)
    current = champion(con, model_name)
    if challenger is None or current is None or not table_exists(con, "ml", "forecast_log"):
        return None
    # Every logged forecast of the canary series whose day has been sold, with its actual and
    # censoring as the canary's money reads them (logged_forecasts.simulation_frame).
    frames = simulation_frame(
        con,
        f"""select * from {FORECAST_LOG}
            where model_name = $name and canary_series
              and model_version in ($challenger, $champion)
              and date <= (select max(order_date) from staging.sales_lines)""",
        "canary",
        {"name": model_name, "challenger": challenger.version, "champion": current.version},
    )
    mine = frames.filter(pl.col("model") == challenger.version)
    theirs = frames.filter(pl.col("model") == current.version)
    cost = canary_cost(con, model_name, challenger, current, assumptions)
    decision = compare(mine, theirs, config, cost)
    apply_canary_decision(con, model_name, challenger.version, decision, run_id=run_id)
    return decision


def release_candidate(
    con: duckdb.DuckDBPyConnection,
    models_dir: Path,
    model_name: str,
    candidate_version: str,
    feature_set_version: str,
    years: list[int],
    gate: GateConfig,
    assumptions: BusinessAssumptions,
    nominal: float,
    run_id: str,
) -> ReleaseOutcome:
    candidate = get_version(con, model_name, candidate_version)
    current = champion(con, model_name)
    notes: list[str] = []
    if candidate.status != "candidate" and not (
        candidate.status == "challenger"
        and candidate.canary_share is None
        and candidate.approved_by is not None
    ):
        # Judged in an earlier run (the same features and code gave the same model): the
        # decision stands; the audit log has it.
        return ReleaseOutcome(
            candidate,
            None,
            None,
            current,
            [f"{candidate.version} was judged before and is {candidate.status}: not judged again"],
        )
    judged_live = _judged_live(con, candidate, current, feature_set_version)
    if judged_live is not None:
        notes.append(judged_live)
    elif current is not None and not _has_champion_rows(con, model_name, candidate.version):
        rows = champion_holdout_rows(
            con, models_dir, current, feature_set_version, years, assumptions, nominal
        )
        record_backtest_results(con, rows, model_name, candidate.version, run_id)
        notes.append(
            f"champion {current.version} scored on the same holdout as {candidate.version} "
            "(it may have learned from some of those days: the comparison favours the champion)"
        )
    # Every fold: the gate reads the holdout, or every backtest window (baseline_window).
    rows = con.execute(
        f"select * from {RESULTS_TABLE} where model_name = ? and model_version = ?",
        [model_name, candidate.version],
    ).pl()
    decision = decide(
        rows.filter(pl.col("model") == "lightgbm"),
        rows.filter(pl.col("model") != "lightgbm"),
        gate,
        has_champion=current is not None,
        approved=candidate.approved_by is not None,
        champion_judged_live=judged_live,
        cost_intervals=(candidate.business or {}).get("cost_against_others"),
    )
    # What the costs were simulated with, for whoever reads the decision later (the gate
    # check's metadata, the audit log): the service level held, and the one the prices and
    # costs make cheapest (business.cost_optimal_service_level; None for a version registered
    # before it was recorded).
    decision.figures["service_level"] = {
        "agreed": assumptions.service_level,
        "cost_optimal": candidate.business.get("cost_optimal_service_level"),
    }
    running = canary_challenger(con, model_name)
    if decision.outcome == "start_canary" and running is not None:
        notes.append(f"canary of {running.version} replaced by {candidate.version}")
        transition(
            con,
            model_name,
            running.version,
            "archived",
            actor=f"run:{run_id}",
            reason=f"its canary was replaced by the canary of {candidate.version}",
            run_id=run_id,
        )
    released = apply_gate_decision(
        con, model_name, candidate.version, decision, run_id=run_id, canary_share=gate.canary_share
    )
    return ReleaseOutcome(released, decision, None, champion(con, model_name), notes)


def champion_holdout_rows(
    con: duckdb.DuckDBPyConnection,
    models_dir: Path,
    current: ModelVersion,
    feature_set_version: str,
    years: list[int],
    assumptions: BusinessAssumptions,
    nominal: float,
) -> pl.DataFrame:
    """The champion's forecasts of the holdout the candidate was judged on, judged the same way,
    as backtest rows of method "champion"."""
    loaded = load_registered(con, models_dir, current.model_name, current.version)
    scored = score(con, loaded, feature_set_version, f"fold = '{HOLDOUT}'", years).forecast
    frame = scored.with_columns(
        pl.lit(CHAMPION_METHOD).alias("model"), pl.lit(HOLDOUT).alias("fold")
    )
    protection = (
        {CHAMPION_METHOD: loaded.protection_quantile}
        if loaded.protection_quantile is not None
        else None
    )
    return evaluate([frame], assumptions, nominal, protection)


def waiting_for_release(con: duckdb.DuckDBPyConnection, model_name: str) -> list[ModelVersion]:
    """Challengers approved since the gate left them waiting for an approval."""
    return [
        v
        for v in list_versions(con, model_name)
        if v.status == "challenger" and v.canary_share is None and v.approved_by is not None
    ]


def _judged_live(
    con: duckdb.DuckDBPyConnection,
    candidate: ModelVersion,
    current: ModelVersion | None,
    feature_set_version: str,
) -> str | None:
    if current is None:
        return None
    theirs = stored_version(con, current.feature_set_version)
    ours = stored_version(con, feature_set_version)
    if theirs is None or ours is None:
        return None
    return champion_judged_live(
        candidate,
        current,
        theirs.calendar.newest_day,
        ours.calendar.fold_origins()[HOLDOUT],
        ours.calendar.horizon_days,
    )


def _has_champion_rows(con: duckdb.DuckDBPyConnection, model_name: str, version: str) -> bool:
    if not table_exists(con, "ml", "backtest_results"):
        return False
    return con.execute(
        f"select count(*) > 0 from {RESULTS_TABLE} where model_name = ? and model_version = ? "
        "and model = ?",
        [model_name, version, CHAMPION_METHOD],
    ).fetchone()[0]
