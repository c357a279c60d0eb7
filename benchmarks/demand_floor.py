"""The demo's floor for benchmarks/forecast.py: its true expected demand, judged like every method.

The demo generator knows the mean it drew each pair's demand from (lib/demo_data/ground_truth).
A "forecast" equal to that mean, on the same folds, series and days as the platform's backtest,
judged by the platform's own judge_methods (intervals and protection quantiles from the
calibration fold, then WAPE, bias, coverage and simulated cost), shows what is left once every
learnable signal is known: the randomness of the draws. No model learned from the data can
expect to do better in WAPE at the same bias; how far the best peer is above it says how much
any model can win on this data at all.

Only for a project whose exports the demo generator wrote (its `_manifest.json` under
data/demo/); other projects (Online Retail, a company's own) have no ground truth.
"""

from __future__ import annotations

from pathlib import Path

GROUND_TRUTH = "ground_truth.expected_demand"

FLOOR = """
from datetime import timedelta
import json
import polars as pl
from sme_platform.lib.demo_data.ground_truth import expected_units
from sme_platform.lib.features.store import stored_version
from sme_platform.lib.training.config import load_forecasting_config
from sme_platform.lib.training.history import SERIES_KEYS, as_forecast_frame, target_days
from sme_platform.lib.training.metrics import wape_at_zero_bias
from sme_platform.lib.training.pipeline import evaluation_history, fold_series, judge_methods
from sme_platform.lib.warehouse import connect
project, database, version, manifest_path = (
    Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], Path(sys.argv[4]))
config = load_forecasting_config(project)
with connect(database, read_only=True) as con:
    feature_set = stored_version(con, version)
    history = evaluation_history(con, version)
    series_by_fold = fold_series(con, version)
horizon = feature_set.calendar.horizon_days
origins = feature_set.calendar.fold_origins()
started = time.perf_counter()
evaluated = pl.concat([s.select(SERIES_KEYS) for s in series_by_fold.values()]).unique()
truth = expected_units(
    json.loads(manifest_path.read_text(encoding="utf-8")),
    min(origins.values()),
    max(origins.values()) + timedelta(days=horizon - 1),
    series=evaluated,
).rename({"date": "target_date", "expected_units": "prediction"})
frames, targets_total, matched = [], 0, 0
for fold, origin in origins.items():
    series = series_by_fold.get(fold)
    if series is None or series.is_empty():
        continue
    keys = series.select(SERIES_KEYS)
    fold_history = history.join(keys, on=SERIES_KEYS, how="semi")
    targets = target_days(fold_history, [(fold, origin)], keys, horizon, attributes=series)
    frame = targets.join(truth, on=[*SERIES_KEYS, "target_date"], how="left")
    targets_total += frame.height
    matched += frame["prediction"].is_not_null().sum()
    # A pair the generator had not on sale that day: its true mean is 0.
    frames.append(as_forecast_frame(frame.with_columns(pl.col("prediction").fill_null(0.0)),
                                    sys.argv[5]))
forecasts = pl.concat(frames)
results = judge_methods(forecasts, config.business)[1]
columns = ["model", "fold", "series", "wape", "bias", "interval_coverage", "business_cost",
           "wape_at_zero_bias"]
rows = (results.filter(pl.col("segment_type") == "overall")
        .join(wape_at_zero_bias(forecasts), on=["model", "fold"], how="left")
        .select(columns).to_dicts())
report(seconds=time.perf_counter() - started, results=rows,
       ground_truth={"target_days": targets_total, "matched": matched})
"""


def demo_manifest(project: Path) -> Path | None:
    """The demo generator's manifest of the project's exports, if the demo generator wrote them."""
    found = sorted((project / "data" / "demo").glob("**/_manifest.json"))
    return found[0] if found else None


def floor_results(project: Path, database: Path, version: str, run_child) -> dict | None:
    """The ground truth's rows for the dataset's results ("results") and how many target days it
    covered ("ground_truth"), or None for a project without a demo manifest."""
    manifest = demo_manifest(project)
    if manifest is None:
        return None
    return run_child(FLOOR, project, database, version, manifest, GROUND_TRUTH)


def floor_line(methods: dict[str, dict[str, dict]], best_wape: float | None) -> str | None:
    """What the ground truth says about the WAPE target: how far below the best peer even the
    true mean is, against the 3 % the target asks of the model."""
    truth = methods.get(GROUND_TRUTH, {}).get("mean")
    if truth is None or truth.get("wape") is None:
        return None
    line = (
        f"floor: the generator's true expected demand has mean WAPE {truth['wape']:.3f} at "
        f"bias {truth['bias']:+.1%}"
    )
    if best_wape:
        line += (
            f", {truth['wape'] / best_wape - 1:+.1%} against the best other with |bias| <= 10 %"
            " (no model learned from the data can expect to beat it)"
        )
    return line
