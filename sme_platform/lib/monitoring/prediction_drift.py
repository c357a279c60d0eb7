"""Prediction drift: tonight's forecasts of the serving model against its first forecasts.

The reference is the model's first publication (ml.forecast_log, its earliest origin): what it
forecast when its training data ended. The current rows are its newest publication. Both are its
own daily predictions for every series it forecast (also those a canary served: the champion's
shadow forecast), a deterministic sample of at most `reference_rows` (ordered by a hash of the
series and horizon). A forecast that moves while the inputs do not is the model reacting to the
calendar or the price plan; one that moves with them confirms the feature drift; one that stays
while the sales moved is what the live error catches.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import polars as pl

from sme_platform.lib.monitoring.config import MonitoringConfig
from sme_platform.lib.monitoring.drift import measure_drift
from sme_platform.lib.monitoring.drift_worker import DriftWorker
from sme_platform.lib.monitoring.tables import append_rows
from sme_platform.lib.release.registry import ModelVersion
from sme_platform.lib.warehouse import table_exists

PREDICTION_DRIFT_TABLE = "monitoring.prediction_drift"
CHAMPION_ROLES = ("champion", "champion_shadow")


@dataclass(frozen=True)
class PredictionDrift:
    reference_origin: date
    current_origin: date
    score: float
    threshold: float
    drifted: bool
    reference_mean: float
    current_mean: float
    html_path: Path


def measure_prediction_drift(
    con: duckdb.DuckDBPyConnection,
    model: ModelVersion,
    reports_dir: Path,
    config: MonitoringConfig,
    run_id: str,
    worker: DriftWorker | None = None,
) -> PredictionDrift | None:
    """None when the model has published nothing yet."""
    if not table_exists(con, "ml", "forecast_log"):
        return None
    origins = con.execute(
        f"""select min(origin_date), max(origin_date) from ml.forecast_log
            where model_name = ? and model_version = ? and role in {CHAMPION_ROLES}""",
        [model.model_name, model.version],
    ).fetchone()
    if origins[0] is None:
        return None
    reference, current = (_predictions(con, model, origin, config) for origin in origins)
    html_path = reports_dir / "monitoring" / model.model_name / f"{origins[1]}_predictions.html"
    result = measure_drift(
        reference,
        current,
        ["prediction"],
        method=config.drift_method,
        threshold=config.drift_threshold,
        html_path=html_path,
        what=f"prediction drift of {model.model_name} {model.version}",
        worker=worker,
    )
    (row,) = result.columns.iter_rows(named=True)
    drift = PredictionDrift(
        origins[0],
        origins[1],
        row["score"],
        row["threshold"],
        row["drifted"],
        float(reference["prediction"].mean()),
        float(current["prediction"].mean()),
        html_path,
    )
    append_rows(
        con,
        PREDICTION_DRIFT_TABLE,
        pl.DataFrame(
            [
                {
                    "run_id": run_id,
                    "model_name": model.model_name,
                    "model_version": model.version,
                    "reference_origin": drift.reference_origin,
                    "current_origin": drift.current_origin,
                    "method": row["method"],
                    "score": drift.score,
                    "threshold": drift.threshold,
                    "drifted": drift.drifted,
                    "reference_mean": drift.reference_mean,
                    "current_mean": drift.current_mean,
                    "reference_rows": reference.height,
                    "current_rows": current.height,
                    "report_path": str(html_path),
                    "created_at": datetime.now(UTC).replace(tzinfo=None),
                }
            ]
        ),
    )
    return drift


def _predictions(con, model: ModelVersion, origin: date, config: MonitoringConfig):
    # The last publication of that origin (a night run twice logs it twice).
    return con.execute(
        f"""select prediction from ml.forecast_log
            where model_name = ? and model_version = ? and role in {CHAMPION_ROLES}
              and origin_date = ?
            qualify scored_at = max(scored_at) over ()
            order by hash(sku, location_id, horizon) limit ?""",
        [model.model_name, model.version, origin, config.reference_rows],
    ).pl()
