"""Value types shared by the configuration files (sources.yaml, SQL model headers)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, WithJsonSchema

# Dagster accepts an asset owner only as team:<name> or an email address.
OWNER_PATTERN = re.compile(r"^(team:[\w.-]+|[^@\s]+@[^@\s]+\.\w+)$")
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")


def _owner(value: str) -> str:
    if not OWNER_PATTERN.match(value):
        raise ValueError(f"owner must be team:<name> or an email address, not {value!r}")
    return value


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, str | int | float) else value


Owner = Annotated[
    str,
    AfterValidator(_owner),
    WithJsonSchema({"type": "string", "pattern": OWNER_PATTERN.pattern}),
]
# `null_markers: "?"` or `null_markers: ["?", ""]`; `not_null: id` or `not_null: [id, day]`.
OneOrMoreTexts = Annotated[
    list[str],
    BeforeValidator(_one_or_many),
    WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}),
]
