"""Loading a project's optional YAML settings file into its pydantic model, with errors that
name the file and each key (forecasting.yaml, automation.yaml)."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import TypeVar, get_args

import yaml
from pydantic import BaseModel, ValidationError

from sme_platform.lib.config.yaml_text import load_yaml

Settings = TypeVar("Settings", bound=BaseModel)


def load_settings_file(path: Path, model: type[Settings], error: type[ValueError]) -> Settings:
    """The file's settings, or the defaults when there is no file; `error` names the file and
    every key that is wrong."""
    if not path.exists():
        return model()
    try:
        return model.model_validate(load_yaml(path.read_text(encoding="utf-8")) or {})
    except yaml.YAMLError as problem:
        raise error(f"{path}: not valid YAML: {problem}") from problem
    except ValidationError as problem:
        lines = [
            f"{path}: {'.'.join(str(p) for p in e['loc'])}: {e['msg']}{_suggestion(model, e)}"
            for e in problem.errors(include_url=False)
        ]
        raised = error("\n".join(lines))
        raised.lines = lines  # one per problem, as sources.yaml's (`sme-platform check`)
        raise raised from problem


def _suggestion(model: type[BaseModel], error: dict) -> str:
    """For a misspelt key, the key it was probably meant to be, with its path."""
    if error["type"] != "extra_forbidden" or not error["loc"]:
        return ""
    *parents, key = [str(part) for part in error["loc"]]
    owner: type[BaseModel] | None = model
    for part in parents:
        owner = _nested_model(owner, part) if owner else None
    if owner is None:
        return ""
    close = difflib.get_close_matches(key, list(owner.model_fields), n=1, cutoff=0.6)
    return f"; did you mean {'.'.join([*parents, close[0]])}?" if close else ""


def _nested_model(model: type[BaseModel], key: str) -> type[BaseModel] | None:
    field = model.model_fields.get(key)
    if field is None:
        return None
    for candidate in (field.annotation, *get_args(field.annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None
