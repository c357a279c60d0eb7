"""The demand forecast against its baselines and peers, and what training and the whole graph cost.

    .venv/bin/python benchmarks/forecast.py [--scale small] [--scale medium] [--workdir D]
        [--demo-project DIR] [--online-retail-project DIR] [--no-online-retail] [--no-long-tail]
        [--no-mlforecast]

mlforecast (Nixtla) is an optional benchmark dependency, not one of the platform's:
    .venv/bin/pip install -e '.[bench]'      (or: .venv/bin/pip install 'mlforecast>=1.0,<2')
Without it the mlforecast peers are skipped and the script says so.

Accuracy and money, on the demo company (per --scale; the first scale only) and on
examples/online_retail (its data file from SME_DATASETS_DIR, default ../shared/datasets next to
this checkout). Each project is generated and run with `sme-platform run` in a folder under
--workdir, or reused when its warehouse already holds a trained model (--demo-project and
--online-retail-project name an existing project folder). Then, from its warehouse:
- the platform's figures as the run stored them in ml.backtest_results (segment overall) for
  the newest registered version: LightGBM, the baselines and the statsforecast peers, per fold,
  the mean over fold_1..fold_N and the holdout: WAPE, bias, interval coverage and the simulated
  business cost of the reorder policy;
- mlforecast LightGBM, recursive, objectives L2, tweedie and L1, on the same folds and series:
  the fold calendar and evaluated series of the stored feature set version, the dense history
  the platform's baselines use (lib/training/pipeline), censored days imputed as for the
  statsforecast peers, conformal intervals fitted on the calibration fold
  (lib/training/conformal), judged by lib/training/evaluate. As a check that the figures are
  comparable, the platform's two baselines are recomputed the same way beside them and their
  largest difference from the stored figures is printed (it should be 0).
- on a demo project (the demo generator's manifest under data/demo/), the data's floor: the
  generator's true expected demand of each pair and day judged the same way
  (benchmarks/demand_floor.py, `ground_truth.expected_demand`), which no model learned from the
  data can expect to beat; the summary says how far below the best peer even it is.
Methods are listed cheapest simulated holdout cost first: the ranking the business agrees to;
WAPE is never read alone (an L1 model forecasting the median of intermittent demand has a low
WAPE and empties the shelves, which its bias shows). Beside it, each method's WAPE at zero bias
(its forecasts of a fold rescaled to the units sold, lib/training/metrics.wape_at_zero_bias:
judging only), and the WAPE target read that way: a WAPE bought with bias does not count.
And the money at other service levels (OTHER_SERVICE_LEVELS, beside the configured one and the
cost-optimal one the prices and costs imply: lib/training/business.cost_optimal_service_level):
every method's forecasts from the re-made training step judged again, the model's cost over
every window and on the holdout against the cheapest other method's: how far the methods are
apart depends on the service level, and far below the cost-optimal one a method that forecasts
more looks cheaper for the stock it orders. So each level is judged a second time with every
other method given the model's out-of-sample level correction (lib/training/level_correction;
judging only), with the WAPE target read that way: what of the model's lead is its correction,
which any method could have.

Time and peak memory (max RSS of a fresh process, DuckDB included):
- the training step: lib/training/pipeline.run_training on the stored feature set version
  (backtest, final model, baselines, peers, intervals, evaluation), per scale and on Online Retail;
- the whole graph, ingestion to published forecast, where this script ran it (`sme-platform run`
  under /usr/bin/time -v), and on the long-tail catalogue (benchmarks/long_tail.py: a fresh
  project, `generate --catalog long-tail`, `run`), against the target of 5 minutes and 4 GiB.
Medium scale generates ~10M sales lines and takes many minutes: opt in with --scale medium.
Phases run one at a time (the machine is shared); results are saved to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

# The harness the other benchmarks share: a child reports its figures and its peak memory.
import ingest  # noqa: E402
import long_tail  # noqa: E402
from demand_floor import GROUND_TRUTH, floor_line, floor_results  # noqa: E402

CLI = long_tail.CLI
WHOLE_GRAPH_TARGET_SECONDS = 300
WHOLE_GRAPH_TARGET_MIB = 4096
# The platform's nominal interval coverage (lib/training/conformal.NOMINAL_COVERAGE; this parent
# process imports none of the platform, its children measure it) and the tolerance;
# sme_platform_tests/test_forecast_benchmark.py holds them equal to the platform's.
NOMINAL_COVERAGE = 0.9
COVERAGE_TOLERANCE = 0.05
MLFORECAST_MISSING = "mlforecast not installed: pip install -e '.[bench]'"
MLFORECAST_OBJECTIVES = ("l2", "tweedie", "l1")
TRAINING_PHASE = "training step (run_training)"
# Service levels every method is judged at besides the configured one (judging only): the
# simulated cost ranks the methods, and how far they are apart depends on it.
OTHER_SERVICE_LEVELS = (0.95, 0.99)

# The newest registered version of the demand model and its stored results (overall segment).
READ_RESULTS = """
from sme_platform.lib.training.config import MODEL_NAME
from sme_platform.lib.warehouse import connect
with connect(Path(sys.argv[1]), read_only=True) as con:
    found = con.execute(
        "select version, feature_set_version, status from ml.model_registry "
        "where model_name = ? order by created_at desc, version desc limit 1", [MODEL_NAME]
    ).fetchone()
    if found is None:
        raise SystemExit(f"no {MODEL_NAME} model in ml.model_registry of {sys.argv[1]}")
    version, feature_set_version, status = found
    rows = con.execute(
        "select model, fold, series, wape, bias, interval_coverage, business_cost "
        "from ml.backtest_results where model_name = ? and model_version = ? "
        "and segment_type = 'overall' order by model, fold", [MODEL_NAME, version]
    ).pl().to_dicts()
report(seconds=0, model_version=version, feature_set_version=feature_set_version,
       status=status, results=rows)
"""

# run_training as the training asset calls it, on the stored feature set version. Then every
# method judged again at other service levels (judging only: the same forecasts, calibration
# fold included, as the training step judged them; the step's own judging is wrapped to keep
# that frame, which its outcome does not hold).
TRAIN = """
import polars as pl
from sme_platform.lib.features.store import stored_version
from sme_platform.lib.training import pipeline
from sme_platform.lib.training.business import cost_optimal_service_level
from sme_platform.lib.training.config import load_forecasting_config
from sme_platform.lib.training.frames import holiday_country, holiday_dates
from sme_platform.lib.training.level_correction import level_corrected
from sme_platform.lib.training.metrics import HOLDOUT_FOLD, wape_at_zero_bias
from sme_platform.lib.warehouse import connect
project, database, version = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
levels = [float(level) for level in sys.argv[4].split(",")]
config = load_forecasting_config(project)
judged_frames = []
judge = pipeline.judge_methods
def judge_and_keep(everything, assumptions):
    judged_frames.append(everything)
    return judge(everything, assumptions)
pipeline.judge_methods = judge_and_keep
with connect(database, read_only=True) as con:
    feature_set = stored_version(con, version)
    country = holiday_country(con, config.demand_forecast.holiday_country)
    holidays_on = holiday_dates(country, feature_set.calendar.holiday_years)
    started = time.perf_counter()
    outcome = pipeline.run_training(con, version, config.demand_forecast, feature_set.calendar,
                                    holidays_on, config.business, config.autoets_series)
    seconds = time.perf_counter() - started
zero_bias = (outcome.results.filter(pl.col("segment_type") == "overall")
             .select("model", "fold", "wape")
             .join(wape_at_zero_bias(outcome.forecasts), on=["model", "fold"]).to_dicts())
holdout = outcome.forecasts.filter(
    (pl.col("model") == "lightgbm") & (pl.col("fold") == HOLDOUT_FOLD))
optimal = cost_optimal_service_level(holdout, config.business)
training_rows, forecast_rows, steps = (
    outcome.backtest.training_rows, outcome.forecasts.height, outcome.seconds)
del outcome, holdout  # judged again below: not beside the step's own outcome (peak memory)
# The other methods as they forecast, and with the model's out-of-sample level correction.
everything = judged_frames[0]
others = sorted(set(everything["model"].unique()) - {"lightgbm", "champion"})
frames = {"as forecast": everything, "level-corrected": level_corrected(everything, others)}
costs, corrected_accuracy = [], []
for others_are, frame in frames.items():
    for level in sorted({config.business.service_level, *levels}):
        assumptions = config.business.model_copy(update={"service_level": level})
        overall = judge(frame, assumptions)[1].filter(pl.col("segment_type") == "overall")
        costs += overall.group_by("model").agg(
            windows=pl.col("business_cost").sum(),
            holdout=pl.col("business_cost").filter(pl.col("fold") == HOLDOUT_FOLD).sum(),
        ).with_columns(service_level=pl.lit(level), others=pl.lit(others_are)).to_dicts()
        if others_are == "level-corrected" and level == config.business.service_level:
            corrected_accuracy = overall.filter(pl.col("fold").str.starts_with("fold_")).group_by(
                "model").agg(pl.col("wape").mean(), pl.col("bias").mean()).to_dicts()
report(seconds=seconds, training_rows=training_rows, forecast_rows=forecast_rows, steps=steps,
       zero_bias=zero_bias,
       service_levels={"configured": config.business.service_level, "cost_optimal": optimal,
                       "costs": costs, "level_corrected_accuracy": corrected_accuracy})
"""

# mlforecast on the platform's folds and series, judged like the platform's methods.
MLFORECAST = """
import polars as pl
from sme_platform.lib.features.store import stored_version
from sme_platform.lib.training.baselines import moving_average, seasonal_naive
from sme_platform.lib.training.config import load_forecasting_config
from sme_platform.lib.training.history import SERIES_KEYS, as_forecast_frame, target_days
from sme_platform.lib.training.metrics import wape_at_zero_bias
from sme_platform.lib.training.peers import training_frame
from sme_platform.lib.training.pipeline import evaluation_history, fold_series, judge_methods
from sme_platform.lib.warehouse import connect
project, database, version = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
objectives = sys.argv[4].split(",")
config = load_forecasting_config(project)
seed = config.demand_forecast.sample_seed
with connect(database, read_only=True) as con:
    feature_set = stored_version(con, version)
    history = evaluation_history(con, version)
    series_by_fold = fold_series(con, version)
horizon = feature_set.calendar.horizon_days

def mlforecast_predictions(train):
    import lightgbm
    from mlforecast import MLForecast
    from mlforecast.lag_transforms import RollingMean
    models = {
        objective: lightgbm.LGBMRegressor(
            objective=objective, n_estimators=300, learning_rate=0.05, num_leaves=31,
            random_state=seed, n_jobs=1, verbosity=-1)
        for objective in objectives
    }
    forecaster = MLForecast(
        models=models, freq="1d", lags=[1, 2, 3, 4, 5, 6, 7, 14, 21, 28],
        lag_transforms={1: [RollingMean(7), RollingMean(28)], 7: [RollingMean(4)]},
        date_features=["weekday"])
    forecaster.fit(train, id_col="unique_id", time_col="ds", target_col="y", static_features=[])
    return forecaster.predict(horizon)

frames, checks, seconds, series_counts = [], [], 0.0, {}
for fold, origin in feature_set.calendar.fold_origins().items():
    series = series_by_fold.get(fold)
    if series is None or series.is_empty():
        continue
    keys = series.select(SERIES_KEYS)
    series_counts[fold] = keys.height
    ids = keys.unique().sort(SERIES_KEYS).with_row_index("unique_id").with_columns(
        pl.col("unique_id").cast(pl.Int64))
    fold_history = history.join(keys, on=SERIES_KEYS, how="semi")
    started = time.perf_counter()
    predicted = mlforecast_predictions(training_frame(fold_history, origin, ids))
    seconds += time.perf_counter() - started
    predicted = predicted.join(ids, on="unique_id").with_columns(
        horizon=((pl.col("ds") - pl.lit(origin)).dt.total_days() + 1).cast(pl.Int64))
    targets = target_days(fold_history, [(fold, origin)], keys, horizon, attributes=series)
    for objective in objectives:
        frame = targets.join(
            predicted.select(*SERIES_KEYS, "horizon", pl.col(objective).alias("prediction")),
            on=[*SERIES_KEYS, "horizon"], how="left",
        ).with_columns(pl.col("prediction").fill_null(0.0).clip(lower_bound=0.0))
        frames.append(as_forecast_frame(frame, f"mlforecast.lgbm_{objective}"))
    # The platform's baselines recomputed here: their figures must equal the stored ones.
    one_fold = [(fold, origin)]
    for method in (seasonal_naive, moving_average):
        frame = method(fold_history, one_fold, keys, horizon, attributes=series)
        checks.append(frame.with_columns(pl.concat_str(pl.lit("check."), "model").alias("model")))

def judged(forecasts):
    forecasts = pl.concat(forecasts)
    results = judge_methods(forecasts, config.business)[1]  # as the platform judges
    return results.filter(pl.col("segment_type") == "overall").join(
        wape_at_zero_bias(forecasts), on=["model", "fold"], how="left")

columns = ["model", "fold", "series", "wape", "bias", "interval_coverage", "business_cost",
           "wape_at_zero_bias"]
rows = []
for forecasts in (frames, checks):
    if forecasts:
        rows.extend(judged(forecasts).select(columns).to_dicts())
report(seconds=seconds, results=rows, series_per_fold=series_counts)
"""


def mlforecast_installed() -> bool:
    try:
        import mlforecast  # noqa: F401  (only whether it imports: the peers run in a child)
    except ImportError:
        return False
    return True


def child_env(extra: dict | None = None) -> dict:
    # This checkout's code, also when the venv's editable install points at another one.
    env = {**os.environ, "PYTHONPATH": str(REPO), **(extra or {})}
    env.pop("SME_PLATFORM_DIR", None)
    return env


def run_child(code: str, *args, env: dict | None = None) -> dict:
    """ingest.run_child, with this checkout's code unless `env` says otherwise."""
    return ingest.run_child(code, *args, env=env or child_env())


def has_model(project: Path, env: dict) -> bool:
    """Whether a finished run left a trained model in the project's warehouse."""
    database = project / "data" / "warehouse.duckdb"
    if not database.exists():
        return False
    try:
        run_child(READ_RESULTS, database, env=env)
    except RuntimeError:
        return False
    return True


def run_timed(phase: str, command: list[str], env: dict) -> dict:
    """Wall seconds and peak resident MiB of one command (/usr/bin/time -v), and its exit status.

    Unlike long_tail.run_timed a failing command does not stop the benchmark: `sme-platform run`
    exits 1 when an asset check fails after everything was built (the figures are still worth
    reading); the status and the run's failure lines are kept and printed.
    """
    started = time.perf_counter()
    completed = subprocess.run(
        [long_tail.TIME, "-v", *command],
        capture_output=True,
        text=True,
        # wide enough that rich does not wrap the run's failure lines
        env={**env, "COLUMNS": "200"},
        cwd=REPO,
        check=False,
    )
    seconds = time.perf_counter() - started
    peak_kib = re.search(r"Maximum resident set size \(kbytes\): (\d+)", completed.stderr)
    failures = [
        line.strip()
        for line in completed.stdout.splitlines()
        if line.startswith(("failing check", "step ", "check ")) or "failed" in line.lower()
    ]
    return {
        "phase": phase,
        "seconds": round(seconds, 1),
        "peak_mib": round(int(peak_kib[1]) / 1024) if peak_kib else None,
        "exit_status": completed.returncode,
        "failures": failures[:6] if completed.returncode else [],
        "stderr_tail": completed.stderr.strip().splitlines()[-30:] if completed.returncode else [],
    }


PHASES_FILE = "benchmark_phases.json"


def remember(project: Path, phases: list[dict]) -> list[dict]:
    """The timed phases, also written into the project, so a later run reusing it shows them."""
    (project / PHASES_FILE).write_text(json.dumps(phases, indent=2), encoding="utf-8")
    return phases


def remembered(project: Path) -> list[dict]:
    path = project / PHASES_FILE
    if not path.exists():
        return []
    stamp = time.strftime("%Y-%m-%d %H:%M", time.gmtime(path.stat().st_mtime))
    return [
        {**phase, "phase": f"{phase['phase']} (earlier run, noted {stamp})"}
        for phase in json.loads(path.read_text(encoding="utf-8"))
    ]


def prepare_demo(workdir: Path, scale: str, given: Path | None, env: dict) -> tuple[Path, list]:
    """The demo company at `scale`, generated and run in workdir/demo_<scale> unless it has been."""
    if given is not None:
        return given, remembered(given)
    project = workdir / f"demo_{scale}"
    if has_model(project, env):
        print(f"[demo {scale}] reusing the project in {project}")
        return project, remembered(project)
    project.mkdir(parents=True, exist_ok=True)
    for name in ("sources.yaml", "forecasting.yaml"):
        shutil.copy(REPO / name, project / name)
    print(f"[demo {scale}] generating and running the whole graph in {project}")
    generate = [CLI, "generate", "--scale", scale, "--project-dir", str(project)]
    phases = [run_timed(f"generate --scale {scale}", generate, env)]
    run = [CLI, "run", "--project-dir", str(project)]
    phases.append(run_timed("run (whole graph)", run, env))
    return project, remember(project, phases)


def prepare_online_retail(workdir: Path, given: Path | None, env: dict) -> tuple[Path, list]:
    if given is not None:
        return given, remembered(given)
    project = workdir / "online_retail"
    if has_model(project, env):
        print(f"[online_retail] reusing the project in {project}")
        return project, remembered(project)
    shutil.copytree(REPO / "examples" / "online_retail", project, dirs_exist_ok=True)
    print(f"[online_retail] running the whole graph in {project}")
    run = [CLI, "run", "--project-dir", str(project)]
    return project, remember(project, [run_timed("run (whole graph)", run, env)])


def accuracy(label: str, project: Path, env: dict, with_mlforecast: bool) -> dict:
    """The stored figures of the newest model, mlforecast's beside them, and the training step."""
    database = project / "data" / "warehouse.duckdb"
    stored = run_child(READ_RESULTS, database, env=env)
    version = stored["feature_set_version"]
    dataset = {
        "dataset": label,
        "project": str(project),
        "model_version": stored["model_version"],
        "status": stored["status"],
        "feature_set_version": version,
        "results": stored["results"],
    }
    if with_mlforecast:
        print(f"[{label}] mlforecast on the folds of feature set {version}")
        peers = run_child(MLFORECAST, project, database, version, ",".join(MLFORECAST_OBJECTIVES))
        dataset["results"] += [r for r in peers["results"] if not r["model"].startswith("check.")]
        dataset["check"] = baseline_check(stored["results"], peers["results"])
        dataset["mlforecast"] = {
            "seconds": round(peers["seconds"], 1),
            "peak_mib": peers["peak_mib"],
            "series_per_fold": peers["series_per_fold"],
        }
    floor = floor_results(project, database, version, lambda *a: run_child(*a, env=env))
    if floor is not None:
        print(f"[{label}] the generator's true expected demand on the same folds and series")
        dataset["results"] += floor["results"]
        dataset["ground_truth"] = floor["ground_truth"]
    dataset["training"], remade, dataset["service_levels"] = training_step(
        label, project, database, version, env
    )
    add_zero_bias(dataset, remade)
    return dataset


def training_step(
    label: str, project: Path, database: Path, version: str, env: dict
) -> tuple[dict, list[dict]]:
    """The training step re-made on the stored feature set version: its time and memory, and
    its results' overall WAPE and WAPE at zero bias per method and fold (for add_zero_bias)."""
    print(f"[{label}] timing the {TRAINING_PHASE}")
    levels = ",".join(str(level) for level in OTHER_SERVICE_LEVELS)
    training = run_child(TRAIN, project, database, version, levels, env=env)
    timing = {
        "seconds": round(training["seconds"], 1),
        "peak_mib": training["peak_mib"],
        "training_rows": training["training_rows"],
        "steps": training["steps"],
    }
    return timing, training["zero_bias"], training["service_levels"]


def add_zero_bias(dataset: dict, remade_rows: list[dict]) -> None:
    """The stored results' WAPE at zero bias, which ml.backtest_results does not hold, from the
    training step re-made by this script (same rows, same model bytes when this code trained the
    stored version), for the rows whose re-made WAPE is the stored one."""
    remade = {(r["model"], r["fold"]): r for r in remade_rows}
    differ = set()
    for row in dataset["results"]:
        if "wape_at_zero_bias" in row:
            continue
        again = remade.get((row["model"], row["fold"]))
        same = again is not None and same_figure(again["wape"], row["wape"])
        row["wape_at_zero_bias"] = again["wape_at_zero_bias"] if same else None
        if again is not None and not same:
            differ.add(row["model"])
    if differ:
        dataset["zero_bias_note"] = (
            f"WAPE at zero bias left out for {', '.join(sorted(differ))}: the training step "
            "re-made with this code does not reproduce the stored WAPE (another code trained it)"
        )


def same_figure(first: float | None, second: float | None) -> bool:
    if first is None or second is None:
        return first is second
    return abs(first - second) < 1e-9


def baseline_check(stored: list[dict], recomputed: list[dict]) -> dict:
    """Largest absolute difference between the stored and the recomputed baselines' figures."""
    by_key = {(r["model"], r["fold"]): r for r in stored}
    worst = {"wape": 0.0, "business_cost": 0.0, "interval_coverage": 0.0, "compared": 0}
    for row in recomputed:
        if not row["model"].startswith("check."):
            continue
        original = by_key.get((row["model"].removeprefix("check."), row["fold"]))
        if original is None:
            continue
        worst["compared"] += 1
        for metric in ("wape", "business_cost", "interval_coverage"):
            if row[metric] is not None and original[metric] is not None:
                worst[metric] = max(worst[metric], abs(row[metric] - original[metric]))
    return worst


def per_method(results: list[dict]) -> dict[str, dict[str, dict]]:
    """method -> fold -> row, with a "mean" over fold_1..fold_N."""
    methods: dict[str, dict[str, dict]] = {}
    for row in results:
        methods.setdefault(row["model"], {})[row["fold"]] = row
    for folds in methods.values():
        backtest = [row for fold, row in folds.items() if fold.startswith("fold_")]
        folds["mean"] = {
            metric: mean([row.get(metric) for row in backtest]) for _, metric, _ in METRICS
        }
    return methods


def mean(values: list) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


def ranked(methods: dict[str, dict[str, dict]]) -> list[str]:
    """Cheapest simulated holdout cost first (ties and missing costs by name, last)."""

    def key(name: str):
        cost = methods[name].get("holdout", {}).get("business_cost")
        return (cost is None, cost or 0.0, name)

    return sorted(methods, key=key)


METRICS = (
    ("WAPE", "wape", "{:.3f}"),
    ("WAPE at zero bias (judging only)", "wape_at_zero_bias", "{:.3f}"),
    ("bias", "bias", "{:+.1%}"),
    (f"interval coverage (nominal {NOMINAL_COVERAGE:.2f})", "interval_coverage", "{:.2f}"),
    ("simulated business cost", "business_cost", "{:,.0f}"),
)


def print_dataset(dataset: dict) -> None:
    methods = per_method(dataset["results"])
    folds = sorted({f for m in methods.values() for f in m if f.startswith("fold_")})
    columns = [*folds, "mean", "holdout"]
    print(
        f"\n== {dataset['dataset']}: model {dataset['model_version']} ({dataset['status']}), "
        f"feature set {dataset['feature_set_version']}; series per fold "
        f"{series_summary(dataset['results'])}"
    )
    order = ranked(methods)
    for title, metric, fmt in METRICS:
        print(f"{title:36}" + "".join(f"{c:>10}" for c in columns))
        for rank, name in enumerate(order, start=1):
            cells = []
            for column in columns:
                value = methods[name].get(column, {}).get(metric)
                cells.append(f"{fmt.format(value) if value is not None else '-':>10}")
            print(f"  {rank}. {name}"[:36].ljust(36) + "".join(cells))
    if "check" in dataset:
        check = dataset["check"]
        print(
            f"check: baselines recomputed by this script vs stored ({check['compared']} rows): "
            f"max |diff| WAPE {check['wape']:.2g}, coverage {check['interval_coverage']:.2g}, "
            f"cost {check['business_cost']:.2g}"
        )
    elif dataset.get("mlforecast_note"):
        print(dataset["mlforecast_note"])
    if "zero_bias_note" in dataset:
        print(dataset["zero_bias_note"])
    if "ground_truth" in dataset:
        truth = dataset["ground_truth"]
        print(
            f"{GROUND_TRUTH}: the demo generator's mean of each pair and day (benchmarks/"
            f"demand_floor.py), found for {truth['matched']:,} of {truth['target_days']:,} "
            "target days (the rest: not on sale, mean 0)"
        )


def series_summary(results: list[dict]) -> str:
    counts = sorted({r["series"] for r in results if r["series"] is not None})
    if not counts:
        return "-"
    return f"{counts[0]:,}" if len(counts) == 1 else f"{counts[0]:,}-{counts[-1]:,}"


def verdict(dataset: dict) -> list[str]:
    """The issue's targets for the platform model on this dataset, each with its figures."""
    methods = per_method(dataset["results"])
    own = methods.get("lightgbm")
    if own is None:
        return ["no lightgbm results"]
    # The targets compare with the baselines and peers: not with an earlier version of the model
    # (the gate's "champion" row), nor with the data's floor, which no one could run.
    others = {
        n: folds for n, folds in methods.items() if n not in ("lightgbm", "champion", GROUND_TRUTH)
    }
    lines = []
    cost = own.get("holdout", {}).get("business_cost")
    cheapest = min(
        (
            (folds["holdout"]["business_cost"], name)
            for name, folds in others.items()
            if folds.get("holdout", {}).get("business_cost") is not None
        ),
        default=None,
    )
    if cost is not None and cheapest is not None:
        lines.append(
            f"holdout cost {cost:,.0f} vs cheapest other {cheapest[1]} {cheapest[0]:,.0f}: "
            f"{'lower' if cost < cheapest[0] else 'NOT lower'} ({cost / cheapest[0] - 1:+.1%})"
        )
    unbiased = [
        (folds["mean"]["wape"], name)
        for name, folds in others.items()
        if folds["mean"]["bias"] is not None
        and abs(folds["mean"]["bias"]) <= 0.10
        and folds["mean"]["wape"] is not None
    ]
    wape, bias = own["mean"]["wape"], own["mean"]["bias"]
    best_wape, best = min(unbiased) if unbiased else (None, None)
    if best_wape is not None and wape is not None:
        lines.append(
            f"mean WAPE {wape:.3f} vs best other with |bias| <= 10 % {best} {best_wape:.3f}: "
            f"{wape / best_wape - 1:+.1%} (target <= -3 %: "
            f"{'met' if wape <= 0.97 * best_wape else 'NOT met'})"
        )
    at_zero_bias = equal_bias_line(own, others, methods.get(GROUND_TRUTH))
    if at_zero_bias is not None:
        lines.append(at_zero_bias)
    floor = floor_line(methods, best_wape)
    if floor is not None:
        lines.append(floor)
    if bias is not None:
        lines.append(
            f"mean bias {bias:+.1%} (target |bias| <= 10 %: "
            f"{'met' if abs(bias) <= 0.10 else 'NOT met'})"
        )
    coverage = own["mean"]["interval_coverage"]
    if coverage is not None:
        low, high = NOMINAL_COVERAGE - COVERAGE_TOLERANCE, NOMINAL_COVERAGE + COVERAGE_TOLERANCE
        lines.append(
            f"mean interval coverage {coverage:.2f} (target {low:.2f}-{high:.2f}: "
            f"{'met' if low <= coverage <= high else 'NOT met'})"
        )
    return lines + service_level_lines(dataset.get("service_levels"))


def service_level_lines(levels: dict | None) -> list[str]:
    """The model's cost against the cheapest other method at each service level judged (from
    the re-made training step: the same forecasts, judged again), over every window and on the
    holdout alone; then the same with every other method given the model's out-of-sample level
    correction (lib/training/level_correction), and the WAPE target read that way."""
    if not levels or not levels["costs"]:
        return []
    optimal = levels["cost_optimal"]
    lines = [
        f"service level configured {levels['configured']:.2f}, cost-optimal "
        + ("-" if optimal is None else f"{optimal:.3f}")
        + " (critical ratio, median series); the same forecasts judged at:"
    ]
    for level in sorted({row["service_level"] for row in levels["costs"]}):
        for others_are in ("as forecast", "level-corrected"):
            rows = {
                r["model"]: r
                for r in levels["costs"]
                if r["service_level"] == level and r.get("others", "as forecast") == others_are
            }
            line = cost_comparison(rows)
            if line is None:
                continue
            if others_are == "as forecast":
                lines.append(f"  {level:.2f}: {line}")
            else:
                lines.append(f"        the others level-corrected as the model is: {line}")
    accuracy = {row["model"]: row for row in levels.get("level_corrected_accuracy") or []}
    own = accuracy.pop("lightgbm", None)
    accuracy.pop("champion", None)
    unbiased = [
        (row["wape"], name)
        for name, row in accuracy.items()
        if row["bias"] is not None and abs(row["bias"]) <= 0.10 and row["wape"] is not None
    ]
    if own is not None and unbiased:
        best_wape, best = min(unbiased)
        lines.append(
            f"the others level-corrected as the model is: mean WAPE {own['wape']:.3f} vs best "
            f"other with |bias| <= 10 % {best} {best_wape:.3f} (bias "
            f"{accuracy[best]['bias']:+.1%}): {own['wape'] / best_wape - 1:+.1%}"
        )
    return lines


def cost_comparison(rows: dict[str, dict]) -> str | None:
    """The model's cost over every window and on the holdout against the cheapest other's."""
    own = rows.pop("lightgbm", None)
    others = {m: r for m, r in rows.items() if m != "champion"}
    if own is None or not others:
        return None
    parts = []
    for window, label in (("windows", "every window"), ("holdout", "holdout")):
        best = min(others, key=lambda m: (others[m][window], m))
        theirs = others[best][window]
        parts.append(
            f"{label} {own[window]:,.0f} vs {best} {theirs:,.0f} ({own[window] / theirs - 1:+.1%})"
            if theirs
            else f"{label}: -"
        )
    return "; ".join(parts)


def equal_bias_line(
    own: dict[str, dict], others: dict[str, dict[str, dict]], truth: dict | None
) -> str | None:
    """The WAPE target read at equal bias: every method's fold forecasts rescaled to the units
    sold (lib/training/metrics.wape_at_zero_bias), so no method's WAPE is bought with bias; with
    the data's floor read the same way where the dataset has one."""
    wape = own["mean"].get("wape_at_zero_bias")
    rescaled = [
        (folds["mean"]["wape_at_zero_bias"], name)
        for name, folds in others.items()
        if folds["mean"].get("wape_at_zero_bias") is not None
    ]
    if wape is None or not rescaled:
        return None
    best_wape, best = min(rescaled)
    line = (
        f"mean WAPE at zero bias {wape:.3f} vs best other {best} {best_wape:.3f}: "
        f"{wape / best_wape - 1:+.1%} (the WAPE target read at equal bias: "
        f"{'met' if wape <= 0.97 * best_wape else 'NOT met'})"
    )
    floor = (truth or {}).get("mean", {}).get("wape_at_zero_bias")
    if floor is not None:
        line += f"; the floor at zero bias {floor:.3f}, {floor / best_wape - 1:+.1%}"
    return line


def print_timings(timings: list[dict]) -> None:
    print(f"\n{'dataset':16} {'phase':56} {'seconds':>8} {'peak MiB':>9}  target / notes")
    for row in timings:
        notes = row.get("target", "")
        if row.get("exit_status"):
            first = row["failures"][0] if row["failures"] else "see stderr_tail in the JSON"
            notes = f"{notes}; exit {row['exit_status']}: {first}".lstrip("; ")
        if "training_rows" in row:
            notes = f"{row['training_rows']:,} training rows"
        peak = f"{row['peak_mib']:,}" if row["peak_mib"] is not None else "-"
        print(f"{row['dataset']:16} {row['phase']:56} {row['seconds']:>8.1f} {peak:>9}  {notes}")


def print_long_tail(dataset: dict) -> None:
    print(f"\n{dataset['dataset']}: run {dataset['run_status']}")
    for name, count in dataset["rows"].items():
        print(f"  {name:30} {count:>12,}")
    print("  slowest steps:")
    for seconds, step in dataset["slowest_steps"]:
        print(f"    {step:50} {seconds:>7.1f} s")


def whole_graph_target(phase: dict) -> str:
    seconds_ok = phase["seconds"] <= WHOLE_GRAPH_TARGET_SECONDS
    memory_ok = phase["peak_mib"] is not None and phase["peak_mib"] <= WHOLE_GRAPH_TARGET_MIB
    return (
        f"< {WHOLE_GRAPH_TARGET_SECONDS} s: {'met' if seconds_ok else 'NOT met'}; "
        f"< {WHOLE_GRAPH_TARGET_MIB} MiB: {'met' if memory_ok else 'NOT met'}"
    )


def bench_long_tail(workdir: Path, days: int, keep: bool, env: dict) -> tuple[dict, list]:
    """benchmarks/long_tail.py's steps (mapping, generate, run, row counts, slowest steps) with
    this script's timer, and the stored accuracy figures of the model the run trained."""
    project = Path(tempfile.mkdtemp(prefix="long_tail_project_", dir=workdir))
    print(f"[long-tail] generating and running the whole graph in {project}")
    try:
        long_tail.run_child(long_tail.WRITE_MAPPING, str(REPO), str(project), env=env)
        generate = [CLI, "generate", "--catalog", "long-tail", "--days", str(days)]
        phases = [
            run_timed(
                "generate --catalog long-tail", [*generate, "--project-dir", str(project)], env
            )
        ]
        phases.append(
            run_timed("run (whole graph)", [CLI, "run", "--project-dir", str(project)], env)
        )
        database = project / "data" / "warehouse.duckdb"
        rows = long_tail.run_child(long_tail.COUNT_ROWS, str(database), env=env)
        steps = long_tail.run_child(
            long_tail.STEP_TIMES, str(project), str(long_tail.SLOWEST_STEPS), env=env
        )
        try:
            stored = run_child(READ_RESULTS, database, env=env)
        except RuntimeError as error:  # the run trained no model: its time is still measured
            stored = {"model_version": None, "feature_set_version": None, "results": []}
            stored["status"] = f"no model: {str(error)[-300:]}"
        floor = remade = service_levels = None
        version = stored["feature_set_version"]
        if version is not None:
            floor = floor_results(project, database, version, lambda *a: run_child(*a, env=env))
            timing, remade, service_levels = training_step(
                "long-tail", project, database, version, env
            )
            phases.append({"phase": TRAINING_PHASE, **timing})
    finally:
        if not keep:
            shutil.rmtree(project)
    for phase in phases:
        if phase["phase"].startswith("run"):
            phase["target"] = whole_graph_target(phase)
    dataset = {
        "dataset": f"long-tail ({days} days)",
        "project": str(project),
        "model_version": stored["model_version"],
        "status": stored["status"],
        "feature_set_version": stored["feature_set_version"],
        "results": stored["results"] + (floor["results"] if floor else []),
        **({"ground_truth": floor["ground_truth"]} if floor else {}),
        "rows": rows,
        "run_status": steps["status"],
        "slowest_steps": steps["steps"],
    }
    if remade is not None:
        add_zero_bias(dataset, remade)
        dataset["service_levels"] = service_levels
    return dataset, [{"dataset": "long-tail", **phase} for phase in phases]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", action="append", choices=["tiny", "small", "medium"])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/sme_platform_bench/forecast"))
    parser.add_argument("--demo-project", type=Path, help="an existing, run demo project folder")
    parser.add_argument("--online-retail-project", type=Path, help="an existing, run folder")
    parser.add_argument("--no-online-retail", action="store_true")
    parser.add_argument("--no-long-tail", action="store_true")
    parser.add_argument("--no-mlforecast", action="store_true", help="skip the mlforecast peers")
    parser.add_argument("--long-tail-days", type=int, default=730)
    parser.add_argument("--keep", action="store_true", help="keep the long-tail project folder")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    with_mlforecast = not args.no_mlforecast and mlforecast_installed()
    if not with_mlforecast and not args.no_mlforecast:
        print(MLFORECAST_MISSING)
    datasets_dir = os.environ.get("SME_DATASETS_DIR", str(REPO.parent / "shared" / "datasets"))
    env = child_env({"SME_DATASETS_DIR": datasets_dir})

    datasets: list[dict] = []
    timings: list[dict] = []
    failures: list[str] = []
    started = time.perf_counter()

    def bench_project(label: str, prepare, mlforecast: bool) -> None:
        """One project: prepared (or reused), then measured; a failing phase is reported and
        the benchmark goes on with the next dataset."""
        try:
            project, phases = prepare()
            timings.extend({"dataset": label, **phase} for phase in phases)
            dataset = accuracy(label, project, env, mlforecast)
        except RuntimeError as error:
            print(f"[{label}] FAILED: {error}")
            failures.append(f"{label}: {str(error)[-3000:]}")
            return
        timings.extend(phase_rows(label, dataset))
        datasets.append(dataset)

    for index, scale in enumerate(args.scale or ["small"]):
        given = args.demo_project if index == 0 else None
        # Accuracy with mlforecast on the first scale; larger ones are for time and memory.
        bench_project(
            f"demo {scale}",
            lambda scale=scale, given=given: prepare_demo(args.workdir, scale, given, env),
            with_mlforecast and index == 0,
        )
    if not args.no_online_retail:
        bench_project(
            "online_retail",
            lambda: prepare_online_retail(args.workdir, args.online_retail_project, env),
            with_mlforecast,
        )
    if not args.no_long_tail:
        try:
            dataset, long_tail_timings = bench_long_tail(
                args.workdir, args.long_tail_days, args.keep, env
            )
            datasets.append(dataset)
            timings += long_tail_timings
        except RuntimeError as error:
            print(f"[long-tail] FAILED: {error}")
            failures.append(f"long-tail: {str(error)[-3000:]}")

    if not with_mlforecast and not args.no_mlforecast:
        for dataset in datasets:
            dataset["mlforecast_note"] = MLFORECAST_MISSING
    for dataset in datasets:
        print_dataset(dataset)
    print_timings(timings)
    for dataset in datasets:
        if "slowest_steps" in dataset:
            print_long_tail(dataset)
    print("\nsummary (platform model lightgbm against every baseline and peer):")
    for dataset in datasets:
        print(f"  {dataset['dataset']}:")
        for line in verdict(dataset):
            print(f"    {line}")
    for failure in failures:
        print(f"  FAILED {failure.splitlines()[0]} (details above and in the JSON)")
    print(f"  benchmark wall time {time.perf_counter() - started:,.0f} s")
    path = long_tail.save_results(
        "forecast", {"datasets": datasets, "timings": timings, "failures": failures}
    )
    print(f"results saved to {path.relative_to(REPO)}")


def phase_rows(label: str, dataset: dict) -> list[dict]:
    """The training step's and mlforecast's time and memory, as rows of the timing table."""
    rows = [{"dataset": label, "phase": TRAINING_PHASE, **dataset["training"]}]
    if "mlforecast" in dataset:
        folds = len(dataset["mlforecast"]["series_per_fold"])
        rows.append(
            {
                "dataset": label,
                "phase": f"mlforecast, {len(MLFORECAST_OBJECTIVES)} objectives x {folds} folds",
                "seconds": dataset["mlforecast"]["seconds"],
                "peak_mib": dataset["mlforecast"]["peak_mib"],
                "target": "fitting and predicting only",
            }
        )
    return rows


if __name__ == "__main__":
    main()
