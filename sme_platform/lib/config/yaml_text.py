"""YAML parsed with libyaml's C parser where PyYAML was built with it (the wheels are).

PyYAML's pure-Python parser took 37 ms for a demo sources.yaml, and every step of a run reads it:
about a second of a small night. The C parser builds the same safe objects (same constructor,
same YAMLError with line and column on bad input), ten times faster.

A key written twice in one mapping is refused (PyYAML keeps the last silently): a value pasted
below an old one would otherwise change a setting, a gate's margin say, without a word."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import yaml

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MERGE_TAG = "tag:yaml.org,2002:merge"


class _UniqueKeyLoader(_LOADER):
    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen = {}
            for key_node, _ in node.value:
                if key_node.tag == MERGE_TAG:
                    continue  # `<<: *anchor`: its keys may be overridden here, on purpose
                key = self.construct_object(key_node, deep=True)
                if not isinstance(key, Hashable):
                    continue  # the base class reports it as a YAML error
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        "while reading a mapping",
                        node.start_mark,
                        f"found the key {key!r} twice (first on line {seen[key] + 1}): keep one",
                        key_node.start_mark,
                    )
                seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep)


def load_yaml(text: str) -> Any:
    """`yaml.safe_load(text)`, with the C parser when there is one; a duplicate key refused."""
    return yaml.load(text, Loader=_UniqueKeyLoader)
