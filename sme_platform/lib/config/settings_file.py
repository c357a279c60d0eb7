"""Loading a project's optional YAML settings file into its pydantic model, with errors that
name the file and each key (forecasting.yaml, automation.yaml)."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

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
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in problem.errors()
        )
        raise error(f"{path}: {problems}") from problem
