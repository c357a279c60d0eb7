"""The run summary: rows, quarantine by rule, and files still rejected (not fixed since)."""

from __future__ import annotations

from sme_platform.lib.summary import summarize_warehouse
from sme_platform_tests.conftest import SALES_HEADER

GOOD = "O1,1,2024-01-01 10:00:00,A,2,1.50,SALE"


def test_summary_counts_rows_quarantine_and_files_still_rejected(project):
    project.write("sales_1.csv", f"{SALES_HEADER}\n{GOOD}\nO2,1,2024-01-01 10:00:00,,1,1.0,SALE\n")
    broken = project.write("sales_2.csv", f"{SALES_HEADER}\n{GOOD}\n".replace(",", ";"))
    project.sales_source()
    project.ingest()

    summary = summarize_warehouse(project.warehouse)
    (sales,) = [t for t in summary.tables if t.table == "sales_lines"]
    assert (sales.rows, sales.quarantined, sales.files_loaded, sales.files_rejected) == (1, 1, 1, 1)
    assert sales.quarantine_by_rule == {"required_sku": 1}
    assert [path for path, _ in summary.rejected_files] == [str(broken)]
    assert "customers" in summary.absent

    # The export is fixed and loads: it is no longer reported as rejected.
    broken.write_text(f"{SALES_HEADER}\nO3,1,2024-01-02 10:00:00,B,1,2.00,SALE\n", encoding="utf-8")
    project.ingest()
    summary = summarize_warehouse(project.warehouse)
    (sales,) = [t for t in summary.tables if t.table == "sales_lines"]
    assert (sales.rows, sales.files_loaded, sales.files_rejected) == (2, 2, 0)
    assert summary.rejected_files == []


def test_summary_lists_built_models_absent_sources_and_failing_checks(project):
    from sme_platform.lib.canonical import CANONICAL_TABLES
    from sme_platform.lib.governance import CheckOutcome, record_check_results
    from sme_platform.lib.warehouse import connect, ensure_ingestion_tables

    project.write("sales_1.csv", f"{SALES_HEADER}\n{GOOD}\n")
    project.sales_source()
    project.ingest()
    with connect(project.warehouse) as con:
        ensure_ingestion_tables(con, CANONICAL_TABLES["tickets"])  # an absent source's empty table
        con.execute("create schema marts")
        con.execute("create table marts.daily as select 1 as n union all select 2")
        con.execute("create table marts.__building__daily as select 1 as n")  # an abandoned build
        record_check_results(con, "marts/daily", [CheckOutcome("n_small", False, "warn", "")], "r1")
        record_check_results(con, "marts/daily", [CheckOutcome("n_small", True, "warn", "")], "r2")
        record_check_results(
            con, "marts/daily", [CheckOutcome("unique_n", False, "error", "")], "r2"
        )
    summary = summarize_warehouse(project.warehouse)
    assert summary.models == {"marts.daily": 2}
    assert "tickets" in summary.absent and "sales_lines" not in summary.absent
    assert set(summary.absent) | {t.table for t in summary.tables} == set(CANONICAL_TABLES)
    assert summary.failing_checks == [("marts/daily", "unique_n", "error", "")]  # n_small recovered


def test_a_model_built_empty_for_want_of_a_source_is_listed_as_skipped_until_built(tmp_path):
    from sme_platform.lib.governance import record_model_skip
    from sme_platform.lib.warehouse import connect

    warehouse = tmp_path / "warehouse.duckdb"
    reason = "no source for raw.sales_lines in sources.yaml"
    with connect(warehouse) as con:
        con.execute("create schema marts")
        con.execute("create table marts.sales_daily (sku varchar)")
        con.execute("create table marts.tickets as select 'T1' as ticket_id")
        record_model_skip(con, "marts.sales_daily", reason, "run-1")
        record_model_skip(con, "marts.tickets", None, "run-1")
    summary = summarize_warehouse(warehouse)
    assert summary.skipped_models == {"marts.sales_daily": reason}
    assert summary.models == {"marts.tickets": 1}  # built from data; the skipped one is not
    with connect(warehouse) as con:
        con.execute("insert into marts.sales_daily values ('A')")
        record_model_skip(con, "marts.sales_daily", None, "run-2")  # its source came
        record_model_skip(con, "marts.sales_daily", None, "run-3")
    summary = summarize_warehouse(warehouse)
    assert summary.skipped_models == {}
    assert summary.models == {"marts.sales_daily": 1, "marts.tickets": 1}


def test_summary_says_the_audit_logs_size_its_last_verification_and_the_catalogs_state(project):
    from sme_platform.lib.catalog import CatalogEntry, write_catalog
    from sme_platform.lib.governance import CheckOutcome, record_check_results
    from sme_platform.lib.warehouse import connect

    project.write("sales_1.csv", f"{SALES_HEADER}\n{GOOD}\nO2,1,2024-01-01 10:00:00,,1,1.0,SALE\n")
    project.sales_source()
    project.ingest()  # files_loaded and rows_quarantined: two entries
    assert summarize_warehouse(project.warehouse).governance == [
        "audit log: 2 entries; not verified yet (sme-platform audit verify)"
    ]
    with connect(project.warehouse) as con:
        verified = CheckOutcome(
            "audit_chain_intact", True, "error", "audit chain intact: 2", {"entries": 2}
        )
        record_check_results(con, "governance/audit_log", [verified], "r1")
        owned = CatalogEntry("raw/x", "ingestion", "X.", ["team:data"], checks=["c"])
        write_catalog(con, [owned, CatalogEntry("y", None, None, [])], "r1")
    assert summarize_warehouse(project.warehouse).governance == [
        "audit log: 2 entries; when the run verified it, audit chain intact: 2",
        "catalog: 2 assets, 1 lacking an owner, a description or a check",
    ]
    # An entry written after the run verified the chain is said to be, not left to look unchained.
    project.write("sales_2.csv", f"{SALES_HEADER}\nO3,1,2024-01-02 10:00:00,C1,1,1.0,SALE\n")
    project.ingest()
    (audit_line, _) = summarize_warehouse(project.warehouse).governance
    assert audit_line == (
        "audit log: 3 entries; when the run verified it, audit chain intact: 2; 1 entry written "
        "after that (`sme-platform audit verify` checks every entry)"
    )
