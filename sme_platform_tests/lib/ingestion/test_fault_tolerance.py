"""A load killed with SIGKILL halfway leaves the warehouse at its last good state, and the next
load completes: a batch's rows are written before its transaction but stay invisible until the
transaction commits the log of its files; rows of a batch that never committed are deleted."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sme_platform.lib.demo_data import generate_demo_data
from sme_platform.lib.ingestion import ingest_table
from sme_platform.lib.sources import load_sources
from sme_platform.lib.warehouse import connect
from sme_platform_tests.conftest import REPO_ROOT

# The child loads in batches of at most `batch_bytes`, writes batch number `hang_at` inside its
# transaction, says so, and waits to be killed.
KILLED_LOAD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from sme_platform.lib.ingestion import LoadSteps, ingest_table
    from sme_platform.lib.ingestion.batch import write_batch
    from sme_platform.lib.sources import load_sources
    from sme_platform.lib.warehouse import connect

    project, hang_at, batch_bytes = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    batches_written = 0
    def write_then_hang(*args, **kwargs):
        global batches_written
        tally = write_batch(*args, **kwargs)
        batches_written += 1
        if batches_written == hang_at:
            print("batch written", flush=True)
            time.sleep(600)
        return tally
    steps = LoadSteps(write=write_then_hang, batch_bytes=batch_bytes)
    with connect(project / "warehouse.duckdb") as con:
        ingest_table(con, load_sources(project).get("sales_lines"), steps=steps)
    """
)


def counts(warehouse) -> tuple[int, int, int]:
    with connect(warehouse, read_only=True) as con:
        return tuple(
            con.execute(sql).fetchone()[0]
            for sql in (
                "select count(*) from raw.sales_lines",
                "select count(*) from raw.loads where table_name = 'sales_lines'",
                "select count(*) from raw.file_loads where table_name = 'sales_lines'",
            )
        )


def unpublished_rows(warehouse) -> int:
    """Stored rows that the view raw.sales_lines does not show: their file has no record."""
    with connect(warehouse, read_only=True) as con:
        return con.execute(
            "select (select count(*) from raw_store.sales_lines) "
            "- (select count(*) from raw.sales_lines)"
        ).fetchone()[0]


def ten_days_loaded_and_ten_more_exported(tmp_path):
    shutil.copy(REPO_ROOT / "sources.yaml", tmp_path / "sources.yaml")
    exports = tmp_path / "data" / "demo" / "exports"
    generate_demo_data(exports, scale="tiny", days=10, seed=3)
    warehouse = tmp_path / "warehouse.duckdb"
    sources = load_sources(tmp_path)
    with connect(warehouse) as con:
        for table in ("locations", "products", "customers", "sales_lines"):
            ingest_table(con, sources.get(table))
    manifest = generate_demo_data(exports, scale="tiny", days=20, seed=3)
    with connect(warehouse) as con:  # the new days bring new customers
        for table in ("locations", "products", "customers"):
            ingest_table(con, load_sources(tmp_path).get(table))
    return warehouse, manifest


def kill_a_sales_load(project, *, hang_at_batch: int, batch_bytes: int) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_LOAD, str(project), str(hang_at_batch), str(batch_bytes)],
        cwd=project,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    try:
        assert child.stdout.readline().strip() == "batch written"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL


def test_a_load_killed_mid_transaction_leaves_the_last_good_state(tmp_path):
    warehouse, manifest = ten_days_loaded_and_ten_more_exported(tmp_path)
    before = counts(warehouse)

    kill_a_sales_load(tmp_path, hang_at_batch=1, batch_bytes=1 << 30)  # all ten days, one batch

    assert counts(warehouse) == before  # nothing of the killed load is visible
    # Its rows were written before the kill, but no file record points at them yet.
    assert unpublished_rows(warehouse) > 0

    with connect(warehouse) as con:  # the next nightly load
        result = ingest_table(con, load_sources(tmp_path).get("sales_lines"))
    assert result.rows_quarantined == 0
    assert result.rows_read == result.rows_loaded + result.rows_quarantined
    assert sum(f.status == "loaded" for f in result.files) == 10
    rows, loads, _ = counts(warehouse)
    assert rows == manifest["row_counts"]["sales"] and loads == before[1] + 1
    assert unpublished_rows(warehouse) == 0  # deleted before the load, not counted twice


def test_a_file_still_being_written_during_the_load_is_left_for_the_next_run(project):
    from sme_platform.lib.ingestion import LoadSteps
    from sme_platform.lib.ingestion.batch import write_batch
    from sme_platform_tests.conftest import SALES_HEADER

    path = project.write("sales_1.csv", SALES_HEADER + "\nO1,1,2024-01-01 10:00:00,A,2,1.5,SALE\n")
    project.sales_source()

    appended = []

    def export_still_writing(*args, **kwargs):
        tally = write_batch(*args, **kwargs)
        if not appended:  # the ERP appends another line while the first batch is read
            with path.open("a", encoding="utf-8") as handle:
                handle.write("O2,1,2024-01-01 11:00:00,B,1,2.0,SALE\n")
            appended.append(path)
        return tally

    project.write("sales_2.csv", SALES_HEADER + "\nO3,1,2024-01-01 12:00:00,C,1,1.0,SALE\n")
    # the file's fault stays with the file: sales_2.csv loads
    result = project.ingest(steps=LoadSteps(write=export_still_writing))
    statuses = {Path(f.path).name: f.status for f in result.files}
    assert statuses == {"sales_1.csv": "rejected", "sales_2.csv": "loaded"}
    (rejected,) = result.rejected_files
    assert re.search(
        r"sales_1\.csv changed while it was being read.*next run loads it", rejected.message
    )
    assert project.query("select order_id from raw.sales_lines") == [("O3",)]
    assert project.query("select status, count(*) from raw.file_loads group by 1 order by 1") == [
        ("loaded", 1),
        ("rejected", 1),
    ]
    # the rows the failed batch had written are deleted again, not merely hidden
    assert project.query("select count(*) from raw_store.sales_lines") == [(1,)]

    result = project.ingest()  # the next run reads the finished file
    assert (result.rows_read, result.rows_loaded) == (2, 2)


def test_a_backfill_killed_in_its_third_batch_keeps_the_two_batches_it_committed(tmp_path):
    warehouse, manifest = ten_days_loaded_and_ten_more_exported(tmp_path)
    rows_before, loads_before, file_records_before = counts(warehouse)
    daily_file_bytes = min(
        p.stat().st_size for p in (tmp_path / "data/demo/exports/erp/sales").glob("sales_*.csv")
    )

    # Batches of one daily file each: the first two commit, the third dies in its transaction.
    kill_a_sales_load(tmp_path, hang_at_batch=3, batch_bytes=daily_file_bytes)

    with connect(warehouse, read_only=True) as con:
        committed = con.execute(
            """select source_file, rows_loaded from raw.file_loads
            where table_name = 'sales_lines' and status = 'loaded'
              and load_id not in (select load_id from raw.loads)"""
        ).fetchall()
        rows_of_committed_files = con.execute(
            """select count(*) from raw.sales_lines
            where _load_id not in (select load_id from raw.loads)"""
        ).fetchone()[0]
    assert [Path(path).name for path, _ in sorted(committed)] == [
        "sales_2024-01-11.csv",
        "sales_2024-01-12.csv",
    ]
    assert rows_of_committed_files == sum(rows for _, rows in committed) > 0
    rows, loads, file_records = counts(warehouse)
    assert (rows, loads, file_records) == (
        rows_before + rows_of_committed_files,
        loads_before,  # the killed load never wrote its own record
        file_records_before + 2,
    )

    with connect(warehouse) as con:  # the next load reads the eight files left, nothing twice
        result = ingest_table(con, load_sources(tmp_path).get("sales_lines"))
    assert sum(f.status == "loaded" for f in result.files) == 8
    assert result.rows_quarantined == 0
    rows, loads, _ = counts(warehouse)
    assert rows == manifest["row_counts"]["sales"] and loads == loads_before + 1


def test_an_interrupt_as_the_commit_returns_leaves_the_published_rows(project):
    """Ctrl-C, or Dagster terminating the run, may land just after a batch's commit took
    effect. The clean-up of a failed batch must then leave its rows: their files are logged as
    loaded, and the next run skips them."""
    from sme_platform.lib.ingestion import LoadSteps
    from sme_platform.lib.warehouse import transaction
    from sme_platform_tests.conftest import SALES_HEADER

    project.write("sales_1.csv", SALES_HEADER + "\nO1,1,2024-01-01 10:00:00,A,2,1.5,SALE\n")
    project.sales_source()

    @contextlib.contextmanager
    def interrupted_after_commit(con):
        with transaction(con):
            yield
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        project.ingest(steps=LoadSteps(transaction=interrupted_after_commit))
    assert project.query("select order_id from raw.sales_lines") == [("O1",)]
    result = project.ingest()
    assert [f.status for f in result.files] == ["already_loaded"]
    assert project.query("select count(*) from raw_store.sales_lines") == [(1,)]


def test_rows_without_a_file_id_are_deleted_by_the_next_load(project):
    from sme_platform_tests.conftest import SALES_HEADER

    project.write("sales_1.csv", SALES_HEADER + "\nO1,1,2024-01-01 10:00:00,A,2,1.5,SALE\n")
    project.sales_source()
    project.ingest()
    with connect(project.warehouse) as con:
        con.execute("insert into raw_store.sales_lines (order_id, _file_id) values ('X', null)")
    project.write("sales_2.csv", SALES_HEADER + "\nO2,1,2024-01-02 10:00:00,A,2,1.5,SALE\n")
    project.ingest()
    assert project.query("select order_id from raw_store.sales_lines order by 1") == [
        ("O1",),
        ("O2",),
    ]


def test_a_file_id_sequence_behind_the_file_log_stops_the_load_before_it_writes(project):
    """Batches find their rows by the range of their file ids, so reused ids would mix a new
    batch with rows loaded before."""
    from sme_platform.lib.warehouse import WarehouseMigrationError
    from sme_platform_tests.conftest import SALES_HEADER

    project.write("sales_1.csv", SALES_HEADER + "\nO1,1,2024-01-01 10:00:00,A,2,1.5,SALE\n")
    project.sales_source()
    project.ingest()
    with connect(project.warehouse) as con:  # as after a copy that lost the sequence's state
        con.execute("drop sequence raw.file_ids")
        con.execute("create sequence raw.file_ids")
    project.write("sales_2.csv", SALES_HEADER + "\nO2,1,2024-01-02 10:00:00,A,2,1.5,SALE\n")
    with pytest.raises(WarehouseMigrationError, match=r"holds ids up to \d+"):
        project.ingest()
    assert project.query("select order_id from raw.sales_lines") == [("O1",)]
