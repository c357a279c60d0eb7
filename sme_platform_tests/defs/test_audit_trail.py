"""The audit trail through Dagster: a run appends what it did to the data, records the chain's
head in the instance's event log when it ends, and the nightly check (and `sme-platform audit
verify`) names the first entry edited, deleted or rewritten inside the DuckDB file."""

from __future__ import annotations

import json
import stat

import dagster as dg
import duckdb
import pytest

from sme_platform.defs.governance.assets import (
    GOVERNANCE_ASSETS,
    build_audit_log_asset,
)
from sme_platform.defs.governance.audit import AUDIT_LOG_KEY, HEAD_HASH, HEAD_ID
from sme_platform.defs.governance.catalog import CATALOG_KEY
from sme_platform.defs.ingestion.assets import INGESTION_ASSETS
from sme_platform.defs.resources import ProjectResource
from sme_platform.defs.sql_models.assets import SQL_MODEL_ASSETS
from sme_platform.lib.audit.chain import entry_hash
from sme_platform.lib.audit.log import chain_head, read_chain
from sme_platform.lib.project import ProjectPaths
from sme_platform.lib.warehouse import connect
from sme_platform_tests.test_cli import run_cli
from sme_platform_tests.test_end_to_end import make_project

AUDIT_ASSET = build_audit_log_asset()


def governed(*assets: dg.AssetsDefinition) -> list[dg.AssetsDefinition]:
    """The assets with the owners the definitions' governance policy gives them."""
    import warnings

    from sme_platform.definitions import apply_governance_policy

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=dg.PreviewWarning)
        return list(dg.map_asset_specs(apply_governance_policy, assets))


WHOLE_RUN = governed(*INGESTION_ASSETS, *SQL_MODEL_ASSETS, *GOVERNANCE_ASSETS)


def run(root, instance, assets=None) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        assets or WHOLE_RUN,
        resources={"project": ProjectResource(project_dir=str(root))},
        instance=instance,
        raise_on_error=False,
    )


def heads(instance) -> list[tuple[int, str]]:
    records = instance.fetch_observations(AUDIT_LOG_KEY, limit=100).records
    return [
        (
            record.asset_observation.metadata[HEAD_ID].value,
            record.asset_observation.metadata[HEAD_HASH].value,
        )
        for record in records
    ]


def audit_rows(root, sql: str = "select event, subject, reason, details::varchar"):
    with connect(root / "data" / "warehouse.duckdb", read_only=True) as con:
        return con.execute(f"{sql} from governance.audit_log order by event_id").fetchall()


def check(result) -> dg.AssetCheckEvaluation:
    (evaluation,) = [
        e for e in result.get_asset_check_evaluations() if e.asset_key == AUDIT_LOG_KEY
    ]
    return evaluation


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    root = tmp_path_factory.mktemp("audited_company")
    make_project(root, days=30)
    # A file no mapping can read: rejected, kept, and audited without its contents.
    broken = root / "data" / "demo" / "exports" / "erp" / "sales" / "sales_2024-12-31.csv"
    broken.write_text("customer_email,total\nmallory@example.com,5\n", encoding="utf-8")
    home = ProjectPaths.at(root).ensure_dagster_home()
    instance = dg.DagsterInstance.from_config(str(home))
    result = run(root, instance)
    return root, instance, result


def test_a_run_audits_its_loads_quarantines_and_records_the_head(audited):
    root, instance, result = audited
    assert result.success
    rows = audit_rows(root)
    loaded = {subject for event, subject, *_ in rows if event == "files_loaded"}
    assert {"source:sales_lines", "source:customers", "source:tickets"} <= loaded
    quarantined = {
        subject: json.loads(details)["rows_by_rule"]
        for event, subject, _, details in rows
        if event == "rows_quarantined"
    }
    with connect(root / "data" / "warehouse.duckdb", read_only=True) as con:
        expected = dict(
            con.execute(
                "select rule, count(*) from quarantine.sales_lines group by rule"
            ).fetchall()
        )
        head = chain_head(con)
        emails = [
            r[0]
            for r in con.execute(
                "select email from raw.customers where email is not null limit 200"
            ).fetchall()
        ]
    assert quarantined["source:sales_lines"] == expected
    (rejected,) = [
        (reason, details) for event, _, reason, details in rows if event == "file_rejected"
    ]
    assert "sales_2024-12-31.csv: rejected: missing column(s)" in rejected[0]
    assert json.loads(rejected[1])["file"].endswith("sales_2024-12-31.csv")
    # The run's end recorded the head it left, in the instance's event log.
    assert heads(instance) == [head]
    evaluation = check(result)
    assert evaluation.passed and evaluation.blocking
    # verified before the analyst snapshot's publication, the last entry
    assert evaluation.description.startswith(f"audit chain intact: {head[0] - 1} entries")
    assert rows[-1][:2] == ("published", "analyst_database")
    # No row values in the log: it cannot be erased from, so it must hold no personal data.
    text = " ".join(str(cell) for row in audit_rows(root) for cell in row)
    assert emails and not [email for email in emails if email in text]
    assert "mallory@example.com" not in text


def test_the_platforms_files_are_its_users_alone_but_the_analyst_database(audited):
    root, _, _ = audited
    paths = ProjectPaths.at(root)
    modes = {
        path.name: stat.S_IMODE(path.stat().st_mode)
        for path in (paths.warehouse, paths.dagster_home, paths.analyst_database, paths.data_dir)
    }
    assert modes == {
        "warehouse.duckdb": 0o600,
        ".dagster_home": 0o700,
        "analytics.duckdb": 0o644,
        "data": 0o755,
    }
    rejected = [p for p in paths.rejected_files.rglob("*") if p.is_file()]
    assert rejected  # the demo's broken file, kept
    assert stat.S_IMODE(paths.rejected_files.stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in rejected} == {0o600}


def test_the_catalog_says_what_each_asset_is_and_analysts_get_it_too(audited):
    root, _, result = audited
    catalog_check = [e for e in result.get_asset_check_evaluations() if e.asset_key == CATALOG_KEY]
    assert [(e.check_name, e.passed) for e in catalog_check] == [("catalog_complete", True)]
    sql = """select asset, owners, pii_columns, checks, upstream, downstream, row_count,
                    last_run_id, grain, problems
             from governance.catalog"""
    with connect(root / "data" / "warehouse.duckdb", read_only=True) as con:
        rows = {row[0]: row[1:] for row in con.execute(sql).fetchall()}
        loaded = con.execute("select count(*) from raw_store.customers").fetchone()[0]
    assert len(rows) == len(INGESTION_ASSETS) + len(SQL_MODEL_ASSETS) + 3
    owners, pii, checks, upstream, downstream, row_count, run_id, grain, problems = rows[
        "raw/customers"
    ]
    assert owners == ["team:data"] and "email (raw: never published)" in pii
    assert "row_conservation (blocking)" in checks and upstream == []
    assert "staging/customers" in downstream
    assert (row_count, run_id, problems) == (loaded, result.run_id, [])
    assert grain and grain.startswith("one row per")
    staging = rows["staging/customers"]
    assert "email (hash)" in staging[1] and staging[3] == ["raw/customers"]
    with duckdb.connect(str(root / "data" / "analytics.duckdb"), read_only=True) as analyst:
        published = analyst.execute("select count(*) from governance.catalog").fetchone()[0]
    assert published == len(rows)


def test_a_night_with_nothing_new_appends_what_it_did(audited):
    root, instance, _ = audited
    before = len(audit_rows(root))
    again = run(root, instance)
    assert again.success and check(again).passed
    added = audit_rows(root, "select event, subject, run_id")[before:]
    # the unreadable file is tried again each night (a corrected one would load), and said
    assert added == [
        ("file_rejected", "source:sales_lines", again.run_id),
        ("check_failed", "asset:raw/sales_lines", again.run_id),
        ("published", "analyst_database", again.run_id),
    ]
    assert len(heads(instance)) == 2


def test_an_edit_inside_the_file_is_named_by_the_nightly_check_and_the_cli(audited):
    root, instance, _ = audited
    with connect(root / "data" / "warehouse.duckdb") as con:
        con.execute(
            "update governance.audit_log set reason = 'nothing happened' where event_id = 2"
        )
    result = run(root, instance, [AUDIT_ASSET])
    evaluation = check(result)
    assert not evaluation.passed and evaluation.blocking
    assert "entry 2" in evaluation.description and "edited" in evaluation.description
    cli = run_cli("audit", "verify", "--project-dir", str(root))
    assert cli.returncode == 1, cli.stdout + cli.stderr
    assert "audit chain BROKEN" in cli.stdout and "entry 2 edited" in cli.stdout


def test_a_log_rewritten_hashes_and_all_is_caught_by_the_recorded_heads(audited):
    root, _, _ = audited
    with connect(root / "data" / "warehouse.duckdb") as con:
        entries = read_chain(con)
        previous = entries[0].entry_hash
        for entry in entries[1:]:  # the edit of the test before, re-hashed from entry 2 on
            fixed = entry.__class__(*entry.content_values()[:10], previous)
            previous = entry_hash(fixed)
            con.execute(
                "update governance.audit_log set previous_hash = ?, entry_hash = ? "
                "where event_id = ?",
                [fixed.previous_hash, previous, entry.event_id],
            )
    cli = run_cli("audit", "verify", "--project-dir", str(root))
    assert cli.returncode == 1, cli.stdout + cli.stderr
    assert "rewritten" in cli.stdout and "recorded by run" in cli.stdout
