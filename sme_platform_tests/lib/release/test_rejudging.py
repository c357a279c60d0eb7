"""A model refused by the gate is judged again (trained again as a new version: training is
reproducible) when the gate's configuration has changed since; with the same configuration the
refusal stands, and a model that passed is never retrained for a gate change."""

from __future__ import annotations

from sme_platform.lib.release.gate import GateConfig
from sme_platform.lib.release.registry import register_version
from sme_platform.lib.training.registration import already_trained, training_code_version
from sme_platform_tests.lib.release.conftest import metadata
from sme_platform_tests.lib.release.test_promotion import NAME, gate

FEATURES = "fs-abc123"


def register(con, models_dir, run_id):
    meta = metadata(code_version=training_code_version(), feature_set_version=FEATURES)
    return register_version(con, models_dir, NAME, "tree\n", meta, run_id=run_id)


def test_a_refused_model_is_judged_again_after_the_gate_changed(con, models_dir):
    strict = GateConfig()
    v1 = register(con, models_dir, "r1").version
    assert gate(con, v1, cost=1000.0, run_id="r1").status == "champion"
    v2 = register(con, models_dir, "r2").version
    assert gate(con, v2, cost=1090.0, config=strict, run_id="r2").status == "archived"

    assert already_trained(con, NAME, FEATURES, strict).version == v2
    loosened = GateConfig(margin=0.0, max_segment_regression=0.5)
    assert already_trained(con, NAME, FEATURES, loosened) is None
    assert already_trained(con, NAME, "fs-other", strict) is None


def test_a_model_that_passed_is_not_retrained_for_a_gate_change(con, models_dir):
    v1 = register(con, models_dir, "r1").version
    assert gate(con, v1, cost=1000.0, run_id="r1").status == "champion"
    assert already_trained(con, NAME, FEATURES, GateConfig(margin=0.3)).version == v1
