"""`sme-platform check`: every configuration file of a project validated in one pass.

sources.yaml and the header of every SQL model are read and all their problems collected, so a
data team fixes them in one round instead of one run per mistake. `run`, `demo` and the loading
of the Dagster definitions stop on the same lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sme_platform.lib.automation import AutomationConfigError, load_automation_config
from sme_platform.lib.sources import SourcesConfigError, load_sources
from sme_platform.lib.sql_models.errors import ModelGraphError
from sme_platform.lib.sql_models.graph import load_model_graph
from sme_platform.lib.training.config import ForecastingConfigError, load_forecasting_config


@dataclass(frozen=True)
class ConfigurationCheck:
    sources: int  # sources.yaml's sources, when it is valid
    models: int  # SQL models, when they all load
    problems: tuple[str, ...]  # one line each: file, key path, what is wrong and allowed

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def summary(self) -> str:
        sources = f"{self.sources} source{'' if self.sources == 1 else 's'}"
        return f"configuration OK: {sources}, {self.models} SQL models"


def check_configuration(project_dir: Path, models_dir: Path) -> ConfigurationCheck:
    problems: list[str] = []
    sources = models = 0
    try:
        sources = len(load_sources(project_dir).sources)
    except SourcesConfigError as error:
        problems.extend(error.lines)
    try:
        models = len(load_model_graph(models_dir).models)
    except ModelGraphError as error:
        problems.extend(error.lines)
    try:
        load_forecasting_config(project_dir)
    except ForecastingConfigError as error:
        problems.extend(getattr(error, "lines", [str(error)]))
    try:
        load_automation_config(project_dir)
    except AutomationConfigError as error:
        problems.extend(getattr(error, "lines", [str(error)]))
    return ConfigurationCheck(sources, models, tuple(problems))
