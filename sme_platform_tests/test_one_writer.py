"""One writer at a time, as a user sees it: overlapping runs wait their turn and succeed, and a
run killed mid-write is marked failed by the next run, which proceeds.

Real processes on a tiny project; each CLI run materializes one small asset to stay fast.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import subprocess
import sys
import time

import dagster as dg
import pytest

from sme_platform.lib.project import ProjectPaths
from sme_platform_tests.conftest import REPO_ROOT
from sme_platform_tests.lib.test_run_lock import OtherProcess
from sme_platform_tests.test_cli import CLI, run_cli

SELECT = 'key:"raw/products"'
HOLDER = [sys.executable, "-m", "sme_platform_tests.lock_holders"]
WAITING = r"waiting for run {run} \(started {origin} at \d\d:\d\d:\d\d UTC, pid {pid}\) to release"


@pytest.fixture
def tiny(tmp_path) -> ProjectPaths:
    (tmp_path / "sources.yaml").write_text(
        (REPO_ROOT / "sources.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    generated = run_cli(
        "generate", "--scale", "tiny", "--days", "3", "--project-dir", str(tmp_path)
    )
    assert generated.returncode == 0, generated.stdout[-2000:]
    paths = ProjectPaths.at(tmp_path)
    paths.ensure_dagster_home()
    return paths


class CliRun:
    """`sme-platform run` in the background, its output in a file read while it runs."""

    def __init__(self, paths: ProjectPaths, name: str):
        self.output = paths.root / f"{name}.out"
        with self.output.open("w") as out:
            self.process = subprocess.Popen(
                [CLI, "run", "--select", SELECT, "--project-dir", str(paths.root)],
                cwd=REPO_ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
            )

    def text(self) -> str:
        return self.output.read_text(encoding="utf-8")

    def wait_for(self, pattern: str, timeout: float = 120) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, self.text())
            if found:
                return found
            assert self.process.poll() is None, f"ended before {pattern!r}:\n{self.text()}"
            time.sleep(0.2)
        raise AssertionError(f"no {pattern!r} after {timeout} s:\n{self.text()}")

    def finish(self) -> str:
        assert self.process.wait(timeout=300) == 0, self.text()[-3000:]
        return self.text()


class RunThroughTheInstance:
    """A real run in the project's instance (as the UI or the schedule starts one) whose asset
    writes the warehouse through the ProjectResource and holds it until released."""

    def __init__(self, paths: ProjectPaths, tags: dict[str, str]):
        env = {**os.environ, "DAGSTER_HOME": str(paths.dagster_home)}
        self.process = subprocess.Popen(
            [*HOLDER, "run", str(paths.root), json.dumps(tags)],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout.readline().strip() == "holding"
        with dg.DagsterInstance.from_config(str(paths.dagster_home)) as instance:
            (self.run,) = instance.get_runs()
        assert self.run.status == dg.DagsterRunStatus.STARTED

    def release(self) -> str:
        self.process.stdin.write("\n")
        self.process.stdin.flush()
        outcome = self.process.stdout.read().strip()
        assert self.process.wait(timeout=60) == 0
        return outcome


def runs_in_order(paths: ProjectPaths) -> list[dg.RunRecord]:
    with dg.DagsterInstance.from_config(str(paths.dagster_home)) as instance:
        return sorted(instance.get_run_records(), key=lambda record: record.start_time or 0)


def assert_one_after_the_other(records: list[dg.RunRecord]) -> None:
    for earlier, later in itertools.pairwise(records):
        assert earlier.end_time <= later.start_time


def test_two_overlapping_cli_runs_both_succeed_one_after_the_other(tiny):
    # A run of the UI holds the warehouse while both CLI runs start, so that they overlap.
    ui_run = OtherProcess(tiny.warehouse_lock)
    first, second = CliRun(tiny, "first"), CliRun(tiny, "second")
    for cli_run in (first, second):
        cli_run.wait_for(
            WAITING.format(run="feedface", origin="from the UI", pid=ui_run.process.pid)
        )
    ui_run.release()
    outputs = {cli_run.process.pid: cli_run.finish() for cli_run in (first, second)}

    records = runs_in_order(tiny)
    assert [r.dagster_run.status for r in records] == [dg.DagsterRunStatus.SUCCESS] * 2
    assert_one_after_the_other(records)
    winner, waiter = (r.dagster_run for r in records)
    winner_pid = int(winner.tags["sme_platform/pid"])
    # The one that went second waited for the first, by name.
    waited = outputs[int(waiter.tags["sme_platform/pid"])]
    assert re.search(
        WAITING.format(run=winner.run_id[:8], origin="from the CLI", pid=winner_pid), waited
    ), waited
    for output in outputs.values():
        assert "succeeded" in output and "Conflicting lock" not in output


def test_a_cli_run_waits_for_a_run_launched_through_the_instance(tiny):
    nightly = RunThroughTheInstance(tiny, {"dagster/schedule_name": "nightly_materialize_all"})
    cli_run = CliRun(tiny, "cli")
    cli_run.wait_for(
        WAITING.format(
            run=nightly.run.run_id[:8],
            origin="by schedule nightly_materialize_all",
            pid=nightly.process.pid,
        )
        + " data/warehouse.duckdb"
    )
    assert nightly.release() == "succeeded"
    output = cli_run.finish()
    assert "succeeded" in output and "raw.products" in output

    records = runs_in_order(tiny)
    assert records[0].dagster_run.run_id == nightly.run.run_id
    assert [r.dagster_run.status for r in records] == [dg.DagsterRunStatus.SUCCESS] * 2
    assert_one_after_the_other(records)


def test_a_run_killed_mid_write_is_marked_failed_and_the_next_run_proceeds(tiny):
    killed = RunThroughTheInstance(tiny, {})
    killed.process.send_signal(signal.SIGKILL)
    killed.process.wait(timeout=30)
    assert runs_in_order(tiny)[0].dagster_run.status == dg.DagsterRunStatus.STARTED

    completed = run_cli("run", "--select", SELECT, "--project-dir", str(tiny.root))
    assert completed.returncode == 0, completed.stdout[-3000:]
    records = runs_in_order(tiny)
    dead, next_run = (r.dagster_run for r in records)
    assert dead.run_id == killed.run.run_id and dead.status == dg.DagsterRunStatus.FAILURE
    message = f"process {killed.process.pid} died; marked failed by run {next_run.run_id}"
    assert f"run {dead.run_id} (__ephemeral_asset_job__): {message}" in completed.stdout
    assert next_run.status == dg.DagsterRunStatus.SUCCESS
    with dg.DagsterInstance.from_config(str(tiny.dagster_home)) as instance:
        failures = instance.all_logs(dead.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
    assert [entry.dagster_event.message for entry in failures] == [message]
    # The killed run had the warehouse open for writing: the next one opened it all the same.
    assert "raw.products" in completed.stdout
