"""The level correction: units sold over units forecast on the earlier folds, shrunk toward 1
and bounded, so one fold's surprise moves the next forecast only part of the way."""

import pytest

from sme_platform.lib.training.backtest import LEVEL_CORRECTION_STRENGTH, level_factor


def test_the_ratio_is_shrunk_toward_one():
    assert 0 < LEVEL_CORRECTION_STRENGTH < 1
    assert level_factor(120.0, 100.0) == pytest.approx(1.2**LEVEL_CORRECTION_STRENGTH)
    assert level_factor(80.0, 100.0) == pytest.approx(0.8**LEVEL_CORRECTION_STRENGTH)
    assert 1 < level_factor(120.0, 100.0) < 1.2


def test_bounded_and_neutral_without_evidence():
    assert level_factor(0.0, 100.0) == 1.0 and level_factor(100.0, 0.0) == 1.0
    assert level_factor(1000.0, 100.0) == pytest.approx(2.0**LEVEL_CORRECTION_STRENGTH)
    assert level_factor(1.0, 100.0) == pytest.approx(0.5**LEVEL_CORRECTION_STRENGTH)
