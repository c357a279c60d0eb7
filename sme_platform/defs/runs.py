"""Runs take turns for the warehouse, and a run whose process died is marked failed.

Every run (CLI, UI, schedule, sensor) takes the warehouse lock of lib/run_lock.py before its
first step and holds it to its end. Each run is tagged with its process (pid and start time),
so that a run killed by SIGKILL or a power loss, which can no longer report anything, is found
by the next run (or by `sme-platform ui`) and marked failed: it holds neither the lock (the
kernel dropped it) nor the instance's run queue (which counts runs in progress).
"""

from __future__ import annotations

import os
from collections.abc import Callable

import dagster as dg

from sme_platform.lib.project import ProjectPaths
from sme_platform.lib.run_lock import (
    LockHolder,
    WarehouseLock,
    lock_timeout_seconds,
    origin_from_tags,
    process_is_alive,
    process_start_token,
)

ORIGIN_TAG = "sme_platform/origin"
PID_TAG = "sme_platform/pid"
PROCESS_START_TAG = "sme_platform/process_start"
# The run the process tags were written for. A run re-executed from the UI copies its parent's
# tags, the parent's (dead) pid included; until it tags itself, those are not its own.
TAGGED_RUN_TAG = "sme_platform/tagged_run"
# A run can have died in any state before it finished; QUEUED runs have no process yet.
_STATUSES_WITH_A_PROCESS = [
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


def warehouse_lock(paths: ProjectPaths) -> WarehouseLock:
    return WarehouseLock(paths.warehouse_lock, str(paths.warehouse.relative_to(paths.root)))


def process_tags(run_id: str) -> dict[str, str]:
    """Names this process on run `run_id`, for `fail_dead_runs`."""
    pid = os.getpid()
    token = process_start_token(pid)
    return {
        PID_TAG: str(pid),
        TAGGED_RUN_TAG: run_id,
        **({PROCESS_START_TAG: token} if token else {}),
    }


def cli_run_tags(run_id: str) -> dict[str, str]:
    return {ORIGIN_TAG: "cli", **process_tags(run_id)}


def _own_tags(run: dg.DagsterRun) -> dict[str, str]:
    """The run's tags without the ones copied from a parent run (see TAGGED_RUN_TAG)."""
    if run.tags.get(TAGGED_RUN_TAG) == run.run_id:
        return dict(run.tags)
    copied = {ORIGIN_TAG, PID_TAG, PROCESS_START_TAG, TAGGED_RUN_TAG}
    return {name: value for name, value in run.tags.items() if name not in copied}


def holder_of(run: dg.DagsterRun) -> LockHolder:
    return LockHolder.for_this_process(
        run.run_id, origin_from_tags(_own_tags(run), cli_origin_tag=ORIGIN_TAG)
    )


def take_turn(
    instance: dg.DagsterInstance,
    run: dg.DagsterRun,
    paths: ProjectPaths,
    log: Callable[[str], None],
) -> WarehouseLock:
    """At a run's start: tag it with its process, wait for the warehouse (each waiting line goes
    to `log`), then mark runs whose process died failed. Returns the lock to release."""
    own = _own_tags(run)
    if own.get(PID_TAG) != str(os.getpid()):
        instance.add_run_tags(run.run_id, process_tags(run.run_id))
    lock = warehouse_lock(paths)
    lock.acquire(holder_of(run), timeout_seconds=lock_timeout_seconds(os.environ), on_wait=log)
    try:
        for line in fail_dead_runs(instance, marked_by=f"run {run.run_id}"):
            log(line)
    except BaseException:
        lock.release()
        raise
    return lock


def fail_dead_runs(instance: dg.DagsterInstance, marked_by: str) -> list[str]:
    """Mark failed each unfinished run whose process is gone; one line per run marked.

    Only runs tagged with their process are judged (runs from before these tags, and runs a
    daemon is still starting, are left to Dagster's run monitoring)."""
    lines = []
    records = instance.get_run_records(filters=dg.RunsFilter(statuses=_STATUSES_WITH_A_PROCESS))
    for record in records:
        tags = _own_tags(record.dagster_run)
        pid = tags.get(PID_TAG, "")
        if not pid.isdigit():
            continue
        if process_is_alive(int(pid), tags.get(PROCESS_START_TAG)):
            continue
        # Read again: the run may have ended, or been marked by another process, meanwhile.
        run = instance.get_run_by_id(record.dagster_run.run_id)
        if run is None or run.is_finished:
            continue
        message = f"process {pid} died; marked failed by {marked_by}"
        instance.report_run_failed(run, message)
        lines.append(f"run {run.run_id} ({run.job_name}): {message}")
    return lines


@dg.sensor(
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Marks failed each unfinished run whose process died (SIGKILL, power loss): such a run "
        "would hold the instance's queue of one run, and the nightly run would never start."
    ),
)
def mark_dead_runs_failed(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    lines = fail_dead_runs(context.instance, marked_by="sensor mark_dead_runs_failed")
    return dg.SkipReason("; ".join(lines) if lines else "no run whose process died")
