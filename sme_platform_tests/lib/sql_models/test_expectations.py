"""A Great Expectations suite gives the same results compiled to DuckDB SQL as through GX's pandas
engine, and on the GX path whether the table is checked whole or, being large, in partitions:
row batches for row-wise expectations, hash partitions of the key for uniqueness, the whole
table for the rest."""

from __future__ import annotations

import json

import duckdb
import pytest

from sme_platform.lib.sql_models import expectations, expectations_gx

SUITE = {
    "name": "marts.lines",
    "expectations": [
        {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1}},
        {"type": "expect_compound_columns_to_be_unique", "kwargs": {"column_list": ["k1", "k2"]}},
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "k1"}},
        {"type": "expect_column_values_to_be_between", "kwargs": {"column": "qty", "min_value": 0}},
        {
            "type": "expect_column_values_to_be_in_set",
            "kwargs": {"column": "kind", "value_set": ["sale", "refund"]},
        },
        {
            "type": "expect_column_values_to_be_between",
            "kwargs": {"column": "qty", "min_value": 0, "mostly": 0.5},
        },
        {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "id"}},
        {"type": "expect_column_mean_to_be_between", "kwargs": {"column": "qty", "min_value": 1}},
    ],
}

# (type, column, success, unexpected_count, element_count), in the suite's order
EXPECTED = [
    ("expect_table_row_count_to_be_between", "", True, None, None),
    ("expect_compound_columns_to_be_unique", "k1,k2", False, 2, 20),
    ("expect_column_values_to_not_be_null", "k1", False, 1, 20),
    ("expect_column_values_to_be_between", "qty", False, 2, 20),
    ("expect_column_values_to_be_in_set", "kind", False, 1, 20),
    ("expect_column_values_to_be_between", "qty", True, 2, 20),
    ("expect_column_values_to_be_unique", "id", False, 2, 20),
    ("expect_column_mean_to_be_between", "qty", True, None, None),
]


@pytest.fixture
def con():
    connection = duckdb.connect()
    # 20 rows; the offending rows lie far apart, so that partitions must not hide them
    connection.execute(
        """create table lines as
        select case when i = 15 then null else 'K' || i end as k1,
               i::varchar as k2,
               case when i = 18 then 2 else i end as id,
               case when i in (3, 17) then -1 else 5 end::decimal(18, 4) as qty,
               case when i = 10 then 'gift' else 'sale' end as kind,
               date '2024-01-01' + i::int as day
        from range(1, 21) t(i)
        union all select 'K1', '1', 99, 5, 'sale', date '2024-01-01'
        """
    )
    # the appended row duplicates (K1, 1); drop one normal row to keep 20 rows
    connection.execute("delete from lines where k2 = '20'")
    return connection


def test_the_suite_compiled_to_sql_gives_gxs_results(con, tmp_path, monkeypatch):
    def no_gx(*args):
        raise AssertionError("every expectation of the suite compiles to SQL")

    monkeypatch.setattr(expectations_gx, "_run_gx", no_gx)
    suite_file = tmp_path / "lines.expectations.json"
    suite_file.write_text(json.dumps(SUITE), encoding="utf-8")
    passed, failing, description, observed = expectations.validate_suite(con, suite_file, "lines")
    got = [
        (e["type"], e["column"], e["success"], e["unexpected_count"], e["element_count"])
        for e in observed["expectations"]
    ]
    assert got == EXPECTED
    assert {e["engine"] for e in observed["expectations"]} == {"duckdb"}
    assert (passed, failing) == (False, 5)
    assert description.startswith("3 of 8 expectations met; failed: ")


@pytest.mark.parametrize("partition_rows", [10**9, 4, 1])
def test_gx_results_do_not_depend_on_how_the_table_is_partitioned(con, monkeypatch, partition_rows):
    monkeypatch.setattr(expectations_gx, "PARTITION_ROWS", partition_rows)
    frame_rows: list[int] = []
    run_gx = expectations_gx._run_gx

    def counting_run_gx(name, group, frame):
        frame_rows.append(len(frame))
        return run_gx(name, group, frame)

    monkeypatch.setattr(expectations_gx, "_run_gx", counting_run_gx)
    types = {row[0]: row[1] for row in con.execute("describe lines").fetchall()}
    judged = expectations_gx.judge_with_gx(
        con, "lines", types, "marts.lines", dict(enumerate(SUITE["expectations"]))
    )
    got = [
        (e["type"], e["column"], e["success"], e["unexpected_count"], e["element_count"])
        for e in (judged[i] for i in range(len(judged)))
    ]
    assert got == EXPECTED
    if partition_rows == 4:
        # 5 row batches, 5 hash partitions for each of the 2 uniqueness expectations, and one
        # whole-table frame for the rest (row count, mostly 0.5, mean)
        assert len(frame_rows) == 5 + 5 + 5 + 1
        assert max(frame_rows[:5]) == 4
        assert frame_rows[-1] == 20


def test_a_date_column_reaches_gx_as_datetimes_not_python_objects(con):
    frame = expectations_gx._compact_frame(con, "select day, kind from lines")
    assert str(frame["day"].dtype).startswith("datetime64")
    assert str(frame["kind"].dtype) == "category"
    assert len(frame) == 20
