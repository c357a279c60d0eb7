"""Pattern and length expectations compiled to DuckDB SQL (see expectations_sql).

Patterns run on text columns, and on integer columns as their digits; GX's pandas engine matches
`astype(str)` of what it holds, which for an integer column with nulls is a float ('10.0'): the
digits are what such an expectation means. A regex is a partial match (regexp_matches, like
Python's re.search); one DuckDB's RE2 does not read (lookarounds, backreferences) is judged by
GX. RE2's `$` matches only at the very end, Python's also before a final newline.
"""

from __future__ import annotations

import functools

import duckdb

from sme_platform.lib.sql_models.expectations_sql_terms import (
    BOUND_KWARGS,
    Column,
    NotCompilable,
    bounds_condition,
    column_map_plan,
    comparable_literal,
    sql_literal,
)


def _regex(column: Column, pattern) -> str:
    if not isinstance(pattern, str):
        raise NotCompilable(f"regex {pattern!r}")
    if not _re2_reads(pattern):
        # a pattern RE2 rejects would fail the suite's one query: Python's re judges it
        raise NotCompilable(f"a pattern DuckDB does not read: {pattern!r}")
    return f"regexp_matches({column.as_text()}, {sql_literal(pattern)})"


def match_regex(kwargs, column):
    return column_map_plan(kwargs, column, _regex(column, kwargs.get("regex")), {"regex"})


def not_match_regex(kwargs, column):
    return column_map_plan(kwargs, column, f"not {_regex(column, kwargs.get('regex'))}", {"regex"})


def match_regex_list(kwargs, column):
    joiner = {"any": " or ", "all": " and "}.get(kwargs.get("match_on", "any"))
    if joiner is None or not _non_empty_list(kwargs.get("regex_list")):
        raise NotCompilable("match_on must be any or all, regex_list non-empty")
    expected = joiner.join(_regex(column, p) for p in kwargs["regex_list"])
    return column_map_plan(kwargs, column, f"({expected})", {"regex_list", "match_on"})


def not_match_regex_list(kwargs, column):
    if not _non_empty_list(kwargs.get("regex_list")):
        raise NotCompilable("regex_list must be non-empty")
    matched = " or ".join(_regex(column, p) for p in kwargs["regex_list"])
    return column_map_plan(kwargs, column, f"not ({matched})", {"regex_list"})


def _like(column: Column, pattern) -> str:
    # GX's pandas engine has no LIKE; its SQL engine writes column LIKE pattern, as here
    if not isinstance(pattern, str):
        raise NotCompilable(f"like pattern {pattern!r}")
    return f"{column.as_text()} like {sql_literal(pattern)}"


def match_like_pattern(kwargs, column):
    return column_map_plan(
        kwargs, column, _like(column, kwargs.get("like_pattern")), {"like_pattern"}
    )


def not_match_like_pattern(kwargs, column):
    expected = f"not {_like(column, kwargs.get('like_pattern'))}"
    return column_map_plan(kwargs, column, expected, {"like_pattern"})


def _length(column: Column) -> Column:
    # length() counts characters (code points), like Python's len
    return Column(f"length({column.as_text()})", "BIGINT")


def value_lengths_between(kwargs, column):
    length = _length(column)
    condition = bounds_condition(length.name, length, kwargs)
    return column_map_plan(kwargs, column, condition, BOUND_KWARGS)


def value_lengths_equal(kwargs, column):
    expected = f"{_length(column).name} = {comparable_literal(_length(column), kwargs['value'])}"
    return column_map_plan(kwargs, column, expected, {"value"})


@functools.lru_cache(maxsize=256)
def _re2_reads(pattern: str) -> bool:
    with duckdb.connect() as con:
        try:
            con.execute("select regexp_matches('', ?)", [pattern])
        except duckdb.Error:
            return False
    return True


def _non_empty_list(value) -> bool:
    return isinstance(value, list) and bool(value)
