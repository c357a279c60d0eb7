"""Great Expectations 1.x expectations compiled to DuckDB SQL.

GX's own SQL engine fails on DuckDB here (duckdb-engine 0.17: every expectation raises
`list index out of range`) and its pandas engine needs the columns fetched into pandas (~63 s
for sales_daily at medium scale). So each expectation of a suite is compiled to aggregates that
compute what GX's pandas engine reports (success, unexpected_count, element_count,
observed_value), with the same rules:
- a column map expectation ignores missing values (null, or NaN in a float column), except
  expect_column_values_to_not_be_null / _to_be_null; `mostly` passes when the unexpected
  share of the considered values is at most 1 - mostly; element_count is every checked row;
- a pair or multi-column expectation considers the rows its `ignore_row_if` keeps;
- regex via DuckDB's regexp_matches, a partial match like Python's re.search; a pattern RE2
  does not read (lookarounds, backreferences) is left to GX (expectations_sql_text).

Where GX's pandas path gives no meaningful answer, this follows what the expectation means:
dates against date bounds (GX fails comparing its pandas Timestamps with datetime.date bounds),
LIKE (no pandas implementation; SQL LIKE as GX's SQL engine), the table's real columns for
expect_column_to_exist / expect_table_columns_to_match_set (GX's frame holds only the columns
the suite names; observed_value is the sorted list, not its str), integers' digits for patterns.

All row-wise expectations and column aggregates of a suite are computed in one query of
`count(*) filter (where ...)` and friends; each uniqueness expectation is one group-by. An
expectation or a kwarg this module does not compile raises NotCompilable, and GX judges it.
"""

from __future__ import annotations

from collections.abc import Callable

from sme_platform.lib.sql_models import expectations_sql_aggregates as aggregates
from sme_platform.lib.sql_models import expectations_sql_text as text
from sme_platform.lib.sql_models.expectations_sql_terms import (
    BOUND_KWARGS,
    MAP_KWARGS,
    Column,
    NotCompilable,
    Plan,
    bounds_condition,
    check_kwargs,
    column_map_plan,
    in_list,
    map_plan,
    mostly_of,
    mostly_success,
    outcome,
    set_literals,
)

PAIR_MISSING = {  # which rows a pair expectation considers (GX's pandas get_domain_records)
    "both_values_are_missing": "not ({a} and {b})",
    "either_value_is_missing": "not ({a} or {b})",
    "neither": "true",
}
MULTI_MISSING = {
    "all_values_are_missing": " and ",
    "any_value_is_missing": " or ",
    "never": None,
}


def _null_map(kwargs: dict, column: Column, unexpected: str) -> Plan:
    """The null expectations judge every row: the share is over all of them."""
    check_kwargs(kwargs, MAP_KWARGS)
    return map_plan(kwargs, "true", f"not ({unexpected})")


def not_null(kwargs, column):
    return _null_map(kwargs, column, column.missing)


def null(kwargs, column):
    return _null_map(kwargs, column, column.present)


def values_between(kwargs, column):
    condition = bounds_condition(column.value, column, kwargs)
    return column_map_plan(kwargs, column, condition, BOUND_KWARGS)


def values_in_set(kwargs, column):
    value_set = kwargs.get("value_set")
    if value_set is None:  # GX: vacuously true
        return column_map_plan(kwargs, column, "true", {"value_set"})
    expected = in_list(column.value, set_literals(column, value_set))
    return column_map_plan(kwargs, column, expected, {"value_set"})


def values_not_in_set(kwargs, column):
    value_set = kwargs.get("value_set")
    if value_set is None:
        return column_map_plan(kwargs, column, "true", {"value_set"})
    expected = f"not {in_list(column.value, set_literals(column, value_set))}"
    return column_map_plan(kwargs, column, expected, {"value_set"})


def _pair(kwargs: dict, columns: dict[str, Column], operator: str, extra: set[str]) -> Plan:
    check_kwargs(kwargs, {"column_A", "column_B", "mostly", "ignore_row_if"} | extra)
    a, b = columns[kwargs["column_A"]], columns[kwargs["column_B"]]
    _same_kind(a, b)
    ignore = PAIR_MISSING.get(kwargs.get("ignore_row_if", "both_values_are_missing"))
    if ignore is None:
        raise NotCompilable(f"ignore_row_if {kwargs.get('ignore_row_if')!r}")
    # pandas compares a missing value as false: unexpected wherever a row is considered
    return map_plan(
        kwargs, ignore.format(a=a.missing, b=b.missing), f"{a.value} {operator} {b.value}"
    )


def pair_equal(kwargs, columns):
    return _pair(kwargs, columns, "=", set())


def pair_a_greater_than_b(kwargs, columns):
    operator = ">=" if kwargs.get("or_equal") else ">"
    return _pair(kwargs, columns, operator, {"or_equal"})


def _multi_considered(kwargs: dict, columns: list[Column], default: str) -> str:
    ignore = kwargs.get("ignore_row_if", default)
    if ignore not in MULTI_MISSING:
        raise NotCompilable(f"ignore_row_if {ignore!r}")
    joiner = MULTI_MISSING[ignore]
    return f"not ({joiner.join(c.missing for c in columns)})" if joiner else "true"


def unique_within_record(kwargs, columns):
    """pandas' nunique(dropna=False) over the row equals the column count: no two values of
    the row are equal, a missing value counting as one value."""
    check_kwargs(kwargs, {"column_list", "mostly", "ignore_row_if"})
    listed = [columns[name] for name in kwargs["column_list"]]
    for other in listed[1:]:
        _same_kind(listed[0], other)
    distinct = [
        f"{a.value} is distinct from {b.value}"
        for i, a in enumerate(listed)
        for b in listed[i + 1 :]
    ]
    considered = _multi_considered(kwargs, listed, "all_values_are_missing")
    return map_plan(kwargs, considered, " and ".join(distinct) or "true")


def _unique(kwargs: dict, keys: list[Column], considered: str) -> Plan:
    """Rows whose key occurs more than once among the considered rows are unexpected (pandas'
    duplicated(keep=False), where missing values equal each other, like SQL's group by)."""
    mostly = mostly_of(kwargs)

    def judge(values, rows, names):
        duplicated, considered_rows = values
        success = rows == 0 or mostly_success(considered_rows, duplicated, mostly)
        return outcome(success, None, duplicated, rows)

    return Plan("keys", tuple(c.value for c in keys), judge, considered)


def values_unique(kwargs, column):
    check_kwargs(kwargs, MAP_KWARGS)
    return _unique(kwargs, [column], column.present)


def compound_unique(kwargs, columns):
    check_kwargs(kwargs, {"column_list", "mostly", "ignore_row_if"})
    listed = [columns[name] for name in kwargs["column_list"]]
    return _unique(kwargs, listed, _multi_considered(kwargs, listed, "all_values_are_missing"))


def _same_kind(a: Column, b: Column) -> None:
    # pandas compares 1 with '1' as unequal, DuckDB would cast: only like with like
    if a.kind != b.kind or a.kind == "other":
        raise NotCompilable(f"{a.type} against {b.type}")


# expectation type -> compiler of (kwargs, the named column) or, for the rest, of (kwargs, columns)
COLUMN_COMPILERS: dict[str, Callable[[dict, Column], Plan]] = {
    "expect_column_values_to_not_be_null": not_null,
    "expect_column_values_to_be_null": null,
    "expect_column_values_to_be_between": values_between,
    "expect_column_values_to_be_in_set": values_in_set,
    "expect_column_values_to_not_be_in_set": values_not_in_set,
    "expect_column_values_to_match_regex": text.match_regex,
    "expect_column_values_to_not_match_regex": text.not_match_regex,
    "expect_column_values_to_match_regex_list": text.match_regex_list,
    "expect_column_values_to_not_match_regex_list": text.not_match_regex_list,
    "expect_column_values_to_match_like_pattern": text.match_like_pattern,
    "expect_column_values_to_not_match_like_pattern": text.not_match_like_pattern,
    "expect_column_value_lengths_to_be_between": text.value_lengths_between,
    "expect_column_value_lengths_to_equal": text.value_lengths_equal,
    "expect_column_values_to_be_unique": values_unique,
    "expect_column_min_to_be_between": aggregates.column_min,
    "expect_column_max_to_be_between": aggregates.column_max,
    "expect_column_mean_to_be_between": aggregates.column_mean,
    "expect_column_median_to_be_between": aggregates.column_median,
    "expect_column_sum_to_be_between": aggregates.column_sum,
    "expect_column_unique_value_count_to_be_between": aggregates.unique_value_count,
    "expect_column_proportion_of_unique_values_to_be_between": (
        aggregates.proportion_of_unique_values
    ),
    "expect_column_distinct_values_to_be_in_set": aggregates.distinct_values_in_set,
    "expect_column_distinct_values_to_contain_set": aggregates.distinct_values_contain_set,
    "expect_column_distinct_values_to_equal_set": aggregates.distinct_values_equal_set,
}
TABLE_COMPILERS: dict[str, Callable[[dict, dict[str, Column]], Plan]] = {
    "expect_column_pair_values_to_be_equal": pair_equal,
    "expect_column_pair_values_a_to_be_greater_than_b": pair_a_greater_than_b,
    "expect_select_column_values_to_be_unique_within_record": unique_within_record,
    "expect_compound_columns_to_be_unique": compound_unique,
    "expect_table_row_count_to_be_between": aggregates.table_row_count_between,
    "expect_table_row_count_to_equal": aggregates.table_row_count_equal,
    "expect_column_to_exist": aggregates.column_to_exist,
    "expect_table_columns_to_match_set": aggregates.table_columns_match_set,
}
SUPPORTED_TYPES = frozenset(COLUMN_COMPILERS) | frozenset(TABLE_COMPILERS)


def compile_expectation(expectation: dict, columns: dict[str, Column]) -> Plan:
    """The plan judging the expectation; NotCompilable if GX must judge it."""
    kind, kwargs = expectation.get("type"), expectation.get("kwargs") or {}
    try:
        if kind in COLUMN_COMPILERS:
            return COLUMN_COMPILERS[kind](kwargs, columns[kwargs["column"]])
        if kind in TABLE_COMPILERS:
            return TABLE_COMPILERS[kind](kwargs, columns)
    except (KeyError, TypeError) as error:  # a kwarg missing or malformed: GX reports it
        raise NotCompilable(f"kwargs of {kind}: {error!r}") from error
    raise NotCompilable(f"type {kind}")
