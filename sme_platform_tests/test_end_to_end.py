"""The demo company end to end through Dagster: generate with defects, materialize every asset,
and find each injected defect in quarantine under the right rule, at the right file and row."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pytest

from sme_platform.defs.ingestion.assets import INGESTION_ASSETS
from sme_platform.defs.resources import ProjectResource
from sme_platform.defs.sql_models.assets import SQL_MODEL_ASSETS
from sme_platform.lib.demo_data import generate_demo_data
from sme_platform.lib.warehouse import connect
from sme_platform_tests.conftest import CANONICAL_TABLES, REPO_ROOT, SQL_MODELS

# The contract rule each kind of injected defect must be quarantined by.
SALES_DEFECT_RULES = {
    "null_key": "required_sku",
    "negative_quantity": "sale_quantity_positive",
    "absurd_quantity": "quantity_plausible",
    "duplicate_key": "primary_key_unique",
    "unknown_sku": "foreign_key_sku",
    "future_date": "ordered_at_not_future",
    "broken_encoding": "parse_error",
}
DAYS = 240


def make_project(root: Path, days: int = DAYS) -> dict:
    shutil.copy(REPO_ROOT / "sources.yaml", root / "sources.yaml")
    return generate_demo_data(
        root / "data" / "demo" / "exports", scale="tiny", days=days, defect_rate=0.01, seed=7
    )


def materialize(root: Path, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [*INGESTION_ASSETS, *SQL_MODEL_ASSETS],
        resources={"project": ProjectResource(project_dir=str(root))},
        instance=instance,
        raise_on_error=False,
    )


def model_metadata(result) -> dict[str, dict]:
    """The SQL models' materialization metadata in a run, by asset key."""
    return {
        event.asset_key.to_user_string(): event.materialization.metadata
        for event in result.get_asset_materialization_events()
        if event.asset_key.to_user_string() in SQL_MODELS
    }


def query(root: Path, sql: str) -> list[tuple]:
    with connect(root / "data" / "warehouse.duckdb", read_only=True) as con:
        return con.execute(sql).fetchall()


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo_company")
    manifest = make_project(root)
    instance = dg.DagsterInstance.ephemeral()
    result = materialize(root, instance)
    return root, manifest, instance, result


def test_every_asset_materializes_and_every_check_passes(loaded):
    root, _, _, result = loaded
    assert result.success
    materialized = {
        event.asset_key.to_user_string() for event in result.get_asset_materialization_events()
    }
    assert materialized == {f"raw/{t}" for t in CANONICAL_TABLES} | set(SQL_MODELS)
    evaluations = result.get_asset_check_evaluations()
    assert len(evaluations) == 7 * 4 + 60 + 5  # ingestion, SQL tests, GX suites
    failed = [(e.asset_key.to_user_string(), e.check_name) for e in evaluations if not e.passed]
    assert failed == []
    recorded = query(
        root,
        "select count(*), count(distinct asset), bool_and(passed), count(distinct run_id) "
        "from governance.check_results",
    )
    assert recorded == [(len(evaluations), len(materialized), True, 1)]


def test_the_sql_models_keep_every_good_sales_line_and_only_the_days_with_events(loaded):
    root, _, _, _ = loaded
    (sales, returns, other, raw) = query(
        root,
        """select (select count(*) from staging.sales_lines),
                  (select count(*) from staging.sales_returns),
                  (select count(*) from staging.sales_adjustments),
                  (select count(*) from raw.sales_lines)""",
    )[0]
    assert sales + returns + other == raw and returns > 0
    # units per day and pair add up to the staged lines, and marts.sales_daily is sparse: one
    # row per pair and day with a sale, a return or a stock-out, none zero-filled
    (units_daily, units_staged, rows, event_days, empty_rows) = query(
        root,
        """select (select sum(units_sold) from marts.sales_daily),
                  (select sum(quantity) from staging.sales_lines),
                  (select count(*) from marts.sales_daily),
                  (select count(*) from (
                      select sku, location_id, order_date from staging.sales_lines
                      union
                      select sku, location_id, order_date from staging.sales_returns
                      union
                      select sku, location_id, snapshot_date from staging.inventory_snapshots
                      where is_stocked_out)),
                  (select count(*) from marts.sales_daily
                   where orders = 0 and units_returned = 0 and is_stocked_out is not true)""",
    )[0]
    assert units_daily == units_staged and rows == event_days and empty_rows == 0
    # the stock-out flag is known on the snapshot days, and a stocked-out day without a sale is
    # there to say its zero is censored demand
    (stock_known, censored) = query(
        root,
        """select count(*) filter (where is_stocked_out is not null),
                  count(*) filter (where is_stocked_out and orders = 0)
           from marts.sales_daily""",
    )[0]
    assert stock_known > 0 and censored > 0
    months = query(root, "select count(*), sum(units_sold) from reports.sales_kpis_monthly")[0]
    assert months == (8, units_staged)  # 240 days from 2024-01-01 end in August
    # the monthly stock-out rate is over the snapshots, not over the sparse daily rows
    (rate_ok,) = query(
        root,
        """select bool_and(abs(kpis.stock_out_rate - snapshots.rate) < 1e-9)
           from reports.sales_kpis_monthly as kpis
           join (select date_trunc('month', snapshot_date)::date as month,
                        avg(is_stocked_out::int) as rate
                 from staging.inventory_snapshots group by 1) as snapshots using (month)""",
    )[0]
    assert rate_ok


def test_each_injected_sales_defect_is_quarantined_at_its_file_and_row(loaded):
    root, manifest, _, _ = loaded
    exports = root / "data" / "demo" / "exports"
    expected = sorted(
        (str(exports / d["file"]), d["row"], SALES_DEFECT_RULES[d["kind"]])
        for d in manifest["defects"]
        if d["file"].startswith("erp/sales/")
    )
    assert {rule for *_, rule in expected} == set(SALES_DEFECT_RULES.values())
    found = query(
        root, "select _source_file, _source_row, rule from quarantine.sales_lines order by all"
    )
    assert found == expected


def test_rows_are_conserved_and_counted_in_metadata(loaded):
    root, manifest, _, result = loaded
    (event,) = [
        e
        for e in result.get_asset_materialization_events()
        if e.asset_key.to_user_string() == "raw/sales_lines"
    ]
    metadata = {k: v.value for k, v in event.materialization.metadata.items()}
    assert metadata["rows_read"] == manifest["row_counts"]["sales"]
    assert metadata["rows_loaded"] + metadata["rows_quarantined"] == metadata["rows_read"]
    assert metadata["rows_quarantined"] == sum(
        1 for d in manifest["defects"] if d["file"].startswith("erp/sales/")
    )
    assert metadata["dagster/row_count"] == metadata["rows_loaded"]
    assert metadata["files_new"] == len(manifest["sales_files"])
    assert metadata["files_rejected"] == 0
    column_names = [c.name for c in metadata["dagster/column_schema"].columns]
    assert column_names[:3] == ["order_id", "line_number", "ordered_at"]
    raw_lines = query(root, "select count(*) from raw.sales_lines")[0][0]
    assert raw_lines == metadata["rows_loaded"]


def test_customer_and_ticket_defects(loaded):
    root, manifest, _, _ = loaded
    counts = manifest["defect_counts"]
    kinds = {(d["kind"], d["file"].split("/")[0]) for d in manifest["defects"]}
    assert ("malformed_email", "crm") in kinds and ("null_key", "support") in kinds
    warned = query(
        root,
        "select count(*) from quarantine.rule_warnings "
        "where table_name = 'customers' and rule = 'email_format'",
    )[0][0]
    assert warned == counts["malformed_email"]
    null_customers = sum(
        1 for d in manifest["defects"] if d["kind"] == "null_key" and d["file"].startswith("crm/")
    )
    assert query(root, "select rule, count(*) from quarantine.customers group by all") == [
        ("required_customer_id", null_customers)
    ]
    null_tickets = sum(
        1
        for d in manifest["defects"]
        if d["kind"] == "null_key" and d["file"].startswith("support/")
    )
    assert query(root, "select rule, count(*) from quarantine.tickets group by all") == [
        ("required_ticket_id", null_tickets)
    ]


def data_version(instance: dg.DagsterInstance, table: str) -> str:
    event = instance.get_latest_materialization_event(dg.AssetKey(["raw", table]))
    return event.asset_materialization.tags["dagster/data_version"]


def test_the_kpi_dashboard_shows_the_tables_and_says_what_it_cannot(loaded, tmp_path):
    """Drawn from the warehouse after ingestion and the SQL models (no forecast yet): the
    figures it can draw, the quarantine counts of raw.loads, the sections it cannot show
    with the reason, every company string escaped, no script fetched from anywhere."""
    import re

    from sme_platform.lib.dashboard.check import dashboard_complete
    from sme_platform.lib.dashboard.data import collect
    from sme_platform.lib.dashboard.render import render

    root, *_ = loaded
    with connect(root / "data" / "warehouse.duckdb", read_only=True) as con:
        data = collect(con)
        loads = dict(
            con.execute(
                "select table_name, sum(rows_quarantined)::bigint from raw.loads group by 1"
            ).fetchall()
        )
        page = render(data, tmp_path / "kpi.html", {"service_level": 0.9}, "Acme <b>&</b> Co")
        check = dashboard_complete(con, data, page, "demand_forecast")
    assert check.passed, check.description
    assert check.metadata["not_shown"] == {
        "drift": "no drift measured yet (no monitoring.feature_drift)",
        "roi": "no champion yet: nothing to compare",
    }
    text = page.read_text(encoding="utf-8")
    assert "Acme &lt;b&gt;&amp;&lt;/b&gt; Co" in text and "<b>&</b>" not in text
    assert not re.search(r"<script[^>]*\bsrc=", text)  # plotly inline: opens offline
    assert text.count('class="plotly-graph-div"') == 4  # sales, stock, support, quarantine
    for title in ("Sales and forecast", "Checks per stage", "Quarantine share per source"):
        assert f">{title}" in text
    assert "Not shown: no champion yet: nothing to compare" in text  # ROI before any model
    assert "Not shown: no drift measured yet (no monitoring.feature_drift)" in text
    for source in loads:
        assert f"<td>{source}</td>" in text
    assert f"<td>{loads['sales_lines']:,}</td>" in text  # its quarantined rows


def test_a_rerun_loads_nothing_new_and_a_new_day_loads_only_that_day(loaded):
    root, manifest, instance, _ = loaded
    before = query(root, "select count(*) from raw.sales_lines")[0][0]
    version_before = data_version(instance, "sales_lines")
    again = materialize(root, instance)
    assert again.success
    assert query(root, "select count(*) from raw.sales_lines")[0][0] == before
    assert data_version(instance, "sales_lines") == version_before  # nothing new, same version
    quiet = model_metadata(again)
    assert set(quiet) == set(SQL_MODELS)
    assert all("up_to_date" in metadata for metadata in quiet.values())

    # The next night's export: the generator writes day 91, days 1-90 are byte-identical.
    next_manifest = make_project(root, days=DAYS + 1)
    new_day = set(next_manifest["sales_files"]) - set(manifest["sales_files"])
    assert len(new_day) == 1
    nightly = materialize(root, instance)
    assert nightly.success
    rows = query(
        root,
        "select status, count(*) from raw.file_loads where table_name = 'sales_lines' "
        "and load_id = (select max_by(load_id, finished_at) from raw.loads "
        "where table_name = 'sales_lines') group by all order by 1",
    )
    assert rows == [("already_loaded", len(manifest["sales_files"])), ("loaded", 1)]
    assert data_version(instance, "sales_lines") != version_before
    # The incremental models rebuild the new day only; the others are built in full.
    built = {key: m["build"].value for key, m in model_metadata(nightly).items() if "build" in m}
    new_date = sorted(new_day)[0].rsplit("_", 1)[-1].split(".")[0]
    for key in ("staging/sales_lines", "staging/sales_returns", "marts/sales_daily"):
        assert built[key].startswith(f"incremental: 1 day(s) in 1 range(s): {new_date}.."), built
    assert built["marts/customers"] == "full"
    new_rows = query(root, "select count(*) from raw.sales_lines")[0][0] - before
    new_quarantined = query(
        root,
        "select count(*) from quarantine.sales_lines where _source_file like '%"
        + sorted(new_day)[0].rsplit("/", 1)[-1]
        + "'",
    )[0][0]
    assert new_rows + new_quarantined == next_manifest["files"][sorted(new_day)[0]]


def test_a_failing_blocking_check_fails_the_run_and_names_the_rule(tmp_path):
    make_project(tmp_path, days=20)
    config = (tmp_path / "sources.yaml").read_text(encoding="utf-8")
    config = config.replace(
        "  sales_lines:\n", "  sales_lines:\n    contract:\n      max_quarantine_share: 0.001\n"
    )
    (tmp_path / "sources.yaml").write_text(config, encoding="utf-8")
    result = dg.materialize(
        INGESTION_ASSETS,
        resources={"project": ProjectResource(project_dir=str(tmp_path))},
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    (failed,) = [e for e in result.get_asset_check_evaluations() if not e.passed]
    assert (failed.asset_key.to_user_string(), failed.check_name) == (
        "raw/sales_lines",
        "quarantine_share",
    )
    assert "limit 0.10%" in failed.description
    assert failed.severity == dg.AssetCheckSeverity.ERROR


def test_an_absent_source_leaves_an_empty_canonical_table_with_its_reason(tmp_path):
    make_project(tmp_path, days=10)
    config = (tmp_path / "sources.yaml").read_text(encoding="utf-8")
    start = config.index("  tickets:\n")
    (tmp_path / "sources.yaml").write_text(config[:start], encoding="utf-8")
    instance = dg.DagsterInstance.ephemeral()
    result = materialize(tmp_path, instance)
    assert result.success
    materializations = {
        e.asset_key.to_user_string(): e.materialization
        for e in result.get_asset_materialization_events()
    }
    tickets = materializations["raw/tickets"]
    assert tickets.metadata["source"].value == "absent: sources.yaml has no source for it"
    assert tickets.metadata["dagster/row_count"].value == 0
    assert query(tmp_path, "select count(*) from raw.tickets") == [(0,)]
    assert materializations["raw/sales_lines"].metadata["dagster/row_count"].value > 0
    logs = [
        record.user_message
        for record in instance.all_logs(result.run_id)
        if "raw/tickets not loaded" in record.user_message
    ]
    assert logs == ["raw/tickets not loaded: sources.yaml has no source for it"]
    checks = [
        e for e in result.get_asset_check_evaluations() if e.asset_key.path == ["raw", "tickets"]
    ]
    assert all(c.passed for c in checks) and len(checks) == 4
    # the models downstream build on the empty table
    support = materializations["reports/support_kpis_monthly"]
    assert support.metadata["dagster/row_count"].value == 0


def test_the_small_demo_end_to_end(tmp_path):
    """The demo as `make run` builds it (small scale, ~1M sales lines, 0.2 % defects)."""
    shutil.copy(REPO_ROOT / "sources.yaml", tmp_path / "sources.yaml")
    manifest = generate_demo_data(
        tmp_path / "data" / "demo" / "exports", scale="small", defect_rate=0.002
    )
    result = materialize(tmp_path, dg.DagsterInstance.ephemeral())
    assert result.success
    assert all(e.passed for e in result.get_asset_check_evaluations())
    sales_defects = [d for d in manifest["defects"] if d["file"].startswith("erp/sales/")]
    expected = {}
    for defect in sales_defects:
        rule = SALES_DEFECT_RULES[defect["kind"]]
        expected[rule] = expected.get(rule, 0) + 1
    found = dict(query(tmp_path, "select rule, count(*) from quarantine.sales_lines group by 1"))
    assert found == expected
    loaded = query(tmp_path, "select count(*) from raw.sales_lines")[0][0]
    assert loaded + len(sales_defects) == manifest["row_counts"]["sales"]
    assert (
        query(tmp_path, "select count(*) from raw.inventory_snapshots")[0][0]
        == (manifest["row_counts"]["inventory"])
    )
