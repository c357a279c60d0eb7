"""The run history kept open: Dagster's files under DAGSTER_HOME only, readable by another process
at once, and Dagster's defaults when the setting says so."""

import sqlite3
import subprocess
import sys

import dagster as dg
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from sme_platform.lib import run_history


@pytest.fixture
def dagster_home(tmp_path, monkeypatch):
    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.delenv(run_history.SYNC_ENV, raising=False)
    run_history.keep_run_history_open()
    # Earlier tests in this worker process kept their own instances' files open.
    run_history.close_kept_connections()
    yield home
    run_history.close_kept_connections()


def _synchronous(path) -> int:
    """PRAGMA synchronous of a connection SQLAlchemy opens to `path` (1 normal, 2 full)."""
    engine = create_engine(f"sqlite:///{path}", poolclass=NullPool)
    with engine.connect() as conn:
        value = conn.execute(text("pragma synchronous")).scalar()
    engine.dispose()
    return value


@dg.asset
def tiny():
    return 1


def test_a_run_keeps_its_files_open_and_another_process_reads_every_event(dagster_home):
    with dg.instance_for_test(temp_dir=str(dagster_home)) as instance:
        result = dg.materialize([tiny], instance=instance)
        assert result.success
        kept = run_history.kept_paths()
        assert any(path.endswith(f"{result.run_id}.db") for path in kept), kept
        assert all(path.startswith(str(dagster_home.resolve())) for path in kept)
        events = len(instance.all_logs(result.run_id))
        run_file = next(p for p in kept if p.endswith(f"{result.run_id}.db"))
        # The UI reads the same file from its own process while this one is alive.
        counted = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("
                "'select count(*) from event_logs').fetchone()[0])",
                run_file,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    assert events > 5
    assert int(counted) == events


def test_only_files_under_dagster_home_are_relaxed(dagster_home, tmp_path):
    inside = dagster_home / "history" / "x.db"
    inside.parent.mkdir()
    outside = tmp_path / "elsewhere.db"
    for path in (inside, outside):
        sqlite3.connect(path).execute("pragma journal_mode=wal").fetchone()
    assert _synchronous(inside) == 1
    assert _synchronous(outside) == 2
    assert str(inside) in run_history.kept_paths()
    assert str(outside) not in run_history.kept_paths()


def test_full_keeps_dagsters_defaults(dagster_home, monkeypatch):
    monkeypatch.setenv(run_history.SYNC_ENV, "full")
    path = dagster_home / "y.db"
    assert _synchronous(path) == 2
    assert str(path) not in run_history.kept_paths()
    assert run_history.keep_run_history_open() is False


def test_the_oldest_idle_connections_are_closed_beyond_the_limit(dagster_home):
    for number in range(run_history.MAX_KEPT + 3):
        _synchronous(dagster_home / f"{number}.db")
    kept = run_history.kept_paths()
    assert len(kept) == run_history.MAX_KEPT
    assert kept[-1].endswith(f"{run_history.MAX_KEPT + 2}.db")
    assert not any(path.endswith("/0.db") for path in kept)


@dg.asset(check_specs=[dg.AssetCheckSpec(f"rule_{n}", asset="checked") for n in range(3)])
def checked():
    yield dg.MaterializeResult()
    for n in range(3):
        yield dg.AssetCheckResult(check_name=f"rule_{n}", passed=True)


def _sqlite_connections_opened(run) -> int:
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    opened = []

    def count(dbapi_connection, _record):
        if isinstance(dbapi_connection, sqlite3.Connection):
            opened.append(1)

    event.listen(Engine, "connect", count)
    try:
        run()
    finally:
        event.remove(Engine, "connect", count)
    return len(opened)


def test_a_run_opens_a_handful_of_connections_not_one_per_event(dagster_home):
    with dg.instance_for_test(temp_dir=str(dagster_home)) as instance:
        dg.materialize([checked], instance=instance)  # files created, migrations checked
        results = []
        opened = _sqlite_connections_opened(
            lambda: results.append(dg.materialize([checked], instance=instance))
        )
        events = len(instance.all_logs(results[0].run_id))
        kept = run_history.kept_engines(instance.event_log_storage)
    # Dagster's own storages open a connection for every read and write: 73 here. Pooled: the
    # new run's file (created and migrated through engines of its own), the schedules, and
    # the few Dagster opens outside the two storages.
    assert events > 20
    assert opened <= 12, opened
    assert "index" in kept
    assert results[0].run_id in kept


def test_a_storage_keeps_the_last_runs_files_and_closes_them_on_dispose(dagster_home):
    with dg.instance_for_test(temp_dir=str(dagster_home)) as instance:
        storage = instance.event_log_storage
        run_ids = [
            dg.materialize([tiny], instance=instance).run_id
            for _ in range(run_history.KEPT_RUN_FILES + 2)
        ]
        kept = run_history.kept_engines(storage)
        assert "index" in kept
        assert [shard for shard in kept if shard != "index"] == run_ids[
            -run_history.KEPT_RUN_FILES :
        ]
        # An evicted run's events are read through a new engine, as before.
        assert len(instance.all_logs(run_ids[0])) > 5
    assert run_history.kept_engines(storage) == []
