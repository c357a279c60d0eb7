"""Analysts query data/analytics.duckdb at any time: a separate process reading it in a loop
through two whole runs never sees a lock error or a half-written table, and the DuckDB CLI opens
it read-only while a run holds the warehouse."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import time

import dagster as dg

from sme_platform.defs.governance.assets import GOVERNANCE_ASSETS
from sme_platform.defs.ingestion.assets import INGESTION_ASSETS
from sme_platform.defs.resources import ProjectResource
from sme_platform.defs.sql_models.assets import SQL_MODEL_ASSETS
from sme_platform.lib.demo_data import generate_demo_data
from sme_platform.lib.warehouse import connect
from sme_platform_tests.conftest import REPO_ROOT

DUCKDB_CLI = REPO_ROOT / ".venv" / "bin" / "duckdb"

# Each pass: open the snapshot, and check every table against the row count the catalog
# recorded when it was published. Any exception is the finding, so it is recorded, not raised.
READER = textwrap.dedent(
    """
    import json, sys, duckdb
    from pathlib import Path
    target, stop = Path(sys.argv[1]), Path(sys.argv[2])
    reads, errors, snapshots = 0, [], set()
    while not stop.exists():
        try:
            with duckdb.connect(str(target), read_only=True) as con:
                catalog = con.execute(
                    "select table_schema, table_name, row_count, run_id "
                    "from governance.published_tables"
                ).fetchall()
                for schema, table, rows, run_id in catalog:
                    found = con.execute(f'select count(*) from "{schema}"."{table}"').fetchone()[0]
                    if found != rows:
                        errors.append(f"{schema}.{table}: {found} rows, published {rows}")
                    snapshots.add(run_id)
            reads += 1
            if reads == 1:
                print("reading", flush=True)
        except Exception as error:
            errors.append(f"{type(error).__name__}: {error}")
    print(json.dumps({"reads": reads, "errors": errors[:20], "snapshots": sorted(snapshots)}))
    """
)


def run_everything(project):
    result = dg.materialize(
        [*INGESTION_ASSETS, *SQL_MODEL_ASSETS, *GOVERNANCE_ASSETS],
        resources={"project": ProjectResource(project_dir=str(project))},
        raise_on_error=False,
    )
    assert result.success
    return result.run_id


def test_a_reader_in_another_process_never_sees_a_lock_or_a_half_written_table(tmp_path):
    shutil.copy(REPO_ROOT / "sources.yaml", tmp_path / "sources.yaml")
    exports = tmp_path / "data" / "demo" / "exports"
    generate_demo_data(exports, scale="tiny", days=60, seed=5)
    first_run = run_everything(tmp_path)
    analytics = tmp_path / "data" / "analytics.duckdb"
    stop = tmp_path / "stop-reading"
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(analytics), str(stop)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert reader.stdout.readline().strip() == "reading"
        generate_demo_data(exports, scale="tiny", days=90, seed=5)  # a month of new exports
        second_run = run_everything(tmp_path)
        time.sleep(1)  # a few reads of the new snapshot
    finally:
        stop.touch()
        output, _ = reader.communicate(timeout=60)
    report = json.loads(output.strip().splitlines()[-1])
    assert report["errors"] == []
    assert report["reads"] > 5
    assert set(report["snapshots"]) == {first_run, second_run}


def test_the_duckdb_cli_reads_the_analyst_database_while_a_run_holds_the_warehouse(tmp_path):
    shutil.copy(REPO_ROOT / "sources.yaml", tmp_path / "sources.yaml")
    generate_demo_data(tmp_path / "data" / "demo" / "exports", scale="tiny", days=20, seed=5)
    run_everything(tmp_path)
    data = tmp_path / "data"
    with connect(data / "warehouse.duckdb") as writer:  # as a run does
        writer.execute("create table scratch as select 1 as n")
        analyst = subprocess.run(
            [
                DUCKDB_CLI,
                "-readonly",
                "-csv",
                data / "analytics.duckdb",
                "-c",
                "select count(*) > 0 as has_rows from marts.sales_daily",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        warehouse = subprocess.run(
            [DUCKDB_CLI, "-readonly", data / "warehouse.duckdb", "-c", "select 1"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert analyst.returncode == 0, analyst.stderr
    assert analyst.stdout.split() == ["has_rows", "true"]
    # why the analyst database exists: the warehouse itself is locked while a run writes
    assert warehouse.returncode != 0 and "lock" in warehouse.stderr.lower()
