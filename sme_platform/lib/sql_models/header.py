"""The header block at the top of a SQL model: YAML inside the first `/* ... */` comment.

/*
description: Sales lines, typed. Grain: one row per order line.
owner: team:data
materialization: table          # or view, or incremental (see sql_models/incremental.py)
incremental:                    # only with materialization: incremental
  time_column: order_date       # the model's day column; the query filters on
  unique_key: [order_id, line_number]   # {{ start_date }} and {{ end_date }}
  lookback_days: 0              # days before a changed range rebuilt with it (late effects)
  input_time:                   # each raw table read: the day of one of its rows
    raw.sales_lines: ordered_at::date
pii:                            # column: how the analyst database masks it
  email: hash
  full_name: redact
tests:
  - not_null: [order_id, line_number]
  - unique: [order_id, line_number]
  - accepted_values: {column: line_type, values: [sale, return]}
  - relationships: {column: sku, to: staging.products, field: sku}
  - expression: {name: quantity_not_zero, sql: "quantity <> 0", severity: warn}
  - sql: {name: no_orphans, query: "select * from {{ this }} where ..."}
*/
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import BeforeValidator, Field, ValidationError, field_validator, model_validator

from sme_platform.lib.canonical import Severity
from sme_platform.lib.config.fields import NAME_PATTERN, OneOrMoreTexts, Owner
from sme_platform.lib.config.problems import (
    ConfigModel,
    ConfigProblem,
    problems_from_validation_error,
    unknown_name_message,
)
from sme_platform.lib.config.yaml_text import load_yaml
from sme_platform.lib.sql_models.errors import ModelGraphError

Materialization = Literal["table", "view", "incremental"]
Mask = Literal["hash", "redact", "none"]  # none: derived from PII, but not PII itself
MATERIALIZATIONS = get_args(Materialization)
MASKS = get_args(Mask)
SEVERITIES = get_args(Severity)
GRAIN = re.compile(r"\bgrain\s*:", flags=re.IGNORECASE)


@dataclass(frozen=True)
class DataTest:
    name: str  # unique within the model; the asset check's name
    kind: str  # one of TEST_KINDS
    severity: str  # error = blocking, warn = reported only
    options: dict = field(default_factory=dict)
    description: str = ""


@dataclass(frozen=True)
class Incremental:
    time_column: str
    unique_key: tuple[str, ...]
    lookback_days: int
    input_time: dict[str, str]  # raw.<table> -> SQL giving a row's day


@dataclass(frozen=True)
class ModelHeader:
    description: str
    owner: str
    materialization: str = "table"
    pii: dict[str, str] = field(default_factory=dict)  # column -> mask
    tests: tuple[DataTest, ...] = ()
    incremental: Incremental | None = None


def _as_text(value: Any) -> Any:
    # accepted values may be numbers or booleans in YAML; the test compares them as text
    return str(value) if isinstance(value, int | float | bool) else value


class _TestOptions(ConfigModel):
    name: str | None = Field(None, description="the check's name (default: kind_column)")
    severity: Severity = "error"
    description: str = ""


class AcceptedValuesTest(_TestOptions):
    column: str
    values: list[Annotated[str, BeforeValidator(_as_text)]] = Field(min_length=1)


class RelationshipsTest(_TestOptions):
    column: str
    to: str = Field(description="schema.table holding the key, e.g. staging.products")
    field: str


class ExpressionTest(_TestOptions):
    name: str
    sql: str = Field(description="true for a good row")


class SqlTest(_TestOptions):
    name: str
    query: str = Field(description="returns the failing rows; {{ this }} is the model")


class TestEntry(ConfigModel):
    """One item of `tests:`: exactly one kind of test."""

    not_null: OneOrMoreTexts | None = None
    unique: Annotated[OneOrMoreTexts, Field(min_length=1)] | None = None
    accepted_values: AcceptedValuesTest | None = None
    relationships: RelationshipsTest | None = None
    expression: ExpressionTest | None = None
    sql: SqlTest | None = None

    @classmethod
    def unknown_key_message(cls, key: str, parent_path: str) -> str:
        return unknown_name_message("unknown test", key, TEST_KINDS, parent_path, "tests")

    @model_validator(mode="after")
    def _one_test_per_item(self) -> TestEntry:
        kinds = [kind for kind in TEST_KINDS if getattr(self, kind) is not None]
        if len(kinds) != 1:
            raise ValueError(f"each item is one test, one of {list(TEST_KINDS)}; found {kinds}")
        return self


TEST_KINDS = tuple(TestEntry.model_fields)


class IncrementalOptions(ConfigModel):
    """How an incremental model finds the days to rebuild (sql_models/incremental.py)."""

    time_column: str = Field(description="the model's date column the ranges are cut on")
    unique_key: Annotated[OneOrMoreTexts, Field(min_length=1)]
    lookback_days: int = Field(0, ge=0, le=366)
    input_time: dict[str, str] = Field(
        default_factory=dict,
        description="raw.<table>: SQL over its columns giving a row's date, for each raw input",
    )


class Header(ConfigModel):
    """The YAML in a model's /* ... */ header block."""

    description: str
    owner: Owner
    materialization: Materialization = "table"
    pii: dict[str, Mask] | None = Field(None, description="column: how analysts see it masked")
    tests: list[TestEntry] | None = None
    incremental: IncrementalOptions | None = None

    @model_validator(mode="after")
    def _incremental_needs_its_options(self) -> Header:
        if (self.materialization == "incremental") != (self.incremental is not None):
            raise ValueError("materialization: incremental and an incremental: block go together")
        return self

    @field_validator("description")
    @classmethod
    def _states_the_grain(cls, description: str) -> str:
        if not GRAIN.search(description):
            raise ValueError("the description must state the grain ('Grain: ...')")
        return description.strip()


def parse_header(path: Path, text: str) -> tuple[ModelHeader, str]:
    """The header and the SQL after it; ModelGraphError with every problem, one line each."""
    stripped = text.lstrip()
    if not stripped.startswith("/*") or "*/" not in stripped:
        raise ModelGraphError(f"{path}: a model opens with a /* ... */ header block")
    block, sql = stripped[2:].split("*/", 1)
    try:
        raw = load_yaml(block) or {}
    except yaml.YAMLError as error:
        raise ModelGraphError(f"{path}: the header is not valid YAML: {error}") from None
    try:
        header = Header.model_validate(raw)
    except ValidationError as error:
        problems = problems_from_validation_error(error, Header, path)
        raise ModelGraphError([p.line for p in problems]) from None
    tests, problems = _data_tests(path, header.tests or [])
    if problems:
        raise ModelGraphError([p.line for p in problems])
    options = header.incremental
    incremental = (
        Incremental(
            options.time_column,
            tuple(options.unique_key),
            options.lookback_days,
            dict(options.input_time),
        )
        if options
        else None
    )
    model_header = ModelHeader(
        header.description,
        header.owner,
        header.materialization,
        dict(header.pii or {}),
        tests,
        incremental,
    )
    return model_header, sql.strip().rstrip(";").strip()


def _data_tests(path: Path, entries: list[TestEntry]) -> tuple[tuple[DataTest, ...], list]:
    """One DataTest per check (`not_null: [a, b]` is two checks), and the problems of names."""
    tests: list[DataTest] = []
    problems: list[ConfigProblem] = []
    for index, entry in enumerate(entries):
        kind = next(kind for kind in TEST_KINDS if getattr(entry, kind) is not None)
        expanded = _expand_test(kind, getattr(entry, kind))
        for test in expanded:
            if not NAME_PATTERN.match(test.name):
                problems.append(
                    ConfigProblem(
                        path,
                        f"tests[{index}].{kind}",
                        f"test name {test.name!r}: lower case letters, digits and _ (give a name:)",
                    )
                )
        tests.extend(expanded)
    names = [t.name for t in tests]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        problems.append(
            ConfigProblem(path, "tests", f"test name(s) {repeated} used twice; give a name:")
        )
    return tuple(tests), problems


def _expand_test(kind: str, options: Any) -> list[DataTest]:
    if kind == "not_null":
        return [DataTest(f"not_null_{c}", kind, "error", {"column": c}) for c in options]
    if kind == "unique":
        return [DataTest("unique_" + "_".join(options), kind, "error", {"columns": options})]
    given = options.model_dump(exclude={"name", "severity", "description"})
    # expression and sql tests are named; a column test is named after its column
    name = options.name or f"{kind}_{options.column}"
    return [DataTest(name, kind, options.severity, given, options.description)]
