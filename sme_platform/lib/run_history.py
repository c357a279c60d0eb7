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

Only files under DAGSTER_HOME (when the connection is opened) are touched; an idle WAL
connection holds no lock, so the UI and the daemon read and write the same files as before.
"""

from __future__ import annotations

import atexit
import os
import sqlite3
import threading
from collections import OrderedDict
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
