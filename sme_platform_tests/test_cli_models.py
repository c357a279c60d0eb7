"""`sme-platform models | approve | rollback` on a project folder whose registry the test
builds through the library: what they print, what they change, and the run history."""

from __future__ import annotations

import dagster as dg
import pytest
from typer.testing import CliRunner

from sme_platform.cli import app
from sme_platform.lib.audit.log import read_events
from sme_platform.lib.project import ProjectPaths
from sme_platform.lib.release.registry import list_versions, register_version
from sme_platform.lib.release.status import transition
from sme_platform.lib.warehouse import connect
from sme_platform_tests.defs.test_release_jobs import make_registry
from sme_platform_tests.lib.release.conftest import MODEL_TEXT, metadata, register

NAME = "demand_forecast"


@pytest.fixture
def project(tmp_path, monkeypatch):
    root = tmp_path / "acme"
    root.mkdir()
    (root / "sources.yaml").write_text("root: exports\nsources: {}\n", encoding="utf-8")
    # the commands point the process at the project: restored after each test
    monkeypatch.setenv("SME_PLATFORM_DIR", str(root))
    monkeypatch.setenv("DAGSTER_HOME", str(root / ".dagster_home"))
    monkeypatch.setenv("COLUMNS", "200")  # rich would wrap the table at the runner's 80
    make_registry(root)  # v1 archived, v2 champion, v3 challenger (high impact)
    return root


def invoke(*args):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def statuses(root):
    with connect(ProjectPaths.at(root).warehouse, read_only=True) as con:
        return {v.version: (v.status, v.approved_by) for v in list_versions(con, NAME)}


def runs(root):
    with dg.DagsterInstance.from_config(str(root / ".dagster_home")) as instance:
        return [(run.job_name, run.is_success) for run in reversed(instance.get_runs())]


def test_models_lists_versions_with_status_and_holdout_figures(project, tmp_path):
    result = invoke("models", "--project-dir", str(project))
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if NAME in line]
    assert len(lines) == 3
    assert "v2" in lines[1] and "champion" in lines[1]
    assert "challenger *" in lines[2] and lines[2].rstrip(" │").endswith("awaited")
    assert "* high impact: released only after an approval" in result.output
    for figure in ("0.910", "-4.0%", "1,234.5"):
        assert figure in lines[0]
    for column in ("WAPE", "bias", "business cost", "approved by"):
        assert column in result.output

    unknown = invoke("models", "ticket_router", "--project-dir", str(project))
    assert unknown.exit_code == 1
    assert "No versions of ticket_router (registered models: demand_forecast)." in unknown.output
    empty = invoke("models", "--project-dir", str(tmp_path / "nowhere"))
    assert empty.exit_code == 0 and "No model registered yet" in empty.output


REFUSAL = (
    "category Garden & Outdoor: business cost 530.0 is 69.4 % worse than the champion's 312.8 "
    "(at most 25 % allowed) [/red] [link=x]"
)


def refuse_a_candidate(root):
    """v4 registered and refused by the gate: archived, like the champion v2 replaced."""
    with connect(ProjectPaths.at(root).warehouse) as con:
        version = register(con, ProjectPaths.at(root).data_dir / "models").version
        transition(
            con, NAME, version, "archived", actor="run:r4", reason=REFUSAL, event="gate_refused"
        )
    return version


def table_rows(output: str) -> dict[str, list[str]]:
    """The models table's rows by version, a wrapped cell's lines joined."""
    rows: dict[str, list[str]] = {}
    last = None
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.split("│")[1:-1]]
        if len(cells) < 3:
            continue
        if cells[0] == NAME:
            last = rows[cells[1]] = cells
        elif last is not None and not cells[0]:
            rows[last[1]] = last = [f"{a} {b}".strip() for a, b in zip(last, cells, strict=True)]
    return rows


def test_models_says_which_decision_gave_each_version_its_status(project):
    # A refused candidate and a replaced champion are both archived: the decision column
    # tells them apart (from the audit log).
    assert refuse_a_candidate(project) == "v4"
    result = invoke("models", "--project-dir", str(project))
    assert result.exit_code == 0, result.output
    rows = table_rows(result.output)
    assert {version: (row[2], row[3]) for version, row in rows.items()} == {
        "v1": ("archived", "replaced by v2"),
        "v2": ("champion", "promoted"),
        "v3": ("challenger *", "gate passed"),
        "v4": ("archived", "gate refused"),
    }
    assert "why: sme-platform models NAME VERSION" in result.output


def test_a_name_with_brackets_is_printed_as_typed(project):
    # rich reads "[/red]" as markup: printed as markup, such a name made the listing fail.
    from sme_platform.lib.release.approvals import approve

    with connect(ProjectPaths.at(project).warehouse) as con:
        approve(con, NAME, "v3", by="Ana [/red] Ruiz", note="reviewed [bold]")
    result = invoke("models", "--project-dir", str(project))
    assert result.exit_code == 0, result.output
    assert table_rows(result.output)["v3"][-1] == "Ana [/red] Ruiz"
    detail = invoke("models", NAME, "v3", "--project-dir", str(project))
    assert detail.exit_code == 0, detail.output
    assert "by Ana [/red] Ruiz on " in detail.output and "reviewed [bold]" in detail.output


def test_models_name_version_shows_its_provenance_and_every_decision_in_full(project):
    refuse_a_candidate(project)
    result = invoke("models", NAME, "4", "--project-dir", str(project))
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert text.startswith("demand_forecast v4: archived (gate refused on ")
    with connect(ProjectPaths.at(project).warehouse, read_only=True) as con:
        v4 = next(v for v in list_versions(con, NAME) if v.version == "v4")
    artifact = ProjectPaths.at(project).data_dir / "models" / v4.artifact_path
    unbroken = "".join(result.output.split())  # long values fold across lines
    for fact in (v4.artifact_sha256, v4.feature_set_version, v4.code_version, str(artifact)):
        assert fact in unbroken
    # the reason in full, as typed: brackets are text, not markup
    history = " ".join(
        " ".join(line.split("│")[4:5]).strip() for line in result.output.splitlines()
    )
    assert " ".join(REFUSAL.split()) in " ".join(history.split())
    assert "gate_refused" in text and "trained" in text and "run:r4" in text

    champion = invoke("models", NAME, "v2", "--project-dir", str(project))
    assert champion.exit_code == 0
    assert "demand_forecast v2: champion (promoted on " in champion.output
    assert "previous champion v1" in " ".join(champion.output.split())

    unknown = invoke("models", NAME, "v9", "--project-dir", str(project))
    assert unknown.exit_code == 1
    assert (
        "demand_forecast v9: no such version in ml.model_registry (registered versions of "
        "demand_forecast: v1, v2, v3, v4)"
    ) in " ".join(unknown.output.split())
    malformed = invoke("models", NAME, "latest", "--project-dir", str(project))
    assert malformed.exit_code == 1
    assert "'latest' is not a model version (expected v1, v2, ...)" in malformed.output


def register_with(project, **overrides) -> str:
    """A new version of the model with these metadata fields, registered as a run would."""
    with connect(ProjectPaths.at(project).warehouse) as con:
        return register_version(
            con,
            ProjectPaths.at(project).data_dir / "models",
            NAME,
            MODEL_TEXT,
            metadata(**overrides),
            run_id="run-9",
        ).version


@pytest.mark.parametrize(
    ("warmup", "expected"),
    [
        (
            {"origin": "2025-09-01", "rows": 28_000, "sold": 5123.4, "forecast": 4811.0},
            "forecasts x 1.048: units sold over units forecast on the backtest's windows, "
            "shrunk toward 1, the warm-up fold from 2025-09-01 included (5,123 sold, 4,811 "
            "forecast)",
        ),
        (
            {
                "origin": "2025-09-01",
                "skipped": "history too short for a warm-up fold: no series active at its origin",
            },
            "shrunk toward 1; history too short for a warm-up fold: no series active at its origin",
        ),
        (
            None,
            "forecasts x 1.048: units sold over units forecast on the backtest's windows, "
            "shrunk toward 1 ",
        ),
    ],
)
def test_models_name_version_says_what_its_forecasts_are_scaled_by(project, warmup, expected):
    parameters = {"level_factor": 1.0481, **({"level_warmup": warmup} if warmup else {})}
    version = register_with(project, parameters=parameters)
    result = invoke("models", NAME, version, "--project-dir", str(project))
    assert result.exit_code == 0, result.output
    assert expected in " ".join(result.output.split()) + " "


def test_approve_records_the_approval_as_a_run_of_the_project(project):
    result = invoke(
        "approve",
        NAME,
        "v3",
        "--by",
        "Ana Ruiz",
        "--note",
        "reviewed the dairy segment",
        "--project-dir",
        str(project),
    )
    assert result.exit_code == 0, result.output
    assert "demand_forecast v3 approved by Ana Ruiz: reviewed the dairy segment" in result.output
    assert statuses(project)["v3"] == ("challenger", "Ana Ruiz")
    # The release step, the forecasts and the analyst database run at once, in a run of their
    # own. This registry was built without a training run, so there is no model for the
    # release step to judge and v3 waits; the command says so instead of claiming a release.
    assert "Releasing it (the release step, the forecasts, the analyst database):" in result.output
    assert (
        "demand_forecast v3 is challenger, approved: the release step releases it in the next "
        "run that has a trained model to judge"
    ) in " ".join(result.output.split())
    assert runs(project) == [("approve_model_job", True), ("materialize_all", True)]
    with connect(ProjectPaths.at(project).analyst_database, read_only=True) as con:
        assert con.execute(
            "select approved_by from ml.model_registry where version = 'v3'"
        ).fetchall() == [("Ana Ruiz",)]
    listed = invoke("models", NAME, "--project-dir", str(project))
    v3 = next(line for line in listed.output.splitlines() if "v3" in line)
    assert "Ana Ruiz" in v3 and "awaited" not in v3

    again = invoke(
        "approve", NAME, "v2", "--by", "Ana Ruiz", "--note", "x", "--project-dir", str(project)
    )
    assert again.exit_code == 1
    assert (
        "approve_model_job failed: approval of demand_forecast v2: only a challenger "
        "(a version that passed the gate) can be approved; v2 is champion"
    ) in again.output.replace("\n", " ")
    assert runs(project) == [
        ("approve_model_job", True),
        ("materialize_all", True),
        ("approve_model_job", False),
    ]


def test_rollback_reinstates_the_previous_champion_and_says_how_to_rescore(project):
    result = invoke(
        "rollback",
        NAME,
        "--by",
        "Ana Ruiz",
        "--reason",
        "stock-outs doubled",
        "--project-dir",
        str(project),
    )
    assert result.exit_code == 0, result.output
    assert (
        "demand_forecast: v1 is champion again (rolled back by Ana Ruiz: stock-outs doubled)"
        in (result.output)
    )
    # the forecasts are scored again at once, in a run of their own
    assert "Re-scoring the forecasts with th" in result.output
    assert "succeeded" in result.output
    assert statuses(project) == {
        "v1": ("champion", None),
        "v2": ("rolled_back", None),
        "v3": ("challenger", None),
    }
    with connect(ProjectPaths.at(project).warehouse, read_only=True) as con:
        events = read_events(con, NAME)
    assert [(e.event, e.model_version, e.actor) for e in events[-2:]] == [
        ("rolled_back", "v2", "Ana Ruiz"),
        ("promoted", "v1", "Ana Ruiz"),
    ]
    # the rollback, then the re-scoring (which finds no feature set in this registry-only
    # project and says so) and the analyst database, which shows the reinstated champion
    assert sorted(runs(project)) == [("materialize_all", True), ("rollback_model_job", True)]
    with connect(ProjectPaths.at(project).analyst_database, read_only=True) as con:
        assert con.execute(
            "select version, status from ml.model_registry order by version"
        ).fetchall() == [("v1", "champion"), ("v2", "rolled_back"), ("v3", "challenger")]

    nothing = invoke(
        "rollback",
        NAME,
        "--to",
        "v2",
        "--by",
        "Ana Ruiz",
        "--reason",
        "x",
        "--project-dir",
        str(project),
    )
    assert nothing.exit_code == 1
    assert "only an archived former champion can be reinstated; v2 is rolled_back" in (
        nothing.output.replace("\n", " ")
    )


def test_a_rollback_to_a_changed_artifact_is_refused_with_nothing_changed(project):
    import hashlib

    with connect(ProjectPaths.at(project).warehouse, read_only=True) as con:
        v1 = next(v for v in list_versions(con, NAME) if v.version == "v1")
        events_before = len(read_events(con, NAME))
    artifact = ProjectPaths.at(project).models_dir / v1.artifact_path
    artifact.write_text(artifact.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    changed = hashlib.sha256(artifact.read_bytes()).hexdigest()

    result = invoke(
        "rollback", NAME, "--by", "Ana Ruiz", "--reason", "x", "--project-dir", str(project)
    )
    assert result.exit_code == 1, result.output
    output = " ".join(result.output.split())  # rich wraps long lines
    assert "rollback of demand_forecast to v1: refused, nothing was changed" in output
    assert "(v2 stays champion)" in output
    for named in (str(artifact), v1.artifact_sha256, changed):
        assert named in result.output.replace("\n", "")
    # No status moved and nothing was audited; the forecasts were not re-scored.
    assert statuses(project) == {
        "v1": ("archived", None),
        "v2": ("champion", None),
        "v3": ("challenger", None),
    }
    with connect(ProjectPaths.at(project).warehouse, read_only=True) as con:
        assert len(read_events(con, NAME)) == events_before
    assert runs(project) == [("rollback_model_job", False)]


def test_rollback_rescores_the_forecasts_in_a_run_of_its_own_when_the_graph_has_them(
    project, monkeypatch
):
    import sme_platform.cli_models as cli_models
    import sme_platform.cli_runs as cli_runs
    from sme_platform.defs.release.jobs import RESCORED_BY_LAUNCHER_TAG

    materialized = []

    def materialize(select, run_id):
        # the rollback's run has ended and given the warehouse back: this is a turn of its own
        holder = ProjectPaths.at(project).warehouse_lock.read_text(encoding="utf-8")
        materialized.append((select, run_id, run_id in holder))
        return True

    monkeypatch.setattr(cli_models, "_graph_has", lambda key: True)
    monkeypatch.setattr(cli_runs, "materialize", materialize)
    result = invoke(
        "rollback",
        NAME,
        "--by",
        "Ana Ruiz",
        "--reason",
        "stock-outs doubled",
        "--project-dir",
        str(project),
    )
    assert result.exit_code == 0, result.output
    assert "Re-scoring the forecasts with the reinstated champion" in result.output
    ((select, run_id, holds_turn),) = materialized
    assert select == 'key:"ml/demand_forecast" or key:"governance/analyst_database"'
    assert holds_turn
    with dg.DagsterInstance.from_config(str(project / ".dagster_home")) as instance:
        (rollback_run,) = instance.get_runs()
        # the CLI re-scores itself, so the sensor must not do it again
        assert rollback_run.tags[RESCORED_BY_LAUNCHER_TAG] == "true"
        assert rollback_run.run_id != run_id


def test_a_challenger_in_canary_shows_its_share():
    from types import SimpleNamespace

    from sme_platform.cli_models import _approval_label, _decision_label, _status_label

    canary = SimpleNamespace(
        status="challenger", canary_share=0.2, high_impact=False, approved_by=None
    )
    labels = (_status_label(canary), _decision_label(canary, None), _approval_label(canary))
    assert labels == ("challenger", "canary on 20%", "")
    waiting = SimpleNamespace(
        status="challenger", canary_share=None, high_impact=True, approved_by=None
    )
    assert (_status_label(waiting), _approval_label(waiting)) == ("challenger *", "awaited")


def test_models_name_version_says_how_sure_its_cost_lead_is(project):
    business = {
        "cost_against_others": {
            "all_windows": {
                "statsforecast.ADIDA": {"ratio": -0.031, "low": -0.086, "high": 0.022},
                "seasonal_naive": {"ratio": -0.30, "low": -0.35, "high": -0.25},
            },
            "holdout": {"statsforecast.ADIDA": {"ratio": 0.159, "low": -0.005, "high": 0.312}},
        }
    }
    version = register_with(project, business=business)
    result = invoke("models", NAME, version, "--project-dir", str(project))
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    # The rivals closest to (or ahead of) the model first.
    assert (
        "cost against others statsforecast.ADIDA: -3.1 % (90 % interval over series -8.6 % to "
        "+2.2 %) over every window; +15.9 % (90 % interval over series -0.5 % to +31.2 %) on "
        "the holdout seasonal_naive: -30.0 % (90 % interval over series -35.0 % to -25.0 %) "
        "over every window"
    ) in said
