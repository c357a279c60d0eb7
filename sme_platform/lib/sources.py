"""Reading `sources.yaml`: where a company's exports are and how they map onto the canonical model.

The file is validated strictly (the pydantic models of lib/config/sources_file.py), because a typo
in a mapping would otherwise load NULLs quietly. Every problem is one line naming the file, the
key path and what is allowed; all problems of the file are reported at once.
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from sme_platform.lib.canonical import CANONICAL_TABLES, CanonicalTable
from sme_platform.lib.config.problems import (
    ConfigProblem,
    ConfigurationError,
    problems_from_validation_error,
)
from sme_platform.lib.config.sources_file import (
    SourcesFile,
    format_from_extension,
    resolve_format,
)
from sme_platform.lib.config.yaml_text import load_yaml

_ENV_REFERENCE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")


class SourcesConfigError(ConfigurationError):
    """sources.yaml is missing, unreadable or says something the platform cannot do: one line per
    problem."""


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


class _UnsetVariable(SourcesConfigError):
    def __init__(self, name: str, where: str):
        super().__init__(f"{where}: environment variable {name} is not set")
        self.name = name


def expand_env(text: str, where: str) -> str:
    """Expand ${VAR} and ${VAR:-default}; an unset variable without default is an error."""

    def substitute(match: re.Match[str]) -> str:
        value = os.environ.get(match["name"])
        if value is not None:
            return value
        if match["default"] is not None:
            return match["default"]
        raise _UnsetVariable(match["name"], where)

    return _ENV_REFERENCE.sub(substitute, text)


def load_sources(project_dir: Path, filename: str = "sources.yaml") -> SourcesConfig:
    project_dir = Path(project_dir).resolve()
    config_path = project_dir / filename
    if not config_path.is_file():
        raise SourcesConfigError(f"{config_path}: no sources file in project dir {project_dir}")
    try:
        document = load_yaml(config_path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise SourcesConfigError(f"{config_path}: not valid YAML: {error}") from None
    return parse_sources(document, config_path=config_path, project_dir=project_dir)


def parse_sources(document: Any, *, config_path: Path, project_dir: Path) -> SourcesConfig:
    """The validated file, or SourcesConfigError with every problem found, one line each."""
    try:
        validated = SourcesFile.model_validate(document)
    except ValidationError as error:
        problems = problems_from_validation_error(error, SourcesFile, config_path)
        raise SourcesConfigError([p.line for p in problems]) from None
    problems: list[ConfigProblem] = []
    root_text = _expanded(validated.root, config_path, "root", problems)
    root = (project_dir / root_text).resolve() if root_text is not None else None
    sources: dict[str, SourceSpec] = {}
    for table in document["sources"]:
        source = getattr(validated.sources, table)
        path = _expanded(source.path, config_path, f"sources.{table}.path", problems)
        if root is not None and path is not None:
            sources[table] = _source_spec(table, source, str(root / path))
    if problems:
        raise SourcesConfigError([p.line for p in problems])
    return SourcesConfig(config_path=config_path, project_dir=project_dir, sources=sources)


def _expanded(text: str, config_path: Path, key: str, problems: list[ConfigProblem]) -> str | None:
    try:
        return expand_env(text, "")
    except _UnsetVariable as unset:
        problems.append(
            ConfigProblem(
                config_path,
                key,
                f"environment variable {unset.name} is not set (write ${{{unset.name}:-default}} "
                "for a default)",
            )
        )
        return None


def _source_spec(table: str, source: Any, path_pattern: str) -> SourceSpec:
    options = source.options.model_dump(exclude_none=True) if source.options else {}
    contract = source.contract
    rules = contract.rules if contract and contract.rules else None
    overrides: dict[str, RuleOverride] = {}
    if rules is not None:
        for name in type(rules).model_fields:
            canonical = getattr(rules, name)
            if canonical is not None:
                overrides[name] = RuleOverride(
                    severity=canonical.severity,
                    enabled=canonical.enabled,
                    description=canonical.description or "",
                )
        for name, custom in (rules.model_extra or {}).items():
            overrides[name] = RuleOverride(
                severity=custom.severity,
                enabled=custom.enabled,
                condition=custom.condition,
                description=custom.description or custom.condition,
            )
    return SourceSpec(
        table=table,
        path_pattern=path_pattern,
        format=resolve_format(source.format, source.path),
        options={**options, "null_markers": options.get("null_markers", [""])},
        columns=source.columns.model_dump(exclude_none=True),
        query=source.query,
        max_quarantine_share=contract.max_quarantine_share if contract else None,
        max_file_age_hours=contract.max_file_age_hours if contract else None,
        rule_overrides=overrides,
        description=source.description,
        owner=source.owner,
        changed_files=source.changed_files,
    )
