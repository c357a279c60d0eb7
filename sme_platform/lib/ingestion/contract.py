"""Turning a source mapping and the canonical contract into DuckDB SQL.

Every canonical column becomes a typed expression over the source's columns; every rule becomes a
boolean SQL condition that is true for a good row. The checks run inside DuckDB in one pass over
the data; Python never loops over rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlglot
from sqlglot import exp

from sme_platform.lib.canonical import CanonicalTable, ForeignKey
from sme_platform.lib.sources import SourcesConfigError, SourceSpec
from sme_platform.lib.warehouse import quote_identifier, quote_literal

LINEAGE_NAMES = {"_source_file", "_source_row"}
# Rule names the platform adds itself, besides the canonical table's row rules.
PARSE_ERROR = "parse_error"
INVALID_JSON = "valid_json"
PRIMARY_KEY = "primary_key_unique"
UNNAMED_COLUMN_EMPTY = "unnamed_column_empty"
# Digits with an optional decimal comma, the dots (if any) grouping thousands: 12 | 1,5 |
# 1.234 | 1.234,50 | -0,25.
EUROPEAN_NUMBER = r"[-+]?(\d{1,3}(\.\d{3})+|\d+)(,\d+)?"
NUMERIC_TYPES = {"DECIMAL", "DOUBLE", "FLOAT", "REAL", "INTEGER", "BIGINT", "SMALLINT", "HUGEINT"}
UNNAMED_COLUMN_PREFIX = "_unnamed_column_"


@dataclass(frozen=True)
class CompiledRule:
    name: str
    condition: str
    description: str
    severity: str


def raw_alias(column: str) -> str:
    return quote_identifier(f"__raw__{column}")


def source_column_references(spec: SourceSpec, known_columns: set[str] | None = None) -> set[str]:
    """Source columns the mapping reads (for a pre-check and to pick JSON keys)."""
    return _references(spec, known_columns) - LINEAGE_NAMES


def mapping_uses_row_number(spec: SourceSpec) -> bool:
    """Whether a mapping expression reads _source_row, so rows must be numbered before mapping."""
    return "_source_row" in _references(spec, None)


def _references(spec: SourceSpec, known_columns: set[str] | None) -> set[str]:
    referenced: set[str] = set()
    for canonical_column, expression in spec.columns.items():
        if known_columns is not None and expression in known_columns:
            referenced.add(expression)
            continue
        try:
            parsed = sqlglot.parse_one(expression, read="duckdb")
        except sqlglot.errors.SqlglotError as error:
            if known_columns is None:
                # Without the file's header, a value SQL cannot parse may be a column whose name
                # has odd characters (quotes, semicolons); the pre-check decides once it knows.
                referenced.add(expression)
                continue
            raise SourcesConfigError(
                f"sources.{spec.table}.columns.{canonical_column}: {expression!r} is neither a "
                f"source column nor a valid DuckDB expression: {error}"
            ) from error
        if isinstance(parsed, exp.Column) and not parsed.table and known_columns is None:
            referenced.add(parsed.name)
            continue
        referenced.update(column.name for column in parsed.find_all(exp.Column))
    return referenced


def mapped_expression(expression: str, source_columns: set[str]) -> str:
    """A source column name becomes a quoted identifier; anything else is taken as SQL."""
    if expression in source_columns:
        return quote_identifier(expression)
    return f"({expression})"


def typed_expression(column_type: str, raw: str, options: dict) -> str:
    """Cast without failing: a value that does not fit the type becomes NULL and the type rule
    (raw present, typed missing) sends the row to quarantine."""
    base_type = column_type.split("(")[0].upper()
    if base_type == "DATE" and options.get("date_format"):
        fmt = quote_literal(options["date_format"])
        return f"try_strptime(cast({raw} as varchar), {fmt})::date"
    if base_type == "TIMESTAMP" and options.get("timestamp_format"):
        fmt = quote_literal(options["timestamp_format"])
        return f"try_strptime(cast({raw} as varchar), {fmt})"
    if base_type == "VARCHAR":
        return f"cast({raw} as varchar)"
    if base_type in NUMERIC_TYPES and options.get("decimal_separator") == ",":
        # A European export: "1.234,50" is 1234.50 (the dot groups thousands). Only text in
        # that form is read: "12.5" could be 12.5 or 125, so it fails the type rule instead of
        # loading ten times too large. A mapping that computes a number already has one.
        text = f"trim(cast({raw} as varchar))"
        return (
            f"case when typeof({raw}) <> 'VARCHAR' then try_cast({raw} as {column_type}) "
            f"when regexp_full_match({text}, {quote_literal(EUROPEAN_NUMBER)}) "
            f"then try_cast(replace(replace({text}, '.', ''), ',', '.') as {column_type}) end"
        )
    return f"try_cast({raw} as {column_type})"


def row_rules(spec: SourceSpec, *, has_format_check: bool) -> list[CompiledRule]:
    """All row-level rules with the source's overrides applied, in the order they are reported."""
    table = spec.canonical
    rules: list[CompiledRule] = []
    if has_format_check:
        rules.append(
            CompiledRule(INVALID_JSON, "__format_ok", "line is a valid JSON object", "error")
        )
    for column in table.columns:
        name = quote_identifier(column.name)
        # The type rule first: for a value that is there but unreadable it is the real reason.
        if column.name in spec.columns:
            rules.append(
                CompiledRule(
                    f"type_{column.name}",
                    f"{raw_alias(column.name)} is null or {name} is not null",
                    f"{column.name} is a valid {column.type}",
                    "error",
                )
            )
        if column.required:
            rules.append(
                CompiledRule(
                    f"required_{column.name}",
                    f"{name} is not null",
                    f"{column.name} is present",
                    "error",
                )
            )
    for rule in table.rules:
        override = spec.rule_overrides.get(rule.name)
        if override and not override.enabled:
            continue
        severity = override.severity if override and override.severity else rule.severity
        rules.append(CompiledRule(rule.name, rule.condition, rule.description, severity))
    for name, custom in spec.rule_overrides.items():
        if custom.condition and custom.enabled:
            rules.append(
                CompiledRule(
                    name,
                    f"({custom.condition})",
                    custom.description or name,
                    custom.severity or "error",
                )
            )
    return rules


def unnamed_column_name(position: int) -> str:
    """The name an unnamed trailing column is read under (1-based position in the header)."""
    return f"{UNNAMED_COLUMN_PREFIX}{position}"


def unnamed_columns(columns) -> list[str]:
    return [c for c in columns if c.startswith(UNNAMED_COLUMN_PREFIX)]


def unnamed_column_is_empty(column: str, row: str = "__src") -> str:
    """SQL true where an unnamed column holds nothing (NULL, or blanks whatever the source's
    null markers are)."""
    return f"nullif(trim({row}.{quote_identifier(column)}), '') is null"


def unnamed_column_rules(spec: SourceSpec, columns) -> list[CompiledRule]:
    """A header without a name for its last column(s) (a delimiter ending every line) says the
    column is empty; a row with a value there is quarantined, not loaded without it. A source
    defined by a query sees only the query's rows: its files are checked before the query
    instead (readers.refuse_values_in_unnamed_columns)."""
    unnamed = unnamed_columns(columns or ())
    if not unnamed or spec.query:
        return []
    condition = " and ".join(unnamed_column_is_empty(c) for c in unnamed)
    return [
        CompiledRule(
            UNNAMED_COLUMN_EMPTY,
            condition,
            "the unnamed last column (a delimiter at the end of the header) is empty",
            "error",
        )
    ]


def foreign_key_severity(spec: SourceSpec, foreign_key: ForeignKey) -> str | None:
    """None when the source's contract switches the key off."""
    override = spec.rule_overrides.get(foreign_key.name)
    if override and not override.enabled:
        return None
    return override.severity if override and override.severity else foreign_key.severity


def foreign_key_failures_sql(foreign_key: ForeignKey, severity: str) -> str:
    """A query giving (rid, rule, severity, detail) for each row of the view `_checked` whose key
    is not in the parent table. The batch's distinct keys are probed, not its rows (half the
    time: 10M rows hold 130k distinct keys), and only rows with an unknown key are read again.
    A separate statement, not a row rule: a probe inside the reading pass is a join, and a join
    there loses the read order that numbers the rows."""
    column = quote_identifier(foreign_key.column)
    parent = f"raw.{foreign_key.parent_table}"
    parent_column = quote_identifier(foreign_key.parent_column)
    return f"""select c.rid, {quote_literal(foreign_key.name)}, {quote_literal(severity)},
            {quote_literal(foreign_key.column + " ")} || c.{column}
                || {quote_literal(f" is not in {parent}")}
        from _checked c
        where c.{column} in (
            select k.value from (
                select distinct {column} as value from _checked where {column} is not null
            ) k
            where not exists (select 1 from {parent} p where p.{parent_column} = k.value)
        )"""


def failed_rules_list(rules: list[CompiledRule]) -> str:
    """SQL for the list of names of the rules a row breaks (evaluated only on bad rows)."""
    if not rules:
        return "[]::varchar[]"
    items = ", ".join(
        f"case when not coalesce({rule.condition}, true) then {quote_literal(rule.name)} end"
        for rule in rules
    )
    return f"list_filter([{items}], name -> name is not null)"


def all_pass(rules: list[CompiledRule]) -> str:
    """A rule that cannot be judged because an input is NULL passes: missing values are the
    business of the required_ and type_ rules, which never evaluate to NULL."""
    if not rules:
        return "true"
    return " and ".join(f"coalesce({rule.condition}, true)" for rule in rules)


def check_table_columns(table: CanonicalTable) -> list[str]:
    return [quote_identifier(c.name) for c in table.columns]
