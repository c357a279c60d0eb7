"""Where a project's files live: one folder per company, holding sources.yaml and data/."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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
    def analyst_database(self) -> Path:
        """The read-only snapshot analysts query; replaced whole after each successful run."""
        return self.data_dir / "analytics.duckdb"

    @property
    def rejected_files(self) -> Path:
        """Copies of source files that could not be read at all, kept for inspection."""
        return self.data_dir / "quarantine" / "files"

    @property
    def demo_exports(self) -> Path:
        return self.data_dir / "demo" / "exports"

    @property
    def dagster_home(self) -> Path:
        return self.root / ".dagster_home"

    def ensure_dagster_home(self) -> Path:
        """Create the instance folder with its dagster.yaml; an existing one is left as it is."""
        self.dagster_home.mkdir(parents=True, exist_ok=True)
        config = self.dagster_home / "dagster.yaml"
        if not config.exists():
            config.write_text(DAGSTER_YAML, encoding="utf-8")
        return self.dagster_home
