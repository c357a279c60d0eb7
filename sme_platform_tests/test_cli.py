"""The `sme-platform` command as a user runs it, in a fresh project folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from sme_platform_tests.conftest import REPO_ROOT

CLI = str(Path(sys.executable).with_name("sme-platform"))


def run_cli(*args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CLI, *args], cwd=cwd, capture_output=True, text=True, timeout=600, check=False
    )


@pytest.mark.parametrize(
    "command", ["generate", "run", "retrain", "demo", "check", "summary", "ui", "erase customer"]
)
def test_every_subcommand_has_help(command):
    completed = run_cli(*command.split(), "--help")
    assert completed.returncode == 0
    assert "--project-dir" in completed.stdout


def test_demo_in_an_empty_folder_runs_through_a_persistent_instance(tmp_path):
    project = tmp_path / "acme"
    completed = run_cli("demo", "--scale", "tiny", "--project-dir", str(project))
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    assert (project / "sources.yaml").exists()
    # the copied mapping's modeline still leads editors to the schema, from where the copy is
    modeline = (project / "sources.yaml").read_text(encoding="utf-8").splitlines()[0]
    schema = modeline.removeprefix("# yaml-language-server: $schema=")
    assert (project / schema).resolve() == REPO_ROOT / "schemas" / "sources.schema.json"
    assert (project / "data" / "warehouse.duckdb").exists()
    out = completed.stdout
    assert "succeeded" in out
    for table in ("raw.sales_lines", "raw.inventory_snapshots", "raw.tickets"):
        assert table in out
    assert "quarantine.sales_lines: " in out and "parse_error" in out
    dashboard = project / "data" / "reports" / "kpi.html"
    assert dashboard.is_file() and f"KPI dashboard (opens offline in a browser): {dashboard}" in (
        " ".join(out.split())
    )
    # The run is in the project's own instance, so `sme-platform ui` shows it.
    home = project / ".dagster_home"
    assert "enabled: false" in (home / "dagster.yaml").read_text(encoding="utf-8")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs()
        assert [run.job_name for run in runs] == ["materialize_all"]
        assert runs[0].is_success
        assert instance.get_latest_materialization_event(dg.AssetKey(["raw", "sales_lines"]))

    # A second run (of the sales lines: the whole graph again is test_end_to_end's) finds no
    # new file, loads nothing, succeeds, and is recorded in the same instance.
    again = run_cli("run", "--select", 'key:"raw/sales_lines"', "--project-dir", str(project))
    assert again.returncode == 0, again.stdout[-3000:]
    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs()
        assert len(runs) == 2 and runs[0].is_success
        assert runs[0].asset_selection == {dg.AssetKey(["raw", "sales_lines"])}

    # Retraining on the same data: the same model (training is reproducible), so the command
    # says so and fails rather than succeed having done nothing.
    retrained = run_cli(
        "retrain", "--by", "Ana Ruiz", "--reason", "review", "--project-dir", str(project)
    )
    assert retrained.returncode == 1, retrained.stdout[-3000:]
    said = " ".join(retrained.stdout.split())
    assert "Not retrained: v1 was trained on feature set" in said
    assert "the same data and code give the same model" in said
    with duckdb.connect(str(project / "data" / "warehouse.duckdb"), read_only=True) as con:
        versions = con.execute("select version from ml.model_registry").fetchall()
        triggered = con.execute(
            "select count(*) from governance.audit_log where event = 'retraining_triggered'"
        ).fetchone()[0]
    assert versions == [("v1",)] and triggered == 0


def test_the_release_story_refuses_a_project_that_already_has_a_warehouse(tmp_path):
    """Its first night must not have seen the files it holds back (the story itself, three runs
    of the small demo, is measured by hand: see README, "Models")."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "warehouse.duckdb").write_bytes(b"")
    completed = run_cli("demo", "--release-story", "--project-dir", str(tmp_path))
    assert completed.returncode == 2, completed.stdout[-3000:] + completed.stderr[-3000:]
    assert "the release story starts from an empty warehouse" in " ".join(completed.stdout.split())
    assert not (tmp_path / "data" / "demo").exists()  # nothing generated, nothing written
    assert not (tmp_path / "sources.yaml").exists()


def test_the_drift_story_also_needs_a_folder_of_its_own_and_one_story_at_a_time(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "warehouse.duckdb").write_bytes(b"")
    completed = run_cli("demo", "--drift-story", "--project-dir", str(tmp_path))
    assert completed.returncode == 2
    assert "the drift story starts from an empty warehouse" in " ".join(completed.stdout.split())
    both = run_cli("demo", "--drift-story", "--release-story", "--project-dir", str(tmp_path))
    assert both.returncode == 2 and "one story at a time" in both.stdout
    assert not (tmp_path / "data" / "demo").exists()


def test_retrain_needs_a_name_and_a_reason(tmp_path):
    completed = run_cli(
        "retrain", "--by", " ", "--reason", "new supplier", "--project-dir", str(tmp_path)
    )
    assert completed.returncode == 2
    assert "retrain needs a name (--by) and a reason (--reason)" in completed.stdout


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


BROKEN_SOURCES = """\
version: 1
root: exports
sources:
  sales_lines:
    path: sales_*.csv
    contract:
      quantity_plausible: {severity: warn}
    columns:
      order_id: order_no
      line_number: line_no
      ordered_at: ts
      sku: item
      quantity: qty
      unit_price: price
      line_type: lower(doc)
      colour: c
"""


def test_check_prints_one_line_per_problem_and_run_stops_before_any_run(tmp_path):
    (tmp_path / "sources.yaml").write_text(BROKEN_SOURCES, encoding="utf-8")
    config = tmp_path / "sources.yaml"
    expected = [
        f"{config}: sources.sales_lines.columns.colour: unknown column 'colour'; columns of "
        "sales_lines: order_id, line_number, ordered_at, location_id, customer_id, sku, "
        "quantity, unit_price, discount_pct, promo_code, line_type",
        f"{config}: sources.sales_lines.contract.quantity_plausible: not a key here; did you "
        "mean sources.sales_lines.contract.rules.quantity_plausible?",
        "2 configuration problem(s); nothing was run.",
    ]
    checked = run_cli("check", "--project-dir", str(tmp_path))
    assert checked.returncode == 2
    assert checked.stdout.splitlines() == expected
    ran = run_cli("run", "--project-dir", str(tmp_path))
    assert ran.returncode == 2, ran.stdout[-3000:] + ran.stderr[-3000:]
    assert ran.stdout.splitlines() == expected
    assert not (tmp_path / "data" / "warehouse.duckdb").exists()
    with dg.DagsterInstance.from_config(str(tmp_path / ".dagster_home")) as instance:
        assert instance.get_runs() == []


@pytest.mark.parametrize("folder", [".", "examples/online_retail", "examples/itsm_tickets"])
def test_check_passes_on_the_demo_and_example_mappings(folder):
    completed = run_cli("check", "--project-dir", str(REPO_ROOT / folder))
    assert completed.returncode == 0, completed.stdout
    sources = {".": 7, "examples/online_retail": 3, "examples/itsm_tickets": 1}[folder]
    first, *access = completed.stdout.strip().splitlines()
    noun = "source" if sources == 1 else "sources"
    assert first == f"configuration OK: {sources} {noun}, 16 SQL models"
    assert access and all(line.startswith("access") for line in access)


def test_check_names_the_platforms_files_open_to_others(tmp_path):
    import shutil

    shutil.copy(REPO_ROOT / "sources.yaml", tmp_path / "sources.yaml")
    warehouse = tmp_path / "data" / "warehouse.duckdb"
    warehouse.parent.mkdir()
    warehouse.write_bytes(b"")
    warehouse.chmod(0o644)
    completed = run_cli("check", "--project-dir", str(tmp_path))
    assert completed.returncode == 0, completed.stdout
    assert f"access: {warehouse} (the warehouse): 0644, must be 0600 (the next run sets it)" in (
        completed.stdout.splitlines()
    )


WRITER = """
import sys, time
import duckdb
con = duckdb.connect(sys.argv[1])
con.execute("create table if not exists t as select 1 as x")
print("writing", flush=True)
time.sleep(60)
"""


@pytest.mark.parametrize(
    ("command", "then"),
    [
        ("summary", "the summary can read it once that run ends"),
        ("models", "list the models again when it ends"),
        ("models demand_forecast v1", "ask again when it ends"),
        ("audit verify", "verify again when it ends"),
    ],
)
def test_a_command_while_a_run_writes_says_so_instead_of_a_lock_error(tmp_path, command, then):
    (tmp_path / "sources.yaml").write_text("sources: {}\n", encoding="utf-8")
    warehouse = tmp_path / "data" / "warehouse.duckdb"
    warehouse.parent.mkdir()
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(warehouse)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout.readline().strip() == "writing"
        completed = run_cli(*command.split(), "--project-dir", str(tmp_path))
    finally:
        writer.kill()
        writer.wait()
    assert completed.returncode == 1
    assert "Traceback" not in completed.stdout + completed.stderr
    out = " ".join(completed.stdout.split())
    assert f"{warehouse} is being written by another process: {then}" in out
    if command == "summary":
        assert "data/analytics.duckdb" in out  # where analysts read meanwhile


def test_a_failed_step_is_reported_with_the_librarys_message_not_dagsters_wrapper():
    from dagster._utils.error import SerializableErrorInfo

    from sme_platform.cli_output import innermost_message

    cause = SerializableErrorInfo(
        "sme_platform.lib.release.registry.ArtifactIntegrityError: /p/model.txt: refused to "
        "load: the registry recorded sha256 aa, but its sha256 is bb.\n",
        [],
        "ArtifactIntegrityError",
    )
    wrapper = SerializableErrorInfo(
        "dagster._core.errors.DagsterExecutionStepExecutionError: Error occurred while "
        'executing op "demand_forecast":\n',
        [],
        "DagsterExecutionStepExecutionError",
        cause,
    )
    assert innermost_message(wrapper) == (
        "/p/model.txt: refused to load: the registry recorded sha256 aa, but its sha256 is bb."
    )


def test_demo_stops_on_a_bad_forecasting_yaml_before_generating_any_data(tmp_path):
    project = tmp_path / "demo"
    project.mkdir()
    (project / "forecasting.yaml").write_text("business:\n  lead_time_dayz: 2\n")
    completed = run_cli("demo", "--project-dir", str(project))
    assert completed.returncode == 2, completed.stdout + completed.stderr
    assert "forecasting.yaml: business.lead_time_dayz: Extra inputs are not permitted" in (
        completed.stdout
    )
    assert "nothing was run" in completed.stdout
    assert not (project / "data" / "demo").exists()  # no export was generated
    assert (project / "sources.yaml").exists()  # the mapping was written, to be checked


def test_the_duckdb_command_shown_works_from_where_the_user_is(tmp_path, monkeypatch):
    from sme_platform.cli_output import duckdb_command

    installed = Path(sys.executable).parent / "duckdb"
    inside, elsewhere = (
        (str(installed.relative_to(REPO_ROOT)), str(installed))
        if installed.is_relative_to(REPO_ROOT)
        else (str(installed), str(installed))
    )
    if not installed.exists():
        inside = elsewhere = "duckdb"
    monkeypatch.chdir(REPO_ROOT)  # `.venv/bin/duckdb` from the repository
    assert duckdb_command() == inside
    monkeypatch.chdir(tmp_path)  # a project folder elsewhere (--project-dir)
    assert duckdb_command() == elsewhere


def test_check_reads_each_sources_newest_file_against_its_mapping(tmp_path):
    # `order_id: receipt_number` for the export's `receipt_no`: every file of the next run would
    # be rejected, and the run would fail further on, at a row count.
    exports = tmp_path / "exports"
    exports.mkdir()
    header = "receipt_no,line,day,item,qty,price\n"
    (exports / "sales_2026-10.csv").write_text(header + "R0,1,2026-10-01,A,1,3.5\n")
    (exports / "sales_2026-11.csv").write_text(header + "R1,1,2026-11-01,A,2,3.5\n")
    mapping = (
        "version: 1\nroot: exports\nsources:\n  sales_lines:\n    path: 'sales_*.csv'\n"
        "    columns:\n      order_id: receipt_number\n      line_number: line\n"
        "      ordered_at: day\n      sku: item\n      quantity: qty\n      unit_price: price\n"
        "      line_type: \"'sale'\"\n"
    )
    (tmp_path / "sources.yaml").write_text(mapping)
    completed = run_cli("check", "--project-dir", str(tmp_path))
    assert completed.returncode == 2, completed.stdout
    lines = completed.stdout.splitlines()
    assert lines[0] == "configuration OK: 1 source, 16 SQL models"
    assert lines[1] == (
        f"sources.sales_lines: the newest file would be {exports / 'sales_2026-11.csv'}: "
        "rejected: missing column(s) ['receipt_number'] that the mapping in sources.yaml "
        "needs; the header has 6 column(s): ['receipt_no', 'line', 'day', 'item', 'qty', "
        "'price']; did you mean 'receipt_no' for 'receipt_number'?"
    )
    # Fixed, the check passes; nothing was loaded either way.
    (tmp_path / "sources.yaml").write_text(mapping.replace("receipt_number", "receipt_no"))
    assert run_cli("check", "--project-dir", str(tmp_path)).returncode == 0
    assert not (tmp_path / "data" / "warehouse.duckdb").exists()
