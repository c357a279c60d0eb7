"""Where a project's files live: one folder per company, holding sources.yaml and data/."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from sme_platform.lib.config.yaml_text import load_yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
# The SQL models are the platform's, shared by every project folder.
SQL_MODELS_DIR = REPO_ROOT / "dbt_like_sql"

DAGSTER_YAML = """\
# Written by sme-platform. One instance per project folder: CLI runs, the schedule and the UI
# share this run history. Nothing phones home.
telemetry:
  enabled: false
nux:
  enabled: false
# DuckDB allows one writing process per file: runs queue up and go one at a time.
run_queue:
  max_concurrent_runs: 1
# A run stuck STARTING (its worker never came up) is marked failed after 3 minutes, so it does
# not hold the queue. A run whose process died after it started is marked failed by the next
# run, the sensor mark_dead_runs_failed or `sme-platform ui` when it starts (Dagster's default
# run launcher cannot check a started run's process).
run_monitoring:
  enabled: true
  start_timeout_seconds: 180
  cancel_timeout_seconds: 180
  poll_interval_seconds: 30
# The freshness policies of the sources and the KPI reports (automation.yaml) are evaluated, and
# shown in the UI, only when this is on: a preview feature in Dagster 1.13.
freshness:
  enabled: true
"""


@dataclass(frozen=True)
class ProjectPaths:
    root: Path

    @classmethod
    def at(cls, root: Path | str) -> ProjectPaths:
        return cls(Path(root).resolve())

    @property
    def sources_file(self) -> Path:
        return self.root / "sources.yaml"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def warehouse(self) -> Path:
        return self.data_dir / "warehouse.duckdb"

    @property
    def models_dir(self) -> Path:
        """Model artifacts: <model_name>/<version>/model.txt and metadata.json."""
        return self.data_dir / "models"

    @property
    def analyst_database(self) -> Path:
        """The read-only snapshot analysts query; replaced whole after each successful run."""
        return self.data_dir / "analytics.duckdb"

    @property
    def rejected_files(self) -> Path:
        """Copies of source files that could not be read at all, kept for inspection."""
        return self.data_dir / "quarantine" / "files"

    @property
    def reports_dir(self) -> Path:
        """HTML reports: monitoring/<model>/<date>.html (Evidently's), dashboards."""
        return self.data_dir / "reports"

    @property
    def demo_exports(self) -> Path:
        return self.data_dir / "demo" / "exports"

    @property
    def demo_held_back(self) -> Path:
        """Exports the demo's release story holds back until a later night."""
        return self.data_dir / "demo" / "held_back"

    @property
    def dagster_home(self) -> Path:
        return self.root / ".dagster_home"

    @property
    def warehouse_lock(self) -> Path:
        """Held by the run that writes the warehouse (see lib/run_lock.py)."""
        return self.data_dir / ".warehouse.lock"

    def ensure_dagster_home(self) -> Path:
        """Create the instance folder with its dagster.yaml. An existing one keeps what it says;
        a top-level section it lacks (e.g. run_monitoring, added later) is appended."""
        self.dagster_home.mkdir(mode=0o700, parents=True, exist_ok=True)  # run history: private
        config = self.dagster_home / "dagster.yaml"
        if not config.exists():
            config.write_text(DAGSTER_YAML, encoding="utf-8")
            return self.dagster_home
        text = config.read_text(encoding="utf-8")
        present = _keys(config, text)
        missing = [block for key, block in _sections(DAGSTER_YAML) if key not in present]
        if missing:
            separator = "" if text.endswith("\n") or not text else "\n"
            config.write_text(text + separator + "".join(missing), encoding="utf-8")
        return self.dagster_home


def _sections(document: str) -> list[tuple[str, str]]:
    """The top-level sections of a YAML text as (key, text with the comments above it)."""
    sections: list[tuple[str, str]] = []
    pending: list[str] = []
    for line in document.splitlines(keepends=True):
        if line[:1].isalpha():
            sections.append((line.split(":", 1)[0], ""))
        if sections and (line[:1].isalpha() or line[:1] == " "):
            key, block = sections[-1]
            sections[-1] = (key, block + "".join(pending) + line)
            pending = []
        else:
            pending.append(line)
    return sections


def _keys(config: Path, document: str) -> set[str]:
    try:
        loaded = load_yaml(document)
    except yaml.YAMLError as error:
        raise ValueError(f"{config} is not valid YAML: {error}") from error
    return set(loaded) if isinstance(loaded, dict) else set()
