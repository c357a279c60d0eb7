"""Configuration mistakes as one line each: the file, the key path, what is wrong, what is allowed.

pydantic finds the mistakes (unknown keys, wrong types, values outside a Literal); this module
words them for a data team instead of a Python developer: `tests[2].expression.severity` rather
than a loc tuple, the allowed keys or values, and a "did you mean" where a key is misspelled
(difflib) or written in the wrong place (a rule override directly under `contract:`).
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, ValidationError


class ConfigurationError(ValueError):
    """A configuration file says something the platform cannot do. The message is one line per
    problem, each naming the file and the key."""

    def __init__(self, problems: str | Sequence[str]):
        lines = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(lines))

    @property
    def lines(self) -> list[str]:
        return str(self).splitlines()


@dataclass(frozen=True)
class ConfigProblem:
    file: Path | str
    key_path: str  # "" when the problem is the file as a whole
    message: str

    @property
    def line(self) -> str:
        if self.key_path:
            return f"{self.file}: {self.key_path}: {self.message}"
        return f"{self.file}: {self.message}"


class ConfigModel(BaseModel):
    """A mapping of a configuration file: unknown keys are mistakes, never ignored.

    Subclasses say where keys that are often put in the wrong place belong (`moved_keys`, a path
    relative to this mapping) and which keys are refused here and why (`refused_keys`)."""

    model_config = ConfigDict(extra="forbid")

    moved_keys: ClassVar[dict[str, str]] = {}
    refused_keys: ClassVar[dict[str, str]] = {}

    @classmethod
    def allowed_keys(cls) -> list[str]:
        return sorted(cls.model_fields)

    @classmethod
    def unknown_key_message(cls, key: str, parent_path: str) -> str:
        if key in cls.refused_keys:
            return cls.refused_keys[key]
        if key in cls.moved_keys:
            return f"not a key here; did you mean {join_path(parent_path, cls.moved_keys[key])}?"
        # A misspelled key may be a misspelling of a key that belongs elsewhere too.
        suggestions = {name: name for name in cls.allowed_keys()} | cls.moved_keys
        return unknown_name_message(
            "unknown key", key, cls.allowed_keys(), parent_path, "allowed keys", suggestions
        )

    @classmethod
    def missing_key_message(cls, key: str) -> str:
        return MISSING_KEY

    @classmethod
    def extra_entry_message(cls, key: str, parent_path: str, error: dict) -> str | None:
        """For a mapping whose extra keys are entries of their own (rules of a company's own):
        the problem of an entry as a whole, or None to report the entry's own errors."""
        return None


def unknown_name_message(
    what: str,
    name: str,
    known: Sequence[str],
    parent_path: str,
    allowed_label: str,
    suggestions: dict[str, str] | None = None,
    note: str = "",
) -> str:
    """The line's message for a name that is not allowed:
    `unknown key 'x'; allowed keys: a, b; <note>; did you mean <path>?`, where `suggestions` maps
    a name to the path (relative to the parent) a close match would belong at."""
    suggestions = suggestions if suggestions is not None else {name: name for name in known}
    message = f"{what} {name!r}; {allowed_label}: {', '.join(known)}"
    if note:
        message += f"; {note}"
    close = difflib.get_close_matches(name, list(suggestions), n=1, cutoff=0.6)
    if close:
        message += f"; did you mean {join_path(parent_path, suggestions[close[0]])}?"
    return message


def join_path(parent: str, key: str) -> str:
    return f"{parent}.{key}" if parent else key


def key_path(loc: Sequence[str | int]) -> str:
    """('tests', 2, 'expression', 'severity') -> 'tests[2].expression.severity'."""
    text = ""
    for part in loc:
        text = f"{text}[{part}]" if isinstance(part, int) else join_path(text, str(part))
    return text


def problems_from_validation_error(
    error: ValidationError, model: type[BaseModel], file: Path | str
) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    for item in error.errors(include_url=False):
        problem = _problem(item, model, file)
        if problem not in problems:  # a union reports a value once per alternative
            problems.append(problem)
    # `owners:` for `owner:` is one mistake: its "did you mean owner?" says that owner is missing
    # (and `sales_lines:` at the top, "did you mean sources.sales_lines?", that sources is).
    suggested = {match[1] for p in problems if (match := _SUGGESTION.search(p.message))}
    return [
        p
        for p in problems
        if not (
            p.message == MISSING_KEY
            and any(s == p.key_path or s.startswith(p.key_path + ".") for s in suggested)
        )
    ]


MISSING_KEY = "required key is missing"
_SUGGESTION = re.compile(r"did you mean (\S+)\?$")


def _problem(error: dict, root: type[BaseModel], file: Path | str) -> ConfigProblem:
    loc = [part for part in error["loc"] if part != "[key]"]
    types_along = [root]
    for part in loc:
        types_along.append(_child_type(types_along[-1], part))
    # An error inside an extra entry (a rule of the company's own) may be the entry's problem.
    for index, part in enumerate(loc):
        owner = _model_class(types_along[index])
        if owner is not None and isinstance(part, str) and part not in owner.model_fields:
            message = owner.extra_entry_message(part, key_path(loc[:index]), error)
            if message:
                return ConfigProblem(file, key_path(loc[: index + 1]), message)
    parent = _model_class(types_along[-2]) if len(loc) >= 1 else None
    key = loc[-1] if loc else None
    kind = error["type"]
    if kind == "extra_forbidden" and parent is not None and isinstance(key, str):
        message = parent.unknown_key_message(key, key_path(loc[:-1]))
    elif kind == "missing" and parent is not None and isinstance(key, str):
        message = parent.missing_key_message(key)
    elif kind == "literal_error":
        message = _literal_message(error["input"], types_along[-1])
    else:
        message = _value_message(error)
    return ConfigProblem(file, key_path(loc), message)


def _literal_message(value: Any, annotation: Any) -> str:
    allowed = [str(option) for option in _literal_values(annotation)]
    message = f"{value!r} is not allowed; allowed: {', '.join(allowed)}"
    close = difflib.get_close_matches(str(value), allowed, n=1, cutoff=0.6)
    if close:
        message += f"; did you mean {close[0]}?"
    return message


_TYPE_NAMES = {
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "dict_type": "a mapping",
    "list_type": "a list",
    "string_type": "text",
    "float_type": "a number",
    "float_parsing": "a number",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
}
_BOUNDS = {
    "greater_than": ("gt", "more than"),
    "greater_than_equal": ("ge", "at least"),
    "less_than": ("lt", "less than"),
    "less_than_equal": ("le", "at most"),
}


def _value_message(error: dict) -> str:
    kind, given = error["type"], error.get("input")
    if kind in _TYPE_NAMES:
        return f"expected {_TYPE_NAMES[kind]}, got {_describe(given)}"
    if kind in _BOUNDS:
        bound, words = _BOUNDS[kind]
        return f"must be {words} {error['ctx'][bound]}, got {given!r}"
    if kind == "too_short":
        return f"needs at least {error['ctx']['min_length']} item(s), got none"
    if kind == "value_error":
        return str(error["ctx"]["error"])
    if kind == "missing":
        return MISSING_KEY
    return f"{error['msg'][0].lower()}{error['msg'][1:]}, got {_describe(given)}"


def _describe(value: Any) -> str:
    if value is None:
        return "nothing (an empty value)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def _unwrap(annotation: Any) -> Any:
    """Optional[X] -> X, Annotated[X, ...] -> X; other unions stay."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            options = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(options) != 1:
                return annotation
            annotation = options[0]
        else:
            return annotation


def _model_class(annotation: Any) -> type[ConfigModel] | None:
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, ConfigModel):
        return annotation
    return None


def _child_type(annotation: Any, part: str | int) -> Any:
    """The type of the value at `part` inside a value of type `annotation` (None if unknown)."""
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if isinstance(part, str) and part in annotation.model_fields:
            return annotation.model_fields[part].annotation
        extra = typing.get_type_hints(annotation).get("__pydantic_extra__")
        return typing.get_args(extra)[1] if extra is not None else None
    origin = typing.get_origin(annotation)
    if origin is dict:
        return typing.get_args(annotation)[1]
    if origin is list and isinstance(part, int):
        return typing.get_args(annotation)[0]
    return None


def _literal_values(annotation: Any) -> tuple:
    annotation = _unwrap(annotation)
    if typing.get_origin(annotation) is Literal:
        return typing.get_args(annotation)
    return ()
