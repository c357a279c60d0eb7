"""A Great Expectations suite holds only what the model's header tests do not express.

The same rule in two places drifts apart (one is edited, the other forgotten) and fails twice
when it fails. The header tests run as SQL inside DuckDB and read best next to the SQL, so they
keep not-null, uniqueness and accepted values; a suite that repeats one is refused when the
graph loads, naming the expectation and the header test it repeats.
"""

from __future__ import annotations

import json
from pathlib import Path

from sme_platform.lib.sql_models.header import DataTest


def _header_rules(tests: tuple[DataTest, ...]) -> dict[tuple, str]:
    """What each header test guarantees, as the key an expectation of the same meaning has."""
    rules: dict[tuple, str] = {}
    for test in tests:
        options = test.options
        if test.kind == "not_null":
            rules[("not_null", options["column"])] = test.name
        elif test.kind == "unique":
            rules[("unique", tuple(options["columns"]))] = test.name
        elif test.kind == "accepted_values":
            rules[("in_set", options["column"])] = test.name
    return rules


def _meaning(expectation: dict) -> tuple | None:
    kind, kwargs = expectation.get("type"), expectation.get("kwargs") or {}
    if kind == "expect_column_values_to_not_be_null" and "mostly" not in kwargs:
        return ("not_null", kwargs.get("column"))
    if kind == "expect_column_values_to_be_unique":
        return ("unique", (kwargs.get("column"),))
    if kind == "expect_compound_columns_to_be_unique":
        return ("unique", tuple(kwargs.get("column_list") or ()))
    if kind == "expect_column_values_to_be_in_set":
        return ("in_set", kwargs.get("column"))
    return None


def repeated_header_tests(suite_path: Path, tests: tuple[DataTest, ...]) -> list[str]:
    """One line per expectation of the suite that repeats a test of the header."""
    rules = _header_rules(tests)
    expectations = json.loads(suite_path.read_text(encoding="utf-8")).get("expectations") or []
    problems = []
    for position, expectation in enumerate(expectations):
        meaning = _meaning(expectation)
        if meaning in rules:
            problems.append(
                f"{suite_path}: expectations[{position}] {expectation['type']} "
                f"{json.dumps(expectation.get('kwargs'))} repeats the header test "
                f"{rules[meaning]!r}; keep the rule in one place (the header)"
            )
    return problems
