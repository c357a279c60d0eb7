"""The warehouse lock (lib/run_lock.py), with real processes holding it: one writer at a time,
a waiter says whom it waits for, gives up after the timeout naming the holder, and a holder
that dies (SIGKILL) holds nothing."""

from __future__ import annotations

import fcntl
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from sme_platform.lib.run_lock import (
    DEFAULT_LOCK_TIMEOUT_SECONDS,
    LOCK_TIMEOUT_ENV,
    LockHolder,
    WarehouseBusyError,
    WarehouseLock,
    WarehouseLockError,
    lock_timeout_seconds,
    origin_from_tags,
    process_is_alive,
    process_start_token,
)
from sme_platform_tests.conftest import REPO_ROOT

OTHER_RUN = "feedface-0000-4000-8000-000000000001"


class OtherProcess:
    """A process holding the lock through the lib API under the name of a run of the UI."""

    def __init__(self, lock_file: Path, run_id: str = OTHER_RUN, origin: str = "from the UI"):
        command = [sys.executable, "-m", "sme_platform_tests.lock_holders", "lock"]
        self.process = subprocess.Popen(
            [*command, str(lock_file), run_id, origin],
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout.readline().strip() == "holding"

    def release(self) -> None:
        self.process.stdin.write("\n")
        self.process.stdin.flush()
        assert self.process.wait(timeout=30) == 0

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)


@pytest.fixture
def lock(tmp_path) -> WarehouseLock:
    return WarehouseLock(tmp_path / "data" / ".warehouse.lock", "data/warehouse.duckdb")


def me(run_id: str = "c0ffee00-0000-4000-8000-000000000002") -> LockHolder:
    return LockHolder.for_this_process(run_id, "from the CLI")


def test_the_holder_is_named_in_the_file_while_it_holds_and_not_after(lock):
    holder = me()
    lock.acquire(holder, timeout_seconds=1)
    written = json.loads(lock.lock_file.read_text(encoding="utf-8"))
    assert written["run_id"] == holder.run_id and written["pid"] == os.getpid()
    assert written["origin"] == "from the CLI"
    assert lock.current_holder() == holder == lock.held_here()
    lock.release()
    assert lock.lock_file.read_text(encoding="utf-8") == ""
    assert lock.held_here() is None
    # Free again: taken at once.
    started = time.monotonic()
    with lock.holding(me("another-run"), timeout_seconds=0):
        assert lock.current_holder().run_id == "another-run"
    assert time.monotonic() - started < 1


def test_a_waiter_names_the_holder_then_gives_up_after_the_timeout(lock):
    other = OtherProcess(lock.lock_file)
    lines: list[str] = []
    started = time.monotonic()
    try:
        with pytest.raises(WarehouseBusyError) as raised:
            lock.acquire(me(), timeout_seconds=1.5, on_wait=lines.append)
    finally:
        other.release()
    assert 1.5 <= time.monotonic() - started < 5
    pattern = (
        rf"run feedface \(started from the UI at \d\d:\d\d:\d\d UTC, pid {other.process.pid}\)"
    )
    assert len(lines) == 1
    assert re.fullmatch(f"waiting for {pattern} to release data/warehouse.duckdb", lines[0])
    message = str(raised.value)
    assert re.search(pattern, message), message
    assert "run c0ffee00 gave up after waiting 1.5 s" in message
    assert LOCK_TIMEOUT_ENV in message
    assert lock.held_here() is None


def test_a_waiter_takes_its_turn_when_the_holder_releases(lock):
    other = OtherProcess(lock.lock_file)
    lines: list[str] = []
    # The holder lets go one second from now, while this thread waits.
    threading.Timer(1.0, other.release).start()
    started = time.monotonic()
    with lock.holding(me(), timeout_seconds=30, on_wait=lines.append):
        waited = time.monotonic() - started
        assert lock.current_holder().pid == os.getpid()
    assert 0.8 <= waited < 10
    assert len(lines) == 1 and lines[0].startswith("waiting for run feedface")


def test_a_holder_emptying_the_file_as_it_leaves_is_not_announced_as_a_nameless_one(lock):
    """The holder empties the file just before it unlocks: a waiter that polls in between,
    however long it has waited already, must not announce "another process"."""
    lock.lock_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock.lock_file, os.O_RDWR | os.O_CREAT, 0o644)  # another holder, by hand
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.pwrite(fd, LockHolder.for_this_process(OTHER_RUN, "from the UI").to_json().encode(), 0)

    def leave() -> None:
        os.ftruncate(fd, 0)  # nameless from now...
        time.sleep(0.6)  # ...for several of the waiter's polls...
        os.close(fd)  # ...then unlocked

    threading.Timer(1.5, leave).start()  # after the waiter's first second
    lines: list[str] = []
    lock.acquire(me(), timeout_seconds=30, on_wait=lines.append, poll_seconds=0.05)
    lock.release()
    assert len(lines) == 1 and lines[0].startswith("waiting for run feedface"), lines


def test_a_killed_holder_holds_nothing(lock):
    other = OtherProcess(lock.lock_file)
    other.kill()
    # The dead holder's name is still in the file: the lock is the flock, not the text.
    assert lock.current_holder().pid == other.process.pid
    lines: list[str] = []
    lock.acquire(me(), timeout_seconds=0, on_wait=lines.append)
    assert lines == []
    assert lock.current_holder().pid == os.getpid()
    lock.release()


def test_the_same_run_nests_and_another_run_in_the_same_thread_is_refused(lock):
    holder = me()
    lock.acquire(holder, timeout_seconds=0)
    lock.acquire(holder, timeout_seconds=0)  # the CLI, then the run's resource
    lock.release()
    assert lock.held_here() == holder  # the outer hold remains
    with pytest.raises(WarehouseLockError, match="it would wait for itself"):
        lock.acquire(me("0ther000-run"), timeout_seconds=5)
    lock.release()
    assert lock.held_here() is None
    with pytest.raises(WarehouseLockError, match="holds no lock"):
        lock.release()


def test_the_timeout_comes_from_the_environment():
    assert lock_timeout_seconds({}) == DEFAULT_LOCK_TIMEOUT_SECONDS == 6 * 3600
    assert lock_timeout_seconds({LOCK_TIMEOUT_ENV: "90"}) == 90
    assert lock_timeout_seconds({LOCK_TIMEOUT_ENV: " "}) == DEFAULT_LOCK_TIMEOUT_SECONDS
    for bad in ("six hours", "-1"):
        with pytest.raises(WarehouseLockError, match=rf"{LOCK_TIMEOUT_ENV}='{bad}': expected"):
            lock_timeout_seconds({LOCK_TIMEOUT_ENV: bad})


def test_the_origin_of_a_run_comes_from_its_tags():
    def origin(**tags):
        renamed = {key.replace("__", "/"): value for key, value in tags.items()}
        return origin_from_tags(renamed, cli_origin_tag="sme_platform/origin")

    assert origin(sme_platform__origin="cli") == "from the CLI"
    assert origin(dagster__schedule_name="nightly") == "by schedule nightly"
    assert origin(dagster__sensor_name="new_files") == "by sensor new_files"
    assert origin(dagster__backfill="abc") == "by backfill abc"
    assert origin() == "from the UI"


def test_a_process_is_alive_only_while_it_runs_and_only_itself():
    assert process_is_alive(os.getpid(), process_start_token(os.getpid()))
    finished = subprocess.Popen(["true"])
    finished.wait()
    assert not process_is_alive(finished.pid, None)
    token = process_start_token(os.getpid())
    if token is None:
        pytest.skip("no /proc: the start time of a process is unknown here")
    # Same pid, another start time: the pid was reused by a new process.
    assert not process_is_alive(os.getpid(), str(int(token) + 1))
