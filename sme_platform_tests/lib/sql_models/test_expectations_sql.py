"""Expectations compiled to DuckDB SQL give what GX's pandas engine gives on the same rows
(differential: both engines on one small table, on all rows and on rows matching a predicate);
where GX's pandas path cannot judge (dates against date bounds, LIKE), the results are checked by
hand; hostile names and values stay quoted; an expectation the compiler does not take is still
judged by GX; the real suites of the marts compile completely."""

from __future__ import annotations

import json
import math
import warnings

import duckdb
import pytest

from sme_platform.lib.sql_models import expectations, expectations_gx
from sme_platform.lib.sql_models.expectations_sql import SUPPORTED_TYPES, compile_expectation
from sme_platform.lib.sql_models.expectations_sql_terms import Column
from sme_platform_tests.conftest import REPO_ROOT

# nulls in every column, a NaN (missing for pandas), a duplicated id, decimals, dates, text with
# a quote and a non-ASCII letter
FACTS = """create table facts as select * from (values
 (1, 5.5::decimal(18,4), 1.5::double, 10, 'alice', date '2024-01-01', true, 3, 1, 'A-1'),
 (2, -1, 2.5, null, 'bob', date '2024-01-05', false, 2, 2, 'A-22'),
 (2, null, 'nan'::double, 7, 'O''Brien', null, null, null, 1, 'b-3'),
 (3, 0, null, 0, null, date '2024-02-01', true, 5, null, null),
 (4, 100.25, 4.0, 3, 'zoë', date '2023-12-31', true, null, null, 'A-4444'),
 (5, 2, 4.0, -2, 'carol', date '2024-01-15', false, 1, 4, 'x'),
 (6, 2, 0.0, 10, 'dave', date '2024-01-01', true, 9, 9, 'A-7'),
 (7, null, 1e20, 10, 'eve', date '2024-03-01', null, 0, -1, 'A-8')
) t(id, qty, price, n, name, day, flag, a, b, code)"""
NAMES = ["alice", "bob", "O'Brien", "zoë", "carol", "dave", "eve"]


def case(kind: str, **kwargs) -> dict:
    return {"type": f"expect_{kind}", "kwargs": kwargs}


CASES = [
    case("column_values_to_not_be_null", column="qty"),
    case("column_values_to_not_be_null", column="price", mostly=0.7),
    case("column_values_to_be_null", column="name", mostly=0.1),
    case("column_values_to_be_null", column="name"),
    case("column_values_to_be_between", column="qty", min_value=0),
    case("column_values_to_be_between", column="qty", min_value=0, max_value=100, mostly=0.6),
    case(
        "column_values_to_be_between",
        column="qty",
        min_value=0,
        max_value=100.25,
        strict_min=True,
        strict_max=True,
    ),
    case("column_values_to_be_between", column="price", max_value=4.0, strict_max=True),
    case("column_values_to_be_between", column="n", min_value=0, max_value=10),
    case("column_values_to_be_in_set", column="name", value_set=["alice", "bob", "O'Brien"]),
    case("column_values_to_be_in_set", column="n", value_set=[10, 7, 0, "3"]),
    case("column_values_to_be_in_set", column="flag", value_set=[True]),
    case("column_values_to_be_in_set", column="qty", value_set=[5.5, 2, 0], mostly=0.5),
    case("column_values_to_be_in_set", column="day", value_set=["2024-01-01", "2024-01-05"]),
    case("column_values_to_not_be_in_set", column="code", value_set=["x", "A-7"], mostly=0.5),
    case("column_values_to_not_be_in_set", column="day", value_set=["2024-01-01"]),
    case("column_values_to_match_regex", column="code", regex="^A-\\d+$"),
    case("column_values_to_match_regex", column="code", regex="\\d", mostly=0.8),
    case("column_values_to_match_regex", column="name", regex="^O'B"),
    case("column_values_to_match_regex", column="n", regex="^1"),
    case("column_values_to_not_match_regex", column="name", regex="[aeiou]{2}"),
    case("column_values_to_match_regex_list", column="code", regex_list=["^A", "4$"]),
    case(
        "column_values_to_match_regex_list",
        column="code",
        regex_list=["^A", "4$"],
        match_on="all",
    ),
    case("column_values_to_not_match_regex_list", column="code", regex_list=["^b", "x"]),
    case("column_value_lengths_to_be_between", column="name", min_value=4, max_value=5),
    case("column_value_lengths_to_be_between", column="name", min_value=3, strict_min=True),
    case("column_value_lengths_to_equal", column="code", value=3),
    case("column_pair_values_to_be_equal", column_A="a", column_B="b"),
    case(
        "column_pair_values_to_be_equal",
        column_A="a",
        column_B="b",
        ignore_row_if="either_value_is_missing",
    ),
    case("column_pair_values_to_be_equal", column_A="a", column_B="b", ignore_row_if="neither"),
    case("column_pair_values_a_to_be_greater_than_b", column_A="a", column_B="b"),
    case(
        "column_pair_values_a_to_be_greater_than_b",
        column_A="a",
        column_B="b",
        or_equal=True,
        mostly=0.5,
    ),
    case("select_column_values_to_be_unique_within_record", column_list=["a", "b", "n"]),
    case(
        "select_column_values_to_be_unique_within_record",
        column_list=["a", "b"],
        ignore_row_if="never",
    ),
    case("column_values_to_be_unique", column="id"),
    case("column_values_to_be_unique", column="n", mostly=0.5),
    case("compound_columns_to_be_unique", column_list=["a", "b"]),
    case(
        "compound_columns_to_be_unique",
        column_list=["a", "b"],
        ignore_row_if="any_value_is_missing",
    ),
    case("compound_columns_to_be_unique", column_list=["a", "b"], ignore_row_if="never"),
    case("table_row_count_to_be_between", min_value=1, max_value=8),
    case("table_row_count_to_be_between", max_value=8, strict_max=True),
    case("table_row_count_to_equal", value=8),
    case("column_to_exist", column="qty"),
    case("table_columns_to_match_set", column_set=["qty", "id"], exact_match=False),
    case("table_columns_to_match_set", column_set=["qty", "id"]),
    case("column_min_to_be_between", column="qty", min_value=-1),
    case("column_min_to_be_between", column="price", min_value=0, strict_min=True),
    case("column_max_to_be_between", column="price", max_value=1e20, strict_max=True),
    case("column_max_to_be_between", column="n", min_value=10),
    case("column_mean_to_be_between", column="qty", min_value=10, max_value=30),
    case("column_mean_to_be_between", column="n", min_value=5),
    case("column_sum_to_be_between", column="qty", min_value=108.75, max_value=108.75),
    case("column_sum_to_be_between", column="n", max_value=0),
    case("column_median_to_be_between", column="n", min_value=7, max_value=7),
    case("column_median_to_be_between", column="price", min_value=2.5),
    case("column_unique_value_count_to_be_between", column="n", min_value=5, max_value=5),
    case("column_unique_value_count_to_be_between", column="flag", max_value=1),
    case("column_proportion_of_unique_values_to_be_between", column="n", min_value=0.7),
    case(
        "column_proportion_of_unique_values_to_be_between",
        column="id",
        max_value=0.9,
        strict_max=True,
    ),
    case("column_distinct_values_to_be_in_set", column="name", value_set=NAMES),
    case("column_distinct_values_to_be_in_set", column="n", value_set=[10, 7, 0]),
    case("column_distinct_values_to_contain_set", column="code", value_set=["x", "A-7"]),
    case("column_distinct_values_to_contain_set", column="n", value_set=[10, "7"]),
    case("column_distinct_values_to_equal_set", column="flag", value_set=[True, False]),
    case("column_distinct_values_to_equal_set", column="day", value_set=["2024-01-01"]),
]
TABLE_LEVEL = {
    "expect_table_row_count_to_be_between",
    "expect_table_row_count_to_equal",
    "expect_column_to_exist",
    "expect_table_columns_to_match_set",
}
PREDICATES = [None, "id <= 4", "false"]


@pytest.fixture(scope="module")
def con():
    connection = duckdb.connect()
    connection.execute(FACTS)
    return connection


def types_of(con, relation: str) -> dict[str, str]:
    return {row[0]: row[1] for row in con.execute(f"describe {relation}").fetchall()}


@pytest.fixture(scope="module")
def both_engines(con):
    """where -> (results compiled to SQL, results of GX's pandas engine): GX runs once per
    predicate, on all cases together."""
    types = types_of(con, "facts")
    judged = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas' deprecation notes from inside GX
        for where in PREDICATES:
            sql = expectations.judge_expectations(con, "facts", types, CASES, where)
            by_gx = expectations_gx.judge_with_gx(
                con, "facts", types, "differential", dict(enumerate(CASES)), where
            )
            judged[where] = (sql, by_gx)
    return judged


def test_the_cases_cover_every_supported_type():
    assert {c["type"] for c in CASES} | LIKE_TYPES == SUPPORTED_TYPES
    assert expectations_gx.ROW_LOCAL | expectations_gx.KEY_LOCAL <= SUPPORTED_TYPES


# table-level expectations judge the whole relation whatever the predicate: tested below
DIFFERENTIAL = [
    pytest.param(index, where, id=f"{index}-{c['type'][7:]}-{where or 'all rows'}")
    for where in PREDICATES
    for index, c in enumerate(CASES)
    if not (where and c["type"] in TABLE_LEVEL)
]


@pytest.mark.parametrize(("index", "where"), DIFFERENTIAL)
def test_sql_gives_what_gx_gives(both_engines, index, where):
    sql, by_gx = (results[index] for results in both_engines[where])
    assert sql["engine"] == "duckdb"
    for key in ("success", "unexpected_count", "element_count"):
        assert sql[key] == by_gx[key], (key, sql, by_gx)
    observed, gx_observed = sql["observed_value"], by_gx["observed_value"]
    if isinstance(observed, (int, float)) and isinstance(gx_observed, (int, float)):
        assert math.isclose(observed, gx_observed, rel_tol=1e-9), (sql, by_gx)
    elif isinstance(observed, list):  # GX's path reports the column list as its str
        assert str(observed) == gx_observed
    else:
        assert observed == gx_observed, (sql, by_gx)


def judge(con, *cases: dict, where=None, relation="facts") -> list[dict]:
    return expectations.judge_expectations(
        con, relation, types_of(con, relation), list(cases), where
    )


def test_dates_are_judged_against_date_bounds(con):
    # GX's pandas path fails on these (a pandas Timestamp does not compare with the
    # datetime.date its pydantic model makes of "2024-01-01"); SQL compares the dates
    between, earliest, latest, strict = judge(
        con,
        case(
            "column_values_to_be_between",
            column="day",
            min_value="2024-01-01",
            max_value="2024-01-31",
        ),
        case("column_min_to_be_between", column="day", min_value="2024-01-01"),
        case("column_max_to_be_between", column="day", max_value="2024-03-01"),
        case("column_max_to_be_between", column="day", max_value="2024-03-01", strict_max=True),
    )
    # 7 dates, of which 2023-12-31, 2024-02-01 and 2024-03-01 lie outside January
    assert (between["success"], between["unexpected_count"], between["element_count"]) == (
        False,
        3,
        8,
    )
    assert (earliest["success"], earliest["observed_value"]) == (False, "2023-12-31")
    assert (latest["success"], latest["observed_value"]) == (True, "2024-03-01")
    assert strict["success"] is False


LIKE_TYPES = {
    "expect_column_values_to_match_like_pattern",
    "expect_column_values_to_not_match_like_pattern",
}


def test_like_patterns_match_as_sql_like(con):
    # GX's pandas engine has no LIKE; its SQL engine writes `column LIKE pattern`, as here
    like, unlike = judge(
        con,
        case("column_values_to_match_like_pattern", column="code", like_pattern="A-_%"),
        case("column_values_to_not_match_like_pattern", column="name", like_pattern="%'%"),
    )
    # codes: A-1 A-22 b-3 A-4444 x A-7 A-8 (and a null): b-3 and x do not match
    assert (like["success"], like["unexpected_count"], like["element_count"]) == (False, 2, 8)
    assert (unlike["success"], unlike["unexpected_count"]) == (False, 1)


def test_integers_are_matched_as_their_digits(con):
    # GX's pandas path sees an integer column with nulls as floats and would match '10.0'
    (ends_in_zero,) = judge(con, case("column_values_to_match_regex", column="n", regex="0$"))
    # n: 10, 7, 0, 3, -2, 10, 10 (and a null): 7, 3 and -2 do not end in 0
    assert (ends_in_zero["unexpected_count"], ends_in_zero["element_count"]) == (3, 8)


def test_table_level_expectations_judge_the_whole_relation_under_a_predicate(con):
    rows, exists, no_null = judge(
        con,
        case("table_row_count_to_equal", value=8),
        case("column_to_exist", column="qty", column_index=1),
        case("column_values_to_not_be_null", column="qty"),
        where="id <= 4",
    )
    assert (rows["success"], rows["observed_value"]) == (True, 8)
    # the real table's second column, not the GX frame's
    assert exists["success"] is True
    assert (no_null["unexpected_count"], no_null["element_count"]) == (1, 5)


def test_hostile_names_and_values_stay_quoted():
    con = duckdb.connect()
    con.execute(
        """create table "we""ird" as select * from (values
        ('O''Brien', 1, 'x'), ('O''Brien', 2, 'y'), ('Smith', null, 'z'))
        as t("order", "sel ect", ";")"""
    )
    results = judge(
        con,
        case("column_values_to_be_in_set", column="order", value_set=["O'Brien", "'); drop"]),
        case("column_values_to_not_match_regex", column="order", regex="^O'"),
        case("column_values_to_be_unique", column="order"),
        case("compound_columns_to_be_unique", column_list=["order", "sel ect"]),
        case("column_distinct_values_to_contain_set", column=";", value_set=["x", "it's"]),
        case("table_columns_to_match_set", column_set=["order", "sel ect", ";"]),
        where=""""order" <> 'it''s'""",
        relation='"we""ird"',
    )
    got = [(r["success"], r["unexpected_count"]) for r in results]
    assert got == [(False, 1), (False, 2), (False, 2), (True, 0), (False, None), (True, None)]
    assert {r["engine"] for r in results} == {"duckdb"}


def test_what_the_compiler_does_not_take_is_judged_by_gx_with_the_predicate(con):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parseable, lookahead, compiled = judge(
            con,
            case("column_values_to_be_dateutil_parseable", column="name"),
            # RE2 has no lookahead: Python's re judges this pattern
            case("column_values_to_match_regex", column="code", regex="^A(?=-)"),
            case("column_values_to_not_be_null", column="code"),
            where="id <= 4",
        )
    assert parseable["engine"] == lookahead["engine"] == "great_expectations"
    assert compiled["engine"] == "duckdb"
    # ids 1..4: 5 rows; names alice, bob, O'Brien, zoë (one null) are not dates
    assert (parseable["success"], parseable["unexpected_count"]) == (False, 4)
    assert parseable["element_count"] == lookahead["element_count"] == 5
    # codes A-1 A-22 b-3 A-4444 (one null): b-3 does not start with A-
    assert lookahead["unexpected_count"] == 1


def test_validate_suite_reports_the_engine_and_applies_the_predicate(con, tmp_path):
    suite = {
        "name": "facts",
        "expectations": [
            case("table_row_count_to_be_between", min_value=8),
            case("column_values_to_be_between", column="qty", min_value=0),
        ],
    }
    path = tmp_path / "facts.expectations.json"
    path.write_text(json.dumps(suite), encoding="utf-8")
    passed, failing, description, observed = expectations.validate_suite(con, path, "facts")
    assert (passed, failing) == (False, 1)
    assert description == (
        "1 of 2 expectations met; failed: expect_column_values_to_be_between(qty)"
    )
    passed, failing, _, observed = expectations.validate_suite(con, path, "facts", where="id >= 3")
    assert (passed, failing) == (True, 0)
    assert [e["engine"] for e in observed["expectations"]] == ["duckdb", "duckdb"]
    assert observed["expectations"][1]["element_count"] == 5


def _guessed_type(name: str, expectations_: list[dict]) -> str:
    """The mart's column type as its suite implies it: text for patterns and text sets,
    boolean for boolean sets, numbers otherwise."""
    for expectation in expectations_:
        kwargs = expectation["kwargs"]
        if kwargs.get("column") != name:
            continue
        values = kwargs.get("value_set") or []
        if "regex" in kwargs or any(isinstance(v, str) for v in values):
            return "VARCHAR"
        if values and all(isinstance(v, bool) for v in values):
            return "BOOLEAN"
    return "DOUBLE"


@pytest.mark.parametrize(
    "suite_path",
    sorted((REPO_ROOT / "dbt_like_sql").rglob("*.expectations.json")),
    ids=lambda path: path.name,
)
def test_the_marts_suites_compile_completely(suite_path):
    suite = json.loads(suite_path.read_text(encoding="utf-8"))["expectations"]
    names = expectations_gx.columns_named(suite)
    columns = {n: Column(n, _guessed_type(n, suite)) for n in names}
    for expectation in suite:
        compile_expectation(expectation, columns)  # raises NotCompilable otherwise
