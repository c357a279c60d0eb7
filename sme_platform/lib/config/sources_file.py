"""The shape of sources.yaml as pydantic models, one source model per canonical table.

Built from the canonical model (lib/canonical.py), so the columns a source may map and the rules
it may override are those of its table: the JSON Schema published from these models lets an
editor complete `columns:` of `sales_lines` with the columns of sales_lines. lib/sources.py turns
a validated file into the SourceSpecs the ingestion engine reads.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    create_model,
    model_validator,
)

from sme_platform.lib.canonical import CANONICAL_TABLES, CanonicalTable, Severity
from sme_platform.lib.config.fields import NAME_PATTERN, OneOrMoreTexts, Owner
from sme_platform.lib.config.problems import ConfigModel, unknown_name_message

SUPPORTED_VERSION = 1
FORMATS = ("csv", "parquet", "jsonl", "auto")
FORMAT_ALIASES = {"csv.gz": "csv", "tsv": "csv", "json": "jsonl", "ndjson": "jsonl"}
# Options every reader takes; the others are options of DuckDB's CSV reader.
SHARED_OPTIONS = ("null_markers", "date_format", "timestamp_format")


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


FormatName = Annotated[
    Literal["csv", "parquet", "jsonl", "auto", "csv.gz", "tsv", "json", "ndjson"],
    BeforeValidator(_lower),
]


class ReaderOptions(ConfigModel):
    """Reader options (DuckDB's CSV reader; the shared ones also for Parquet and JSON lines)."""

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    delimiter: str | None = None
    quote: str | None = None
    escape: str | None = None
    header: bool | None = Field(None, description="false when the file has no header line")
    encoding: str | None = None
    null_markers: OneOrMoreTexts | None = Field(
        None, description='values read as NULL, e.g. ["", "?"] (default: the empty string)'
    )
    skip_rows: int | None = Field(None, ge=0)
    max_line_size: int | None = Field(None, gt=0)
    date_format: str | None = Field(None, description="strptime codes, e.g. %d.%m.%Y")
    timestamp_format: str | None = Field(None, description="strptime codes, e.g. %Y-%m-%d %H:%M")
    decimal_separator: Literal[".", ","] | None = Field(
        None, description='"," for European numbers, e.g. 1.234,50 (the dot groups thousands)'
    )


CSV_OPTIONS = tuple(sorted(ReaderOptions.model_fields))
OTHER_FORMAT_OPTIONS = SHARED_OPTIONS
RULE_OVERRIDE_KEYS = ("severity", "enabled", "condition", "description")


class CanonicalRuleOverride(ConfigModel):
    """A change to one rule of the canonical contract."""

    severity: Severity | None = Field(None, description="error: quarantine the row; warn: flag it")
    enabled: bool = True
    description: str | None = None
    refused_keys: ClassVar[dict[str, str]] = {
        "condition": "a canonical rule's condition cannot be replaced; switch it off "
        "(enabled: false) and add a rule with another name"
    }


class CustomRule(ConfigModel):
    """A rule of the company's own: DuckDB SQL over the canonical columns, true for a good row."""

    condition: str
    severity: Severity | None = None
    enabled: bool = True
    description: str | None = None


class RuleOverrides(ConfigModel):
    """Per rule of the canonical contract: its severity or switched off; any other name is a
    rule of the company's own and needs a condition."""

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, CustomRule] = Field(init=False)
    table_name: ClassVar[str] = ""

    @classmethod
    def extra_entry_message(cls, key: str, parent_path: str, error: dict) -> str | None:
        if error["type"] == "missing" and error["loc"][-1] == "condition":
            return unknown_name_message(
                "unknown rule",
                key,
                cls.allowed_keys(),
                parent_path,
                f"rules of {cls.table_name}",
                note="a rule of your own needs a condition (DuckDB SQL over the canonical "
                "columns, true for a good row)",
            )
        return None

    @model_validator(mode="after")
    def _names_are_identifiers(self) -> RuleOverrides:
        bad = [name for name in self.model_extra or {} if not NAME_PATTERN.match(name)]
        if bad:
            raise ValueError(f"rule name(s) {bad}: use lower case letters, digits and _")
        return self


class Contract(ConfigModel):
    max_quarantine_share: float | None = Field(
        None, ge=0, le=1, description="share of rows allowed in quarantine, 0 to 1"
    )
    max_file_age_hours: float | None = Field(
        None, gt=0, description="hours before the newest file counts as stale"
    )
    rules: RuleOverrides | None = None


class CanonicalColumns(ConfigModel):
    """Each canonical column: a source column name or a DuckDB SQL expression over them."""

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)
    table_name: ClassVar[str] = ""

    @classmethod
    def unknown_key_message(cls, key: str, parent_path: str) -> str:
        return unknown_name_message(
            "unknown column",
            key,
            cls.allowed_keys_in_order(),
            parent_path,
            f"columns of {cls.table_name}",
        )

    @classmethod
    def allowed_keys_in_order(cls) -> list[str]:
        return list(cls.model_fields)

    @classmethod
    def missing_key_message(cls, key: str) -> str:
        return (
            f"required column of {cls.table_name} has no mapping: give a source column or a "
            "DuckDB SQL expression"
        )


class Source(ConfigModel):
    path: str = Field(
        description="file or glob, relative to root (${VAR} and ${VAR:-default} are expanded)"
    )
    format: FormatName | None = Field(
        None, description="csv (also csv.gz, tsv), parquet or jsonl; from the extension if left out"
    )
    options: ReaderOptions | None = None
    query: str | None = Field(
        None,
        description="DuckDB query over source_rows (the files' rows plus _source_file and "
        "_source_row); the columns then map the query's output",
    )
    changed_files: Literal["replace", "append"] = Field(
        "replace",
        description="a loaded file with new content: a new version of it (replace) or new rows",
    )
    description: str | None = Field(None, description="shown on the ingestion asset in the UI")
    owner: Owner | None = Field(None, description="team:<name> or an email address")

    @model_validator(mode="after")
    def _options_fit_the_format(self) -> Source:
        file_format = resolve_format(self.format, self.path)
        if file_format in ("csv", "auto") or self.options is None:
            return self
        given = self.options.model_dump(exclude_none=True)
        csv_only = sorted(set(given) - set(SHARED_OPTIONS))
        if csv_only:
            raise ValueError(
                f"options {csv_only} are CSV reader options, not for format {file_format}; "
                f"allowed for {file_format}: {sorted(SHARED_OPTIONS)}"
            )
        return self


def resolve_format(value: str | None, path: str) -> str:
    if value is None:
        # Left out: taken from each file's extension ("auto"), so one glob can match the CSV and
        # Parquet exports of the same system.
        return format_from_extension(path) or "auto"
    return FORMAT_ALIASES.get(value, value)


def format_from_extension(path: str) -> str | None:
    lowered = path.lower()
    for suffix, name in ((".parquet", "parquet"), (".jsonl", "jsonl"), (".json", "jsonl")):
        if lowered.endswith(suffix):
            return name
    if lowered.endswith((".csv", ".csv.gz", ".txt", ".tsv", ".gz")):
        return "csv"
    return None


def _model_name(table: CanonicalTable, suffix: str) -> str:
    return "".join(part.title() for part in table.name.split("_")) + suffix


def _rule_names(table: CanonicalTable) -> list[str]:
    return [rule.name for rule in table.rules] + [fk.name for fk in table.foreign_keys]


def source_model(table: CanonicalTable) -> type[Source]:
    """The model of one source: its columns and rules are those of its canonical table."""
    column_fields: dict[str, Any] = {
        column.name: (str, Field(description=column.description))
        if column.required
        else (str | None, Field(None, description=column.description))
        for column in table.columns
    }
    columns = create_model(
        _model_name(table, "Columns"), __base__=CanonicalColumns, **column_fields
    )
    columns.table_name = table.name
    rule_fields: dict[str, Any] = {
        name: (CanonicalRuleOverride | None, None) for name in _rule_names(table)
    }
    rules = create_model(_model_name(table, "Rules"), __base__=RuleOverrides, **rule_fields)
    rules.table_name = table.name
    contract = create_model(
        _model_name(table, "Contract"), __base__=Contract, rules=(rules | None, None)
    )
    contract.moved_keys = {
        **{name: f"rules.{name}" for name in _rule_names(table)},
        **{key: f"rules.<name>.{key}" for key in RULE_OVERRIDE_KEYS},
    }
    model = create_model(
        _model_name(table, "Source"),
        __base__=Source,
        __doc__=f"{table.description} Grain: {table.grain}.",
        columns=(columns, Field(description="canonical column: source column or SQL expression")),
        contract=(contract | None, None),
    )
    model.moved_keys = {
        **{name: f"options.{name}" for name in CSV_OPTIONS},
        **{name: f"contract.{name}" for name in Contract.model_fields},
        **{name: f"columns.{name}" for name in table.column_names},
        **{name: f"contract.rules.{name}" for name in _rule_names(table)},
    }
    return model


class SourcesSection(ConfigModel):
    @classmethod
    def unknown_key_message(cls, key: str, parent_path: str) -> str:
        return unknown_name_message(
            "unknown canonical table",
            key,
            list(CANONICAL_TABLES),
            parent_path,
            "known tables",
        )


def _supported_version(value: int) -> int:
    if value != SUPPORTED_VERSION:
        raise ValueError(
            f"{value} is not supported; this sme-platform reads sources.yaml "
            f"version {SUPPORTED_VERSION}"
        )
    return value


# A source of a canonical table (keyed by its name), absent when the company has no such export.
# `= None` without Optional: an entry written but left empty is a mistake, not an absent source.
Sources = create_model(
    "Sources",
    __base__=SourcesSection,
    __doc__="One entry per canonical table the company has an export for.",
    **{name: (source_model(table), None) for name, table in CANONICAL_TABLES.items()},
)


class SourcesFile(ConfigModel):
    """sources.yaml: where a company's exports are and how they map onto the canonical model."""

    model_config = ConfigDict(extra="forbid", title="sme_platform sources.yaml")

    version: Annotated[int, AfterValidator(_supported_version)] = Field(
        SUPPORTED_VERSION, json_schema_extra={"enum": [SUPPORTED_VERSION]}
    )
    root: str = Field(
        ".", description="folder the paths are relative to, relative to this file's folder"
    )
    sources: Sources  # type: ignore[valid-type]

    moved_keys: ClassVar[dict[str, str]] = {
        **{name: f"sources.{name}" for name in CANONICAL_TABLES},
        **{name: f"sources.<table>.{name}" for name in Source.model_fields},
        "columns": "sources.<table>.columns",
        "contract": "sources.<table>.contract",
    }
