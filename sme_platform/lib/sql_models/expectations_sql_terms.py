"""The pieces an expectation compiles into: its columns as DuckDB sees them, literals, and the
plan (SQL to compute plus how to judge the numbers) that expectations_sql runs.

Every rule here copies what GX 1.x's pandas engine does with the frame the GX path hands it
(expectations._compact_frame): a float NaN is missing there like a null, decimals are doubles,
dates are datetimes, and a value of another kind than the column never equals one of its values.
"""

from __future__ import annotations

import datetime
import decimal
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from dateutil.parser import parse as parse_datetime

from sme_platform.lib.warehouse import quote_identifier, quote_literal

# kwargs that never change what an expectation judges
HARMLESS_KWARGS = frozenset({"result_format", "catch_exceptions", "meta", "notes", "description"})
INTEGER_TYPES = frozenset(
    {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT"}
    | {"UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT"}
)
MAP_KWARGS = {"column", "mostly"}
BOUND_KWARGS = {"column", "min_value", "max_value", "strict_min", "strict_max"}
FLOAT_TYPES = frozenset({"FLOAT", "DOUBLE", "REAL"})
TEMPORAL_TYPES = frozenset({"DATE", "TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS"})


class NotCompilable(ValueError):
    """An expectation (or a kwarg of it) this compiler does not judge: GX's own engine does."""


@dataclass(frozen=True)
class Column:
    name: str
    type: str

    @property
    def kind(self) -> str:
        if (
            self.type in INTEGER_TYPES
            or self.type in FLOAT_TYPES
            or self.type.startswith("DECIMAL")
        ):
            return "numeric"
        if self.type == "VARCHAR":
            return "text"
        if self.type == "BOOLEAN":
            return "boolean"
        if self.type in TEMPORAL_TYPES:
            return "temporal"
        return "other"

    @property
    def value(self) -> str:
        """The column as the GX path sees it: NaN is a missing value in pandas, so it is null
        here (DuckDB's NaN equals NaN); a date is compared as a datetime."""
        quoted = quote_identifier(self.name)
        if self.type in FLOAT_TYPES:
            return f"nullif({quoted}, 'nan'::double)"
        if self.kind == "temporal":
            return f"{quoted}::timestamp"
        return quoted

    @property
    def present(self) -> str:
        return f"{self.value} is not null"

    @property
    def missing(self) -> str:
        return f"{self.value} is null"

    def as_text(self) -> str:
        """The text pandas' astype(str) gives, where DuckDB writes the same: text and integers
        only (floats, decimals, dates and booleans print differently)."""
        if self.kind == "text":
            return self.value
        if self.type in INTEGER_TYPES:
            return f"{self.value}::varchar"
        raise NotCompilable(f"text of a {self.type} column")


@dataclass(frozen=True)
class Plan:
    """What to compute and how to judge it.

    scope "rows": `selects` are aggregates over the checked rows (the relation, or its rows
    matching `where`), all expectations together in one query; "keys": `selects` are the key
    expressions of a uniqueness check over the checked rows where `present` holds, one query
    each; "table": `selects` are aggregates over the whole relation. `judge(values,
    element_count, column_names)` gives success, observed_value, unexpected_count,
    element_count."""

    scope: Literal["rows", "keys", "table"]
    selects: tuple[str, ...]
    judge: Callable[[tuple, int, list[str]], dict]
    present: str = "true"


def outcome(success, observed_value=None, unexpected_count=None, element_count=None) -> dict:
    return {
        "success": bool(success),
        "observed_value": observed_value,
        "unexpected_count": unexpected_count,
        "element_count": element_count,
    }


def mostly_success(considered: int, unexpected: int, mostly: float) -> bool:
    """GX's rule, same float arithmetic: an empty domain passes."""
    if considered == 0:
        return True
    return (float(considered) - float(unexpected)) / float(considered) >= mostly


def map_plan(kwargs: dict, present: str, expected: str) -> Plan:
    """Rows where `present` holds are considered; those where `expected` is not true are
    unexpected."""
    mostly = mostly_of(kwargs)

    def judge(values, rows, names):
        considered, unexpected = values
        success = rows == 0 or mostly_success(considered, unexpected, mostly)
        return outcome(success, None, unexpected, rows)

    selects = (
        f"count(*) filter (where {present})",
        f"count(*) filter (where {present} and not coalesce({expected}, false))",
    )
    return Plan("rows", selects, judge)


def column_map_plan(kwargs: dict, column: Column, expected: str, extra: set[str]) -> Plan:
    check_kwargs(kwargs, MAP_KWARGS | extra)
    return map_plan(kwargs, column.present, expected)


def mostly_of(kwargs: dict) -> float:
    mostly = kwargs.get("mostly", 1)
    if isinstance(mostly, bool) or not isinstance(mostly, (int, float)) or not 0 <= mostly <= 1:
        raise NotCompilable(f"mostly {mostly!r}")  # a suite parameter, or out of range
    return mostly


def check_kwargs(kwargs: dict, allowed: set[str]) -> None:
    unknown = set(kwargs) - allowed - HARMLESS_KWARGS
    if unknown:  # row_condition and the like: GX applies them, this compiler would ignore them
        raise NotCompilable(f"kwargs {sorted(unknown)}")


def sql_literal(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else f"{quote_literal(str(value))}::double"
    if isinstance(value, str):
        return quote_literal(value)
    raise NotCompilable(f"value {value!r}")


def comparable_literal(column: Column, value) -> str:
    """A bound or set member against the column, or NotCompilable where pandas would raise
    (a text bound on numbers, a number bound on text)."""
    if column.kind == "numeric" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return sql_literal(value)
    if column.kind == "text" and isinstance(value, str):
        return sql_literal(value)
    if column.kind == "temporal" and isinstance(value, str):
        return f"timestamp {sql_literal(_iso_timestamp(value))}"
    if column.kind == "boolean" and isinstance(value, bool):
        return sql_literal(value)
    raise NotCompilable(f"{value!r} against a {column.type} column")


def _iso_timestamp(text: str) -> str:
    # GX parses with dateutil, which reads more than DuckDB; an ISO date or timestamp reads the
    # same in both, anything else (or with a time zone) is left to GX.
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError as error:
        raise NotCompilable(f"not an ISO date: {text!r}") from error
    if moment.tzinfo is not None:
        raise NotCompilable(f"a time zone in {text!r}")
    return moment.isoformat(sep=" ")


def set_literals(column: Column, values) -> list[str]:
    """The members of a value set that can equal a value of the column. pandas' isin and
    Python sets never match 1 with '1' (DuckDB would cast), so members of another kind are left
    out; True equals 1 in Python, so booleans count as numbers and 0/1 as booleans."""
    if column.kind == "other":
        raise NotCompilable(f"a value set on a {column.type} column")
    if not isinstance(values, list) or not all(
        v is None or isinstance(v, (bool, int, float, str)) for v in values
    ):
        raise NotCompilable(f"value_set {values!r}")  # e.g. a suite parameter
    literals = []
    for value in values:
        if column.kind == "numeric" and isinstance(value, bool):
            value = int(value)
        if column.kind == "boolean" and type(value) is int and value in (0, 1):
            value = bool(value)
        try:
            literals.append(comparable_literal(column, value))
        except NotCompilable:
            if column.kind == "temporal" and isinstance(value, str):
                raise  # pandas parses it, this compiler would not: GX judges
    return list(dict.fromkeys(literals))


def in_list(expression: str, literals: list[str]) -> str:
    return f"{expression} in ({', '.join(literals)})" if literals else "false"


def bounds_condition(expression: str, column: Column, kwargs: dict) -> str:
    """min_value <= expression <= max_value as GX reads it: a missing bound is open, strict_min
    and strict_max exclude the bound; both missing is an error in GX."""
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    if low is None and high is None:
        raise NotCompilable("min_value and max_value both missing")
    if column.kind == "text":  # GX 1.x's bounds are numbers or dates: it rejects the suite
        raise NotCompilable("text bounds")
    terms = []
    if low is not None:
        operator = ">" if kwargs.get("strict_min") else ">="
        terms.append(f"{expression} {operator} {comparable_literal(column, low)}")
    if high is not None:
        operator = "<" if kwargs.get("strict_max") else "<="
        terms.append(f"{expression} {operator} {comparable_literal(column, high)}")
    return " and ".join(terms)


def metric_between(metric, kwargs: dict) -> dict:
    """GX's _validate_metric_value_between on an aggregate: a missing metric fails; bounds are
    inclusive unless strict. Decimals are judged as the floats pandas holds. A date or datetime
    is compared with bounds read as datetimes and reported in ISO form: GX's pandas path fails
    there (its dates are pandas Timestamps, its date bounds datetime.date, which do not
    compare), so this follows what the expectation means."""
    if isinstance(metric, decimal.Decimal):
        metric = float(metric)
    if metric is None or (isinstance(metric, float) and math.isnan(metric)):
        return outcome(False)
    observed = metric
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    if isinstance(metric, datetime.date):
        observed = str(metric)
        if not isinstance(metric, datetime.datetime):
            metric = datetime.datetime.combine(metric, datetime.time())
        low = parse_datetime(low) if isinstance(low, str) else low
        high = parse_datetime(high) if isinstance(high, str) else high
    above = low is None or (metric > low if kwargs.get("strict_min") else metric >= low)
    below = high is None or (metric < high if kwargs.get("strict_max") else metric <= high)
    return outcome(above and below, observed)
