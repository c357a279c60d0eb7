"""Evidently in a process of its own, started when a run that measures drift starts.

Importing Evidently 0.7 takes about 5 s on this kind of machine (it loads its whole legacy
package: scipy, scikit-learn, plotly, nltk): the largest fixed cost of a night with one new day
(7.6 of its 21 s of steps at small scale). A worker process imports it while the run's ingestion,
SQL and feature steps go on, on another core; the monitoring step hands it the frames (Arrow IPC
files) and reads back the report's rows, the HTML report written by the worker. The same code
(`drift.report_rows`) makes the report either way, so the numbers are the same.

If the worker cannot answer (it died, or took longer than `timeout_s`), the report is made in
the run's own process, and `DriftResult.measured_in` says so, with the reason. An error Evidently
raises on the data is raised as it would be in process.

Protocol: one JSON line per request on the worker's stdin, one JSON line per reply on its stdout
(its own prints go to its stderr, kept in a file whose tail a failure quotes).

Started early: a process that knows its run will measure drift before the run begins (the CLI's
`sme-platform run` of the whole graph) starts the worker first, with `started_early`, and the
run's resource takes it (`take_worker`) instead of starting its own. The CLI's own start (its
configuration check and the definitions, 4-5 s of imports on one core) then hides most of the
import: on the small demo's night with one new day the monitoring step waited 1.7-2.4 s for a
worker started with the run.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

if TYPE_CHECKING:
    from sme_platform.lib.monitoring.drift import ReportRequest

# The step that measures drift: a run whose plan has it starts a worker.
MEASURING_STEP = "demand_forecast_monitoring"
READY = "ready"


class DriftWorkerError(RuntimeError):
    """Evidently failed on the data in the worker: the worker's traceback, as raised in process."""


class DriftWorker:
    """A running worker; `send` hands it one report, `receive` reads it, `close` ends it."""

    def __init__(self, timeout_s: float = 900.0):
        self.timeout_s = timeout_s
        self._folder = tempfile.TemporaryDirectory(prefix="sme_platform_drift_")
        self._stderr_path = Path(self._folder.name) / "worker.stderr"
        self._stderr = self._stderr_path.open("wb")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "sme_platform.lib.monitoring.drift_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
        self._ready = False
        self._requests = 0
        self._frames: dict[str, str] = {}
        self.broken: str | None = None  # why the worker is no longer asked, once it is not

    @property
    def pid(self) -> int:
        return self._process.pid

    def send(self, request: ReportRequest) -> None:
        """Hand the worker one report to make, without waiting for it (`receive` reads it): the
        run's process goes on with other work meanwhile. One report at a time."""
        if self.broken is not None:
            return
        self._requests += 1
        folder = Path(self._folder.name)
        self._frames = {}
        for name in ("reference", "current"):
            self._frames[name] = str(folder / f"{self._requests}_{name}.arrow")
            getattr(request, name).write_ipc(self._frames[name])
        message = {
            **self._frames,
            "columns": request.columns,
            "method": request.method,
            "threshold": request.threshold,
            "html_path": None if request.html_path is None else str(request.html_path),
        }
        try:
            self._process.stdin.write((json.dumps(message) + "\n").encode())
            self._process.stdin.flush()
        except OSError as error:
            self._give_up(f"{type(error).__name__}: {error}")

    def receive(self) -> list[tuple] | None:
        """The rows of the report last sent; None when the worker could not answer."""
        try:
            if self.broken is not None:
                return None
            if not self._ready:
                self._expect(READY)
                self._ready = True
            reply = self._reply()
        except (OSError, ValueError, TimeoutError) as error:
            self._give_up(f"{type(error).__name__}: {error}")
            return None
        finally:
            for path in self._frames.values():
                Path(path).unlink(missing_ok=True)
            self._frames = {}
        if "error" in reply:
            raise DriftWorkerError(reply["error"])
        return [tuple(row) for row in reply["rows"]]

    def close(self) -> None:
        # Killed, not asked to exit: it holds nothing to save (every report it made was
        # written before its reply), and an interpreter with Evidently loaded took 0.9 s to
        # exit, a wait added to the end of every run.
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
        for stream in (self._process.stdin, self._process.stdout):
            with suppress(OSError):
                stream.close()
        self._stderr.close()
        self._folder.cleanup()

    @property
    def alive(self) -> bool:
        return self.broken is None and self._process.poll() is None

    def _expect(self, line: str) -> None:
        got = self._line()
        if got != line:
            raise ValueError(f"the worker said {got[:200]!r}, not {line!r}")

    def _reply(self) -> dict:
        return json.loads(self._line())

    def _line(self) -> str:
        stdout = self._process.stdout
        ready, _, _ = select.select([stdout], [], [], self.timeout_s)
        if not ready:
            raise TimeoutError(f"no answer from the drift worker in {self.timeout_s:.0f} s")
        line = stdout.readline()
        if not line:
            raise OSError(f"the drift worker exited with status {self._process.wait()}")
        return line.decode().rstrip("\n")

    def _give_up(self, reason: str) -> None:
        if self._process.poll() is None:
            self._process.kill()
        status = self._process.wait()
        if "exited with status" not in reason:
            reason += f" (the worker exited with status {status})"
        self._stderr.flush()
        tail = self._stderr_path.read_text(errors="replace").strip().splitlines()[-5:]
        self.broken = reason + ("; its last words: " + " | ".join(tail) if tail else "")


_early: DriftWorker | None = None  # started by `started_early`, not taken yet


@contextmanager
def started_early(wanted: bool = True) -> Iterator[None]:
    """Start a worker now, for a run this process starts later (`take_worker` hands it to the
    run); one not taken by the end (the run never started, or did not measure drift) is ended."""
    global _early
    if not wanted:
        yield
        return
    _early = DriftWorker()
    try:
        yield
    finally:
        untaken, _early = _early, None
        if untaken is not None:
            untaken.close()


def take_worker() -> DriftWorker:
    """The worker this process started early, if it is still alive, else a new one; the
    caller closes it."""
    global _early
    early, _early = _early, None
    if early is not None and early.alive:
        return early
    if early is not None:
        early.close()
    return DriftWorker()


def plans_drift(instance, run) -> bool:
    """Whether `run` will execute the step that measures drift (its stored plan says)."""
    if instance is None or run is None or not run.execution_plan_snapshot_id:
        return False
    plan = instance.get_execution_plan_snapshot(run.execution_plan_snapshot_id)
    planned = plan.step_keys_to_execute or [step.key for step in plan.steps]
    return MEASURING_STEP in planned


def _serve() -> None:
    """The worker: import Evidently, say so, then answer requests until stdin closes."""
    # Lowest priority: the import is meant to use the cores the run leaves idle (its Python
    # bookkeeping between queries is single-threaded), not to slow its DuckDB queries down.
    os.nice(19)
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything printed by a library goes to stderr, not into the replies
    from sme_platform.lib.monitoring import drift

    drift.import_evidently()
    replies.write(READY + "\n")
    for line in sys.stdin:
        request = json.loads(line)
        try:
            rows = drift.report_rows(
                drift.ReportRequest(
                    pl.read_ipc(request["reference"]),
                    pl.read_ipc(request["current"]),
                    request["columns"],
                    request["method"],
                    request["threshold"],
                    None if request["html_path"] is None else Path(request["html_path"]),
                )
            )
            reply = {"rows": rows}
        except Exception:  # the caller raises it: this process keeps serving
            reply = {"error": traceback.format_exc()}
        replies.write(json.dumps(reply) + "\n")


if __name__ == "__main__":
    _serve()
