"""Who may read what on disk: the platform's own files are its user's alone; the analyst
database is the one file meant for analysts (PII masked there).

Private (folders 0700, files 0600): the warehouse (raw rows, quarantine with original values,
personal data), the model artifacts, the kept copies of rejected files, the Dagster instance
(run history and logs). A run sets them when it starts (`enforce`), saying what it changed, and
makes every file it creates private (umask 077): a folder closed to others closes everything
in it, whatever the files' own modes. The analyst database is published readable by all (0644)
in data/ (0755: the warehouse beside it is 0600, the private folders in it 0700).
`inspect` reports the state for the compliance report and `sme-platform check`.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from sme_platform.lib.project import ProjectPaths

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700
SHARED_FILE = 0o644
SHARED_DIR = 0o755  # data/: analysts pass through it to their database, and read nothing else
PRIVATE_UMASK = 0o077


@dataclass(frozen=True)
class AccessRule:
    path: Path
    what: str
    mode: int  # the mode it must have; a private folder's closes everything in it


@dataclass(frozen=True)
class AccessState:
    rule: AccessRule
    actual: int | None  # None: absent (nothing to protect yet)

    @property
    def ok(self) -> bool:
        return self.actual is None or self.actual == self.rule.mode

    def describe(self) -> str:
        actual = "absent" if self.actual is None else f"{self.actual:04o}"
        return f"{self.rule.path} ({self.rule.what}): {actual}, must be {self.rule.mode:04o}"


def rules(paths: ProjectPaths) -> list[AccessRule]:
    warehouse = paths.warehouse
    return [
        AccessRule(warehouse, "the warehouse", PRIVATE_FILE),
        AccessRule(
            warehouse.with_name(warehouse.name + ".wal"), "its write-ahead log", PRIVATE_FILE
        ),
        AccessRule(paths.models_dir, "model artifacts", PRIVATE_DIR),
        AccessRule(paths.rejected_files, "copies of rejected files", PRIVATE_DIR),
        AccessRule(paths.dagster_home, "run history and logs", PRIVATE_DIR),
        AccessRule(paths.data_dir, "the folder of the analyst database", SHARED_DIR),
        AccessRule(paths.analyst_database, "the analyst database", SHARED_FILE),
    ]


def inspect(paths: ProjectPaths) -> list[AccessState]:
    return [AccessState(rule, _mode(rule.path)) for rule in rules(paths)]


def enforce(paths: ProjectPaths) -> list[str]:
    """Make new files private and give each existing path its mode; what was changed, one line
    each ("… 0644 -> 0600")."""
    os.umask(PRIVATE_UMASK)
    changed = []
    for state in inspect(paths):
        if not state.ok:
            os.chmod(state.rule.path, state.rule.mode)
            changed.append(
                f"{state.rule.path} ({state.rule.what}): {state.actual:04o} -> "
                f"{state.rule.mode:04o}"
            )
    return changed


def share_with_analysts(path: Path) -> None:
    """The analyst database, readable by all (written under the private umask), in a folder
    they can pass through."""
    os.chmod(path, SHARED_FILE)
    os.chmod(path.parent, SHARED_DIR)


def _mode(path: Path) -> int | None:
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return None
