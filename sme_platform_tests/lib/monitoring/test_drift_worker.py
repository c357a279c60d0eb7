"""Evidently in a worker process: the same rows and report as in process; a worker that does not
answer is replaced by this process, saying why; Evidently's own errors are raised."""

from __future__ import annotations

import os
import signal

import pytest

from sme_platform.lib.monitoring.drift import measure_drift, start_drift
from sme_platform.lib.monitoring.drift_worker import (
    DriftWorker,
    DriftWorkerError,
    started_early,
    take_worker,
)
from sme_platform_tests.lib.monitoring.test_drift import frames


@pytest.fixture
def worker():
    running = DriftWorker()
    yield running
    running.close()


def test_the_worker_makes_the_same_report_as_this_process(tmp_path, worker):
    reference, current = frames(shift=2.0)
    inline = measure_drift(reference, current, reference.columns, html_path=tmp_path / "a.html")
    served = measure_drift(
        reference, current, reference.columns, html_path=tmp_path / "b.html", worker=worker
    )
    assert inline.measured_in == "this process"
    assert served.measured_in == f"worker process {worker.pid}"
    assert served.columns.equals(inline.columns)
    assert (served.drifted_count, served.drifted_share) == (1, inline.drifted_share)
    page = (tmp_path / "b.html").read_text(encoding="utf-8")
    assert "mean_28" in page and len(page) > 100_000  # Evidently's page, scripts inline
    # It keeps serving: a second report, another method, from the same process.
    again = measure_drift(
        *frames(shift=0.0), ["mean_28"], method="ks", threshold=0.05, worker=worker
    )
    assert again.measured_in == served.measured_in and again.drifted_count == 0


def test_a_dead_worker_is_replaced_by_this_process(worker):
    reference, current = frames(shift=2.0)
    os.kill(worker.pid, signal.SIGKILL)
    result = measure_drift(reference, current, reference.columns, worker=worker)
    assert result.measured_in.startswith("this process (the worker did not answer: ")
    assert "exited with status -9" in result.measured_in, result.measured_in
    assert result.drifted_count == 1
    # Not asked again.
    assert measure_drift(reference, current, ["mean_28"], worker=worker).measured_in.startswith(
        "this process"
    )


def test_a_worker_slower_than_its_timeout_is_given_up():
    slow = DriftWorker(timeout_s=0.01)  # still importing Evidently
    try:
        result = measure_drift(*frames(shift=0.0), ["mean_28"], worker=slow)
        assert "no answer from the drift worker in 0 s" in result.measured_in
        assert slow._process.poll() is not None  # killed
    finally:
        slow.close()


def test_an_error_of_evidently_in_the_worker_is_raised_with_its_traceback(worker):
    reference, current = frames(shift=2.0)
    with pytest.raises(DriftWorkerError, match=r"(?s)Traceback.*no_such_method"):
        measure_drift(reference, current, ["mean_28"], method="no_such_method", worker=worker)
    # The worker survives its error.
    assert measure_drift(reference, current, ["mean_28"], worker=worker).measured_in.startswith(
        "worker process"
    )


def test_a_report_handed_over_early_is_read_later_or_made_here_if_the_worker_died(worker):
    reference, current = frames(shift=2.0)
    pending = start_drift(reference, current, reference.columns, worker=worker)
    ready = pending.result()  # the worker imported Evidently, then made it
    assert ready.measured_in == f"worker process {worker.pid}" and ready.drifted_count == 1
    pending = start_drift(reference, current, reference.columns, worker=worker)
    os.kill(worker.pid, signal.SIGKILL)  # between the request and the reading of its reply
    result = pending.result()
    assert result.measured_in.startswith("this process (the worker did not answer")
    assert result.columns.equals(ready.columns)
    assert list((worker._stderr_path.parent).glob("*.arrow")) == []  # the frames handed over


def test_a_worker_started_early_is_the_one_the_run_takes_and_is_ended_if_nobody_does():
    with started_early():
        taken = take_worker()
        try:
            reference, current = frames(shift=2.0)
            result = measure_drift(reference, current, ["mean_28"], worker=taken)
            assert result.measured_in == f"worker process {taken.pid}"
            second = take_worker()  # taken already: a new one
            assert second.pid != taken.pid
            second.close()
        finally:
            taken.close()
    assert taken._process.poll() is not None
    with started_early():
        untaken = take_worker.__globals__["_early"]
        assert untaken is not None and untaken.alive
    assert untaken._process.poll() is not None  # nobody took it: ended with the context
    assert take_worker.__globals__["_early"] is None
    with started_early(wanted=False):
        assert take_worker.__globals__["_early"] is None


def test_an_early_worker_that_died_is_replaced_when_taken():
    with started_early():
        early = take_worker.__globals__["_early"]
        os.kill(early.pid, signal.SIGKILL)
        early._process.wait()
        taken = take_worker()
        try:
            assert taken.pid != early.pid and taken.alive
            assert early._process.poll() is not None
        finally:
            taken.close()


def test_closing_a_worker_ends_its_process_whatever_it_is_doing(worker):
    reference, current = frames(shift=2.0)
    start_drift(reference, current, reference.columns, worker=worker)  # never read
    worker.close()
    assert worker._process.poll() is not None
    assert not worker._stderr_path.parent.exists()  # its folder of frames removed
