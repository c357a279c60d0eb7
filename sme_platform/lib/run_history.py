"""Dagster's run history (SQLite files under .dagster_home) without an fsync per event.

Dagster's SQLite storages open a connection for each write and close it (SQLAlchemy's NullPool),
in WAL mode. Closing the last connection to a WAL database checkpoints it: an fsync every time,
2.1 to 2.6 ms per commit on this machine's disk against 0.2 ms without (a micro-benchmark). A
night writes some 1,400 of them (a step's start, output and end, each check's plan and result,
twice for checks: the run's file and the index). Measured on a night with nothing new (small
demo): with other work on the disk, 17.8 and 16.9 s of step time before, 14.0 and 10.7 s after;
on an idle machine 7.4-7.5 s before, 7.0-7.2 s after (within the noise): it matters when the
disk is busy or slow, as a shared server's is.

`keep_run_history_open()` makes the process keep one idle connection to each run-history file it
writes (so Dagster's close is not the last one, and checkpoints happen when the WAL fills, as
SQLite intends), and sets `synchronous=NORMAL` on Dagster's connections: in WAL mode a commit
then survives a crash of the process but not a power cut, which may lose the last commits and
never corrupts the file (SQLite's documented trade-off, https://sqlite.org/wal.html). The run
history is Dagster's log of runs, not the warehouse: DuckDB's durability is untouched.
`SME_PLATFORM_RUN_HISTORY_SYNC=full` keeps Dagster's defaults.

Dagster's SQLite run and event-log storages also create an SQLAlchemy engine, open the file and
dispose of both for every read and write: with the above, still 6 to 20 ms per event, most of
what a step that has nothing to do costs. `pool_run_history_connections()` (installed with the
above) gives each storage object one engine per file, kept for the process with a small pool:
31 assets of 3 checks each (441 events) in 11.9 s before, 2.7 s after; a small demo night with
nothing new stored its 492 events in 5.6 s before, 1.8 s after. Same files, tables and SQL; only
when connections are opened changes. It replaces `SqliteEventLogStorage._connect` and
`SqliteRunStorage.connect`, which are not Dagster's public API: sme_platform_tests/lib/
test_run_history.py counts the connections a run opens and fails when an upgrade changes them.

Only files under DAGSTER_HOME (when the connection is opened) are touched; an idle WAL
connection holds no lock, so the UI and the daemon read and write the same files as before.
"""

from __future__ import annotations

import atexit
import os
import sqlite3
import threading
from collections import OrderedDict
from contextlib import contextmanager
from pathlib import Path

SYNC_ENV = "SME_PLATFORM_RUN_HISTORY_SYNC"
# A process writes a handful of files (the run's own, the index, runs, schedules); tests open
# many instances in one process: the oldest idle connections are closed beyond this many.
MAX_KEPT = 16

_kept: OrderedDict[str, sqlite3.Connection] = OrderedDict()
_lock = threading.Lock()
_installed = False


def keep_run_history_open() -> bool:
    """Install the connection hook (once per process). Returns whether it is on."""
    global _installed
    if os.environ.get(SYNC_ENV, "normal").strip().lower() == "full":
        return False
    if _installed:
        return True
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    event.listen(Engine, "connect", _on_connect)
    atexit.register(close_kept_connections)
    pool_run_history_connections()
    _installed = True
    return True


def _on_connect(dbapi_connection, _connection_record) -> None:
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    home = os.environ.get("DAGSTER_HOME")
    if not home or os.environ.get(SYNC_ENV, "normal").strip().lower() == "full":
        return
    path = dbapi_connection.execute("pragma database_list").fetchone()[2]
    if not path or not Path(path).resolve().is_relative_to(Path(home).resolve()):
        return
    dbapi_connection.execute("pragma synchronous = normal")
    with _lock:
        if path in _kept:
            _kept.move_to_end(path)
            return
        keeper = sqlite3.connect(path, check_same_thread=False)
        # A connection that has read the file holds its share of the WAL index: SQLite then
        # knows another connection is open and does not checkpoint when Dagster's closes.
        keeper.execute("pragma schema_version").fetchone()
        _kept[path] = keeper
        while len(_kept) > MAX_KEPT:
            _kept.popitem(last=False)[1].close()


def kept_paths() -> list[str]:
    with _lock:
        return list(_kept)


def close_kept_connections() -> None:
    """Close the idle connections (at exit: the last close checkpoints the WAL into the file)."""
    with _lock:
        while _kept:
            _kept.popitem(last=False)[1].close()


# Event-log files of runs whose engine a storage keeps, besides the index: a run writes its own,
# the UI reads a few at a time.
KEPT_RUN_FILES = 8
_ENGINES = "_sme_platform_engines"


def pool_run_history_connections() -> None:
    """Make Dagster's SQLite run and event-log storages keep their engines (once per process)."""
    from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
    from dagster._core.storage.runs.sqlite.sqlite_run_storage import SqliteRunStorage

    if getattr(SqliteEventLogStorage._connect, "pooled", False):
        return
    SqliteEventLogStorage._connect = _event_log_connect
    SqliteEventLogStorage.dispose = _disposing_engines(SqliteEventLogStorage.dispose)
    SqliteRunStorage.connect = _run_storage_connect
    SqliteRunStorage.dispose = _disposing_engines(SqliteRunStorage.dispose)


def _pooled_engine(conn_string: str, timeout: float | None = None):
    from sqlalchemy import create_engine
    from sqlalchemy.pool import QueuePool

    connect_args: dict = {"check_same_thread": False}
    if timeout is not None:
        connect_args["timeout"] = timeout
    # One connection kept; more opened (and closed after use) only while threads overlap, as
    # the UI's do. SQLAlchemy rolls back on return: an idle connection holds no lock.
    return create_engine(
        conn_string, poolclass=QueuePool, pool_size=1, max_overflow=16, connect_args=connect_args
    )


@contextmanager
def _event_log_connect(self, shard: str):
    from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
        INDEX_SHARD_NAME,
        SQLITE_BUSY_TIMEOUT_SECONDS,
    )

    # Dagster's own holds the storage's lock while the connection is in use; so does this one,
    # and an engine is never disposed while another thread uses it.
    with self._db_lock:
        engines: OrderedDict = self.__dict__.setdefault(_ENGINES, OrderedDict())
        engine = engines.get(shard)
        if engine is None:
            engine = _pooled_engine(self.conn_string_for_shard(shard), SQLITE_BUSY_TIMEOUT_SECONDS)
            engines[shard] = engine
            runs = [name for name in engines if name != INDEX_SHARD_NAME]
            for name in runs[: max(0, len(runs) - KEPT_RUN_FILES)]:
                engines.pop(name).dispose()
        else:
            engines.move_to_end(shard)
        if shard not in self._initialized_dbs:
            self._initdb(engine)
            self._initialized_dbs.add(shard)
        with engine.connect() as conn, conn.begin():
            yield conn


_event_log_connect.pooled = True


@contextmanager
def _run_storage_connect(self):
    engines = self.__dict__.get(_ENGINES)
    if engines is None:
        with _lock:
            engines = self.__dict__.setdefault(
                _ENGINES, {"runs": _pooled_engine(self._conn_string)}
            )
    with engines["runs"].connect() as conn, conn.begin():
        yield conn


def _disposing_engines(dispose):
    def dispose_with_engines(self) -> None:
        dispose(self)
        for engine in self.__dict__.pop(_ENGINES, {}).values():
            engine.dispose()

    return dispose_with_engines


def kept_engines(storage) -> list[str]:
    """The files whose engine `storage` (Dagster's SQLite event log or run storage) keeps."""
    return list(storage.__dict__.get(_ENGINES, {}))
