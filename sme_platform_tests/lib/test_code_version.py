"""Code versions follow every module the code they version imports, not a hand-kept list."""

import importlib
import sys

import pytest

from sme_platform.lib import asset_code_versions as assets
from sme_platform.lib import code_version
from sme_platform.lib.code_version import imported_modules, modules_hash
from sme_platform.lib.features.demand import definition_hash
from sme_platform.lib.features.events_refresh import events_code_version
from sme_platform.lib.monitoring.accuracy_refresh import accuracy_code_version
from sme_platform.lib.training import pipeline
from sme_platform.lib.training.registration import TRAINING_PACKAGE, training_code_version


@pytest.fixture
def package(tmp_path, monkeypatch):
    """A package `toypkg`: `a` imports `b` (as a module) and a function of `c`; `c` imports
    `d` inside a function; `unused` is imported by nobody; `a` also imports from outside."""
    root = tmp_path / "toypkg"
    root.mkdir()
    (root / "__init__.py").write_text("")
    (root / "a.py").write_text(
        "import json\nfrom toypkg import b\nfrom toypkg.c import helper\n\nVALUE = 1\n"
    )
    (root / "b.py").write_text("VALUE = 2\n")
    (root / "c.py").write_text("def helper():\n    from toypkg.d import VALUE\n    return VALUE\n")
    (root / "d.py").write_text("VALUE = 4\n")
    (root / "unused.py").write_text("VALUE = 5\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield root
    for name in [n for n in sys.modules if n == "toypkg" or n.startswith("toypkg.")]:
        del sys.modules[name]


def names(modules):
    return [m.__name__ for m in modules]


def test_the_closure_holds_every_module_imported_directly_or_through_another(package):
    a = importlib.import_module("toypkg.a")
    assert names(imported_modules(a, within="toypkg")) == [
        "toypkg.a",
        "toypkg.b",
        "toypkg.c",
        "toypkg.d",
    ]


def test_a_change_in_a_module_imported_two_steps_away_changes_the_hash(package):
    a = importlib.import_module("toypkg.a")
    before = modules_hash(*imported_modules(a, within="toypkg"))
    (package / "d.py").write_text("VALUE = 40\n")
    importlib.reload(importlib.import_module("toypkg.d"))
    after = modules_hash(*imported_modules(a, within="toypkg"))
    assert after != before


def test_a_module_nobody_imports_does_not_change_the_hash(package):
    a = importlib.import_module("toypkg.a")
    before = modules_hash(*imported_modules(a, within="toypkg"))
    (package / "unused.py").write_text("VALUE = 50\n")
    assert modules_hash(*imported_modules(a, within="toypkg")) == before


def test_an_empty_subpackage_is_part_of_the_closure_without_source(package):
    (package / "sub").mkdir()
    (package / "sub" / "__init__.py").write_text("")
    (package / "b.py").write_text("from toypkg import sub\n\nVALUE = 2\n")
    a = importlib.import_module("toypkg.a")
    closure = imported_modules(a, within="toypkg")
    assert "toypkg.sub" in names(closure)
    assert len(modules_hash(*closure)) == 16


def test_the_training_code_version_covers_the_judge_and_the_level_correction():
    covered = {
        m.__name__.rsplit(".", 1)[1] for m in imported_modules(pipeline, within=TRAINING_PACKAGE)
    }
    # The simulation's safety stock and the level correction were split out of modules in the
    # hand-kept list, and a change to them retrained nothing.
    assert {"safety_stock", "level_correction", "business", "metrics", "model", "frames"} <= covered
    # What registers or summarises a model does not change it.
    assert not covered & {"registration", "forecast_summary", "retraining"}


def edit_sources(monkeypatch, touched) -> None:
    """Every module whose name `touched` accepts reads as edited (a comment added)."""
    original = code_version._source
    monkeypatch.setattr(
        code_version,
        "_source",
        lambda module: original(module) + ("\n# edited" if touched(module.__name__) else ""),
    )


# The safety stock and the level correction were split out of modules in the training's
# hand-kept list, and the optional inputs' SQL (products, locations, prices) and the events'
# refresh were never in the feature definition's: a change there retrained nothing, or reused
# the stored feature rows of the old code.
@pytest.mark.parametrize(
    ("version", "changed"),
    [
        *[(training_code_version, m) for m in ("safety_stock", "level_correction")],
        (training_code_version, "holiday_countries"),
        *[(definition_hash, m) for m in ("optional_inputs", "events_refresh", "settings")],
        *[(definition_hash, m) for m in ("demand", "origins")],
        # Left out of the asset code versions' hand-kept lists: the forecast ceiling changed
        # the published forecasts, the PDF renderer the compliance report.
        *[(assets.forecast_code_version, m) for m in ("training.model", "release.registry")],
        *[(assets.compliance_code_version, m) for m in ("compliance.pdf", "dashboard.render")],
        *[(assets.release_code_version, m) for m in ("release.gate_rows", "training.scoring")],
        (assets.release_code_version, "features.events"),
        (assets.dashboard_code_version, "monitoring.live_roi"),
        (assets.monitoring_code_version, "training.business"),
        (accuracy_code_version, "monitoring.tables"),
        (events_code_version, "features.optional_inputs"),
    ],
)
def test_a_change_to_a_module_a_version_depends_on_changes_it(monkeypatch, version, changed):
    before = version()
    edit_sources(monkeypatch, lambda name: name.endswith(changed))
    assert version() != before


# What registers a model does not change it; the training code does not change the features.
@pytest.mark.parametrize(
    ("version", "outside"),
    [
        (training_code_version, ".registration"),
        (definition_hash, ".training.model"),
        (assets.release_code_version, ".monitoring."),
        (assets.dashboard_code_version, ".release."),
        (events_code_version, ".monitoring."),
    ],
)
def test_a_change_outside_what_a_version_covers_leaves_it(monkeypatch, version, outside):
    before = version()
    edit_sources(monkeypatch, lambda name: outside in name)
    assert version() == before
