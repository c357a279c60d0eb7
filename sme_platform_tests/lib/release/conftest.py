"""A warehouse on tmp_path with a models folder, and a helper registering tiny versions."""

from __future__ import annotations

import pytest

from sme_platform.lib.release.registry import register_version
from sme_platform.lib.warehouse import connect

# Not a real LightGBM model: the registry stores and checks text, it never parses it.
MODEL_TEXT = "tree\nversion=v4\nnum_class=1\n"


def metadata(**overrides):
    return {
        "feature_set_version": "fs-abc123",
        "training_data_versions": {"raw/sales_lines": "load-1"},
        "code_version": "code-1",
        "parameters": {"objective": "tweedie", "seed": 7},
        "metrics": {"wape": 0.91, "bias": -0.04, "business_cost": 1234.5},
        "backtest": {"folds": 4},
        "business": {"lost_margin": 1000.0, "holding_cost": 234.5},
        **overrides,
    }


@pytest.fixture
def con(tmp_path):
    with connect(tmp_path / "warehouse.duckdb") as connection:
        yield connection


@pytest.fixture
def models_dir(tmp_path):
    return tmp_path / "models"


def register(con, models_dir, name="demand_forecast", text=MODEL_TEXT, run_id="run-1", **kwargs):
    return register_version(con, models_dir, name, text, metadata(), run_id=run_id, **kwargs)
