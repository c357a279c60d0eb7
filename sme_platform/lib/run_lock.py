"""One writer at a time: a lock on the warehouse that a run takes before its first write.

DuckDB allows one writing process per file: a second writer fails at once ("Conflicting lock is
held"). Runs take this lock first and wait their turn instead. It is an flock(2) on a file next
to the warehouse. The kernel drops it when the holding process ends, however it ends (SIGKILL,
power loss: nothing is left on disk that still locks), so a dead run can never hold it.
While held, the file names its holder (run, pid, start, origin) for the waiters' message; that
text is information only, the lock itself is the flock.

Plain Python (no Dagster): the run wiring is in sme_platform/defs/runs.py.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

LOCK_TIMEOUT_ENV = "SME_PLATFORM_LOCK_TIMEOUT_SECONDS"
# A nightly run of a large project takes hours; a run queued behind it should still start.
DEFAULT_LOCK_TIMEOUT_SECONDS = 6 * 3600
POLL_SECONDS = 0.25
UNNAMED_HOLDER = "another process (the lock file names no run)"


class WarehouseBusyError(RuntimeError):
    """The warehouse stayed locked by another run for longer than the timeout."""


class WarehouseLockError(RuntimeError):
    """The lock cannot be taken as asked (a misuse, not a busy warehouse)."""


@dataclass(frozen=True)
class LockHolder:
    """Who holds (or asks for) the lock: enough for a waiter to say whom it waits for."""

    run_id: str
    pid: int
    started_at: str  # ISO 8601, UTC
    origin: str  # how the run was started, as a phrase: "from the CLI", "by sensor x", ...
    process_start: str | None = None  # see process_start_token: tells a reused pid apart

    @classmethod
    def for_this_process(cls, run_id: str, origin: str) -> LockHolder:
        pid = os.getpid()
        return cls(
            run_id=run_id,
            pid=pid,
            started_at=datetime.now(UTC).isoformat(timespec="seconds"),
            origin=origin,
            process_start=process_start_token(pid),
        )

    def describe(self) -> str:
        started = datetime.fromisoformat(self.started_at)
        when = started.strftime("%H:%M:%S UTC")
        if started.date() != datetime.now(UTC).date():
            when = started.strftime("%Y-%m-%d %H:%M:%S UTC")
        return f"run {self.run_id[:8]} (started {self.origin} at {when}, pid {self.pid})"

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> LockHolder | None:
        """None for an empty file, or one caught half-written by its new holder."""
        try:
            return cls(**json.loads(text))
        except (json.JSONDecodeError, TypeError):
            return None


def origin_from_tags(tags: Mapping[str, str], *, cli_origin_tag: str) -> str:
    """How a run was started, from its tags: the CLI sets `cli_origin_tag`, Dagster names the
    schedule, sensor or backfill; a run with none of these was launched from the UI."""
    if tags.get(cli_origin_tag) == "cli":
        return "from the CLI"
    if "dagster/schedule_name" in tags:
        return f"by schedule {tags['dagster/schedule_name']}"
    if "dagster/sensor_name" in tags:
        return f"by sensor {tags['dagster/sensor_name']}"
    if "dagster/backfill" in tags:
        return f"by backfill {tags['dagster/backfill']}"
    return "from the UI"


def lock_timeout_seconds(environ: Mapping[str, str]) -> float:
    raw = environ.get(LOCK_TIMEOUT_ENV)
    if raw is None or raw.strip() == "":
        return DEFAULT_LOCK_TIMEOUT_SECONDS
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value < 0:
        raise WarehouseLockError(
            f"{LOCK_TIMEOUT_ENV}={raw!r}: expected a number of seconds >= 0 "
            f"(default {DEFAULT_LOCK_TIMEOUT_SECONDS})"
        )
    return value


def process_start_token(pid: int) -> str | None:
    """When the process started, in clock ticks since boot (Linux /proc/<pid>/stat field 22):
    with the pid it names one process, even after the pid is reused. None where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces: split after it.
    fields = stat.rpartition(")")[2].split()
    return fields[19] if len(fields) > 19 else None


def process_is_alive(pid: int, process_start: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, under another user
    if process_start is None:
        return True
    current = process_start_token(pid)
    # A different start time is a new process that got the same pid.
    return current is None or current == process_start


@dataclass
class _Held:
    fd: int
    holder: LockHolder
    thread_id: int
    depth: int


# Locks this process holds, by lock file. flock conflicts between two descriptors of one
# process too, so the CLI (which takes the lock before the run) and the run's resource (which
# takes it again inside) share one descriptor instead of waiting for themselves.
_held_here: dict[Path, _Held] = {}
_registry = threading.Lock()


class WarehouseLock:
    """The lock on one warehouse: `lock_file` holds it, `guarded` names the warehouse in
    messages (e.g. data/warehouse.duckdb)."""

    def __init__(self, lock_file: Path, guarded: str):
        self.lock_file = Path(lock_file).absolute()
        self.guarded = guarded

    def current_holder(self) -> LockHolder | None:
        try:
            return LockHolder.from_json(self.lock_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None

    def acquire(
        self,
        holder: LockHolder,
        *,
        timeout_seconds: float,
        on_wait: Callable[[str], None] | None = None,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        """Take the lock for `holder`, waiting while another process holds it. `on_wait` gets
        one line per holder waited for ("waiting for run ... to release ..."). Raises
        WarehouseBusyError after `timeout_seconds`. Taking it again for the same run in this
        process nests (each acquire needs its release)."""
        if self._nest(holder):
            return
        self.lock_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_file, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            self._wait_for_turn(fd, holder, timeout_seconds, on_wait, poll_seconds)
            os.ftruncate(fd, 0)
            os.pwrite(fd, holder.to_json().encode("utf-8"), 0)
        except BaseException:
            os.close(fd)  # closing the descriptor also drops the flock if it was taken
            raise
        with _registry:
            _held_here[self.lock_file] = _Held(fd, holder, threading.get_ident(), 1)

    def release(self) -> None:
        with _registry:
            held = _held_here.get(self.lock_file)
            if held is None:
                raise WarehouseLockError(f"release of {self.guarded}: this process holds no lock")
            held.depth -= 1
            if held.depth > 0:
                return
            del _held_here[self.lock_file]
        # Empty the file before unlocking, so it never names a holder that has gone.
        os.ftruncate(held.fd, 0)
        os.close(held.fd)

    def held_here(self) -> LockHolder | None:
        with _registry:
            held = _held_here.get(self.lock_file)
            return held.holder if held else None

    @contextmanager
    def holding(
        self,
        holder: LockHolder,
        *,
        timeout_seconds: float,
        on_wait: Callable[[str], None] | None = None,
    ) -> Iterator[None]:
        self.acquire(holder, timeout_seconds=timeout_seconds, on_wait=on_wait)
        try:
            yield
        finally:
            self.release()

    def _nest(self, holder: LockHolder) -> bool:
        with _registry:
            held = _held_here.get(self.lock_file)
            if held is None:
                return False
            if held.holder.run_id == holder.run_id:
                held.depth += 1
                return True
            if held.thread_id == threading.get_ident():
                raise WarehouseLockError(
                    f"run {holder.run_id[:8]} asked for {self.guarded} in a thread that holds "
                    f"it for {held.holder.describe()}: it would wait for itself"
                )
            return False  # another thread's run: wait for it like for another process

    def _wait_for_turn(
        self,
        fd: int,
        holder: LockHolder,
        timeout_seconds: float,
        on_wait: Callable[[str], None] | None,
        poll_seconds: float,
    ) -> None:
        # Polling rather than a blocking flock: a blocked call could not time out, nor notice
        # that the holder changed (the waiting line names each run it waits for).
        started = time.monotonic()
        deadline = started + timeout_seconds
        announced: str | None = None
        nameless_since: float | None = None
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                pass
            other = self._describe_holder(fd)
            # A holder writes its name right after taking the lock and empties the file right
            # before letting it go: a nameless holder is announced only if it stays nameless
            # for a second (a process that locks without naming itself), however long the
            # wait has lasted.
            if other != UNNAMED_HOLDER:
                nameless_since = None
            elif nameless_since is None:
                nameless_since = time.monotonic()
            nameless_instant = (
                nameless_since is not None and time.monotonic() - nameless_since < 1.0
            )
            if other != announced and not nameless_instant:
                announced = other
                if on_wait is not None:
                    on_wait(f"waiting for {other} to release {self.guarded}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WarehouseBusyError(
                    f"run {holder.run_id[:8]} gave up after waiting {timeout_seconds:g} s for "
                    f"{other} to release {self.guarded}; set {LOCK_TIMEOUT_ENV} to wait longer, "
                    "or stop that run"
                )
            time.sleep(min(poll_seconds, remaining))

    @staticmethod
    def _describe_holder(fd: int) -> str:
        text = os.pread(fd, 4096, 0).decode("utf-8", errors="replace")
        holder = LockHolder.from_json(text)
        return holder.describe() if holder else UNNAMED_HOLDER
