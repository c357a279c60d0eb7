"""Drift of a model's inputs and outputs, measured with Evidently 0.7 (its non-legacy API).

One report per comparison: a reference frame (what the model learned from) and a current frame
(what it forecasts from tonight), one `ValueDrift` metric per column with a stated method and
threshold (Evidently's automatic choice changes method with the row count, and with it the
meaning of the score), and `DriftedColumnsCount` for the share of columns that drifted. The
report is saved as Evidently's self-contained HTML (scripts and fonts inline: it opens on a server
without internet) and its numbers are returned as rows, one per column.

Methods: Wasserstein distance normed by the reference's standard deviation (drift when >=
threshold) is the default: on zero-inflated demand features a p-value test flags every column
on tens of thousands of rows, and PSI's bins collapse onto the zeros.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

if TYPE_CHECKING:
    from sme_platform.lib.monitoring.drift_worker import DriftWorker

# Distances: a larger score is more drift. Everything else Evidently offers here is a p-value.
DISTANCE_METHODS = frozenset(
    {"wasserstein", "psi", "jensenshannon", "kl_div", "hellinger", "ed", "TVD", "empirical_mmd"}
)


class DriftInputError(ValueError):
    """A comparison that cannot be made as asked (no rows, a column missing)."""


@dataclass(frozen=True)
class DriftResult:
    columns: pl.DataFrame  # column, method, score, threshold, drifted, reference_rows, current_rows
    drifted_share: float
    drifted_count: int
    html_path: Path | None
    measured_in: str  # "this process", or the worker process that made the report


@dataclass(frozen=True)
class ReportRequest:
    """One Evidently report: `columns` (each with values in both frames) of `current` against
    `reference`, its HTML saved at `html_path`."""

    reference: pl.DataFrame
    current: pl.DataFrame
    columns: list[str]
    method: str
    threshold: float
    html_path: Path | None


def measure_drift(*args, **kwargs) -> DriftResult:
    """Per column of `columns`: Evidently's drift score of `current` against `reference`, made
    by `worker` when there is one and it answers, else in this process (`start_drift`'s
    arguments)."""
    return start_drift(*args, **kwargs).result()


@dataclass(frozen=True)
class PendingDrift:
    """A drift report asked for: handed to the worker already, if there is one; `result()`
    waits for it (or makes it in this process)."""

    request: ReportRequest
    worker: DriftWorker | None

    def result(self) -> DriftResult:
        rows, measured_in = None, "this process"
        if self.worker is not None:
            rows = self.worker.receive()
            measured_in = (
                f"worker process {self.worker.pid}"
                if rows is not None
                else f"this process (the worker did not answer: {self.worker.broken})"
            )
        if rows is None:
            rows = report_rows(self.request)
        frame = pl.DataFrame(
            rows,
            schema={
                "column": pl.Utf8,
                "method": pl.Utf8,
                "score": pl.Float64,
                "threshold": pl.Float64,
                "drifted": pl.Boolean,
            },
            orient="row",
        ).with_columns(
            reference_rows=pl.lit(self.request.reference.height, pl.Int64),
            current_rows=pl.lit(self.request.current.height, pl.Int64),
        )
        drifted = int(frame["drifted"].sum())
        html_path = self.request.html_path
        return DriftResult(frame, drifted / frame.height, drifted, html_path, measured_in)


def start_drift(
    reference: pl.DataFrame,
    current: pl.DataFrame,
    columns: list[str],
    *,
    method: str = "wasserstein",
    threshold: float = 0.1,
    html_path: Path | None = None,
    what: str = "frame",
    worker: DriftWorker | None = None,
) -> PendingDrift:
    """The input checked and handed to `worker` now (if any), the result read later with
    `result()`: the run's process does other work meanwhile. `what` names the comparison in
    errors."""
    for name, frame in (("reference", reference), ("current", current)):
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise DriftInputError(f"{what}: the {name} rows have no column {', '.join(missing)}")
        if frame.height == 0:
            raise DriftInputError(f"{what}: no {name} rows to measure drift on")
    usable = [c for c in columns if _has_values(reference, c) and _has_values(current, c)]
    if not usable:
        raise DriftInputError(f"{what}: every column is empty in the reference or the current rows")
    request = ReportRequest(
        reference.select(usable), current.select(usable), usable, method, threshold, html_path
    )
    if worker is not None:
        worker.send(request)
    return PendingDrift(request, worker)


def _has_values(frame: pl.DataFrame, column: str) -> bool:
    return (
        frame[column].drop_nulls().drop_nans().len() > 0
        if frame[column].dtype.is_float()
        else (frame[column].drop_nulls().len() > 0)
    )


def report_rows(request: ReportRequest) -> list[tuple]:
    """Evidently's report: its HTML saved, its (column, method, score, threshold, drifted) rows
    returned."""
    report = _run_report(
        request.reference, request.current, request.columns, request.method, request.threshold
    )
    if request.html_path is not None:
        request.html_path.parent.mkdir(parents=True, exist_ok=True)
        report.save_html(str(request.html_path))
    return _rows(report.dict(), request.method)


def import_evidently() -> None:
    # Imported when needed: evidently takes seconds to import, and most commands never measure
    # drift (a run that does starts a worker process importing it early: drift_worker.py).
    import evidently.metrics  # noqa: F401


def _run_report(reference, current, columns, method, threshold):
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import DriftedColumnsCount, ValueDrift

    # Every column named, as numbers: a DataDefinition that leaves a column out drops it, and
    # Evidently takes an integer column with few values for a category.
    definition = DataDefinition(numerical_columns=columns)
    metrics = [
        DriftedColumnsCount(columns=columns, num_method=method, num_threshold=threshold),
        *[ValueDrift(column=c, method=method, threshold=threshold) for c in columns],
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numpy/scipy warnings on constant columns
        return Report(metrics, include_tests=True).run(
            current_data=Dataset.from_pandas(
                current.cast({c: pl.Float64 for c in columns}).to_pandas(),
                data_definition=definition,
            ),
            reference_data=Dataset.from_pandas(
                reference.cast({c: pl.Float64 for c in columns}).to_pandas(),
                data_definition=definition,
            ),
        )


def _rows(snapshot: dict, method: str) -> list[tuple]:
    """(column, method, score, threshold, drifted) per ValueDrift metric of the snapshot."""
    failed = {
        test["metric_config"]["metric_id"]: str(getattr(test["status"], "value", test["status"]))
        == "FAIL"
        for test in snapshot["tests"]
        if test["id"] == "drift"
    }
    rows = []
    for metric in snapshot["metrics"]:
        config = metric["config"]
        if config["type"] != "evidently:metric_v2:ValueDrift":
            continue
        score, threshold = float(metric["value"]), float(config["threshold"])
        drifted = failed.get(metric["id"])
        if drifted is None:  # no test result: the method's own rule
            drifted = score >= threshold if method in DISTANCE_METHODS else score < threshold
        rows.append((config["column"], method, score, threshold, drifted))
    return rows
