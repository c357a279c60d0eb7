"""File modes: the platform's files are its user's alone, the analyst database is for all."""

from __future__ import annotations

import os
import stat

import pytest

from sme_platform.lib.access import enforce, inspect, share_with_analysts
from sme_platform.lib.project import ProjectPaths


@pytest.fixture
def paths(tmp_path):
    before = os.umask(0o022)
    paths = ProjectPaths.at(tmp_path / "acme")
    for folder in (
        paths.models_dir / "demand_forecast" / "v1",
        paths.rejected_files,
        paths.dagster_home,
    ):
        folder.mkdir(parents=True, mode=0o755)
    for path in (
        paths.warehouse,
        paths.analyst_database,
        paths.models_dir / "demand_forecast" / "v1" / "model.txt",
    ):
        path.write_text("x")
    yield paths
    os.umask(before)


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_open_files_are_closed_and_each_change_is_said(paths):
    os.chmod(paths.analyst_database, 0o600)
    states = {state.rule.what: state for state in inspect(paths)}
    assert not states["the warehouse"].ok and states["its write-ahead log"].actual is None
    assert states["its write-ahead log"].ok  # absent: nothing to protect yet
    changed = enforce(paths)
    assert len(changed) == 5
    assert f"{paths.warehouse} (the warehouse): 0644 -> 0600" in changed
    assert f"{paths.dagster_home} (run history and logs): 0755 -> 0700" in changed
    assert mode(paths.warehouse) == 0o600
    assert mode(paths.models_dir) == mode(paths.rejected_files) == 0o700
    assert mode(paths.analyst_database) == 0o644 and mode(paths.data_dir) == 0o755
    assert all(state.ok for state in inspect(paths))
    assert enforce(paths) == []  # nothing left to change


def test_files_created_after_are_private_and_the_analyst_database_is_shared(paths):
    enforce(paths)
    created = paths.data_dir / "reports" / "new.html"
    created.parent.mkdir()
    created.write_text("x")
    assert mode(created) == 0o600 and mode(created.parent) == 0o700
    building = paths.data_dir / ".analytics.duckdb.1234.building"
    building.write_text("x")
    share_with_analysts(building)
    assert mode(building) == 0o644 and mode(paths.data_dir) == 0o755
