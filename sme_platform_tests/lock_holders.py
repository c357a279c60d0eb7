"""Processes that hold the warehouse lock for the tests, as another run would.

`python -m sme_platform_tests.lock_holders lock <lock file> <run id> <origin>` takes the lock
through lib/run_lock.py under a fake run's name.
`python -m sme_platform_tests.lock_holders run <project dir> <tags as JSON>` starts a real run
in the project's instance (DAGSTER_HOME) whose one asset writes the warehouse through the
ProjectResource, as every real asset does.
Both print "holding" once they hold the lock, then hold it until a line (or end of file)
arrives on stdin, or they are killed.
"""

# No `from __future__ import annotations`: Dagster reads the asset's parameter types.
import json
import sys
from pathlib import Path

import dagster as dg

from sme_platform.defs.resources import ProjectResource
from sme_platform.lib.run_lock import LockHolder, WarehouseLock


def hold_lock(lock_file: str, run_id: str, origin: str) -> None:
    lock = WarehouseLock(Path(lock_file), "data/warehouse.duckdb")
    with lock.holding(LockHolder.for_this_process(run_id, origin), timeout_seconds=60):
        print("holding", flush=True)
        sys.stdin.readline()


@dg.asset(key=["test", "holds_the_warehouse"])
def holds_the_warehouse(project: ProjectResource) -> None:
    with project.warehouse() as con:
        con.execute("create or replace table main.held_by_a_test_run as select 1 as x")
        print("holding", flush=True)
        sys.stdin.readline()


def hold_in_a_run(project_dir: str, tags: dict[str, str]) -> None:
    result = dg.materialize(
        [holds_the_warehouse],
        instance=dg.DagsterInstance.get(),
        resources={"project": ProjectResource(project_dir=project_dir)},
        tags=tags,
    )
    print("succeeded" if result.success else "FAILED", flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "lock":
        hold_lock(*sys.argv[2:5])
    else:
        hold_in_a_run(sys.argv[2], json.loads(sys.argv[3]))
