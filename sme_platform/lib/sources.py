"""Reading `sources.yaml`: where a company's exports are and how they map onto the canonical model.

The file is validated strictly, because a typo in a mapping would otherwise load NULLs quietly.
Every error names the file and the key that is wrong.
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sme_platform.lib.canonical import CANONICAL_TABLES, CanonicalTable

FORMATS = ("csv", "parquet", "jsonl", "auto")
FORMAT_ALIASES = {"csv.gz": "csv", "tsv": "csv", "json": "jsonl", "ndjson": "jsonl"}
CSV_OPTIONS = {
    "delimiter",
    "quote",
    "escape",
    "header",
    "encoding",
    "null_markers",
    "skip_rows",
    "date_format",
    "timestamp_format",
    "max_line_size",
    "decimal_separator",
}
DECIMAL_SEPARATORS = (".", ",")
OTHER_FORMAT_OPTIONS = {"null_markers", "date_format", "timestamp_format"}
SOURCE_KEYS = {
    "path",
    "format",
    "options",
    "columns",
    "query",
    "contract",
    "changed_files",
    "description",
    "owner",
}
# What a file at an already-loaded path with new content means: a new version of that file
# (a month-to-date export rewritten daily) or only new rows (a fixed name overwritten nightly).
CHANGED_FILE_MODES = ("replace", "append")
CONTRACT_KEYS = {"max_quarantine_share", "max_file_age_hours", "rules"}
RULE_OVERRIDE_KEYS = {"severity", "enabled", "condition", "description"}
_ENV_REFERENCE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")


class SourcesConfigError(ValueError):
    """sources.yaml is missing, unreadable or says something the platform cannot do."""


@dataclass(frozen=True)
class RuleOverride:
    """A change to a canonical rule, or (with a condition) a rule of the company's own."""

    severity: str | None = None
    enabled: bool = True
    condition: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class SourceSpec:
    """How one canonical table is filled from a company's files."""

    table: str
    path_pattern: str
    format: str
    options: dict[str, Any]
    columns: dict[str, str]
    query: str | None = None
    max_quarantine_share: float | None = None
    max_file_age_hours: float | None = None
    rule_overrides: dict[str, RuleOverride] = field(default_factory=dict)
    description: str | None = None
    owner: str | None = None
    changed_files: str = "replace"

    @property
    def canonical(self) -> CanonicalTable:
        return CANONICAL_TABLES[self.table]

    def matching_files(self) -> list[Path]:
        """The files the pattern matches now, in name order (daily exports sort by date)."""
        matches = glob.glob(self.path_pattern, recursive=True)
        return sorted(Path(p) for p in matches if Path(p).is_file())

    def file_format(self, path: Path) -> str:
        """The format of one file: the source's, or for "auto" the file's extension (CSV if
        the extension says nothing)."""
        if self.format != "auto":
            return self.format
        return format_from_extension(path.name) or "csv"

    def quarantine_threshold(self) -> float:
        if self.max_quarantine_share is not None:
            return self.max_quarantine_share
        return self.canonical.max_quarantine_share

    def freshness_hours(self) -> float:
        if self.max_file_age_hours is not None:
            return self.max_file_age_hours
        return self.canonical.max_file_age_hours


@dataclass(frozen=True)
class SourcesConfig:
    config_path: Path
    project_dir: Path
    sources: dict[str, SourceSpec]

    def get(self, table: str) -> SourceSpec | None:
        return self.sources.get(table)


def expand_env(text: str, where: str) -> str:
    """Expand ${VAR} and ${VAR:-default}; an unset variable without default is an error."""

    def substitute(match: re.Match[str]) -> str:
        value = os.environ.get(match["name"])
        if value is not None:
            return value
        if match["default"] is not None:
            return match["default"]
        raise SourcesConfigError(f"{where}: environment variable {match['name']} is not set")

    return _ENV_REFERENCE.sub(substitute, text)


def load_sources(project_dir: Path, filename: str = "sources.yaml") -> SourcesConfig:
    project_dir = Path(project_dir).resolve()
    config_path = project_dir / filename
    if not config_path.is_file():
        raise SourcesConfigError(f"{config_path}: no sources file in project dir {project_dir}")
    try:
        document = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise SourcesConfigError(f"{config_path}: not valid YAML: {error}") from error
    return parse_sources(document, config_path=config_path, project_dir=project_dir)


def parse_sources(document: Any, *, config_path: Path, project_dir: Path) -> SourcesConfig:
    where = str(config_path)
    if not isinstance(document, dict) or not isinstance(document.get("sources"), dict):
        raise SourcesConfigError(f"{where}: expected a mapping with a 'sources:' section")
    unknown = set(document) - {"version", "root", "sources"}
    if unknown:
        raise SourcesConfigError(f"{where}: unknown top-level keys {sorted(unknown)}")
    root_text = expand_env(str(document.get("root", ".")), f"{where}: root")
    root = (project_dir / root_text).resolve()
    sources = {}
    for table, body in document["sources"].items():
        sources[table] = _parse_source(table, body, root=root, where=f"{where}: sources.{table}")
    return SourcesConfig(config_path=config_path, project_dir=project_dir, sources=sources)


def _parse_source(table: str, body: Any, *, root: Path, where: str) -> SourceSpec:
    if table not in CANONICAL_TABLES:
        raise SourcesConfigError(
            f"{where}: unknown canonical table; known tables: {sorted(CANONICAL_TABLES)}"
        )
    if not isinstance(body, dict):
        raise SourcesConfigError(f"{where}: expected a mapping")
    unknown = set(body) - SOURCE_KEYS
    if unknown:
        raise SourcesConfigError(f"{where}: unknown keys {sorted(unknown)}")
    if "path" not in body:
        raise SourcesConfigError(f"{where}: 'path' is required")
    canonical = CANONICAL_TABLES[table]
    file_format = _parse_format(body.get("format"), str(body["path"]), where)
    options = _parse_options(body.get("options") or {}, file_format, where)
    columns = _parse_columns(body.get("columns"), canonical, where)
    contract = body.get("contract") or {}
    if not isinstance(contract, dict) or set(contract) - CONTRACT_KEYS:
        raise SourcesConfigError(f"{where}.contract: allowed keys are {sorted(CONTRACT_KEYS)}")
    path_text = expand_env(str(body["path"]), f"{where}.path")
    changed_files = body.get("changed_files", "replace")
    if changed_files not in CHANGED_FILE_MODES:
        raise SourcesConfigError(f"{where}.changed_files: one of {CHANGED_FILE_MODES}")
    return SourceSpec(
        table=table,
        path_pattern=str(root / path_text),
        format=file_format,
        options=options,
        columns=columns,
        query=body.get("query"),
        max_quarantine_share=_optional_float(contract, "max_quarantine_share", where),
        max_file_age_hours=_optional_float(contract, "max_file_age_hours", where),
        rule_overrides=_parse_rule_overrides(contract.get("rules") or {}, canonical, where),
        description=body.get("description"),
        owner=body.get("owner"),
        changed_files=changed_files,
    )


def format_from_extension(path: str) -> str | None:
    lowered = path.lower()
    for suffix, name in ((".parquet", "parquet"), (".jsonl", "jsonl"), (".json", "jsonl")):
        if lowered.endswith(suffix):
            return name
    if lowered.endswith((".csv", ".csv.gz", ".txt", ".tsv", ".gz")):
        return "csv"
    return None


def _parse_format(value: Any, path: str, where: str) -> str:
    if value is None:
        # Left out: taken from each file's extension ("auto"), so one glob can match the CSV and
        # Parquet exports of the same system.
        return format_from_extension(path) or "auto"
    name = FORMAT_ALIASES.get(str(value).lower(), str(value).lower())
    if name not in FORMATS:
        raise SourcesConfigError(f"{where}.format: {value!r} is not one of {FORMATS}")
    return name


def _parse_options(options: Any, file_format: str, where: str) -> dict[str, Any]:
    if not isinstance(options, dict):
        raise SourcesConfigError(f"{where}.options: expected a mapping")
    allowed = CSV_OPTIONS if file_format in ("csv", "auto") else OTHER_FORMAT_OPTIONS
    unknown = set(options) - allowed
    if unknown:
        raise SourcesConfigError(
            f"{where}.options: {sorted(unknown)} not supported for {file_format}; "
            f"allowed: {sorted(allowed)}"
        )
    separator = options.get("decimal_separator", ".")
    if separator not in DECIMAL_SEPARATORS:
        raise SourcesConfigError(
            f"{where}.options.decimal_separator: {separator!r} is not one of {DECIMAL_SEPARATORS}"
        )
    markers = options.get("null_markers", [""])
    if isinstance(markers, str):
        markers = [markers]
    return {**options, "null_markers": [str(m) for m in markers]}


def _parse_columns(columns: Any, canonical: CanonicalTable, where: str) -> dict[str, str]:
    if not isinstance(columns, dict) or not columns:
        raise SourcesConfigError(f"{where}.columns: map each canonical column to a source column")
    unknown = set(columns) - set(canonical.column_names)
    if unknown:
        raise SourcesConfigError(
            f"{where}.columns: {sorted(unknown)} are not columns of {canonical.name}; "
            f"its columns are {canonical.column_names}"
        )
    missing = [c.name for c in canonical.columns if c.required and c.name not in columns]
    if missing:
        raise SourcesConfigError(f"{where}.columns: required columns {missing} have no mapping")
    return {name: str(expression) for name, expression in columns.items()}


def _parse_rule_overrides(
    rules: Any, canonical: CanonicalTable, where: str
) -> dict[str, RuleOverride]:
    if not isinstance(rules, dict):
        raise SourcesConfigError(f"{where}.contract.rules: expected a mapping")
    known = {r.name for r in canonical.rules} | {fk.name for fk in canonical.foreign_keys}
    overrides = {}
    for name, body in rules.items():
        is_custom = isinstance(body, dict) and "condition" in body
        if name not in known and not is_custom:
            raise SourcesConfigError(
                f"{where}.contract.rules.{name}: unknown rule; rules of {canonical.name}: "
                f"{sorted(known)}; a rule of your own needs a condition (DuckDB SQL over the "
                "canonical columns, true for a good row)"
            )
        if is_custom and name in known:
            raise SourcesConfigError(
                f"{where}.contract.rules.{name}: a canonical rule's condition cannot be "
                "replaced; switch it off (enabled: false) and add a rule with another name"
            )
        if not isinstance(body, dict) or set(body) - RULE_OVERRIDE_KEYS:
            raise SourcesConfigError(
                f"{where}.contract.rules.{name}: allowed keys are {sorted(RULE_OVERRIDE_KEYS)}"
            )
        severity = body.get("severity")
        if severity not in (None, "error", "warn"):
            raise SourcesConfigError(f"{where}.contract.rules.{name}.severity: error or warn")
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            raise SourcesConfigError(
                f"{where}.contract.rules.{name}: rule names are lower case letters, digits, _"
            )
        overrides[name] = RuleOverride(
            severity=severity,
            enabled=bool(body.get("enabled", True)),
            condition=str(body["condition"]) if is_custom else None,
            description=str(body.get("description", body.get("condition", ""))),
        )
    return overrides


def _optional_float(mapping: dict, key: str, where: str) -> float | None:
    if mapping.get(key) is None:
        return None
    try:
        return float(mapping[key])
    except (TypeError, ValueError) as error:
        raise SourcesConfigError(f"{where}.contract.{key}: expected a number") from error
