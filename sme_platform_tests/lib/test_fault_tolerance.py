"""A load killed with SIGKILL halfway leaves the warehouse at its last good state, and the next
load completes: each table's load is one DuckDB transaction."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap

import pytest

from sme_platform.lib.demo_data import generate_demo_data
from sme_platform.lib.ingestion import ingest_table
from sme_platform.lib.sources import load_sources
from sme_platform.lib.warehouse import connect
from sme_platform_tests.conftest import REPO_ROOT

# The child loads, writes its first batch inside the transaction, says so, and waits to be killed.
KILLED_LOAD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import sme_platform.lib.ingestion.engine as engine
    from sme_platform.lib.sources import load_sources
    from sme_platform.lib.warehouse import connect

    write_batch = engine.load_batch
    def write_then_hang(*args, **kwargs):
        tally = write_batch(*args, **kwargs)
        print("batch written", flush=True)
        time.sleep(600)
        return tally
    engine.load_batch = write_then_hang
    project = Path(sys.argv[1])
    with connect(project / "warehouse.duckdb") as con:
        engine.ingest_table(con, load_sources(project).get("sales_lines"))
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


def test_a_load_killed_mid_transaction_leaves_the_last_good_state(tmp_path):
    shutil.copy(REPO_ROOT / "sources.yaml", tmp_path / "sources.yaml")
    exports = tmp_path / "data" / "demo" / "exports"
    generate_demo_data(exports, scale="tiny", days=10, seed=3)
    warehouse = tmp_path / "warehouse.duckdb"
    sources = load_sources(tmp_path)
    with connect(warehouse) as con:
        for table in ("locations", "products", "customers", "sales_lines"):
            ingest_table(con, sources.get(table))
    before = counts(warehouse)

    manifest = generate_demo_data(exports, scale="tiny", days=20, seed=3)  # ten more days
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_LOAD, str(tmp_path)],
        cwd=tmp_path,
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

    assert counts(warehouse) == before  # nothing of the killed load is visible

    # The next nightly load: parents first (the new days bring new customers), then sales.
    sources = load_sources(tmp_path)
    with connect(warehouse) as con:
        for table in ("locations", "products", "customers"):
            ingest_table(con, sources.get(table))
        result = ingest_table(con, sources.get("sales_lines"))
    assert result.rows_quarantined == 0
    assert result.rows_read == result.rows_loaded + result.rows_quarantined
    assert sum(f.status == "loaded" for f in result.files) == 10
    rows, loads, _ = counts(warehouse)
    assert rows == manifest["row_counts"]["sales"] and loads == before[1] + 1


def test_a_file_still_being_written_during_the_load_rolls_the_load_back(project, monkeypatch):
    import sme_platform.lib.ingestion.engine as engine
    from sme_platform_tests.conftest import SALES_HEADER

    path = project.write("sales_1.csv", SALES_HEADER + "\nO1,1,2024-01-01 10:00:00,A,2,1.5,SALE\n")
    project.sales_source()
    write_batch = engine.load_batch

    def export_still_writing(*args, **kwargs):
        tally = write_batch(*args, **kwargs)
        with path.open("a", encoding="utf-8") as handle:  # the ERP appends another line
            handle.write("O2,1,2024-01-01 11:00:00,B,1,2.0,SALE\n")
        return tally

    monkeypatch.setattr(engine, "load_batch", export_still_writing)
    with pytest.raises(engine.FileChangedWhileReading, match=r"sales_1\.csv changed while"):
        project.ingest()
    assert project.query("select count(*) from raw.sales_lines") == [(0,)]
    assert project.query("select count(*) from raw.file_loads") == [(0,)]

    monkeypatch.setattr(engine, "load_batch", write_batch)
    result = project.ingest()  # the next run reads the finished file
    assert (result.rows_read, result.rows_loaded) == (2, 2)
