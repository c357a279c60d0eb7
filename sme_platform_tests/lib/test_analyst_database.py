"""The analyst database: masked as the headers say, replaced whole, readable at any time."""

from __future__ import annotations

import re

import duckdb
import pytest

from sme_platform.lib.analyst_database import (
    effective_pii,
    publish_analyst_database,
    verify_analyst_database,
)
from sme_platform.lib.sql_models.build import build_model
from sme_platform.lib.sql_models.graph import load_model_graph
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
            "from governance.catalog order by 1, 2"
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
    assert verify_analyst_database(con, graph, target, result.masked_columns) == [
        (
            "pii_masked",
            True,
            "3 PII column(s) masked, as declared or inherited through column lineage",
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


def test_the_check_finds_a_column_published_unmasked(warehouse, tmp_path):
    con, _, target = warehouse
    write_model(tmp_path / "models", "marts/people.sql", PEOPLE, "pii: {name: redact}\n")
    publish_analyst_database(con, load_model_graph(tmp_path / "models"), target, run_id="r1")
    # judged against a header that (now) tags email too: the published file leaks it
    write_model(
        tmp_path / "models", "marts/people.sql", PEOPLE, "pii: {name: redact, email: hash}\n"
    )
    stricter = load_model_graph(tmp_path / "models")
    outcomes = verify_analyst_database(con, stricter, target, effective_pii(con, stricter))
    assert outcomes[0] == ("pii_masked", False, "marts.people.email: 1 unmasked")


def test_pii_follows_the_column_lineage_unless_declared_none(tmp_path):
    from sme_platform.lib.sql_models.unit_testing import create_raw_table

    models = tmp_path / "models"
    # no pii in this header: customer_name and email are PII in the canonical contract
    write_model(
        models,
        "staging/people.sql",
        "select customer_id, customer_name, email, segment from raw.customers",
    )
    write_model(
        models,
        "marts/contacts.sql",
        "select customer_id, upper(email) as mail, segment, "
        "length(customer_name) as name_length from staging.people",
        "pii: {name_length: none, mail: hash}\n",
    )
    write_model(models, "marts/emails.sql", "select count(distinct email) as n from staging.people")
    graph = load_model_graph(models)
    target = tmp_path / "analytics.duckdb"
    with connect(tmp_path / "warehouse.duckdb") as con:
        create_raw_table(con, "customers")
        con.execute(
            "insert into raw.customers (customer_id, customer_name, email, segment) "
            "values ('C1', 'Ann Lee', 'ann@x.org', 'retail')"
        )
        build_all(con, graph)
        result = publish_analyst_database(con, graph, target, run_id="r1")
        checks = verify_analyst_database(con, graph, target, result.masked_columns)
    assert result.masked_columns == {
        "staging.people": {"customer_name": "redact", "email": "redact"},
        "marts.contacts": {"mail": "hash"},  # declared; name_length declared not PII
        "marts.emails": {"n": "redact"},  # a count of emails: masked until declared none
    }
    with duckdb.connect(str(target), read_only=True) as analyst:
        assert analyst.execute("select * from staging.people").fetchall() == [
            ("C1", "[redacted]", "[redacted]", "retail")
        ]
        assert analyst.execute("select name_length, segment from marts.contacts").fetchall() == [
            (7, "retail")
        ]
        assert analyst.execute("select n from marts.emails").fetchall() == [(None,)]
    assert checks[0] == (
        "pii_masked",
        True,
        "4 PII column(s) masked, as declared or inherited through column lineage",
    )
