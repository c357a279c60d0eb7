"""`sme-platform ui` (what `make ui` runs) as a data team uses it: the UI serves every asset,
check, job and schedule, and a run launched from it materializes the graph."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import dagster as dg
import pytest
from dagster_graphql import DagsterGraphQLClient

from sme_platform.lib.demo_data import generate_demo_data
from sme_platform_tests.conftest import CANONICAL_TABLES, REPO_ROOT, SQL_MODELS

CLI = str(Path(sys.executable).with_name("sme-platform"))
GRAPH_QUERY = """
{
  repositoriesOrError {
    ... on RepositoryConnection {
      nodes {
        name
        location { name }
        jobs { name }
        schedules { name scheduleState { status } }
        sensors { name sensorState { status } }
        assetNodes {
          assetKey { path }
          assetChecksOrError { ... on AssetChecks { checks { name } } }
        }
      }
    }
  }
}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_served(port: int, process: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"dagster dev exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2):
                return
        except OSError:
            time.sleep(1)
    raise AssertionError(f"the UI did not answer on port {port} within {seconds} s")


ML_ASSETS = [
    "features/demand_features",
    "training/demand_forecast_model",
    "release/demand_forecast_release",
    "ml/demand_forecast",
    "monitoring/demand_forecast_monitoring",
    "reports/kpi_dashboard",
]


@pytest.fixture(scope="module")
def ui(tmp_path_factory):
    project = tmp_path_factory.mktemp("ui_company")
    (project / "sources.yaml").write_text(
        (REPO_ROOT / "sources.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    generate_demo_data(project / "data" / "demo" / "exports", scale="tiny", days=60)
    port = free_port()
    log = (project / "ui.log").open("w")
    # Its own process group: dagster dev starts a webserver, a daemon and code servers, and
    # ignores a plain SIGTERM for a while.
    process = subprocess.Popen(
        [CLI, "ui", "--project-dir", str(project), "--port", str(port)],
        cwd=REPO_ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_until_served(port, process)
        yield project, port
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        log.close()


def test_the_ui_serves_every_asset_check_job_and_schedule(ui):
    _, port = ui
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": GRAPH_QUERY}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        (repository,) = json.load(response)["data"]["repositoriesOrError"]["nodes"]
    assets = {
        "/".join(node["assetKey"]["path"]): sorted(
            check["name"] for check in node["assetChecksOrError"]["checks"]
        )
        for node in repository["assetNodes"]
    }
    assert sorted(assets) == sorted(
        [f"raw/{t}" for t in CANONICAL_TABLES]
        + SQL_MODELS
        + ML_ASSETS
        + ["governance/analyst_database", "governance/audit_log", "governance/catalog"]
        + ["reports/compliance_report", "governance/erasures"]
    )
    assert assets["release/demand_forecast_release"] == ["promotion_gate"]
    assert assets["monitoring/demand_forecast_monitoring"] == [
        "feature_drift",
        "live_accuracy",
        "prediction_drift",
    ]
    assert "unique_order_id_line_number" in assets["staging/sales_lines"]
    assert assets["raw/sales_lines"] == [
        "newest_file_freshness",
        "quarantine_share",
        "row_conservation",
        "schema_conformance",
    ]
    assert {"materialize_all", "ingest_new_files", "retrain_demand_forecast"} <= {
        job["name"] for job in repository["jobs"]
    }
    schedules = {s["name"]: s["scheduleState"]["status"] for s in repository["schedules"]}
    assert schedules == {"nightly_materialize_all": "RUNNING", "purge_expired_weekly": "RUNNING"}
    sensors = {s["name"]: s["sensorState"]["status"] for s in repository["sensors"]}
    assert sensors["retrain_demand_forecast_on_drift"] == "RUNNING"
    assert sensors["new_export_files"] == "STOPPED"  # the nightly schedule loads the exports


def test_a_run_launched_from_the_ui_materializes_the_graph(ui):
    project, port = ui
    client = DagsterGraphQLClient("127.0.0.1", port_number=port)
    run_id = client.submit_job_execution("materialize_all")
    deadline = time.monotonic() + 240
    status = client.get_run_status(run_id)
    while status not in (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE):
        assert time.monotonic() < deadline, f"run {run_id} still {status}"
        time.sleep(2)
        status = client.get_run_status(run_id)
    assert status == dg.DagsterRunStatus.SUCCESS
    with dg.DagsterInstance.from_config(str(project / ".dagster_home")) as instance:
        for key in (
            ["raw", "sales_lines"],
            ["reports", "sales_kpis_monthly"],
            ["governance", "analyst_database"],
        ):
            event = instance.get_latest_materialization_event(dg.AssetKey(key))
            assert event is not None and event.run_id == run_id
        # Sixty days of sales cannot fill a backtest of six 14-day folds: training says so and
        # is skipped, the run goes on to the analyst database.
        training = instance.get_latest_materialization_event(
            dg.AssetKey(["training", "demand_forecast_model"])
        )
        skipped = training.asset_materialization.metadata["skipped"].value
        assert skipped.startswith("not enough sales history to backtest")
    assert (project / "data" / "warehouse.duckdb").exists()
    assert (project / "data" / "analytics.duckdb").exists()


def test_a_materialization_launched_by_clicking_in_the_ui_succeeds(ui):
    """In a real browser (Debian's Chromium, driven by Playwright): the asset's lineage graph,
    then its Materialize button; the run it launched succeeds and materializes that asset."""
    from sme_platform_tests.test_browser import chromium

    browser_path = chromium()
    sync_api = pytest.importorskip("playwright.sync_api")
    project, port = ui
    home = str(project / ".dagster_home")
    with dg.DagsterInstance.from_config(home) as instance:
        before = {run.run_id for run in instance.get_runs()}
    errors: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=browser_path,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
            ],
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(f"http://127.0.0.1:{port}/assets/raw/products?view=lineage")
            skip = page.get_by_role("button", name="Skip")  # "Join the Dagster community"
            if skip.count():
                skip.first.click()
            # The lineage graph: the asset's group, and downstream the staging model's.
            page.get_by_text("Nearest Neighbors").first.wait_for(timeout=60_000)
            page.get_by_text("staging", exact=True).first.wait_for(timeout=60_000)
            page.get_by_text("Materialize", exact=True).first.click()  # the asset's own button
            deadline = time.monotonic() + 240
            launched = []
            while not launched:
                assert time.monotonic() < deadline, "no run launched by the Materialize button"
                time.sleep(1)
                with dg.DagsterInstance.from_config(home) as instance:
                    launched = [r for r in instance.get_runs() if r.run_id not in before]
        finally:
            browser.close()
    (run,) = launched
    assert run.asset_selection == {dg.AssetKey(["raw", "products"])}
    deadline = time.monotonic() + 240
    with dg.DagsterInstance.from_config(home) as instance:
        while not instance.get_run_by_id(run.run_id).is_finished:
            assert time.monotonic() < deadline, f"run {run.run_id} did not finish"
            time.sleep(2)
        assert instance.get_run_by_id(run.run_id).is_success
        event = instance.get_latest_materialization_event(dg.AssetKey(["raw", "products"]))
        assert event is not None and event.run_id == run.run_id
    assert not errors, errors
