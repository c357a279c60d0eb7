"""YAML parsed with libyaml's C parser where PyYAML was built with it (the wheels are).

PyYAML's pure-Python parser took 37 ms for a demo sources.yaml, and every step of a run reads it:
about a second of a small night. The C parser builds the same safe objects (same constructor,
same YAMLError with line and column on bad input), ten times faster."""

from __future__ import annotations

from typing import Any

import yaml

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(text: str) -> Any:
    """`yaml.safe_load(text)`, with the C parser when there is one."""
    return yaml.load(text, Loader=_LOADER)
