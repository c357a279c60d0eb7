"""The analyst database: masked as the headers say, verified before it replaces the previous
snapshot, replaced whole, readable at any time."""

from __future__ import annotations

import re

import duckdb
import pytest

from sme_platform.lib.analyst_database import publish_analyst_database
from sme_platform.lib.analyst_verification import verify_snapshot
from sme_platform.lib.audit.log import record_event
from sme_platform.lib.canonical import CANONICAL_TABLES, CanonicalTable, Column
from sme_platform.lib.sql_models.build import build_model
from sme_platform.lib.sql_models.graph import load_model_graph
from sme_platform.lib.sql_models.unit_testing import create_raw_table
from sme_platform.lib.sql_models.up_to_date import Build, record_build
from sme_platform.lib.warehouse import connect
from sme_platform_tests.lib.sql_models.test_graph import write_model

PEOPLE = (
    "select * from (values ('C1', 'Ann Lee', 'ann@x.org', 7), ('C2', null, null, 8)) "
    "t(id, name, email, age)"
)


def build_all(con, graph):
    for name in graph.order:
        assert build_model(con, graph.models[name]).published


@pytest.fixture
def warehouse(tmp_path):
    models = tmp_path / "models"
    write_model(
        models,
        "marts/people.sql",
        PEOPLE,
        "pii: {name: redact, email: hash, age: redact}\ntests:\n  - unique: [id]\n",
    )
    write_model(models, "reports/people_count.sql", "select count(*) as n from marts.people")
    graph = load_model_graph(models)
    with connect(tmp_path / "warehouse.duckdb") as con:
        build_all(con, graph)
        yield con, graph, tmp_path / "analytics.duckdb"


def test_pii_is_masked_as_the_header_says_and_the_rest_copied(warehouse):
    con, graph, target = warehouse
    result = publish_analyst_database(con, graph, target, run_id="r1")
    assert result.tables == {"marts.people": 2, "reports.people_count": 1}
    assert result.masked_columns == {
        "marts.people": {"name": "redact", "email": "hash", "age": "redact"}
    }
    with duckdb.connect(str(target), read_only=True) as analyst:
        rows = analyst.execute(
            "select id, name, email, age from marts.people order by id"
        ).fetchall()
        catalog = analyst.execute(
            "select table_schema, table_name, row_count, masked_columns, run_id "
            "from governance.published_tables order by 1, 2"
        ).fetchall()
    assert rows[0][:2] == ("C1", "[redacted]") and rows[0][3] is None
    assert re.fullmatch(r"[0-9a-f]{16}", rows[0][2]) and "ann" not in rows[0][2]
    assert rows[1] == ("C2", None, None, None)  # nulls stay null
    # the same email always hashes the same: analysts can still join and count on it
    again = con.execute("select left(sha256('ann@x.org'), 16)").fetchone()[0]
    assert rows[0][2] == again
    assert catalog == [
        ("marts", "people", 2, ["age (redact)", "email (hash)", "name (redact)"], "r1"),
        ("reports", "people_count", 1, [], "r1"),
    ]
    assert result.published
    assert [(c.name, c.passed, c.description) for c in result.checks] == [
        (
            "pii_masked",
            True,
            "3 PII column(s) masked, as the canonical contracts and headers require",
        ),
        ("published_rows_match_warehouse", True, "2 model tables, rows as built"),
    ]
    assert sorted(p.name for p in target.parent.iterdir() if "analytics" in p.name) == [
        "analytics.duckdb"  # no WAL, no leftover build file
    ]


def test_a_reader_keeps_its_snapshot_while_a_new_one_replaces_it(warehouse):
    con, graph, target = warehouse
    publish_analyst_database(con, graph, target, run_id="r1")
    reader = duckdb.connect(str(target), read_only=True)
    con.execute("insert into marts.people values ('C3', 'Bo', 'bo@x.org', 9)")
    publish_analyst_database(con, graph, target, run_id="r2")
    assert reader.execute("select count(*) from marts.people").fetchone() == (2,)  # old file
    reader.close()
    with duckdb.connect(str(target), read_only=True) as fresh:
        assert fresh.execute("select count(*) from marts.people").fetchone() == (3,)


def test_a_pii_column_the_model_lacks_fails_the_publish_and_keeps_the_old_file(warehouse, tmp_path):
    con, graph, target = warehouse
    publish_analyst_database(con, graph, target, run_id="r1")
    before = target.read_bytes()
    write_model(tmp_path / "models", "marts/people.sql", PEOPLE, "pii: {mail: hash}\n")
    renamed = load_model_graph(tmp_path / "models")
    with pytest.raises(ValueError, match=r"people\.sql: pii names column\(s\) \['mail'\]"):
        publish_analyst_database(con, renamed, target, run_id="r2")
    assert target.read_bytes() == before
    assert [p.name for p in target.parent.iterdir() if p.name.endswith(".building")] == []


def snapshot_of(con, path, copies: dict[str, str]):
    """A snapshot file written by hand: relation -> the query that fills it."""
    con.execute(f"attach '{path}' as handmade")
    for relation, query in copies.items():
        con.execute(f"create schema if not exists handmade.{relation.split('.')[0]}")
        con.execute(f"create table handmade.{relation} as {query}")
    con.execute("detach handmade")
    return path


def test_verification_names_the_leaked_column_and_the_table_whose_rows_differ(warehouse, tmp_path):
    con, graph, _ = warehouse
    snapshot = snapshot_of(
        con,
        tmp_path / "handmade.duckdb",
        {
            # name redacted, email not hashed, age not redacted; the count table lost its row
            "marts.people": "select id, '[redacted]' as name, email, age from marts.people",
            "reports.people_count": "select * from reports.people_count where false",
        },
    )
    checks = verify_snapshot(con, graph, snapshot)
    assert [(c.name, c.passed, c.description) for c in checks] == [
        (
            "pii_masked",
            False,
            "marts.people.email: 1 unmasked value(s), must be hashed (declared in people.sql); "
            "marts.people.age: 2 unmasked value(s), must be redacted (declared in people.sql)",
        ),
        (
            "published_rows_match_warehouse",
            False,
            "reports.people_count: 0 rows published, 1 in the warehouse",
        ),
    ]
    missing = snapshot_of(con, tmp_path / "without_count.duckdb", {"marts.people": PEOPLE})
    assert verify_snapshot(con, graph, missing)[1].description == (
        "reports.people_count: built in the warehouse, missing from the snapshot"
    )


def test_a_value_that_only_looks_like_a_hash_is_still_a_leak(tmp_path):
    models = tmp_path / "models"
    write_model(
        models,
        "marts/tokens.sql",
        "select * from (values ('0123456789abcdef'), ('ann@x.org')) t(token)",
        "pii: {token: hash}\n",
    )
    graph = load_model_graph(models)
    with connect(tmp_path / "warehouse.duckdb") as con:
        build_all(con, graph)
        copied = snapshot_of(
            con,
            tmp_path / "copied.duckdb",
            {"marts.tokens": "select token from marts.tokens where token like '0%'"},
        )
        hashed = snapshot_of(
            con,
            tmp_path / "hashed.duckdb",
            {"marts.tokens": "select left(sha256(token), 16) as token from marts.tokens"},
        )
        assert verify_snapshot(con, graph, copied)[0].description.startswith(
            "marts.tokens.token: 1 unmasked value(s)"
        )
        assert verify_snapshot(con, graph, hashed)[0].passed


def people_over_raw_customers(models, staging_pii: str):
    write_model(
        models,
        "staging/people.sql",
        "select customer_id, customer_name, email, segment from raw.customers",
        staging_pii,
    )
    write_model(
        models,
        "marts/contacts.sql",
        "select customer_id, upper(email) as mail, segment, "
        "length(customer_name) as name_length from staging.people",
        "pii: {name_length: none}\n",
    )
    write_model(models, "marts/emails.sql", "select count(distinct email) as n from staging.people")
    return load_model_graph(models)


def test_a_declared_mask_follows_the_column_lineage_unless_declared_none(tmp_path):
    models = tmp_path / "models"
    graph = people_over_raw_customers(models, "pii: {customer_name: redact, email: hash}\n")
    target = tmp_path / "analytics.duckdb"
    with connect(tmp_path / "warehouse.duckdb") as con:
        create_raw_table(con, "customers")
        con.execute(
            "insert into raw.customers (customer_id, customer_name, email, segment) "
            "values ('C1', 'Ann Lee', 'ann@x.org', 'retail')"
        )
        build_all(con, graph)
        result = publish_analyst_database(con, graph, target, run_id="r1")
    assert result.published
    assert result.masked_columns == {
        "staging.people": {"customer_name": "redact", "email": "hash"},
        "marts.contacts": {"mail": "hash"},  # inherited; name_length declared not PII
        "marts.emails": {"n": "hash"},  # a count of emails: masked until declared none
    }
    email_hash = duckdb.connect().execute("select left(sha256('ann@x.org'), 16)").fetchone()[0]
    with duckdb.connect(str(target), read_only=True) as analyst:
        assert analyst.execute("select * from staging.people").fetchall() == [
            ("C1", "[redacted]", email_hash, "retail")
        ]
        assert analyst.execute("select name_length, segment from marts.contacts").fetchall() == [
            (7, "retail")
        ]
        assert analyst.execute("select n from marts.emails").fetchall() == [
            (duckdb.connect().execute("select left(sha256('1'), 16)").fetchone()[0],)
        ]
    assert result.checks[0].description == (
        "4 PII column(s) masked, as the canonical contracts and headers require"
    )


def test_a_model_that_forgets_a_raw_pii_column_is_refused_and_the_old_file_kept(tmp_path):
    models = tmp_path / "models"
    target = tmp_path / "analytics.duckdb"
    with connect(tmp_path / "warehouse.duckdb") as con:
        create_raw_table(con, "customers")
        con.execute(
            "insert into raw.customers (customer_id, customer_name, email) "
            "values ('C1', 'Ann Lee', 'ann@x.org'), ('C2', 'Bo', null)"
        )
        graph = people_over_raw_customers(models, "pii: {customer_name: redact, email: hash}\n")
        build_all(con, graph)
        assert publish_analyst_database(con, graph, target, run_id="r1").published
        before = target.read_bytes()
        forgetful = people_over_raw_customers(models, "pii: {email: hash}\n")
        build_all(con, forgetful)
        result = publish_analyst_database(con, forgetful, target, run_id="r2")
    assert not result.published
    assert result.checks[0].description == (
        "staging.people.customer_name: 2 unmasked value(s), must be hashed (derived from "
        "raw.customers.customer_name; declare it in the pii of people.sql: hash, redact, or none "
        "if it is not PII)"
    )
    assert result.checks[1].passed
    assert result.refusal.startswith("pii_masked: staging.people.customer_name: 2 unmasked")
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if "analytics" in p.name) == [
        "analytics.duckdb"
    ]


EMPLOYEES = CanonicalTable(
    name="employees",
    description="Staff, a canonical table added after the analyst database was built.",
    grain="one row per employee",
    columns=(
        Column("employee_id", "VARCHAR", "Business key", required=True),
        Column("full_name", "VARCHAR", "Full name", pii=True),
        Column("team", "VARCHAR", "Team"),
    ),
    primary_key=("employee_id",),
    pii_columns=("full_name",),
)
STAFF = "select employee_id, full_name, team from raw.employees"


def test_a_new_canonical_pii_source_is_guarded_without_any_header_naming_it(tmp_path, monkeypatch):
    monkeypatch.setitem(CANONICAL_TABLES, "employees", EMPLOYEES)
    models = tmp_path / "models"
    write_model(models, "staging/staff.sql", STAFF)
    graph = load_model_graph(models)
    target = tmp_path / "analytics.duckdb"
    with connect(tmp_path / "warehouse.duckdb") as con:
        create_raw_table(con, "employees")
        con.execute("insert into raw.employees (employee_id, full_name) values ('E1', 'Cy Doe')")
        build_all(con, graph)
        result = publish_analyst_database(con, graph, target, run_id="r1")
    assert not result.published and not target.exists()
    assert result.checks[0].description.startswith(
        "staging.staff.full_name: 1 unmasked value(s), must be hashed "
        "(derived from raw.employees.full_name;"
    )


def test_failing_tests_sample_rows_stay_in_the_warehouse_not_in_the_analysts_copy(warehouse):
    """A failing test keeps sample rows of its table, PII included; analysts get the counts."""
    from sme_platform.lib.governance import CheckOutcome, record_check_results

    con, graph, target = warehouse
    observed = {"failing_rows": 1, "sample": [{"id": "C1", "email": "ann@x.org"}]}
    record_check_results(
        con, "marts/people", [CheckOutcome("unique_id", False, "error", "", observed)], "r0"
    )
    assert publish_analyst_database(con, graph, target, run_id="r1").published
    with duckdb.connect(str(target), read_only=True) as analyst:
        published = analyst.execute(
            "select observed from governance.check_results where check_name = 'unique_id' "
            "and run_id = 'r0'"
        ).fetchall()
    assert published == [('{"failing_rows":1}',)]
    assert "ann@x.org" not in target.read_bytes().decode("latin-1")


def test_a_new_snapshot_copies_again_only_the_tables_rebuilt_since_the_last(warehouse):
    con, graph, target = warehouse
    for name in graph.order:
        record_build(con, Build(name, "v1", "build-1", None, 0))
    record_event(con, event="files_loaded", subject="source:x", actor="run:r0", reason="")
    first = publish_analyst_database(con, graph, target, run_id="r1")
    assert first.copied == ["marts.people", "reports.people_count", "governance.audit_log"]

    # Nothing new but the last snapshot's publication, appended to the analysts' audit log.
    nothing_new = publish_analyst_database(con, graph, target, run_id="r2")
    assert nothing_new.published and nothing_new.copied == []
    assert nothing_new.replayed == {"governance.audit_log": "1 entry(ies) appended after entry 1"}
    assert nothing_new.tables == {
        "marts.people": 2,
        "reports.people_count": 1,
        "governance.audit_log": 2,
    }
    with duckdb.connect(str(target), read_only=True) as analyst:
        entries = analyst.execute(
            "select event, subject, run_id from governance.audit_log order by event_id"
        ).fetchall()
    assert entries == [("files_loaded", "source:x", None), ("published", "analyst_database", "r1")]

    # reports.people_count rebuilt with other rows: only it is copied again
    con.execute("create or replace table reports.people_count as select 5 as n")
    record_build(con, Build("reports.people_count", "v2", "build-2", None, 1))
    third = publish_analyst_database(con, graph, target, run_id="r3")
    assert third.published and third.copied == ["reports.people_count"]
    assert all(check.passed for check in third.checks)
    with duckdb.connect(str(target), read_only=True) as analyst:
        assert analyst.execute("select n from reports.people_count").fetchall() == [(5,)]
        assert analyst.execute(
            "select table_name, run_id from governance.published_tables "
            "where table_schema <> 'governance' order by 1"
        ).fetchall() == [("people", "r1"), ("people_count", "r3")]
        masked = analyst.execute("select name from marts.people order by id").fetchall()
    assert masked == [("[redacted]",), (None,)]
