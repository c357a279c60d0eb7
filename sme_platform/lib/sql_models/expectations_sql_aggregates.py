"""Aggregate and table-level expectations compiled to DuckDB SQL (see expectations_sql).

Column aggregates (min, max, mean, ...) are computed over the checked rows, like the row-wise
expectations; table-level ones (row count, columns) over the whole relation. Each judge copies
the GX 1.x expectation's own _validate on the metric GX's pandas engine computes."""

from __future__ import annotations

from sme_platform.lib.sql_models.expectations_sql_terms import (
    BOUND_KWARGS,
    Column,
    NotCompilable,
    Plan,
    check_kwargs,
    comparable_literal,
    in_list,
    metric_between,
    outcome,
    set_literals,
)
from sme_platform.lib.warehouse import quote_identifier

COUNT = Column("count", "BIGINT")


def _check_bounds(kwargs: dict, metric: Column) -> None:
    """Bounds of the metric's kind (numbers, or ISO dates for a date metric), else GX judges."""
    check_kwargs(kwargs, BOUND_KWARGS)
    for bound in ("min_value", "max_value"):
        if kwargs.get(bound) is not None:
            comparable_literal(metric, kwargs[bound])


def _metric_plan(kwargs: dict, select: str, metric: Column = COUNT) -> Plan:
    """A metric (one aggregate over the present values) judged between min_value and
    max_value."""
    _check_bounds(kwargs, metric)
    return Plan("rows", (select,), lambda values, rows, names: metric_between(values[0], kwargs))


def column_min(kwargs: dict, column: Column) -> Plan:
    _require(column, ("numeric", "temporal"))
    return _metric_plan(kwargs, f"min({_own_type(column)})", column)


def column_max(kwargs: dict, column: Column) -> Plan:
    _require(column, ("numeric", "temporal"))
    return _metric_plan(kwargs, f"max({_own_type(column)})", column)


def _own_type(column: Column) -> str:
    # a date column's min or max is reported as a date, not as the timestamp it is compared as
    return quote_identifier(column.name) if column.type == "DATE" else column.value


def column_mean(kwargs: dict, column: Column) -> Plan:
    _require(column, ("numeric",))
    return _metric_plan(kwargs, f"avg({column.value}::double)", column)


def column_median(kwargs: dict, column: Column) -> Plan:
    # pandas' median of an even count is the mean of the middle two: quantile_cont's too
    _require(column, ("numeric",))
    return _metric_plan(kwargs, f"quantile_cont({column.value}::double, 0.5)", column)


def column_sum(kwargs: dict, column: Column) -> Plan:
    # pandas' sum of no values is 0, SQL's is null
    _require(column, ("numeric",))
    return _metric_plan(kwargs, f"coalesce(sum({column.value}), 0)", column)


def unique_value_count(kwargs: dict, column: Column) -> Plan:
    return _metric_plan(kwargs, f"count(distinct {column.value})")


def proportion_of_unique_values(kwargs: dict, column: Column) -> Plan:
    """Distinct values over present values; 0 when none is present (GX's unique_proportion)."""
    _check_bounds(kwargs, COUNT)

    def judge(values, rows, names):
        distinct, present = values
        return metric_between(distinct / present if present else 0, kwargs)

    return Plan("rows", (f"count(distinct {column.value})", f"count({column.value})"), judge)


def _distinct_sets(kwargs: dict, column: Column) -> tuple[str, tuple[str, ...]]:
    """(the count of distinct present values outside the set, one 'is this member among the
    values' aggregate per member). A member of another kind than the column is never among them
    (Python sets: 1 != '1'), so its aggregate is plain false."""
    check_kwargs(kwargs, {"column", "value_set"})
    value_set = kwargs.get("value_set")
    if not isinstance(value_set, list) or not value_set or None in value_set:
        raise NotCompilable("value_set must be a non-empty list without null")
    members = set_literals(column, value_set)
    outside = f"count(distinct {column.value}) filter (where not {in_list(column.value, members)})"
    found = [f"coalesce(bool_or({column.value} = {member}), false)" for member in members]
    if any(not set_literals(column, [value]) for value in value_set):
        found.append("false")
    return outside, tuple(found)


def distinct_values_in_set(kwargs: dict, column: Column) -> Plan:
    outside, _ = _distinct_sets(kwargs, column)

    def judge(values, rows, names):
        return outcome(values[0] == 0, unexpected_count=values[0])

    return Plan("rows", (outside,), judge)


def distinct_values_contain_set(kwargs: dict, column: Column) -> Plan:
    _, found = _distinct_sets(kwargs, column)
    return Plan("rows", found, lambda values, rows, names: outcome(all(values)))


def distinct_values_equal_set(kwargs: dict, column: Column) -> Plan:
    outside, found = _distinct_sets(kwargs, column)

    def judge(values, rows, names):
        return outcome(values[0] == 0 and all(values[1:]), None, values[0])

    return Plan("rows", (outside, *found), judge)


def table_row_count_between(kwargs: dict, columns: dict[str, Column]) -> Plan:
    _check_bounds({**kwargs, "column": None}, COUNT)
    return Plan("table", (), lambda values, rows, names: metric_between(rows, kwargs))


def table_row_count_equal(kwargs: dict, columns: dict[str, Column]) -> Plan:
    check_kwargs(kwargs, {"value"})
    return Plan("table", (), lambda values, rows, names: outcome(rows == kwargs["value"], rows))


def column_to_exist(kwargs: dict, columns: dict[str, Column]) -> Plan:
    check_kwargs(kwargs, {"column", "column_index"})
    name, index = kwargs["column"], kwargs.get("column_index")
    if index is not None and (isinstance(index, bool) or not isinstance(index, int)):
        raise NotCompilable(f"column_index {index!r}")

    def judge(values, rows, names):
        if index:  # GX tests the index only when it is truthy: 0 means anywhere
            return outcome(index < len(names) and names[index] == name)
        return outcome(name in names)

    return Plan("table", (), judge)


def table_columns_match_set(kwargs: dict, columns: dict[str, Column]) -> Plan:
    """GX's pandas rule: with exact_match (the default) no extra and no missing column, without
    it no missing column; observed_value is the table's sorted column names."""
    check_kwargs(kwargs, {"column_set", "exact_match"})
    expected = set(kwargs.get("column_set") or [])
    exact = kwargs.get("exact_match", True)

    def judge(values, rows, names):
        actual = set(names)
        missing, extra = expected - actual, actual - expected
        success = not missing and not (extra and exact)
        if kwargs.get("column_set") is None and exact is not True:
            success = True
        return outcome(success, sorted(actual))

    return Plan("table", (), judge)


def _require(column: Column, kinds: tuple[str, ...]) -> None:
    if column.kind not in kinds:
        raise NotCompilable(f"a {column.type} column")
