"""benchmarks/forecast.py judges coverage against the platform's own nominal: its parent process
imports none of the platform (its children measure it), so it keeps a copy, held equal here."""

import importlib.util
import sys
from pathlib import Path

from sme_platform.lib.training.conformal import NOMINAL_COVERAGE
from sme_platform.lib.training.training_checks import COVERAGE_TOLERANCE

PATH = Path(__file__).parents[1] / "benchmarks" / "forecast.py"


def test_the_benchmark_targets_the_platforms_nominal_coverage():
    spec = importlib.util.spec_from_file_location("forecast_benchmark", PATH)
    forecast = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = forecast
    spec.loader.exec_module(forecast)
    assert forecast.NOMINAL_COVERAGE == NOMINAL_COVERAGE
    assert forecast.COVERAGE_TOLERANCE == COVERAGE_TOLERANCE
