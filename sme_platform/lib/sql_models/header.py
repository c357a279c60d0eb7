"""The header block at the top of a SQL model: YAML inside the first `/* ... */` comment.

/*
description: Sales lines, typed. Grain: one row per order line.
owner: team:data
materialization: table          # or view
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

import yaml

from sme_platform.lib.sql_models.errors import ModelGraphError

MATERIALIZATIONS = ("table", "view")
MASKS = ("hash", "redact", "none")  # none: derived from PII, but not PII itself
SEVERITIES = ("error", "warn")
TEST_KINDS = ("not_null", "unique", "accepted_values", "relationships", "expression", "sql")
HEADER_KEYS = {"description", "owner", "materialization", "pii", "tests"}
OWNER_PATTERN = re.compile(r"^(team:[\w.-]+|[^@\s]+@[^@\s]+\.\w+)$")


@dataclass(frozen=True)
class DataTest:
    name: str  # unique within the model; the asset check's name
    kind: str  # one of TEST_KINDS
    severity: str  # error = blocking, warn = reported only
    options: dict = field(default_factory=dict)
    description: str = ""


@dataclass(frozen=True)
class ModelHeader:
    description: str
    owner: str
    materialization: str = "table"
    pii: dict[str, str] = field(default_factory=dict)  # column -> mask
    tests: tuple[DataTest, ...] = ()


def parse_header(path: Path, text: str) -> tuple[ModelHeader, str]:
    """The header and the SQL after it."""
    stripped = text.lstrip()
    if not stripped.startswith("/*") or "*/" not in stripped:
        raise ModelGraphError(f"{path}: a model opens with a /* ... */ header block")
    block, sql = stripped[2:].split("*/", 1)
    try:
        raw = yaml.safe_load(block) or {}
    except yaml.YAMLError as error:
        raise ModelGraphError(f"{path}: the header is not valid YAML: {error}") from error
    if not isinstance(raw, dict):
        raise ModelGraphError(f"{path}: the header must be a mapping of {sorted(HEADER_KEYS)}")
    unknown = set(raw) - HEADER_KEYS
    if unknown:
        raise ModelGraphError(f"{path}: unknown header key(s) {sorted(unknown)}")
    description = str(raw.get("description") or "").strip()
    if not re.search(r"\bgrain\s*:", description, flags=re.IGNORECASE):
        raise ModelGraphError(f"{path}: the description must state the grain ('Grain: ...')")
    owner = str(raw.get("owner") or "")
    if not OWNER_PATTERN.match(owner):
        raise ModelGraphError(f"{path}: owner must be team:<name> or an email, not {owner!r}")
    materialization = raw.get("materialization", "table")
    if materialization not in MATERIALIZATIONS:
        raise ModelGraphError(f"{path}: materialization must be one of {list(MATERIALIZATIONS)}")
    pii = raw.get("pii") or {}
    if not isinstance(pii, dict) or any(m not in MASKS for m in pii.values()):
        raise ModelGraphError(f"{path}: pii maps each column to a mask, one of {list(MASKS)}")
    tests = _parse_tests(path, raw.get("tests") or [])
    header = ModelHeader(description, owner, materialization, dict(pii), tests)
    return header, sql.strip().rstrip(";").strip()


def _parse_tests(path: Path, entries) -> tuple[DataTest, ...]:
    if not isinstance(entries, list):
        raise ModelGraphError(f"{path}: tests must be a list")
    tests: list[DataTest] = []
    for entry in entries:
        if not isinstance(entry, dict) or len(entry) != 1:
            raise ModelGraphError(f"{path}: each test is one of {list(TEST_KINDS)}: {entry!r}")
        kind, options = next(iter(entry.items()))
        if kind not in TEST_KINDS:
            raise ModelGraphError(f"{path}: unknown test {kind!r}; use one of {list(TEST_KINDS)}")
        tests.extend(_expand_test(path, kind, options))
    names = [t.name for t in tests]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ModelGraphError(f"{path}: test name(s) {repeated} used twice; give a name:")
    return tuple(tests)


def _expand_test(path: Path, kind: str, options) -> list[DataTest]:
    """One DataTest per check: `not_null: [a, b]` is two checks, one per column."""
    if kind == "not_null":
        columns = [options] if isinstance(options, str) else options
        if not isinstance(columns, list):
            raise ModelGraphError(f"{path}: not_null takes a column or a list of columns")
        return [DataTest(f"not_null_{c}", kind, "error", {"column": c}) for c in columns]
    if kind == "unique":
        columns = [options] if isinstance(options, str) else options
        if not isinstance(columns, list) or not columns:
            raise ModelGraphError(f"{path}: unique takes a column or a list of columns")
        return [DataTest("unique_" + "_".join(columns), kind, "error", {"columns": columns})]
    if not isinstance(options, dict):
        raise ModelGraphError(f"{path}: {kind} takes a mapping of options")
    severity = options.get("severity", "error")
    if severity not in SEVERITIES:
        raise ModelGraphError(f"{path}: severity must be one of {list(SEVERITIES)}")
    required = {
        "accepted_values": ("column", "values"),
        "relationships": ("column", "to", "field"),
        "expression": ("name", "sql"),
        "sql": ("name", "query"),
    }[kind]
    missing = [key for key in required if key not in options]
    if missing:
        raise ModelGraphError(f"{path}: test {kind} needs {missing}")
    # expression and sql tests must be named; a column test is named after its column
    name = str(options.get("name") or f"{kind}_{options['column']}")
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise ModelGraphError(f"{path}: test name {name!r}: lower case letters, digits and _")
    return [
        DataTest(
            name,
            kind,
            severity,
            {k: v for k, v in options.items() if k not in ("name", "severity", "description")},
            str(options.get("description", "")),
        )
    ]
