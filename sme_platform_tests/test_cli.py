"""The `sme-platform` command as a user runs it, in a fresh project folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from sme_platform_tests.conftest import REPO_ROOT

CLI = str(Path(sys.executable).with_name("sme-platform"))


def run_cli(*args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CLI, *args], cwd=cwd, capture_output=True, text=True, timeout=600, check=False
    )


@pytest.mark.parametrize("command", ["generate", "run", "demo", "summary", "ui"])
def test_every_subcommand_has_help(command):
    completed = run_cli(command, "--help")
    assert completed.returncode == 0
    assert "--project-dir" in completed.stdout


def test_demo_in_an_empty_folder_runs_through_a_persistent_instance(tmp_path):
    project = tmp_path / "acme"
    completed = run_cli("demo", "--scale", "tiny", "--project-dir", str(project))
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    assert (project / "sources.yaml").exists()
    assert (project / "data" / "warehouse.duckdb").exists()
    out = completed.stdout
    assert "succeeded" in out
    for table in ("raw.sales_lines", "raw.inventory_snapshots", "raw.tickets"):
        assert table in out
    assert "quarantine.sales_lines: " in out and "parse_error" in out
    # The run is in the project's own instance, so `sme-platform ui` shows it.
    home = project / ".dagster_home"
    assert "enabled: false" in (home / "dagster.yaml").read_text(encoding="utf-8")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs()
        assert [run.job_name for run in runs] == ["materialize_all"]
        assert runs[0].is_success
        assert instance.get_latest_materialization_event(dg.AssetKey(["raw", "sales_lines"]))

    # A second run finds no new files, loads nothing and still succeeds.
    again = run_cli("run", "--project-dir", str(project))
    assert again.returncode == 0, again.stdout[-3000:]
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert len(instance.get_runs()) == 2


def test_run_in_a_folder_without_sources_is_a_clear_error(tmp_path):
    completed = run_cli("run", "--project-dir", str(tmp_path))
    assert completed.returncode == 2
    assert "sources.yaml not found" in completed.stdout


def test_run_materializes_only_the_selection(tmp_path):
    (tmp_path / "sources.yaml").write_text(
        (REPO_ROOT / "sources.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    assert (
        run_cli(
            "generate", "--scale", "tiny", "--days", "20", "--project-dir", str(tmp_path)
        ).returncode
        == 0
    )
    completed = run_cli("run", "--select", 'key:"raw/products"', "--project-dir", str(tmp_path))
    assert completed.returncode == 0, completed.stdout[-3000:]
    with dg.DagsterInstance.from_config(str(tmp_path / ".dagster_home")) as instance:
        (run,) = instance.get_runs()
        assert run.asset_selection == {dg.AssetKey(["raw", "products"])}
        assert instance.get_latest_materialization_event(dg.AssetKey(["raw", "products"]))
        assert not instance.get_latest_materialization_event(dg.AssetKey(["raw", "sales_lines"]))
    assert "raw.products" in completed.stdout and "raw.sales_lines" not in completed.stdout
