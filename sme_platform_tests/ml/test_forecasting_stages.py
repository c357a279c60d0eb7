"""The forecasting stages as Dagster runs them: features -> training -> release -> forecasts,
on small synthetic companies (a learnable demand and plain noise)."""

from __future__ import annotations

import json

import dagster as dg
import pytest

from sme_platform.cli_output import console, print_forecasting
from sme_platform.defs.features.assets import demand_features
from sme_platform.defs.release.assets import demand_forecast, demand_forecast_release
from sme_platform.defs.release.jobs import AFTER_APPROVAL, ANALYST_DATABASE_KEY
from sme_platform.defs.resources import ProjectResource
from sme_platform.defs.training.assets import demand_forecast_model
from sme_platform.lib.dashboard.data import collect
from sme_platform.lib.dashboard.render import render
from sme_platform.lib.release.approvals import approve
from sme_platform.lib.training.forecast_summary import summarize_forecasting
from sme_platform.lib.training.retraining import RETRAIN_TRIGGER_TAG
from sme_platform.lib.warehouse import connect
from sme_platform_tests.ml.synthetic_company import (
    LOCATIONS,
    SKUS,
    add_days,
    add_price_plan,
    write_company,
)

STAGES = [demand_features, demand_forecast_model, demand_forecast_release, demand_forecast]
SERIES = len(SKUS) * len(LOCATIONS)


def materialize(project, instance) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        STAGES,
        resources={"project": ProjectResource(project_dir=str(project))},
        instance=instance,
        raise_on_error=True,
    )


def query(project, sql, params=None):
    with connect(project / "data" / "warehouse.duckdb", read_only=True) as con:
        return con.execute(sql, params or {}).fetchall()


def checks(result) -> dict[str, tuple[bool, str, str]]:
    return {
        e.asset_check_evaluation_data.check_name: (
            e.asset_check_evaluation_data.passed,
            e.asset_check_evaluation_data.severity.value,
            e.asset_check_evaluation_data.description,
        )
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }


@pytest.fixture
def instance(tmp_path):
    (tmp_path / "dagster_home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster_home")) as instance:
        yield instance


def test_a_learnable_demand_is_trained_promoted_and_published(tmp_path, instance):
    project = tmp_path / "company"
    write_company(project, days=420, pattern="learnable")
    result = materialize(project, instance)
    evaluated = checks(result)
    assert evaluated["no_leakage"][0] and evaluated["feature_values_valid"][0]
    assert evaluated["backtest_complete"][0]
    passed, _, description = evaluated["promotion_gate"]
    assert passed, description
    assert "becomes champion" in description
    # How sure the comparison is: the training step's interval over series, in the registry.
    assert "90 % interval over series" in description
    ((business,),) = query(project, "select business::varchar from ml.model_registry")
    intervals = json.loads(business)["cost_against_others"]
    assert set(intervals) == {"all_windows", "holdout", "segments"}
    segments = intervals.pop("segments")
    assert set(segments["all_windows"]) == {"category", "location"}
    for window in intervals.values():
        assert "lightgbm" not in window and "statsforecast.ADIDA" in window
        for figures in window.values():
            assert figures["low"] <= figures["ratio"] <= figures["high"]

    assert query(project, "select version, status from ml.model_registry") == [("v1", "champion")]
    events = query(
        project, "select event, subject from governance.audit_log where model_name is not null"
    )
    assert sorted(events) == [
        ("gate_passed", "model:demand_forecast"),
        ("promoted", "model:demand_forecast"),
        ("published", "asset:ml/demand_forecast"),
        ("trained", "model:demand_forecast"),
    ]
    # Every method judged on every fold, the model cheapest on the holdout.
    methods = query(
        project,
        """select model from ml.backtest_results where fold = 'holdout'
           and segment_type = 'overall' order by business_cost""",
    )
    assert methods[0] == ("lightgbm",)
    assert {m for (m,) in methods} == {
        "lightgbm",
        "seasonal_naive",
        "moving_average_28",
        "statsforecast.ADIDA",
        "statsforecast.CrostonOptimized",
        "statsforecast.AutoETS",
    }
    # The forecast: every series x 14 days, from v1, with intervals the right way round and
    # holding the forecast itself.
    rows = query(
        project,
        """select count(*), count(distinct (sku, location_id)), min(horizon), max(horizon),
                  any_value(model_version), bool_and(0 <= interval_low
                  and interval_low <= prediction and prediction <= interval_high), min(date)
           from ml.demand_forecast""",
    )[0]
    assert rows[:6] == (SERIES * 14, SERIES, 1, 14, "v1", True)
    newest = query(project, "select max(order_date) from staging.sales_lines")[0][0]
    assert str(rows[6]) == str(newest + __import__("datetime").timedelta(days=1))
    # The artifact is where the registry says, and its hash matches.
    path, sha = query(project, "select artifact_path, artifact_sha256 from ml.model_registry")[0]
    import hashlib

    artifact = project / "data" / "models" / path
    assert hashlib.sha256(artifact.read_bytes()).hexdigest() == sha
    metadata = json.loads((artifact.parent / "metadata.json").read_text())
    assert (
        metadata["feature_set_version"]
        == query(project, "select version from features.feature_set_versions")[0][0]
    )
    # Several locations: the trees' score is against the series' level, recorded for scoring.
    assert metadata["parameters"]["offset_windows"] == [28, 182]

    # The synthetic company's locations have no country: the training says it had no holidays.
    trained = result.asset_materializations_for_node("demand_forecast_model")[0].metadata
    assert (trained["holiday_country"].value, trained["public_holidays"].value) == ("none", 0)

    # A second night with nothing new: nothing retrained, the decision stands.
    again = materialize(project, instance)
    assert query(project, "select count(*) from ml.model_registry") == [(1,)]
    assert "judged before" in checks(again)["promotion_gate"][2]

    # Two new days (retraining every 7): the features of a night that trains nothing are the
    # scoring rows alone, judged, and v1 forecasts from them.
    add_days(project, first_day=420, days=2, pattern="learnable", run=2)
    night = materialize(project, instance)
    features = night.asset_materializations_for_node("demand_features")[0].metadata
    assert features["scoring_only"].value is True
    assert "no training rows: not retrained: v1 learned from data up to" in (
        features["series_and_budget"].value
    )
    assert features["dagster/row_count"].value == SERIES
    assert checks(night)["no_leakage"][0] and checks(night)["feature_values_valid"][0]
    assert query(project, "select any_value(model_version), min(date) from ml.demand_forecast") == [
        ("v1", newest + __import__("datetime").timedelta(days=3))
    ]
    # The model alone, asked to train on them (a trigger), refuses: no training rows were built.
    alone = dg.materialize(
        STAGES,
        selection="training/demand_forecast_model",
        resources={"project": ProjectResource(project_dir=str(project))},
        instance=instance,
        tags={RETRAIN_TRIGGER_TAG: "a person asked"},
        raise_on_error=False,
    )
    assert not alone.success
    (failure,) = [e for e in alone.all_events if e.is_step_failure]
    message = str(failure.event_specific_data.error)
    assert "holds scoring rows only" in message and "triggered: a person asked" in message
    # With the features in the same run (as the retrain job has them), v2 is trained.
    retrained = dg.materialize(
        STAGES,
        resources={"project": ProjectResource(project_dir=str(project))},
        instance=instance,
        tags={RETRAIN_TRIGGER_TAG: "a person asked"},
    )
    assert retrained.success
    assert query(project, "select count(*) from ml.model_registry") == [(2,)]
    assert not query(
        project, "select scoring_only from features.feature_set_versions order by created_at desc"
    )[0][0]


def test_a_model_that_cannot_beat_the_baselines_is_refused(tmp_path, instance):
    project = tmp_path / "noise"
    write_company(project, days=420, pattern="noise")
    result = materialize(project, instance)
    passed, severity, description = checks(result)["promotion_gate"]
    assert not passed and severity == "WARN"
    assert "refused" in description and "no champion serves" in description
    assert query(project, "select status from ml.model_registry") == [("archived",)]
    (reason, details) = query(
        project,
        "select reason, details::varchar from governance.audit_log where event = 'gate_refused'",
    )[0]
    assert "business cost" in reason or "bias" in reason
    # The decision keeps the service level its costs were simulated at, beside the one the
    # bakery's money makes cheapest (4 / (4 + 6 * 5 * 7 / 365): see the summary below).
    held = json.loads(details)["figures"]["service_level"]
    assert held["agreed"] == 0.9
    assert held["cost_optimal"] == pytest.approx(4 / (4 + 6 * 5 * 7 / 365))
    # Meanwhile the cheapest baseline or peer in that backtest serves, said so.
    ((cheaper,),) = query(
        project,
        """select arg_min(model, cost) from (
               select model, sum(business_cost) as cost from ml.backtest_results
               where model in ('seasonal_naive', 'moving_average_28', 'statsforecast.ADIDA',
                               'statsforecast.CrostonOptimized')
                 and segment_type = 'overall' and fold <> 'calibration' group by model)""",
    )
    published = query(
        project,
        """select model_version, role, count(*), count(distinct (sku, location_id)),
                  count(distinct horizon), min(origin_date),
                  bool_and(interval_low <= interval_high), bool_and(interval_low >= 0)
           from ml.demand_forecast group by all""",
    )
    ((version, role, rows, series, horizons, origin, ordered, non_negative),) = published
    assert (version, role, horizons, ordered, non_negative) == (
        f"fallback:{cheaper}",
        "fallback",
        14,
        True,
        True,
    )
    assert (
        rows == series * 14
        and series
        == query(
            project,
            "select count(distinct (sku, location_id)) from features.demand_features "
            "where for_scoring",
        )[0][0]
    )
    # The method's own definition, recomputed from the daily sales for every series: a
    # baseline's by its formula; a peer's forecast (lib/release/fallback.py, the exact fit is
    # tested there) flat per series, at the level of the series' recent sales.
    source_day = (
        "f.origin_date - (((f.horizon - 1) // 7 + 1) * 7 - f.horizon + 1)"
        if cheaper == "seasonal_naive"
        else None
    )
    expected = (
        f"""select f.sku, f.location_id, f.horizon, coalesce(sum(s.quantity), 0) as units
            from ml.demand_forecast f left join staging.sales_lines s
              on s.sku = f.sku and s.location_id = f.location_id
             and s.order_date = {source_day}
            group by all"""
        if source_day
        else """select f.sku, f.location_id, f.horizon, coalesce(sum(s.quantity), 0) / 28 as units
            from ml.demand_forecast f left join staging.sales_lines s
              on s.sku = f.sku and s.location_id = f.location_id
             and s.order_date >= f.origin_date - 28 and s.order_date < f.origin_date
            group by all"""
    )
    if cheaper.startswith("statsforecast."):
        ((levels_per_series, forecast, recent),) = query(
            project,
            """select max(n), (select sum(prediction) / 14 from ml.demand_forecast),
                      (select sum(quantity) / 91 from staging.sales_lines
                       where order_date >= (select min(origin_date) from ml.demand_forecast)
                                           - 91)
               from (select count(distinct round(prediction, 9)) as n from ml.demand_forecast
                     group by sku, location_id)""",
        )
        assert levels_per_series == 1 and 0.5 * recent < forecast < 2 * recent
    else:
        (mismatches,) = query(
            project,
            f"""select count(*) from ml.demand_forecast f join ({expected}) e
                using (sku, location_id, horizon) where abs(f.prediction - e.units) > 1e-9""",
        )[0]
        assert mismatches == 0
    assert origin == query(project, "select max(order_date) + 1 from staging.sales_lines")[0][0]
    passed, _, description = checks(result)["forecast_complete"]
    assert passed and description.endswith(": complete")
    (audited,) = query(
        project,
        "select reason from governance.audit_log where event = 'published' "
        "and model_version like 'fallback:%'",
    )[0]
    assert f"serving {cheaper}, the cheapest baseline or peer in v1's backtest" in audited
    assert "no version of demand_forecast has passed the gate" in audited
    with connect(project / "data" / "warehouse.duckdb") as con:
        summary = summarize_forecasting(con, "demand_forecast")
        # The KPI dashboard says what its forecast line is (its sales from the mart the stages
        # here do not build: made from the staged lines).
        con.execute(
            """create schema if not exists marts;
               create table marts.sales_daily as select order_date as sales_date,
                   sum(quantity)::double as units_sold from staging.sales_lines group by all"""
        )
        dashboard = collect(con)
    note = (
        f"The forecast is the fallback {cheaper}, the cheapest baseline or peer of the model's "
        "backtest, "
        "until a version of the model is champion."
    )
    assert dashboard.sales_and_forecast.note == note
    page = render(dashboard, tmp_path / "kpi.html", {}, "Noise Ltd").read_text(encoding="utf-8")
    assert f"<p>{note.replace(chr(39), '&#x27;')}</p>" in page
    assert (summary.champion, summary.fallback, summary.forecast_rows) == (None, cheaper, rows)
    # The bakery's stock costs 500 % a year: at price 10 and cost 6 the cheapest service level
    # is 4 / (4 + 6 * 5 * 7 / 365), below the agreed 0.9, as the version recorded and says.
    assert summary.service_level == 0.9
    assert summary.cost_optimal_service_level == pytest.approx(4 / (4 + 6 * 5 * 7 / 365))
    with console.capture() as printed:
        print_forecasting(summary)
    said = " ".join(printed.get().split())
    assert (
        f"Demand forecast: champion none yet; {rows:,} forecast rows in ml.demand_forecast from "
        f"the fallback {cheaper} (the cheapest baseline or peer of the backtest"
    ) in said
    assert "service level 0.90 is above 0.874" in said and "holding costs dominate" in said
    # What the run decided, in order, not only the newest event (the fallback's publication).
    decisions = said[said.index("The model's decisions in the last run that made any:") :]
    assert decisions.index("v1 trained: ") < decisions.index("v1 gate_refused: ")
    assert decisions.index("v1 gate_refused: ") < decisions.index(f"fallback:{cheaper} published:")


def test_a_high_impact_model_waits_for_an_approval_and_is_released_right_after(tmp_path, instance):
    project = tmp_path / "company"
    write_company(project, days=420, pattern="learnable")
    settings = project / "forecasting.yaml"
    settings.write_text(
        settings.read_text(encoding="utf-8").replace("gate:\n", "gate:\n  high_impact: true\n"),
        encoding="utf-8",
    )
    materialize(project, instance)
    assert query(project, "select version, status from ml.model_registry") == [("v1", "challenger")]
    # Until it is approved, the fallback serves, and says why: not a refusal.
    (audited,) = query(
        project,
        "select reason from governance.audit_log where event = 'published' "
        "and model_version like 'fallback:%'",
    )[0]
    assert (
        "demand_forecast v1 passed the gate and waits for a named approval (sme-platform approve "
        "demand_forecast v1 --by NAME --note TEXT); serving "
    ) in audited
    with connect(project / "data" / "warehouse.duckdb") as con:
        approve(con, "demand_forecast", "v1", by="Ana Ruiz", note="reviewed", run_id="r-approve")
    # What follows an approval (sme-platform approve, or the sensor after the job in the UI):
    # the release step and the forecasts, without waiting for the night.
    after = [key for key in AFTER_APPROVAL if key != ANALYST_DATABASE_KEY]
    released = dg.materialize(
        STAGES,
        selection=after,
        resources={"project": ProjectResource(project_dir=str(project))},
        instance=instance,
    )
    assert released.success
    assert query(project, "select version, status, approved_by from ml.model_registry") == [
        ("v1", "champion", "Ana Ruiz")
    ]
    assert query(project, "select distinct model_version from ml.demand_forecast") == [("v1",)]
    events = [e for (e,) in query(project, "select event from governance.audit_log")]
    assert events.index("approved") < events.index("promoted")


def test_a_better_model_goes_through_a_canary_and_can_be_rolled_back(tmp_path, instance):
    from sme_platform.defs.release.jobs import rollback_model_job

    project = tmp_path / "bakery"
    # Night 1: no price plan yet, so the promotions come unannounced; the model still learns the
    # weekly rhythm, beats the baselines and becomes champion.
    write_company(project, days=412, pattern="learnable", with_price_plan=False)
    materialize(project, instance)
    assert query(project, "select version, status from ml.model_registry") == [("v1", "champion")]

    # Night 2: the price plan arrives; v2 sees the promotions coming and beats the baselines.
    # It is v1's recipe on newer data, and v1 learned from v2's holdout days, so the canary
    # judges it against v1 on a share of the locations.
    add_price_plan(project, days=460)
    passed, _, description = checks(materialize(project, instance))["promotion_gate"]
    assert passed and "canary starts" in description, description
    assert "is the champion v1's recipe" in description
    assert query(project, "select version, status from ml.model_registry order by 1") == [
        ("v1", "champion"),
        ("v2", "challenger"),
    ]
    roles = dict(query(project, "select role, count(*) from ml.demand_forecast group by 1"))
    assert roles == {"champion": 2 * 4 * 14, "canary": 1 * 4 * 14}  # 1 of 3 locations

    # Night 3: ten days of actuals later, the canary is judged on the same days and series.
    add_days(project, first_day=412, days=10, pattern="learnable", run=3)
    materialize(project, instance)
    statuses = dict(query(project, "select version, status from ml.model_registry"))
    assert statuses["v2"] == "champion" and statuses["v1"] == "archived"
    promoted = query(
        project,
        "select reason from governance.audit_log where event = 'canary_promoted'",
    )[0][0]
    # Judged on the money of the one order cycle sold (9 of the 10 days), WAPE beside it.
    assert promoted.startswith("canary business cost "), promoted
    assert "1 order cycle(s) of 9 days" in promoted and "within the 5 % threshold" in promoted
    assert "90 % interval over series" in promoted and "; WAPE " in promoted
    # v3 (ten days newer, the same recipe) beats the baselines: its canary runs against v2.
    assert statuses["v3"] == "challenger"

    # A person rolls v2 back: v1 serves again, and the next scoring uses it.
    rolled = rollback_model_job.execute_in_process(
        run_config={
            "ops": {
                "rollback_model": {
                    "config": {
                        "model_name": "demand_forecast",
                        "by": "Ana Ruiz",
                        "reason": "stock-outs doubled in the canary stores",
                    }
                }
            }
        },
        resources={"project": ProjectResource(project_dir=str(project))},
        instance=instance,
    )
    assert rolled.success
    statuses = dict(query(project, "select version, status from ml.model_registry"))
    assert statuses["v1"] == "champion" and statuses["v2"] == "rolled_back"
    assert statuses["v3"] == "archived"  # its canary ended with the rollback
    dg.materialize(
        [demand_forecast],
        resources={"project": ProjectResource(project_dir=str(project))},
        instance=instance,
    )
    assert query(project, "select distinct model_version from ml.demand_forecast") == [("v1",)]
    events = [
        r[0]
        for r in query(
            project,
            "select event from governance.audit_log where model_version in ('v1', 'v2') "
            "order by event_id",
        )
    ]
    assert events[-1] == "rolled_back" or "rolled_back" in events
